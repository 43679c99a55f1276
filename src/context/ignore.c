/*
 * context/ignore: .dockerignore reading and matching with the semantics of
 * moby/patternmatcher (what BuildKit uses).  Each pattern is validated with
 * Go's filepath.Match syntax rules, then classified like upstream (exact,
 * prefix, suffix or "regexp") and, for the regexp kind, compiled into a
 * small Thompson NFA that is simulated in O(len(path) * len(pattern)):
 * no backtracking, so `**` chains cannot blow up.
 */
#include "context/context-internal.h"

/* ------------------------------------------------------------ Go helpers */

/* Go's strings.TrimSpace on s[*start..*end). */
static void trim_space(const char *s, size_t *start, size_t *end)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = *start, first = *end, last = *start;
	while (i < *end) {
		uint32_t r;
		size_t w = utf8_decode_rune(u + i, *end - i, &r);
		if (!go_is_space(r)) {
			if (first == *end)
				first = i;
			last = i + w;
		}
		i += w;
	}
	if (first == *end)
		last = first;
	*start = first;
	*end = last;
}

char *context_clean_path(const char *path, size_t n)
{
	if (!n)
		return xstrdup(".");
	bool rooted = path[0] == '/';
	char *out = xmalloc(n + 2);
	size_t w = 0, r = 0, dotdot = 0;

	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' &&
			   (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (!w)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* Go's filepath.Dir: the cleaned path up to the last '/'. */
static char *go_dir(const char *path, size_t n)
{
	size_t i = n;
	while (i > 0 && path[i - 1] != '/')
		i--;
	return context_clean_path(path, i);
}

/* ------------------------------------------------- glob syntax (Go) */

/* One class item of Go's filepath.Match (getEsc); false on bad syntax. */
static bool glob_class_char(const char *p, size_t n, size_t *i)
{
	if (*i >= n || p[*i] == '-' || p[*i] == ']')
		return false;
	if (p[*i] == '\\') {
		(*i)++;
		if (*i >= n)
			return false;
	}
	uint32_t r;
	size_t w = utf8_decode_rune((const unsigned char *)p + *i, n - *i, &r);
	if (r == UTF8_RUNE_ERROR && w == 1)
		return false;
	*i += w;
	return *i < n;
}

/*
 * Would Go's filepath.Match(pattern, ".") report ErrBadPattern?  Go checks
 * the whole pattern, so this is a plain scan: a trailing lone `\`, or a
 * character class that is empty, unterminated, starts an item with `-` or
 * `]`, or holds invalid UTF-8.
 */
static bool glob_valid(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] == '\\') {
			if (i + 1 >= n)
				return false;
			i += 2;
		} else if (p[i] == '[') {
			int nrange = 0;
			i++;
			if (i < n && p[i] == '^')
				i++;
			for (;;) {
				if (i < n && p[i] == ']' && nrange > 0) {
					i++;
					break;
				}
				if (!glob_class_char(p, n, &i))
					return false;
				if (p[i] == '-') {
					i++;
					if (!glob_class_char(p, n, &i))
						return false;
				}
				nrange++;
			}
		} else {
			i++;
		}
	}
	return true;
}

/* ------------------------------------------------------------ compiling */

enum match_kind { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_NFA };

enum op {
	OP_LIT, /* one rune equal to arg */
	OP_ANY1, /* [^/] */
	OP_CLASS, /* one rune in class arg */
	OP_STAR, /* [^/]* */
	OP_DOTSTAR, /* .*  (Go regexp: any rune but '\n') */
	OP_OPT, /* (.*\/)? entry: skip to pc+2, or enter pc+1 */
	OP_LOOP, /* inside (.*\/): any rune but '\n' loops, '/' exits */
	OP_BEGIN, /* ^ in the middle of a pattern: only at offset 0 */
	OP_END,
};

struct inst {
	uint8_t op;
	uint32_t arg;
};

struct range {
	uint32_t lo, hi;
};

