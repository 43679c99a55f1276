/*
 * archive: layers as byte streams.
 *
 *  - compression streams: gzip (ISA-L igzip, zlib fallback), zstd, plain;
 *    bzip2 and xz are decompressed through libarchive's filters.  Every
 *    compressing writer also hashes what it writes (sha256 of the compressed
 *    bytes = the blob digest, sha256 of the uncompressed tar = the diffid)
 *    in the same pass.
 *  - tar writing from a directory tree: deterministic (sorted entries,
 *    optional mtime clamp), PAX-restricted like docker, optionally turning an
 *    overlay upperdir into an OCI layer diff (whiteouts).
 *  - safe extraction into a root directory fd: no path ever leaves the root,
 *    whiteouts are applied or recorded for overlay.
 *  - a tar reader iterating entries (docker save archives).
 *
 * Streams are callbacks so the store can feed a file, a pipe or an HTTP body.
 * Everything returns 0 / -1 (or NULL) and sets `struct error **err`; nothing
 * prints.  A stream object that failed stays failed: later calls return -1.
 */
#ifndef KILN_ARCHIVE_H
#define KILN_ARCHIVE_H

#include "base/base.h"

#include <sys/stat.h>

/* ---------------------------------------------------------------- streams */

/*
 * A source: read up to `len` bytes into `buf`; return the count, 0 at end of
 * stream, or -1 with *err set.
 */
typedef ssize_t (*archive_read_fn)(void *cookie, void *buf, size_t len,
				   struct error **err);
/* A sink: write all `len` bytes; return 0, or -1 with *err set. */
typedef int (*archive_write_fn)(void *cookie, const void *buf, size_t len,
				struct error **err);

struct archive_input {
	archive_read_fn read;
	void *cookie;
};

/* Ready-made callbacks on a file descriptor: cookie is an `int *`. */
ssize_t archive_fd_read(void *cookie, void *buf, size_t len,
			struct error **err);
int archive_fd_write(void *cookie, const void *buf, size_t len,
		     struct error **err);

/*
 * An in-memory source over a borrowed buffer (tests, fuzzing, small blobs).
 * Initialise with ARCHIVE_MEM_INPUT(buf, len) then pass
 * { archive_mem_read, &mem }.
 */
struct archive_mem {
	const unsigned char *buf;
	size_t len, pos;
};
ssize_t archive_mem_read(void *cookie, void *buf, size_t len,
			 struct error **err);
/* A sink appending to a `struct strbuf *` cookie. */
int archive_strbuf_write(void *cookie, const void *buf, size_t len,
			 struct error **err);

/* ---------------------------------------------------------------- digests */

/*
 * What a compressing or decompressing pass measured.  Digests read
 * "sha256:<64 hex>"; they are valid once the stream is finished.
 */
struct archive_digests {
	char compressed[72]; /* the blob digest */
	char uncompressed[72]; /* the diffid */
	uint64_t compressed_size;
	uint64_t uncompressed_size;
};

/* ---------------------------------------------------------------- compression
 */

enum archive_compression {
	ARCHIVE_COMP_NONE = 0,
	ARCHIVE_COMP_GZIP,
	ARCHIVE_COMP_ZSTD,
	ARCHIVE_COMP_BZIP2,
	ARCHIVE_COMP_XZ,
	ARCHIVE_COMP_AUTO, /* decompressor: detect from the magic bytes */
};

/* "none", "gzip", "zstd", "bzip2", "xz", "auto". */
const char *archive_compression_str(enum archive_compression c);

/*
 * Detect the compression of a stream from its first bytes (at least 6 are
 * needed to tell xz; fewer give a best guess).  Anything unrecognised is
 * ARCHIVE_COMP_NONE.
 */
enum archive_compression archive_detect_compression(const void *buf,
						    size_t len);

/* True when ISA-L was available at build time. */
bool archive_have_isal(void);

struct archive_compress_opts {
	enum archive_compression comp; /* NONE, GZIP or ZSTD */
	/*
	 * -1 = default: gzip level 1 (ISA-L levels are 0-3, higher values
	 * fall back to zlib with that level), zstd level 3.
	 */
	int level;
	bool force_zlib; /* gzip through zlib even when ISA-L is there */
};

