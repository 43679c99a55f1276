/*
 * kiln load [-i FILE]: read a docker-archive (manifest.json, docker save /
 * podman save / skopeo) or an oci-archive (an OCI layout in a tar), the
 * outer tar and its layer tars compressed or not.  Every member streams
 * into the store once: OCI blobs as they are (verified against their
 * names), docker layer tars gzip-compressed with their diffID computed on
 * the way, small metadata files into memory; layers are extracted into
 * their layer dirs in the same pass.  Then the images are
 * assembled, their diffIDs checked against the configs, and tagged.
 */
#include "cmd/cmd.h"
#include "archive/archive.h"
#include "store/store.h"

#define LOAD_BUF (1 << 20)
#define META_MAX (16 << 20)

struct member {
	char *path;
	bool in_memory;
	struct strbuf content; /* in_memory */
	struct store_ingest_result res; /* stored */
};

struct loader {
	struct store *s;
	struct member *v;
	size_t nr, alloc;
	struct strvec loaded; /* output lines */
};

static struct member *find(struct loader *ld, const char *path)
{
	const char *p = path;
	skip_prefix(p, "./", &p);
	for (size_t i = 0; i < ld->nr; i++)
		if (!strcmp(ld->v[i].path, p))
			return &ld->v[i];
	return NULL;
}

static bool is_metadata(const char *path, uint64_t size)
{
	if (size > META_MAX)
		return false;
	if (!strcmp(path, "manifest.json") || !strcmp(path, "repositories") ||
	    !strcmp(path, "index.json") || !strcmp(path, "oci-layout"))
		return true;
	return ends_with(path, ".json") || ends_with(path, "/json") ||
	       ends_with(path, "/VERSION");
}

/*
 * The diffID the config of an OCI manifest read earlier gives the layer
 * `digest` (oci-archives usually list manifests and configs first), into
 * `diffid`; false when no such manifest came before it.
 */
static bool diffid_from_manifests(struct loader *ld, const char *digest,
				  char *diffid)
{
	bool found = false;
	for (size_t i = 0; !found && i < ld->nr; i++) {
		const struct member *mb = &ld->v[i];
		if (mb->in_memory || mb->res.is_layer || !*mb->res.digest ||
		    mb->res.size > META_MAX)
			continue;
		json_t *m = store_blob_read_json(ld->s, mb->res.digest, NULL);
		json_t *layers = json_object_get(m, "layers");
		const char *cfg = json_string_value(
			json_object_get(json_object_get(m, "config"), "diges"
								      "t"));
		size_t k;
		json_t *d;
		json_array_foreach(layers, k, d)
		{
			const char *ld_ =
				json_string_value(json_object_get(d, "digest"));
			if (!ld_ || strcmp(ld_, digest) || !cfg ||
			    !store_digest_valid(cfg) ||
			    !store_blob_exists(ld->s, cfg))
				continue;
			json_t *c = store_blob_read_json(ld->s, cfg, NULL);
			const char *id = json_string_value(json_array_get(
				json_object_get(json_object_get(c, "rootfs"),
						"diff_ids"),
				k));
			if (store_digest_valid(id)) {
				memcpy(diffid, id, STORE_DIGEST_MAX);
				found = true;
			}
			json_decref(c);
			break;
		}
		json_decref(m);
	}
	return found;
}

/*
 * The diffID of the OCI blob at `path` when known before reading it (from
 * the store's layer info, or a manifest and config read earlier), so a
 * layer whose dir exists is not extracted again; NULL when not known.
 * Borrowed until the next call.
 */
static const char *known_diffid(struct loader *ld, const char *path)
{
	static char diffid[STORE_DIGEST_MAX];
	const char *hex;
	uint64_t usize;
	if (!skip_prefix(path, "blobs/sha256/", &hex) || strlen(hex) != 64)
		return NULL;
	cleanup_free char *d = xstrfmt("sha256:%s", hex);
	if (!store_digest_valid(d))
		return NULL;
	if (store_blob_exists(ld->s, d)) {
		struct error *e = NULL;
		if (!store_layerinfo_get(ld->s, d, diffid, &usize, &e))
			return diffid;
		error_free(e);
		return NULL;
	}
	return diffid_from_manifests(ld, d, diffid) ? diffid : NULL;
}

