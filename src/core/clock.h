/* clock.h — time for waits: the realtime deadline pthread_cond_timedwait takes, and a
 * monotonic clock for intervals. */
#ifndef SIEM_CLOCK_H
#define SIEM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* ms from now on CLOCK_REALTIME. */
static inline struct timespec clock_deadline_ms(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Microseconds on CLOCK_MONOTONIC, for intervals and deadlines. */
static inline int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
