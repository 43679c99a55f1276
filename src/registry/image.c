/*
 * Images between a registry and the local store, the part `kiln pull`,
 * `kiln push` and `kiln build` share.  A pull checks first (HEAD) whether
 * the store's tag already names what the registry has; otherwise it
 * streams the missing blobs into the store (verified on the way), checks
 * the layers' diffIDs against the config, stores the manifest and tags it.
 * Only store/ writes anything.
 */
#include "registry/registry-internal.h"
#include "store/store.h"

#include <jansson.h>

PRINTF_LIKE(3, 4)
static void status(registry_status_fn fn, void *data, const char *fmt, ...)
{
	if (!fn)
		return;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *line = xstrvfmt(fmt, ap);
	va_end(ap);
	fn(data, line);
}

static const char *short_id(const char *digest, char buf[13])
{
	const char *hex = strchr(digest, ':');
	snprintf(buf, 13, "%s", hex ? hex + 1 : digest);
	return buf;
}

static bool is_image_manifest(const char *mt)
{
	return !strcmp(mt, STORE_MT_OCI_MANIFEST) ||
	       !strcmp(mt, STORE_MT_DOCKER_MANIFEST);
}

/* ------------------------------------------------------------ pull */

struct pull_blob {
	const char *digest;
	int64_t size;
	struct store_ingest *in;
	struct error *err; /* the store's own error, if writing failed */
	struct store_ingest_result res;
};

static int ingest_write(void *data, const void *buf, size_t len)
{
	struct pull_blob *b = data;
	return store_ingest_write(b->in, buf, len, &b->err);
}

/*
 * Fetch the blobs of manifest `m` the store lacks: the config (i == 0)
 * when `config_only`, else the layers, each decompressed, hashed and
 * extracted into its layer dir while it streams; `diffids` (the config's
 * rootfs.diff_ids, may be NULL) names the layer dirs to expect.
 */
static int pull_blobs(struct registry_client *c, struct store *s,
		      const struct registry_ref *ref, json_t *m,
		      bool config_only, json_t *diffids, registry_status_fn fn,
		      void *data, struct error **err)
{
	json_t *config = json_object_get(m, "config");
	json_t *layers = json_object_get(m, "layers");
	size_t nr = config_only ? 1 : json_array_size(layers) + 1;
	struct pull_blob *blobs = xcalloc(nr, sizeof(*blobs));
	struct registry_blob_job *jobs = xcalloc(nr, sizeof(*jobs));
	size_t njobs = 0;
	char id[13];
	int ret = 0;
	for (size_t i = 0; i < nr; i++) {
		json_t *d = i ? json_array_get(layers, i - 1) : config;
		struct pull_blob *b = &blobs[i];
		b->digest = json_string_value(json_object_get(d, "digest"));
		b->size = json_integer_value(json_object_get(d, "size"));
		if (!b->digest || !store_digest_valid(b->digest)) {
			error_set(err, KILN_ECORRUPT,
				  "manifest: invalid or unsupported digest "
				  "'%s'",
				  b->digest ? b->digest : "(none)");
			ret = -1;
			break;
		}
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= !strcmp(blobs[j].digest, b->digest);
		if (dup || store_blob_exists(s, b->digest) ||
		    (!i && !config_only)) {
			if (i)
				status(fn, data, "%s: Already exists",
				       short_id(b->digest, id));
			continue;
		}
		b->in = store_ingest_begin(s, STORE_INGEST_AS_IS, err);
		if (!b->in) {
			ret = -1;
			break;
		}
		if (i) {
			const char *want = json_string_value(
				json_array_get(diffids, i - 1));
			cleanup_free char *what =
				xstrfmt("layer %s", b->digest);
			store_ingest_unpack(
				b->in, store_digest_valid(want) ? want : NULL,
				what);
		}
		jobs[njobs++] = (struct registry_blob_job){
			.digest = b->digest,
			.size = b->size,
			.write = ingest_write,
			.data = b,
			/* store_ingest_commit() checks it against b->digest */
			.sink_verifies = true,
		};
	}
	if (!ret && njobs) {
		for (size_t i = 1; i < nr; i++)
			if (blobs[i].in)
				status(fn, data, "%s: Pulling fs layer",
				       short_id(blobs[i].digest, id));
		ret = registry_fetch_blobs(c, ref, jobs, njobs, err);
		for (size_t i = 0; ret && i < nr; i++)
			if (blobs[i].err) {
				error_clear(err);
				error_set(err, blobs[i].err->code, "%s",
					  blobs[i].err->msg);
				break;
			}
	}
	for (size_t i = 0; i < nr; i++) {
		struct pull_blob *b = &blobs[i];
		if (!b->in)
			continue;
		if (ret) {
			store_ingest_abort(b->in);
		} else if (store_ingest_commit(b->in, b->digest, &b->res, err) <
			   0) {
			ret = -1;
		} else if (i) {
			status(fn, data, "%s: Pull complete",
			       short_id(b->digest, id));
		}
		b->in = NULL;
	}
	for (size_t i = 0; i < njobs; i++)
		error_free(jobs[i].err);
	for (size_t i = 0; i < nr; i++)
		error_free(blobs[i].err);
	free(jobs);
	free(blobs);
	return ret;
}

