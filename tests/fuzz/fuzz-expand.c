/*
 * libFuzzer target for shell-word expansion.  Input: one option byte
 * (escape char, RawQuotes, RawEscapes, SkipUnsetEnv, SkipProcessQuotes,
 * case-insensitive names), then the word, then optionally a NUL and
 * newline-separated NAME=VALUE environment entries.  Both ProcessWord and
 * ProcessWords run; they must agree on success or failure.
 */
#include "dockerfile/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size || size > 64 * 1024)
		return 0;
	uint8_t o = data[0];
	struct dockerfile_shell_opts opts = {
		.escape = (o & 1) ? '`' : '\\',
		.raw_quotes = o & 2,
		.raw_escapes = o & 4,
		.skip_unset_env = o & 8,
		.skip_process_quotes = o & 16,
	};
	char *buf = xstrndup((const char *)data + 1, size - 1);
	size_t wlen = strlen(buf);
	struct dockerfile_env env = DOCKERFILE_ENV_INIT;
	env.case_insensitive = o & 32;
	dockerfile_env_push(&env, "PWD", "/home");
	dockerfile_env_push(&env, "EMPTY", "");
	dockerfile_env_push(&env, "SP", " a  b ");
	if (wlen + 1 < size - 1) {
		const char *p = (const char *)data + 1 + wlen + 1;
		char *rest = xstrndup(p, size - 1 - wlen - 1);
		for (char *line = rest; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			dockerfile_env_push_entry(&env, line);
			line = nl ? nl + 1 : NULL;
		}
		free(rest);
	}

	char *out = NULL;
	struct strvec m = STRVEC_INIT, u = STRVEC_INIT, words = STRVEC_INIT;
	struct error *e1 = NULL, *e2 = NULL;
	int r1 = dockerfile_expand_word(buf, &env, &opts, &out, &m, &u, &e1);
	int r2 = dockerfile_expand_words(buf, &env, &opts, &words, NULL, NULL,
					 &e2);
	if (r1 != r2)
		BUG("expand_word and expand_words disagree on '%s'", buf);
	if (r1 < 0 && (!e1 || !e1->msg || !e2))
		BUG("failure without an error");
	if (r1 == 0 && !out)
		BUG("success without output");
	free(out);
	error_free(e1);
	error_free(e2);
	strvec_clear(&m);
	strvec_clear(&u);
	strvec_clear(&words);
	dockerfile_env_release(&env);
	free(buf);
	return 0;
}
