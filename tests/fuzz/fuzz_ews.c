/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the EWS plugin's response handling: every input is
 * fed to every SOAP response parser (FindFolder, GetFolder,
 * SyncFolderItems, FindItem, GetItem, bare status), the statuses to the
 * error classifier, FindFolder results to the folder-tree builder, and the
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
	if (ews_parse_get_item(x, size, &ip, &st) == 0) {
		for (size_t i = 0; i < ip.n; i++) {
			classify(&ip.v[i].st);
			(void)ews_item_class_is_mail(ip.v[i].item_class);
		}
	}
	ews_item_page_free(&ip);
	if (ews_parse_status(x, size, &st) == 0)
		classify(&st);

	struct mf_buf b = { 0 };
	(void)ews_base64_decode(x, size, &b);
	mf_buf_free(&b);
	char *s = mf_xstrndup(x, size);
	int64_t t;
	(void)ews_parse_datetime(s, &t);
	(void)ews_folder_class_is_mail(s);
	free(s);
	return 0;
}
