/* SPDX-License-Identifier: MIT */
/* The dashboard's replies in JSON, shared by the routes (serve_api.c,
 * serve_reports.c) and the HTTP glue that sends them (serve_http.c). */
#include <config.h>

#include <string.h>

#include "serve.h"

void serve_reply_json(struct serve_reply *r, unsigned status, json_t *j)
{
	r->status = status;
	r->type = "application/json";
	r->body = json_dumps(j, JSON_COMPACT);
	r->len = r->body != NULL ? strlen(r->body) : 0;
	json_decref(j);
}

void serve_reply_error(struct serve_reply *r, unsigned status, const char *message)
{
	serve_reply_json(r, status, json_pack("{ss}", "error", message));
}
