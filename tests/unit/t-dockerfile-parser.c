/*
 * Unit tests for the Dockerfile parser: errors (text and line), heredocs,
 * directives, ONBUILD, JSON versus shell form, flags, line endings, BOM,
 * NUL bytes and the size limits.  BuildKit's own test tables live in the
 * corpus and are covered by tests/conformance/c-parser.c.
 */
#include "tap.h"
#include "dockerfile/dockerfile.h"

#include <jansson.h>

static struct dockerfile *parse_n(const char *text, size_t len)
{
	struct error *err = NULL;
	struct dockerfile *df = dockerfile_parse("Dockerfile", text, len, &err);
	if (!df)
		printf("# unexpected error: %s\n", err->msg);
	error_free(err);
	return df;
}

static struct dockerfile *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* The buildkit dump, or "error: MSG"; caller frees. */
static char *dump_n(const char *text, size_t len)
{
	struct error *err = NULL;
	struct dockerfile *df = dockerfile_parse("Dockerfile", text, len, &err);
	if (!df) {
		char *r = xstrfmt("error: %s", err->msg);
		error_free(err);
		return r;
	}
	struct strbuf sb = STRBUF_INIT;
	dockerfile_dump_buildkit(df, &sb);
	dockerfile_free(df);
	return strbuf_detach(&sb, NULL);
}

static char *dump(const char *text)
{
	return dump_n(text, strlen(text));
}

#define check_dump(text, want, ...)              \
	do {                                     \
		char *got_ = dump(text);         \
		is_str(got_, want, __VA_ARGS__); \
		free(got_);                      \
	} while (0)

#define check_error(text, want, ...)                       \
	do {                                               \
		char *got_ = dump(text);                   \
		is_str(got_, "error: " want, __VA_ARGS__); \
		free(got_);                                \
	} while (0)

