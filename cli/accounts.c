/* SPDX-License-Identifier: MIT */
/* Accounts CSV: the old migration console's "import a template of
 * original addresses and passwords".  Each row becomes a job whose
 * source and sink URIs are the templates with the row's values filled in.
 * A broken row never stops the others: it is reported with its line
 * number and skipped. */
#include <config.h>
#include "accounts.h"

#include <mailferry/util.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void csv_record_free(struct csv_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		free(rec->fields[i]);
	free(rec->fields);
	rec->fields = NULL;
	rec->n = 0;
}

static void push_field(struct csv_record *rec, struct mf_buf *b)
{
	rec->fields = mf_xrealloc(rec->fields, (rec->n + 1) * sizeof(char *));
	rec->fields[rec->n++] = mf_xstrndup(b->data ? (const char *)b->data : "", b->len);
	mf_buf_clear(b);
}

bool csv_next_record(const char *text, size_t len, size_t *pos, unsigned *line,
		     struct csv_record *rec)
{
	struct mf_buf b = { 0 };
	size_t i = *pos;
	bool ok = true;
	memset(rec, 0, sizeof(*rec));
	for (;;) {
		/* one field */
		if (i < len && text[i] == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					ok = false; /* unterminated quote */
					break;
				}
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"') {
						mf_buf_append(&b, "\"", 1);
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (text[i] == '\n')
					(*line)++;
				mf_buf_append(&b, &text[i], 1);
				i++;
			}
			if (ok && i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
				ok = false; /* junk after the closing quote */
		} else {
			while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
				if (text[i] == '"' || text[i] == '\0')
					ok = false;
				mf_buf_append(&b, &text[i], 1);
				i++;
			}
		}
		if (!ok) {
			while (i < len && text[i] != '\n')
				i++;
			break;
		}
		push_field(rec, &b);
		if (i < len && text[i] == ',') {
			i++;
			continue;
		}
		break;
	}
	if (i < len && text[i] == '\r')
		i++;
	if (i < len && text[i] == '\n') {
		i++;
		(*line)++;
	}
	*pos = i;
	mf_buf_free(&b);
	if (!ok)
		csv_record_free(rec);
	return ok;
}

/* Values go into URIs: encode what would change the URI's structure.
 * '@' stays, since login names are addresses and the URI parser splits
 * user from host at the last '@'. */
static void append_encoded(struct mf_buf *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr(":/?#[]%&=+\"{}", *p) != NULL)
			mf_buf_printf(b, "%%%02X", *p);
		else
			mf_buf_append(b, p, 1);
	}
}

static size_t find_column(char *const *names, size_t n, const char *key, size_t klen)
{
	size_t k;
	for (k = 0; k < n; k++)
		if (strlen(names[k]) == klen && strncmp(names[k], key, klen) == 0)
			break;
	return k;
}

/* "{source_user.local}" and "{source_user.domain}": the old console's
 * "log in with or without the domain" for servers that want "alice"
 * where the CSV has "alice@old.example".  A column really named so wins. */
enum address_part { ADDRESS_WHOLE, ADDRESS_LOCAL, ADDRESS_DOMAIN };

static size_t find_address_part(char *const *names, size_t n, const char *key, size_t klen,
				enum address_part *part_r)
{
	static const struct {
		const char *suffix;
		enum address_part part;
	} parts[] = { { ".local", ADDRESS_LOCAL }, { ".domain", ADDRESS_DOMAIN } };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t sl = strlen(parts[i].suffix);
		if (klen > sl && memcmp(key + klen - sl, parts[i].suffix, sl) == 0) {
			*part_r = parts[i].part;
			return find_column(names, n, key, klen - sl);
		}
	}
	return n;
}

/* The part of v before its last '@' (all of v without one), or after it
 * (empty without one). */
