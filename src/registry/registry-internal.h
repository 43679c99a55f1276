/*
 * registry-internal: the pieces of the registry client that the unit tests
 * reach directly: the TOML reader, registries.conf, credentials,
 * WWW-Authenticate parsing and secret redaction.
 */
#ifndef KILN_REGISTRY_INTERNAL_H
#define KILN_REGISTRY_INTERNAL_H

#include "registry/registry.h"

/* ------------------------------------------------------------ toml */

enum toml_type {
	TOML_TABLE,
	TOML_ARRAY,
	TOML_STRING,
	TOML_BOOL,
	TOML_INT,
};

struct toml_value;
struct toml_kv {
	char *key;
	struct toml_value *value;
};
struct toml_value {
	enum toml_type type;
	int line; /* where it was defined */
	bool defined; /* tables: by a [header] (not only implicitly) */
	bool aot; /* arrays: made by [[header]] */
	char *str;
	bool b;
	long long i;
	/* TOML_TABLE */
	struct toml_kv *kv;
	size_t kv_nr, kv_alloc;
	/* TOML_ARRAY */
	struct toml_value **items;
	size_t items_nr, items_alloc;
};

/*
 * Parse the TOML subset registries.conf uses: comments, [tables],
 * [[arrays.of.tables]], bare and quoted keys, basic and literal strings,
 * booleans, integers and (multi-line) arrays.  Anything else is an error
 * "file:line: message".  Returns a table; free with toml_free().
 */
struct toml_value *toml_parse(const char *text, size_t len, const char *file,
			      struct error **err);
void toml_free(struct toml_value *v);
struct toml_value *toml_get(const struct toml_value *table, const char *key);

/* ------------------------------------------------------------ conf */

enum mirror_mode { PULL_ALL, PULL_DIGEST_ONLY, PULL_TAG_ONLY };

struct conf_mirror {
	char *location;
	bool insecure;
	enum mirror_mode mode;
};

struct conf_registry {
	char *prefix;
	char *location;
	bool insecure;
	bool blocked;
	struct conf_mirror *mirrors;
	size_t mirrors_nr, mirrors_alloc;
	char *file; /* where it came from, for messages */
	int line;
};

struct registries_conf {
	struct strvec search; /* unqualified-search-registries */
	bool search_set;
	struct conf_registry *regs;
	size_t regs_nr, regs_alloc;
};

/*
 * Merge the configuration in `text` (from `file`) into conf: a later file's
 * unqualified-search-registries replaces an earlier one, a [[registry]]
 * with an existing prefix replaces that one.
 */
int registries_conf_add(struct registries_conf *conf, const char *text,
			size_t len, const char *file, struct error **err);
/*
 * Load the files: `path` alone when given (else $CONTAINERS_REGISTRIES_CONF
 * alone when set), otherwise ~/.config/containers/registries.conf or,
 * without it, /etc/containers/registries.conf, followed by the *.conf
 * files of /etc/containers/registries.conf.d and
 * ~/.config/containers/registries.conf.d in lexical order.
 */
int registries_conf_load(struct registries_conf *conf, const char *path,
			 struct error **err);
void registries_conf_release(struct registries_conf *conf);
/*
 * The [[registry]] entry for "domain/path" (longest prefix; exact prefixes
 * before wildcard ones), or NULL.
 */
const struct conf_registry *
registries_conf_find(const struct registries_conf *c, const char *name);

/* ------------------------------------------------------------ auth */

struct registry_creds {
	char *user;
	char *password; /* secret */
	char *identity_token; /* secret; docker's "identitytoken" */
};
void registry_creds_release(struct registry_creds *cr);

/*
 * Look up credentials for "host" or "host/path" (the most specific key of
 * an auth file wins) in: `authfile` (else $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json),
 * then $DOCKER_CONFIG/config.json or ~/.docker/config.json (inline auths,
 * credHelpers, credsStore), then ~/.dockercfg.  Returns 1 when found, 0
 * when there are none, -1 on error (a broken file, a failing helper).
 */
int registry_creds_lookup(const char *authfile, const char *name,
			  struct registry_creds *out, struct error **err);
/* Read one auth file's entry for `name`: same return convention. */
int registry_creds_from_file(const char *path, const char *name,
			     struct registry_creds *out, struct error **err);
/* Run docker-credential-<helper> get for `server`. */
int registry_creds_from_helper(const char *helper, const char *server,
			       struct registry_creds *out, struct error **err);

/* A parsed WWW-Authenticate challenge. */
struct auth_challenge {
	char *scheme; /* lowercase: "bearer", "basic" */
	char *realm, *service, *scope, *error;
};
int auth_challenge_parse(struct auth_challenge *ch, const char *header);
void auth_challenge_release(struct auth_challenge *ch);

/* base64 (standard alphabet, padded). */
char *base64_encode(const void *data, size_t len);
/* Returns the decoded bytes (NUL-terminated) or NULL on junk. */
char *base64_decode(const char *s, size_t *len);

/*
 * Secret redaction for debug output: a header line whose value is a
 * credential (Authorization, Proxy-Authorization, Cookie, Set-Cookie) keeps
 * its name and scheme and loses the rest; caller frees.
 */
