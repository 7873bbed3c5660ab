/* SPDX-License-Identifier: MIT */
/* Date parsing and formatting for libmailferry (include/mailferry/date.h):
 * RFC 5322 §3.3 date-time with the obsolete syntax of §4.3, the asctime
 * dates of mbox From_ lines, and output in IMAP (RFC 3501 §9 date-time) and
 * RFC 5322 form.  Everything is computed with integer calendar arithmetic
 * (no mktime/timegm, no TZ, no locale), so results are the same on every
 * host.  The input is hostile text from user files: each scanner checks the
 * end pointer before every byte, and anything unexpected makes the parse
 * fail rather than guess.  Header lookup lives in mime_header.c. */
#include <config.h>
#include <mailferry/date.h>
#include <mailferry/util.h>

#include <stdio.h>
#include <string.h>

struct cur {
	const char *p, *end;
};

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && is_ws((unsigned char)*c->p))
		c->p++;
}

/* CFWS (RFC 5322 §3.2.2): white space and nested comments with quoted
 * pairs.  An unterminated comment runs to the end of the input. */
static void skip_cfws(struct cur *c)
{
	for (;;) {
		skip_ws(c);
		if (c->p >= c->end || *c->p != '(')
			return;
		unsigned depth = 0;
		while (c->p < c->end) {
			char ch = *c->p++;
			if (ch == '\\' && c->p < c->end)
				c->p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')' && --depth == 0)
				break;
		}
	}
}

/* A run of letters, at most cap-1 kept (lowercased) in buf; returns the run
 * length (which may exceed what was kept). */
static size_t read_word(struct cur *c, char *buf, size_t cap)
{
	size_t n = 0;
	while (c->p < c->end && is_alpha((unsigned char)*c->p)) {
		if (n + 1 < cap)
			buf[n] = (char)lower((unsigned char)*c->p);
		n++;
		c->p++;
	}
	buf[n + 1 < cap ? n : cap - 1] = '\0';
	return n;
}

/* Up to max digits; false if none. */
static bool read_num(struct cur *c, unsigned max, unsigned *digits_r, unsigned *val_r)
{
	unsigned n = 0, v = 0;
	while (c->p < c->end && is_digit((unsigned char)*c->p) && n < max) {
		v = v * 10 + (unsigned)(*c->p - '0');
		n++;
		c->p++;
	}
	if (n == 0 || (c->p < c->end && is_digit((unsigned char)*c->p)))
		return false; /* no digits, or more than max */
	*digits_r = n;
	*val_r = v;
	return true;
}

static const char *const day_names[] = { "monday", "tuesday",  "wednesday", "thursday",
					 "friday", "saturday", "sunday" };
static const char *const month_names[] = { "january",   "february", "march",    "april",
					   "may",       "june",     "july",     "august",
					   "september", "october",  "november", "december" };

/* Index of word in names if it is the 3-letter abbreviation or the full
 * name (a few mailers write "Tuesday" or "July"); -1 otherwise. */
static int match_name(const char *word, size_t len, const char *const *names, int count)
{
	if (len < 3)
		return -1;
	for (int i = 0; i < count; i++) {
		if (len == 3 && strncmp(word, names[i], 3) == 0)
			return i;
		if (len == strlen(names[i]) && strcmp(word, names[i]) == 0)
			return i;
	}
	/* "Tues", "Thur", "Sept": seen from old mailers. */
	if (len == 4 && strncmp(word, "sept", 4) == 0 && names == month_names)
		return 8;
	if (len == 4 && names == day_names &&
	    (strncmp(word, "tues", 4) == 0 || strncmp(word, "thur", 4) == 0))
		return word[1] == 'u' ? 1 : 3;
	return -1;
}

struct zone_name {
	const char *name;
	int minutes;
};

/* RFC 5322 §4.3 names first; then abbreviations common in the mail this
 * project migrates (Europe, East Asia).  "CST" keeps its RFC meaning (US
 * Central) although Chinese hosts use it for +0800: the RFC is what
 * mailers were asked to follow.  Ambiguous ones (IST) are not listed and
 * so count as -0000. */
