/*
 * store: kiln's local image store, itself a valid OCI image layout.
 *
 *   oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   index.json            one manifest descriptor per tag
 *   blobs/sha256/<hex>    content-addressed blobs (layers, configs, manifests)
 *   layers/<diffid-hex>/  extracted layer trees, created once, read-only after
 *   layerinfo/<hex>       per compressed layer blob: "<diffid> <size>\n"
 *                         (uncompressed digest and size, a cache)
 *   cache/                build-cache records (owned by build/)
 *   containers/<id>/      containers (owned by container/); store/ only
 *                         reads containers/<id>/image, the manifest digest
 *                         the container was created from: a gc root, so
 *                         prune and rmi's gc keep that image (its untagged
 *                         index entry too), its blobs and its layer dirs
 *                         (also under prune -a) until the container is
 *                         removed
 *   tmp/                  staging: everything enters by write, fsync, rename
 *   lock, index.lock      flock(2) files (see "Locking" below)
 *
 * Invariants:
 *  - a file under blobs/ always holds exactly the bytes of its digest: blobs
 *    are written into tmp/, hashed while written, fsync'd, verified, then
 *    renamed into place and the directory fsync'd;
 *  - index.json is only ever replaced by rename(2) of a complete, fsync'd
 *    file, under index.lock;
 *  - a directory under layers/ is complete: it is built in tmp/ and renamed;
 *  - a crash at any instant leaves a readable store; leftovers are confined
 *    to tmp/ and unreferenced blobs, which `kiln prune` reclaims.
 *
 * Naming: index.json descriptors carry the full normalised reference in
 * "io.containerd.image.name" (docker.io/library/busybox:latest) and the
 * familiar form with its tag in "org.opencontainers.image.ref.name"
 * (busybox:latest, 127.0.0.1:5000/x:1.0), so `skopeo inspect
 * oci:<root>:busybox:latest` finds what `kiln images` shows.  Descriptors
 * without either annotation are untagged ("dangling") images.  When reading,
 * kiln accepts either annotation and normalises it.
 *
 * Locking: every process that adds data holds a shared flock on `lock` while
 * it works (taken by the first write, released by store_free); gc (prune,
 * fsck --repair) takes it exclusively, so it never removes another process's
 * staging files or its freshly written, not yet tagged blobs.  index.json
 * read-modify-write happens under an exclusive flock on `index.lock`.
 * Readers take no lock.
 *
 * Every function taking `struct error **err` returns 0 / a valid fd / a
 * non-NULL pointer on success, and -1 / NULL with *err set on failure.
 */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include "base/base.h"
#include <jansson.h>

/* Where containers live under the store root (see above). */
#define STORE_CONTAINERS_DIR "containers"

/* "sha256:" + 64 hex + NUL */
#define STORE_DIGEST_MAX 72

#define STORE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define STORE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define STORE_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define STORE_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define STORE_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define STORE_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define STORE_MT_DOCKER_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"
#define STORE_MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define STORE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define STORE_MT_DOCKER_LAYER_GZIP \
	"application/vnd.docker.image.rootfs.diff.tar.gzip"

#define STORE_ANN_REF_NAME "org.opencontainers.image.ref.name"
#define STORE_ANN_IMAGE_NAME "io.containerd.image.name"
#define STORE_ANN_TAG_TIME "io.kiln.tag.time"

struct store {
	char *root;
	int root_fd; /* the store root, O_DIRECTORY */
	int blobs_fd; /* blobs/sha256 */
	int tmp_fd; /* tmp/ */
	int lock_fd; /* `lock`, shared while writing, exclusive for gc */
	int lock_mode; /* 0, LOCK_SH or LOCK_EX */
	struct strvec created; /* blobs this handle added, for rollback */
	struct strvec created_layers; /* diffIDs of layer dirs it added */
};

/* ------------------------------------------------------------ the store */

/*
 * The store root kiln uses: $KILN_ROOT, else /var/lib/kiln for root, else
 * $XDG_DATA_HOME/kiln (default ~/.local/share/kiln).  Caller frees.
 */
char *store_default_root(void);

/*
 * Open the store at `root` (NULL: store_default_root()), creating the layout
 * when it does not exist yet.  A directory that exists but is not a kiln
 * store (no oci-layout, but other content) is refused.  store_free() closes
 * it and drops its locks.
 */
struct store *store_open(const char *root, struct error **err);
void store_free(struct store *s);

/*
 * Undo a failed operation: remove the blobs and layer dirs this handle
 * created that index.json does not reach.  Only done when the exclusive lock
 * can be had without waiting (no other writer could be using them); otherwise
 * they stay for `kiln prune`.  Best effort, never fails.
 */
