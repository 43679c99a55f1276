/*
 * kiln fsck [--repair]: verify every blob, every image's references,
 * index.json and the layer directories; one line per problem, exit 1 when
 * anything is wrong.  --repair removes what is broken and checks again.
 */
#include "cmd/cmd.h"
#include "store/store.h"

int cmd_fsck(int argc, char **argv)
{
	bool repair = false, quiet = false;
	const struct opt opts[] = {
		OPT_BOOL_(0, "repair", &repair,
			  "Remove corrupt blobs, broken layer directories and "
			  "tags whose data is missing"),
		OPT_BOOL_('q', "quiet", &quiet, "Print nothing when clean"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln fsck [OPTIONS]",
			     "Verify the image store", false);
	if (argc)
		usage_error("fsck", "\"kiln fsck\" accepts no arguments");
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct strvec problems = STRVEC_INIT, repairs = STRVEC_INIT;
	struct error *e = NULL;
	if (store_fsck(s, repair, &problems, &repairs, &e) < 0) {
		store_free(s);
		return cmd_fail(e);
	}
	for (size_t i = 0; i < problems.nr; i++)
		printf("%s\n", problems.v[i]);
	for (size_t i = 0; i < repairs.nr; i++)
		printf("repaired: %s\n", repairs.v[i]);
	int ret = problems.nr ? 1 : 0;
	if (repair && problems.nr) {
		strvec_clear(&problems);
		if (store_fsck(s, false, &problems, NULL, &e) < 0) {
			store_free(s);
			strvec_clear(&repairs);
			return cmd_fail(e);
		}
		for (size_t i = 0; i < problems.nr; i++)
			printf("still wrong: %s\n", problems.v[i]);
		ret = problems.nr ? 1 : 0;
	}
	if (!ret && !quiet && !repairs.nr)
		printf("store '%s' is consistent\n", s->root);
	strvec_clear(&problems);
	strvec_clear(&repairs);
	store_free(s);
	return ret;
}