static int read_member(struct loader *ld, struct archive_reader *r,
		       const struct archive_member *m, struct error **err)
{
	ALLOC_GROW(ld->v, ld->nr + 1, ld->alloc);
	struct member *mb = &ld->v[ld->nr];
	memset(mb, 0, sizeof(*mb));
	strbuf_init(&mb->content, 0);
	mb->path = xstrdup(m->path);
	const char *hex;
	bool blob = skip_prefix(m->path, "blobs/sha256/", &hex) &&
		    strlen(hex) == 64;
	if (!blob && is_metadata(m->path, m->size)) {
		mb->in_memory = true;
		ld->nr++;
		if (archive_reader_read_all(r, &mb->content, META_MAX, err) <
		    0) {
			error_wrap(err, "read '%s'", m->path);
			return -1;
		}
		return 0;
	}
	ld->nr++;
	struct store_ingest *in = store_ingest_begin(
		ld->s, blob ? STORE_INGEST_AS_IS : STORE_INGEST_AUTO, err);
	if (!in)
		return -1;
	cleanup_free char *what = xstrfmt("layer '%s'", m->path);
	store_ingest_unpack(in, known_diffid(ld, m->path), what);
	cleanup_free char *buf = xmalloc(LOAD_BUF);
	for (;;) {
		ssize_t n = archive_reader_read(r, buf, LOAD_BUF, err);
		if (n < 0 || (n > 0 && store_ingest_write(in, buf, (size_t)n,
							  err) < 0)) {
			store_ingest_abort(in);
			error_wrap(err, "read '%s'", m->path);
			return -1;
		}
		if (!n)
			break;
	}
	cleanup_free char *expected = blob ? xstrfmt("sha256:%s", hex) : NULL;
	if (store_ingest_commit(in, expected, &mb->res, err) < 0) {
		error_wrap(err, "archive member '%s'", m->path);
		return -1;
	}
	return 0;
}

/* Content of a member as a JSON value (from memory or from the store). */
static json_t *member_json(struct loader *ld, const char *path,
			   struct strbuf *raw, struct error **err)
{
	struct member *mb = find(ld, path);
	if (!mb) {
		error_set(err, KILN_ECORRUPT, "archive lacks '%s'", path);
		return NULL;
	}
	if (mb->in_memory) {
		strbuf_addbuf(raw, &mb->content);
	} else if (store_blob_read(ld->s, mb->res.digest, raw, META_MAX, err) <
		   0) {
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(raw->buf, raw->len, 0, &je);
	if (!j) {
		error_set(err, KILN_ECORRUPT, "'%s': invalid JSON: %s", path,
			  je.text);
		return NULL;
	}
	return j;
}

static int tag_image(struct loader *ld, const char *name,
		     const struct store_desc *d, const char *config_digest,
		     struct error **err)
{
	if (!name) {
		if (store_ref_set(ld->s, NULL, d, err) < 0)
			return -1;
		strvec_pushf(&ld->loaded, "Loaded image ID: %s", config_digest);
		return 0;
	}
	cleanup_free char *full = store_ref_normalize(name, err);
	if (!full || store_ref_set(ld->s, full, d, err) < 0)
		return -1;
	cleanup_free char *fam = store_ref_familiar(full);
	strvec_pushf(&ld->loaded, "Loaded image: %s", fam);
	return 0;
}

static int load_docker_one(struct loader *ld, json_t *ent, struct error **err)
{
	const char *cfgpath = json_string_value(json_object_get(ent, "Config"));
	json_t *lpaths = json_object_get(ent, "Layers");
	if (!cfgpath || !json_is_array(lpaths)) {
		error_set(err, KILN_ECORRUPT,
			  "manifest.json: entry without Config or Layers");
		return -1;
	}
	cleanup_strbuf struct strbuf raw = STRBUF_INIT;
	json_t *cfg = member_json(ld, cfgpath, &raw, err);
	if (!cfg)
		return -1;
	json_t *diffids = json_object_get(json_object_get(cfg, "rootfs"), "diff"
									  "_id"
									  "s");
	size_t n = json_array_size(lpaths);
	if (!json_is_object(cfg) || json_array_size(diffids) != n) {
		json_decref(cfg);
		error_set(err, KILN_ECORRUPT,
			  "'%s': %zu diff_ids for %zu layers", cfgpath,
			  json_array_size(diffids), n);
		return -1;
	}
	struct store_layer_desc *layers = xcalloc(n + 1, sizeof(*layers));
	int ret = 0;
	for (size_t i = 0; !ret && i < n; i++) {
		const char *lp = json_string_value(json_array_get(lpaths, i));
		const char *want =
			json_string_value(json_array_get(diffids, i));
		struct member *mb = lp ? find(ld, lp) : NULL;
		if (!mb || mb->in_memory || !mb->res.is_layer) {
			error_set(err, KILN_ECORRUPT, "layer '%s': %s",
				  lp ? lp : "(none)",
				  mb ? "not a tar archive"
				     : "missing from the archive");
			ret = -1;
		} else if (!want || strcmp(want, mb->res.diffid)) {
			error_set(err, KILN_ECORRUPT,
				  "layer '%s': content has diffID '%s', the "
				  "config says '%s'",
				  lp, mb->res.diffid, want ? want : "");
			ret = -1;
		} else {
			layers[i].media_type = (char *)mb->res.media_type;
			layers[i].digest = mb->res.digest;
			layers[i].size = (int64_t)mb->res.size;
		}
	}
	char md[STORE_DIGEST_MAX], cd[STORE_DIGEST_MAX];
	int64_t msize = 0;
	if (!ret)
		ret = store_image_write(ld->s, raw.buf, raw.len, layers, n, md,
					&msize, cd, err);
	free(layers);
	json_decref(cfg);
	if (ret < 0)
		return -1;
	struct store_desc d = { STORE_MT_OCI_MANIFEST, md, msize };
	json_t *tags = json_object_get(ent, "RepoTags");
	if (!json_array_size(tags))
		return tag_image(ld, NULL, &d, cd, err);
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *name = json_string_value(t);
		if (name && tag_image(ld, name, &d, cd, err) < 0)
			return -1;
	}
	return 0;
}

