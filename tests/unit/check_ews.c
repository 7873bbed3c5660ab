/* SPDX-License-Identifier: MIT */
/* Check tests for the EWS plugin's pure parts: SOAP response parsing
 * (FindFolder, GetFolder, SyncFolderItems, FindItem, GetItem), SOAP faults
 * and ServerBusy back-off, garbage input, base64, xs:dateTime, error
 * classification, folder-tree building and request building.  The replies
 * are those of the protocol brief (shared/docs/ews.md §6), with prefixes
 * changed on purpose: matching must go by namespace URI. */
#include <config.h>
#include "plugins/ews/ews_p.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define ENV_OPEN                                                                     \
	"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\""    \
	" xmlns:x=\"http://schemas.microsoft.com/exchange/services/2006/types\""     \
	" xmlns:h=\"http://schemas.microsoft.com/exchange/services/2006/messages\">" \
	"<soap:Header><x:ServerVersionInfo MajorVersion=\"15\" MinorVersion=\"1\"/></soap:Header><soap:Body>"
#define ENV_CLOSE "</soap:Body></soap:Envelope>"

static const char find_folder_xml[] = ENV_OPEN
	"<h:FindFolderResponse><h:ResponseMessages><h:FindFolderResponseMessage ResponseClass=\"Success\">"
	"<h:ResponseCode>NoError</h:ResponseCode>"
	"<h:RootFolder IndexedPagingOffset=\"4\" TotalItemsInView=\"4\" IncludesLastItemInRange=\"true\"><x:Folders>"
	"<x:Folder><x:FolderId Id=\"F-2024\" ChangeKey=\"1\"/><x:ParentFolderId Id=\"F-PROJ\" ChangeKey=\"1\"/>"
	"<x:FolderClass>IPF.Note</x:FolderClass><x:DisplayName>2024/Q1</x:DisplayName>"
	"<x:TotalCount>1</x:TotalCount><x:ChildFolderCount>0</x:ChildFolderCount></x:Folder>"
	"<x:Folder><x:FolderId Id=\"F-INBOX\" ChangeKey=\"1\"/><x:ParentFolderId Id=\"F-ROOT\" ChangeKey=\"1\"/>"
	"<x:FolderClass>IPF.Note</x:FolderClass><x:DisplayName>Inbox</x:DisplayName>"
	"<x:TotalCount>2</x:TotalCount><x:ChildFolderCount>1</x:ChildFolderCount></x:Folder>"
	"<x:Folder><x:FolderId Id=\"F-PROJ\" ChangeKey=\"1\"/><x:ParentFolderId Id=\"F-INBOX\" ChangeKey=\"1\"/>"
	"<x:FolderClass>IPF.Note</x:FolderClass><x:DisplayName>Projects</x:DisplayName>"
	"<x:TotalCount>0</x:TotalCount><x:ChildFolderCount>1</x:ChildFolderCount></x:Folder>"
	"<x:CalendarFolder><x:FolderId Id=\"F-CAL\" ChangeKey=\"1\"/><x:ParentFolderId Id=\"F-ROOT\" ChangeKey=\"1\"/>"
	"<x:FolderClass>IPF.Appointment</x:FolderClass><x:DisplayName>Calendar</x:DisplayName>"
	"<x:TotalCount>9</x:TotalCount><x:ChildFolderCount>0</x:ChildFolderCount></x:CalendarFolder>"
	"</x:Folders></h:RootFolder></h:FindFolderResponseMessage></h:ResponseMessages></h:FindFolderResponse>" ENV_CLOSE;

static const char *const roles_brief[EWS_ROLE_COUNT] = {
	[EWS_ROLE_ROOT] = "F-ROOT",
	[EWS_ROLE_INBOX] = "F-INBOX",
};

START_TEST(find_folder_brief_paths_rebuilt_and_calendar_skipped)
{
	struct ews_folder_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_find_folder(find_folder_xml, strlen(find_folder_xml), &page,
					       &st),
			 0);
	ck_assert_int_eq(st.cls, EWS_SUCCESS);
	ck_assert_str_eq(st.code, "NoError");
	ck_assert_uint_eq(page.n, 4);
	ck_assert(page.last);
	ck_assert_uint_eq(page.next_offset, 4);
	ck_assert_str_eq(page.v[3].folder_class, "IPF.Appointment");
	ck_assert_uint_eq(page.v[3].total, 9);

	struct ews_tree t;
	ews_tree_build(&page, roles_brief, false, &t);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_eq(t.skipped_class, 1);
	ck_assert_str_eq(t.v[0].path, "INBOX");
	ck_assert_int_eq(t.v[0].special_use, MF_SPECIAL_INBOX);
	ck_assert_str_eq(t.v[1].path, "INBOX/Projects");
	ck_assert_str_eq(t.v[2].path, "INBOX/Projects/2024_Q1");
	ck_assert_str_eq(t.v[2].id, "F-2024");
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "INBOX/Projects"));
	ck_assert_ptr_null(ews_tree_find_path(&t, "Calendar"));
	ews_tree_free(&t);
	ews_folder_page_free(&page);
}
END_TEST

