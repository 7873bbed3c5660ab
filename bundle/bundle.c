/* SPDX-License-Identifier: MIT */
/* Plugin bundles: the manifest (JSON via jansson), "bundle create" (load
 * each plugin with the normal loader so a bundle never carries a plugin
 * this mailferry would refuse, then pack it), and opening a bundle for a
 * run (extract into a private directory, verify every SHA-256 against the
 * manifest, refuse anything unlisted, load-check the plugins).  The
 * archive format itself lives in bundle_tar.c.  The digests detect damage
 * and tampering after the manifest was written; they do not prove who
 * wrote the bundle (docs/plugin-abi.md says how to sign one). */
#include <config.h>
#include "bundle.h"

#include <mailferry/util.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plugin_loader.h"

static bool module_name_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool hex64_ok(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The only names a bundle may contain. */
static bool layout_allowed(const char *name)
{
	if (strcmp(name, BUNDLE_MANIFEST) == 0 || strcmp(name, BUNDLE_CONFIG) == 0 ||
	    strcmp(name, "plugins") == 0)
		return true;
	if (strncmp(name, "plugins/", 8) != 0)
		return false;
	size_t len = strlen(name);
	if (len < 8 + 4 || strcmp(name + len - 3, ".so") != 0)
		return false;
	char *mod = mf_xstrndup(name + 8, len - 8 - 3);
	bool ok = module_name_ok(mod);
	free(mod);
	return ok;
}

static const char *kind_str(enum mf_plugin_kind k)
{
	return k == MF_PLUGIN_SOURCE ? "source" : k == MF_PLUGIN_SINK ? "sink" : "?";
}

char *bundle_manifest_to_json(const struct bundle_manifest *m)
{
	char abi[32];
	snprintf(abi, sizeof(abi), "%u.%u", m->abi_major, m->abi_minor);
	json_t *root = json_pack("{si ss ss ss ss}", "format", (int)m->format, "name",
				 m->name ? m->name : "", "created", m->created ? m->created : "",
				 "mailferry_version",
				 m->mailferry_version ? m->mailferry_version : "", "abi", abi);
	json_t *plugins = json_array();
	for (size_t i = 0; i < m->n_plugins; i++) {
		const struct bundle_plugin *p = &m->plugins[i];
		json_t *schemes = json_array();
		for (char **s = p->schemes; s != NULL && *s != NULL; s++)
			json_array_append_new(schemes, json_string(*s));
		json_array_append_new(plugins,
				      json_pack("{ss ss* ss ss si si so ss}", "name", p->name,
						"version", p->version, "file", p->file, "kind",
						kind_str(p->kind), "abi_major", (int)p->abi_major,
						"abi_minor", (int)p->abi_minor, "schemes", schemes,
						"sha256", p->sha256));
	}
	json_object_set_new(root, "plugins", plugins);
	if (m->has_config)
		json_object_set_new(root, "config",
				    json_pack("{ss ss}", "file", BUNDLE_CONFIG, "sha256",
					      m->config_sha256));
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	char *out = mf_xasprintf("%s\n", text ? text : "{}");
	free(text);
	return out;
}

static char *dup_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? mf_xstrdup(s) : NULL;
}

static int bad(struct mf_error *err, const char *origin, const char *what)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "%s: invalid manifest: %s; the bundle is damaged or was not made by "
			    "'mailferry bundle create'",
			    origin, what);
}

