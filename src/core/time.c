/* time.c — event timestamps: ISO-8601 and epoch parsing into UTC microseconds, and the
 * one output form "YYYY-MM-DDTHH:MM:SS.ffffffZ". Calendar arithmetic is our own (no tz). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "calendar.h"
#include "err.h"
#include "event.h"

#define US_PER_SEC 1000000LL
#define US_PER_DAY (86400LL * US_PER_SEC)
/* Accepted range: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z. */
#define TS_MAX_US 253402300799999999LL

int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

bool is_leap_year(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && is_leap_year(y))
		return 29;
	return dim[m - 1];
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int check_range(int64_t us, int64_t *out_us)
{
	if (us < 0 || us > TS_MAX_US)
		return -ERANGE;
	*out_us = us;
	return 0;
}

/* "YYYY-MM-DD(T|t| )HH:MM:SS[.f{1,9}][Z|z|±HH:MM|±HHMM]"; no zone means UTC. */
static int parse_iso(const char *s, size_t n, int64_t *out_us)
{
	if (n < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
		return SIEM_EPARSE;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return SIEM_EPARSE;
	int y = date_digits(s, 4), mo = date_digits(s + 5, 2), d = date_digits(s + 8, 2);
	int h = date_digits(s + 11, 2), mi = date_digits(s + 14, 2), sec = date_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return SIEM_EPARSE;
	if ((unsigned)d > days_in_month(y, (unsigned)mo))
		return SIEM_EPARSE;

	size_t i = 19;
	int64_t frac = 0;
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		size_t nd = i - start;
		if (nd == 0 || nd > 9)
			return SIEM_EPARSE;
		/* Keep microseconds: pad short fractions, drop digits past the sixth. */
		for (size_t k = 0; k < 6; k++)
			frac = frac * 10 + (k < nd ? s[start + k] - '0' : 0);
	}

	int64_t off_s = 0;
	if (i < n) {
		char c = s[i];
		if ((c == 'Z' || c == 'z') && i + 1 == n) {
			i++;
		} else if (c == '+' || c == '-') {
			int oh, om;
			if (n - i == 6 && s[i + 3] == ':') {
				oh = date_digits(s + i + 1, 2);
				om = date_digits(s + i + 4, 2);
			} else if (n - i == 5) {
				oh = date_digits(s + i + 1, 2);
				om = date_digits(s + i + 3, 2);
			} else {
				return SIEM_EPARSE;
			}
			if (oh < 0 || oh > 23 || om < 0 || om > 59)
				return SIEM_EPARSE;
			off_s = (int64_t)(oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
			i = n;
		} else {
			return SIEM_EPARSE;
		}
	}
	if (i != n)
		return SIEM_EPARSE;

	/* A leap second (:60) simply lands on the next minute's :00. */
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
		       sec - off_s;
	return check_range(secs * US_PER_SEC + frac, out_us);
}

/* Digits with an optional ".digits": epoch seconds, milliseconds or microseconds by size. */
static int parse_epoch(const char *s, size_t n, int64_t *out_us)
{
	size_t i = 0;
	int64_t ip = 0;
	while (i < n && is_digit(s[i])) {
		if (ip >= 100000000000000000LL) /* the next digit passes any valid time */
			return -ERANGE;
		ip = ip * 10 + (s[i++] - '0');
	}
	if (i == 0)
		return SIEM_EPARSE;
	size_t fstart = n, fn = 0;
	if (i < n) {
		if (s[i] != '.')
			return SIEM_EPARSE;
		fstart = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		fn = i - fstart;
		if (fn == 0 || i != n)
			return SIEM_EPARSE;
	}
	int64_t mult;
	size_t keep;
	if (ip < 100000000000LL) {
		mult = US_PER_SEC;
		keep = 6;
	} else if (ip < 100000000000000LL) {
		mult = 1000;
		keep = 3;
	} else {
		mult = 1;
		keep = 0;
	}
	if (ip > TS_MAX_US / mult)
		return -ERANGE;
	int64_t frac = 0;
	for (size_t k = 0; k < keep; k++)
		frac = frac * 10 + (k < fn ? s[fstart + k] - '0' : 0);
	return check_range(ip * mult + frac, out_us);
}

int ts_parse(const char *s, size_t n, int64_t *out_us)
{
	if (!s || n == 0)
		return SIEM_EPARSE;
	size_t i = 0;
	while (i < n && (is_digit(s[i]) || s[i] == '.'))
		i++;
	if (i == n)
		return parse_epoch(s, n, out_us);
	return parse_iso(s, n, out_us);
}

int ts_from_number(double v, int64_t *out_us)
{
	if (!isfinite(v))
		return SIEM_EPARSE;
	if (v < 0)
		return -ERANGE;
	double us = v < 1e11 ? v * 1e6 : v < 1e14 ? v * 1e3 : v;
	if (us > (double)TS_MAX_US)
		return -ERANGE;
	/* Round, not truncate: 0.1 s is 99999.99... in binary. */
	return check_range((int64_t)(us + 0.5), out_us);
}

size_t ts_format(int64_t us, char buf[32])
{
	int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
	if (rem < 0) {
		rem += US_PER_DAY;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int64_t secs = rem / US_PER_SEC;
	int len = snprintf(buf, 32, "%04lld-%02u-%02uT%02d:%02d:%02d.%06dZ", (long long)y, m, d,
			   (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
			   (int)(rem % US_PER_SEC));
	if (len < 0)
		return 0;
	return (size_t)len < 32 ? (size_t)len : 31;
}

int64_t ts_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * US_PER_SEC + t.tv_nsec / 1000;
}
