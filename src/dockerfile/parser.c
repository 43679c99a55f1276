/*
 * parser: Dockerfile text -> AST.  Lines and arguments are split the way
 * BuildKit's parser splits them (directives, continuations, flags, JSON
 * versus shell form, ENV/LABEL/ARG words, heredocs), so `kiln parse`
 * reproduces BuildKit's dump byte for byte; then kiln rejects up front what
 * BuildKit would only reject later (unknown instructions, missing
 * arguments, forbidden ONBUILD triggers).  Pure: works on a buffer, keeps no
 * global state; every string of the result lives in the AST's arena.
 */
#include "dockerfile/dockerfile-internal.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>

/* ------------------------------------------------ UTF-8 and whitespace */

size_t dfp_utf8_decode(const char *s, const char *end, uint32_t *cp)
{
	size_t w = utf8_decode_rune((const unsigned char *)s,
				    (size_t)(end - s), cp);
	/* a real U+FFFD is 3 bytes wide: width 1 means invalid */
	return *cp == UTF8_RUNE_ERROR && w == 1 ? 0 : w;
}

size_t dfp_space_len(const char *s, const char *end)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t avail = (size_t)(end - s);

	if (!avail)
		return 0;
	if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
		return 1;
	if (p[0] == 0xC2 && avail >= 2 && (p[1] == 0x85 || p[1] == 0xA0))
		return 2;
	if (avail < 3)
		return 0;
	if (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
		return 3; /* U+1680 */
	if (p[0] == 0xE2 && p[1] == 0x80 &&
	    (p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF) &&
	    p[2] >= 0x80)
		return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
	if (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
		return 3; /* U+205F */
	if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
		return 3; /* U+3000 */
	return 0;
}

/* A borrowed piece of the input. */
struct slice {
	const char *p;
	size_t n;
};

static struct slice slice_make(const char *p, size_t n)
{
	struct slice s = { p, n };
	return s;
}

/* Go's strings.TrimLeftFunc(s, unicode.IsSpace). */
static struct slice trim_left(struct slice s)
{
	size_t k;
	while (s.n && (k = dfp_space_len(s.p, s.p + s.n))) {
		s.p += k;
		s.n -= k;
	}
	return s;
}

/* Go's strings.TrimRightFunc(s, unicode.IsSpace). */
static struct slice trim_right(struct slice s)
{
	for (;;) {
		const unsigned char *u = (const unsigned char *)s.p;
		if (s.n && dfp_space_len(s.p + s.n - 1, s.p + s.n) == 1)
			s.n -= 1;
		else if (s.n >= 2 && u[s.n - 2] == 0xC2 &&
			 dfp_space_len(s.p + s.n - 2, s.p + s.n) == 2)
			s.n -= 2;
		else if (s.n >= 3 &&
			 dfp_space_len(s.p + s.n - 3, s.p + s.n) == 3)
			s.n -= 3;
		else
			return s;
	}
}

static struct slice trim_space(struct slice s)
{
	return trim_right(trim_left(s));
}

/* BuildKit's reWhitespace: [\t\v\f\r ] (no newline). */
static bool is_re_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* ASCII whitespace, for the byte-wise scanners (flags, HEALTHCHECK). */
static bool is_ascii_ws(char c)
{
	return is_re_ws(c) || c == '\n';
}

/* ------------------------------------------------ vectors and state */

/* A growable array of arena strings and their lengths. */
struct ptrvec {
	const char **v;
	size_t *lens;
	size_t nr, alloc, lens_alloc;
};

static void ptrvec_pushn(struct ptrvec *pv, const char *s, size_t n)
{
	ALLOC_GROW(pv->v, pv->nr + 1, pv->alloc);
	ALLOC_GROW(pv->lens, pv->nr + 1, pv->lens_alloc);
	pv->lens[pv->nr] = n;
	pv->v[pv->nr++] = s;
}

static void ptrvec_push(struct ptrvec *pv, const char *s)
{
	ptrvec_pushn(pv, s, strlen(s));
}

static void ptrvec_release(struct ptrvec *pv)
{
	free(pv->v);
	free(pv->lens);
	memset(pv, 0, sizeof(*pv));
}

struct parser {
	struct dockerfile *df;
	const char *fn; /* file name for messages */
	const char *pos, *end;
	int line; /* physical lines read so far */
	char escape;
	bool directives_done;
	struct error **err;
	size_t nodes_alloc, warnings_alloc, directives_alloc;
	struct ptrvec comments; /* pending PrevComment lines */
	struct strbuf logical; /* the logical line being built */
	struct strbuf tmp; /* scratch for one argument */
};

PRINTF_LIKE(3, 4)
static int perr(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xstrvfmt(fmt, ap);
	va_end(ap);
	error_set(ps->err, KILN_EINVAL, "%s:%d: %s", ps->fn, line, msg);
	free(msg);
	return -1;
}

static const char *astr(struct parser *ps, const char *p, size_t n)
{
	return arena_strndup(&ps->df->arena, p, n);
}

static const char **afinish(struct parser *ps, const struct ptrvec *pv)
{
	if (!pv->nr)
		return NULL;
	return arena_memdup(&ps->df->arena, pv->v,
			    st_mult(pv->nr, sizeof(*pv->v)));
}

static const size_t *afinish_lens(struct parser *ps, const struct ptrvec *pv)
{
	if (!pv->nr)
		return NULL;
	return arena_memdup(&ps->df->arena, pv->lens,
			    st_mult(pv->nr, sizeof(*pv->lens)));
}

/*
 * Read the next physical line, its line ending included.  Returns 1, 0 at
 * the end of the input, or -1 (error set) for an over-long line.
 */
static int read_line(struct parser *ps, struct slice *out)
{
	if (ps->pos >= ps->end)
		return 0;
	const char *nl = memchr(ps->pos, '\n', (size_t)(ps->end - ps->pos));
	size_t n = nl ? (size_t)(nl - ps->pos) : (size_t)(ps->end - ps->pos);
	ps->line++;
	if (n > DOCKERFILE_MAX_LINE)
		return perr(ps, ps->line,
			    "dockerfile line greater than max allowed size "
			    "of %d",
			    DOCKERFILE_MAX_LINE);
	*out = slice_make(ps->pos, nl ? n + 1 : n);
	ps->pos += out->n;
	return 1;
}

/* Go's bytes.TrimRight(s, "\r\n"). */
static struct slice trim_newline(struct slice s)
{
	while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
		s.n--;
	return s;
}

static bool is_comment(struct slice s)
{
	s = trim_left(trim_newline(s));
	return s.n && s.p[0] == '#';
}

/* ------------------------------------------------ parser directives */

static bool is_re_s(char c) /* RE2's \s */
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/*
 * Look for `# name=value` while directives are still allowed.  The first
 * line that is not a known directive ends them (BuildKit's rule).
 */
static int parse_directive(struct parser *ps, struct slice s)
{
	if (ps->directives_done)
		return 0;
	if (!s.n || s.p[0] != '#') {
		ps->directives_done = true;
		return 0;
	}
	s = trim_left(slice_make(s.p + 1, s.n - 1));
	size_t i = 0;
	if (!s.n || !isalpha((unsigned char)s.p[0])) {
		ps->directives_done = true;
		return 0;
	}
	while (i < s.n && isalnum((unsigned char)s.p[i]))
		i++;
	size_t name_len = i;
	while (i < s.n && is_re_s(s.p[i]))
		i++;
	if (i >= s.n || s.p[i] != '=') {
		ps->directives_done = true;
		return 0;
	}
	i++;
	/* `\s*(.+?)\s*$`: trailing blanks go; leading blanks go unless
	 * nothing else is left, then the last one is the value */
	const char *v = s.p + i;
	size_t vn = s.n - i;
	if (memchr(v, '\n', vn) || !vn) {
		ps->directives_done = true;
		return 0;
	}
	size_t e = vn;
	while (e && is_re_s(v[e - 1]))
		e--;
	if (!e) {
		v += vn - 1;
		vn = 1;
	} else {
		size_t b = 0;
		while (is_re_s(v[b]))
			b++;
		v += b;
		vn = e - b;
	}

	char name[16];
	if (name_len >= sizeof(name)) {
		ps->directives_done = true;
		return 0;
	}
	for (size_t k = 0; k < name_len; k++)
		name[k] = (char)tolower((unsigned char)s.p[k]);
	name[name_len] = '\0';
	if (strcmp(name, "syntax") && strcmp(name, "escape") &&
	    strcmp(name, "check")) {
		ps->directives_done = true;
		return 0;
	}
	struct dockerfile *df = ps->df;
	for (size_t k = 0; k < df->ndirectives; k++)
		if (!strcmp(df->directives[k].name, name))
			return perr(ps, ps->line,
				    "only one %s parser directive can be used",
				    name);
	const char *value = astr(ps, v, vn);
	if (!strcmp(name, "escape")) {
		if (strcmp(value, "`") && strcmp(value, "\\"))
			return perr(ps, ps->line,
				    "invalid escape token '%s' does not match "
				    "` or \\",
				    value);
		ps->escape = df->escape = value[0];
	} else if (!strcmp(name, "syntax")) {
		df->syntax = value;
	} else {
		df->check = value;
	}
	ALLOC_GROW(df->directives, df->ndirectives + 1, ps->directives_alloc);
	struct dockerfile_directive *d = &df->directives[df->ndirectives++];
	d->name = astr(ps, name, name_len);
	d->value = value;
	d->line = ps->line;
	return 0;
}

/*
 * BuildKit's line-continuation rule: the escape character as the last
 * non-blank (space or tab) character, not itself preceded by the escape
 * character.  Returns true and shortens *s when the line continues.
 */
static bool trim_continuation(struct parser *ps, struct slice *s)
{
	size_t e = s->n;
	while (e && (s->p[e - 1] == ' ' || s->p[e - 1] == '\t'))
		e--;
	if (!e || s->p[e - 1] != ps->escape)
		return false;
	if (e >= 2 && s->p[e - 2] == ps->escape)
		return false;
	s->n = e - 1;
	return true;
}

/* ------------------------------------------------ JSON (exec form) */

static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `\uXXXX` at p: the code unit, or -1. */
static long json_u4(const char *p, const char *end)
{
	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	long r = 0;
	for (int i = 2; i < 6; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		r = r * 16 + h;
	}
	return r;
}

static void put_utf8(struct strbuf *out, uint32_t r)
{
	char b[4];
	if (r < 0x80) {
		strbuf_addch(out, (int)r);
		return;
	}
	if (r < 0x800) {
		b[0] = (char)(0xC0 | (r >> 6));
		b[1] = (char)(0x80 | (r & 0x3F));
		strbuf_add(out, b, 2);
	} else if (r < 0x10000) {
		b[0] = (char)(0xE0 | (r >> 12));
		b[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		b[2] = (char)(0x80 | (r & 0x3F));
		strbuf_add(out, b, 3);
	} else {
		b[0] = (char)(0xF0 | (r >> 18));
		b[1] = (char)(0x80 | ((r >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((r >> 6) & 0x3F));
		b[3] = (char)(0x80 | (r & 0x3F));
		strbuf_add(out, b, 4);
	}
}

/*
 * A JSON string at p (which is '"'), decoded as Go's encoding/json does
 * (invalid UTF-8 and lone surrogates become U+FFFD) into out, when out is
 * non-NULL.  Returns the position after the closing quote, or NULL on a
 * syntax error.  *nul is set when the string holds U+0000.
 */
static const char *json_string(const char *p, const char *end,
			       struct strbuf *out, bool *nul)
{
	p++;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (end - p < 2)
				return NULL;
			char e = p[1];
			const char *simple = strchr("\"\\/bfnrt", e);
			if (e && simple) {
				static const char map[] = "\"\\/\b\f\n\r\t";
				if (out)
					strbuf_addch(out, map[simple - "\"\\/"
								       "bfnr"
								       "t"]);
				p += 2;
				continue;
			}
			long r = json_u4(p, end);
			if (r < 0)
				return NULL;
			p += 6;
			if (r >= 0xD800 && r < 0xE000) {
				long r2 = json_u4(p, end);
				if (r < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000) {
					r = 0x10000 + ((r - 0xD800) << 10) +
					    (r2 - 0xDC00);
					p += 6;
				} else {
					r = 0xFFFD;
				}
			}
			if (!r)
				*nul = true;
			if (out)
				put_utf8(out, (uint32_t)r);
			continue;
		}
		if (c < 0x80) {
			if (out)
				strbuf_addch(out, c);
			p++;
			continue;
		}
		uint32_t cp;
		size_t n = dfp_utf8_decode(p, end, &cp);
		if (out) {
			if (n)
				strbuf_add(out, p, n);
			else
				strbuf_add(out, "\xEF\xBF\xBD", 3);
		}
		p += n ? n : 1;
	}
	return NULL;
}

/*
 * A JSON number at p.  Returns the end or NULL.  *overflow is set when it
 * does not fit a float64 (Go's Unmarshal then fails with a type error).
 */
static const char *json_number(const char *p, const char *end, bool *overflow)
{
	const char *start = p;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && isdigit((unsigned char)*p))
			p++;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return NULL;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return NULL;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	char *num = xstrndup(start, (size_t)(p - start));
	double d = strtod(num, NULL);
	free(num);
	if (isinf(d))
		*overflow = true;
	return p;
}

/* Go's encoding/json nesting limit. */
#define JSON_MAX_DEPTH 10000

/*
 * Skip one JSON value at p, already `depth` containers deep.  Iterative,
 * so hostile nesting cannot exhaust the stack.  Returns the end or NULL.
 */
static const char *json_skip_value(const char *p, const char *end, int depth,
				   bool *overflow)
{
	char *stack = NULL; /* '[' or '{' per open container */
	size_t nr = 0, alloc = 0;
	bool nul;

	for (;;) {
		/* a value */
		p = json_ws(p, end);
		if (p >= end)
			goto fail;
		if (*p == '[' || *p == '{') {
			if (depth + (int)nr + 1 > JSON_MAX_DEPTH)
				goto fail;
			ALLOC_GROW(stack, nr + 1, alloc);
			stack[nr++] = *p;
			p = json_ws(p + 1, end);
			if (p < end &&
			    *p == (stack[nr - 1] == '[' ? ']' : '}')) {
				nr--;
				p++;
				goto after_value;
			}
			if (stack[nr - 1] == '{')
				goto object_key;
			continue;
		} else if (*p == '"') {
			p = json_string(p, end, NULL, &nul);
		} else if (*p == '-' || isdigit((unsigned char)*p)) {
			p = json_number(p, end, overflow);
		} else if (end - p >= 4 && !memcmp(p, "true", 4)) {
			p += 4;
		} else if (end - p >= 5 && !memcmp(p, "false", 5)) {
			p += 5;
		} else if (end - p >= 4 && !memcmp(p, "null", 4)) {
			p += 4;
		} else {
			goto fail;
		}
		if (!p)
			goto fail;
	after_value:
		for (;;) {
			if (!nr) {
				free(stack);
				return p;
			}
			p = json_ws(p, end);
			if (p >= end)
				goto fail;
			if (*p == ',') {
				p++;
				if (stack[nr - 1] == '{')
					goto object_key;
				break; /* next array element */
			}
			if (*p == (stack[nr - 1] == '[' ? ']' : '}')) {
				nr--;
				p++;
				continue;
			}
			goto fail;
		}
		continue;
	object_key:
		p = json_ws(p, end);
		if (p >= end || *p != '"')
			goto fail;
		p = json_string(p, end, NULL, &nul);
		if (!p)
			goto fail;
		p = json_ws(p, end);
		if (p >= end || *p != ':')
			goto fail;
		p++;
	}
fail:
	free(stack);
	return NULL;
}

/*
 * BuildKit's parseJSON: `rest` as a JSON array of strings.  Returns 1 with
 * the strings pushed to args, 0 when rest is not (valid) JSON and the
 * caller falls back to the shell form, or -1 (error set) for a valid array
 * with a non-string element.
 */
static int parse_json(struct parser *ps, struct slice rest, struct ptrvec *args,
		      int line)
{
	rest = trim_left(rest);
	if (!rest.n || rest.p[0] != '[')
		return 0;
	const char *p = rest.p + 1, *end = rest.p + rest.n;
	bool nonstring = false, overflow = false;
	bool nul = false; /* allowed: BuildKit keeps \u0000 */
	size_t first = args->nr;

	p = json_ws(p, end);
	if (p < end && *p == ']') {
		p++;
	} else {
		for (;;) {
			p = json_ws(p, end);
			if (p >= end)
				goto fallback;
			if (*p == '"') {
				strbuf_reset(&ps->tmp);
				p = json_string(p, end, &ps->tmp, &nul);
				if (!p)
					goto fallback;
				ptrvec_pushn(args,
					     astr(ps, ps->tmp.buf, ps->tmp.len),
					     ps->tmp.len);
			} else {
				nonstring = true;
				p = json_skip_value(p, end, 1, &overflow);
				if (!p)
					goto fallback;
			}
			p = json_ws(p, end);
			if (p >= end)
				goto fallback;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == ']') {
				p++;
				break;
			}
			goto fallback;
		}
	}
	if (json_ws(p, end) != end || overflow)
		goto fallback;
	if (nonstring)
		return perr(ps, line,
			    "when using JSON array syntax, arrays must be "
			    "comprised of strings only");
	return 1;
fallback:
	args->nr = first;
	return 0;
}

