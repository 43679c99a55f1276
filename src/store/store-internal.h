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
/* rm -rf dirfd/name (best effort); returns -1 if anything stayed. */
int store_rmtree_at(int dirfd, const char *name);
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

/* A push-fed sanity check that a byte stream is a tar archive. */
struct store_tarcheck {
	unsigned char hdr[512];
	size_t fill;
	uint64_t skip;
	uint64_t entries;
	bool ended;
};
int store_tarcheck_feed(struct store_tarcheck *t, const void *buf, size_t len,
			struct error **err);
int store_tarcheck_finish(struct store_tarcheck *t, struct error **err);

/* ------------------------------------------------------------ misc */

/* Take LOCK_SH unless a lock is held already. */
int store_lock_for_write(struct store *s, struct error **err);
/* Fault points: store_test_write_point() then the syscall. */
int store_xrenameat(int olddirfd, const char *oldname, int newdirfd,
		    const char *newname);
int store_xfsync(int fd);

#endif