/* Check that a manifest's (or index's) blobs arrived; returns the config. */
static int check_manifest(struct loader *ld, const char *digest, char *config,
			  int depth, struct error **err)
{
	json_t *m = store_blob_read_json(ld->s, digest, err);
	if (!m)
		return -1;
	int ret = 0;
	size_t i;
	json_t *d;
	json_t *ms = json_object_get(m, "manifests");
	if (ms) {
		json_array_foreach(ms, i, d)
		{
			const char *cd =
				json_string_value(json_object_get(d, "digest"));
			if (depth > 2 || !store_digest_valid(cd) ||
			    !store_blob_exists(ld->s, cd)) {
				/* other platforms may be absent */
				continue;
			}
			if (check_manifest(ld, cd, config, depth + 1, err) < 0)
				ret = -1;
		}
		json_decref(m);
		return ret;
	}
	const char *cfg = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	if (!store_digest_valid(cfg) || !store_blob_exists(ld->s, cfg)) {
		error_set(err, KILN_ECORRUPT, "manifest '%s': config missing",
			  digest);
		ret = -1;
	} else if (config && !*config) {
		memcpy(config, cfg, STORE_DIGEST_MAX);
	}
	json_array_foreach(json_object_get(m, "layers"), i, d)
	{
		const char *ld_ = json_string_value(json_object_get(d, "diges"
								       "t"));
		if (!ret && (!store_digest_valid(ld_) ||
			     !store_blob_exists(ld->s, ld_))) {
			error_set(err, KILN_ECORRUPT,
				  "manifest '%s': layer '%s' missing", digest,
				  ld_ ? ld_ : "");
			ret = -1;
		}
	}
	json_decref(m);
	return ret;
}

static int load_oci(struct loader *ld, struct error **err)
{
	cleanup_strbuf struct strbuf raw = STRBUF_INIT;
	json_t *index = member_json(ld, "index.json", &raw, err);
	if (!index)
		return -1;
	json_t *ms = json_object_get(index, "manifests");
	int ret = json_array_size(ms) ? 0 : -1;
	if (ret)
		error_set(err, KILN_ECORRUPT, "index.json lists no images");
	size_t i;
	json_t *d;
	json_array_foreach(ms, i, d)
	{
		const char *dg = json_string_value(json_object_get(d, "diges"
								      "t"));
		const char *mt = json_string_value(json_object_get(d, "mediaTyp"
								      "e"));
		json_t *ann = json_object_get(d, "annotations");
		const char *name = json_string_value(
			json_object_get(ann, STORE_ANN_IMAGE_NAME));
		if (!name)
			name = json_string_value(
				json_object_get(ann, STORE_ANN_REF_NAME));
		if (!store_digest_valid(dg) || !store_blob_exists(ld->s, dg)) {
			error_set(err, KILN_ECORRUPT,
				  "index.json: manifest '%s' missing",
				  dg ? dg : "");
			ret = -1;
			break;
		}
		char cfg[STORE_DIGEST_MAX] = "";
		if (check_manifest(ld, dg, cfg, 0, err) < 0) {
			ret = -1;
			break;
		}
		uint64_t size = 0;
		int fd = store_blob_open(ld->s, dg, &size, NULL);
		if (fd >= 0)
			close(fd);
		struct store_desc desc = { mt ? mt : STORE_MT_OCI_MANIFEST, dg,
					   (int64_t)size };
		if (tag_image(ld, name, &desc, cfg, err) < 0) {
			ret = -1;
			break;
		}
	}
	json_decref(index);
	return ret;
}

