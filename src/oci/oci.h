/*
 * oci: OCI and Docker image data types, JSON in and out.  Pure: no I/O, no
 * global state; every function can be unit-tested and fuzzed in memory.
 *
 *   - image references with Docker's normalisation (oci_ref_*)
 *   - digests: validation, sha256 of a buffer, a streaming hasher
 *   - descriptors, manifests and indexes, OCI and Docker schema2 media types
 *   - the image config with every field docker writes
 *   - platforms: parsing, normalisation, picking a manifest from an index
 *   - docker-save's manifest.json and the OCI layout's oci-layout file
 *
 * Ownership: every struct owns its strings and sub-structs (plain malloc).
 * A `*_parse()` returns a new object the caller frees with the matching
 * `*_free()`; `*_release()` frees the contents of an embedded struct.
 * Strings set by callers must be malloc'd (the struct takes them over);
 * helpers named `*_set*` copy their arguments.
 *
 * Readers are strict about types: a known field with the wrong JSON type,
 * a missing required field, a malformed digest or media type is an error.
 * Unknown fields are ignored in manifests, indexes and descriptors (as the
 * image-spec requires) and kept in `extra` for image configs.  JSON null is
 * accepted wherever Go's encoding/json would accept it (lists, maps,
 * optional strings, where it means "unset").
 *
 * Writers produce compact JSON with a fixed key order (the order of the
 * Go structs in image-spec and moby, map keys sorted), so the same struct
 * always gives the same bytes: serialize(parse(serialize(x))) ==
 * serialize(x).  They refuse to write an object missing a required field.
 *
 * Byte stability of *pulled* content: kiln never re-serialises a manifest,
 * index or config it did not create.  Digests are over the original bytes,
 * so the store keeps a pulled blob's bytes as they came and these structs
 * are only a parsed view of them.
 */
#ifndef KILN_OCI_H
#define KILN_OCI_H

#include "base/base.h"
#include <jansson.h>

/* ================================================================ media types
 */

#define OCI_MEDIATYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIATYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIATYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIATYPE_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIATYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIATYPE_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MEDIATYPE_EMPTY "application/vnd.oci.empty.v1+json"

#define DOCKER_MEDIATYPE_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIATYPE_MANIFEST_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIATYPE_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIATYPE_LAYER_GZIP \
	"application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MEDIATYPE_LAYER_FOREIGN \
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* Annotation naming a tag in an OCI layout's index.json. */
#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
/* containerd's full image name annotation (docker save writes it). */
#define OCI_ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

/* The kinds of object a media type names. */
enum oci_kind {
	OCI_KIND_UNKNOWN = 0,
	OCI_KIND_MANIFEST, /* OCI manifest or Docker schema2 manifest */
	OCI_KIND_INDEX, /* OCI index or Docker manifest list */
	OCI_KIND_CONFIG, /* OCI or Docker image config */
	OCI_KIND_LAYER, /* any tar layer, compressed or not */
};

/* Classify a media type; unknown or NULL gives OCI_KIND_UNKNOWN. */
enum oci_kind oci_mediatype_kind(const char *media_type);

/* Layer compression named by a layer media type. */
enum oci_compression {
	OCI_COMPRESSION_UNKNOWN = -1,
	OCI_COMPRESSION_NONE = 0,
	OCI_COMPRESSION_GZIP,
	OCI_COMPRESSION_ZSTD,
};
enum oci_compression oci_layer_compression(const char *media_type);

/*
 * True when s is a syntactically valid RFC 6838 media type as the
 * image-spec schema defines it: type "/" subtype, each 1-127 characters
 * from [A-Za-z0-9!#$&^_.+-], starting with a letter or digit.
 */
bool oci_mediatype_valid(const char *s);

/* ================================================================ small
 * containers */

/* Whether an optional JSON value was absent, null or present. */
enum oci_presence {
	OCI_ABSENT = 0,
	OCI_NULL,
	OCI_PRESENT,
};

/*
 * A list of strings that may also be absent or JSON null (docker writes
 * "Cmd": null, "Cmd": [] and "Cmd": ["sh"] with three meanings).
 * `v` holds `nr` owned strings plus a NULL terminator when state is
 * OCI_PRESENT and is NULL otherwise.  Zero-initialised = absent.
 */
struct oci_strlist {
	enum oci_presence state;
	size_t nr;
	char **v;
};

