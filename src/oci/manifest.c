/*
 * manifest.c: descriptors, image manifests and indexes (OCI and Docker
 * schema2), the oci-layout file and docker save's manifest.json.  Readers
 * reject wrong types and malformed digests or media types and ignore
 * unknown members; writers emit the image-spec Go structs' key order.
 */
#include "oci/oci-internal.h"
#include <ctype.h>

/* ---------------------------------------------------------------- media types
 */

enum oci_kind oci_mediatype_kind(const char *mt)
{
	if (!mt)
		return OCI_KIND_UNKNOWN;
	if (!strcmp(mt, OCI_MEDIATYPE_MANIFEST) ||
	    !strcmp(mt, DOCKER_MEDIATYPE_MANIFEST))
		return OCI_KIND_MANIFEST;
	if (!strcmp(mt, OCI_MEDIATYPE_INDEX) ||
	    !strcmp(mt, DOCKER_MEDIATYPE_MANIFEST_LIST))
		return OCI_KIND_INDEX;
	if (!strcmp(mt, OCI_MEDIATYPE_CONFIG) ||
	    !strcmp(mt, DOCKER_MEDIATYPE_CONFIG))
		return OCI_KIND_CONFIG;
	if (oci_layer_compression(mt) != OCI_COMPRESSION_UNKNOWN)
		return OCI_KIND_LAYER;
	return OCI_KIND_UNKNOWN;
}

enum oci_compression oci_layer_compression(const char *mt)
{
	static const struct {
		const char *mt;
		enum oci_compression c;
	} layers[] = {
		{ OCI_MEDIATYPE_LAYER, OCI_COMPRESSION_NONE },
		{ OCI_MEDIATYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP },
		{ OCI_MEDIATYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD },
		{ "application/vnd.oci.image.layer.nondistributable.v1.tar",
		  OCI_COMPRESSION_NONE },
		{ "application/"
		  "vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		  OCI_COMPRESSION_GZIP },
		{ "application/"
		  "vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		  OCI_COMPRESSION_ZSTD },
		{ DOCKER_MEDIATYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP },
		{ DOCKER_MEDIATYPE_LAYER_FOREIGN, OCI_COMPRESSION_GZIP },
		{ "application/vnd.docker.image.rootfs.diff.tar",
		  OCI_COMPRESSION_NONE },
		{ "application/vnd.docker.image.rootfs.diff.tar.zstd",
		  OCI_COMPRESSION_ZSTD },
	};
	for (size_t i = 0; mt && i < ARRAY_SIZE(layers); i++)
		if (!strcmp(mt, layers[i].mt))
			return layers[i].c;
	return OCI_COMPRESSION_UNKNOWN;
}

/* restricted-name = [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} */
static bool restricted_name(const char *s, size_t n)
{
	if (n < 1 || n > 127 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("!#$&^_.+-", s[i]))
			return false;
	return true;
}

bool oci_mediatype_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash && restricted_name(s, slash - s) &&
	       restricted_name(slash + 1, strlen(slash + 1));
}

/* ---------------------------------------------------------------- descriptors
 */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void oci_descriptor_release(struct oci_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	oci_strlist_release(&d->urls);
	oci_map_release(&d->annotations);
	free(d->data);
	if (d->platform) {
		oci_platform_release(d->platform);
		free(d->platform);
	}
	free(d->artifact_type);
	memset(d, 0, sizeof(*d));
}

void oci_descriptor_free(struct oci_descriptor *d)
{
	if (!d)
		return;
	oci_descriptor_release(d);
	free(d);
}

void oci_descriptor_copy(struct oci_descriptor *dst,
			 const struct oci_descriptor *src)
{
	oci_descriptor_release(dst);
	dst->media_type = dup_or_null(src->media_type);
	dst->digest = dup_or_null(src->digest);
	dst->size = src->size;
	oci_strlist_copy(&dst->urls, &src->urls);
	oci_map_copy(&dst->annotations, &src->annotations);
	dst->data = dup_or_null(src->data);
	if (src->platform) {
		dst->platform = xcalloc(1, sizeof(*dst->platform));
		oci_platform_copy(dst->platform, src->platform);
	}
	dst->artifact_type = dup_or_null(src->artifact_type);
}

/* RFC 3986 absolute URI, loosely: scheme ":" then no blanks or controls. */
static bool looks_like_uri(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	const char *p = s + 1;
	while (*p && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
		p++;
	if (*p != ':' || !p[1])
		return false;
	for (p++; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("\"<>\\^`{|}", *p))
			return false;
	return true;
}

/* Standard base64 with padding (what Go's []byte marshals to). */
static bool valid_base64(const char *s)
{
	size_t n = strlen(s), pad = 0;
	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i < n - 2)
				return false;
			pad++;
		} else if (pad || !(isalnum((unsigned char)s[i]) ||
				    s[i] == '+' || s[i] == '/')) {
			return false;
		}
	}
	return true;
}

