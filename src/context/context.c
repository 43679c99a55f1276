/*
 * context: walking the build context, content digests with a stat cache,
 * and the digest of a set of paths for COPY/ADD cache keys.
 *
 * Invariants: everything is opened relative to the context's directory fd,
 * one level at a time with O_NOFOLLOW (or openat2 RESOLVE_NO_SYMLINKS), so
 * a symlink is listed but never followed.  Entries come out in walk order
 * (see context.h), in which the entries below a directory are contiguous
 * right after it.  Digests never depend on timestamps.
 */
#include "context/context-internal.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <openssl/evp.h>

/* ------------------------------------------------------------ entries */

static void entry_release(struct context_entry *e)
{
	free(e->path);
	free(e->link);
}

void context_walk_release(struct context_walk *w)
{
	for (size_t i = 0; i < w->nr; i++)
		entry_release(&w->entries[i]);
	free(w->entries);
	w->entries = NULL;
	w->nr = w->alloc = w->dirs_read = 0;
}

/*
 * Walk order: paths compared component by component, i.e. bytewise with
 * '/' below every other byte and the end of a string below '/'.
 */
static int walk_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = *a ? (*a == '/' ? 1 : (unsigned char)*a + 1) : 0;
		int cb = *b ? (*b == '/' ? 1 : (unsigned char)*b + 1) : 0;
		if (ca != cb)
			return ca - cb;
		if (!ca)
			return 0;
	}
}

static ssize_t walk_index(const struct context_walk *w, const char *path)
{
	size_t lo = 0, hi = w->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = walk_cmp(w->entries[mid].path, path);
		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* A user-given path as a walk path: cleaned, no leading '/'; "" = root. */
static char *walk_path(const char *path)
{
	char *c = context_clean_path(path, strlen(path));
	size_t skip = 0;
	while (c[skip] == '/')
		skip++;
	if (!strcmp(c + skip, "."))
		skip = strlen(c);
	memmove(c, c + skip, strlen(c + skip) + 1);
	return c;
}

const struct context_entry *context_walk_find(const struct context_walk *w,
					      const char *path)
{
	cleanup_free char *p = walk_path(path);
	ssize_t i = walk_index(w, p);
	return i < 0 ? NULL : &w->entries[i];
}

/* ------------------------------------------------------------ walking */

struct walker {
	const struct context_ignore *ig; /* NULL or no patterns: no matching */
	size_t npat;
	struct context_walk *out;
	struct strbuf path;
	struct error **err;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

/* The sorted names in directory fd, except "." and "..". */
static int read_names(struct walker *w, int fd, char ***names, size_t *nr)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	size_t alloc = 0;

	*names = NULL;
	*nr = 0;
	if (!d) {
		error_set_errno(w->err, "open '%s'",
				w->path.len ? w->path.buf : ".");
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(*names, *nr + 1, alloc);
		(*names)[(*nr)++] = xstrdup(de->d_name);
	}
	if (errno) {
		error_set_errno(w->err, "read directory '%s'",
				w->path.len ? w->path.buf : ".");
		closedir(d);
		free_names(*names, *nr);
		*names = NULL;
		*nr = 0;
		return -1;
	}
	closedir(d);
	w->out->dirs_read++;
	if (*nr)
		qsort(*names, *nr, sizeof(**names), cmp_names);
	return 0;
}

static char *read_link(int dirfd, const char *name, size_t hint)
{
	size_t size = hint + 1 > 64 ? hint + 1 : 64;
	for (;;) {
		char *buf = xmalloc(size);
		ssize_t n = readlinkat(dirfd, name, buf, size);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < size) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		size = st_mult(size, 2);
	}
}

static void fill_stat(struct context_entry *e, const struct stat *st)
{
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? st->st_size
							       : 0;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->ino = st->st_ino;
	e->dev = st->st_dev;
	e->rdev = st->st_rdev;
}

