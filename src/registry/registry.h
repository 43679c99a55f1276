/*
 * registry: an OCI distribution client over libcurl.
 *
 * It reads the configuration users already have: registries.conf (v2:
 * unqualified-search-registries, [[registry]] prefix/location/insecure/
 * blocked, [[registry.mirror]]), credentials from auth.json and docker's
 * config.json (inline, credsStore, credHelpers), and TLS material from
 * certs.d.  It speaks the distribution API: manifests by tag and digest,
 * blobs verified against their digest while they stream to a caller's
 * callback, uploads (monolithic, chunked, cross-repository mount), with
 * bearer-token and basic auth, retries with backoff and range resume.
 *
 * This module stores nothing: bytes go to callbacks and come from them.
 * Every function reports failures through `struct error **err`; the error
 * codes are errno values or KILN_E* codes plus the REGISTRY_E* ones below.
 */
#ifndef KILN_REGISTRY_H
#define KILN_REGISTRY_H

#include "base/base.h"

enum {
	REGISTRY_EAUTH = 1100, /* 401/403: missing or wrong credentials */
	REGISTRY_EBLOCKED, /* blocked in registries.conf */
	REGISTRY_ENETWORK, /* could not talk to the registry at all */
	REGISTRY_EPROTOCOL, /* the registry answered something unexpected */
};

/* ------------------------------------------------------------ references */

/*
 * A parsed image reference with docker's normalisation: `busybox` is
 * docker.io/library/busybox:latest; `index.docker.io` is docker.io;
 * a first component with a '.' or ':' or equal to "localhost" is a host.
 * `tag` and `digest` may both be set (name:tag@digest); when neither was
 * given `tag` is "latest".  `qualified` tells whether the text named a
 * registry (unqualified names go through unqualified-search-registries).
 */
struct registry_ref {
	char *domain; /* "docker.io", "localhost:5000" */
	char *path; /* "library/busybox" */
	char *tag; /* NULL when only a digest was given */
	char *digest; /* "sha256:...", or NULL */
	bool qualified;
};
int registry_ref_parse(struct registry_ref *ref, const char *text,
		       struct error **err);
void registry_ref_release(struct registry_ref *ref);
/* "domain/path[:tag][@digest]"; caller frees. */
char *registry_ref_string(const struct registry_ref *ref);
/* "domain/path"; caller frees. */
char *registry_ref_name(const struct registry_ref *ref);

/* ------------------------------------------------------------ client */

struct registry_options {
	const char *registries_conf; /* else $CONTAINERS_REGISTRIES_CONF... */
	const char *authfile; /* else $REGISTRY_AUTH_FILE, defaults */
	const char *cert_dir; /* replaces the certs.d lookup when set */
	const char *creds; /* "user:password" for every registry */
	int tls_verify; /* -1: per registries.conf; 0: off (and http); 1 */
	int parallel; /* concurrent blob transfers; 0 = default 4 */
	int retries; /* attempts after the first; -1 = default 5 */
	size_t chunk_size; /* push in PATCH chunks of this size; 0 = single */
	const char *user_agent;
};
#define REGISTRY_OPTIONS_INIT                    \
	{                                        \
		.tls_verify = -1, .retries = -1, \
	}

struct registry_client;

/*
 * Build a client: loads registries.conf and remembers where credentials
 * live.  Returns NULL with *err on a configuration error (with file:line).
 */
struct registry_client *registry_client_new(const struct registry_options *o,
					    struct error **err);
void registry_client_free(struct registry_client *c);

/*
 * Expand a reference the user typed into the references to try, in order:
 * a qualified name gives itself; an unqualified one gives one candidate per
 * unqualified-search-registries entry (docker.io when there is none).
 * Caller releases each and frees the array.
 */
int registry_candidates(struct registry_client *c, const char *text,
			struct registry_ref **out, size_t *nr,
			struct error **err);

/*
 * Resolve `ref` to a manifest: tries the mirrors and location that
 * registries.conf gives for it, in order.  When the registry returns an
 * index or manifest list, picks the manifest for `platform` ("os/arch[/
 * variant]", NULL = this host) and fetches it.  On success *manifest (caller
 * frees; *len bytes, NUL-terminated), *media_type and *digest (caller frees)
 * describe the image manifest; `index_digest` (may be NULL) receives the
 * index's digest when there was one.  The endpoint that answered is
 * remembered for the blob fetches that follow.
 */