static const struct zone_name zone_names[] = {
	{ "ut", 0 },     { "utc", 0 },     { "gmt", 0 },     { "z", 0 },      { "est", -300 },
	{ "edt", -240 }, { "cst", -360 },  { "cdt", -300 },  { "mst", -420 }, { "mdt", -360 },
	{ "pst", -480 }, { "pdt", -420 },  { "wet", 0 },     { "west", 60 },  { "bst", 60 },
	{ "cet", 60 },   { "cest", 120 },  { "met", 60 },    { "mest", 120 }, { "eet", 120 },
	{ "eest", 180 }, { "msk", 180 },   { "hkt", 480 },   { "sgt", 480 },  { "awst", 480 },
	{ "jst", 540 },  { "kst", 540 },   { "aest", 600 },  { "aedt", 660 }, { "nzst", 720 },
	{ "nzdt", 780 }, { "akst", -540 }, { "akdt", -480 }, { "hst", -600 },
};

/* Alphabetic zone: a known name, else (1..5 letters) -0000 per §4.3. */
static bool zone_from_name(const char *word, size_t len, int *min_r)
{
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < sizeof(zone_names) / sizeof(zone_names[0]); i++) {
		if (strcmp(word, zone_names[i].name) == 0) {
			*min_r = zone_names[i].minutes;
			return true;
		}
	}
	*min_r = 0;
	return true;
}

/* "+hhmm", "-hhmm", "+hh:mm", "+hh"; c->p is at the sign. */
static bool read_numeric_zone(struct cur *c, int *min_r)
{
	int sign = *c->p == '-' ? -1 : 1;
	unsigned n, v, mm = 0;
	c->p++;
	if (!read_num(c, 4, &n, &v))
		return false;
	unsigned hh = v;
	if (n == 4 || n == 3) {
		hh = v / 100;
		mm = v % 100;
	} else if (c->p + 1 < c->end && *c->p == ':' && is_digit((unsigned char)c->p[1])) {
		unsigned n2;
		c->p++;
		if (!read_num(c, 2, &n2, &mm) || n2 != 2)
			return false;
	}
	if (hh > 23 || mm > 59)
		return false;
	*min_r = sign * (int)(hh * 60 + mm);
	return true;
}

/* A zone at c->p: numeric, or a name optionally followed by a numeric
 * offset ("GMT+0800", written by some webmail).  False if none there. */
static bool read_zone(struct cur *c, int *min_r)
{
	if (c->p >= c->end)
		return false;
	if (*c->p == '+' || *c->p == '-')
		return read_numeric_zone(c, min_r);
	if (!is_alpha((unsigned char)*c->p))
		return false;
	char w[8];
	const char *start = c->p;
	size_t n = read_word(c, w, sizeof(w));
	if (!zone_from_name(w, n, min_r)) {
		c->p = start;
		return false;
	}
	if (c->p < c->end && (*c->p == '+' || *c->p == '-') &&
	    (strcmp(w, "gmt") == 0 || strcmp(w, "utc") == 0 || strcmp(w, "ut") == 0))
		return read_numeric_zone(c, min_r);
	return true;
}

/* hh:mm[:ss]; one-digit hours tolerated. */
static bool read_time(struct cur *c, unsigned *h, unsigned *m, unsigned *s)
{
	unsigned n;
	if (!read_num(c, 2, &n, h))
		return false;
	if (c->p >= c->end || *c->p != ':')
		return false;
	c->p++;
	if (!read_num(c, 2, &n, m) || n != 2)
		return false;
	*s = 0;
	if (c->p + 1 < c->end && *c->p == ':' && is_digit((unsigned char)c->p[1])) {
		c->p++;
		if (!read_num(c, 2, &n, s) || n != 2)
			return false;
	}
	return true;
}

int64_t mf_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil: exact for the proleptic
	 * Gregorian calendar, no tables, no overflow for |y| < 2^40. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (m <= 2);
	*m_r = m;
	*d_r = d;
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Check every field and convert; y is already a 4-digit year. */
static bool make_epoch(unsigned y, unsigned mon, unsigned d, unsigned h, unsigned mi, unsigned s,
		       int tz, int64_t *epoch_r, int32_t *tz_r)
{
	static const unsigned dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1000 || y > 9999 || mon < 1 || mon > 12 || d < 1)
		return false;
	if (d > dim[mon - 1] + (mon == 2 && is_leap(y)))
		return false;
	if (h > 23 || mi > 59 || s > 60) /* 60: leap second, §3.3 */
		return false;
	int64_t days = mf_days_from_civil(y, mon, d);
	*epoch_r = days * 86400 + h * 3600 + mi * 60 + s - (int64_t)tz * 60;
	*tz_r = tz;
	return true;
}

/* asctime: dow mon day hh:mm[:ss] [zone] year [zone] [tail].  With
 * strict_tail, only CFWS may follow. */
