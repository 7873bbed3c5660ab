/* SPDX-License-Identifier: MIT */
/* The verification report: JSON for machines and one self-contained HTML
 * page (inline CSS and SVG, no scripts, no external resources) that an IT
 * lead can hand to the customer. */
#include <config.h>
#include "verify_report.h"

#include <mailferry/util.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"

static json_t *account_json(const struct verify_account *a)
{
	json_t *folders = json_array();
	for (size_t i = 0; i < a->n_folders; i++) {
		const struct verify_folder *f = &a->folders[i];
		json_array_append_new(
			folders,
			json_pack("{ss ss* sI sI sI sI sI sI sI sb ss}", "target", f->target, "sources",
				  f->sources, "source_messages", (json_int_t)f->src_count,
				  "source_bytes", (json_int_t)f->src_bytes, "target_messages",
				  (json_int_t)f->dst_count, "target_bytes", (json_int_t)f->dst_bytes,
				  "missing", (json_int_t)f->missing, "extra", (json_int_t)f->extra,
				  "recorded_failed", (json_int_t)f->failed, "readable", f->readable,
				  "status", f->missing == 0 ? "ok" : "missing"));
	}
	return json_pack("{ss ss* ss* ss ss* so}", "account", a->name, "source", a->source_uri,
			 "sink", a->sink_uri,
			 "status", a->error ? "error" : a->ok ? "ok" : "missing", "error", a->error,
			 "folders", folders);
}

static void html_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Horizontal bars, source (grey) over target (green, red if short). */
static void chart(FILE *f, const struct verify_account *a)
{
	uint64_t max = 1;
	for (size_t i = 0; i < a->n_folders; i++) {
		if (a->folders[i].src_count > max)
			max = a->folders[i].src_count;
		if (a->folders[i].dst_count > max)
			max = a->folders[i].dst_count;
	}
	unsigned row = 30, width = 420, label = 200;
	fprintf(f, "<svg class=\"chart\" width=\"%u\" height=\"%zu\" role=\"img\" "
		   "aria-label=\"messages per folder\">\n", label + width + 60,
		a->n_folders * row + 10);
	for (size_t i = 0; i < a->n_folders; i++) {
		const struct verify_folder *vf = &a->folders[i];
		unsigned y = (unsigned)i * row + 5;
		unsigned ws = (unsigned)((double)vf->src_count / (double)max * width);
		unsigned wd = (unsigned)((double)vf->dst_count / (double)max * width);
		fprintf(f, "<text x=\"0\" y=\"%u\" class=\"lbl\">", y + 14);
		html_escape(f, vf->target);
		fprintf(f, "</text>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"10\" "
			   "class=\"src\"/>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"10\" "
			   "class=\"%s\"/>\n<text x=\"%u\" y=\"%u\" class=\"num\">%llu / %llu</text>\n",
			label, y, ws, label, y + 12, wd, vf->missing ? "bad" : "dst",
			label + (ws > wd ? ws : wd) + 6, y + 14,
			(unsigned long long)vf->dst_count, (unsigned long long)vf->src_count);
	}
	fputs("</svg>\n", f);
}

static void html_account(FILE *f, const struct verify_account *a)
{
	fputs("<section>\n<h2>", f);
	html_escape(f, a->name);
	fprintf(f, " <span class=\"%s\">%s</span></h2>\n<p class=\"uris\">",
		a->error ? "bad" : a->ok ? "ok" : "bad",
		a->error ? "could not verify" : a->ok ? "complete" : "messages missing");
	html_escape(f, a->source_uri);
	fputs(" &rarr; ", f);
	html_escape(f, a->sink_uri);
	fputs("</p>\n", f);
	if (a->error) {
		fputs("<p class=\"err\">", f);
		html_escape(f, a->error);
		fputs("</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n<tr><th>Target folder</th><th>From</th><th>Source msgs</th>"
	      "<th>Source size</th><th>Target msgs</th><th>Target size</th><th>Missing</th>"
	      "<th>Extra</th><th>Failed (recorded)</th></tr>\n", f);
	for (size_t i = 0; i < a->n_folders; i++) {
		const struct verify_folder *vf = &a->folders[i];
		char b1[32], b2[32];
		fprintf(f, "<tr class=\"%s\"><td>", vf->missing ? "bad" : "ok");
		html_escape(f, vf->target);
		fputs("</td><td>", f);
		html_escape(f, vf->sources);
		fprintf(f, "</td><td>%llu</td><td>%s</td><td>%llu</td><td>%s</td><td>%llu</td>"
			   "<td>%llu</td><td>%llu</td></tr>\n",
			(unsigned long long)vf->src_count,
			progress_human_bytes(vf->src_bytes, b1, sizeof(b1)),
			(unsigned long long)vf->dst_count,
			progress_human_bytes(vf->dst_bytes, b2, sizeof(b2)),
			(unsigned long long)vf->missing, (unsigned long long)vf->extra,
			(unsigned long long)vf->failed);
	}
	fputs("</table>\n", f);
	chart(f, a);
	fputs("</section>\n", f);
}

int verify_write_report(const char *dir, const struct verify_account *accts, size_t n,
			char **json_path_r, char **html_path_r)
{
	*json_path_r = mf_xasprintf("%s/verify-report.json", dir);
	*html_path_r = mf_xasprintf("%s/verify-report.html", dir);
	json_t *root = json_object(), *arr = json_array();
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, account_json(&accts[i]));
		ok += accts[i].ok && accts[i].error == NULL;
	}
	json_object_set_new(root, "generated", json_integer((json_int_t)time(NULL)));
	json_object_set_new(root, "accounts_complete", json_integer((json_int_t)ok));
	json_object_set_new(root, "accounts", arr);
	int rc = json_dump_file(root, *json_path_r, JSON_INDENT(2));
	json_decref(root);
	if (rc != 0)
		return -1;
	FILE *f = fopen(*html_path_r, "w");
	if (f == NULL)
		return -1;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M %Z", localtime_r(&now, &tm));
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		   "<title>Mail migration verification</title>\n<style>\n"
		   "body{font-family:sans-serif;margin:2em;color:#222}"
		   "table{border-collapse:collapse;margin:.5em 0}"
		   "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
		   "td:first-child,td:nth-child(2),th{text-align:left}"
		   "tr.bad td{background:#fde8e8}.ok{color:#1a7f37}.bad{color:#c62828}"
		   ".uris{color:#666;font-size:.9em}.err{color:#c62828}"
		   ".chart .src{fill:#bbb}.chart .dst{fill:#2e9d55}.chart .bad{fill:#c62828}"
		   ".chart text{font-size:12px}\n</style></head><body>\n"
		   "<h1>Mail migration verification</h1>\n"
		   "<p>%zu of %zu mailboxes complete. Generated %s by mailferry %s. Each "
		   "message is compared by its SHA-256 content digest and size; "
		   "&ldquo;extra&rdquo; counts mail in the target that did not come from "
		   "the source (for example mail received there already).</p>\n",
		ok, n, when, PACKAGE_VERSION);
	for (size_t i = 0; i < n; i++)
		html_account(f, &accts[i]);
	fputs("</body></html>\n", f);
	return fclose(f) == 0 ? 0 : -1;
}
