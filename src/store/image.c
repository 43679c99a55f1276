/*
 * Images: resolving what a user typed (a reference, an ID, an ID prefix,
 * a digest) to a manifest in index.json, loading manifest and config, the
 * layer list with diffIDs and sizes, and writing a new image (config blob
 * plus OCI manifest blob).  Tagging is index.c's business.
 */
#include "store/store-internal.h"

#include <ctype.h>
#include <sys/utsname.h>

void store_image_free(struct store_image *img)
{
	if (!img)
		return;
	free(img->manifest_digest);
	free(img->manifest_media_type);
	free(img->image_manifest_digest);
	free(img->image_manifest_media_type);
	free(img->config_digest);
	json_decref(img->manifest);
	json_decref(img->config);
	strvec_clear(&img->names);
	free(img);
}

const char *store_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__)
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv)
	return "riscv64";
#else
	return "unknown";
#endif
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, STORE_MT_OCI_INDEX) ||
		      !strcmp(mt, STORE_MT_DOCKER_LIST));
}

/* Choose the host platform's manifest from an image index. */
static json_t *pick_platform(json_t *index)
{
	json_t *ms = json_object_get(index, "manifests");
	json_t *first = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(ms, i, d)
	{
		const char *mt = json_string_value(json_object_get(d, "mediaTyp"
								      "e"));
		if (is_index_type(mt))
			continue;
		json_t *p = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "archit"
									"ectur"
									"e"));
		if (!first)
			first = d;
		if (os && arch && !strcmp(os, "linux") &&
		    !strcmp(arch, store_host_arch()))
			return d;
	}
	return first;
}

struct store_image *store_image_load(struct store *s, const char *digest,
				     struct error **err)
{
	json_t *m = store_blob_read_json(s, digest, err);
	if (!m)
		return NULL;
	struct store_image *img = xcalloc(1, sizeof(*img));
	strvec_init(&img->names);
	img->manifest_digest = xstrdup(digest);
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	img->manifest_media_type = xstrdup(
		mt ? mt
		   : (json_object_get(m, "manifests") ? STORE_MT_OCI_INDEX
						      : STORE_MT_OCI_MANIFEST));
	if (is_index_type(img->manifest_media_type) ||
	    (!mt && json_object_get(m, "manifests"))) {
		json_t *d = pick_platform(m);
		const char *cd = json_string_value(json_object_get(d, "diges"
								      "t"));
		if (!cd) {
			error_set(err, KILN_ECORRUPT,
				  "image index '%s': no image manifest",
				  digest);
			json_decref(m);
			store_image_free(img);
			return NULL;
		}
		const char *cmt = json_string_value(json_object_get(d, "mediaTy"
								       "pe"));
		img->image_manifest_digest = xstrdup(cd);
		img->image_manifest_media_type =
			xstrdup(cmt ? cmt : STORE_MT_OCI_MANIFEST);
		img->image_manifest_size =
			json_integer_value(json_object_get(d, "size"));
		json_decref(m);
		m = store_blob_read_json(s, cd, err);
		if (!m) {
			store_image_free(img);
			return NULL;
		}
	} else {
		img->image_manifest_digest = xstrdup(digest);
		img->image_manifest_media_type =
			xstrdup(img->manifest_media_type);
	}
	img->manifest = m;
	const char *cfg = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	if (!cfg || !json_is_array(json_object_get(m, "layers"))) {
		error_set(err, KILN_ECORRUPT,
			  "manifest '%s': no config or layers", digest);
		store_image_free(img);
		return NULL;
	}
	img->config_digest = xstrdup(cfg);
	img->config = store_blob_read_json(s, cfg, err);
	if (!img->config) {
		error_wrap(err, "image '%s'", digest);
		store_image_free(img);
		return NULL;
	}
	uint64_t size = 0;
	int fd = store_blob_open(s, img->image_manifest_digest, &size, NULL);
	if (fd >= 0)
		close(fd);
	img->image_manifest_size = (int64_t)size;
	return img;
}

static void fill_names(struct store_image *img, const struct store_refs *refs)
{
	for (size_t i = 0; i < refs->nr; i++) {
		const struct store_ref *r = &refs->v[i];
		if (strcmp(r->digest, img->manifest_digest))
			continue;
		if (r->name)
			strvec_push(&img->names, r->name);
		if (r->tag_time > img->tag_time)
			img->tag_time = r->tag_time;
		img->manifest_size = r->size;
	}
}

