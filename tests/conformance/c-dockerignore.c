/*
 * Conformance: .dockerignore matching against moby/patternmatcher's own
 * test tables (../shared/corpus/dockerignore, transcribed to TSV) and
 * ignorefile.ReadAll's test file.  argv[1] is the corpus directory.
 *
 * One TAP line per match case.  Modern cases are checked twice: with the
 * public context_ignore_match() (parents walked one by one, as the
 * walker does) and with a single no-context step on the raw path
 * (upstream's MatchesOrParentMatches); both must agree with the table.
 */
#include "../unit/tap.h"
#include "context/context-internal.h"

static char *dir_file(const char *dir, const char *name)
{
	return xstrfmt("%s/dockerignore/%s", dir, name);
}

static int read_file(const char *path, struct strbuf *sb)
{
	return strbuf_read_file(sb, path);
}

/* Split s at '\t' in place (fields point into s). */
static size_t split_tabs(char *s, char **fields, size_t max)
{
	size_t n = 0;
	fields[n++] = s;
	for (char *p = s; *p && n < max; p++) {
		if (*p == '\t') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	}
	return n;
}

static void match_case(int lineno, char **f, size_t nf)
{
	const char *api = f[1], *path = f[2];
	bool want = !strcmp(f[3], "true");
	const char *want_err = f[4];
	const char *const *pats = (const char *const *)(f + 6);
	size_t npats = nf - 6;
	struct error *err = NULL;
	bool legacy = !strcmp(api, "Matches(legacy)");
	struct strbuf desc = STRBUF_INIT;

	strbuf_addf(&desc, "tsv:%d %s path='%s' patterns=", lineno,
		    legacy ? "legacy" : "modern", path);
	for (size_t i = 0; i < npats; i++)
		strbuf_addf(&desc, "%s'%s'", i ? "," : "", pats[i]);

	struct context_ignore *ig =
		context_ignore_new(pats, npats, NULL, NULL, &err);
	if (strcmp(want_err, "-")) {
		bool good = !ig && err;
		if (good && !strcmp(want_err, "ErrBadPattern"))
			good = strstr(err->msg, "syntax error in pattern") !=
			       NULL;
		if (!ok(good, "%s -> %s", desc.buf, want_err) && err)
			printf("#   error: %s\n", err->msg);
		goto out;
	}
	if (!ig) {
		ok(0, "%s: %s", desc.buf, err->msg);
		goto out;
	}
	if (legacy) {
		bool got = context_ignore_match_legacy(ig, path);
		ok(got == want, "%s -> %s", desc.buf,
		   want ? "match" : "no match");
	} else {
		bool got = context_ignore_match(ig, path, NULL);
		unsigned char *v = xcalloc(1, context_ignore_count(ig) + 1);
		bool flat = context_ignore_step(ig, path, strlen(path), NULL, v,
						NULL);
		free(v);
		ok(got == want && flat == want, "%s -> %s", desc.buf,
		   want ? "match" : "no match");
		if (got != want || flat != want)
			printf("#   walked: %d, no-context: %d\n", got, flat);
	}
	context_ignore_free(ig);
out:
	error_free(err);
	strbuf_release(&desc);
}

static void readall_case(const char *dir)
{
	cleanup_free char *in = dir_file(dir, "ignorefile-readall/"
					      "input.dockerignore");
	cleanup_free char *exp = dir_file(dir, "ignorefile-readall/"
					       "expected-patterns.txt");
	cleanup_strbuf struct strbuf ib = STRBUF_INIT;
	cleanup_strbuf struct strbuf eb = STRBUF_INIT;
	cleanup_strvec struct strvec pats = STRVEC_INIT;
	cleanup_strvec struct strvec want = STRVEC_INIT;
	cleanup_free int *lines = NULL;
	struct error *err = NULL;

	if (read_file(in, &ib) < 0 || read_file(exp, &eb) < 0) {
		ok(0, "readall: cannot read %s", in);
		return;
	}
	for (char *s = eb.buf; *s;) {
		char *nl = strchrnul(s, '\n');
		strvec_push_nodup(&want, xstrndup(s, (size_t)(nl - s)));
		s = *nl ? nl + 1 : nl;
	}
	int r = context_ignore_read(ib.buf, ib.len, "input.dockerignore", &pats,
				    &lines, &err);
	bool same = r == 0 && pats.nr == want.nr;
	for (size_t i = 0; same && i < pats.nr; i++)
		same = !strcmp(pats.v[i], want.v[i]);
	ok(same, "readall: input.dockerignore gives expected-patterns.txt");
	if (!same)
		for (size_t i = 0; i < pats.nr; i++)
			printf("#   got '%s'\n", pats.v[i]);

	/* and a lone "!" among them fails to compile, naming its line */
	struct context_ignore *ig = context_ignore_new(
		pats.v, pats.nr, lines, "input.dockerignore", &err);
	ok(!ig && err &&
		   !strcmp(err->msg, "input.dockerignore:8: illegal "
				     "exclusion pattern: \"!\""),
	   "readall: the lone '!' is rejected with its line");
	if (ig || !err || strstr(err->msg, ":8:") == NULL)
		printf("#   error: %s\n", err->msg);
	context_ignore_free(ig);
	error_free(err);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/corpus";
	cleanup_free char *tsv = dir_file(dir, "patternmatcher-match-cases."
					       "tsv");
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;

	if (read_file(tsv, &sb) < 0) {
		printf("1..0 # SKIP corpus not found\n");
		return 0;
	}
	int lineno = 0, cases = 0;
	for (char *s = sb.buf, *nl; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl)
			nl = s + strlen(s);
		char save = *nl;
		*nl = '\0';
		lineno++;
		char *f[64];
		size_t nf = split_tabs(s, f, ARRAY_SIZE(f));
		if (lineno > 1 && nf >= 6) {
			match_case(lineno, f, nf);
			cases++;
		}
		if (!save)
			break;
	}
	ok(cases == 137, "all 137 match cases were read (got %d)", cases);
	readall_case(dir);
	return tap_done();
}
