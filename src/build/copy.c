/*
 * build COPY / ADD / WORKDIR: files are copied in-process into a fresh
 * staging directory that becomes the step's layer.  The destination is
 * judged against a read-only view of the stage so far (does it exist, is
 * it a directory, which directories on the way must be repeated in the
 * layer with their metadata), --chown names are resolved in that view's
 * /etc/passwd and /etc/group.  Sources come from the context (through the
 * walk, so .dockerignore applies), from a stage or an image (a view), from
 * heredocs or URLs.  Docker's path rules: a directory source copies its
 * contents, a trailing slash or several sources make the destination a
 * directory, missing parents are created 0755.
 */
#include "build/build-internal.h"
#include "archive/archive.h"
#include "sandbox/sandbox.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

/* ------------------------------------------------------------ context */

static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;

/* Walk and hash the context once per build (thread-safe). */
int build_context_walk(struct build *b, struct error **err)
{
	int ret = 0;
	pthread_mutex_lock(&walk_lock);
	if (!b->walked && b->ctx_fd < 0)
		b->walked = true;
	if (!b->walked) {
		struct context_walk w = CONTEXT_WALK_INIT;
		/* the stat cache: one file per context directory */
		char key[BUILD_KEY_HEX];
		struct build_keyer k;
		build_key_init(&k, NULL);
		build_key_addf(&k, "context %s", b->ctx_path);
		build_key_final(&k, key);
		mkdirat(b->s->root_fd, "cache", 0700);
		char *cp = xstrfmt("%s/cache/ctx-%s", b->s->root, key);
		if (access(cp, F_OK) < 0)
			build_note_created(b, &b->rb_paths, cp);
		if (context_walk(b->ctx_fd, b->ignore, &w, err) < 0) {
			ret = -1;
		} else if (context_hash(b->ctx_fd, &w, cp, NULL, err) < 0) {
			context_walk_release(&w);
			ret = -1;
		} else {
			b->walk = w;
			b->walked = true;
		}
		free(cp);
	}
	pthread_mutex_unlock(&walk_lock);
	return ret;
}

static bool has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* ------------------------------------------------------------ paths in a root
 */

/*
 * Resolve `path` (absolute in the root) inside the directory `rootfd`,
 * following symlinks as if the root were "/" (also the last component
 * when `follow_last`).  Returns the resolved path relative to the root
 * ("." for the root), without checking that the last component exists.
 */
static char *resolve_in_root(int rootfd, const char *path, bool follow_last)
{
	cleanup_free char *todo =
		build_clean_path(path[0] == '/' ? path + 1 : path);
	struct strbuf cur = STRBUF_INIT;
	int hops = 0;
	char *rest = todo;
	if (!strcmp(rest, "."))
		rest += 1;
	while (*rest) {
		char *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		cleanup_free char *comp = xstrndup(rest, n);
		rest += n;
		while (*rest == '/')
			rest++;
		if (!strcmp(comp, "..")) {
			char *s = strrchr(cur.buf, '/');
			strbuf_setlen(&cur, s ? (size_t)(s - cur.buf) : 0);
			continue;
		}
		size_t keep = cur.len;
		if (cur.len)
			strbuf_addch(&cur, '/');
		strbuf_addstr(&cur, comp);
		if (!*rest && !follow_last)
			break;
		char target[4096];
		ssize_t tl =
			readlinkat(rootfd, cur.buf, target, sizeof(target) - 1);
		if (tl < 0)
			continue;
		target[tl] = 0;
		if (++hops > 40)
			break;
		strbuf_setlen(&cur, keep);
		cleanup_free char *np = NULL;
		if (target[0] == '/')
			np = xstrfmt("%s/%s", target + 1, rest);
		else
			np = xstrfmt("%s/%s/%s", cur.buf, target, rest);
		if (target[0] == '/')
			strbuf_reset(&cur);
		else
			strbuf_reset(&cur);
		char *cleaned = build_clean_path(np);
		/* restart from the root with the rewritten path */
		free(todo);
		todo = cleaned;
		rest = todo;
		if (!strcmp(rest, "."))
			rest += 1;
		while (!strncmp(rest, "../", 3))
			rest += 3;
		if (!strcmp(rest, ".."))
			rest += 2;
	}
	if (!cur.len)
		strbuf_addch(&cur, '.');
	return strbuf_detach(&cur, NULL);
}

/* ------------------------------------------------------------ chmod */

struct chmod_spec {
	bool set;
	bool octal;
	mode_t mode;
	char *symbolic;
};

static int parse_chmod(const char *s, struct chmod_spec *cs, struct error **err)
{
	memset(cs, 0, sizeof(*cs));
	if (!s)
		return 0;
	cs->set = true;
	char *end;
	unsigned long v = strtoul(s, &end, 8);
	if (*s && !*end) {
		if (v > 07777) {
			error_set(err, KILN_EINVAL, "invalid chmod %s", s);
			return -1;
		}
		cs->octal = true;
		cs->mode = (mode_t)v;
		return 0;
	}
	/* symbolic: [ugoa]*[+-=][rwxXst]* , ... */
	for (const char *p = s; *p;) {
		while (*p && strchr("ugoa", *p))
			p++;
		if (!*p || !strchr("+-=", *p)) {
			error_set(err, KILN_EINVAL, "invalid chmod %s", s);
			return -1;
		}
		while (*p && strchr("+-=", *p)) {
			p++;
			while (*p && strchr("rwxXst", *p))
				p++;
		}
		if (*p == ',')
			p++;
		else if (*p) {
			error_set(err, KILN_EINVAL, "invalid chmod %s", s);
			return -1;
		}
	}
	cs->symbolic = xstrdup(s);
	return 0;
}