struct cclass {
	bool negated;
	struct range *r;
	size_t nr, alloc;
};

struct pattern {
	char *text; /* cleaned, without the '!' */
	size_t len;
	bool exclusion;
	int line;
	size_t ndirs; /* path elements, for the legacy matcher */
	enum match_kind kind;
	struct inst *prog;
	size_t nprog, aprog;
	struct cclass *classes;
	size_t nclasses, aclasses;
};

struct context_ignore {
	struct pattern *pats;
	size_t nr;
	bool exceptions;
	bool only_prefix_exceptions;
	char *source;
};

static void emit(struct pattern *p, enum op op, uint32_t arg)
{
	ALLOC_GROW(p->prog, p->nprog + 1, p->aprog);
	p->prog[p->nprog].op = op;
	p->prog[p->nprog].arg = arg;
	p->nprog++;
}

static void class_add(struct cclass *c, uint32_t lo, uint32_t hi)
{
	ALLOC_GROW(c->r, c->nr + 1, c->alloc);
	c->r[c->nr].lo = lo;
	c->r[c->nr].hi = hi;
	c->nr++;
}

static struct cclass *new_class(struct pattern *p, bool negated)
{
	ALLOC_GROW(p->classes, p->nclasses + 1, p->aclasses);
	struct cclass *c = &p->classes[p->nclasses++];
	memset(c, 0, sizeof(*c));
	c->negated = negated;
	return c;
}

/* Ranges of Go regexp's Perl classes \d \s \w (lowercase letter). */
static const struct range perl_d[] = { { '0', '9' } };
static const struct range perl_s[] = { { '\t', '\n' },
				       { '\f', '\r' },
				       { ' ', ' ' } };
static const struct range perl_w[] = {
	{ '0', '9' }, { 'A', 'Z' }, { '_', '_' }, { 'a', 'z' }
};

/* Add a Perl class (negated when `upper`) to c. */
static void class_add_perl(struct cclass *c, char name, bool upper)
{
	const struct range *r;
	size_t n;
	switch (name) {
	case 'd':
		r = perl_d;
		n = ARRAY_SIZE(perl_d);
		break;
	case 's':
		r = perl_s;
		n = ARRAY_SIZE(perl_s);
		break;
	default:
		r = perl_w;
		n = ARRAY_SIZE(perl_w);
		break;
	}
	if (!upper) {
		for (size_t i = 0; i < n; i++)
			class_add(c, r[i].lo, r[i].hi);
		return;
	}
	uint32_t next = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo > next)
			class_add(c, next, r[i].lo - 1);
		next = r[i].hi + 1;
	}
	class_add(c, next, 0x10FFFF);
}

enum esc_kind { ESC_RUNE, ESC_PERL, ESC_BAD };

/*
 * Upstream turns `\x` into the regexp escape `\x`; classify it as Go's
 * regexp would: punctuation is itself, \a \f \n \r \t \v are control
 * characters, \d \s \w (and negations) are classes.  Other escapes (octal,
 * \x hex, \p, \b, \Q...) are not supported and reported as errors;
 * upstream fails on most of them too (at match time).
 */
static enum esc_kind classify_escape(uint32_t c, uint32_t *rune)
{
	if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			  (c >= 'A' && c <= 'Z'))) {
		*rune = c;
		return ESC_RUNE;
	}
	switch (c) {
	case 'a':
		*rune = 7;
		return ESC_RUNE;
	case 'f':
		*rune = '\f';
		return ESC_RUNE;
	case 'n':
		*rune = '\n';
		return ESC_RUNE;
	case 'r':
		*rune = '\r';
		return ESC_RUNE;
	case 't':
		*rune = '\t';
		return ESC_RUNE;
	case 'v':
		*rune = '\v';
		return ESC_RUNE;
	case 'd':
	case 's':
	case 'w':
	case 'D':
	case 'S':
	case 'W':
		*rune = c;
		return ESC_PERL;
	}
	return ESC_BAD;
}

