/*
 * Safe extraction of a layer into a root directory fd.
 *
 * Invariants: no name from the archive is ever opened as a host path; every
 * parent directory is resolved with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) relative to the root fd, so `..` and symlinks
 * (planted by this archive or present from a lower layer) can never leave
 * it; the final component is never followed (O_NOFOLLOW, O_EXCL creation,
 * AT_SYMLINK_NOFOLLOW, unlinkat); names containing `..` are rejected
 * outright.  Whiteouts only ever delete what lower layers put there.
 */
#include "archive/archive-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define MAX_XATTRS 1024

enum { UNPACKED = 1, ANCESTOR = 2 };

struct dirtime {
	char *path;
	struct timespec mtime;
};

struct extractor {
	int rootfd;
	const struct archive_extract_opts *opts;
	struct archive_extract_stats *st;
	bool chown;
	const char *opaque_xattr;
	/* Paths this layer created (UNPACKED) or created under (ANCESTOR). */
	struct archive_strset unpacked;
	struct dirtime *dirs;
	size_t dirs_nr, dirs_alloc;
	/* One cached parent directory: its path and an fd on it. */
	char *cache_path;
	int cache_fd;
	/*
	 * The owner a node created in it gets: our fsuid, and its group if
	 * it is setgid, else our fsgid.  A chown to that is skipped.
	 */
	uid_t new_uid; /* geteuid(), for every directory */
	gid_t egid; /* getegid() */
	gid_t new_gid;
	bool new_known; /* new_gid is valid for cache_fd */
	bool cache_stale; /* something was removed: drop before next use */
	unsigned char *buf;
};

/* ---------------------------------------------------------------- paths */

/*
 * Normalise an archive name into `out`: leading slashes dropped (absolute
 * names are relative to the root, as docker treats them), "." and empty
 * components dropped, ".." rejected.  The result has no leading or
 * trailing slash and is empty for the root itself.
 */
static int clean_name(const char *raw, struct strbuf *out, struct error **err)
{
	const char *p = raw;

	strbuf_reset(out);
	if (strlen(raw) >= PATH_MAX) {
		error_set(err, KILN_ECORRUPT, "entry name too long (%zu bytes)",
			  strlen(raw));
		return -1;
	}
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* Never resolve "..": reject the whole archive. */
			error_set(err, KILN_ECORRUPT,
				  "entry '%s': path contains '..'", raw);
			return -1;
		}
		if (n > NAME_MAX) {
			error_set(err, KILN_ECORRUPT,
				  "entry '%s': name component too long", raw);
			return -1;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (out->len)
				strbuf_addch(out, '/');
			strbuf_add(out, p, n);
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Split "a/b/c" into dir "a/b" (len returned) and base "c". */
static size_t split_path(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return 0;
	}
	*base = slash + 1;
	return slash - path;
}

/* ---------------------------------------------------------------- resolution
 */

/*
 * Open directory `path` (relative, may be empty) inside the root.
 * RESOLVE_IN_ROOT makes the root fd act as "/" for every symlink and ".."
 * met on the way, so the result is always inside the root;
 * RESOLVE_NO_MAGICLINKS refuses /proc-style links planted in the image.
 */
static int open_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how,
				  sizeof(how));
		/* EAGAIN: a concurrent rename raced the walk; retry a bit. */
		if (fd < 0 && errno == EAGAIN && tries < 16)
			continue;
		return fd;
	}
}

static void cache_drop(struct extractor *x)
{
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	x->cache_fd = -1;
	x->new_known = false;
	free(x->cache_path);
	x->cache_path = NULL;
	x->cache_stale = false;
}

/*
 * Open parent directory `dir` (length `len` of `path`), creating missing
 * components as 0755 directories when `create` is set.  Returns a borrowed
 * fd valid until the next call or cache_drop(); -1 with errno on failure.
 */