static void test_errors(void)
{
	check_error("FROM busybox\nRUN true\n\nCOPPY a b\n",
		    "Dockerfile:4: unknown instruction: COPPY (did you mean "
		    "COPY?)",
		    "unknown instruction with a suggestion");
	check_error("FROM x\nrunn true\n",
		    "Dockerfile:2: unknown instruction: runn (did you mean "
		    "RUN?)",
		    "unknown instruction keeps its spelling");
	check_error("FORM x\n",
		    "Dockerfile:1: unknown instruction: FORM (did you mean "
		    "FROM?)",
		    "transposed letters get a suggestion");
	check_error("FROM x\nEVN a=b\n",
		    "Dockerfile:2: unknown instruction: EVN (did you mean "
		    "ENV?)",
		    "transposed letters in a short keyword");
	check_error("FROM x\nFOO a\n", "Dockerfile:2: unknown instruction: FOO",
		    "no far-fetched suggestion for a short word");
	check_error("FROM x\nFLIBBERTIGIBBET a\n",
		    "Dockerfile:2: unknown instruction: FLIBBERTIGIBBET",
		    "unknown instruction without a suggestion");
	check_error("FROM x\nONBUILD COPPY a b\n",
		    "Dockerfile:2: unknown instruction: COPPY (did you mean "
		    "COPY?)",
		    "unknown ONBUILD trigger");
	check_error("FROM x\nRUN <<EOF\necho hi\n",
		    "Dockerfile:2: unterminated heredoc \"EOF\"",
		    "unterminated heredoc");
	check_error("FROM x\nCOPY <<A <<B /d\na\nA\nb\n",
		    "Dockerfile:2: unterminated heredoc \"B\"",
		    "second heredoc unterminated");
	check_error("FROM x\n\nCMD [\"echo\", 1]\n",
		    "Dockerfile:3: when using JSON array syntax, arrays must "
		    "be comprised of strings only",
		    "JSON array with a number");
	check_error("FROM x\nENTRYPOINT [\"a\", [\"b\"]]\n",
		    "Dockerfile:2: when using JSON array syntax, arrays must "
		    "be comprised of strings only",
		    "JSON array with an array");
	check_error("FROM x\nCOPY [\"a\", null]\n",
		    "Dockerfile:2: when using JSON array syntax, arrays must "
		    "be comprised of strings only",
		    "COPY JSON array with null");
	check_error("FROM busybox\n\nENV PATH\n",
		    "Dockerfile:3: ENV must have two arguments", "ENV PATH");
	check_error("FROM x\nLABEL foo\n",
		    "Dockerfile:2: LABEL must have two arguments", "LABEL foo");
	check_error("FROM x\nENV a=b c\n",
		    "Dockerfile:2: syntax error - can't find = in \"c\"; "
		    "must be of the form: name=value",
		    "ENV mixing forms");
	check_error("FROM\n",
		    "Dockerfile:1: FROM requires either one or three "
		    "arguments",
		    "FROM with nothing");
	check_error("FROM a b\n",
		    "Dockerfile:1: FROM requires either one or three "
		    "arguments",
		    "FROM with two arguments");
	check_error("FROM a b c\n",
		    "Dockerfile:1: FROM requires either one or three "
		    "arguments",
		    "FROM a b c (no AS)");
	check_error("FROM x\nCOPY onlyone\n",
		    "Dockerfile:2: COPY requires at least two arguments, but "
		    "only one was provided. Destination could not be "
		    "determined",
		    "COPY onlyone");
	check_error("FROM x\nADD\n",
		    "Dockerfile:2: ADD requires at least two arguments",
		    "ADD with nothing");
	check_error("FROM x\nENV\n",
		    "Dockerfile:2: ENV requires at least one argument",
		    "ENV with nothing");
	check_error("FROM x\nARG\n",
		    "Dockerfile:2: ARG requires at least one argument",
		    "ARG with nothing");
	check_error("FROM x\nEXPOSE\n",
		    "Dockerfile:2: EXPOSE requires at least one argument",
		    "EXPOSE with nothing");
	check_error("FROM x\nSHELL []\n",
		    "Dockerfile:2: SHELL requires at least one argument",
		    "SHELL []");
	check_error("FROM x\nUSER\n",
		    "Dockerfile:2: USER requires exactly one argument",
		    "USER with nothing");
	check_error("FROM x\nWORKDIR   \n",
		    "Dockerfile:2: WORKDIR requires exactly one argument",
		    "WORKDIR with blanks only");
	check_error("FROM x\nONBUILD\n",
		    "Dockerfile:2: ONBUILD requires at least one argument",
		    "ONBUILD with nothing");
	check_error("", "Dockerfile:1: file with no instructions",
		    "empty file");
	check_error("# just\n\n# comments\n",
		    "Dockerfile:3: file with no instructions", "only comments");
	check_error("FROM x\n\\\n",
		    "Dockerfile:2: a line continuation leads to an empty "
		    "instruction",
		    "continuation into nothing");

	/* binary input */
	static const char nul[] = "FROM x\nRUN a\0b\n";
	char *got = dump_n(nul, sizeof(nul) - 1);
	is_str(got,
	       "error: Dockerfile:2: NUL byte in the file: a Dockerfile is "
	       "text, not binary data",
	       "NUL byte is a clear error with its line");
	free(got);
	static const char garbage[] = "\x7f"
				      "ELF\x02\x01\x01\xff\xfe\x80\n";
	got = dump(garbage);
	ok(starts_with(got, "error: Dockerfile:1: unknown instruction: "),
	   "binary garbage is an unknown instruction");
	free(got);
	char *junk = xmalloc(4096);
	unsigned seed = 1;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < 4096; i++) {
			seed = seed * 1103515245 + 12345;
			junk[i] = (char)(seed >> 16);
		}
		got = dump_n(junk, 4096);
		if (!starts_with(got, "error: Dockerfile:") &&
		    !starts_with(got, "("))
			break;
		free(got);
		got = NULL;
	}
	ok(got == NULL, "200 random binary blobs fail cleanly");
	free(got);
	free(junk);
}

