/*
 * testhelp.h - a tiny table-friendly unit test harness (after redis src/testhelp.h).
 *
 * Each test is a function; CHECK() records a failure with file:line and the expression and lets the
 * test go on. RUN(fn) prints "PASS unit/<file>/<fn>" or "FAIL unit/<file>/<fn>: ..." so that
 * tests/run.sh can count them; test_main_end() returns the exit status.
 */
#ifndef RINGCAP_TESTHELP_H
#define RINGCAP_TESTHELP_H

#include <stdio.h>
#include <string.h>

static int th_failed_checks;   /* failures inside the current test */
static int th_passed, th_failed;
static const char *th_suite = "unit";

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			th_failed_checks++;                                              \
			fprintf(stdout, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
		}                                                                        \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                               \
	do {                                                                             \
		long long th_a = (long long)(a), th_b = (long long)(b);                 \
		if (th_a != th_b) {                                                      \
			th_failed_checks++;                                              \
			fprintf(stdout, "  check failed at %s:%d: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, th_a, th_b);                 \
		}                                                                        \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                               \
	do {                                                                             \
		const char *th_a = (a), *th_b = (b);                                     \
		if (!th_a || !th_b || strcmp(th_a, th_b) != 0) {                         \
			th_failed_checks++;                                              \
			fprintf(stdout, "  check failed at %s:%d: %s == %s (\"%s\" != \"%s\")\n", \
				__FILE__, __LINE__, #a, #b, th_a ? th_a : "(null)",      \
				th_b ? th_b : "(null)");                                 \
		}                                                                        \
	} while (0)

#define RUN(fn)                                                                          \
	do {                                                                             \
		th_failed_checks = 0;                                                    \
		fn();                                                                    \
		if (th_failed_checks) {                                                  \
			th_failed++;                                                     \
			fprintf(stdout, "FAIL %s/%s\n", th_suite, #fn);                  \
		} else {                                                                 \
			th_passed++;                                                     \
			fprintf(stdout, "PASS %s/%s\n", th_suite, #fn);                  \
		}                                                                        \
		fflush(stdout);                                                          \
	} while (0)

static inline int test_main_end(void)
{
	return th_failed ? 1 : 0;
}

#endif
