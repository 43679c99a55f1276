/*
 * Unit tests for context/: pattern edge cases, line numbers, the ignore
 * file choice, the walker on a temporary tree, content digests and the
 * stat cache, and pathological patterns.
 */
#include "tap.h"
#include "context/context.h"

#include <sys/stat.h>
#include <sys/time.h>

/* ------------------------------------------------------------ helpers */

static struct context_ignore *compile(const char *text)
{
	struct error *err = NULL;
	struct context_ignore *ig =
		context_ignore_parse(text, strlen(text), ".dockerignore", &err);
	if (!ig) {
		printf("# compile error: %s\n", err->msg);
		error_free(err);
	}
	return ig;
}

/* Is `path` excluded by the one-pattern-per-line `text`? */
static bool excl(const char *text, const char *path)
{
	struct context_ignore *ig = compile(text);
	bool r = ig && context_ignore_match(ig, path, NULL);
	context_ignore_free(ig);
	return r;
}

/* The error message compiling `text` gives, or "" (caller frees). */
static char *compile_error(const char *text)
{
	struct error *err = NULL;
	struct context_ignore *ig =
		context_ignore_parse(text, strlen(text), ".dockerignore", &err);
	context_ignore_free(ig);
	char *msg = xstrdup(err ? err->msg : "");
	error_free(err);
	return msg;
}

static char tmpdir[] = "/tmp/kiln-t-context.XXXXXX";

static void write_file(const char *rel, const char *content)
{
	cleanup_free char *p = xstrfmt("%s/%s", tmpdir, rel);
	FILE *f = fopen(p, "w");
	if (!f)
		die_errno("fopen %s", p);
	fputs(content, f);
	fclose(f);
}

static void mkdir_in_tmp(const char *rel)
{
	cleanup_free char *p = xstrfmt("%s/%s", tmpdir, rel);
	mkdir_p(p, 0755);
}

static void symlink_rel(const char *target, const char *rel)
{
	cleanup_free char *p = xstrfmt("%s/%s", tmpdir, rel);
	if (symlink(target, p) < 0)
		die_errno("symlink %s", p);
}

static void set_mtime(const char *rel, time_t t)
{
	cleanup_free char *p = xstrfmt("%s/%s", tmpdir, rel);
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	if (utimensat(AT_FDCWD, p, ts, 0) < 0)
		die_errno("utimensat %s", p);
}

