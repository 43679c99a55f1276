/*
 * Unit tests for base/: strbuf (including the hard cap), strvec, arena,
 * errors, and the small string helpers.
 */
#include "tap.h"

static void test_strbuf(void)
{
	struct strbuf sb = STRBUF_INIT;
	is_str(sb.buf, "", "fresh strbuf is empty and NUL-terminated");
	strbuf_addstr(&sb, "hello");
	strbuf_addch(&sb, ' ');
	strbuf_addf(&sb, "%s %d", "world", 42);
	is_str(sb.buf, "hello world 42", "strbuf appends");
	is_int(sb.len, 14, "strbuf length");
	strbuf_setlen(&sb, 5);
	is_str(sb.buf, "hello", "strbuf_setlen truncates");
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "  \t trim me \n");
	strbuf_trim(&sb);
	is_str(sb.buf, "trim me", "strbuf_trim");
	strbuf_add(&sb, "a\0b", 3);
	is_int(sb.len, 10, "strbuf holds NUL bytes");
	size_t len;
	char *s = strbuf_detach(&sb, &len);
	is_int(len, 10, "strbuf_detach returns the length");
	is_str(sb.buf, "", "strbuf is empty after detach");
	free(s);
	for (int i = 0; i < 10000; i++)
		strbuf_addch(&sb, 'x');
	ok(sb.len == 10000 && sb.buf[10000] == '\0', "strbuf grows");
	strbuf_release(&sb);

	struct strbuf capped = STRBUF_INIT;
	capped.cap = 8;
	ok(strbuf_add_checked(&capped, "12345", 5) == 0, "under the cap");
	ok(strbuf_add_checked(&capped, "6789", 4) < 0, "over the cap fails");
	is_str(capped.buf, "12345", "a failed capped append changes nothing");
	ok(strbuf_add_checked(&capped, "678", 3) == 0, "exactly the cap");
	strbuf_release(&capped);
}

static void test_strbuf_read(void)
{
	int p[2];
	if (pipe(p) < 0) {
		ok(0, "pipe");
		return;
	}
	if (write(p[1], "0123456789", 10) != 10)
		ok(0, "write");
	close(p[1]);
	struct strbuf sb = STRBUF_INIT;
	sb.cap = 5;
	ok(strbuf_read_fd(&sb, p[0]) < 0 && errno == E2BIG, "strbuf_read_fd "
							    "honours the cap");
	is_int(sb.len, 0, "nothing kept after a capped read fails");
	close(p[0]);
	strbuf_release(&sb);

	ok(strbuf_read_file(&sb, "/nonexistent/kiln") < 0 && errno == ENOENT,
	   "strbuf_read_file reports ENOENT");
}

static void test_strvec(void)
{
	struct strvec sv = STRVEC_INIT;
	ok(sv.v[0] == NULL, "empty strvec is NULL-terminated");
	strvec_push(&sv, "a");
	strvec_pushf(&sv, "%s-%d", "b", 2);
	const char *more[] = { "c", "d", NULL };
	strvec_pushv(&sv, more);
	is_int(sv.nr, 4, "strvec count");
	is_str(sv.v[1], "b-2", "strvec_pushf");
	ok(sv.v[4] == NULL, "strvec stays NULL-terminated");
	strvec_pop(&sv);
	is_int(sv.nr, 3, "strvec_pop");
	strvec_clear(&sv);
	ok(sv.nr == 0 && sv.v[0] == NULL, "strvec_clear");
}

static void test_arena(void)
{
	struct arena a = ARENA_INIT;
	char *p = arena_strdup(&a, "abc");
	is_str(p, "abc", "arena_strdup");
	bool zero = true, aligned = true;
	for (int i = 0; i < 5000; i++) {
		unsigned char *q = arena_alloc(&a, (size_t)(i % 100) + 1);
		if ((uintptr_t)q % 16)
			aligned = false;
		for (int j = 0; j < i % 100 + 1; j++)
			if (q[j])
				zero = false;
		memset(q, 0xff, (size_t)(i % 100) + 1);
	}
	ok(zero, "arena memory is zeroed");
	ok(aligned, "arena memory is 16-byte aligned");
	void *big = arena_alloc(&a, 1 << 20);
	ok(big != NULL, "large arena allocation");
	is_str(p, "abc", "earlier allocations survive");
	arena_release(&a);
	ok(a.head == NULL, "arena_release frees everything");
}

static void test_error(void)
{
	struct error *err = NULL;
	error_set(&err, KILN_EINVAL, "bad value '%s'", "x");
	error_set(&err, KILN_EINTERNAL, "second");
	is_str(err->msg, "bad value 'x'", "the first error wins");
	error_wrap(&err, "parse '%s'", "Dockerfile");
	is_str(err->msg, "parse 'Dockerfile': bad value 'x'", "error_wrap");
	is_int(err->code, KILN_EINVAL, "code kept");
	error_clear(&err);
	ok(err == NULL, "error_clear");
	errno = ENOENT;
	error_set_errno(&err, "open '%s'", "/x");
	is_str(err->msg, "open '/x': No such file or directory",
	       "error_set_errno");
	is_int(err->code, ENOENT, "errno kept");
	error_free(err);
	error_set(NULL, 1, "ignored");
	ok(1, "NULL err pointer is accepted");
}

static void test_misc(void)
{
	const char *rest;
	ok(skip_prefix("--flag=v", "--flag=", &rest) && !strcmp(rest, "v"),
	   "skip_prefix");
	ok(ends_with("file.tar.gz", ".gz") && !ends_with("gz", ".gz.x"), "ends_"
									 "wit"
									 "h");
	unsigned long long v;
	ok(parse_uint("123", 1000, &v) == 0 && v == 123, "parse_uint");
	ok(parse_uint("12a", 1000, &v) < 0, "parse_uint rejects junk");
	ok(parse_uint("1001", 1000, &v) < 0, "parse_uint rejects overflow");
	ok(parse_uint("", 1000, &v) < 0, "parse_uint rejects empty");
	is_int(levenshtein("COPPY", "COPY"), 1, "levenshtein");
	is_int(levenshtein("", "abc"), 3, "levenshtein empty");
	char *s = xstrfmt("%d-%s", 7, "x");
	is_str(s, "7-x", "xstrfmt");
	free(s);
}

int main(void)
{
	test_strbuf();
	test_strbuf_read();
	test_strvec();
	test_arena();
	test_error();
	test_misc();
	return tap_done();
}
