/*
 * A tiny TAP producer for unit tests.  Each check prints one
 * "ok N - name" or "not ok N - name" line; tap_done() prints the plan and
 * returns the exit status (non-zero when anything failed).
 *
 *   ok(cond, "name %d", i);
 *   is_str(got, want, "name");
 *   is_int(got, want, "name");
 *   return tap_done();
 */
#ifndef KILN_TAP_H
#define KILN_TAP_H

#include "base/base.h"

static int tap_n, tap_failed;

PRINTF_LIKE(2, 3) static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_str(got, want, ...)                                          \
	do {                                                            \
		const char *g_ = (got), *w_ = (want);                   \
		if (!ok((g_ == NULL && w_ == NULL) ||                   \
				(g_ && w_ && !strcmp(g_, w_)),          \
			__VA_ARGS__))                                   \
			printf("#   got: '%s'\n#  want: '%s'\n",        \
			       g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

#define is_int(got, want, ...)                                            \
	do {                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);  \
		if (!ok(g_ == w_, __VA_ARGS__))                           \
			printf("#   got: %lld\n#  want: %lld\n", g_, w_); \
	} while (0)

PRINTF_LIKE(1, 2) static inline void tap_skip(const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("ok %d # skip ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
