/*
 * archive-internal.h: helpers shared by the archive/ files and nothing else.
 */
#ifndef KILN_ARCHIVE_INTERNAL_H
#define KILN_ARCHIVE_INTERNAL_H

#include "archive/archive.h"

/* A running sha256 (libcrypto EVP). */
struct archive_sha {
	void *ctx; /* EVP_MD_CTX */
};
void archive_sha_init(struct archive_sha *s);
void archive_sha_update(struct archive_sha *s, const void *buf, size_t len);
/* Write "sha256:<hex>" into out (72 bytes) and release the context. */
void archive_sha_final(struct archive_sha *s, char out[72]);
/* Release without a result (safe on an initialised or zeroed sha). */
void archive_sha_release(struct archive_sha *s);

/*
 * The tar header guard: fed the uncompressed tar bytes before libarchive
 * sees them, it rejects (KILN_ECORRUPT) any valid-checksum header block at
 * a 512-byte boundary whose type is a pax ('x', 'g') or GNU long name
 * ('L', 'K') extension larger than ARCHIVE_MAX_EXT_HEADER, so libarchive
 * never buffers a huge header.  Stateless apart from the block position:
 * it cannot be desynchronised by a crafted size field.
 */
#define ARCHIVE_MAX_EXT_HEADER (1024 * 1024)
struct archive_tar_guard {
	unsigned char block[512];
	size_t fill;
	uint64_t offset;
};
int archive_tar_guard_feed(struct archive_tar_guard *g, const void *buf,
			   size_t len, struct error **err);

/*
 * A libarchive read handle for the tar format over `in`, decompressing
 * (auto-detected) and guarding headers.  Used by the extractor and the
 * reader.  Private state lives in struct archive_tar_source.
 */
struct archive;
struct archive_tar_source {
	struct archive *a;
	struct archive_decompressor *dec;
	struct archive_tar_guard guard;
	struct error *err; /* the error our callback hit, if any */
	unsigned char *buf;
	size_t bufsize;
	bool eof;
};
int archive_tar_source_open(struct archive_tar_source *src,
			    const struct archive_input *in, unsigned dflags,
			    struct error **err);
/*
 * Turn a libarchive failure into *err, preferring the callback's own error
 * and mapping libarchive's wording to ours ("truncated tar").
 */
void archive_tar_source_error(struct archive_tar_source *src,
			      const char *what, struct error **err);
/* Read (and hash) whatever follows the end of the tar until EOF. */
int archive_tar_source_drain(struct archive_tar_source *src,
			     struct error **err);
void archive_tar_source_close(struct archive_tar_source *src);

/*
 * A set of byte strings (open addressing, FNV-1a).  Keys are copied.
 * `val` is a small per-key value the caller may use.
 */
struct archive_strset_slot {
	char *key;
	int val;
};
struct archive_strset {
	struct archive_strset_slot *slots;
	size_t nr, alloc;
};
/* Insert (or find) key; returns its slot; *added tells which. */
struct archive_strset_slot *archive_strset_put(struct archive_strset *s,
					       const char *key, bool *added);
struct archive_strset_slot *archive_strset_get(const struct archive_strset *s,
					       const char *key);
void archive_strset_clear(struct archive_strset *s);

/* Skip list normalisation: strip leading "/" and "./", trailing "/". */
char *archive_clean_skip(const char *p);

#endif