/* The layers, once the config is in (its diffIDs name the layer dirs). */
static int pull_layers(struct registry_client *c, struct store *s,
		       const struct registry_ref *ref, json_t *m,
		       registry_status_fn fn, void *data, struct error **err)
{
	const char *cd = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	json_t *cfg = store_blob_read_json(s, cd, NULL);
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_"
								      "ids");
	if (json_array_size(ids) != json_array_size(json_object_get(m, "layer"
								       "s")))
		ids = NULL; /* check_diffids() says what is wrong */
	int ret = pull_blobs(c, s, ref, m, false, ids, fn, data, err);
	json_decref(cfg);
	return ret;
}

/* The config's rootfs.diff_ids must name the layers we got. */
static int check_diffids(struct store *s, json_t *m, struct error **err)
{
	const char *cd = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	json_t *cfg = store_blob_read_json(s, cd, err);
	if (!cfg)
		return -1;
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_"
								      "ids");
	json_t *layers = json_object_get(m, "layers");
	int ret = 0;
	if (json_array_size(ids) != json_array_size(layers)) {
		error_set(err, KILN_ECORRUPT,
			  "the config lists %zu layers, the manifest %zu",
			  json_array_size(ids), json_array_size(layers));
		ret = -1;
	}
	for (size_t i = 0; !ret && i < json_array_size(layers); i++) {
		const char *d = json_string_value(
			json_object_get(json_array_get(layers, i), "digest"));
		const char *want = json_string_value(json_array_get(ids, i));
		char diffid[STORE_DIGEST_MAX];
		uint64_t usize;
		if (store_layerinfo_get(s, d, diffid, &usize, err) < 0) {
			ret = -1;
		} else if (!want || strcmp(want, diffid)) {
			error_set(err, KILN_ECORRUPT,
				  "layer %s: its content is %s, the config "
				  "says %s",
				  d, diffid, want ? want : "(none)");
			ret = -1;
		}
	}
	json_decref(cfg);
	return ret;
}

/* The manifest digest the store's tag `name` points at, or NULL. */
static char *stored_digest(struct store *s, const char *name)
{
	struct store_refs refs = STORE_REFS_INIT;
	char *d = NULL;
	if (!store_refs_read(s, &refs, NULL)) {
		const struct store_ref *r = store_refs_find(&refs, name);
		if (r)
			d = xstrdup(r->digest);
	}
	store_refs_release(&refs);
	return d;
}

/* The store name of a resolved reference: a tag wins over a digest. */
static char *store_name(const struct registry_ref *ref, struct error **err)
{
	struct registry_ref named = *ref;
	if (named.tag)
		named.digest = NULL;
	cleanup_free char *text = registry_ref_string(&named);
	return store_ref_normalize(text, err);
}

/*
 * Is the store's tag for `ref` what the registry has?  A HEAD answers it
 * for a single-platform image; an index (or any failure) says "look".
 */
static bool head_matches(struct registry_client *c, struct store *s,
			 const struct registry_ref *ref, const char *name)
{
	cleanup_free char *have = stored_digest(s, name);
	if (!have || !ref->tag)
		return false;
	if (ref->digest)
		return !strcmp(have, ref->digest);
	cleanup_free char *mt = NULL;
	cleanup_free char *digest = NULL;
	struct error *e = NULL;
	if (registry_head_manifest(c, ref, &mt, &digest, &e) < 0) {
		debug("HEAD %s: %s", name, e->msg);
		error_free(e);
		return false;
	}
	return !strcmp(digest, have) && store_blob_exists(s, have);
}

