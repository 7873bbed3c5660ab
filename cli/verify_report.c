/* SPDX-License-Identifier: MIT */
/* The verification report: JSON for machines and one self-contained HTML
 * page (inline CSS and SVG, no external resources) that an IT lead can
 * hand to the customer.  The page opens with a summary of every mailbox,
 * incomplete ones first, so a 5,000-mailbox report is usable; a small
 * inline script sorts it by any column and filters it by name, and the
 * page reads the same without the script. */
#include <config.h>
#include "verify_report.h"

#include <mailferry/util.h>
#include <ctype.h>
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
		json_array_append_new(folders,
				      json_pack("{ss ss* sI sI sI sI sI sI sI sb ss}", "target",
						f->target, "sources", f->sources, "source_messages",
						(json_int_t)f->src_count, "source_bytes",
						(json_int_t)f->src_bytes, "target_messages",
						(json_int_t)f->dst_count, "target_bytes",
						(json_int_t)f->dst_bytes, "missing",
						(json_int_t)f->missing, "extra",
						(json_int_t)f->extra, "recorded_failed",
						(json_int_t)f->failed, "readable", f->readable,
						"status", f->missing == 0 ? "ok" : "missing"));
	}
	return json_pack("{ss ss* ss* ss ss* so}", "account", a->name, "source", a->source_uri,
			 "sink", a->sink_uri, "status",
			 a->error ? "error"
			 : a->ok  ? "ok"
				  : "missing",
			 "error", a->error, "folders", folders);
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

/* A URI as a person reads it: percent-escapes decoded (an address's %40,
 * a folder's %20, UTF-8), escapes of control characters left as they are.
 * The URIs hold no password (core/uri.h). */
static void html_uri(FILE *f, const char *uri)
{
	char *out = mf_xstrdup(uri ? uri : "");
	size_t o = 0;
	for (const char *p = uri ? uri : ""; *p; p++) {
		unsigned v = 0;
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
		    sscanf(p + 1, "%2x", &v) == 1 && v >= 0x20 && v != 0x7f) {
			out[o++] = (char)v;
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	html_escape(f, out);
	free(out);
}

/* One mailbox's figures over all its folders, for the summary. */
struct summary_row {
	const struct verify_account *a;
	size_t index; /* its section's anchor */
	int rank;     /* 0 could not verify, 1 messages missing, 2 complete */
	uint64_t src, dst, missing, extra, failed, src_bytes;
};

static int cmp_rows(const void *x, const void *y)
{
	const struct summary_row *a = x, *b = y;
	if (a->rank != b->rank)
		return a->rank - b->rank;
	return strcmp(a->a->name, b->a->name);
}

static const char *rank_text(int rank)
{
	return rank == 0 ? "could not verify" : rank == 1 ? "messages missing" : "complete";
}

static void html_summary(FILE *f, const struct verify_account *accts, size_t n)
{
	struct summary_row *rows = mf_xcalloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		struct summary_row *r = &rows[i];
		r->a = &accts[i];
		r->index = i;
		r->rank = accts[i].error ? 0 : accts[i].ok ? 2 : 1;
		for (size_t k = 0; k < accts[i].n_folders; k++) {
			const struct verify_folder *vf = &accts[i].folders[k];
			r->src += vf->src_count;
			r->dst += vf->dst_count;
			r->missing += vf->missing;
			r->extra += vf->extra;
			r->failed += vf->failed;
			r->src_bytes += vf->src_bytes;
		}
	}
	qsort(rows, n, sizeof(*rows), cmp_rows);
	fputs("<h2>Summary</h2>\n<p><input id=\"filter\" type=\"search\" "
	      "placeholder=\"Filter by mailbox\" aria-label=\"Filter by mailbox\"> "
	      "Click a column heading to sort.</p>\n"
	      "<table id=\"summary\">\n<thead><tr><th>Mailbox</th><th>Status</th>"
	      "<th data-num>Source msgs</th><th data-num>Source size</th>"
	      "<th data-num>Target msgs</th><th data-num>Missing</th><th data-num>Extra</th>"
	      "<th data-num>Failed (recorded)</th></tr></thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct summary_row *r = &rows[i];
		char b[32];
		fprintf(f, "<tr class=\"%s\"><td><a href=\"#m%zu\">", r->rank == 2 ? "ok" : "bad",
			r->index);
		html_escape(f, r->a->name);
		fprintf(f,
			"</a></td><td data-v=\"%d\">%s</td><td>%llu</td>"
			"<td data-v=\"%llu\">%s</td><td>%llu</td><td>%llu</td><td>%llu</td>"
			"<td>%llu</td></tr>\n",
			r->rank, rank_text(r->rank), (unsigned long long)r->src,
			(unsigned long long)r->src_bytes,
			progress_human_bytes(r->src_bytes, b, sizeof(b)),
			(unsigned long long)r->dst, (unsigned long long)r->missing,
			(unsigned long long)r->extra, (unsigned long long)r->failed);
	}
	fputs("</tbody></table>\n", f);
	free(rows);
}