START_TEST(wrong_namespace_is_not_matched)
{
	/* Right local names, wrong namespace URI: must not parse. */
	static const char xml[] =
		"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\""
		" xmlns:h=\"urn:not-exchange\"><soap:Body><h:FindFolderResponse/>"
		"</soap:Body></soap:Envelope>";
	struct ews_folder_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_find_folder(xml, strlen(xml), &page, &st), -1);
	ews_folder_page_free(&page);
}
END_TEST

START_TEST(get_folder_roles_with_missing_folder)
{
	static const char xml[] = ENV_OPEN
		"<h:GetFolderResponse><h:ResponseMessages>"
		"<h:GetFolderResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode>"
		"<h:Folders><x:Folder><x:FolderId Id=\"R\"/></x:Folder></h:Folders></h:GetFolderResponseMessage>"
		"<h:GetFolderResponseMessage ResponseClass=\"Error\"><h:MessageText>nope</h:MessageText>"
		"<h:ResponseCode>ErrorFolderNotFound</h:ResponseCode><h:Folders/></h:GetFolderResponseMessage>"
		"<h:GetFolderResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode>"
		"<h:Folders><x:Folder><x:FolderId Id=\"S\"/></x:Folder></h:Folders></h:GetFolderResponseMessage>"
		"</h:ResponseMessages></h:GetFolderResponse>" ENV_CLOSE;
	char *ids[4] = { 0 };
	struct ews_status sts[4], st;
	size_t got;
	ck_assert_int_eq(ews_parse_get_folder(xml, strlen(xml), ids, sts, 4, &got, &st), 0);
	ck_assert_uint_eq(got, 3);
	ck_assert_str_eq(ids[0], "R");
	ck_assert_ptr_null(ids[1]);
	ck_assert_str_eq(sts[1].code, "ErrorFolderNotFound");
	ck_assert_int_eq(sts[1].cls, EWS_ERROR);
	ck_assert_str_eq(ids[2], "S");
	for (int i = 0; i < 3; i++)
		free(ids[i]);
}
END_TEST

static const char sync_xml[] = ENV_OPEN
	"<h:SyncFolderItemsResponse><h:ResponseMessages>"
	"<h:SyncFolderItemsResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode>"
	"<h:SyncState>H4sIAAAAAAAEAA==</h:SyncState><h:IncludesLastItemInRange>true</h:IncludesLastItemInRange>"
	"<h:Changes>"
	"<x:Create><x:Message><x:ItemId Id=\"I-9\" ChangeKey=\"C9\"/><x:ItemClass>IPM.Note</x:ItemClass><x:Size>800</x:Size>"
	"<x:DateTimeReceived>2024-06-01T00:00:00Z</x:DateTimeReceived></x:Message></x:Create>"
	"<x:Delete><x:ItemId Id=\"I-2\" ChangeKey=\"C2\"/></x:Delete>"
	"<x:ReadFlagChange><x:ItemId Id=\"I-1\" ChangeKey=\"C1b\"/><x:IsRead>false</x:IsRead></x:ReadFlagChange>"
	"<x:Create><x:CalendarItem><x:ItemId Id=\"I-10\"/><x:ItemClass>IPM.Appointment</x:ItemClass></x:CalendarItem></x:Create>"
	"</h:Changes></h:SyncFolderItemsResponseMessage></h:ResponseMessages></h:SyncFolderItemsResponse>" ENV_CLOSE;

START_TEST(sync_items_changes_and_state)
{
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_sync_items(sync_xml, strlen(sync_xml), &page, &st), 0);
	ck_assert_int_eq(st.cls, EWS_SUCCESS);
	ck_assert_str_eq(page.sync_state, "H4sIAAAAAAAEAA==");
	ck_assert(page.last);
	ck_assert_uint_eq(page.n, 4);
	ck_assert_int_eq(page.v[0].change, EWS_CHANGE_CREATE);
	ck_assert_str_eq(page.v[0].id, "I-9");
	ck_assert_str_eq(page.v[0].item_class, "IPM.Note");
	ck_assert_uint_eq(page.v[0].size, 800);
	ck_assert_int_eq(page.v[0].received, 1717200000);
	ck_assert_int_eq(page.v[1].change, EWS_CHANGE_DELETE);
	ck_assert_str_eq(page.v[1].id, "I-2");
	ck_assert_int_eq(page.v[2].change, EWS_CHANGE_READ_FLAG);
	ck_assert_uint_eq(page.v[2].flags & MF_FLAG_SEEN, 0);
	ck_assert(ews_item_class_is_mail(page.v[0].item_class));
	ck_assert(!ews_item_class_is_mail(page.v[3].item_class));
	ews_item_page_free(&page);
}
END_TEST