static int open_parent(struct extractor *x, const char *path, size_t len,
		       bool create, struct error **err)
{
	struct strbuf dir = STRBUF_INIT;
	int fd;

	strbuf_add(&dir, path, len);
	if (x->cache_stale)
		cache_drop(x);
	if (x->cache_path && !strcmp(x->cache_path, dir.buf)) {
		strbuf_release(&dir);
		return x->cache_fd;
	}
	cache_drop(x);
	fd = open_in_root(x->rootfd, dir.buf);
	if (fd < 0 && errno == ENOSYS) {
		error_set(err, ENOSYS,
			  "openat2 is not supported by this "
			  "kernel (Linux 5.6 or later needed)");
		strbuf_release(&dir);
		return -1;
	}
	if (fd < 0 && errno == ENOENT && create) {
		/*
		 * Create the missing components one at a time.  Each prefix
		 * is resolved again from the root with RESOLVE_IN_ROOT and
		 * the new directory is made with mkdirat() in the fd of the
		 * already-resolved prefix, so nothing is followed outside.
		 */
		int pfd = fcntl(x->rootfd, F_DUPFD_CLOEXEC, 0);
		size_t i = 0;
		while (pfd >= 0 && i < dir.len) {
			size_t j = i;
			while (j < dir.len && dir.buf[j] != '/')
				j++;
			char save = dir.buf[j];
			dir.buf[j] = '\0';
			int sub = open_in_root(x->rootfd, dir.buf);
			if (sub < 0 && errno == ENOENT) {
				if (mkdirat(pfd, dir.buf + i, 0755) < 0 &&
				    errno != EEXIST) {
					error_set_errno(err, "mkdir '%s'",
							dir.buf);
					close(pfd);
					strbuf_release(&dir);
					return -1;
				}
				archive_strset_put(&x->unpacked, dir.buf, NULL)
					->val |= ANCESTOR;
				sub = open_in_root(x->rootfd, dir.buf);
			}
			if (sub < 0) {
				/* e.g. a dangling symlink or a file */
				error_set_errno(err, "open directory '%s'",
						dir.buf);
				close(pfd);
				strbuf_release(&dir);
				return -1;
			}
			dir.buf[j] = save;
			close(pfd);
			pfd = sub;
			i = j + 1;
		}
		fd = pfd;
	}
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			error_set_errno(err, "open directory '%s'", dir.buf);
		strbuf_release(&dir);
		return -1;
	}
	x->cache_fd = fd;
	x->cache_path = strbuf_detach(&dir, NULL);
	struct stat st;
	if (x->chown && fstat(fd, &st) == 0) {
		x->new_gid = st.st_mode & S_ISGID ? st.st_gid : x->egid;
		x->new_known = true;
	}
	return fd;
}

/* ---------------------------------------------------------------- removal */

/*
 * Opaque directory, applied mode: delete every child of `dfd` (path
 * `path`) that this layer did not create; recurse into directories this
 * layer created or passed through, as lower content below them is hidden.
 */
static int purge_lower(struct extractor *x, int dfd, struct strbuf *path,
		       struct error **err)
{
	DIR *d = opendir_at(dfd, ".", 0);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		error_set_errno(err, "opendir '%s'", path->buf);
		return -1;
	}
	int fd = dirfd(d);
	while (!ret && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t base = path->len;
		if (path->len)
			strbuf_addch(path, '/');
		strbuf_addstr(path, de->d_name);
		struct archive_strset_slot *s =
			archive_strset_get(&x->unpacked, path->buf);
		struct stat sb;
		if (!s) {
			if (rm_rf_at(fd, de->d_name) < 0) {
				error_set_errno(err, "remove '%s'", path->buf);
				ret = -1;
			}
		} else if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
				   0 &&
			   S_ISDIR(sb.st_mode)) {
			int sub = openat(fd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			if (sub >= 0) {
				ret = purge_lower(x, sub, path, err);
				close(sub);
			}
		}
		strbuf_setlen(path, base);
	}
	closedir(d);
	return ret;
}

