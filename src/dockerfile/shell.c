/*
 * Shell-word expansion with BuildKit's semantics (its shell.Lex): quotes,
 * the escape character, $VAR and the ${VAR...} forms, and the glob
 * patterns of ${VAR#p} ${VAR%p} ${VAR/p/r}, which BuildKit turns into Go
 * regular expressions; a small leftmost-first NFA simulation reproduces
 * the match Go's regexp picks, in O(pattern * value) time.  Input is
 * decoded as UTF-8 the way Go's text/scanner does it (invalid bytes become
 * U+FFFD, a leading BOM is dropped).  Pure: no I/O, no global state.
 */
#include "dockerfile/dockerfile.h"

#define EOF_CP (-1)
/* Nesting of ${a:-${b:-...}} we accept before refusing the word. */
#define MAX_DEPTH 500
/*
 * The most one expansion may produce.  Nested substitutions multiply
 * (`${V//?/${V//?/...}}` grows as len(V)^depth), so without a cap a few
 * hundred bytes of Dockerfile ask for gigabytes; BuildKit has no limit.
 */
#define MAX_OUTPUT ((size_t)DOCKERFILE_EXPAND_MAX)

/* ---------------------------------------------------------------- env */

void dockerfile_env_init(struct dockerfile_env *env)
{
	strvec_init(&env->vars);
	env->case_insensitive = false;
}

void dockerfile_env_release(struct dockerfile_env *env)
{
	strvec_clear(&env->vars);
}

void dockerfile_env_push(struct dockerfile_env *env, const char *name,
			 const char *value)
{
	strvec_pushf(&env->vars, "%s=%s", name, value);
}

void dockerfile_env_push_entry(struct dockerfile_env *env, const char *entry)
{
	strvec_push(&env->vars, entry);
}

static bool name_eq(const struct dockerfile_env *env, const char *entry,
		    size_t elen, const char *name, size_t nlen)
{
	if (elen != nlen)
		return false;
	if (env->case_insensitive)
		return !strncasecmp(entry, name, nlen);
	return !memcmp(entry, name, nlen);
}

static size_t entry_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* Index of the last entry named `name`, or -1. */
static ssize_t env_find(const struct dockerfile_env *env, const char *name,
			size_t nlen)
{
	for (size_t i = env->vars.nr; i-- > 0;) {
		const char *e = env->vars.v[i];
		if (name_eq(env, e, entry_name_len(e), name, nlen))
			return (ssize_t)i;
	}
	return -1;
}

void dockerfile_env_set(struct dockerfile_env *env, const char *name,
			const char *value)
{
	ssize_t i = env_find(env, name, strlen(name));
	if (i < 0) {
		dockerfile_env_push(env, name, value);
		return;
	}
	free((char *)env->vars.v[i]);
	env->vars.v[i] = xstrfmt("%s=%s", name, value);
}

static const char *env_lookup(const struct dockerfile_env *env,
			      const char *name, size_t nlen)
{
	if (!env)
		return NULL;
	ssize_t i = env_find(env, name, nlen);
	if (i < 0)
		return NULL;
	const char *e = env->vars.v[i];
	const char *eq = strchr(e, '=');
	return eq ? eq + 1 : "";
}

const char *dockerfile_env_get(const struct dockerfile_env *env,
			       const char *name)
{
	return env_lookup(env, name, strlen(name));
}

void dockerfile_env_copy(struct dockerfile_env *dst,
			 const struct dockerfile_env *src)
{
	dst->case_insensitive = src->case_insensitive;
	for (size_t i = 0; i < src->vars.nr; i++)
		strvec_push(&dst->vars, src->vars.v[i]);
}

/* ---------------------------------------------------------------- UTF-8 */

/* Go's utf8.DecodeRune, and EOF_CP at the end. */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *width)
{
	uint32_t r;
	if (!len) {
		*width = 1;
		return EOF_CP;
	}
	*width = utf8_decode_rune(s, len, &r);
	return (int32_t)r;
}

