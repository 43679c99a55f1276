/*
 * libFuzzer target for the Dockerfile parser: parse arbitrary bytes, and
 * when they parse, dump them in both formats.  Any crash, leak, sanitizer
 * report or BUG() is a finding.
 */
#include "dockerfile/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error *err = NULL;
	struct dockerfile *df =
		dockerfile_parse("Dockerfile", (const char *)data, size, &err);
	if (!df) {
		if (!err || !err->msg || strncmp(err->msg, "Dockerfile:", 11))
			BUG("parse failed without a located error");
		error_free(err);
		return 0;
	}
	if (err)
		BUG("parse succeeded but set an error");
	struct strbuf out = STRBUF_INIT;
	dockerfile_dump_buildkit(df, &out);
	if (out.len < df->nnodes * 3)
		BUG("dump shorter than its nodes");
	strbuf_reset(&out);
	dockerfile_dump_json(df, &out);
	strbuf_release(&out);
	dockerfile_free(df);
	return 0;
}
