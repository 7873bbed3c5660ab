/* SPDX-License-Identifier: MIT */
/* Streaming parser for GetItem replies: a libxml2 push parser with SAX
 * callbacks, fed the HTTP body as it arrives, that base64-decodes each
 * MimeContent straight into its item's buffer.  A GetItem reply is the one
 * that carries whole messages (brief §4: a DOM of 10 such messages, or one
 * 20 MB item, is what runs clients out of memory), so neither the raw reply
 * nor a tree is ever held.  It yields the same structs as the DOM parsers
 * in ews_xml.c, and ews_parse_get_item() is this parser run over a buffer,
 * so the unit tests and the fuzz target exercise exactly this code.
 * Elements are matched by namespace URI plus local name, never prefix. */
#include <config.h>
#include "ews_p.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

/* Text kept for one property element; EWS values are short, and this
 * bounds what a hostile reply can make us hold outside MimeContent. */
#define TEXT_CAP 4096

enum field {
	F_NONE = 0,
	F_FAULTCODE,
	F_FAULTSTRING,
	F_E_CODE,
	F_E_MESSAGE,
	F_MX_VALUE,
	F_RESPONSE_CODE,
	F_MESSAGE_TEXT,
	F_ITEM_CLASS,
	F_SIZE,
	F_RECEIVED,
	F_SENT,
	F_IS_READ,
	F_IS_DRAFT,
	F_FLAG_STATUS,
	F_EXT_VALUE,
};

enum mode { M_START = 0, M_RESPONSE, M_FAULT, M_OTHER };

struct ews_getitem_stream {
	xmlParserCtxtPtr ctxt;
	struct ews_item_page *page;
	struct ews_status *st;
	bool failed; /* not well-formed, or a DTD: -1 at the end */
	enum mode mode;
	unsigned depth;
	/* Depth of each open container of interest, 0 when not inside. */
	unsigned d_env, d_body, d_op, d_msgs, d_msg, d_items, d_item;
	unsigned d_mx, d_detail, d_flag, d_ext, d_mime;
	/* "first child of this name" bookkeeping, as the DOM parsers do */
	bool seen_body, seen_msgs, seen_code, seen_text, seen_mx, seen_items;
	bool seen_item, seen_itemid, seen_fcode, seen_fstring, seen_detail;
	bool seen_ecode, seen_emsg, seen_ext_uri, seen_ext_value, seen_fstatus;
	size_t nmsgs;
	/* the element whose text is being collected */
	unsigned d_text;
	enum field field;
	struct mf_buf text;
	char value_name[64]; /* t:Value/@Name inside MessageXml */
	char ext_tag[16];    /* ExtendedFieldURI/@PropertyTag */
	char *ext_value;
	struct ews_item *it; /* item of the current response message */
	struct ews_status msg_st;
	char faultcode[64];
	bool have_ecode;
	struct mf_base64 b64;
};

static bool ns_is(const xmlChar *uri, const char *ns)
{
	if (ns == NULL)
		return uri == NULL || uri[0] == '\0';
	return uri != NULL && strcmp((const char *)uri, ns) == 0;
}

static bool is(const xmlChar *name, const xmlChar *uri, const char *ns, const char *want)
{
	return ns_is(uri, ns) && strcmp((const char *)name, want) == 0;
}

/* Value of the un-namespaced attribute name, copied into dst. */
static bool attr(int nb, const xmlChar **attrs, const char *name, char *dst, size_t cap)
{
	for (int i = 0; i < nb; i++) {
		const xmlChar **a = attrs + 5 * i; /* local, prefix, URI, begin, end */
		if (a[2] != NULL || strcmp((const char *)a[0], name) != 0)
			continue;
		size_t len = (size_t)(a[4] - a[3]);
		if (len >= cap)
			len = cap - 1;
		memcpy(dst, a[3], len);
		dst[len] = '\0';
		return true;
	}
	return false;
}

static char *attr_dup(int nb, const xmlChar **attrs, const char *name)
{
	for (int i = 0; i < nb; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (a[2] == NULL && strcmp((const char *)a[0], name) == 0)
			return mf_xstrndup((const char *)a[3], (size_t)(a[4] - a[3]));
	}
	return NULL;
}

static void capture(struct ews_getitem_stream *g, enum field f)
{
	g->d_text = g->depth;
	g->field = f;
	mf_buf_clear(&g->text);
	mf_buf_append(&g->text, "", 0);
}