static size_t next_rune(const char *s, size_t n, size_t i, uint32_t *r)
{
	return utf8_decode_rune((const unsigned char *)s + i, n - i, r);
}

/*
 * One endpoint of a class item at *i.  Returns ESC_RUNE (*rune set),
 * ESC_PERL (*rune is the class letter) or ESC_BAD.
 */
static enum esc_kind class_item(const char *s, size_t n, size_t *i,
				uint32_t *rune)
{
	uint32_t r;
	if (s[*i] == '\\') {
		(*i)++;
		*i += next_rune(s, n, *i, &r);
		return classify_escape(r, rune);
	}
	*i += next_rune(s, n, *i, rune);
	return ESC_RUNE;
}

/*
 * Compile a `[...]` class starting at s[*i] == '['.  The syntax was
 * checked by glob_valid().  Items are read as Go's regexp reads the
 * class upstream produces; `*` and `?` inside a class are taken
 * literally (upstream mangles them into regexp syntax; see the report).
 */
static int compile_class(struct pattern *p, const char *s, size_t n, size_t *i,
			 const char **why)
{
	(*i)++;
	bool negated = false;
	if (*i < n && s[*i] == '^') {
		negated = true;
		(*i)++;
	}
	struct cclass *c = new_class(p, negated);
	size_t idx = p->nclasses - 1;
	int nrange = 0;
	for (;;) {
		if (s[*i] == ']' && nrange > 0) {
			(*i)++;
			break;
		}
		uint32_t lo, hi;
		enum esc_kind k = class_item(s, n, i, &lo);
		if (k == ESC_BAD) {
			*why = "unsupported escape sequence";
			return -1;
		}
		c = &p->classes[idx];
		if (s[*i] == '-') {
			(*i)++;
			enum esc_kind k2 = class_item(s, n, i, &hi);
			if (k2 == ESC_BAD) {
				*why = "unsupported escape sequence";
				return -1;
			}
			if (k == ESC_PERL || k2 == ESC_PERL || lo > hi) {
				*why = "invalid character class range";
				return -1;
			}
			class_add(c, lo, hi);
		} else if (k == ESC_PERL) {
			class_add_perl(c, (char)(lo | 0x20), lo < 'a');
		} else {
			class_add(c, lo, lo);
		}
		nrange++;
	}
	emit(p, OP_CLASS, (uint32_t)idx);
	return 0;
}

/* Characters upstream escapes before handing the pattern to regexp. */
static bool regexp_meta(uint32_t c)
{
	return c < 0x80 && strchr(".+()|{}$", (int)c) && c;
}

/*
 * Classify and compile one cleaned pattern, mirroring upstream's
 * Pattern.compile: the kind starts as exact; any wildcard, class or escape
 * makes it a regexp; `**` at the end of a plain pattern makes it a prefix
 * match; a leading `**` makes it a suffix match unless later wildcards
 * turn it back into a regexp.
 */
