/* SPDX-License-Identifier: MIT */
/* The archive layer of plugin bundles: a minimal ustar (POSIX.1-1988)
 * writer and a deliberately strict reader, with gzip through zlib.  We do
 * not drive the system tar: a bundle comes from elsewhere, and tar
 * implementations differ in what they accept (symlinks, "../", absolute
 * names, pax headers, sparse files); reading it ourselves means exactly
 * what is listed in bundle.h is accepted and everything else is refused
 * before a byte is written outside the private extraction directory.  The
 * archives we write are plain ustar that GNU tar and bsdtar read. */
#include <config.h>
#include "bundle.h"

#include <mailferry/util.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK 512
#define MAX_FILE_SIZE (512ull << 20)
#define MAX_ENTRIES 4096

struct tar_writer {
	char *path, *tmp;
	gzFile gz;
	uint64_t mtime;
	bool failed;
};

/* err = fmt... + ": " + strerror(e), with sys_errno set. */
static int sys_fail(struct mf_error *err, int e, const char *fmt, ...) MF_PRINTF(3, 4);
static int sys_fail(struct mf_error *err, int e, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: %s", what, strerror(e));
	if (err != NULL)
		err->sys_errno = e;
	return MF_ERR_FATAL;
}

int tar_writer_open(const char *path, uint64_t mtime, struct tar_writer **tw_r,
		    struct mf_error *err)
{
	*tw_r = NULL;
	char *tmp = mf_xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return sys_fail(err, e, "cannot create %s", path);
	}
	fchmod(fd, 0644);
	gzFile gz = gzdopen(fd, "wb9");
	if (gz == NULL) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return sys_fail(err, ENOMEM, "cannot start gzip stream for %s", path);
	}
	struct tar_writer *tw = mf_xcalloc(1, sizeof(*tw));
	tw->path = mf_xstrdup(path);
	tw->tmp = tmp;
	tw->gz = gz;
	tw->mtime = mtime;
	*tw_r = tw;
	return MF_OK;
}

static int put(struct tar_writer *tw, const void *data, size_t len, struct mf_error *err)
{
	while (len > 0 && !tw->failed) {
		unsigned n = len > (1u << 30) ? 1u << 30 : (unsigned)len;
		if (gzwrite(tw->gz, data, n) != (int)n)
			tw->failed = true;
		data = (const char *)data + n;
		len -= n;
	}
	if (tw->failed) {
		int e = errno, zerr = Z_OK;
		const char *msg = gzerror(tw->gz, &zerr);
		if (zerr == Z_ERRNO)
			return sys_fail(err, e, "cannot write %s", tw->path);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot write %s: %s",
				    tw->path, msg ? msg : "gzip error");
	}
	return MF_OK;
}

static void octal(char *field, size_t width, uint64_t v)
{
	/* width - 1 digits and a NUL, zero padded (POSIX ustar). */
	snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

static int write_header(struct tar_writer *tw, const char *name, char typeflag, uint64_t size,
			const char *linkname, struct mf_error *err)
{
	unsigned char h[BLOCK] = { 0 };
	size_t nlen = strlen(name);
	if (nlen > 100 || (linkname != NULL && strlen(linkname) > 100))
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: entry name '%s' is longer than 100 bytes", tw->path, name);
	memcpy(h, name, nlen);
	octal((char *)h + 100, 8, typeflag == '5' ? 0755 : 0644);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, size);
	octal((char *)h + 136, 12, tw->mtime);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)typeflag;
	if (linkname != NULL)
		memcpy(h + 157, linkname, strlen(linkname));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;
	for (size_t i = 0; i < BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return put(tw, h, BLOCK, err);
}

static int pad(struct tar_writer *tw, uint64_t size, struct mf_error *err)
{
	static const unsigned char zeros[BLOCK];
	size_t rest = (size_t)(size % BLOCK);
	return rest ? put(tw, zeros, BLOCK - rest, err) : MF_OK;
}