/* ------------------------------------------------ argument splitters */

/* [\t\v\f\r ]+-separated words (FROM, EXPOSE, shell-form COPY...). */
static void split_ws(struct parser *ps, struct slice rest, struct ptrvec *args)
{
	size_t i = 0;
	if (!rest.n)
		return;
	for (;;) {
		size_t b = i;
		while (i < rest.n && !is_re_ws(rest.p[i]))
			i++;
		ptrvec_push(args, astr(ps, rest.p + b, i - b));
		if (i >= rest.n)
			return;
		while (i < rest.n && is_re_ws(rest.p[i]))
			i++;
		if (i >= rest.n) {
			ptrvec_push(args, astr(ps, "", 0));
			return;
		}
	}
}

/* Append one decoded character, U+FFFD for an invalid byte. */
static size_t add_rune(struct strbuf *sb, const char *p, const char *end)
{
	uint32_t cp;
	size_t n = dfp_utf8_decode(p, end, &cp);
	if (n) {
		strbuf_add(sb, p, n);
		return n;
	}
	strbuf_add(sb, "\xEF\xBF\xBD", 3);
	return 1;
}

/*
 * BuildKit's parseWords (ENV, LABEL, ARG): quote-aware words, quotes and
 * escapes kept in the text.
 */
static void parse_words(struct parser *ps, struct slice rest,
			struct ptrvec *words)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	const char *p = rest.p, *end = rest.p + rest.n;
	struct strbuf *w = &ps->tmp;
	bool blank_ok = false;
	char quote = 0;

	strbuf_reset(w);
	while (p < end) {
		size_t sp = dfp_space_len(p, end);
		char c = *p;
		if (phase == IN_SPACES) {
			if (sp) {
				p += sp;
				continue;
			}
			phase = IN_WORD;
		}
		if (phase == IN_WORD) {
			if (sp) {
				if (blank_ok || w->len)
					ptrvec_push(words,
						    astr(ps, w->buf, w->len));
				strbuf_reset(w);
				blank_ok = false;
				phase = IN_SPACES;
				p += sp;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (c == ps->escape) {
				if (p + 1 == end) {
					p++;
					continue;
				}
				strbuf_addch(w, c);
				p++;
			}
			p += add_rune(w, p, end);
			continue;
		}
		/* IN_QUOTE */
		if (c == quote)
			phase = IN_WORD;
		if (c == ps->escape && quote != '\'') {
			if (p + 1 == end) {
				phase = IN_WORD;
				p++;
				continue;
			}
			strbuf_addch(w, c);
			p++;
		}
		p += add_rune(w, p, end);
	}
	if (phase != IN_SPACES && (blank_ok || w->len))
		ptrvec_push(words, astr(ps, w->buf, w->len));
}