/* ---------------------------------------------------------------- metadata */

static void xattr_skip(struct extractor *x)
{
	x->st->skipped_xattrs++;
}

/*
 * Apply the entry's xattrs, by fd when we have one, else through our own
 * /proc/self/fd/<parent>/<name> without following the final component.
 * Overlay's own xattrs are dropped: in an overlay lowerdir they would be
 * interpreted (redirects, metacopy) and could point outside the layer.
 */
static int apply_xattrs(struct extractor *x, struct archive_entry *ent, int fd,
			int pfd, const char *name, const char *path,
			struct error **err)
{
	const char *k;
	const void *v;
	size_t vn;
	char proc[64 + NAME_MAX];
	int count = archive_entry_xattr_reset(ent);

	if (!count)
		return 0;
	if (count > MAX_XATTRS) {
		error_set(err, KILN_ECORRUPT, "entry '%s': too many xattrs",
			  path);
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, name);
	while (archive_entry_xattr_next(ent, &k, &v, &vn) == ARCHIVE_OK) {
		if (starts_with(k, "trusted.overlay.") ||
		    starts_with(k, "user.overlay.") ||
		    (x->opts->docker_untar && strcmp(k, "security."
							"capability"))) {
			xattr_skip(x);
			continue;
		}
		int r = fd >= 0 ? fsetxattr(fd, k, v, vn, 0)
				: lsetxattr(proc, k, v, vn, 0);
		if (r < 0) {
			if (errno == EPERM || errno == ENOTSUP ||
			    errno == EACCES) {
				xattr_skip(x);
				continue;
			}
			error_set_errno(err, "setxattr '%s' %s", path, k);
			return -1;
		}
	}
	return 0;
}

/*
 * Owner, then mode (chown clears setuid bits and security.capability),
 * then xattrs.  With an fd everything goes through it; otherwise the
 * *at calls use AT_SYMLINK_NOFOLLOW on the name we just created.
 * `created`: the node was just made in the cached parent, so it has the
 * owner open_parent() predicted, and a chown to that is left out.
 */
static int apply_meta(struct extractor *x, struct archive_entry *ent, int fd,
		      int pfd, const char *name, const char *path, bool created,
		      struct error **err)
{
	mode_t type = archive_entry_filetype(ent);
	mode_t perm = archive_entry_perm(ent) & 07777;
	uid_t uid = archive_entry_uid(ent);
	gid_t gid = archive_entry_gid(ent);

	bool as_made = created && x->new_known && pfd == x->cache_fd &&
		       uid == x->new_uid && gid == x->new_gid;
	/* a directory's new mode or owner may change what its children get */
	if (type == AE_IFDIR)
		x->new_known = false;
	if (x->chown && !as_made) {
		int r = fd >= 0 ? fchown(fd, uid, gid)
				: fchownat(pfd, name, uid, gid,
					   AT_SYMLINK_NOFOLLOW);
		if (r < 0) {
			error_set_errno(err, "chown '%s'", path);
			return -1;
		}
	}
	if (type != AE_IFLNK) {
		int r = fd >= 0 ? fchmod(fd, perm)
				: fchmodat(pfd, name, perm,
					   AT_SYMLINK_NOFOLLOW);
		if (r < 0) {
			error_set_errno(err, "chmod '%s'", path);
			return -1;
		}
	}
	return apply_xattrs(x, ent, fd, pfd, name, path, err);
}

static struct timespec entry_mtime(struct archive_entry *ent)
{
	struct timespec t = { archive_entry_mtime(ent),
			      archive_entry_mtime_nsec(ent) };
	if (t.tv_nsec < 0 || t.tv_nsec >= 1000000000)
		t.tv_nsec = 0;
	return t;
}

