/* SPDX-License-Identifier: MIT */
/* The mbox half of the local sink: one mboxrd file per folder, laid out
 * like Thunderbird's local folders.  It owns the folder to file mapping,
 * folder creation, append (locked, escaped, fsync'd, rolled back with
 * ftruncate on any failure) and the lookup used for crash recovery.
 * Undoing appends cut short by a crash is in mbox_journal.c.
 *
 * Layout: PATH is a directory; folder "INBOX" is the file PATH/INBOX and
 * folder "A/B" is PATH/A.sbd/B (with an empty PATH/A mbox for the parent,
 * as Thunderbird expects).  Levels "." and ".." become "_" and "__", and
 * a level ending in ".sbd" or ".msf" (Thunderbird's subfolder directory
 * and index suffixes) gets that '.' replaced by '_'.
 *
 * Format (mboxrd): each message starts with "From MAILER-DAEMON <date>"
 * (asctime layout, internal date in UTC, else now), body lines matching
 * ^>*From  get one more '>', the message bytes are otherwise unchanged
 * (CRLF stays CRLF), a final newline is added if missing, then one empty
 * line separates it from the next.  Flags and keywords are not stored:
 * mbox has no standard place for them and the message bytes are never
 * altered (no Status:/X-Status: headers).  target_id is the byte offset
 * of the "From " line. */
#include <config.h>
#include "local_p.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

char *mbox_folder_file(const char *folder)
{
	struct mf_buf b = { 0 };
	const char *p = folder;

	for (;;) {
		size_t len = strcspn(p, "/");
		if (len == 1 && p[0] == '.') {
			mf_buf_append_str(&b, "_");
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			mf_buf_append_str(&b, "__");
		} else if (has_suffix(p, len, ".sbd") || has_suffix(p, len, ".msf")) {
			mf_buf_append(&b, p, len - 4);
			mf_buf_append(&b, "_", 1);
			mf_buf_append(&b, p + len - 3, 3);
		} else {
			mf_buf_append(&b, p, len);
		}
		if (p[len] == '\0')
			break;
		mf_buf_append_str(&b, ".sbd/");
		p += len + 1;
	}
	return (char *)b.data;
}

int mbox_open(struct mf_sink *snk, struct mf_error *err)
{
	int e = 0;
	if (local_mkdir_p(snk->root, &e) < 0)
		return local_sys_error(err, MF_ERR_ACCOUNT, e, "%s: create mbox directory %s%s",
				       snk->label, snk->root,
				       e == ENOTDIR ? " (the mbox sink writes one file per "
						      "folder into a directory: give "
						      "mbox:DIRECTORY)"
						    : "");
	snk->root_fd = open(snk->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (snk->root_fd < 0)
		return local_sys_error(err, MF_ERR_ACCOUNT, errno, "%s: open mbox directory %s",
				       snk->label, snk->root);
	return MF_OK;
}

bool mbox_folder_exists(struct mf_sink *snk, const char *folder)
{
	char *file = mbox_folder_file(folder);
	struct stat st;
	bool ok = fstatat(snk->root_fd, file, &st, 0) == 0 && S_ISREG(st.st_mode);
	free(file);
	return ok;
}

/* Create the mbox file rel if missing (never truncate). */
static int make_mbox_file(struct mf_sink *snk, const char *folder, const char *rel,
			  struct mf_error *err)
{
	int fd = openat(snk->root_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		struct stat st;
		if (errno == EEXIST && fstatat(snk->root_fd, rel, &st, 0) == 0 &&
		    S_ISREG(st.st_mode))
			return MF_OK;
		if (errno == EEXIST)
			errno = EISDIR;
		return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": create %s/%s",
				       snk->label, folder, snk->root, rel);
	}
	close(fd);
	const char *slash = strrchr(rel, '/');
	char *parent = slash != NULL ? mf_xstrndup(rel, (size_t)(slash - rel)) : mf_xstrdup(".");
	int rc = local_fsync_dirat(snk->root_fd, parent);
	free(parent);
	if (rc < 0)
		return local_sys_error(err, MF_ERR_FOLDER, errno,
				       "%s: folder \"%s\": fsync directory of "
				       "%s/%s",
				       snk->label, folder, snk->root, rel);
	return MF_OK;
}

