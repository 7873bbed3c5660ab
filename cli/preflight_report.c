/* SPDX-License-Identifier: MIT */
/* The preflight report (preflight_report.h).  JSON is one document, an
 * object with the rate and an array of rows, as "status --json" prints
 * one document; numbers the probe could not find out are null, in CSV
 * empty, in the table "?". */
#include <config.h>
#include "preflight_report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static uint64_t quota_free(const struct preflight_row *r)
{
	const struct mf_probe *p = &r->sink.probe;
	if (!r->sink.probed || p->quota_limit == MF_COUNT_UNKNOWN)
		return MF_COUNT_UNKNOWN;
	return p->quota_limit > p->quota_used ? p->quota_limit - p->quota_used : 0;
}

static json_t *jnum(uint64_t v)
{
	return v == MF_COUNT_UNKNOWN ? json_null() : json_integer((json_int_t)v);
}

static json_t *side_json(const struct preflight_side *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "login", json_string(preflight_login_name(s->login)));
	json_object_set_new(o, "error", s->error[0] ? json_string(s->error) : json_null());
	if (s->probed) {
		json_object_set_new(o, "capabilities", json_string(s->probe.caps));
		json_object_set_new(o, "quota_used", jnum(s->probe.quota_used));
		json_object_set_new(o, "quota_limit", jnum(s->probe.quota_limit));
		json_object_set_new(o, "max_message_size", jnum(s->probe.max_message_size));
		char sep[2] = { s->probe.separator, 0 };
		json_object_set_new(o, "separator", sep[0] ? json_string(sep) : json_null());
	}
	return o;
}

static json_t *row_json(const struct preflight_row *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "account", json_string(r->name));
	json_object_set_new(o, "source_uri", json_string(r->source_uri));
	json_object_set_new(o, "sink_uri", json_string(r->sink_uri));
	json_object_set_new(o, "source", side_json(&r->source));
	json_object_set_new(o, "sink", side_json(&r->sink));
	json_object_set_new(o, "folders", json_integer((json_int_t)r->folders));
	json_object_set_new(o, "messages", json_integer((json_int_t)r->messages));
	json_object_set_new(o, "bytes", jnum(r->bytes));
	json_object_set_new(o, "counts_partial", json_boolean(r->counts_partial));
	json_object_set_new(o, "quota_free", jnum(quota_free(r)));
	json_object_set_new(o, "oversize", jnum(r->oversize));
	json_object_set_new(o, "largest_oversize", jnum(r->largest));
	json_t *ref = json_array();
	for (size_t i = 0; i < r->n_refused; i++)
		json_array_append_new(ref, json_string(r->refused[i]));
	json_object_set_new(o, "refused_folders", ref);
	json_object_set_new(o, "folder_error",
			    r->folder_error ? json_string(r->folder_error) : json_null());
	json_object_set_new(o, "estimate_seconds",
			    r->estimate_s >= 0 ? json_real(r->estimate_s) : json_null());
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "ok", json_boolean(r->ok));
	json_object_set_new(o, "verdict", json_string(r->verdict));
	return o;
}

static void csv_field(FILE *out, const char *s, bool last)
{
	s = s ? s : "";
	if (strpbrk(s, ",\"\n\r") != NULL) {
		fputc('"', out);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', out);
			fputc(*s, out);
		}
		fputc('"', out);
	} else {
		fputs(s, out);
	}
	fputc(last ? '\n' : ',', out);
}