void store_rollback(struct store *s);

/*
 * Take the store lock in `mode` (LOCK_SH to add data, LOCK_EX for gc);
 * blocks while another process holds a conflicting lock.  Blob and layer
 * writers take LOCK_SH themselves.  Held until store_free().
 */
int store_lock(struct store *s, int mode, struct error **err);

/* ------------------------------------------------------------ digests */

/* True if `d` is "sha256:" followed by 64 lowercase hex digits. */
bool store_digest_valid(const char *d);
/* sha256 of a buffer as "sha256:<hex>" into out (STORE_DIGEST_MAX). */
void store_digest_buf(const void *buf, size_t len, char *out);

/* ------------------------------------------------------------ blobs */

struct store_blob_writer;

/*
 * Start writing a blob into tmp/.  Data is hashed as it is written.  Finish
 * with store_blob_commit() or store_blob_abort(); both free the writer.
 */
struct store_blob_writer *store_blob_begin(struct store *s, struct error **err);
/* Append data.  After a failure the writer stays failed. */
int store_blob_write(struct store_blob_writer *w, const void *buf, size_t len,
		     struct error **err);
/* Bytes written so far. */
uint64_t store_blob_written(const struct store_blob_writer *w);
/*
 * From now on hash and write on a thread of the writer's own, so that
 * store_blob_write() only copies (into an 8 MB ring); before the first
 * write only, else ignored.  Commit and abort end the thread.
 */
void store_blob_async(struct store_blob_writer *w);
/*
 * fsync the data, compare the digest with `expected` (when not NULL; a
 * mismatch is KILN_ECORRUPT), rename into blobs/sha256/ (keeping an existing
 * copy), fsync the directory.  On success the digest is written to `digest`
 * (STORE_DIGEST_MAX bytes, may be NULL) and the size to `*size` (may be
 * NULL).  The staging file is removed on failure.  Frees w.
 */
int store_blob_commit(struct store_blob_writer *w, const char *expected,
		      char *digest, uint64_t *size, struct error **err);
void store_blob_abort(struct store_blob_writer *w);

/* store_blob_begin + write + commit for a buffer. */
int store_blob_put(struct store *s, const void *buf, size_t len,
		   const char *expected, char *digest, struct error **err);
bool store_blob_exists(struct store *s, const char *digest);
/* Open a blob read-only; its size in *size (may be NULL).  Returns an fd. */
int store_blob_open(struct store *s, const char *digest, uint64_t *size,
		    struct error **err);
/*
 * Read a whole blob into `out` (appending), refusing blobs over `cap` bytes
 * (0: 64 MiB), and verify its digest (KILN_ECORRUPT on mismatch).
 */
int store_blob_read(struct store *s, const char *digest, struct strbuf *out,
		    size_t cap, struct error **err);
/* Read a blob and parse it as a JSON object.  Caller json_decref()s. */
json_t *store_blob_read_json(struct store *s, const char *digest,
			     struct error **err);
/* Hash a stored blob and compare with its name (KILN_ECORRUPT). */
int store_blob_verify(struct store *s, const char *digest, struct error **err);

/*
 * Layer info: the diffID ("sha256:...", the digest of the uncompressed tar)
 * and uncompressed size of a layer blob.  store_layerinfo_put() records
 * them (writers know them for free); store_layerinfo_get() reads the record
 * or, when missing, decompresses the blob once and records the result.
 */
int store_layerinfo_put(struct store *s, const char *blob_digest,
			const char *diffid, uint64_t usize, struct error **err);
int store_layerinfo_get(struct store *s, const char *blob_digest, char *diffid,
			uint64_t *usize, struct error **err);
/*
 * The same with `du`, the layer's size unpacked as docker counts it (file
 * sizes and symlink lengths, hardlinks once: the SIZE of `kiln images`).
 * Records written without it get it computed once, as above.
 */
int store_layerinfo_put_du(struct store *s, const char *blob_digest,
			   const char *diffid, uint64_t usize, uint64_t du,
			   struct error **err);
int store_layerinfo_get_du(struct store *s, const char *blob_digest,
			   char *diffid, uint64_t *usize, uint64_t *du,
			   struct error **err);

/* ------------------------------------------------------------ ingest */

