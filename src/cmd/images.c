/*
 * kiln images [REPOSITORY[:TAG]]: one row per tag (and one per untagged
 * image), newest first, in docker's table layout and units.
 */
#include "cmd/cmd.h"
#include "store/store.h"

struct row {
	char *repo, *tag, *digest; /* familiar repository, tag, manifest */
	char *id; /* config digest */
	int64_t created;
	char *created_at; /* as in the config */
	uint64_t size;
};

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	int c = strcmp(x->repo, y->repo);
	return c ? c : strcmp(x->tag, y->tag);
}

/* Does the row match the REPOSITORY[:TAG] filter? */
static bool row_matches(const struct row *r, const char *full_filter,
			bool has_tag)
{
	if (!full_filter)
		return true;
	char *repo, *tag, *digest;
	store_ref_split(full_filter, &repo, &tag, &digest);
	bool ok = !strcmp(repo, r->repo) && (!has_tag || !strcmp(tag, r->tag));
	free(repo);
	free(tag);
	free(digest);
	return ok;
}

static void json_row(const struct row *r, const char *id, const char *since,
		     const char *size)
{
	json_t *j = json_object();
	char when[64] = "";
	if (r->created) {
		time_t t = (time_t)r->created;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S +0000 UTC",
			 &tm);
	}
	json_object_set_new(j, "Containers", json_string("N/A"));
	json_object_set_new(j, "CreatedAt", json_string(when));
	json_object_set_new(j, "CreatedSince", json_string(since));
	json_object_set_new(j, "Digest", json_string(r->digest));
	json_object_set_new(j, "ID", json_string(id));
	json_object_set_new(j, "Repository", json_string(r->repo));
	json_object_set_new(j, "SharedSize", json_string("N/A"));
	json_object_set_new(j, "Size", json_string(size));
	json_object_set_new(j, "Tag", json_string(r->tag));
	json_object_set_new(j, "UniqueSize", json_string("N/A"));
	json_object_set_new(j, "VirtualSize", json_string(size));
	char *s = json_dumps(j, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(j);
}

int cmd_images(int argc, char **argv)
{
	bool all = false, quiet = false, digests = false, no_trunc = false;
	const char *format = NULL;
	const struct opt opts[] = {
		OPT_BOOL_('a', "all", &all,
			  "Show all images (default hides intermediate "
			  "images)"),
		OPT_BOOL_(0, "digests", &digests, "Show digests"),
		OPT_STRING_(0, "format", &format, "string",
			    "Format output: table or json"),
		OPT_BOOL_(0, "no-trunc", &no_trunc, "Don't truncate output"),
		OPT_BOOL_('q', "quiet", &quiet, "Only show image IDs"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln images [OPTIONS] [REPOSITORY[:TAG]]",
			     "List images", false);
	if (argc > 1)
		usage_error("images", "\"kiln images\" requires at most 1 "
				      "argument");
	if (format && strcmp(format, "table") && strcmp(format, "json"))
		usage_error("images",
			    "unsupported format \"%s\" (use table or json)",
			    format);
	struct error *e = NULL;
	cleanup_free char *filter = NULL;
	bool filter_tag = false;
	if (argc == 1) {
		filter = store_ref_normalize(argv[0], &e);
		if (!filter)
			return cmd_fail(e);
		const char *slash = strrchr(argv[0], '/');
		filter_tag = strchr(slash ? slash : argv[0], ':') != NULL;
	}
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct store_refs refs = STORE_REFS_INIT;
	if (store_refs_read(s, &refs, &e) < 0) {
		store_free(s);
		return cmd_fail(e);
	}
	struct row *rows = xcalloc(refs.nr + 1, sizeof(*rows));
	size_t nr = 0;
	int ret = 0;
	for (size_t i = 0; i < refs.nr; i++) {
		const struct store_ref *ref = &refs.v[i];
		struct store_image *img = store_image_load(s, ref->digest, &e);
		if (!img) {
			error("image '%s': %s",
			      ref->name ? ref->name : ref->digest, e->msg);
			error_clear(&e);
			ret = 1;
			continue;
		}
		struct row *r = &rows[nr];
		if (ref->name) {
			store_ref_split(ref->name, &r->repo, &r->tag,
					&r->digest);
			free(r->digest);
			if (!*r->tag) {
				free(r->tag);
				r->tag = xstrdup("<none>");
			}
		} else {
			r->repo = xstrdup("<none>");
			r->tag = xstrdup("<none>");
		}
		r->digest = xstrdup(ref->digest);
		r->id = xstrdup(img->config_digest);
		const char *c =
			json_string_value(json_object_get(img->config, "create"
								       "d"));
		r->created_at = xstrdup(c ? c : "");
		if (c)
			store_time_parse(c, &r->created);
		if (store_image_size(s, img, &r->size, &e) < 0) {
			error("image '%s': %s", r->id, e->msg);
			error_clear(&e);
			ret = 1;
		}
		store_image_free(img);
		if (row_matches(r, filter, filter_tag)) {
			nr++;
		} else {
			free(r->repo);
			free(r->tag);
			free(r->digest);
			free(r->id);
			free(r->created_at);
			memset(r, 0, sizeof(*r));
		}
	}
	qsort(rows, nr, sizeof(*rows), cmp_rows);

	struct cmd_table t;
	bool json = format && !strcmp(format, "json");
	cmd_table_init(&t, digests ? 6 : 5);
	cmd_table_add(&t, "REPOSITORY");
	cmd_table_add(&t, "TAG");
	if (digests)
		cmd_table_add(&t, "DIGEST");
	cmd_table_add(&t, "IMAGE ID");
	cmd_table_add(&t, "CREATED");
	cmd_table_add(&t, "SIZE");
	for (size_t i = 0; i < nr; i++) {
		struct row *r = &rows[i];
		cleanup_free char *id = no_trunc ? xstrdup(r->id)
						 : xstrndup(r->id + 7, 12);
		cleanup_free char *since = cmd_created_since(r->created);
		cleanup_free char *size = cmd_human_size((double)r->size, 3);
		if (quiet) {
			printf("%s\n", id);
		} else if (json) {
			json_row(r, id, since, size);
		} else {
			cmd_table_add(&t, r->repo);
			cmd_table_add(&t, r->tag);
			if (digests)
				cmd_table_add(&t, r->digest);
			cmd_table_add(&t, id);
			cmd_table_add(&t, since);
			cmd_table_add(&t, size);
		}
	}
	if (!quiet && !json)
		cmd_table_print(&t, stdout);
	cmd_table_release(&t);
	for (size_t i = 0; i < nr; i++) {
		free(rows[i].repo);
		free(rows[i].tag);
		free(rows[i].digest);
		free(rows[i].id);
		free(rows[i].created_at);
	}
	free(rows);
	store_refs_release(&refs);
	store_free(s);
	return ret;
}