static int check_mediatype(const char *mt, const char *ctx, const char *key,
			   struct error **err)
{
	if (mt && !oci_mediatype_valid(mt)) {
		error_set(err, KILN_EINVAL, "%s: invalid %s '%s'", ctx, key,
			  mt);
		return -1;
	}
	return 0;
}

int oci_descriptor_from_json(const json_t *j, struct oci_descriptor *d,
			     const char *ctx, struct error **err)
{
	if (!json_is_object(j)) {
		error_set(err, KILN_EINVAL,
			  "%s: a descriptor must be an object, not %s", ctx,
			  oj_type_name(j));
		return -1;
	}
	if (oj_get_string(j, "mediaType", true, &d->media_type, ctx, err) ||
	    check_mediatype(d->media_type, ctx, "mediaType", err) ||
	    oj_get_string(j, "digest", true, &d->digest, ctx, err) ||
	    oj_get_int(j, "size", true, &d->size, ctx, err) ||
	    oj_get_strlist(j, "urls", &d->urls, ctx, err) ||
	    oj_get_map(j, "annotations", false, &d->annotations, ctx, err) ||
	    oj_get_string(j, "data", false, &d->data, ctx, err) ||
	    oj_get_string(j, "artifactType", false, &d->artifact_type, ctx,
			  err) ||
	    check_mediatype(d->artifact_type, ctx, "artifactType", err))
		return -1;
	if (oci_digest_check_grammar(d->digest, err)) {
		error_wrap(err, "%s", ctx);
		return -1;
	}
	if (d->size < 0) {
		error_set(err, KILN_EINVAL, "%s: negative size %lld", ctx,
			  (long long)d->size);
		return -1;
	}
	for (size_t i = 0; i < d->urls.nr; i++) {
		if (!looks_like_uri(d->urls.v[i])) {
			error_set(err, KILN_EINVAL, "%s: invalid URL '%s'", ctx,
				  d->urls.v[i]);
			return -1;
		}
	}
	if (d->data && !valid_base64(d->data)) {
		error_set(err, KILN_EINVAL, "%s: 'data' is not valid base64",
			  ctx);
		return -1;
	}
	/* null means unset where the schema has no null */
	if (d->urls.state == OCI_NULL)
		d->urls.state = OCI_ABSENT;
	if (d->annotations.state == OCI_NULL)
		d->annotations.state = OCI_ABSENT;

	const json_t *p = json_object_get(j, "platform");
	if (p && !json_is_null(p)) {
		d->platform = xcalloc(1, sizeof(*d->platform));
		if (oci_platform_from_json(p, d->platform, ctx, err))
			return -1;
		if (d->platform->os_features.state == OCI_NULL)
			d->platform->os_features.state = OCI_ABSENT;
	}
	return 0;
}

