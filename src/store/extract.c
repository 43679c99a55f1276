/*
 * Streaming extraction: a layer's uncompressed tar, pushed by the ingest
 * while the blob is stored, is extracted on a worker thread into a staging
 * dir in tmp/, so decompression and hashing (the pushing thread) overlap
 * with file creation (the worker).  The two threads share a bounded ring
 * buffer, one producer and one consumer: each side copies in or out of its
 * own region without the lock and takes it only to move the indexes.  The
 * worker also hashes the stream (the diffID), which balances the two
 * threads: the producer inflates and hashes the compressed bytes.  The
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
/*
 * Every this many bytes fed, a helper thread starts writing back what was
 * extracted so far (syncfs), so the sync before the commit finds little
 * left to write and the disk works while the extractor does.
 */
#define SYNC_EVERY (64 << 20)

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
	size_t head, fill; /* consumer reads at head; fill bytes pending */
	bool eof; /* the producer is done */
	bool cancel; /* the producer gave up */
	bool done; /* the consumer returned */
	bool reader_waits, writer_waits; /* who sleeps on readable/writable */

	/* the early write-back helper */
	pthread_t syncer;
	bool syncer_running;
	pthread_cond_t sync_cond;
	uint64_t fed, sync_mark;
	bool sync_wanted, sync_quit;

	/* the worker's result, read after the join */
	int ret;
	struct error *err;
	struct archive_extract_stats stats;
};

static ssize_t ring_read(void *cookie, void *buf, size_t len,
			 struct error **err)
{
	struct store_extract *x = cookie;
	pthread_mutex_lock(&x->mu);
	while (!x->fill && !x->eof && !x->cancel) {
		x->reader_waits = true;
		pthread_cond_wait(&x->readable, &x->mu);
		x->reader_waits = false;
	}
	if (x->cancel) {
		pthread_mutex_unlock(&x->mu);
		error_set(err, ECANCELED, "extraction cancelled");
		return -1;
	}
	size_t n = x->fill;
	size_t head = x->head;
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
	x->head = (head + n) % RING_SIZE;
	x->fill -= n;
	if (x->writer_waits && RING_SIZE - x->fill >= RING_LOW)
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

static void *syncer(void *data)
{
	struct store_extract *x = data;
	pthread_setname_np(pthread_self(), "kiln-sync");
	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (!x->sync_wanted && !x->sync_quit)
			pthread_cond_wait(&x->sync_cond, &x->mu);
		if (x->sync_quit)
			break;
		x->sync_wanted = false;
		pthread_mutex_unlock(&x->mu);
		/* best effort: the commit's own sync reports errors */
		syncfs(x->rootfd);
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

static void syncer_stop(struct store_extract *x)
{
	if (!x->syncer_running)
		return;
	pthread_mutex_lock(&x->mu);
	x->sync_quit = true;
	pthread_cond_signal(&x->sync_cond);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->syncer, NULL);
	x->syncer_running = false;
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
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->readable, NULL);
	pthread_cond_init(&x->writable, NULL);
	pthread_cond_init(&x->sync_cond, NULL);
	x->syncer_running = !pthread_create(&x->syncer, NULL, syncer, x);
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
		/* when full, wait for room to make the wake-up worth it */
		if (x->fill == RING_SIZE) {
			while (RING_SIZE - x->fill < RING_LOW && !x->done) {
				x->writer_waits = true;
				pthread_cond_wait(&x->writable, &x->mu);
				x->writer_waits = false;
			}
		}
		bool done = x->done;
		size_t fill = x->fill;
		size_t tail = (x->head + fill) % RING_SIZE;
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
		/* [tail, tail + free) is ours until we publish it */
		size_t n = RING_SIZE - fill;
		if (n > RING_SIZE - tail)
			n = RING_SIZE - tail;
		if (n > len)
			n = len;
		memcpy(x->ring + tail, p, n);
		pthread_mutex_lock(&x->mu);
		x->fill += n;
		if (x->reader_waits)
			pthread_cond_signal(&x->readable);
		x->fed += n;
		if (x->fed - x->sync_mark >= SYNC_EVERY) {
			x->sync_mark = x->fed;
			x->sync_wanted = true;
			pthread_cond_signal(&x->sync_cond);
		}
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
	syncer_stop(x);
	if (ret < 0)
		return -1;
	*bytes = x->stats.digests.uncompressed_size;
	memcpy(diffid, x->stats.digests.uncompressed, STORE_DIGEST_MAX);
	return 0;
}

static void extract_free(struct store_extract *x)
{
	syncer_stop(x);
	if (x->rootfd >= 0)
		close(x->rootfd);
	error_free(x->err);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->readable);
	pthread_cond_destroy(&x->writable);
	pthread_cond_destroy(&x->sync_cond);
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
	syncer_stop(x);
	close(x->rootfd);
	x->rootfd = -1;
	store_layer_abort(x->s, x->staging);
	extract_free(x);
}
