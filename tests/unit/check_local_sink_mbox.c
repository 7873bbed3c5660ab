/* SPDX-License-Identifier: MIT */
/* Check suite for the local sink's mbox half: Thunderbird layout (INBOX,
 * A.sbd/B, escaped levels), the exact bytes of an append (From line in
 * asctime/UTC, mboxrd escaping of ^>*From  lines across read() chunk
 * boundaries, CRLF untouched, added final newline and separator), a round
 * trip through an independent un-escaper, size mismatches and read
 * failures cutting the file back to its previous bytes, lookup of the
 * last message, and real crashes (a child SIGKILLed mid-append) undone
 * through the journal by the next lookup or append.  Calls the ops table directly with the fakes from
 * check_local_sink_fake.c. */
#include <config.h>
#include "check_local_sink_fake.h"
#include "sinks/local/local_p.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char *root;
static struct mf_sink *snk;

static void setup(void)
{
	fake_fixture_open("mbox", "mail/box", &dir, &root, &snk);
}

static void teardown(void)
{
	fake_fixture_close(&dir, &root, &snk);
}

static char *path_of(const char *rel)
{
	return mf_xasprintf("%s/%s", root, rel);
}

static unsigned char *slurp_rel(const char *rel, size_t *len)
{
	char *p = path_of(rel);
	unsigned char *d = fake_slurp(p, len);
	free(p);
	return d;
}

static int kind_of(const char *rel) /* 'f', 'd' or 0 */
{
	char *p = path_of(rel);
	struct stat st;
	int k = stat(p, &st) != 0 ? 0 : S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : '?';
	free(p);
	return k;
}

static int append_chunked(const char *folder, const void *data, size_t len, size_t chunk,
			  int64_t date, struct mf_append_result *res, struct mf_error *err)
{
	struct fake_msg f;
	fake_msg_init(&f, data, len);
	f.chunk = chunk;
	f.m.internal_date = date;
	return fake_ops()->append(snk, folder, &f.m, res, err);
}

static void digest_of(const void *data, size_t len, unsigned char out[32])
{
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, data, len);
	mf_sha256_final(h, out);
	mf_sha256_free(&h);
}

