/*
 * Streaming extraction: a layer's uncompressed tar, pushed by the ingest
 * while the blob is stored, is extracted on a worker thread into a staging
 * dir in tmp/, so decompression and hashing (the pushing thread) overlap
 * with file creation (the worker).  The two threads share a bounded ring
 * buffer, one producer and one consumer: each side copies in or out of its
 * own region without the lock and takes it only to move the indexes.  The
 * stream's hash (the diffID) is computed from the ring by whichever thread
 * would otherwise wait: the worker when the ring is empty, the producer
 * when it is full; a byte's room is free again once it was both read and
 * hashed.  So neither thread carries the hash while the other idles.  The
 * staging dir gets its final name (layers/<diffid-hex>) only after the
 * caller verified both digests; anything else removes it.
 */
#include "store/store-internal.h"
#include "archive/archive.h"

#include <pthread.h>

#define RING_SIZE (4 << 20)
/*
 * A waiting producer is woken once this much is free, not for every read:
 * fewer wake-ups (futex calls, context switches) when the extractor is
 * the slower side.
 */
#define RING_LOW (RING_SIZE / 4)
/* Bytes hashed per turn, so an idle thread is soon back to its own work. */
#define HASH_CHUNK (256 << 10)

struct store_extract {
	struct store *s;
	char *staging; /* <root>/tmp/<name> */
	int rootfd;
	char *what;
	bool userxattr;

	pthread_t thread;
	bool running; /* the thread was started and not joined yet */

	pthread_mutex_t mu;
	pthread_cond_t readable, writable;
	unsigned char *ring;
	/* stream offsets: produced (fed, below), read, hashed */
	uint64_t rd, hs;
	bool hashing; /* a thread is hashing [hs, ...) without the lock */
	struct store_sha256 diff; /* of the stream: the diffID */
	bool eof; /* the producer is done */
	bool cancel; /* the producer gave up */
	bool done; /* the consumer returned */
	bool reader_waits, writer_waits; /* who sleeps on readable/writable */

	uint64_t fed; /* bytes the producer put in the ring */

	/* the worker's result, read after the join */
	int ret;
	struct error *err;
	struct archive_extract_stats stats;
};

/* Free room in the ring: bytes both read and hashed.  Under x->mu. */
static size_t ring_room(const struct store_extract *x)
{
	uint64_t low = x->rd < x->hs ? x->rd : x->hs;
	return RING_SIZE - (size_t)(x->fed - low);
}

/*
 * Hash the next bytes fed, unless another thread is at it or all are
 * hashed; returns whether it did.  Called and returns with x->mu held.
 */
static bool hash_some(struct store_extract *x)
{
	if (x->hashing || x->hs == x->fed)
		return false;
	x->hashing = true;
	size_t off = x->hs % RING_SIZE;
	size_t n = RING_SIZE - off;
	if (n > x->fed - x->hs)
		n = (size_t)(x->fed - x->hs);
	if (n > HASH_CHUNK)
		n = HASH_CHUNK;
	pthread_mutex_unlock(&x->mu);
	/* [hs, hs + n) stays put: its room is not free until hashed */
	store_sha256_update(&x->diff, x->ring + off, n);
	pthread_mutex_lock(&x->mu);
	x->hs += n;
	x->hashing = false;
	if (x->writer_waits)
		pthread_cond_signal(&x->writable);
	return true;
}

static ssize_t ring_read(void *cookie, void *buf, size_t len,
			 struct error **err)
{
	struct store_extract *x = cookie;
	pthread_mutex_lock(&x->mu);
	while (x->fed == x->rd && !x->eof && !x->cancel) {
		/* nothing to read: hash instead of waiting */
		if (hash_some(x))
			continue;
		x->reader_waits = true;
		pthread_cond_wait(&x->readable, &x->mu);
		x->reader_waits = false;
	}
	if (x->cancel) {
		pthread_mutex_unlock(&x->mu);
		error_set(err, ECANCELED, "extraction cancelled");
		return -1;
	}
	size_t n = (size_t)(x->fed - x->rd);
	size_t head = x->rd % RING_SIZE;
	pthread_mutex_unlock(&x->mu);
	if (!n)
		return 0; /* eof */
	/* [head, head + n) is ours until we give it back */
	if (n > RING_SIZE - head)
		n = RING_SIZE - head;
	if (n > len)
		n = len;
	memcpy(buf, x->ring + head, n);
	pthread_mutex_lock(&x->mu);
	x->rd += n;
	if (x->writer_waits && ring_room(x) >= RING_LOW)
		pthread_cond_signal(&x->writable);
	pthread_mutex_unlock(&x->mu);
	return (ssize_t)n;
}

