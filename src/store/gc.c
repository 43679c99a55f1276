/*
 * Garbage collection and checking: prune (dangling images, unreferenced
 * blobs, layer info and layer dirs, tmp/ leftovers), the per-image gc
 * behind rmi, and fsck.  Anything that deletes runs under the exclusive
 * store lock, so it never races a writer's staged or fresh data.
 */
#include "store/store-internal.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ digest sets */

struct dset {
	struct strvec v;
	bool sorted;
};

static void dset_add(struct dset *d, const char *s)
{
	if (s) {
		strvec_push(&d->v, s);
		d->sorted = false;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool dset_has(struct dset *d, const char *s)
{
	if (!d->sorted) {
		qsort(d->v.v, d->v.nr, sizeof(char *), cmp_str);
		d->sorted = true;
	}
	return d->v.nr &&
	       bsearch(&s, d->v.v, d->v.nr, sizeof(char *), cmp_str) != NULL;
}

/*
 * Add everything the manifest (or index) `digest` reaches to `blobs`, and
 * the diffIDs of its configs to `diffids` (may be NULL).  Missing or
 * unreadable blobs end the walk quietly; fsck reports them.
 */
static void mark(struct store *s, const char *digest, struct dset *blobs,
		 struct dset *diffids, int depth)
{
	dset_add(blobs, digest);
	if (depth > 4)
		return;
	json_t *m = store_blob_read_json(s, digest, NULL);
	if (!m)
		return;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(m, "manifests"), i, d)
	{
		const char *cd = json_string_value(json_object_get(d, "diges"
								      "t"));
		if (store_digest_valid(cd))
			mark(s, cd, blobs, diffids, depth + 1);
	}
	const char *cfg = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	dset_add(blobs, cfg);
	json_array_foreach(json_object_get(m, "layers"), i, d)
		dset_add(blobs, json_string_value(json_object_get(d, "diges"
								     "t")));
	if (diffids && store_digest_valid(cfg)) {
		json_t *c = store_blob_read_json(s, cfg, NULL);
		json_array_foreach(
			json_object_get(json_object_get(c, "rootfs"), "diff_"
								      "ids"),
			i, d) dset_add(diffids, json_string_value(d));
		json_decref(c);
	}
	json_decref(m);
}

/*
 * Images containers were created from are gc roots even when untagged:
 * containers/<id>/image holds the manifest digest (see store.h).  Their
 * diffIDs also go to `held` (may be NULL): layer dirs a container may be
 * running on survive `prune -a`.
 */
static void mark_containers(struct store *s, struct dset *blobs,
			    struct dset *diffids, struct dset *held,
			    struct dset *manifests)
{
	DIR *d = opendir_at(s->root_fd, STORE_CONTAINERS_DIR, 0);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_free char *p = xstrfmt("%s/image", de->d_name);
		int ifd = openat(dirfd(d), p, O_RDONLY | O_CLOEXEC);
		if (ifd < 0)
			continue;
		char buf[STORE_DIGEST_MAX + 2];
		ssize_t n = read(ifd, buf, sizeof(buf) - 1);
		close(ifd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (!store_digest_valid(buf))
			continue;
		if (manifests) {
			dset_add(manifests, buf);
			continue;
		}
		mark(s, buf, blobs, diffids, 0);
		if (held)
			mark(s, buf, blobs, held, 0);
	}
	closedir(d);
}

static int mark_refs(struct store *s, struct dset *blobs, struct dset *diffids,
		     struct error **err)
{
	struct store_refs refs = STORE_REFS_INIT;
	if (store_refs_read(s, &refs, err) < 0)
		return -1;
	for (size_t i = 0; i < refs.nr; i++)
		mark(s, refs.v[i].digest, blobs, diffids, 0);
	store_refs_release(&refs);
	mark_containers(s, blobs, diffids, NULL, NULL);
	return 0;
}

/* ------------------------------------------------------------ sweeping */

typedef void (*entry_fn)(struct store *s, int dfd, const char *name,
			 void *data);

static void for_each_entry(int parent, const char *sub, struct store *s,
			   entry_fn fn, void *data)
{
	int fd = openat(parent, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct strvec names = STRVEC_INIT;
	if (!read_dir_names(fd, ".", 0, &names))
		for (size_t i = 0; i < names.nr; i++)
			fn(s, fd, names.v[i], data);
	strvec_clear(&names);
	close(fd);
}

static bool hex64(const char *n)
{
	char d[STORE_DIGEST_MAX];
	if (strlen(n) != 64)
		return false;
	memcpy(d, "sha256:", 7);
	memcpy(d + 7, n, 65);
	return store_digest_valid(d);
}

struct sweep {
	struct dset *keep;
	struct store_prune_result *res;
	bool dry_run;
	bool all;
};

static void sweep_blob(struct store *s, int dfd, const char *name, void *data)
{
	struct sweep *sw = data;
	char d[STORE_DIGEST_MAX];
	if (hex64(name)) {
		memcpy(d, "sha256:", 7);
		memcpy(d + 7, name, 65);
		if (dset_has(sw->keep, d))
			return;
	}
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		sw->res->reclaimed += (uint64_t)st.st_size;
	if (!sw->dry_run)
		unlinkat(dfd, name, 0);
	strvec_pushf(&sw->res->deleted, "sha256:%s", name);
}

static void sweep_layerinfo(struct store *s, int dfd, const char *name,
			    void *data)
{
	struct sweep *sw = data;
	char d[STORE_DIGEST_MAX];
	if (hex64(name)) {
		memcpy(d, "sha256:", 7);
		memcpy(d + 7, name, 65);
		if (store_blob_exists(s, d) && dset_has(sw->keep, d))
			return;
	}
	if (!sw->dry_run)
		unlinkat(dfd, name, 0);
}

static void sweep_layer(struct store *s, int dfd, const char *name, void *data)
{
	struct sweep *sw = data;
	char d[STORE_DIGEST_MAX];
	if (!sw->all && hex64(name)) {
		memcpy(d, "sha256:", 7);
		memcpy(d + 7, name, 65);
		if (dset_has(sw->keep, d))
			return;
	}
	sw->res->reclaimed += store_du_at(dfd, name);
	if (sw->dry_run)
		return;
	if (hex64(name))
		store_layer_remove(s, name);
	else
		rm_rf_at(dfd, name);
}

static void sweep_all(struct store *s, int dfd, const char *name, void *data)
{
	struct sweep *sw = data;
	sw->res->reclaimed += store_du_at(dfd, name);
	if (!sw->dry_run)
		rm_rf_at(dfd, name);
}

/* ------------------------------------------------------------ prune */

struct untagged {
	struct strvec *untagged;
	struct dset *in_use; /* manifests containers use: they stay */
};

static int drop_untagged(struct store_refs *refs, void *data,
			 struct error **err)
{
	struct untagged *u = data;
	struct strvec *untagged = u->untagged;
	for (size_t i = 0; i < refs->nr; i++) {
		if (refs->v[i].name || dset_has(u->in_use, refs->v[i].digest))
			continue;
		strvec_push(untagged, refs->v[i].digest);
		free(refs->v[i].digest);
		free(refs->v[i].media_type);
		memmove(&refs->v[i], &refs->v[i + 1],
			(refs->nr - i - 1) * sizeof(refs->v[0]));
		refs->nr--;
		i--;
	}
	return 0;
}

int store_prune(struct store *s, const struct store_prune_opts *opts,
		struct store_prune_result *res, struct error **err)
{
	strvec_init(&res->untagged);
	strvec_init(&res->deleted);
	res->reclaimed = 0;
	if (store_lock(s, LOCK_EX, err) < 0)
		return -1;
	struct dset in_use = { STRVEC_INIT, false };
	mark_containers(s, NULL, NULL, NULL, &in_use);
	int r = 0;
	if (!opts->dry_run) {
		struct untagged u = { &res->untagged, &in_use };
		r = store_refs_update(s, drop_untagged, &u, err);
	} else {
		struct store_refs refs = STORE_REFS_INIT;
		r = store_refs_read(s, &refs, err);
		for (size_t i = 0; !r && i < refs.nr; i++)
			if (!refs.v[i].name &&
			    !dset_has(&in_use, refs.v[i].digest))
				strvec_push(&res->untagged, refs.v[i].digest);
		store_refs_release(&refs);
	}
	strvec_clear(&in_use.v);
	if (r < 0)
		return -1;
	struct dset blobs = { STRVEC_INIT, false };
	struct dset diffids = { STRVEC_INIT, false };
	struct dset held = { STRVEC_INIT, false };
	if (mark_refs(s, &blobs, &diffids, err) < 0)
		goto fail;
	mark_containers(s, &blobs, &diffids, &held, NULL);
	struct sweep sw = { &blobs, res, opts->dry_run, false };
	for_each_entry(s->root_fd, "blobs/sha256", s, sweep_blob, &sw);
	for_each_entry(s->root_fd, "layerinfo", s, sweep_layerinfo, &sw);
	/* -a: every layer dir except those containers may be running on */
	sw.keep = opts->all ? &held : &diffids;
	for_each_entry(s->root_fd, "layers", s, sweep_layer, &sw);
	for_each_entry(s->root_fd, "tmp", s, sweep_all, &sw);
	if (opts->all)
		for_each_entry(s->root_fd, "cache", s, sweep_all, &sw);
	if (!opts->dry_run)
		store_fsync_dir(s->blobs_fd, "blobs/sha256", NULL);
	strvec_clear(&blobs.v);
	strvec_clear(&diffids.v);
	strvec_clear(&held.v);
	return 0;
fail:
	strvec_clear(&blobs.v);
	strvec_clear(&diffids.v);
	strvec_clear(&held.v);
	return -1;
}

void store_prune_result_release(struct store_prune_result *res)
{
	strvec_clear(&res->untagged);
	strvec_clear(&res->deleted);
}

int store_gc_image(struct store *s, const char *digest, struct strvec *deleted,
		   struct error **err)
{
	if (store_lock(s, LOCK_EX, err) < 0)
		return -1;
	struct dset keep = { STRVEC_INIT, false };
	struct dset keep_diffids = { STRVEC_INIT, false };
	struct dset mine = { STRVEC_INIT, false };
	struct dset my_diffids = { STRVEC_INIT, false };
	if (mark_refs(s, &keep, &keep_diffids, err) < 0) {
		strvec_clear(&keep.v);
		strvec_clear(&keep_diffids.v);
		return -1;
	}
	mark(s, digest, &mine, &my_diffids, 0);
	/* the image's config first (docker prints the image ID first) */
	json_t *m = store_blob_read_json(s, digest, NULL);
	const char *cfg = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < mine.v.nr; i++) {
			const char *d = mine.v.v[i];
			bool is_cfg = cfg && !strcmp(d, cfg);
			if ((pass == 0) != is_cfg || dset_has(&keep, d))
				continue;
			const char *hex = store_digest_hex(d);
			if (!hex || unlinkat(s->blobs_fd, hex, 0) < 0)
				continue;
			cleanup_free char *li = xstrfmt("layerinfo/%s", hex);
			unlinkat(s->root_fd, li, 0);
			if (deleted && strcmp(d, digest))
				strvec_push(deleted, d);
		}
	}
	for (size_t i = 0; i < my_diffids.v.nr; i++) {
		const char *hex = store_digest_hex(my_diffids.v.v[i]);
		if (!hex || dset_has(&keep_diffids, my_diffids.v.v[i]))
			continue;
		store_layer_remove(s, hex);
	}
	json_decref(m);
	store_fsync_dir(s->blobs_fd, "blobs/sha256", NULL);
	strvec_clear(&keep.v);
	strvec_clear(&keep_diffids.v);
	strvec_clear(&mine.v);
	strvec_clear(&my_diffids.v);
	return 0;
}