/* ENV and LABEL: `KEY value` or `k=v k2=v2`, three strings per pair. */
static int parse_name_val(struct parser *ps, struct slice rest,
			  const char *what, struct ptrvec *args, int line)
{
	struct ptrvec words = { 0 };
	int ret = 0;

	parse_words(ps, rest, &words);
	if (!words.nr)
		goto out;
	if (!strchr(words.v[0], '=')) {
		size_t i = 0;
		while (i < rest.n && !is_re_ws(rest.p[i]))
			i++;
		if (i >= rest.n) {
			ret = perr(ps, line, "%s must have two arguments",
				   what);
			goto out;
		}
		ptrvec_push(args, astr(ps, rest.p, i));
		while (i < rest.n && is_re_ws(rest.p[i]))
			i++;
		ptrvec_push(args, astr(ps, rest.p + i, rest.n - i));
		ptrvec_push(args, "");
		goto out;
	}
	for (size_t k = 0; k < words.nr; k++) {
		const char *eq = strchr(words.v[k], '=');
		if (!eq) {
			ret = perr(ps, line,
				   "syntax error - can't find = in \"%s\"; "
				   "must be of the form: name=value",
				   words.v[k]);
			goto out;
		}
		ptrvec_push(args,
			    astr(ps, words.v[k], (size_t)(eq - words.v[k])));
		ptrvec_push(args, eq + 1);
		ptrvec_push(args, "=");
	}
out:
	ptrvec_release(&words);
	return ret;
}

