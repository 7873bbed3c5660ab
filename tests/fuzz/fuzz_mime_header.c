/* SPDX-License-Identifier: MIT */
/* libFuzzer target for libmailferry's header reader and date parsers
 * (lib/mime_header.c, lib/date.c): field iteration, lookup and unfolding,
 * Received: dates, and RFC 5322 / asctime / From_-line dates.  A date that
 * parses must format and parse back to the same instant and zone. */
#include <config.h>
#include <mailferry/date.h>
#include <mailferry/mime.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int64_t e, int32_t tz)
{
	char b[64];
	int64_t e2;
	int32_t tz2;
	if (mf_format_rfc5322_date(e, tz, b, sizeof(b))) {
		if (!mf_parse_rfc5322_date(b, strlen(b), &e2, &tz2) || e2 != e || tz2 != tz)
			abort();
	}
	if (mf_format_imap_date(e, tz, b, sizeof(b))) {
		if (!mf_parse_rfc5322_date(b, strlen(b), &e2, &tz2) || e2 != e || tz2 != tz)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Date", "Subject", "Received", "Status", "X" };
	struct mf_buf v = { 0 };
	int64_t e;
	int32_t tz;

	size_t hlen = mf_header_block_len(data, size);
	if (hlen > size)
		abort();
	struct mf_header_iter it;
	struct mf_header_field f;
	mf_header_iter_init(&it, data, size);
	while (mf_header_iter_next(&it, &f)) {
		if (f.name < data || f.name + f.name_len > data + size || f.raw < data ||
		    f.raw + f.raw_len > data + size || f.name_len == 0)
			abort();
		mf_header_unfold(f.raw, f.raw_len, &v);
		if (v.len > f.raw_len)
			abort();
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mf_header_find(data, size, names[i], false, &v);
		mf_header_find(data, size, names[i], true, &v);
	}
	mf_header_received_date(data, size, MF_RECEIVED_NEWEST, &v);
	mf_header_received_date(data, size, MF_RECEIVED_OLDEST, &v);
	if (mf_header_date(data, hlen, true, &e, &tz))
		round_trip(e, tz);
	mf_buf_free(&v);

	const char *s = (const char *)data;
	if (mf_parse_rfc5322_date(s, size, &e, &tz))
		round_trip(e, tz);
	if (mf_parse_asctime_date(s, size, &e, &tz))
		round_trip(e, tz);
	if (mf_parse_from_line_date(s, size, &e, &tz))
		round_trip(e, tz);
	return 0;
}