static void record_dir(struct extractor *x, const char *path, struct timespec t)
{
	ALLOC_GROW(x->dirs, x->dirs_nr + 1, x->dirs_alloc);
	x->dirs[x->dirs_nr].path = xstrdup(path);
	x->dirs[x->dirs_nr].mtime = t;
	x->dirs_nr++;
}

/* Directory mtimes last, deepest first, so creating children cannot bump them.
 */
static int apply_dir_times(struct extractor *x, struct error **err)
{
	for (size_t i = x->dirs_nr; i-- > 0;) {
		const char *base;
		const char *p = x->dirs[i].path;
		struct timespec ts[2] = { x->dirs[i].mtime, x->dirs[i].mtime };
		if (!*p) {
			futimens(x->rootfd, ts);
			continue;
		}
		size_t dl = split_path(p, &base);
		int pfd = open_parent(x, p, dl, false, err);
		if (pfd < 0) {
			if (err && *err)
				return -1;
			continue; /* whited out or replaced since */
		}
		struct stat sb;
		if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			error_set_errno(err, "utimes '%s'", p);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- entries */

static void mark_unpacked(struct extractor *x, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	archive_strset_put(&x->unpacked, path, NULL)->val |= UNPACKED;
	/* Every ancestor holds something of this layer. */
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		strbuf_reset(&sb);
		strbuf_add(&sb, path, s - path);
		archive_strset_put(&x->unpacked, sb.buf, NULL)->val |= ANCESTOR;
	}
	strbuf_release(&sb);
}

static int do_whiteout(struct extractor *x, const char *path, size_t dl,
		       const char *base, struct error **err)
{
	const char *victim = base + strlen(WH_PREFIX);
	struct strbuf full = STRBUF_INIT;
	int ret = 0;

	x->st->whiteouts++;
	if (!strcmp(base, WH_OPAQUE)) {
		/* The opaque marker's directory is the entry's parent. */
		strbuf_add(&full, path, dl);
		if (x->opts->whiteouts == ARCHIVE_WHITEOUT_OVERLAY) {
			/* Record for overlay: opaque xattr on the directory. */
			const char *b;
			size_t pl = split_path(full.buf, &b);
			int pfd = full.len ? open_parent(x, full.buf, pl, true,
							 err)
					   : x->rootfd;
			if (pfd < 0) {
				strbuf_release(&full);
				return -1;
			}
			cleanup_close int fd =
				full.len
					? openat(pfd, b,
						 O_RDONLY | O_DIRECTORY |
							 O_NOFOLLOW | O_CLOEXEC)
					: fcntl(x->rootfd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0 && errno == ENOENT) {
				if (mkdirat(pfd, b, 0755) == 0)
					fd = openat(pfd, b,
						    O_RDONLY | O_DIRECTORY |
							    O_NOFOLLOW |
							    O_CLOEXEC);
			}
			if (fd < 0 ||
			    fsetxattr(fd, x->opaque_xattr, "y", 1, 0) < 0) {
				error_set_errno(err, "mark '%s' opaque",
						full.len ? full.buf : "/");
				ret = -1;
			}
		} else {
			/* Applied: delete what lower layers put in there. */
			int fd = open_in_root(x->rootfd, full.buf);
			if (fd >= 0) {
				cache_drop(x);
				ret = purge_lower(x, fd, &full, err);
				close(fd);
			}
		}
		strbuf_release(&full);
		return ret;
	}
	if (starts_with(base, WH_META))
		return 0; /* aufs bookkeeping (.wh..wh.plnk ...): ignore */
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..")) {
		error_set(err, KILN_ECORRUPT, "entry '%s': invalid whiteout",
			  path);
		return -1;
	}
	strbuf_add(&full, path, dl);
	if (full.len)
		strbuf_addch(&full, '/');
	strbuf_addstr(&full, victim);
	struct archive_strset_slot *s =
		archive_strset_get(&x->unpacked, full.buf);
	/* Whiteouts hide lower layers only, never this layer's entries. */
	bool mine = s && (s->val & UNPACKED);
	bool overlay = x->opts->whiteouts == ARCHIVE_WHITEOUT_OVERLAY;
	int pfd = open_parent(x, path, dl, overlay, err);
	if (pfd < 0) {
		strbuf_release(&full);
		if (!overlay && !(err && *err))
			return 0; /* nothing there to hide */
		return -1;
	}
	if (!mine) {
		x->cache_stale = true;
		if (rm_rf_at(pfd, victim) < 0) {
			if (!(err && *err))
				error_set_errno(err, "whiteout '%s'", full.buf);
			strbuf_release(&full);
			return -1;
		}
		/* Overlay mode: the 0/0 character device is the whiteout. */
		if (overlay &&
		    mknodat(pfd, victim, S_IFCHR, makedev(0, 0)) < 0) {
			error_set_errno(err, "mknod whiteout '%s'", full.buf);
			ret = -1;
		}
	}
	strbuf_release(&full);
	return ret;
}