static mode_t apply_chmod(const struct chmod_spec *cs, mode_t mode, bool dir)
{
	if (!cs->set)
		return mode & 07777;
	if (cs->octal)
		return cs->mode;
	mode_t m = mode & 07777;
	const char *p = cs->symbolic;
	while (*p) {
		mode_t who = 0;
		while (*p && strchr("ugoa", *p)) {
			if (*p == 'u')
				who |= 04700;
			else if (*p == 'g')
				who |= 02070;
			else if (*p == 'o')
				who |= 01007;
			else
				who |= 07777;
			p++;
		}
		if (!who)
			who = 07777;
		while (*p && strchr("+-=", *p)) {
			char op = *p++;
			mode_t bits = 0;
			while (*p && strchr("rwxXst", *p)) {
				switch (*p) {
				case 'r':
					bits |= 0444;
					break;
				case 'w':
					bits |= 0222;
					break;
				case 'x':
					bits |= 0111;
					break;
				case 'X':
					if (dir || (m & 0111))
						bits |= 0111;
					break;
				case 's':
					bits |= 06000;
					break;
				case 't':
					bits |= 01000;
					break;
				}
				p++;
			}
			bits &= who;
			if (op == '+')
				m |= bits;
			else if (op == '-')
				m &= ~bits;
			else
				m = (m & ~(who & 0777)) | bits;
		}
		if (*p == ',')
			p++;
	}
	return m;
}

/* ------------------------------------------------------------ the copier */

static void not_found_error(struct build *b, const char *what, const char *src,
			    struct error **err);

struct copier {
	struct build *b;
	const struct dockerfile_copy *c;
	bool is_add;
	const char *what; /* "COPY" / "ADD" / "WORKDIR" */
	int dst_fd; /* the staging dir */
	int view_fd; /* the stage so far, or -1 (--link) */
	bool chown;
	uid_t uid;
	gid_t gid;
	struct chmod_spec chmod;
	struct context_ignore *excludes;
	int64_t mtime_now;
	int nitems; /* entries copied */
};

/*
 * The tree staged in cp->dst_fd becomes the step's layer; the staging dir
 * is used up either way.
 */
static int commit_staged(struct build_stage *bs, struct copier *cp,
			 char **staging, const char *key,
			 const char *created_by, struct error **err)
{
	close(cp->dst_fd);
	cp->dst_fd = -1;
	int ret = build_commit_step(bs, key, created_by, *staging, false, NULL,
				    err);
	free(*staging);
	*staging = NULL;
	return ret;
}

/* The descriptors, and a staging dir that was not committed. */
static void copier_release(struct copier *cp, char **staging)
{
	if (cp->dst_fd >= 0)
		close(cp->dst_fd);
	cp->dst_fd = -1;
	if (*staging) {
		store_layer_abort(cp->b->s, *staging);
		free(*staging);
		*staging = NULL;
	}
	if (cp->view_fd >= 0)
		close(cp->view_fd);
	cp->view_fd = -1;
}

/* fstatat in the view; false when absent. */
static bool view_stat(struct copier *cp, const char *rel, struct stat *st)
{
	if (cp->view_fd < 0)
		return false;
	return fstatat(cp->view_fd, rel, st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

/*
 * Make sure directory `rel` (relative, resolved) exists in the staging
 * tree: components that exist in the view are repeated with their
 * metadata, missing ones are created 0755 (owned by --chown).
 */
static int ensure_dir(struct copier *cp, const char *rel, struct error **err)
{
	if (!strcmp(rel, ".") || !*rel)
		return 0;
	cleanup_free char *copy = xstrdup(rel);
	for (char *p = copy;; p++) {
		if (*p != '/' && *p)
			continue;
		char save = *p;
		*p = 0;
		struct stat st;
		if (fstatat(cp->dst_fd, copy, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				/* a file from an earlier source in the way */
				unlinkat(cp->dst_fd, copy, 0);
				goto create;
			}
		} else {
		create:;
			struct stat vst;
			bool in_view = view_stat(cp, copy, &vst) &&
				       S_ISDIR(vst.st_mode);
			if (mkdirat(cp->dst_fd, copy, 0755) < 0 &&
			    errno != EEXIST) {
				error_set_errno(err, "mkdir '%s'", copy);
				return -1;
			}
			mode_t mode = in_view ? (vst.st_mode & 07777) : 0755;
			uid_t u = in_view ? vst.st_uid
					  : (cp->chown ? cp->uid : 0);
			gid_t g = in_view ? vst.st_gid
					  : (cp->chown ? cp->gid : 0);
			if (fchownat(cp->dst_fd, copy, u, g,
				     AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(cp->dst_fd, copy, mode, 0) < 0) {
				error_set_errno(err, "chown/chmod '%s'", copy);
				return -1;
			}
			if (in_view) {
				struct timespec ts[2] = { vst.st_atim,
							  vst.st_mtim };
				utimensat(cp->dst_fd, copy, ts,
					  AT_SYMLINK_NOFOLLOW);
			}
		}
		*p = save;
		if (!save)
			break;
	}
	return 0;
}

static const char *dirname_of(const char *rel, char **buf)
{
	const char *s = strrchr(rel, '/');
	*buf = s ? xstrndup(rel, s - rel) : xstrdup(".");
	return *buf;
}

static int copy_file_data(int in, int out, struct error **err)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		    errno == EOPNOTSUPP)
			break;
		error_set_errno(err, "copy");
		return -1;
	}
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set_errno(err, "read");
			return -1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, n - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				error_set_errno(err, "write");
				return -1;
			}
			off += w;
		}
	}
}

/*
 * File capabilities (security.capability), set after the chown that
 * would clear them.  BuildKit's copy keeps no other extended attribute
 * (user.* are dropped: the buildah conformance cases show it).
 */
static void copy_xattrs(int in, int out)
{
	char names[4096];
	ssize_t n = flistxattr(in, names, sizeof(names));
	for (ssize_t off = 0; n > 0 && off < n;
	     off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		if (strcmp(name, "security.capability"))
			continue;
		char val[65536];
		ssize_t vl = fgetxattr(in, name, val, sizeof(val));
		if (vl >= 0)
			fsetxattr(out, name, val, (size_t)vl, 0);
	}
}