static void fmt_num(uint64_t v, char *buf, size_t len, const char *unknown)
{
	if (v == MF_COUNT_UNKNOWN)
		snprintf(buf, len, "%s", unknown);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void fmt_estimate(double s, char *buf, size_t len, const char *unknown)
{
	if (s < 0)
		snprintf(buf, len, "%s", unknown);
	else if (s < 60)
		snprintf(buf, len, "%.0fs", s < 1 ? 1 : s);
	else if (s < 3600)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.1fh", s / 3600);
}

static void print_csv(FILE *out, const struct preflight_row *r)
{
	char b[8][32];
	fmt_num(r->folders, b[0], sizeof(b[0]), "");
	fmt_num(r->messages, b[1], sizeof(b[1]), "");
	fmt_num(r->bytes, b[2], sizeof(b[2]), "");
	fmt_num(quota_free(r), b[3], sizeof(b[3]), "");
	fmt_num(r->oversize, b[4], sizeof(b[4]), "");
	fmt_num(r->n_refused, b[5], sizeof(b[5]), "");
	if (r->estimate_s >= 0)
		snprintf(b[6], sizeof(b[6]), "%.0f", r->estimate_s);
	else
		b[6][0] = '\0';
	csv_field(out, r->name, false);
	csv_field(out, preflight_login_name(r->source.login), false);
	csv_field(out, preflight_login_name(r->sink.login), false);
	for (int i = 0; i < 7; i++)
		csv_field(out, b[i], false);
	csv_field(out, r->ok ? "ok" : "fail", false);
	csv_field(out, r->verdict, false);
	csv_field(out, r->source.error, false);
	csv_field(out, r->sink.error, true);
}

static void print_table_row(FILE *out, const struct preflight_row *r)
{
	char fo[24], ms[24], by[24], qf[24], ov[24], est[24];
	fmt_num(r->folders, fo, sizeof(fo), "?");
	fmt_num(r->messages, ms, sizeof(ms), "?");
	fmt_num(r->bytes, by, sizeof(by), "?");
	fmt_num(quota_free(r), qf, sizeof(qf), "?");
	fmt_num(r->oversize, ov, sizeof(ov), "?");
	fmt_estimate(r->estimate_s, est, sizeof(est), "no rate");
	fprintf(out, "%-24s %-18s %-18s %7s %9s %12s %12s %8s %7zu %8s  %s\n", r->name,
		preflight_login_name(r->source.login), preflight_login_name(r->sink.login), fo, ms,
		by, qf, ov, r->n_refused, est, r->verdict);
	/* The server's own words under the row: what the operator fixes. */
	if (r->source.error[0])
		fprintf(out, "    source: %s\n", r->source.error);
	if (r->sink.error[0])
		fprintf(out, "    target: %s\n", r->sink.error);
	if (r->folder_error != NULL)
		fprintf(out, "    folder: %s\n", r->folder_error);
	for (size_t i = 0; i < r->n_refused; i++)
		fprintf(out, "    refused: %s\n", r->refused[i]);
	if (r->source.probed)
		fprintf(out, "    source capabilities: %s\n", r->source.probe.caps);
	if (r->sink.probed) {
		char used[24], lim[24], max[24];
		fmt_num(r->sink.probe.quota_used, used, sizeof(used), "?");
		fmt_num(r->sink.probe.quota_limit, lim, sizeof(lim), "?");
		fmt_num(r->sink.probe.max_message_size, max, sizeof(max), "?");
		fprintf(out,
			"    target capabilities: %s; quota %s of %s bytes; largest message %s\n",
			r->sink.probe.caps, used, lim, max);
	}
	if (r->counts_partial)
		fprintf(out, "    counts are partial: some folder sizes are unknown\n");
}

size_t preflight_print(FILE *out, enum pf_format fmt, const struct preflight_row *rows, size_t n,
		       const struct pf_rate *rate)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += rows[i].ok;
	if (fmt == PF_FMT_JSON) {
		json_t *doc = json_object();
		json_object_set_new(doc, "rate_bytes_per_second",
				    rate->bps > 0 ? json_real(rate->bps) : json_null());
		json_object_set_new(doc, "rate_from",
				    rate->bps > 0 ? json_string(rate->source) : json_null());
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, row_json(&rows[i]));
		json_object_set_new(doc, "rows", arr);
		json_object_set_new(doc, "ok", json_integer((json_int_t)ok));
		json_object_set_new(doc, "total", json_integer((json_int_t)n));
		char *s = json_dumps(doc, JSON_INDENT(2));
		if (s != NULL)
			fprintf(out, "%s\n", s);
		free(s);
		json_decref(doc);
		return ok;
	}
	if (fmt == PF_FMT_CSV) {
		fputs("account,source_login,target_login,folders,messages,bytes,quota_free,"
		      "oversize,refused_folders,estimate_seconds,result,verdict,source_error,"
		      "target_error\n",
		      out);
		for (size_t i = 0; i < n; i++)
			print_csv(out, &rows[i]);
		return ok;
	}
	fprintf(out, "%-24s %-18s %-18s %7s %9s %12s %12s %8s %7s %8s  %s\n", "ACCOUNT", "SOURCE",
		"TARGET", "FOLDERS", "MESSAGES", "BYTES", "QUOTA FREE", "OVERSIZE", "REFUSED",
		"ESTIMATE", "VERDICT");
	for (size_t i = 0; i < n; i++)
		print_table_row(out, &rows[i]);
	if (rate->bps > 0)
		fprintf(out, "estimates at %.0f bytes/s (%s)\n", rate->bps,
			strcmp(rate->source, "--rate") == 0 ? "--rate"
							    : "measured in the state file");
	else
		fprintf(out, "no rate: give --rate BYTES/s, or run a migration first "
			     "(its throughput is read from the state file)\n");
	fprintf(out, "%zu of %zu mailboxes can run\n", ok, n);
	return ok;
}
