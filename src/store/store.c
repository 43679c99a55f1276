/*
 * The store root: locating, creating and opening the OCI layout, the store
 * lock, the file-system primitives every write goes through (write, fsync,
 * rename, each a fault point for tests), layer info records and time
 * helpers.  Nothing here leaves a partial file under a final name.
 */
#include "store/store-internal.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX "{\"schemaVersion\":2,\"manifests\":[]}"

/* ------------------------------------------------------------ test hook */

void store_test_write_point(void)
{
	static long left = -2;
	if (left == -2) {
		const char *v = getenv("KILN_TEST_DIE_AFTER_WRITES");
		unsigned long long n;
		left = (v && !parse_uint(v, 1u << 30, &n)) ? (long)n : -1;
	}
	if (left < 0)
		return;
	if (left-- == 0)
		_exit(99);
}

int store_xrenameat(int olddirfd, const char *oldname, int newdirfd,
		    const char *newname)
{
	store_test_write_point();
	return renameat(olddirfd, oldname, newdirfd, newname);
}

int store_xfsync(int fd)
{
	store_test_write_point();
	return fsync(fd);
}

/* ------------------------------------------------------------ fs helpers */

char *store_tmpname(const char *suffix)
{
	static unsigned counter;
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	/* pull's worker threads stage layer dirs concurrently */
	unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	return xstrfmt("%d.%u.%016llx%s", (int)getpid(), n,
		       (unsigned long long)r, suffix ? suffix : "");
}

int store_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		store_test_write_point();
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_fsync_dir(int dirfd, const char *what, struct error **err)
{
	if (store_xfsync(dirfd) < 0) {
		error_set_errno(err, "fsync '%s'", what);
		return -1;
	}
	return 0;
}

int store_write_atomic(struct store *s, int dirfd, const char *name,
		       const void *buf, size_t len, const char *what,
		       struct error **err)
{
	return store_write_atomic_ex(s, dirfd, name, buf, len, what, NULL, err);
}

int store_write_atomic_ex(struct store *s, int dirfd, const char *name,
			  const void *buf, size_t len, const char *what,
			  bool *renamed, struct error **err)
{
	if (renamed)
		*renamed = false;
	cleanup_free char *tmp = store_tmpname(NULL);
	int fd = openat(s->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0644);
	if (fd < 0) {
		error_set_errno(err, "create '%s/tmp/%s'", s->root, tmp);
		return -1;
	}
	if (store_write_all(fd, buf, len) < 0) {
		error_set_errno(err, "write '%s'", what);
		goto fail;
	}
	if (store_xfsync(fd) < 0) {
		error_set_errno(err, "fsync '%s'", what);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		error_set_errno(err, "close '%s'", what);
		goto fail;
	}
	fd = -1;
	if (store_xrenameat(s->tmp_fd, tmp, dirfd, name) < 0) {
		error_set_errno(err, "rename into '%s'", what);
		goto fail;
	}
	if (renamed)
		*renamed = true;
	return store_fsync_dir(dirfd, what, err);
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(s->tmp_fd, tmp, 0);
	return -1;
}

size_t store_ring_put(unsigned char *ring, size_t size, uint64_t fed,
		      size_t room, const void *p, size_t len)
{
	size_t tail = fed % size;
	size_t n = room;
	if (n > size - tail)
		n = size - tail;
	if (n > len)
		n = len;
	memcpy(ring + tail, p, n);
	return n;
}

uint64_t store_du_at(int parent, const char *name)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	DIR *d = opendir_at(parent, name, O_NOFOLLOW);
	if (!d)
		return 0;
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			total += store_du_at(dirfd(d), de->d_name);
	closedir(d);
	return total;
}

/* ------------------------------------------------------------ digests */

bool store_digest_valid(const char *d)
{
	const char *hex;
	if (!d || !skip_prefix(d, "sha256:", &hex) || strlen(hex) != 64)
		return false;
	for (; *hex; hex++)
		if (!((*hex >= '0' && *hex <= '9') ||
		      (*hex >= 'a' && *hex <= 'f')))
			return false;
	return true;
}

const char *store_digest_hex(const char *d)
{
	return store_digest_valid(d) ? d + 7 : NULL;
}

/* ------------------------------------------------------------ open */

char *store_default_root(void)
{
	const char *v = getenv("KILN_ROOT");
	if (v && *v)
		return xstrdup(v);
	if (geteuid() == 0)
		return xstrdup("/var/lib/kiln");
	v = getenv("XDG_DATA_HOME");
	if (v && *v)
		return xstrfmt("%s/kiln", v);
	v = getenv("HOME");
	return xstrfmt("%s/.local/share/kiln", v && *v ? v : "/");
}

