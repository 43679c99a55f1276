/*
 * strvec: NULL-terminated vector of owned strings, suitable for execve.
 * `v` always points at a NULL-terminated array (a shared empty one when
 * nothing has been pushed).
 */
#include "base/base.h"

const char *strvec_empty[] = { NULL };

void strvec_init(struct strvec *sv)
{
	sv->v = strvec_empty;
	sv->nr = sv->alloc = 0;
}

void strvec_push_nodup(struct strvec *sv, char *s)
{
	if (sv->v == strvec_empty)
		sv->v = NULL;
	ALLOC_GROW(sv->v, sv->nr + 2, sv->alloc);
	sv->v[sv->nr++] = s;
	sv->v[sv->nr] = NULL;
}

const char *strvec_push(struct strvec *sv, const char *s)
{
	char *copy = xstrdup(s);
	strvec_push_nodup(sv, copy);
	return copy;
}

const char *strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xstrvfmt(fmt, ap);
	va_end(ap);
	strvec_push_nodup(sv, s);
	return s;
}

void strvec_pushv(struct strvec *sv, const char **v)
{
	for (; *v; v++)
		strvec_push(sv, *v);
}

void strvec_pop(struct strvec *sv)
{
	if (!sv->nr)
		return;
	free((char *)sv->v[--sv->nr]);
	sv->v[sv->nr] = NULL;
}

void strvec_clear(struct strvec *sv)
{
	if (sv->v != strvec_empty) {
		for (size_t i = 0; i < sv->nr; i++)
			free((char *)sv->v[i]);
		free(sv->v);
	}
	strvec_init(sv);
}

const char **strvec_detach(struct strvec *sv)
{
	if (sv->v == strvec_empty) {
		const char **r = xcalloc(1, sizeof(*r));
		return r;
	}
	const char **r = sv->v;
	strvec_init(sv);
	return r;
}
