/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the offline source parsers (plugins/mbox): the input
 * is written to a temp file and scanned as an mbox in both mboxrd and mboxo
 * mode; every message is streamed with odd read sizes and must yield
 * exactly the size announced.  The same bytes also feed the maildir name,
 * modified UTF-7 and file-name helpers.  Any mismatch aborts. */
#include <config.h>
#include "mbox_p.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *tmp_path;

static void write_input(const uint8_t *data, size_t size)
{
	if (tmp_path == NULL) {
		const char *base = getenv("TMPDIR");
		tmp_path = mf_xasprintf("%s/fuzz_mbox.XXXXXX", base ? base : "/tmp");
		int fd = mkstemp(tmp_path);
		if (fd < 0)
			abort();
		close(fd);
	}
	int fd = open(tmp_path, O_WRONLY | O_TRUNC);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

static void scan(bool mboxo, uint64_t file_size)
{
	struct mbox_reader r;
	struct mbox_msg m = { 0 };
	struct mf_error err;
	static struct mbox_stream st;
	static unsigned char buf[8192];
	static const size_t caps[] = { 1, 5, 4096, 2 };
	uint64_t prev_end = 0;

	if (mbox_reader_open(&r, tmp_path, 0, mboxo, &err) != MF_OK)
		abort();
	for (;;) {
		bool got;
		if (mbox_reader_next(&r, &m, &got, &err) != MF_OK || !got)
			break;
		/* Messages follow each other; unescaping only removes. */
		if (m.from_off < prev_end || m.body_off > m.body_end || m.body_end > file_size ||
		    m.size > m.body_end - m.body_off)
			abort();
		prev_end = m.body_end;
		mbox_stream_init(&st, r.fd, tmp_path, &m, mboxo);
		uint64_t total = 0;
		for (size_t k = 0;; k++) {
			size_t n;
			if (mbox_stream_read(&st, buf, caps[k % 4], &n, &err) != MF_OK)
				abort();
			if (n == 0)
				break;
			total += n;
		}
		if (total != m.size)
			abort();
	}
	mbox_msg_clear(&m);
	mbox_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_input(data, size);
	scan(false, size);
	scan(true, size);

	/* The same bytes as names. */
	char *s = mf_xstrndup((const char *)data, size);
	size_t len = strlen(s);
	char letters[27];
	(void)maildir_name_flags(s, letters, sizeof(letters));
	if (maildir_base_len(s) > len || strlen(letters) > 26)
		abort();
	free(offline_mutf7_decode(s, len));
	char *n = offline_name_from_bytes((const char *)data, size);
	free(n);
	(void)offline_natural_cmp(s, s + len / 2);
	free(s);
	return 0;
}
