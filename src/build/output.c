/*
 * build outputs other than the store: --output type=oci|docker (an image
 * archive), type=tar (the final filesystem as one tar), type=local (the
 * filesystem copied into a directory).
 */
#include "build/build-internal.h"

int build_output(struct build *b, struct build_state *st,
		 const struct build_result *res, struct error **err)
{
	error_set(err, KILN_EINVAL, "--output type not supported yet");
	return -1;
}
