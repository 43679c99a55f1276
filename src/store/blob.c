/*
 * Content-addressed blobs under blobs/sha256/.  A blob is written into
 * tmp/, hashed while written, fsync'd, verified against the expected
 * digest and only then renamed to its final name (and the directory
 * fsync'd), so a name under blobs/ never refers to partial data.  A
 * writer may hand the hashing and writing to a thread of its own
 * (store_blob_async()), when the caller's thread has other work (a pull
 * decompresses on it).
 */
#include "store/store-internal.h"

#include <pthread.h>
#include <sys/stat.h>

/* The async writer's buffer, and how much it takes per turn. */
#define ASYNC_RING (8u << 20)
#define ASYNC_CHUNK (1u << 20)

/*
 * Every this many bytes written, start writing them back (without
 * waiting), so the fsync before the rename finds little left to do.
 */
#define WRITEBACK_EVERY (8u << 20)

struct store_blob_writer {
	struct store *s;
	int fd;
	char *tmpname;
	struct store_sha256 h;
	uint64_t size;
	uint64_t flushed; /* written back up to here (started) */
	bool failed;

	/* store_blob_async(): a thread hashes and writes from a ring */
	bool async;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* either side waits on it */
	unsigned char *ring;
	uint64_t fed, done; /* bytes put in the ring; hashed and written */
	bool quit;
	int werr; /* errno of a failed write (under mu) */
};

struct store_blob_writer *store_blob_begin(struct store *s, struct error **err)
{
	if (store_lock_for_write(s, err) < 0)
		return NULL;
	struct store_blob_writer *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->tmpname = store_tmpname(".blob");
	w->fd = openat(s->tmp_fd, w->tmpname,
		       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		error_set_errno(err, "create '%s/tmp/%s'", s->root, w->tmpname);
		free(w->tmpname);
		free(w);
		return NULL;
	}
	store_sha256_init(&w->h);
	return w;
}

/* Write and hash len bytes at offset `at` of the blob; errno on failure. */
static int put(struct store_blob_writer *w, const void *buf, size_t len,
	       uint64_t at)
{
	if (store_write_all(w->fd, buf, len) < 0)
		return -1;
	store_sha256_update(&w->h, buf, len);
	at += len;
	if (at - w->flushed >= WRITEBACK_EVERY) {
		/* best effort: the fsync in store_blob_commit() checks */
		sync_file_range(w->fd, w->flushed, at - w->flushed,
				SYNC_FILE_RANGE_WRITE);
		w->flushed = at;
	}
	return 0;
}

static void *async_writer(void *data)
{
	struct store_blob_writer *w = data;
	pthread_setname_np(pthread_self(), "kiln-blob");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->fed == w->done && !w->quit)
			pthread_cond_wait(&w->cond, &w->mu);
		if (w->fed == w->done || w->werr)
			break;
		uint64_t at = w->done;
		size_t off = at % ASYNC_RING;
		size_t n = (size_t)(w->fed - at);
		if (n > ASYNC_RING - off)
			n = ASYNC_RING - off;
		if (n > ASYNC_CHUNK)
			n = ASYNC_CHUNK;
		pthread_mutex_unlock(&w->mu);
		/* [at, at + n) stays put until done moves past it */
		int e = put(w, w->ring + off, n, at) < 0 ? errno : 0;
		pthread_mutex_lock(&w->mu);
		w->werr = e;
		w->done += n;
		pthread_cond_broadcast(&w->cond);
	}
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

void store_blob_async(struct store_blob_writer *w)
{
	if (w->async || w->size)
		return;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->ring = xmalloc(ASYNC_RING);
	/* without the thread, the writes stay on the caller's */
	if (pthread_create(&w->thread, NULL, async_writer, w)) {
		free(w->ring);
		w->ring = NULL;
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		return;
	}
	w->async = true;
}

/*
 * Wait until everything fed is written (`stop`: and end the thread);
 * -1 with errno if a write failed.
 */
static int async_wait(struct store_blob_writer *w, bool stop)
{
	if (!w->async)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->done != w->fed && !w->werr && !w->quit)
		pthread_cond_wait(&w->cond, &w->mu);
	int e = w->werr;
	if (stop) {
		w->quit = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->mu);
	if (stop) {
		pthread_join(w->thread, NULL);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		free(w->ring);
		w->ring = NULL;
		w->async = false;
	}
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