json_t *oci_descriptor_to_json(const struct oci_descriptor *d, const char *ctx,
			       struct error **err)
{
	if (!d->media_type || !d->digest) {
		error_set(err, KILN_EINVAL, "%s: descriptor needs %s", ctx,
			  d->media_type ? "a digest" : "a media type");
		return NULL;
	}
	if (check_mediatype(d->media_type, ctx, "mediaType", err) ||
	    check_mediatype(d->artifact_type, ctx, "artifactType", err))
		return NULL;
	if (oci_digest_check_grammar(d->digest, err)) {
		error_wrap(err, "%s", ctx);
		return NULL;
	}
	if (d->size < 0) {
		error_set(err, KILN_EINVAL, "%s: negative size", ctx);
		return NULL;
	}
	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_put_string(j, "mediaType", d->media_type);
	oj_put_string(j, "digest", d->digest);
	oj_set_new(j, "size", json_integer(d->size));
	if (d->urls.state == OCI_PRESENT)
		oj_put_strlist(j, "urls", &d->urls);
	if (d->annotations.state == OCI_PRESENT)
		oj_put_map(j, "annotations", &d->annotations);
	oj_put_string(j, "data", d->data);
	if (d->platform) {
		json_t *p = oci_platform_to_json(d->platform, ctx, err);
		if (!p) {
			json_decref(j);
			return NULL;
		}
		oj_set_new(j, "platform", p);
	}
	oj_put_string(j, "artifactType", d->artifact_type);
	return j;
}

struct oci_descriptor *oci_descriptor_parse(const char *buf, size_t len,
					    struct error **err)
{
	json_t *j = oj_load_object(buf, len, "descriptor", err);
	if (!j)
		return NULL;
	struct oci_descriptor *d = xcalloc(1, sizeof(*d));
	if (oci_descriptor_from_json(j, d, "descriptor", err)) {
		oci_descriptor_free(d);
		d = NULL;
	}
	json_decref(j);
	return d;
}

static int dump_new(json_t *j, struct strbuf *out)
{
	if (!j)
		return -1;
	oj_dump(j, out);
	json_decref(j);
	return 0;
}

int oci_descriptor_serialize(const struct oci_descriptor *d, struct strbuf *out,
			     struct error **err)
{
	return dump_new(oci_descriptor_to_json(d, "descriptor", err), out);
}

/* ---------------------------------------------------------------- shared */

static int get_schema_version(const json_t *j, int *out, const char *ctx,
			      struct error **err)
{
	int64_t v = 0;
	if (oj_get_int(j, "schemaVersion", true, &v, ctx, err))
		return -1;
	if (v != 2) {
		error_set(err, KILN_EINVAL,
			  "%s: unsupported schemaVersion %lld (want 2)", ctx,
			  (long long)v);
		return -1;
	}
	*out = 2;
	return 0;
}

static int get_descriptor_array(const json_t *j, const char *key,
				struct oci_descriptor **out, size_t *nr,
				const char *ctx, struct error **err)
{
	const json_t *a = json_object_get(j, key);
	if (!a) {
		error_set(err, KILN_EINVAL, "%s: missing required field '%s'",
			  ctx, key);
		return -1;
	}
	if (!json_is_array(a)) {
		error_set(err, KILN_EINVAL, "%s: '%s' must be an array, not %s",
			  ctx, key, oj_type_name(a));
		return -1;
	}
	size_t n = json_array_size(a);
	*out = xcalloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *c = xstrfmt("%s: %s[%zu]", ctx, key, i);
		*nr = i + 1;
		if (oci_descriptor_from_json(json_array_get(a, i), &(*out)[i],
					     c, err))
			return -1;
	}
	*nr = n;
	return 0;
}

static int get_subject(const json_t *j, struct oci_descriptor **out,
		       const char *ctx, struct error **err)
{
	const json_t *s = json_object_get(j, "subject");
	if (!s || json_is_null(s))
		return 0;
	*out = xcalloc(1, sizeof(**out));
	cleanup_free char *c = xstrfmt("%s: subject", ctx);
	return oci_descriptor_from_json(s, *out, c, err);
}

