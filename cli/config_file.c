/* SPDX-License-Identifier: MIT */
/* Configuration file parser: "key = value" lines and '#' comment lines,
 * the format of --config files and of a bundle's default configuration.
 * It knows nothing about the options themselves; config_to_args() maps
 * entries onto a getopt option table so that one parser (the command's)
 * validates values whether they come from a file or from argv. */
#include <config.h>
#include "config_file.h"

#include <mailferry/util.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1u << 20)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static void add_entry(struct config *cfg, const char *k, size_t klen, const char *v, size_t vlen,
		      unsigned line)
{
	cfg->entries = mf_xrealloc(cfg->entries, (cfg->n + 1) * sizeof(*cfg->entries));
	struct config_entry *e = &cfg->entries[cfg->n++];
	e->key = mf_xstrndup(k, klen);
	e->value = mf_xstrndup(v, vlen);
	e->line = line;
}

static int parse_line(const char *s, size_t len, const char *origin, unsigned line,
		      struct config *cfg, struct mf_error *err)
{
	size_t i = 0;
	while (i < len && is_blank(s[i]))
		i++;
	while (len > i && is_blank(s[len - 1]))
		len--;
	if (i == len || s[i] == '#')
		return MF_OK;
	size_t k0 = i;
	while (i < len && is_key_char(s[i]))
		i++;
	size_t k1 = i;
	while (i < len && is_blank(s[i]))
		i++;
	if (k1 == k0 || i == len || s[i] != '=')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s:%u: expected 'key = value' (keys are option names such "
				    "as max-bytes-per-second), got '%.*s'",
				    origin, line, (int)(len - k0 > 60 ? 60 : len - k0), s + k0);
	i++;
	while (i < len && is_blank(s[i]))
		i++;
	const char *v = s + i;
	size_t vlen = len - i;
	if (vlen > 0 && v[0] == '"') {
		if (vlen < 2 || v[vlen - 1] != '"')
			return mf_error_set(
				err, MF_ERR_FATAL, MF_RETRY_NEVER,
				"%s:%u: value of '%.*s' opens a quote it does not close", origin,
				line, (int)(k1 - k0), s + k0);
		v++;
		vlen -= 2;
	}
	add_entry(cfg, s + k0, k1 - k0, v, vlen, line);
	return MF_OK;
}

int config_parse(const char *text, size_t len, const char *origin, struct config *cfg,
		 struct mf_error *err)
{
	if (cfg->origin == NULL)
		cfg->origin = mf_xstrdup(origin);
	if (memchr(text, '\0', len) != NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: contains a NUL byte: not a text configuration file",
				    origin);
	unsigned line = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		line++;
		int st = parse_line(text + pos, end - pos, origin, line, cfg, err);
		if (st != MF_OK)
			return st;
		pos = end + 1;
	}
	return MF_OK;
}

int config_load_as(const char *path, const char *origin, struct config *cfg, struct mf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read configuration %s: %s",
			     origin, strerror(e));
		err->sys_errno = e;
		return MF_ERR_FATAL;
	}
	struct mf_buf b = { 0 };
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= CONFIG_MAX_BYTES)
		mf_buf_append(&b, chunk, n);
	bool bad = ferror(f) != 0;
	fclose(f);
	int st;
	if (bad)
		st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				  "cannot read configuration %s: read error", origin);
	else if (b.len > CONFIG_MAX_BYTES)
		st = mf_error_set(
			err, MF_ERR_FATAL, MF_RETRY_NEVER,
			"configuration %s is larger than 1 MiB: not a configuration file?", origin);
	else
		st = config_parse(b.len ? (const char *)b.data : "", b.len, origin, cfg, err);
	mf_buf_free(&b);
	return st;
}

int config_load(const char *path, struct config *cfg, struct mf_error *err)
{
	return config_load_as(path, path, cfg, err);
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg->origin);
	memset(cfg, 0, sizeof(*cfg));
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	for (size_t i = 0; yes[i] != NULL; i++)
		if (mf_ascii_strcasecmp(v, yes[i]) == 0)
			return 1;
	for (size_t i = 0; no[i] != NULL; i++)
		if (mf_ascii_strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

void config_args_free(char **args, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(args[i]);
	free(args);
}

int config_to_args(const struct config *cfg, const struct option *opts,
		   const char *const *forbidden, char ***args_r, size_t *n_r, struct mf_error *err)
{
	char **args = NULL;
	size_t n = 0;
	*args_r = NULL;
	*n_r = 0;
	for (size_t i = 0; i < cfg->n; i++) {
		const struct config_entry *e = &cfg->entries[i];
		const struct option *o = opts;
		while (o->name != NULL && strcmp(o->name, e->key) != 0)
			o++;
		bool denied = false;
		for (const char *const *f = forbidden; f != NULL && *f != NULL; f++)
			denied |= strcmp(*f, e->key) == 0;
		if (o->name == NULL || denied) {
			config_args_free(args, n);
			return mf_error_set(
				err, MF_ERR_FATAL, MF_RETRY_NEVER,
				"%s:%u: '%s' is not a setting a configuration file "
				"can hold%s",
				cfg->origin, e->line, e->key,
				denied ? " (give it on the command line)"
				       : " (see mailferry --help for the option names)");
		}
		char *arg = NULL;
		if (o->has_arg == no_argument) {
			int b = parse_bool(e->value);
			if (b < 0) {
				config_args_free(args, n);
				return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
						    "%s:%u: '%s' takes yes or no, not '%s'",
						    cfg->origin, e->line, e->key, e->value);
			}
			if (b == 1)
				arg = mf_xasprintf("--%s", e->key);
		} else {
			arg = mf_xasprintf("--%s=%s", e->key, e->value);
		}
		if (arg != NULL) {
			args = mf_xrealloc(args, (n + 1) * sizeof(char *));
			args[n++] = arg;
		}
	}
	*args_r = args;
	*n_r = n;
	return MF_OK;
}