static void start_fault(struct ews_getitem_stream *g, const xmlChar *name, const xmlChar *uri,
			int nb, const xmlChar **attrs)
{
	unsigned d = g->depth;
	if (d == g->d_op + 1) {
		if (!g->seen_fcode && is(name, uri, NULL, "faultcode")) {
			g->seen_fcode = true;
			capture(g, F_FAULTCODE);
		} else if (!g->seen_fstring && is(name, uri, NULL, "faultstring")) {
			g->seen_fstring = true;
			capture(g, F_FAULTSTRING);
		} else if (!g->seen_detail && is(name, uri, NULL, "detail")) {
			g->seen_detail = true;
			g->d_detail = d;
		}
	} else if (g->d_detail != 0 && d == g->d_detail + 1) {
		if (!g->seen_ecode && is(name, uri, EWS_NS_E, "ResponseCode")) {
			g->seen_ecode = true;
			capture(g, F_E_CODE);
		} else if (!g->seen_emsg && is(name, uri, EWS_NS_E, "Message")) {
			g->seen_emsg = true;
			capture(g, F_E_MESSAGE);
		} else if (!g->seen_mx && is(name, uri, EWS_NS_T, "MessageXml")) {
			g->seen_mx = true;
			g->d_mx = d;
		}
	} else if (g->d_mx != 0 && d == g->d_mx + 1 && is(name, uri, EWS_NS_T, "Value")) {
		if (attr(nb, attrs, "Name", g->value_name, sizeof(g->value_name)))
			capture(g, F_MX_VALUE);
	}
}

static void start_item_child(struct ews_getitem_stream *g, const xmlChar *name, const xmlChar *uri,
			     int nb, const xmlChar **attrs)
{
	struct ews_item *it = g->it;
	if (!ns_is(uri, EWS_NS_T))
		return;
	const char *n = (const char *)name;
	if (strcmp(n, "ItemId") == 0) {
		if (!g->seen_itemid) {
			g->seen_itemid = true;
			it->id = attr_dup(nb, attrs, "Id");
			it->change_key = attr_dup(nb, attrs, "ChangeKey");
		}
	} else if (strcmp(n, "ItemClass") == 0) {
		capture(g, F_ITEM_CLASS);
	} else if (strcmp(n, "Size") == 0) {
		capture(g, F_SIZE);
	} else if (strcmp(n, "DateTimeReceived") == 0) {
		capture(g, F_RECEIVED);
	} else if (strcmp(n, "DateTimeSent") == 0) {
		capture(g, F_SENT);
	} else if (strcmp(n, "IsRead") == 0) {
		capture(g, F_IS_READ);
	} else if (strcmp(n, "IsDraft") == 0) {
		capture(g, F_IS_DRAFT);
	} else if (strcmp(n, "Flag") == 0) {
		g->d_flag = g->depth;
		g->seen_fstatus = false;
	} else if (strcmp(n, "ExtendedProperty") == 0) {
		g->d_ext = g->depth;
		g->ext_tag[0] = '\0';
		free(g->ext_value);
		g->ext_value = NULL;
		g->seen_ext_uri = g->seen_ext_value = false;
	} else if (strcmp(n, "MimeContent") == 0) {
		/* Decoded as it arrives; a later MimeContent replaces it. */
		g->d_mime = g->depth;
		it->has_mime = true;
		it->mime_bad = false;
		mf_buf_clear(&it->mime);
		memset(&g->b64, 0, sizeof(g->b64));
	}
}