/* Remove whatever is at `rel` in the staging tree (to replace it). */
static void dst_remove(struct copier *cp, const char *rel)
{
	struct stat st;
	if (fstatat(cp->dst_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int fd =
			open_beneath(cp->dst_fd, rel, O_PATH | O_DIRECTORY);
		if (fd >= 0) {
			cleanup_free char *p = xstrfmt("/proc/self/fd/%d", fd);
			char real[4096];
			ssize_t n = readlink(p, real, sizeof(real) - 1);
			if (n > 0) {
				real[n] = 0;
				build_rmtree(real);
			}
		}
	} else {
		unlinkat(cp->dst_fd, rel, 0);
	}
}

/*
 * Copy one entry `srel` under `srcfd` to `drel` in the staging tree (not
 * recursing).  `st` is its lstat.  The parent of drel exists.
 */
static int copy_one(struct copier *cp, int srcfd, const char *srel,
		    const struct stat *st, const char *drel, bool from_context,
		    struct error **err)
{
	uid_t u = cp->chown ? cp->uid : (from_context ? 0 : st->st_uid);
	gid_t g = cp->chown ? cp->gid : (from_context ? 0 : st->st_gid);
	mode_t mode =
		apply_chmod(&cp->chmod, st->st_mode, S_ISDIR(st->st_mode));
	struct timespec ts[2] = { st->st_mtim, st->st_mtim };
	cp->nitems++;
	if (S_ISDIR(st->st_mode)) {
		struct stat dst;
		if (fstatat(cp->dst_fd, drel, &dst, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(dst.st_mode)) {
			dst_remove(cp, drel);
			if (mkdirat(cp->dst_fd, drel, 0700) < 0) {
				error_set_errno(err, "mkdir '%s'", drel);
				return -1;
			}
		}
		if (fchownat(cp->dst_fd, drel, u, g, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(cp->dst_fd, drel, mode, 0) < 0) {
			error_set_errno(err, "chmod '%s'", drel);
			return -1;
		}
		utimensat(cp->dst_fd, drel, ts, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	dst_remove(cp, drel);
	if (S_ISREG(st->st_mode)) {
		cleanup_close int in =
			openat(srcfd, srel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0) {
			error_set_errno(err, "open '%s'", srel);
			return -1;
		}
		cleanup_close int out = openat(cp->dst_fd, drel,
					       O_WRONLY | O_CREAT | O_EXCL |
						       O_NOFOLLOW | O_CLOEXEC,
					       0600);
		if (out < 0) {
			error_set_errno(err, "create '%s'", drel);
			return -1;
		}
		if (copy_file_data(in, out, err) < 0)
			return -1;
		if (fchown(out, u, g) < 0 || fchmod(out, mode) < 0) {
			error_set_errno(err, "chmod '%s'", drel);
			return -1;
		}
		copy_xattrs(in, out);
		futimens(out, ts);
		return 0;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(srcfd, srel, target, sizeof(target) - 1);
		if (n < 0) {
			error_set_errno(err, "readlink '%s'", srel);
			return -1;
		}
		target[n] = 0;
		if (symlinkat(target, cp->dst_fd, drel) < 0) {
			error_set_errno(err, "symlink '%s'", drel);
			return -1;
		}
		fchownat(cp->dst_fd, drel, u, g, AT_SYMLINK_NOFOLLOW);
		utimensat(cp->dst_fd, drel, ts, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (mknodat(cp->dst_fd, drel, st->st_mode, st->st_rdev) < 0) {
		error_set_errno(err, "mknod '%s'", drel);
		return -1;
	}
	fchownat(cp->dst_fd, drel, u, g, AT_SYMLINK_NOFOLLOW);
	fchmodat(cp->dst_fd, drel, mode, 0);
	utimensat(cp->dst_fd, drel, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static bool excluded(struct copier *cp, const char *rel_in_source,
		     const char *rel_in_root)
{
	if (!cp->excludes)
		return false;
	return context_ignore_match(cp->excludes, rel_in_source, NULL) ||
	       context_ignore_match(cp->excludes, rel_in_root, NULL);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static char *join(const char *a, const char *b)
{
	if (!strcmp(a, ".") || !*a)
		return xstrdup(b);
	if (!strcmp(b, ".") || !*b)
		return xstrdup(a);
	return xstrfmt("%s/%s", a, b);
}

/* Recursive copy of a directory's contents from a view. */
static int copy_tree_view(struct copier *cp, int srcfd, const char *srel,
			  const char *drel, const char *rel_in_source,
			  struct error **err)
{
	struct strvec names = STRVEC_INIT;
	if (read_dir_names(srcfd, srel, O_NOFOLLOW, &names) < 0) {
		error_set_errno(err, "open '%s'", srel);
		return -1;
	}
	int ret = 0;
	for (size_t i = 0; i < names.nr && !ret; i++) {
		cleanup_free char *s = join(srel, names.v[i]);
		cleanup_free char *dd = join(drel, names.v[i]);
		cleanup_free char *rs = join(rel_in_source, names.v[i]);
		if (excluded(cp, rs, s))
			continue;
		struct stat st;
		if (fstatat(srcfd, s, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		ret = copy_one(cp, srcfd, s, &st, dd, false, err);
		if (!ret && S_ISDIR(st.st_mode))
			ret = copy_tree_view(cp, srcfd, s, dd, rs, err);
	}
	strvec_clear(&names);
	return ret;
}

/* Recursive copy of a directory's contents from the context walk. */
static int copy_tree_context(struct copier *cp, const char *srel,
			     const char *drel, struct error **err)
{
	struct build *b = cp->b;
	bool root = !strcmp(srel, ".");
	size_t sl = strlen(srel);
	for (size_t i = 0; i < b->walk.nr; i++) {
		const struct context_entry *e = &b->walk.entries[i];
		const char *sub;
		if (root)
			sub = e->path;
		else if (!strncmp(e->path, srel, sl) && e->path[sl] == '/')
			sub = e->path + sl + 1;
		else
			continue;
		if (excluded(cp, sub, e->path))
			continue;
		struct stat st;
		if (fstatat(b->ctx_fd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		cleanup_free char *dd = join(drel, sub);
		cleanup_free char *parent = NULL;
		if (ensure_dir(cp, dirname_of(dd, &parent), err) < 0)
			return -1;
		if (copy_one(cp, b->ctx_fd, e->path, &st, dd, true, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * A copy of the context at `src` (a directory or a file) holding only
 * what .dockerignore lets through, in a new directory of tmp/ (for RUN
 * --mount=type=bind from the context).  *out is the path to mount.
 */
int build_context_snapshot(struct build *b, const char *src, char **dir,
			   char **out, struct error **err)
{
	*dir = *out = NULL;
	if (build_context_walk(b, err) < 0)
		return -1;
	char *tmp = build_tmpdir(b, "context", err);
	if (!tmp)
		return -1;
	struct copier cp = { .b = b, .what = "RUN --mount", .view_fd = -1 };
	cp.dst_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = -1;
	struct stat st;
	if (cp.dst_fd < 0) {
		error_set_errno(err, "open '%s'", tmp);
	} else if (!strcmp(src, ".") ||
		   (!fstatat(b->ctx_fd, src, &st, 0) && S_ISDIR(st.st_mode))) {
		if (strcmp(src, ".") && !context_walk_find(&b->walk, src))
			not_found_error(b, cp.what, src, err);
		else
			ret = copy_tree_context(&cp, src, ".", err);
		*out = xstrdup(tmp);
	} else if (context_walk_find(&b->walk, src) &&
		   !fstatat(b->ctx_fd, src, &st, AT_SYMLINK_NOFOLLOW)) {
		ret = copy_one(&cp, b->ctx_fd, src, &st, base_name(src), true,
			       err);
		*out = xstrfmt("%s/%s", tmp, base_name(src));
	} else {
		not_found_error(b, cp.what, src, err);
	}
	if (cp.dst_fd >= 0)
		close(cp.dst_fd);
	*dir = tmp;
	return ret;
}

/* ------------------------------------------------------------ ADD */

/* Is the file a (possibly compressed) tar archive? */
static bool is_archive(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct archive_input in = { archive_fd_read, &fd };
	struct archive_decompressor *d =
		archive_decompressor_new(&in, ARCHIVE_COMP_AUTO, 0, NULL);
	bool ok = false;
	if (d) {
		unsigned char hdr[512];
		size_t got = 0;
		while (got < sizeof(hdr)) {
			ssize_t n = archive_decompressor_read(
				d, hdr + got, sizeof(hdr) - got, NULL);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got == sizeof(hdr)) {
			unsigned sum = 0;
			for (int i = 0; i < 512; i++)
				sum += (i >= 148 && i < 156) ? ' ' : hdr[i];
			char chk[9];
			memcpy(chk, hdr + 148, 8);
			chk[8] = 0;
			unsigned long v = strtoul(chk, NULL, 8);
			ok = v == sum && sum != 256;
		}
		archive_decompressor_free(d);
	}
	close(fd);
	return ok;
}

static int extract_archive(struct copier *cp, int dirfd, const char *rel,
			   const char *ddir, struct error **err)
{
	if (ensure_dir(cp, ddir, err) < 0)
		return -1;
	cleanup_close int fd =
		openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", rel);
		return -1;
	}
	cleanup_close int root =
		open_beneath(cp->dst_fd, ddir, O_RDONLY | O_DIRECTORY);
	if (root < 0) {
		error_set_errno(err, "open '%s'", ddir);
		return -1;
	}
	struct archive_input in = { archive_fd_read, &fd };
	struct archive_extract_opts eo = { .whiteouts = ARCHIVE_WHITEOUT_APPLY,
					   .what = rel,
					   .docker_untar = true };
	cp->nitems++;
	return archive_extract(root, &in, &eo, NULL, err);
}

struct fetch {
	int fd;
	struct oci_hasher h;
	struct error *err;
};

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct fetch *f = data;
	size_t n = size * nmemb;
	oci_hasher_update(&f->h, ptr, n);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(f->fd, ptr + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += (size_t)w;
	}
	return n;
}

/*
 * Download `url` into `dir`/`name` (mode 0600, as BuildKit); the sha256
 * goes to `digest`, the Last-Modified time to *mtime (0 when absent).
 */
static int fetch_url(const char *url, int dirfd, const char *name,
		     char digest[OCI_DIGEST_MAX + 1], long *mtime,
		     struct error **err)
{
	struct fetch f = { .fd = -1 };
	f.fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0600);
	if (f.fd < 0) {
		error_set_errno(err, "create '%s'", name);
		return -1;
	}
	oci_hasher_init(&f.h, OCI_DIGEST_SHA256);
	CURL *c = curl_easy_init();
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	int ret = 0;
	if (rc != CURLE_OK) {
		error_set(err, KILN_ENOTFOUND, "failed to fetch %s: %s", url,
			  *ebuf ? ebuf : curl_easy_strerror(rc));
		ret = -1;
	} else {
		long ft = -1;
		curl_easy_getinfo(c, CURLINFO_FILETIME, &ft);
		*mtime = ft > 0 ? ft : 0;
	}
	curl_easy_cleanup(c);
	oci_hasher_final(&f.h, digest);
	oci_hasher_release(&f.h);
	close(f.fd);
	return ret;
}

static bool is_url(const char *s)
{
	return starts_with(s, "http://") || starts_with(s, "https://");
}

static const char *url_basename(const char *url, char **buf)
{
	const char *p = strchr(url + strlen("https://") - 1, '/');
	const char *q = url + strcspn(url, "?#");
	cleanup_free char *path = p && p < q ? xstrndup(p, q - p)
					     : xstrdup("/");
	while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = 0;
	const char *s = strrchr(path, '/');
	*buf = xstrdup(s && s[1] ? s + 1 : "__unnamed__");
	return *buf;
}

/* ------------------------------------------------------------ sources */

/* One resolved source: a path in its root, or inline data, or a file. */
struct source {
	char *rel; /* resolved path relative to the root */
	char *as; /* the name it was asked for (basename rules) */
	char *parents; /* --parents: the path kept under dest */
	bool is_dir;
	bool wildcard;
	const char *data; /* heredoc content */
	int fetched_fd; /* dirfd holding a downloaded file, or -1 */
};

static void sources_free(struct source *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rel);
		free(v[i].as);
		free(v[i].parents);
	}
	free(v);
}

static char *parents_part(const char *src, const char *resolved)
{
	const char *m = strstr(src, "/./");
	if (m) {
		cleanup_free char *kept = build_clean_path(m + 3);
		return xstrdup(kept);
	}
	return xstrdup(resolved);
}

/* Context source: where did .dockerignore exclude it? */
static void not_found_error(struct build *b, const char *what, const char *src,
			    struct error **err)
{
	cleanup_free char *clean =
		build_clean_path(src[0] == '/' ? src + 1 : src);
	int line = 0;
	struct stat st;
	bool exists = b->ctx_fd >= 0 &&
		      !fstatat(b->ctx_fd, clean, &st, AT_SYMLINK_NOFOLLOW);
	if (exists && b->ignore &&
	    context_ignore_match(b->ignore, clean, &line) && line > 0) {
		const char *file = context_ignore_source(b->ignore);
		struct strbuf text = STRBUF_INIT;
		cleanup_free char *ipath =
			file && file[0] != '/'
				? xstrfmt("%s/%s", b->ctx_path, file)
				: xstrdup(file ? file : "");
		char pat[256] = "";
		if (!strbuf_read_file(&text, ipath)) {
			int l = 1;
			for (char *p = text.buf; *p; l++) {
				char *nl = strchr(p, '\n');
				if (l == line) {
					size_t n = nl ? (size_t)(nl - p)
						      : strlen(p);
					if (n >= sizeof(pat))
						n = sizeof(pat) - 1;
					memcpy(pat, p, n);
					pat[n] = 0;
					break;
				}
				if (!nl)
					break;
				p = nl + 1;
			}
		}
		strbuf_release(&text);
		error_set(err, KILN_ENOTFOUND,
			  "%s %s: \"%s\" is excluded by %s:%d (\"%s\") "
			  "in build context %s",
			  what, src, clean, file ? file : ".dockerignore", line,
			  pat, b->ctx_path);
		return;
	}
	error_set(err, KILN_ENOTFOUND,
		  "%s %s: \"%s\" not found in build context %s", what, src,
		  clean, b->ctx_path ? b->ctx_path : "(none)");
}

/* Expand one source against the context walk. */
static int context_sources(struct copier *cp, const char *src,
			   struct source **v, size_t *n, size_t *alloc,
			   struct error **err)
{
	struct build *b = cp->b;
	cleanup_free char *clean =
		build_clean_path(src[0] == '/' ? src + 1 : src);
	while (starts_with(clean, "../")) {
		char *t = xstrdup(clean + 3);
		free(clean);
		clean = t;
	}
	if (!strcmp(clean, ".."))
		clean[1] = 0;
	if (has_wildcard(clean)) {
		size_t before = *n;
		for (size_t i = 0; i < b->walk.nr; i++) {
			const struct context_entry *e = &b->walk.entries[i];
			if (fnmatch(clean, e->path, FNM_PATHNAME))
				continue;
			ALLOC_GROW(*v, *n + 1, *alloc);
			struct source *s = &(*v)[(*n)++];
			memset(s, 0, sizeof(*s));
			s->fetched_fd = -1;
			/* a match is copied as it is: a symlink stays one */
			s->rel = xstrdup(e->path);
			s->as = xstrdup(e->path);
			s->parents = parents_part(src, e->path);
			s->wildcard = true;
			s->is_dir = e->type == CONTEXT_DIR;
		}
		(void)before;
		return 0;
	}
	cleanup_free char *r = resolve_in_root(b->ctx_fd, clean, true);
	bool present = !strcmp(r, ".") || context_walk_find(&b->walk, r);
	if (!present) {
		not_found_error(b, cp->what, src, err);
		return -1;
	}
	ALLOC_GROW(*v, *n + 1, *alloc);
	struct source *s = &(*v)[(*n)++];
	memset(s, 0, sizeof(*s));
	s->fetched_fd = -1;
	s->rel = xstrdup(r);
	s->as = xstrdup(clean);
	s->parents = parents_part(src, clean);
	struct stat st;
	s->is_dir = !strcmp(r, ".") ||
		    (!fstatat(b->ctx_fd, r, &st, 0) && S_ISDIR(st.st_mode));
	return 0;
}

/* A simple glob over a directory tree (pattern relative, cleaned). */
static void glob_dir(int rootfd, const char *base, const char *pattern,
		     struct strvec *out)
{
	const char *slash = strchr(pattern, '/');
	cleanup_free char *comp = slash ? xstrndup(pattern, slash - pattern)
					: xstrdup(pattern);
	const char *rest = slash ? slash + 1 : NULL;
	if (!has_wildcard(comp)) {
		cleanup_free char *p = join(base, comp);
		struct stat st;
		if (fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return;
		if (rest)
			glob_dir(rootfd, p, rest, out);
		else
			strvec_push(out, p);
		return;
	}
	struct strvec names = STRVEC_INIT;
	if (read_dir_names(rootfd, base, 0, &names) < 0)
		return;
	for (size_t i = 0; i < names.nr; i++) {
		if (fnmatch(comp, names.v[i], FNM_PATHNAME))
			continue;
		cleanup_free char *p = join(base, names.v[i]);
		if (rest)
			glob_dir(rootfd, p, rest, out);
		else
			strvec_push(out, p);
	}
	strvec_clear(&names);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int view_sources(struct copier *cp, int rootfd, const char *from,
			const char *src, struct source **v, size_t *n,
			size_t *alloc, struct error **err)
{
	cleanup_free char *clean =
		build_clean_path(src[0] == '/' ? src + 1 : src);
	struct strvec found = STRVEC_INIT;
	bool wild = has_wildcard(clean);
	if (wild) {
		glob_dir(rootfd, ".", clean, &found);
		qsort(found.v, found.nr, sizeof(found.v[0]), cmp_strp);
	} else {
		strvec_push(&found, clean);
	}
	for (size_t i = 0; i < found.nr; i++) {
		cleanup_free char *r =
			resolve_in_root(rootfd, found.v[i], !wild);
		struct stat st;
		if (strcmp(r, ".") &&
		    fstatat(rootfd, r, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error_set(err, KILN_ENOTFOUND,
				  "%s --from=%s %s: \"/%s\" not found",
				  cp->what, from, src, clean);
			strvec_clear(&found);
			return -1;
		}
		if (!strcmp(r, "."))
			fstat(rootfd, &st);
		ALLOC_GROW(*v, *n + 1, *alloc);
		struct source *s = &(*v)[(*n)++];
		memset(s, 0, sizeof(*s));
		s->fetched_fd = -1;
		s->rel = xstrdup(r);
		s->as = xstrdup(found.v[i]);
		s->parents = parents_part(src, found.v[i]);
		s->is_dir = S_ISDIR(st.st_mode);
		s->wildcard = wild;
	}
	strvec_clear(&found);
	return 0;
}

/* Is `rel` a directory now: in the staging tree, else in the view? */
static bool dest_is_dir_now(struct copier *cp, const char *rel)
{
	struct stat st;
	if (!strcmp(rel, "."))
		return true;
	if (!fstatat(cp->dst_fd, rel, &st, AT_SYMLINK_NOFOLLOW))
		return S_ISDIR(st.st_mode);
	return cp->view_fd >= 0 && !fstatat(cp->view_fd, rel, &st, 0) &&
	       S_ISDIR(st.st_mode);
}

/* Copy all sources from `srcfd` into the staging tree. */
static int copy_sources(struct copier *cp, int srcfd, bool from_context,
			struct source *v, size_t n, const char *dest_abs,
			bool dest_is_dir, struct error **err)
{
	const struct dockerfile_copy *c = cp->c;
	int viewfd = cp->view_fd;
	/* the destination, resolved through the stage's symlinks */
	cleanup_free char *dest =
		viewfd >= 0 ? resolve_in_root(viewfd, dest_abs, true)
			    : build_clean_path(dest_abs + 1);
	for (size_t i = 0; i < n; i++) {
		struct source *s = &v[i];
		int fd = s->fetched_fd >= 0 ? s->fetched_fd : srcfd;
		cleanup_free char *ddir = NULL;
		if (c->parents && !s->data) {
			cleanup_free char *pp = build_clean_path(s->parents);
			if (s->is_dir) {
				ddir = join(dest, pp);
			} else {
				cleanup_free char *dn = NULL;
				dirname_of(pp, &dn);
				ddir = join(dest, dn);
			}
		} else {
			ddir = xstrdup(dest);
		}
		if (s->is_dir) {
			if (excluded(cp, s->as, s->rel))
				continue;
			if (ensure_dir(cp, ddir, err) < 0)
				return -1;
			int ret = from_context ? copy_tree_context(cp, s->rel,
								   ddir, err)
					       : copy_tree_view(cp, fd, s->rel,
								ddir, ".", err);
			if (ret < 0)
				return -1;
			continue;
		}
		if (excluded(cp, base_name(s->as), s->as))
			continue;
		if (cp->is_add && !s->data && s->fetched_fd < 0 &&
		    c->unpack != 0 && is_archive(fd, s->rel)) {
			if (extract_archive(cp, fd, s->rel, ddir, err) < 0)
				return -1;
			continue;
		}
		/*
		 * A file goes into the destination when it is a directory
		 * (said so, or one already there), else becomes it.  Judged
		 * per source: the matches of one wildcard each replace a
		 * file destination in turn, the last one wins (BuildKit).
		 */
		cleanup_free char *dfile = NULL;
		if (dest_is_dir || c->parents || dest_is_dir_now(cp, dest))
			dfile = join(ddir, base_name(s->as));
		else
			dfile = xstrdup(dest);
		cleanup_free char *parent = NULL;
		if (ensure_dir(cp, dirname_of(dfile, &parent), err) < 0)
			return -1;
		if (s->data) {
			dst_remove(cp, dfile);
			cleanup_close int out =
				openat(cp->dst_fd, dfile,
				       O_WRONLY | O_CREAT | O_EXCL |
					       O_NOFOLLOW | O_CLOEXEC,
				       0600);
			size_t len = strlen(s->data);
			if (out < 0 ||
			    write(out, s->data, len) != (ssize_t)len) {
				error_set_errno(err, "write '%s'", dfile);
				return -1;
			}
			mode_t mode = apply_chmod(&cp->chmod, 0644, false);
			if (fchown(out, cp->chown ? cp->uid : 0,
				   cp->chown ? cp->gid : 0) < 0 ||
			    fchmod(out, mode) < 0) {
				error_set_errno(err, "chmod '%s'", dfile);
				return -1;
			}
			cp->nitems++;
			continue;
		}
		struct stat st;
		if (fstatat(fd, s->rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error_set_errno(err, "stat '%s'", s->as);
			return -1;
		}
		if (copy_one(cp, fd, s->rel, &st, dfile, from_context, err) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ chown */

static int resolve_chown(struct copier *cp, const char *spec, int rootfd,
			 struct error **err)
{
	if (!spec || !*spec)
		return 0;
	cp->chown = true;
	/* numeric uid[:gid] needs no files; a missing gid is the uid */
	const char *colon = strchr(spec, ':');
	cleanup_free char *user = colon ? xstrndup(spec, colon - spec)
					: xstrdup(spec);
	const char *group = colon ? colon + 1 : NULL;
	unsigned long long u, g;
	bool unum = parse_uint(user, UINT32_MAX, &u) == 0;
	bool gnum = group && parse_uint(group, UINT32_MAX, &g) == 0;
	if (unum && (!group || gnum)) {
		cp->uid = (uid_t)u;
		cp->gid = group ? (gid_t)g : (gid_t)u;
		return 0;
	}
	if (rootfd < 0) {
		error_set(err, KILN_EINVAL,
			  "unable to resolve --chown=%s without a root "
			  "filesystem",
			  spec);
		return -1;
	}
	uid_t uid;
	gid_t gid;
	struct error *e = NULL;
	if (sandbox_resolve_user(rootfd, spec, &uid, &gid, NULL, NULL, &e) <
	    0) {
		error_set(err, KILN_ENOTFOUND, "--chown=%s: %s", spec,
			  e ? e->msg : "unknown user");
		error_free(e);
		return -1;
	}
	cp->uid = uid;
	cp->gid = gid;
	return 0;
}

/* ------------------------------------------------------------ the steps */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Finish a step that produced `dir` (or nothing) and record it. */
int build_commit_step(struct build_stage *bs, const char *key,
		      const char *created_by, const char *dir, bool upper,
		      const char *const *skip, struct error **err)
{
	struct build *b = bs->b;
	struct build_cache_rec rec = { 0 };
	bool empty = true;
	if (dir && build_layer_commit_dir(b, dir, upper, skip, &rec.layer,
					  &empty, err) < 0)
		return -1;
	rec.empty = empty;
	rec.created = store_time_now();
	if (!empty)
		build_state_add_layer(&bs->state, &rec.layer);
	build_history_add(b, &bs->state, created_by, !empty, rec.created);
	memcpy(bs->state.key, key, BUILD_KEY_HEX);
	int ret = build_cache_put(b, key, &rec, err);
	build_cache_rec_release(&rec);
	return ret;
}

/* A cache lookup; on a hit the state is advanced.  1 hit, 0 miss. */
int build_step_cached(struct build_stage *bs, const char *key,
		      const char *created_by)
{
	struct build_cache_rec rec;
	if (build_cache_get(bs->b, key, &rec) <= 0)
		return 0;
	if (!rec.empty)
		build_state_add_layer(&bs->state, &rec.layer);
	build_history_add(bs->b, &bs->state, created_by, !rec.empty,
			  rec.created);
	memcpy(bs->state.key, key, BUILD_KEY_HEX);
	build_cache_rec_release(&rec);
	return 1;
}

/* Fill the step text: "COPY a.txt /dst" as written (flags included). */
static const char *step_text(const struct dockerfile_instr *in)
{
	const char *t = in->node->original;
	while (*t == ' ' || *t == '\t')
		t++;
	return t;
}

int build_step_copy(struct build_stage *bs, const struct dockerfile_instr *in,
		    struct build_step_info *si, struct error **err)
{
	struct build *b = bs->b;
	const struct dockerfile_copy *c = &in->u.copy;
	bool is_add = in->kind == DOCKERFILE_ADD;
	struct build_state *st = &bs->state;
	double t0 = mono();
	int ret = -1;
	char *created_by = build_created_by(bs, st, in);
	char *dest_abs =
		build_abs_path(st->config->config.working_dir, c->dest);
	struct copier cp = { .b = b,
			     .c = c,
			     .is_add = is_add,
			     .what = is_add ? "ADD" : "COPY",
			     .dst_fd = -1,
			     .view_fd = -1 };
	struct source *srcs = NULL;
	size_t n = 0, alloc = 0;
	struct build_view sview = { 0 }, dview = { 0 };
	int sfd = -1;
	char *fetch_dir = NULL;
	int fetch_fd = -1;
	char *staging = NULL;
	struct build_keyer k;
	char key[BUILD_KEY_HEX] = "";

	si->text = step_text(in);
	build_progress_start(b, si);

	/* where the sources come from */
	struct build_layer *src_layers = NULL;
	size_t src_n = 0;
	const char *src_key = NULL;
	bool from_context = !c->from;
	if (c->from_stage >= 0) {
		struct build_stage *fs =
			build_wait_stage(b, c->from_stage, err);
		if (!fs)
			goto done;
		src_layers = fs->state.layers;
		src_n = fs->state.nlayers;
		src_key = fs->state.key;
	} else if (c->from) {
		struct build_image *bi = build_get_image(b, c->from, err);
		if (!bi)
			goto done;
		src_layers = bi->layers;
		src_n = bi->nlayers;
		src_key = bi->key;
	} else if (c->sources.nr) {
		if (build_context_walk(b, err) < 0)
			goto done;
	}

	size_t dl = strlen(c->dest);
	bool dest_is_dir = (dl && c->dest[dl - 1] == '/') ||
			   !strcmp(c->dest, ".") || ends_with(c->dest, "/.");
	size_t nsrc = c->sources.nr + c->ninline;
	if (nsrc > 1 && !dest_is_dir) {
		error_set(err, KILN_EINVAL,
			  "When using %s with more than one source file, the "
			  "destination must be a directory and end with a /",
			  is_add ? "ADD" : "COPY");
		goto done;
	}

	if (parse_chmod(c->chmod, &cp.chmod, err) < 0)
		goto done;
	if (c->excludes.nr) {
		cp.excludes = context_ignore_new(c->excludes.v, c->excludes.nr,
						 NULL, "--exclude", err);
		if (!cp.excludes)
			goto done;
	}

	/* resolve the sources (context/URL sources feed the key) */
	build_key_init(&k, c->link ? NULL : st->key);
	build_key_addf(&k,
		       "%s dest=%s dir=%d chown=%s chmod=%s link=%d "
		       "parents=%d unpack=%d",
		       is_add ? "ADD" : "COPY", dest_abs, dest_is_dir,
		       c->chown ? c->chown : "", c->chmod ? c->chmod : "",
		       c->link, c->parents, c->unpack);
	if (c->link && c->chown)
		build_key_addf(&k, "user-db %s", st->key);
	for (size_t i = 0; i < c->excludes.nr; i++)
		build_key_addf(&k, "exclude %s", c->excludes.v[i]);
	if (src_key)
		build_key_addf(&k, "from %s", src_key);

	if (src_layers || c->from) {
		if (build_view_open(b, src_layers, src_n, &sview, err) < 0)
			goto out;
		sfd = open(sview.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			error_set_errno(err, "open '%s'", sview.path);
			goto out;
		}
		for (size_t i = 0; i < c->sources.nr; i++) {
			if (view_sources(&cp, sfd, c->from, c->sources.v[i],
					 &srcs, &n, &alloc, err) < 0)
				goto out;
		}
		for (size_t i = 0; i < c->sources.nr; i++)
			build_key_addf(&k, "src %s", c->sources.v[i]);
	} else {
		for (size_t i = 0; i < c->sources.nr; i++) {
			const char *src = c->sources.v[i];
			if (is_add && is_url(src)) {
				if (!fetch_dir) {
					fetch_dir =
						build_tmpdir(b, "fetch", err);
					if (!fetch_dir)
						goto out;
					fetch_fd = open(fetch_dir,
							O_RDONLY | O_DIRECTORY |
								O_CLOEXEC);
				}
				cleanup_free char *bn = NULL;
				url_basename(src, &bn);
				char dg[OCI_DIGEST_MAX + 1];
				long mtime = 0;
				cleanup_free char *fname =
					xstrfmt("%zu-%s", i, bn);
				if (fetch_url(src, fetch_fd, fname, dg, &mtime,
					      err) < 0)
					goto out;
				if (c->checksum && strcmp(c->checksum, dg)) {
					error_set(err, KILN_ECORRUPT,
						  "ADD %s: checksum mismatch: "
						  "expected %s, got %s",
						  src, c->checksum, dg);
					goto out;
				}
				struct timespec ts[2] = { { mtime, 0 },
							  { mtime, 0 } };
				utimensat(fetch_fd, fname, ts, 0);
				ALLOC_GROW(srcs, n + 1, alloc);
				struct source *s = &srcs[n++];
				memset(s, 0, sizeof(*s));
				s->rel = xstrdup(fname);
				s->as = xstrdup(bn);
				s->parents = xstrdup(bn);
				s->fetched_fd = fetch_fd;
				build_key_addf(&k, "url %s %s", src, dg);
				continue;
			}
			size_t before = n;
			if (context_sources(&cp, src, &srcs, &n, &alloc, err) <
			    0)
				goto out;
			const char **paths =
				xcalloc(n - before + 1, sizeof(*paths));
			for (size_t j = before; j < n; j++) {
				paths[j - before] = srcs[j].rel;
				build_key_addf(&k, "src %s %s", srcs[j].as,
					       srcs[j].rel);
			}
			char dg[CONTEXT_DIGEST_STRLEN] = "none";
			if (n > before &&
			    context_digest_paths(&b->walk, paths, n - before,
						 dg, err) < 0) {
				free(paths);
				goto out;
			}
			free(paths);
			build_key_addf(&k, "content %s", dg);
		}
	}
	for (size_t i = 0; i < c->ninline; i++) {
		ALLOC_GROW(srcs, n + 1, alloc);
		struct source *s = &srcs[n++];
		memset(s, 0, sizeof(*s));
		s->fetched_fd = -1;
		s->rel = xstrdup(c->inline_sources[i].path);
		s->as = xstrdup(c->inline_sources[i].path);
		s->parents = xstrdup(c->inline_sources[i].path);
		s->data = c->inline_sources[i].data;
		build_key_addf(&k, "inline %s %s", s->as, s->data);
	}
	build_key_final(&k, key);

	if (build_step_cached(bs, key, created_by)) {
		build_progress_done(b, si, true, mono() - t0, NULL);
		ret = 0;
		goto out_quiet;
	}

	/* execute */
	if (!c->link) {
		if (build_view_open(b, st->layers, st->nlayers, &dview, err) <
		    0)
			goto out;
		cp.view_fd =
			open(dview.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (resolve_chown(&cp, c->chown, cp.view_fd, err) < 0)
		goto out2;
	staging = build_tmpdir(b, "copy", err);
	if (!staging)
		goto out2;
	cp.dst_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cp.dst_fd < 0) {
		error_set_errno(err, "open '%s'", staging);
		goto out2;
	}
	if (copy_sources(&cp, from_context ? b->ctx_fd : sfd, from_context,
			 srcs, n, dest_abs, dest_is_dir, err) < 0)
		goto out2;
	ret = commit_staged(bs, &cp, &staging, key, created_by, err);
out2:
	copier_release(&cp, &staging);
	build_view_close(&dview);
out:
	if (!key[0])
		build_key_final(&k, key);
	if (ret == 0)
		build_progress_done(b, si, false, mono() - t0, NULL);
out_quiet:
	if (sfd >= 0)
		close(sfd);
	build_view_close(&sview);
	if (fetch_fd >= 0)
		close(fetch_fd);
	if (fetch_dir) {
		store_layer_abort(b->s, fetch_dir);
		free(fetch_dir);
	}
	sources_free(srcs, n);
	if (cp.excludes)
		context_ignore_free(cp.excludes);
	free(cp.chmod.symbolic);
done:
	if (ret < 0)
		build_progress_done(b, si, false, mono() - t0, *err);
	free(created_by);
	free(dest_abs);
	return ret;
}

int build_step_workdir(struct build_stage *bs,
		       const struct dockerfile_instr *in,
		       struct build_step_info *si, struct error **err)
{
	struct build *b = bs->b;
	struct build_state *st = &bs->state;
	struct oci_run_config *rc = &st->config->config;
	double t0 = mono();
	int ret = -1;
	/* BuildKit keeps an absolute path as written, joins a relative */
	cleanup_free char *wd =
		in->u.str[0] == '/'
			? xstrdup(in->u.str)
			: build_abs_path(rc->working_dir, in->u.str);
	free(rc->working_dir);
	rc->working_dir = xstrdup(wd);

	si->text = step_text(in);
	build_progress_start(b, si);
	cleanup_free char *created_by = build_created_by(bs, st, in);
	struct build_keyer k;
	build_key_init(&k, st->key);
	build_key_addf(&k, "WORKDIR %s user=%s", wd, rc->user ? rc->user : "");
	char key[BUILD_KEY_HEX];
	build_key_final(&k, key);
	if (build_step_cached(bs, key, created_by)) {
		build_progress_done(b, si, true, mono() - t0, NULL);
		return 0;
	}
	struct build_view view = { 0 };
	struct copier cp = {
		.b = b, .what = "WORKDIR", .dst_fd = -1, .view_fd = -1
	};
	char *staging = NULL;
	char *rel = NULL;
	if (build_view_open(b, st->layers, st->nlayers, &view, err) < 0)
		goto out;
	cp.view_fd = open(view.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rel = resolve_in_root(cp.view_fd, wd, true);
	struct stat vst;
	if (!strcmp(rel, ".") ||
	    (!fstatat(cp.view_fd, rel, &vst, 0) && S_ISDIR(vst.st_mode))) {
		ret = build_commit_step(bs, key, created_by, NULL, false, NULL,
					err);
		goto out;
	}
	if (rc->user && *rc->user &&
	    resolve_chown(&cp, rc->user, cp.view_fd, err) < 0)
		goto out;
	staging = build_tmpdir(b, "workdir", err);
	if (!staging)
		goto out;
	cp.dst_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cp.dst_fd < 0 || ensure_dir(&cp, rel, err) < 0)
		goto out;
	ret = commit_staged(bs, &cp, &staging, key, created_by, err);
out:
	copier_release(&cp, &staging);
	build_view_close(&view);
	free(rel);
	build_progress_done(b, si, false, mono() - t0, ret < 0 ? *err : NULL);
	return ret;
}
