/*
 * Unit tests for dockerfile/shell.c beyond BuildKit's tables: the
 * backtick escape, the lexer options, nesting, Go-regexp details of the
 * pattern forms, huge input, messages, and the environment type.
 */
#include "tap.h"
#include "dockerfile/dockerfile.h"

static struct dockerfile_env env = DOCKERFILE_ENV_INIT;

/* Test names are one line: show a newline as \n. */
static const char *oneline(const char *s)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	size_t n = 0;
	for (; *s && n < sizeof(buf[0]) - 3; s++) {
		if (*s == '\n') {
			b[n++] = '\\';
			b[n++] = 'n';
		} else {
			b[n++] = *s;
		}
	}
	b[n] = '\0';
	return b;
}

static void check(const char *word, const struct dockerfile_shell_opts *o,
		  const char *want)
{
	char *got = NULL;
	struct error *err = NULL;
	if (dockerfile_expand_word(word, &env, o, &got, NULL, NULL, &err) < 0) {
		ok(0, "%s -> %s", oneline(word), oneline(want));
		printf("#   error: %s\n", err->msg);
		error_free(err);
		return;
	}
	is_str(got, want, "%s -> %s", oneline(word), oneline(want));
	free(got);
}

static void check_err(const char *word, const struct dockerfile_shell_opts *o,
		      const char *want_msg)
{
	char *got = NULL;
	struct error *err = NULL;
	int r = dockerfile_expand_word(word, &env, o, &got, NULL, NULL, &err);
	if (!ok(r < 0, "%s fails", word)) {
		printf("#   got: '%s'\n", got);
		free(got);
		return;
	}
	if (want_msg)
		is_str(err->msg, want_msg, "%s: message", word);
	error_free(err);
}

static void check_words(const char *word, const char *want)
{
	struct strvec out = STRVEC_INIT;
	struct error *err = NULL;
	struct strbuf sb = STRBUF_INIT;
	if (dockerfile_expand_words(word, &env, NULL, &out, NULL, NULL, &err) <
	    0) {
		ok(0, "words %s", word);
		error_free(err);
		return;
	}
	for (size_t i = 0; i < out.nr; i++)
		strbuf_addf(&sb, "%s[%s]", i ? "," : "", out.v[i]);
	if (!ok(!strcmp(sb.buf, want), "words %s -> %s", word, want))
		printf("#   got: %s\n", sb.buf);
	strbuf_release(&sb);
	strvec_clear(&out);
}

static void test_backtick(void)
{
	struct dockerfile_shell_opts bt = { .escape = '`' };
	check("a`$PWD", &bt, "a$PWD");
	check("a\\$PWD", &bt, "a\\/home");
	check("\"a`\"b\"", &bt, "a\"b");
	check("\"a\\b\"", &bt, "a\\b");
	check("\"a``b\"", &bt, "a`b");
	check("c:\\windows\\system32", &bt, "c:\\windows\\system32");
	check("a`", &bt, "a");
	check("${X:-`}}", &bt, "}");
}

static void test_options(void)
{
	struct dockerfile_shell_opts rq = { .raw_quotes = true };
	check("'a b'\"$PWD\"", &rq, "'a b'\"/home\"");
	struct dockerfile_shell_opts re = { .raw_escapes = true };
	check("a\\$PWD", &re, "a\\$PWD");
	check("a\\", &re, "a\\");
	struct dockerfile_shell_opts su = { .skip_unset_env = true };
	check("$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} $PWD", &su,
	      "$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} /home");
	struct dockerfile_shell_opts sq = { .skip_process_quotes = true };
	check("'$PWD' \"a\\nb\"", &sq, "'/home' \"anb\"");
}

