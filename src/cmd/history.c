/*
 * kiln history IMAGE: the config's history, newest first, with the size
 * of the layer each non-empty step made, in docker's table layout.
 */
#include "cmd/cmd.h"
#include "store/store.h"

int cmd_history(int argc, char **argv)
{
	bool no_trunc = false, quiet = false, human = true;
	const char *format = NULL;
	const struct opt opts[] = {
		OPT_STRING_(0, "format", &format, "string",
			    "Format output (table)"),
		OPT_BOOL_('H', "human", &human,
			  "Print sizes and dates in human readable format"),
		OPT_BOOL_(0, "no-trunc", &no_trunc, "Don't truncate output"),
		OPT_BOOL_('q', "quiet", &quiet, "Only show image IDs"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln history [OPTIONS] IMAGE",
			     "Show the history of an image", false);
	if (argc != 1)
		usage_error("history", "\"kiln history\" requires exactly 1 "
				       "argument");
	if (format && strcmp(format, "table"))
		usage_error("history", "unsupported format \"%s\"", format);
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct error *e = NULL;
	struct store_image *img = store_image_lookup(s, argv[0], &e);
	struct store_layer_desc *layers = NULL;
	size_t nlayers = 0;
	if (!img || store_image_layers(s, img, &layers, &nlayers, &e) < 0) {
		store_image_free(img);
		store_free(s);
		return cmd_fail(e);
	}
	json_t *hist = json_object_get(img->config, "history");
	size_t n = json_array_size(hist);
	/* one synthetic entry per layer when the config has no history */
	bool synthetic = n == 0;
	if (synthetic)
		n = nlayers;
	struct cmd_table t;
	cmd_table_init(&t, 5);
	cmd_table_add(&t, "IMAGE");
	cmd_table_add(&t, "CREATED");
	cmd_table_add(&t, "CREATED BY");
	cmd_table_add(&t, "SIZE");
	cmd_table_add(&t, "COMMENT");
	/* the layer index of each entry */
	size_t *layer_of = xcalloc(n + 1, sizeof(*layer_of));
	size_t li = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(hist, i);
		bool empty = !synthetic &&
			     json_is_true(json_object_get(h, "empty_layer"));
		layer_of[i] = (!empty && li < nlayers) ? li++ : (size_t)-1;
	}
	for (size_t k = n; k-- > 0;) {
		json_t *h = synthetic ? NULL : json_array_get(hist, k);
		cleanup_free char *id =
			k + 1 == n
				? (no_trunc ? xstrdup(img->config_digest)
					    : xstrndup(img->config_digest + 7,
						       12))
				: xstrdup("<missing>");
		if (quiet) {
			printf("%s\n", id);
			continue;
		}
		const char *created = json_string_value(
			json_object_get(h ? h : img->config, "created"));
		int64_t when = 0;
		if (created)
			store_time_parse(created, &when);
		cleanup_free char *since =
			human ? cmd_created_since(when)
			      : xstrdup(created ? created : "");
		const char *by = json_string_value(json_object_get(h, "created_"
								      "by"));
		cleanup_free char *by1 = xstrdup(by ? by : "");
		for (char *p = by1; *p; p++)
			if (*p == '\t')
				*p = ' ';
		cleanup_free char *by2 = no_trunc ? xstrdup(by1)
						  : cmd_ellipsis(by1, 45);
		uint64_t size = layer_of[k] != (size_t)-1
					? layers[layer_of[k]].usize
					: 0;
		cleanup_free char *sz =
			human ? cmd_human_size((double)size, 3)
			      : xstrfmt("%llu", (unsigned long long)size);
		const char *comment =
			json_string_value(json_object_get(h, "comment"));
		cmd_table_add(&t, id);
		cmd_table_add(&t, since);
		cmd_table_add(&t, by2);
		cmd_table_add(&t, sz);
		cmd_table_add(&t, comment ? comment : "");
	}
	if (!quiet)
		cmd_table_print(&t, stdout);
	cmd_table_release(&t);
	free(layer_of);
	store_layer_descs_free(layers, nlayers);
	store_image_free(img);
	store_free(s);
	return 0;
}
