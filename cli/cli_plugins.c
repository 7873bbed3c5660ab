/* SPDX-License-Identifier: MIT */
/* "mailferry plugins": what was found on the search path, with ABI and
 * schemes, and why anything was refused, so a packager can see at once
 * why a customer bundle's plugin does not load. */
#include <config.h>

#include <mailferry/util.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

static json_t *schemes_json(const struct mf_plugin *d)
{
	json_t *a = json_array();
	for (const char *const *s = d->schemes; *s; s++)
		json_array_append_new(a, json_string(*s));
	return a;
}

/* The options both "plugins" and "--version" take: --plugin-dir DIR
 * (repeatable, into *dirs_r) and --json.  false on a bad option. */
static bool parse_list_opts(int argc, char **argv, const char ***dirs_r, size_t *n_dirs_r,
			    bool *json_r)
{
	static const struct option opts[] = {
		{ "plugin-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd') {
			*dirs_r = mf_xrealloc(*dirs_r, (*n_dirs_r + 1) * sizeof(char *));
			(*dirs_r)[(*n_dirs_r)++] = optarg;
		} else if (c == 'j') {
			*json_r = true;
		} else {
			free(*dirs_r);
			*dirs_r = NULL;
			return false;
		}
	}
	return true;
}

/* "mailferry --version": what a bug report needs in one look, the
 * program's and ABI's versions and every plugin found with its own. */
int cli_version(int argc, char **argv)
{
	const char **dirs = NULL;
	size_t n_dirs = 0;
	bool json = false;
	if (!parse_list_opts(argc, argv, &dirs, &n_dirs, &json) || json) {
		free(dirs);
		fprintf(stderr, "usage: mailferry --version [--plugin-dir DIR]\n");
		return EXIT_USAGE;
	}
	struct settings settings = { 0 };
	struct mf_host host;
	host_init(&host, &settings);
	struct plugin_registry reg = { 0 };
	registry_load(&reg, &host, dirs, n_dirs);
	printf("mailferry %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, MF_ABI_MAJOR, MF_ABI_MINOR);
	printf("plugins:%s\n", reg.n_plugins == 0 ? " none found" : "");
	for (size_t i = 0; i < reg.n_plugins; i++) {
		const struct mf_plugin *d = &reg.plugins[i].desc;
		printf("  %-8s %-8s %-6s ABI %u.%u  %s\n", d->name, d->version ? d->version : "?",
		       d->kind == MF_PLUGIN_SOURCE ? "source" : "sink", d->abi_major, d->abi_minor,
		       reg.plugins[i].file);
	}
	for (size_t i = 0; i < reg.n_refused; i++)
		printf("  refused %s: %s\n", reg.refused[i].file, reg.refused[i].reason);
	registry_free(&reg);
	settings_free(&settings);
	free(dirs);
	return EXIT_OK;
}

int cli_plugins(int argc, char **argv)
{
	const char **dirs = NULL;
	size_t n_dirs = 0;
	bool json = false;
	if (!parse_list_opts(argc, argv, &dirs, &n_dirs, &json))
		return EXIT_USAGE;
	struct settings settings = { 0 };
	struct mf_host host;
	host_init(&host, &settings);
	struct plugin_registry reg = { 0 };
	registry_load(&reg, &host, dirs, n_dirs);
	if (json) {
		json_t *out = json_object(), *ok = json_array(), *bad = json_array();
		for (size_t i = 0; i < reg.n_plugins; i++) {
			const struct mf_plugin *d = &reg.plugins[i].desc;
			json_array_append_new(
				ok,
				json_pack("{ss ss ss* ss* ss so si si ss}", "name", d->name, "kind",
					  d->kind == MF_PLUGIN_SOURCE ? "source" : "sink",
					  "version", d->version, "description", d->description,
					  "file", reg.plugins[i].file, "schemes", schemes_json(d),
					  "abi_major", d->abi_major, "abi_minor", d->abi_minor,
					  "abi", d->abi_minor <= MF_ABI_MINOR ? "ok" : "?"));
		}
		for (size_t i = 0; i < reg.n_refused; i++)
			json_array_append_new(bad, json_pack("{ss ss}", "file", reg.refused[i].file,
							     "reason", reg.refused[i].reason));
		json_object_set_new(out, "plugins", ok);
		json_object_set_new(out, "refused", bad);
		char *s = json_dumps(out, JSON_INDENT(2));
		puts(s ? s : "{}");
		free(s);
		json_decref(out);
	} else {
		printf("mailferry speaks plugin ABI %d.%d\n", MF_ABI_MAJOR, MF_ABI_MINOR);
		for (size_t i = 0; i < reg.n_plugins; i++) {
			const struct mf_plugin *d = &reg.plugins[i].desc;
			printf("  %-8s %-6s ABI %u.%u  v%-8s schemes:", d->name,
			       d->kind == MF_PLUGIN_SOURCE ? "source" : "sink", d->abi_major,
			       d->abi_minor, d->version ? d->version : "?");
			for (const char *const *s = d->schemes; *s; s++)
				printf(" %s:", *s);
			printf("  %s\n           %s\n", d->description ? d->description : "",
			       reg.plugins[i].file);
		}
		if (reg.n_plugins == 0)
			printf("  (no plugins found: set --plugin-dir or MAILFERRY_PLUGIN_PATH)\n");
		for (size_t i = 0; i < reg.n_refused; i++)
			printf("refused %s: %s\n", reg.refused[i].file, reg.refused[i].reason);
	}
	size_t refused = reg.n_refused;
	registry_free(&reg);
	settings_free(&settings);
	free(dirs);
	return refused > 0 ? EXIT_PARTIAL : EXIT_OK;
}
