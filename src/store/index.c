/*
 * Refs: the manifests listed in index.json, one descriptor per tag plus
 * untagged (dangling) entries.  index.json is replaced atomically (staged
 * in tmp/, fsync'd, renamed, directory fsync'd) under an exclusive flock on
 * index.lock, so concurrent kiln processes never lose each other's tags.
 * Descriptor fields kiln does not know (platform, other annotations) are
 * kept as they were read.
 */
#include "store/store-internal.h"

#include <sys/file.h>

static bool is_manifest_type(const char *mt)
{
	return !strcmp(mt, STORE_MT_OCI_MANIFEST) ||
	       !strcmp(mt, STORE_MT_OCI_INDEX) ||
	       !strcmp(mt, STORE_MT_DOCKER_MANIFEST) ||
	       !strcmp(mt, STORE_MT_DOCKER_LIST);
}

/* Each ref keeps its descriptor as read, in a side array parallel to v. */
struct refs_raw {
	json_t **v;
	size_t nr, alloc;
};

static void ref_release(struct store_ref *r)
{
	free(r->name);
	free(r->digest);
	free(r->media_type);
	memset(r, 0, sizeof(*r));
}

void store_refs_release(struct store_refs *refs)
{
	for (size_t i = 0; i < refs->nr; i++)
		ref_release(&refs->v[i]);
	free(refs->v);
	refs->v = NULL;
	refs->nr = refs->alloc = 0;
}

const struct store_ref *store_refs_find(const struct store_refs *refs,
					const char *name)
{
	for (size_t i = 0; i < refs->nr; i++)
		if (refs->v[i].name && !strcmp(refs->v[i].name, name))
			return &refs->v[i];
	return NULL;
}

static char *ref_name_of(json_t *ann)
{
	const char *names[2] = {
		json_string_value(json_object_get(ann, STORE_ANN_IMAGE_NAME)),
		json_string_value(json_object_get(ann, STORE_ANN_REF_NAME)),
	};
	for (int i = 0; i < 2; i++) {
		if (!names[i] || !*names[i])
			continue;
		struct error *e = NULL;
		char *n = store_ref_normalize(names[i], &e);
		error_free(e);
		if (n)
			return n;
	}
	return NULL;
}

static int parse_index(const char *buf, size_t len, struct store_refs *refs,
		       struct refs_raw *raw, struct error **err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, 0, &je);
	json_t *m = j ? json_object_get(j, "manifests") : NULL;
	if (!j || !json_is_object(j) || (m && !json_is_array(m))) {
		error_set(err, KILN_ECORRUPT, "index.json: invalid: %s",
			  j ? "not an image index" : je.text);
		json_decref(j);
		return -1;
	}
	size_t i;
	json_t *d;
	json_array_foreach(m, i, d)
	{
		const char *mt = json_string_value(json_object_get(d, "mediaTyp"
								      "e"));
		const char *dg = json_string_value(json_object_get(d, "diges"
								      "t"));
		json_t *sz = json_object_get(d, "size");
		if (!mt || !dg || !json_is_integer(sz)) {
			error_set(err, KILN_ECORRUPT,
				  "index.json: manifest %zu: invalid "
				  "descriptor",
				  i);
			json_decref(j);
			return -1;
		}
		if (!is_manifest_type(mt))
			continue;
		ALLOC_GROW(refs->v, refs->nr + 1, refs->alloc);
		struct store_ref *r = &refs->v[refs->nr++];
		memset(r, 0, sizeof(*r));
		json_t *ann = json_object_get(d, "annotations");
		r->name = ref_name_of(ann);
		r->digest = xstrdup(dg);
		r->media_type = xstrdup(mt);
		r->size = json_integer_value(sz);
		const char *tt = json_string_value(
			json_object_get(ann, STORE_ANN_TAG_TIME));
		int64_t t;
		if (tt && !store_time_parse(tt, &t))
			r->tag_time = t;
		if (raw) {
			ALLOC_GROW(raw->v, raw->nr + 1, raw->alloc);
			raw->v[raw->nr++] = json_incref(d);
		}
	}
	json_decref(j);
	return 0;
}