char *registry_redact_header(const char *line, size_t len);

/* Docker Hub's aliases. */
const char *registry_canonical_domain(const char *domain);
/* The host to connect to for a canonical domain (registry-1.docker.io). */
const char *registry_endpoint_host(const char *domain);

/* ------------------------------------------------------------ transport */

#include <curl/curl.h>
#include <pthread.h>

struct host_token {
	char *scope;
	char *token; /* secret */
	time_t expires;
};

/* What the client learned about one host:port. */
struct host_state {
	char *host;
	int scheme; /* 0 unknown, 1 https, 2 http */
	bool answered; /* it has answered once: retry connection errors */
	bool tls_loaded;
	char *ca_pem; /* system CAs + certs.d *.crt, or NULL */
	size_t ca_len;
	char *cert, *key; /* client certificate files */
	int auth; /* 0 none seen, 1 basic, 2 bearer */
	struct auth_challenge ch;
	struct host_token *tokens;
	size_t tokens_nr, tokens_alloc;
};

/* One place to ask for a repository: a mirror or the location. */
struct endpoint {
	char *host; /* to connect to */
	char *path; /* repository path there */
	char *auth_name; /* "host/path" for credential lookup */
	bool insecure;
	bool mirror;
	bool creds_loaded;
	struct registry_creds creds;
};

struct remembered {
	char *name; /* domain/path */
	char *host, *path;
};

struct registry_client {
	struct registry_options o;
	char *conf_path, *authfile, *cert_dir, *creds, *user_agent;
	struct registries_conf conf;
	pthread_mutex_t lock; /* hosts, tokens, remembered */
	struct host_state **hosts;
	size_t hosts_nr, hosts_alloc;
	struct remembered *mem;
	size_t mem_nr, mem_alloc;
	CURL *curl; /* for the calling thread */
	char *sys_ca; /* system CA bundle, read once */
	size_t sys_ca_len;
	bool sys_ca_read;
};

struct http_req {
	const char *method;
	struct endpoint *ep;
	const char *url; /* "/v2/..." or an absolute URL */
	const char *scope; /* space-separated token scopes, or NULL */
	const char *accept;
	const char *content_type;
	const char *range; /* "bytes=N-" request header */
	const char *content_range; /* for PATCH */
	const void *body; /* request body in memory... */
	size_t body_len;
	registry_read_fn read; /* ...or from a callback */
	void *read_data;
	uint64_t read_off, read_len;
	bool has_body; /* PUT/PATCH/POST with a (maybe empty) body */
	bool follow; /* follow redirects (blob downloads) */
	/* 2xx response bodies go here, or to sink */
	struct strbuf *out;
	size_t (*sink)(void *data, const char *buf, size_t len);
	void *sink_data;
};

struct http_resp {
	long status;
	char *location, *content_type, *docker_digest, *www_auth, *retry_after,
		*content_range, *range;
	long long content_length;
	struct strbuf err_body; /* a non-2xx body, capped */
	CURLcode curl_rc;
	char curl_msg[CURL_ERROR_SIZE];
};
void http_resp_release(struct http_resp *r);

/* One request, completing whatever auth the registry asks for (one
 * re-send).  Returns 0 when a status arrived (any status), -1 on a
 * transport error (resp->curl_rc set) or an auth failure. */
int http_once(struct registry_client *c, CURL *h, struct http_req *req,
	      struct http_resp *resp, struct error **err);
/* http_once with retries on transport errors, 429 and 5xx. */
int http_do(struct registry_client *c, CURL *h, struct http_req *req,
	    struct http_resp *resp, struct error **err);
/* Sleep before retry number `attempt` (0-based), honouring Retry-After. */
void http_backoff(int attempt, const char *retry_after);
bool http_retryable_curl(struct registry_client *c, struct endpoint *ep,
			 CURLcode rc);
/* An error for a response that was not what we wanted: "GET URL: 404 ..." */
void http_status_error(struct http_req *req, struct http_resp *resp,
		       struct error **err);
int endpoint_load_creds(struct registry_client *c, struct endpoint *ep,
			struct error **err);
void endpoint_release(struct endpoint *ep);
CURL *http_handle(void);
/*
 * A blob download in progress; it outlives one endpoint so a transfer that
 * broke off continues (Range) where it stopped, wherever it continues.
 */
struct blob_stream {
	struct registry_blob_job *job;
	void *md; /* EVP_MD_CTX */
	uint64_t delivered; /* bytes handed to job->write */
	uint64_t skip; /* bytes to drop: the server ignored our Range */
	bool first; /* no byte of this response seen yet */
	bool cancelled, too_big, bad_range;
	CURL *h;
	struct http_resp *resp;
};
/* Fetch / push one blob at one endpoint (blob.c, push.c). */
int blob_fetch_at(struct registry_client *c, struct endpoint *ep,
		  struct blob_stream *s, struct error **err);
int blob_push_at(struct registry_client *c, struct endpoint *ep, CURL *h,
		 const char *digest, uint64_t size, registry_read_fn read,
		 void *data, const char *mount_from,
		 enum registry_push_result *result, struct error **err);
/* The digest of bytes: "sha256:<hex>"; caller frees. */
char *sha256_digest(const void *data, size_t len);

#endif