/*
 * BuildKit's extractBuilderFlags: the leading `--name[=value]` words.  The
 * escape character here is always the backslash, as in BuildKit.  Returns
 * what follows the flags.  Deliberate difference: BuildKit scans bytes as
 * if they were Latin-1 characters, so it splits words on the bytes 0x85 and
 * 0xA0 (cutting UTF-8 characters in two) and re-encodes every byte >= 0x80;
 * kiln splits on ASCII blanks only and keeps bytes as written.
 */
static struct slice extract_flags(struct parser *ps, struct slice line,
				  struct ptrvec *flags)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct strbuf *w = &ps->tmp;
	bool blank_ok = false;
	char quote = 0;
	size_t pos;

	strbuf_reset(w);
	for (pos = 0; pos <= line.n; pos++) {
		char c = pos < line.n ? line.p[pos] : 0;
		if (phase == IN_SPACES) {
			if (pos == line.n)
				break;
			if (is_ascii_ws(c))
				continue;
			if (c != '-' || pos + 1 == line.n ||
			    line.p[pos + 1] != '-')
				return slice_make(line.p + pos, line.n - pos);
			phase = IN_WORD;
		}
		if (pos == line.n) {
			bool dashdash = w->len == 2 && !memcmp(w->buf, "--", 2);
			if (!dashdash && (blank_ok || w->len))
				ptrvec_push(flags, astr(ps, w->buf, w->len));
			break;
		}
		if (phase == IN_WORD) {
			if (is_ascii_ws(c)) {
				phase = IN_SPACES;
				if (w->len == 2 && !memcmp(w->buf, "--", 2))
					return slice_make(line.p + pos,
							  line.n - pos);
				if (blank_ok || w->len)
					ptrvec_push(flags,
						    astr(ps, w->buf, w->len));
				strbuf_reset(w);
				blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (c == '\\') {
				if (pos + 1 == line.n)
					continue;
				c = line.p[++pos];
			}
			strbuf_addch(w, c);
			continue;
		}
		/* IN_QUOTE */
		if (c == quote) {
			phase = IN_WORD;
			continue;
		}
		if (c == '\\') {
			if (pos + 1 == line.n) {
				phase = IN_WORD;
				continue;
			}
			c = line.p[++pos];
		}
		strbuf_addch(w, c);
	}
	return slice_make(line.p + line.n, 0);
}

/* ------------------------------------------------ heredoc detection */

/*
 * The few pieces of BuildKit's shell lexer that decide which words of a
 * RUN/COPY/ADD line are heredoc markers and what their delimiters are:
 * word splitting, quotes, escapes (always '\\'), `$VAR` / `${...}` kept as
 * written (no variable is set here), and `<<` swallowing the blanks after
 * it.  Any lexing error means "no heredocs", as in BuildKit.
 */
struct hlex {
	const char *p, *end;
	bool raw_quotes;
	bool raw_escapes;
};

struct hwords {
	struct strbuf word;
	bool in_word;
	struct strvec *out; /* NULL: words are not wanted */
};

static size_t hlen(const struct hlex *lx)
{
	uint32_t cp;
	size_t n = dfp_utf8_decode(lx->p, lx->end, &cp);
	return n ? n : 1;
}

static void hw_raw(struct hwords *w, const char *p, size_t n)
{
	strbuf_add(&w->word, p, n);
	w->in_word = true;
}

static void hw_char(struct hwords *w, const char *p, size_t n)
{
	if (dfp_space_len(p, p + n) == n) {
		if (w->in_word && w->word.len) {
			if (w->out)
				strvec_push(w->out, w->word.buf);
			strbuf_reset(&w->word);
			w->in_word = false;
		}
		return;
	}
	hw_raw(w, p, n);
}

static void hw_string(struct hwords *w, const char *s, size_t n)
{
	const char *end = s + n;
	while (s < end) {
		uint32_t cp;
		size_t k = dfp_utf8_decode(s, end, &cp);
		if (!k)
			k = 1;
		hw_char(w, s, k);
		s += k;
	}
}

static int hlex_stop_on(struct hlex *lx, int stop, bool raw_escapes,
			struct strbuf *result, struct hwords *w);