static void start_response(struct ews_getitem_stream *g, const xmlChar *name, const xmlChar *uri,
			   int nb, const xmlChar **attrs)
{
	unsigned d = g->depth;
	if (d == g->d_op + 1) {
		if (!g->seen_msgs && is(name, uri, EWS_NS_M, "ResponseMessages")) {
			g->seen_msgs = true;
			g->d_msgs = d;
		}
	} else if (g->d_msgs != 0 && d == g->d_msgs + 1) {
		if (!is(name, uri, EWS_NS_M, "GetItemResponseMessage"))
			return;
		/* One message per requested id, in request order (§4). */
		g->d_msg = d;
		g->it = ews_item_page_add(g->page);
		memset(&g->msg_st, 0, sizeof(g->msg_st));
		char cls[16] = "";
		bool has = attr(nb, attrs, "ResponseClass", cls, sizeof(cls));
		g->msg_st.cls = !has || strcmp(cls, "Error") == 0 ? EWS_ERROR
				: strcmp(cls, "Warning") == 0     ? EWS_WARNING
				: strcmp(cls, "Success") == 0     ? EWS_SUCCESS
								  : EWS_ERROR;
		g->seen_code = g->seen_text = g->seen_mx = g->seen_items = false;
		g->seen_item = g->seen_itemid = false;
	} else if (g->d_msg != 0 && d == g->d_msg + 1) {
		if (!g->seen_code && is(name, uri, EWS_NS_M, "ResponseCode")) {
			g->seen_code = true;
			capture(g, F_RESPONSE_CODE);
		} else if (!g->seen_text && is(name, uri, EWS_NS_M, "MessageText")) {
			g->seen_text = true;
			capture(g, F_MESSAGE_TEXT);
		} else if (!g->seen_mx && is(name, uri, EWS_NS_M, "MessageXml")) {
			g->seen_mx = true;
			g->d_mx = d;
		} else if (!g->seen_items && is(name, uri, EWS_NS_M, "Items")) {
			g->seen_items = true;
			g->d_items = d;
		}
	} else if (g->d_mx != 0 && d == g->d_mx + 1) {
		if (is(name, uri, EWS_NS_T, "Value") &&
		    attr(nb, attrs, "Name", g->value_name, sizeof(g->value_name)))
			capture(g, F_MX_VALUE);
	} else if (g->d_items != 0 && d == g->d_items + 1) {
		/* Only the first element in m:Items, and only a t: one. */
		if (!g->seen_item) {
			g->seen_item = true;
			if (ns_is(uri, EWS_NS_T))
				g->d_item = d;
		}
	} else if (g->d_item != 0 && d == g->d_item + 1) {
		start_item_child(g, name, uri, nb, attrs);
	} else if (g->d_flag != 0 && d == g->d_flag + 1) {
		if (!g->seen_fstatus && is(name, uri, EWS_NS_T, "FlagStatus")) {
			g->seen_fstatus = true;
			capture(g, F_FLAG_STATUS);
		}
	} else if (g->d_ext != 0 && d == g->d_ext + 1) {
		if (!g->seen_ext_uri && is(name, uri, EWS_NS_T, "ExtendedFieldURI")) {
			g->seen_ext_uri = true;
			attr(nb, attrs, "PropertyTag", g->ext_tag, sizeof(g->ext_tag));
		} else if (!g->seen_ext_value && is(name, uri, EWS_NS_T, "Value")) {
			g->seen_ext_value = true;
			capture(g, F_EXT_VALUE);
		}
	}
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
		     int nb_ns, const xmlChar **ns, int nb_attrs, int nb_def, const xmlChar **attrs)
{
	struct ews_getitem_stream *g = ctx;
	unsigned d = ++g->depth;
	if (g->failed || g->d_text != 0 || g->d_mime != 0)
		return; /* text of a leaf is all we want below it */
	if (d == 1) {
		if (is(name, uri, EWS_NS_SOAP, "Envelope"))
			g->d_env = 1;
		else
			g->mode = M_OTHER;
	} else if (g->d_env != 0 && d == 2) {
		if (!g->seen_body && is(name, uri, EWS_NS_SOAP, "Body")) {
			g->seen_body = true;
			g->d_body = 2;
		}
	} else if (g->d_body != 0 && d == 3) {
		if (g->mode != M_START)
			return; /* only the first element of the body counts */
		g->d_op = 3;
		if (is(name, uri, EWS_NS_SOAP, "Fault"))
			g->mode = M_FAULT;
		else if (is(name, uri, EWS_NS_M, "GetItemResponse"))
			g->mode = M_RESPONSE;
		else
			g->mode = M_OTHER;
	} else if (g->mode == M_FAULT && g->d_op != 0) {
		start_fault(g, name, uri, nb_attrs, attrs);
	} else if (g->mode == M_RESPONSE && g->d_op != 0) {
		start_response(g, name, uri, nb_attrs, attrs);
	}
}

static void on_text(void *ctx, const xmlChar *s, int len)
{
	struct ews_getitem_stream *g = ctx;
	if (g->failed || len <= 0)
		return;
	if (g->d_mime != 0) {
		mf_base64_feed(&g->b64, (const char *)s, (size_t)len, &g->it->mime);
		return;
	}
	if (g->d_text != 0 && g->text.len < TEXT_CAP) {
		size_t n = (size_t)len;
		if (n > TEXT_CAP - g->text.len)
			n = TEXT_CAP - g->text.len;
		mf_buf_append(&g->text, s, n);
	}
}