START_TEST(open_creates_directory)
{
	struct stat st;
	ck_assert_int_eq(stat(root, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(path_naming_a_file_is_refused_with_a_hint)
{
	struct mf_error err = { 0 };
	struct mf_sink *s = NULL;
	char *file = mf_xasprintf("%s/old.mbox", dir);
	fake_write_file(file, "From x\n\n", 8);
	ck_assert_int_eq(fake_open("mbox", file, &s, &err), MF_ERR_ACCOUNT);
	ck_assert_msg(strstr(err.text, file) != NULL, "%s", err.text);
	ck_assert_msg(strstr(err.text, "mbox:DIRECTORY") != NULL, "%s", err.text);
	fake_ops()->close(&s);
	size_t len;
	unsigned char *d = fake_slurp(file, &len);
	ck_assert_uint_eq(len, 8); /* untouched */
	free(d);
	free(file);
}
END_TEST

START_TEST(folders_use_thunderbird_layout)
{
	static const struct {
		const char *folder, *file;
	} cases[] = {
		{ "INBOX", "INBOX" },
		{ "inbox", "INBOX" },
		{ "A/B", "A.sbd/B" },
		{ "A/B/C", "A.sbd/B.sbd/C" },
		{ "INBOX/Sub", "INBOX.sbd/Sub" },
		{ "../x", "__.sbd/x" },
		{ "./y", "_.sbd/y" },
		{ "v1.2", "v1.2" },
		{ "Old.sbd", "Old_sbd" },
		{ "Idx.msf", "Idx_msf" },
		{ "Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mf_error err = { 0 };
		char *actual = NULL;
		ck_assert_msg(fake_ops()->ensure_folder(snk, cases[i].folder, MF_SPECIAL_NONE,
							&actual, &err) == MF_OK,
			      "%s: %s", cases[i].folder, err.text);
		ck_assert_msg(kind_of(cases[i].file) == 'f', "%s", cases[i].file);
		free(actual);
	}
	ck_assert_int_eq(kind_of("A"), 'f');
	ck_assert_int_eq(kind_of("A.sbd"), 'd');
	ck_assert_int_eq(kind_of("A.sbd/B"), 'f');
	ck_assert_int_eq(kind_of("A.sbd/B.sbd"), 'd');
	/* Nothing outside the root. */
	char *mail = mf_xasprintf("%s/mail", dir);
	ck_assert_int_eq(fake_count(mail), 1);
	free(mail);
}
END_TEST

START_TEST(special_use_maps_to_canonical_files)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Sent Items", MF_SPECIAL_SENT, &actual,
						   &err),
			 MF_OK);
	ck_assert_str_eq(actual, "Sent");
	ck_assert_int_eq(kind_of("Sent"), 'f');
	ck_assert_int_eq(kind_of("Sent Items"), 0);
	free(actual);
}
END_TEST

START_TEST(append_writes_mboxrd_exactly)
{
	static const char msg[] = "From: a@b\n"
				  "Subject: escape\n"
				  "\n"
				  "From here\n"
				  ">From there\n"
				  ">>From everywhere\n"
				  "Fromage\n"
				  " From x\n"
				  ">From\n"
				  ">>Fro\n"
				  "From ";
	static const char want[] = "From MAILER-DAEMON Fri Feb 13 23:31:30 2009\n"
				   "From: a@b\n"
				   "Subject: escape\n"
				   "\n"
				   ">From here\n"
				   ">>From there\n"
				   ">>>From everywhere\n"
				   "Fromage\n"
				   " From x\n"
				   ">From\n"
				   ">>Fro\n"
				   ">From \n"
				   "\n";
	const size_t chunks[] = { 1, 2, 3, 5, 7, 4096 };
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct mf_append_result res;
		struct mf_error err = { 0 };
		char *p = path_of("INBOX");
		unlink(p);
		free(p);
		ck_assert_int_eq(append_chunked("INBOX", msg, sizeof(msg) - 1, chunks[i],
						1234567890, &res, &err),
				 MF_OK);
		ck_assert_str_eq(res.target_id, "0");
		size_t len;
		unsigned char *got = slurp_rel("INBOX", &len);
		ck_assert_msg(len == sizeof(want) - 1 && memcmp(got, want, len) == 0,
			      "chunk %zu: got [%.*s]", chunks[i], (int)len, (char *)got);
		free(got);
	}
}
END_TEST

START_TEST(crlf_and_flags_leave_bytes_alone)
{
	static const char msg[] = "Subject: c\r\n\r\nFrom x\r\nend\r\n";
	static const char want[] = "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
				   "Subject: c\r\n\r\n>From x\r\nend\r\n\n";
	struct fake_msg f;
	struct mf_append_result res;
	struct mf_error err = { 0 };
	fake_msg_init(&f, msg, sizeof(msg) - 1);
	f.m.internal_date = 0;
	f.m.flags = MF_FLAG_SEEN | MF_FLAG_FLAGGED;
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_OK);
	size_t len;
	unsigned char *got = slurp_rel("INBOX", &len);
	ck_assert_uint_eq(len, sizeof(want) - 1);
	ck_assert(memcmp(got, want, len) == 0);
	free(got);
}
END_TEST

/* Independent mboxrd reader: split at "\nFrom " lines, drop the From line
 * and the separator, remove one '>' from ^>+From  lines. */