/*
 * A compressing writer: bytes written to it are compressed into `out`.
 * Hashes and counts both sides.  Free with archive_compressor_free().
 * NULL opts means gzip level 1.
 */
struct archive_compressor;
struct archive_compressor *
archive_compressor_new(const struct archive_compress_opts *opts,
		       archive_write_fn out, void *cookie, struct error **err);
int archive_compressor_write(struct archive_compressor *c, const void *buf,
			     size_t len, struct error **err);
/* Flush the end of the stream into `out` and fill *dg (may be NULL). */
int archive_compressor_finish(struct archive_compressor *c,
			      struct archive_digests *dg, struct error **err);
void archive_compressor_free(struct archive_compressor *c);
/* archive_write_fn adapter: cookie is the compressor. */
int archive_compressor_write_cb(void *cookie, const void *buf, size_t len,
				struct error **err);

/* Flags for archive_decompressor_new(). */
#define ARCHIVE_DECOMP_ZLIB 0x1 /* inflate gzip with zlib, not ISA-L */
/*
 * Do not hash: the caller hashes the stream itself.  The digests then read
 * as those of empty input; the sizes are still counted.
 */
#define ARCHIVE_DECOMP_NOHASH 0x2

/*
 * A decompressing reader over `in` (borrowed; must outlive it).  `comp`
 * ARCHIVE_COMP_AUTO detects from the magic bytes.  Multi-member gzip is one
 * stream.  A truncated or corrupt stream fails with a clear message
 * ("truncated gzip stream", "corrupt gzip stream: ...").  Hashes and counts
 * both sides.
 */
struct archive_decompressor;
struct archive_decompressor *
archive_decompressor_new(const struct archive_input *in,
			 enum archive_compression comp, unsigned flags,
			 struct error **err);
/* Like archive_read_fn: count, 0 at the end, -1 on error. */
ssize_t archive_decompressor_read(struct archive_decompressor *d, void *buf,
				  size_t len, struct error **err);
/* archive_read_fn adapter: cookie is the decompressor. */
ssize_t archive_decompressor_read_cb(void *cookie, void *buf, size_t len,
				     struct error **err);
/* The detected compression (valid after the first read). */
enum archive_compression
archive_decompressor_compression(const struct archive_decompressor *d);
/* Digests and sizes; complete once a read returned 0. */
void archive_decompressor_digests(struct archive_decompressor *d,
				  struct archive_digests *dg);
void archive_decompressor_free(struct archive_decompressor *d);

/* ---------------------------------------------------------------- tar writing
 */

struct archive_tree_opts {
	/*
	 * Clamp every mtime to at most `mtime_max` (SOURCE_DATE_EPOCH
	 * semantics) when `clamp_mtime` is set.
	 */
	bool clamp_mtime;
	int64_t mtime_max;
	/*
	 * The tree is an overlay upperdir: a 0/0 character device becomes a
	 * `.wh.<name>` entry, an opaque directory gets a `.wh..wh..opq` entry
	 * (its opaque xattr is not copied).  Overlay's own xattrs
	 * (trusted.overlay.*, user.overlay.*) are never copied in any mode.
	 */
	bool overlay_upper;
	/* Opaque directories are marked with user.overlay.opaque (userxattr).
	 */
	bool userxattr;
	/*
	 * NULL-terminated list of paths relative to the tree root ("proc",
	 * "etc/resolv.conf") left out of the tar together with everything
	 * under them (mount targets the sandbox created).  May be NULL.
	 */
	const char *const *skip;
};

/*
 * Write the tree under directory fd `dirfd` as a tar stream into `out`.
 * Entries are sorted bytewise by name within each directory, parents before
 * children; paths are relative ("etc/passwd", directories end in "/");
 * uname/gname are left empty and numeric ids kept, as docker's layers do;
 * hardlinks (same device and inode) become link entries to the first path.
 */
int archive_write_tree(int dirfd, const struct archive_tree_opts *opts,
		       archive_write_fn out, void *cookie, struct error **err);

/*
 * archive_write_tree() through a compressor into `out` in one streaming
 * pass: *dg receives the blob digest, the diffid and both sizes.
 */
int archive_write_layer(int dirfd, const struct archive_tree_opts *topts,
			const struct archive_compress_opts *copts,
			archive_write_fn out, void *cookie,
			struct archive_digests *dg, struct error **err);