START_TEST(sync_invalid_state_is_an_error_status)
{
	static const char xml[] = ENV_OPEN
		"<h:SyncFolderItemsResponse><h:ResponseMessages>"
		"<h:SyncFolderItemsResponseMessage ResponseClass=\"Error\"><h:MessageText>bad</h:MessageText>"
		"<h:ResponseCode>ErrorInvalidSyncStateData</h:ResponseCode><h:SyncState/>"
		"</h:SyncFolderItemsResponseMessage></h:ResponseMessages></h:SyncFolderItemsResponse>" ENV_CLOSE;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_sync_items(xml, strlen(xml), &page, &st), 0);
	ck_assert_int_eq(st.cls, EWS_ERROR);
	ck_assert(ews_status_is(&st, "ErrorInvalidSyncStateData"));
	ck_assert_str_eq(st.text, "bad");
	struct mf_error err;
	ck_assert_int_eq(ews_status_error(&st, "ews: a: INBOX", MF_ERR_FOLDER, &err),
			 MF_ERR_FOLDER);
	ck_assert_ptr_nonnull(strstr(err.text, "ErrorInvalidSyncStateData"));
	ews_item_page_free(&page);
}
END_TEST

START_TEST(sync_success_without_state_is_rejected)
{
	static const char xml[] = ENV_OPEN
		"<h:SyncFolderItemsResponse><h:ResponseMessages>"
		"<h:SyncFolderItemsResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode>"
		"<h:Changes/></h:SyncFolderItemsResponseMessage></h:ResponseMessages></h:SyncFolderItemsResponse>" ENV_CLOSE;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_sync_items(xml, strlen(xml), &page, &st), -1);
	ews_item_page_free(&page);
}
END_TEST

START_TEST(find_item_page_offsets)
{
	static const char xml[] = ENV_OPEN
		"<h:FindItemResponse><h:ResponseMessages>"
		"<h:FindItemResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode>"
		"<h:RootFolder IndexedPagingOffset=\"2\" TotalItemsInView=\"3\" IncludesLastItemInRange=\"false\"><x:Items>"
		"<x:Message><x:ItemId Id=\"I-1\" ChangeKey=\"C1\"/><x:ItemClass>IPM.Note</x:ItemClass><x:Size>1200</x:Size>"
		"<x:DateTimeReceived>2024-05-01T10:20:30Z</x:DateTimeReceived><x:IsRead>true</x:IsRead></x:Message>"
		"<x:MeetingRequest><x:ItemId Id=\"I-2\" ChangeKey=\"C2\"/><x:ItemClass>IPM.Schedule.Meeting.Request</x:ItemClass>"
		"<x:Size>5400</x:Size><x:DateTimeReceived>2024-05-02T08:00:00Z</x:DateTimeReceived><x:IsRead>false</x:IsRead></x:MeetingRequest>"
		"<x:Message><x:ItemClass>IPM.Note</x:ItemClass></x:Message>"
		"</x:Items></h:RootFolder></h:FindItemResponseMessage></h:ResponseMessages></h:FindItemResponse>" ENV_CLOSE;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_find_item(xml, strlen(xml), &page, &st), 0);
	ck_assert(!page.last);
	ck_assert_uint_eq(page.next_offset, 2);
	ck_assert_uint_eq(page.n, 2); /* the id-less one is dropped */
	ck_assert_str_eq(page.v[1].id, "I-2");
	ck_assert(ews_item_class_is_mail(page.v[1].item_class));
	ck_assert_uint_eq(page.v[0].flags, MF_FLAG_SEEN);
	ck_assert_int_eq(page.v[0].received, 1714558830);
	ews_item_page_free(&page);
}
END_TEST

static const char get_item_xml[] = ENV_OPEN
	"<h:GetItemResponse><h:ResponseMessages>"
	"<h:GetItemResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode><h:Items>"
	"<x:Message><x:MimeContent CharacterSet=\"UTF-8\">RnJvbTogYUBleGFtcGxlLmNvbQ0KU3ViamVjdDogSGkNCk1lc3Nh\n"
	"Z2UtSUQ6IDwxQGV4YW1wbGUuY29tPg0KDQpIZWxsbw0K</x:MimeContent>"
	"<x:ItemId Id=\"I-1\" ChangeKey=\"C1\"/><x:ItemClass>IPM.Note</x:ItemClass><x:Size>1200</x:Size>"
	"<x:DateTimeReceived>2024-05-01T10:20:30Z</x:DateTimeReceived><x:IsDraft>false</x:IsDraft>"
	"<x:ExtendedProperty><x:ExtendedFieldURI PropertyTag=\"0x1090\" PropertyType=\"Integer\"/><x:Value>2</x:Value></x:ExtendedProperty>"
	"<x:ExtendedProperty><x:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/><x:Value>102</x:Value></x:ExtendedProperty>"
	"<x:IsRead>true</x:IsRead><x:InternetMessageId>&lt;1@example.com&gt;</x:InternetMessageId></x:Message>"
	"</h:Items></h:GetItemResponseMessage>"
	"<h:GetItemResponseMessage ResponseClass=\"Error\"><h:MessageText>The specified object was not found in the store.</h:MessageText>"
	"<h:ResponseCode>ErrorItemNotFound</h:ResponseCode><h:DescriptiveLinkKey>0</h:DescriptiveLinkKey><h:Items/>"
	"</h:GetItemResponseMessage>"
	"<h:GetItemResponseMessage ResponseClass=\"Error\"><h:MessageText>conv</h:MessageText>"
	"<h:ResponseCode>ErrorMimeContentConversionFailed</h:ResponseCode><h:Items/></h:GetItemResponseMessage>"
	"<h:GetItemResponseMessage ResponseClass=\"Success\"><h:ResponseCode>NoError</h:ResponseCode><h:Items>"
	"<x:Message><x:MimeContent>!!notbase64!!</x:MimeContent><x:ItemId Id=\"I-4\"/></x:Message>"
	"</h:Items></h:GetItemResponseMessage>"
	"</h:ResponseMessages></h:GetItemResponse>" ENV_CLOSE;