/*
 * Ingest: store a byte stream as a blob in one pass, recognising layers.
 *
 *  STORE_INGEST_LAYER  the stream must be a tar, plain or compressed (gzip,
 *                      zstd): plain and zstd input is gzip-compressed, gzip
 *                      input is kept as is.  Anything else fails
 *                      ("not a tar archive").
 *  STORE_INGEST_AUTO   like LAYER for a plain tar (compressed to gzip);
 *                      compressed input and non-tar data (JSON) are kept
 *                      as they are.
 *  STORE_INGEST_AS_IS  the bytes are stored unchanged (OCI blobs whose
 *                      digest is fixed); layers are still recognised.
 *
 * Whenever the content is a (compressed) tar, its diffID and uncompressed
 * size are computed on the way and recorded as layer info.
 */
enum store_ingest_mode {
	STORE_INGEST_LAYER,
	STORE_INGEST_AUTO,
	STORE_INGEST_AS_IS,
};

struct store_ingest_result {
	char digest[STORE_DIGEST_MAX]; /* of the stored blob */
	uint64_t size; /* of the stored blob */
	bool is_layer; /* a tar, plain or compressed */
	const char *media_type; /* OCI layer media type when is_layer */
	char diffid[STORE_DIGEST_MAX]; /* when is_layer */
	uint64_t usize; /* uncompressed size, when is_layer */
	bool unpacked; /* store_ingest_unpack(): layers/<diffid> exists */
};

struct store_ingest;
struct store_ingest *store_ingest_begin(struct store *s,
					enum store_ingest_mode mode,
					struct error **err);
/*
 * Also extract the layer while it streams, in one pass with the rest: once
 * the content is known to be a (compressed) tar, its uncompressed bytes
 * are extracted on a worker thread into a staging dir in tmp/ (overlay
 * lower-dir form, as store_layer_unpack()), overlapping with the
 * decompression and hashing done by the writing thread.  On commit, after
 * the blob digest and the diffID are verified and the blob is stored, the
 * dir is renamed to layers/<diffid-hex>; any failure (of the extraction
 * too) fails the ingest and removes it.  `diffid` (may be NULL) is the
 * expected diffID when the caller knows it: a layer with another diffID
 * fails the ingest (KILN_ECORRUPT, nothing stored), and when its dir
 * exists already nothing is extracted.  `what` (may be NULL) names the
 * layer in error messages.  Call before the first write.
 */
void store_ingest_unpack(struct store_ingest *in, const char *diffid,
			 const char *what);
int store_ingest_write(struct store_ingest *in, const void *buf, size_t len,
		       struct error **err);
/*
 * Finish and commit the blob; `expected` (may be NULL) is checked against
 * the stored blob's digest.  Frees `in` in every case.
 */
int store_ingest_commit(struct store_ingest *in, const char *expected,
			struct store_ingest_result *res, struct error **err);
void store_ingest_abort(struct store_ingest *in);

/* ------------------------------------------------------------ refs */

/* One entry of index.json. */
struct store_ref {
	char *name; /* full normalised reference, NULL when untagged */
	char *digest; /* of the manifest (or index) */
	char *media_type;
	int64_t size;
	int64_t tag_time; /* unix seconds the tag was set, 0 unknown */
};

struct store_refs {
	struct store_ref *v;
	size_t nr, alloc;
};
#define STORE_REFS_INIT    \
	{                  \
		NULL, 0, 0 \
	}

/*
 * Read index.json.  A missing index.json reads as empty; an unparsable one
 * is KILN_ECORRUPT.  Entries whose mediaType is not a manifest or index
 * are skipped.
 */
int store_refs_read(struct store *s, struct store_refs *refs,
		    struct error **err);
void store_refs_release(struct store_refs *refs);
/* The entry named `name` (a full normalised reference), or NULL. */
const struct store_ref *store_refs_find(const struct store_refs *refs,
					const char *name);

/* A descriptor of something to tag. */
struct store_desc {
	const char *media_type;
	const char *digest;
	int64_t size;
};

/*
 * Point `name` (normalised reference; NULL: add an untagged entry unless
 * the manifest is already in the index) at `manifest`.  If the tag used to
 * point at another manifest that nothing else refers to, that one stays as
 * an untagged entry, as docker keeps a dangling image.  If `name` is set,
 * an untagged entry for the same manifest is dropped.  Atomic, under
 * index.lock.
 */
int store_ref_set(struct store *s, const char *name,
		  const struct store_desc *manifest, struct error **err);
/*
 * Remove the tag `name`; KILN_ENOTFOUND when it does not exist.  When
 * `old_digest` is not NULL it receives the manifest the tag pointed at.
 */
int store_ref_delete(struct store *s, const char *name, char *old_digest,
		     struct error **err);