static void test_limits(void)
{
	/* BuildKit's limit: a physical line of more than 65535 bytes */
	size_t n = 10 * 1024 * 1024;
	char *big = xmalloc(n + 32);
	memcpy(big, "FROM x\nRUN ", 11);
	memset(big + 11, 'a', n);
	memcpy(big + 11 + n, "\n", 1);
	char *got = dump_n(big, n + 12);
	is_str(got,
	       "error: Dockerfile:2: dockerfile line greater than max allowed "
	       "size of 65535",
	       "10 MB line is an error");
	free(got);

	/* exactly at the limit is fine, one more is not */
	size_t at = DOCKERFILE_MAX_LINE - 4; /* "RUN " + at = 65535 */
	memcpy(big + 7, "RUN ", 4);
	memset(big + 11, 'b', at);
	memcpy(big + 11 + at, "\n", 1);
	struct dockerfile *df = parse_n(big, 11 + at + 1);
	ok(df && df->nnodes == 2 && strlen(df->nodes[1].args[0]) == at, "a "
									"65535-"
									"byte "
									"line "
									"parse"
									"s");
	dockerfile_free(df);
	memset(big + 11, 'b', at + 1);
	memcpy(big + 11 + at + 1, "\n", 1);
	got = dump_n(big, 11 + at + 2);
	ok(starts_with(got, "error: Dockerfile:2: dockerfile line greater"),
	   "a 65536-byte line does not");
	free(got);
	/* ... also inside a heredoc body */
	memcpy(big, "FROM x\nRUN <<E\n", 15);
	memset(big + 15, 'c', 70000);
	memcpy(big + 15 + 70000, "\nE\n", 3);
	got = dump_n(big, 15 + 70000 + 3);
	is_str(got,
	       "error: Dockerfile:3: dockerfile line greater than max allowed "
	       "size of 65535",
	       "over-long heredoc line is an error");
	free(got);
	free(big);

	/* 100,000 lines */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "FROM busybox\n");
	for (int i = 1; i < 100000; i++) {
		switch (i % 4) {
		case 1:
			strbuf_addf(&sb, "RUN echo %d \\\n", i);
			break;
		case 2:
			strbuf_addf(&sb, "    && true %d\n", i);
			break;
		case 3:
			strbuf_addf(&sb, "ENV K%d=v%d\n", i, i);
			break;
		default:
			strbuf_addf(&sb, "# comment %d\n", i);
		}
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	df = parse_n(sb.buf, sb.len);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms =
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(df && df->nnodes == 1 + 25000 + 25000 && df->end_line == 100000,
	   "100,000-line file parses (%zu instructions, %.1f ms)",
	   df ? df->nnodes : 0, ms);
	ok(ms < 5000, "100,000 lines in under 5 s");
	dockerfile_free(df);
	strbuf_release(&sb);
}