static int read_index(struct store *s, struct store_refs *refs,
		      struct refs_raw *raw, struct error **err)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	cleanup_close int fd =
		openat(s->root_fd, "index.json", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		error_set_errno(err, "open '%s/index.json'", s->root);
		return -1;
	}
	if (strbuf_read_fd(&sb, fd) < 0) {
		error_set_errno(err, "read '%s/index.json'", s->root);
		return -1;
	}
	return parse_index(sb.buf, sb.len, refs, raw, err);
}

int store_refs_read(struct store *s, struct store_refs *refs,
		    struct error **err)
{
	return read_index(s, refs, NULL, err);
}

static json_t *find_raw(const struct refs_raw *raw, const struct store_ref *r)
{
	/* the first raw descriptor for this digest not yet used */
	for (size_t i = 0; i < raw->nr; i++) {
		if (!raw->v[i])
			continue;
		const char *dg =
			json_string_value(json_object_get(raw->v[i], "digest"));
		if (!dg || strcmp(dg, r->digest))
			continue;
		cleanup_free char *n =
			ref_name_of(json_object_get(raw->v[i], "annotations"));
		if ((!n && !r->name) || (n && r->name && !strcmp(n, r->name))) {
			json_t *j = raw->v[i];
			raw->v[i] = NULL;
			return j;
		}
	}
	return NULL;
}