int tar_writer_add(struct tar_writer *tw, const char *name, char typeflag, const void *data,
		   size_t len, const char *linkname, struct mf_error *err)
{
	int st = write_header(tw, name, typeflag, len, linkname, err);
	if (st == MF_OK && len > 0)
		st = put(tw, data, len, err);
	if (st == MF_OK)
		st = pad(tw, len, err);
	return st;
}

int tar_writer_add_file(struct tar_writer *tw, const char *name, const char *src_path,
			char hex_r[65], struct mf_error *err)
{
	int fd = open(src_path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return sys_fail(err, e, "cannot read %s", src_path);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: not a regular file",
				    src_path);
	}
	uint64_t size = (uint64_t)sb.st_size, done = 0;
	int st = write_header(tw, name, '0', size, NULL, err);
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[65536];
	while (st == MF_OK && done < size) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			st = sys_fail(err, n < 0 ? errno : EIO, "cannot read %s%s", src_path,
				      n < 0 ? "" : " (file shrank while being packed)");
			break;
		}
		if ((uint64_t)n > size - done)
			n = (ssize_t)(size - done); /* grew meanwhile: keep the stat size */
		mf_sha256_update(h, buf, (size_t)n);
		st = put(tw, buf, (size_t)n, err);
		done += (uint64_t)n;
	}
	close(fd);
	if (st == MF_OK)
		st = pad(tw, size, err);
	unsigned char digest[32];
	mf_sha256_final(h, digest);
	mf_sha256_free(&h);
	if (hex_r != NULL)
		mf_hex(digest, 32, hex_r);
	return st;
}

int tar_writer_close(struct tar_writer **twp, bool commit, struct mf_error *err)
{
	struct tar_writer *tw = *twp;
	if (tw == NULL)
		return MF_OK;
	*twp = NULL;
	int st = MF_OK;
	if (commit) {
		/* Two zero blocks end the archive; pad to a 10 KiB record as
		 * tar does, so every reader is happy. */
		static const unsigned char zeros[BLOCK * 20];
		size_t at = (size_t)gztell(tw->gz), rec = sizeof(zeros);
		size_t end = (at + 2 * BLOCK + rec - 1) / rec * rec;
		while (st == MF_OK && at < end) {
			size_t n = end - at > rec ? rec : end - at;
			st = put(tw, zeros, n, err);
			at += n;
		}
	}
	/* gzclose flushes the trailer; fsync via a second descriptor is not
	 * possible after it closes ours, so reopen to sync before rename. */
	int zst = gzclose(tw->gz);
	if (commit && st == MF_OK && zst != Z_OK)
		st = sys_fail(err, errno ? errno : EIO, "cannot finish %s", tw->path);
	if (commit && st == MF_OK) {
		int fd = open(tw->tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			st = sys_fail(err, errno, "cannot sync %s", tw->tmp);
		if (fd >= 0)
			close(fd);
		if (st == MF_OK && rename(tw->tmp, tw->path) != 0)
			st = sys_fail(err, errno, "cannot rename into %s", tw->path);
	}
	if (!commit || st != MF_OK)
		unlink(tw->tmp);
	free(tw->path);
	free(tw->tmp);
	free(tw);
	return st;
}

/* ---- reader ----------------------------------------------------------- */

struct reader {
	gzFile gz;
	const char *archive;
	const char *entry; /* name being read, for error texts */
};

/* Read exactly len bytes; a short read is truncation or corruption. */
static int get(struct reader *r, void *buf, size_t len, struct mf_error *err)
{
	int n = gzread(r->gz, buf, (unsigned)len);
	if (n == (int)len)
		return MF_OK;
	int zerr = Z_OK;
	const char *msg = gzerror(r->gz, &zerr);
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "bundle %s: %s%s%s: %s; the file is damaged or not a bundle",
			    r->archive,
			    (n >= 0 && zerr == Z_OK) || zerr == Z_BUF_ERROR ? "truncated"
									    : "corrupt gzip data",
			    r->entry ? " while reading " : "", r->entry ? r->entry : "",
			    zerr != Z_OK && msg ? msg : "unexpected end of file");
}