static bool parse_asctime(struct cur *c, bool strict_tail, int64_t *epoch_r, int32_t *tz_r)
{
	char w[16];
	unsigned n, day, year = 0, h, mi, s;
	int tz = 0;
	bool have_zone = false, have_year = false;

	skip_ws(c);
	size_t wl = read_word(c, w, sizeof(w));
	if (match_name(w, wl, day_names, 7) < 0)
		return false;
	if (c->p < c->end && *c->p == ',')
		c->p++;
	skip_ws(c);
	wl = read_word(c, w, sizeof(w));
	int mon = match_name(w, wl, month_names, 12);
	if (mon < 0)
		return false;
	skip_ws(c);
	if (!read_num(c, 2, &n, &day))
		return false;
	skip_ws(c);
	if (!read_time(c, &h, &mi, &s))
		return false;
	/* Year and zone in either order, each at most once. */
	for (int i = 0; i < 2; i++) {
		const char *save = c->p;
		skip_ws(c);
		if (c->p == save || c->p >= c->end)
			break;
		if (!have_year && is_digit((unsigned char)*c->p)) {
			if (!read_num(c, 4, &n, &year) || n != 4)
				return false;
			have_year = true;
		} else if (!have_zone && read_zone(c, &tz)) {
			have_zone = true;
		} else {
			c->p = save;
			break;
		}
	}
	if (!have_year)
		return false;
	if (c->p < c->end && !is_ws((unsigned char)*c->p) && !(strict_tail && *c->p == '('))
		return false; /* "2026x": not a year */
	if (strict_tail) {
		skip_cfws(c);
		if (c->p != c->end)
			return false;
	}
	return make_epoch(year, (unsigned)mon + 1, day, h, mi, s, tz, epoch_r, tz_r);
}

bool mf_parse_asctime_date(const char *s, size_t len, int64_t *epoch_r, int32_t *tz_min_r)
{
	if (s == NULL)
		return false;
	struct cur c = { s, s + len };
	return parse_asctime(&c, false, epoch_r, tz_min_r);
}

bool mf_parse_rfc5322_date(const char *s, size_t len, int64_t *epoch_r, int32_t *tz_min_r)
{
	char w[16];
	unsigned n, day, year, ndig, h, mi, sec;
	int tz = 0;

	if (s == NULL)
		return false;
	struct cur c = { s, s + len };
	skip_cfws(&c);
	if (c.p < c.end && is_alpha((unsigned char)*c.p)) {
		const char *start = c.p;
		size_t wl = read_word(&c, w, sizeof(w));
		if (match_name(w, wl, day_names, 7) < 0)
			return false;
		skip_cfws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			skip_cfws(&c);
		}
		if (c.p < c.end && is_alpha((unsigned char)*c.p)) {
			/* "Tue Jul  1 10:52:37 2003": asctime in a header. */
			c.p = start;
			return parse_asctime(&c, true, epoch_r, tz_min_r);
		}
	}
	if (!read_num(&c, 2, &n, &day))
		return false;
	if (c.p < c.end && *c.p == '-')
		c.p++;
	skip_cfws(&c);
	size_t wl = read_word(&c, w, sizeof(w));
	int mon = match_name(w, wl, month_names, 12);
	if (mon < 0)
		return false;
	if (c.p < c.end && *c.p == '-')
		c.p++;
	skip_cfws(&c);
	if (!read_num(&c, 4, &ndig, &year))
		return false;
	/* §4.3: two digits → 1950-2049 window; three digits → +1900. */
	if (ndig == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ndig == 3)
		year += 1900;
	else if (ndig != 4)
		return false;
	skip_cfws(&c);
	if (!read_time(&c, &h, &mi, &sec))
		return false;
	skip_cfws(&c);
	bool numeric = c.p < c.end && (*c.p == '+' || *c.p == '-');
	if (c.p < c.end && !read_zone(&c, &tz))
		return false;
	skip_cfws(&c);
	if (numeric && c.p < c.end && is_alpha((unsigned char)*c.p)) {
		/* "+0200 CEST" without the parentheses. */
		if (read_word(&c, w, sizeof(w)) > 5)
			return false;
		skip_cfws(&c);
	}
	if (c.p != c.end)
		return false;
	return make_epoch(year, (unsigned)mon + 1, day, h, mi, sec, tz, epoch_r, tz_min_r);
}

