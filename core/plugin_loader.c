/* SPDX-License-Identifier: MIT */
/* Plugin loader: scans the search path with libltdl, checks each module
 * against the ABI this core speaks, and keeps zero-extended copies of the
 * descriptor and operation tables so that optional slots an older plugin
 * lacks read as NULL (curl vtls habit).  Every refusal names the file,
 * both versions and the remedy (Dovecot module-dir habit). */
#include <config.h>
#include "plugin_loader.h"

#include <mailferry/util.h>
#include <dirent.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"

/* Size of struct mf_plugin as ABI 1.0 defined it: everything up to and
 * including the sink pointer.  Smaller descriptors cannot be trusted. */
#define PLUGIN_V1_0_SIZE (offsetof(struct mf_plugin, sink) + sizeof(void *))
#define SOURCE_OPS_V1_0_SIZE (offsetof(struct mf_source_ops, close) + sizeof(void *))
#define SINK_OPS_V1_0_SIZE (offsetof(struct mf_sink_ops, close) + sizeof(void *))

static int ltdl_users;

static void refuse(struct plugin_registry *reg, const char *file, const char *fmt, ...)
	MF_PRINTF(3, 4);
static void refuse(struct plugin_registry *reg, const char *file, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	reg->refused = mf_xrealloc(reg->refused, (reg->n_refused + 1) * sizeof(*reg->refused));
	reg->refused[reg->n_refused].file = mf_xstrdup(file);
	reg->refused[reg->n_refused].reason = mf_xstrdup(reason);
	reg->n_refused++;
	log_msg(MF_LOG_DEBUG, "plugin %s refused: %s", file, reason);
}

/* "dir/imap.la" -> "imap" */
static char *module_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strchr(base, '.');
	return mf_xstrndup(base, dot ? (size_t)(dot - base) : strlen(base));
}

static bool have_module(const struct plugin_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n_plugins; i++)
		if (strcmp(reg->plugins[i].desc.name, name) == 0)
			return true;
	return false;
}

static void close_handle(lt_dlhandle h)
{
	/* Under LeakSanitizer keep modules mapped so leak traces still show
	 * plugin symbols. */
	if (getenv("MAILFERRY_NO_DLCLOSE") == NULL)
		lt_dlclose(h);
}

