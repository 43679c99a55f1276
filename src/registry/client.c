/*
 * The client object and manifests: registries.conf turns a reference into
 * the endpoints to try (mirrors in order, then the location); resolving
 * fetches a manifest, picks a platform from an index, and remembers which
 * endpoint answered so the blob fetches that follow go there first.
 * A mirror that fails is a fallback; only when every endpoint failed is
 * there an error, and it lists each endpoint with its reason.
 */
#include "registry/registry-internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <sys/utsname.h>

#define MANIFEST_CAP (4 << 20)

static const char manifest_accept[] =
	"application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.oci.image.index.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json";

struct registry_client *registry_client_new(const struct registry_options *o,
					    struct error **err)
{
	struct registry_client *c = xcalloc(1, sizeof(*c));
	struct registry_options def = REGISTRY_OPTIONS_INIT;
	c->o = o ? *o : def;
	if (c->o.parallel <= 0)
		c->o.parallel = 4;
	if (c->o.retries < 0) {
		const char *r = getenv("KILN_REGISTRY_RETRIES");
		unsigned long long n;
		c->o.retries = r && !parse_uint(r, 100, &n) ? (int)n : 5;
	}
	c->conf_path = c->o.registries_conf ? xstrdup(c->o.registries_conf)
					    : NULL;
	c->authfile = c->o.authfile ? xstrdup(c->o.authfile) : NULL;
	c->cert_dir = c->o.cert_dir ? xstrdup(c->o.cert_dir) : NULL;
	c->creds = c->o.creds ? xstrdup(c->o.creds) : NULL;
	c->user_agent = xstrdup(c->o.user_agent ? c->o.user_agent
						: "kiln/" KILN_VERSION);
	strvec_init(&c->conf.search);
	pthread_mutex_init(&c->lock, NULL);
	c->curl = http_handle();
	if (registries_conf_load(&c->conf, c->conf_path, err) < 0) {
		registry_client_free(c);
		return NULL;
	}
	return c;
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->hosts_nr; i++) {
		struct host_state *hs = c->hosts[i];
		for (size_t j = 0; j < hs->tokens_nr; j++) {
			explicit_bzero(hs->tokens[j].token,
				       strlen(hs->tokens[j].token));
			free(hs->tokens[j].token);
			free(hs->tokens[j].scope);
		}
		free(hs->tokens);
		free(hs->host);
		free(hs->ca_pem);
		free(hs->cert);
		free(hs->key);
		auth_challenge_release(&hs->ch);
		free(hs);
	}
	free(c->hosts);
	for (size_t i = 0; i < c->mem_nr; i++) {
		free(c->mem[i].name);
		free(c->mem[i].host);
		free(c->mem[i].path);
	}
	free(c->mem);
	if (c->creds)
		explicit_bzero(c->creds, strlen(c->creds));
	free(c->creds);
	free(c->conf_path);
	free(c->authfile);
	free(c->cert_dir);
	free(c->user_agent);
	free(c->sys_ca);
	registries_conf_release(&c->conf);
	strvec_clear(&c->conf.search);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int registry_candidates(struct registry_client *c, const char *text,
			struct registry_ref **out, size_t *nr,
			struct error **err)
{
	struct registry_ref ref;
	if (registry_ref_parse(&ref, text, err) < 0)
		return -1;
	*out = NULL;
	*nr = 0;
	if (ref.qualified || !c->conf.search.nr) {
		*out = xmalloc(sizeof(**out));
		(*out)[0] = ref;
		*nr = 1;
		return 0;
	}
	*out = xcalloc(c->conf.search.nr, sizeof(**out));
	for (size_t i = 0; i < c->conf.search.nr; i++) {
		cleanup_free char *q =
			xstrfmt("%s/%s", c->conf.search.v[i], text);
		if (registry_ref_parse(&(*out)[*nr], q, err) < 0) {
			for (size_t j = 0; j < *nr; j++)
				registry_ref_release(&(*out)[j]);
			free(*out);
			*out = NULL;
			*nr = 0;
			registry_ref_release(&ref);
			return -1;
		}
		(*nr)++;
	}
	registry_ref_release(&ref);
	return 0;
}

/* ------------------------------------------------------------ endpoints */

struct endpoints {
	struct endpoint *v;
	size_t nr, alloc;
};