static void add_rune(struct strbuf *sb, int32_t cp)
{
	unsigned char b[4];
	size_t n;
	uint32_t c = (uint32_t)cp;
	if (cp < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		c = UTF8_RUNE_ERROR;
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	strbuf_add(sb, b, n);
}

/* Decode a whole string into code points; off[i] is the byte offset of
 * cps[i], off[n] the length. */
struct runes {
	int32_t *cps;
	size_t *off;
	size_t n;
};

static void runes_decode(struct runes *r, const char *s, size_t len)
{
	r->cps = xmalloc(st_mult(st_add(len, 1), sizeof(*r->cps)));
	r->off = xmalloc(st_mult(st_add(len, 1), sizeof(*r->off)));
	r->n = 0;
	size_t i = 0;
	while (i < len) {
		size_t w;
		int32_t cp =
			utf8_decode((const unsigned char *)s + i, len - i, &w);
		r->cps[r->n] = cp;
		r->off[r->n] = i;
		r->n++;
		i += w;
	}
	r->off[r->n] = len;
}

static void runes_release(struct runes *r)
{
	free(r->cps);
	free(r->off);
}

/* ------------------------------------------------- character classes */

struct range {
	int32_t lo, hi;
};

/* Decimal digits (Nd) outside ASCII, the common scripts. */
static const struct range digit_ranges[] = {
	{ 0x0660, 0x0669 }, { 0x06f0, 0x06f9 }, { 0x07c0, 0x07c9 },
	{ 0x0966, 0x096f }, { 0x09e6, 0x09ef }, { 0x0a66, 0x0a6f },
	{ 0x0ae6, 0x0aef }, { 0x0b66, 0x0b6f }, { 0x0be6, 0x0bef },
	{ 0x0c66, 0x0c6f }, { 0x0ce6, 0x0cef }, { 0x0d66, 0x0d6f },
	{ 0x0de6, 0x0def }, { 0x0e50, 0x0e59 }, { 0x0ed0, 0x0ed9 },
	{ 0x0f20, 0x0f29 }, { 0x1040, 0x1049 }, { 0x1090, 0x1099 },
	{ 0x17e0, 0x17e9 }, { 0x1810, 0x1819 }, { 0xff10, 0xff19 },
};

/*
 * Non-ASCII code points that are neither letters nor digits in Go's
 * tables (unicode.IsLetter / IsDigit), for the blocks a Dockerfile is
 * likely to contain: Latin-1 punctuation, combining marks, general
 * punctuation and symbols, CJK punctuation, fullwidth punctuation,
 * private use, specials and emoji.  Everything else non-ASCII counts as
 * a letter, which is right for the letters of every script.
 */
static const struct range nonword_ranges[] = {
	{ 0x0080, 0x00a9 },   { 0x00ab, 0x00b4 },    { 0x00b6, 0x00b9 },
	{ 0x00bb, 0x00bf },   { 0x00d7, 0x00d7 },    { 0x00f7, 0x00f7 },
	{ 0x02c2, 0x02c5 },   { 0x02d2, 0x02df },    { 0x0300, 0x036f },
	{ 0x0483, 0x0489 },   { 0x0591, 0x05cf },    { 0x0600, 0x061f },
	{ 0x064b, 0x065f },   { 0x2000, 0x2070 },    { 0x2072, 0x207e },
	{ 0x2080, 0x208f },   { 0x209d, 0x2101 },    { 0x2103, 0x2106 },
	{ 0x2108, 0x2109 },   { 0x2114, 0x2114 },    { 0x2116, 0x2118 },
	{ 0x211e, 0x2123 },   { 0x2125, 0x2125 },    { 0x2127, 0x2127 },
	{ 0x2129, 0x2129 },   { 0x212e, 0x212e },    { 0x213a, 0x213b },
	{ 0x2140, 0x2144 },   { 0x214a, 0x214d },    { 0x214f, 0x2182 },
	{ 0x2185, 0x2bff },   { 0x2e00, 0x2e7f },    { 0x3000, 0x3004 },
	{ 0x3007, 0x3030 },   { 0x3036, 0x303a },    { 0x303d, 0x303f },
	{ 0xd800, 0xf8ff },   { 0xfd3e, 0xfd3f },    { 0xfe00, 0xfe6f },
	{ 0xfeff, 0xfeff },   { 0xff00, 0xff0f },    { 0xff1a, 0xff20 },
	{ 0xff3b, 0xff40 },   { 0xff5b, 0xff65 },    { 0xffe0, 0xffff },
	{ 0x1f000, 0x1faff }, { 0xe0000, 0x10ffff },
};

static bool in_ranges(int32_t c, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c >= r[i].lo && c <= r[i].hi)
			return true;
	return false;
}

static bool is_digit(int32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	return in_ranges(c, digit_ranges, ARRAY_SIZE(digit_ranges));
}

static bool is_letter(int32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	if (is_digit(c))
		return false;
	return !in_ranges(c, nonword_ranges, ARRAY_SIZE(nonword_ranges));
}

static bool is_special_param(int32_t c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' ||
	       c == '$' || c == '!' || c == '0';
}

/* ---------------------------------------------------------------- scanner */