int mbox_create_folder(struct mf_sink *snk, const char *folder, struct mf_error *err)
{
	char *file = mbox_folder_file(folder);
	int rc = MF_OK;

	/* Each ".sbd/" in the relative name closes a parent level: its mbox
	 * file and its subfolder directory must exist. */
	for (char *p = strstr(file, ".sbd/"); p != NULL && rc == MF_OK;
	     p = strstr(p + 5, ".sbd/")) {
		*p = '\0';
		rc = make_mbox_file(snk, folder, file, err);
		*p = '.';
		if (rc != MF_OK)
			break;
		p[4] = '\0';
		if (local_mkdirat(snk->root_fd, file) < 0)
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": mkdir %s/%s", snk->label, folder,
					     snk->root, file);
		p[4] = '/';
	}
	if (rc == MF_OK)
		rc = make_mbox_file(snk, folder, file, err);
	free(file);
	return rc;
}

/* Buffered writer at an explicit offset (pwrite). */
struct mbox_out {
	struct mf_sink *snk;
	int fd;
	off_t off;
	size_t len;
	int err; /* first errno, 0 if none */
};

static void out_flush(struct mbox_out *o)
{
	if (o->len == 0 || o->err != 0)
		return;
	if (local_pwrite_all(o->fd, o->snk->outbuf, o->len, o->off) < 0)
		o->err = errno;
	else
		o->off += (off_t)o->len;
	o->len = 0;
}

static void out_put(struct mbox_out *o, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0 && o->err == 0) {
		size_t n = LOCAL_BUF_SIZE - o->len;
		if (n > len)
			n = len;
		memcpy(o->snk->outbuf + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == LOCAL_BUF_SIZE)
			out_flush(o);
	}
}

/* mboxrd escaping state: where we are in matching ^>*"From ". */
struct rd_state {
	bool bol;    /* inside the prefix at a line start */
	uint64_t gt; /* '>' seen in that prefix */
	size_t fm;   /* bytes of "From " matched after them */
};

typedef void rd_emit_fn(void *ctx, const void *data, size_t len);

static void emit_gts(rd_emit_fn *emit, void *ctx, uint64_t n)
{
	static const char gts[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	while (n > 0) {
		size_t k = n < sizeof(gts) - 1 ? (size_t)n : sizeof(gts) - 1;
		emit(ctx, gts, k);
		n -= k;
	}
}

/* One pass of the mboxrd state machine (RFC 4155) over a chunk: plain
 * bytes go to emit as they are, the '>' prefix of every ^>*"From " line
 * goes out with one more '>' (escape) or one fewer (unescape).  The state
 * carries a prefix split across chunks. */
static void rd_scan(struct rd_state *st, const unsigned char *p, size_t n, bool escape,
		    rd_emit_fn *emit, void *ctx)
{
	static const char from[] = "From ";
	size_t run = 0; /* start of plain bytes not yet emitted */

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (!st->bol) {
			if (c == '\n') {
				emit(ctx, p + run, i + 1 - run);
				run = i + 1;
				st->bol = true;
				st->gt = 0;
				st->fm = 0;
			}
			continue;
		}
		run = i + 1;
		if (st->fm == 0 && c == '>') {
			st->gt++;
			continue;
		}
		if (c == (unsigned char)from[st->fm]) {
			if (++st->fm == 5) {
				/* Unescaping an unescaped "From " (which would
				 * have started the next message) drops nothing. */
				emit_gts(emit, ctx,
					 escape       ? st->gt + 1
					 : st->gt > 0 ? st->gt - 1
						      : 0);
				emit(ctx, from, 5);
				st->bol = false;
			}
			continue;
		}
		/* Not a From line: give back what the prefix held. */
		emit_gts(emit, ctx, st->gt);
		emit(ctx, from, st->fm);
		st->bol = false;
		run = i; /* c itself is plain */
		i--;
	}
	if (!st->bol && run < n)
		emit(ctx, p + run, n - run);
}