static void test_heredocs(void)
{
	struct dockerfile *df = parse("FROM x\n"
				      "RUN <<EOF\n"
				      "echo hello\n"
				      "echo $HOME\n"
				      "EOF\n"
				      "RUN <<-'END' bash\n"
				      "\techo tab\n"
				      "\tEND\n"
				      "COPY <<one 3<<\"two\" /dest/\n"
				      "first\n"
				      "one\n"
				      "second\n"
				      "two\n"
				      "RUN cat <<E\"O\"F | sh\n"
				      "x\n"
				      "EOF\n"
				      "RUN << EOF2\n"
				      "EOF2\n");
	if (!ok(df && df->nnodes == 6, "heredoc file parses")) {
		dockerfile_free(df);
		return;
	}
	const struct dockerfile_node *n = &df->nodes[1];
	is_int(n->nheredocs, 1, "RUN <<EOF: one heredoc");
	is_str(n->heredocs[0].name, "EOF", "name");
	is_str(n->heredocs[0].content, "echo hello\necho $HOME\n", "content");
	ok(n->heredocs[0].expand && !n->heredocs[0].chomp &&
		   n->heredocs[0].fd == 0,
	   "expand, no chomp, no fd");
	ok(n->start_line == 2 && n->end_line == 5, "lines 2-5 (got %d-%d)",
	   n->start_line, n->end_line);
	is_str(n->args[0], "<<EOF", "the argument keeps the marker");

	n = &df->nodes[2];
	is_str(n->heredocs[0].name, "END", "<<-'END': name");
	is_str(n->heredocs[0].content, "\techo tab\n",
	       "<<-: content keeps the tabs (consumers strip them)");
	ok(!n->heredocs[0].expand && n->heredocs[0].chomp, "<<-'END': no "
							   "expansion, chomp, "
							   "tabbed delimiter "
							   "accepted");

	n = &df->nodes[3];
	if (ok(n->nheredocs == 2, "COPY with two heredocs")) {
		is_str(n->heredocs[0].name, "one", "first name");
		is_str(n->heredocs[0].content, "first\n", "first content");
		is_str(n->heredocs[1].name, "two", "second name");
		is_str(n->heredocs[1].content, "second\n", "second content");
		ok(n->heredocs[0].expand && !n->heredocs[1].expand, "quoted "
								    "second "
								    "delimiter "
								    "disables "
								    "expansio"
								    "n");
		is_int(n->heredocs[1].fd, 3, "3<<\"two\" has fd 3");
	}
	ok(n->nargs == 3 && !strcmp(n->args[2], "/dest/"), "COPY keeps markers "
							   "and destination as "
							   "arguments");
	ok(n->start_line == 9 && n->end_line == 13, "COPY spans 9-13");

	n = &df->nodes[4];
	ok(n->nheredocs == 1 && !strcmp(n->heredocs[0].name, "EOF") &&
		   !n->heredocs[0].expand,
	   "partly quoted delimiter E\"O\"F: name EOF, no expansion");
	n = &df->nodes[5];
	ok(n->nheredocs == 1 && !strcmp(n->heredocs[0].name, "EOF2"), "blanks "
								      "between "
								      "<< and "
								      "the "
								      "delimite"
								      "r");
	is_int(df->end_line, 18, "file ends at line 18");
	dockerfile_free(df);

	/* what is not a heredoc */
	check_dump("FROM x\nRUN [\"<<EOF\"]\nRUN \"<<EOF\"\nRUN a<<EOF\n",
		   "(from \"x\")\n(run \"<<EOF\")\n(run \"\\\"<<EOF\\\"\")\n"
		   "(run \"a<<EOF\")\n",
		   "JSON form, quoted and glued << are not heredocs");
	check_dump("FROM x\nRUN echo it's <<EOF\nUSER me\n",
		   "(from \"x\")\n(run \"echo it's <<EOF\")\n(user \"me\")\n",
		   "an unbalanced quote disables heredocs (as in BuildKit)");
	check_dump("FROM x\nENV a=<<EOF\nUSER me\n",
		   "(from \"x\")\n(env \"a\" \"<<EOF\" \"=\")\n(user \"me\")\n",
		   "ENV has no heredocs");

	/* ONBUILD carries its trigger's heredocs */
	df = parse("FROM x\nONBUILD RUN <<EOF\nhi\nEOF\n");
	ok(df && df->nodes[1].nheredocs == 1 &&
		   !strcmp(df->nodes[1].heredocs[0].content, "hi\n") &&
		   df->nodes[1].end_line == 4,
	   "ONBUILD RUN <<EOF collects the body");
	dockerfile_free(df);

	/* CRLF: the body keeps its line endings, the delimiter matches */
	df = parse("FROM x\r\nRUN <<EOF\r\na\r\nEOF\r\nUSER me\r\n");
	ok(df && df->nnodes == 3 &&
		   !strcmp(df->nodes[1].heredocs[0].content, "a\r\n"),
	   "CRLF heredoc");
	dockerfile_free(df);
}