/* Go's text/scanner Peek/Next over a string: a BOM at the start is
 * skipped, invalid UTF-8 reads as U+FFFD. */
struct scanner {
	const char *s;
	size_t len, pos;
};

static void scanner_init(struct scanner *sc, const char *s, size_t len)
{
	sc->s = s;
	sc->len = len;
	sc->pos = 0;
	size_t w;
	if (utf8_decode((const unsigned char *)s, len, &w) == 0xfeff)
		sc->pos = w;
}

static int32_t scanner_peek(const struct scanner *sc)
{
	size_t w;
	return utf8_decode((const unsigned char *)sc->s + sc->pos,
			   sc->len - sc->pos, &w);
}

static int32_t scanner_next(struct scanner *sc)
{
	size_t w;
	int32_t c = utf8_decode((const unsigned char *)sc->s + sc->pos,
				sc->len - sc->pos, &w);
	if (c != EOF_CP)
		sc->pos += w;
	return c;
}

/* ---------------------------------------------------- glob -> NFA match */

enum pat_op { OP_CHAR, OP_ANY, OP_SPLIT, OP_JMP, OP_MATCH };

struct pat_inst {
	enum pat_op op;
	int32_t c; /* OP_CHAR */
	size_t x, y; /* OP_SPLIT: x preferred; OP_JMP: x */
};

struct pattern {
	struct pat_inst *prog;
	size_t nr, alloc;
	bool anchored;
};

static size_t pat_emit(struct pattern *p, enum pat_op op, int32_t c)
{
	ALLOC_GROW(p->prog, p->nr + 1, p->alloc);
	p->prog[p->nr] = (struct pat_inst){ .op = op, .c = c };
	return p->nr++;
}

/*
 * Compile a shell pattern as BuildKit's convertShellPatternToRegex does:
 * `*` is `.*` (greedy) or `.*?`, `?` is `.`, `\` escapes `*` `?` `\` and
 * is dropped before `}` and `/`; anything else escaped is an error.  Like
 * Go's `.`, the wildcards never match a newline.
 */
static int pattern_compile(struct pattern *p, const char *pat, bool greedy,
			   bool anchored, struct strbuf *errmsg)
{
	struct scanner sc;
	scanner_init(&sc, pat, strlen(pat));
	memset(p, 0, sizeof(*p));
	p->anchored = anchored;
	for (int32_t tok = scanner_next(&sc); tok != EOF_CP;
	     tok = scanner_next(&sc)) {
		if (tok == '*') {
			size_t split = pat_emit(p, OP_SPLIT, 0);
			size_t any = pat_emit(p, OP_ANY, 0);
			size_t jmp = pat_emit(p, OP_JMP, 0);
			p->prog[jmp].x = split;
			p->prog[split].x = greedy ? any : jmp + 1;
			p->prog[split].y = greedy ? jmp + 1 : any;
			continue;
		}
		if (tok == '?') {
			pat_emit(p, OP_ANY, 0);
			continue;
		}
		if (tok == '\\') {
			int32_t nx = scanner_peek(&sc);
			if (nx == '}' || nx == '/')
				continue;
			tok = scanner_next(&sc);
			if (tok != '*' && tok != '?' && tok != '\\') {
				strbuf_addstr(errmsg, "invalid escape '\\");
				add_rune(errmsg, tok);
				strbuf_addch(errmsg, '\'');
				free(p->prog);
				p->prog = NULL;
				return -1;
			}
		}
		pat_emit(p, OP_CHAR, tok);
	}
	pat_emit(p, OP_MATCH, 0);
	return 0;
}

struct thread_list {
	size_t *pc; /* dense: pcs in priority order */
	size_t *start; /* start position of each thread */
	size_t *where; /* sparse: index of pc in the dense list */
	size_t nr;
};

static bool tl_has(const struct thread_list *l, size_t pc)
{
	size_t i = l->where[pc];
	return i < l->nr && l->pc[i] == pc;
}

/* Add a thread and its epsilon closure, preferred branches first. */
static void tl_add(const struct pattern *p, struct thread_list *l,
		   size_t *stack, size_t pc0, size_t start)
{
	size_t sp = 0;
	stack[sp++] = pc0;
	while (sp) {
		size_t pc = stack[--sp];
		if (tl_has(l, pc))
			continue;
		l->where[pc] = l->nr;
		l->pc[l->nr] = pc;
		l->start[l->nr] = start;
		l->nr++;
		const struct pat_inst *in = &p->prog[pc];
		if (in->op == OP_JMP) {
			stack[sp++] = in->x;
		} else if (in->op == OP_SPLIT) {
			stack[sp++] = in->y;
			stack[sp++] = in->x;
		}
	}
}

