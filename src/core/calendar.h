/* calendar.h — proleptic Gregorian dates <-> days since 1970-01-01 (Howard Hinnant's
 * algorithms), for every parser that reads a date. */
#ifndef SIEM_CALENDAR_H
#define SIEM_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
bool is_leap_year(int64_t y);
/* Days in month m (1..12) of year y. */
unsigned days_in_month(int64_t y, unsigned m);

#endif