static void test_directives(void)
{
	struct dockerfile *df = parse("# syntax = docker/dockerfile:1.7\n"
				      "# ESCAPE=`\n"
				      "# check=skip=all\n"
				      "FROM x\n"
				      "RUN echo a `\n"
				      "  b \\ c\n");
	if (ok(df != NULL, "directives parse")) {
		ok(df->escape == '`', "escape=` is in force");
		is_str(df->syntax, "docker/dockerfile:1.7", "syntax value");
		is_str(df->check, "skip=all", "check value");
		ok(df->ndirectives == 3 &&
			   !strcmp(df->directives[1].name, "escape") &&
			   df->directives[1].line == 2,
		   "directives recorded with lowercased names and lines");
		is_str(df->nodes[1].args[0], "echo a   b \\ c",
		       "backtick continues lines, backslash is literal");
		is_int(df->nodes[0].ncomments, 0,
		       "directives are not comments");
	}
	dockerfile_free(df);

	check_dump("# escape=`\nFROM x\nENV A=a\\b B=c`d\n",
		   "(from \"x\")\n(env \"A\" \"a\\\\b\" \"=\" \"B\" \"c`d\" "
		   "\"=\")\n",
		   "with escape=`, ENV words keep ` escapes");

	df = parse("# a comment\n# escape=`\nFROM x\nRUN a \\\n b\n");
	ok(df && df->escape == '\\' && df->ndirectives == 0 &&
		   !strcmp(df->nodes[1].args[0], "a  b"),
	   "a directive after a comment is ignored");
	dockerfile_free(df);
	df = parse("\n# escape=`\nFROM x\n");
	ok(df && df->escape == '\\' && df->ndirectives == 0, "a directive "
							     "after a blank "
							     "line is ignored");
	dockerfile_free(df);
	df = parse("FROM x\n# escape=`\nRUN a \\\n b\n");
	ok(df && df->escape == '\\' && df->nnodes == 2, "a directive after an "
							"instruction is a "
							"comment");
	dockerfile_free(df);
	df = parse("# foo=bar\n# escape=`\nFROM x\n");
	ok(df && df->escape == '\\' && df->ndirectives == 0, "an unknown "
							     "directive ends "
							     "the directives");
	dockerfile_free(df);
	check_error("# escape=`\n# escape=\\\nFROM x\n",
		    "Dockerfile:2: only one escape parser directive can be "
		    "used",
		    "duplicate directive");
	check_error("# syntax=a\n#syntax=b\nFROM x\n",
		    "Dockerfile:2: only one syntax parser directive can be "
		    "used",
		    "duplicate syntax directive");
	check_error("# escape=x\nFROM x\n",
		    "Dockerfile:1: invalid escape token 'x' does not match ` "
		    "or \\",
		    "invalid escape token");
	df = parse("\xEF\xBB\xBF# escape=`\nFROM x\n");
	ok(df && df->escape == '`', "BOM before a directive");
	dockerfile_free(df);
}

static void test_bom_crlf(void)
{
	check_dump("\xEF\xBB\xBF"
		   "FROM x\n",
		   "(from \"x\")\n", "UTF-8 BOM is stripped");
	check_error("FROM x\n\xEF\xBB\xBFRUN a\n",
		    "Dockerfile:2: unknown instruction: \xEF\xBB\xBFRUN",
		    "a BOM is only stripped on the first line");
	check_dump("FROM x\r\nRUN a \\\r\n  b\r\nENV A=1 \\\r\n\r\n  B=2\r\n",
		   "(from \"x\")\n(run \"a   b\")\n(env \"A\" \"1\" \"=\" "
		   "\"B\" "
		   "\"2\" \"=\")\n",
		   "CRLF line endings");
	check_dump("FROM x\rAS b\r", "(from \"x\" \"AS\" \"b\")\n",
		   "a bare CR does not end a line, it separates words");
}