static void hlex_name(struct hlex *lx, struct strbuf *name)
{
	if (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p))
			strbuf_addch(name, *lx->p++);
		return;
	}
	if (lx->p < lx->end && *lx->p && strchr("@*#?-$!", *lx->p)) {
		strbuf_addch(name, *lx->p++);
		return;
	}
	while (lx->p < lx->end) {
		unsigned char c = (unsigned char)*lx->p;
		if (c < 0x80) {
			if (!isalnum(c) && c != '_')
				break;
			strbuf_addch(name, (char)c);
			lx->p++;
			continue;
		}
		size_t n = hlen(lx);
		if (dfp_space_len(lx->p, lx->end) == n)
			break;
		strbuf_add(name, lx->p, n);
		lx->p += n;
	}
}

/* `$...` with every variable unset and unset ones kept as written. */
static int hlex_dollar(struct hlex *lx, struct strbuf *out)
{
	struct strbuf name = STRBUF_INIT, word = STRBUF_INIT;
	int ret = 0;

	lx->p++; /* '$' */
	if (lx->p >= lx->end || *lx->p != '{') {
		hlex_name(lx, &name);
		strbuf_addch(out, '$');
		strbuf_addbuf(out, &name);
		goto out;
	}
	lx->p++;
	if (lx->p >= lx->end || *lx->p == '{' || *lx->p == '}' ||
	    *lx->p == ':') {
		ret = -1;
		goto out;
	}
	hlex_name(lx, &name);
	if (lx->p >= lx->end) {
		ret = -1;
		goto out;
	}
	char ch = *lx->p++;
	switch (ch) {
	case '}':
		strbuf_addf(out, "${%s}", name.buf);
		break;
	case ':':
		if (lx->p >= lx->end) {
			ret = -1;
			break;
		}
		/* any character may follow ':' here */
		size_t n = hlen(lx);
		const char *mod = lx->p;
		lx->p += n;
		if (hlex_stop_on(lx, '}', *mod == '#' || *mod == '%', &word,
				 NULL) < 0) {
			ret = -1;
			break;
		}
		strbuf_addf(out, "${%s:", name.buf);
		strbuf_add(out, mod, n);
		strbuf_addbuf(out, &word);
		strbuf_addch(out, '}');
		break;
	case '+':
	case '-':
	case '?':
	case '#':
	case '%':
		if (hlex_stop_on(lx, '}', ch == '#' || ch == '%', &word, NULL) <
		    0) {
			ret = -1;
			break;
		}
		strbuf_addf(out, "${%s%c%s}", name.buf, ch, word.buf);
		break;
	case '/': {
		struct strbuf repl = STRBUF_INIT;
		if (lx->p < lx->end && *lx->p == '/')
			lx->p++;
		if (hlex_stop_on(lx, '/', true, &word, NULL) < 0 ||
		    hlex_stop_on(lx, '}', true, &repl, NULL) < 0)
			ret = -1;
		else
			strbuf_addf(out, "${%s/%s/%s}", name.buf, word.buf,
				    repl.buf);
		strbuf_release(&repl);
		break;
	}
	default:
		ret = -1;
	}
out:
	strbuf_release(&name);
	strbuf_release(&word);
	return ret;
}

static int hlex_single(struct hlex *lx, struct strbuf *out)
{
	if (lx->raw_quotes)
		strbuf_addch(out, '\'');
	lx->p++;
	while (lx->p < lx->end) {
		if (*lx->p == '\'') {
			if (lx->raw_quotes)
				strbuf_addch(out, '\'');
			lx->p++;
			return 0;
		}
		strbuf_addch(out, *lx->p++);
	}
	return -1;
}

static int hlex_double(struct hlex *lx, struct strbuf *out)
{
	if (lx->raw_quotes)
		strbuf_addch(out, '"');
	lx->p++;
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '"') {
			if (lx->raw_quotes)
				strbuf_addch(out, '"');
			lx->p++;
			return 0;
		}
		if (c == '$') {
			if (hlex_dollar(lx, out) < 0)
				return -1;
			continue;
		}
		lx->p++;
		if (c == '\\') {
			if (lx->raw_escapes)
				strbuf_addch(out, c);
			if (lx->p >= lx->end)
				continue;
			if (*lx->p == '"' || *lx->p == '$' || *lx->p == '\\')
				c = *lx->p++;
		}
		strbuf_addch(out, c);
	}
	return -1;
}

static void hlex_lt(struct hlex *lx, struct strbuf *out)
{
	lx->p++;
	strbuf_addch(out, '<');
	if (lx->p >= lx->end || *lx->p != '<')
		return;
	lx->p++;
	strbuf_addch(out, '<');
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
				   *lx->p == '\r' || *lx->p == '\n'))
		strbuf_addch(out, *lx->p++);
}

/* BuildKit's processStopOn; stop is a character or -1 for the end. */
static int hlex_stop_on(struct hlex *lx, int stop, bool raw_escapes,
			struct strbuf *result, struct hwords *w)
{
	bool saved = lx->raw_escapes;
	struct strbuf tmp = STRBUF_INIT;
	int ret = 0;

	lx->raw_escapes = raw_escapes;
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (stop >= 0 && c == stop) {
			lx->p++;
			goto out;
		}
		if (c == '$' || c == '<' || c == '\'' || c == '"') {
			strbuf_reset(&tmp);
			if (c == '$')
				ret = hlex_dollar(lx, &tmp);
			else if (c == '<')
				hlex_lt(lx, &tmp);
			else if (c == '\'')
				ret = hlex_single(lx, &tmp);
			else
				ret = hlex_double(lx, &tmp);
			if (ret < 0)
				goto out;
			strbuf_addbuf(result, &tmp);
			if (w && c == '$')
				hw_string(w, tmp.buf, tmp.len);
			else if (w)
				hw_raw(w, tmp.buf, tmp.len);
			continue;
		}
		size_t n = hlen(lx);
		const char *ch = lx->p;
		lx->p += n;
		if (c == '\\') {
			if (lx->raw_escapes) {
				if (w)
					hw_raw(w, ch, n);
				strbuf_add(result, ch, n);
			}
			if (lx->p >= lx->end)
				break;
			ch = lx->p;
			n = hlen(lx);
			lx->p += n;
			if (w)
				hw_raw(w, ch, n);
		} else if (w) {
			hw_char(w, ch, n);
		}
		strbuf_add(result, ch, n);
	}
	if (stop >= 0)
		ret = -1;
