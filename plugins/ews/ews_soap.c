/* SPDX-License-Identifier: MIT */
/* EWS request bodies.  EWS validates requests against its XSD and child
 * order matters (a wrong order gives ErrorSchemaValidation), so the order
 * below follows the schema as the protocol brief lists it (§2, §3, §4).
 * Every caller-supplied string is XML-escaped.  Pure: builds bytes only. */
#include <config.h>
#include "ews_p.h"

#include <string.h>

/* Newest first: the session starts at Exchange2013_SP1 and steps down on
 * ErrorInvalidServerVersion (brief §1). */
const char *const ews_versions[] = { "Exchange2013_SP1", "Exchange2010_SP2", "Exchange2007_SP1",
				     NULL };

void ews_req_envelope(struct mf_buf *b, const char *version, const char *impersonate,
		      const char *body)
{
	mf_buf_append_str(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			     "<s:Envelope xmlns:s=\"" EWS_NS_SOAP "\""
			     " xmlns:t=\"" EWS_NS_T "\" xmlns:m=\"" EWS_NS_M "\">"
			     "<s:Header><t:RequestServerVersion Version=\"");
	ews_xml_escape(b, version);
	mf_buf_append_str(b, "\"/>");
	if (impersonate != NULL) {
		/* PrimarySmtpAddress, as [DM] and [xl] do for migrations;
		 * DistinguishedFolderIds then resolve in that mailbox. */
		mf_buf_append_str(b, "<t:ExchangeImpersonation><t:ConnectingSID>"
				     "<t:PrimarySmtpAddress>");
		ews_xml_escape(b, impersonate);
		mf_buf_append_str(b, "</t:PrimarySmtpAddress></t:ConnectingSID>"
				     "</t:ExchangeImpersonation>");
	}
	mf_buf_append_str(b, "</s:Header><s:Body>");
	mf_buf_append_str(b, body);
	mf_buf_append_str(b, "</s:Body></s:Envelope>\n");
}

static void field(struct mf_buf *b, const char *uri)
{
	mf_buf_printf(b, "<t:FieldURI FieldURI=\"%s\"/>", uri);
}

void ews_req_get_folder_roles(struct mf_buf *b)
{
	mf_buf_append_str(b, "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly"
			     "</t:BaseShape></m:FolderShape><m:FolderIds>");
	for (int r = 0; r < EWS_ROLE_COUNT; r++)
		mf_buf_printf(b, "<t:DistinguishedFolderId Id=\"%s\"/>", ews_role_names[r]);
	mf_buf_append_str(b, "</m:FolderIds></m:GetFolder>");
}

void ews_req_find_folder(struct mf_buf *b, uint64_t offset, unsigned max)
{
	mf_buf_append_str(b, "<m:FindFolder Traversal=\"Deep\"><m:FolderShape>"
			     "<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>");
	field(b, "folder:DisplayName");
	field(b, "folder:ParentFolderId");
	field(b, "folder:FolderClass");
	field(b, "folder:TotalCount");
	field(b, "folder:ChildFolderCount");
	mf_buf_printf(b,
		      "</t:AdditionalProperties></m:FolderShape>"
		      "<m:IndexedPageFolderView MaxEntriesReturned=\"%u\""
		      " Offset=\"%llu\" BasePoint=\"Beginning\"/>"
		      "<m:ParentFolderIds><t:DistinguishedFolderId"
		      " Id=\"msgfolderroot\"/></m:ParentFolderIds></m:FindFolder>",
		      max, (unsigned long long)offset);
}

/* IdOnly plus what filters and sizes GetItem batches (brief §3). */
static void list_shape(struct mf_buf *b)
{
	mf_buf_append_str(b, "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
			     "<t:AdditionalProperties>");
	field(b, "item:ItemClass");
	field(b, "item:Size");
	field(b, "item:DateTimeReceived");
	mf_buf_append_str(b, "</t:AdditionalProperties></m:ItemShape>");
}

void ews_req_sync_items(struct mf_buf *b, const char *folder_id, const char *sync_state,
			unsigned max)
{
	/* Order: ItemShape, SyncFolderId, [SyncState], [Ignore],
	 * MaxChangesReturned.  SyncScope is left out: its default is
	 * NormalItems and Exchange 2007 does not know the element. */
	mf_buf_append_str(b, "<m:SyncFolderItems>");
	list_shape(b);
	mf_buf_append_str(b, "<m:SyncFolderId><t:FolderId Id=\"");
	ews_xml_escape(b, folder_id);
	mf_buf_append_str(b, "\"/></m:SyncFolderId>");
	if (sync_state != NULL && sync_state[0] != '\0') {
		mf_buf_append_str(b, "<m:SyncState>");
		ews_xml_escape(b, sync_state);
		mf_buf_append_str(b, "</m:SyncState>");
	}
	mf_buf_printf(b,
		      "<m:MaxChangesReturned>%u</m:MaxChangesReturned>"
		      "</m:SyncFolderItems>",
		      max);
}

void ews_req_find_item(struct mf_buf *b, const char *folder_id, uint64_t offset, unsigned max)
{
	mf_buf_append_str(b, "<m:FindItem Traversal=\"Shallow\">");
	list_shape(b);
	mf_buf_printf(b,
		      "<m:IndexedPageItemView MaxEntriesReturned=\"%u\""
		      " Offset=\"%llu\" BasePoint=\"Beginning\"/>"
		      "<m:ParentFolderIds><t:FolderId Id=\"",
		      max, (unsigned long long)offset);
	ews_xml_escape(b, folder_id);
	mf_buf_append_str(b, "\"/></m:ParentFolderIds></m:FindItem>");
}

void ews_req_get_item(struct mf_buf *b, const char *const *ids, size_t n)
{
	/* The flag comes from PidTagFlagStatus (0x1090) and replied /
	 * forwarded from PidTagLastVerbExecuted (0x1081): both work on every
	 * version, unlike item:Flag (2013+) (brief §4). */
	mf_buf_append_str(b, "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly"
			     "</t:BaseShape><t:IncludeMimeContent>true"
			     "</t:IncludeMimeContent><t:AdditionalProperties>");
	field(b, "item:ItemClass");
	field(b, "item:Size");
	field(b, "item:DateTimeReceived");
	field(b, "item:DateTimeSent");
	field(b, "item:IsDraft");
	field(b, "message:IsRead");
	mf_buf_append_str(b, "<t:ExtendedFieldURI PropertyTag=\"0x1090\" PropertyType=\"Integer\"/>"
			     "<t:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/>"
			     "</t:AdditionalProperties></m:ItemShape><m:ItemIds>");
	for (size_t i = 0; i < n; i++) {
		mf_buf_append_str(b, "<t:ItemId Id=\"");
		ews_xml_escape(b, ids[i]);
		mf_buf_append_str(b, "\"/>");
	}
	mf_buf_append_str(b, "</m:ItemIds></m:GetItem>");
}
