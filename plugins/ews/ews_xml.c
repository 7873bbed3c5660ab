/* SPDX-License-Identifier: MIT */
/* EWS SOAP response parsing with libxml2: bytes of one HTTP response body
 * in, plain structs out, no network and no plugin state.  Elements are
 * matched by namespace URI plus local name, never by prefix, because
 * Exchange picks its own prefixes (h:, a:, e:, ...).  Error classification
 * of the statuses found here lives in ews_util.c. */
#include <config.h>
#include "ews_p.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* A GetItem reply carries base64 MIME in one text node; libxml2 refuses
 * text nodes over 10,000,000 bytes without XML_PARSE_HUGE (XML_MAX_TEXT_LENGTH),
 * which a 7.5 MB message already reaches.  Batches are capped by size in
 * ews_source.c, so HUGE is only used for GetItem.  NONET: never fetch
 * anything a hostile reply points at. */
static xmlDoc *parse_doc(const char *xml, size_t len, bool huge)
{
	if (xml == NULL || len == 0 || len > INT_MAX)
		return NULL;
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	if (huge)
		opts |= XML_PARSE_HUGE;
	xmlDoc *doc = xmlReadMemory(xml, (int)len, NULL, NULL, opts);
	if (doc == NULL)
		return NULL;
	/* SOAP 1.1 §3: an envelope must not contain a DTD; refusing one also
	 * keeps entity tricks out of everything below. */
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return false;
	if (name != NULL && strcmp((const char *)n->name, name) != 0)
		return false;
	if (ns == NULL)
		return n->ns == NULL || n->ns->href == NULL;
	return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static xmlNode *first_el(xmlNode *p)
{
	for (xmlNode *c = p != NULL ? p->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return c;
	return NULL;
}

static xmlNode *child(xmlNode *p, const char *ns, const char *name)
{
	for (xmlNode *c = p != NULL ? p->children : NULL; c != NULL; c = c->next)
		if (is_el(c, ns, name))
			return c;
	return NULL;
}

/* Text content as a malloc'd string, NULL if n is NULL. */
static char *text_dup(const xmlNode *n)
{
	if (n == NULL)
		return NULL;
	xmlChar *c = xmlNodeGetContent(n);
	char *s = mf_xstrdup(c != NULL ? (const char *)c : "");
	xmlFree(c);
	return s;
}

static void text_copy(const xmlNode *n, char *dst, size_t cap)
{
	dst[0] = '\0';
	if (n == NULL)
		return;
	xmlChar *c = xmlNodeGetContent(n);
	if (c != NULL)
		snprintf(dst, cap, "%s", (const char *)c);
	xmlFree(c);
}

static char *attr_dup(const xmlNode *n, const char *name)
{
	if (n == NULL)
		return NULL;
	xmlChar *c = xmlGetNoNsProp(n, (const xmlChar *)name);
	if (c == NULL)
		return NULL;
	char *s = mf_xstrdup((const char *)c);
	xmlFree(c);
	return s;
}

/* xs:boolean: "true" / "1". */
static bool bool_text(const char *s)
{
	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static bool node_bool(const xmlNode *n)
{
	char *s = text_dup(n);
	bool v = bool_text(s);
	free(s);
	return v;
}

static bool attr_bool(const xmlNode *n, const char *name)
{
	char *s = attr_dup(n, name);
	bool v = bool_text(s);
	free(s);
	return v;
}

static bool str_u64(const char *s, uint64_t *v_r)
{
	return s != NULL && mf_parse_u64(s, strlen(s), v_r);
}

static bool node_u64(const xmlNode *n, uint64_t *v_r)
{
	char *s = text_dup(n);
	bool ok = str_u64(s, v_r);
	free(s);
	return ok;
}

static uint64_t attr_u64(const xmlNode *n, const char *name, uint64_t dflt)
{
	char *s = attr_dup(n, name);
	uint64_t v;
	if (!str_u64(s, &v))
		v = dflt;
	free(s);
	return v;
}

/* t:MessageXml/t:Value[@Name]: BackOffMilliseconds and
 * InnerErrorResponseCode ([xl] reads them from exactly there). */
static void parse_message_xml(xmlNode *mx, struct ews_status *st)
{
	for (xmlNode *v = mx != NULL ? mx->children : NULL; v != NULL; v = v->next) {
		if (!is_el(v, EWS_NS_T, "Value"))
			continue;
		char *name = attr_dup(v, "Name");
		if (name == NULL)
			continue;
		if (strcmp(name, "BackOffMilliseconds") == 0) {
			uint64_t ms;
			if (node_u64(v, &ms))
				st->backoff_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
		} else if (strcmp(name, "InnerErrorResponseCode") == 0) {
			text_copy(v, st->inner, sizeof(st->inner));
		}
		free(name);
	}
}

/* s:Fault: faultcode ("a:ErrorServerBusy"), faultstring, and detail with
 * e:ResponseCode, e:Message and t:MessageXml.  faultcode/faultstring/detail
 * are unqualified (SOAP 1.1 §4.4). */
static void parse_fault(xmlNode *f, struct ews_status *st)
{
	memset(st, 0, sizeof(*st));
	st->fault = true;
	st->cls = EWS_ERROR;
	char code[64];
	text_copy(child(f, NULL, "faultcode"), code, sizeof(code));
	const char *colon = strrchr(code, ':');
	snprintf(st->code, sizeof(st->code), "%s", colon != NULL ? colon + 1 : code);
	text_copy(child(f, NULL, "faultstring"), st->text, sizeof(st->text));
	xmlNode *detail = child(f, NULL, "detail");
	xmlNode *rc = child(detail, EWS_NS_E, "ResponseCode");
	if (rc != NULL)
		text_copy(rc, st->code, sizeof(st->code));
	xmlNode *msg = child(detail, EWS_NS_E, "Message");
	if (msg != NULL && st->text[0] == '\0')
		text_copy(msg, st->text, sizeof(st->text));
	parse_message_xml(child(detail, EWS_NS_T, "MessageXml"), st);
	if (st->code[0] == '\0')
		snprintf(st->code, sizeof(st->code), "SoapFault");
}

static void parse_response_status(xmlNode *rm, struct ews_status *st)
{
	memset(st, 0, sizeof(*st));
	char *cls = attr_dup(rm, "ResponseClass");
	if (cls == NULL || strcmp(cls, "Error") == 0)
		st->cls = EWS_ERROR; /* no class at all is not a success */
	else if (strcmp(cls, "Warning") == 0)
		st->cls = EWS_WARNING;
	else if (strcmp(cls, "Success") == 0)
		st->cls = EWS_SUCCESS;
	else
		st->cls = EWS_ERROR;
	free(cls);
	text_copy(child(rm, EWS_NS_M, "ResponseCode"), st->code, sizeof(st->code));
	text_copy(child(rm, EWS_NS_M, "MessageText"), st->text, sizeof(st->text));
	parse_message_xml(child(rm, EWS_NS_M, "MessageXml"), st);
	if (st->code[0] == '\0')
		snprintf(st->code, sizeof(st->code), "%s",
			 st->cls == EWS_SUCCESS ? "NoError" : "UnknownError");
}

/* Open the envelope.  Returns the operation response element (e.g.
 * m:FindFolderResponse) in *resp_r, or NULL with st filled from a fault.
 * -1 when the document is no SOAP response of the expected kind. */
static int open_envelope(xmlDoc *doc, const char *resp_name, xmlNode **resp_r,
			 struct ews_status *st)
{
	*resp_r = NULL;
	xmlNode *env = xmlDocGetRootElement(doc);
	if (!is_el(env, EWS_NS_SOAP, "Envelope"))
		return -1;
	xmlNode *body = child(env, EWS_NS_SOAP, "Body");
	xmlNode *op = first_el(body);
	if (op == NULL)
		return -1;
	if (is_el(op, EWS_NS_SOAP, "Fault")) {
		parse_fault(op, st);
		return 0;
	}
	if (resp_name != NULL && !is_el(op, EWS_NS_M, resp_name))
		return -1;
	if (resp_name == NULL && !is_el(op, EWS_NS_M, NULL))
		return -1;
	*resp_r = op;
	memset(st, 0, sizeof(*st));
	snprintf(st->code, sizeof(st->code), "NoError");
	return 0;
}

/* The m:ResponseMessages container of an operation response. */
static xmlNode *messages_of(xmlNode *resp)
{
	return child(resp, EWS_NS_M, "ResponseMessages");
}

/* Open the envelope down to the one m:<op>ResponseMessage and read its
 * status.  *rm_r stays NULL (and 0 is returned) when the server answered
 * with a fault or an error status, which st then describes; -1 on a reply
 * that is not shaped like an answer to op. */
static int open_response_message(xmlDoc *doc, const char *op, xmlNode **rm_r, struct ews_status *st)
{
	char name[64];
	xmlNode *resp;

	*rm_r = NULL;
	snprintf(name, sizeof(name), "%sResponse", op);
	int rc = open_envelope(doc, name, &resp, st);
	if (rc != 0 || resp == NULL)
		return rc;
	snprintf(name, sizeof(name), "%sResponseMessage", op);
	xmlNode *rm = child(messages_of(resp), EWS_NS_M, name);
	if (rm == NULL)
		return -1;
	parse_response_status(rm, st);
	if (st->cls != EWS_ERROR)
		*rm_r = rm;
	return 0;
}

/* Open a paged Find* answer down to its m:RootFolder and read the paging
 * attributes.  *root_r stays NULL (and 0 is returned) on a fault or an
 * error status, which st then describes; -1 on a malformed reply. */
static int open_paged_root(xmlDoc *doc, const char *op, bool *last_r, uint64_t *next_offset_r,
			   xmlNode **root_r, struct ews_status *st)
{
	xmlNode *rm;
	*root_r = NULL;
	int rc = open_response_message(doc, op, &rm, st);
	if (rc != 0 || rm == NULL)
		return rc;
	xmlNode *root = child(rm, EWS_NS_M, "RootFolder");
	if (root == NULL)
		return -1;
	*last_r = attr_bool(root, "IncludesLastItemInRange");
	*next_offset_r = attr_u64(root, "IndexedPagingOffset", 0);
	*root_r = root;
	return 0;
}

/* ------------------------------------------------------------------ */

void ews_folder_page_free(struct ews_folder_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].id);
		free(p->v[i].parent_id);
		free(p->v[i].folder_class);
		free(p->v[i].name);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static void item_free(struct ews_item *it)
{
	free(it->id);
	free(it->change_key);
	free(it->item_class);
	mf_buf_free(&it->mime);
}

void ews_item_page_free(struct ews_item_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		item_free(&p->v[i]);
	free(p->v);
	free(p->sync_state);
	memset(p, 0, sizeof(*p));
}

/* Forget the last item (it had no ItemId, so nothing can use it). */
static void item_drop_last(struct ews_item_page *p)
{
	item_free(&p->v[--p->n]);
}

/* A fresh item at the end of p: dates unknown, status NoError until its
 * response message says otherwise. */
struct ews_item *ews_item_page_add(struct ews_item_page *p)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = mf_xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	struct ews_item *it = &p->v[p->n++];
	memset(it, 0, sizeof(*it));
	it->received = MF_DATE_UNKNOWN;
	it->sent = MF_DATE_UNKNOWN;
	snprintf(it->st.code, sizeof(it->st.code), "NoError");
	return it;
}

int ews_parse_find_folder(const char *xml, size_t len, struct ews_folder_page *page,
			  struct ews_status *st)
{
	xmlDoc *doc = parse_doc(xml, len, false);
	if (doc == NULL)
		return -1;
	xmlNode *root;
	int rc = open_paged_root(doc, "FindFolder", &page->last, &page->next_offset, &root, st);
	if (rc != 0 || root == NULL)
		goto out;
	xmlNode *folders = child(root, EWS_NS_T, "Folders");
	for (xmlNode *f = folders != NULL ? folders->children : NULL; f; f = f->next) {
		/* t:Folder, t:CalendarFolder, t:ContactsFolder, t:TasksFolder,
		 * t:SearchFolder: all of them, decided by class later. */
		if (!is_el(f, EWS_NS_T, NULL))
			continue;
		char *id = attr_dup(child(f, EWS_NS_T, "FolderId"), "Id");
		if (id == NULL)
			continue;
		if (page->n == page->cap) {
			page->cap = page->cap ? page->cap * 2 : 32;
			page->v = mf_xrealloc(page->v, page->cap * sizeof(*page->v));
		}
		struct ews_folder_info *fi = &page->v[page->n++];
		memset(fi, 0, sizeof(*fi));
		fi->id = id;
		fi->parent_id = attr_dup(child(f, EWS_NS_T, "ParentFolderId"), "Id");
		fi->folder_class = text_dup(child(f, EWS_NS_T, "FolderClass"));
		fi->name = text_dup(child(f, EWS_NS_T, "DisplayName"));
		if (!node_u64(child(f, EWS_NS_T, "TotalCount"), &fi->total))
			fi->total = MF_COUNT_UNKNOWN;
		fi->search = strcmp((const char *)f->name, "SearchFolder") == 0;
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

int ews_parse_get_folder(const char *xml, size_t len, char **ids_r, struct ews_status *sts,
			 size_t n, size_t *got_r, struct ews_status *st)
{
	*got_r = 0;
	xmlDoc *doc = parse_doc(xml, len, false);
	if (doc == NULL)
		return -1;
	xmlNode *resp;
	int rc = open_envelope(doc, "GetFolderResponse", &resp, st);
	if (rc != 0 || resp == NULL)
		goto out;
	xmlNode *msgs = messages_of(resp);
	if (msgs == NULL) {
		rc = -1;
		goto out;
	}
	size_t i = 0;
	for (xmlNode *rm = msgs->children; rm != NULL; rm = rm->next) {
		if (!is_el(rm, EWS_NS_M, "GetFolderResponseMessage"))
			continue;
		struct ews_status one;
		parse_response_status(rm, &one);
		if (i == 0)
			*st = one;
		if (i < n) {
			sts[i] = one;
			ids_r[i] = NULL;
			if (one.cls != EWS_ERROR) {
				xmlNode *f = first_el(child(rm, EWS_NS_M, "Folders"));
				ids_r[i] = attr_dup(child(f, EWS_NS_T, "FolderId"), "Id");
			}
		}
		i++;
	}
	*got_r = i < n ? i : n;
	if (i == 0)
		rc = -1;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* Flag bits from one item element.  PidTagFlagStatus (0x1090): 2 flagged,
 * 1 complete; PidTagLastVerbExecuted (0x1081): 102/103 reply (all),
 * 104 forward ([DM] Field.java uses the same tags and values). */
static void parse_ext_prop(xmlNode *ep, struct ews_item *it)
{
	char *tag = attr_dup(child(ep, EWS_NS_T, "ExtendedFieldURI"), "PropertyTag");
	uint64_t v;
	if (tag != NULL && node_u64(child(ep, EWS_NS_T, "Value"), &v)) {
		/* The server echoes the tag as requested (ews_soap.c). */
		bool flag_status = mf_ascii_strcasecmp(tag, "0x1090") == 0;
		bool last_verb = mf_ascii_strcasecmp(tag, "0x1081") == 0;
		if (flag_status && v == 2)
			it->flags |= MF_FLAG_FLAGGED;
		else if (last_verb && (v == 102 || v == 103))
			it->flags |= MF_FLAG_ANSWERED;
		else if (last_verb && v == 104)
			it->flags |= MF_FLAG_FORWARDED;
	}
	free(tag);
}

static void parse_item(xmlNode *el, struct ews_item *it)
{
	xmlNode *idn = child(el, EWS_NS_T, "ItemId");
	it->id = attr_dup(idn, "Id");
	it->change_key = attr_dup(idn, "ChangeKey");
	for (xmlNode *c = el->children; c != NULL; c = c->next) {
		if (!is_el(c, EWS_NS_T, NULL))
			continue;
		const char *n = (const char *)c->name;
		char *s;
		if (strcmp(n, "ItemClass") == 0) {
			free(it->item_class);
			it->item_class = text_dup(c);
		} else if (strcmp(n, "Size") == 0) {
			if (!node_u64(c, &it->size))
				it->size = 0;
		} else if (strcmp(n, "DateTimeReceived") == 0 || strcmp(n, "DateTimeSent") == 0) {
			s = text_dup(c);
			int64_t t;
			if (mf_parse_iso8601_date(s, &t))
				*(n[8] == 'R' ? &it->received : &it->sent) = t;
			free(s);
		} else if (strcmp(n, "IsRead") == 0) {
			if (node_bool(c))
				it->flags |= MF_FLAG_SEEN;
		} else if (strcmp(n, "IsDraft") == 0) {
			if (node_bool(c))
				it->flags |= MF_FLAG_DRAFT;
		} else if (strcmp(n, "Flag") == 0) {
			/* item:Flag, Exchange 2013+: FlagStatus
			 * NotFlagged|Flagged|Complete. */
			s = text_dup(child(c, EWS_NS_T, "FlagStatus"));
			if (s != NULL && strcmp(s, "Flagged") == 0)
				it->flags |= MF_FLAG_FLAGGED;
			free(s);
		} else if (strcmp(n, "ExtendedProperty") == 0) {
			parse_ext_prop(c, it);
		} else if (strcmp(n, "MimeContent") == 0) {
			it->has_mime = true;
			mf_buf_clear(&it->mime);
			/* The usual single text node is decoded in place: a
			 * copy of tens of MB of base64 is not needed. */
			xmlChar *copy = NULL;
			const xmlChar *b64;
			if (c->children != NULL && c->children->next == NULL &&
			    c->children->type == XML_TEXT_NODE)
				b64 = c->children->content;
			else
				b64 = copy = xmlNodeGetContent(c);
			if (b64 == NULL ||
			    !mf_base64_decode((const char *)b64, strlen((const char *)b64),
					      &it->mime)) {
				it->mime_bad = true;
				mf_buf_free(&it->mime);
			}
			xmlFree(copy);
		}
	}
}

int ews_parse_sync_items(const char *xml, size_t len, struct ews_item_page *page,
			 struct ews_status *st)
{
	xmlDoc *doc = parse_doc(xml, len, false);
	if (doc == NULL)
		return -1;
	xmlNode *rm;
	int rc = open_response_message(doc, "SyncFolderItems", &rm, st);
	if (rc != 0 || rm == NULL)
		goto out;
	xmlNode *ss = child(rm, EWS_NS_M, "SyncState");
	if (ss == NULL) {
		rc = -1; /* a success without a state cannot be resumed */
		goto out;
	}
	free(page->sync_state);
	page->sync_state = text_dup(ss);
	page->last = node_bool(child(rm, EWS_NS_M, "IncludesLastItemInRange"));
	xmlNode *changes = child(rm, EWS_NS_M, "Changes");
	for (xmlNode *c = changes != NULL ? changes->children : NULL; c; c = c->next) {
		enum ews_change kind;
		if (is_el(c, EWS_NS_T, "Create"))
			kind = EWS_CHANGE_CREATE;
		else if (is_el(c, EWS_NS_T, "Update"))
			kind = EWS_CHANGE_UPDATE;
		else if (is_el(c, EWS_NS_T, "Delete"))
			kind = EWS_CHANGE_DELETE;
		else if (is_el(c, EWS_NS_T, "ReadFlagChange"))
			kind = EWS_CHANGE_READ_FLAG;
		else
			continue;
		struct ews_item *it = ews_item_page_add(page);
		it->change = kind;
		if (kind == EWS_CHANGE_CREATE || kind == EWS_CHANGE_UPDATE) {
			xmlNode *el = first_el(c);
			if (el != NULL && is_el(el, EWS_NS_T, NULL))
				parse_item(el, it);
		} else {
			/* Delete / ReadFlagChange carry ItemId (+ IsRead)
			 * directly; parse_item reads both from c. */
			parse_item(c, it);
		}
		if (it->id == NULL)
			item_drop_last(page); /* nothing usable without an id */
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

int ews_parse_find_item(const char *xml, size_t len, struct ews_item_page *page,
			struct ews_status *st)
{
	xmlDoc *doc = parse_doc(xml, len, false);
	if (doc == NULL)
		return -1;
	xmlNode *root;
	int rc = open_paged_root(doc, "FindItem", &page->last, &page->next_offset, &root, st);
	if (rc != 0 || root == NULL)
		goto out;
	xmlNode *items = child(root, EWS_NS_T, "Items");
	for (xmlNode *el = items != NULL ? items->children : NULL; el; el = el->next) {
		if (!is_el(el, EWS_NS_T, NULL))
			continue;
		struct ews_item *it = ews_item_page_add(page);
		parse_item(el, it);
		if (it->id == NULL)
			item_drop_last(page);
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

int ews_parse_status(const char *xml, size_t len, struct ews_status *st)
{
	xmlDoc *doc = parse_doc(xml, len, true);
	if (doc == NULL)
		return -1;
	xmlNode *resp;
	int rc = open_envelope(doc, NULL, &resp, st);
	if (rc == 0 && resp != NULL) {
		xmlNode *msgs = messages_of(resp);
		xmlNode *rm = first_el(msgs);
		if (rm == NULL || !is_el(rm, EWS_NS_M, NULL))
			rc = -1;
		else
			parse_response_status(rm, st);
	}
	xmlFreeDoc(doc);
	return rc;
}
