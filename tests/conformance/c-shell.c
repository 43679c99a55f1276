/*
 * Conformance: BuildKit's shell-expansion tables (envVarTest, wordsTest,
 * process-word-with-matches.json) from ../shared/corpus/buildkit-shell,
 * read at run time (never copied into the repository).  One TAP line per
 * case; envVarTest runs twice, as Unix (A and U lines) and as Windows (A
 * and W lines, case-insensitive names).
 */
#include <jansson.h>

#include "../unit/tap.h"
#include "dockerfile/dockerfile.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int read_lines(const char *path, struct strvec *lines)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	char *p = sb.buf;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		strvec_push(lines, p);
		if (!nl)
			break;
		p = nl + 1;
	}
	strbuf_release(&sb);
	return 0;
}

static void env_var_test(const char *dir, bool windows)
{
	struct strvec lines = STRVEC_INIT;
	char *path = xstrfmt("%s/envVarTest", dir);
	if (read_lines(path, &lines) < 0) {
		ok(0, "read %s", path);
		free(path);
		return;
	}
	free(path);
	struct dockerfile_env env = DOCKERFILE_ENV_INIT;
	env.case_insensitive = windows;
	dockerfile_env_push(&env, "PWD", "/home");
	dockerfile_env_push(&env, "SHELL", "bash");
	dockerfile_env_push(&env, "KOREAN", "한국어");
	dockerfile_env_push(&env, "NULL", "");
	const char *os = windows ? "windows" : "unix";

	for (size_t i = 0; i < lines.nr; i++) {
		char *line = xstrdup(lines.v[i]);
		char *t = trim(line);
		if (line[0] == '#' || !*t) {
			free(line);
			continue;
		}
		char *f[3];
		int nf = 0;
		char *p = line;
		f[nf++] = p;
		while ((p = strchr(p, '|')) && nf < 4) {
			*p++ = '\0';
			if (nf < 3)
				f[nf] = p;
			nf++;
		}
		if (nf != 3) {
			ok(0, "envVarTest:%zu: malformed line", i + 1);
			free(line);
			continue;
		}
		const char *plat = trim(f[0]), *src = trim(f[1]);
		const char *want = trim(f[2]);
		if (!strcmp(plat, windows ? "U" : "W")) {
			free(line);
			continue;
		}
		char *got = NULL;
		struct error *err = NULL;
		int r = dockerfile_expand_word(src, &env, NULL, &got, NULL,
					       NULL, &err);
		if (!strcmp(want, "error")) {
			if (!ok(r < 0, "envVarTest:%zu (%s): %s -> error",
				i + 1, os, src))
				printf("#   got: '%s'\n", got);
		} else {
			if (r < 0) {
				ok(0, "envVarTest:%zu (%s): %s -> %s", i + 1,
				   os, src, want);
				printf("#   error: %s\n", err->msg);
			} else {
				is_str(got, want,
				       "envVarTest:%zu (%s): %s -> %s", i + 1,
				       os, src, want);
			}
		}
		free(got);
		error_free(err);
		free(line);
	}
	dockerfile_env_release(&env);
	strvec_clear(&lines);
}

static void words_test(const char *dir)
{
	struct strvec lines = STRVEC_INIT;
	char *path = xstrfmt("%s/wordsTest", dir);
	if (read_lines(path, &lines) < 0) {
		ok(0, "read %s", path);
		free(path);
		return;
	}
	free(path);
	struct dockerfile_env env = DOCKERFILE_ENV_INIT;
	for (size_t i = 0; i < lines.nr; i++) {
		const char *l = lines.v[i];
		if (l[0] == '#' || !*l)
			continue;
		if (starts_with(l, "ENV ")) {
			const char *e = l + 3;
			while (*e == ' ')
				e++;
			dockerfile_env_push_entry(&env, e);
			continue;
		}
		char *line = xstrdup(l);
		char *bar = strchr(line, '|');
		if (!bar || strchr(bar + 1, '|')) {
			ok(0, "wordsTest:%zu: malformed line", i + 1);
			free(line);
			continue;
		}
		*bar = '\0';
		const char *src = trim(line);
		char *want = bar + 1;
		while (*want == ' ')
			want++;
		struct strvec exp = STRVEC_INIT, got = STRVEC_INIT;
		for (char *p = want;;) {
			char *c = strchr(p, ',');
			if (c)
				*c = '\0';
			strvec_push(&exp, p);
			if (!c)
				break;
			p = c + 1;
		}
		struct error *err = NULL;
		int r = dockerfile_expand_words(src, &env, NULL, &got, NULL,
						NULL, &err);
		struct strbuf g = STRBUF_INIT, w = STRBUF_INIT;
		for (size_t k = 0; k < got.nr; k++)
			strbuf_addf(&g, "%s[%s]", k ? "," : "", got.v[k]);
		for (size_t k = 0; k < exp.nr; k++)
			strbuf_addf(&w, "%s[%s]", k ? "," : "", exp.v[k]);
		if (exp.nr == 1 && !strcmp(exp.v[0], "error")) {
			if (!ok(r < 0, "wordsTest:%zu: %s -> error", i + 1,
				src))
				printf("#   got: %s\n", g.buf);
		} else if (r < 0) {
			ok(0, "wordsTest:%zu: %s -> %s", i + 1, src, w.buf);
			printf("#   error: %s\n", err->msg);
		} else {
			if (!ok(!strcmp(g.buf, w.buf),
				"wordsTest:%zu: %s -> %s", i + 1, src, w.buf))
				printf("#   got: %s\n", g.buf);
		}
		strbuf_release(&g);
		strbuf_release(&w);
		strvec_clear(&exp);
		strvec_clear(&got);
		error_free(err);
		free(line);
	}
	dockerfile_env_release(&env);
	strvec_clear(&lines);
}

