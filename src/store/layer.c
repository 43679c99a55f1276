/*
 * Extracted layer trees under layers/<diffid-hex>/.  A tree is built in a
 * staging directory in tmp/, synced, and renamed into place: a directory
 * under layers/ is complete by construction.  When two processes extract
 * the same layer at once, the second rename fails and its copy is dropped.
 */
#include "store/store-internal.h"
#include "archive/archive.h"

#include <sys/stat.h>

bool store_layer_exists(struct store *s, const char *diffid)
{
	const char *hex = store_digest_hex(diffid);
	if (!hex)
		return false;
	cleanup_free char *p = xstrfmt("layers/%s", hex);
	struct stat st;
	return fstatat(s->root_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

char *store_layer_path(struct store *s, const char *diffid)
{
	const char *hex = store_digest_hex(diffid);
	return xstrfmt("%s/layers/%s", s->root, hex ? hex : "invalid");
}

char *store_layer_begin(struct store *s, struct error **err)
{
	if (store_lock_for_write(s, err) < 0)
		return NULL;
	cleanup_free char *name = store_tmpname(".layer");
	if (mkdirat(s->tmp_fd, name, 0755) < 0) {
		error_set_errno(err, "mkdir '%s/tmp/%s'", s->root, name);
		return NULL;
	}
	return xstrfmt("%s/tmp/%s", s->root, name);
}

static const char *staging_name(struct store *s, const char *staging)
{
	const char *p = staging;
	cleanup_free char *prefix = xstrfmt("%s/tmp/", s->root);
	if (!skip_prefix(staging, prefix, &p) || strchr(p, '/') || !*p)
		return NULL;
	return p;
}

void store_layer_abort(struct store *s, const char *staging)
{
	const char *name = staging_name(s, staging);
	if (name)
		rm_rf_at(s->tmp_fd, name);
}

int store_layer_commit(struct store *s, const char *staging, const char *diffid,
		       struct error **err)
{
	const char *hex = store_digest_hex(diffid);
	const char *name = staging_name(s, staging);
	if (!hex || !name) {
		error_set(err, KILN_EINVAL, "layer commit: invalid %s",
			  hex ? "staging directory" : "diffID");
		return -1;
	}
	if (store_layer_exists(s, diffid)) {
		rm_rf_at(s->tmp_fd, name);
		return 0;
	}
	/* the whole tree must be durable before its name is */
	if (syncfs(s->root_fd) < 0) {
		error_set_errno(err, "syncfs '%s'", s->root);
		rm_rf_at(s->tmp_fd, name);
		return -1;
	}
	cleanup_close int lfd = openat(s->root_fd, "layers",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0) {
		error_set_errno(err, "open '%s/layers'", s->root);
		rm_rf_at(s->tmp_fd, name);
		return -1;
	}
	if (store_xrenameat(s->tmp_fd, name, lfd, hex) < 0) {
		int e = errno;
		rm_rf_at(s->tmp_fd, name);
		if (e == EEXIST || e == ENOTEMPTY)
			return 0; /* a concurrent extraction won */
		errno = e;
		error_set_errno(err, "rename layer '%s' into place", diffid);
		return -1;
	}
	strvec_push(&s->created_layers, diffid);
	return store_fsync_dir(lfd, "layers", err);
}

char *store_layer_unpack(struct store *s, const char *blob_digest,
			 const char *diffid, bool userxattr, struct error **err)
{
	if (!store_digest_valid(diffid)) {
		error_set(err, KILN_EINVAL, "unpack: invalid diffID '%s'",
			  diffid ? diffid : "");
		return NULL;
	}
	if (store_layer_exists(s, diffid))
		return store_layer_path(s, diffid);
	cleanup_free char *staging = store_layer_begin(s, err);
	if (!staging)
		return NULL;
	cleanup_close int bfd = store_blob_open(s, blob_digest, NULL, err);
	cleanup_close int rfd =
		open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || rfd < 0) {
		if (rfd < 0)
			error_set_errno(err, "open '%s'", staging);
		store_layer_abort(s, staging);
		return NULL;
	}
	cleanup_free char *what = xstrfmt("layer %s", blob_digest);
	struct archive_input in = { archive_fd_read, &bfd };
	struct archive_extract_opts opts = {
		.whiteouts = ARCHIVE_WHITEOUT_OVERLAY,
		.userxattr = userxattr,
		.what = what,
	};
	struct archive_extract_stats stats;
	if (archive_extract(rfd, &in, &opts, &stats, err) < 0) {
		store_layer_abort(s, staging);
		return NULL;
	}
	if (strcmp(stats.digests.uncompressed, diffid)) {
		error_set(err, KILN_ECORRUPT,
			  "layer '%s': content has diffID '%s', expected '%s'",
			  blob_digest, stats.digests.uncompressed, diffid);
		store_layer_abort(s, staging);
		return NULL;
	}
	if (store_layer_commit(s, staging, diffid, err) < 0)
		return NULL;
	return store_layer_path(s, diffid);
}