static enum context_type type_of(mode_t mode)
{
	if (S_ISREG(mode))
		return CONTEXT_FILE;
	if (S_ISDIR(mode))
		return CONTEXT_DIR;
	if (S_ISLNK(mode))
		return CONTEXT_SYMLINK;
	return CONTEXT_OTHER;
}

static int walk_dir(struct walker *w, int fd, const unsigned char *parent_pm);

/* Visit `name` in directory fd; w->path holds its full path. */
static int walk_entry(struct walker *w, int fd, const char *name,
		      const unsigned char *parent_pm, unsigned char *pm)
{
	struct stat st;
	bool excluded = false;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* vanished since readdir */
		error_set_errno(w->err, "lstat '%s'", w->path.buf);
		return -1;
	}
	if (w->npat)
		excluded = context_ignore_step(w->ig, w->path.buf, w->path.len,
					       parent_pm, pm, NULL);
	bool is_dir = S_ISDIR(st.st_mode);
	if (excluded &&
	    (!is_dir || !context_ignore_may_reinclude(w->ig, w->path.buf)))
		return 0;

	struct context_walk *out = w->out;
	size_t idx = out->nr;
	ALLOC_GROW(out->entries, out->nr + 1, out->alloc);
	struct context_entry *e = &out->entries[out->nr++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(w->path.buf);
	e->type = type_of(st.st_mode);
	fill_stat(e, &st);
	if (S_ISLNK(st.st_mode)) {
		e->link = read_link(fd, name, (size_t)st.st_size);
		if (!e->link) {
			error_set_errno(w->err, "readlink '%s'", w->path.buf);
			return -1;
		}
	}
	if (!is_dir)
		return 0;

	int sub = openat(fd, name,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		if (excluded && (errno == EACCES || errno == ENOENT)) {
			entry_release(&out->entries[--out->nr]);
			return 0;
		}
		error_set_errno(w->err, "open '%s'", w->path.buf);
		return -1;
	}
	struct stat sst;
	if (fstat(sub, &sst) < 0 || sst.st_dev != st.st_dev ||
	    sst.st_ino != st.st_ino) {
		close(sub);
		error_set(w->err, KILN_ECORRUPT,
			  "'%s' changed while walking the build context",
			  w->path.buf);
		return -1;
	}
	int ret = walk_dir(w, sub, w->npat ? pm : NULL);
	close(sub);
	if (ret < 0)
		return -1;
	/* an excluded directory stays only as the parent of something */
	if (excluded && out->nr == idx + 1)
		entry_release(&out->entries[--out->nr]);
	return 0;
}

static int walk_dir(struct walker *w, int fd, const unsigned char *parent_pm)
{
	char **names;
	size_t nr;
	if (read_names(w, fd, &names, &nr) < 0)
		return -1;

	size_t base = w->path.len;
	unsigned char *pm = w->npat ? xcalloc(1, w->npat) : NULL;
	int ret = 0;
	for (size_t i = 0; i < nr && !ret; i++) {
		strbuf_setlen(&w->path, base);
		if (base)
			strbuf_addch(&w->path, '/');
		strbuf_addstr(&w->path, names[i]);
		ret = walk_entry(w, fd, names[i], parent_pm, pm);
	}
	strbuf_setlen(&w->path, base);
	free(pm);
	free_names(names, nr);
	return ret;
}

int context_walk(int context_dirfd, const struct context_ignore *ig,
		 struct context_walk *out, struct error **err)
{
	struct walker w = {
		.ig = ig,
		.npat = ig ? context_ignore_count(ig) : 0,
		.out = out,
		.path = STRBUF_INIT,
		.err = err,
	};
	int ret = walk_dir(&w, context_dirfd, NULL);
	strbuf_release(&w.path);
	if (ret < 0) {
		error_wrap(err, "build context");
		context_walk_release(out);
	}
	return ret;
}

/* ------------------------------------------------------------ hashing */