/*
 * Leftmost-first search (Go's regexp semantics) of the pattern in
 * r->cps[from..n].  On a match sets [*m0, *m1) in code point indices.
 */
static bool pattern_find(const struct pattern *p, const struct runes *r,
			 size_t from, size_t *m0, size_t *m1)
{
	size_t n = p->nr;
	struct thread_list lists[2];
	for (int k = 0; k < 2; k++) {
		lists[k].pc = xcalloc(n, sizeof(size_t));
		lists[k].start = xcalloc(n, sizeof(size_t));
		lists[k].where = xcalloc(n, sizeof(size_t));
		lists[k].nr = 0;
	}
	/* Each closure visits a pc at most once; JMP/SPLIT push <= 2. */
	size_t *stack = xcalloc(st_mult(n, 2) + 2, sizeof(size_t));
	struct thread_list *cl = &lists[0], *nl = &lists[1];
	bool matched = false;
	for (size_t i = from;; i++) {
		if (!matched && (!p->anchored || i == from))
			tl_add(p, cl, stack, 0, i);
		if (!cl->nr)
			break;
		int32_t c = i < r->n ? r->cps[i] : EOF_CP;
		for (size_t t = 0; t < cl->nr; t++) {
			const struct pat_inst *in = &p->prog[cl->pc[t]];
			bool step = false;
			switch (in->op) {
			case OP_MATCH:
				matched = true;
				*m0 = cl->start[t];
				*m1 = i;
				t = cl->nr; /* cut lower-priority threads */
				break;
			case OP_CHAR:
				step = c != EOF_CP && c == in->c;
				break;
			case OP_ANY:
				step = c != EOF_CP && c != '\n';
				break;
			default:
				break;
			}
			if (step)
				tl_add(p, nl, stack, cl->pc[t] + 1,
				       cl->start[t]);
		}
		struct thread_list *tmp = cl;
		cl = nl;
		nl = tmp;
		nl->nr = 0;
		if (i >= r->n)
			break;
	}
	for (int k = 0; k < 2; k++) {
		free(lists[k].pc);
		free(lists[k].start);
		free(lists[k].where);
	}
	free(stack);
	return matched;
}

/* ---------------------------------------------------------------- lexer */

struct words {
	struct strvec *out;
	struct strbuf word;
	bool in_word;
};

struct lexer {
	struct scanner sc;
	const struct dockerfile_env *env;
	int32_t escape;
	bool raw_quotes, skip_unset_env, skip_process_quotes;
	bool raw_escapes; /* the current value, switched per ${...} part */
	int depth;
	struct strvec *matched, *unmatched;
	struct strbuf err; /* the cause, when a function returned -1 */
};

static void words_add_raw_char(struct words *w, int32_t c)
{
	if (!w)
		return;
	add_rune(&w->word, c);
	w->in_word = true;
}

static void words_add_char(struct words *w, int32_t c)
{
	if (!w)
		return;
	if (go_is_space((uint32_t)c) && w->in_word) {
		if (w->word.len) {
			strvec_push(w->out, w->word.buf);
			strbuf_reset(&w->word);
			w->in_word = false;
		}
	} else if (!go_is_space((uint32_t)c)) {
		words_add_raw_char(w, c);
	}
}

static void words_add_string(struct words *w, const char *s, size_t len)
{
	if (!w)
		return;
	size_t i = 0;
	while (i < len) {
		size_t width;
		int32_t c = utf8_decode((const unsigned char *)s + i, len - i,
					&width);
		words_add_char(w, c);
		i += width;
	}
}

static void words_add_raw_string(struct words *w, const char *s, size_t len)
{
	if (!w)
		return;
	strbuf_add(&w->word, s, len);
	w->in_word = true;
}

static void words_finish(struct words *w)
{
	if (w->word.len) {
		strvec_push(w->out, w->word.buf);
		strbuf_reset(&w->word);
		w->in_word = false;
	}
}

PRINTF_LIKE(2, 3) static int lex_error(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_reset(&lx->err);
	strbuf_vaddf(&lx->err, fmt, ap);
	va_end(ap);
	return -1;
}

static void note_name(struct strvec *sv, const char *name)
{
	if (!sv)
		return;
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], name))
			return;
	strvec_push(sv, name);
}

static const char *lex_getenv(struct lexer *lx, const char *name)
{
	const char *v = env_lookup(lx->env, name, strlen(name));
	note_name(v ? lx->matched : lx->unmatched, name);
	return v;
}