static size_t read_back(const unsigned char *file, size_t len, size_t which, unsigned char *out)
{
	size_t starts[64], n = 0;
	for (size_t i = 0; i + 5 <= len && n < 64; i++) {
		if ((i == 0 || file[i - 1] == '\n') && memcmp(file + i, "From ", 5) == 0)
			starts[n++] = i;
	}
	ck_assert(which < n);
	size_t b = starts[which];
	size_t e = which + 1 < n ? starts[which + 1] : len;
	while (file[b] != '\n')
		b++;
	b++;
	ck_assert(e > b && file[e - 1] == '\n');
	e--; /* separator line */
	size_t o = 0;
	for (size_t i = b; i < e;) {
		size_t j = i;
		while (j < e && file[j] == '>')
			j++;
		if (j > i && j + 5 <= e && memcmp(file + j, "From ", 5) == 0)
			i++; /* drop one '>' */
		while (i < e) {
			out[o++] = file[i];
			if (file[i++] == '\n')
				break;
		}
	}
	return o;
}

START_TEST(escaping_round_trips)
{
	/* Many From-ish lines, NUL bytes, lines split by every chunk size. */
	static const char *const lines[] = {
		"From a\n", ">From b\n", ">>From c\n", ">>>>>>>>>From d\n", "Frm\n",
		">\n",      "\n",        "From\n",     "FROM x\n",          ">Fro",
		"m y\n",    "x\0y\n",    "\r\n",       "From \r\n",
	};
	struct mf_buf b = { 0 };
	for (int r = 0; r < 40; r++)
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
			mf_buf_append(&b, lines[i], i == 11 ? 4 : strlen(lines[i]));
	mf_buf_append_str(&b, ">>From the end");
	const size_t chunks[] = { 1, 4, 9, 4096 };
	for (size_t c = 0; c < 4; c++) {
		struct mf_append_result res;
		struct mf_error err = { 0 };
		ck_assert_int_eq(append_chunked("RT", b.data, b.len, chunks[c], MF_DATE_UNKNOWN,
						&res, &err),
				 MF_OK);
	}
	size_t len;
	unsigned char *file = slurp_rel("RT", &len);
	unsigned char *out = mf_xmalloc(len);
	for (size_t c = 0; c < 4; c++) {
		size_t n = read_back(file, len, c, out);
		/* The missing final newline was added. */
		ck_assert_uint_eq(n, b.len + 1);
		ck_assert(memcmp(out, b.data, b.len) == 0);
		ck_assert_int_eq(out[b.len], '\n');
	}
	/* Exactly four messages: every body From line was escaped. */
	size_t seps = 0;
	for (size_t i = 0; i + 5 <= len; i++)
		if ((i == 0 || file[i - 1] == '\n') && memcmp(file + i, "From ", 5) == 0)
			seps++;
	ck_assert_uint_eq(seps, 4);
	free(out);
	free(file);
	mf_buf_free(&b);
}
END_TEST

START_TEST(missing_final_newline_of_previous_writer_is_repaired)
{
	static const char old[] = "From x Thu Jan  1 00:00:00 1970\nbody";
	char *p = path_of("INBOX");
	fake_write_file(p, old, sizeof(old) - 1);
	struct mf_append_result res;
	struct mf_error err = { 0 };
	ck_assert_int_eq(append_chunked("INBOX", "new\n", 4, 7, 0, &res, &err), MF_OK);
	char want_id[32];
	snprintf(want_id, sizeof(want_id), "%zu", sizeof(old));
	ck_assert_str_eq(res.target_id, want_id);
	size_t len;
	unsigned char *got = fake_slurp(p, &len);
	ck_assert(memcmp(got + sizeof(old) - 1,
			 "\nFrom MAILER-DAEMON Thu Jan  1 00:00:00 1970\nnew\n\n",
			 len - (sizeof(old) - 1)) == 0);
	free(got);
	free(p);
}
END_TEST