static void append_address_part(struct mf_buf *b, const char *v, enum address_part part)
{
	const char *at = strrchr(v, '@');
	char *cut = NULL;
	if (part == ADDRESS_LOCAL && at != NULL)
		v = cut = mf_xstrndup(v, (size_t)(at - v));
	else if (part == ADDRESS_DOMAIN)
		v = at != NULL ? at + 1 : "";
	append_encoded(b, v);
	free(cut);
}

char *accounts_expand(const char *t, char *const *names, char *const *values, size_t n,
		      char **missing_r)
{
	struct mf_buf b = { 0 };
	*missing_r = NULL;
	while (*t) {
		const char *close;
		if (*t == '{' && (close = strchr(t, '}')) != NULL) {
			size_t klen = (size_t)(close - t - 1);
			enum address_part part = ADDRESS_WHOLE;
			size_t k = find_column(names, n, t + 1, klen);
			if (k == n)
				k = find_address_part(names, n, t + 1, klen, &part);
			if (k == n) {
				*missing_r = mf_xstrndup(t + 1, klen);
				mf_buf_free(&b);
				return NULL;
			}
			append_address_part(&b, values[k], part);
			t = close + 1;
		} else {
			mf_buf_append(&b, t, 1);
			t++;
		}
	}
	return b.data ? (char *)b.data : mf_xstrdup("");
}

static const char *column(const struct csv_record *hdr, const struct csv_record *row,
			  const char *name)
{
	for (size_t i = 0; i < hdr->n && i < row->n; i++)
		if (strcmp(hdr->fields[i], name) == 0)
			return row->fields[i][0] ? row->fields[i] : NULL;
	return NULL;
}

static bool is_false(const char *v)
{
	return v != NULL &&
	       (strcmp(v, "0") == 0 || mf_ascii_strcasecmp(v, "no") == 0 ||
		mf_ascii_strcasecmp(v, "false") == 0 || mf_ascii_strcasecmp(v, "disabled") == 0);
}

static bool make_job(const char *path, unsigned line, const struct csv_record *hdr,
		     const struct csv_record *row, const char *src_t, const char *snk_t,
		     const struct plugin_registry *reg, struct job *job)
{
	struct mf_error err;
	char *missing = NULL;
	memset(job, 0, sizeof(*job));
	char *src = accounts_expand(src_t, hdr->fields, row->fields, hdr->n, &missing);
	char *snk = src ? accounts_expand(snk_t, hdr->fields, row->fields, hdr->n, &missing) : NULL;
	bool ok = false;
	if (src == NULL || snk == NULL) {
		fprintf(stderr,
			"mailferry: %s line %u: template uses {%s}, which is not a column\n", path,
			line, missing);
		goto out;
	}
	if (registry_uri_parse(reg, MF_PLUGIN_SOURCE, src, &job->source, &err) != MF_OK ||
	    registry_uri_parse(reg, MF_PLUGIN_SINK, snk, &job->sink, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s line %u: %s\n", path, line, err.text);
		goto out;
	}
	const char *v;
	/* An empty or missing cell leaves the password to the command line
	 * (the master user's or service account's, for every row). */
	if ((v = column(hdr, row, "source_password")) != NULL)
		uri_set_password(&job->source, v);
	if ((v = column(hdr, row, "target_password")) != NULL)
		uri_set_password(&job->sink, v);
	if ((v = column(hdr, row, "impersonate")) != NULL) {
		free(job->source.impersonate);
		job->source.impersonate = mf_xstrdup(v);
		job->source.acct.impersonate = job->source.impersonate;
	}
	/* Per-row OAuth client settings (paths only), e.g. a refresh token
	 * file per mailbox: columns oauth_refresh_token_file, ... */
	static const char *const oauth_columns[] = {
		"oauth_client_id",
		"oauth_tenant",
		"oauth_token_url",
		"oauth_client_secret_file",
		"oauth_cert_file",
		"oauth_key_file",
		"oauth_service_account_file",
		"oauth_refresh_token_file",
		"oauth_scope",
	};
	for (size_t i = 0; i < sizeof(oauth_columns) / sizeof(oauth_columns[0]); i++) {
		if ((v = column(hdr, row, oauth_columns[i])) == NULL)
			continue;
		char *key = mf_xstrdup(oauth_columns[i]);
		for (char *p = key; *p; p++)
			if (*p == '_')
				*p = '-';
		uri_add_option(&job->source, key, v);
		free(key);
	}
	if ((v = column(hdr, row, "folder_policy")) != NULL) {
		struct folder_map *fm = mf_xcalloc(1, sizeof(*fm));
		if (folder_map_set_policy(fm, v, &err) != MF_OK) {
			fprintf(stderr, "mailferry: %s line %u: %s\n", path, line, err.text);
			free(fm);
			goto out;
		}
		job->folders = fm;
		job->owns_folders = true;
	}
	job->force_disabled = is_false(column(hdr, row, "enabled"));
	const char *name = column(hdr, row, "source_user");
	if (name == NULL)
		name = column(hdr, row, "impersonate");
	job->name = name ? mf_xstrdup(name) : mf_xasprintf("%s:%u", path, line);
	ok = true;
out:
	free(missing);
	if (src)
		explicit_bzero(src, strlen(src));
	if (snk)
		explicit_bzero(snk, strlen(snk));
	free(src);
	free(snk);
	if (!ok)
		job_free(job);
	return ok;
}

static char *slurp(const char *path, size_t *len_r, struct mf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "cannot read accounts file %s: %s",
			     path, strerror(errno));
		return NULL;
	}
	struct mf_buf b = { 0 };
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mf_buf_append(&b, chunk, n);
	fclose(f);
	*len_r = b.len;
	return b.data ? (char *)b.data : mf_xstrdup("");
}