/* ------------------------------------------------------------ fsck */

struct fsck {
	struct strvec *problems;
	struct strvec *repairs;
	bool repair;
	struct dset bad; /* blobs that are corrupt or missing */
};

static void fsck_blob(struct store *s, int dfd, const char *name, void *data)
{
	struct fsck *f = data;
	if (!hex64(name)) {
		strvec_pushf(f->problems, "blobs/sha256/%s: not a digest",
			     name);
		if (f->repair && !rm_rf_at(dfd, name))
			strvec_pushf(f->repairs, "removed blobs/sha256/%s",
				     name);
		return;
	}
	char d[STORE_DIGEST_MAX];
	memcpy(d, "sha256:", 7);
	memcpy(d + 7, name, 65);
	struct error *e = NULL;
	if (store_blob_verify(s, d, &e) < 0) {
		strvec_push(f->problems, e->msg);
		dset_add(&f->bad, d);
		if (f->repair && e->code == KILN_ECORRUPT &&
		    !unlinkat(dfd, name, 0))
			strvec_pushf(f->repairs, "removed corrupt blob '%s'",
				     d);
		error_free(e);
	}
}

static void fsck_layerdir(struct store *s, int dfd, const char *name,
			  void *data)
{
	struct fsck *f = data;
	struct stat st;
	if (hex64(name) && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return;
	strvec_pushf(f->problems, "layers/%s: not a complete layer directory",
		     name);
	if (f->repair && !rm_rf_at(dfd, name))
		strvec_pushf(f->repairs, "removed layers/%s", name);
}

/* What store_layers_settle() left in unsynced/. */
static void fsck_marker(struct store *s, int dfd, const char *name, void *data)
{
	struct fsck *f = data;
	if (!hex64(name)) {
		strvec_pushf(f->problems, "unsynced/%s: not a layer marker",
			     name);
		if (f->repair && !unlinkat(dfd, name, 0))
			strvec_pushf(f->repairs, "removed unsynced/%s", name);
		return;
	}
	strvec_pushf(f->problems,
		     "layers/%s: not known to be on disk (its unsynced marker "
		     "could not be settled)",
		     name);
	if (f->repair) {
		store_layer_remove(s, name);
		strvec_pushf(f->repairs, "removed layers/%s", name);
	}
}

static void fsck_layerinfo(struct store *s, int dfd, const char *name,
			   void *data)
{
	struct fsck *f = data;
	char buf[160];
	bool ok = false;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			char diffid[STORE_DIGEST_MAX];
			uint64_t usize, du;
			ok = hex64(name) &&
			     !store_layerinfo_parse(buf, diffid, &usize, &du);
		}
	}
	if (ok)
		return;
	strvec_pushf(f->problems, "layerinfo/%s: invalid record", name);
	if (f->repair && !unlinkat(dfd, name, 0))
		strvec_pushf(f->repairs, "removed layerinfo/%s", name);
}