/* Append a first message to folder and return the bytes of its file. */
static unsigned char *append_first(const char *folder, const char *file, size_t *len_r)
{
	struct mf_append_result res;
	struct mf_error err = { 0 };
	ck_assert_int_eq(append_chunked(folder, "first\n", 6, 7, 0, &res, &err), MF_OK);
	return slurp_rel(file, len_r);
}

START_TEST(size_mismatch_keeps_file_unchanged)
{
	struct mf_append_result res;
	struct mf_error err = { 0 };
	size_t len0;
	unsigned char *before = append_first("INBOX", "INBOX", &len0);
	const long deltas[] = { +3, -3 };
	for (int i = 0; i < 2; i++) {
		struct fake_msg f;
		fake_msg_init(&f, "second message\n", 15);
		f.m.size = (uint64_t)(15 + deltas[i]);
		f.m.source_id = "uid-9";
		ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err),
				 MF_ERR_MESSAGE);
		ck_assert_msg(strstr(err.text, "uid-9") != NULL, "%s", err.text);
		ck_assert_msg(strstr(err.text, "INBOX") != NULL, "%s", err.text);
		size_t len;
		unsigned char *after = slurp_rel("INBOX", &len);
		ck_assert_uint_eq(len, len0);
		ck_assert(memcmp(before, after, len) == 0);
		free(after);
	}
	free(before);
}
END_TEST

/* len bytes of 60-letter lines. */
static unsigned char *lines_of(size_t len)
{
	unsigned char *d = mf_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		d[i] = i % 61 == 60 ? '\n' : (unsigned char)('a' + i % 26);
	return d;
}

START_TEST(read_failure_mid_message_is_truncated_away)
{
	struct mf_append_result res;
	struct mf_error err = { 0 };
	size_t len0;
	unsigned char *before = append_first("INBOX", "INBOX", &len0);
	/* Large enough that buffers were flushed to the file already. */
	size_t big = 400000;
	unsigned char *data = lines_of(big);
	struct fake_msg f;
	fake_msg_init(&f, data, big);
	f.chunk = 8192;
	f.fail_at = 300000;
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_ERR_ACCOUNT);
	size_t len;
	unsigned char *after = slurp_rel("INBOX", &len);
	ck_assert_uint_eq(len, len0);
	ck_assert(memcmp(before, after, len) == 0);
	free(after);
	free(before);
	free(data);
}
END_TEST

