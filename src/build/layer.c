/*
 * build layers: extracting base layers into the store's layer dirs once,
 * committing a built tree (a COPY staging dir or a RUN's overlay upper
 * dir) as a compressed blob plus its layer dir, read-only merged views of
 * a stack of layers for COPY, and scratch directories under tmp/.
 */
#include "build/build-internal.h"
#include "archive/archive.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>

static pthread_mutex_t extract_lock = PTHREAD_MUTEX_INITIALIZER;

void build_rmtree(const char *path)
{
	if (!path)
		return;
	/* a mount left behind (a RUN interrupted) makes rmdir EBUSY */
	if (rm_rf_at(AT_FDCWD, path) < 0 && errno == EBUSY) {
		umount2(path, MNT_DETACH);
		rm_rf_at(AT_FDCWD, path);
	}
}

char *build_tmpdir(struct build *b, const char *what, struct error **err)
{
	char *p = store_layer_begin(b->s, err);
	if (!p)
		error_wrap(err, "%s", what);
	return p;
}

int build_layer_ensure(struct build *b, const struct build_layer *l,
		       struct error **err)
{
	if (store_layer_exists(b->s, l->diffid))
		return 0;
	pthread_mutex_lock(&extract_lock);
	int ret = -1;
	char *staging = NULL;
	int rootfd = -1, bfd = -1;
	if (store_layer_exists(b->s, l->diffid)) {
		ret = 0;
		goto out;
	}
	staging = store_layer_begin(b->s, err);
	if (!staging)
		goto out;
	rootfd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		error_set_errno(err, "open '%s'", staging);
		goto out;
	}
	bfd = store_blob_open(b->s, l->digest, NULL, err);
	if (bfd < 0)
		goto out;
	struct archive_input in = { archive_fd_read, &bfd };
	char what[128];
	snprintf(what, sizeof(what), "layer %s", l->digest);
	struct archive_extract_opts eo = {
		.whiteouts = ARCHIVE_WHITEOUT_OVERLAY,
		.what = what,
	};
	struct archive_extract_stats stats;
	if (archive_extract(rootfd, &in, &eo, &stats, err) < 0)
		goto out;
	if (strcmp(stats.digests.uncompressed, l->diffid)) {
		error_set(err, KILN_ECORRUPT,
			  "layer %s: content is %s, expected diffID %s",
			  l->digest, stats.digests.uncompressed, l->diffid);
		goto out;
	}
	close(rootfd);
	rootfd = -1;
	ret = store_layer_commit(b->s, staging, l->diffid, err);
	if (!ret)
		build_note_created(b, &b->rb_layers, l->diffid);
	free(staging);
	staging = NULL;
out:
	if (rootfd >= 0)
		close(rootfd);
	if (bfd >= 0)
		close(bfd);
	if (staging) {
		store_layer_abort(b->s, staging);
		free(staging);
	}
	pthread_mutex_unlock(&extract_lock);
	return ret;
}

struct blob_sink {
	struct store_blob_writer *w;
};

static int blob_sink_write(void *cookie, const void *buf, size_t len,
			   struct error **err)
{
	struct blob_sink *bs = cookie;
	return store_blob_write(bs->w, buf, len, err);
}