/* Check what one manifest needs; returns false when something is missing. */
static bool fsck_manifest(struct store *s, struct fsck *f, const char *what,
			  const char *digest, int depth)
{
	if (!store_blob_exists(s, digest) || dset_has(&f->bad, digest)) {
		strvec_pushf(f->problems, "%s: manifest '%s' is missing", what,
			     digest);
		return false;
	}
	struct error *e = NULL;
	json_t *m = store_blob_read_json(s, digest, &e);
	if (!m) {
		strvec_pushf(f->problems, "%s: %s", what, e->msg);
		error_free(e);
		return false;
	}
	bool good = true;
	size_t i;
	json_t *d;
	json_t *ms = json_object_get(m, "manifests");
	if (ms) {
		json_array_foreach(ms, i, d)
		{
			const char *cd =
				json_string_value(json_object_get(d, "digest"));
			if (!store_digest_valid(cd) || depth > 3) {
				strvec_pushf(f->problems,
					     "%s: index '%s' has an invalid "
					     "entry",
					     what, digest);
				good = false;
			} else if (!fsck_manifest(s, f, what, cd, depth + 1)) {
				good = false;
			}
		}
		json_decref(m);
		return good;
	}
	const char *cfg = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	json_t *layers = json_object_get(m, "layers");
	if (!store_digest_valid(cfg) || !json_is_array(layers)) {
		strvec_pushf(f->problems,
			     "%s: manifest '%s' lacks a config or layers", what,
			     digest);
		json_decref(m);
		return false;
	}
	json_t *c = NULL;
	if (!store_blob_exists(s, cfg) || dset_has(&f->bad, cfg)) {
		strvec_pushf(f->problems, "%s: config '%s' is missing", what,
			     cfg);
		good = false;
	} else if (!(c = store_blob_read_json(s, cfg, &e))) {
		strvec_pushf(f->problems, "%s: %s", what, e->msg);
		error_clear(&e);
		good = false;
	}
	json_array_foreach(layers, i, d)
	{
		const char *ld = json_string_value(json_object_get(d, "diges"
								      "t"));
		if (!store_digest_valid(ld) || !store_blob_exists(s, ld) ||
		    dset_has(&f->bad, ld)) {
			strvec_pushf(f->problems, "%s: layer '%s' is missing",
				     what, ld ? ld : "(none)");
			good = false;
		}
	}
	json_t *diffids = json_object_get(json_object_get(c, "rootfs"), "diff_"
									"ids");
	if (c && json_array_size(diffids) != json_array_size(layers)) {
		strvec_pushf(f->problems,
			     "%s: config '%s' lists %zu diff_ids for %zu "
			     "layers",
			     what, cfg, json_array_size(diffids),
			     json_array_size(layers));
		good = false;
	}
	json_decref(c);
	json_decref(m);
	return good;
}

