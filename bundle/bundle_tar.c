/* SPDX-License-Identifier: MIT */
/* The archive layer of plugin bundles, on libarchive: gzip'd tar written
 * as POSIX pax-restricted (plain ustar unless a name needs more), read
 * with every format detail (ustar, pax and GNU long names, checksums,
 * gzip) left to libarchive.  What this file adds is policy: a bundle comes
 * from elsewhere, so only regular files and directories with safe,
 * layout-approved names are accepted, everything else (links, devices,
 * FIFOs, sparse files, "..", absolute names, oversized or too many
 * entries, duplicates) is refused with the entry's name before a byte is
 * written outside the private extraction directory.  Extraction is by
 * openat() below that directory with O_EXCL|O_NOFOLLOW, not through
 * archive_write_disk, so the refusals do not depend on its flags.  The
 * integrity of what is used is the manifest's SHA-256 of each file,
 * computed here while extracting. */
#include <config.h>
#include "bundle.h"

#include <mailferry/util.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_SIZE (512ll << 20)
#define MAX_ENTRIES 4096

struct tar_writer {
	char *path, *tmp;
	int fd;
	struct archive *a;
	int64_t mtime;
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

/* err from libarchive's own words on a. */
static int archive_fail(struct mf_error *err, struct archive *a, const char *fmt, ...)
	MF_PRINTF(3, 4);
static int archive_fail(struct mf_error *err, struct archive *a, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	const char *why = archive_error_string(a);
	mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: %s", what,
		     why != NULL ? why : "archive error");
	if (err != NULL)
		err->sys_errno = archive_errno(a) > 0 ? archive_errno(a) : 0;
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
	struct archive *a = archive_write_new();
	/* No timestamp in the gzip header: the same inputs and mtime give
	 * the same bytes. */
	if (a == NULL || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level", "9") != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		int st = a != NULL ? archive_fail(err, a, "cannot start %s", path)
				   : sys_fail(err, ENOMEM, "cannot start %s", path);
		archive_write_free(a);
		close(fd);
		unlink(tmp);
		free(tmp);
		return st;
	}
	struct tar_writer *tw = mf_xcalloc(1, sizeof(*tw));
	tw->path = mf_xstrdup(path);
	tw->tmp = tmp;
	tw->fd = fd;
	tw->a = a;
	tw->mtime = (int64_t)mtime;
	*tw_r = tw;
	return MF_OK;
}

static int put(struct tar_writer *tw, const void *data, size_t len, struct mf_error *err)
{
	while (len > 0) {
		la_ssize_t n = archive_write_data(tw->a, data, len);
		if (n <= 0)
			return archive_fail(err, tw->a, "cannot write %s", tw->path);
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return MF_OK;
}

static struct archive_entry *new_entry(const struct tar_writer *tw, const char *name, mode_t type,
				       uint64_t size)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, tw->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return e;
}

static int write_header(struct tar_writer *tw, struct archive_entry *e, struct mf_error *err)
{
	int r = archive_write_header(tw->a, e);
	int st = r == ARCHIVE_OK ? MF_OK
				 : archive_fail(err, tw->a, "%s: cannot add '%s'", tw->path,
						archive_entry_pathname(e));
	archive_entry_free(e);
	return st;
}

int tar_writer_add(struct tar_writer *tw, const char *name, char typeflag, const void *data,
		   size_t len, const char *linkname, struct mf_error *err)
{
	mode_t type;
	switch (typeflag) {
	case '0':
	case '1': type = AE_IFREG; break;
	case '2': type = AE_IFLNK; break;
	case '3': type = AE_IFCHR; break;
	case '4': type = AE_IFBLK; break;
	case '5': type = AE_IFDIR; break;
	case '6': type = AE_IFIFO; break;
	default:
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: '%s': unknown tar type '%c'", tw->path, name, typeflag);
	}
	struct archive_entry *e = new_entry(tw, name, type, type == AE_IFREG ? len : 0);
	if (typeflag == '1') {
		archive_entry_set_hardlink(e, linkname);
		archive_entry_set_size(e, 0);
		len = 0;
	} else if (typeflag == '2') {
		archive_entry_set_symlink(e, linkname);
	}
	if (type != AE_IFREG)
		len = 0;
	int st = write_header(tw, e, err);
	if (st == MF_OK && len > 0)
		st = put(tw, data, len, err);
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
	int st = write_header(tw, new_entry(tw, name, AE_IFREG, size), err);
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
	/* archive_write_close writes the end blocks, pads the record and
	 * finishes the gzip stream; then the bytes go to disk before the
	 * rename makes them visible. */
	if (archive_write_close(tw->a) != ARCHIVE_OK && commit)
		st = archive_fail(err, tw->a, "cannot finish %s", tw->path);
	archive_write_free(tw->a);
	if (commit && st == MF_OK && fsync(tw->fd) != 0)
		st = sys_fail(err, errno, "cannot sync %s", tw->tmp);
	if (close(tw->fd) != 0 && commit && st == MF_OK)
		st = sys_fail(err, errno, "cannot finish %s", tw->tmp);
	if (commit && st == MF_OK && rename(tw->tmp, tw->path) != 0)
		st = sys_fail(err, errno, "cannot rename into %s", tw->path);
	if (!commit || st != MF_OK)
		unlink(tw->tmp);
	free(tw->path);
	free(tw->tmp);
	free(tw);
	return st;
}