static void test_nesting(void)
{
	check("${a:-${b:-c}}", NULL, "c");
	check("${a:-${PWD:-c}}", NULL, "/home");
	check("${PWD:+${a:-${b:-deep}}}", NULL, "deep");
	check("${a:-'}'}", NULL, "}");
	check("${a:-\"x y\"}", NULL, "x y");
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 400; i++)
		strbuf_addstr(&sb, "${a:-");
	strbuf_addch(&sb, 'z');
	for (int i = 0; i < 400; i++)
		strbuf_addch(&sb, '}');
	check(sb.buf, NULL, "z");
	strbuf_reset(&sb);
	for (int i = 0; i < 100000; i++)
		strbuf_addstr(&sb, "${a:-");
	check_err(sb.buf, NULL, NULL);
	strbuf_release(&sb);
}

static void test_huge(void)
{
	struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;
	for (int i = 0; i < 50000; i++) {
		strbuf_addstr(&sb, "x$PWD'q'\\\"");
		strbuf_addstr(&want, "x/homeq\"");
	}
	char *got = NULL;
	ok(!dockerfile_expand_word(sb.buf, &env, NULL, &got, NULL, NULL,
				   NULL) &&
		   !strcmp(got, want.buf),
	   "a 500 KB word expands");
	free(got);
	strbuf_release(&sb);
	strbuf_release(&want);

	/* Patterns on a long value stay linear per match attempt. */
	struct dockerfile_env big = DOCKERFILE_ENV_INIT;
	strbuf_init(&sb, 0);
	for (int i = 0; i < 20000; i++)
		strbuf_addch(&sb, 'a');
	dockerfile_env_push(&big, "V", sb.buf);
	got = NULL;
	ok(!dockerfile_expand_word("${V#*a*a*a*a*b}", &big, NULL, &got, NULL,
				   NULL, NULL) &&
		   !strcmp(got, sb.buf),
	   "a pathological pattern does not backtrack");
	free(got);
	got = NULL;
	ok(!dockerfile_expand_word("${V%%a*}", &big, NULL, &got, NULL, NULL,
				   NULL) &&
		   !strcmp(got, ""),
	   "greedy suffix trim of a long value");
	free(got);
	strbuf_release(&sb);
	dockerfile_env_release(&big);

	/* fuzz finding: nested substitutions grow exponentially */
	struct dockerfile_env e = DOCKERFILE_ENV_INIT;
	dockerfile_env_push(&e, "V", "0123456789abcdef0123456789abcdef");
	got = NULL;
	struct error *err = NULL;
	ok(dockerfile_expand_word("${V//?/${V//?/${V//?/${V//?/${V//?/x}}}}}",
				  &e, NULL, &got, NULL, NULL, &err) < 0 &&
		   err && strstr(err->msg, "expansion exceeds 4194304 bytes"),
	   "exponential expansion is refused");
	error_free(err);
	ok(!dockerfile_expand_word("${V//?/${V//?/${V//?/x}}}", &e, NULL, &got,
				   NULL, NULL, NULL) &&
		   strlen(got) == 32 * 32 * 32,
	   "a large but bounded nesting still works");
	free(got);
	dockerfile_env_release(&e);
}

static void test_patterns(void)
{
	struct dockerfile_env saved = env;
	struct dockerfile_env e = DOCKERFILE_ENV_INIT;
	dockerfile_env_push(&e, "F", "a.b.c");
	dockerfile_env_push(&e, "N", "x\ny");
	dockerfile_env_push(&e, "U", "héllo");
	env = e;
	check("${F%.*}", NULL, "a.b");
	check("${F%%.*}", NULL, "a");
	check("${F#*.}", NULL, "b.c");
	check("${F##*.}", NULL, "c");
	check("${F/./-}", NULL, "a-b.c");
	check("${F//./-}", NULL, "a-b-c");
	check("${F//?/<$0>}", NULL, "<><><><><>"); /* $0 is a parameter */
	check("${F//b/'[$0]'}", NULL, "a.[b].c");
	check("${F//b/'$$'}", NULL, "a.$.c");
	check("${F//b/'$1x'}", NULL, "a..c");
	check("${F//b/'${0}x'}", NULL, "a.bx.c");
	check("${F/b/'$0'}", NULL, "a.$0.c");
	/* Go's `.` does not match a newline. */
	check("${N#*}", NULL, "x\ny");
	check("${N##*}", NULL, "\ny");
	check("${N//?/.}", NULL, ".\n.");
	check("${U#h?}", NULL, "llo");
	check("${U%?lo}", NULL, "hé");
	check("${F/x*/y}", NULL, "a.b.c");
	check("${F//}/y}", NULL, "a.b.c"); /* pattern '}', no match */
	check_err("${F#\\a}", NULL,
		  "failed to process \"${F#\\\\a}\": invalid pattern (\\a) in "
		  "substitution: invalid escape '\\a'");
	env = saved;
	dockerfile_env_release(&e);
}