static int oci_layout_ok(struct store *s)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	cleanup_close int fd =
		openat(s->root_fd, "oci-layout", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || strbuf_read_fd(&sb, fd) < 0)
		return 0;
	json_t *j = json_loadb(sb.buf, sb.len, 0, NULL);
	int ok = json_is_string(json_object_get(j, "imageLayoutVersion"));
	json_decref(j);
	return ok;
}

static int drop_digests(struct store_refs *refs, void *data, struct error **err)
{
	struct dset *drop = data;
	for (size_t i = 0; i < refs->nr; i++) {
		if (!dset_has(drop, refs->v[i].digest))
			continue;
		free(refs->v[i].name);
		free(refs->v[i].digest);
		free(refs->v[i].media_type);
		memmove(&refs->v[i], &refs->v[i + 1],
			(refs->nr - i - 1) * sizeof(refs->v[0]));
		refs->nr--;
		i--;
	}
	return 0;
}

static int empty_index(struct store_refs *refs, void *data, struct error **err)
{
	return 0;
}

int store_fsck(struct store *s, bool repair, struct strvec *problems,
	       struct strvec *repairs, struct error **err)
{
	struct fsck f = { problems, repairs, repair, { STRVEC_INIT, false } };
	if (repair && store_lock(s, LOCK_EX, err) < 0)
		return -1;
	if (!oci_layout_ok(s)) {
		strvec_push(problems, "oci-layout: missing or invalid");
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0."
					     "0\"}";
		if (repair &&
		    !store_write_atomic(s, s->root_fd, "oci-layout", layout,
					strlen(layout), "oci-layout", NULL))
			strvec_push(repairs, "rewrote oci-layout");
	}
	for_each_entry(s->root_fd, "blobs/sha256", s, fsck_blob, &f);
	/* sync what this boot wrote; drop what earlier boots left unsynced */
	store_layers_settle(s, STORE_SETTLE_ALL);
	for_each_entry(s->root_fd, "unsynced", s, fsck_marker, &f);
	for_each_entry(s->root_fd, "layers", s, fsck_layerdir, &f);
	for_each_entry(s->root_fd, "layerinfo", s, fsck_layerinfo, &f);