/* Write the entry's data; *end is where the last block ended. */
static int write_data(struct extractor *x, struct archive *a, int fd,
		      const char *path, uint64_t *end, struct error **err)
{
	const void *buf;
	size_t n;
	la_int64_t off;
	int r;

	*end = 0;
	while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (n) {
			ssize_t w = pwrite(fd, p, n, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				error_set_errno(err, "write '%s'", path);
				return -1;
			}
			p += w;
			n -= w;
			off += w;
			x->st->bytes += w;
		}
		if ((uint64_t)off > *end)
			*end = off;
	}
	if (r != ARCHIVE_EOF)
		return 1; /* libarchive error: the caller reports it */
	return 0;
}

static int extract_hardlink(struct extractor *x, int pfd, const char *base,
			    const char *hl, const char *path,
			    struct error **err)
{
	struct strbuf target = STRBUF_INIT;
	const char *tbase;
	int ret = 0;

	/* The target obeys the same rules as names: no "..", in-root. */
	if (clean_name(hl, &target, err) < 0)
		return -1;
	if (!target.len || !strcmp(target.buf, path)) {
		if (target.len) {
			strbuf_release(&target);
			return 0; /* a link to itself */
		}
		error_set(err, KILN_ECORRUPT,
			  "entry '%s': hardlink to the root", path);
		strbuf_release(&target);
		return -1;
	}
	size_t tdl = split_path(target.buf, &tbase);
	char *tdir = xstrndup(target.buf, tdl);
	int tfd = open_in_root(x->rootfd, tdir);
	free(tdir);
	/*
	 * linkat() without AT_SYMLINK_FOLLOW links the target name itself:
	 * if it is a symlink, the new name is that symlink, never the file
	 * it points to.
	 */
	if (tfd < 0 || linkat(tfd, tbase, pfd, base, 0) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			error_set(err, KILN_ECORRUPT,
				  "entry '%s': hardlink target '%s' not found",
				  path, hl);
		else
			error_set_errno(err, "link '%s' to '%s'", path, hl);
		ret = -1;
	} else {
		mark_unpacked(x, path);
	}
	if (tfd >= 0)
		close(tfd);
	strbuf_release(&target);
	return ret;
}

/*
 * Replace whatever is at `name` unless both old and new are directories.
 * Returns 1 when an existing directory is kept, 0 when the name is free.
 */
static int make_room(struct extractor *x, int pfd, const char *name,
		     mode_t type, const char *path, struct error **err)
{
	struct stat sb;
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		error_set_errno(err, "stat '%s'", path);
		return -1;
	}
	if (type == AE_IFDIR && S_ISDIR(sb.st_mode))
		return 1;
	/* unlinkat/rm_rf_at never follow the name if it is a symlink. */
	x->cache_stale = true;
	if (rm_rf_at(pfd, name) < 0) {
		error_set_errno(err, "remove '%s'", path);
		return -1;
	}
	return 0;
}