/* Append a copy of s; the list becomes present. */
void oci_strlist_push(struct oci_strlist *l, const char *s);
/* Replace the contents by copies of v[0..nr) (v may be NULL when nr == 0). */
void oci_strlist_set(struct oci_strlist *l, const char *const *v, size_t nr);
/* Make the list present and empty ([]). */
void oci_strlist_set_empty(struct oci_strlist *l);
/* Make the list JSON null. */
void oci_strlist_set_null(struct oci_strlist *l);
void oci_strlist_copy(struct oci_strlist *dst, const struct oci_strlist *src);
bool oci_strlist_equal(const struct oci_strlist *a,
		       const struct oci_strlist *b);
/* Free the strings; the list becomes absent. */
void oci_strlist_release(struct oci_strlist *l);

/*
 * A string-keyed map, kept sorted by key (byte order, as Go marshals maps).
 * `value` is NULL for sets written as {"key": {}} (ExposedPorts, Volumes).
 * Zero-initialised = absent.
 */
struct oci_map_entry {
	char *key;
	char *value;
};
struct oci_map {
	enum oci_presence state;
	size_t nr, alloc;
	struct oci_map_entry *e;
};

/* Insert or replace key (copies both; value may be NULL); map is present. */
void oci_map_set(struct oci_map *m, const char *key, const char *value);
/* Value for key, or NULL (also NULL for a set member: use oci_map_has). */
const char *oci_map_get(const struct oci_map *m, const char *key);
bool oci_map_has(const struct oci_map *m, const char *key);
/* Remove key; returns true when it was there. */
bool oci_map_remove(struct oci_map *m, const char *key);
void oci_map_copy(struct oci_map *dst, const struct oci_map *src);
bool oci_map_equal(const struct oci_map *a, const struct oci_map *b);
void oci_map_release(struct oci_map *m);

/* ================================================================ references
 */

/*
 * A normalised image reference: docker.io/library/golang:1.22@sha256:...
 * All strings owned.  `tag` is NULL when only a digest was given
 * (repo@sha256:...); oci_ref_parse() sets "latest" when neither was given
 * and records that in `default_tag`.
 */
struct oci_ref {
	char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *path; /* "library/golang", "user/repo" */
	char *tag; /* "latest" or NULL */
	char *digest; /* "sha256:<hex>" or NULL */
	bool default_tag; /* tag was not given; "latest" was added */
};

#define OCI_REF_NAME_MAX 255
#define OCI_REF_TAG_MAX 128

/*
 * Parse and normalise a reference as docker does
 * (reference.ParseNormalizedNamed + TagNameOnly):
 *   golang                  -> docker.io/library/golang:latest
 *   user/repo:1             -> docker.io/user/repo:1
 *   index.docker.io/repo    -> docker.io/library/repo:latest
 *   host:5000/a/b           -> host:5000/a/b:latest
 *   localhost/repo          -> localhost/repo:latest
 *   repo@sha256:<hex>       -> docker.io/library/repo@sha256:<hex>
 * The first path element is a domain when it contains '.' or ':', is
 * "localhost", or has an uppercase letter.  Returns NULL with a KILN_EINVAL
 * error reading "invalid reference format: <why>".  Caller frees with
 * oci_ref_free().
 */
struct oci_ref *oci_ref_parse(const char *s, struct error **err);
/* Like oci_ref_parse() but never adds a default tag. */
struct oci_ref *oci_ref_parse_name(const char *s, struct error **err);
struct oci_ref *oci_ref_dup(const struct oci_ref *r);
void oci_ref_free(struct oci_ref *r);

/* All return new strings the caller frees. */
/* "docker.io/library/golang:latest" (tag and/or digest when set) */
char *oci_ref_string(const struct oci_ref *r);
/* "docker.io/library/golang" */
char *oci_ref_name(const struct oci_ref *r);
/* "golang:latest", "user/repo@sha256:..", "host:5000/x:1" */
char *oci_ref_familiar(const struct oci_ref *r);
/* "golang": what `docker images` shows as REPOSITORY */
char *oci_ref_familiar_name(const struct oci_ref *r);

/* True when s is a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool oci_tag_valid(const char *s);

/* ================================================================ digests */

enum oci_digest_algo {
	OCI_DIGEST_UNKNOWN = 0,
	OCI_DIGEST_SHA256,
	OCI_DIGEST_SHA384,
	OCI_DIGEST_SHA512,
};