	struct store_refs refs = STORE_REFS_INIT;
	struct error *e = NULL;
	if (store_refs_read(s, &refs, &e) < 0) {
		strvec_push(problems, e->msg);
		error_free(e);
		e = NULL;
		if (repair) {
			/* the names are lost; the data stays for prune */
			if (renameat(s->root_fd, "index.json", s->root_fd,
				     "index.json.corrupt") == 0 &&
			    !store_refs_update(s, empty_index, NULL, NULL))
				strvec_push(repairs, "moved the unreadable "
						     "index.json "
						     "to index.json.corrupt "
						     "and started "
						     "an empty one");
		}
		strvec_clear(&f.bad.v);
		return 0;
	}
	struct dset drop = { STRVEC_INIT, false };
	for (size_t i = 0; i < refs.nr; i++) {
		const struct store_ref *r = &refs.v[i];
		cleanup_free char *what =
			r->name ? xstrfmt("image '%s'", r->name)
				: xstrfmt("untagged image '%s'", r->digest);
		if (!store_digest_valid(r->digest)) {
			strvec_pushf(problems, "%s: invalid digest", what);
			dset_add(&drop, r->digest);
			continue;
		}
		if (!fsck_manifest(s, &f, what, r->digest, 0))
			dset_add(&drop, r->digest);
	}
	if (repair && drop.v.nr) {
		if (!store_refs_update(s, drop_digests, &drop, &e)) {
			for (size_t i = 0; i < refs.nr; i++)
				if (dset_has(&drop, refs.v[i].digest))
					strvec_pushf(
						repairs,
						"removed %s '%s' (its data "
						"is missing)",
						refs.v[i].name ? "tag"
							       : "entry",
						refs.v[i].name
							? refs.v[i].name
							: refs.v[i].digest);
		} else {
			strvec_pushf(problems, "repair failed: %s", e->msg);
			error_free(e);
		}
	}
	strvec_clear(&drop.v);
	store_refs_release(&refs);
	strvec_clear(&f.bad.v);
	return 0;
}