static bool check_descriptor(struct plugin_registry *reg, const char *path, const char *name,
			     const struct mf_plugin *p)
{
	if (p->abi_major != MF_ABI_MAJOR) {
		refuse(reg, path,
		       "built for plugin ABI %u.x, this mailferry speaks %u.x; rebuild it "
		       "against the installed mailferry headers",
		       p->abi_major, MF_ABI_MAJOR);
		return false;
	}
	/* A newer minor only appended things: the core reads the prefix it
	 * knows, and the plugin must check host->abi_minor before using a
	 * host slot newer than ours (plugin.h says so).  So it loads. */
	if (p->abi_minor > MF_ABI_MINOR)
		log_msg(MF_LOG_DEBUG,
			"plugin %s: built for ABI %u.%u, this mailferry has %u.%u; "
			"loading it, features past %u.%u stay unused",
			path, p->abi_major, p->abi_minor, MF_ABI_MAJOR, MF_ABI_MINOR, MF_ABI_MAJOR,
			MF_ABI_MINOR);
	if (p->struct_size < PLUGIN_V1_0_SIZE) {
		refuse(reg, path,
		       "descriptor is %u bytes, ABI %u.0 needs at least %zu: corrupt or "
		       "not built with MF_ABI_INIT",
		       p->struct_size, MF_ABI_MAJOR, (size_t)PLUGIN_V1_0_SIZE);
		return false;
	}
	if (p->name == NULL || strcmp(p->name, name) != 0) {
		refuse(reg, path, "declares name '%s' but the file is '%s'; the two must match",
		       p->name ? p->name : "(null)", name);
		return false;
	}
	if (p->schemes == NULL || p->schemes[0] == NULL) {
		refuse(reg, path, "declares no URI schemes");
		return false;
	}
	if (p->kind == MF_PLUGIN_SOURCE) {
		const struct mf_source_ops *o = p->source;
		if (o == NULL || o->struct_size < SOURCE_OPS_V1_0_SIZE || o->open == NULL ||
		    o->list_folders == NULL || o->fetch == NULL || o->close == NULL) {
			refuse(reg, path,
			       "source operations missing or incomplete (open, list_folders, "
			       "fetch and close are required)");
			return false;
		}
	} else if (p->kind == MF_PLUGIN_SINK) {
		const struct mf_sink_ops *o = p->sink;
		if (o == NULL || o->struct_size < SINK_OPS_V1_0_SIZE || o->open == NULL ||
		    o->ensure_folder == NULL || o->append == NULL || o->close == NULL) {
			refuse(reg, path,
			       "sink operations missing or incomplete (open, ensure_folder, "
			       "append and close are required)");
			return false;
		}
	} else {
		refuse(reg, path, "unknown plugin kind %d", (int)p->kind);
		return false;
	}
	return true;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

bool registry_load_file(struct plugin_registry *reg, const char *path)
{
	if (ltdl_users++ == 0)
		lt_dlinit();
	char *name = module_name(path);
	bool ok = false;
	lt_dlhandle h = lt_dlopenext(path);
	if (h == NULL) {
		refuse(reg, path, "cannot load: %s (missing dependency? run ldd on it)",
		       lt_dlerror());
		goto out;
	}
	const struct mf_plugin *p = lt_dlsym(h, "mailferry_plugin");
	if (p == NULL) {
		refuse(reg, path, "not a mailferry plugin (no %s_LTX_mailferry_plugin symbol)",
		       name);
		close_handle(h);
		goto out;
	}
	if (!check_descriptor(reg, path, name, p)) {
		close_handle(h);
		goto out;
	}
	if (have_module(reg, name)) {
		log_msg(MF_LOG_DEBUG,
			"plugin %s: module '%s' already loaded from an earlier "
			"directory, ignoring this one",
			path, name);
		close_handle(h);
		goto out;
	}
	reg->plugins = mf_xrealloc(reg->plugins, (reg->n_plugins + 1) * sizeof(*reg->plugins));
	struct loaded_plugin *lp = &reg->plugins[reg->n_plugins++];
	memset(lp, 0, sizeof(*lp));
	lp->file = mf_xstrdup(path);
	lp->handle = h;
	memcpy(&lp->desc, p, min_size(p->struct_size, sizeof(lp->desc)));
	if (p->kind == MF_PLUGIN_SOURCE)
		memcpy(&lp->source, p->source,
		       min_size(p->source->struct_size, sizeof(lp->source)));
	else
		memcpy(&lp->sink, p->sink, min_size(p->sink->struct_size, sizeof(lp->sink)));
	ok = true;
out:
	free(name);
	if (!ok && --ltdl_users == 0)
		lt_dlexit();
	return ok;
}

/* Convenience and static libraries built beside a module (libtool's
 * noinst .la files) have no shared object: dlname is empty.  They are not
 * candidates, so skip them without a refusal. */
static bool la_is_loadable(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	char line[1024];
	bool loadable = false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "dlname='", 8) == 0) {
			loadable = line[8] != '\'';
			break;
		}
	}
	fclose(f);
	return loadable;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every module of dir: "x.la" preferred, else "x.so" when no .la
 * sits beside it (hand-built plugins often ship without one). */