static void test_onbuild(void)
{
	check_error("FROM x\nONBUILD ONBUILD RUN a\n",
		    "Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` "
		    "isn't allowed",
		    "ONBUILD ONBUILD");
	check_error("FROM x\nonbuild from y\n",
		    "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger",
		    "ONBUILD FROM");
	check_error("FROM x\nONBUILD MAINTAINER me\n",
		    "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD "
		    "trigger",
		    "ONBUILD MAINTAINER");
	struct dockerfile *df = parse("FROM x\nONBUILD --f=1 RUN [\"a\"]\n");
	const struct dockerfile_node *n = df ? &df->nodes[1] : NULL;
	ok(n && n->child && !strcmp(n->child->keyword, "run") &&
		   n->child->json && n->child->nargs == 1 && n->nargs == 0 &&
		   n->nflags == 1,
	   "ONBUILD nests its trigger");
	dockerfile_free(df);
	check_dump("FROM x\nONBUILD ADD . /app\n",
		   "(from \"x\")\n(onbuild (add \".\" \"/app\"))\n",
		   "ONBUILD dump");
}

static void test_json_form(void)
{
	struct dockerfile *df = parse("FROM x\n"
				      "CMD [\"a\", \"b c\"]\n"
				      "CMD ['a']\n"
				      "CMD [\"a\"\n"
				      "CMD [\"a\"] x\n"
				      "CMD []\n"
				      "CMD [\"a\", 1e999]\n"
				      "CMD [\"a\\u0000b\"]\n"
				      "COPY [\"a b\", \"c\"]\n"
				      "COPY [a b] c\n");
	if (!ok(df && df->nnodes == 10, "JSON forms parse")) {
		dockerfile_free(df);
		return;
	}
	const struct dockerfile_node *n = df->nodes;
	ok(n[1].json && n[1].nargs == 2 && !strcmp(n[1].args[1], "b c"), "JSON "
									 "arra"
									 "y");
	ok(!n[2].json && n[2].nargs == 1 && !strcmp(n[2].args[0], "['a']"),
	   "single quotes fall back to shell form");
	ok(!n[3].json && !strcmp(n[3].args[0], "[\"a\""), "unterminated array "
							  "falls back");
	ok(!n[4].json && !strcmp(n[4].args[0], "[\"a\"] x"), "trailing text "
							     "falls back");
	ok(n[5].json && n[5].nargs == 0, "[] is an empty exec form");
	ok(!n[6].json && n[6].nargs == 1, "a number too big for a float64 "
					  "falls back (Go's type error)");
	ok(n[7].json && n[7].arg_lens[0] == 3 &&
		   !memcmp(n[7].args[0], "a\0b", 4),
	   "\\u0000 is kept, with its length");
	ok(n[8].json && n[8].nargs == 2, "COPY JSON array");
	ok(!n[9].json && n[9].nargs == 3 && !strcmp(n[9].args[0], "[a"),
	   "COPY bad JSON splits on whitespace");
	dockerfile_free(df);

	check_dump("FROM x\nCMD [\"\\ud83d\\ude00\", \"\\ud800x\", "
		   "\"\\u00e9\"]\n",
		   "(from \"x\")\n(cmd \"\xF0\x9F\x98\x80\" \"\xEF\xBF\xBDx\" "
		   "\"\xC3\xA9\")\n",
		   "surrogate pairs, lone surrogates, \\u escapes");
	check_dump("FROM x\nCMD [\"\xff\"]\n",
		   "(from \"x\")\n(cmd \"\xEF\xBF\xBD\")\n",
		   "invalid UTF-8 in a JSON string becomes U+FFFD (as Go)");
	check_dump("FROM x\nRUN echo \"\xff\t\x01\x7f\xc2\xa0\xe2\x99\xa5\"\n",
		   "(from \"x\")\n(run \"echo \\\"\\xff\\t\\x01\\x7f\\u00a0"
		   "\xe2\x99\xa5\\\"\")\n",
		   "dump quotes like Go's strconv.Quote");

	/* nesting: Go's decoder gives up past 10000 levels */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "FROM x\nCMD [");
	for (int i = 0; i < 10000; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 10001; i++)
		strbuf_addch(&sb, ']');
	strbuf_addch(&sb, '\n');
	char *got = dump(sb.buf);
	ok(starts_with(got, "(from \"x\")\n(cmd \"[[[["), "10001 nested "
							  "arrays: not JSON, "
							  "shell form");
	free(got);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "FROM x\nCMD [");
	for (int i = 0; i < 9999; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 10000; i++)
		strbuf_addch(&sb, ']');
	got = dump(sb.buf);
	ok(starts_with(got, "error: Dockerfile:2: when using JSON array"),
	   "10000 nested arrays: valid JSON, not strings");
	free(got);
	strbuf_release(&sb);
}