static bool text_bool(const char *s)
{
	return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

static void end_field(struct ews_getitem_stream *g)
{
	const char *t = (const char *)g->text.data;
	struct ews_item *it = g->it;
	struct ews_status *mst = g->mode == M_FAULT ? g->st : &g->msg_st;
	uint64_t v;
	int64_t tm;
	switch (g->field) {
	case F_FAULTCODE: snprintf(g->faultcode, sizeof(g->faultcode), "%s", t); break;
	case F_FAULTSTRING: snprintf(g->st->text, sizeof(g->st->text), "%s", t); break;
	case F_E_CODE:
		snprintf(g->st->code, sizeof(g->st->code), "%s", t);
		g->have_ecode = true;
		break;
	case F_E_MESSAGE:
		if (g->st->text[0] == '\0')
			snprintf(g->st->text, sizeof(g->st->text), "%s", t);
		break;
	case F_MX_VALUE:
		if (strcmp(g->value_name, "BackOffMilliseconds") == 0) {
			if (mf_parse_u64(t, g->text.len, &v))
				mst->backoff_ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		} else if (strcmp(g->value_name, "InnerErrorResponseCode") == 0) {
			snprintf(mst->inner, sizeof(mst->inner), "%s", t);
		}
		break;
	case F_RESPONSE_CODE: snprintf(g->msg_st.code, sizeof(g->msg_st.code), "%s", t); break;
	case F_MESSAGE_TEXT: snprintf(g->msg_st.text, sizeof(g->msg_st.text), "%s", t); break;
	case F_ITEM_CLASS:
		free(it->item_class);
		it->item_class = mf_xstrdup(t);
		break;
	case F_SIZE:
		if (!mf_parse_u64(t, g->text.len, &it->size))
			it->size = 0;
		break;
	case F_RECEIVED:
		if (mf_parse_iso8601_date(t, &tm))
			it->received = tm;
		break;
	case F_SENT:
		if (mf_parse_iso8601_date(t, &tm))
			it->sent = tm;
		break;
	case F_IS_READ:
		if (text_bool(t))
			it->flags |= MF_FLAG_SEEN;
		break;
	case F_IS_DRAFT:
		if (text_bool(t))
			it->flags |= MF_FLAG_DRAFT;
		break;
	case F_FLAG_STATUS:
		if (strcmp(t, "Flagged") == 0)
			it->flags |= MF_FLAG_FLAGGED;
		break;
	case F_EXT_VALUE:
		free(g->ext_value);
		g->ext_value = mf_xstrdup(t);
		break;
	case F_NONE: break;
	}
	g->d_text = 0;
	g->field = F_NONE;
}

/* PidTagFlagStatus (0x1090): 2 flagged; PidTagLastVerbExecuted (0x1081):
 * 102/103 replied, 104 forwarded ([DM] Field.java). */
static void end_ext_prop(struct ews_getitem_stream *g)
{
	uint64_t v;
	const char *val = g->ext_value;
	if (g->ext_tag[0] == '\0' || val == NULL || !mf_parse_u64(val, strlen(val), &v))
		return;
	bool flag_status = mf_ascii_strcasecmp(g->ext_tag, "0x1090") == 0;
	bool last_verb = mf_ascii_strcasecmp(g->ext_tag, "0x1081") == 0;
	if (flag_status && v == 2)
		g->it->flags |= MF_FLAG_FLAGGED;
	else if (last_verb && (v == 102 || v == 103))
		g->it->flags |= MF_FLAG_ANSWERED;
	else if (last_verb && v == 104)
		g->it->flags |= MF_FLAG_FORWARDED;
}

static void on_end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
	struct ews_getitem_stream *g = ctx;
	unsigned d = g->depth--;
	if (g->failed)
		return;
	if (d == g->d_text) {
		end_field(g);
	} else if (d == g->d_mime) {
		if (!mf_base64_finish(&g->b64, &g->it->mime)) {
			g->it->mime_bad = true;
			mf_buf_free(&g->it->mime);
		}
		g->d_mime = 0;
	} else if (d == g->d_ext) {
		end_ext_prop(g);
		g->d_ext = 0;
	} else if (d == g->d_flag) {
		g->d_flag = 0;
	} else if (d == g->d_item) {
		g->d_item = 0;
	} else if (d == g->d_items) {
		g->d_items = 0;
	} else if (d == g->d_mx) {
		g->d_mx = 0;
	} else if (d == g->d_detail) {
		g->d_detail = 0;
	} else if (d == g->d_msg) {
		struct ews_status *ms = &g->msg_st;
		if (ms->code[0] == '\0')
			snprintf(ms->code, sizeof(ms->code), "%s",
				 ms->cls == EWS_SUCCESS ? "NoError" : "UnknownError");
		g->it->st = *ms;
		if (g->nmsgs++ == 0)
			*g->st = *ms;
		g->d_msg = 0;
		g->it = NULL;
	} else if (d == g->d_msgs) {
		g->d_msgs = 0;
	} else if (d == g->d_op) {
		g->d_op = 0;
	} else if (d == g->d_body) {
		g->d_body = 0;
	} else if (d == g->d_env) {
		g->d_env = 0;
	}
}