static int compile_pattern(struct pattern *p, const char **why)
{
	const char *s = p->text;
	size_t n = p->len;
	enum match_kind kind = MATCH_EXACT;
	size_t i = 0;

	for (int iter = 0; i < n; iter++) {
		uint32_t ch;
		i += next_rune(s, n, i, &ch);
		if (ch == '*') {
			if (i < n && s[i] == '*') {
				i++;
				if (i < n && s[i] == '/')
					i++;
				if (i >= n) {
					if (kind == MATCH_EXACT) {
						kind = MATCH_PREFIX;
					} else {
						emit(p, OP_DOTSTAR, 0);
						kind = MATCH_NFA;
					}
				} else {
					emit(p, OP_OPT, 0);
					emit(p, OP_LOOP, 0);
					kind = MATCH_NFA;
				}
				if (iter == 0)
					kind = MATCH_SUFFIX;
			} else {
				emit(p, OP_STAR, 0);
				kind = MATCH_NFA;
			}
		} else if (ch == '?') {
			emit(p, OP_ANY1, 0);
			kind = MATCH_NFA;
		} else if (regexp_meta(ch)) {
			emit(p, OP_LIT, ch);
		} else if (ch == '\\') {
			uint32_t c, r;
			if (i >= n) {
				/* unreachable: glob_valid() rejects it */
				emit(p, OP_LIT, '\\');
				continue;
			}
			i += next_rune(s, n, i, &c);
			switch (classify_escape(c, &r)) {
			case ESC_RUNE:
				emit(p, OP_LIT, r);
				break;
			case ESC_PERL: {
				struct cclass *cl = new_class(p, false);
				class_add_perl(cl, (char)(r | 0x20), r < 'a');
				emit(p, OP_CLASS, (uint32_t)(p->nclasses - 1));
				break;
			}
			case ESC_BAD:
				*why = "unsupported escape sequence";
				return -1;
			}
			kind = MATCH_NFA;
		} else if (ch == '[') {
			i--;
			if (compile_class(p, s, n, &i, why) < 0)
				return -1;
			kind = MATCH_NFA;
		} else if (ch == ']') {
			emit(p, OP_LIT, ch);
			kind = MATCH_NFA;
		} else if (ch == '^') {
			/* a regexp anchor upstream, not a literal */
			emit(p, OP_BEGIN, 0);
		} else {
			emit(p, OP_LIT, ch);
		}
	}
	emit(p, OP_END, 0);
	p->kind = kind;
	if (kind != MATCH_NFA) {
		free(p->prog);
		p->prog = NULL;
		p->nprog = p->aprog = 0;
		for (size_t k = 0; k < p->nclasses; k++)
			free(p->classes[k].r);
		free(p->classes);
		p->classes = NULL;
		p->nclasses = p->aclasses = 0;
	}
	return 0;
}

/* ------------------------------------------------------------ matching */

static bool class_match(const struct cclass *c, uint32_t r)
{
	bool in = false;
	for (size_t i = 0; i < c->nr && !in; i++)
		in = r >= c->r[i].lo && r <= c->r[i].hi;
	return in != c->negated;
}

struct nfa_list {
	uint32_t *pc;
	size_t n;
};

/* Add pc and everything reachable from it by empty moves. */
static void nfa_add(const struct pattern *p, struct nfa_list *l, uint32_t *mark,
		    uint32_t gen, uint32_t *stack, uint32_t pc, size_t pos)
{
	size_t sp = 0;
	stack[sp++] = pc;
	while (sp) {
		pc = stack[--sp];
		if (mark[pc] == gen)
			continue;
		mark[pc] = gen;
		switch (p->prog[pc].op) {
		case OP_STAR:
		case OP_DOTSTAR:
			l->pc[l->n++] = pc;
			stack[sp++] = pc + 1;
			break;
		case OP_OPT:
			stack[sp++] = pc + 2;
			stack[sp++] = pc + 1;
			break;
		case OP_BEGIN:
			if (pos == 0)
				stack[sp++] = pc + 1;
			break;
		default:
			l->pc[l->n++] = pc;
			break;
		}
	}
}

static bool nfa_accepts(const struct pattern *p, const struct nfa_list *l)
{
	for (size_t k = 0; k < l->n; k++)
		if (p->prog[l->pc[k]].op == OP_END)
			return true;
	return false;
}

/*
 * Run the NFA over s[0..n).  With `prefixes`, also record, for every '/'
 * in s (in order) and then the end, whether the text before it matches:
 * one pass answers the question for every parent directory.
 */