static bool is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) ||
		    isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* The config digest of the manifest `digest` (cheap: manifest only). */
static char *config_of(struct store *s, const char *digest)
{
	struct store_image *img = store_image_load(s, digest, NULL);
	if (!img)
		return NULL;
	char *c = xstrdup(img->config_digest);
	store_image_free(img);
	return c;
}

static struct store_image *load_named(struct store *s,
				      const struct store_refs *refs,
				      const char *digest, struct error **err)
{
	struct store_image *img = store_image_load(s, digest, err);
	if (img)
		fill_names(img, refs);
	return img;
}

static struct store_image *lookup_id(struct store *s,
				     const struct store_refs *refs,
				     const char *hex, struct error **err)
{
	char want[STORE_DIGEST_MAX];
	memcpy(want, "sha256:", 7);
	memcpy(want + 7, hex, 65);
	for (size_t i = 0; i < refs->nr; i++)
		if (!strcmp(refs->v[i].digest, want))
			return load_named(s, refs, want, err);
	for (size_t i = 0; i < refs->nr; i++) {
		cleanup_free char *c = config_of(s, refs->v[i].digest);
		if (c && !strcmp(c, want))
			return load_named(s, refs, refs->v[i].digest, err);
	}
	return NULL;
}

static struct store_image *lookup_ref(struct store *s,
				      const struct store_refs *refs,
				      const char *full, struct error **err)
{
	const char *at = strchr(full, '@');
	for (size_t i = 0; i < refs->nr; i++) {
		const struct store_ref *r = &refs->v[i];
		bool match = at ? !strcmp(r->digest, at + 1)
				: (r->name && !strcmp(r->name, full));
		if (match)
			return load_named(s, refs, r->digest, err);
	}
	return NULL;
}

/* Returns NULL without setting *err when nothing matches. */
static struct store_image *lookup_prefix(struct store *s,
					 const struct store_refs *refs,
					 const char *name, const char *hex,
					 struct error **err)
{
	cleanup_free char *found = NULL;
	cleanup_free char *found_manifest = NULL;
	size_t hlen = strlen(hex);
	for (size_t i = 0; i < refs->nr; i++) {
		cleanup_free char *c = config_of(s, refs->v[i].digest);
		if (!c || strncmp(c + 7, hex, hlen))
			continue;
		if (found && strcmp(found, c)) {
			error_set(err, KILN_EINVAL,
				  "ambiguous image ID prefix '%s': it matches "
				  "more than one image",
				  name);
			return NULL;
		}
		if (!found) {
			found = xstrdup(c);
			found_manifest = xstrdup(refs->v[i].digest);
		}
	}
	return found ? load_named(s, refs, found_manifest, err) : NULL;
}

static struct store_image *lookup(struct store *s,
				  const struct store_refs *refs,
				  const char *name, struct error **err)
{
	struct store_image *img;
	const char *hex = name;
	bool prefixed = skip_prefix(name, "sha256:", &hex);
	size_t hlen = strlen(hex);
	bool hexish = hlen >= 4 && hlen <= 64 && is_hex(hex, hlen);

	/* a full image ID or manifest digest */
	if (hexish && hlen == 64 && (img = lookup_id(s, refs, hex, err)))
		return img;
	if (err && *err)
		return NULL;
	/* a reference, as docker tries first */
	struct error *referr = NULL;
	cleanup_free char *full = prefixed ? NULL
					   : store_ref_normalize(name, &referr);
	if (full && (img = lookup_ref(s, refs, full, err)))
		return img;
	if (err && *err) {
		error_free(referr);
		return NULL;
	}
	/* a unique ID prefix */
	if (hexish) {
		error_free(referr);
		img = lookup_prefix(s, refs, name, hex, err);
		if (!img && err && !*err)
			error_set(err, KILN_ENOTFOUND, "no such image: '%s'",
				  name);
		return img;
	}
	if (referr) {
		if (err && !*err)
			*err = referr;
		else
			error_free(referr);
		return NULL;
	}
	error_set(err, KILN_ENOTFOUND, "no such image: '%s'", name);
	return NULL;
}

struct store_image *store_image_lookup(struct store *s, const char *name,
				       struct error **err)
{
	struct store_refs refs = STORE_REFS_INIT;
	if (store_refs_read(s, &refs, err) < 0)
		return NULL;
	struct error *e = NULL;
	struct store_image *img = lookup(s, &refs, name, &e);
	if (!img && err && !*err)
		*err = e;
	else
		error_free(e);
	store_refs_release(&refs);
	return img;
}