out:
	lx->raw_escapes = saved;
	strbuf_release(&tmp);
	return ret;
}

/* BuildKit's ProcessWords over s.  Returns 0 or -1 (a lexing error). */
static int hlex_words(const char *s, size_t n, bool raw_quotes,
		      bool raw_escapes, struct strvec *out)
{
	struct hlex lx = { s, s + n, raw_quotes, raw_escapes };
	struct hwords w = { STRBUF_INIT, false, out };
	struct strbuf result = STRBUF_INIT;
	int ret = hlex_stop_on(&lx, -1, raw_escapes, &result, &w);
	if (!ret && w.word.len)
		strvec_push(out, w.word.buf);
	strbuf_release(&w.word);
	strbuf_release(&result);
	return ret;
}

static size_t count_quotes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

/*
 * One word of the line: a heredoc marker `[fd]<<[-][blanks]WORD` or not.
 * Returns 1 (filled in), 0 (not a heredoc) or -1 (error set).
 */
static int parse_heredoc_word(struct parser *ps, const char *word,
			      struct dockerfile_heredoc *hd, int line)
{
	const char *p = word;
	long long fd = 0;
	while (isdigit((unsigned char)*p)) {
		if (fd < INT_MAX)
			fd = fd * 10 + (*p - '0');
		p++;
	}
	if (p[0] != '<' || p[1] != '<')
		return 0;
	p += 2;
	bool chomp = *p == '-';
	if (chomp)
		p++;
	while (*p && is_re_s(*p))
		p++;
	if (!*p || strchr(p, '<'))
		return 0;

	struct strvec cooked = STRVEC_INIT, raw = STRVEC_INIT;
	int ret = 0;
	if (hlex_words(p, strlen(p), false, false, &cooked) < 0 ||
	    hlex_words(p, strlen(p), true, false, &raw) < 0) {
		ret = perr(ps, line, "invalid heredoc delimiter '%s'", p);
		goto out;
	}
	if (cooked.nr != 1)
		goto out;
	if (raw.nr != 1) {
		ret = perr(ps, line,
			   "internal lexing of heredoc produced inconsistent "
			   "results: %s",
			   p);
		goto out;
	}
	hd->name = arena_strdup(&ps->df->arena, cooked.v[0]);
	hd->expand = count_quotes(cooked.v[0]) == count_quotes(raw.v[0]);
	hd->chomp = chomp;
	hd->fd = fd > INT_MAX ? INT_MAX : (int)fd;
	ret = 1;
out:
	strvec_clear(&cooked);
	strvec_clear(&raw);
	return ret;
}

/* ------------------------------------------------ instructions */

enum kw {
	KW_ADD,
	KW_ARG,
	KW_CMD,
	KW_COPY,
	KW_ENTRYPOINT,
	KW_ENV,
	KW_EXPOSE,
	KW_FROM,
	KW_HEALTHCHECK,
	KW_LABEL,
	KW_MAINTAINER,
	KW_ONBUILD,
	KW_RUN,
	KW_SHELL,
	KW_STOPSIGNAL,
	KW_USER,
	KW_VOLUME,
	KW_WORKDIR,
	KW_UNKNOWN,
};

static const char *const kw_names[] = {
	"add",	  "arg",   "cmd",	  "copy",  "entrypoint", "env",
	"expose", "from",  "healthcheck", "label", "maintainer", "onbuild",
	"run",	  "shell", "stopsignal",  "user",  "volume",	 "workdir",
};

static enum kw lookup_kw(const char *lower)
{
	for (size_t i = 0; i < ARRAY_SIZE(kw_names); i++)
		if (!strcmp(kw_names[i], lower))
			return (enum kw)i;
	return KW_UNKNOWN;
}