START_TEST(get_item_mime_flags_and_item_errors)
{
	static const char expect[] = "From: a@example.com\r\nSubject: Hi\r\n"
				     "Message-ID: <1@example.com>\r\n\r\nHello\r\n";
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_get_item(get_item_xml, strlen(get_item_xml), &page, &st), 0);
	ck_assert_uint_eq(page.n, 4);
	struct ews_item *a = &page.v[0];
	ck_assert(a->has_mime);
	ck_assert(!a->mime_bad);
	ck_assert_uint_eq(a->mime.len, 72);
	ck_assert_uint_eq(a->mime.len, strlen(expect));
	ck_assert(memcmp(a->mime.data, expect, a->mime.len) == 0);
	ck_assert_uint_eq(a->flags, MF_FLAG_SEEN | MF_FLAG_FLAGGED | MF_FLAG_ANSWERED);
	ck_assert_int_eq(a->received, 1714558830);
	ck_assert_str_eq(a->id, "I-1");
	ck_assert_int_eq(page.v[1].st.cls, EWS_ERROR);
	ck_assert(ews_status_is(&page.v[1].st, "ErrorItemNotFound"));
	ck_assert_ptr_null(page.v[1].id);
	ck_assert(ews_status_item_unexportable(&page.v[2].st));
	ck_assert(page.v[3].has_mime);
	ck_assert(page.v[3].mime_bad);
	ews_item_page_free(&page);
}
END_TEST

START_TEST(get_item_stream_fed_byte_by_byte)
{
	/* The network hands over arbitrary pieces: one byte at a time must
	 * give what the whole buffer gives. */
	struct ews_item_page whole = { 0 }, piece = { 0 };
	struct ews_status st1, st2;
	size_t len = strlen(get_item_xml);
	ck_assert_int_eq(ews_parse_get_item(get_item_xml, len, &whole, &st1), 0);
	struct ews_getitem_stream *g = ews_getitem_stream_new(&piece, &st2);
	for (size_t i = 0; i < len; i++)
		ews_getitem_stream_feed(g, get_item_xml + i, 1);
	ck_assert_int_eq(ews_getitem_stream_finish(g), 0);
	ews_getitem_stream_free(&g);
	ck_assert_ptr_null(g);
	ck_assert_uint_eq(piece.n, whole.n);
	for (size_t i = 0; i < whole.n; i++) {
		ck_assert_uint_eq(piece.v[i].mime.len, whole.v[i].mime.len);
		ck_assert(whole.v[i].mime.len == 0 ||
			  memcmp(piece.v[i].mime.data, whole.v[i].mime.data, whole.v[i].mime.len) ==
				  0);
		ck_assert_uint_eq(piece.v[i].flags, whole.v[i].flags);
		ck_assert_str_eq(piece.v[i].st.code, whole.v[i].st.code);
		ck_assert_int_eq(piece.v[i].mime_bad, whole.v[i].mime_bad);
	}
	ck_assert_uint_eq(piece.v[0].mime.len, 72);
	ews_item_page_free(&whole);
	ews_item_page_free(&piece);
	/* Cut off mid-MimeContent: not a reply. */
	g = ews_getitem_stream_new(&piece, &st2);
	ews_getitem_stream_feed(g, get_item_xml, len / 2);
	ck_assert_int_eq(ews_getitem_stream_finish(g), -1);
	ews_getitem_stream_free(&g);
	ews_item_page_free(&piece);
}
END_TEST

static const char busy_fault_xml[] =
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
	"<faultcode xmlns:a=\"http://schemas.microsoft.com/exchange/services/2006/types\">a:ErrorServerBusy</faultcode>"
	"<faultstring xml:lang=\"en-US\">The server cannot service this request right now. Try again later.</faultstring>"
	"<detail><e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorServerBusy</e:ResponseCode>"
	"<e:Message xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">The server cannot service this request right now.</e:Message>"
	"<t:MessageXml xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\">"
	"<t:Value Name=\"BackOffMilliseconds\">3000</t:Value></t:MessageXml></detail>"
	"</s:Fault></s:Body></s:Envelope>";

