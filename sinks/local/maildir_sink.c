/* SPDX-License-Identifier: MIT */
/* The maildir half of the local sink: a Maildir++ tree (the layout Dovecot,
 * Courier and mutt read) with crash-safe delivery.  It owns the folder to
 * directory mapping, folder creation, append (tmp/ -> fsync -> rename into
 * cur/ -> fsync the directories, cf. qmail's maildir(5)), the lookup used
 * for crash recovery, and the removal of stale tmp/ files on open.
 * Keywords (dovecot-keywords) are in maildir_keywords.c; folder name
 * validation and special-use mapping in local_common.c / local_plugin.c.
 *
 * Layout: folder "INBOX" is the root itself; folder "A/B" is PATH/.A.B/
 * with a "maildirfolder" marker file.  A '.' inside one level is replaced
 * by '_' (Maildir++ uses '.' as the hierarchy separator), so "." and ".."
 * levels become "_" and "__"; names are kept as raw UTF-8 bytes, which is
 * what Dovecot expects with the ":UTF-8" mail_location option.
 *
 * File names: <date>.M<usec>P<pid>Q<counter>_mf<hash16>.<host>,S=<size>
 * followed by ":2,<flags>", where date is the message's internal date
 * (else now), hash16 the first 16 hex digits of the SHA-256 of the stored
 * bytes (what lookup() searches for) and size the exact file size (Dovecot
 * trusts S= as the physical size).  The base before ':' is the target_id. */
#include <config.h>
#include "local_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *maildir_folder_dir(const char *folder)
{
	if (strcmp(folder, "INBOX") == 0)
		return mf_xstrdup(".");
	size_t len = strlen(folder);
	char *dir = mf_xmalloc(len + 2);
	dir[0] = '.';
	for (size_t i = 0; i < len; i++) {
		char c = folder[i];
		if (c == '.')
			c = '_';
		else if (c == '/')
			c = '.';
		dir[i + 1] = c;
	}
	dir[len + 1] = '\0';
	return dir;
}

/* mkdir rel, rel/cur, rel/new, rel/tmp (+ rel/maildirfolder). */
static int make_maildir(struct mf_sink *snk, const char *folder, const char *rel, bool sub,
			struct mf_error *err)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	char path[4096];

	if (sub && local_mkdirat(snk->root_fd, rel) < 0)
		return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": mkdir %s/%s",
				       snk->label, folder, snk->root, rel);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", rel, subdirs[i]);
		if (local_mkdirat(snk->root_fd, path) < 0)
			return local_sys_error(err, MF_ERR_FOLDER, errno,
					       "%s: folder \"%s\": mkdir %s/%s", snk->label, folder,
					       snk->root, path);
	}
	if (!sub)
		return MF_OK;
	/* Dovecot and Courier mark a Maildir++ subfolder with this empty
	 * file; deliveries into it then skip the root-only quota logic. */
	snprintf(path, sizeof(path), "%s/maildirfolder", rel);
	int fd = openat(snk->root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": create %s/%s",
				       snk->label, folder, snk->root, path);
	if (fd >= 0) {
		int rc = fsync(fd);
		if (close(fd) < 0 || rc < 0 || local_fsync_dirat(snk->root_fd, rel) < 0)
			return local_sys_error(err, MF_ERR_FOLDER, errno,
					       "%s: folder \"%s\": fsync %s/%s", snk->label, folder,
					       snk->root, path);
	}
	return MF_OK;
}

int maildir_create_folder(struct mf_sink *snk, const char *folder, struct mf_error *err)
{
	/* Parents first ("A", then "A/B"): Dovecot shows a missing parent
	 * as \NoSelect, which users find confusing. */
	size_t len = strlen(folder);
	for (size_t end = 0; end <= len; end++) {
		if (folder[end] != '/' && folder[end] != '\0')
			continue;
		char *prefix = mf_xstrndup(folder, end);
		int rc = MF_OK;
		if (strcmp(prefix, "INBOX") == 0) {
			rc = make_maildir(snk, prefix, ".", false, err);
		} else {
			char *rel = maildir_folder_dir(prefix);
			rc = make_maildir(snk, folder, rel, true, err);
			free(rel);
		}
		free(prefix);
		if (rc != MF_OK)
			return rc;
	}
	return MF_OK;
}