/* ------------------------------------------------------------ rollback */

void store_rollback(struct store *s)
{
	if (!s->created.nr && !s->created_layers.nr)
		return;
	/* never wait: a shared holder may be about to use these blobs */
	if (s->lock_mode != LOCK_EX && flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return;
	s->lock_mode = LOCK_EX;
	struct dset keep = { STRVEC_INIT, false };
	struct dset keep_layers = { STRVEC_INIT, false };
	if (mark_refs(s, &keep, &keep_layers, NULL) < 0) {
		strvec_clear(&keep.v);
		strvec_clear(&keep_layers.v);
		return;
	}
	cleanup_close int lfd = openat(s->root_fd, "layers",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; lfd >= 0 && i < s->created_layers.nr; i++) {
		const char *d = s->created_layers.v[i];
		const char *hex = store_digest_hex(d);
		if (hex && !dset_has(&keep_layers, d))
			store_layer_remove(s, hex);
	}
	if (lfd >= 0)
		fsync(lfd);
	strvec_clear(&s->created_layers);
	strvec_clear(&keep_layers.v);
	for (size_t i = 0; i < s->created.nr; i++) {
		const char *hex = store_digest_hex(s->created.v[i]);
		if (!hex || dset_has(&keep, s->created.v[i]))
			continue;
		unlinkat(s->blobs_fd, hex, 0);
		cleanup_free char *li = xstrfmt("layerinfo/%s", hex);
		unlinkat(s->root_fd, li, 0);
	}
	fsync(s->blobs_fd);
	strvec_clear(&s->created);
	strvec_clear(&keep.v);
}