START_TEST(server_busy_fault_gives_backoff)
{
	struct ews_status st;
	ck_assert_int_eq(ews_parse_status(busy_fault_xml, strlen(busy_fault_xml), &st), 0);
	ck_assert(st.fault);
	ck_assert_str_eq(st.code, "ErrorServerBusy");
	ck_assert_uint_eq(st.backoff_ms, 3000);
	/* Every operation parser sees the fault too. */
	struct ews_item_page page = { 0 };
	ck_assert_int_eq(ews_parse_get_item(busy_fault_xml, strlen(busy_fault_xml), &page, &st), 0);
	ck_assert(st.fault);
	ck_assert_uint_eq(page.n, 0);
	struct mf_error err;
	ck_assert_int_eq(ews_status_error(&st, "ews: alice", MF_ERR_FOLDER, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_uint_eq(err.retry_after_ms, 3000);
	ck_assert_ptr_nonnull(strstr(err.text, "ews: alice: ErrorServerBusy"));
	ews_item_page_free(&page);
}
END_TEST

START_TEST(server_busy_in_200_reply_backoff_from_text)
{
	static const char xml[] = ENV_OPEN
		"<h:FindItemResponse><h:ResponseMessages><h:FindItemResponseMessage ResponseClass=\"Error\">"
		"<h:MessageText>The request failed because the server is busy: policy part 'ConcurrentSyncCalls', "
		"policy value '5'. Suggested backoff time 4500 ms.</h:MessageText>"
		"<h:ResponseCode>ErrorServerBusy</h:ResponseCode></h:FindItemResponseMessage>"
		"</h:ResponseMessages></h:FindItemResponse>" ENV_CLOSE;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_find_item(xml, strlen(xml), &page, &st), 0);
	ck_assert(!st.fault);
	ck_assert(ews_status_is_busy(&st));
	ck_assert_uint_eq(st.backoff_ms, 0);
	struct mf_error err;
	ck_assert_int_eq(ews_status_error(&st, "w", MF_ERR_FOLDER, &err), MF_ERR_ACCOUNT);
	ck_assert_uint_eq(err.retry_after_ms, 4500);
	ews_item_page_free(&page);
}
END_TEST

START_TEST(internal_error_with_inner_busy_is_throttling)
{
	static const char xml[] = ENV_OPEN
		"<h:GetItemResponse><h:ResponseMessages><h:GetItemResponseMessage ResponseClass=\"Error\">"
		"<h:MessageText>x</h:MessageText><h:ResponseCode>ErrorInternalServerError</h:ResponseCode>"
		"<h:MessageXml><x:Value Name=\"InnerErrorResponseCode\">ErrorServerBusy</x:Value>"
		"<x:Value Name=\"BackOffMilliseconds\">250</x:Value></h:MessageXml><h:Items/>"
		"</h:GetItemResponseMessage></h:ResponseMessages></h:GetItemResponse>" ENV_CLOSE;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_get_item(xml, strlen(xml), &page, &st), 0);
	ck_assert_str_eq(page.v[0].st.inner, "ErrorServerBusy");
	ck_assert(ews_status_is_busy(&page.v[0].st));
	struct mf_error err;
	ews_status_error(&page.v[0].st, "w", MF_ERR_MESSAGE, &err);
	ck_assert_int_eq(err.status, MF_ERR_ACCOUNT);
	ck_assert_uint_eq(err.retry_after_ms, 250);
	ews_item_page_free(&page);
}
END_TEST

