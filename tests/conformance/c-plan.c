/*
 * Conformance: plan every real-world Dockerfile of
 * ../shared/corpus/real-dockerfiles (read at run time, never copied) for
 * its default target and for every named stage as the target.  Each must
 * plan without error (they all build with BuildKit); one TAP line per
 * file.  Files the parser rejects are reported as failures too.
 */
#include <dirent.h>

#include "../unit/tap.h"
#include "dockerfile/dockerfile.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void plan_file(const char *dir, const char *name)
{
	char *path = xstrfmt("%s/%s", dir, name);
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		ok(0, "%s: read", name);
		free(path);
		return;
	}
	struct error *err = NULL;
	struct dockerfile *df = dockerfile_parse(name, sb.buf, sb.len, &err);
	if (!df) {
		ok(0, "%s: parse", name);
		printf("#   %s\n", err->msg);
		error_free(err);
		strbuf_release(&sb);
		free(path);
		return;
	}
	/* the default target, then each named stage */
	struct strvec targets = STRVEC_INIT;
	strvec_push(&targets, "");
	for (size_t i = 0; i < df->nnodes; i++) {
		const struct dockerfile_node *n = &df->nodes[i];
		if (!strcmp(n->keyword, "from") && n->nargs == 3)
			strvec_push(&targets, n->args[2]);
	}
	/*
	 * Global ARGs without a default are the project's required build
	 * args (FROM ${BASE_IMAGE}); give them a placeholder as its build
	 * scripts would.
	 */
	struct strvec bargs = STRVEC_INIT;
	for (size_t i = 0; i < df->nnodes; i++) {
		const struct dockerfile_node *n = &df->nodes[i];
		if (!strcmp(n->keyword, "from"))
			break;
		for (size_t k = 0; k < n->nargs; k++)
			if (!strchr(n->args[k], '='))
				strvec_pushf(&bargs, "%s=placeholder",
					     n->args[k]);
	}
	bool good = true;
	struct strbuf msg = STRBUF_INIT;
	size_t kept = 0;
	for (size_t t = 0; t < targets.nr; t++) {
		struct dockerfile_plan_opts o = { .target = targets.v[t],
						  .build_args = bargs.v,
						  .nbuild_args = bargs.nr };
		struct dockerfile_plan *plan =
			dockerfile_plan_new(df, &o, &err);
		if (!plan) {
			good = false;
			strbuf_addf(&msg, "#   target '%s': %s\n", targets.v[t],
				    err->msg);
			error_clear(&err);
			continue;
		}
		if (!t)
			kept = plan->nstages;
		dockerfile_plan_free(plan);
	}
	ok(good, "%s: %zu target(s), %zu stage(s) for the default", name,
	   targets.nr, kept);
	if (!good)
		printf("%s", msg.buf);
	strbuf_release(&msg);
	strvec_clear(&targets);
	strvec_clear(&bargs);
	dockerfile_free(df);
	strbuf_release(&sb);
	free(path);
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : "../shared/corpus";
	char *dir = xstrfmt("%s/real-dockerfiles", corpus);
	DIR *d = opendir(dir);
	if (!d) {
		printf("1..0 # SKIP corpus not found\n");
		free(dir);
		return 0;
	}
	struct strvec names = STRVEC_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".Dockerfile"))
			strvec_push(&names, de->d_name);
	closedir(d);
	qsort(names.v, names.nr, sizeof(*names.v), cmp);
	for (size_t i = 0; i < names.nr; i++)
		plan_file(dir, names.v[i]);
	strvec_clear(&names);
	free(dir);
	return tap_done();
}