static bool parse_octal(const unsigned char *f, size_t width, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	while (i < width && f[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false;
	*out = v;
	return digits > 0;
}

static bool all_zero(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Refuse anything that could name a place outside dir. */
static bool safe_name(const char *name)
{
	if (name[0] == '\0' || name[0] == '/')
		return false;
	const char *p = name;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 && slash != NULL)
			return false; /* "a//b" */
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == '\\')
				return false;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return true;
}

static int refuse(struct reader *r, const char *name, const char *why, struct mf_error *err)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "bundle %s: entry '%.200s' refused: %s", r->archive, name, why);
}

static int extract_file(struct reader *r, int dirfd, const char *name, uint64_t size,
			struct tar_file *tf, struct mf_error *err)
{
	/* O_EXCL|O_NOFOLLOW: never overwrite, never follow anything. */
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return refuse(r, name, "appears twice in the archive", err);
		return sys_fail(err, errno, "cannot extract %s", name);
	}
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[BLOCK * 64];
	uint64_t left = (size + BLOCK - 1) / BLOCK * BLOCK, data_left = size;
	int st = MF_OK;
	r->entry = name;
	while (st == MF_OK && left > 0) {
		size_t n = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
		st = get(r, buf, n, err);
		if (st != MF_OK)
			break;
		size_t use = data_left < n ? (size_t)data_left : n;
		mf_sha256_update(h, buf, use);
		for (size_t off = 0; off < use;) {
			ssize_t w = write(fd, buf + off, use - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				st = sys_fail(err, w < 0 ? errno : EIO, "cannot extract %s",
					      name);
				break;
			}
			off += (size_t)w;
		}
		data_left -= use;
		left -= n;
	}
	r->entry = NULL;
	if (close(fd) != 0 && st == MF_OK)
		st = sys_fail(err, errno, "cannot extract %s", name);
	unsigned char digest[32];
	mf_sha256_final(h, digest);
	mf_sha256_free(&h);
	tf->name = mf_xstrdup(name);
	tf->size = size;
	mf_hex(digest, 32, tf->sha256);
	return st;
}

