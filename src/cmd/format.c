/*
 * Output helpers shared by the image commands: docker's human-readable
 * durations and sizes (go-units), its ellipsis, a tabwriter-compatible
 * table, and opening the store with a printed error.
 */
#include "cmd/cmd.h"
#include "store/store.h"

char *cmd_human_duration(int64_t sec)
{
	if (sec < 1)
		return xstrdup("Less than a second");
	if (sec == 1)
		return xstrdup("1 second");
	if (sec < 60)
		return xstrfmt("%lld seconds", (long long)sec);
	int64_t min = sec / 60;
	if (min == 1)
		return xstrdup("About a minute");
	if (min < 60)
		return xstrfmt("%lld minutes", (long long)min);
	int64_t hours = (sec + 1800) / 3600; /* rounded, as go-units */
	if (hours == 1)
		return xstrdup("About an hour");
	if (hours < 48)
		return xstrfmt("%lld hours", (long long)hours);
	if (hours < 24 * 7 * 2)
		return xstrfmt("%lld days", (long long)(hours / 24));
	if (hours < 24 * 30 * 2)
		return xstrfmt("%lld weeks", (long long)(hours / 24 / 7));
	if (hours < 24 * 365 * 2)
		return xstrfmt("%lld months", (long long)(hours / 24 / 30));
	return xstrfmt("%lld years", (long long)(sec / 3600 / 24 / 365));
}

char *cmd_created_since(int64_t when)
{
	if (!when)
		return xstrdup("N/A");
	cleanup_free char *d = cmd_human_duration((int64_t)time(NULL) - when);
	return xstrfmt("%s ago", d);
}

char *cmd_human_size(double size, int prec)
{
	static const char *const units[] = { "B",  "kB", "MB", "GB", "TB",
					     "PB", "EB", "ZB", "YB" };
	size_t i = 0;
	while (size >= 1000.0 && i < ARRAY_SIZE(units) - 1) {
		size /= 1000.0;
		i++;
	}
	return xstrfmt("%.*g%s", prec, size, units[i]);
}

/* Display width: count UTF-8 code points. */
static size_t utf8_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

char *cmd_ellipsis(const char *s, size_t max)
{
	if (utf8_width(s) <= max)
		return xstrdup(s);
	struct strbuf sb = STRBUF_INIT;
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (n == max - 1)
				break;
			n++;
		}
		strbuf_addch(&sb, *p);
	}
	strbuf_addstr(&sb, "…");
	return strbuf_detach(&sb, NULL);
}

void cmd_table_init(struct cmd_table *t, size_t ncols)
{
	strvec_init(&t->cells);
	t->ncols = ncols;
}

void cmd_table_add(struct cmd_table *t, const char *cell)
{
	strvec_push(&t->cells, cell);
}

void cmd_table_addf(struct cmd_table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strvec_push_nodup(&t->cells, xstrvfmt(fmt, ap));
	va_end(ap);
}

void cmd_table_print(struct cmd_table *t, FILE *out)
{
	size_t n = t->ncols;
	size_t *w = xcalloc(n, sizeof(*w));
	for (size_t i = 0; i < t->cells.nr; i++) {
		size_t c = i % n;
		size_t cw = utf8_width(t->cells.v[i]) + 3;
		if (cw < 10)
			cw = 10;
		if (cw > w[c])
			w[c] = cw;
	}
	for (size_t i = 0; i < t->cells.nr; i++) {
		size_t c = i % n;
		const char *cell = t->cells.v[i];
		if (c == n - 1) {
			fprintf(out, "%s\n", cell);
			continue;
		}
		fputs(cell, out);
		for (size_t k = utf8_width(cell); k < w[c]; k++)
			fputc(' ', out);
	}
	free(w);
}

void cmd_table_release(struct cmd_table *t)
{
	strvec_clear(&t->cells);
}

struct store *cmd_store_open(void)
{
	struct error *e = NULL;
	struct store *s = store_open(NULL, &e);
	if (!s)
		cmd_fail(e);
	return s;
}

int cmd_fail(struct error *e)
{
	error_print(e);
	error_free(e);
	return 1;
}