bool maildir_folder_exists(struct mf_sink *snk, const char *folder)
{
	char *rel = maildir_folder_dir(folder);
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cur", rel);
	free(rel);
	return fstatat(snk->root_fd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

void maildir_forget_folder(struct mf_sink *snk)
{
	if (snk->folder_fd >= 0)
		close(snk->folder_fd);
	if (snk->cur_fd >= 0)
		close(snk->cur_fd);
	if (snk->tmp_fd >= 0)
		close(snk->tmp_fd);
	snk->folder_fd = snk->cur_fd = snk->tmp_fd = -1;
	free(snk->cur_folder);
	free(snk->cur_rel);
	free(snk->cur_path);
	snk->cur_folder = snk->cur_rel = snk->cur_path = NULL;
	maildir_keywords_clear(snk);
}

static int open_folder_fds(struct mf_sink *snk, const char *rel)
{
	const int dflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	snk->folder_fd = openat(snk->root_fd, rel, dflags);
	if (snk->folder_fd < 0)
		return -1;
	snk->cur_fd = openat(snk->folder_fd, "cur", dflags);
	if (snk->cur_fd < 0)
		return -1;
	snk->tmp_fd = openat(snk->folder_fd, "tmp", dflags);
	if (snk->tmp_fd < 0)
		return -1;
	return 0;
}

/* Make folder the current one (fds + keyword table).  *missing_r (may be
 * NULL) tells "does not exist" apart from errors when !create. */
static int select_folder(struct mf_sink *snk, const char *folder, bool create, bool *missing_r,
			 struct mf_error *err)
{
	if (snk->cur_folder != NULL && strcmp(snk->cur_folder, folder) == 0)
		return MF_OK;
	maildir_forget_folder(snk);
	char *rel = maildir_folder_dir(folder);
	if (open_folder_fds(snk, rel) < 0 && errno == ENOENT) {
		maildir_forget_folder(snk);
		if (!create) {
			free(rel);
			if (missing_r != NULL)
				*missing_r = true;
			return MF_OK;
		}
		int rc = maildir_create_folder(snk, folder, err);
		if (rc != MF_OK) {
			free(rel);
			return rc;
		}
		open_folder_fds(snk, rel);
	}
	if (snk->tmp_fd < 0) {
		int rc = local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": open %s/%s",
					 snk->label, folder, snk->root, rel);
		free(rel);
		maildir_forget_folder(snk);
		return rc;
	}
	snk->cur_folder = mf_xstrdup(folder);
	snk->cur_rel = rel;
	snk->cur_path = strcmp(rel, ".") == 0 ? mf_xstrdup(snk->root)
					      : mf_xasprintf("%s/%s", snk->root, rel);
	maildir_keywords_load(snk);
	return MF_OK;
}

/* Is name a tmp/ file of ours (append's "<date>.M<usec>P<pid>Q<n>.<host>"
 * with this host's name) whose writer is gone?  A mailferry killed with
 * SIGKILL mid-append leaves such a file; without this each kill's partial
 * message (up to the whole message size) stayed in tmp/ for 36 hours.
 * Our own pid is skipped (another session of this process may be writing
 * it now), and so is a pid that is alive (it may be that writer, or an
 * unrelated process that reused the pid: keep the file, the 36-hour rule
 * removes it later).  Should another host share the host name and the
 * maildir, removing its file in progress makes its rename fail and that
 * append is retried: nothing is lost. */
static bool dead_writer_tmp(const struct mf_sink *snk, const char *name)
{
	const char *p = name + strspn(name, "0123456789");
	if (p == name || strncmp(p, ".M", 2) != 0)
		return false;
	p += 2;
	p += strspn(p, "0123456789");
	if (*p++ != 'P')
		return false;
	const char *pid_s = p;
	p += strspn(p, "0123456789");
	uint64_t pid;
	if (p == pid_s || *p != 'Q' || !mf_parse_u64(pid_s, (size_t)(p - pid_s), &pid) ||
	    pid == 0 || pid > INT32_MAX)
		return false;
	p++;
	const char *q = p + strspn(p, "0123456789");
	if (q == p || *q != '.' || strcmp(q + 1, snk->hostpart) != 0)
		return false;
	if ((pid_t)pid == snk->pid)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* maildir(5): tmp/ files not touched for 36 hours are debris of crashed
 * deliveries.  The age is the ctime: append() sets the mtime of a file it
 * is still writing to the (old) internal date, and ctime cannot be set
 * back, so a delivery in progress elsewhere is never taken for debris. */
static void clean_tmp(struct mf_sink *snk, const char *rel, time_t now)
{
	char path[4096];
	if (strcmp(rel, ".") == 0)
		snprintf(path, sizeof(path), "tmp");
	else
		snprintf(path, sizeof(path), "%s/tmp", rel);
	int fd = openat(snk->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	unsigned removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_ctim.tv_sec > now - LOCAL_TMP_STALE_SECS &&
		    !dead_writer_tmp(snk, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else
			local_log(snk, MF_LOG_WARN,
				  "%s: cannot remove stale "
				  "%s/%s/%s: %s",
				  snk->label, snk->root, path, de->d_name, strerror(errno));
	}
	closedir(d);
	if (removed > 0)
		local_log(snk, MF_LOG_INFO,
			  "%s: removed %u stale file(s) from "
			  "%s/%s (older than 36 h, or left by a killed writer)",
			  snk->label, removed, snk->root, path);
}

void maildir_clean_tmp(struct mf_sink *snk, time_t now)
{
	clean_tmp(snk, ".", now);
	int fd = openat(snk->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		/* Maildir++ folders are the root's ".name" directories. */
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		clean_tmp(snk, de->d_name, now);
	}
	closedir(d);
}

int maildir_open(struct mf_sink *snk, struct mf_error *err)
{
	int e = 0;
	if (local_mkdir_p(snk->root, &e) < 0)
		return local_sys_error(err, MF_ERR_ACCOUNT, e, "%s: create maildir %s", snk->label,
				       snk->root);
	snk->root_fd = open(snk->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (snk->root_fd < 0)
		return local_sys_error(err, MF_ERR_ACCOUNT, errno, "%s: open maildir %s",
				       snk->label, snk->root);
	int rc = make_maildir(snk, "INBOX", ".", false, err);
	if (rc != MF_OK) {
		/* The root is unusable, so is the whole mailbox. */
		if (err != NULL)
			err->status = MF_ERR_ACCOUNT;
		return MF_ERR_ACCOUNT;
	}
	maildir_clean_tmp(snk, time(NULL));
	return MF_OK;
}

static void flags_string(uint32_t flags, const char *letters, char *out)
{
	/* maildir(5) "info" flags, in ASCII order as the spec demands;
	 * keyword letters (lowercase) sort after them. */
	size_t n = mf_maildir_flag_letters(flags, out);
	for (const char *l = letters; *l != '\0'; l++)
		out[n++] = *l;
	out[n] = '\0';
}

/* Base name (target_id) for the file; false if it does not fit. */
static bool make_base(const struct mf_sink *snk, int64_t date, long usec, uint64_t counter,
		      const char *hex16, uint64_t size, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%" PRId64 ".M%06ldP%ldQ%" PRIu64 "_mf%.16s.%s,S=%" PRIu64, date,
			 usec, (long)snk->pid, counter, hex16, snk->hostpart, size);
	return n > 0 && (size_t)n < cap;
}

/* rename(2) would silently replace an existing file; never lose one. */
static int rename_noreplace(int ofd, const char *oname, int nfd, const char *nname)
{
	if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* File systems without RENAME_NOREPLACE: link() refuses to
	 * overwrite too. */
	if (linkat(ofd, oname, nfd, nname, 0) < 0)
		return -1;
	unlinkat(ofd, oname, 0);
	return 0;
}

struct append_job {
	struct mf_sink *snk;
	const char *folder;
	const struct mf_message *msg;
	const char *sid;
	char tmpname[256];
	int fd;
	uint64_t total;
	unsigned char digest[32];
};

/* Stream msg into job->fd, hashing as it goes. */
static int stream_message(struct append_job *job, struct mf_error *err)
{
	struct mf_sink *snk = job->snk;
	const struct mf_message *msg = job->msg;
	struct mf_sha256 *h = mf_sha256_new();
	int rc = MF_OK;

	for (;;) {
		size_t n = 0;
		if (local_canceled(snk)) {
			rc = mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER,
					  "%s: folder \"%s\": message %s: "
					  "canceled",
					  snk->label, job->folder, job->sid);
			break;
		}
		rc = msg->read(msg, snk->inbuf, LOCAL_BUF_SIZE, &n, err);
		if (rc != MF_OK)
			break;
		if (n == 0)
			break;
		if (n > LOCAL_BUF_SIZE || job->total + n > msg->size) {
			rc = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
					  "%s: folder \"%s\": message %s: source "
					  "delivered more than the announced %" PRIu64 " bytes",
					  snk->label, job->folder, job->sid, msg->size);
			break;
		}
		mf_sha256_update(h, snk->inbuf, n);
		if (local_write_all(job->fd, snk->inbuf, n) < 0) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": message %s: "
					     "write %s/tmp/%s",
					     snk->label, job->folder, job->sid, snk->cur_path,
					     job->tmpname);
			break;
		}
		job->total += n;
	}
	if (rc == MF_OK && job->total != msg->size)
		rc = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				  "%s: folder \"%s\": message %s: size mismatch:"
				  " announced %" PRIu64 " bytes, source "
				  "delivered %" PRIu64,
				  snk->label, job->folder, job->sid, msg->size, job->total);
	mf_sha256_final(h, job->digest);
	mf_sha256_free(&h);
	return rc;
}