int build_layer_commit_dir(struct build *b, const char *dir, bool upper,
			   const char *const *skip, struct build_layer *out,
			   bool *empty, struct error **err)
{
	memset(out, 0, sizeof(*out));
	*empty = false;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", dir);
		store_layer_abort(b->s, dir);
		return -1;
	}
	if (dir_is_empty_at(fd, ".")) {
		close(fd);
		*empty = true;
		store_layer_abort(b->s, dir);
		return 0;
	}
	struct blob_sink sink = { store_blob_begin(b->s, err) };
	if (!sink.w) {
		close(fd);
		store_layer_abort(b->s, dir);
		return -1;
	}
	struct archive_tree_opts to = {
		.clamp_mtime = b->have_epoch,
		.mtime_max = b->epoch,
		.overlay_upper = upper,
		.skip = skip,
	};
	struct archive_compress_opts co = { .comp = ARCHIVE_COMP_GZIP,
					    .level = -1 };
	struct archive_digests dg;
	int ret = archive_write_layer(fd, &to, &co, blob_sink_write, &sink, &dg,
				      err);
	close(fd);
	if (ret < 0) {
		store_blob_abort(sink.w);
		store_layer_abort(b->s, dir);
		return -1;
	}
	char digest[STORE_DIGEST_MAX];
	uint64_t size;
	if (store_blob_commit(sink.w, dg.compressed, digest, &size, err) < 0) {
		store_layer_abort(b->s, dir);
		return -1;
	}
	if (store_layerinfo_put(b->s, digest, dg.uncompressed,
				dg.uncompressed_size, err) < 0) {
		store_layer_abort(b->s, dir);
		return -1;
	}
	/* skipped paths must not reach the layer dir either */
	for (size_t i = 0; skip && skip[i]; i++) {
		cleanup_free char *p = xstrfmt("%s/%s", dir, skip[i]);
		build_rmtree(p);
	}
	bool existed = store_layer_exists(b->s, dg.uncompressed);
	if (store_layer_commit(b->s, dir, dg.uncompressed, err) < 0)
		return -1;
	if (!existed)
		build_note_created(b, &b->rb_layers, dg.uncompressed);
	out->diffid = xstrdup(dg.uncompressed);
	out->digest = xstrdup(digest);
	out->media_type = xstrdup(STORE_MT_OCI_LAYER_GZIP);
	out->size = (int64_t)size;
	out->usize = dg.uncompressed_size;
	return 0;
}

int build_view_open(struct build *b, const struct build_layer *layers, size_t n,
		    struct build_view *v, struct error **err)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (build_layer_ensure(b, &layers[i], err) < 0)
			return -1;
	if (n == 0) {
		v->empty = build_tmpdir(b, "view", err);
		if (!v->empty)
			return -1;
		v->path = xstrdup(v->empty);
		return 0;
	}
	if (n == 1) {
		v->path = store_layer_path(b->s, layers[0].diffid);
		return 0;
	}
	v->mnt = build_tmpdir(b, "view", err);
	if (!v->mnt)
		return -1;
	struct strbuf opt = STRBUF_INIT;
	strbuf_addstr(&opt, "lowerdir=");
	/* top first; overlay refuses a dir twice: keep the topmost copy */
	size_t added = 0;
	for (size_t i = n; i-- > 0;) {
		bool seen = false;
		for (size_t j = i + 1; j < n; j++)
			if (!strcmp(layers[i].diffid, layers[j].diffid))
				seen = true;
		if (seen)
			continue;
		cleanup_free char *p = store_layer_path(b->s, layers[i].diffid);
		if (added++)
			strbuf_addch(&opt, ':');
		strbuf_addstr(&opt, p);
	}
	if (added == 1) {
		/* overlay needs two lowers without an upper */
		strbuf_release(&opt);
		build_rmtree(v->mnt);
		free(v->mnt);
		v->mnt = NULL;
		v->path = store_layer_path(b->s, layers[n - 1].diffid);
		return 0;
	}
	if (mount("overlay", v->mnt, "overlay", MS_RDONLY, opt.buf) < 0) {
		error_set_errno(err, "mount overlay on '%s'", v->mnt);
		strbuf_release(&opt);
		build_rmtree(v->mnt);
		free(v->mnt);
		v->mnt = NULL;
		return -1;
	}
	strbuf_release(&opt);
	v->path = xstrdup(v->mnt);
	return 0;
}

void build_view_close(struct build_view *v)
{
	if (v->mnt) {
		umount2(v->mnt, MNT_DETACH);
		rmdir(v->mnt);
		free(v->mnt);
	}
	if (v->empty) {
		rmdir(v->empty);
		free(v->empty);
	}
	free(v->path);
	memset(v, 0, sizeof(*v));
}