static void load_dir(struct plugin_registry *reg, const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 4)
			continue;
		const char *ext = e->d_name + len - 3;
		if (strcmp(ext, ".la") != 0 && strcmp(ext, ".so") != 0)
			continue;
		names = mf_xrealloc(names, (n + 1) * sizeof(char *));
		names[n++] = mf_xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		bool is_so = strcmp(names[i] + len - 3, ".so") == 0;
		char *path = mf_xasprintf("%s/%s", dir, names[i]);
		if (is_so) {
			char *la = mf_xasprintf("%.*s.la", (int)(len - 3), names[i]);
			bool has_la = bsearch(&la, names, n, sizeof(char *), cmp_str) != NULL;
			free(la);
			if (has_la) {
				free(path);
				continue;
			}
		}
		char *name = module_name(path);
		if (!is_so && !la_is_loadable(path))
			log_msg(MF_LOG_DEBUG, "%s: not a loadable module, skipped", path);
		else if (!have_module(reg, name))
			registry_load_file(reg, path);
		free(name);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void registry_load(struct plugin_registry *reg, const struct mf_host *host, const char *const *dirs,
		   size_t n_dirs)
{
	reg->host = host;
	for (size_t i = 0; i < n_dirs; i++)
		load_dir(reg, dirs[i]);
	const char *env = getenv("MAILFERRY_PLUGIN_PATH");
	if (env != NULL) {
		char *copy = mf_xstrdup(env);
		char *save = NULL;
		for (char *tok = strtok_r(copy, ":", &save); tok != NULL;
		     tok = strtok_r(NULL, ":", &save))
			load_dir(reg, tok);
		free(copy);
	}
	if (getenv("MAILFERRY_NO_DEFAULT_PLUGINS") == NULL)
		load_dir(reg, PLUGINDIR);
}

void registry_free(struct plugin_registry *reg)
{
	for (size_t i = 0; i < reg->n_plugins; i++) {
		struct loaded_plugin *lp = &reg->plugins[i];
		if (lp->initialized && lp->desc.deinit != NULL)
			lp->desc.deinit(lp->ctx);
		close_handle(lp->handle);
		free(lp->file);
		if (--ltdl_users == 0)
			lt_dlexit();
	}
	free(reg->plugins);
	for (size_t i = 0; i < reg->n_refused; i++) {
		free(reg->refused[i].file);
		free(reg->refused[i].reason);
	}
	free(reg->refused);
	memset(reg, 0, sizeof(*reg));
}

static bool handles(const struct loaded_plugin *lp, const char *scheme)
{
	for (const char *const *s = lp->desc.schemes; *s != NULL; s++)
		if (mf_ascii_strcasecmp(*s, scheme) == 0)
			return true;
	return false;
}

struct loaded_plugin *registry_get(struct plugin_registry *reg, enum mf_plugin_kind kind,
				   const char *scheme, struct mf_error *err)
{
	for (size_t i = 0; i < reg->n_plugins; i++) {
		struct loaded_plugin *lp = &reg->plugins[i];
		if (lp->desc.kind != kind || !handles(lp, scheme))
			continue;
		if (!lp->initialized) {
			if (lp->desc.init != NULL &&
			    lp->desc.init(reg->host, &lp->ctx, err) != MF_OK)
				return NULL;
			lp->initialized = true;
		}
		return lp;
	}
	mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
		     "no %s plugin handles '%s:' (see 'mailferry plugins'; is the plugin "
		     "directory right? --plugin-dir or MAILFERRY_PLUGIN_PATH)",
		     kind == MF_PLUGIN_SOURCE ? "source" : "sink", scheme);
	return NULL;
}

/* The address_schemes entry of the plugin of kind that handles the scheme
 * text[0..len), case-insensitively like handles(). */
static bool address_login(const struct plugin_registry *reg, enum mf_plugin_kind kind,
			  const char *text, size_t len)
{
	char *scheme = mf_xstrndup(text, len);
	bool yes = false;
	for (size_t i = 0; reg != NULL && i < reg->n_plugins; i++) {
		const struct loaded_plugin *lp = &reg->plugins[i];
		if (lp->desc.kind != kind || !handles(lp, scheme))
			continue;
		for (const char *const *s = lp->desc.address_schemes; s != NULL && *s != NULL; s++)
			yes |= mf_ascii_strcasecmp(*s, scheme) == 0;
		break; /* the plugin registry_get() would pick */
	}
	free(scheme);
	return yes;
}

int registry_uri_parse(const struct plugin_registry *reg, enum mf_plugin_kind kind,
		       const char *text, struct account_spec *spec_r, struct mf_error *err)
{
	size_t len = uri_scheme_len(text);
	if (len > 0 && address_login(reg, kind, text, len))
		return uri_parse_address_login(text, spec_r, err);
	return uri_parse(text, spec_r, err);
}