static int get_annotations(const json_t *j, struct oci_map *m, const char *ctx,
			   struct error **err)
{
	if (oj_get_map(j, "annotations", false, m, ctx, err))
		return -1;
	if (m->state == OCI_NULL)
		m->state = OCI_ABSENT;
	return 0;
}

static int put_descriptor(json_t *j, const char *key,
			  const struct oci_descriptor *d, const char *ctx,
			  struct error **err)
{
	cleanup_free char *c = xstrfmt("%s: %s", ctx, key);
	json_t *dj = oci_descriptor_to_json(d, c, err);
	if (!dj)
		return -1;
	oj_set_new(j, key, dj);
	return 0;
}

static int put_descriptor_array(json_t *j, const char *key,
				const struct oci_descriptor *d, size_t nr,
				const char *ctx, struct error **err)
{
	json_t *a = json_array();
	if (!a)
		die("out of memory building JSON");
	for (size_t i = 0; i < nr; i++) {
		cleanup_free char *c = xstrfmt("%s: %s[%zu]", ctx, key, i);
		json_t *dj = oci_descriptor_to_json(&d[i], c, err);
		if (!dj) {
			json_decref(a);
			return -1;
		}
		if (json_array_append_new(a, dj))
			die("out of memory building JSON");
	}
	oj_set_new(j, key, a);
	return 0;
}

/* ---------------------------------------------------------------- manifest */

void oci_manifest_release(struct oci_manifest *m)
{
	free(m->media_type);
	free(m->artifact_type);
	oci_descriptor_release(&m->config);
	for (size_t i = 0; i < m->layers_nr; i++)
		oci_descriptor_release(&m->layers[i]);
	free(m->layers);
	oci_descriptor_free(m->subject);
	oci_map_release(&m->annotations);
	memset(m, 0, sizeof(*m));
}

void oci_manifest_free(struct oci_manifest *m)
{
	if (!m)
		return;
	oci_manifest_release(m);
	free(m);
}

void oci_manifest_add_layer(struct oci_manifest *m,
			    const struct oci_descriptor *d)
{
	m->layers = xrealloc(m->layers,
			     st_mult(m->layers_nr + 1, sizeof(*m->layers)));
	memset(&m->layers[m->layers_nr], 0, sizeof(*m->layers));
	oci_descriptor_copy(&m->layers[m->layers_nr++], d);
}

static int manifest_from_json(const json_t *j, struct oci_manifest *m,
			      unsigned flags, struct error **err)
{
	const char *ctx = "manifest";
	if (get_schema_version(j, &m->schema_version, ctx, err) ||
	    oj_get_string(j, "mediaType", false, &m->media_type, ctx, err) ||
	    oj_get_string(j, "artifactType", false, &m->artifact_type, ctx,
			  err) ||
	    check_mediatype(m->artifact_type, ctx, "artifactType", err))
		return -1;
	if (m->media_type &&
	    oci_mediatype_kind(m->media_type) != OCI_KIND_MANIFEST) {
		error_set(err, KILN_EINVAL,
			  "manifest: mediaType '%s' is not an image manifest",
			  m->media_type);
		return -1;
	}
	const json_t *c = json_object_get(j, "config");
	if (!c) {
		error_set(err, KILN_EINVAL,
			  "manifest: missing required field 'config'");
		return -1;
	}
	if (oci_descriptor_from_json(c, &m->config, "manifest: config", err) ||
	    get_descriptor_array(j, "layers", &m->layers, &m->layers_nr, ctx,
				 err) ||
	    get_subject(j, &m->subject, ctx, err) ||
	    get_annotations(j, &m->annotations, ctx, err))
		return -1;
	if ((flags & OCI_PARSE_SCHEMA) && !m->layers_nr) {
		error_set(err, KILN_EINVAL, "manifest: 'layers' is empty");
		return -1;
	}
	return 0;
}