/* fsync, set the date, close: the file in tmp/ is then complete. */
static int finish_tmp(struct append_job *job, struct mf_error *err)
{
	struct mf_sink *snk = job->snk;
	const char *op = "futimens";
	int rc = 0;

	if (job->msg->internal_date != MF_DATE_UNKNOWN) {
		/* Dovecot and mutt take the received date from the mtime
		 * when there is no index (Dovecot: maildir "received date"). */
		struct timespec ts[2] = {
			{ .tv_sec = (time_t)job->msg->internal_date },
			{ .tv_sec = (time_t)job->msg->internal_date },
		};
		rc = futimens(job->fd, ts);
	}
	if (rc == 0) {
		op = "fsync";
		rc = fsync(job->fd);
	}
	int e = errno;
	int crc = close(job->fd);
	job->fd = -1;
	if (rc == 0 && crc < 0) {
		op = "close";
		rc = -1;
		e = errno;
	}
	if (rc < 0)
		return local_sys_error(err, MF_ERR_FOLDER, e,
				       "%s: folder \"%s\": message %s: %s "
				       "%s/tmp/%s",
				       snk->label, job->folder, job->sid, op, snk->cur_path,
				       job->tmpname);
	return MF_OK;
}

int maildir_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		   struct mf_append_result *res_r, struct mf_error *err)
{
	struct append_job job = { .snk = snk,
				  .msg = msg,
				  .fd = -1,
				  .sid = msg->source_id != NULL ? msg->source_id : "(no id)" };
	char letters[LOCAL_MAX_KEYWORDS + 1] = "";
	char flags[LOCAL_MAX_KEYWORDS + 8];
	char base[128], name[200], hex[65];
	struct timespec now;
	int rc;

	char *norm = local_normalize_folder(snk, folder, err);
	if (norm == NULL)
		return MF_ERR_FOLDER;
	job.folder = norm;
	if (msg->failure != NULL) {
		*err = *msg->failure;
		free(norm);
		return err->status != MF_OK ? (int)err->status : MF_ERR_MESSAGE;
	}
	rc = select_folder(snk, norm, true, NULL, err);
	if (rc == MF_OK && msg->keywords != NULL)
		rc = maildir_keywords_letters(snk, norm, msg->keywords, letters, err);
	if (rc != MF_OK)
		goto out;
	flags_string(msg->flags, letters, flags);

	clock_gettime(CLOCK_REALTIME, &now);
	long usec = now.tv_nsec / 1000;
	int64_t date = msg->internal_date != MF_DATE_UNKNOWN && msg->internal_date >= 0
			       ? msg->internal_date
			       : (int64_t)now.tv_sec;
	for (int attempt = 0; job.fd < 0; attempt++) {
		snprintf(job.tmpname, sizeof(job.tmpname), "%" PRId64 ".M%06ldP%ldQ%" PRIu64 ".%s",
			 date, usec, (long)snk->pid, ++snk->counter, snk->hostpart);
		job.fd = openat(snk->tmp_fd, job.tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				0600);
		if (job.fd < 0 && (errno != EEXIST || attempt >= 100)) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": message %s: "
					     "create %s/tmp/%s",
					     snk->label, norm, job.sid, snk->cur_path, job.tmpname);
			job.tmpname[0] = '\0';
			goto out;
		}
	}
	rc = stream_message(&job, err);
	if (rc == MF_OK)
		rc = finish_tmp(&job, err);
	if (rc != MF_OK)
		goto out;

	mf_hex(job.digest, sizeof(job.digest), hex);
	for (int attempt = 0;; attempt++) {
		if (!make_base(snk, date, usec, snk->counter, hex, job.total, base, sizeof(base))) {
			rc = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					  "%s: folder \"%s\": message %s: file "
					  "name too long",
					  snk->label, norm, job.sid);
			goto out;
		}
		snprintf(name, sizeof(name), "%s:2,%s", base, flags);
		if (rename_noreplace(snk->tmp_fd, job.tmpname, snk->cur_fd, name) == 0)
			break;
		if (errno != EEXIST || attempt >= 100) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": message %s: "
					     "rename %s/tmp/%s into cur/",
					     snk->label, norm, job.sid, snk->cur_path, job.tmpname);
			goto out;
		}
		snk->counter++;
	}
	job.tmpname[0] = '\0'; /* moved: nothing left to remove in tmp/ */
	if (fsync(snk->cur_fd) < 0 && errno != EINVAL) {
		/* Not known to be durable: take it back so that a retry
		 * does not leave a duplicate behind. */
		rc = local_sys_error(err, MF_ERR_FOLDER, errno,
				     "%s: folder \"%s\": message %s: fsync "
				     "%s/cur",
				     snk->label, norm, job.sid, snk->cur_path);
		unlinkat(snk->cur_fd, name, 0);
		goto out;
	}
	fsync(snk->tmp_fd); /* the tmp/ entry is gone; best effort */
	snprintf(res_r->target_id, sizeof(res_r->target_id), "%s", base);