static void test_splitting(void)
{
	check_dump("from x AS build\nRuN echo hi\n",
		   "(from \"x\" \"AS\" \"build\")\n(run \"echo hi\")\n",
		   "keywords are case-insensitive");
	check_dump("FROM x\nCOPY --from=build --chown=\"a b\" src dst\n"
		   "RUN --mount=type=cache,target=/x make\n"
		   "CMD --doit -- [ \"a\" ]\n",
		   "(from \"x\")\n(copy [\"--from=build\" \"--chown=a b\"] "
		   "\"src\" \"dst\")\n(run [\"--mount=type=cache,target=/x\"] "
		   "\"make\")\n(cmd [\"--doit\"] \"a\")\n",
		   "leading flags");
	check_dump("FROM x\nENV A B C\nLABEL a=b \"c d\"=e\nARG x=\"1 2\" y\n",
		   "(from \"x\")\n(env \"A\" \"B C\" \"\")\n(label \"a\" \"b\" "
		   "\"=\" \"\\\"c d\\\"\" \"e\" \"=\")\n(arg \"x=\\\"1 2\\\"\" "
		   "\"y\")\n",
		   "ENV, LABEL, ARG words");
	check_dump("FROM x\nHEALTHCHECK --interval=5s CMD [\"curl\", \"-f\"]\n"
		   "HEALTHCHECK NONE\n",
		   "(from \"x\")\n(healthcheck [\"--interval=5s\"] \"CMD\" "
		   "\"curl\" \"-f\")\n(healthcheck \"NONE\")\n",
		   "HEALTHCHECK");
	check_dump("FROM x\nEXPOSE 80  443/tcp\nVOLUME /a /b\n"
		   "STOPSIGNAL SIGTERM\nMAINTAINER Me <me@x>\nWORKDIR /a b\n"
		   "USER u:g\nSHELL [\"/bin/sh\", \"-c\"]\nENTRYPOINT a b\n",
		   "(from \"x\")\n(expose \"80\" \"443/tcp\")\n(volume \"/a\" "
		   "\"/b\")\n(stopsignal \"SIGTERM\")\n(maintainer \"Me "
		   "<me@x>\")\n(workdir \"/a b\")\n(user \"u:g\")\n(shell "
		   "\"/bin/sh\" \"-c\")\n(entrypoint \"a b\")\n",
		   "every other instruction");
	check_dump("FROM x\nRUN a \\\n# comment \\\n  b \\\n\n  c\n",
		   "(from \"x\")\n(run \"a   b   c\")\n",
		   "comment and empty lines inside a continuation");

	struct dockerfile *df = parse("# hello\n#   world  \nFROM x\n"
				      "RUN a \\\n\n  \\\n b\n");
	if (ok(df != NULL, "comments and warnings parse")) {
		ok(df->nodes[0].ncomments == 2 &&
			   !strcmp(df->nodes[0].comments[1], "world"),
		   "comments before an instruction are kept");
		ok(df->nwarnings == 1 && df->warnings[0].line == 5 &&
			   starts_with(df->warnings[0].msg, "empty "
							    "continuation "
							    "line"),
		   "empty continuation line warning with its line");
		ok(df->nodes[1].start_line == 4 && df->nodes[1].end_line == 7,
		   "continuation line range");
		is_str(df->nodes[1].original, "RUN a    b",
		       "original text of the logical line");
	}
	dockerfile_free(df);
}

