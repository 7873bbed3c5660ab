/* SPDX-License-Identifier: MIT */
/* Finding, loading and checking plugins; lookup by kind and URI scheme. */
#ifndef MF_CORE_PLUGIN_LOADER_H
#define MF_CORE_PLUGIN_LOADER_H

#include <stdbool.h>
#include <mailferry/plugin.h>

#include "uri.h"

struct loaded_plugin {
	char *file;                  /* path it was loaded from */
	void *handle;                /* lt_dlhandle */
	struct mf_plugin desc;       /* zero-extended copy of the descriptor */
	struct mf_source_ops source; /* zero-extended copies: slots an older */
	struct mf_sink_ops sink;     /* plugin lacks read as NULL */
	void *ctx;                   /* from init() */
	bool initialized;
};

struct plugin_refusal {
	char *file;
	char *reason;
};

struct plugin_registry {
	struct loaded_plugin *plugins;
	size_t n_plugins;
	struct plugin_refusal *refused;
	size_t n_refused;
	const struct mf_host *host;
};

/* Directories searched, in order: each --plugin-dir, then every entry of
 * MAILFERRY_PLUGIN_PATH (':'-separated), then the install directory.  A
 * module name found twice is taken from the first directory. */
void registry_load(struct plugin_registry *reg, const struct mf_host *host, const char *const *dirs,
		   size_t n_dirs);
/* Load one module file (used by the above and by tests); false + a
 * refusal recorded when it is not acceptable. */
bool registry_load_file(struct plugin_registry *reg, const char *path);
void registry_free(struct plugin_registry *reg);

/* The plugin of kind handling scheme, initialised on first use; NULL with
 * err filled when none or when its init() failed. */
struct loaded_plugin *registry_get(struct plugin_registry *reg, enum mf_plugin_kind kind,
				   const char *scheme, struct mf_error *err);

/* uri_parse() by the rules of the plugin of kind handling text's scheme
 * (its address_schemes, ABI 1.6), so the core needs no plugin's URI
 * conventions; generic when reg is NULL or no plugin handles the scheme
 * (registry_get() then says so).  Initialises nothing. */
int registry_uri_parse(const struct plugin_registry *reg, enum mf_plugin_kind kind,
		       const char *text, struct account_spec *spec_r, struct mf_error *err);

#endif