static int process_dollar(struct lexer *lx, struct strbuf *out);

static int too_large(struct lexer *lx)
{
	return lex_error(lx, "expansion exceeds %zu bytes", MAX_OUTPUT);
}

static int process_single_quote(struct lexer *lx, struct strbuf *out)
{
	int32_t c = scanner_next(&lx->sc);
	if (lx->raw_quotes)
		add_rune(out, c);
	for (;;) {
		c = scanner_next(&lx->sc);
		if (c == EOF_CP)
			return lex_error(lx, "unexpected end of statement "
					     "while "
					     "looking for matching "
					     "single-quote");
		if (c == '\'') {
			if (lx->raw_quotes)
				add_rune(out, c);
			return 0;
		}
		add_rune(out, c);
	}
}

static int process_double_quote(struct lexer *lx, struct strbuf *out)
{
	int32_t c = scanner_next(&lx->sc);
	if (lx->raw_quotes)
		add_rune(out, c);
	for (;;) {
		int32_t p = scanner_peek(&lx->sc);
		if (p == EOF_CP)
			return lex_error(lx, "unexpected end of statement "
					     "while "
					     "looking for matching "
					     "double-quote");
		if (p == '"') {
			c = scanner_next(&lx->sc);
			if (lx->raw_quotes)
				add_rune(out, c);
			return 0;
		}
		if (p == '$') {
			if (process_dollar(lx, out) < 0)
				return -1;
			if (out->len > MAX_OUTPUT)
				return too_large(lx);
			continue;
		}
		c = scanner_next(&lx->sc);
		if (c == lx->escape) {
			if (lx->raw_escapes)
				add_rune(out, c);
			int32_t nx = scanner_peek(&lx->sc);
			if (nx == EOF_CP)
				continue; /* the next turn reports the error */
			if (nx == '"' || nx == '$' || nx == lx->escape)
				c = scanner_next(&lx->sc);
		}
		add_rune(out, c);
	}
}

/*
 * Process up to `stop` (consumed) or the end of input (stop == EOF_CP),
 * appending to `out`; `w`, when non-NULL, collects the split words.
 */
static int process_stop_on(struct lexer *lx, int32_t stop, bool raw_escapes,
			   struct strbuf *out, struct words *w)
{
	bool saved = lx->raw_escapes;
	int ret = 0;
	lx->raw_escapes = raw_escapes;
	for (;;) {
		int32_t c = scanner_peek(&lx->sc);
		if (c == EOF_CP)
			break;
		if (stop != EOF_CP && c == stop) {
			scanner_next(&lx->sc);
			goto out;
		}
		if (c == '$' ||
		    (!lx->skip_process_quotes && (c == '\'' || c == '"'))) {
			struct strbuf tmp = STRBUF_INIT;
			if (c == '$')
				ret = process_dollar(lx, &tmp);
			else if (c == '\'')
				ret = process_single_quote(lx, &tmp);
			else
				ret = process_double_quote(lx, &tmp);
			if (ret < 0) {
				strbuf_release(&tmp);
				goto out;
			}
			if (out->len + tmp.len > MAX_OUTPUT) {
				strbuf_release(&tmp);
				ret = too_large(lx);
				goto out;
			}
			strbuf_addbuf(out, &tmp);
			if (c == '$')
				words_add_string(w, tmp.buf, tmp.len);
			else
				words_add_raw_string(w, tmp.buf, tmp.len);
			strbuf_release(&tmp);
			continue;
		}
		c = scanner_next(&lx->sc);
		if (c == lx->escape) {
			if (lx->raw_escapes) {
				words_add_raw_char(w, c);
				add_rune(out, c);
			}
			c = scanner_next(&lx->sc);
			if (c == EOF_CP)
				break;
			words_add_raw_char(w, c);
		} else {
			words_add_char(w, c);
		}
		add_rune(out, c);
	}
	if (stop != EOF_CP) {
		strbuf_reset(&lx->err);
		strbuf_addstr(&lx->err, "unexpected end of statement while "
					"looking for matching ");
		add_rune(&lx->err, stop);
		ret = -1;
	}
out:
	lx->raw_escapes = saved;
	return ret;
}

/* Read a name: letters, digits, '_'; or all digits; or one special. */
static void process_name(struct lexer *lx, struct strbuf *name)
{
	for (;;) {
		int32_t c = scanner_peek(&lx->sc);
		if (c == EOF_CP)
			return;
		if (!name->len && is_digit(c)) {
			while ((c = scanner_peek(&lx->sc)) != EOF_CP &&
			       is_digit(c))
				add_rune(name, scanner_next(&lx->sc));
			return;
		}
		if (!name->len && is_special_param(c)) {
			add_rune(name, scanner_next(&lx->sc));
			return;
		}
		if (!is_letter(c) && !is_digit(c) && c != '_')
			return;
		add_rune(name, scanner_next(&lx->sc));
	}
}