static char *index_serialise(const struct store_refs *refs,
			     struct refs_raw *raw)
{
	json_t *m = json_array();
	for (size_t i = 0; i < refs->nr; i++) {
		const struct store_ref *r = &refs->v[i];
		json_t *old = find_raw(raw, r);
		json_t *d = json_object();
		json_object_set_new(d, "mediaType", json_string(r->media_type));
		json_object_set_new(d, "digest", json_string(r->digest));
		json_object_set_new(d, "size", json_integer(r->size));
		json_t *ann = json_object();
		if (old) {
			const char *k;
			json_t *v;
			json_object_foreach(old, k, v)
			{
				if (strcmp(k, "mediaType") &&
				    strcmp(k, "digest") && strcmp(k, "size") &&
				    strcmp(k, "annotations"))
					json_object_set(d, k, v);
			}
			json_t *oa = json_object_get(old, "annotations");
			json_object_foreach(oa, k, v)
			{
				if (strcmp(k, STORE_ANN_REF_NAME) &&
				    strcmp(k, STORE_ANN_IMAGE_NAME) &&
				    strcmp(k, STORE_ANN_TAG_TIME))
					json_object_set(ann, k, v);
			}
			json_decref(old);
		}
		if (r->name) {
			cleanup_free char *fam = store_ref_familiar(r->name);
			json_object_set_new(ann, STORE_ANN_IMAGE_NAME,
					    json_string(r->name));
			json_object_set_new(ann, STORE_ANN_REF_NAME,
					    json_string(fam));
		}
		if (r->tag_time) {
			time_t t = (time_t)r->tag_time;
			struct tm tm;
			char buf[64];
			gmtime_r(&t, &tm);
			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_object_set_new(ann, STORE_ANN_TAG_TIME,
					    json_string(buf));
		}
		if (json_object_size(ann))
			json_object_set_new(d, "annotations", ann);
		else
			json_decref(ann);
		json_array_append_new(m, d);
	}
	json_t *j = json_object();
	json_object_set_new(j, "schemaVersion", json_integer(2));
	json_object_set_new(j, "mediaType", json_string(STORE_MT_OCI_INDEX));
	json_object_set_new(j, "manifests", m);
	char *out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

static void raw_release(struct refs_raw *raw)
{
	for (size_t i = 0; i < raw->nr; i++)
		json_decref(raw->v[i]);
	free(raw->v);
}

int store_refs_update(struct store *s, store_refs_update_fn fn, void *data,
		      struct error **err)
{
	if (store_lock_for_write(s, err) < 0)
		return -1;
	cleanup_close int lfd = openat(s->root_fd, "index.lock",
				       O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0) {
		error_set_errno(err, "open '%s/index.lock'", s->root);
		return -1;
	}
	while (flock(lfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			error_set_errno(err, "lock '%s/index.lock'", s->root);
			return -1;
		}
	}
	struct store_refs refs = STORE_REFS_INIT;
	struct refs_raw raw = { NULL, 0, 0 };
	int ret = read_index(s, &refs, &raw, err);
	if (!ret)
		ret = fn(&refs, data, err);
	if (!ret) {
		cleanup_free char *buf = index_serialise(&refs, &raw);
		ret = store_write_atomic(s, s->root_fd, "index.json", buf,
					 strlen(buf), "index.json", err);
	}
	raw_release(&raw);
	store_refs_release(&refs);
	return ret; /* closing lfd drops the lock */
}

/* ------------------------------------------------------------ operations */

static bool digest_referenced(const struct store_refs *refs, const char *d)
{
	for (size_t i = 0; i < refs->nr; i++)
		if (!strcmp(refs->v[i].digest, d))
			return true;
	return false;
}

static void refs_remove(struct store_refs *refs, size_t i)
{
	ref_release(&refs->v[i]);
	memmove(&refs->v[i], &refs->v[i + 1],
		(refs->nr - i - 1) * sizeof(refs->v[0]));
	refs->nr--;
}

static void refs_push(struct store_refs *refs, const char *name,
		      const char *digest, const char *mt, int64_t size,
		      int64_t tag_time)
{
	ALLOC_GROW(refs->v, refs->nr + 1, refs->alloc);
	struct store_ref *r = &refs->v[refs->nr++];
	r->name = name ? xstrdup(name) : NULL;
	r->digest = xstrdup(digest);
	r->media_type = xstrdup(mt);
	r->size = size;
	r->tag_time = tag_time;
}

struct set_data {
	const char *name;
	const struct store_desc *desc;
};

static int set_fn(struct store_refs *refs, void *data, struct error **err)
{
	struct set_data *sd = data;
	const struct store_desc *d = sd->desc;
	if (!sd->name) {
		if (!digest_referenced(refs, d->digest))
			refs_push(refs, NULL, d->digest, d->media_type, d->size,
				  0);
		return 0;
	}
	char *old = NULL, *old_mt = NULL;
	int64_t old_size = 0;
	for (size_t i = 0; i < refs->nr; i++) {
		struct store_ref *r = &refs->v[i];
		if (r->name && !strcmp(r->name, sd->name)) {
			free(old);
			free(old_mt);
			old = xstrdup(r->digest);
			old_mt = xstrdup(r->media_type);
			old_size = r->size;
			refs_remove(refs, i--);
		} else if (!r->name && !strcmp(r->digest, d->digest)) {
			refs_remove(refs, i--);
		}
	}
	refs_push(refs, sd->name, d->digest, d->media_type, d->size,
		  (int64_t)time(NULL));
	/* keep the previous image as dangling, as docker does */
	if (old && strcmp(old, d->digest) && !digest_referenced(refs, old))
		refs_push(refs, NULL, old, old_mt, old_size, 0);
	free(old_mt);
	free(old);
	return 0;
}

int store_ref_set(struct store *s, const char *name,
		  const struct store_desc *manifest, struct error **err)
{
	struct set_data sd = { name, manifest };
	if (!store_digest_valid(manifest->digest)) {
		error_set(err, KILN_EINVAL, "tag: invalid digest '%s'",
			  manifest->digest);
		return -1;
	}
	return store_refs_update(s, set_fn, &sd, err);
}

struct del_data {
	const char *name;
	char *old;
};

static int del_fn(struct store_refs *refs, void *data, struct error **err)
{
	struct del_data *dd = data;
	for (size_t i = 0; i < refs->nr; i++) {
		if (refs->v[i].name && !strcmp(refs->v[i].name, dd->name)) {
			if (dd->old && store_digest_valid(refs->v[i].digest))
				memcpy(dd->old, refs->v[i].digest,
				       STORE_DIGEST_MAX);
			else if (dd->old)
				dd->old[0] = '\0';
			refs_remove(refs, i);
			return 0;
		}
	}
	error_set(err, KILN_ENOTFOUND, "no such image: '%s'", dd->name);
	return -1;
}

int store_ref_delete(struct store *s, const char *name, char *old_digest,
		     struct error **err)
{
	struct del_data dd = { name, old_digest };
	return store_refs_update(s, del_fn, &dd, err);
}

static int deldigest_fn(struct store_refs *refs, void *data, struct error **err)
{
	const char *digest = data;
	for (size_t i = 0; i < refs->nr; i++)
		if (!strcmp(refs->v[i].digest, digest))
			refs_remove(refs, i--);
	return 0;
}

int store_ref_delete_digest(struct store *s, const char *digest,
			    struct error **err)
{
	return store_refs_update(s, deldigest_fn, (void *)digest, err);
}