int tar_extract(const char *archive, const char *dir, bool (*allowed)(const char *name),
		struct tar_file **files_r, size_t *n_files_r, struct mf_error *err)
{
	*files_r = NULL;
	*n_files_r = 0;
	int fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(err, errno, "cannot open bundle %s", archive);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gzFile gz = gzdopen(fd, "rb");
	if (dirfd < 0 || gz == NULL) {
		int e = errno;
		if (gz != NULL)
			gzclose(gz);
		else
			close(fd);
		if (dirfd >= 0)
			close(dirfd);
		return sys_fail(err, e, "cannot extract into %s", dir);
	}
	struct reader r = { .gz = gz, .archive = archive };
	struct tar_file *files = NULL;
	size_t n_files = 0, n_entries = 0;
	bool ended = false;
	int st = MF_OK;
	while (st == MF_OK && !ended) {
		unsigned char h[BLOCK];
		if ((st = get(&r, h, BLOCK, err)) != MF_OK)
			break;
		if (all_zero(h)) {
			ended = true;
			break;
		}
		if (++n_entries > MAX_ENTRIES) {
			st = refuse(&r, "(entry count)", "more than 4096 entries", err);
			break;
		}
		char name[257];
		size_t plen = strnlen((const char *)h + 345, 155);
		size_t nlen = strnlen((const char *)h, 100);
		if (memcmp(h + 257, "ustar", 5) == 0 && plen > 0)
			snprintf(name, sizeof(name), "%.*s/%.*s", (int)plen, (const char *)h + 345,
				 (int)nlen, (const char *)h);
		else
			snprintf(name, sizeof(name), "%.*s", (int)nlen, (const char *)h);
		uint64_t sum, size;
		unsigned calc = 0;
		for (size_t i = 0; i < BLOCK; i++)
			calc += (i >= 148 && i < 156) ? ' ' : h[i];
		if (!parse_octal(h + 148, 8, &sum) || sum != calc) {
			st = refuse(&r, name, "header checksum mismatch (damaged archive)", err);
			break;
		}
		if (!parse_octal(h + 124, 12, &size)) {
			st = refuse(&r, name, "unreadable size field", err);
			break;
		}
		/* "./x" is how tar -C dir . names things: accept the prefix. */
		char *nm = name;
		while (nm[0] == '.' && nm[1] == '/')
			nm += 2;
		size_t len = strlen(nm);
		char type = (char)h[156];
		bool is_dir = type == '5';
		if (is_dir && len > 0 && nm[len - 1] == '/')
			nm[--len] = '\0';
		if (type != '0' && type != '\0' && !is_dir) {
			st = refuse(&r, name,
				    type == '1' || type == '2' ? "links are not allowed in a bundle"
				    : type == 'x' || type == 'g' || type == 'L' || type == 'K'
					    ? "extended (pax/GNU) headers are not allowed in a bundle"
					    : "only regular files and directories are allowed",
				    err);
			break;
		}
		if (!safe_name(nm)) {
			st = refuse(&r, name, "absolute path or '..' component (path traversal)", err);
			break;
		}
		if (!allowed(nm)) {
			st = refuse(&r, name, "not part of the bundle layout (manifest.json, "
					      "mailferry.conf, plugins/NAME.so)", err);
			break;
		}
		if (is_dir) {
			if (size != 0) {
				st = refuse(&r, name, "directory entry with data", err);
				break;
			}
			if (mkdirat(dirfd, nm, 0700) != 0 && errno != EEXIST)
				st = sys_fail(err, errno, "cannot create %s", nm);
			continue;
		}
		if (size > MAX_FILE_SIZE) {
			st = refuse(&r, name, "larger than 512 MiB", err);
			break;
		}
		/* A file in a directory the archive did not list first. */
		const char *slash = strchr(nm, '/');
		if (slash != NULL) {
			char *parent = mf_xstrndup(nm, (size_t)(slash - nm));
			if (mkdirat(dirfd, parent, 0700) != 0 && errno != EEXIST)
				st = sys_fail(err, errno, "cannot create %s", parent);
			free(parent);
			if (st != MF_OK)
				break;
		}
		files = mf_xrealloc(files, (n_files + 1) * sizeof(*files));
		memset(&files[n_files], 0, sizeof(*files));
		st = extract_file(&r, dirfd, nm, size, &files[n_files], err);
		if (files[n_files].name != NULL)
			n_files++;
	}
	if (st == MF_OK) {
		/* Read to the end so zlib checks the gzip CRC and length of the
		 * whole stream, padding included. */
		unsigned char buf[BLOCK * 20];
		int n;
		while ((n = gzread(gz, buf, sizeof(buf))) > 0)
			;
		int zerr = Z_OK;
		const char *msg = gzerror(gz, &zerr);
		if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR))
			st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					  "bundle %s: corrupt gzip data after the last entry: %s",
					  archive, msg ? msg : "?");
		else if (zerr == Z_BUF_ERROR)
			st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					  "bundle %s: truncated (gzip stream ends early)", archive);
	}
	gzclose(gz);
	close(dirfd);
	if (st != MF_OK) {
		tar_files_free(files, n_files);
		return st;
	}
	*files_r = files;
	*n_files_r = n_files;
	return MF_OK;
}

void tar_files_free(struct tar_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].name);
	free(files);
}

static void remove_level(int dirfd, int depth)
{
	DIR *d = fdopendir(dirfd);
	if (d == NULL) {
		close(dirfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			continue;
		if (depth > 0) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				remove_level(sub, depth - 1);
		}
		unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

void tar_remove_tree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		remove_level(fd, 2);
	rmdir(dir);
}
