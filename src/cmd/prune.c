/*
 * kiln prune [-a]: remove dangling (untagged) images and everything no
 * image refers to (blobs, extracted layers, staging leftovers).  With -a,
 * also every extracted layer directory and the build cache: they are
 * re-created from blobs when needed.  Tagged images are never removed
 * (kiln has no containers that could keep them "in use").
 */
#include "cmd/cmd.h"
#include "store/store.h"

int cmd_prune(int argc, char **argv)
{
	bool all = false, force = false;
	const struct opt opts[] = {
		OPT_BOOL_('a', "all", &all,
			  "Also remove all extracted layers and build cache"),
		OPT_BOOL_('f', "force", &force,
			  "Do not prompt for confirmation (kiln never does)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln prune [OPTIONS]",
			     "Remove unused images and data", false);
	if (argc)
		usage_error("prune", "\"kiln prune\" accepts no arguments");
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct store_prune_opts po = { all, false };
	struct store_prune_result res;
	struct error *e = NULL;
	if (store_prune(s, &po, &res, &e) < 0) {
		store_free(s);
		return cmd_fail(e);
	}
	if (res.untagged.nr || res.deleted.nr) {
		printf("Deleted Images:\n");
		for (size_t i = 0; i < res.untagged.nr; i++)
			printf("untagged: %s\n", res.untagged.v[i]);
		for (size_t i = 0; i < res.deleted.nr; i++)
			printf("deleted: %s\n", res.deleted.v[i]);
		printf("\n");
	}
	cleanup_free char *size = cmd_human_size((double)res.reclaimed, 4);
	printf("Total reclaimed space: %s\n", size);
	store_prune_result_release(&res);
	store_free(s);
	return 0;
}
