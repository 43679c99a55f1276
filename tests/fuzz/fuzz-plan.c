/*
 * libFuzzer target for the build plan: parse the input as a Dockerfile,
 * then plan it for the default target and for the first named stage,
 * with a couple of build args.  Any failure must come with an error.
 */
#include "dockerfile/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_env(void *data, const char *image, const char *platform,
		    struct dockerfile_env *env, struct error **err)
{
	if (!strcmp(image, "fail"))
		return error_set(err, KILN_ENOTFOUND, "no such image"), -1;
	dockerfile_env_push(env, "IMG", image);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	struct error *err = NULL;
	struct dockerfile *df =
		dockerfile_parse("Dockerfile", (const char *)data, size, &err);
	if (!df) {
		if (!err)
			BUG("parse failed without an error");
		error_free(err);
		return 0;
	}
	static const char *bargs[] = { "A=1", "BASE=alpine", "HTTP_PROXY=x" };
	const char *target = NULL;
	for (size_t i = 0; i < df->nnodes; i++)
		if (!strcmp(df->nodes[i].keyword, "from") &&
		    df->nodes[i].nargs == 3) {
			target = df->nodes[i].args[2];
			break;
		}
	for (int round = 0; round < 2; round++) {
		struct dockerfile_plan_opts o = {
			.build_args = bargs,
			.nbuild_args = ARRAY_SIZE(bargs),
			.target = round ? target : NULL,
			.platform = round ? "linux/arm/v7" : NULL,
			.base_env = fake_env,
		};
		struct dockerfile_plan *p = dockerfile_plan_new(df, &o, &err);
		if (!p && !err)
			BUG("plan failed without an error");
		if (p && p->target >= p->nstages)
			BUG("target out of range");
		for (size_t s = 0; p && s < p->nstages; s++)
			for (size_t d = 0; d < p->stages[s].ndeps; d++)
				if (p->stages[s].deps[d] >= s)
					BUG("a stage depends on a later one");
		dockerfile_plan_free(p);
		error_clear(&err);
	}
	dockerfile_free(df);
	return 0;
}
