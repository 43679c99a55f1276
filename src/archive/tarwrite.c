/*
 * Tar writing from a directory tree, docker-compatible and deterministic:
 * PAX-restricted headers (pax records only when ustar cannot hold a value),
 * xattrs as SCHILY.xattr records, entries sorted bytewise within each
 * directory with parents first, mtimes truncated to seconds and optionally
 * clamped, no atime/ctime, numeric ids only.  With `overlay_upper` the
 * overlay whiteout encoding is turned into OCI whiteouts.  The tree is read
 * relative to directory fds with O_NOFOLLOW; nothing is ever followed.
 */
#include "archive/archive-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define COPY_CHUNK (256 * 1024)
#define XATTR_LIST_MAX_ (64 * 1024)

struct walker {
	struct archive *a;
	const struct archive_tree_opts *opts;
	archive_write_fn out;
	void *cookie;
	struct error *cb_err; /* the sink's error */
	struct strvec skip;
	struct archive_strset links; /* "dev:ino" → index into link_paths */
	struct strvec link_paths;
	unsigned char *buf;
	const char *opaque_xattr;
};

static la_ssize_t tar_write_cb(struct archive *a, void *cookie, const void *buf,
			       size_t len)
{
	struct walker *w = cookie;
	if (w->out(w->cookie, buf, len, &w->cb_err) < 0) {
		archive_set_error(a, EIO, "%s",
				  w->cb_err ? w->cb_err->msg : "write failed");
		return -1;
	}
	return len;
}

/* Report a libarchive failure, preferring the sink's own error. */
static int la_fail(struct walker *w, const char *path, struct error **err)
{
	if (w->cb_err)
		error_set(err, w->cb_err->code, "%s", w->cb_err->msg);
	else
		error_set(err, KILN_EINTERNAL, "tar '%s': %s", path,
			  archive_error_string(w->a));
	return -1;
}

static bool is_overlay_xattr(const char *name)
{
	return starts_with(name, "trusted.overlay.") || starts_with(name, "user"
									  ".ove"
									  "rlay"
									  ".");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Copy the entry's xattrs (sorted by name, overlay's own left out) into
 * `ent`.  The /proc/self/fd/<dirfd>/<name> path goes through our own
 * directory fd and the l*xattr calls do not follow the final component.
 */
static int add_xattrs(struct walker *w, int dirfd, const char *name,
		      const char *path, struct archive_entry *ent,
		      struct error **err)
{
	char proc[64 + NAME_MAX];
	static __thread char list[XATTR_LIST_MAX_];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	ssize_t n = llistxattr(proc, list, sizeof(list));
	if (n < 0) {
		if (errno == ENOTSUP || errno == EPERM)
			return 0;
		error_set_errno(err, "listxattr '%s'", path);
		return -1;
	}
	cleanup_free const char **names = xcalloc(n / 2 + 1, sizeof(*names));
	size_t nr = 0;
	for (ssize_t i = 0; i < n; i += strlen(list + i) + 1)
		if (!is_overlay_xattr(list + i))
			names[nr++] = list + i;
	qsort(names, nr, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nr; i++) {
		ssize_t vn = lgetxattr(proc, names[i], w->buf, COPY_CHUNK);
		if (vn < 0) {
			if (errno == ENODATA)
				continue;
			error_set_errno(err, "getxattr '%s' %s", path,
					names[i]);
			return -1;
		}
		archive_entry_xattr_add_entry(ent, names[i], w->buf, vn);
	}
	return 0;
}