/* At the end of the data a pending prefix was no From line. */
static void rd_end(struct rd_state *st, rd_emit_fn *emit, void *ctx)
{
	if (st->bol) {
		emit_gts(emit, ctx, st->gt);
		emit(ctx, "From ", st->fm);
	}
}

static void out_emit(void *o, const void *data, size_t len)
{
	out_put(o, data, len);
}

/* "From MAILER-DAEMON Thu Nov 26 12:34:56 2026\n", C locale, UTC. */
static void from_line(int64_t date, char *out, size_t cap)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)date;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, cap, "From MAILER-DAEMON %s %s %2d %02d:%02d:%02d %d\n", days[tm.tm_wday % 7],
		 months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
}

/* Whole-file write lock.  Open-file-description locks also exclude other
 * threads of this process (classic POSIX locks are per process) and
 * conflict with the POSIX locks of other mbox tools. */
static int lock_file(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
#ifdef F_OFD_SETLKW
	for (;;) {
		if (fcntl(fd, F_OFD_SETLKW, &fl) == 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	if (errno != EINVAL)
		return -1;
#endif
	for (;;) {
		if (fcntl(fd, F_SETLKW, &fl) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Open the folder's file into *fd_r; with !create a missing file gives
 * MF_OK and *fd_r = -1. */
static int open_folder(struct mf_sink *snk, const char *folder, bool create, int flags, int *fd_r,
		       char **file_r, struct mf_error *err)
{
	*file_r = mbox_folder_file(folder);
	*fd_r = openat(snk->root_fd, *file_r, flags | O_CLOEXEC);
	if (*fd_r >= 0 || (errno == ENOENT && !create))
		return MF_OK;
	if (errno == ENOENT) {
		int rc = mbox_create_folder(snk, folder, err);
		if (rc != MF_OK)
			return rc;
		*fd_r = openat(snk->root_fd, *file_r, flags | O_CLOEXEC);
		if (*fd_r >= 0)
			return MF_OK;
	}
	return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": open %s/%s",
			       snk->label, folder, snk->root, *file_r);
}

/* Take the folder's write lock, undo an append that was cut off (see
 * mbox_journal.c) and stat what is left. */
static int lock_and_recover(struct mf_sink *snk, int fd, const char *file, const char *norm,
			    struct stat *st, struct mf_error *err)
{
	if (lock_file(fd, F_WRLCK) < 0)
		return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": lock %s/%s",
				       snk->label, norm, snk->root, file);
	int rc = mbox_journal_recover(snk, fd, file, norm, err);
	if (rc != MF_OK)
		return rc;
	if (fstat(fd, st) < 0)
		return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": stat %s/%s",
				       snk->label, norm, snk->root, file);
	return MF_OK;
}

int mbox_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		struct mf_append_result *res_r, struct mf_error *err)
{
	const char *sid = msg->source_id != NULL ? msg->source_id : "(no id)";
	char *file = NULL, line[128];
	int rc = MF_OK;
	struct stat st;

	char *norm = local_normalize_folder(snk, folder, err);
	if (norm == NULL)
		return MF_ERR_FOLDER;
	if (msg->failure != NULL) {
		*err = *msg->failure;
		free(norm);
		return err->status != MF_OK ? (int)err->status : MF_ERR_MESSAGE;
	}
	int fd = -1;
	rc = open_folder(snk, norm, true, O_RDWR, &fd, &file, err);
	if (rc != MF_OK) {
		free(file);
		free(norm);
		return rc;
	}
	rc = lock_and_recover(snk, fd, file, norm, &st, err);
	if (rc != MF_OK)
		goto out;
	const off_t start = st.st_size;
	rc = mbox_journal_begin(snk, file, start, norm, err);
	if (rc != MF_OK)
		goto out;
	struct mbox_out o = { .snk = snk, .fd = fd, .off = start };
	unsigned char last = '\n';
	/* A previous writer may have left no final newline: the From line
	 * must start a line or it is not a separator. */
	if (start > 0 && local_pread_full(fd, &last, 1, start - 1) != 1)
		o.err = errno != 0 ? errno : EIO;
	if (last != '\n')
		out_put(&o, "\n", 1);
	const off_t from_off = start + (off_t)o.len;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	from_line(msg->internal_date != MF_DATE_UNKNOWN ? msg->internal_date : (int64_t)now.tv_sec,
		  line, sizeof(line));
	out_put(&o, line, strlen(line));

	struct rd_state rs = { .bol = true };
	uint64_t total = 0;
	last = '\n';
	while (o.err == 0) {
		size_t n = 0;
		if (local_canceled(snk)) {
			rc = mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER,
					  "%s: folder \"%s\": message %s: "
					  "canceled",
					  snk->label, norm, sid);
			break;
		}
		rc = msg->read(msg, snk->inbuf, LOCAL_BUF_SIZE, &n, err);
		if (rc != MF_OK || n == 0)
			break;
		if (n > LOCAL_BUF_SIZE || total + n > msg->size) {
			rc = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
					  "%s: folder \"%s\": message %s: source "
					  "delivered more than the announced %" PRIu64 " bytes",
					  snk->label, norm, sid, msg->size);
			break;
		}
		total += n;
		last = snk->inbuf[n - 1];
		rd_scan(&rs, snk->inbuf, n, true, out_emit, &o);
	}
	if (rc == MF_OK && o.err == 0 && total != msg->size)
		rc = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				  "%s: folder \"%s\": message %s: size mismatch:"
				  " announced %" PRIu64 " bytes, source "
				  "delivered %" PRIu64,
				  snk->label, norm, sid, msg->size, total);
	if (rc == MF_OK) {
		rd_end(&rs, out_emit, &o);
		if (last != '\n')
			out_put(&o, "\n", 1);
		out_put(&o, "\n", 1); /* the separating empty line */
		out_flush(&o);
		if (o.err == 0 && fsync(fd) < 0)
			o.err = errno;
		if (o.err != 0)
			rc = local_sys_error(err, MF_ERR_FOLDER, o.err,
					     "%s: folder \"%s\": message %s: "
					     "write %s/%s at offset %lld",
					     snk->label, norm, sid, snk->root, file,
					     (long long)from_off);
	}
	if (rc == MF_OK)
		rc = mbox_journal_end(snk, file, norm, err);
	if (rc != MF_OK) {
		/* Leave no partial message behind (ftruncate never needs
		 * new blocks, so it works on a full disk too).  Should that
		 * fail, the journal is still there for the next writer. */
		if (ftruncate(fd, start) < 0 || fsync(fd) < 0)
			local_log(snk, MF_LOG_ERROR,
				  "%s: %s/%s: cannot cut "
				  "back to %lld bytes after a failed append: "
				  "%s",
				  snk->label, snk->root, file, (long long)start, strerror(errno));
		else
			mbox_journal_end(snk, file, norm, NULL);
	} else {
		snprintf(res_r->target_id, sizeof(res_r->target_id), "%lld", (long long)from_off);
	}