int accounts_load(const char *path, const char *source_template, const char *sink_template,
		  const struct plugin_registry *reg, bool allow_uri_password, struct job **jobs_r,
		  size_t *n_r, struct mf_error *err)
{
	(void)allow_uri_password; /* rows carry passwords by design */
	size_t len, pos = 0;
	char *text = slurp(path, &len, err);
	if (text == NULL)
		return MF_ERR_FATAL;
	unsigned line = 1;
	struct csv_record hdr;
	/* A UTF-8 byte order mark from spreadsheet exports. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	if (!csv_next_record(text, len, &pos, &line, &hdr) || hdr.n == 0 ||
	    (hdr.n == 1 && hdr.fields[0][0] == '\0')) {
		csv_record_free(&hdr);
		explicit_bzero(text, len);
		free(text);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: no header row (expected e.g. source_user,source_password,"
				    "target_user,target_password)",
				    path);
	}
	for (size_t i = 0; i < hdr.n; i++) {
		char *f = hdr.fields[i];
		size_t fl = strlen(f);
		while (fl > 0 && (f[fl - 1] == ' ' || f[fl - 1] == '\t'))
			f[--fl] = '\0';
	}
	*jobs_r = NULL;
	*n_r = 0;
	while (pos < len) {
		unsigned start = line;
		struct csv_record row;
		if (!csv_next_record(text, len, &pos, &line, &row)) {
			fprintf(stderr,
				"mailferry: %s line %u: malformed CSV record (unbalanced "
				"quotes?), skipped\n",
				path, start);
			continue;
		}
		bool blank = row.n == 1 && row.fields[0][0] == '\0';
		if (!blank && row.n != hdr.n) {
			fprintf(stderr,
				"mailferry: %s line %u: %zu fields, the header has %zu; "
				"skipped\n",
				path, start, row.n, hdr.n);
		} else if (!blank) {
			*jobs_r = mf_xrealloc(*jobs_r, (*n_r + 1) * sizeof(**jobs_r));
			if (make_job(path, start, &hdr, &row, source_template, sink_template, reg,
				     &(*jobs_r)[*n_r]))
				(*n_r)++;
		}
		for (size_t i = 0; i < row.n; i++)
			explicit_bzero(row.fields[i], strlen(row.fields[i]));
		csv_record_free(&row);
	}
	csv_record_free(&hdr);
	explicit_bzero(text, len);
	free(text);
	return MF_OK;
}