/* Compare a strvec with a JSON array of names, as sets. */
static bool same_set(const struct strvec *sv, json_t *arr, struct strbuf *msg)
{
	bool same = json_array_size(arr) == sv->nr;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		bool found = false;
		for (size_t k = 0; k < sv->nr; k++)
			if (!strcmp(sv->v[k], json_string_value(v)))
				found = true;
		if (!found)
			same = false;
	}
	if (!same) {
		strbuf_addstr(msg, "got {");
		for (size_t k = 0; k < sv->nr; k++)
			strbuf_addf(msg, "%s%s", k ? " " : "", sv->v[k]);
		strbuf_addstr(msg, "}");
	}
	return same;
}

static void matches_test(const char *dir)
{
	char *path = xstrfmt("%s/process-word-with-matches.json", dir);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) {
		ok(0, "parse %s: %s", path, jerr.text);
		free(path);
		return;
	}
	free(path);
	json_t *cases = json_object_get(root, "cases");
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *in = json_string_value(json_object_get(c, "input"));
		const char *want = json_string_value(json_object_get(c, "expect"
									"ed"));
		if (!in || !want) {
			ok(0, "matches[%zu]: malformed case", i);
			continue;
		}
		bool want_err = json_is_true(json_object_get(c, "expected_"
								"error"));
		json_t *envs = json_object_get(c, "envs");
		json_t *jm = json_object_get(c, "matches");
		json_t *ju = json_object_get(c, "unmatched");
		struct dockerfile_env env = DOCKERFILE_ENV_INIT;
		const char *k;
		json_t *v;
		json_object_foreach(envs, k, v)
		{
			dockerfile_env_push(&env, k, json_string_value(v));
		}
		struct strvec m = STRVEC_INIT, u = STRVEC_INIT;
		struct error *err = NULL;
		char *got = NULL;
		int r = dockerfile_expand_word(in, &env, NULL, &got, &m, &u,
					       &err);
		if (want_err) {
			if (!ok(r < 0, "matches[%zu]: %s -> error", i, in))
				printf("#   got: '%s'\n", got);
			else
				printf("#   message: %s\n", err->msg);
		} else if (r < 0) {
			ok(0, "matches[%zu]: %s -> %s", i, in, want);
			printf("#   error: %s\n", err->msg);
		} else {
			struct strbuf msg = STRBUF_INIT;
			bool good = !strcmp(got, want);
			if (!good)
				strbuf_addf(&msg, "got '%s' ", got);
			if (json_is_array(jm) && !same_set(&m, jm, &msg))
				good = false;
			if (json_is_array(ju) && !same_set(&u, ju, &msg))
				good = false;
			if (!ok(good, "matches[%zu]: %s -> %s", i, in, want))
				printf("#   %s\n", msg.buf);
			strbuf_release(&msg);
		}
		free(got);
		error_free(err);
		strvec_clear(&m);
		strvec_clear(&u);
		dockerfile_env_release(&env);
	}
	json_decref(root);
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : "../shared/corpus";
	char *dir = xstrfmt("%s/buildkit-shell", corpus);
	if (access(dir, R_OK) < 0) {
		printf("1..0 # SKIP corpus not found\n");
		free(dir);
		return 0;
	}
	env_var_test(dir, false);
	env_var_test(dir, true);
	words_test(dir);
	matches_test(dir);
	free(dir);
	return tap_done();
}