/* Longest digest string we produce: "sha512:" + 128 hex digits. */
#define OCI_DIGEST_MAX 135
/* "sha256:" + 64 hex digits */
#define OCI_SHA256_DIGEST_LEN 71

/*
 * Validate a digest we can verify: "sha256:" + 64, "sha384:" + 96 or
 * "sha512:" + 128 lowercase hex digits.  Returns the algorithm (and in *hex
 * the encoded part, pointing into s, when hex is non-NULL), or
 * OCI_DIGEST_UNKNOWN with a KILN_EINVAL error ("invalid digest 'x': ...").
 */
enum oci_digest_algo oci_digest_parse(const char *s, const char **hex,
				      struct error **err);
static inline bool oci_digest_valid(const char *s)
{
	return oci_digest_parse(s, NULL, NULL) != OCI_DIGEST_UNKNOWN;
}

/*
 * The image-spec's digest grammar, which admits algorithms we cannot
 * verify ("sha256+b64u:...", "multihash+base58:..."):
 *   algorithm ":" encoded, algorithm = [a-z0-9]+ ([+._-][a-z0-9]+)*,
 *   encoded = [a-zA-Z0-9=_-]+
 * Registered algorithms (sha256, sha384, sha512) must also pass
 * oci_digest_parse().  Descriptors are read with this check.
 */
int oci_digest_check_grammar(const char *s, struct error **err);

/* Write "sha256:<hex>" of buf into out (OCI_SHA256_DIGEST_LEN + 1 bytes). */
void oci_sha256_digest(const void *buf, size_t len,
		       char out[OCI_SHA256_DIGEST_LEN + 1]);
/* The same as a new string the caller frees. */
char *oci_sha256_digest_str(const void *buf, size_t len);

/*
 * A streaming hasher.  init, update any number of times, final once, then
 * release (release is also safe after a failed or skipped final).
 * `size` counts the bytes hashed so far.
 */
struct oci_hasher {
	enum oci_digest_algo algo;
	uint64_t size;
	void *ctx; /* EVP_MD_CTX */
};
void oci_hasher_init(struct oci_hasher *h, enum oci_digest_algo algo);
void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len);
/* Write "<algo>:<hex>" into out (OCI_DIGEST_MAX + 1 bytes). */
void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX + 1]);
void oci_hasher_release(struct oci_hasher *h);

/* ================================================================ platforms */

/* All strings owned; NULL when absent. */
struct oci_platform {
	char *os;
	char *architecture;
	char *variant;
	char *os_version;
	struct oci_strlist os_features;
};

/*
 * Parse "os/arch[/variant]" ("linux/amd64", "linux/arm64/v8",
 * "linux/arm/v7") into *p (which must be zeroed or released) and
 * normalise it.  Returns 0, or -1 with KILN_EINVAL.
 */
int oci_platform_parse(const char *s, struct oci_platform *p,
		       struct error **err);
/*
 * Normalise in place as containerd does, except that arm64 keeps an
 * explicit variant: os lowercased; x86_64/x86-64 -> amd64 (variant v1 ->
 * none); aarch64 -> arm64 (variant none/8 -> v8); armhf -> arm/v7, armel ->
 * arm/v6; arm (variant none -> v7, "7" -> v7); i386/i686 -> 386.
 */
void oci_platform_normalize(struct oci_platform *p);
/*
 * The platform of a machine given uname(2)'s `machine` field ("x86_64",
 * "aarch64", "armv7l", ...), os "linux", normalised.  Returns 0, or -1
 * for an unknown machine.
 */
int oci_platform_host(const char *uname_machine, struct oci_platform *p,
		      struct error **err);
/* "linux/arm64/v8"; caller frees. */
char *oci_platform_string(const struct oci_platform *p);
void oci_platform_copy(struct oci_platform *dst,
		       const struct oci_platform *src);
/* Equal after normalisation (os, architecture, variant only). */
bool oci_platform_equal(const struct oci_platform *a,
			const struct oci_platform *b);
/*
 * How well an image for `have` runs on `want`: 0 = not at all, higher is
 * better; an exact match scores highest, then older variants of the same
 * architecture (arm/v6 on arm/v7, amd64/v2 on amd64/v3), then 386 on
 * amd64.  Both are normalised copies internally.
 */
int oci_platform_score(const struct oci_platform *want,
		       const struct oci_platform *have);
void oci_platform_release(struct oci_platform *p);

