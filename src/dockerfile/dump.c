/*
 * dump: the AST as text.  dockerfile_dump_buildkit() writes exactly what
 * BuildKit's Node.Dump() writes (its parser tests compare against it);
 * dockerfile_dump_json() writes everything the AST holds, as JSON.
 */
#include "dockerfile/dockerfile-internal.h"

#include <jansson.h>

/*
 * Go's strconv.IsPrint for a non-ASCII rune, approximated without the
 * Unicode tables: everything is printable except C1 controls, the
 * non-ASCII spaces and separators, the common format characters (Cf),
 * private-use code points and noncharacters.  Unassigned code points are
 * treated as printable (Go escapes them).
 */
static bool go_isprint(uint32_t r)
{
	static const uint32_t ranges[][2] = {
		{ 0x0080, 0x00A0 },    { 0x00AD, 0x00AD },
		{ 0x0600, 0x0605 },    { 0x061C, 0x061C },
		{ 0x06DD, 0x06DD },    { 0x070F, 0x070F },
		{ 0x0890, 0x0891 },    { 0x08E2, 0x08E2 },
		{ 0x1680, 0x1680 },    { 0x180E, 0x180E },
		{ 0x2000, 0x200F },    { 0x2028, 0x202F },
		{ 0x205F, 0x2064 },    { 0x2066, 0x206F },
		{ 0x3000, 0x3000 },    { 0xD800, 0xF8FF },
		{ 0xFDD0, 0xFDEF },    { 0xFEFF, 0xFEFF },
		{ 0xFFF9, 0xFFFB },    { 0x110BD, 0x110BD },
		{ 0x110CD, 0x110CD },  { 0x13430, 0x1343F },
		{ 0x1BCA0, 0x1BCA3 },  { 0x1D173, 0x1D17A },
		{ 0xE0001, 0xE0001 },  { 0xE0020, 0xE007F },
		{ 0xF0000, 0x10FFFF },
	};
	if ((r & 0xFFFE) == 0xFFFE)
		return false; /* U+xFFFE, U+xFFFF */
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (r >= ranges[i][0] && r <= ranges[i][1])
			return false;
	return true;
}

void dfp_go_quote(struct strbuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = s + len;

	strbuf_addch(out, '"');
	while (s < end) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x80) {
			s++;
			if (c == '"' || c == '\\') {
				strbuf_addch(out, '\\');
				strbuf_addch(out, c);
			} else if (c >= 0x20 && c < 0x7F) {
				strbuf_addch(out, c);
			} else if (c >= '\a' && c <= '\r') {
				strbuf_addch(out, '\\');
				strbuf_addch(out, "abtnvfr"[c - '\a']);
			} else {
				strbuf_addstr(out, "\\x");
				strbuf_addch(out, hex[c >> 4]);
				strbuf_addch(out, hex[c & 15]);
			}
			continue;
		}
		uint32_t r;
		size_t n = dfp_utf8_decode(s, end, &r);
		if (!n) {
			strbuf_addstr(out, "\\x");
			strbuf_addch(out, hex[c >> 4]);
			strbuf_addch(out, hex[c & 15]);
			s++;
			continue;
		}
		if (go_isprint(r))
			strbuf_add(out, s, n);
		else if (r < 0x10000)
			strbuf_addf(out, "\\u%04x", (unsigned)r);
		else
			strbuf_addf(out, "\\U%08x", (unsigned)r);
		s += n;
	}
	strbuf_addch(out, '"');
}

static void dump_node(const struct dockerfile_node *n, struct strbuf *out)
{
	strbuf_addstr(out, n->keyword);
	if (n->nflags) {
		strbuf_addstr(out, " [");
		for (size_t i = 0; i < n->nflags; i++) {
			if (i)
				strbuf_addch(out, ' ');
			dfp_go_quote(out, n->flags[i], strlen(n->flags[i]));
		}
		strbuf_addch(out, ']');
	}
	if (n->child) {
		strbuf_addstr(out, " (");
		dump_node(n->child, out);
		strbuf_addch(out, ')');
	}
	for (size_t i = 0; i < n->nargs; i++) {
		strbuf_addch(out, ' ');
		dfp_go_quote(out, n->args[i], n->arg_lens[i]);
	}
}