/* BuildKit's TestParseWarnsOnEmptyContinutationLine, transcribed. */
static void test_empty_continuation_warnings(void)
{
	struct dockerfile *df = parse("\nFROM alpine:3.6\n\n"
				      "RUN valid \\\n    continuation\n\n"
				      "RUN something \\\n\n    following \\\n"
				      "\n    more\n\n"
				      "RUN another \\\n\n    thing\n\n"
				      "RUN non-indented \\\n# this is a "
				      "comment\n"
				      "   after-comment\n\n"
				      "RUN indented \\\n"
				      "    # this is an indented comment\n"
				      "    comment\n\t");
	if (!ok(df && df->nwarnings == 2, "two empty-continuation warnings")) {
		dockerfile_free(df);
		return;
	}
	ok(strstr(df->warnings[0].msg, "RUN something     following     "
				       "more") &&
		   df->warnings[0].line == 8,
	   "first warning names its instruction and line");
	ok(strstr(df->warnings[1].msg, "RUN another     thing") &&
		   df->warnings[1].line == 14,
	   "second warning");
	is_str(df->nodes[4].args[0], "non-indented    after-comment",
	       "comment inside a continuation is dropped");
	is_str(df->nodes[5].args[0], "indented     comment",
	       "indented comment inside a continuation is dropped");
	dockerfile_free(df);
}

static void test_json_dump(void)
{
	struct dockerfile *df = parse("# syntax=s\n# c1\nFROM x\n"
				      "COPY --link <<EOF /a\n\xff\nEOF\n"
				      "ONBUILD RUN [\"a\\u0000\"]\n");
	struct strbuf sb = STRBUF_INIT;
	dockerfile_dump_json(df, &sb);
	json_error_t jerr;
	json_t *j = json_loadb(sb.buf, sb.len, JSON_ALLOW_NUL, &jerr);
	if (!ok(j != NULL, "JSON dump is valid JSON"))
		printf("# %s\n%s", jerr.text, sb.buf);
	json_t *ins = json_object_get(j, "instructions");
	json_t *copy = json_array_get(ins, 1);
	json_t *hd = json_array_get(json_object_get(copy, "heredocs"), 0);
	is_str(json_string_value(json_object_get(hd, "content")),
	       "\xEF\xBF\xBD\n", "heredoc content, invalid UTF-8 replaced");
	ok(json_is_true(json_object_get(hd, "expand")) &&
		   json_is_false(json_object_get(hd, "chomp")) &&
		   json_integer_value(json_object_get(hd, "fd")) == 0,
	   "heredoc flags");
	is_str(json_string_value(
		       json_array_get(json_object_get(copy, "flags"), 0)),
	       "--link", "flags");
	ok(json_integer_value(json_object_get(copy, "start_line")) == 4 &&
		   json_integer_value(json_object_get(copy, "end_line")) == 6,
	   "line range");
	json_t *child = json_object_get(json_array_get(ins, 2), "child");
	json_t *arg = json_array_get(json_object_get(child, "args"), 0);
	ok(json_is_true(json_object_get(child, "json")) &&
		   json_string_length(arg) == 2,
	   "ONBUILD child with a NUL-holding JSON arg");
	is_str(json_string_value(json_object_get(j, "syntax")), "s",
	       "syntax directive");
	is_str(json_string_value(json_array_get(
		       json_object_get(json_array_get(ins, 0), "comments"), 0)),
	       "c1", "comments");
	json_decref(j);
	strbuf_release(&sb);
	dockerfile_free(df);
}

int main(void)
{
	test_errors();
	test_limits();
	test_heredocs();
	test_directives();
	test_bom_crlf();
	test_onbuild();
	test_json_form();
	test_splitting();
	test_empty_continuation_warnings();
	test_json_dump();
	return tap_done();
}