/* Go's Regexp.Expand for a regexp without groups: $0 / ${0} is the match,
 * $$ is '$', other names are empty, a malformed $ is literal. */
static void expand_template(struct strbuf *out, const char *tmpl,
			    const char *match, size_t mlen)
{
	const char *t = tmpl;
	for (;;) {
		const char *d = strchr(t, '$');
		if (!d)
			break;
		strbuf_add(out, t, (size_t)(d - t));
		t = d + 1;
		if (*t == '$') {
			strbuf_addch(out, '$');
			t++;
			continue;
		}
		const char *s = t;
		bool brace = *s == '{';
		if (brace)
			s++;
		const char *name = s;
		size_t len = strlen(s);
		size_t i = 0;
		while (i < len) {
			size_t w;
			int32_t c = utf8_decode((const unsigned char *)s + i,
						len - i, &w);
			if (!is_letter(c) && !is_digit(c) && c != '_')
				break;
			i += w;
		}
		if (!i || (brace && s[i] != '}')) {
			strbuf_addch(out, '$');
			continue;
		}
		size_t nlen = i;
		if (brace)
			i++;
		bool is_zero = nlen == 1 && name[0] == '0';
		if (is_zero)
			strbuf_add(out, match, mlen);
		t = s + i;
	}
	strbuf_addstr(out, t);
}

static void reverse_runes(struct strbuf *out, const char *s)
{
	struct runes r;
	runes_decode(&r, s, strlen(s));
	for (size_t i = r.n; i-- > 0;)
		add_rune(out, r.cps[i]);
	runes_release(&r);
}

/* BuildKit's reversePattern: reverse, keeping `\x` pairs in order. */
static void reverse_pattern(struct strbuf *out, const char *pat)
{
	struct runes r;
	runes_decode(&r, pat, strlen(pat));
	int32_t *rev = xcalloc(r.n + 1, sizeof(*rev));
	size_t last = r.n - 1;
	for (size_t i = 0; r.n && i <= last;) {
		int32_t tok = r.cps[i];
		size_t o = last - i;
		if (tok == '\\' && i != last) {
			rev[o - 1] = tok;
			rev[o] = r.cps[i + 1];
			i += 2;
		} else {
			rev[o] = tok;
			i++;
		}
	}
	for (size_t i = 0; i < r.n; i++)
		add_rune(out, rev[i]);
	free(rev);
	runes_release(&r);
}

/* pattern_compile(), its failure reported as a substitution error. */
static int subst_pattern(struct lexer *lx, struct pattern *p, const char *pat,
			 bool greedy, bool anchored)
{
	struct strbuf msg = STRBUF_INIT;
	int ret = pattern_compile(p, pat, greedy, anchored, &msg);
	if (ret < 0)
		lex_error(lx, "invalid pattern (%s) in substitution: %s", pat,
			  msg.buf);
	strbuf_release(&msg);
	return ret;
}

/* ${VAR#pat} / ${VAR##pat}: value without the matched prefix. */
static int trim_prefix(struct lexer *lx, const char *pat, const char *value,
		       bool greedy, struct strbuf *out)
{
	struct pattern p;
	if (subst_pattern(lx, &p, pat, greedy, true) < 0)
		return -1;
	struct runes r;
	size_t len = strlen(value), m0, m1;
	runes_decode(&r, value, len);
	if (pattern_find(&p, &r, 0, &m0, &m1))
		strbuf_addstr(out, value + r.off[m1]);
	else
		strbuf_addstr(out, value);
	runes_release(&r);
	free(p.prog);
	return 0;
}

/* ${VAR%pat} / ${VAR%%pat}: BuildKit reverses both and trims a prefix. */
static int trim_suffix(struct lexer *lx, const char *pat, const char *value,
		       bool greedy, struct strbuf *out)
{
	struct strbuf rpat = STRBUF_INIT, rval = STRBUF_INIT, res = STRBUF_INIT;
	reverse_pattern(&rpat, pat);
	reverse_runes(&rval, value);
	int ret = trim_prefix(lx, rpat.buf, rval.buf, greedy, &res);
	if (!ret)
		reverse_runes(out, res.buf);
	strbuf_release(&rpat);
	strbuf_release(&rval);
	strbuf_release(&res);
	return ret;
}