/* Sorting and filtering of the summary: numbers by value (data-v when a
 * cell shows a rounded or worded form), text by locale; a second click
 * reverses.  The address keeps the view (#filter=TEXT&sort=Na or Nd:
 * column N ascending or descending), so a link to "the incomplete ones of
 * site B" can be handed on. */
static const char summary_script[] =
	"<script>\n(function(){\n"
	"var t=document.getElementById('summary'),b=t.tBodies[0],f=document.getElementById('filter');\n"
	"var heads=t.tHead.rows[0].cells,view={col:-1,dir:1};\n"
	"function key(r,i){var c=r.cells[i],v=c.getAttribute('data-v');\n"
	" if(v===null)v=c.textContent;\n"
	" return heads[i].hasAttribute('data-num')||c.hasAttribute('data-v')?Number(v):v;}\n"
	"function keep(){history.replaceState(null,'','#filter='+encodeURIComponent(f.value)+\n"
	" (view.col<0?'':'&sort='+view.col+(view.dir>0?'a':'d')));}\n"
	"function sortBy(i,d){view={col:i,dir:d};\n"
	" var rows=Array.prototype.slice.call(b.rows);\n"
	" rows.sort(function(x,y){var a=key(x,i),c=key(y,i);\n"
	"  return d*(typeof a==='number'?a-c:String(a).localeCompare(c));});\n"
	" rows.forEach(function(r){b.appendChild(r);});t.setAttribute('data-sorted',i+(d>0?'a':'d'));}\n"
	"function filter(){var q=f.value.toLowerCase();\n"
	" Array.prototype.forEach.call(b.rows,function(r){\n"
	"  r.hidden=q!==''&&r.cells[0].textContent.toLowerCase().indexOf(q)<0;});}\n"
	"Array.prototype.forEach.call(heads,function(th,i){th.style.cursor='pointer';th.title='sort';\n"
	" th.addEventListener('click',function(){sortBy(i,view.col===i?-view.dir:1);keep();});});\n"
	"f.addEventListener('input',function(){filter();keep();});\n"
	"var h=new URLSearchParams(location.hash.slice(1)),s=/^(\\d+)([ad])$/.exec(h.get('sort')||'');\n"
	"if(h.get('filter')){f.value=h.get('filter');filter();}\n"
	"if(s&&+s[1]<heads.length)sortBy(+s[1],s[2]==='a'?1:-1);\n"
	"})();\n</script>\n";

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
	fprintf(f,
		"<svg class=\"chart\" width=\"%u\" height=\"%zu\" role=\"img\" "
		"aria-label=\"messages per folder\">\n",
		label + width + 60, a->n_folders * row + 10);
	for (size_t i = 0; i < a->n_folders; i++) {
		const struct verify_folder *vf = &a->folders[i];
		unsigned y = (unsigned)i * row + 5;
		unsigned ws = (unsigned)((double)vf->src_count / (double)max * width);
		unsigned wd = (unsigned)((double)vf->dst_count / (double)max * width);
		fprintf(f, "<text x=\"0\" y=\"%u\" class=\"lbl\">", y + 14);
		html_escape(f, vf->target);
		fprintf(f,
			"</text>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"10\" "
			"class=\"src\"/>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"10\" "
			"class=\"%s\"/>\n<text x=\"%u\" y=\"%u\" class=\"num\">%llu / %llu</text>\n",
			label, y, ws, label, y + 12, wd, vf->missing ? "bad" : "dst",
			label + (ws > wd ? ws : wd) + 6, y + 14, (unsigned long long)vf->dst_count,
			(unsigned long long)vf->src_count);
	}
	fputs("</svg>\n", f);
}