static bool nfa_run(const struct pattern *p, const char *s, size_t n,
		    bool *prefixes)
{
	size_t m = p->nprog;
	/* two lists, the marks and an empty-move stack of 2m + 1 */
	uint32_t small[5 * 64 + 1];
	uint32_t *buf =
		m <= 64 ? small
			: xmalloc(st_mult(sizeof(*buf), st_add(5 * m, 1)));
	struct nfa_list cur = { buf, 0 }, next = { buf + m, 0 };
	uint32_t *mark = buf + 2 * m, *stack = buf + 3 * m;
	uint32_t gen = 1;
	bool matched = false;
	size_t i = 0;

	memset(mark, 0, m * sizeof(*mark));
	nfa_add(p, &cur, mark, gen, stack, 0, 0);
	while (i < n && cur.n) {
		uint32_t r;
		size_t w = utf8_decode_rune((const unsigned char *)s + i, n - i,
					    &r);
		if (prefixes && s[i] == '/' && i)
			*prefixes++ = nfa_accepts(p, &cur);
		gen++;
		next.n = 0;
		for (size_t k = 0; k < cur.n; k++) {
			uint32_t pc = cur.pc[k];
			const struct inst *in = &p->prog[pc];
			bool adv = false, stay = false;
			switch (in->op) {
			case OP_LIT:
				adv = r == in->arg;
				break;
			case OP_ANY1:
				adv = r != '/';
				break;
			case OP_CLASS:
				adv = class_match(&p->classes[in->arg], r);
				break;
			case OP_STAR:
				stay = r != '/';
				break;
			case OP_DOTSTAR:
				stay = r != '\n';
				break;
			case OP_LOOP:
				stay = r != '\n';
				adv = r == '/';
				break;
			}
			if (stay)
				nfa_add(p, &next, mark, gen, stack, pc, i + w);
			if (adv)
				nfa_add(p, &next, mark, gen, stack, pc + 1,
					i + w);
		}
		struct nfa_list t = cur;
		cur = next;
		next = t;
		i += w;
	}
	if (i == n)
		matched = nfa_accepts(p, &cur);
	if (prefixes) {
		/* the NFA died early: no later prefix matches */
		for (; i < n; i++)
			if (s[i] == '/')
				*prefixes++ = false;
		*prefixes = matched;
	}
	if (buf != small)
		free(buf);
	return matched;
}

static bool pattern_match(const struct pattern *p, const char *s, size_t n)
{
	switch (p->kind) {
	case MATCH_EXACT:
		return n == p->len && !memcmp(s, p->text, n);
	case MATCH_PREFIX: {
		size_t l = p->len - 2;
		return n >= l && !memcmp(s, p->text, l);
	}
	case MATCH_SUFFIX: {
		const char *suf = p->text + 2;
		size_t l = p->len - 2;
		if (n >= l && !memcmp(s + n - l, suf, l))
			return true;
		return l && suf[0] == '/' && n == l - 1 &&
		       !memcmp(s, suf + 1, l - 1);
	}
	case MATCH_NFA:
		return nfa_run(p, s, n, NULL);
	}
	return false;
}

/*
 * For a clean relative path: out[k] = does p match the text before the
 * k-th '/', and out[last] = does p match all of s.
 */
static void pattern_match_prefixes(const struct pattern *p, const char *s,
				   size_t n, bool *out)
{
	if (p->kind == MATCH_NFA) {
		nfa_run(p, s, n, out);
		return;
	}
	for (size_t i = 1; i <= n; i++)
		if (i == n || s[i] == '/')
			*out++ = pattern_match(p, s, i);
}

/* Does pattern p match a parent of path (per the cleaned `dir`)? */
static bool match_parents(const struct pattern *p, const char *dir)
{
	if (!strcmp(dir, "."))
		return false;
	size_t n = strlen(dir);
	for (size_t i = 0; i <= n; i++)
		if ((i == n || dir[i] == '/') && pattern_match(p, dir, i))
			return true;
	return false;
}

bool context_ignore_step(const struct context_ignore *ig, const char *path,
			 size_t len, const unsigned char *parent,
			 unsigned char *out, int *line)
{
	bool matched = false;
	int decider = 0;
	char *dir = NULL;

	for (size_t i = 0; i < ig->nr; i++) {
		const struct pattern *p = &ig->pats[i];
		bool m = parent && parent[i];
		if (!m) {
			if (p->exclusion != matched) {
				out[i] = 0;
				continue;
			}
			m = pattern_match(p, path, len);
			if (!m && !parent) {
				if (!dir)
					dir = go_dir(path, len);
				m = match_parents(p, dir);
			}
		}
		out[i] = m;
		if (m) {
			matched = !p->exclusion;
			decider = p->line;
		}
	}
	free(dir);
	if (line)
		*line = decider;
	return matched;
}

