/*
 * kiln inspect IMAGE...: docker-like JSON for each image (Id, RepoTags,
 * RepoDigests, Config, RootFS, ...), as one indented JSON array.
 */
#include "cmd/cmd.h"
#include "store/store.h"

static json_t *str_or_empty(json_t *cfg, const char *key)
{
	const char *v = json_string_value(json_object_get(cfg, key));
	return json_string(v ? v : "");
}

static json_t *describe(struct store *s, struct store_image *img,
			struct error **err)
{
	uint64_t size;
	if (store_image_size(s, img, &size, err) < 0)
		return NULL;
	json_t *c = img->config;
	json_t *j = json_object();
	json_object_set_new(j, "Id", json_string(img->config_digest));
	json_t *tags = json_array(), *digests = json_array();
	for (size_t i = 0; i < img->names.nr; i++) {
		char *fam = store_ref_familiar(img->names.v[i]);
		json_array_append_new(tags, json_string(fam));
		free(fam);
		char *repo, *tag, *dg;
		store_ref_split(img->names.v[i], &repo, &tag, &dg);
		char *rd = xstrfmt("%s@%s", repo, img->manifest_digest);
		bool dup = false;
		size_t k;
		json_t *v;
		json_array_foreach(digests, k, v)
			dup |= !strcmp(json_string_value(v), rd);
		if (!dup)
			json_array_append_new(digests, json_string(rd));
		free(rd);
		free(repo);
		free(tag);
		free(dg);
	}
	json_object_set_new(j, "RepoTags", tags);
	json_object_set_new(j, "RepoDigests", digests);
	json_object_set_new(j, "Parent", json_string(""));
	json_object_set_new(j, "Comment", str_or_empty(c, "comment"));
	json_object_set_new(j, "Created", str_or_empty(c, "created"));
	json_object_set_new(j, "DockerVersion",
			    str_or_empty(c, "docker_version"));
	json_object_set_new(j, "Author", str_or_empty(c, "author"));
	json_t *cc = json_object_get(c, "config");
	json_object_set_new(j, "Config", cc ? json_incref(cc) : json_null());
	json_object_set_new(j, "Architecture", str_or_empty(c, "architecture"));
	if (json_string_value(json_object_get(c, "variant")))
		json_object_set_new(j, "Variant", str_or_empty(c, "variant"));
	json_object_set_new(j, "Os", str_or_empty(c, "os"));
	json_object_set_new(j, "Size", json_integer((json_int_t)size));
	json_t *rootfs = json_object();
	json_object_set_new(rootfs, "Type", json_string("layers"));
	json_t *layers = json_object_get(json_object_get(c, "rootfs"), "diff_"
								       "ids");
	json_object_set_new(rootfs, "Layers",
			    layers ? json_incref(layers) : json_array());
	json_object_set_new(j, "RootFS", rootfs);
	json_t *meta = json_object();
	char when[64] = "0001-01-01T00:00:00Z";
	if (img->tag_time) {
		time_t t = (time_t)img->tag_time;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	json_object_set_new(meta, "LastTagTime", json_string(when));
	json_object_set_new(j, "Metadata", meta);
	return j;
}

int cmd_inspect(int argc, char **argv)
{
	const char *format = NULL;
	const struct opt opts[] = {
		OPT_STRING_('f', "format", &format, "string",
			    "Format output (only json is supported)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln inspect [OPTIONS] IMAGE [IMAGE...]",
			     "Display detailed information on images", false);
	if (argc < 1)
		usage_error("inspect", "\"kiln inspect\" requires at least 1 "
				       "argument");
	if (format && strcmp(format, "json"))
		usage_error("inspect", "unsupported format \"%s\"", format);
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	json_t *out = json_array();
	int ret = 0;
	struct error *e = NULL;
	for (int i = 0; i < argc; i++) {
		struct store_image *img = store_image_lookup(s, argv[i], &e);
		json_t *j = img ? describe(s, img, &e) : NULL;
		store_image_free(img);
		if (!j) {
			error_print(e);
			error_clear(&e);
			ret = 1;
			continue;
		}
		json_array_append_new(out, j);
	}
	char *str = json_dumps(out, JSON_INDENT(4) | JSON_ENSURE_ASCII * 0);
	printf("%s\n", str);
	free(str);
	json_decref(out);
	store_free(s);
	return ret;
}
