/*
 * kiln logout: remove a registry's credentials (or all of them) from the
 * auth file kiln login writes.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"

int cmd_logout(int argc, char **argv)
{
	const char *authfile = NULL;
	bool all = false;
	const struct opt opts[] = {
		OPT_BOOL_('a', "all", &all,
			  "Remove the credentials of every "
			  "registry"),
		OPT_STRING_(0, "authfile", &authfile, "FILE",
			    "Path of the authentication file"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln logout [OPTIONS] [SERVER]",
			     "Log out from a registry.", false);
	if (argc > 1 || (all && argc))
		usage_error("logout", all ? "--all takes no SERVER"
					  : "\"kiln logout\" requires at "
					    "most 1 argument");
	cleanup_free char *path = registry_auth_file_path(authfile);
	struct error *e = NULL;
	if (all) {
		if (registry_auth_remove_all(path, &e) < 0) {
			error_print(e);
			error_free(e);
			return 125;
		}
		printf("Removed login credentials for all registries\n");
		return 0;
	}
	cleanup_free char *key =
		registry_auth_key(argc ? argv[0] : "docker.io");
	if (registry_auth_store(path, key, NULL, NULL, &e) < 0) {
		int code = e->code;
		struct error *e2 = NULL;
		char *who = NULL;
		if (code == KILN_ENOTFOUND &&
		    registry_auth_lookup_user(NULL, key, &who, &e2) > 0)
			error("not logged into %s with %s; the credentials "
			      "in use come from another file (docker login?)",
			      key, path);
		else
			error("%s", e->msg);
		free(who);
		error_free(e2);
		error_free(e);
		return 125;
	}
	printf("Removed login credentials for %s\n", key);
	return 0;
}