bool mf_parse_from_line_date(const char *line, size_t len, int64_t *epoch_r, int32_t *tz_min_r)
{
	if (line == NULL)
		return false;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	size_t i = 0;
	if (len >= 5 && memcmp(line, "From ", 5) == 0)
		i = 5;
	/* The envelope sender may be empty, "-" (Thunderbird),
	 * MAILER-DAEMON, or (rarely) contain spaces: try every word start,
	 * leftmost first.  Bounded so that a hostile line costs linear
	 * time, not quadratic ("From Mon ( Mon ( ...": each "Mon" opens an
	 * unterminated comment the RFC 5322 attempt would scan to the line
	 * end): senders are far shorter than 1 KiB, dates (with "remote
	 * from host") than 256 bytes. */
	for (; i < len && i < 1024; i++) {
		if (i > 0 && line[i - 1] != ' ' && line[i - 1] != '\t')
			continue;
		if (!is_alpha((unsigned char)line[i]))
			continue;
		size_t n = len - i < 256 ? len - i : 256;
		if (mf_parse_asctime_date(line + i, n, epoch_r, tz_min_r))
			return true;
		if (mf_parse_rfc5322_date(line + i, n, epoch_r, tz_min_r))
			return true;
	}
	return false;
}

static bool split_epoch(int64_t epoch, int32_t tz_min, int64_t *y, unsigned *mon, unsigned *d,
			unsigned *h, unsigned *mi, unsigned *s, unsigned *wday)
{
	/* Beyond ±2^40 s the year is out of range anyway; this also keeps
	 * the arithmetic below from overflowing. */
	if (epoch > ((int64_t)1 << 40) || epoch < -((int64_t)1 << 40) || tz_min > 24 * 60 ||
	    tz_min < -24 * 60)
		return false;
	int64_t local = epoch + (int64_t)tz_min * 60;
	int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	int64_t secs = local - days * 86400;
	civil_from_days(days, y, mon, d);
	if (*y < 1 || *y > 9999)
		return false;
	*h = (unsigned)(secs / 3600);
	*mi = (unsigned)(secs / 60 % 60);
	*s = (unsigned)(secs % 60);
	/* 1970-01-01 was a Thursday (index 3 with Monday = 0). */
	*wday = (unsigned)(((days % 7) + 7 + 3) % 7);
	return true;
}

static const char *const mon_abbr[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const day_abbr[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

bool mf_format_imap_date(int64_t epoch, int32_t tz_min, char *out, size_t cap)
{
	int64_t y;
	unsigned mon, d, h, mi, s, wd;
	if (cap > 0)
		out[0] = '\0';
	if (!split_epoch(epoch, tz_min, &y, &mon, &d, &h, &mi, &s, &wd))
		return false;
	int az = tz_min < 0 ? -tz_min : tz_min;
	int n = snprintf(out, cap, "%02u-%s-%04d %02u:%02u:%02u %c%02d%02d", d, mon_abbr[mon - 1],
			 (int)y, h, mi, s, tz_min < 0 ? '-' : '+', az / 60, az % 60);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

bool mf_format_rfc5322_date(int64_t epoch, int32_t tz_min, char *out, size_t cap)
{
	int64_t y;
	unsigned mon, d, h, mi, s, wd;
	if (cap > 0)
		out[0] = '\0';
	if (!split_epoch(epoch, tz_min, &y, &mon, &d, &h, &mi, &s, &wd))
		return false;
	int az = tz_min < 0 ? -tz_min : tz_min;
	int n = snprintf(out, cap, "%s, %u %s %04d %02u:%02u:%02u %c%02d%02d", day_abbr[wd], d,
			 mon_abbr[mon - 1], (int)y, h, mi, s, tz_min < 0 ? '-' : '+', az / 60,
			 az % 60);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

bool mf_parse_iso8601_date(const char *s, int64_t *t_r)
{
	int y, mo, d, h, mi, se;
	if (s == NULL || strlen(s) < 19)
		return false;
	if (!mf_parse_digits(s, 4, &y) || s[4] != '-' || !mf_parse_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !mf_parse_digits(s + 8, 2, &d) || s[10] != 'T' ||
	    !mf_parse_digits(s + 11, 2, &h) || s[13] != ':' || !mf_parse_digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !mf_parse_digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || se > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') { /* fractional seconds: ignored */
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!mf_parse_digits(p + 1, 2, &oh) || p[3] != ':' ||
		    !mf_parse_digits(p + 4, 2, &om) || oh > 14 || om > 59)
			return false;
		off = (int64_t)(oh * 60 + om) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	}
	if (*p != '\0')
		return false;
	*t_r = mf_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
	       off;
	return true;
}
