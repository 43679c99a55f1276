/*
 * kiln push [--format oci|docker] SOURCE [DESTINATION]: upload an image
 * from the store.  Blobs the repository has are skipped, the others are
 * uploaded in parallel, then the manifest is put under the tag.  Without
 * --format (or when it matches) the stored manifest goes out byte for byte,
 * so the pushed digest is the local one; otherwise the manifest's media
 * types are converted.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"
#include "store/store.h"

static void print_status(void *data, const char *line)
{
	printf("%s\n", line);
}

int cmd_push(int argc, char **argv)
{
	const char *format = NULL, *digestfile = NULL;
	struct cmd_registry_flags rf = { 0 };
	bool quiet = false;
	const struct opt opts[] = {
		OPT_STRING_('f', "format", &format, "oci|docker",
			    "Manifest format to push (default: as stored)"),
		OPT_BOOL_('q', "quiet", &quiet, "Print nothing but errors"),
		OPT_STRING_(0, "digestfile", &digestfile, "FILE",
			    "Write the pushed manifest's digest to FILE"),
		OPT_REGISTRY_FLAGS_(&rf),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln push [OPTIONS] IMAGE [DESTINATION]",
			     "Upload an image to a registry.", false);
	if (argc < 1 || argc > 2)
		usage_error("push", "\"kiln push\" requires 1 or 2 arguments");
	if (format && strcmp(format, "oci") && strcmp(format, "docker"))
		usage_error("push", "--format must be oci or docker, not '%s'",
			    format);
	struct error *e = NULL;
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct store_image *img = store_image_lookup(s, argv[0], &e);
	if (!img) {
		store_free(s);
		return cmd_fail(e);
	}
	char *dest = NULL;
	if (argc == 2)
		dest = xstrdup(argv[1]);
	else if (!(dest = store_ref_normalize(argv[0], &e)) ||
		 starts_with(argv[0], "sha256:")) {
		free(dest);
		store_image_free(img);
		store_free(s);
		error_free(e);
		usage_error("push", "'%s' is not a name: give a DESTINATION",
			    argv[0]);
	}
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	cmd_registry_options(&rf, &o);
	struct registry_ref ref = { 0 };
	struct registry_client *c = NULL;
	char *pushed = NULL;
	size_t pushed_len = 0;
	int ret = 0;
	if (registry_ref_parse(&ref, dest, &e) < 0 ||
	    !(c = registry_client_new(&o, &e))) {
		ret = 1;
	} else {
		if (!quiet) {
			char *full = registry_ref_string(&ref);
			printf("Pushing %s\n", full);
			free(full);
			fflush(stdout);
		}
		if (registry_push_image(c, s, img, &ref, format,
					quiet ? NULL : print_status, NULL,
					&pushed, &pushed_len, &e) < 0)
			ret = 1;
	}
	if (ret) {
		error_print(e);
		error_free(e);
	} else {
		if (!quiet)
			printf("%s: digest: %s size: %zu\n",
			       ref.tag ? ref.tag : "latest", pushed,
			       pushed_len);
		if (digestfile) {
			FILE *f = fopen(digestfile, "we");
			if (!f || fprintf(f, "%s", pushed) < 0 || fclose(f)) {
				error("write '%s': %s", digestfile,
				      strerror(errno));
				ret = 1;
			}
		}
	}
	free(pushed);
	registry_ref_release(&ref);
	registry_client_free(c);
	free(dest);
	store_image_free(img);
	store_free(s);
	return ret;
}
