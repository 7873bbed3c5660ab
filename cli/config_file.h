/* SPDX-License-Identifier: MIT */
/* Configuration files ("key = value" lines, '#' comments) for --config and
 * for the default configuration carried by a plugin bundle.  Keys are the
 * long option names of the command that reads the file; config_to_args()
 * turns the entries into "--key=value" arguments so that the very same
 * getopt parser validates them and the command line, parsed after them,
 * overrides them. */
#ifndef MF_CLI_CONFIG_FILE_H
#define MF_CLI_CONFIG_FILE_H

#include <getopt.h>
#include <stddef.h>
#include <mailferry/plugin.h>

struct config_entry {
	char *key;
	char *value;
	unsigned line; /* 1-based, for error texts */
};

struct config {
	char *origin; /* file name (or "bundle x.tar.gz: mailferry.conf") */
	struct config_entry *entries;
	size_t n;
};

/* Parse text (len bytes, need not be NUL-terminated) and append its
 * entries to *cfg.  origin names the text in error messages.  Rules:
 * blank lines and lines whose first non-blank character is '#' are
 * ignored; any other line is KEY = VALUE with KEY made of [a-z0-9-];
 * blanks around both are dropped; a VALUE wrapped in double quotes keeps
 * its inner blanks.  '#' after a value is part of the value (folder names
 * may contain it).  MF_ERR_FATAL on a malformed line (cfg keeps what was
 * parsed before it). */
int config_parse(const char *text, size_t len, const char *origin, struct config *cfg,
		 struct mf_error *err);
/* config_parse() on the contents of path (at most 1 MiB). */
int config_load(const char *path, struct config *cfg, struct mf_error *err);
/* The same, naming the text origin in messages (a bundle's file). */
int config_load_as(const char *path, const char *origin, struct config *cfg, struct mf_error *err);
void config_free(struct config *cfg);

/* Arguments for getopt_long(opts): "--key=value" for options taking an
 * argument, "--key" for a flag whose value is yes/true/on/1 (nothing for
 * no/false/off/0).  Keys that are not in opts, or listed in forbidden
 * (NULL-terminated, may be NULL), are refused with the file and line.
 * *args_r is malloc'd, each string too: free with config_args_free(). */
int config_to_args(const struct config *cfg, const struct option *opts,
		   const char *const *forbidden, char ***args_r, size_t *n_r, struct mf_error *err);
void config_args_free(char **args, size_t n);

#endif