int registry_resolve(struct registry_client *c, const struct registry_ref *ref,
		     const char *platform, char **manifest, size_t *len,
		     char **media_type, char **digest, char **index_digest,
		     struct error **err);

/*
 * Fetch a manifest or index exactly as stored (no platform selection),
 * verifying it against ref->digest when the reference has one.
 */
int registry_get_manifest(struct registry_client *c,
			  const struct registry_ref *ref, char **manifest,
			  size_t *len, char **media_type, char **digest,
			  struct error **err);

/*
 * HEAD the manifest ref names (falling back to GET when the registry
 * refuses HEAD): its digest and media type without its body.
 */
int registry_head_manifest(struct registry_client *c,
			   const struct registry_ref *ref, char **media_type,
			   char **digest, struct error **err);

/*
 * Blob downloads.  `write` receives the blob's bytes in order (a resumed
 * transfer continues where it stopped, never repeats bytes); it returns 0,
 * or -1 to abort (the error it sets through its own means is the caller's
 * business; the fetch fails with ECANCELED).  The bytes are verified against
 * `digest` and `size` (size < 0: unknown) as they stream: a mismatch fails
 * with KILN_ECORRUPT after the last byte was handed over, so the consumer
 * must not commit what it wrote until the fetch returned 0.
 */
typedef int (*registry_write_fn)(void *data, const void *buf, size_t len);

int registry_fetch_blob(struct registry_client *c,
			const struct registry_ref *ref, const char *digest,
			int64_t size, registry_write_fn write, void *data,
			struct error **err);

struct registry_blob_job {
	const char *digest;
	int64_t size;
	registry_write_fn write;
	void *data;
	/*
	 * The sink checks the digest of what it was handed (and fails with
	 * a digest mismatch when it differs): no second hash here.  The
	 * size is still checked.
	 */
	bool sink_verifies;
	struct error *err; /* set when this blob failed; caller frees */
};
/*
 * Fetch several blobs with up to options.parallel transfers at a time;
 * each job's callback runs on a worker thread (one thread per job at a
 * time, so a job's callback is never re-entered).  Returns 0 when every
 * job succeeded, else -1 with *err describing the first failure.
 */
int registry_fetch_blobs(struct registry_client *c,
			 const struct registry_ref *ref,
			 struct registry_blob_job *jobs, size_t nr,
			 struct error **err);

/* ------------------------------------------------------------ push */

/*
 * Reads `len` bytes at `offset` of the blob being pushed into buf; returns
 * the count read (0 only at the end) or -1.  Offsets let uploads retry.
 */
typedef ssize_t (*registry_read_fn)(void *data, uint64_t offset, void *buf,
				    size_t len);

enum registry_push_result {
	REGISTRY_PUSH_UPLOADED,
	REGISTRY_PUSH_EXISTS, /* the registry had it */
	REGISTRY_PUSH_MOUNTED, /* mounted from mount_from */
};

/*
 * Upload a blob unless the repository already has it.  With `mount_from`
 * (a repository path on the same registry) asks for a cross-repository
 * mount first.  *result (may be NULL) tells what happened.
 */
int registry_push_blob(struct registry_client *c,
		       const struct registry_ref *ref, const char *digest,
		       uint64_t size, registry_read_fn read, void *data,
		       const char *mount_from,
		       enum registry_push_result *result, struct error **err);

struct registry_push_job {
	const char *digest;
	uint64_t size;
	registry_read_fn read; /* called from a worker thread */
	void *data;
	const char *mount_from; /* may be NULL */
	enum registry_push_result result;
	struct error *err; /* set when this blob failed; caller frees */
};
/*
 * Push several blobs with up to options.parallel uploads at a time.
 * Returns 0 when all succeeded, else -1 with *err the first failure.
 */
int registry_push_blobs(struct registry_client *c,
			const struct registry_ref *ref,
			struct registry_push_job *jobs, size_t nr,
			struct error **err);