/* SOAP 1.1 §3: no DTD in an envelope; refusing one keeps entity tricks
 * out (brief pitfalls: hostile or broken intermediaries). */
static void on_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	struct ews_getitem_stream *g = ctx;
	g->failed = true;
	xmlStopParser(g->ctxt);
}

/* Errors are counted by libxml2 (wellFormed); nothing is printed. */
static void on_error(void *ctx, xmlErrorPtr e)
{
}

struct ews_getitem_stream *ews_getitem_stream_new(struct ews_item_page *page, struct ews_status *st)
{
	struct ews_getitem_stream *g = mf_xcalloc(1, sizeof(*g));
	g->page = page;
	g->st = st;
	memset(st, 0, sizeof(*st));
	xmlSAXHandler sax;
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.internalSubset = on_dtd;
	sax.externalSubset = on_dtd;
	sax.serror = on_error;
	g->ctxt = xmlCreatePushParserCtxt(&sax, g, NULL, 0, NULL);
	if (g->ctxt == NULL)
		g->failed = true;
	else
		/* HUGE: a MimeContent text over 10 MB is normal here. */
		xmlCtxtUseOptions(g->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR |
						   XML_PARSE_NOWARNING | XML_PARSE_HUGE);
	return g;
}

void ews_getitem_stream_feed(struct ews_getitem_stream *g, const char *data, size_t len)
{
	while (!g->failed && len > 0) {
		int n = len > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)len;
		if (xmlParseChunk(g->ctxt, data, n, 0) != 0)
			g->failed = true;
		data += n;
		len -= (size_t)n;
	}
}

int ews_getitem_stream_finish(struct ews_getitem_stream *g)
{
	if (!g->failed && xmlParseChunk(g->ctxt, NULL, 0, 1) != 0)
		g->failed = true;
	if (g->failed || !g->ctxt->wellFormed)
		return -1;
	if (g->mode == M_FAULT) {
		/* faultcode "a:ErrorServerBusy"; e:ResponseCode wins. */
		struct ews_status *st = g->st;
		st->fault = true;
		st->cls = EWS_ERROR;
		if (!g->have_ecode) {
			const char *colon = strrchr(g->faultcode, ':');
			snprintf(st->code, sizeof(st->code), "%s",
				 colon != NULL ? colon + 1 : g->faultcode);
		}
		if (st->code[0] == '\0')
			snprintf(st->code, sizeof(st->code), "SoapFault");
		return 0;
	}
	if (g->mode != M_RESPONSE || !g->seen_msgs || g->nmsgs == 0)
		return -1;
	return 0;
}

void ews_getitem_stream_free(struct ews_getitem_stream **gp)
{
	struct ews_getitem_stream *g = *gp;
	if (g == NULL)
		return;
	if (g->ctxt != NULL)
		xmlFreeParserCtxt(g->ctxt);
	mf_buf_free(&g->text);
	free(g->ext_value);
	free(g);
	*gp = NULL;
}

int ews_parse_get_item(const char *xml, size_t len, struct ews_item_page *page,
		       struct ews_status *st)
{
	if (xml == NULL || len == 0)
		return -1;
	struct ews_getitem_stream *g = ews_getitem_stream_new(page, st);
	ews_getitem_stream_feed(g, xml, len);
	int rc = ews_getitem_stream_finish(g);
	ews_getitem_stream_free(&g);
	return rc;
}