/*
 * context_ignore_match() for a rooted path: upstream's split of "/a/b"
 * starts with an empty element, so walk the parents step by step.
 */
static bool match_rooted(const struct context_ignore *ig, const char *clean,
			 int *line)
{
	size_t n = strlen(clean);
	cleanup_free char *dir = go_dir(clean, n);
	cleanup_free unsigned char *a = xcalloc(2, ig->nr);
	unsigned char *prev = NULL, *cur = a;
	size_t dn = strlen(dir);
	for (size_t k = 0; k <= dn; k++) {
		if (k < dn && dir[k] != '/')
			continue;
		context_ignore_step(ig, dir, k, prev, cur, NULL);
		prev = cur;
		cur = cur == a ? a + ig->nr : a;
	}
	return context_ignore_step(ig, clean, n, prev, cur, line);
}

bool context_ignore_match(const struct context_ignore *ig, const char *path,
			  int *line)
{
	cleanup_free char *clean = context_clean_path(path, strlen(path));
	if (line)
		*line = 0;
	if (!strcmp(clean, ".") || !ig->nr)
		return false;
	if (clean[0] == '/')
		return match_rooted(ig, clean, line);

	/*
	 * MatchesUsingParentResults for every parent in turn, as the walker
	 * does, with each pattern run once over the whole path to learn which
	 * parents it matches: linear in the depth, not quadratic.
	 */
	size_t n = strlen(clean), steps = 1;
	for (size_t i = 0; i < n; i++)
		steps += clean[i] == '/';
	cleanup_free bool *bits = xcalloc(st_mult(ig->nr, steps), sizeof(bool));
	for (size_t i = 0; i < ig->nr; i++)
		pattern_match_prefixes(&ig->pats[i], clean, n,
				       bits + i * steps);

	cleanup_free unsigned char *a = xcalloc(2, ig->nr);
	unsigned char *prev = NULL, *cur = a;
	bool matched = false;
	int decider = 0;
	for (size_t s = 0; s < steps; s++) {
		matched = false;
		decider = 0;
		for (size_t i = 0; i < ig->nr; i++) {
			const struct pattern *p = &ig->pats[i];
			bool m = prev && prev[i];
			if (!m) {
				if (p->exclusion != matched) {
					cur[i] = 0;
					continue;
				}
				m = bits[i * steps + s];
			}
			cur[i] = m;
			if (m) {
				matched = !p->exclusion;
				decider = p->line;
			}
		}
		prev = cur;
		cur = cur == a ? a + ig->nr : a;
	}
	if (line)
		*line = decider;
	return matched;
}

bool context_ignore_match_legacy(const struct context_ignore *ig,
				 const char *path)
{
	cleanup_free char *clean = context_clean_path(path, strlen(path));
	if (!strcmp(clean, "."))
		return false;
	size_t n = strlen(clean);
	cleanup_free char *dir = go_dir(clean, n);
	bool matched = false;
	size_t ndirs = 1;
	for (const char *c = dir; *c; c++)
		ndirs += *c == '/';

	for (size_t i = 0; i < ig->nr; i++) {
		const struct pattern *p = &ig->pats[i];
		if (p->exclusion != matched)
			continue;
		bool m = pattern_match(p, clean, n);
		if (!m && strcmp(dir, ".") && p->ndirs <= ndirs) {
			/* the parent prefix with as many elements */
			size_t k = 0, seen = 0;
			for (; dir[k]; k++)
				if (dir[k] == '/' && ++seen == p->ndirs)
					break;
			m = pattern_match(p, dir, k);
		}
		if (m)
			matched = !p->exclusion;
	}
	return matched;
}

