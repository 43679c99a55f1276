/*
 * libFuzzer target for the .dockerignore reader, pattern compiler and
 * matcher.  Input: ignore-file text, a NUL byte, then a path.
 *
 * Besides not crashing, it checks that context_ignore_match() (one NFA
 * pass per pattern over the whole path) agrees with the plain step-by-step
 * evaluation of every parent, and that path cleaning is idempotent.
 */
#include "context/context-internal.h"

static bool reference_match(const struct context_ignore *ig, const char *path)
{
	char *clean = context_clean_path(path, strlen(path));
	size_t nr = context_ignore_count(ig), n = strlen(clean);
	unsigned char *a = xcalloc(2, nr + 1);
	unsigned char *prev = NULL, *cur = a;
	bool r = false;

	if (strcmp(clean, ".")) {
		for (size_t k = 1; k < n; k++) {
			if (clean[k] != '/')
				continue;
			context_ignore_step(ig, clean, k, prev, cur, NULL);
			prev = cur;
			cur = cur == a ? a + nr + 1 : a;
		}
		r = context_ignore_step(ig, clean, n, prev, cur, NULL);
	}
	free(a);
	free(clean);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	char *path = nul ? xstrndup((const char *)nul + 1, size - tlen - 1)
			 : xstrdup("a/b/c");

	struct error *err = NULL;
	struct context_ignore *ig =
		context_ignore_parse((const char *)data, tlen, "fuzz", &err);
	if (ig) {
		int line;
		bool m = context_ignore_match(ig, path, &line);
		char *c = context_clean_path(path, strlen(path));
		if (c[0] != '/' && m != reference_match(ig, path))
			__builtin_trap();
		char *cc = context_clean_path(c, strlen(c));
		if (strcmp(c, cc))
			__builtin_trap();
		free(cc);
		free(c);
		context_ignore_match_legacy(ig, path);
		context_ignore_free(ig);
	} else if (!err || !err->msg) {
		__builtin_trap();
	}
	error_free(err);
	free(path);
	return 0;
}