/* ================================================================ descriptors
 */

struct oci_descriptor {
	char *media_type; /* required */
	char *digest; /* required */
	int64_t size; /* required, >= 0 */
	struct oci_strlist urls;
	struct oci_map annotations;
	char *data; /* base64 text as in the JSON, or NULL */
	struct oci_platform *platform; /* NULL when absent */
	char *artifact_type;
};

void oci_descriptor_copy(struct oci_descriptor *dst,
			 const struct oci_descriptor *src);
void oci_descriptor_release(struct oci_descriptor *d);
/* Parse one descriptor document (a JSON object).  Caller frees with
 * oci_descriptor_free(). */
struct oci_descriptor *oci_descriptor_parse(const char *buf, size_t len,
					    struct error **err);
void oci_descriptor_free(struct oci_descriptor *d);
int oci_descriptor_serialize(const struct oci_descriptor *d, struct strbuf *out,
			     struct error **err);

/* ================================================================ manifests */

/* An image manifest: OCI or Docker schema2 (see media_type). */
struct oci_manifest {
	int schema_version; /* 2 */
	char *media_type; /* NULL when absent (allowed for OCI) */
	char *artifact_type;
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t layers_nr;
	struct oci_descriptor *subject; /* NULL when absent */
	struct oci_map annotations;
};

/*
 * Parser flags.  OCI_PARSE_SCHEMA additionally enforces what the JSON
 * Schema demands beyond the spec text: at least one layer (image-spec 1.1
 * says only SHOULD, and docker writes layer-less images from FROM scratch).
 */
#define OCI_PARSE_SCHEMA 0x1

/* Caller frees with oci_manifest_free(). */
struct oci_manifest *oci_manifest_parse(const char *buf, size_t len,
					unsigned flags, struct error **err);
/* Append the JSON to out.  Returns -1 when a required field is missing. */
int oci_manifest_serialize(const struct oci_manifest *m, struct strbuf *out,
			   struct error **err);
/* Add a copy of d as the last layer. */
void oci_manifest_add_layer(struct oci_manifest *m,
			    const struct oci_descriptor *d);
void oci_manifest_release(struct oci_manifest *m);
void oci_manifest_free(struct oci_manifest *m);

/* An image index: OCI index or Docker manifest list; also index.json. */
struct oci_index {
	int schema_version; /* 2 */
	char *media_type; /* NULL when absent (as in an OCI layout's index.json)
			   */
	char *artifact_type;
	struct oci_descriptor *manifests;
	size_t manifests_nr;
	struct oci_descriptor *subject;
	struct oci_map annotations;
};

struct oci_index *oci_index_parse(const char *buf, size_t len,
				  struct error **err);
int oci_index_serialize(const struct oci_index *idx, struct strbuf *out,
			struct error **err);
void oci_index_add(struct oci_index *idx, const struct oci_descriptor *d);
/* Remove manifests[i], shifting the rest down. */
void oci_index_remove(struct oci_index *idx, size_t i);
/*
 * Find the manifest whose annotation `key` equals `value` (for an OCI
 * layout: key OCI_ANNOTATION_REF_NAME).  Returns its index or -1.
 */
ssize_t oci_index_find_annotation(const struct oci_index *idx, const char *key,
				  const char *value);
/*
 * The best manifest for `want` (oci_platform_score; ties go to the first
 * entry).  Entries without a platform never match.  Returns a borrowed
 * pointer into idx, or NULL with KILN_ENOTFOUND:
 *   "no matching manifest for linux/s390x in the manifest list entries
 *    (available: linux/amd64, linux/arm64/v8)"
 */
const struct oci_descriptor *oci_index_match(const struct oci_index *idx,
					     const struct oci_platform *want,
					     struct error **err);
void oci_index_release(struct oci_index *idx);
void oci_index_free(struct oci_index *idx);

/*
 * Which kind of document buf is, judged by its "mediaType" field, then by
 * shape ("manifests" -> index, "layers"/"config" -> manifest).  Useful when
 * a registry answers with a media type header we cannot trust.
 */
enum oci_kind oci_sniff_kind(const char *buf, size_t len);

/* ================================================================ image config
 */

/* Durations are nanoseconds, as Go's time.Duration; 0 = unset. */
struct oci_healthcheck {
	struct oci_strlist test; /* ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"]
				  */
	int64_t interval;
	int64_t timeout;
	int64_t start_period;
	int64_t start_interval;
	int64_t retries;
};