/* ------------------------------------------------------------ building */

static void pattern_release(struct pattern *p)
{
	free(p->text);
	free(p->prog);
	for (size_t k = 0; k < p->nclasses; k++)
		free(p->classes[k].r);
	free(p->classes);
}

void context_ignore_free(struct context_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->nr; i++)
		pattern_release(&ig->pats[i]);
	free(ig->pats);
	free(ig->source);
	free(ig);
}

static void cleanup_ignorep(struct context_ignore **ig)
{
	context_ignore_free(*ig);
}
#define cleanup_ignore __attribute__((cleanup(cleanup_ignorep)))

/* "source:line: " or "" for error messages. */
static char *where(const char *source, int line)
{
	if (source)
		return xstrfmt("%s:%d: ", source, line);
	return xstrdup("");
}

/* fsutil's patternWithoutTrailingGlob() */
static size_t without_trailing_glob(const char *s, size_t n)
{
	if (n >= 3 && !memcmp(s + n - 3, "/**", 3))
		return n - 3;
	if (n >= 2 && !memcmp(s + n - 2, "/*", 2))
		return n - 2;
	return n;
}

struct context_ignore *context_ignore_new(const char *const *patterns,
					  size_t nr, const int *lines,
					  const char *source,
					  struct error **err)
{
	cleanup_ignore struct context_ignore *ig = xcalloc(1, sizeof(*ig));
	ig->pats = xcalloc(nr ? nr : 1, sizeof(*ig->pats));
	ig->only_prefix_exceptions = true;
	ig->source = source ? xstrdup(source) : NULL;

	for (size_t i = 0; i < nr; i++) {
		const char *raw = patterns[i];
		int line = lines ? lines[i] : (int)i + 1;
		size_t b = 0, e = strlen(raw);
		trim_space(raw, &b, &e);
		if (b == e)
			continue;
		char *text = context_clean_path(raw + b, e - b);
		struct pattern *p = &ig->pats[ig->nr];
		memset(p, 0, sizeof(*p));
		p->line = line;
		if (text[0] == '!') {
			if (!text[1]) {
				cleanup_free char *w = where(source, line);
				error_set(err, KILN_EINVAL,
					  "%sillegal exclusion pattern: \"!\"",
					  w);
				free(text);
				return NULL;
			}
			p->exclusion = true;
			memmove(text, text + 1, strlen(text));
		}
		p->text = text;
		p->len = strlen(text);
		ig->nr++;
		const char *why = "syntax error in pattern";
		if (!glob_valid(p->text, p->len) ||
		    compile_pattern(p, &why) < 0) {
			cleanup_free char *w = where(source, line);
			error_set(err, KILN_EINVAL,
				  "%sinvalid pattern '%s%s': %s", w,
				  p->exclusion ? "!" : "", p->text, why);
			return NULL;
		}
		p->ndirs = 1;
		for (const char *c = p->text; *c; c++)
			p->ndirs += *c == '/';
		if (p->exclusion) {
			ig->exceptions = true;
			size_t l = without_trailing_glob(p->text, p->len);
			for (size_t k = 0; k < l; k++)
				if (strchr("*[]?^\\", p->text[k]))
					ig->only_prefix_exceptions = false;
		}
	}
	return steal_pointer(&ig);
}

bool context_ignore_may_reinclude(const struct context_ignore *ig,
				  const char *dir)
{
	if (!ig->exceptions)
		return false;
	if (!ig->only_prefix_exceptions)
		return true;
	size_t dl = strlen(dir);
	for (size_t i = 0; i < ig->nr; i++) {
		const struct pattern *p = &ig->pats[i];
		if (!p->exclusion)
			continue;
		/* (pattern + "/") starts with (dir + "/") */
		size_t l = without_trailing_glob(p->text, p->len);
		if (l >= dl && !memcmp(p->text, dir, dl) &&
		    (l == dl || p->text[dl] == '/'))
			return true;
	}
	return false;
}

const char *context_ignore_source(const struct context_ignore *ig)
{
	return ig->source;
}