static int parse_plugin(json_t *jp, const char *origin, struct bundle_plugin *p,
			struct mf_error *err)
{
	json_t *ja = json_object_get(jp, "abi_major"), *jb = json_object_get(jp, "abi_minor");
	json_t *js = json_object_get(jp, "schemes");
	const char *kind = json_string_value(json_object_get(jp, "kind"));
	p->name = dup_str(jp, "name");
	p->version = dup_str(jp, "version");
	p->file = dup_str(jp, "file");
	const char *sha = json_string_value(json_object_get(jp, "sha256"));
	if (!module_name_ok(p->name))
		return bad(err, origin, "a plugin has no valid name");
	char *want = mf_xasprintf("plugins/%s.so", p->name);
	bool file_ok = p->file != NULL && strcmp(p->file, want) == 0;
	free(want);
	if (!file_ok)
		return bad(err, origin, "a plugin's file is not plugins/NAME.so");
	if (!hex64_ok(sha))
		return bad(err, origin, "a plugin's sha256 is not 64 hex digits");
	memcpy(p->sha256, sha, 65);
	if (kind != NULL && strcmp(kind, "source") == 0)
		p->kind = MF_PLUGIN_SOURCE;
	else if (kind != NULL && strcmp(kind, "sink") == 0)
		p->kind = MF_PLUGIN_SINK;
	else
		return bad(err, origin, "a plugin's kind is neither source nor sink");
	if (!json_is_integer(ja) || !json_is_integer(jb) || json_integer_value(ja) < 0 ||
	    json_integer_value(ja) > 65535 || json_integer_value(jb) < 0 ||
	    json_integer_value(jb) > 65535)
		return bad(err, origin, "a plugin's abi_major/abi_minor are not numbers");
	p->abi_major = (unsigned)json_integer_value(ja);
	p->abi_minor = (unsigned)json_integer_value(jb);
	if (!json_is_array(js))
		return bad(err, origin, "a plugin's schemes are not a list");
	p->schemes = mf_xcalloc(json_array_size(js) + 1, sizeof(char *));
	for (size_t k = 0; k < json_array_size(js); k++) {
		const char *s = json_string_value(json_array_get(js, k));
		if (s == NULL)
			return bad(err, origin, "a plugin's scheme is not a string");
		p->schemes[k] = mf_xstrdup(s);
	}
	return MF_OK;
}

int bundle_manifest_parse(const char *text, size_t len, const char *origin,
			  struct bundle_manifest *m, struct mf_error *err)
{
	memset(m, 0, sizeof(*m));
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char what[300];
		snprintf(what, sizeof(what), "line %d: %s", jerr.line, jerr.text);
		return bad(err, origin, what);
	}
	int st = MF_OK;
	json_t *jf = json_object_get(root, "format");
	json_t *jplugins = json_object_get(root, "plugins");
	const char *abi = json_string_value(json_object_get(root, "abi"));
	if (!json_is_integer(jf)) {
		st = bad(err, origin, "no format number");
		goto out;
	}
	if (json_integer_value(jf) != BUNDLE_FORMAT) {
		st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				  "%s: bundle format %lld, this mailferry reads format %d: made by "
				  "a newer mailferry? upgrade mailferry or rebuild the bundle",
				  origin, (long long)json_integer_value(jf), BUNDLE_FORMAT);
		goto out;
	}
	m->format = BUNDLE_FORMAT;
	m->name = dup_str(root, "name");
	m->created = dup_str(root, "created");
	m->mailferry_version = dup_str(root, "mailferry_version");
	if (m->name == NULL || m->created == NULL || m->mailferry_version == NULL || abi == NULL ||
	    sscanf(abi, "%u.%u", &m->abi_major, &m->abi_minor) != 2) {
		st = bad(err, origin, "name, created, mailferry_version or abi missing");
		goto out;
	}
	if (!json_is_array(jplugins)) {
		st = bad(err, origin, "no plugin list");
		goto out;
	}
	size_t n = json_array_size(jplugins);
	m->plugins = mf_xcalloc(n ? n : 1, sizeof(*m->plugins));
	for (size_t i = 0; i < n && st == MF_OK; i++) {
		m->n_plugins = i + 1;
		st = parse_plugin(json_array_get(jplugins, i), origin, &m->plugins[i], err);
		for (size_t k = 0; k < i && st == MF_OK; k++)
			if (strcmp(m->plugins[k].name, m->plugins[i].name) == 0)
				st = bad(err, origin, "a plugin is listed twice");
	}
	if (st != MF_OK)
		goto out;
	json_t *jc = json_object_get(root, "config");
	if (jc != NULL && !json_is_null(jc)) {
		const char *file = json_string_value(json_object_get(jc, "file"));
		const char *sha = json_string_value(json_object_get(jc, "sha256"));
		if (file == NULL || strcmp(file, BUNDLE_CONFIG) != 0 || !hex64_ok(sha)) {
			st = bad(err, origin, "config entry is not {file: mailferry.conf, sha256}");
			goto out;
		}
		m->has_config = true;
		memcpy(m->config_sha256, sha, 65);
	}
out:
	json_decref(root);
	if (st != MF_OK)
		bundle_manifest_free(m);
	return st;
}

void bundle_manifest_free(struct bundle_manifest *m)
{
	for (size_t i = 0; i < m->n_plugins; i++) {
		struct bundle_plugin *p = &m->plugins[i];
		free(p->name);
		free(p->version);
		free(p->file);
		for (char **s = p->schemes; s != NULL && *s != NULL; s++)
			free(*s);
		free(p->schemes);
	}
	free(m->plugins);
	free(m->name);
	free(m->created);
	free(m->mailferry_version);
	memset(m, 0, sizeof(*m));
}