struct oci_manifest *oci_manifest_parse(const char *buf, size_t len,
					unsigned flags, struct error **err)
{
	json_t *j = oj_load_object(buf, len, "manifest", err);
	if (!j)
		return NULL;
	struct oci_manifest *m = xcalloc(1, sizeof(*m));
	if (manifest_from_json(j, m, flags, err)) {
		oci_manifest_free(m);
		m = NULL;
	}
	json_decref(j);
	return m;
}

static json_t *manifest_to_json(const struct oci_manifest *m,
				struct error **err)
{
	const char *ctx = "manifest";
	if (m->schema_version != 2) {
		error_set(err, KILN_EINVAL,
			  "manifest: schemaVersion must be 2");
		return NULL;
	}
	if (m->media_type &&
	    oci_mediatype_kind(m->media_type) != OCI_KIND_MANIFEST) {
		error_set(err, KILN_EINVAL,
			  "manifest: mediaType '%s' is not an image manifest",
			  m->media_type);
		return NULL;
	}
	if (check_mediatype(m->artifact_type, ctx, "artifactType", err))
		return NULL;
	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_set_new(j, "schemaVersion", json_integer(m->schema_version));
	oj_put_string(j, "mediaType", m->media_type);
	oj_put_string(j, "artifactType", m->artifact_type);
	if (put_descriptor(j, "config", &m->config, ctx, err) ||
	    put_descriptor_array(j, "layers", m->layers, m->layers_nr, ctx,
				 err) ||
	    (m->subject &&
	     put_descriptor(j, "subject", m->subject, ctx, err))) {
		json_decref(j);
		return NULL;
	}
	if (m->annotations.state == OCI_PRESENT)
		oj_put_map(j, "annotations", &m->annotations);
	return j;
}

int oci_manifest_serialize(const struct oci_manifest *m, struct strbuf *out,
			   struct error **err)
{
	return dump_new(manifest_to_json(m, err), out);
}

/* ---------------------------------------------------------------- index */

void oci_index_release(struct oci_index *idx)
{
	free(idx->media_type);
	free(idx->artifact_type);
	for (size_t i = 0; i < idx->manifests_nr; i++)
		oci_descriptor_release(&idx->manifests[i]);
	free(idx->manifests);
	oci_descriptor_free(idx->subject);
	oci_map_release(&idx->annotations);
	memset(idx, 0, sizeof(*idx));
}

void oci_index_free(struct oci_index *idx)
{
	if (!idx)
		return;
	oci_index_release(idx);
	free(idx);
}

void oci_index_add(struct oci_index *idx, const struct oci_descriptor *d)
{
	idx->manifests =
		xrealloc(idx->manifests, st_mult(idx->manifests_nr + 1,
						 sizeof(*idx->manifests)));
	memset(&idx->manifests[idx->manifests_nr], 0, sizeof(*idx->manifests));
	oci_descriptor_copy(&idx->manifests[idx->manifests_nr++], d);
}

void oci_index_remove(struct oci_index *idx, size_t i)
{
	if (i >= idx->manifests_nr)
		BUG("oci_index_remove: %zu out of range", i);
	oci_descriptor_release(&idx->manifests[i]);
	memmove(idx->manifests + i, idx->manifests + i + 1,
		(idx->manifests_nr - i - 1) * sizeof(*idx->manifests));
	idx->manifests_nr--;
}

ssize_t oci_index_find_annotation(const struct oci_index *idx, const char *key,
				  const char *value)
{
	for (size_t i = 0; i < idx->manifests_nr; i++) {
		const char *v =
			oci_map_get(&idx->manifests[i].annotations, key);
		if (v && !strcmp(v, value))
			return (ssize_t)i;
	}
	return -1;
}