static void test_errors(void)
{
	check_err("${}", NULL,
		  "failed to process \"${}\": syntax error: bad substitution");
	check_err("a'b", NULL,
		  "failed to process \"a'b\": unexpected end of statement "
		  "while looking for matching single-quote");
	check_err("\"ab", NULL,
		  "failed to process \"\\\"ab\": unexpected end of statement "
		  "while looking for matching double-quote");
	check_err("${PWD", NULL,
		  "failed to process \"${PWD\": syntax error: missing '}'");
	check_err("${X:?must be set}", NULL,
		  "failed to process \"${X:?must be set}\": X: must be set");
	check_err("${NULL:?}", NULL,
		  "failed to process \"${NULL:?}\": NULL: is not allowed to be "
		  "empty");
	check_err("${X=1}", NULL,
		  "failed to process \"${X=1}\": unsupported modifier (=) in "
		  "substitution");
	check_err("${X/a", NULL,
		  "failed to process \"${X/a\": syntax error: missing '/' in "
		  "${}");
}

static void test_words(void)
{
	check_words("a  b\t c", "[a],[b],[c]");
	check_words("a \"\" b", "[a],[b]");
	check_words("\"x y\"z w", "[x yz],[w]");
	check_words("", "");
	check_words("$PWD$PWD", "[/home/home]");
}

static void test_matches(void)
{
	struct strvec m = STRVEC_INIT, u = STRVEC_INIT;
	char *got = NULL;
	dockerfile_expand_word("$PWD ${PWD} $X ${Y:-$X} $NULL", &env, NULL,
			       &got, &m, &u, NULL);
	is_int(m.nr, 2, "matched names are unique");
	is_str(m.v[0], "PWD", "matched PWD");
	is_str(m.v[1], "NULL", "an empty variable is matched");
	is_int(u.nr, 2, "unmatched names are unique");
	is_str(u.v[0], "X", "unmatched X");
	is_str(u.v[1], "Y", "unmatched Y");
	free(got);
	strvec_clear(&m);
	strvec_clear(&u);
}

static void test_env(void)
{
	struct dockerfile_env e = DOCKERFILE_ENV_INIT;
	dockerfile_env_push(&e, "A", "1");
	dockerfile_env_push(&e, "B", "2");
	dockerfile_env_push(&e, "A", "3");
	is_str(dockerfile_env_get(&e, "A"), "3", "last entry wins");
	dockerfile_env_set(&e, "B", "4");
	is_str(e.vars.v[1], "B=4", "set replaces in place");
	dockerfile_env_set(&e, "C", "5");
	is_str(e.vars.v[3], "C=5", "set appends a new name");
	dockerfile_env_push_entry(&e, "D");
	is_str(dockerfile_env_get(&e, "D"), "", "an entry without = is set");
	ok(dockerfile_env_get(&e, "a") == NULL, "names are case-sensitive");
	e.case_insensitive = true;
	is_str(dockerfile_env_get(&e, "a"), "3", "unless asked otherwise");
	dockerfile_env_release(&e);
}

int main(void)
{
	dockerfile_env_push(&env, "PWD", "/home");
	dockerfile_env_push(&env, "NULL", "");
	test_backtick();
	test_options();
	test_nesting();
	test_huge();
	test_patterns();
	test_errors();
	test_words();
	test_matches();
	test_env();
	dockerfile_env_release(&env);
	return tap_done();
}