/* ---------------------------------------------------------------- extraction
 */

enum archive_whiteout_mode {
	/*
	 * Flattened: the root already holds the lower layers; `.wh.<name>`
	 * deletes <name>, `.wh..wh..opq` deletes the directory's children
	 * that did not come from this layer.
	 */
	ARCHIVE_WHITEOUT_APPLY = 0,
	/*
	 * The root is a fresh directory that will be an overlay lowerdir:
	 * `.wh.<name>` becomes a 0/0 character device, `.wh..wh..opq` the
	 * directory's trusted.overlay.opaque (user.overlay.opaque with
	 * userxattr) xattr set to "y".
	 */
	ARCHIVE_WHITEOUT_OVERLAY,
};

struct archive_extract_opts {
	enum archive_whiteout_mode whiteouts;
	bool userxattr;
	/* Never chown (by default entries are chowned when running as root). */
	bool no_chown;
	/* Context for error messages, e.g. "layer sha256:ab12...". */
	const char *what;
	/* Gzip through zlib instead of ISA-L (tests). */
	bool force_zlib;
	/*
	 * docker's Untar (what ADD of a local archive does): an entry for the
	 * root itself ("", ".", "./") is ignored whatever its type, so the
	 * root keeps its own mode, owner and time; and only the
	 * security.capability xattr is applied (dockerd's layers carry no
	 * other, so user.* attributes of the archive never reach the image).
	 */
	bool docker_untar;

	/*
	 * The caller hashes the stream itself (it feeds the extractor what
	 * it already hashed): stats->digests then holds the sizes only.
	 */
	bool no_digests;
};

struct archive_extract_stats {
	uint64_t entries;
	uint64_t bytes; /* regular file content written */
	unsigned skipped_devices; /* mknod not permitted */
	unsigned skipped_xattrs; /* xattr not permitted/supported */
	unsigned whiteouts;
	struct archive_digests digests; /* of the input as read */
};

/*
 * Extract the (possibly compressed: detected from magic bytes) tar stream
 * `in` into the directory `rootfd`.  Every path is resolved inside the root
 * (openat2 RESOLVE_IN_ROOT): `..` components are rejected, absolute names
 * are taken relative to the root, symlinks (from this archive or already in
 * the root) are followed only as if the root were "/", the final component
 * is never followed, hardlink targets must be inside.  Existing entries are
 * replaced (directories merged); later duplicates win.  Modes including
 * setuid, ownership (as root), xattrs (never overlay's own), and mtimes
 * (directories last) are applied.  Device nodes that cannot be created are
 * skipped and counted.  Malformed input fails with "<what>: <reason>"
 * ("truncated tar", "corrupt gzip stream", "tar header too large").
 * `stats` may be NULL.  On failure the root holds a partial extraction.
 */
int archive_extract(int rootfd, const struct archive_input *in,
		    const struct archive_extract_opts *opts,
		    struct archive_extract_stats *stats, struct error **err);

/* ---------------------------------------------------------------- reading */

/* One tar entry as the reader sees it; strings valid until the next call. */
struct archive_member {
	const char *path; /* as stored, leading "./" removed */
	const char *linkname; /* symlink or hardlink target, else NULL */
	mode_t mode; /* type and permission bits */
	bool hardlink;
	uint64_t size;
	int64_t mtime;
	uint64_t uid, gid;
};

/*
 * Iterate over the entries of a (possibly compressed) tar stream.
 * archive_reader_next() returns 1 with *m filled, 0 at the end, -1 on error;
 * the entry's content is read with archive_reader_read() (unread content is
 * skipped by the next archive_reader_next()).
 */
struct archive_reader;
struct archive_reader *archive_reader_new(const struct archive_input *in,
					  struct error **err);
int archive_reader_next(struct archive_reader *r, struct archive_member *m,
			struct error **err);
ssize_t archive_reader_read(struct archive_reader *r, void *buf, size_t len,
			    struct error **err);
/* Read the rest of the current entry into sb; fails beyond `cap` bytes. */
int archive_reader_read_all(struct archive_reader *r, struct strbuf *sb,
			    size_t cap, struct error **err);
void archive_reader_free(struct archive_reader *r);

#endif