/* Remove every entry pointing at the manifest `digest`. */
int store_ref_delete_digest(struct store *s, const char *digest,
			    struct error **err);

/*
 * Read-modify-write index.json under index.lock: `fn` gets the current
 * entries and may change them; returning non-zero aborts without writing.
 */
typedef int (*store_refs_update_fn)(struct store_refs *refs, void *data,
				    struct error **err);
int store_refs_update(struct store *s, store_refs_update_fn fn, void *data,
		      struct error **err);

/* ------------------------------------------------------------ images */

/* A resolved image: its manifest, config and names. */
struct store_image {
	char *manifest_digest; /* what the index entry points at */
	char *manifest_media_type;
	int64_t manifest_size;
	/*
	 * When manifest_digest is an image index: the platform manifest
	 * chosen from it (linux/amd64-like host match, else the first);
	 * otherwise equal to manifest_digest.
	 */
	char *image_manifest_digest;
	char *image_manifest_media_type;
	int64_t image_manifest_size;
	char *config_digest; /* the image ID */
	json_t *manifest;
	json_t *config;
	struct strvec names; /* full references pointing at the manifest */
	int64_t tag_time;
};

/*
 * Resolve what a user typed: a reference (busybox, busybox:1.36,
 * name@sha256:...), a full image ID (sha256:<hex> or <hex>), or a unique ID
 * prefix (at least 4 hex digits).  A reference is tried first, as docker
 * does.  KILN_ENOTFOUND: "no such image: 'x'", KILN_EINVAL: ambiguous
 * prefix or invalid reference.  Loads manifest and config.
 */
struct store_image *store_image_lookup(struct store *s, const char *name,
				       struct error **err);
/* Load the image whose manifest is `digest`. */
struct store_image *store_image_load(struct store *s, const char *digest,
				     struct error **err);
void store_image_free(struct store_image *img);

/* Layer descriptors of an image, in order. */
struct store_layer_desc {
	char *media_type;
	char *digest; /* of the blob */
	int64_t size; /* of the blob */
	char *diffid; /* from the config's rootfs.diff_ids */
	uint64_t usize; /* uncompressed size (from layerinfo) */
	uint64_t du; /* unpacked size as docker shows it (layerinfo) */
};
/*
 * The layers of an image with their diffIDs and uncompressed sizes
 * (computing missing layer info).  Caller frees with
 * store_layer_descs_free().
 */
int store_image_layers(struct store *s, const struct store_image *img,
		       struct store_layer_desc **out, size_t *nr,
		       struct error **err);
void store_layer_descs_free(struct store_layer_desc *v, size_t nr);
/* The image's unpacked size as docker shows it: the sum of the layers' du. */
int store_image_size(struct store *s, const struct store_image *img,
		     uint64_t *size, struct error **err);

/*
 * Write an image: the config blob (`config`, `config_len` bytes, stored as
 * is: its digest is the image ID) and an OCI manifest listing `layers`
 * (media_type, digest, size of blobs that must be stored already).  The
 * manifest digest goes to `manifest_digest` (STORE_DIGEST_MAX), its size
 * to `*manifest_size`, the config digest to `config_digest` (may be NULL).
 * Does not tag.
 */
int store_image_write(struct store *s, const char *config, size_t config_len,
		      const struct store_layer_desc *layers, size_t nr,
		      char *manifest_digest, int64_t *manifest_size,
		      char *config_digest, struct error **err);

/* ------------------------------------------------------------ layers */

/* True when layers/<hex of diffid>/ exists (and is therefore complete). */
bool store_layer_exists(struct store *s, const char *diffid);
/* "<root>/layers/<hex>", caller frees. */
char *store_layer_path(struct store *s, const char *diffid);
/*
 * Create an empty staging directory for extracting a layer; returns its
 * path (caller frees).  Fill it, then store_layer_commit() it.
 */
char *store_layer_begin(struct store *s, struct error **err);
/*
 * Rename the staged tree to layers/<hex of diffid>, after a durable
 * unsynced/<hex> marker naming this boot (see store_layers_settle()).  When a
 * concurrent extraction won the race, the staged copy is removed and this
 * returns 0.  On failure the staging dir is removed.  A dir this call
 * created is listed in s->created_layers (store_rollback() removes it);
 * call it from one thread at a time per store handle.
 */
int store_layer_commit(struct store *s, const char *staging, const char *diffid,
		       struct error **err);
