/*
 * kiln tag SOURCE TARGET: point the tag TARGET at SOURCE's manifest.
 */
#include "cmd/cmd.h"
#include "store/store.h"

int cmd_tag(int argc, char **argv)
{
	const struct opt opts[] = { OPT_END_() };
	argc = parse_options(argc, argv, opts,
			     "kiln tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
			     "Create a tag TARGET_IMAGE that refers to "
			     "SOURCE_IMAGE",
			     false);
	if (argc != 2)
		usage_error("tag", "\"kiln tag\" requires exactly 2 arguments");
	struct error *e = NULL;
	cleanup_free char *dest = store_ref_normalize(argv[1], &e);
	if (!dest)
		return cmd_fail(e);
	if (strchr(dest, '@')) {
		error("refusing to create a tag with a digest reference");
		return 1;
	}
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct store_image *img = store_image_lookup(s, argv[0], &e);
	int ret = 0;
	if (!img) {
		ret = -1;
	} else {
		struct store_desc d = { img->manifest_media_type,
					img->manifest_digest,
					img->manifest_size };
		ret = store_ref_set(s, dest, &d, &e);
	}
	store_image_free(img);
	store_free(s);
	return ret < 0 ? cmd_fail(e) : 0;
}
