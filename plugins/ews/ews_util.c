/* SPDX-License-Identifier: MIT */
/* Pure helpers of the EWS plugin: xs:dateTime, XML escaping, item/folder
 * class filters, and the mapping of EWS ResponseCodes onto mailferry's
 * error classes (protocol brief §5).  No state, no network.  MimeContent's
 * base64 is libmailferry's (mf_base64_feed, lenient about line breaks). */
#include <config.h>
#include "ews_p.h"

#include <mailferry/date.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ews_xml_escape(struct mf_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': mf_buf_append_str(b, "&amp;"); break;
		case '<': mf_buf_append_str(b, "&lt;"); break;
		case '>': mf_buf_append_str(b, "&gt;"); break;
		case '"': mf_buf_append_str(b, "&quot;"); break;
		case '\'': mf_buf_append_str(b, "&apos;"); break;
		default: mf_buf_append(b, s, 1); break;
		}
	}
}

static bool prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* §4 "Item classes": migrate notes (incl. S/MIME), posts, meeting
 * messages (their MIME carries text/calendar), reports, recalls, sharing;
 * skip appointments, contacts, tasks, sticky notes, journal entries that
 * users dragged into mail folders.  No class: assume mail. */
bool ews_item_class_is_mail(const char *c)
{
	if (c == NULL || *c == '\0')
		return true;
	return strcmp(c, "IPM") == 0 || prefix(c, "IPM.Note") || prefix(c, "IPM.Post") ||
	       prefix(c, "IPM.Schedule.Meeting") || prefix(c, "REPORT.IPM.") ||
	       prefix(c, "IPM.Outlook.Recall") || prefix(c, "IPM.Sharing") ||
	       prefix(c, "IPM.Recall");
}

/* §2.4: keep IPF.Note, IPF.Note.* and folders without a class; skip every
 * other class (IPF.Appointment, IPF.Contact, IPF.Task, IPF.StickyNote,
 * IPF.Journal, IPF.Configuration, IPF.Files, ...).  IPF.Note.OutlookHomepage
 * (RSS feeds) is kept: it holds messages. */
bool ews_folder_class_is_mail(const char *c)
{
	if (c == NULL || *c == '\0')
		return true;
	return strcmp(c, "IPF.Note") == 0 || prefix(c, "IPF.Note.");
}

bool ews_status_is(const struct ews_status *st, const char *code)
{
	return strcmp(st->code, code) == 0;
}

bool ews_status_is_busy(const struct ews_status *st)
{
	return ews_status_is(st, "ErrorServerBusy") ||
	       (ews_status_is(st, "ErrorInternalServerError") &&
		strcmp(st->inner, "ErrorServerBusy") == 0);
}

bool ews_status_is_version(const struct ews_status *st)
{
	return ews_status_is(st, "ErrorInvalidServerVersion") ||
	       ews_status_is(st, "ErrorInvalidSchemaVersionForMailboxVersion") ||
	       strstr(st->text, "The specified server version is invalid") != NULL;
}

bool ews_status_item_unexportable(const struct ews_status *st)
{
	return ews_status_is(st, "ErrorMimeContentConversionFailed") ||
	       ews_status_is(st, "ErrorItemCorrupt") || ews_status_is(st, "ErrorCorruptData") ||
	       ews_status_is(st, "ErrorMessageSizeExceeded");
}

/* "Suggested backoff time 3000 ms" inside MessageText, for servers that
 * omit BackOffMilliseconds (mustang-im/mustang#121). */
static uint32_t backoff_from_text(const char *text)
{
	const char *p = strstr(text, "backoff time ");
	if (p == NULL)
		p = strstr(text, "Backoff Time: ");
	if (p == NULL)
		return 0;
	p = strchr(p, ' ') + 1;
	while (*p != '\0' && (*p < '0' || *p > '9'))
		p++;
	uint64_t v = 0;
	while (*p >= '0' && *p <= '9' && v < UINT32_MAX)
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static const char *const transient_codes[] = { "ErrorExceededConnectionCount",
					       "ErrorTooManyObjectsOpened",
					       "ErrorTimeoutExpired",
					       "ErrorInternalServerTransientError",
					       "ErrorMailboxMoveInProgress",
					       "ErrorMailboxStoreUnavailable",
					       "ErrorNoRespondingCASInDestinationSite",
					       "ErrorConnectionFailed",
					       NULL };

static const char *const auth_codes[] = {
	"ErrorImpersonateUserDenied", "ErrorImpersonationFailed",
	"ErrorAccessDenied",          "ErrorInvalidExchangeImpersonationHeaderData",
	"ErrorInvalidLicense",        NULL
};

static const char *const mailbox_codes[] = { "ErrorNonExistentMailbox",
					     "ErrorMailboxConfiguration",
					     "ErrorSchemaValidation",
					     "ErrorInvalidServerVersion",
					     "ErrorInvalidSchemaVersionForMailboxVersion",
					     "ErrorInvalidRequest",
					     NULL };

static bool in_list(const char *const *list, const char *code)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, code) == 0)
			return true;
	return false;
}

int ews_status_error(const struct ews_status *st, const char *what, enum mf_status dflt,
		     struct mf_error *err)
{
	enum mf_status status = dflt;
	enum mf_retry retry = MF_RETRY_NEVER;
	uint32_t after = 0;

	if (ews_status_is_busy(st)) {
		/* Pause the whole mailbox for BackOffMilliseconds; the core
		 * adds jitter and owns the retry (brief §5). */
		status = MF_ERR_ACCOUNT;
		retry = MF_RETRY_LATER;
		after = st->backoff_ms ? st->backoff_ms : backoff_from_text(st->text);
	} else if (in_list(transient_codes, st->code)) {
		status = MF_ERR_ACCOUNT;
		retry = MF_RETRY_LATER;
		after = st->backoff_ms;
		/* No Retry-After for these (microsoftgraph docs #8266):
		 * 30 s is the low end of the 30-60 s the brief advises. */
		if (after == 0 && ews_status_is(st, "ErrorTooManyObjectsOpened"))
			after = 30000;
	} else if (in_list(auth_codes, st->code)) {
		status = MF_ERR_AUTH;
	} else if (in_list(mailbox_codes, st->code)) {
		status = MF_ERR_ACCOUNT;
	}
	int rc = mf_error_set(err, status, retry, "%s: %s%s%s", what, st->code,
			      st->text[0] ? ": " : "", st->text);
	if (err != NULL)
		err->retry_after_ms = after;
	return rc;
}