out:
	if (job.fd >= 0)
		close(job.fd);
	if (job.tmpname[0] != '\0' && snk->tmp_fd >= 0)
		unlinkat(snk->tmp_fd, job.tmpname, 0);
	free(norm);
	return rc;
}

/* Does this file name carry our hash marker and size? */
static bool name_matches(const char *name, const char *hex16, uint64_t size)
{
	const char *colon = strchr(name, ':');
	size_t len = colon != NULL ? (size_t)(colon - name) : strlen(name);
	const char *end = name + len;
	bool hash_ok = false, size_ok = false;

	for (const char *p = name; p + 19 <= end; p++) {
		if (memcmp(p, "_mf", 3) == 0 && memcmp(p + 3, hex16, 16) == 0) {
			hash_ok = true;
			break;
		}
	}
	for (const char *p = name; p + 3 < end; p++) {
		if (memcmp(p, ",S=", 3) != 0)
			continue;
		size_t n = strspn(p + 3, "0123456789");
		uint64_t v;
		if (n > 0 && p + 3 + n <= end && mf_parse_u64(p + 3, n, &v) && v == size)
			size_ok = true;
	}
	return hash_ok && size_ok;
}

/* Hash the whole file; true if its size and digest are the expected. */
static bool file_matches(struct mf_sink *snk, int dfd, const char *name, uint64_t size,
			 const unsigned char digest[32])
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
	if (ok) {
		struct mf_sha256 *h = mf_sha256_new();
		unsigned char got[32];
		uint64_t total = 0;
		ssize_t n;
		while ((n = read(fd, snk->inbuf, LOCAL_BUF_SIZE)) > 0) {
			mf_sha256_update(h, snk->inbuf, (size_t)n);
			total += (uint64_t)n;
		}
		mf_sha256_final(h, got);
		mf_sha256_free(&h);
		ok = n == 0 && total == size && memcmp(got, digest, 32) == 0;
	}
	close(fd);
	return ok;
}