/* Store the image `ref` resolved to, and tag it. */
static int ingest_image(struct registry_client *c, struct store *s,
			const struct registry_ref *ref, const char *text,
			const char *m, size_t len, const char *mt,
			const char *digest, const char *name,
			registry_status_fn fn, void *data,
			struct registry_pull_result *res, struct error **err)
{
	if (!is_image_manifest(mt)) {
		error_set(err, KILN_EINVAL,
			  "'%s': unsupported manifest type %s", text, mt);
		return -1;
	}
	json_error_t je;
	json_t *mj = json_loadb(m, len, 0, &je);
	if (!mj) {
		error_set(err, KILN_ECORRUPT, "manifest %s: %s", digest,
			  je.text);
		return -1;
	}
	/*
	 * Blobs fetched before a failure stay (verified, unreferenced) so a
	 * retry need not fetch them again; `kiln prune` reclaims them.
	 */
	cleanup_free char *have = stored_digest(s, name);
	res->up_to_date = have && !strcmp(have, digest) &&
			  store_blob_exists(s, digest);
	int ret = -1;
	if (!pull_blobs(c, s, ref, mj, true, NULL, fn, data, err) &&
	    !pull_layers(c, s, ref, mj, fn, data, err) &&
	    !check_diffids(s, mj, err) &&
	    !store_blob_put(s, m, len, digest, NULL, err)) {
		struct store_desc d = { .media_type = mt,
					.digest = digest,
					.size = (int64_t)len };
		ret = store_ref_set(s, name, &d, err);
	}
	json_decref(mj);
	return ret;
}

int registry_pull_image(struct registry_client *c, struct store *s,
			const char *text, const char *platform,
			registry_status_fn fn, void *data,
			struct registry_pull_result *res, struct error **err)
{
	memset(res, 0, sizeof(*res));
	struct registry_ref *cands = NULL;
	size_t ncands = 0;
	if (registry_candidates(c, text, &cands, &ncands, err) < 0)
		return -1;
	char *m = NULL, *mt = NULL, *digest = NULL;
	size_t len = 0;
	struct registry_ref *ref = NULL;
	struct error *e = NULL;
	int ret = -1;
	for (size_t i = 0; i < ncands && !ref; i++) {
		cleanup_free char *name = store_name(&cands[i], NULL);
		if (name && head_matches(c, s, &cands[i], name)) {
			ref = &cands[i];
			res->ref = registry_ref_string(ref);
			res->name = steal_pointer(&name);
			digest = stored_digest(s, res->name);
			snprintf(res->digest, sizeof(res->digest), "%s",
				 digest);
			res->up_to_date = true;
			status(fn, data, "Pulling %s", res->ref);
			error_clear(&e);
			ret = 0;
			goto out;
		}
		struct error *e2 = NULL;
		if (!registry_resolve(c, &cands[i], platform, &m, &len, &mt,
				      &digest, NULL, &e2)) {
			ref = &cands[i];
			error_clear(&e);
		} else if (!e || e2->code != KILN_ENOTFOUND) {
			error_free(e);
			e = e2;
		} else {
			error_free(e2);
		}
	}
	if (!ref) {
		*err = steal_pointer(&e);
		goto out;
	}
	res->ref = registry_ref_string(ref);
	res->name = store_name(ref, err);
	if (!res->name)
		goto out;
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	status(fn, data, "Pulling %s", res->ref);
	ret = ingest_image(c, s, ref, text, m, len, mt, digest, res->name, fn,
			   data, res, err);
out:
	if (ret < 0)
		registry_pull_result_release(res);
	error_free(e);
	free(m);
	free(mt);
	free(digest);
	for (size_t i = 0; i < ncands; i++)
		registry_ref_release(&cands[i]);
	free(cands);
	return ret;
}