/* The manifest goes first in the archive (so "tar tzvf" shows it on
 * top), so the digests are computed in a first, cheap read of each file;
 * tar_writer_add_file() hashes again while packing and the two must
 * agree. */
static int hash_file(const char *path, char hex[65], struct mf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read %s: %s", path,
				    strerror(errno));
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[65536], d[32];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		mf_sha256_update(h, buf, n);
	bool failed = ferror(f) != 0;
	fclose(f);
	mf_sha256_final(h, d);
	mf_sha256_free(&h);
	if (failed)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read %s", path);
	mf_hex(d, 32, hex);
	return MF_OK;
}

int bundle_write(const char *out, struct bundle_manifest *m, const char *const *plugin_src,
		 const char *config_src, struct mf_error *err)
{
	int st = MF_OK;
	for (size_t i = 0; i < m->n_plugins && st == MF_OK; i++)
		st = hash_file(plugin_src[i], m->plugins[i].sha256, err);
	if (st == MF_OK && m->has_config)
		st = hash_file(config_src, m->config_sha256, err);
	if (st != MF_OK)
		return st;
	struct tar_writer *tw = NULL;
	if ((st = tar_writer_open(out, (uint64_t)time(NULL), &tw, err)) != MF_OK)
		return st;
	char *manifest = bundle_manifest_to_json(m);
	st = tar_writer_add(tw, BUNDLE_MANIFEST, '0', manifest, strlen(manifest), NULL, err);
	free(manifest);
	if (st == MF_OK && m->has_config)
		st = tar_writer_add_file(tw, BUNDLE_CONFIG, config_src, NULL, err);
	if (st == MF_OK && m->n_plugins > 0)
		st = tar_writer_add(tw, "plugins/", '5', NULL, 0, NULL, err);
	for (size_t i = 0; i < m->n_plugins && st == MF_OK; i++) {
		char hex[65];
		st = tar_writer_add_file(tw, m->plugins[i].file, plugin_src[i], hex, err);
		/* Changed between hashing and packing: the manifest would lie. */
		if (st == MF_OK && strcmp(hex, m->plugins[i].sha256) != 0)
			st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					  "%s changed while being packed; try again",
					  plugin_src[i]);
	}
	int st2 = tar_writer_close(&tw, st == MF_OK, err);
	return st == MF_OK ? st2 : st;
}

/* A libtool .la names its shared object in dlname; uninstalled, the
 * object sits in .libs/ beside it. */
static char *resolve_shared_object(const char *path, struct mf_error *err)
{
	size_t len = strlen(path);
	if (len < 3 || strcmp(path + len - 3, ".la") != 0)
		return mf_xstrdup(path);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read %s: %s", path,
			     strerror(errno));
		return NULL;
	}
	char line[1024], *dlname = NULL;
	while (dlname == NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "dlname='", 8) == 0) {
			char *q = strchr(line + 8, '\'');
			if (q != NULL && q > line + 8)
				dlname = mf_xstrndup(line + 8, (size_t)(q - line - 8));
		}
	fclose(f);
	if (dlname == NULL) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			     "%s: names no shared object (dlname): not a loadable module", path);
		return NULL;
	}
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".";
	char *cand[2] = { mf_xasprintf("%.*s/%s", dlen, dir, dlname),
			  mf_xasprintf("%.*s/.libs/%s", dlen, dir, dlname) };
	free(dlname);
	char *found = NULL;
	for (int i = 0; i < 2; i++) {
		if (found == NULL && access(cand[i], R_OK) == 0)
			found = cand[i];
		else
			free(cand[i]);
	}
	if (found == NULL)
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			     "%s: its shared object is neither beside it nor in .libs/", path);
	return found;
}

