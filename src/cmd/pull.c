/*
 * kiln pull [--platform P] [-q] NAME[:TAG|@DIGEST]: resolve the name
 * through registries.conf (search registries, mirrors), fetch the blobs the
 * store lacks in parallel, streaming each into the store, tag the image.
 * The work is registry_pull_image()'s; this prints its progress.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"
#include "store/store.h"

static void print_status(void *data, const char *line)
{
	printf("%s\n", line);
	fflush(stdout);
}

int cmd_pull(int argc, char **argv)
{
	const char *platform = NULL;
	struct cmd_registry_flags rf = { 0 };
	bool quiet = false;
	const struct opt opts[] = {
		OPT_STRING_(0, "platform", &platform, "OS/ARCH[/VARIANT]",
			    "Pull the image for this platform"),
		OPT_BOOL_('q', "quiet", &quiet, "Print only the image name"),
		OPT_REGISTRY_FLAGS_(&rf),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln pull [OPTIONS] NAME[:TAG|@DIGEST]",
			     "Download an image from a registry.", false);
	if (argc != 1)
		usage_error("pull", "\"kiln pull\" requires exactly 1 "
				    "argument");
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	cmd_registry_options(&rf, &o);
	struct error *e = NULL;
	struct registry_client *c = registry_client_new(&o, &e);
	if (!c)
		return cmd_fail(e);
	struct store *s = store_open(NULL, &e);
	if (!s) {
		registry_client_free(c);
		return cmd_fail(e);
	}
	struct registry_pull_result res;
	int ret = registry_pull_image(c, s, argv[0], platform,
				      quiet ? NULL : print_status, NULL, &res,
				      &e);
	if (ret < 0) {
		error_print(e);
		error_free(e);
	} else {
		if (!quiet) {
			char *fam = store_ref_familiar(res.name);
			printf("Digest: %s\n", res.digest);
			printf("Status: %s %s\n",
			       res.up_to_date ? "Image is up to date for"
					      : "Downloaded newer image for",
			       fam);
			free(fam);
		}
		printf("%s\n", res.name);
		registry_pull_result_release(&res);
	}
	store_free(s);
	registry_client_free(c);
	return ret < 0 ? 1 : 0;
}