static void *worker(void *data)
{
	struct store_extract *x = data;
	pthread_setname_np(pthread_self(), "kiln-extract");
	struct archive_input in = { ring_read, x };
	struct archive_extract_opts opts = {
		.whiteouts = ARCHIVE_WHITEOUT_OVERLAY,
		.userxattr = x->userxattr,
		.what = x->what,
		.no_digests = true, /* the ring hashes (hash_some) */
	};
	struct error *e = NULL;
	int ret = archive_extract(x->rootfd, &in, &opts, &x->stats, &e);
	pthread_mutex_lock(&x->mu);
	x->ret = ret;
	x->err = e;
	x->done = true;
	pthread_cond_signal(&x->writable);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

struct store_extract *store_extract_start(struct store *s, const char *what,
					  bool userxattr, struct error **err)
{
	char *staging = store_layer_begin(s, err);
	if (!staging)
		return NULL;
	int fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", staging);
		store_layer_abort(s, staging);
		free(staging);
		return NULL;
	}
	struct store_extract *x = xcalloc(1, sizeof(*x));
	x->s = s;
	x->staging = staging;
	x->rootfd = fd;
	x->what = xstrdup(what ? what : "layer");
	x->userxattr = userxattr;
	x->ring = xmalloc(RING_SIZE);
	store_sha256_init(&x->diff);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->readable, NULL);
	pthread_cond_init(&x->writable, NULL);
	int r = pthread_create(&x->thread, NULL, worker, x);
	if (r) {
		errno = r;
		error_set_errno(err, "start the extraction thread");
		store_extract_abort(x);
		return NULL;
	}
	x->running = true;
	return x;
}

/* Wait for the worker; its error (if any) moves to *err. */
static int join(struct store_extract *x, struct error **err)
{
	if (x->running) {
		pthread_join(x->thread, NULL);
		x->running = false;
	}
	if (!x->ret)
		return 0;
	if (x->err) {
		if (err && !*err)
			*err = x->err;
		else
			error_free(x->err);
		x->err = NULL;
	} else {
		error_set(err, KILN_EINTERNAL, "%s: extraction failed",
			  x->what);
	}
	return -1;
}

int store_extract_feed(struct store_extract *x, const void *buf, size_t len,
		       struct error **err)
{
	const unsigned char *p = buf;
	while (len) {
		pthread_mutex_lock(&x->mu);
		/*
		 * When full, hash instead of waiting, or wait for room to
		 * make the wake-up worth it.
		 */
		if (!ring_room(x)) {
			while (ring_room(x) < RING_LOW && !x->done) {
				if (hash_some(x))
					continue;
				x->writer_waits = true;
				pthread_cond_wait(&x->writable, &x->mu);
				x->writer_waits = false;
			}
		}
		bool done = x->done;
		size_t room = ring_room(x);
		uint64_t fed = x->fed;
		pthread_mutex_unlock(&x->mu);
		if (done) {
			/* the extractor stopped before the end: its error */
			if (join(x, err) == 0)
				error_set(err, KILN_ECORRUPT,
					  "%s: data after the end of the "
					  "archive",
					  x->what);
			x->ret = -1;
			return -1;
		}
		/* the room after fed is ours until we publish it */
		size_t n =
			store_ring_put(x->ring, RING_SIZE, fed, room, p, len);
		pthread_mutex_lock(&x->mu);
		if (x->reader_waits)
			pthread_cond_signal(&x->readable);
		x->fed += n;
		pthread_mutex_unlock(&x->mu);
		p += n;
		len -= n;
	}
	return 0;
}

int store_extract_finish(struct store_extract *x, uint64_t *bytes, char *diffid,
			 struct error **err)
{
	pthread_mutex_lock(&x->mu);
	x->eof = true;
	pthread_cond_signal(&x->readable);
	pthread_mutex_unlock(&x->mu);
	int ret = join(x, err);
	if (ret < 0)
		return -1;
	/* the worker is gone: the rest of the hash is ours */
	pthread_mutex_lock(&x->mu);
	while (hash_some(x))
		;
	pthread_mutex_unlock(&x->mu);
	*bytes = x->stats.digests.uncompressed_size;
	store_sha256_final(&x->diff, diffid);
	return 0;
}

static void extract_free(struct store_extract *x)
{
	if (x->rootfd >= 0)
		close(x->rootfd);
	error_free(x->err);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->readable);
	pthread_cond_destroy(&x->writable);
	store_sha256_release(&x->diff);
	free(x->ring);
	free(x->what);
	free(x->staging);
	free(x);
}

int store_extract_commit(struct store_extract *x, const char *diffid,
			 struct error **err)
{
	if (x->running)
		BUG("store_extract_commit before store_extract_finish");
	close(x->rootfd);
	x->rootfd = -1;
	int ret = store_layer_commit(x->s, x->staging, diffid, err);
	extract_free(x);
	return ret;
}

void store_extract_abort(struct store_extract *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	x->cancel = true;
	pthread_cond_signal(&x->readable);
	pthread_mutex_unlock(&x->mu);
	if (x->running) {
		pthread_join(x->thread, NULL);
		x->running = false;
	}
	close(x->rootfd);
	x->rootfd = -1;
	store_layer_abort(x->s, x->staging);
	extract_free(x);
}
