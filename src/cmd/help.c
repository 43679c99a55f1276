/*
 * kiln help / kiln version: the command list and version string.
 */
#include "cmd/cmd.h"

int cmd_help(int argc, char **argv)
{
	static const struct opt opts[] = { OPT_END_() };
	if (argc > 1)
		argc = parse_options(argc, argv, opts, "kiln help [COMMAND]",
				     "Show help for kiln or one of its "
				     "commands.",
				     false);
	else
		argc = 0;
	if (argc > 1)
		usage_error("help", "\"kiln help\" accepts at most 1 argument");
	if (argc == 1) {
		for (const struct cmd_entry *c = kiln_commands; c->name; c++)
			if (!strcmp(c->name, argv[0])) {
				char *args[] = { argv[0], (char *)"--help",
						 NULL };
				return c->fn(2, args);
			}
		usage_error("help", "unknown command: \"%s\"", argv[0]);
	}
	printf("Usage:  kiln [--root DIR] COMMAND [ARG...]\n\n"
	       "A daemonless container image builder.\n\n"
	       "Commands:\n");
	for (const struct cmd_entry *c = kiln_commands; c->name; c++)
		printf("  %-10s %s\n", c->name, c->summary);
	printf("\nGlobal options:\n"
	       "  --root DIR   the image store (default $KILN_ROOT, "
	       "/var/lib/kiln for root)\n"
	       "  --version    print the version\n"
	       "\nRun 'kiln COMMAND --help' for more information on a "
	       "command.\n");
	return 0;
}

int cmd_version(int argc, char **argv)
{
	static const struct opt opts[] = { OPT_END_() };
	argc = parse_options(argc, argv, opts, "kiln version",
			     "Show the kiln version.", false);
	if (argc > 0)
		usage_error("version", "\"kiln version\" accepts no arguments");
	printf("kiln version %s\n", KILN_VERSION);
	return 0;
}