/* ${VAR/pat/repl} and ${VAR//pat/repl} (Go's ReplaceAllString). */
static int substitute(struct lexer *lx, const char *pat, const char *repl,
		      const char *value, bool all, struct strbuf *out)
{
	struct pattern p;
	if (subst_pattern(lx, &p, pat, true, false) < 0)
		return -1;
	struct runes r;
	size_t len = strlen(value), m0, m1;
	runes_decode(&r, value, len);
	if (!all) {
		if (pattern_find(&p, &r, 0, &m0, &m1)) {
			strbuf_add(out, value, r.off[m0]);
			strbuf_addstr(out, repl);
			strbuf_addstr(out, value + r.off[m1]);
		} else {
			strbuf_addstr(out, value);
		}
	} else {
		size_t last_end = 0, search = 0;
		while (search <= r.n) {
			if (!pattern_find(&p, &r, search, &m0, &m1))
				break;
			strbuf_add(out, value + r.off[last_end],
				   r.off[m0] - r.off[last_end]);
			if (m1 > last_end || m0 == 0)
				expand_template(out, repl, value + r.off[m0],
						r.off[m1] - r.off[m0]);
			if (out->len > MAX_OUTPUT) {
				runes_release(&r);
				free(p.prog);
				return too_large(lx);
			}
			last_end = m1;
			if (search + 1 > m1)
				search++;
			else
				search = m1;
		}
		strbuf_addstr(out, value + r.off[last_end]);
	}
	runes_release(&r);
	free(p.prog);
	return 0;
}

static int unsupported_modifier(struct lexer *lx, const char *chs)
{
	return lex_error(lx, "unsupported modifier (%s) in substitution", chs);
}