START_TEST(error_classes)
{
	struct ews_status st = { .cls = EWS_ERROR };
	struct mf_error err;
	snprintf(st.code, sizeof(st.code), "ErrorImpersonateUserDenied");
	ck_assert_int_eq(ews_status_error(&st, "w", MF_ERR_FOLDER, &err), MF_ERR_AUTH);
	snprintf(st.code, sizeof(st.code), "ErrorMailboxStoreUnavailable");
	ck_assert_int_eq(ews_status_error(&st, "w", MF_ERR_FOLDER, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	snprintf(st.code, sizeof(st.code), "ErrorTooManyObjectsOpened");
	ews_status_error(&st, "w", MF_ERR_FOLDER, &err);
	ck_assert_uint_eq(err.retry_after_ms, 30000);
	snprintf(st.code, sizeof(st.code), "ErrorNonExistentMailbox");
	ck_assert_int_eq(ews_status_error(&st, "w", MF_ERR_FOLDER, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_NEVER);
	snprintf(st.code, sizeof(st.code), "ErrorSomethingNew");
	ck_assert_int_eq(ews_status_error(&st, "w", MF_ERR_FOLDER, &err), MF_ERR_FOLDER);
	snprintf(st.code, sizeof(st.code), "ErrorInvalidServerVersion");
	ck_assert(ews_status_is_version(&st));
}
END_TEST

START_TEST(garbage_is_rejected)
{
	static const char *const bad[] = {
		"",
		"not xml at all",
		"<a/>",
		"<?xml version=\"1.0\"?>",
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>",
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>",
		"<Envelope><Body><FindFolderResponse/></Body></Envelope>",
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>"
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>&lol2;</s:Body></s:Envelope>",
		"<html><body>Server Error in '/EWS' Application.</body></html>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ews_folder_page fp = { 0 };
		struct ews_item_page ip = { 0 };
		struct ews_status st;
		size_t len = strlen(bad[i]);
		ck_assert_int_eq(ews_parse_find_folder(bad[i], len, &fp, &st), -1);
		ck_assert_int_eq(ews_parse_sync_items(bad[i], len, &ip, &st), -1);
		ck_assert_int_eq(ews_parse_get_item(bad[i], len, &ip, &st), -1);
		ck_assert_int_eq(ews_parse_status(bad[i], len, &st), -1);
		ews_folder_page_free(&fp);
		ews_item_page_free(&ip);
	}
	/* A valid SyncFolderItems reply is no FindFolder reply. */
	struct ews_folder_page fp = { 0 };
	struct ews_status st;
	ck_assert_int_eq(ews_parse_find_folder(sync_xml, strlen(sync_xml), &fp, &st), -1);
	ews_folder_page_free(&fp);
}
END_TEST

START_TEST(datetime_forms)
{
	int64_t t;
	ck_assert(mf_parse_iso8601_date("2024-05-01T10:20:30Z", &t));
	ck_assert_int_eq(t, 1714558830);
	ck_assert(mf_parse_iso8601_date("2024-05-01T10:20:30.123Z", &t));
	ck_assert_int_eq(t, 1714558830);
	ck_assert(mf_parse_iso8601_date("2024-05-01T12:20:30+02:00", &t));
	ck_assert_int_eq(t, 1714558830);
	ck_assert(mf_parse_iso8601_date("2024-05-01T10:20:30", &t));
	ck_assert_int_eq(t, 1714558830);
	ck_assert(mf_parse_iso8601_date("1970-01-01T00:00:00Z", &t));
	ck_assert_int_eq(t, 0);
	ck_assert(mf_parse_iso8601_date("2000-02-29T00:00:00Z", &t));
	ck_assert_int_eq(t, 951782400);
	ck_assert(!mf_parse_iso8601_date("2024-13-01T10:20:30Z", &t));
	ck_assert(!mf_parse_iso8601_date("2024-05-01 10:20:30Z", &t));
	ck_assert(!mf_parse_iso8601_date("2024-05-01T10:20:30Zjunk", &t));
	ck_assert(!mf_parse_iso8601_date("yesterday", &t));
	ck_assert(!mf_parse_iso8601_date(NULL, &t));
}
END_TEST

static void add_folder(struct ews_folder_page *p, const char *id, const char *parent,
		       const char *name, const char *cls, bool search)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = mf_xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = (struct ews_folder_info){
		.id = mf_xstrdup(id),
		.parent_id = parent ? mf_xstrdup(parent) : NULL,
		.name = name ? mf_xstrdup(name) : NULL,
		.folder_class = cls ? mf_xstrdup(cls) : NULL,
		.total = 0,
		.search = search,
	};
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No two folders may share a path: fetch() finds folders by path. */
static void assert_unique_paths(const struct ews_tree *t)
{
	const char **v = mf_xcalloc(t->n + 1, sizeof(*v));
	for (size_t i = 0; i < t->n; i++)
		v[i] = t->v[i].path;
	qsort(v, t->n, sizeof(*v), str_cmp);
	for (size_t i = 1; i < t->n; i++)
		ck_assert_msg(strcmp(v[i - 1], v[i]) != 0, "path %s twice", v[i]);
	free(v);
}

START_TEST(tree_orphans_cycles_collisions_system)
{
	struct ews_folder_page p = { 0 };
	add_folder(&p, "IN", "R", "Posteingang", "IPF.Note", false);
	add_folder(&p, "SE", "R", "Gesendete Elemente", "IPF.Note", false);
	add_folder(&p, "A1", "R", "a/b", "IPF.Note", false);
	add_folder(&p, "A2", "R", "a_b", NULL, false); /* no class: mail */
	add_folder(&p, "A1C", "A1", "child", "IPF.Note.Foo", false);
	add_folder(&p, "ORPH", "GONE", "Orphan", "IPF.Note", false);
	add_folder(&p, "C1", "C2", "cyc1", "IPF.Note", false);
	add_folder(&p, "C2", "C1", "cyc2", "IPF.Note", false);
	add_folder(&p, "OB", "R", "Postausgang", "IPF.Note", false);
	add_folder(&p, "OBC", "OB", "under outbox", "IPF.Note", false);
	add_folder(&p, "SR", "R", "Unread", "IPF.Note", true);
	add_folder(&p, "CAL", "R", "Kalender", "IPF.Appointment.Birthday", false);
	add_folder(&p, "CALM", "CAL", "mail in cal", "IPF.Note", false);
	add_folder(&p, "UI", "R", "INBOX", "IPF.Note", false);      /* user folder "INBOX" */
	add_folder(&p, "O2", "GONE2", "Orphan", "IPF.Note", false); /* same top-level name */
	add_folder(&p, "C3", "C4", "Orphan", "IPF.Note", false);    /* cycle member, same name */
	add_folder(&p, "C4", "C3", "x", "IPF.Note", false);
	add_folder(&p, "IN", "R", "Posteingang", "IPF.Note", false); /* listed twice */
	const char *roles[EWS_ROLE_COUNT] = {
		[EWS_ROLE_ROOT] = "R",
		[EWS_ROLE_INBOX] = "IN",
		[EWS_ROLE_SENT] = "SE",
		[EWS_ROLE_OUTBOX] = "OB",
	};
	struct ews_tree t;
	ews_tree_build(&p, roles, false, &t);
	ck_assert_uint_eq(t.skipped_class, 2);  /* search + calendar */
	ck_assert_uint_eq(t.skipped_system, 2); /* outbox + its child */
	const struct ews_tree_folder *f = ews_tree_find_path(&t, "INBOX");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->id, "IN");
	ck_assert_int_eq(f->special_use, MF_SPECIAL_INBOX);
	f = ews_tree_find_path(&t, "INBOX~2");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->id, "UI");
	ck_assert_int_eq(ews_tree_find_path(&t, "Gesendete Elemente")->special_use,
			 MF_SPECIAL_SENT);
	/* "a/b" and "a_b" collide once escaped: the subtree keeps its own. */
	const struct ews_tree_folder *x = ews_tree_find_path(&t, "a_b");
	const struct ews_tree_folder *y = ews_tree_find_path(&t, "a_b~2");
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	const char *child_path = strcmp(x->id, "A1") == 0 ? "a_b/child" : "a_b~2/child";
	ck_assert_str_eq(ews_tree_find_path(&t, child_path)->id, "A1C");
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "Orphan"));
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "Kalender/mail in cal"));
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "cyc1"));
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "cyc2"));
	ck_assert_uint_eq(t.n, 13);
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "Orphan~2"));
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "Orphan~3"));
	for (size_t i = 1; i < t.n; i++)
		ck_assert_uint_le(t.v[i - 1].depth, t.v[i].depth);
	assert_unique_paths(&t);
	ews_tree_free(&t);

	ews_tree_build(&p, roles, true, &t);
	ck_assert_uint_eq(t.skipped_system, 0);
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "Postausgang/under outbox"));
	ews_tree_free(&t);
	ews_folder_page_free(&p);
}
END_TEST