static void endpoints_release(struct endpoints *e)
{
	for (size_t i = 0; i < e->nr; i++)
		endpoint_release(&e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/*
 * Docker treats registries on the loopback interface (localhost,
 * 127.0.0.0/8, ::1) as insecure unless told otherwise: HTTPS is tried
 * first without verifying the certificate, then plain HTTP.  kiln does the
 * same, so `kiln pull 127.0.0.1:5000/x` works as `docker pull` does;
 * `--tls-verify=true` turns it off.
 */
static bool host_is_loopback(const char *host)
{
	cleanup_free char *h = NULL;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		h = end ? xstrndup(host + 1, end - host - 1) : xstrdup(host);
	} else {
		h = xstrndup(host, strcspn(host, ":/"));
	}
	if (!strcmp(h, "localhost") || !strcmp(h, "::1"))
		return true;
	unsigned a, b, c, d;
	char tail;
	return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
	       a == 127 && b < 256 && c < 256 && d < 256;
}

static void add_endpoint(struct endpoints *e, const char *loc, bool insecure,
			 bool mirror)
{
	const char *slash = strchr(loc, '/');
	cleanup_free char *dom = slash ? xstrndup(loc, slash - loc)
				       : xstrdup(loc);
	const char *canon = registry_canonical_domain(dom);
	const char *path = slash ? slash + 1 : "";
	ALLOC_GROW(e->v, e->nr + 1, e->alloc);
	struct endpoint *ep = &e->v[e->nr++];
	memset(ep, 0, sizeof(*ep));
	ep->host = xstrdup(registry_endpoint_host(canon));
	if (!strcmp(canon, "docker.io") && !strchr(path, '/'))
		ep->path = xstrfmt("library/%s", path);
	else
		ep->path = xstrdup(path);
	ep->auth_name = xstrfmt("%s/%s", canon, ep->path);
	ep->insecure = insecure;
	ep->mirror = mirror;
}

static const char *endpoint_kind(const struct endpoint *ep)
{
	return ep->mirror ? " (mirror)" : "";
}

/*
 * The endpoints for ref: mirrors that serve this kind of reference, then
 * the location.  `for_push` leaves the mirrors out.
 */
static int endpoints_for(struct registry_client *c,
			 const struct registry_ref *ref, bool for_push,
			 struct endpoints *out, struct error **err)
{
	cleanup_free char *name = registry_ref_name(ref);
	const struct conf_registry *r = registries_conf_find(&c->conf, name);
	memset(out, 0, sizeof(*out));
	if (r && r->blocked) {
		error_set(err, REGISTRY_EBLOCKED,
			  "registry '%s' is blocked (%s:%d): refusing '%s'",
			  r->prefix, r->file, r->line, name);
		return -1;
	}
	if (!r) {
		add_endpoint(out, name,
			     c->o.tls_verify == 0 || (c->o.tls_verify != 1 &&
						      host_is_loopback(name)),
			     false);
		return 0;
	}
	/* the part of the name after the prefix */
	const char *rest = "";
	if (!starts_with(r->prefix, "*."))
		rest = name + strlen(r->prefix);
	for (size_t i = 0; !for_push && i < r->mirrors_nr; i++) {
		const struct conf_mirror *m = &r->mirrors[i];
		if (m->mode == PULL_DIGEST_ONLY && !ref->digest)
			continue;
		if (m->mode == PULL_TAG_ONLY && ref->digest && !ref->tag)
			continue;
		cleanup_free char *loc = xstrfmt("%s%s", m->location, rest);
		add_endpoint(out, loc,
			     m->insecure || c->o.tls_verify == 0 ||
				     (c->o.tls_verify != 1 &&
				      host_is_loopback(loc)),
			     true);
	}
	cleanup_free char *loc =
		r->location ? xstrfmt("%s%s", r->location, rest) : NULL;
	add_endpoint(out, loc ? loc : name,
		     (r->insecure && c->o.tls_verify != 1) ||
			     c->o.tls_verify == 0 ||
			     (c->o.tls_verify != 1 &&
			      host_is_loopback(loc ? loc : name)),
		     false);
	return 0;
}

static void remember(struct registry_client *c, const struct registry_ref *ref,
		     const struct endpoint *ep)
{
	cleanup_free char *name = registry_ref_name(ref);
	pthread_mutex_lock(&c->lock);
	struct remembered *m = NULL;
	for (size_t i = 0; i < c->mem_nr; i++)
		if (!strcmp(c->mem[i].name, name))
			m = &c->mem[i];
	if (!m) {
		ALLOC_GROW(c->mem, c->mem_nr + 1, c->mem_alloc);
		m = &c->mem[c->mem_nr++];
		m->name = xstrdup(name);
	} else {
		free(m->host);
		free(m->path);
	}
	m->host = xstrdup(ep->host);
	m->path = xstrdup(ep->path);
	pthread_mutex_unlock(&c->lock);
}

/* Move the remembered endpoint for ref to the front. */
static void prefer_remembered(struct registry_client *c,
			      const struct registry_ref *ref,
			      struct endpoints *eps)
{
	cleanup_free char *name = registry_ref_name(ref);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->mem_nr; i++) {
		if (strcmp(c->mem[i].name, name))
			continue;
		for (size_t j = 1; j < eps->nr; j++) {
			if (strcmp(eps->v[j].host, c->mem[i].host) ||
			    strcmp(eps->v[j].path, c->mem[i].path))
				continue;
			struct endpoint t = eps->v[j];
			memmove(eps->v + 1, eps->v, j * sizeof(*eps->v));
			eps->v[0] = t;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Collects the reason each endpoint failed. */
struct attempts {
	struct strbuf why;
	size_t nr;
	int code;
	struct error *only;
};

static void attempt_failed(struct attempts *a, const struct endpoint *ep,
			   struct error *e)
{
	strbuf_addf(&a->why, "\n  %s/%s%s: %s", ep->host, ep->path,
		    endpoint_kind(ep), e->msg);
	/* the most telling code: auth > network/protocol > not found */
	if (!a->nr || a->code == KILN_ENOTFOUND || e->code == REGISTRY_EAUTH)
		a->code = e->code;
	if (!a->nr)
		a->only = e;
	else {
		error_free(a->only);
		a->only = NULL;
		error_free(e);
	}
	a->nr++;
}

static void attempts_error(struct attempts *a, const char *what,
			   struct error **err)
{
	if (a->nr == 1) {
		if (err && !*err)
			*err = steal_pointer(&a->only);
	} else {
		error_set(err, a->code, "%s: every endpoint failed:%s", what,
			  a->why.buf);
	}
	error_free(a->only);
	strbuf_release(&a->why);
}

/* ------------------------------------------------------------ manifests */

static char *media_type_of(const char *ct)
{
	if (!ct)
		return NULL;
	size_t n = strcspn(ct, "; ");
	return xstrndup(ct, n);
}

static char *repo_scope(const char *path, const char *actions)
{
	return xstrfmt("repository:%s:%s", path, actions);
}

/* GET (or HEAD) one manifest from one endpoint. */
static int manifest_at(struct registry_client *c, struct endpoint *ep,
		       const char *reference, bool head,
		       const char *want_digest, struct strbuf *body,
		       char **media_type, char **digest, struct error **err)
{
	cleanup_free char *url =
		xstrfmt("/v2/%s/manifests/%s", ep->path, reference);
	cleanup_free char *scope = repo_scope(ep->path, "pull");
	struct http_req req = {
		.method = head ? "HEAD" : "GET",
		.ep = ep,
		.url = url,
		.scope = scope,
		.accept = manifest_accept,
		.out = body,
	};
	struct http_resp resp = { .err_body = STRBUF_INIT };
	if (http_do(c, c->curl, &req, &resp, err) < 0) {
		http_resp_release(&resp);
		return -1;
	}
	if (resp.status != 200) {
		http_status_error(&req, &resp, err);
		http_resp_release(&resp);
		return -1;
	}
	*media_type = media_type_of(resp.content_type);
	if (head) {
		if (!resp.docker_digest) {
			http_resp_release(&resp);
			error_set(err, REGISTRY_EPROTOCOL,
				  "HEAD %s%s: no Docker-Content-Digest",
				  ep->host, url);
			return -1;
		}
		*digest = steal_pointer(&resp.docker_digest);
		http_resp_release(&resp);
		return 0;
	}
	*digest = sha256_digest(body->buf, body->len);
	if (want_digest && strcmp(want_digest, *digest)) {
		error_set(err, KILN_ECORRUPT,
			  "manifest %s from '%s': digest mismatch (got %s)",
			  want_digest, ep->host, *digest);
		http_resp_release(&resp);
		free(*digest);
		free(*media_type);
		*digest = *media_type = NULL;
		return -1;
	}
	http_resp_release(&resp);
	if (!*media_type || !strcmp(*media_type, "application/json") ||
	    !strcmp(*media_type, "text/plain")) {
		/* a registry that does not say: the document does */
		json_error_t je;
		json_t *j = json_loadb(body->buf, body->len, 0, &je);
		const char *mt = json_string_value(json_object_get(j, "mediaTyp"
								      "e"));
		free(*media_type);
		*media_type = xstrdup(mt ? mt
				      : json_object_get(j, "manifests")
					      ? "application/"
						"vnd.oci.image.index.v1+json"
					      : "application/"
						"vnd.oci.image.manifest.v1+"
						"json");
		json_decref(j);
	}
	return 0;
}

static bool is_index(const char *mt)
{
	return !strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
	       !strcmp(mt, "application/vnd.docker.distribution.manifest.list."
			   "v2+json");
}

const char *registry_host_platform(void)
{
	static char buf[64];
	if (buf[0])
		return buf;
	struct utsname u;
	const char *arch = "amd64", *variant = NULL;
	if (!uname(&u)) {
		if (!strcmp(u.machine, "x86_64"))
			arch = "amd64";
		else if (!strcmp(u.machine, "aarch64"))
			arch = "arm64", variant = "v8";
		else if (starts_with(u.machine, "armv7"))
			arch = "arm", variant = "v7";
		else if (starts_with(u.machine, "armv6"))
			arch = "arm", variant = "v6";
		else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i38"
									  "6"))
			arch = "386";
		else if (!strcmp(u.machine, "ppc64le"))
			arch = "ppc64le";
		else if (!strcmp(u.machine, "s390x"))
			arch = "s390x";
		else if (!strcmp(u.machine, "riscv64"))
			arch = "riscv64";
	}
	snprintf(buf, sizeof(buf), "linux/%s%s%s", arch, variant ? "/" : "",
		 variant ? variant : "");
	return buf;
}

/* Pick the descriptor for platform "os/arch[/variant]" from an index. */
static int pick_platform(const char *index, size_t len, const char *platform,
			 char **digest, struct error **err)
{
	char os[32] = "", arch[32] = "", variant[32] = "";
	if (sscanf(platform, "%31[^/]/%31[^/]/%31s", os, arch, variant) < 2) {
		error_set(err, KILN_EINVAL,
			  "invalid platform '%s' (want os/arch[/variant])",
			  platform);
		return -1;
	}
	json_error_t je;
	json_t *j = json_loadb(index, len, 0, &je);
	json_t *ms = json_object_get(j, "manifests");
	if (!json_is_array(ms)) {
		json_decref(j);
		error_set(err, REGISTRY_EPROTOCOL, "invalid index: %s",
			  j ? "no manifests" : je.text);
		return -1;
	}
	size_t i;
	json_t *m;
	const char *best = NULL;
	int best_score = 0;
	struct strbuf avail = STRBUF_INIT;
	json_array_foreach(ms, i, m)
	{
		json_t *p = json_object_get(m, "platform");
		const char *mos = json_string_value(json_object_get(p, "os"));
		const char *march = json_string_value(json_object_get(p, "archi"
									 "tectu"
									 "re"));
		const char *mvar = json_string_value(json_object_get(p, "varian"
									"t"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		if (!mos || !march || !d)
			continue;
		strbuf_addf(&avail, "%s%s/%s%s%s", avail.len ? ", " : "", mos,
			    march, mvar ? "/" : "", mvar ? mvar : "");
		if (strcmp(mos, os) || strcmp(march, arch))
			continue;
		/* arm64's variant defaults to v8 */
		const char *v = mvar			  ? mvar
				: !strcmp(march, "arm64") ? "v8"
							  : "";
		const char *want = *variant		    ? variant
				   : !strcmp(arch, "arm64") ? "v8"
							    : "";
		int score = !strcmp(v, want) ? 2 : *variant ? 0 : 1;
		if (score > best_score) {
			best = d;
			best_score = score;
		}
	}
	if (!best) {
		error_set(err, KILN_ENOTFOUND,
			  "no image for platform %s in the index (it has: %s)",
			  platform, avail.len ? avail.buf : "nothing");
		strbuf_release(&avail);
		json_decref(j);
		return -1;
	}
	strbuf_release(&avail);
	*digest = xstrdup(best);
	json_decref(j);
	return 0;
}

/* Try each endpoint for ref; `fn` does the work at one endpoint. */
typedef int (*at_fn)(struct registry_client *c, struct endpoint *ep, void *data,
		     struct error **err);

static int each_endpoint(struct registry_client *c,
			 const struct registry_ref *ref, bool for_push,
			 const char *what, at_fn fn, void *data,
			 struct error **err)
{
	struct endpoints eps;
	if (endpoints_for(c, ref, for_push, &eps, err) < 0)
		return -1;
	prefer_remembered(c, ref, &eps);
	struct attempts a = { .why = STRBUF_INIT };
	for (size_t i = 0; i < eps.nr; i++) {
		struct error *e = NULL;
		if (!fn(c, &eps.v[i], data, &e)) {
			remember(c, ref, &eps.v[i]);
			error_free(a.only);
			strbuf_release(&a.why);
			endpoints_release(&eps);
			return 0;
		}
		debug("%s/%s%s: %s", eps.v[i].host, eps.v[i].path,
		      endpoint_kind(&eps.v[i]), e->msg);
		/* a blocked or cancelled operation does not fall back */
		bool stop = e->code == ECANCELED || e->code == KILN_ECORRUPT;
		attempt_failed(&a, &eps.v[i], e);
		if (stop)
			break;
	}
	cleanup_free char *s = registry_ref_string(ref);
	cleanup_free char *w = xstrfmt("%s '%s'", what, s);
	attempts_error(&a, w, err);
	endpoints_release(&eps);
	return -1;
}

struct resolve_ctx {
	const struct registry_ref *ref;
	const char *platform;
	bool select; /* pick a platform from an index */
	bool head;
	struct strbuf body;
	char *media_type, *digest, *index_digest;
};

static int resolve_at(struct registry_client *c, struct endpoint *ep,
		      void *data, struct error **err)
{
	struct resolve_ctx *r = data;
	const char *reference = r->ref->digest ? r->ref->digest : r->ref->tag;
	free(r->media_type);
	free(r->digest);
	free(r->index_digest);
	r->media_type = r->digest = r->index_digest = NULL;
	if (endpoint_load_creds(c, ep, err) < 0)
		return -1;
	if (r->head) {
		int ret = manifest_at(c, ep, reference, true, NULL, &r->body,
				      &r->media_type, &r->digest, err);
		if (ret < 0 && (*err)->code == REGISTRY_EPROTOCOL) {
			/* HEAD refused (405) or digest missing: GET */
			debug("HEAD refused (%s); using GET", (*err)->msg);
			error_clear(err);
			ret = manifest_at(c, ep, reference, false,
					  r->ref->digest, &r->body,
					  &r->media_type, &r->digest, err);
		}
		return ret;
	}
	if (manifest_at(c, ep, reference, false, r->ref->digest, &r->body,
			&r->media_type, &r->digest, err) < 0)
		return -1;
	for (int depth = 0; r->select && is_index(r->media_type); depth++) {
		char *d = NULL;
		if (depth == 2) {
			error_set(err, REGISTRY_EPROTOCOL,
				  "indexes nested too deep");
			return -1;
		}
		if (pick_platform(r->body.buf, r->body.len, r->platform, &d,
				  err) < 0)
			return -1;
		free(r->index_digest);
		r->index_digest = steal_pointer(&r->digest);
		free(r->media_type);
		r->media_type = NULL;
		strbuf_reset(&r->body);
		int ret = manifest_at(c, ep, d, false, d, &r->body,
				      &r->media_type, &r->digest, err);
		free(d);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int resolve(struct registry_client *c, const struct registry_ref *ref,
		   struct resolve_ctx *r, char **manifest, size_t *len,
		   char **media_type, char **digest, char **index_digest,
		   struct error **err)
{
	r->body.cap = MANIFEST_CAP;
	int ret = each_endpoint(c, ref, false, "manifest for", resolve_at, r,
				err);
	if (!ret) {
		if (manifest)
			*manifest = strbuf_detach(&r->body, len);
		if (media_type)
			*media_type = steal_pointer(&r->media_type);
		if (digest)
			*digest = steal_pointer(&r->digest);
		if (index_digest)
			*index_digest = steal_pointer(&r->index_digest);
	}
	strbuf_release(&r->body);
	free(r->media_type);
	free(r->digest);
	free(r->index_digest);
	return ret;
}

int registry_resolve(struct registry_client *c, const struct registry_ref *ref,
		     const char *platform, char **manifest, size_t *len,
		     char **media_type, char **digest, char **index_digest,
		     struct error **err)
{
	struct resolve_ctx r = {
		.ref = ref,
		.platform = platform ? platform : registry_host_platform(),
		.select = true,
		.body = STRBUF_INIT,
	};
	return resolve(c, ref, &r, manifest, len, media_type, digest,
		       index_digest, err);
}

int registry_get_manifest(struct registry_client *c,
			  const struct registry_ref *ref, char **manifest,
			  size_t *len, char **media_type, char **digest,
			  struct error **err)
{
	struct resolve_ctx r = { .ref = ref, .body = STRBUF_INIT };
	return resolve(c, ref, &r, manifest, len, media_type, digest, NULL,
		       err);
}

int registry_head_manifest(struct registry_client *c,
			   const struct registry_ref *ref, char **media_type,
			   char **digest, struct error **err)
{
	struct resolve_ctx r = { .ref = ref,
				 .head = true,
				 .body = STRBUF_INIT };
	return resolve(c, ref, &r, NULL, NULL, media_type, digest, NULL, err);
}

/* ------------------------------------------------------------ blobs */

int registry_fetch_blob(struct registry_client *c,
			const struct registry_ref *ref, const char *digest,
			int64_t size, registry_write_fn write, void *data,
			struct error **err)
{
	struct registry_blob_job job = {
		.digest = digest,
		.size = size,
		.write = write,
		.data = data,
	};
	int ret = registry_fetch_blobs(c, ref, &job, 1, err);
	error_free(job.err);
	return ret;
}

struct blob_ctx {
	struct blob_stream s;
};

static int blob_at(struct registry_client *c, struct endpoint *ep, void *data,
		   struct error **err);

static int blob_ctx_init(struct blob_ctx *b, struct registry_blob_job *job,
			 CURL *h, struct error **err)
{
	memset(b, 0, sizeof(*b));
	b->s.job = job;
	b->s.h = h;
	const EVP_MD *md = starts_with(job->digest, "sha512:")	 ? EVP_sha512()
			   : starts_with(job->digest, "sha256:") ? EVP_sha256()
								 : NULL;
	if (!md) {
		error_set(err, KILN_EINVAL, "unsupported digest '%s'",
			  job->digest);
		return -1;
	}
	if (job->sink_verifies)
		return 0; /* s.md stays NULL: nothing hashed here */
	b->s.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(b->s.md, md, NULL);
	return 0;
}

static void blob_ctx_release(struct blob_ctx *b)
{
	EVP_MD_CTX_free(b->s.md);
}

static void fetch_one(struct registry_client *c, const struct registry_ref *ref,
		      struct registry_blob_job *job, CURL *h)
{
	struct blob_ctx b;
	if (blob_ctx_init(&b, job, h, &job->err) < 0)
		return;
	cleanup_free char *what = xstrfmt("blob %s of", job->digest);
	each_endpoint(c, ref, false, what, blob_at, &b, &job->err);
	blob_ctx_release(&b);
}

static int blob_at(struct registry_client *c, struct endpoint *ep, void *data,
		   struct error **err)
{
	struct blob_ctx *b = data;
	if (endpoint_load_creds(c, ep, err) < 0)
		return -1;
	return blob_fetch_at(c, ep, &b->s, err);
}

/*
 * Run jobs 0..nr-1 on up to c->o.parallel threads, each with its own curl
 * handle; with one thread (or none that could start) the calling thread
 * runs them on its own handle, keeping its connection.
 */
typedef void (*job_fn)(struct registry_client *c,
		       const struct registry_ref *ref, void *jobs, size_t i,
		       CURL *h);

struct pool {
	struct registry_client *c;
	const struct registry_ref *ref;
	void *jobs;
	size_t nr, next;
	job_fn fn;
	pthread_mutex_t lock;
};

static void *pool_worker(void *data)
{
	struct pool *w = data;
	CURL *h = http_handle();
	for (;;) {
		pthread_mutex_lock(&w->lock);
		size_t i = w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->nr)
			break;
		w->fn(w->c, w->ref, w->jobs, i, h);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void run_jobs(struct registry_client *c, const struct registry_ref *ref,
		     void *jobs, size_t nr, job_fn fn)
{
	size_t n = nr < (size_t)c->o.parallel ? nr : (size_t)c->o.parallel;
	if (n <= 1) {
		for (size_t i = 0; i < nr; i++)
			fn(c, ref, jobs, i, c->curl);
		return;
	}
	struct pool w = { .c = c, .ref = ref, .jobs = jobs, .nr = nr, .fn = fn };
	pthread_mutex_init(&w.lock, NULL);
	pthread_t *t = xcalloc(n, sizeof(*t));
	size_t started = 0;
	for (size_t i = 0; i < n; i++)
		if (!pthread_create(&t[i], NULL, pool_worker, &w))
			started++;
		else
			break;
	if (!started)
		pool_worker(&w);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&w.lock);
}

static void fetch_job(struct registry_client *c, const struct registry_ref *ref,
		      void *jobs, size_t i, CURL *h)
{
	fetch_one(c, ref, &((struct registry_blob_job *)jobs)[i], h);
}

int registry_fetch_blobs(struct registry_client *c,
			 const struct registry_ref *ref,
			 struct registry_blob_job *jobs, size_t nr,
			 struct error **err)
{
	struct endpoints eps;
	/* blocked? (checked once, before any thread starts) */
	if (endpoints_for(c, ref, false, &eps, err) < 0)
		return -1;
	endpoints_release(&eps);
	run_jobs(c, ref, jobs, nr, fetch_job);
	for (size_t i = 0; i < nr; i++) {
		if (jobs[i].err) {
			error_set(err, jobs[i].err->code, "%s",
				  jobs[i].err->msg);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ push */

struct push_ctx {
	struct registry_push_job *job;
	CURL *h;
	const void *manifest;
	size_t len;
	const char *media_type;
	const char *reference;
	char *pushed_digest;
};

static int push_blob_at(struct registry_client *c, struct endpoint *ep,
			void *data, struct error **err)
{
	struct push_ctx *p = data;
	struct registry_push_job *j = p->job;
	if (endpoint_load_creds(c, ep, err) < 0)
		return -1;
	return blob_push_at(c, ep, p->h, j->digest, j->size, j->read, j->data,
			    j->mount_from, &j->result, err);
}

static void push_one(struct registry_client *c, const struct registry_ref *ref,
		     struct registry_push_job *job, CURL *h)
{
	struct push_ctx p = { .job = job, .h = h };
	cleanup_free char *what = xstrfmt("push blob %s to", job->digest);
	each_endpoint(c, ref, true, what, push_blob_at, &p, &job->err);
}

int registry_push_blob(struct registry_client *c,
		       const struct registry_ref *ref, const char *digest,
		       uint64_t size, registry_read_fn read, void *data,
		       const char *mount_from,
		       enum registry_push_result *result, struct error **err)
{
	struct registry_push_job job = {
		.digest = digest,
		.size = size,
		.read = read,
		.data = data,
		.mount_from = mount_from,
	};
	push_one(c, ref, &job, c->curl);
	if (result)
		*result = job.result;
	if (job.err) {
		if (err && !*err)
			*err = job.err;
		else
			error_free(job.err);
		return -1;
	}
	return 0;
}

static void push_job(struct registry_client *c, const struct registry_ref *ref,
		     void *jobs, size_t i, CURL *h)
{
	push_one(c, ref, &((struct registry_push_job *)jobs)[i], h);
}

int registry_push_blobs(struct registry_client *c,
			const struct registry_ref *ref,
			struct registry_push_job *jobs, size_t nr,
			struct error **err)
{
	struct endpoints eps;
	if (endpoints_for(c, ref, true, &eps, err) < 0)
		return -1;
	endpoints_release(&eps);
	run_jobs(c, ref, jobs, nr, push_job);
	for (size_t i = 0; i < nr; i++) {
		if (jobs[i].err) {
			error_set(err, jobs[i].err->code, "%s",
				  jobs[i].err->msg);
			return -1;
		}
	}
	return 0;
}

static int push_manifest_at(struct registry_client *c, struct endpoint *ep,
			    void *data, struct error **err)
{
	struct push_ctx *p = data;
	if (endpoint_load_creds(c, ep, err) < 0)
		return -1;
	cleanup_free char *url =
		xstrfmt("/v2/%s/manifests/%s", ep->path, p->reference);
	cleanup_free char *scope = repo_scope(ep->path, "pull,push");
	struct http_req req = {
		.method = "PUT",
		.ep = ep,
		.url = url,
		.scope = scope,
		.content_type = p->media_type,
		.body = p->manifest,
		.body_len = p->len,
		.has_body = true,
	};
	struct http_resp resp = { .err_body = STRBUF_INIT };
	if (http_do(c, c->curl, &req, &resp, err) < 0) {
		http_resp_release(&resp);
		return -1;
	}
	if (resp.status != 201 && resp.status != 200) {
		http_status_error(&req, &resp, err);
		http_resp_release(&resp);
		return -1;
	}
	if (resp.docker_digest &&
	    strcmp(resp.docker_digest, p->pushed_digest)) {
		error_set(err, KILN_ECORRUPT,
			  "push manifest: the registry computed %s, not %s",
			  resp.docker_digest, p->pushed_digest);
		http_resp_release(&resp);
		return -1;
	}
	http_resp_release(&resp);
	return 0;
}

int registry_push_manifest(struct registry_client *c,
			   const struct registry_ref *ref, const void *manifest,
			   size_t len, const char *media_type, char **digest,
			   struct error **err)
{
	struct push_ctx p = {
		.manifest = manifest,
		.len = len,
		.media_type = media_type,
		.pushed_digest = sha256_digest(manifest, len),
	};
	p.reference = ref->tag ? ref->tag : p.pushed_digest;
	if (ref->digest && strcmp(ref->digest, p.pushed_digest)) {
		error_set(err, KILN_EINVAL,
			  "push manifest: its digest is %s, not %s",
			  p.pushed_digest, ref->digest);
		free(p.pushed_digest);
		return -1;
	}
	int ret = each_endpoint(c, ref, true, "push manifest to",
				push_manifest_at, &p, err);
	if (!ret && digest)
		*digest = steal_pointer(&p.pushed_digest);
	free(p.pushed_digest);
	return ret;
}

/* ------------------------------------------------------------ login */

int registry_check_login(struct registry_client *c, const char *registry,
			 const char *user, const char *password,
			 struct error **err)
{
	cleanup_free char *key = registry_auth_key(registry);
	struct endpoint ep = { 0 };
	char *slash = strchr(key, '/');
	if (slash)
		*slash = '\0';
	const struct conf_registry *r = registries_conf_find(&c->conf, key);
	if (r && r->blocked) {
		error_set(err, REGISTRY_EBLOCKED,
			  "registry '%s' is blocked (%s:%d)", r->prefix,
			  r->file, r->line);
		return -1;
	}
	ep.host = xstrdup(registry_endpoint_host(key));
	ep.path = xstrdup("");
	ep.auth_name = xstrdup(key);
	ep.insecure = c->o.tls_verify == 0 ||
		      (r && r->insecure && c->o.tls_verify != 1) ||
		      (c->o.tls_verify != 1 && host_is_loopback(key));
	ep.creds_loaded = true;
	ep.creds.user = xstrdup(user);
	ep.creds.password = xstrdup(password);
	struct http_req req = { .method = "GET", .ep = &ep, .url = "/v2/" };
	struct http_resp resp = { .err_body = STRBUF_INIT };
	int ret = http_do(c, c->curl, &req, &resp, err);
	if (!ret && resp.status != 200) {
		if (resp.status == 401)
			error_set(err, REGISTRY_EAUTH,
				  "log in to '%s': 401 unauthorized: wrong "
				  "username or password",
				  key);
		else
			http_status_error(&req, &resp, err);
		ret = -1;
	} else if (ret) {
		error_wrap(err, "log in to '%s'", key);
	}
	http_resp_release(&resp);
	endpoint_release(&ep);
	return ret;
}
