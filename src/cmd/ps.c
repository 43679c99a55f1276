/*
 * kiln ps [-a] [-q] [--no-trunc]: list containers as docker does (running
 * ones, or all with -a), newest first, in docker's columns.
 */
#include "cmd/cmd.h"
#include "container/container.h"
#include "store/store.h"

/* Go's strconv.Quote, enough for a command line. */
static char *quote(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(&sb, "\\%c", *p);
		else if (*p == '\n')
			strbuf_addstr(&sb, "\\n");
		else if (*p == '\t')
			strbuf_addstr(&sb, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			strbuf_addf(&sb, "\\x%02x", *p);
		else
			strbuf_addch(&sb, (char)*p);
	}
	strbuf_addch(&sb, '"');
	return strbuf_detach(&sb, NULL);
}

static char *status_text(const struct container *c)
{
	int64_t now = (int64_t)time(NULL);
	if (c->state == CONTAINER_RUNNING) {
		cleanup_free char *d = cmd_human_duration(now - c->started);
		return xstrfmt("Up %s", d);
	}
	if (c->state == CONTAINER_EXITED) {
		cleanup_free char *d = cmd_human_duration(now - c->finished);
		return xstrfmt("Exited (%d) %s ago", c->exit_code, d);
	}
	return xstrdup("Created");
}

/* The name the user typed while it still means this image, else its ID. */
static char *image_text(struct store *s, const struct container *c,
			bool no_trunc)
{
	struct store_image *img = store_image_lookup(s, c->image, NULL);
	bool same = img && !strcmp(img->config_digest, c->image_id);
	store_image_free(img);
	if (same)
		return xstrdup(c->image);
	if (no_trunc)
		return xstrdup(c->image_id);
	const char *hex = c->image_id;
	skip_prefix(hex, "sha256:", &hex);
	return xstrfmt("%.12s", hex);
}

int cmd_ps(int argc, char **argv)
{
	bool all = false, quiet = false, no_trunc = false;
	const struct opt opts[] = {
		OPT_BOOL_('a', "all", &all,
			  "Show all containers (default shows just running)"),
		OPT_BOOL_('q', "quiet", &quiet, "Only display container IDs"),
		OPT_BOOL_(0, "no-trunc", &no_trunc, "Don't truncate output"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln ps [OPTIONS]",
			     "List containers", false);
	if (argc)
		usage_error("ps", "\"kiln ps\" accepts no arguments.");
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct container **v;
	size_t nr;
	struct error *e = NULL;
	if (container_list(s, &v, &nr, &e) < 0) {
		store_free(s);
		return cmd_fail(e);
	}
	struct cmd_table t;
	cmd_table_init(&t, 7);
	if (!quiet) {
		const char *hdr[] = { "CONTAINER ID", "IMAGE",	"COMMAND",
				      "CREATED",      "STATUS", "PORTS",
				      "NAMES" };
		for (size_t i = 0; i < ARRAY_SIZE(hdr); i++)
			cmd_table_add(&t, hdr[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		const struct container *c = v[i];
		if (!all && c->state != CONTAINER_RUNNING)
			continue;
		if (quiet) {
			printf("%.*s\n", no_trunc ? 64 : 12, c->id);
			continue;
		}
		cmd_table_addf(&t, "%.*s", no_trunc ? 64 : 12, c->id);
		cleanup_free char *image = image_text(s, c, no_trunc);
		cmd_table_add(&t, image);
		struct strbuf cmd = STRBUF_INIT;
		for (size_t k = 0; k < c->command.nr; k++)
			strbuf_addf(&cmd, "%s%s", k ? " " : "",
				    c->command.v[k]);
		cleanup_free char *cut = no_trunc ? xstrdup(cmd.buf)
						  : cmd_ellipsis(cmd.buf, 20);
		strbuf_release(&cmd);
		cleanup_free char *q = quote(cut);
		cmd_table_add(&t, q);
		cleanup_free char *created = cmd_created_since(c->created);
		cmd_table_add(&t, created);
		cleanup_free char *st = status_text(c);
		cmd_table_add(&t, st);
		cmd_table_add(&t, "");
		cmd_table_add(&t, c->name);
	}
	if (!quiet)
		cmd_table_print(&t, stdout);
	cmd_table_release(&t);
	container_list_free(v, nr);
	store_free(s);
	return 0;
}