static int extract_entry(struct extractor *x, struct archive *a,
			 struct archive_entry *ent, struct strbuf *path,
			 int *la_failed, struct error **err)
{
	const char *raw = archive_entry_pathname(ent);
	const char *hl = archive_entry_hardlink(ent);
	mode_t type = archive_entry_filetype(ent);
	const char *base;

	if (!raw) {
		error_set(err, KILN_ECORRUPT, "entry without a name");
		return -1;
	}
	if (clean_name(raw, path, err) < 0)
		return -1;
	x->st->entries++;
	size_t dl = split_path(path->buf, &base);

	if (!path->len) {
		if (x->opts->docker_untar)
			return 0;
		/* The root itself: only a directory may describe it. */
		if (type != AE_IFDIR || hl) {
			error_set(err, KILN_ECORRUPT,
				  "entry '%s': cannot replace the root", raw);
			return -1;
		}
		if (apply_meta(x, ent, x->rootfd, -1, ".", "/", false, err) < 0)
			return -1;
		record_dir(x, "", entry_mtime(ent));
		return 0;
	}
	if (starts_with(base, WH_PREFIX))
		return do_whiteout(x, path->buf, dl, base, err);

	int pfd = open_parent(x, path->buf, dl, true, err);
	if (pfd < 0) {
		if (!(err && *err))
			error_set_errno(err, "entry '%s': parent directory",
					raw);
		return -1;
	}

	/*
	 * A regular file is created with O_EXCL below and makes room only
	 * when the name is taken: most names are new, spare them a stat.
	 */
	int kept = type == AE_IFREG && !hl
			   ? 0
			   : make_room(x, pfd, base, hl ? AE_IFREG : type,
				       path->buf, err);
	if (kept < 0)
		return -1;
	if (hl)
		return extract_hardlink(x, pfd, base, hl, path->buf, err);

	struct timespec mt = entry_mtime(ent);
	struct timespec ts[2] = { mt, mt };
	int ret = 0;
	switch (type) {
	case AE_IFREG: {
		/* O_EXCL: never opens an existing name, symlink or not. */
		const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				  O_CLOEXEC;
		cleanup_close int fd = openat(pfd, base, flags, 0600);
		if (fd < 0 && errno == EEXIST) {
			if (make_room(x, pfd, base, AE_IFREG, path->buf, err) <
			    0)
				return -1;
			fd = openat(pfd, base, flags, 0600);
		}
		if (fd < 0) {
			error_set_errno(err, "create '%s'", path->buf);
			return -1;
		}
		uint64_t end;
		ret = write_data(x, a, fd, path->buf, &end, err);
		if (ret > 0) {
			*la_failed = 1;
			return -1;
		}
		if (ret < 0)
			return -1;
		/* A sparse file may end in a hole. */
		if (archive_entry_size_is_set(ent) &&
		    (uint64_t)archive_entry_size(ent) != end &&
		    ftruncate(fd, archive_entry_size(ent)) < 0) {
			error_set_errno(err, "truncate '%s'", path->buf);
			return -1;
		}
		if (apply_meta(x, ent, fd, pfd, base, path->buf, true, err) < 0)
			return -1;
		if (futimens(fd, ts) < 0) {
			error_set_errno(err, "utimes '%s'", path->buf);
			return -1;
		}
		break;
	}
	case AE_IFDIR: {
		if (!kept && mkdirat(pfd, base, 0700) < 0) {
			error_set_errno(err, "mkdir '%s'", path->buf);
			return -1;
		}
		cleanup_close int fd =
			openat(pfd, base,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			error_set_errno(err, "open '%s'", path->buf);
			return -1;
		}
		if (apply_meta(x, ent, fd, pfd, base, path->buf, !kept, err) <
		    0)
			return -1;
		record_dir(x, path->buf, mt);
		break;
	}
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(ent);
		if (!target || strlen(target) >= PATH_MAX) {
			error_set(err, KILN_ECORRUPT,
				  "entry '%s': bad symlink target", path->buf);
			return -1;
		}
		/* The target is only data here; it is resolved in-root later.
		 */
		if (symlinkat(target, pfd, base) < 0) {
			error_set_errno(err, "symlink '%s'", path->buf);
			return -1;
		}
		if (apply_meta(x, ent, -1, pfd, base, path->buf, true, err) < 0)
			return -1;
		if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			error_set_errno(err, "utimes '%s'", path->buf);
			return -1;
		}
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO: {
		dev_t dev = makedev(archive_entry_rdevmajor(ent),
				    archive_entry_rdevminor(ent));
		if (mknodat(pfd, base, type | 0600,
			    type == AE_IFIFO ? 0 : dev) < 0) {
			/* Devices need CAP_MKNOD: skip and count them. */
			if (type != AE_IFIFO &&
			    (errno == EPERM || errno == EACCES)) {
				x->st->skipped_devices++;
				return 0;
			}
			error_set_errno(err, "mknod '%s'", path->buf);
			return -1;
		}
		if (apply_meta(x, ent, -1, pfd, base, path->buf, true, err) < 0)
			return -1;
		if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			error_set_errno(err, "utimes '%s'", path->buf);
			return -1;
		}
		break;
	}
	default:
		return 0; /* sockets and unknown types are not extracted */
	}
	mark_unpacked(x, path->buf);
	return 0;
}