out:
	close(fd); /* releases the lock */
	free(file);
	free(norm);
	return rc;
}

/* Offset of the last "From " that starts a line, or -1. */
static off_t find_last_from(struct mf_sink *snk, int fd, off_t size)
{
	const size_t step = LOCAL_BUF_SIZE - 8;
	off_t end = size; /* candidates p satisfy p < end */

	while (end > 0) {
		off_t start = end > (off_t)step ? end - (off_t)step : 0;
		off_t rd = start > 0 ? start - 1 : 0;
		off_t rd_end = end + 5 < size ? end + 5 : size;
		ssize_t n = local_pread_full(fd, snk->inbuf, (size_t)(rd_end - rd), rd);
		if (n < 0)
			return -1;
		for (off_t p = end - 1; p >= start; p--) {
			size_t i = (size_t)(p - rd);
			if (i + 5 > (size_t)n || memcmp(snk->inbuf + i, "From ", 5) != 0)
				continue;
			if (p == 0 || snk->inbuf[i - 1] == '\n')
				return p;
		}
		end = start;
	}
	return -1;
}

/* Undo mboxrd escaping of one chunk, feeding the message bytes to sink. */
struct unescape {
	struct rd_state rs;
	struct mf_sha256 *h;
	uint64_t size;         /* expected message size */
	uint64_t total;        /* unescaped bytes seen */
	unsigned char tail[2]; /* bytes past size (the separator) */
	size_t ntail;
	bool overflow;      /* more than size + 2 bytes */
	unsigned char last; /* last message byte, '\n' if none */
};