/*
 * PUT a manifest under ref's tag (or its digest when there is no tag).
 * *digest (may be NULL; caller frees) receives the manifest's digest,
 * checked against the registry's Docker-Content-Digest.
 */
int registry_push_manifest(struct registry_client *c,
			   const struct registry_ref *ref, const void *manifest,
			   size_t len, const char *media_type, char **digest,
			   struct error **err);

/* ------------------------------------------------------------ login */

/*
 * Check credentials against `registry` ("host[:port]", docker.io aliases
 * allowed): GET /v2/ and complete whatever auth it asks for.
 * Fails with REGISTRY_EAUTH when the registry refuses them.
 */
int registry_check_login(struct registry_client *c, const char *registry,
			 const char *user, const char *password,
			 struct error **err);

/*
 * The auth file `kiln login` writes: options.authfile, $REGISTRY_AUTH_FILE,
 * else ${XDG_RUNTIME_DIR}/containers/auth.json (or
 * ~/.config/containers/auth.json without XDG_RUNTIME_DIR).  Caller frees.
 */
char *registry_auth_file_path(const char *authfile);
/*
 * Store, or with user == NULL remove, the credentials for `key` (a
 * registry, or registry/namespace) in `path` (mode 0600, written
 * atomically, other entries kept).  Removing a missing entry fails with
 * KILN_ENOTFOUND.
 */
int registry_auth_store(const char *path, const char *key, const char *user,
			const char *password, struct error **err);
/*
 * The user name stored for `key` wherever registry_creds_lookup() looks
 * (with `authfile` as it does): 1 and *user (caller frees), 0 if none.
 */
int registry_auth_lookup_user(const char *authfile, const char *key,
			      char **user, struct error **err);
/* Remove every entry of `path`. */
int registry_auth_remove_all(const char *path, struct error **err);
/* The key credentials are stored under: docker.io for its aliases. */
char *registry_auth_key(const char *registry);

/* ------------------------------------------------------------ images */

/*
 * Pulling into and pushing from the local store (store/ does the
 * writing): what `kiln pull`, `kiln push` and `kiln build` share.
 */
struct store;
struct store_image;

/*
 * Progress of an image transfer, one line at a time as docker prints it
 * ("Pulling docker.io/library/busybox:latest", "0123456789ab: Pull
 * complete"), from the calling thread.
 */
typedef void (*registry_status_fn)(void *data, const char *line);

struct registry_pull_result {
	char *ref; /* the candidate that answered, "docker.io/x/y:tag" */
	char *name; /* the store name it was tagged as (normalised) */
	char digest[72]; /* its image manifest */
	bool up_to_date; /* the store already had it under that name */
};
void registry_pull_result_release(struct registry_pull_result *res);

/*
 * Pull what the user typed (`text`) into the store `s`: each candidate of
 * registry_candidates() in turn, through the mirrors registries.conf
 * gives.  When the store's tag already names the manifest the registry
 * has (a HEAD), nothing more is fetched.  Otherwise the manifest for
 * `platform` (NULL: this host) is resolved, the blobs the store lacks are
 * fetched in parallel, the layers' diffIDs checked against the config,
 * and the manifest stored and tagged.  `status` may be NULL.  Returns 0
 * with *res filled (release it), or -1 with *err (the first candidate's
 * telling failure; "every endpoint failed:" lists each endpoint).
 */
int registry_pull_image(struct registry_client *c, struct store *s,
			const char *text, const char *platform,
			registry_status_fn status, void *data,
			struct registry_pull_result *res, struct error **err);

/*
 * Push the stored image `img` to `ref`: the blobs the repository lacks,
 * then the manifest under ref's tag.  `format` NULL keeps the stored
 * manifest byte for byte (the pushed digest is the local one); "oci" or
 * "docker" converts its media types.  *digest (caller frees) and *len
 * describe the manifest pushed.
 */
int registry_push_image(struct registry_client *c, struct store *s,
			const struct store_image *img,
			const struct registry_ref *ref, const char *format,
			registry_status_fn status, void *data, char **digest,
			size_t *len, struct error **err);

/* ------------------------------------------------------------ platforms */

/* "linux/amd64", "linux/arm64/v8" ... for this host; static storage. */
const char *registry_host_platform(void);

#endif