static int async_feed(struct store_blob_writer *w, const unsigned char *p,
		      size_t len)
{
	while (len) {
		pthread_mutex_lock(&w->mu);
		while (w->fed - w->done == ASYNC_RING && !w->werr)
			pthread_cond_wait(&w->cond, &w->mu);
		int e = w->werr;
		size_t room = ASYNC_RING - (size_t)(w->fed - w->done);
		uint64_t fed = w->fed;
		pthread_mutex_unlock(&w->mu);
		if (e) {
			errno = e;
			return -1;
		}
		/* the room after fed is ours until fed moves past it */
		size_t n =
			store_ring_put(w->ring, ASYNC_RING, fed, room, p, len);
		pthread_mutex_lock(&w->mu);
		w->fed += n;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
		p += n;
		len -= n;
	}
	return 0;
}

int store_blob_write(struct store_blob_writer *w, const void *buf, size_t len,
		     struct error **err)
{
	if (w->failed) {
		error_set(err, KILN_EINTERNAL, "blob writer failed earlier");
		return -1;
	}
	int r = w->async ? async_feed(w, buf, len) : put(w, buf, len, w->size);
	if (r < 0) {
		w->failed = true;
		error_set_errno(err, "write '%s/tmp/%s'", w->s->root,
				w->tmpname);
		return -1;
	}
	w->size += len;
	return 0;
}

uint64_t store_blob_written(const struct store_blob_writer *w)
{
	return w->size;
}

void store_blob_peek_digest(struct store_blob_writer *w, char *out)
{
	/* a failed write shows as a wrong digest (and fails the commit) */
	async_wait(w, false);
	store_sha256_peek(&w->h, out);
}

void store_blob_abort(struct store_blob_writer *w)
{
	if (!w)
		return;
	if (w->async) {
		pthread_mutex_lock(&w->mu);
		w->werr = w->werr ? w->werr : ECANCELED; /* stop writing */
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
		async_wait(w, true);
	}
	if (w->fd >= 0)
		close(w->fd);
	unlinkat(w->s->tmp_fd, w->tmpname, 0);
	store_sha256_release(&w->h);
	free(w->tmpname);
	free(w);
}

int store_blob_commit(struct store_blob_writer *w, const char *expected,
		      char *digest, uint64_t *size, struct error **err)
{
	struct store *s = w->s;
	char got[STORE_DIGEST_MAX];
	if (w->failed) {
		error_set(err, KILN_EINTERNAL, "blob writer failed earlier");
		store_blob_abort(w);
		return -1;
	}
	if (async_wait(w, true) < 0) {
		error_set_errno(err, "write '%s/tmp/%s'", s->root, w->tmpname);
		store_blob_abort(w);
		return -1;
	}
	if (store_xfsync(w->fd) < 0) {
		error_set_errno(err, "fsync '%s/tmp/%s'", s->root, w->tmpname);
		store_blob_abort(w);
		return -1;
	}
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) < 0) {
		error_set_errno(err, "close '%s/tmp/%s'", s->root, w->tmpname);
		store_blob_abort(w);
		return -1;
	}
	store_sha256_final(&w->h, got);
	if (expected && strcmp(expected, got)) {
		error_set(err, KILN_ECORRUPT,
			  "blob digest mismatch: expected '%s', got '%s'",
			  expected, got);
		store_blob_abort(w);
		return -1;
	}
	/* replacing an existing copy is harmless (and heals a corrupt one) */
	struct stat st;
	bool existed = fstatat(s->blobs_fd, got + 7, &st, 0) == 0;
	if (store_xrenameat(s->tmp_fd, w->tmpname, s->blobs_fd, got + 7) < 0) {
		error_set_errno(err, "rename blob '%s' into place", got);
		store_blob_abort(w);
		return -1;
	}
	if (store_fsync_dir(s->blobs_fd, "blobs/sha256", err) < 0) {
		/*
		 * The data is complete under its name, only its durability is
		 * in doubt; leave the store as it was before this call.
		 */
		if (!existed)
			unlinkat(s->blobs_fd, got + 7, 0);
		store_blob_abort(w);
		return -1;
	}
	if (!existed)
		strvec_push(&s->created, got);
	if (digest)
		memcpy(digest, got, STORE_DIGEST_MAX);
	if (size)
		*size = w->size;
	free(w->tmpname);
	free(w);
	return 0;
}

