/*
 * kiln rm [-f] CONTAINER...: remove containers (by name, ID or unique ID
 * prefix) with their writable layer; -f kills a running one first.  Prints
 * each argument as docker does.
 */
#include "cmd/cmd.h"
#include "container/container.h"
#include "store/store.h"

int cmd_rm(int argc, char **argv)
{
	bool force = false, volumes = false;
	const struct opt opts[] = {
		OPT_BOOL_('f', "force", &force,
			  "Force the removal of a running container (uses "
			  "SIGKILL)"),
		OPT_BOOL_('v', "volumes", &volumes,
			  "Remove anonymous volumes (kiln has none)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln rm [OPTIONS] CONTAINER [CONTAINER...]",
			     "Remove one or more containers", false);
	if (argc < 1)
		usage_error("rm", "\"kiln rm\" requires at least 1 argument.");
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	int ret = 0;
	for (int i = 0; i < argc; i++) {
		struct error *e = NULL;
		struct container *c = container_lookup(s, argv[i], &e);
		if (c && container_remove(c, force, &e) == 0) {
			printf("%s\n", argv[i]);
		} else {
			fflush(stdout);
			error_print(e);
			error_free(e);
			ret = 1;
		}
		container_free(c);
	}
	store_free(s);
	return ret;
}
