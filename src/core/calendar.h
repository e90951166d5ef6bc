/* calendar.h — proleptic Gregorian dates <-> days since 1970-01-01 (Howard Hinnant's
 * algorithms), for every parser that reads a date. */
#ifndef SIEM_CALENDAR_H
#define SIEM_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
bool is_leap_year(int64_t y);
/* Days in month m (1..12) of year y. */
unsigned days_in_month(int64_t y, unsigned m);

/* Exactly n decimal digits at s (the caller checked the bounds) as a number; -1 when one
 * is not a digit. */
static inline int date_digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

#endif