static int index_from_json(const json_t *j, struct oci_index *idx,
			   struct error **err)
{
	const char *ctx = "index";
	if (get_schema_version(j, &idx->schema_version, ctx, err) ||
	    oj_get_string(j, "mediaType", false, &idx->media_type, ctx, err) ||
	    oj_get_string(j, "artifactType", false, &idx->artifact_type, ctx,
			  err) ||
	    check_mediatype(idx->artifact_type, ctx, "artifactType", err))
		return -1;
	if (idx->media_type &&
	    oci_mediatype_kind(idx->media_type) != OCI_KIND_INDEX) {
		error_set(err, KILN_EINVAL,
			  "index: mediaType '%s' is not an image index",
			  idx->media_type);
		return -1;
	}
	if (get_descriptor_array(j, "manifests", &idx->manifests,
				 &idx->manifests_nr, ctx, err) ||
	    get_subject(j, &idx->subject, ctx, err) ||
	    get_annotations(j, &idx->annotations, ctx, err))
		return -1;
	return 0;
}

struct oci_index *oci_index_parse(const char *buf, size_t len,
				  struct error **err)
{
	json_t *j = oj_load_object(buf, len, "index", err);
	if (!j)
		return NULL;
	struct oci_index *idx = xcalloc(1, sizeof(*idx));
	if (index_from_json(j, idx, err)) {
		oci_index_free(idx);
		idx = NULL;
	}
	json_decref(j);
	return idx;
}

static json_t *index_to_json(const struct oci_index *idx, struct error **err)
{
	const char *ctx = "index";
	if (idx->schema_version != 2) {
		error_set(err, KILN_EINVAL, "index: schemaVersion must be 2");
		return NULL;
	}
	if (idx->media_type &&
	    oci_mediatype_kind(idx->media_type) != OCI_KIND_INDEX) {
		error_set(err, KILN_EINVAL,
			  "index: mediaType '%s' is not an image index",
			  idx->media_type);
		return NULL;
	}
	if (check_mediatype(idx->artifact_type, ctx, "artifactType", err))
		return NULL;
	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_set_new(j, "schemaVersion", json_integer(idx->schema_version));
	oj_put_string(j, "mediaType", idx->media_type);
	oj_put_string(j, "artifactType", idx->artifact_type);
	if (put_descriptor_array(j, "manifests", idx->manifests,
				 idx->manifests_nr, ctx, err) ||
	    (idx->subject &&
	     put_descriptor(j, "subject", idx->subject, ctx, err))) {
		json_decref(j);
		return NULL;
	}
	if (idx->annotations.state == OCI_PRESENT)
		oj_put_map(j, "annotations", &idx->annotations);
	return j;
}

int oci_index_serialize(const struct oci_index *idx, struct strbuf *out,
			struct error **err)
{
	return dump_new(index_to_json(idx, err), out);
}

enum oci_kind oci_sniff_kind(const char *buf, size_t len)
{
	json_t *j = json_loadb(buf, len, 0, NULL);
	enum oci_kind k = OCI_KIND_UNKNOWN;
	if (!json_is_object(j))
		goto out;
	k = oci_mediatype_kind(json_string_value(json_object_get(j, "mediaTyp"
								    "e")));
	if (k != OCI_KIND_UNKNOWN)
		goto out;
	if (json_is_array(json_object_get(j, "manifests")))
		k = OCI_KIND_INDEX;
	else if (json_object_get(j, "layers") || json_object_get(j, "config") ||
		 json_is_object(json_object_get(j, "rootfs")))
		k = json_is_object(json_object_get(j, "rootfs"))
			    ? OCI_KIND_CONFIG
			    : OCI_KIND_MANIFEST;
out:
	json_decref(j);
	return k;
}

/* ---------------------------------------------------------------- layout */