/* Open a regular file below dirfd without following any symlink. */
static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;

	/* no openat2: one component at a time */
	cleanup_free char *copy = xstrdup(path);
	int cur = dirfd;
	char *s = copy;
	for (;;) {
		char *slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		int next = openat(cur, s,
				  O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
					  (slash ? O_DIRECTORY : 0));
		int saved = errno;
		if (cur != dirfd)
			close(cur);
		errno = saved;
		if (next < 0 || !slash)
			return next;
		cur = next;
		s = slash + 1;
	}
}

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

void context_digest_format(const unsigned char raw[CONTEXT_DIGEST_RAW],
			   char out[CONTEXT_DIGEST_STRLEN])
{
	memcpy(out, "sha256:", 7);
	to_hex(raw, CONTEXT_DIGEST_RAW, out + 7);
}

static void cleanup_mdp(EVP_MD_CTX **ctx)
{
	EVP_MD_CTX_free(*ctx);
}
#define cleanup_md __attribute__((cleanup(cleanup_mdp)))

#define HASH_BUF (256 * 1024)

/* Hash entry e's file; refresh its stat fields from what was read. */
static int hash_file(int dirfd, struct context_entry *e, char *buf,
		     off_t *bytes, struct error **err)
{
	cleanup_close int fd = open_beneath(dirfd, e->path);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", e->path);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		error_set_errno(err, "stat '%s'", e->path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, KILN_ECORRUPT,
			  "'%s' changed while reading the build context",
			  e->path);
		return -1;
	}
	cleanup_md EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		error_set(err, KILN_EINTERNAL, "sha256: cannot initialise");
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf, HASH_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set_errno(err, "read '%s'", e->path);
			return -1;
		}
		if (!n)
			break;
		*bytes += n;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, e->digest, &len);
	/* stat again: a file changed while read gets a new ctime, which
	 * keeps it out of the cache */
	if (fstat(fd, &st) == 0)
		fill_stat(e, &st);
	e->has_digest = true;
	return 0;
}

/* ------------------------------------------------------------ stat cache */

/*
 * The cache file: a header line, then one record per file, each
 *   <sha256 hex> <size> <ino> <dev> <mtime s> <mtime ns> <ctime s> <ctime ns>
 * <path>\0
 */
#define CACHE_MAGIC "kiln-context-cache 1\n"

struct cache_rec {
	const char *path; /* into the loaded buffer */
	unsigned char digest[CONTEXT_DIGEST_RAW];
	unsigned long long size, ino, dev;
	long long ms, mns, cs, cns;
};

struct cache {
	struct strbuf buf;
	struct cache_rec *recs;
	size_t nr, alloc;
};

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct cache_rec *)a)->path,
		      ((const struct cache_rec *)b)->path);
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_num(char **s, bool is_signed, unsigned long long *u,
		      long long *l)
{
	char *end;
	errno = 0;
	if (is_signed)
		*l = strtoll(*s, &end, 10);
	else
		*u = strtoull(*s, &end, 10);
	if (errno || end == *s || *end != ' ' || **s == '-' || **s == '+')
		return false;
	*s = end + 1;
	return true;
}

/* Parse one record at s (NUL-terminated); false when malformed. */
static bool parse_rec(char *s, struct cache_rec *r)
{
	for (int i = 0; i < CONTEXT_DIGEST_RAW; i++) {
		int hi = unhex(s[2 * i]),
		    lo = hi < 0 ? -1 : unhex(s[2 * i + 1]);
		if (lo < 0)
			return false;
		r->digest[i] = (unsigned char)(hi << 4 | lo);
	}
	s += 2 * CONTEXT_DIGEST_RAW;
	if (*s++ != ' ')
		return false;
	unsigned long long dummy_u;
	long long dummy_l;
	if (!parse_num(&s, false, &r->size, &dummy_l) ||
	    !parse_num(&s, false, &r->ino, &dummy_l) ||
	    !parse_num(&s, false, &r->dev, &dummy_l) ||
	    !parse_num(&s, true, &dummy_u, &r->ms) ||
	    !parse_num(&s, true, &dummy_u, &r->mns) ||
	    !parse_num(&s, true, &dummy_u, &r->cs) ||
	    !parse_num(&s, true, &dummy_u, &r->cns) || !*s)
		return false;
	r->path = s;
	return true;
}

