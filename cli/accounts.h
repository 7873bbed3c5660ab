/* SPDX-License-Identifier: MIT */
/* Bulk runs: an accounts CSV plus source/sink URI templates -> jobs. */
#ifndef MF_CORE_ACCOUNTS_H
#define MF_CORE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <mailferry/plugin.h>

struct job;
struct plugin_registry;

/* Reads path (RFC 4180 CSV with a header row).  Every {column} in the
 * templates is replaced by the row's value, percent-encoded where a URI
 * needs it.  Recognised columns: source_user, source_password,
 * target_user, target_password, source_host, source_port,
 * source_protocol, impersonate, folder_policy, enabled.  A malformed row
 * is reported on stderr with its line number and skipped; the others
 * become jobs.  Fails only if the file cannot be read or has no header.
 * The URIs are parsed by the rules of reg's plugins (registry_uri_parse;
 * NULL: generic). */
int accounts_load(const char *path, const char *source_template, const char *sink_template,
		  const struct plugin_registry *reg, bool allow_uri_password, struct job **jobs_r,
		  size_t *n_r, struct mf_error *err);

/* One parsed CSV record; exposed for tests and the fuzz target. */
struct csv_record {
	char **fields;
	size_t n;
};
/* Parses the record starting at *pos in text[0..len); advances *pos and
 * counts newlines into *line.  false on a malformed record (unterminated
 * quote, junk after a closing quote); *pos then skips to the next line. */
bool csv_next_record(const char *text, size_t len, size_t *pos, unsigned *line,
		     struct csv_record *rec_r);
void csv_record_free(struct csv_record *rec);

/* Substitutes {name} placeholders; NULL + *missing_r set to the unknown
 * name (malloc'd) when a placeholder has no column. */
char *accounts_expand(const char *template, char *const *names, char *const *values, size_t n,
		      char **missing_r);

#endif