/* ---- reader ----------------------------------------------------------- */

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

static int refuse(const char *archive, const char *name, const char *why, struct mf_error *err)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "bundle %s: entry '%.200s' refused: %s", archive, name, why);
}

/* Why an entry of this kind has no place in a bundle; NULL if it has. */
static const char *kind_refusal(struct archive_entry *e)
{
	if (archive_entry_hardlink(e) != NULL || archive_entry_filetype(e) == AE_IFLNK)
		return "links are not allowed in a bundle";
	if (archive_entry_filetype(e) != AE_IFREG && archive_entry_filetype(e) != AE_IFDIR)
		return "only regular files and directories are allowed";
	if (archive_entry_sparse_count(e) > 0)
		return "sparse files are not allowed in a bundle";
	if (archive_entry_filetype(e) == AE_IFDIR && archive_entry_size(e) > 0)
		return "directory entry with data";
	if (archive_entry_size(e) > MAX_FILE_SIZE)
		return "larger than 512 MiB";
	return NULL;
}

static int extract_file(struct archive *a, const char *archive, int dirfd, const char *name,
			struct tar_file *tf, struct mf_error *err)
{
	/* O_EXCL|O_NOFOLLOW: never overwrite, never follow anything. */
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return refuse(archive, name, "appears twice in the archive", err);
		return sys_fail(err, errno, "cannot extract %s", name);
	}
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[65536];
	uint64_t size = 0;
	int st = MF_OK;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			st = archive_fail(err, a, "bundle %s: while reading %s", archive, name);
			break;
		}
		mf_sha256_update(h, buf, (size_t)n);
		size += (uint64_t)n;
		for (size_t off = 0; off < (size_t)n;) {
			ssize_t w = write(fd, buf + off, (size_t)n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				st = sys_fail(err, w < 0 ? errno : EIO, "cannot extract %s", name);
				break;
			}
			off += (size_t)w;
		}
		if (st != MF_OK)
			break;
	}
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

/* One entry: checks, then a directory or a file below dirfd. */
static int take_entry(struct archive *a, struct archive_entry *e, const char *archive, int dirfd,
		      bool (*allowed)(const char *name), struct tar_file *files, size_t *n_files,
		      struct mf_error *err)
{
	const char *raw = archive_entry_pathname(e);
	if (raw == NULL)
		return refuse(archive, "(unnamed)", "no readable name", err);
	const char *why = kind_refusal(e);
	if (why != NULL)
		return refuse(archive, raw, why, err);
	/* "./x" is how tar -C dir . names things: accept the prefix. */
	const char *p = raw;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	char *nm = mf_xstrdup(p);
	size_t len = strlen(nm);
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR;
	if (is_dir && len > 0 && nm[len - 1] == '/')
		nm[--len] = '\0';
	int st = MF_OK;
	if (!safe_name(nm))
		st = refuse(archive, raw, "absolute path or '..' component (path traversal)", err);
	else if (!allowed(nm))
		st = refuse(archive, raw,
			    "not part of the bundle layout (manifest.json, "
			    "mailferry.conf, plugins/NAME.so)",
			    err);
	else if (is_dir) {
		if (mkdirat(dirfd, nm, 0700) != 0 && errno != EEXIST)
			st = sys_fail(err, errno, "cannot create %s", nm);
	} else {
		/* A file in a directory the archive did not list first. */
		const char *slash = strchr(nm, '/');
		if (slash != NULL) {
			char *parent = mf_xstrndup(nm, (size_t)(slash - nm));
			if (mkdirat(dirfd, parent, 0700) != 0 && errno != EEXIST)
				st = sys_fail(err, errno, "cannot create %s", parent);
			free(parent);
		}
		if (st == MF_OK) {
			memset(&files[*n_files], 0, sizeof(*files));
			st = extract_file(a, archive, dirfd, nm, &files[*n_files], err);
			if (files[*n_files].name != NULL)
				(*n_files)++;
		}
	}
	free(nm);
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
	if (dirfd < 0) {
		int e = errno;
		close(fd);
		return sys_fail(err, e, "cannot extract into %s", dir);
	}
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	int st = MF_OK;
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		st = archive_fail(err, a, "bundle %s: not a gzip'd tar archive", archive);
		archive_read_free(a);
		close(fd);
		close(dirfd);
		return st;
	}
	struct tar_file *files = NULL;
	size_t n_files = 0, n_entries = 0;
	while (st == MF_OK) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* Strict: a warning (say, a damaged header skipped over) is a
		 * damaged bundle, not something to read past. */
		if (r != ARCHIVE_OK) {
			st = archive_fail(err, a, "bundle %s: damaged or not a bundle", archive);
			break;
		}
		if (++n_entries > MAX_ENTRIES) {
			st = refuse(archive, "(entry count)", "more than 4096 entries", err);
			break;
		}
		files = mf_xrealloc(files, n_entries * sizeof(*files));
		st = take_entry(a, e, archive, dirfd, allowed, files, &n_files, err);
	}
	archive_read_free(a);
	close(fd);
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