static int open_subdir(struct store *s, const char *name, struct error **err)
{
	if (mkdirat(s->root_fd, name, 0755) < 0 && errno != EEXIST &&
	    errno != EROFS && errno != EACCES) {
		error_set_errno(err, "mkdir '%s/%s'", s->root, name);
		return -1;
	}
	int fd = openat(s->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		error_set_errno(err, "open '%s/%s'", s->root, name);
	return fd;
}

struct store *store_open(const char *root, struct error **err)
{
	cleanup_free char *def = root ? NULL : store_default_root();
	if (!root)
		root = def;
	if (mkdir_p(root, 0755) < 0) {
		error_set_errno(err, "mkdir '%s'", root);
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof(*s));
	strvec_init(&s->created);
	strvec_init(&s->created_layers);
	s->root = xstrdup(root);
	s->blobs_fd = s->tmp_fd = s->lock_fd = -1;
	s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		error_set_errno(err, "open store '%s'", root);
		goto fail;
	}
	struct stat st;
	bool fresh = fstatat(s->root_fd, "oci-layout", &st, 0) < 0;
	if (fresh && !dir_is_empty_at(s->root_fd, ".") &&
	    fstatat(s->root_fd, "index.json", &st, 0) == 0) {
		error_set(err, KILN_EINVAL,
			  "open store '%s': an index.json without oci-layout; "
			  "not an OCI image layout",
			  root);
		goto fail;
	}
	if (mkdirat(s->root_fd, "blobs", 0755) < 0 && errno != EEXIST &&
	    errno != EROFS && errno != EACCES) {
		error_set_errno(err, "mkdir '%s/blobs'", root);
		goto fail;
	}
	if ((s->blobs_fd = open_subdir(s, "blobs/sha256", err)) < 0)
		goto fail;
	if ((s->tmp_fd = open_subdir(s, "tmp", err)) < 0)
		goto fail;
	for (const char *const *d =
		     (const char *const[]){ "layers", "layerinfo", "unsynced",
					    "cache", NULL };
	     *d; d++)
		if (mkdirat(s->root_fd, *d, 0755) < 0 && errno != EEXIST &&
		    errno != EROFS && errno != EACCES) {
			error_set_errno(err, "mkdir '%s/%s'", root, *d);
			goto fail;
		}
	s->lock_fd =
		openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0)
		s->lock_fd = openat(s->root_fd, "lock", O_RDONLY | O_CLOEXEC);
	if (s->lock_fd < 0) {
		error_set_errno(err, "open '%s/lock'", root);
		goto fail;
	}
	if (fresh &&
	    store_write_atomic(s, s->root_fd, "oci-layout", OCI_LAYOUT,
			       strlen(OCI_LAYOUT), "oci-layout", err) < 0)
		goto fail;
	if (fstatat(s->root_fd, "index.json", &st, 0) < 0 &&
	    store_write_atomic(s, s->root_fd, "index.json", EMPTY_INDEX,
			       strlen(EMPTY_INDEX), "index.json", err) < 0)
		goto fail;
	store_layers_settle(s, STORE_SETTLE_STALE);
	return s;
fail:
	error_wrap(err, "store");
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->blobs_fd >= 0)
		close(s->blobs_fd);
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	strvec_clear(&s->created);
	strvec_clear(&s->created_layers);
	free(s->root);
	free(s);
}

int store_lock(struct store *s, int mode, struct error **err)
{
	if (s->lock_mode == mode)
		return 0;
	while (flock(s->lock_fd, mode) < 0) {
		if (errno == EINTR)
			continue;
		error_set_errno(err, "lock '%s/lock'", s->root);
		return -1;
	}
	s->lock_mode = mode;
	return 0;
}

int store_lock_for_write(struct store *s, struct error **err)
{
	if (s->lock_mode)
		return 0;
	if (store_lock(s, LOCK_SH, err) < 0)
		return -1;
	/* writers, not readers, pay for settling (a syncfs may wait) */
	store_layers_settle(s, STORE_SETTLE_AGED);
	return 0;
}

/* ------------------------------------------------------------ layerinfo */

static int layerinfo_write(struct store *s, const char *blob_digest,
			   const char *diffid, uint64_t usize, uint64_t du,
			   struct error **err)
{
	const char *hex = store_digest_hex(blob_digest);
	if (!hex || !store_digest_valid(diffid)) {
		error_set(err, KILN_EINVAL, "layer info: invalid digest");
		return -1;
	}
	cleanup_free char *name = xstrfmt("layerinfo/%s", hex);
	cleanup_free char *line = du == UINT64_MAX
					  ? xstrfmt("%s %llu\n", diffid,
						    (unsigned long long)usize)
					  : xstrfmt("%s %llu %llu\n", diffid,
						    (unsigned long long)usize,
						    (unsigned long long)du);
	return store_write_atomic(s, s->root_fd, name, line, strlen(line), name,
				  err);
}

int store_layerinfo_put(struct store *s, const char *blob_digest,
			const char *diffid, uint64_t usize, struct error **err)
{
	return layerinfo_write(s, blob_digest, diffid, usize, UINT64_MAX, err);
}

int store_layerinfo_put_du(struct store *s, const char *blob_digest,
			   const char *diffid, uint64_t usize, uint64_t du,
			   struct error **err)
{
	return layerinfo_write(s, blob_digest, diffid, usize, du, err);
}

