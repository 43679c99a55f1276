/*
 * Extracted layer trees under layers/<diffid-hex>/.  A tree is built in a
 * staging directory in tmp/ and renamed into place: a directory under
 * layers/ is complete by construction.  When two processes extract the
 * same layer at once, the second rename fails and its copy is dropped.
 *
 * A tree is derived data (its blob, fsync'd, is the source), so it is not
 * synced before its rename, which would make a pull wait for the disk.
 * Instead unsynced/<hex>, written durably before the rename, names the boot
 * the tree was written in.  In the same boot the tree is whole (the page
 * cache has it); a store opened in a later boot drops the trees of earlier
 * boots' markers, as a crash may have torn them, and they are extracted
 * again from their blobs when needed.  A marker goes once a syncfs that
 * started after the tree was written has returned (store_layers_settle()).
 */
#include "store/store-internal.h"
#include "archive/archive.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

/*
 * A marker older than this is settled by the next writer: the
 * kernel has written the tree back by then (dirty_expire_centisecs is 30
 * s by default), so the syncfs that confirms it costs next to nothing.
 */
#define SETTLE_AFTER 30

/* This boot's id ("<uuid>\n"), or "" when the kernel has none. */
static const char *boot_id(void)
{
	static char id[64];
	static bool done;
	if (!done) {
		int fd = open("/proc/sys/kernel/random/boot_id",
			      O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, id, sizeof(id) - 1) : -1;
		id[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
		done = true;
	}
	return id;
}

static int open_unsynced(struct store *s)
{
	return openat(s->root_fd, "unsynced",
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int mark_unsynced(struct store *s, const char *hex, const char *id,
			 struct error **err)
{
	cleanup_close int fd = open_unsynced(s);
	if (fd < 0) {
		error_set_errno(err, "open '%s/unsynced'", s->root);
		return -1;
	}
	return store_write_atomic(s, fd, hex, id, strlen(id), "unsynced marker",
				  err);
}

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
	cleanup_close int lfd = openat(s->root_fd, "layers",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0) {
		error_set_errno(err, "open '%s/layers'", s->root);
		rm_rf_at(s->tmp_fd, name);
		return -1;
	}
	/* the marker is durable before the tree has a name */
	const char *id = boot_id();
	if (*id && mark_unsynced(s, hex, id, err) < 0) {
		rm_rf_at(s->tmp_fd, name);
		return -1;
	}
	/* without a boot id nothing tells a later boot: sync now */
	if (!*id && syncfs(s->root_fd) < 0) {
		error_set_errno(err, "syncfs '%s'", s->root);
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
	return 0;
}

struct marker {
	char hex[65];
	bool this_boot;
	time_t mtime;
};

/* The markers under unsynced/ (none when it does not exist). */
static size_t read_markers(struct store *s, struct marker **out)
{
	*out = NULL;
	DIR *d = opendir_at(s->root_fd, "unsynced", 0);
	if (!d)
		return 0;
	size_t nr = 0, alloc = 0;
	struct dirent *de;
	const char *id = boot_id();
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != 64)
			continue;
		char dg[72] = "sha256:";
		memcpy(dg + 7, de->d_name, 65);
		if (!store_digest_valid(dg))
			continue;
		char buf[64];
		int mfd = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (mfd < 0 || fstat(mfd, &st) < 0) {
			if (mfd >= 0)
				close(mfd);
			continue;
		}
		ssize_t n = read(mfd, buf, sizeof(buf) - 1);
		close(mfd);
		buf[n > 0 ? n : 0] = '\0';
		ALLOC_GROW(*out, nr + 1, alloc);
		memcpy((*out)[nr].hex, de->d_name, 65);
		(*out)[nr].this_boot = *id && !strcmp(buf, id);
		(*out)[nr].mtime = st.st_mtime;
		nr++;
	}
	closedir(d);
	return nr;
}

void store_layers_settle(struct store *s, enum store_settle how)
{
	struct marker *m;
	size_t nr = read_markers(s, &m);
	if (!nr)
		return;
	time_t t = time(NULL);
	bool synced = false, stale = false;
	cleanup_close int ufd = open_unsynced(s);
	for (size_t i = 0; i < nr; i++) {
		if (!m[i].this_boot) {
			stale = true;
			continue;
		}
		if (how == STORE_SETTLE_STALE ||
		    (how == STORE_SETTLE_AGED && t - m[i].mtime < SETTLE_AFTER))
			continue;
		/* one syncfs covers every tree written before it started */
		if (!synced && syncfs(s->root_fd) < 0)
			break;
		synced = true;
		unlinkat(ufd, m[i].hex, 0);
	}
	free(m);
	/*
	 * Trees of earlier boots may be torn: drop them, under the exclusive
	 * lock (nobody extracts or runs on them meanwhile), reading the
	 * markers again as another process may have redone one.
	 */
	bool locked_here = s->lock_mode != LOCK_EX;
	if (!stale ||
	    (locked_here &&
	     (s->lock_mode || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)))
		return;
	nr = read_markers(s, &m);
	cleanup_close int lfd = openat(s->root_fd, "layers",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; lfd >= 0 && i < nr; i++) {
		if (m[i].this_boot)
			continue;
		if (rm_rf_at(lfd, m[i].hex) < 0 && errno != ENOENT)
			continue;
		unlinkat(ufd, m[i].hex, 0);
	}
	free(m);
	if (locked_here)
		flock(s->lock_fd, LOCK_UN);
}

void store_layer_remove(struct store *s, const char *hex)
{
	cleanup_free char *p = xstrfmt("layers/%s", hex);
	rm_rf_at(s->root_fd, p);
	cleanup_close int ufd = open_unsynced(s);
	if (ufd >= 0)
		unlinkat(ufd, hex, 0);
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