int oci_layout_check(const char *buf, size_t len, struct error **err)
{
	json_t *j = oj_load_object(buf, len, "oci-layout", err);
	if (!j)
		return -1;
	char *v = NULL;
	int ret = oj_get_string(j, "imageLayoutVersion", true, &v, "oci-layout",
				err);
	if (!ret && strcmp(v, OCI_LAYOUT_VERSION)) {
		error_set(err, KILN_EINVAL,
			  "oci-layout: unsupported imageLayoutVersion '%s'", v);
		ret = -1;
	}
	free(v);
	json_decref(j);
	return ret;
}

/* ---------------------------------------------------------------- docker save
 */

void oci_archive_manifest_free(struct oci_archive_manifest *am)
{
	if (!am)
		return;
	for (size_t i = 0; i < am->nr; i++) {
		free(am->images[i].config);
		oci_strlist_release(&am->images[i].repo_tags);
		oci_strlist_release(&am->images[i].layers);
	}
	free(am->images);
	free(am);
}

struct oci_archive_image *
oci_archive_manifest_add(struct oci_archive_manifest *am, const char *config)
{
	am->images =
		xrealloc(am->images, st_mult(am->nr + 1, sizeof(*am->images)));
	struct oci_archive_image *img = &am->images[am->nr++];
	memset(img, 0, sizeof(*img));
	img->config = xstrdup(config);
	return img;
}

struct oci_archive_manifest *
oci_archive_manifest_parse(const char *buf, size_t len, struct error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, 0, &jerr);
	if (!j) {
		error_set(err, KILN_EINVAL,
			  "manifest.json: invalid JSON: %s at line %d",
			  jerr.text, jerr.line);
		return NULL;
	}
	struct oci_archive_manifest *am = xcalloc(1, sizeof(*am));
	if (!json_is_array(j)) {
		error_set(err, KILN_EINVAL,
			  "manifest.json: expected an array, got %s",
			  oj_type_name(j));
		goto fail;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(j, i, e)
	{
		cleanup_free char *ctx = xstrfmt("manifest.json: [%zu]", i);
		if (!json_is_object(e)) {
			error_set(err, KILN_EINVAL, "%s: expected an object",
				  ctx);
			goto fail;
		}
		struct oci_archive_image *img =
			oci_archive_manifest_add(am, "");
		if (oj_get_string(e, "Config", true, &img->config, ctx, err) ||
		    oj_get_strlist(e, "RepoTags", &img->repo_tags, ctx, err) ||
		    oj_get_strlist(e, "Layers", &img->layers, ctx, err))
			goto fail;
		if (img->layers.state != OCI_PRESENT) {
			error_set(err, KILN_EINVAL,
				  "%s: missing required field 'Layers'", ctx);
			goto fail;
		}
	}
	json_decref(j);
	return am;
fail:
	json_decref(j);
	oci_archive_manifest_free(am);
	return NULL;
}

int oci_archive_manifest_serialize(const struct oci_archive_manifest *am,
				   struct strbuf *out, struct error **err)
{
	json_t *a = json_array();
	if (!a)
		die("out of memory building JSON");
	for (size_t i = 0; i < am->nr; i++) {
		const struct oci_archive_image *img = &am->images[i];
		if (!img->config || !*img->config) {
			error_set(err, KILN_EINVAL,
				  "manifest.json: image %zu has no config", i);
			json_decref(a);
			return -1;
		}
		json_t *o = json_object();
		if (!o)
			die("out of memory building JSON");
		oj_put_string(o, "Config", img->config);
		if (img->repo_tags.state == OCI_ABSENT)
			oj_set_new(o, "RepoTags", json_null());
		else
			oj_put_strlist(o, "RepoTags", &img->repo_tags);
		if (img->layers.state == OCI_PRESENT)
			oj_put_strlist(o, "Layers", &img->layers);
		else
			oj_set_new(o, "Layers", json_array());
		if (json_array_append_new(a, o))
			die("out of memory building JSON");
	}
	oj_dump(a, out);
	json_decref(a);
	return 0;
}