int store_layerinfo_parse(const char *line, char *diffid, uint64_t *usize,
			  uint64_t *du)
{
	char buf[160];
	size_t n = strcspn(line, "\n");
	if (n >= sizeof(buf) || line[n] != '\n' || line[n + 1])
		return -1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	char *sp = strchr(buf, ' ');
	if (!sp || sp - buf != 71)
		return -1;
	*sp = '\0';
	char *sp2 = strchr(sp + 1, ' ');
	if (sp2)
		*sp2 = '\0';
	unsigned long long u, d = UINT64_MAX;
	if (!store_digest_valid(buf) || parse_uint(sp + 1, UINT64_MAX, &u) ||
	    (sp2 && parse_uint(sp2 + 1, UINT64_MAX - 1, &d)))
		return -1;
	memcpy(diffid, buf, 72);
	*usize = u;
	*du = d;
	return 0;
}

struct count_hash {
	struct store_sha256 h;
	uint64_t n;
	struct store_tarcheck *tar; /* NULL once the stream proved no tar */
};

static int count_hash_sink(void *data, const void *buf, size_t len,
			   struct error **err)
{
	struct count_hash *c = data;
	store_sha256_update(&c->h, buf, len);
	c->n += len;
	if (c->tar && store_tarcheck_feed(c->tar, buf, len, NULL) < 0)
		c->tar = NULL;
	return 0;
}

static int layerinfo_compute(struct store *s, const char *blob_digest,
			     char *diffid, uint64_t *usize, uint64_t *du,
			     struct error **err)
{
	cleanup_close int fd = store_blob_open(s, blob_digest, NULL, err);
	if (fd < 0)
		return -1;
	cleanup_free unsigned char *buf = xmalloc(1 << 20);
	ssize_t n = read(fd, buf, 1 << 20);
	if (n < 0) {
		error_set_errno(err, "read blob '%s'", blob_digest);
		return -1;
	}
	enum store_comp c = store_comp_detect(buf, (size_t)n);
	cleanup_free struct store_tarcheck *tar = xcalloc(1, sizeof(*tar));
	struct count_hash ch = { { NULL }, 0, tar };
	store_sha256_init(&ch.h);
	struct store_unzip *u = store_unzip_new(c, count_hash_sink, &ch);
	if (!u) {
		store_sha256_release(&ch.h);
		error_set(err, KILN_EINVAL,
			  "layer '%s': unsupported compression %s", blob_digest,
			  store_comp_name(c));
		return -1;
	}
	int ret = 0;
	while (n > 0) {
		if (store_unzip_write(u, buf, (size_t)n, err) < 0) {
			ret = -1;
			break;
		}
		n = read(fd, buf, 1 << 20);
		if (n < 0) {
			error_set_errno(err, "read blob '%s'", blob_digest);
			ret = -1;
		}
	}
	if (!ret)
		ret = store_unzip_finish(u, err);
	store_unzip_free(u);
	if (ret < 0) {
		store_sha256_release(&ch.h);
		error_wrap(err, "layer '%s'", blob_digest);
		return -1;
	}
	store_sha256_final(&ch.h, diffid);
	*usize = ch.n;
	*du = ch.tar ? ch.tar->du : 0;
	return 0;
}

/* Read the record; compute (and record) what it lacks. */
static int layerinfo_get(struct store *s, const char *blob_digest, char *diffid,
			 uint64_t *usize, uint64_t *du, bool need_du,
			 struct error **err)
{
	const char *hex = store_digest_hex(blob_digest);
	if (!hex) {
		error_set(err, KILN_EINVAL, "invalid digest '%s'", blob_digest);
		return -1;
	}
	cleanup_free char *name = xstrfmt("layerinfo/%s", hex);
	cleanup_close int fd = openat(s->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char line[160];
		ssize_t n = read(fd, line, sizeof(line) - 1);
		if (n > 0) {
			line[n] = '\0';
			if (!store_layerinfo_parse(line, diffid, usize, du) &&
			    (!need_du || *du != UINT64_MAX))
				return 0;
		}
	}
	if (layerinfo_compute(s, blob_digest, diffid, usize, du, err) < 0)
		return -1;
	/* a cache: failing to record it is not an error */
	struct error *ignored = NULL;
	if (!store_lock_for_write(s, &ignored))
		layerinfo_write(s, blob_digest, diffid, *usize, *du, &ignored);
	error_free(ignored);
	return 0;
}

int store_layerinfo_get(struct store *s, const char *blob_digest, char *diffid,
			uint64_t *usize, struct error **err)
{
	uint64_t du;
	return layerinfo_get(s, blob_digest, diffid, usize, &du, false, err);
}

int store_layerinfo_get_du(struct store *s, const char *blob_digest,
			   char *diffid, uint64_t *usize, uint64_t *du,
			   struct error **err)
{
	return layerinfo_get(s, blob_digest, diffid, usize, du, true, err);
}

/* ------------------------------------------------------------ time */

char *store_time_now(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xstrfmt("%s.%09ldZ", buf, (long)ts.tv_nsec);
}

int store_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int hh, mm;
		if (strlen(p) != 6 || p[3] != ':' ||
		    sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = sign * (hh * 3600 + mm * 60);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}