static void upper(char *dst, const char *src, size_t size)
{
	size_t i = 0;
	for (; src[i] && i + 1 < size; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

static int cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

static bool is_anagram(const char *a, const char *b)
{
	char x[16], y[16];
	size_t n = strlen(a);
	if (n != strlen(b) || n >= sizeof(x))
		return false;
	memcpy(x, a, n);
	memcpy(y, b, n);
	qsort(x, n, 1, cmp_char);
	qsort(y, n, 1, cmp_char);
	return !memcmp(x, y, n);
}

static int unknown_instruction(struct parser *ps, struct slice kw, int line)
{
	char *written = xstrndup(kw.p, kw.n > 200 ? 200 : kw.n);
	char *lower = xstrdup(written);
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	int ret;

	for (char *c = lower; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	/* close enough: a third of the letters wrong (at least one, two
	 * from four letters on), or the same letters in another order */
	size_t len = strlen(lower);
	size_t limit = len >= 4 ? (len / 3 > 2 ? len / 3 : 2) : 1;
	for (size_t i = 0; i < ARRAY_SIZE(kw_names); i++) {
		size_t d = levenshtein(lower, kw_names[i]);
		if (d > limit && is_anagram(lower, kw_names[i]))
			d = limit;
		if (d < best_d) {
			best_d = d;
			best = kw_names[i];
		}
	}
	if (!kw.n)
		ret = perr(ps, line,
			   "a line continuation leads to an empty "
			   "instruction");
	else if (best && best_d <= limit) {
		char sug[16];
		upper(sug, best, sizeof(sug));
		ret = perr(ps, line,
			   "unknown instruction: %s (did you mean %s?)",
			   written, sug);
	} else {
		ret = perr(ps, line, "unknown instruction: %s", written);
	}
	free(written);
	free(lower);
	return ret;
}

/* kiln's extra checks, which BuildKit only makes after parsing. */
static int check_node(struct parser *ps, const struct dockerfile_node *n,
		      enum kw kw, int line)
{
	char name[16];
	upper(name, n->keyword, sizeof(name));
	switch (kw) {
	case KW_FROM:
		if (n->nargs == 1 ||
		    (n->nargs == 3 && !strcasecmp(n->args[1], "as")))
			return 0;
		return perr(ps, line,
			    "FROM requires either one or three arguments");
	case KW_ADD:
	case KW_COPY:
		if (n->nargs == 0)
			return perr(ps, line,
				    "%s requires at least two arguments", name);
		if (n->nargs == 1)
			return perr(ps, line,
				    "%s requires at least two arguments, but "
				    "only one was provided. Destination could "
				    "not be determined",
				    name);
		return 0;
	case KW_ARG:
	case KW_ENV:
	case KW_EXPOSE:
	case KW_LABEL:
	case KW_SHELL:
	case KW_VOLUME:
		if (!n->nargs)
			return perr(ps, line,
				    "%s requires at least one argument", name);
		return 0;
	case KW_ONBUILD:
		if (!n->child)
			return perr(ps, line,
				    "ONBUILD requires at least one argument");
		if (!strcmp(n->child->keyword, "onbuild"))
			return perr(ps, line,
				    "chaining ONBUILD via `ONBUILD ONBUILD` "
				    "isn't allowed");
		if (!strcmp(n->child->keyword, "from") ||
		    !strcmp(n->child->keyword, "maintainer")) {
			upper(name, n->child->keyword, sizeof(name));
			return perr(ps, line,
				    "%s isn't allowed as an ONBUILD trigger",
				    name);
		}
		return 0;
	case KW_MAINTAINER:
	case KW_STOPSIGNAL:
	case KW_USER:
	case KW_WORKDIR:
		if (!n->nargs)
			return perr(ps, line,
				    "%s requires exactly one argument", name);
		return 0;
	default:
		return 0;
	}
}

/* `CMD x`: a JSON array, else the whole rest as one string. */
static int parse_maybe_json(struct parser *ps, struct slice rest,
			    struct ptrvec *args, bool *json, int line)
{
	if (!rest.n)
		return 0;
	int r = parse_json(ps, rest, args, line);
	if (r < 0)
		return -1;
	if (r > 0) {
		*json = true;
		return 0;
	}
	ptrvec_push(args, astr(ps, rest.p, rest.n));
	return 0;
}

static struct dockerfile_node *new_node(struct parser *ps, struct slice line,
					int lineno);

/* Split the arguments of one instruction into node. */
static int dispatch(struct parser *ps, struct dockerfile_node *node, enum kw kw,
		    struct slice rest, struct ptrvec *args, int lineno)
{
	int r;

	switch (kw) {
	case KW_ADD:
	case KW_COPY:
	case KW_VOLUME:
		r = parse_json(ps, rest, args, lineno);
		if (r < 0)
			return -1;
		if (r > 0)
			node->json = true;
		else
			split_ws(ps, rest, args);
		return 0;
	case KW_FROM:
	case KW_EXPOSE:
		split_ws(ps, rest, args);
		return 0;
	case KW_CMD:
	case KW_ENTRYPOINT:
	case KW_RUN:
	case KW_SHELL:
		return parse_maybe_json(ps, rest, args, &node->json, lineno);
	case KW_MAINTAINER:
	case KW_STOPSIGNAL:
	case KW_USER:
	case KW_WORKDIR:
		if (rest.n)
			ptrvec_push(args, astr(ps, rest.p, rest.n));
		return 0;
	case KW_ENV:
		return parse_name_val(ps, rest, "ENV", args, lineno);
	case KW_LABEL:
		return parse_name_val(ps, rest, "LABEL", args, lineno);
	case KW_ARG:
		parse_words(ps, rest, args);
		return 0;
	case KW_HEALTHCHECK: {
		/* the type word ends at an ASCII blank (see extract_flags) */
		size_t sep = 0, next;
		while (sep < rest.n && !is_ascii_ws(rest.p[sep]))
			sep++;
		if (!sep)
			return 0;
		next = sep;
		while (next < rest.n && is_ascii_ws(rest.p[next]))
			next++;
		ptrvec_push(args, astr(ps, rest.p, sep));
		return parse_maybe_json(
			ps, slice_make(rest.p + next, rest.n - next), args,
			&node->json, lineno);
	}
	case KW_ONBUILD:
		if (!rest.n)
			return 0;
		node->child = new_node(ps, rest, lineno);
		return node->child ? 0 : -1;
	case KW_UNKNOWN:
		break;
	}
	BUG("unhandled instruction");
}

/*
 * BuildKit's newNodeFromLine: keyword, flags, then the per-instruction
 * argument split; plus kiln's checks.  Returns NULL with the error set.
 */
static struct dockerfile_node *new_node(struct parser *ps, struct slice line,
					int lineno)
{
	struct slice s = trim_space(line), kw, rest = { "", 0 };
	struct ptrvec flags = { 0 }, args = { 0 };
	struct dockerfile_node *node = NULL;
	size_t i = 0;

	while (i < s.n && !is_re_ws(s.p[i]))
		i++;
	kw = slice_make(s.p, i);
	if (i < s.n) {
		while (i < s.n && is_re_ws(s.p[i]))
			i++;
		rest = extract_flags(ps, slice_make(s.p + i, s.n - i), &flags);
		rest = trim_space(rest);
	}

	char lower[16];
	enum kw k = KW_UNKNOWN;
	if (kw.n && kw.n < sizeof(lower)) {
		for (size_t j = 0; j < kw.n; j++)
			lower[j] = (char)tolower((unsigned char)kw.p[j]);
		lower[kw.n] = '\0';
		k = lookup_kw(lower);
	}
	if (k == KW_UNKNOWN) {
		unknown_instruction(ps, kw, lineno);
		goto out;
	}

	node = arena_alloc(&ps->df->arena, sizeof(*node));
	node->keyword = kw_names[k];
	node->original = astr(ps, line.p, line.n);
	node->start_line = node->end_line = lineno;
	node->flags = afinish(ps, &flags);
	node->nflags = flags.nr;
	if (dispatch(ps, node, k, rest, &args, lineno) < 0) {
		node = NULL;
		goto out;
	}
	node->args = afinish(ps, &args);
	node->arg_lens = afinish_lens(ps, &args);
	node->nargs = args.nr;
	if (check_node(ps, node, k, lineno) < 0)
		node = NULL;
out:
	ptrvec_release(&flags);
	ptrvec_release(&args);
	return node;
}

/* BuildKit's canContainHeredoc: RUN, COPY, ADD in shell form. */
static bool can_contain_heredoc(const struct dockerfile_node *n)
{
	if (!strcmp(n->keyword, "onbuild") && n->child)
		n = n->child;
	if (strcmp(n->keyword, "run") && strcmp(n->keyword, "copy") &&
	    strcmp(n->keyword, "add"))
		return false;
	return !n->json;
}

/* Find the heredoc markers of node's line and read their bodies. */
static int read_heredocs(struct parser *ps, struct dockerfile_node *node,
			 const char *line, size_t len)
{
	struct strvec words = STRVEC_INIT;
	struct dockerfile_heredoc *hds = NULL;
	size_t nr = 0, alloc = 0;
	struct strbuf body = STRBUF_INIT;
	int ret = 0;

	if (!can_contain_heredoc(node) || !memmem(line, len, "<<", 2))
		return 0;
	if (hlex_words(line, len, true, true, &words) < 0)
		goto out; /* unbalanced quotes and such: no heredocs */
	for (size_t i = 0; i < words.nr; i++) {
		struct dockerfile_heredoc hd = { 0 };
		int r = parse_heredoc_word(ps, words.v[i], &hd,
					   node->start_line);
		if (r < 0) {
			ret = -1;
			goto out;
		}
		if (r > 0) {
			ALLOC_GROW(hds, nr + 1, alloc);
			hds[nr++] = hd;
		}
	}
	for (size_t i = 0; i < nr; i++) {
		size_t nlen = strlen(hds[i].name);
		bool done = false;
		struct slice s;
		int r;

		strbuf_reset(&body);
		while ((r = read_line(ps, &s)) > 0) {
			struct slice t = trim_newline(s);
			if (hds[i].chomp)
				while (t.n && t.p[0] == '\t') {
					t.p++;
					t.n--;
				}
			if (t.n == nlen && !memcmp(t.p, hds[i].name, nlen)) {
				done = true;
				break;
			}
			strbuf_add(&body, s.p, s.n);
		}
		if (r < 0) {
			ret = -1;
			goto out;
		}
		if (!done) {
			ret = perr(ps, node->start_line,
				   "unterminated heredoc \"%s\"", hds[i].name);
			goto out;
		}
		hds[i].content = astr(ps, body.buf, body.len);
	}
	if (nr) {
		node->heredocs = arena_memdup(&ps->df->arena, hds,
					      st_mult(nr, sizeof(*hds)));
		node->nheredocs = nr;
	}
out:
	free(hds);
	strbuf_release(&body);
	strvec_clear(&words);
	return ret;
}

static void add_warning(struct parser *ps, int line, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static void add_warning(struct parser *ps, int line, const char *fmt, ...)
{
	struct dockerfile *df = ps->df;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xstrvfmt(fmt, ap);
	va_end(ap);
	ALLOC_GROW(df->warnings, df->nwarnings + 1, ps->warnings_alloc);
	df->warnings[df->nwarnings].line = line;
	df->warnings[df->nwarnings].msg = arena_strdup(&df->arena, msg);
	df->nwarnings++;
	free(msg);
}

/* Remember a comment line for the next instruction's `comments`. */
static void note_comment(struct parser *ps, struct slice s)
{
	s = trim_left(trim_newline(s));
	s = trim_space(slice_make(s.p + 1, s.n - 1));
	if (!s.n)
		ps->comments.nr = 0;
	else
		ptrvec_push(&ps->comments, astr(ps, s.p, s.n));
}

/* One logical line: the instruction plus its continuations and heredocs. */
static int parse_one(struct parser *ps, struct slice s)
{
	struct dockerfile *df = ps->df;

	if (ps->line == 1 && s.n >= 3 && !memcmp(s.p, "\xEF\xBB\xBF", 3)) {
		s.p += 3;
		s.n -= 3;
	}
	struct slice t = trim_left(trim_newline(s));
	bool comment = t.n && t.p[0] == '#';
	size_t ndirectives = df->ndirectives;
	if (parse_directive(ps, t) < 0)
		return -1;
	if (comment) {
		/* directives are not comments of the first instruction */
		if (df->ndirectives == ndirectives)
			note_comment(ps, s);
		t.n = 0;
	}

	int start = ps->line, empty_line = 0;
	bool more = trim_continuation(ps, &t);
	if (!more && !t.n)
		return 0;
	strbuf_reset(&ps->logical);
	strbuf_add(&ps->logical, t.p, t.n);
	while (more) {
		int r = read_line(ps, &s);
		if (r < 0)
			return -1;
		if (!r)
			break;
		if (is_comment(s))
			continue;
		t = trim_newline(s);
		if (!trim_left(t).n) {
			if (!empty_line)
				empty_line = ps->line;
			continue;
		}
		more = trim_continuation(ps, &t);
		strbuf_add(&ps->logical, t.p, t.n);
	}
	if (empty_line)
		add_warning(ps, empty_line,
			    "empty continuation line found in: %s",
			    ps->logical.buf);

	struct dockerfile_node *node = new_node(
		ps, slice_make(ps->logical.buf, ps->logical.len), start);
	if (!node)
		return -1;
	if (read_heredocs(ps, node, ps->logical.buf, ps->logical.len) < 0)
		return -1;
	node->start_line = start;
	node->end_line = ps->line;
	if (node->child) {
		node->child->start_line = start;
		node->child->end_line = ps->line;
	}
	node->comments = afinish(ps, &ps->comments);
	node->ncomments = ps->comments.nr;
	ps->comments.nr = 0;

	ALLOC_GROW(df->nodes, df->nnodes + 1, ps->nodes_alloc);
	df->nodes[df->nnodes++] = *node;
	if (df->nnodes == 1)
		df->start_line = start;
	df->end_line = ps->line;
	return 0;
}

struct dockerfile *dockerfile_parse(const char *filename, const char *text,
				    size_t len, struct error **err)
{
	struct dockerfile *df = xcalloc(1, sizeof(*df));
	struct parser ps = { 0 };
	struct slice s;
	int r;

	df->filename =
		arena_strdup(&df->arena, filename ? filename : "Dockerfile");
	df->escape = '\\';
	ps.df = df;
	ps.fn = df->filename;
	ps.escape = '\\';
	ps.err = err;
	strbuf_init(&ps.logical, 0);
	strbuf_init(&ps.tmp, 0);

	if (!text)
		text = "";
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		perr(&ps, line,
		     "NUL byte in the file: a Dockerfile is text, not "
		     "binary data");
		goto fail;
	}

	ps.pos = text;
	ps.end = text + len;
	while ((r = read_line(&ps, &s)) > 0)
		if (parse_one(&ps, s) < 0)
			goto fail;
	if (r < 0)
		goto fail;
	if (!df->nnodes) {
		perr(&ps, ps.line ? ps.line : 1, "file with no instructions");
		goto fail;
	}
	strbuf_release(&ps.logical);
	strbuf_release(&ps.tmp);
	ptrvec_release(&ps.comments);
	return df;
fail:
	strbuf_release(&ps.logical);
	strbuf_release(&ps.tmp);
	ptrvec_release(&ps.comments);
	dockerfile_free(df);
	return NULL;
}

void dockerfile_free(struct dockerfile *df)
{
	if (!df)
		return;
	free(df->nodes);
	free(df->warnings);
	free(df->directives);
	arena_release(&df->arena);
	free(df);
}