static char *iso_now(void)
{
	char buf[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return mf_xstrdup(buf);
}

static char *default_name(const char *out)
{
	const char *base = strrchr(out, '/');
	base = base ? base + 1 : out;
	size_t len = strlen(base);
	if (len > 7 && strcmp(base + len - 7, ".tar.gz") == 0)
		len -= 7;
	else if (len > 4 && strcmp(base + len - 4, ".tgz") == 0)
		len -= 4;
	return mf_xstrndup(base, len);
}

int bundle_create(const char *out, const char *name, const char *const *plugins, size_t n_plugins,
		  const char *config_path, struct mf_error *err)
{
	struct bundle_manifest m = { .format = BUNDLE_FORMAT,
				     .abi_major = MF_ABI_MAJOR,
				     .abi_minor = MF_ABI_MINOR };
	struct plugin_registry reg = { 0 };
	char **src = mf_xcalloc(n_plugins + 1, sizeof(char *));
	int st = MF_OK;
	m.name = name ? mf_xstrdup(name) : default_name(out);
	m.created = iso_now();
	m.mailferry_version = mf_xstrdup(PACKAGE_VERSION);
	m.plugins = mf_xcalloc(n_plugins + 1, sizeof(*m.plugins));
	/* The caller (cli/cli_bundle.c) has parsed the configuration: the
	 * bundle carries it as bytes under its digest. */
	m.has_config = config_path != NULL;
	for (size_t i = 0; i < n_plugins && st == MF_OK; i++) {
		if ((src[i] = resolve_shared_object(plugins[i], err)) == NULL) {
			st = MF_ERR_FATAL;
			break;
		}
		size_t before = reg.n_plugins;
		if (!registry_load_file(&reg, plugins[i])) {
			if (reg.n_refused > 0)
				st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
						  "cannot bundle %s: %s", plugins[i],
						  reg.refused[reg.n_refused - 1].reason);
			else
				st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
						  "cannot bundle %s: a plugin of that name is "
						  "already in the bundle",
						  plugins[i]);
			break;
		}
		const struct mf_plugin *d = &reg.plugins[before].desc;
		struct bundle_plugin *bp = &m.plugins[m.n_plugins++];
		bp->name = mf_xstrdup(d->name);
		bp->version = d->version ? mf_xstrdup(d->version) : NULL;
		bp->file = mf_xasprintf("plugins/%s.so", d->name);
		bp->kind = d->kind;
		bp->abi_major = d->abi_major;
		bp->abi_minor = d->abi_minor;
		size_t ns = 0;
		while (d->schemes[ns] != NULL)
			ns++;
		bp->schemes = mf_xcalloc(ns + 1, sizeof(char *));
		for (size_t k = 0; k < ns; k++)
			bp->schemes[k] = mf_xstrdup(d->schemes[k]);
		if (!module_name_ok(d->name))
			st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					  "cannot bundle %s: plugin name '%s' is not [A-Za-z0-9_-]",
					  plugins[i], d->name);
	}
	if (st == MF_OK && n_plugins == 0)
		st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				  "a bundle needs at least one --plugin");
	if (st == MF_OK)
		st = bundle_write(out, &m, (const char *const *)src, config_path, err);
	registry_free(&reg);
	for (size_t i = 0; i < n_plugins; i++)
		free(src[i]);
	free(src);
	bundle_manifest_free(&m);
	return st;
}

static int read_small(const char *path, struct mf_buf *b, struct mf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read %s: %s", path,
				    strerror(errno));
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b->len < (4u << 20))
		mf_buf_append(b, chunk, n);
	fclose(f);
	return MF_OK;
}

static const struct tar_file *find_file(const struct tar_file *files, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i].name, name) == 0)
			return &files[i];
	return NULL;
}

static int mismatch(struct mf_error *err, const char *bundle, const char *file, const char *got,
		    const char *want)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "bundle %s: %s does not match the manifest (sha256 %.12s..., manifest "
			    "says %.12s...): the bundle was modified or damaged after it was "
			    "created; refusing it",
			    bundle, file, got, want);
}

/* Every listed file present with its digest, and nothing unlisted. */
static int verify(struct bundle *b, const struct tar_file *files, size_t n, struct mf_error *err)
{
	const struct bundle_manifest *m = &b->manifest;
	for (size_t i = 0; i < m->n_plugins; i++) {
		const struct tar_file *f = find_file(files, n, m->plugins[i].file);
		if (f == NULL)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "bundle %s: %s is listed in the manifest but missing",
					    b->path, m->plugins[i].file);
		if (strcmp(f->sha256, m->plugins[i].sha256) != 0)
			return mismatch(err, b->path, f->name, f->sha256, m->plugins[i].sha256);
	}
	const struct tar_file *cf = find_file(files, n, BUNDLE_CONFIG);
	if (m->has_config && cf == NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "bundle %s: %s is listed in the manifest but missing", b->path,
				    BUNDLE_CONFIG);
	if (cf != NULL && m->has_config && strcmp(cf->sha256, m->config_sha256) != 0)
		return mismatch(err, b->path, cf->name, cf->sha256, m->config_sha256);
	for (size_t i = 0; i < n; i++) {
		bool listed = strcmp(files[i].name, BUNDLE_MANIFEST) == 0 ||
			      (m->has_config && strcmp(files[i].name, BUNDLE_CONFIG) == 0);
		for (size_t k = 0; k < m->n_plugins && !listed; k++)
			listed = strcmp(files[i].name, m->plugins[k].file) == 0;
		if (!listed)
			return mf_error_set(
				err, MF_ERR_FATAL, MF_RETRY_NEVER,
				"bundle %s: %s is not listed in the manifest: the bundle "
				"was modified after it was created; refusing it",
				b->path, files[i].name);
	}
	return MF_OK;
}

