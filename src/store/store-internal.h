/*
 * store/ private helpers: file-system primitives with fault-injection-aware
 * error reporting, and the small codec adapters (sha256, gzip, zstd, tar
 * sanity check) the store needs until oci/ and archive/ provide them.
 */
#ifndef KILN_STORE_INTERNAL_H
#define KILN_STORE_INTERNAL_H

#include "store/store.h"

/* ------------------------------------------------------------ fs */

/* A unique name for a staging file in tmp/ ("<pid>.<n>.<rand><suffix>"). */
char *store_tmpname(const char *suffix);
/* write(2) all of buf; -1 with errno on failure (EIO for a short write). */
int store_write_all(int fd, const void *buf, size_t len);
int store_fsync_dir(int dirfd, const char *what, struct error **err);
/*
 * Write `buf` to a staging file, fsync, rename to dirfd/name, fsync dirfd.
 * `what` names the target in error messages.
 */
int store_write_atomic(struct store *s, int dirfd, const char *name,
		       const void *buf, size_t len, const char *what,
		       struct error **err);
/* The same; *renamed tells whether the new file replaced the old one. */
int store_write_atomic_ex(struct store *s, int dirfd, const char *name,
			  const void *buf, size_t len, const char *what,
			  bool *renamed, struct error **err);
/*
 * Single-producer rings (extract.c, blob.c): copy the first bytes of p
 * (at most len) into the `room` free bytes of ring (`size` bytes) that
 * follow stream offset `fed`, without wrapping; returns how many.  The
 * caller owns that region until it publishes the new offset.
 */
size_t store_ring_put(unsigned char *ring, size_t size, uint64_t fed,
		      size_t room, const void *p, size_t len);
/* Total size of regular files under dirfd/name. */
uint64_t store_du_at(int dirfd, const char *name);
/* Parse "sha256:<hex>" → hex pointer into d, NULL if invalid. */
const char *store_digest_hex(const char *d);

/* ------------------------------------------------------------ sha256 */

struct store_sha256 {
	void *ctx; /* EVP_MD_CTX */
};
void store_sha256_init(struct store_sha256 *h);
void store_sha256_update(struct store_sha256 *h, const void *buf, size_t len);
/* Write "sha256:<hex>" into out (STORE_DIGEST_MAX) and release h. */
void store_sha256_final(struct store_sha256 *h, char *out);
void store_sha256_release(struct store_sha256 *h);
/* The digest of what h has seen so far; h goes on. */
void store_sha256_peek(const struct store_sha256 *h, char *out);

/* ------------------------------------------------------------ codecs */

/* A consumer of a byte stream. */
typedef int (*store_sink_fn)(void *data, const void *buf, size_t len,
			     struct error **err);

enum store_comp {
	STORE_COMP_NONE,
	STORE_COMP_GZIP,
	STORE_COMP_ZSTD,
	STORE_COMP_XZ,
	STORE_COMP_BZIP2,
};
/* Guess the compression from the first bytes (at least 6 wanted). */
enum store_comp store_comp_detect(const void *buf, size_t len);
const char *store_comp_name(enum store_comp c);

/* Streaming gzip compression (ISA-L, level 1) into a sink. */
struct store_gzip;
struct store_gzip *store_gzip_new(store_sink_fn sink, void *data);
int store_gzip_write(struct store_gzip *z, const void *buf, size_t len,
		     struct error **err);
int store_gzip_finish(struct store_gzip *z, struct error **err);
void store_gzip_free(struct store_gzip *z);

/* Streaming decompression (gzip or zstd; NONE passes through). */
struct store_unzip;
struct store_unzip *store_unzip_new(enum store_comp c, store_sink_fn sink,
				    void *data);
int store_unzip_write(struct store_unzip *u, const void *buf, size_t len,
		      struct error **err);
/* Fails on a truncated stream. */
int store_unzip_finish(struct store_unzip *u, struct error **err);
void store_unzip_free(struct store_unzip *u);

/*
 * A push-fed sanity check that a byte stream is a tar archive.  On the way
 * it adds up `du`, what the layer occupies unpacked as docker counts it
 * (the image SIZE column): regular file sizes plus symlink target lengths,
 * hardlinks counted once (pax `size`/`linkpath` and GNU long links
 * honoured).  Zero-initialise before the first feed.
 */
#define STORE_TAR_META_MAX 8192
struct store_tarcheck {
	unsigned char hdr[512];
	size_t fill;
	uint64_t skip;
	uint64_t entries;
	bool ended;
	uint64_t du;
	/* pax ('x') or GNU long link ('K') data being collected */
	unsigned char meta_type;
	uint64_t meta_left;
	size_t meta_len;
	char meta[STORE_TAR_META_MAX];
	/* overrides for the next entry */
	bool have_size, have_link;
	uint64_t size, link_len;
};
int store_tarcheck_feed(struct store_tarcheck *t, const void *buf, size_t len,
			struct error **err);
int store_tarcheck_finish(struct store_tarcheck *t, struct error **err);

/*
 * A layerinfo record, "<diffid> <usize>[ <du>]\n": parse it into `diffid`
 * (STORE_DIGEST_MAX), `*usize` and `*du` (UINT64_MAX when the record is
 * older than the du field).  Returns -1 on a malformed record.
 */
int store_layerinfo_parse(const char *line, char *diffid, uint64_t *usize,
			  uint64_t *du);

/* ------------------------------------------------------------ extract */

/*
 * A layer extracted while it streams (extract.c): store_extract_start()
 * makes a staging dir in tmp/ and starts a worker thread extracting into
 * it (overlay lower-dir form, as store_layer_unpack()); feed it the
 * uncompressed tar with store_extract_feed() (which fails once the
 * extractor failed, with its error), end the stream with
 * store_extract_finish() (waits for the worker; `*bytes` gets the tar's
 * size and `diffid` (STORE_DIGEST_MAX) its sha256, as the worker read it),
 * then store_extract_commit() renames the
 * staging dir to layers/<hex of diffid> (see store_layer_commit()).
 * store_extract_abort() stops the worker and removes the staging dir.
 * Commit and abort free x.  One producer thread.
 */
struct store_extract;
struct store_extract *store_extract_start(struct store *s, const char *what,
					  bool userxattr, struct error **err);
int store_extract_feed(struct store_extract *x, const void *buf, size_t len,
		       struct error **err);
int store_extract_finish(struct store_extract *x, uint64_t *bytes, char *diffid,
			 struct error **err);
int store_extract_commit(struct store_extract *x, const char *diffid,
			 struct error **err);
void store_extract_abort(struct store_extract *x);

/* The digest of what a blob writer was given so far. */
void store_blob_peek_digest(struct store_blob_writer *w, char *out);

/* ------------------------------------------------------------ misc */

/* Take LOCK_SH unless a lock is held already. */
int store_lock_for_write(struct store *s, struct error **err);
/* Fault points: store_test_write_point() then the syscall. */
int store_xrenameat(int olddirfd, const char *oldname, int newdirfd,
		    const char *newname);
int store_xfsync(int fd);

#endif