static void html_account(FILE *f, const struct verify_account *a, size_t index)
{
	fprintf(f, "<section id=\"m%zu\">\n<h2>", index);
	html_escape(f, a->name);
	fprintf(f, " <span class=\"%s\">%s</span></h2>\n<p class=\"uris\">",
		a->error ? "bad"
		: a->ok  ? "ok"
			 : "bad",
		a->error ? "could not verify"
		: a->ok  ? "complete"
			 : "messages missing");
	html_uri(f, a->source_uri);
	fputs(" &rarr; ", f);
	html_uri(f, a->sink_uri);
	fputs("</p>\n", f);
	if (a->error) {
		fputs("<p class=\"err\">", f);
		html_escape(f, a->error);
		fputs("</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n<tr><th>Target folder</th><th>From</th><th>Source msgs</th>"
	      "<th>Source size</th><th>Target msgs</th><th>Target size</th><th>Missing</th>"
	      "<th>Extra</th><th>Failed (recorded)</th></tr>\n",
	      f);
	for (size_t i = 0; i < a->n_folders; i++) {
		const struct verify_folder *vf = &a->folders[i];
		char b1[32], b2[32];
		fprintf(f, "<tr class=\"%s\"><td>", vf->missing ? "bad" : "ok");
		html_escape(f, vf->target);
		fputs("</td><td>", f);
		html_escape(f, vf->sources);
		fprintf(f,
			"</td><td>%llu</td><td>%s</td><td>%llu</td><td>%s</td><td>%llu</td>"
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
	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<title>Mail migration verification</title>\n<style>\n"
		"body{font-family:sans-serif;margin:2em;color:#222}"
		"table{border-collapse:collapse;margin:.5em 0}"
		"td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
		"td:first-child,td:nth-child(2),th{text-align:left}"
		"tr.bad td{background:#fde8e8}#summary td:nth-child(2){text-align:left}"
		"section h2{font-size:1.1em;margin-top:1.5em}.ok{color:#1a7f37}.bad{color:#c62828}"
		".uris{color:#666;font-size:.9em}.err{color:#c62828}"
		".chart .src{fill:#bbb}.chart .dst{fill:#2e9d55}.chart .bad{fill:#c62828}"
		".chart text{font-size:12px}\n</style></head><body>\n"
		"<h1>Mail migration verification</h1>\n"
		"<p>%zu of %zu mailboxes complete. Generated %s by mailferry %s. Each "
		"message is compared by its SHA-256 content digest and size; "
		"&ldquo;extra&rdquo; counts mail in the target that did not come from "
		"the source (for example mail received there already).</p>\n",
		ok, n, when, PACKAGE_VERSION);
	html_summary(f, accts, n);
	fputs("<h2>Mailboxes</h2>\n", f);
	for (size_t i = 0; i < n; i++)
		html_account(f, &accts[i], i);
	fputs(summary_script, f);
	fputs("</body></html>\n", f);
	return fclose(f) == 0 ? 0 : -1;
}
