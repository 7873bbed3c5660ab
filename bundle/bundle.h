/* SPDX-License-Identifier: MIT */
/* Plugin bundles: a gzip'd ustar archive holding plugin shared objects, a
 * default configuration and a manifest (JSON) with the name, version, kind,
 * ABI and SHA-256 of each file.  bundle_tar.c reads and writes the archive
 * (and refuses anything but plain files and one directory level: no links,
 * no absolute or ".." names); bundle.c owns the manifest, creation and
 * verification (digests, layout, and a load check of every plugin through
 * the normal loader).  docs/plugin-abi.md ("Bundles") has the format. */
#ifndef MF_BUNDLE_BUNDLE_H
#define MF_BUNDLE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>

/* ---- archive layer (bundle_tar.c, on libarchive) -------------------- */

struct tar_writer;
/* Write a gzip'd tar archive (pax-restricted: plain ustar unless a name
 * needs a pax header) to a temporary file beside path; it only replaces
 * path on tar_writer_close(commit = true). */
int tar_writer_open(const char *path, uint64_t mtime, struct tar_writer **tw_r,
		    struct mf_error *err);
/* One entry from memory.  No checks on name/typeflag/linkname: the tests
 * use this to build hostile archives.  typeflag '0' file, '5' directory,
 * '1' hard link, '2' symlink, '3'/'4' devices, '6' FIFO. */
int tar_writer_add(struct tar_writer *tw, const char *name, char typeflag, const void *data,
		   size_t len, const char *linkname, struct mf_error *err);
/* One regular file copied from src_path, hashing it on the way; hex_r
 * (65 bytes, may be NULL) receives its SHA-256. */
int tar_writer_add_file(struct tar_writer *tw, const char *name, const char *src_path,
			char hex_r[65], struct mf_error *err);
/* Finish (end blocks, gzip trailer, fsync) and rename into place when
 * commit; otherwise remove the temporary file.  NULL-safe. */
int tar_writer_close(struct tar_writer **tw, bool commit, struct mf_error *err);

struct tar_file {
	char *name;      /* as in the archive, e.g. "plugins/imap.so" */
	char sha256[65]; /* lowercase hex of the extracted bytes */
	uint64_t size;
};
/* Extract archive into dir (which must exist, empty, private).  Only
 * regular files and directories are accepted, and only names for which
 * allowed(name) is true (long pax/GNU names included); absolute names,
 * "..", "." or empty components, links, devices, FIFOs, sparse files,
 * duplicate names, damaged headers, files over 512 MiB, more than 4096
 * entries and truncated or corrupt gzip data are refused with the
 * entry's name.  *files_r lists the regular files with the SHA-256 of
 * the bytes extracted. */
int tar_extract(const char *archive, const char *dir, bool (*allowed)(const char *name),
		struct tar_file **files_r, size_t *n_files_r, struct mf_error *err);
void tar_files_free(struct tar_file *files, size_t n);
/* Remove dir and everything below it (two levels at most, as extracted). */
void tar_remove_tree(const char *dir);

/* ---- bundles (bundle.c) --------------------------------------------- */

#define BUNDLE_FORMAT 1
#define BUNDLE_MANIFEST "manifest.json"
#define BUNDLE_CONFIG "mailferry.conf"

struct bundle_plugin {
	char *name;    /* module name, = descriptor name */
	char *version; /* the plugin's own version, or NULL */
	char *file;    /* "plugins/<name>.so" */
	enum mf_plugin_kind kind;
	unsigned abi_major, abi_minor;
	char **schemes; /* NULL-terminated */
	char sha256[65];
};

struct bundle_manifest {
	unsigned format;
	char *name;
	char *created;                 /* ISO 8601 UTC */
	char *mailferry_version;       /* of the mailferry that built it */
	unsigned abi_major, abi_minor; /* ABI of that mailferry */
	struct bundle_plugin *plugins;
	size_t n_plugins;
	bool has_config;
	char config_sha256[65];
};

/* Manifest <-> JSON.  parse validates every field (names, file layout,
 * digests, kinds) and refuses unknown format numbers. */
char *bundle_manifest_to_json(const struct bundle_manifest *m);
int bundle_manifest_parse(const char *text, size_t len, const char *origin,
			  struct bundle_manifest *m, struct mf_error *err);
void bundle_manifest_free(struct bundle_manifest *m);

/* Write the archive: manifest m (its sha256 fields are computed here),
 * plugin i copied from plugin_src[i], the configuration from config_src
 * when m->has_config. */
int bundle_write(const char *out, struct bundle_manifest *m, const char *const *plugin_src,
		 const char *config_src, struct mf_error *err);

/* "mailferry bundle create": load-check each plugin file (.so, or a
 * libtool .la naming one) with the loader, fill the manifest from its
 * descriptor, and write the bundle.  name may be NULL (file base name). */
int bundle_create(const char *out, const char *name, const char *const *plugins, size_t n_plugins,
		  const char *config_path, struct mf_error *err);

struct bundle {
	char *path;       /* the bundle file */
	char *dir;        /* private extraction directory (removed by close) */
	char *plugin_dir; /* dir/plugins: put it first on the plugin path */
	struct bundle_manifest manifest;
	char *config_path; /* dir/mailferry.conf when the manifest lists one, else NULL:
			    * the front end parses it (its digest is verified here) */
};
/* Extract into a private temporary directory and verify: layout, every
 * file listed in the manifest present with its SHA-256, nothing else. */
int bundle_open(const char *path, struct bundle *b, struct mf_error *err);
/* Load every plugin with the normal loader (ABI checks) and compare the
 * descriptor with the manifest.  Refusals name the plugin and versions. */
int bundle_check_plugins(const struct bundle *b, struct mf_error *err);
void bundle_close(struct bundle *b); /* NULL-safe on a zeroed struct */

#endif