START_TEST(tree_deep_and_wide_stays_cheap)
{
	/* 3000 nested folders and 20000 same-named siblings: bounded work
	 * (depth cap 128, sorted sibling dedupe), unique paths. */
	struct ews_folder_page p = { 0 };
	char id[32], parent[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "D%d", i);
		snprintf(parent, sizeof(parent), i == 0 ? "R" : "D%d", i - 1);
		add_folder(&p, id, parent, "d", "IPF.Note", false);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "W%d", i);
		add_folder(&p, id, "R", "same", "IPF.Note", false);
	}
	const char *roles[EWS_ROLE_COUNT] = { [EWS_ROLE_ROOT] = "R" };
	struct ews_tree t;
	ews_tree_build(&p, roles, false, &t);
	ck_assert_uint_eq(t.n, 23000);
	for (size_t i = 0; i < t.n; i++)
		ck_assert_uint_le(t.v[i].depth, 128);
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "same"));
	ck_assert_ptr_nonnull(ews_tree_find_path(&t, "same~20000"));
	assert_unique_paths(&t);
	ews_tree_free(&t);
	ews_folder_page_free(&p);
}
END_TEST

static const char *after(const char *hay, const char *a, const char *b)
{
	const char *pa = strstr(hay, a), *pb = strstr(hay, b);
	return pa != NULL && pb != NULL && pa < pb ? pb : NULL;
}