/*
 * Layer trees are renamed into place before they are on disk, each with
 * an unsynced/<hex> marker naming the boot it was written in.  Trees of
 * earlier boots' markers may have been torn by a crash: they are removed
 * (under the exclusive lock; skipped while another process holds the
 * store) and extracted again from their blobs when needed.  Markers of
 * this boot are removed after one syncfs: none (STALE: store_open()),
 * those older than 30 s (AGED: the first write lock of a process, when
 * the kernel has long written the trees back), or all (ALL: kiln fsck).
 * Best effort: errors leave the markers for a later call.
 */
enum store_settle {
	STORE_SETTLE_STALE,
	STORE_SETTLE_AGED,
	STORE_SETTLE_ALL,
};
void store_layers_settle(struct store *s, enum store_settle how);
/* Remove layers/<hex> and its marker, if any (gc, prune, rollback). */
void store_layer_remove(struct store *s, const char *hex);
/* Remove a staging directory (after a failed extraction). */
void store_layer_abort(struct store *s, const char *staging);
/*
 * Make sure layers/<diffid-hex>/ exists: extract the layer blob
 * `blob_digest` into a staging dir as an overlay lower dir (whiteouts as
 * 0/0 character devices and opaque xattrs; `userxattr` for rootless),
 * check that the content hashes to `diffid` (KILN_ECORRUPT otherwise), and
 * commit it.  Returns the directory's path (caller frees) or NULL.
 */
char *store_layer_unpack(struct store *s, const char *blob_digest,
			 const char *diffid, bool userxattr,
			 struct error **err);

/* ------------------------------------------------------------ gc, fsck */

struct store_prune_opts {
	bool all; /* also extracted layer dirs of tagged images, build cache */
	bool dry_run;
};
struct store_prune_result {
	struct strvec untagged; /* manifest digests of removed dangling images
				 */
	struct strvec deleted; /* "sha256:..." blobs removed */
	uint64_t reclaimed; /* bytes */
};
/*
 * Remove dangling (untagged) images, blobs and layer dirs nothing refers
 * to, and tmp/ leftovers.  Takes the store lock exclusively (waits for
 * running writers).  Caller releases result with store_prune_result_release.
 */
int store_prune(struct store *s, const struct store_prune_opts *opts,
		struct store_prune_result *res, struct error **err);
void store_prune_result_release(struct store_prune_result *res);
/*
 * Remove what `rmi` made unreferenced: blobs of the manifest `digest` that
 * no index entry still reaches (and their layerinfo).  Deleted blob digests
 * are pushed to `deleted` (may be NULL).
 */
int store_gc_image(struct store *s, const char *digest, struct strvec *deleted,
		   struct error **err);

/*
 * Check the store.  Each problem is one line pushed to `problems` ("blob
 * 'sha256:...': digest mismatch").  With `repair`, corrupt blobs, index
 * entries pointing at missing data and broken layer dirs are removed (under
 * the exclusive lock) and each repair is pushed as "removed ...".
 * Returns 0 when the check ran (problems->nr tells the outcome), -1 when it
 * could not run.
 */
int store_fsck(struct store *s, bool repair, struct strvec *problems,
	       struct strvec *repairs, struct error **err);

/* ------------------------------------------------------------ references */

/*
 * Docker reference normalisation (through oci_ref_parse):
 * "busybox" -> "docker.io/library/busybox:latest"; keeps a digest
 * ("name@sha256:..."), adds ":latest" when there is neither tag nor digest.
 * Returns NULL with KILN_EINVAL "reference 'x': invalid reference format:
 * ..." on bad input.
 */
char *store_ref_normalize(const char *ref, struct error **err);
/* The familiar form: "busybox:latest", "127.0.0.1:5000/x:1". Caller frees. */
char *store_ref_familiar(const char *full);
/*
 * Split a normalised reference into repository (familiar form), tag and
 * digest (empty strings when absent).  Caller frees the three.
 */
void store_ref_split(const char *full, char **repo, char **tag, char **digest);

/* The host's GOARCH-style architecture name ("amd64", "arm64"). */
const char *store_host_arch(void);

/* ------------------------------------------------------------ time */

/* RFC 3339 UTC time with nanoseconds, as docker writes "created". */
char *store_time_now(void);
/* Parse RFC 3339 (with optional fraction and offset); -1 on junk. */
int store_time_parse(const char *s, int64_t *unix_seconds);

/* ------------------------------------------------------------ test hooks */

/*
 * KILN_TEST_DIE_AFTER_WRITES=N in the environment makes the process _exit(99)
 * at the Nth store write point (blob data, fsync, rename, index update).
 * For crash tests only.
 */
void store_test_write_point(void);

#endif