/* rd_scan's emitter for lookup: hash up to the expected size, keep what
 * follows (the separator) apart. */
static void un_emit(void *ctx, const void *data, size_t len)
{
	struct unescape *u = ctx;
	const unsigned char *p = data;
	if (u->total < u->size) {
		uint64_t room = u->size - u->total;
		size_t k = len < room ? len : (size_t)room;
		mf_sha256_update(u->h, p, k);
		if (k > 0)
			u->last = p[k - 1];
		u->total += k;
		p += k;
		len -= k;
	}
	for (; len > 0; p++, len--) {
		if (u->ntail < 2)
			u->tail[u->ntail++] = *p;
		else
			u->overflow = true;
	}
}

int mbox_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		const unsigned char digest[32], bool *found_r, struct mf_append_result *res_r,
		struct mf_error *err)
{
	char *file = NULL;
	struct stat st;
	int rc = MF_OK;

	*found_r = false;
	char *norm = local_normalize_folder(snk, folder, err);
	if (norm == NULL)
		return MF_ERR_FOLDER;
	int fd = -1;
	rc = open_folder(snk, norm, false, O_RDWR, &fd, &file, err);
	if (rc != MF_OK || fd < 0) {
		free(file);
		free(norm);
		return rc; /* MF_OK with fd < 0: no such file, not found */
	}
	/* A write lock: an interrupted append is undone first (see
	 * mbox_journal.c), so its torn message is never taken for ours. */
	rc = lock_and_recover(snk, fd, file, norm, &st, err);
	if (rc != MF_OK)
		goto out;
	off_t from = find_last_from(snk, fd, st.st_size);
	if (from < 0)
		goto out; /* empty, or no message */
	/* Skip the From line itself. */
	off_t pos = from;
	for (;;) {
		ssize_t n = local_pread_full(fd, snk->inbuf, LOCAL_BUF_SIZE, pos);
		if (n <= 0)
			goto out;
		unsigned char *nl = memchr(snk->inbuf, '\n', (size_t)n);
		if (nl != NULL) {
			pos += nl - snk->inbuf + 1;
			break;
		}
		pos += n;
	}
	struct unescape u = {
		.rs = { .bol = true }, .h = mf_sha256_new(), .size = msg->size, .last = '\n'
	};
	for (;;) {
		ssize_t n = local_pread_full(fd, snk->inbuf, LOCAL_BUF_SIZE, pos);
		if (n < 0) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": read %s/%s", snk->label, norm,
					     snk->root, file);
			break;
		}
		if (n == 0)
			break;
		rd_scan(&u.rs, snk->inbuf, (size_t)n, false, un_emit, &u);
		pos += n;
	}
	rd_end(&u.rs, un_emit, &u);
	unsigned char got[32];
	mf_sha256_final(u.h, got);
	mf_sha256_free(&u.h);
	/* What follows the message is the empty separator line: "\n" when
	 * the message ended with a newline (or is empty), else the newline
	 * append() added plus that line. */
	if (rc == MF_OK && u.total == msg->size && !u.overflow && memcmp(got, digest, 32) == 0) {
		bool tail_ok = u.last == '\n'
				       ? (u.ntail == 1 && u.tail[0] == '\n')
				       : (u.ntail == 2 && u.tail[0] == '\n' && u.tail[1] == '\n');
		if (tail_ok) {
			*found_r = true;
			snprintf(res_r->target_id, sizeof(res_r->target_id), "%lld",
				 (long long)from);
		}
	}
out:
	close(fd);
	free(file);
	free(norm);
	return rc;
}