int cmd_load(int argc, char **argv)
{
	const char *input = NULL;
	bool quiet = false;
	const struct opt opts[] = {
		OPT_STRING_('i', "input", &input, "string",
			    "Read from tar archive file, instead of STDIN"),
		OPT_BOOL_('q', "quiet", &quiet, "Suppress the load output"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln load [OPTIONS]",
			     "Load an image from a tar archive or STDIN",
			     false);
	if (argc)
		usage_error("load", "\"kiln load\" accepts no arguments");
	int fd = input && strcmp(input, "-")
			 ? open(input, O_RDONLY | O_CLOEXEC)
			 : fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		error("open '%s': %s", input, strerror(errno));
		return 1;
	}
	if (!input && isatty(fd)) {
		close(fd);
		error("requested load from stdin, but stdin is empty");
		return 1;
	}
	struct store *s = cmd_store_open();
	if (!s) {
		close(fd);
		return 1;
	}
	struct loader ld = { s, NULL, 0, 0, STRVEC_INIT };
	struct error *e = NULL;
	struct archive_input in = { archive_fd_read, &fd };
	struct archive_reader *r = archive_reader_new(&in, &e);
	int ret = 0;
	if (!r) {
		error_wrap(&e, "'%s'", input ? input : "-");
		ret = -1;
	}
	struct archive_member m;
	while (!ret) {
		int k = archive_reader_next(r, &m, &e);
		if (k < 0) {
			error_wrap(&e, "'%s'", input ? input : "-");
			ret = -1;
		}
		if (k <= 0)
			break;
		if (!S_ISREG(m.mode))
			continue;
		if (find(&ld, m.path)) {
			error_set(&e, KILN_ECORRUPT,
				  "archive member '%s' appears twice", m.path);
			ret = -1;
			break;
		}
		ret = read_member(&ld, r, &m, &e);
	}
	archive_reader_free(r);
	close(fd);
	if (!ret && !ld.nr) {
		error_set(&e, KILN_EINVAL,
			  "not a docker-archive or oci-archive "
			  "(empty archive)");
		ret = -1;
	}
	struct member *mf = ret ? NULL : find(&ld, "manifest.json");
	if (!ret && mf) {
		cleanup_strbuf struct strbuf raw = STRBUF_INIT;
		json_t *man = member_json(&ld, "manifest.json", &raw, &e);
		if (!man || !json_array_size(man)) {
			if (man)
				error_set(&e, KILN_ECORRUPT,
					  "manifest.json lists no images");
			ret = -1;
		}
		size_t i;
		json_t *ent;
		json_array_foreach(man, i, ent)
		{
			if (!ret)
				ret = load_docker_one(&ld, ent, &e);
		}
		json_decref(man);
	} else if (!ret && find(&ld, "index.json") && find(&ld, "oci-layout")) {
		ret = load_oci(&ld, &e);
	} else if (!ret) {
		error_set(&e, KILN_EINVAL,
			  "not a docker-archive or oci-archive (no "
			  "manifest.json or index.json)");
		ret = -1;
	}
	if (ret < 0)
		store_rollback(s);
	for (size_t i = 0; !quiet && i < ld.loaded.nr; i++)
		printf("%s\n", ld.loaded.v[i]);
	for (size_t i = 0; i < ld.nr; i++) {
		free(ld.v[i].path);
		strbuf_release(&ld.v[i].content);
	}
	free(ld.v);
	strvec_clear(&ld.loaded);
	store_free(s);
	if (ret < 0) {
		error_wrap(&e, "load");
		return cmd_fail(e);
	}
	return 0;
}
