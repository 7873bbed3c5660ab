/* SPDX-License-Identifier: MIT */
/* Small pure helpers of the IMAP client: flag lists both ways (RFC 3501
 * §2.3.2 system flags, keywords, $Forwarded as MF_FLAG_FORWARDED) and
 * INTERNALDATE parsing (RFC 3501 §9 date-time).  Formatting dates lives
 * in lib/date.c (mf_format_imap_date). */
#include <config.h>
#include <mailferry/date.h>
#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	uint32_t bit;
} sysflags[] = {
	{ "\\Seen", MF_FLAG_SEEN },       { "\\Answered", MF_FLAG_ANSWERED },
	{ "\\Flagged", MF_FLAG_FLAGGED }, { "\\Deleted", MF_FLAG_DELETED },
	{ "\\Draft", MF_FLAG_DRAFT },
};

uint32_t imapc_parse_flags(const struct imapc_value *list, char ***keywords_r)
{
	uint32_t flags = 0;
	char **kw = NULL;
	size_t nkw = 0;
	if (keywords_r != NULL)
		*keywords_r = NULL;
	if (list == NULL || list->type != IMAPC_LIST)
		return 0;
	for (size_t i = 0; i < list->n_items; i++) {
		const char *f = imapc_value_str(&list->items[i]);
		if (f == NULL || f[0] == '\0')
			continue;
		bool known = false;
		for (size_t j = 0; j < sizeof(sysflags) / sizeof(sysflags[0]); j++)
			if (mf_ascii_strcasecmp(f, sysflags[j].name) == 0) {
				flags |= sysflags[j].bit;
				known = true;
			}
		if (known || f[0] == '\\')
			continue; /* \Recent, \*, unknown system flags */
		if (mf_ascii_strcasecmp(f, "$Forwarded") == 0) {
			flags |= MF_FLAG_FORWARDED;
			continue;
		}
		if (keywords_r == NULL)
			continue;
		kw = mf_xrealloc(kw, (nkw + 2) * sizeof(*kw));
		kw[nkw++] = mf_xstrdup(f);
		kw[nkw] = NULL;
	}
	if (keywords_r != NULL)
		*keywords_r = kw;
	return flags;
}

void imapc_free_strv(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* A keyword must be an atom (RFC 3501 flag-keyword); anything else would
 * break the APPEND command, so it is dropped. */
static bool keyword_ok(const char *k)
{
	if (k[0] == '\0' || k[0] == '\\')
		return false;
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return false;
	return true;
}

void imapc_format_flags(uint32_t flags, uint32_t mask, bool keywords_ok,
			const char *const *keywords, struct mf_buf *buf)
{
	mf_buf_clear(buf);
	for (size_t j = 0; j < sizeof(sysflags) / sizeof(sysflags[0]); j++)
		if (flags & mask & sysflags[j].bit) {
			if (buf->len > 0)
				mf_buf_append_str(buf, " ");
			mf_buf_append_str(buf, sysflags[j].name);
		}
	if (!keywords_ok)
		return;
	if (flags & MF_FLAG_FORWARDED) {
		if (buf->len > 0)
			mf_buf_append_str(buf, " ");
		mf_buf_append_str(buf, "$Forwarded");
	}
	for (size_t i = 0; keywords != NULL && keywords[i] != NULL; i++) {
		if (!keyword_ok(keywords[i]))
			continue;
		if (buf->len > 0)
			mf_buf_append_str(buf, " ");
		mf_buf_append_str(buf, keywords[i]);
	}
}

bool imapc_parse_date(const char *s, int64_t *epoch_r, int32_t *tz_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	/* date-day-fixed: (SP DIGIT) / 2DIGIT; some servers send 1 digit. */
	if (s[0] == ' ')
		s++;
	int day;
	int dl = (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9') ? 2 : 1;
	if (!mf_parse_digits(s, dl, &day) || s[dl] != '-')
		return false;
	s += dl + 1;
	int mon = -1;
	for (int i = 0; i < 12; i++)
		if (mf_ascii_strncasecmp(s, months + 3 * i, 3) == 0)
			mon = i + 1;
	if (mon < 0 || s[3] != '-')
		return false;
	s += 4;
	int year, hh, mm, ss, tzh, tzm;
	if (!mf_parse_digits(s, 4, &year) || s[4] != ' ' || !mf_parse_digits(s + 5, 2, &hh) ||
	    s[7] != ':' || !mf_parse_digits(s + 8, 2, &mm) || s[10] != ':' ||
	    !mf_parse_digits(s + 11, 2, &ss) || s[13] != ' ' || (s[14] != '+' && s[14] != '-') ||
	    !mf_parse_digits(s + 15, 2, &tzh) || !mf_parse_digits(s + 17, 2, &tzm) || s[19] != '\0')
		return false;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || tzm > 59 || tzh > 23)
		return false;
	int32_t tz = (int32_t)(tzh * 60 + tzm) * (s[14] == '-' ? -1 : 1);
	int64_t days = mf_days_from_civil(year, (unsigned)mon, (unsigned)day);
	*epoch_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)tz * 60;
	*tz_r = tz;
	return true;
}
