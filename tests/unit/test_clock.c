/*
 * test_clock.c - the one RFC 3339 parser/formatter and the $RINGCAP_NOW clock.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/clock.h"
#include "testhelp.h"

static const struct {
	const char *in;
	int ok;
	int64_t ns;
} parse_cases[] = {
	{"1970-01-01T00:00:00Z", 1, 0},
	{"2024-05-01T12:00:00.5+02:00", 1, 1714557600LL * NS_PER_S + 500000000},
	{"2024-05-01T10:00:00.5Z", 1, 1714557600LL * NS_PER_S + 500000000},
	{"2024-05-01t10:00:00.5z", 1, 1714557600LL * NS_PER_S + 500000000},
	{"2024-05-01 10:00:00Z", 0, 0},          /* the date and time are joined by T */
	{"2024-05-01T09:00:00-01:00", 1, 1714557600LL * NS_PER_S},
	{"2024-02-29T00:00:00Z", 1, 1709164800LL * NS_PER_S},
	{"2024-05-01T10:00:00.123456789Z", 1, 1714557600LL * NS_PER_S + 123456789},
	{"1969-12-31T23:59:59.5Z", 1, -500000000},
	{"2023-02-29T00:00:00Z", 0, 0},          /* not a leap year */
	{"2024-04-31T00:00:00Z", 0, 0},          /* April has 30 days */
	{"2024-05-01T10:00:00.1234567890Z", 0, 0}, /* 10 fraction digits */
	{"2024-05-01T10:00:00.Z", 0, 0},
	{"2024-05-01T10:00:00", 0, 0},           /* no offset */
	{"2024-05-01T24:00:00Z", 0, 0},
	{"2024-05-01T10:00:00+24:00", 0, 0},
	{"2024-05-01T10:00:00Zjunk", 0, 0},
	{"2024-5-01T10:00:00Z", 0, 0},
	{"", 0, 0},
	{"9999-12-31T23:59:59Z", 0, 0},          /* past int64 ns */
};

static void test_parse_rfc3339(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		int64_t ns = -42;
		int r = clock_parse_rfc3339(parse_cases[i].in, &ns);
		if (parse_cases[i].ok) {
			CHECK_EQ_INT(r, 0);
			CHECK_EQ_INT(ns, parse_cases[i].ns);
		} else {
			CHECK_EQ_INT(r, -1);
		}
		if ((r == 0) != parse_cases[i].ok)
			printf("  case \"%s\"\n", parse_cases[i].in);
	}
}

static void test_parse_epoch(void)
{
	int64_t ns;
	CHECK_EQ_INT(clock_parse("1700000000", &ns), 0);
	CHECK_EQ_INT(ns, 1700000000LL * NS_PER_S);
	CHECK_EQ_INT(clock_parse("1700000000.25", &ns), 0);
	CHECK_EQ_INT(ns, 1700000000LL * NS_PER_S + 250000000);
	CHECK_EQ_INT(clock_parse("1700000000.", &ns), -1);
	CHECK_EQ_INT(clock_parse("17e9", &ns), -1);
	CHECK_EQ_INT(clock_parse("99999999999999999999", &ns), -1);
	CHECK_EQ_INT(clock_parse("2024-05-01T12:00:00+02:00", &ns), 0);
	CHECK_EQ_INT(ns, 1714557600LL * NS_PER_S);
}

static void test_format(void)
{
	char b[40];
	CHECK_EQ_STR(clock_format_rfc3339(0, b, sizeof b), "1970-01-01T00:00:00.000000Z");
	CHECK_EQ_STR(clock_format_rfc3339(-1, b, sizeof b), "1969-12-31T23:59:59.999999Z");
	CHECK_EQ_STR(clock_format_rfc3339(1709164800LL * NS_PER_S + 123456789, b, sizeof b),
		     "2024-02-29T00:00:00.123456Z");
	/* format then parse gives the time back (to the microsecond) */
	for (int64_t t = -86400LL * NS_PER_S; t < 4000000000LL * NS_PER_S; t += 987654321987654LL) {
		int64_t back;
		CHECK_EQ_INT(clock_parse_rfc3339(clock_format_rfc3339(t, b, sizeof b), &back), 0);
		CHECK_EQ_INT(back, t - ((t % 1000 + 1000) % 1000));
	}
}

/* The store's clock used to ignore an offset; every user of the clock now sees the same time. */
static void test_now_env(void)
{
	setenv(CLOCK_NOW_ENV, "2024-05-01T12:00:00.5+02:00", 1);
	clock_reload();
	CHECK_EQ_INT(clock_now_ns(), 1714557600LL * NS_PER_S + 500000000);
	setenv(CLOCK_NOW_ENV, "1000", 1); /* read once: a change needs clock_reload() */
	CHECK_EQ_INT(clock_now_ns(), 1714557600LL * NS_PER_S + 500000000);
	clock_reload();
	CHECK_EQ_INT(clock_now_ns(), 1000 * NS_PER_S);
	setenv(CLOCK_NOW_ENV, "yesterday", 1); /* invalid: the real clock, with a warning */
	clock_reload();
	CHECK(clock_now_ns() > 1700000000LL * NS_PER_S);
	unsetenv(CLOCK_NOW_ENV);
	clock_reload();
	CHECK(clock_now_ns() > 1700000000LL * NS_PER_S);
}

int main(void)
{
	th_suite = "unit/test_clock";
	RUN(test_parse_rfc3339);
	RUN(test_parse_epoch);
	RUN(test_format);
	RUN(test_now_env);
	return test_main_end();
}
