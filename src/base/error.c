/*
 * The error object and the logging helpers.  Library code fills a
 * `struct error`; only cmd/ prints it (error_print) or dies with it.
 * The first error set wins: error_set() never overwrites an existing one.
 */
#include "base/base.h"

static PRINTF_LIKE(3, 0) void error_vset(struct error **err, int code,
					 const char *fmt, va_list ap,
					 const char *suffix)
{
	if (!err || *err)
		return;
	struct error *e = xcalloc(1, sizeof(*e));
	struct strbuf sb = STRBUF_INIT;
	strbuf_vaddf(&sb, fmt, ap);
	if (suffix)
		strbuf_addf(&sb, ": %s", suffix);
	e->code = code;
	e->msg = strbuf_detach(&sb, NULL);
	*err = e;
}

void error_set(struct error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap, NULL);
	va_end(ap);
}

void error_set_errno(struct error **err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, saved, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void error_wrap(struct error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addf(&sb, ": %s", (*err)->msg);
	free((*err)->msg);
	(*err)->msg = strbuf_detach(&sb, NULL);
}

void error_free(struct error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

void error_clear(struct error **err)
{
	if (err) {
		error_free(*err);
		*err = NULL;
	}
}

static PRINTF_LIKE(2, 0) void vreport(const char *prefix, const char *fmt,
				      va_list ap, const char *suffix)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, prefix);
	strbuf_vaddf(&sb, fmt, ap);
	if (suffix)
		strbuf_addf(&sb, ": %s", suffix);
	strbuf_addch(&sb, '\n');
	fflush(stdout);
	/* One write so concurrent messages do not interleave mid-line. */
	if (write(STDERR_FILENO, sb.buf, sb.len) < 0) {
		/* nothing better to do */
	}
	strbuf_release(&sb);
}

int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("error: ", fmt, ap, NULL);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("error: ", fmt, ap, NULL);
	va_end(ap);
	exit(125);
}

void die_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vreport("error: ", fmt, ap, strerror(saved));
	va_end(ap);
	exit(125);
}

void error_print(const struct error *e)
{
	error("%s", e ? e->msg : "unknown error");
}

void debug(const char *fmt, ...)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("KILN_DEBUG") != NULL;
	if (!enabled)
		return;
	va_list ap;
	va_start(ap, fmt);
	vreport("debug: ", fmt, ap, NULL);
	va_end(ap);
}