void registry_pull_result_release(struct registry_pull_result *res)
{
	free(res->ref);
	free(res->name);
	memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------ push */

static ssize_t read_blob(void *data, uint64_t off, void *buf, size_t len)
{
	int fd = *(int *)data;
	for (;;) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* Media types of one format, and the other's equivalents. */
static const struct {
	const char *oci, *docker;
} media_map[] = {
	{ STORE_MT_OCI_MANIFEST, STORE_MT_DOCKER_MANIFEST },
	{ STORE_MT_OCI_CONFIG, STORE_MT_DOCKER_CONFIG },
	{ STORE_MT_OCI_LAYER_GZIP, STORE_MT_DOCKER_LAYER_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" },
};

static int convert_type(json_t *obj, bool to_docker, struct error **err)
{
	const char *mt = json_string_value(json_object_get(obj, "mediaType"));
	if (!mt) {
		if (to_docker) {
			error_set(err, KILN_EINVAL,
				  "a descriptor without a media type");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(media_map); i++) {
		const char *from = to_docker ? media_map[i].oci
					     : media_map[i].docker;
		const char *to = to_docker ? media_map[i].docker
					   : media_map[i].oci;
		if (!strcmp(mt, to))
			return 0;
		if (!strcmp(mt, from)) {
			json_object_set_new(obj, "mediaType", json_string(to));
			return 0;
		}
	}
	error_set(err, KILN_EINVAL, "media type %s has no %s equivalent", mt,
		  to_docker ? "docker" : "OCI");
	return -1;
}

/* Rewrite the manifest in the other format; caller frees. */
static char *convert(json_t *m, bool to_docker, size_t *len, struct error **err)
{
	json_t *c = json_deep_copy(m);
	int ret = convert_type(c, to_docker, err);
	if (!ret)
		ret = convert_type(json_object_get(c, "config"), to_docker,
				   err);
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(c, "layers"), i, l) if (!ret)
		ret = convert_type(l, to_docker, err);
	if (to_docker)
		json_object_del(c, "annotations");
	char *out = ret ? NULL : json_dumps(c, JSON_COMPACT);
	json_decref(c);
	if (out)
		*len = strlen(out);
	return out;
}

struct push_src {
	struct registry_push_job *jobs;
	int *fds;
	size_t nr;
};

static void push_src_release(struct push_src *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		error_free(p->jobs[i].err);
	}
	free(p->fds);
	free(p->jobs);
}

int registry_push_image(struct registry_client *c, struct store *s,
			const struct store_image *img,
			const struct registry_ref *ref, const char *format,
			registry_status_fn fn, void *data, char **pushed,
			size_t *pushed_len, struct error **err)
{
	struct strbuf raw = STRBUF_INIT;
	if (store_blob_read(s, img->image_manifest_digest, &raw, 0, err) < 0)
		return -1;
	const char *mt = img->image_manifest_media_type;
	bool docker = !strcmp(mt, STORE_MT_DOCKER_MANIFEST);
	char *out = NULL;
	size_t out_len = 0;
	const char *out_mt = mt;
	if (format && strcmp(format, docker ? "docker" : "oci")) {
		bool to_docker = !strcmp(format, "docker");
		out = convert(img->manifest, to_docker, &out_len, err);
		out_mt = to_docker ? STORE_MT_DOCKER_MANIFEST
				   : STORE_MT_OCI_MANIFEST;
		strbuf_release(&raw);
		if (!out)
			return -1;
	} else {
		out = strbuf_detach(&raw, &out_len);
	}

	json_t *layers = json_object_get(img->manifest, "layers");
	size_t nr = json_array_size(layers) + 1;
	struct push_src p = { .jobs = xcalloc(nr, sizeof(*p.jobs)),
			      .fds = xcalloc(nr, sizeof(int)) };
	int ret = 0;
	for (size_t i = 0; i < nr; i++) {
		json_t *d = i ? json_array_get(layers, i - 1)
			      : json_object_get(img->manifest, "config");
		const char *digest = json_string_value(json_object_get(d, "dige"
									  "s"
									  "t"));
		bool dup = false;
		for (size_t j = 0; digest && j < p.nr; j++)
			dup |= !strcmp(p.jobs[j].digest, digest);
		if (dup)
			continue;
		uint64_t size;
		int fd = digest ? store_blob_open(s, digest, &size, err) : -1;
		if (fd < 0) {
			if (!digest)
				error_set(err, KILN_ECORRUPT,
					  "manifest: a descriptor without "
					  "digest");
			ret = -1;
			break;
		}
		p.fds[p.nr] = fd;
		p.jobs[p.nr] = (struct registry_push_job){
			.digest = digest,
			.size = size,
			.read = read_blob,
			.data = &p.fds[p.nr],
		};
		p.nr++;
	}
	if (!ret)
		ret = registry_push_blobs(c, ref, p.jobs, p.nr, err);
	char id[13];
	for (size_t i = 0; i < p.nr; i++) {
		const struct registry_push_job *j = &p.jobs[i];
		if (j->err)
			continue;
		status(fn, data, "%s: %s", short_id(j->digest, id),
		       j->result == REGISTRY_PUSH_EXISTS    ? "Layer already "
							      "exists"
		       : j->result == REGISTRY_PUSH_MOUNTED ? "Mounted"
							    : "Pushed");
	}
	push_src_release(&p);
	char *digest = NULL;
	if (!ret)
		ret = registry_push_manifest(c, ref, out, out_len, out_mt,
					     &digest, err);
	if (!ret) {
		*pushed = digest;
		*pushed_len = out_len;
	}
	free(out);
	return ret;
}
