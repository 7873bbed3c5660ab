/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the EWS plugin's response handling: every input is
 * fed to every SOAP response parser (FindFolder, GetFolder,
 * SyncFolderItems, FindItem, GetItem, bare status; the streaming GetItem
 * parser is also fed the bytes in small pieces and must agree with the
 * whole-buffer run), the statuses to the error classifier, FindFolder results to the folder-tree builder, and the
 * raw bytes to the base64 and xs:dateTime decoders.  Corpus:
 * tests/fuzz/corpus/ews/. */
#include <config.h>
#include "plugins/ews/ews_p.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void classify(const struct ews_status *st)
{
	struct mf_error err;
	ews_status_error(st, "ews: fuzz", MF_ERR_FOLDER, &err);
	(void)ews_status_item_unexportable(st);
	(void)ews_status_is_version(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		xmlInitParser();
		init = true;
	}
	const char *x = (const char *)data;
	struct ews_status st;

	struct ews_folder_page fp = { 0 };
	if (ews_parse_find_folder(x, size, &fp, &st) == 0) {
		classify(&st);
		const char *roles[EWS_ROLE_COUNT] = { 0 };
		if (fp.n > 0)
			roles[EWS_ROLE_ROOT] = fp.v[0].parent_id;
		if (fp.n > 1)
			roles[EWS_ROLE_INBOX] = fp.v[1].id;
		struct ews_tree t;
		ews_tree_build(&fp, roles, size & 1, &t);
		for (size_t i = 0; i < t.n; i++)
			(void)ews_tree_find_path(&t, t.v[i].path);
		ews_tree_free(&t);
	}
	ews_folder_page_free(&fp);

	char *ids[EWS_ROLE_COUNT] = { 0 };
	struct ews_status sts[EWS_ROLE_COUNT];
	size_t got = 0;
	if (ews_parse_get_folder(x, size, ids, sts, EWS_ROLE_COUNT, &got, &st) == 0)
		classify(&st);
	for (size_t i = 0; i < got; i++)
		free(ids[i]);

	struct ews_item_page ip = { 0 };
	if (ews_parse_sync_items(x, size, &ip, &st) == 0)
		classify(&st);
	ews_item_page_free(&ip);
	if (ews_parse_find_item(x, size, &ip, &st) == 0)
		classify(&st);
	ews_item_page_free(&ip);
	int whole = ews_parse_get_item(x, size, &ip, &st);
	if (whole == 0) {
		for (size_t i = 0; i < ip.n; i++) {
			classify(&ip.v[i].st);
			(void)ews_item_class_is_mail(ip.v[i].item_class);
		}
	}
	/* Differential: the same bytes fed in small pieces, as the network
	 * delivers them, must give the same result. */
	struct ews_item_page ip2 = { 0 };
	struct ews_status st2;
	struct ews_getitem_stream *g = ews_getitem_stream_new(&ip2, &st2);
	size_t step = size > 0 ? 1 + data[0] % 61 : 1;
	for (size_t off = 0; off < size; off += step)
		ews_getitem_stream_feed(g, x + off, size - off < step ? size - off : step);
	int pieces = size > 0 ? ews_getitem_stream_finish(g) : -1;
	ews_getitem_stream_free(&g);
	if (pieces != whole)
		__builtin_trap();
	if (whole == 0) {
		if (ip.n != ip2.n || strcmp(st.code, st2.code) != 0 ||
		    st.backoff_ms != st2.backoff_ms || st.fault != st2.fault)
			__builtin_trap();
		for (size_t i = 0; i < ip.n; i++) {
			const struct ews_item *a = &ip.v[i], *b = &ip2.v[i];
			if ((a->id == NULL) != (b->id == NULL) ||
			    (a->id != NULL && strcmp(a->id, b->id) != 0) || a->flags != b->flags ||
			    a->has_mime != b->has_mime || a->mime_bad != b->mime_bad ||
			    a->mime.len != b->mime.len ||
			    (a->mime.len > 0 &&
			     memcmp(a->mime.data, b->mime.data, a->mime.len) != 0) ||
			    a->received != b->received || a->size != b->size ||
			    strcmp(a->st.code, b->st.code) != 0)
				__builtin_trap();
		}
	}
	ews_item_page_free(&ip2);
	ews_item_page_free(&ip);
	if (ews_parse_status(x, size, &st) == 0)
		classify(&st);

	struct mf_buf b = { 0 };
	(void)mf_base64_decode(x, size, &b);
	mf_buf_free(&b);
	char *s = mf_xstrndup(x, size);
	int64_t t;
	(void)mf_parse_iso8601_date(s, &t);
	(void)ews_folder_class_is_mail(s);
	free(s);
	return 0;
}