START_TEST(requests_escape_and_keep_schema_order)
{
	struct mf_buf body = { 0 }, env = { 0 };
	ews_req_sync_items(&body, "id\"<&>", "st&ate", 200);
	const char *b = (const char *)body.data;
	ck_assert_ptr_nonnull(after(b, "<m:ItemShape>", "<m:SyncFolderId>"));
	ck_assert_ptr_nonnull(
		after(b, "<m:SyncFolderId>", "<m:SyncState>st&amp;ate</m:SyncState>"));
	ck_assert_ptr_nonnull(after(b, "</m:SyncState>", "<m:MaxChangesReturned>200<"));
	ck_assert_ptr_nonnull(strstr(b, "Id=\"id&quot;&lt;&amp;&gt;\""));
	ews_req_envelope(&env, "Exchange2013_SP1", "a&b@example.com", b);
	const char *e = (const char *)env.data;
	ck_assert_ptr_nonnull(strstr(e, "<t:RequestServerVersion Version=\"Exchange2013_SP1\"/>"));
	ck_assert_ptr_nonnull(
		strstr(e, "<t:PrimarySmtpAddress>a&amp;b@example.com</t:PrimarySmtpAddress>"));
	ck_assert_ptr_nonnull(after(e, "<s:Header>", "<s:Body>"));

	mf_buf_clear(&body);
	ews_req_sync_items(&body, "F", NULL, 5);
	ck_assert_ptr_null(strstr((const char *)body.data, "SyncState"));
	mf_buf_clear(&body);
	ews_req_find_folder(&body, 500, 250);
	b = (const char *)body.data;
	ck_assert_ptr_nonnull(
		after(b, "<m:FolderShape>",
		      "<m:IndexedPageFolderView MaxEntriesReturned=\"250\" Offset=\"500\""));
	ck_assert_ptr_nonnull(after(b, "<m:IndexedPageFolderView", "<m:ParentFolderIds>"));
	mf_buf_clear(&body);
	const char *ids[] = { "A", "B+/=" };
	ews_req_get_item(&body, ids, 2);
	b = (const char *)body.data;
	ck_assert_ptr_nonnull(after(b, "<t:IncludeMimeContent>true",
				    "<m:ItemIds><t:ItemId Id=\"A\"/><t:ItemId Id=\"B+/=\"/>"));
	ck_assert_ptr_nonnull(strstr(b, "PropertyTag=\"0x1090\""));
	mf_buf_clear(&env);
	ews_req_envelope(&env, "Exchange2010_SP2", NULL, "<m:X/>");
	ck_assert_ptr_null(strstr((const char *)env.data, "ExchangeImpersonation"));
	mf_buf_free(&body);
	mf_buf_free(&env);
}
END_TEST

START_TEST(retry_after_forms)
{
	ck_assert_uint_eq(ews_retry_after_ms("120", 0), 120000);
	ck_assert_uint_eq(ews_retry_after_ms("0", 0), 0);
	ck_assert_uint_eq(ews_retry_after_ms("", 0), 0);
	ck_assert_uint_eq(ews_retry_after_ms(NULL, 0), 0);
	ck_assert_uint_eq(ews_retry_after_ms("soon", 0), 0);
	/* HTTP-date (RFC 9110 §5.6.7): 1994-11-06 08:49:37 = 784111777 */
	ck_assert_uint_eq(ews_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30),
			  30000);
	ck_assert_uint_eq(ews_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);
}
END_TEST

START_TEST(folder_classes)
{
	ck_assert(ews_folder_class_is_mail("IPF.Note"));
	ck_assert(ews_folder_class_is_mail("IPF.Note.OutlookHomepage"));
	ck_assert(ews_folder_class_is_mail(NULL));
	ck_assert(ews_folder_class_is_mail(""));
	ck_assert(!ews_folder_class_is_mail("IPF.Notes"));
	ck_assert(!ews_folder_class_is_mail("IPF.Appointment"));
	ck_assert(!ews_folder_class_is_mail("IPF.Contact.MOC.QuickContacts"));
	ck_assert(!ews_folder_class_is_mail("IPF.StickyNote"));
	ck_assert(ews_item_class_is_mail("REPORT.IPM.Note.NDR"));
	ck_assert(ews_item_class_is_mail("IPM.Note.SMIME.MultipartSigned"));
	ck_assert(!ews_item_class_is_mail("IPM.Contact"));
	ck_assert(!ews_item_class_is_mail("IPM.StickyNote"));
}
END_TEST

static Suite *ews_suite(void)
{
	Suite *s = suite_create("ews");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, find_folder_brief_paths_rebuilt_and_calendar_skipped);
	tcase_add_test(tc, wrong_namespace_is_not_matched);
	tcase_add_test(tc, get_folder_roles_with_missing_folder);
	tcase_add_test(tc, sync_items_changes_and_state);
	tcase_add_test(tc, sync_invalid_state_is_an_error_status);
	tcase_add_test(tc, sync_success_without_state_is_rejected);
	tcase_add_test(tc, find_item_page_offsets);
	tcase_add_test(tc, get_item_mime_flags_and_item_errors);
	tcase_add_test(tc, get_item_stream_fed_byte_by_byte);
	tcase_add_test(tc, server_busy_fault_gives_backoff);
	tcase_add_test(tc, server_busy_in_200_reply_backoff_from_text);
	tcase_add_test(tc, internal_error_with_inner_busy_is_throttling);
	tcase_add_test(tc, garbage_is_rejected);
	suite_add_tcase(s, tc);
	tc = tcase_create("util");
	tcase_add_test(tc, error_classes);
	tcase_add_test(tc, datetime_forms);
	tcase_add_test(tc, tree_orphans_cycles_collisions_system);
	tcase_add_test(tc, tree_deep_and_wide_stays_cheap);
	tcase_add_test(tc, requests_escape_and_keep_schema_order);
	tcase_add_test(tc, retry_after_forms);
	tcase_add_test(tc, folder_classes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ews_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