size_t context_ignore_count(const struct context_ignore *ig)
{
	return ig->nr;
}

/* ------------------------------------------------------------ reading */

#define MAX_LINE 65535 /* bufio.Scanner's token limit, less the newline */

int context_ignore_read(const char *buf, size_t len, const char *source,
			struct strvec *patterns, int **lines,
			struct error **err)
{
	size_t first = patterns->nr;
	int *ln = NULL;
	size_t lalloc = 0;
	int lineno = 0;
	size_t pos = 0;

	if (lines) {
		ALLOC_GROW(ln, first + 1, lalloc);
		memset(ln, 0, (first + 1) * sizeof(*ln));
	}
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t b = pos, e = end;
		pos = nl ? end + 1 : len;
		if (e > b && buf[e - 1] == '\r')
			e--;
		if (e - b > MAX_LINE) {
			error_set(err, KILN_EINVAL, "%s:%d: line too long",
				  source ? source : ".dockerignore",
				  lineno + 1);
			free(ln);
			return -1;
		}
		if (lineno == 0 && e - b >= 3 &&
		    !memcmp(buf + b, "\xEF\xBB\xBF", 3))
			b += 3;
		lineno++;
		if (b < e && buf[b] == '#')
			continue;
		trim_space(buf, &b, &e);
		if (b == e)
			continue;
		bool invert = buf[b] == '!';
		if (invert) {
			b++;
			trim_space(buf, &b, &e);
		}
		struct strbuf sb = STRBUF_INIT;
		if (invert)
			strbuf_addch(&sb, '!');
		if (b < e) {
			cleanup_free char *c =
				context_clean_path(buf + b, e - b);
			const char *s = c;
			if (s[0] == '/' && s[1])
				s++;
			strbuf_addstr(&sb, s);
		}
		strvec_push_nodup(patterns, strbuf_detach(&sb, NULL));
		if (lines) {
			ALLOC_GROW(ln, patterns->nr, lalloc);
			ln[patterns->nr - 1] = lineno;
		}
	}
	if (lines)
		*lines = ln;
	return 0;
}

struct context_ignore *context_ignore_parse(const char *buf, size_t len,
					    const char *source,
					    struct error **err)
{
	cleanup_strvec struct strvec pats = STRVEC_INIT;
	cleanup_free int *lines = NULL;
	if (context_ignore_read(buf, len, source, &pats, &lines, err) < 0)
		return NULL;
	return context_ignore_new(pats.v, pats.nr, lines, source, err);
}

#define MAX_IGNORE_FILE (16u << 20)

/* Open `name` under dirfd; 1 when read into sb, 0 when absent, -1 error. */
static int read_ignore_file(int dirfd, const char *name, struct strbuf *sb,
			    struct error **err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		error_set_errno(err, "open '%s'", name);
		return -1;
	}
	sb->cap = MAX_IGNORE_FILE;
	if (strbuf_read_fd(sb, fd) < 0) {
		if (errno == E2BIG)
			error_set(err, KILN_EINVAL, "'%s': larger than %u MiB",
				  name, MAX_IGNORE_FILE >> 20);
		else
			error_set_errno(err, "read '%s'", name);
		return -1;
	}
	return 1;
}

struct context_ignore *context_ignore_load(int context_dirfd,
					   const char *dockerfile_path,
					   struct error **err)
{
	cleanup_free char *own =
		xstrfmt("%s.dockerignore",
			dockerfile_path ? dockerfile_path : "Dockerfile");
	const char *candidates[] = { own, ".dockerignore" };

	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		cleanup_strbuf struct strbuf sb = STRBUF_INIT;
		int r = read_ignore_file(context_dirfd, candidates[i], &sb,
					 err);
		if (r < 0)
			return NULL;
		if (r > 0)
			return context_ignore_parse(sb.buf, sb.len,
						    candidates[i], err);
	}
	return context_ignore_new(NULL, 0, NULL, NULL, err);
}
