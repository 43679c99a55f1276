/*
 * A small, strict TOML reader for the subset registries.conf uses: tables,
 * arrays of tables, bare/quoted/dotted keys, basic and literal strings,
 * booleans, integers and arrays.  Everything else is refused with
 * "file:line: message" rather than guessed at.
 */
#include "registry/registry-internal.h"

#include <limits.h>

struct toml_parser {
	const char *p, *end;
	const char *file;
	int line;
	struct error **err;
	struct toml_value *root;
	struct toml_value *cur;
};

static struct toml_value *toml_new(enum toml_type type, int line)
{
	struct toml_value *v = xcalloc(1, sizeof(*v));
	v->type = type;
	v->line = line;
	return v;
}

void toml_free(struct toml_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->kv_nr; i++) {
		free(v->kv[i].key);
		toml_free(v->kv[i].value);
	}
	free(v->kv);
	for (size_t i = 0; i < v->items_nr; i++)
		toml_free(v->items[i]);
	free(v->items);
	free(v->str);
	free(v);
}

struct toml_value *toml_get(const struct toml_value *t, const char *key)
{
	if (!t || t->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < t->kv_nr; i++)
		if (!strcmp(t->kv[i].key, key))
			return t->kv[i].value;
	return NULL;
}

static void table_put(struct toml_value *t, const char *key,
		      struct toml_value *v)
{
	ALLOC_GROW(t->kv, t->kv_nr + 1, t->kv_alloc);
	t->kv[t->kv_nr].key = xstrdup(key);
	t->kv[t->kv_nr].value = v;
	t->kv_nr++;
}

static void array_push(struct toml_value *a, struct toml_value *v)
{
	ALLOC_GROW(a->items, a->items_nr + 1, a->items_alloc);
	a->items[a->items_nr++] = v;
}

PRINTF_LIKE(2, 3) static int perr(struct toml_parser *tp, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error_set(tp->err, KILN_EINVAL, "%s:%d: %s", tp->file, tp->line,
		  sb.buf);
	strbuf_release(&sb);
	return -1;
}

static void skip_ws(struct toml_parser *tp)
{
	while (tp->p < tp->end && (*tp->p == ' ' || *tp->p == '\t'))
		tp->p++;
}

/* Skip whitespace, comments and newlines (inside arrays). */
static void skip_ws_nl(struct toml_parser *tp)
{
	for (;;) {
		skip_ws(tp);
		if (tp->p >= tp->end)
			return;
		if (*tp->p == '#') {
			while (tp->p < tp->end && *tp->p != '\n')
				tp->p++;
		} else if (*tp->p == '\n') {
			tp->p++;
			tp->line++;
		} else if (*tp->p == '\r' && tp->p + 1 < tp->end &&
			   tp->p[1] == '\n') {
			tp->p += 2;
			tp->line++;
		} else {
			return;
		}
	}
}

/* After a value or header: only a comment may follow on the line. */
static int expect_eol(struct toml_parser *tp)
{
	skip_ws(tp);
	if (tp->p < tp->end && *tp->p == '#')
		while (tp->p < tp->end && *tp->p != '\n')
			tp->p++;
	if (tp->p < tp->end && *tp->p == '\r')
		tp->p++;
	if (tp->p >= tp->end)
		return 0;
	if (*tp->p != '\n')
		return perr(tp,
			    "unexpected '%c' after value (expected a newline)",
			    *tp->p);
	tp->p++;
	tp->line++;
	return 0;
}