static int process_braced(struct lexer *lx, struct strbuf *out)
{
	cleanup_strbuf struct strbuf name = STRBUF_INIT;
	cleanup_strbuf struct strbuf chs = STRBUF_INIT;
	cleanup_strbuf struct strbuf word = STRBUF_INIT;
	cleanup_strbuf struct strbuf word2 = STRBUF_INIT;

	scanner_next(&lx->sc); /* '{' */
	int32_t c = scanner_peek(&lx->sc);
	if (c == EOF_CP)
		return lex_error(lx, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return lex_error(lx, "syntax error: bad substitution");
	process_name(lx, &name);
	c = scanner_next(&lx->sc);
	if (c == EOF_CP)
		return lex_error(lx, "syntax error: missing '}'");
	add_rune(&chs, c);
	bool null_is_unset = false;
	const char *value;

	switch (c) {
	case '}':
		value = lex_getenv(lx, name.buf);
		if (!value && lx->skip_unset_env)
			strbuf_addf(out, "${%s}", name.buf);
		else if (value)
			strbuf_addstr(out, value);
		return 0;
	case ':':
		null_is_unset = true;
		c = scanner_next(&lx->sc);
		add_rune(&chs, c);
		/* fall through */
	case '+':
	case '-':
	case '?':
	case '#':
	case '%': {
		bool raw = c == '#' || c == '%';
		if (null_is_unset && raw)
			return unsupported_modifier(lx, chs.buf);
		if (process_stop_on(lx, '}', raw, &word, NULL) < 0) {
			if (scanner_peek(&lx->sc) == EOF_CP)
				return lex_error(lx, "syntax error: missing "
						     "'}'");
			return -1;
		}
		value = lex_getenv(lx, name.buf);
		bool set = value != NULL;
		if (!set && lx->skip_unset_env) {
			strbuf_addf(out, "${%s%s%s}", name.buf, chs.buf,
				    word.buf);
			return 0;
		}
		if (!value)
			value = "";
		bool empty = null_is_unset && !*value;
		switch (c) {
		case '-':
			strbuf_addstr(out, !set || empty ? word.buf : value);
			return 0;
		case '+':
			if (set && !empty)
				strbuf_addbuf(out, &word);
			return 0;
		case '?':
			if (!set)
				return lex_error(lx, "%s: %s", name.buf,
						 word.len ? word.buf
							  : "is not allowed to "
							    "be unset");
			if (empty)
				return lex_error(lx, "%s: %s", name.buf,
						 word.len ? word.buf
							  : "is not allowed to "
							    "be empty");
			strbuf_addstr(out, value);
			return 0;
		case '%':
		case '#': {
			const char *pat = word.buf;
			bool greedy = false;
			if (word.len && word.buf[0] == (char)c) {
				greedy = true;
				pat++;
			}
			if (c == '%')
				return trim_suffix(lx, pat, value, greedy, out);
			return trim_prefix(lx, pat, value, greedy, out);
		}
		default:
			return unsupported_modifier(lx, chs.buf);
		}
	}
	case '/': {
		bool all = scanner_peek(&lx->sc) == '/';
		if (all)
			scanner_next(&lx->sc);
		if (process_stop_on(lx, '/', true, &word, NULL) < 0) {
			if (scanner_peek(&lx->sc) == EOF_CP)
				return lex_error(lx, "syntax error: missing "
						     "'/' in ${}");
			return -1;
		}
		if (process_stop_on(lx, '}', true, &word2, NULL) < 0) {
			if (scanner_peek(&lx->sc) == EOF_CP)
				return lex_error(lx, "syntax error: missing "
						     "'}'");
			return -1;
		}
		value = lex_getenv(lx, name.buf);
		if (!value && lx->skip_unset_env) {
			strbuf_addf(out, "${%s/%s/%s}", name.buf, word.buf,
				    word2.buf);
			return 0;
		}
		return substitute(lx, word.buf, word2.buf, value ? value : "",
				  all, out);
	}
	default:
		return unsupported_modifier(lx, chs.buf);
	}
}

static int process_dollar(struct lexer *lx, struct strbuf *out)
{
	scanner_next(&lx->sc); /* '$' */
	if (scanner_peek(&lx->sc) != '{') {
		cleanup_strbuf struct strbuf name = STRBUF_INIT;
		process_name(lx, &name);
		if (!name.len) {
			strbuf_addch(out, '$');
			return 0;
		}
		const char *value = lex_getenv(lx, name.buf);
		if (!value && lx->skip_unset_env)
			strbuf_addf(out, "$%s", name.buf);
		else if (value)
			strbuf_addstr(out, value);
		return 0;
	}
	if (++lx->depth > MAX_DEPTH)
		return lex_error(lx, "substitutions nested deeper than %d",
				 MAX_DEPTH);
	int ret = process_braced(lx, out);
	lx->depth--;
	return ret;
}

/* Go's %q, enough for messages: quotes, backslashes, control bytes. */
static void add_quoted(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			strbuf_addstr(sb, "\\n");
		else if (c == '\t')
			strbuf_addstr(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addch(sb, (char)c);
	}
	strbuf_addch(sb, '"');
}

static int expand(const char *word, const struct dockerfile_env *env,
		  const struct dockerfile_shell_opts *opts, struct strbuf *out,
		  struct words *w, struct strvec *matched,
		  struct strvec *unmatched, struct error **err)
{
	static const struct dockerfile_shell_opts defaults;
	if (!opts)
		opts = &defaults;
	struct lexer lx = {
		.env = env,
		.escape = opts->escape == '`' ? '`' : '\\',
		.raw_quotes = opts->raw_quotes,
		.raw_escapes = opts->raw_escapes,
		.skip_unset_env = opts->skip_unset_env,
		.skip_process_quotes = opts->skip_process_quotes,
		.matched = matched,
		.unmatched = unmatched,
		.err = STRBUF_INIT,
	};
	scanner_init(&lx.sc, word, strlen(word));
	int ret = process_stop_on(&lx, EOF_CP, lx.raw_escapes, out, w);
	if (ret < 0) {
		struct strbuf q = STRBUF_INIT;
		add_quoted(&q, word);
		error_set(err, KILN_EINVAL, "failed to process %s: %s", q.buf,
			  lx.err.buf);
		strbuf_release(&q);
	}
	strbuf_release(&lx.err);
	return ret;
}

int dockerfile_expand_word(const char *word, const struct dockerfile_env *env,
			   const struct dockerfile_shell_opts *opts, char **out,
			   struct strvec *matched, struct strvec *unmatched,
			   struct error **err)
{
	struct strbuf sb = STRBUF_INIT;
	if (expand(word, env, opts, &sb, NULL, matched, unmatched, err) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

int dockerfile_expand_words(const char *word, const struct dockerfile_env *env,
			    const struct dockerfile_shell_opts *opts,
			    struct strvec *out, struct strvec *matched,
			    struct strvec *unmatched, struct error **err)
{
	struct strbuf sb = STRBUF_INIT;
	struct strvec tmp = STRVEC_INIT;
	struct words w = { .out = &tmp, .word = STRBUF_INIT };
	int ret = expand(word, env, opts, &sb, &w, matched, unmatched, err);
	if (!ret) {
		words_finish(&w);
		for (size_t i = 0; i < tmp.nr; i++)
			strvec_push(out, tmp.v[i]);
	}
	strvec_clear(&tmp);
	strbuf_release(&w.word);
	strbuf_release(&sb);
	return ret;
}
