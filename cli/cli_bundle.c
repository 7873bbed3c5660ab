/* SPDX-License-Identifier: MIT */
/* "mailferry bundle create|inspect", and the --bundle / --config handling
 * shared by the commands that run plugins: the bundle's default
 * configuration, then the --config file, then the command line, each
 * overriding the one before (they become getopt arguments in that order,
 * so one parser validates all three). */
#include <config.h>

#include <mailferry/util.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "cli.h"
#include "config_file.h"
#include "engine.h"

static void bundle_usage(FILE *out)
{
	fputs("usage: mailferry bundle create OUT.tar.gz --plugin FILE.so|FILE.la ... "
	      "[--config FILE] [--name NAME]\n"
	      "       mailferry bundle inspect [--json] FILE.tar.gz\n",
	      out);
}

static int bundle_create_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "plugin", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char **plugins = NULL;
	size_t n = 0;
	const char *config = NULL, *name = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p') {
			plugins = mf_xrealloc(plugins, (n + 1) * sizeof(char *));
			plugins[n++] = optarg;
		} else if (c == 'c') {
			config = optarg;
		} else if (c == 'n') {
			name = optarg;
		} else {
			free(plugins);
			bundle_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || n == 0) {
		free(plugins);
		bundle_usage(stderr);
		return EXIT_USAGE;
	}
	struct mf_error err = { 0 };
	int st = MF_OK;
	if (config != NULL) {
		/* Refuse a configuration the run would refuse later. */
		struct config cfg = { 0 };
		st = config_load(config, &cfg, &err);
		config_free(&cfg);
	}
	if (st == MF_OK)
		st = bundle_create(argv[optind], name, plugins, n, config, &err);
	free(plugins);
	if (st != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	/* Read back what was written: the same checks a run will make. */
	struct bundle b;
	st = bundle_open(argv[optind], &b, &err);
	if (st == MF_OK)
		printf("wrote %s: %zu plugin(s)%s, manifest verified\n", argv[optind],
		       b.manifest.n_plugins, b.manifest.has_config ? " and a configuration" : "");
	else
		fprintf(stderr, "mailferry: %s\n", err.text);
	bundle_close(&b);
	return st == MF_OK ? EXIT_OK : EXIT_USAGE;
}

/* The bundle's default configuration, parsed here: bundle/ only checks its
 * digest.  An empty cfg when the bundle has none. */
static int bundle_config(const struct bundle *b, struct config *cfg, struct mf_error *err)
{
	if (b->config_path == NULL)
		return MF_OK;
	char *origin = mf_xasprintf("bundle %s: %s", b->path, BUNDLE_CONFIG);
	int st = config_load_as(b->config_path, origin, cfg, err);
	free(origin);
	return st;
}

static void print_manifest(const struct bundle *b)
{
	const struct bundle_manifest *m = &b->manifest;
	printf("bundle %s\n  name: %s\n  created: %s by mailferry %s (plugin ABI %u.%u)\n", b->path,
	       m->name, m->created, m->mailferry_version, m->abi_major, m->abi_minor);
	for (size_t i = 0; i < m->n_plugins; i++) {
		const struct bundle_plugin *p = &m->plugins[i];
		printf("  plugin %-10s %-6s v%-8s ABI %u.%u  schemes:", p->name,
		       p->kind == MF_PLUGIN_SOURCE ? "source" : "sink",
		       p->version ? p->version : "?", p->abi_major, p->abi_minor);
		for (char **s = p->schemes; *s != NULL; s++)
			printf(" %s:", *s);
		printf("\n         %s sha256 %s\n", p->file, p->sha256);
	}
	if (m->has_config) {
		struct config cfg = { 0 };
		struct mf_error err = { 0 };
		printf("  config %s sha256 %s\n", BUNDLE_CONFIG, m->config_sha256);
		if (bundle_config(b, &cfg, &err) != MF_OK)
			printf("    (%s)\n", err.text);
		for (size_t i = 0; i < cfg.n; i++)
			printf("    %s = %s\n", cfg.entries[i].key, cfg.entries[i].value);
		config_free(&cfg);
	} else {
		printf("  no default configuration\n");
	}
}

static int bundle_inspect_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			bundle_usage(stderr);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (argc - optind != 1) {
		bundle_usage(stderr);
		return EXIT_USAGE;
	}
	struct bundle b;
	struct mf_error err = { 0 };
	int st = bundle_open(argv[optind], &b, &err);
	if (st == MF_OK)
		st = bundle_check_plugins(&b, &err);
	if (st == MF_OK) {
		if (json) {
			char *text = bundle_manifest_to_json(&b.manifest);
			fputs(text, stdout);
			free(text);
		} else {
			print_manifest(&b);
			printf("  verified: every file matches its sha256, and every plugin loads "
			       "in this mailferry %s (ABI %d.%d)\n",
			       PACKAGE_VERSION, MF_ABI_MAJOR, MF_ABI_MINOR);
		}
	} else {
		fprintf(stderr, "mailferry: %s\n", err.text);
	}
	bundle_close(&b);
	return st == MF_OK ? EXIT_OK : EXIT_USAGE;
}