static void add_utf8(struct strbuf *sb, unsigned long cp)
{
	if (cp < 0x80) {
		strbuf_addch(sb, (int)cp);
	} else if (cp < 0x800) {
		strbuf_addch(sb, 0xc0 | (int)(cp >> 6));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	} else if (cp < 0x10000) {
		strbuf_addch(sb, 0xe0 | (int)(cp >> 12));
		strbuf_addch(sb, 0x80 | (int)((cp >> 6) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	} else {
		strbuf_addch(sb, 0xf0 | (int)(cp >> 18));
		strbuf_addch(sb, 0x80 | (int)((cp >> 12) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)((cp >> 6) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	}
}

/* A "basic" or 'literal' one-line string; tp->p is at the quote. */
static char *parse_string(struct toml_parser *tp)
{
	char q = *tp->p;
	struct strbuf sb = STRBUF_INIT;
	if (tp->end - tp->p >= 3 && tp->p[1] == q && tp->p[2] == q) {
		perr(tp, "multi-line strings are not supported");
		return NULL;
	}
	tp->p++;
	while (tp->p < tp->end && *tp->p != q) {
		char c = *tp->p;
		if (c == '\n' || (c != '\t' && (unsigned char)c < 0x20) ||
		    c == 0x7f) {
			strbuf_release(&sb);
			perr(tp, "unterminated string");
			return NULL;
		}
		if (c != '\\' || q == '\'') {
			strbuf_addch(&sb, c);
			tp->p++;
			continue;
		}
		tp->p++;
		if (tp->p >= tp->end)
			break;
		c = *tp->p++;
		switch (c) {
		case '"':
		case '\\':
			strbuf_addch(&sb, c);
			break;
		case 'n':
			strbuf_addch(&sb, '\n');
			break;
		case 't':
			strbuf_addch(&sb, '\t');
			break;
		case 'r':
			strbuf_addch(&sb, '\r');
			break;
		case 'b':
			strbuf_addch(&sb, '\b');
			break;
		case 'f':
			strbuf_addch(&sb, '\f');
			break;
		case 'u':
		case 'U': {
			int n = c == 'u' ? 4 : 8;
			unsigned long cp = 0;
			for (int i = 0; i < n; i++, tp->p++) {
				char h = tp->p < tp->end ? *tp->p : 0;
				int d = h >= '0' && h <= '9'   ? h - '0'
					: h >= 'a' && h <= 'f' ? h - 'a' + 10
					: h >= 'A' && h <= 'F' ? h - 'A' + 10
							       : -1;
				if (d < 0) {
					strbuf_release(&sb);
					perr(tp, "bad \\%c escape", c);
					return NULL;
				}
				cp = cp * 16 + (unsigned long)d;
			}
			if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
				strbuf_release(&sb);
				perr(tp, "bad unicode escape");
				return NULL;
			}
			add_utf8(&sb, cp);
			break;
		}
		default:
			strbuf_release(&sb);
			perr(tp, "unknown escape '\\%c'", c);
			return NULL;
		}
	}
	if (tp->p >= tp->end) {
		strbuf_release(&sb);
		perr(tp, "unterminated string");
		return NULL;
	}
	tp->p++;
	return strbuf_detach(&sb, NULL);
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A possibly dotted key into parts. */
static int parse_key(struct toml_parser *tp, struct strvec *parts)
{
	for (;;) {
		skip_ws(tp);
		if (tp->p >= tp->end)
			return perr(tp, "expected a key");
		if (*tp->p == '"' || *tp->p == '\'') {
			char *s = parse_string(tp);
			if (!s)
				return -1;
			strvec_push_nodup(parts, s);
		} else if (is_bare(*tp->p)) {
			const char *b = tp->p;
			while (tp->p < tp->end && is_bare(*tp->p))
				tp->p++;
			strvec_push_nodup(parts, xstrndup(b, tp->p - b));
		} else {
			return perr(tp, "unexpected '%c' (expected a key)",
				    *tp->p);
		}
		skip_ws(tp);
		if (tp->p < tp->end && *tp->p == '.') {
			tp->p++;
			continue;
		}
		return 0;
	}
}

static struct toml_value *parse_value(struct toml_parser *tp);

static struct toml_value *parse_array(struct toml_parser *tp)
{
	struct toml_value *a = toml_new(TOML_ARRAY, tp->line);
	tp->p++;
	for (;;) {
		skip_ws_nl(tp);
		if (tp->p >= tp->end) {
			perr(tp, "unterminated array");
			break;
		}
		if (*tp->p == ']') {
			tp->p++;
			return a;
		}
		struct toml_value *v = parse_value(tp);
		if (!v)
			break;
		if (a->items_nr && a->items[0]->type != v->type) {
			toml_free(v);
			perr(tp, "mixed types in array");
			break;
		}
		array_push(a, v);
		skip_ws_nl(tp);
		if (tp->p >= tp->end) {
			perr(tp, "unterminated array");
			break;
		}
		if (*tp->p == ',') {
			tp->p++;
			continue;
		}
		if (*tp->p == ']')
			continue;
		perr(tp, "expected ',' or ']' in array");
		break;
	}
	toml_free(a);
	return NULL;
}

static struct toml_value *parse_value(struct toml_parser *tp)
{
	skip_ws(tp);
	if (tp->p >= tp->end || *tp->p == '\n' || *tp->p == '#') {
		perr(tp, "expected a value");
		return NULL;
	}
	char c = *tp->p;
	if (c == '"' || c == '\'') {
		int line = tp->line;
		char *s = parse_string(tp);
		if (!s)
			return NULL;
		struct toml_value *v = toml_new(TOML_STRING, line);
		v->str = s;
		return v;
	}
	if (c == '[')
		return parse_array(tp);
	if (c == '{') {
		perr(tp, "inline tables are not supported");
		return NULL;
	}
	const char *b = tp->p;
	while (tp->p < tp->end && (is_bare(*tp->p) || *tp->p == '+'))
		tp->p++;
	size_t n = tp->p - b;
	if (n == 4 && !memcmp(b, "true", 4)) {
		struct toml_value *v = toml_new(TOML_BOOL, tp->line);
		v->b = true;
		return v;
	}
	if (n == 5 && !memcmp(b, "false", 5)) {
		struct toml_value *v = toml_new(TOML_BOOL, tp->line);
		return v;
	}
	if (n > 0) {
		/* integers: [+-]digits with single underscores between */
		const char *q = b;
		bool neg = false, okay = true, last_digit = false;
		long long val = 0;
		if (*q == '+' || *q == '-')
			neg = *q++ == '-';
		if (q == b + n)
			okay = false;
		for (; q < b + n && okay; q++) {
			if (*q >= '0' && *q <= '9') {
				if (val > (LLONG_MAX - 9) / 10) {
					okay = false;
					break;
				}
				val = val * 10 + (*q - '0');
				last_digit = true;
			} else if (*q == '_' && last_digit) {
				last_digit = false;
			} else {
				okay = false;
			}
		}
		if (okay && last_digit) {
			struct toml_value *v = toml_new(TOML_INT, tp->line);
			v->i = neg ? -val : val;
			return v;
		}
	}
	tp->p = b;
	perr(tp, "invalid value '%.*s'", (int)(n ? n : 1), b);
	return NULL;
}

/* Follow/create the tables named by parts[0..n). */
static struct toml_value *walk(struct toml_parser *tp, struct toml_value *t,
			       const char **parts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct toml_value *v = toml_get(t, parts[i]);
		if (!v) {
			v = toml_new(TOML_TABLE, tp->line);
			table_put(t, parts[i], v);
		} else if (v->type == TOML_ARRAY && v->aot) {
			v = v->items[v->items_nr - 1];
		} else if (v->type != TOML_TABLE) {
			perr(tp, "key '%s' is not a table", parts[i]);
			return NULL;
		}
		t = v;
	}
	return t;
}

static int parse_header(struct toml_parser *tp)
{
	cleanup_strvec struct strvec parts = STRVEC_INIT;
	bool aot = tp->end - tp->p >= 2 && tp->p[1] == '[';
	tp->p += aot ? 2 : 1;
	if (parse_key(tp, &parts) < 0)
		return -1;
	if (tp->p >= tp->end || *tp->p != ']' ||
	    (aot && (tp->p + 1 >= tp->end || tp->p[1] != ']')))
		return perr(tp, "expected '%s' to end the table header",
			    aot ? "]]" : "]");
	tp->p += aot ? 2 : 1;
	struct toml_value *parent = walk(tp, tp->root, parts.v, parts.nr - 1);
	if (!parent)
		return -1;
	const char *last = parts.v[parts.nr - 1];
	struct toml_value *v = toml_get(parent, last);
	if (aot) {
		if (!v) {
			v = toml_new(TOML_ARRAY, tp->line);
			v->aot = true;
			table_put(parent, last, v);
		} else if (v->type != TOML_ARRAY || !v->aot) {
			return perr(tp, "'%s' is already defined as a %s", last,
				    v->type == TOML_TABLE ? "table" : "value");
		}
		struct toml_value *t = toml_new(TOML_TABLE, tp->line);
		t->defined = true;
		array_push(v, t);
		tp->cur = t;
	} else {
		if (!v) {
			v = toml_new(TOML_TABLE, tp->line);
			table_put(parent, last, v);
		} else if (v->type != TOML_TABLE) {
			return perr(tp, "'%s' is already defined as %s", last,
				    v->aot ? "an array of tables" : "a value");
		} else if (v->defined) {
			return perr(tp,
				    "table '%s' defined twice (first at line "
				    "%d)",
				    last, v->line);
		}
		v->defined = true;
		v->line = tp->line;
		tp->cur = v;
	}
	return expect_eol(tp);
}

static int parse_keyval(struct toml_parser *tp)
{
	cleanup_strvec struct strvec parts = STRVEC_INIT;
	if (parse_key(tp, &parts) < 0)
		return -1;
	if (tp->p >= tp->end || *tp->p != '=')
		return perr(tp, "expected '=' after key '%s'",
			    parts.v[parts.nr - 1]);
	tp->p++;
	struct toml_value *t = walk(tp, tp->cur, parts.v, parts.nr - 1);
	if (!t)
		return -1;
	const char *key = parts.v[parts.nr - 1];
	if (toml_get(t, key))
		return perr(tp, "duplicate key '%s'", key);
	struct toml_value *v = parse_value(tp);
	if (!v)
		return -1;
	table_put(t, key, v);
	return expect_eol(tp);
}

struct toml_value *toml_parse(const char *text, size_t len, const char *file,
			      struct error **err)
{
	struct toml_parser tp = {
		.p = text,
		.end = text + len,
		.file = file,
		.line = 1,
		.err = err,
	};
	if (memchr(text, '\0', len)) {
		error_set(err, KILN_EINVAL, "%s: contains a NUL byte", file);
		return NULL;
	}
	tp.root = tp.cur = toml_new(TOML_TABLE, 1);
	for (;;) {
		skip_ws_nl(&tp);
		if (tp.p >= tp.end)
			return tp.root;
		int ret = *tp.p == '[' ? parse_header(&tp) : parse_keyval(&tp);
		if (ret < 0) {
			toml_free(tp.root);
			return NULL;
		}
	}
}