static void rm_rf(const char *path)
{
	cleanup_free char *cmd = xstrfmt("rm -rf '%s'", path);
	if (system(cmd) != 0)
		warning("could not remove %s", path);
}

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The walk's paths joined by spaces (caller frees). */
static char *walk_list(int dirfd, const char *ignore_text, size_t *dirs_read)
{
	struct context_ignore *ig = ignore_text ? compile(ignore_text) : NULL;
	struct context_walk w = CONTEXT_WALK_INIT;
	struct error *err = NULL;
	struct strbuf sb = STRBUF_INIT;
	if (context_walk(dirfd, ig, &w, &err) < 0) {
		strbuf_addf(&sb, "error: %s", err->msg);
		error_free(err);
	}
	for (size_t i = 0; i < w.nr; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", w.entries[i].path);
	if (dirs_read)
		*dirs_read = w.dirs_read;
	context_walk_release(&w);
	context_ignore_free(ig);
	return strbuf_detach(&sb, NULL);
}

/* ------------------------------------------------------------ patterns */

static void test_patterns(void)
{
	ok(excl("*.go", "main.go"), "*.go excludes main.go");
	ok(!excl("*.go", "cmd/main.go"), "*.go does not reach into cmd/");
	ok(excl("**/*.go", "cmd/x/main.go"), "**/*.go reaches any depth");
	ok(excl("**/*.go", "main.go"), "**/ matches zero directories");
	ok(excl("build", "build/out/a.o"), "a matching parent excludes a path");
	ok(excl("bu?ld", "build/out/a.o"), "a wildcard matching a parent");
	ok(excl("**/node_*", "a/node_modules/x/y.js"), "a ** pattern matching "
						       "a deeper parent");
	ok(!excl("**/node_*\n!a/node_modules/x", "a/node_modules/x/y.js"),
	   "an exception for a deeper parent");
	ok(!excl("build/**", "build"), "dir/** does not match dir itself");
	ok(excl("build/**", "build/x"), "dir/** matches below dir");
	ok(excl("/abs/path", "abs/path"), "a leading / is dropped");
	ok(excl("a/../b", "b"), "patterns are cleaned");
	ok(excl("dir/", "dir/file"), "a trailing / is cleaned away");
	ok(excl("?", "x") && !excl("?", "xy"), "? is one character");
	ok(!excl("a?b", "a/b") && !excl("a*b", "a/b"), "* and ? never match /");
	ok(excl("a[b-d]e", "ace") && !excl("a[b-d]e", "aae"), "class range");
	ok(excl("a[^b-d]e", "aze") && !excl("a[^b-d]e", "ace"), "negated "
								"class");
	ok(excl("a\\*b", "a*b") && !excl("a\\*b", "axb"), "\\ escapes *");
	ok(excl("[\\]a]", "]"), "escaped ] inside a class");
	ok(excl("a?b", "a\xe2\x98\xba"
		       "b"),
	   "? matches one UTF-8 rune");
	ok(!excl("a???b", "a\xe2\x98\xba"
			  "b"),
	   "? is a rune, not a byte");
	ok(excl("[a-\xce\xb6]*", "\xce\xb1"), "class of runes");
	ok(excl("a(b)c.|{}+$", "a(b)c.|{}+$"), "regexp metacharacters are "
					       "literal");
	ok(excl("*.(x)", "f.(x)"), "regexp metacharacters after a *");
	ok(!excl("*.txt", "fileXtxt"), ". is not a wildcard");
	/* upstream quirks, kept on purpose */
	ok(excl("**file", "dir/myfile"), "a leading ** is a plain suffix "
					 "match");
	ok(excl("a^b", "a^b") && !excl("a^b*", "a^bc"), "^ is literal in a "
							"plain pattern but an "
							"anchor with "
							"wildcards");
	ok(!excl("**/*.txt", "a\nb/x.txt"), "** does not span a newline (Go's "
					    ".)");
	ok(excl("*.txt", "a\nb.txt"), "* does span a newline (Go's [^/])");
	ok(excl("a\\d", "a7") && !excl("a\\d", "ad"), "\\d is a digit class, "
						      "as in upstream's "
						      "regexp");

	/* exceptions: the last matching pattern wins */
	ok(!excl("*.md\n!README.md", "README.md"), "exception re-includes");
	ok(excl("*.md\n!README.md", "CHANGES.md"), "others stay excluded");
	ok(excl("!README.md\n*.md", "README.md"), "a later pattern wins");
	ok(!excl("docs\n!docs/keep", "docs/keep/a"), "exception applies below "
						     "its path");
	ok(!excl("**\n!util/docker/web", "util/docker/web/foo"), "exception to "
								 "** (upstream "
								 "multi case)");
	/* MatchesUsingParentResults (BuildKit's walker) does not re-check
	 * a pattern skipped at the parent; MatchesOrParentMatches would
	 * exclude a/b here.  We follow the walker. */
	ok(!excl("a\n!a/b\na", "a/b"), "a pattern skipped at a parent stays "
				       "skipped (BuildKit's walker)");
	ok(!excl("", "x") && !excl("# only a comment\n\n", "x"), "no patterns, "
								 "nothing "
								 "excluded");
	ok(!excl("*", ".") && !excl("**", "./"), "the root is never excluded");
}

static void test_errors(void)
{
	struct {
		const char *text, *msg;
	} cases[] = {
		{ "ok\n\n[", ".dockerignore:3: invalid pattern '[': syntax "
			     "error "
			     "in pattern" },
		{ "a\\", ".dockerignore:1: invalid pattern 'a\\': syntax error "
			 "in "
			 "pattern" },
		{ "[]a]", ".dockerignore:1: invalid pattern '[]a]': syntax "
			  "error in pattern" },
		{ "[x-]", ".dockerignore:1: invalid pattern '[x-]': syntax "
			  "error in pattern" },
		{ "# c\nx\n!", ".dockerignore:3: illegal exclusion pattern: "
			       "\"!\"" },
		{ " ! ", ".dockerignore:1: illegal exclusion pattern: \"!\"" },
		{ "!a[", ".dockerignore:1: invalid pattern '!a[': syntax error "
			 "in pattern" },
		/* upstream accepts these at load and fails when matching */
		{ "[Local-Only]", ".dockerignore:1: invalid pattern "
				  "'[Local-Only]': invalid character class "
				  "range" },
		{ "a\\q", ".dockerignore:1: invalid pattern 'a\\q': "
			  "unsupported "
			  "escape sequence" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *msg = compile_error(cases[i].text);
		is_str(msg, cases[i].msg, "error case %zu", i);
	}

	struct error *err = NULL;
	const char *pats[] = { "ok", "[" };
	struct context_ignore *ig =
		context_ignore_new(pats, 2, NULL, NULL, &err);
	ok(!ig && err && err->code == KILN_EINVAL &&
		   !strcmp(err->msg, "invalid pattern '[': syntax error in "
				     "pattern"),
	   "no source: the message has no location");
	error_free(err);

	/* a line over bufio.Scanner's 64 KiB limit */
	struct strbuf big = STRBUF_INIT;
	strbuf_addstr(&big, "x\n");
	for (int i = 0; i < 70000; i++)
		strbuf_addch(&big, 'a');
	cleanup_free char *msg = compile_error(big.buf);
	is_str(msg, ".dockerignore:2: line too long", "overlong line");
	strbuf_release(&big);
}

static void test_lines(void)
{
	const char *text = "\xef\xbb\xbf# comment\r\n"
			   "\n"
			   "  *.log  \r\n"
			   "#!not.log\n"
			   "! keep.log\n"
			   "\t/abs//x/./y/../z\n"
			   "build\n";
	struct strvec pats = STRVEC_INIT;
	int *lines = NULL;
	ok(context_ignore_read(text, strlen(text), NULL, &pats, &lines, NULL) ==
		   0,
	   "read a file with BOM, CRLF, comments");
	is_int(pats.nr, 4, "four patterns");
	if (pats.nr == 4) {
		is_str(pats.v[0], "*.log", "trimmed");
		is_str(pats.v[1], "!keep.log", "! split, trimmed, put back");
		is_str(pats.v[2], "abs/x/z", "cleaned, leading / dropped");
		is_int(lines[0], 3, "line of *.log");
		is_int(lines[1], 5, "line of !keep.log");
		is_int(lines[2], 6, "line of abs/x/z");
		is_int(lines[3], 7, "line of build");
	}
	strvec_clear(&pats);
	free(lines);

	struct context_ignore *ig = compile(text);
	int line = -1;
	ok(ig && context_ignore_match(ig, "a.log", &line) && line == 3,
	   "excluded by line 3 (got %d)", line);
	ok(ig && !context_ignore_match(ig, "keep.log", &line) && line == 5,
	   "re-included by line 5 (got %d)", line);
	ok(ig && context_ignore_match(ig, "build/x/y.o", &line) && line == 7,
	   "a parent excluded by line 7 (got %d)", line);
	ok(ig && !context_ignore_match(ig, "src/main.c", &line) && line == 0,
	   "no deciding line for an included path (got %d)", line);
	is_int(ig ? context_ignore_count(ig) : 0, 4, "context_ignore_count");
	context_ignore_free(ig);
}

/* Nothing here may take long: the matcher is an NFA, not backtracking. */
static void test_pathological(void)
{
	struct strbuf pat = STRBUF_INIT, path = STRBUF_INIT;
	for (int i = 0; i < 200; i++)
		strbuf_addstr(&pat, "**/");
	strbuf_addstr(&pat, "x");
	for (int i = 0; i < 2000; i++)
		strbuf_addstr(&path, "d/");
	strbuf_addstr(&path, "y");

	double t0 = now_sec();
	struct context_ignore *ig = compile(pat.buf);
	bool m = ig && context_ignore_match(ig, path.buf, NULL);
	context_ignore_free(ig);
	double t1 = now_sec();
	ok(!m, "200 x **/ against 2000 directories: no match");
	ok(t1 - t0 < 1.0, "... quickly (%.3fs)", t1 - t0);

	strbuf_reset(&pat);
	strbuf_reset(&path);
	for (int i = 0; i < 100; i++)
		strbuf_addstr(&pat, "*a");
	strbuf_addstr(&pat, "*b");
	for (int i = 0; i < 5000; i++)
		strbuf_addch(&path, 'a');
	t0 = now_sec();
	m = excl(pat.buf, path.buf);
	t1 = now_sec();
	ok(!m && t1 - t0 < 1.0, "(*a)^100*b against a^5000 (%.3fs)", t1 - t0);

	strbuf_reset(&pat);
	for (int i = 0; i < 100; i++)
		strbuf_addstr(&pat, "**a");
	strbuf_addstr(&pat, "/**b");
	t0 = now_sec();
	m = excl(pat.buf, path.buf);
	t1 = now_sec();
	ok(!m && t1 - t0 < 1.0, "(**a)^100/**b against a^5000 (%.3fs)",
	   t1 - t0);
	strbuf_release(&pat);
	strbuf_release(&path);
}

/* ------------------------------------------------------------ files */

static void test_load(int dirfd)
{
	struct error *err = NULL;
	struct context_ignore *ig;

	ig = context_ignore_load(dirfd, NULL, &err);
	ok(ig && !context_ignore_source(ig) && context_ignore_count(ig) == 0,
	   "no ignore file: an empty matcher");
	context_ignore_free(ig);

	write_file(".dockerignore", "*.log\n");
	mkdir_in_tmp("build");
	write_file("build/app.Dockerfile.dockerignore", "# app\n*.tmp\n");
	ig = context_ignore_load(dirfd, "build/app.Dockerfile", &err);
	is_str(ig ? context_ignore_source(ig) : NULL,
	       "build/app.Dockerfile.dockerignore",
	       "<Dockerfile>.dockerignore takes precedence");
	ok(ig && context_ignore_match(ig, "x.tmp", NULL) &&
		   !context_ignore_match(ig, "x.log", NULL),
	   "... and its patterns are used, not .dockerignore's");
	context_ignore_free(ig);

	ig = context_ignore_load(dirfd, "other/Dockerfile", &err);
	is_str(ig ? context_ignore_source(ig) : NULL, ".dockerignore",
	       "without one, the context's .dockerignore");
	context_ignore_free(ig);

	cleanup_free char *abs = xstrfmt("%s/build/app.Dockerfile", tmpdir);
	ig = context_ignore_load(dirfd, abs, &err);
	ok(ig && context_ignore_source(ig) &&
		   ends_with(context_ignore_source(ig), "/build/"
							"app.Dockerfile."
							"dockerignore"),
	   "an absolute Dockerfile path works");
	context_ignore_free(ig);

	write_file("Dockerfile.dockerignore", "*.md\n");
	ig = context_ignore_load(dirfd, NULL, &err);
	is_str(ig ? context_ignore_source(ig) : NULL, "Dockerfile.dockerignore",
	       "default Dockerfile: Dockerfile.dockerignore first");
	context_ignore_free(ig);

	write_file(".dockerignore", "ok\n[\n");
	ig = context_ignore_load(dirfd, "nope/Dockerfile", &err);
	ok(!ig && err &&
		   !strcmp(err->msg, ".dockerignore:2: invalid pattern '[': "
				     "syntax error in pattern"),
	   "a bad pattern names the file and line");
	if (err)
		printf("# %s\n", err->msg);
	error_clear(&err);
	ok(err == NULL, "error cleared");
}

static void build_tree(void)
{
	mkdir_in_tmp("w/a");
	write_file("w/a/b", "b");
	write_file("w/a.txt", "a.txt");
	write_file("w/README.md", "readme");
	write_file("w/notes.md", "notes");
	mkdir_in_tmp("w/node_modules/pkg/lib");
	write_file("w/node_modules/pkg/lib/index.js", "js");
	mkdir_in_tmp("w/build/out");
	write_file("w/build/keep.txt", "keep");
	write_file("w/build/out/x.o", "obj");
	mkdir_in_tmp("w/logs/old");
	write_file("w/logs/old/1.log", "log");
	write_file("w/logs/2.keep", "k");
	symlink_rel("/etc", "w/etc-link");
	symlink_rel("../../../..", "w/a/up");
}

static void test_walk(void)
{
	cleanup_free char *root = xstrfmt("%s/w", tmpdir);
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t dirs;

	cleanup_free char *all = walk_list(fd, NULL, &dirs);
	is_str(all,
	       "README.md a a/b a/up a.txt build build/keep.txt build/out "
	       "build/out/x.o etc-link logs logs/2.keep logs/old "
	       "logs/old/1.log node_modules node_modules/pkg "
	       "node_modules/pkg/lib node_modules/pkg/lib/index.js notes.md",
	       "everything, in walk order, symlinks not followed");

	cleanup_free char *l1 = walk_list(fd,
					  "node_modules\n*.md\n!README."
					  "md\nbuild\n!build/keep.txt\nlogs",
					  &dirs);
	is_str(l1, "README.md a a/b a/up a.txt build build/keep.txt etc-link",
	       "excluded dirs, a plain exception inside one");
	/* root, a, build: node_modules, logs and build/out are not read */
	is_int(dirs, 3, "excluded dirs without exceptions are not descended");

	cleanup_free char *l2 =
		walk_list(fd, "node_modules\nlogs\nbuild\n!**/*.keep", &dirs);
	is_str(l2,
	       "README.md a a/b a/up a.txt etc-link logs logs/2.keep notes.md",
	       "a wildcard exception re-includes inside an excluded dir");
	is_int(dirs, 9, "... so every excluded dir is descended");

	cleanup_free char *l3 = walk_list(fd, "*\n!a/b", &dirs);
	is_str(l3, "a a/b",
	       "an excluded parent is kept for its re-included "
	       "child");

	cleanup_free char *l4 = walk_list(fd, "**\n!build/out", &dirs);
	is_str(l4, "build build/out build/out/x.o",
	       "an exception for a directory takes what is inside");

	struct context_walk w = CONTEXT_WALK_INIT;
	struct error *err = NULL;
	ok(context_walk(fd, NULL, &w, &err) == 0, "walk for lookups");
	const struct context_entry *e = context_walk_find(&w, "etc-link");
	ok(e && e->type == CONTEXT_SYMLINK && e->link &&
		   !strcmp(e->link, "/etc") && S_ISLNK(e->mode),
	   "symlink entry with its target");
	e = context_walk_find(&w, "./a/b");
	ok(e && e->type == CONTEXT_FILE && e->size == 1 &&
		   !strcmp(e->path, "a/b"),
	   "find a file by a ./ path");
	e = context_walk_find(&w, "build/out/");
	ok(e && e->type == CONTEXT_DIR, "find a directory");
	ok(!context_walk_find(&w, "nope") && !context_walk_find(&w, "a/bb"),
	   "absent paths are not found");
	context_walk_release(&w);
	close(fd);
}

static struct context_walk walk_and_hash(int fd, const char *cache,
					 struct context_hash_stats *st)
{
	struct context_walk w = CONTEXT_WALK_INIT;
	struct error *err = NULL;
	if (context_walk(fd, NULL, &w, &err) < 0 ||
	    context_hash(fd, &w, cache, st, &err) < 0) {
		printf("# error: %s\n", err->msg);
		error_free(err);
	}
	return w;
}

static void digest_of(const struct context_walk *w, const char *path,
		      char out[CONTEXT_DIGEST_STRLEN])
{
	const char *paths[] = { path };
	struct error *err = NULL;
	if (context_digest_paths(w, paths, 1, out, &err) < 0) {
		snprintf(out, CONTEXT_DIGEST_STRLEN, "error");
		error_free(err);
	}
}

static void test_hash(void)
{
	mkdir_in_tmp("h/src/sub");
	write_file("h/hello.txt", "hello\n");
	write_file("h/src/a.c", "int a;\n");
	write_file("h/src/sub/b.c", "int b;\n");
	symlink_rel("a.c", "h/src/link");
	const char *files[] = { "h/hello.txt", "h/src/a.c", "h/src/sub/b.c" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		set_mtime(files[i], 1485449953);
	/* let the coarse clock move past the files' ctime */
	sleep_ms(50);

	cleanup_free char *root = xstrfmt("%s/h", tmpdir);
	cleanup_free char *cache = xstrfmt("%s/cache", tmpdir);
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct context_hash_stats st;
	char d1[CONTEXT_DIGEST_STRLEN], d2[CONTEXT_DIGEST_STRLEN],
		whole[CONTEXT_DIGEST_STRLEN], tmp[CONTEXT_DIGEST_STRLEN];

	struct context_walk w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 3, "first run hashes every file");
	is_int(st.cached, 0, "... with an empty cache");
	const struct context_entry *e = context_walk_find(&w, "hello.txt");
	char hex[CONTEXT_DIGEST_STRLEN] = "";
	if (e && e->has_digest)
		context_digest_format(e->digest, hex);
	is_str(hex,
	       "sha256:"
	       "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846"
	       "f6be03",
	       "sha256 of hello.txt");
	digest_of(&w, "src", d1);
	digest_of(&w, ".", whole);
	context_walk_release(&w);

	cleanup_free char *tmpname =
		xstrfmt("%s.tmp-%ld", cache, (long)getpid());
	ok(access(cache, F_OK) == 0 && access(tmpname, F_OK) < 0, "cache "
								  "written by "
								  "rename, no "
								  "temporary "
								  "left");

	w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 0, "second run reads no file");
	is_int(st.cached, 3, "... every digest from the stat cache");
	digest_of(&w, "src", d2);
	is_str(d2, d1, "same digest from the cache");
	context_walk_release(&w);

	/* touch: new mtime and ctime, same content */
	sleep_ms(20);
	set_mtime("h/src/a.c", 1600000000);
	sleep_ms(50);
	w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 1, "a touched file is hashed again");
	digest_of(&w, "src", d2);
	is_str(d2, d1, "touching keeps the digest");
	digest_of(&w, ".", tmp);
	is_str(tmp, whole, "... of the whole context too");
	context_walk_release(&w);

	/* same size, same mtime, new content: ctime still changes */
	write_file("h/src/a.c", "int c;\n");
	set_mtime("h/src/a.c", 1600000000);
	sleep_ms(50);
	w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 1, "changed content is hashed again");
	digest_of(&w, "src", d2);
	ok(strcmp(d2, d1) != 0, "changing content changes the digest");
	digest_of(&w, "hello.txt", tmp);
	digest_of(&w, "src/sub", d1);
	context_walk_release(&w);

	/* digest sets */
	w = walk_and_hash(fd, cache, &st);
	const char *overlap[] = { "src", "src/sub/b.c", "./src/a.c" };
	char o[CONTEXT_DIGEST_STRLEN];
	struct error *err = NULL;
	ok(context_digest_paths(&w, overlap, 3, o, &err) == 0 && !strcmp(o, d2),
	   "overlapping paths count once");
	const char *missing[] = { "src", "nope" };
	ok(context_digest_paths(&w, missing, 2, o, &err) < 0 && err &&
		   err->code == KILN_ENOTFOUND,
	   "a missing path is an error");
	error_clear(&err);
	digest_of(&w, "src/sub", o);
	is_str(o, d1, "a subtree digest is stable");
	ok(strcmp(o, d2) != 0, "... and differs from its parent's");
	context_walk_release(&w);

	cleanup_free char *p = xstrfmt("%s/h/src/sub/b.c", tmpdir);
	chmod(p, 0600);
	sleep_ms(50);
	w = walk_and_hash(fd, cache, &st);
	digest_of(&w, "src/sub", o);
	ok(strcmp(o, d1) != 0, "a mode change changes the digest");
	is_int(st.hashed, 1, "... and the chmod'ed file is re-read (ctime)");
	context_walk_release(&w);
	chmod(p, 0644);
	sleep_ms(50);

	/* a timestamp not older than the hashing could still change
	 * unseen within the same tick: such files are never cached */
	set_mtime("h/hello.txt", time(NULL) + 3600);
	w = walk_and_hash(fd, cache, &st);
	context_walk_release(&w);
	w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 1, "a file with a future mtime is not cached");
	context_walk_release(&w);
	set_mtime("h/hello.txt", 1485449953);

	/* a corrupt cache is ignored */
	write_file("cache", "kiln-context-cache 1\nzz garbage");
	w = walk_and_hash(fd, cache, &st);
	is_int(st.hashed, 3, "corrupt cache: everything is hashed");
	context_walk_release(&w);
	w = walk_and_hash(fd, NULL, &st);
	is_int(st.hashed, 3, "no cache path: everything is hashed");
	context_walk_release(&w);

	/* a file replaced by a symlink after the walk is not followed */
	struct context_walk w2 = CONTEXT_WALK_INIT;
	ok(context_walk(fd, NULL, &w2, &err) == 0, "walk before a swap");
	cleanup_free char *victim = xstrfmt("%s/h/src/a.c", tmpdir);
	unlink(victim);
	symlink_rel("/etc/passwd", "h/src/a.c");
	ok(context_hash(fd, &w2, NULL, &st, &err) < 0 && err, "a file swapped "
							      "for a symlink "
							      "is not "
							      "followed");
	if (err)
		printf("# %s\n", err->msg);
	error_clear(&err);
	context_walk_release(&w2);
	close(fd);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	test_patterns();
	test_errors();
	test_lines();
	test_pathological();
	test_load(fd);
	build_tree();
	test_walk();
	test_hash();

	close(fd);
	rm_rf(tmpdir);
	return tap_done();
}