void dockerfile_dump_buildkit(const struct dockerfile *df, struct strbuf *out)
{
	for (size_t i = 0; i < df->nnodes; i++) {
		strbuf_addch(out, '(');
		dump_node(&df->nodes[i], out);
		strbuf_addstr(out, ")\n");
	}
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
static json_t *jstrn(const char *s, size_t len)
{
	const char *end = s + len;
	struct strbuf sb = STRBUF_INIT;
	const char *p = s;

	while (p < end) {
		uint32_t r;
		size_t n = dfp_utf8_decode(p, end, &r);
		if (n) {
			p += n;
			continue;
		}
		strbuf_add(&sb, s, (size_t)(p - s));
		strbuf_add(&sb, "\xEF\xBF\xBD", 3);
		s = ++p;
	}
	strbuf_add(&sb, s, (size_t)(end - s));
	json_t *j = json_stringn(sb.buf, sb.len);
	strbuf_release(&sb);
	if (!j)
		BUG("jansson rejected a sanitised string");
	return j;
}

static json_t *jstr(const char *s)
{
	return jstrn(s, strlen(s));
}

static json_t *jstrs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, jstr(v[i]));
	return a;
}

static json_t *json_node(const struct dockerfile_node *n)
{
	json_t *o = json_object();
	json_object_set_new(o, "keyword", jstr(n->keyword));
	json_object_set_new(o, "start_line", json_integer(n->start_line));
	json_object_set_new(o, "end_line", json_integer(n->end_line));
	json_object_set_new(o, "original", jstr(n->original));
	json_object_set_new(o, "flags", jstrs(n->flags, n->nflags));
	json_t *args = json_array();
	for (size_t i = 0; i < n->nargs; i++)
		json_array_append_new(args, jstrn(n->args[i], n->arg_lens[i]));
	json_object_set_new(o, "args", args);
	json_object_set_new(o, "json", json_boolean(n->json));
	json_object_set_new(o, "comments", jstrs(n->comments, n->ncomments));
	json_t *hds = json_array();
	for (size_t i = 0; i < n->nheredocs; i++) {
		const struct dockerfile_heredoc *h = &n->heredocs[i];
		json_t *ho = json_object();
		json_object_set_new(ho, "name", jstr(h->name));
		json_object_set_new(ho, "content", jstr(h->content));
		json_object_set_new(ho, "expand", json_boolean(h->expand));
		json_object_set_new(ho, "chomp", json_boolean(h->chomp));
		json_object_set_new(ho, "fd", json_integer(h->fd));
		json_array_append_new(hds, ho);
	}
	json_object_set_new(o, "heredocs", hds);
	if (n->child)
		json_object_set_new(o, "child", json_node(n->child));
	return o;
}

void dockerfile_dump_json(const struct dockerfile *df, struct strbuf *out)
{
	json_t *root = json_object();
	char esc[2] = { df->escape, '\0' };

	json_object_set_new(root, "file", jstr(df->filename));
	json_object_set_new(root, "escape", jstr(esc));
	json_object_set_new(root, "syntax",
			    df->syntax ? jstr(df->syntax) : json_null());
	json_object_set_new(root, "check",
			    df->check ? jstr(df->check) : json_null());
	json_t *dirs = json_array();
	for (size_t i = 0; i < df->ndirectives; i++) {
		json_t *d = json_object();
		json_object_set_new(d, "name", jstr(df->directives[i].name));
		json_object_set_new(d, "value", jstr(df->directives[i].value));
		json_object_set_new(d, "line",
				    json_integer(df->directives[i].line));
		json_array_append_new(dirs, d);
	}
	json_object_set_new(root, "directives", dirs);
	json_object_set_new(root, "start_line", json_integer(df->start_line));
	json_object_set_new(root, "end_line", json_integer(df->end_line));
	json_t *warns = json_array();
	for (size_t i = 0; i < df->nwarnings; i++) {
		json_t *w = json_object();
		json_object_set_new(w, "line",
				    json_integer(df->warnings[i].line));
		json_object_set_new(w, "message", jstr(df->warnings[i].msg));
		json_array_append_new(warns, w);
	}
	json_object_set_new(root, "warnings", warns);
	json_t *nodes = json_array();
	for (size_t i = 0; i < df->nnodes; i++)
		json_array_append_new(nodes, json_node(&df->nodes[i]));
	json_object_set_new(root, "instructions", nodes);

	char *s = json_dumps(root, JSON_INDENT(2));
	if (!s)
		BUG("json_dumps failed");
	strbuf_addstr(out, s);
	strbuf_addch(out, '\n');
	free(s);
	json_decref(root);
}