void store_layer_descs_free(struct store_layer_desc *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].media_type);
		free(v[i].digest);
		free(v[i].diffid);
	}
	free(v);
}

int store_image_layers(struct store *s, const struct store_image *img,
		       struct store_layer_desc **out, size_t *nr,
		       struct error **err)
{
	json_t *layers = json_object_get(img->manifest, "layers");
	json_t *diffids =
		json_object_get(json_object_get(img->config, "rootfs"), "diff_"
									"ids");
	size_t n = json_array_size(layers);
	if (!json_is_array(diffids) || json_array_size(diffids) != n) {
		error_set(err, KILN_ECORRUPT,
			  "image '%s': %zu layers but %zu diff_ids",
			  img->config_digest, n, json_array_size(diffids));
		return -1;
	}
	struct store_layer_desc *v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(layers, i);
		const char *mt = json_string_value(json_object_get(l, "mediaTyp"
								      "e"));
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *di = json_string_value(json_array_get(diffids, i));
		if (!d || !di) {
			error_set(err, KILN_ECORRUPT,
				  "image '%s': layer %zu: invalid descriptor",
				  img->config_digest, i);
			store_layer_descs_free(v, i);
			return -1;
		}
		v[i].media_type = xstrdup(mt ? mt : STORE_MT_OCI_LAYER_GZIP);
		v[i].digest = xstrdup(d);
		v[i].size = json_integer_value(json_object_get(l, "size"));
		v[i].diffid = xstrdup(di);
		char got[STORE_DIGEST_MAX];
		if (store_layerinfo_get(s, d, got, &v[i].usize, err) < 0) {
			store_layer_descs_free(v, i + 1);
			return -1;
		}
		if (strcmp(got, di)) {
			error_set(err, KILN_ECORRUPT,
				  "layer '%s': content has diffID '%s', config "
				  "says '%s'",
				  d, got, di);
			store_layer_descs_free(v, i + 1);
			return -1;
		}
	}
	*out = v;
	*nr = n;
	return 0;
}

int store_image_size(struct store *s, const struct store_image *img,
		     uint64_t *size, struct error **err)
{
	struct store_layer_desc *v;
	size_t n;
	if (store_image_layers(s, img, &v, &n, err) < 0)
		return -1;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += v[i].usize;
	store_layer_descs_free(v, n);
	*size = total;
	return 0;
}

int store_image_write(struct store *s, const char *config, size_t config_len,
		      const struct store_layer_desc *layers, size_t nr,
		      char *manifest_digest, int64_t *manifest_size,
		      char *config_digest, struct error **err)
{
	char cd[STORE_DIGEST_MAX];
	if (store_blob_put(s, config, config_len, NULL, cd, err) < 0)
		return -1;
	json_t *m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(STORE_MT_OCI_MANIFEST));
	json_t *c = json_object();
	json_object_set_new(c, "mediaType", json_string(STORE_MT_OCI_CONFIG));
	json_object_set_new(c, "digest", json_string(cd));
	json_object_set_new(c, "size", json_integer((json_int_t)config_len));
	json_object_set_new(m, "config", c);
	json_t *ls = json_array();
	for (size_t i = 0; i < nr; i++) {
		if (!store_blob_exists(s, layers[i].digest)) {
			json_decref(m);
			json_decref(ls);
			error_set(err, KILN_ENOTFOUND,
				  "image: layer blob '%s' not in the store",
				  layers[i].digest);
			return -1;
		}
		json_t *l = json_object();
		json_object_set_new(l, "mediaType",
				    json_string(layers[i].media_type));
		json_object_set_new(l, "digest", json_string(layers[i].digest));
		json_object_set_new(l, "size", json_integer(layers[i].size));
		json_array_append_new(ls, l);
	}
	json_object_set_new(m, "layers", ls);
	cleanup_free char *mbuf = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	char md[STORE_DIGEST_MAX];
	if (store_blob_put(s, mbuf, strlen(mbuf), NULL, md, err) < 0)
		return -1;
	if (manifest_digest)
		memcpy(manifest_digest, md, STORE_DIGEST_MAX);
	if (manifest_size)
		*manifest_size = (int64_t)strlen(mbuf);
	if (config_digest)
		memcpy(config_digest, cd, STORE_DIGEST_MAX);
	return 0;
}