int store_blob_put(struct store *s, const void *buf, size_t len,
		   const char *expected, char *digest, struct error **err)
{
	char d[STORE_DIGEST_MAX];
	store_digest_buf(buf, len, d);
	if (expected && strcmp(d, expected)) {
		error_set(err, KILN_ECORRUPT,
			  "blob digest mismatch: expected '%s', got '%s'",
			  expected, d);
		return -1;
	}
	if (store_blob_exists(s, d)) {
		if (digest)
			memcpy(digest, d, STORE_DIGEST_MAX);
		return 0;
	}
	struct store_blob_writer *w = store_blob_begin(s, err);
	if (!w)
		return -1;
	if (store_blob_write(w, buf, len, err) < 0) {
		store_blob_abort(w);
		return -1;
	}
	return store_blob_commit(w, d, digest, NULL, err);
}

bool store_blob_exists(struct store *s, const char *digest)
{
	const char *hex = store_digest_hex(digest);
	struct stat st;
	return hex && fstatat(s->blobs_fd, hex, &st, 0) == 0 &&
	       S_ISREG(st.st_mode);
}

int store_blob_open(struct store *s, const char *digest, uint64_t *size,
		    struct error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex) {
		error_set(err, KILN_EINVAL, "invalid digest '%s'",
			  digest ? digest : "");
		return -1;
	}
	int fd = openat(s->blobs_fd, hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			error_set(err, KILN_ENOTFOUND, "blob '%s' not found",
				  digest);
		else
			error_set_errno(err, "open blob '%s'", digest);
		return -1;
	}
	if (size) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			error_set_errno(err, "stat blob '%s'", digest);
			close(fd);
			return -1;
		}
		*size = (uint64_t)st.st_size;
	}
	return fd;
}

int store_blob_read(struct store *s, const char *digest, struct strbuf *out,
		    size_t cap, struct error **err)
{
	uint64_t size;
	cleanup_close int fd = store_blob_open(s, digest, &size, err);
	if (fd < 0)
		return -1;
	if (!cap)
		cap = 64 << 20;
	if (size > cap) {
		error_set(err, KILN_EINVAL, "blob '%s' too large (%llu bytes)",
			  digest, (unsigned long long)size);
		return -1;
	}
	size_t start = out->len;
	strbuf_grow(out, (size_t)size);
	if (strbuf_read_fd(out, fd) < 0) {
		error_set_errno(err, "read blob '%s'", digest);
		return -1;
	}
	char got[STORE_DIGEST_MAX];
	store_digest_buf(out->buf + start, out->len - start, got);
	if (strcmp(got, digest)) {
		strbuf_setlen(out, start);
		error_set(err, KILN_ECORRUPT,
			  "blob '%s' is corrupt (content has digest '%s')",
			  digest, got);
		return -1;
	}
	return 0;
}

json_t *store_blob_read_json(struct store *s, const char *digest,
			     struct error **err)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	if (store_blob_read(s, digest, &sb, 0, err) < 0)
		return NULL;
	json_error_t je;
	json_t *j = json_loadb(sb.buf, sb.len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		error_set(err, KILN_ECORRUPT, "blob '%s': invalid JSON: %s",
			  digest, j ? "not an object" : je.text);
		return NULL;
	}
	return j;
}

int store_blob_verify(struct store *s, const char *digest, struct error **err)
{
	cleanup_close int fd = store_blob_open(s, digest, NULL, err);
	if (fd < 0)
		return -1;
	cleanup_free char *buf = xmalloc(1 << 20);
	struct store_sha256 h;
	store_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			store_sha256_release(&h);
			error_set_errno(err, "read blob '%s'", digest);
			return -1;
		}
		if (!n)
			break;
		store_sha256_update(&h, buf, (size_t)n);
	}
	char got[STORE_DIGEST_MAX];
	store_sha256_final(&h, got);
	if (strcmp(got, digest)) {
		error_set(err, KILN_ECORRUPT,
			  "blob '%s': digest mismatch (content is '%s')",
			  digest, got);
		return -1;
	}
	return 0;
}
