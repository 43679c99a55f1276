/*
 * kiln's entry point: global flags, then dispatch to a cmd_<name>().
 * Nothing else lives here.
 */
#include "cmd/cmd.h"

const struct cmd_entry kiln_commands[] = {
	{ "build", cmd_build, "Build an image from a Dockerfile" },
	{ "run", cmd_run, "Create and run a new container from an image" },
	{ "ps", cmd_ps, "List containers" },
	{ "rm", cmd_rm, "Remove one or more containers" },
	{ "images", cmd_images, "List images" },
	{ "pull", cmd_pull, "Download an image from a registry" },
	{ "push", cmd_push, "Upload an image to a registry" },
	{ "login", cmd_login, "Log in to a registry" },
	{ "logout", cmd_logout, "Log out from a registry" },
	{ "tag", cmd_tag,
	  "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE" },
	{ "rmi", cmd_rmi, "Remove one or more images" },
	{ "inspect", cmd_inspect, "Display detailed information on images" },
	{ "history", cmd_history, "Show the history of an image" },
	{ "save", cmd_save, "Save images to a tar archive" },
	{ "load", cmd_load, "Load images from a tar archive" },
	{ "import", cmd_import, "Import a tarball to create an image" },
	{ "prune", cmd_prune, "Remove unused images and data" },
	{ "fsck", cmd_fsck, "Verify the image store" },
	{ "parse", cmd_parse, "Parse a Dockerfile and print its syntax tree" },
	{ "version", cmd_version, "Show the kiln version" },
	{ "help", cmd_help, "Show help for kiln or one of its commands" },
	{ NULL, NULL, NULL },
};

static const struct cmd_entry *find_command(const char *name)
{
	for (const struct cmd_entry *c = kiln_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static NORETURN void unknown_command(const char *name)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (const struct cmd_entry *c = kiln_commands; c->name; c++) {
		size_t d = levenshtein(name, c->name);
		if (d < best_d) {
			best_d = d;
			best = c->name;
		}
	}
	fprintf(stderr, "error: unknown command: \"%s\"\n", name);
	if (best && best_d <= 2)
		fprintf(stderr, "Did you mean \"%s\"?\n", best);
	fprintf(stderr, "See 'kiln help'.\n");
	exit(125);
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("kiln version %s\n", KILN_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return cmd_help(1, argv);
		if (!strcmp(argv[i], "--root")) {
			if (i + 1 >= argc)
				die("flag needs an argument: --root");
			setenv("KILN_ROOT", argv[++i], 1);
			continue;
		}
		if (skip_prefix(argv[i], "--root=", &v)) {
			setenv("KILN_ROOT", v, 1);
			continue;
		}
		fprintf(stderr, "error: unknown flag: %s\nSee 'kiln help'.\n",
			argv[i]);
		return 125;
	}
	if (i >= argc)
		return cmd_help(1, argv);
	const struct cmd_entry *c = find_command(argv[i]);
	if (!c)
		unknown_command(argv[i]);
	return c->fn(argc - i, argv + i);
}
