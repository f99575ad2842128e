/*
 * clock.c - wall clock with the $RINGCAP_NOW test override; RFC 3339 parsing and formatting.
 */
#include "base/clock.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

/* n decimal digits at *p -> *v; advances *p. 0 or -1. */
static int digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		x = x * 10 + (c - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

/* ".F{1,9}" at *p (the dot already taken) -> ns; advances *p. 0 or -1. */
static int fraction(const char **p, int64_t *frac)
{
	int64_t f = 0, scale = 100000000;
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, scale /= 10) {
		if (!scale)
			return -1; /* more than 9 digits */
		f += (*s - '0') * scale;
	}
	*p = s;
	*frac = f;
	return 0;
}

static int to_ns(int64_t sec, int64_t frac, int64_t *ns)
{
	int64_t t;
	if (__builtin_mul_overflow(sec, NS_PER_S, &t) || __builtin_add_overflow(t, frac, &t))
		return -1;
	*ns = t;
	return 0;
}

int clock_parse_rfc3339(const char *s, int64_t *ns)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, leap;
	int64_t frac = 0;
	struct tm tm = {0};
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		if (fraction(&p, &frac))
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return to_ns((int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60), frac, ns);
}

int clock_parse(const char *s, int64_t *ns)
{
	const char *p = s;
	if (*p < '0' || *p > '9' || strchr(s, '-') || strchr(s, ':'))
		return clock_parse_rfc3339(s, ns);
	int64_t sec = 0, frac = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > (INT64_MAX - 9) / 10)
			return -1;
		sec = sec * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (fraction(&p, &frac))
			return -1;
	}
	return *p ? -1 : to_ns(sec, frac, ns);
}

/* days since 1970-01-01 -> civil date (Howard Hinnant's days_from_civil inverse) */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b, int64_t *rem)
{
	int64_t q = a / b, r = a % b;
	if (r < 0) {
		r += b;
		q--;
	}
	*rem = r;
	return q;
}

const char *clock_format_rfc3339(int64_t ts_ns, char *buf, size_t len)
{
	int64_t ns, sod, y;
	unsigned mo, d;
	int64_t sec = floordiv(ts_ns, NS_PER_S, &ns);
	int64_t days = floordiv(sec, 86400, &sod);
	civil(days, &y, &mo, &d);
	/* int64 ns spans the years 1677..2262: always four digits */
	snprintf(buf, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, mo, d,
		 (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
		 (unsigned)(ns / 1000));
	return buf;
}

static pthread_mutex_t now_mu = PTHREAD_MUTEX_INITIALIZER;
static int now_read;      /* $RINGCAP_NOW looked at */
static int now_fixed;     /* ... and valid: now_value is the clock */
static int64_t now_value;

void clock_reload(void)
{
	pthread_mutex_lock(&now_mu);
	now_read = 0;
	pthread_mutex_unlock(&now_mu);
}

int64_t clock_now_ns(void)
{
	int fixed;
	int64_t v;
	pthread_mutex_lock(&now_mu);
	if (!now_read) {
		const char *s = getenv(CLOCK_NOW_ENV);
		now_read = 1;
		now_fixed = 0;
		if (s && *s) {
			if (clock_parse(s, &now_value) == 0)
				now_fixed = 1;
			else
				log_warn("invalid %s `%s': expected epoch seconds or RFC 3339; using "
					 "the wall clock",
					 CLOCK_NOW_ENV, s);
		}
	}
	fixed = now_fixed;
	v = now_value;
	pthread_mutex_unlock(&now_mu);
	if (fixed)
		return v;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}
