/* SPDX-License-Identifier: MIT */
/* Date parsing and formatting helpers of libmailferry: RFC 5322 Date:
 * values (with the obsolete forms of §4.3), asctime-style dates as found on
 * mbox "From " separator lines, and the IMAP INTERNALDATE / RFC 5322 output
 * forms.  They face text from user files and servers: every input is
 * accepted or refused (false), never trusted.  No locale, no TZ variable,
 * no global state; safe from any thread. */
#ifndef MAILFERRY_DATE_H
#define MAILFERRY_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parse an RFC 5322 §3.3 date-time in s[0..len) (no NUL needed; a NUL
 * byte is junk).  Accepted beyond the strict grammar: comments anywhere,
 * full day/month names, missing day-of-week, missing seconds, '-' between
 * day, month and year, 2- and 3-digit years (§4.3), named zones (UT, GMT,
 * the US zones of §4.3, common European/Asian abbreviations; other
 * alphabetic zones count as -0000 as §4.3 says), "+hh:mm", "GMT+hhmm", a
 * missing zone (taken as UTC), one trailing zone name after a numeric zone
 * ("+0200 CEST"), and an asctime date ("Tue Jul  1 10:52:37 2003").
 * On success *epoch_r is seconds since 1970-01-01 UTC and *tz_min_r the
 * zone in minutes east of UTC; on failure they are left alone. */
bool mf_parse_rfc5322_date(const char *s, size_t len, int64_t *epoch_r, int32_t *tz_min_r);

/* Parse an asctime-style date "Thu Nov 26 12:00:00 2026" as written on
 * mbox From_ lines, with the variants seen in the wild: day padded by a
 * space or a zero, missing seconds, a zone before or after the year
 * ("Sat Jan 03 01:05:34 +0000 2015" from Gmail exports, "... 12:00:00 EST
 * 2026" from date(1)).  Text after the year and zone ("remote from
 * host") is ignored if separated by a space.  Without a zone the time is
 * taken as UTC (*tz_min_r = 0): From_ lines carry the delivering host's
 * local time, which is unknowable later. */
bool mf_parse_asctime_date(const char *s, size_t len, int64_t *epoch_r, int32_t *tz_min_r);

/* Find the date on an mbox separator line (with or without the leading
 * "From " and the line end): the first position after a space from which
 * mf_parse_asctime_date() or mf_parse_rfc5322_date() succeeds.  Used both
 * to tell separators from body text and to get the internal date. */
bool mf_parse_from_line_date(const char *line, size_t len, int64_t *epoch_r, int32_t *tz_min_r);

/* An ISO 8601 / xs:dateTime timestamp as EWS and Microsoft Graph send
 * them: "2024-05-01T10:20:30Z", fractional seconds ignored, "+02:00"
 * offsets, no zone = UTC; nothing may follow. */
bool mf_parse_iso8601_date(const char *s, int64_t *epoch_r);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t mf_days_from_civil(int64_t year, unsigned month, unsigned day);

/* "27-Nov-2026 03:35:11 +0000" (RFC 3501 date-time, without quotes) and
 * "Fri, 27 Nov 2026 03:35:11 +0000" (RFC 5322); out gets a NUL.  Both
 * write the time as seen in zone tz_min.  Return false (out = "") if the
 * date is outside years 1..9999 or out is too small (32 bytes suffice). */
bool mf_format_imap_date(int64_t epoch, int32_t tz_min, char *out, size_t cap);
bool mf_format_rfc5322_date(int64_t epoch, int32_t tz_min, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