int maildir_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		   const unsigned char digest[32], bool *found_r, struct mf_append_result *res_r,
		   struct mf_error *err)
{
	static const char *const subdirs[] = { "cur", "new" };
	char hex[65];
	bool missing = false;

	*found_r = false;
	char *norm = local_normalize_folder(snk, folder, err);
	if (norm == NULL)
		return MF_ERR_FOLDER;
	int rc = select_folder(snk, norm, false, &missing, err);
	if (rc != MF_OK || missing) {
		free(norm);
		return rc;
	}
	mf_hex(digest, 32, hex);
	for (size_t i = 0; i < 2 && !*found_r; i++) {
		int fd = openat(snk->folder_fd, subdirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (d == NULL) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": open %s/%s", snk->label, norm,
					     snk->cur_path, subdirs[i]);
			if (fd >= 0)
				close(fd);
			break;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || !name_matches(de->d_name, hex, msg->size) ||
			    !file_matches(snk, dirfd(d), de->d_name, msg->size, digest))
				continue;
			size_t len = strcspn(de->d_name, ":");
			if (len >= sizeof(res_r->target_id))
				len = sizeof(res_r->target_id) - 1;
			memcpy(res_r->target_id, de->d_name, len);
			res_r->target_id[len] = '\0';
			*found_r = true;
			break;
		}
		closedir(d);
	}
	free(norm);
	return rc;
}