int cli_bundle(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return bundle_create_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "inspect") == 0)
		return bundle_inspect_cmd(argc - 1, argv + 1);
	bundle_usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return argc >= 2 && strcmp(argv[1], "--help") == 0 ? EXIT_OK : EXIT_USAGE;
}

/* Settings a configuration file cannot hold: they choose configuration. */
static const char *const not_in_config[] = { "bundle", "config", "help", NULL };

static int append_config(const struct config *cfg, const struct option *opts, char ***out,
			 size_t *n_out)
{
	char **args = NULL;
	size_t n = 0;
	struct mf_error err;
	if (config_to_args(cfg, opts, not_in_config, &args, &n, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	*out = mf_xrealloc(*out, (*n_out + n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		(*out)[(*n_out)++] = args[i];
	free(args); /* the strings moved to *out */
	return EXIT_OK;
}

int cli_expand_config(int argc, char **argv, const struct option *opts, struct bundle *bundle,
		      bool *have_bundle, int *argc_r, char ***argv_r)
{
	const char *bundle_path = NULL, *config_path = NULL;
	int c, saved_opterr = opterr;
	*have_bundle = false;
	*argc_r = 0;
	*argv_r = NULL;
	/* First pass: only --bundle and --config; errors are reported by the
	 * real parse.  optind = 0 makes GNU getopt start over afterwards. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "-", opts, NULL)) != -1) {
		const struct option *o = opts;
		while (o->name != NULL && o->val != c)
			o++;
		if (o->name != NULL && strcmp(o->name, "bundle") == 0)
			bundle_path = optarg;
		else if (o->name != NULL && strcmp(o->name, "config") == 0)
			config_path = optarg;
	}
	opterr = saved_opterr;
	optind = 0;

	char **out = mf_xcalloc(2, sizeof(char *));
	size_t n = 0;
	out[n++] = mf_xstrdup(argv[0]);
	int rc = EXIT_OK;
	struct mf_error err = { 0 };
	if (bundle_path != NULL) {
		if (bundle_open(bundle_path, bundle, &err) != MF_OK ||
		    bundle_check_plugins(bundle, &err) != MF_OK) {
			fprintf(stderr, "mailferry: %s\n", err.text);
			bundle_close(bundle);
			rc = EXIT_USAGE;
		} else {
			*have_bundle = true;
			log_msg(MF_LOG_INFO, "bundle %s ('%s', %zu plugin(s)) verified",
				bundle_path, bundle->manifest.name, bundle->manifest.n_plugins);
			struct config bcfg = { 0 };
			if (bundle_config(bundle, &bcfg, &err) != MF_OK) {
				fprintf(stderr, "mailferry: %s\n", err.text);
				rc = EXIT_USAGE;
			} else {
				rc = append_config(&bcfg, opts, &out, &n);
			}
			config_free(&bcfg);
		}
	}
	if (rc == EXIT_OK && config_path != NULL) {
		struct config cfg = { 0 };
		if (config_load(config_path, &cfg, &err) != MF_OK) {
			fprintf(stderr, "mailferry: %s\n", err.text);
			rc = EXIT_USAGE;
		} else {
			rc = append_config(&cfg, opts, &out, &n);
		}
		config_free(&cfg);
	}
	out = mf_xrealloc(out, (n + (size_t)argc + 1) * sizeof(char *));
	for (int i = 1; i < argc; i++)
		out[n++] = mf_xstrdup(argv[i]);
	out[n] = NULL;
	*argc_r = (int)n;
	*argv_r = out;
	if (rc != EXIT_OK && *have_bundle) {
		bundle_close(bundle);
		*have_bundle = false;
	}
	return rc;
}

int cli_plugins_bundle(int argc, char **argv)
{
	/* "plugins --bundle FILE": verify the bundle, then list with its
	 * plugin directory first (as a run would see them). */
	const char *path = NULL;
	char **out = mf_xcalloc((size_t)argc + 2, sizeof(char *));
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (i > 0 && strncmp(argv[i], "--bundle=", 9) == 0)
			path = argv[i] + 9;
		else
			out[n++] = argv[i];
	}
	if (path == NULL) {
		free(out);
		return cli_plugins(argc, argv);
	}
	struct bundle b;
	struct mf_error err = { 0 };
	int rc = EXIT_USAGE;
	if (bundle_open(path, &b, &err) != MF_OK || bundle_check_plugins(&b, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
	} else {
		char *dir_opt = mf_xasprintf("--plugin-dir=%s", b.plugin_dir);
		memmove(out + 2, out + 1, (size_t)(n - 1) * sizeof(char *));
		out[1] = dir_opt;
		n++;
		printf("bundle %s ('%s'): %zu plugin(s), verified\n", path, b.manifest.name,
		       b.manifest.n_plugins);
		fflush(stdout);
		optind = 0;
		rc = cli_plugins(n, out);
		free(dir_opt);
	}
	bundle_close(&b);
	free(out);
	return rc;
}

void cli_free_argv(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}