static bool is_opaque(struct walker *w, int dirfd, const char *name)
{
	char proc[64 + NAME_MAX], v[4];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	ssize_t n = lgetxattr(proc, w->opaque_xattr, v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int64_t entry_mtime(struct walker *w, const struct stat *st)
{
	int64_t t = st->st_mtim.tv_sec;
	if (w->opts->clamp_mtime && t > w->opts->mtime_max)
		t = w->opts->mtime_max;
	return t;
}

static int write_header(struct walker *w, struct archive_entry *ent,
			const char *path, struct error **err)
{
	if (archive_write_header(w->a, ent) < ARCHIVE_WARN)
		return la_fail(w, path, err);
	return 0;
}

static int copy_file(struct walker *w, int dirfd, const char *name,
		     const char *path, uint64_t size, struct error **err)
{
	/* O_NOFOLLOW: the entry was lstat'ed as a regular file. */
	cleanup_close int fd =
		openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", path);
		return -1;
	}
	while (size) {
		size_t want = size < COPY_CHUNK ? size : COPY_CHUNK;
		ssize_t n = read(fd, w->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno(err, "read '%s'", path);
			return -1;
		}
		if (n == 0) {
			error_set(err, EIO, "read '%s': file shrank", path);
			return -1;
		}
		if (archive_write_data(w->a, w->buf, n) != n)
			return la_fail(w, path, err);
		size -= n;
	}
	return 0;
}

static int walk_dir(struct walker *w, int dirfd, struct strbuf *path,
		    struct error **err);

/* Recurse into directory `name` of `dirfd` without following symlinks. */
static int walk_subdir(struct walker *w, int dirfd, const char *name,
		       struct strbuf *path, struct error **err)
{
	cleanup_close int sub = openat(
		dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		error_set_errno(err, "open '%s'", path->buf);
		return -1;
	}
	return walk_dir(w, sub, path, err);
}

static bool skipped(struct walker *w, const char *path)
{
	for (size_t i = 0; i < w->skip.nr; i++)
		if (!strcmp(w->skip.v[i], path))
			return true;
	return false;
}

static int walk_entry(struct walker *w, int dirfd, const char *name,
		      struct strbuf *path, struct error **err)
{
	struct stat st;
	size_t base = path->len;
	int ret = 0;

	strbuf_addstr(path, name);
	if (skipped(w, path->buf))
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		error_set_errno(err, "stat '%s'", path->buf);
		ret = -1;
		goto out;
	}
	if (S_ISSOCK(st.st_mode))
		goto out; /* tar cannot hold sockets; docker skips them */

	struct archive_entry *ent = archive_entry_new();
	archive_entry_set_mode(ent, st.st_mode);
	archive_entry_set_uid(ent, st.st_uid);
	archive_entry_set_gid(ent, st.st_gid);
	archive_entry_set_mtime(ent, entry_mtime(w, &st), 0);

	if (w->opts->overlay_upper && S_ISCHR(st.st_mode) && st.st_rdev == 0) {
		/* overlay whiteout (0/0 char device) → OCI ".wh.<name>" */
		strbuf_setlen(path, base);
		strbuf_addf(path, ".wh.%s", name);
		archive_entry_set_pathname(ent, path->buf);
		archive_entry_set_mode(ent, S_IFREG | 0600);
		archive_entry_set_size(ent, 0);
		ret = write_header(w, ent, path->buf, err);
		archive_entry_free(ent);
		goto out;
	}

	if (S_ISDIR(st.st_mode))
		strbuf_addch(path, '/');
	archive_entry_set_pathname(ent, path->buf);
	if (add_xattrs(w, dirfd, name, path->buf, ent, err) < 0) {
		archive_entry_free(ent);
		ret = -1;
		goto out;
	}

	bool data = false;
	if (S_ISREG(st.st_mode)) {
		archive_entry_set_size(ent, st.st_size);
		data = st.st_size > 0;
		if (st.st_nlink > 1) {
			char key[64];
			bool added;
			snprintf(key, sizeof(key), "%llu:%llu",
				 (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			struct archive_strset_slot *slot =
				archive_strset_put(&w->links, key, &added);
			if (added) {
				slot->val = w->link_paths.nr;
				strvec_push(&w->link_paths, path->buf);
			} else {
				archive_entry_set_hardlink(
					ent, w->link_paths.v[slot->val]);
				archive_entry_set_size(ent, 0);
				data = false;
			}
		}
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
		if (n < 0) {
			error_set_errno(err, "readlink '%s'", path->buf);
			archive_entry_free(ent);
			ret = -1;
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(ent, target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		archive_entry_set_rdevmajor(ent, major(st.st_rdev));
		archive_entry_set_rdevminor(ent, minor(st.st_rdev));
	}
	ret = write_header(w, ent, path->buf, err);
	archive_entry_free(ent);
	if (!ret && data)
		ret = copy_file(w, dirfd, name, path->buf, st.st_size, err);
	if (ret || !S_ISDIR(st.st_mode))
		goto out;

	if (w->opts->overlay_upper && is_opaque(w, dirfd, name)) {
		/* Opaque directory → ".wh..wh..opq" before any child. */
		size_t dlen = path->len;
		strbuf_addstr(path, ".wh..wh..opq");
		ent = archive_entry_new();
		archive_entry_set_pathname(ent, path->buf);
		archive_entry_set_mode(ent, S_IFREG | 0600);
		archive_entry_set_uid(ent, st.st_uid);
		archive_entry_set_gid(ent, st.st_gid);
		archive_entry_set_mtime(ent, entry_mtime(w, &st), 0);
		archive_entry_set_size(ent, 0);
		ret = write_header(w, ent, path->buf, err);
		archive_entry_free(ent);
		strbuf_setlen(path, dlen);
		if (ret)
			goto out;
	}
	ret = walk_subdir(w, dirfd, name, path, err);
out:
	strbuf_setlen(path, base);
	return ret;
}

static int walk_dir(struct walker *w, int dirfd, struct strbuf *path,
		    struct error **err)
{
	struct strvec names = STRVEC_INIT;
	DIR *d = opendir_at(dirfd, ".", 0);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		error_set_errno(err, "opendir '%s'",
				path->len ? path->buf : ".");
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/*
		 * Sort key "<name as written>\0<name on disk>": whiteout
		 * devices sort as their ".wh.<name>" entry.
		 */
		struct stat st;
		bool wh = w->opts->overlay_upper &&
			  (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
			  fstatat(dirfd, de->d_name, &st,
				  AT_SYMLINK_NOFOLLOW) == 0 &&
			  S_ISCHR(st.st_mode) && st.st_rdev == 0;
		struct strbuf key = STRBUF_INIT;
		strbuf_addf(&key, "%s%s", wh ? ".wh." : "", de->d_name);
		strbuf_addch(&key, '\0');
		strbuf_addstr(&key, de->d_name);
		strvec_push_nodup(&names, strbuf_detach(&key, NULL));
	}
	closedir(d);
	/* Bytewise order of the names written, independent of the fs. */
	qsort(names.v, names.nr, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.nr && !ret; i++) {
		const char *k = names.v[i];
		ret = walk_entry(w, dirfd, k + strlen(k) + 1, path, err);
	}
	strvec_clear(&names);
	return ret;
}

int archive_write_tree(int dirfd, const struct archive_tree_opts *opts,
		       archive_write_fn out, void *cookie, struct error **err)
{
	struct archive_tree_opts def = { 0 };
	struct walker w = { 0 };
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	w.opts = opts ? opts : &def;
	w.out = out;
	w.cookie = cookie;
	w.opaque_xattr = w.opts->userxattr ? "user.overlay.opaque"
					   : "trusted.overlay.opaque";
	strvec_init(&w.skip);
	strvec_init(&w.link_paths);
	for (const char *const *s = w.opts->skip; s && *s; s++)
		strvec_push_nodup(&w.skip, archive_clean_skip(*s));
	w.buf = xmalloc(COPY_CHUNK);

	w.a = archive_write_new();
	if (!w.a)
		BUG("archive_write_new");
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "pax", "xattrheader",
					    "SCHILY") != ARCHIVE_OK ||
	    archive_write_add_filter_none(w.a) != ARCHIVE_OK ||
	    /* Unblocked output: just the entries and two zero blocks. */
	    archive_write_set_bytes_per_block(w.a, 0) != ARCHIVE_OK ||
	    archive_write_open2(w.a, &w, NULL, tar_write_cb, NULL, NULL) !=
		    ARCHIVE_OK) {
		ret = la_fail(&w, ".", err);
		goto out;
	}
	ret = walk_dir(&w, dirfd, &path, err);
	if (!ret && archive_write_close(w.a) != ARCHIVE_OK)
		ret = la_fail(&w, ".", err);
out:
	archive_write_free(w.a);
	error_free(w.cb_err);
	strvec_clear(&w.skip);
	strvec_clear(&w.link_paths);
	archive_strset_clear(&w.links);
	strbuf_release(&path);
	free(w.buf);
	return ret;
}

int archive_write_layer(int dirfd, const struct archive_tree_opts *topts,
			const struct archive_compress_opts *copts,
			archive_write_fn out, void *cookie,
			struct archive_digests *dg, struct error **err)
{
	struct archive_compressor *c =
		archive_compressor_new(copts, out, cookie, err);
	if (!c)
		return -1;
	int ret = archive_write_tree(dirfd, topts, archive_compressor_write_cb,
				     c, err);
	if (!ret)
		ret = archive_compressor_finish(c, dg, err);
	archive_compressor_free(c);
	return ret;
}