START_TEST(lookup_finds_last_message_only)
{
	static const char m1[] = "Subject: one\n\nFrom a\n";
	static const char m2[] = "Subject: two\n\n>From b\nno newline";
	unsigned char d1[32], d2[32];
	struct mf_append_result r1, r2, found;
	struct mf_error err = { 0 };
	struct fake_msg f;
	bool hit;

	digest_of(m1, sizeof(m1) - 1, d1);
	digest_of(m2, sizeof(m2) - 1, d2);
	ck_assert_int_eq(append_chunked("L/M", m1, sizeof(m1) - 1, 3, 0, &r1, &err), MF_OK);
	fake_msg_init(&f, m1, sizeof(m1) - 1);
	hit = false;
	ck_assert_int_eq(fake_ops()->lookup(snk, "L/M", &f.m, d1, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	ck_assert_str_eq(found.target_id, r1.target_id);

	ck_assert_int_eq(append_chunked("L/M", m2, sizeof(m2) - 1, 3, 0, &r2, &err), MF_OK);
	char *p = path_of("L.sbd/M");
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	free(p);
	ck_assert_uint_gt(strtoull(r2.target_id, NULL, 10), 0);
	fake_msg_init(&f, m2, sizeof(m2) - 1);
	hit = false;
	ck_assert_int_eq(fake_ops()->lookup(snk, "L/M", &f.m, d2, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	ck_assert_str_eq(found.target_id, r2.target_id);
	/* Only the last message is examined (crash recovery needs no more). */
	fake_msg_init(&f, m1, sizeof(m1) - 1);
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "L/M", &f.m, d1, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
}
END_TEST

START_TEST(lookup_misses_wrong_digest_size_or_folder)
{
	static const char m[] = "Subject: x\n\nbody\n";
	unsigned char d[32];
	struct mf_append_result r, found;
	struct mf_error err = { 0 };
	struct fake_msg f;
	bool hit;

	digest_of(m, sizeof(m) - 1, d);
	ck_assert_int_eq(append_chunked("INBOX", m, sizeof(m) - 1, 7, 0, &r, &err), MF_OK);
	fake_msg_init(&f, m, sizeof(m) - 1);
	d[5] ^= 0x40;
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	d[5] ^= 0x40;
	/* "body\n" minus its newline must not match either. */
	f.m.size = sizeof(m) - 2;
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	f.m.size = sizeof(m) - 1;
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "Absent", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	ck_assert_int_eq(kind_of("Absent"), 0);
	/* Empty file: nothing. */
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Empty", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	free(actual);
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "Empty", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
}
END_TEST

START_TEST(lookup_handles_message_larger_than_buffer)
{
	size_t big = 3 * LOCAL_BUF_SIZE + 11;
	unsigned char *data = mf_xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = i % 50 == 49 ? '\n' : (i % 50 == 0 ? 'F' : 'r');
	/* Lines "From ..." across the whole body. */
	for (size_t i = 0; i + 50 < big; i += 50)
		memcpy(data + i, i % 100 == 0 ? "From " : ">From ", i % 100 == 0 ? 5 : 6);
	unsigned char d[32];
	digest_of(data, big, d);
	struct mf_append_result r, found;
	struct mf_error err = { 0 };
	ck_assert_int_eq(append_chunked("Big", "small\n", 6, 7, 0, &r, &err), MF_OK);
	ck_assert_int_eq(append_chunked("Big", data, big, 1000, 0, &r, &err), MF_OK);
	struct fake_msg f;
	fake_msg_init(&f, data, big);
	bool hit = false;
	ck_assert_int_eq(fake_ops()->lookup(snk, "Big", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	ck_assert_str_eq(found.target_id, r.target_id);
	free(data);
}
END_TEST

/* Append data in a child that SIGKILLs itself after kill_at bytes. */
static void crash_while_appending(const char *folder, const void *data, size_t len, size_t kill_at)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fake_msg f;
		struct mf_append_result res;
		struct mf_error err = { 0 };
		fake_msg_init(&f, data, len);
		f.chunk = 8192;
		f.kill_at = kill_at;
		fake_ops()->append(snk, folder, &f.m, &res, &err);
		_exit(0); /* not reached */
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(crash_mid_append_is_undone_by_lookup)
{
	struct mf_append_result res, found;
	struct mf_error err = { 0 };
	ck_assert_int_eq(append_chunked("INBOX", "first\n", 6, 7, 0, &res, &err), MF_OK);
	ck_assert_int_eq(kind_of(".INBOX.mailferry-journal"), 0);
	size_t len0;
	unsigned char *before = slurp_rel("INBOX", &len0);
	size_t big = 300000;
	unsigned char *data = lines_of(big);
	crash_while_appending("INBOX", data, big, 200000);
	/* The torn message is there, and so is the journal. */
	size_t len1;
	unsigned char *torn = slurp_rel("INBOX", &len1);
	ck_assert_uint_gt(len1, len0 + 100000);
	ck_assert_int_eq(kind_of(".INBOX.mailferry-journal"), 'f');
	/* Crash recovery: the core asks; the torn tail must not match and
	 * must be gone afterwards. */
	unsigned char d[32];
	digest_of(data, big, d);
	struct fake_msg f;
	fake_msg_init(&f, data, big);
	bool hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	size_t len2;
	unsigned char *after = slurp_rel("INBOX", &len2);
	ck_assert_uint_eq(len2, len0);
	ck_assert(memcmp(after, before, len0) == 0);
	ck_assert_int_eq(kind_of(".INBOX.mailferry-journal"), 0);
	/* Appending again gives exactly two whole messages. */
	ck_assert_int_eq(append_chunked("INBOX", data, big, 8192, 0, &res, &err), MF_OK);
	hit = false;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, d, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	ck_assert_str_eq(found.target_id, res.target_id);
	free(after);
	free(torn);
	free(before);
	free(data);
}
END_TEST

START_TEST(crash_mid_append_is_undone_by_next_append)
{
	struct mf_append_result res;
	struct mf_error err = { 0 };
	size_t len0;
	unsigned char *before = append_first("A/B", "A.sbd/B", &len0);
	size_t big = 200000;
	unsigned char *data = lines_of(big);
	crash_while_appending("A/B", data, big, 150000);
	ck_assert_int_eq(kind_of("A.sbd/.B.mailferry-journal"), 'f');
	ck_assert_int_eq(append_chunked("A/B", "second\n", 7, 7, 0, &res, &err), MF_OK);
	char want_id[32];
	snprintf(want_id, sizeof(want_id), "%zu", len0);
	ck_assert_str_eq(res.target_id, want_id);
	size_t len;
	unsigned char *after = slurp_rel("A.sbd/B", &len);
	static const char second[] = "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nsecond\n\n";
	ck_assert_uint_eq(len, len0 + sizeof(second) - 1);
	ck_assert(memcmp(after, before, len0) == 0);
	ck_assert(memcmp(after + len0, second, sizeof(second) - 1) == 0);
	ck_assert_int_eq(kind_of("A.sbd/.B.mailferry-journal"), 0);
	free(after);
	free(before);
	free(data);
}
END_TEST

START_TEST(torn_journal_is_dropped_without_touching_the_mbox)
{
	struct mf_append_result res;
	struct mf_error err = { 0 };
	size_t len0;
	unsigned char *before = append_first("INBOX", "INBOX", &len0);
	char *j = path_of(".INBOX.mailferry-journal");
	fake_write_file(j, "mailferry mb", 12); /* died while writing it */
	ck_assert_int_eq(append_chunked("INBOX", "second\n", 7, 7, 0, &res, &err), MF_OK);
	size_t len;
	unsigned char *after = slurp_rel("INBOX", &len);
	ck_assert_uint_gt(len, len0);
	ck_assert(memcmp(after, before, len0) == 0);
	ck_assert_int_eq(kind_of(".INBOX.mailferry-journal"), 0);
	free(after);
	free(before);
	free(j);
}
END_TEST

static Suite *local_sink_mbox_suite(void)
{
	Suite *s = suite_create("local_sink_mbox");
	TCase *tc = tcase_create("mbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, open_creates_directory);
	tcase_add_test(tc, path_naming_a_file_is_refused_with_a_hint);
	tcase_add_test(tc, folders_use_thunderbird_layout);
	tcase_add_test(tc, special_use_maps_to_canonical_files);
	tcase_add_test(tc, append_writes_mboxrd_exactly);
	tcase_add_test(tc, crlf_and_flags_leave_bytes_alone);
	tcase_add_test(tc, escaping_round_trips);
	tcase_add_test(tc, missing_final_newline_of_previous_writer_is_repaired);
	tcase_add_test(tc, size_mismatch_keeps_file_unchanged);
	tcase_add_test(tc, read_failure_mid_message_is_truncated_away);
	tcase_add_test(tc, lookup_finds_last_message_only);
	tcase_add_test(tc, lookup_misses_wrong_digest_size_or_folder);
	tcase_add_test(tc, lookup_handles_message_larger_than_buffer);
	tcase_add_test(tc, crash_mid_append_is_undone_by_lookup);
	tcase_add_test(tc, crash_mid_append_is_undone_by_next_append);
	tcase_add_test(tc, torn_journal_is_dropped_without_touching_the_mbox);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(local_sink_mbox_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
