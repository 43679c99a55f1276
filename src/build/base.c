/*
 * build base images: the images a build starts from or copies out of
 * (FROM, COPY --from, RUN --mount from=) that are not stages.  Each name
 * is resolved once per build: from the store, or pulled through registry/
 * when the store lacks it (or, with --pull, always checked against its
 * registry first).  The pull shows as an internal step.  Resolutions are
 * serialised by images_lock; b->lock is never held across a pull, so the
 * progress printer keeps working.
 */
#include "build/build-internal.h"
#include "registry/registry.h"

static int image_layers(struct build *b, struct store_image *img,
			struct build_layer **out, size_t *n, struct error **err)
{
	struct store_layer_desc *v;
	size_t nr;
	if (store_image_layers(b->s, img, &v, &nr, err) < 0)
		return -1;
	*out = xcalloc(nr + 1, sizeof(**out));
	for (size_t i = 0; i < nr; i++) {
		(*out)[i].diffid = xstrdup(v[i].diffid);
		(*out)[i].digest = xstrdup(v[i].digest);
		(*out)[i].media_type = xstrdup(v[i].media_type);
		(*out)[i].size = v[i].size;
		(*out)[i].usize = v[i].usize;
	}
	*n = nr;
	store_layer_descs_free(v, nr);
	return 0;
}

/* A multi-line registry error ("every endpoint failed:\n  a: x\n  b: y")
 * as one line ("every endpoint failed: a: x; b: y"). */
static char *one_line(const char *msg)
{
	struct strbuf sb = STRBUF_INIT;
	for (const char *p = msg; *p; p++) {
		if (*p != '\n') {
			strbuf_addch(&sb, *p);
			continue;
		}
		while (p[1] == ' ' || p[1] == '\t')
			p++;
		strbuf_addstr(&sb,
			      sb.len && sb.buf[sb.len - 1] == ':' ? " " : "; ");
	}
	return strbuf_detach(&sb, NULL);
}

struct pull_progress {
	struct build *b;
	struct build_step_info *si;
};

static void pull_status(void *data, const char *line)
{
	struct pull_progress *pp = data;
	cleanup_free char *l = xstrfmt("%s\n", line);
	build_progress_output(pp->b, pp->si, l, strlen(l));
}

/*
 * Pull `name` into the store as an internal step; returns the image
 * manifest's digest (caller frees) or NULL with *err.
 */
static char *pull(struct build *b, const char *name, const char *platform,
		  struct error **err)
{
	if (!b->rc) {
		b->rc = registry_client_new(b->o->registry, err);
		if (!b->rc)
			return NULL;
	}
	cleanup_free char *text = xstrfmt("pull %s", name);
	struct build_step_info si = { .stage = "internal",
				      .index = 1,
				      .total = 1,
				      .text = text,
				      .internal = true };
	struct pull_progress pp = { b, &si };
	struct registry_pull_result res;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	build_progress_start(b, &si);
	int ret = registry_pull_image(b->rc, b->s, name,
				      platform ? platform : b->o->platform,
				      pull_status, &pp, &res, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (ret < 0) {
		build_progress_done(b, &si, false, secs, *err);
		return NULL;
	}
	cleanup_free char *line = xstrfmt("%s: %s %s\n", res.name,
					  res.up_to_date ? "image is up to date"
							 : "downloaded newer "
							   "image",
					  res.digest);
	build_progress_output(b, &si, line, strlen(line));
	build_progress_done(b, &si, false, secs, NULL);
	char *digest = xstrdup(res.digest);
	registry_pull_result_release(&res);
	return digest;
}

/*
 * Does --pull ask the registry about `name`?  Not for what is no
 * reference (an image ID) nor for a digest the store has: content
 * addressed, it cannot have changed.
 */
static bool should_check(struct build *b, const char *name)
{
	struct registry_ref ref = { 0 };
	if (registry_ref_parse(&ref, name, NULL) < 0)
		return false;
	bool check = !ref.digest || !store_blob_exists(b->s, ref.digest);
	registry_ref_release(&ref);
	return check;
}

static struct store_image *find_or_pull(struct build *b, const char *name,
					const char *platform,
					struct error **err)
{
	struct error *e = NULL;
	struct store_image *img = NULL;
	bool check = b->o->pull && should_check(b, name);
	if (!check) {
		img = store_image_lookup(b->s, name, &e);
		if (img || !e || e->code != KILN_ENOTFOUND) {
			if (!img)
				error_set(err, e ? e->code : KILN_EINTERNAL,
					  "%s: %s", name,
					  e ? e->msg : "lookup failed");
			error_free(e);
			return img;
		}
		error_clear(&e);
	}
	cleanup_free char *digest = pull(b, name, platform, &e);
	if (!digest) {
		cleanup_free char *why = one_line(e ? e->msg : "failed");
		if (check)
			error_set(err, e ? e->code : KILN_EINTERNAL,
				  "--pull: image \"%s\": %s", name, why);
		else
			error_set(err, KILN_ENOTFOUND,
				  "image \"%s\" not found in the local store, "
				  "and pulling it failed: %s",
				  name, why);
		error_free(e);
		return NULL;
	}
	return store_image_load(b->s, digest, err);
}

struct build_image *build_get_image_for(struct build *b, const char *name,
					const char *platform,
					struct error **err)
{
	pthread_mutex_lock(&b->images_lock);
	struct build_image *bi = NULL;
	for (size_t i = 0; i < b->nimages && !bi; i++)
		if (!strcmp(b->images[i]->name, name))
			bi = b->images[i];
	if (bi) {
		pthread_mutex_unlock(&b->images_lock);
		return bi;
	}
	struct store_image *img = find_or_pull(b, name, platform, err);
	if (img) {
		bi = xcalloc(1, sizeof(*bi));
		if (image_layers(b, img, &bi->layers, &bi->nlayers, err) < 0) {
			store_image_free(img);
			free(bi);
			bi = NULL;
		}
	}
	if (bi) {
		bi->name = xstrdup(name);
		bi->img = img;
		/* the filesystem's identity: a new base under the same name
		 * (--pull) changes every key after it */
		struct build_keyer k;
		build_key_init(&k, NULL);
		build_key_addf(&k, "image %s", img->config_digest);
		build_key_final(&k, bi->key);
		ALLOC_GROW(b->images, b->nimages + 1, b->images_alloc);
		b->images[b->nimages++] = bi;
	}
	pthread_mutex_unlock(&b->images_lock);
	return bi;
}

struct build_image *build_get_image(struct build *b, const char *name,
				    struct error **err)
{
	return build_get_image_for(b, name, NULL, err);
}

void build_images_release(struct build *b)
{
	for (size_t i = 0; i < b->nimages; i++) {
		struct build_image *bi = b->images[i];
		free(bi->name);
		store_image_free(bi->img);
		for (size_t j = 0; j < bi->nlayers; j++)
			build_layer_release(&bi->layers[j]);
		free(bi->layers);
		free(bi);
	}
	free(b->images);
	b->images = NULL;
	b->nimages = 0;
	registry_client_free(b->rc);
	b->rc = NULL;
	pthread_mutex_destroy(&b->images_lock);
}