/* Load the cache; anything unreadable or malformed gives an empty one. */
static void cache_load(struct cache *c, const char *path)
{
	strbuf_init(&c->buf, 0);
	c->recs = NULL;
	c->nr = c->alloc = 0;
	if (!path || strbuf_read_file(&c->buf, path) < 0)
		return;
	size_t ml = strlen(CACHE_MAGIC);
	if (c->buf.len < ml || memcmp(c->buf.buf, CACHE_MAGIC, ml))
		goto bad;
	for (size_t pos = ml; pos < c->buf.len;) {
		char *s = c->buf.buf + pos;
		size_t l = strlen(s);
		if (pos + l >= c->buf.len)
			goto bad; /* last record not terminated */
		ALLOC_GROW(c->recs, c->nr + 1, c->alloc);
		if (!parse_rec(s, &c->recs[c->nr]))
			goto bad;
		c->nr++;
		pos += l + 1;
	}
	if (c->nr)
		qsort(c->recs, c->nr, sizeof(*c->recs), cmp_rec);
	return;
bad:
	c->nr = 0;
}

static void cache_release(struct cache *c)
{
	strbuf_release(&c->buf);
	free(c->recs);
}

static const struct cache_rec *cache_find(const struct cache *c,
					  const struct context_entry *e)
{
	struct cache_rec key = { .path = e->path };
	const struct cache_rec *r =
		c->nr ? bsearch(&key, c->recs, c->nr, sizeof(*c->recs), cmp_rec)
		      : NULL;
	if (!r || r->size != (unsigned long long)e->size ||
	    r->ino != (unsigned long long)e->ino ||
	    r->dev != (unsigned long long)e->dev || r->ms != e->mtime.tv_sec ||
	    r->mns != e->mtime.tv_nsec || r->cs != e->ctime.tv_sec ||
	    r->cns != e->ctime.tv_nsec)
		return NULL;
	return r;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Entries that may go into the cache: hashed, and not racily new. */
static bool cacheable(const struct context_entry *e,
		      const struct timespec *start)
{
	return e->type == CONTEXT_FILE && e->has_digest &&
	       ts_before(&e->mtime, start) && ts_before(&e->ctime, start);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cache_save(const struct context_walk *w, const char *path,
		      const struct timespec *start, struct error **err)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	cleanup_free char *tmp = xstrfmt("%s.tmp-%ld", path, (long)getpid());

	strbuf_addstr(&sb, CACHE_MAGIC);
	for (size_t i = 0; i < w->nr; i++) {
		const struct context_entry *e = &w->entries[i];
		char hex[2 * CONTEXT_DIGEST_RAW + 1];
		if (!cacheable(e, start))
			continue;
		to_hex(e->digest, CONTEXT_DIGEST_RAW, hex);
		strbuf_addf(
			&sb, "%s %llu %llu %llu %lld %lld %lld %lld %s", hex,
			(unsigned long long)e->size, (unsigned long long)e->ino,
			(unsigned long long)e->dev, (long long)e->mtime.tv_sec,
			(long long)e->mtime.tv_nsec, (long long)e->ctime.tv_sec,
			(long long)e->ctime.tv_nsec, e->path);
		strbuf_addch(&sb, '\0');
	}
	int fd = open(tmp,
		      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		      0644);
	if (fd < 0) {
		error_set_errno(err, "create '%s'", tmp);
		return -1;
	}
	if (write_all(fd, sb.buf, sb.len) < 0 || fsync(fd) < 0) {
		error_set_errno(err, "write '%s'", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		error_set_errno(err, "close '%s'", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		error_set_errno(err, "rename '%s' to '%s'", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int context_hash(int context_dirfd, struct context_walk *w,
		 const char *cache_path, struct context_hash_stats *stats,
		 struct error **err)
{
	struct context_hash_stats st = { 0, 0, 0 };
	struct timespec start;
	struct cache c;
	size_t saved = 0;
	int ret = 0;

	/* the clock file timestamps come from */
	clock_gettime(CLOCK_REALTIME_COARSE, &start);
	cache_load(&c, cache_path);
	cleanup_free char *buf = xmalloc(HASH_BUF);
	for (size_t i = 0; i < w->nr && !ret; i++) {
		struct context_entry *e = &w->entries[i];
		if (e->type != CONTEXT_FILE || e->has_digest)
			continue;
		const struct cache_rec *r = cache_find(&c, e);
		if (r) {
			memcpy(e->digest, r->digest, sizeof(e->digest));
			e->has_digest = true;
			st.cached++;
			continue;
		}
		ret = hash_file(context_dirfd, e, buf, &st.bytes, err);
		st.hashed++;
	}
	for (size_t i = 0; i < w->nr; i++)
		saved += cacheable(&w->entries[i], &start);
	if (!ret && cache_path && (st.hashed || saved != c.nr))
		ret = cache_save(w, cache_path, &start, err);
	cache_release(&c);
	if (ret < 0)
		error_wrap(err, "build context");
	if (stats)
		*stats = st;
	return ret;
}

/* ------------------------------------------------------------ digest sets */

static char type_char(enum context_type t)
{
	switch (t) {
	case CONTEXT_FILE:
		return 'f';
	case CONTEXT_DIR:
		return 'd';
	case CONTEXT_SYMLINK:
		return 'l';
	case CONTEXT_OTHER:
		break;
	}
	return 'o';
}

int context_digest_paths(const struct context_walk *w, const char *const *paths,
			 size_t nr, char out[CONTEXT_DIGEST_STRLEN],
			 struct error **err)
{
	cleanup_free unsigned char *take = xcalloc(w->nr ? w->nr : 1, 1);

	for (size_t i = 0; i < nr; i++) {
		cleanup_free char *p = walk_path(paths[i]);
		size_t from = 0, to = w->nr;
		if (*p) {
			ssize_t at = walk_index(w, p);
			if (at < 0) {
				error_set(err, KILN_ENOTFOUND,
					  "build context: '%s' not found",
					  paths[i]);
				return -1;
			}
			/* the entry and the contiguous run below it */
			size_t l = strlen(p);
			from = (size_t)at;
			for (to = from + 1; to < w->nr; to++) {
				const char *q = w->entries[to].path;
				if (strncmp(q, p, l) || q[l] != '/')
					break;
			}
		}
		memset(take + from, 1, to - from);
	}

	cleanup_md EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		error_set(err, KILN_EINTERNAL, "sha256: cannot initialise");
		return -1;
	}
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < w->nr; i++) {
		const struct context_entry *e = &w->entries[i];
		if (!take[i])
			continue;
		strbuf_reset(&sb);
		strbuf_addstr(&sb, e->path);
		strbuf_addch(&sb, '\0');
		strbuf_addf(&sb, "%c %o %lu %lu", type_char(e->type),
			    (unsigned)e->mode, (unsigned long)e->uid,
			    (unsigned long)e->gid);
		strbuf_addch(&sb, '\0');
		if (e->type == CONTEXT_FILE) {
			char hex[2 * CONTEXT_DIGEST_RAW + 1];
			if (!e->has_digest)
				BUG("context_digest_paths: '%s' not hashed",
				    e->path);
			to_hex(e->digest, CONTEXT_DIGEST_RAW, hex);
			strbuf_addstr(&sb, hex);
		} else if (e->type == CONTEXT_SYMLINK) {
			strbuf_addstr(&sb, e->link);
		} else if (e->type == CONTEXT_OTHER) {
			strbuf_addf(&sb, "%llx", (unsigned long long)e->rdev);
		}
		strbuf_addch(&sb, '\0');
		EVP_DigestUpdate(ctx, sb.buf, sb.len);
	}
	unsigned char raw[CONTEXT_DIGEST_RAW];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, raw, &len);
	context_digest_format(raw, out);
	return 0;
}