int archive_extract(int rootfd, const struct archive_input *in,
		    const struct archive_extract_opts *opts,
		    struct archive_extract_stats *stats, struct error **err)
{
	struct archive_extract_opts def = { 0 };
	struct archive_extract_stats dummy;
	struct archive_tar_source src;
	struct extractor x = { 0 };
	struct strbuf path = STRBUF_INIT;
	struct error *e = NULL;
	int ret = 0;

	if (!opts)
		opts = &def;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	x.rootfd = rootfd;
	x.opts = opts;
	x.st = stats;
	x.cache_fd = -1;
	x.new_uid = geteuid();
	x.egid = getegid();
	x.chown = x.new_uid == 0 && !opts->no_chown;
	x.opaque_xattr = opts->userxattr ? "user.overlay.opaque"
					 : "trusted.overlay.opaque";

	unsigned dflags = (opts->force_zlib ? ARCHIVE_DECOMP_ZLIB : 0) |
			  (opts->no_digests ? ARCHIVE_DECOMP_NOHASH : 0);
	if (archive_tar_source_open(&src, in, dflags, &e) < 0) {
		ret = -1;
		goto out;
	}
	for (;;) {
		struct archive_entry *ent;
		int la_failed = 0;
		int r = archive_read_next_header(src.a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			archive_tar_source_error(&src, NULL, &e);
			ret = -1;
			break;
		}
		if (extract_entry(&x, src.a, ent, &path, &la_failed, &e) < 0) {
			if (la_failed) {
				error_clear(&e);
				archive_tar_source_error(&src, NULL, &e);
			}
			ret = -1;
			break;
		}
	}
	/* Read to the very end: the gzip trailer is checked there. */
	if (!ret)
		ret = archive_tar_source_drain(&src, &e);
	if (!ret)
		ret = apply_dir_times(&x, &e);
	if (!ret)
		archive_decompressor_digests(src.dec, &stats->digests);
out:
	archive_tar_source_close(&src);
	cache_drop(&x);
	for (size_t i = 0; i < x.dirs_nr; i++)
		free(x.dirs[i].path);
	free(x.dirs);
	archive_strset_clear(&x.unpacked);
	strbuf_release(&path);
	if (e) {
		if (opts->what)
			error_wrap(&e, "%s", opts->what);
		if (err && !*err)
			*err = e;
		else
			error_free(e);
	}
	return ret;
}