int bundle_open(const char *path, struct bundle *b, struct mf_error *err)
{
	memset(b, 0, sizeof(*b));
	b->path = mf_xstrdup(path);
	const char *tmp = getenv("TMPDIR");
	b->dir = mf_xasprintf("%s/mailferry-bundle.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(b->dir) == NULL) {
		int e = errno;
		free(b->dir);
		b->dir = NULL;
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "cannot create a private directory for bundle %s: %s", path,
				    strerror(e));
	}
	struct tar_file *files = NULL;
	size_t n = 0;
	int st = tar_extract(path, b->dir, layout_allowed, &files, &n, err);
	if (st != MF_OK)
		return st;
	if (find_file(files, n, BUNDLE_MANIFEST) == NULL) {
		tar_files_free(files, n);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "bundle %s: no %s: not a mailferry bundle", path,
				    BUNDLE_MANIFEST);
	}
	char *mpath = mf_xasprintf("%s/%s", b->dir, BUNDLE_MANIFEST);
	char *origin = mf_xasprintf("bundle %s", path);
	struct mf_buf mb = { 0 };
	st = read_small(mpath, &mb, err);
	if (st == MF_OK)
		st = bundle_manifest_parse(mb.len ? (const char *)mb.data : "", mb.len, origin,
					   &b->manifest, err);
	mf_buf_free(&mb);
	free(mpath);
	if (st == MF_OK)
		st = verify(b, files, n, err);
	tar_files_free(files, n);
	if (st == MF_OK && b->manifest.has_config)
		b->config_path = mf_xasprintf("%s/%s", b->dir, BUNDLE_CONFIG);
	free(origin);
	b->plugin_dir = mf_xasprintf("%s/plugins", b->dir);
	return st;
}

int bundle_check_plugins(const struct bundle *b, struct mf_error *err)
{
	int st = MF_OK;
	for (size_t i = 0; i < b->manifest.n_plugins && st == MF_OK; i++) {
		const struct bundle_plugin *bp = &b->manifest.plugins[i];
		struct plugin_registry reg = { 0 };
		char *path = mf_xasprintf("%s/%s", b->dir, bp->file);
		if (!registry_load_file(&reg, path)) {
			st = mf_error_set(
				err, MF_ERR_FATAL, MF_RETRY_NEVER,
				"bundle %s: plugin '%s' (version %s, built for ABI %u.%u) "
				"cannot be used by this mailferry %s (ABI %d.%d): %s",
				b->path, bp->name, bp->version ? bp->version : "?", bp->abi_major,
				bp->abi_minor, PACKAGE_VERSION, MF_ABI_MAJOR, MF_ABI_MINOR,
				reg.n_refused ? reg.refused[0].reason : "not loadable");
		} else {
			const struct mf_plugin *d = &reg.plugins[0].desc;
			if (d->abi_major != bp->abi_major || d->abi_minor != bp->abi_minor ||
			    d->kind != bp->kind)
				st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
						  "bundle %s: plugin '%s' says ABI %u.%u %s, the "
						  "manifest says ABI %u.%u %s; refusing the bundle",
						  b->path, bp->name, d->abi_major, d->abi_minor,
						  kind_str(d->kind), bp->abi_major, bp->abi_minor,
						  kind_str(bp->kind));
		}
		registry_free(&reg);
		free(path);
	}
	return st;
}

void bundle_close(struct bundle *b)
{
	if (b->dir != NULL)
		tar_remove_tree(b->dir);
	free(b->dir);
	free(b->path);
	free(b->plugin_dir);
	bundle_manifest_free(&b->manifest);
	free(b->config_path);
	memset(b, 0, sizeof(*b));
}
