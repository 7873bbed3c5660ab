/* SPDX-License-Identifier: MIT */
/* RFC 5322 header-block reading for libmailferry: walk the fields of a
 * message's header, find one by name and unfold its value, pick the date of
 * a Received: trace field.  Input is raw bytes of explicit length from user
 * files and servers: LF-only line ends, 8-bit bytes, NUL bytes, a missing
 * body or a header cut short are all tolerated; nothing is decoded (no RFC
 * 2047), values are handed back as the bytes found.  No global state. */
#ifndef MAILFERRY_MIME_H
#define MAILFERRY_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/util.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the header block at the start of msg[0..len): the offset of
 * the empty line ("\n" or "\r\n") that ends it, so msg[0..result) holds
 * every field and the body starts after that line.  len if there is no
 * empty line (a message without body, or a truncated buffer). */
size_t mf_header_block_len(const unsigned char *msg, size_t len);

/* Iterator over the fields of a header block.  Lines that are neither a
 * field ("name:") nor a continuation (leading SP/HT) are skipped: an mbox
 * "From " line or garbage must not hide the fields after it. */
struct mf_header_iter {
	const unsigned char *pos, *end;
};

struct mf_header_field {
	const unsigned char *name; /* not NUL-terminated; no trailing WSP */
	size_t name_len;
	const unsigned char *raw; /* value after ':', still folded, without
				      the final line end */
	size_t raw_len;
};

/* hdr may be a whole message: iteration stops at the empty line. */
void mf_header_iter_init(struct mf_header_iter *it, const unsigned char *hdr, size_t len);
bool mf_header_iter_next(struct mf_header_iter *it, struct mf_header_field *field_r);

/* Unfold (RFC 5322 §2.2.3: drop CR/LF before WSP) raw into out (cleared
 * first), trimming leading and trailing WSP.  out stays NUL-terminated;
 * NUL bytes in the value are kept (out->len counts them). */
void mf_header_unfold(const unsigned char *raw, size_t raw_len, struct mf_buf *out);

/* Unfolded value of the first (or, with last, the last) field called name
 * (ASCII case-insensitive) in hdr[0..len).  False if absent; *value_r is
 * then cleared. */
bool mf_header_find(const unsigned char *hdr, size_t len, const char *name, bool last,
		    struct mf_buf *value_r);

/* Which Received: field to take.  Trace fields are prepended (RFC 5322
 * §3.6.7), so the topmost is the newest: the final delivery, the usual
 * stand-in for an internal date.  The bottom one is the first hop. */
enum mf_received_pick { MF_RECEIVED_NEWEST, MF_RECEIVED_OLDEST };

/* Date text of a Received: field: what follows its last ';' (RFC 5322
 * §3.6.7 "received" = ... ";" date-time), trimmed.  False if there is no
 * such field or it has no ';'. */
bool mf_header_received_date(const unsigned char *hdr, size_t len, enum mf_received_pick pick,
			     struct mf_buf *value_r);

/* Convenience: parse the first Date: field (mf_parse_rfc5322_date).  When
 * it is missing or bad and with_received, fall back to the newest
 * Received: date.  False if neither parses. */
bool mf_header_date(const unsigned char *hdr, size_t len, bool with_received, int64_t *epoch_r,
		    int32_t *tz_min_r);

#ifdef __cplusplus
}
#endif
#endif