/*
 * The "config" object (what runs).  Strings NULL = absent; "" is kept and
 * written as "".  Lists and maps carry absent / null / present (see
 * oci_strlist); the writer emits exactly that state, so a builder that
 * wants docker's "Cmd": null sets OCI_NULL.  `extra` keeps unknown members
 * (Hostname, Image, AttachStdin, ... from older docker) in input order.
 */
struct oci_run_config {
	char *user;
	struct oci_map exposed_ports; /* set: "80/tcp" */
	struct oci_strlist env; /* "KEY=value" */
	struct oci_strlist entrypoint;
	struct oci_strlist cmd;
	struct oci_map volumes; /* set: "/data" */
	char *working_dir;
	struct oci_map labels;
	char *stop_signal;
	bool args_escaped; /* written only when true */
	struct oci_healthcheck *healthcheck; /* NULL when absent */
	struct oci_strlist on_build;
	struct oci_strlist shell;
	json_t *extra; /* owned JSON object or NULL */
};

struct oci_history {
	char *created;
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer; /* written only when true */
};

struct oci_image_config {
	char *created; /* RFC 3339 text, kept as given */
	char *author;
	char *architecture; /* required */
	char *variant;
	char *os; /* required */
	char *os_version;
	struct oci_strlist os_features;
	bool has_config; /* write/read the "config" object */
	struct oci_run_config config;
	char *rootfs_type; /* "layers"; the writer uses that when NULL */
	struct oci_strlist diff_ids; /* "sha256:<hex>" of uncompressed layers */
	struct oci_history *history;
	size_t history_nr;
	json_t *extra; /* unknown top-level members, owned, or NULL */
};

/*
 * Parse an image config (OCI or Docker).  Strict: types are checked, Env
 * entries must be KEY=value, diff_ids must be digests, rootfs.type must be
 * "layers".  Caller frees with oci_image_config_free().
 */
struct oci_image_config *oci_image_config_parse(const char *buf, size_t len,
						struct error **err);
/*
 * Key order: created, author, architecture, variant, os, os.version,
 * os.features, config {User, ExposedPorts, Env, Entrypoint, Cmd, Volumes,
 * WorkingDir, Labels, StopSignal, ArgsEscaped, Healthcheck, OnBuild, Shell,
 * then extra}, rootfs {type, diff_ids}, history, then extra.
 */
int oci_image_config_serialize(const struct oci_image_config *c,
			       struct strbuf *out, struct error **err);
/* Add history (copies the strings; NULL allowed for each). */
void oci_image_config_add_history(struct oci_image_config *c,
				  const char *created, const char *created_by,
				  const char *author, const char *comment,
				  bool empty_layer);
/* Deep copy (a builder starts from the base image's config). */
struct oci_image_config *oci_image_config_dup(const struct oci_image_config *c);
void oci_image_config_release(struct oci_image_config *c);
void oci_image_config_free(struct oci_image_config *c);

/* ================================================================ layouts and
 * archives */

/* The oci-layout file: {"imageLayoutVersion":"1.0.0"}. */
#define OCI_LAYOUT_VERSION "1.0.0"
#define OCI_LAYOUT_FILE_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
/* Check an oci-layout file's content; returns 0 or -1. */
int oci_layout_check(const char *buf, size_t len, struct error **err);

/*
 * docker save's manifest.json: an array of these.  `config` and `layers`
 * are paths inside the archive ("blobs/sha256/<hex>" since docker 25,
 * "<hex>.json" and "<id>/layer.tar" before).  repo_tags may be null
 * (image saved by ID).
 */
struct oci_archive_image {
	char *config;
	struct oci_strlist repo_tags; /* familiar form: "golang:latest" */
	struct oci_strlist layers;
};
struct oci_archive_manifest {
	struct oci_archive_image *images;
	size_t nr;
};

struct oci_archive_manifest *
oci_archive_manifest_parse(const char *buf, size_t len, struct error **err);
int oci_archive_manifest_serialize(const struct oci_archive_manifest *am,
				   struct strbuf *out, struct error **err);
/* Append an image (copies); returns it for filling in repo_tags/layers. */
struct oci_archive_image *
oci_archive_manifest_add(struct oci_archive_manifest *am, const char *config);
void oci_archive_manifest_free(struct oci_archive_manifest *am);

#endif
