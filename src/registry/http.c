/*
 * The HTTP layer of the registry client: one libcurl easy handle per
 * thread, TLS material from certs.d, https-then-http for insecure
 * registries, the 401 → challenge → token/basic → re-send dance with a
 * token cache per host and scope, and retries with backoff on transport
 * errors, 429 and 5xx.  Secrets only ever travel in request headers and
 * the token request; debug output goes through registry_redact_header().
 */
#include "registry/registry-internal.h"

#include <dirent.h>
#include <limits.h>
#include <jansson.h>
#include <openssl/evp.h>

#define ERR_BODY_CAP 4096
#define SMALL_BODY_CAP (4 << 20)

char *sha256_digest(const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return xstrfmt("sha256:%s", hex);
}

void http_resp_release(struct http_resp *r)
{
	free(r->location);
	free(r->content_type);
	free(r->docker_digest);
	free(r->www_auth);
	free(r->retry_after);
	free(r->content_range);
	free(r->range);
	strbuf_release(&r->err_body);
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->err_body, 0);
}

CURL *http_handle(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	void curl_init_once(void);
	pthread_once(&once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h)
		die("curl_easy_init failed");
	return h;
}

void curl_init_once(void);
void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------ hosts */

static struct host_state *host_get(struct registry_client *c, const char *host)
{
	for (size_t i = 0; i < c->hosts_nr; i++)
		if (!strcmp(c->hosts[i]->host, host))
			return c->hosts[i];
	struct host_state *hs = xcalloc(1, sizeof(*hs));
	hs->host = xstrdup(host);
	ALLOC_GROW(c->hosts, c->hosts_nr + 1, c->hosts_alloc);
	c->hosts[c->hosts_nr++] = hs;
	return hs;
}

static void add_certs_dir(struct registry_client *c, struct host_state *hs,
			  const char *dir, struct strbuf *ca)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	debug("certs.d: %s", dir);
	while ((de = readdir(d))) {
		cleanup_free char *p = xstrfmt("%s/%s", dir, de->d_name);
		if (ends_with(de->d_name, ".crt")) {
			if (!ca->len && !c->sys_ca_read) {
				struct strbuf sys = STRBUF_INIT;
				c->sys_ca_read = true;
				if (!strbuf_read_file(&sys, "/etc/ssl/certs/"
							    "ca-certificates."
							    "crt"))
					c->sys_ca = strbuf_detach(
						&sys, &c->sys_ca_len);
				strbuf_release(&sys);
			}
			if (!ca->len && c->sys_ca)
				strbuf_add(ca, c->sys_ca, c->sys_ca_len);
			struct strbuf f = STRBUF_INIT;
			if (!strbuf_read_file(&f, p)) {
				strbuf_addch(ca, '\n');
				strbuf_addbuf(ca, &f);
			}
			strbuf_release(&f);
		} else if (ends_with(de->d_name, ".cert") && !hs->cert) {
			size_t n = strlen(p) - 5;
			cleanup_free char *key = xstrfmt("%.*s.key", (int)n, p);
			if (!access(key, R_OK)) {
				hs->cert = xstrdup(p);
				hs->key = steal_pointer(&key);
			}
		}
	}
	closedir(d);
}

/* Load certs.d material for hs once (called with c->lock held). */
static void host_load_tls(struct registry_client *c, struct host_state *hs)
{
	if (hs->tls_loaded)
		return;
	hs->tls_loaded = true;
	struct strbuf ca = STRBUF_INIT;
	if (c->cert_dir) {
		add_certs_dir(c, hs, c->cert_dir, &ca);
	} else {
		const char *cfg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		cleanup_free char *user = cfg && *cfg ? xstrfmt("%s/containers/"
								"certs.d/%s",
								cfg, hs->host)
					  : home      ? xstrfmt("%s/.config/"
								     "containers/certs.d/"
								     "%s",
								home, hs->host)
						      : NULL;
		cleanup_free char *a =
			xstrfmt("/etc/containers/certs.d/%s", hs->host);
		cleanup_free char *b =
			xstrfmt("/etc/docker/certs.d/%s", hs->host);
		if (user)
			add_certs_dir(c, hs, user, &ca);
		add_certs_dir(c, hs, a, &ca);
		add_certs_dir(c, hs, b, &ca);
	}
	if (ca.len)
		hs->ca_pem = strbuf_detach(&ca, &hs->ca_len);
	strbuf_release(&ca);
}

/* ------------------------------------------------------------ callbacks */

struct xfer {
	CURL *h;
	struct http_req *req;
	struct http_resp *resp;
	uint64_t read_pos;
	bool sink_failed;
};

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	const char *v = line + n + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return xstrndup(v, end - v);
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *data)
{
	struct xfer *x = data;
	struct http_resp *r = x->resp;
	size_t len = size * nmemb;
	if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
		/* a new response (redirect, 100-continue): forget the last */
		char **all[] = { &r->location,	    &r->content_type,
				 &r->docker_digest, &r->www_auth,
				 &r->retry_after,   &r->content_range,
				 &r->range };
		for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
			free(*all[i]);
			*all[i] = NULL;
		}
		strbuf_reset(&r->err_body);
		r->content_length = -1;
		return len;
	}
	static const struct {
		const char *name;
		size_t off;
	} hdrs[] = {
		{ "location", offsetof(struct http_resp, location) },
		{ "content-type", offsetof(struct http_resp, content_type) },
		{ "docker-content-digest",
		  offsetof(struct http_resp, docker_digest) },
		{ "www-authenticate", offsetof(struct http_resp, www_auth) },
		{ "retry-after", offsetof(struct http_resp, retry_after) },
		{ "content-range", offsetof(struct http_resp, content_range) },
		{ "range", offsetof(struct http_resp, range) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(hdrs); i++) {
		char *v = header_value(buf, len, hdrs[i].name);
		if (v) {
			char **dst = (char **)((char *)r + hdrs[i].off);
			/* the first challenge is the one we answer */
			if (*dst && i == 3) {
				free(v);
			} else {
				free(*dst);
				*dst = v;
			}
			return len;
		}
	}
	char *cl = header_value(buf, len, "content-length");
	if (cl) {
		unsigned long long n;
		if (!parse_uint(cl, LLONG_MAX, &n))
			r->content_length = (long long)n;
		free(cl);
	}
	return len;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *data)
{
	struct xfer *x = data;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		size_t room = ERR_BODY_CAP - x->resp->err_body.len;
		strbuf_add(&x->resp->err_body, buf, len < room ? len : room);
		return len;
	}
	if (x->req->sink) {
		size_t n = x->req->sink(x->req->sink_data, buf, len);
		if (n != len)
			x->sink_failed = true;
		return n;
	}
	if (x->req->out) {
		if (strbuf_add_checked(x->req->out, buf, len) < 0)
			return 0;
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *data)
{
	struct xfer *x = data;
	struct http_req *q = x->req;
	size_t want = size * nmemb;
	uint64_t left = q->read_len - x->read_pos;
	if (want > left)
		want = left;
	if (!want)
		return 0;
	if (q->body) {
		memcpy(buf, (const char *)q->body + x->read_pos, want);
		x->read_pos += want;
		return want;
	}
	ssize_t n = q->read(q->read_data, q->read_off + x->read_pos, buf, want);
	if (n < 0)
		return CURL_READFUNC_ABORT;
	if (n == 0)
		return CURL_READFUNC_ABORT; /* the blob is shorter than said */
	x->read_pos += n;
	return n;
}

static int on_seek(void *data, curl_off_t off, int origin)
{
	struct xfer *x = data;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->read_len)
		return CURL_SEEKFUNC_FAIL;
	x->read_pos = off;
	return CURL_SEEKFUNC_OK;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size,
		    void *u)
{
	const char *tag;
	switch (type) {
	case CURLINFO_TEXT:
		tag = "*";
		break;
	case CURLINFO_HEADER_IN:
		tag = "<";
		break;
	case CURLINFO_HEADER_OUT:
		tag = ">";
		break;
	default:
		return 0;
	}
	/* HEADER_OUT holds the whole request head: redact line by line */
	const char *p = data, *end = data + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
		char *line = registry_redact_header(p, n);
		if (*line)
			debug("curl %s %s", tag, line);
		free(line);
		p += n;
	}
	return 0;
}

/* ------------------------------------------------------------ setup */

static char *url_escape(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	for (; *s; s++) {
		unsigned char ch = *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			strbuf_addch(&sb, ch);
		else
			strbuf_addf(&sb, "%%%02X", ch);
	}
	return strbuf_detach(&sb, NULL);
}

static void setup_common(struct registry_client *c, CURL *h, bool insecure,
			 struct host_state *hs, struct xfer *x)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a stalled transfer (no byte for 30s) is a network error */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->resp->curl_msg);
	/* KILN_REGISTRY_MAX_SPEED: bytes per second a transfer may use */
	const char *rate = getenv("KILN_REGISTRY_MAX_SPEED");
	unsigned long long bps;
	if (rate && !parse_uint(rate, LLONG_MAX, &bps) && bps) {
		curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE,
				 (curl_off_t)bps);
		curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE,
				 (curl_off_t)bps);
	}
	if (getenv("KILN_DEBUG")) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (hs) {
		pthread_mutex_lock(&c->lock);
		host_load_tls(c, hs);
		pthread_mutex_unlock(&c->lock);
		if (hs->ca_pem) {
			struct curl_blob blob = { .data = hs->ca_pem,
						  .len = hs->ca_len,
						  .flags = CURL_BLOB_NOCOPY };
			curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		}
		if (hs->cert) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, hs->cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, hs->key);
		}
	}
}

static const char *host_of_url(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------ tokens */

int endpoint_load_creds(struct registry_client *c, struct endpoint *ep,
			struct error **err)
{
	if (ep->creds_loaded)
		return 0;
	ep->creds_loaded = true;
	if (c->creds) {
		const char *colon = strchr(c->creds, ':');
		ep->creds.user = colon ? xstrndup(c->creds, colon - c->creds)
				       : xstrdup(c->creds);
		ep->creds.password = xstrdup(colon ? colon + 1 : "");
		return 0;
	}
	if (registry_creds_lookup(c->authfile, ep->auth_name, &ep->creds, err) <
	    0)
		return -1;
	return 0;
}

void endpoint_release(struct endpoint *ep)
{
	free(ep->host);
	free(ep->path);
	free(ep->auth_name);
	registry_creds_release(&ep->creds);
	memset(ep, 0, sizeof(*ep));
}

static const char *find_token(struct host_state *hs, const char *scope)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < hs->tokens_nr; i++)
		if (!strcmp(hs->tokens[i].scope, scope) &&
		    hs->tokens[i].expires > now + 5)
			return hs->tokens[i].token;
	return NULL;
}

static void put_token(struct host_state *hs, const char *scope,
		      const char *token, long expires_in)
{
	for (size_t i = 0; i < hs->tokens_nr; i++) {
		if (!strcmp(hs->tokens[i].scope, scope)) {
			free(hs->tokens[i].token);
			hs->tokens[i].token = xstrdup(token);
			hs->tokens[i].expires = time(NULL) + expires_in;
			return;
		}
	}
	ALLOC_GROW(hs->tokens, hs->tokens_nr + 1, hs->tokens_alloc);
	hs->tokens[hs->tokens_nr].scope = xstrdup(scope);
	hs->tokens[hs->tokens_nr].token = xstrdup(token);
	hs->tokens[hs->tokens_nr].expires = time(NULL) + expires_in;
	hs->tokens_nr++;
}

static void add_scopes(struct strbuf *sb, const char *scope, char sep)
{
	cleanup_free char *s = xstrdup(scope);
	char *save = NULL;
	for (char *t = strtok_r(s, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		cleanup_free char *e = url_escape(t);
		strbuf_addf(sb, "%cscope=%s", sep, e);
		sep = '&';
	}
}

/*
 * Get a bearer token from the challenge's realm: GET with basic
 * credentials, then (as docker does) an OAuth2 POST when that fails and
 * there are credentials to post.
 */
static int fetch_token(struct registry_client *c, CURL *h, struct endpoint *ep,
		       const struct auth_challenge *ch, const char *scope,
		       struct error **err)
{
	if (!ch->realm || (!starts_with(ch->realm, "https://") &&
			   !starts_with(ch->realm, "http://"))) {
		error_set(err, REGISTRY_EPROTOCOL,
			  "'%s' sent a bearer challenge without a usable "
			  "realm",
			  ep->host);
		return -1;
	}
	if (endpoint_load_creds(c, ep, err) < 0)
		return -1;
	const struct registry_creds *cr = &ep->creds;
	char hbuf[256];
	pthread_mutex_lock(&c->lock);
	struct host_state *rhs =
		host_get(c, host_of_url(ch->realm, hbuf, sizeof(hbuf)));
	pthread_mutex_unlock(&c->lock);

	long status = 0;
	struct strbuf body = STRBUF_INIT;
	body.cap = 1 << 20;
	for (int post = 0; post < 2; post++) {
		bool have_secret = cr->identity_token ||
				   (cr->user && cr->password);
		if (post && !have_secret)
			break;
		struct http_resp resp = { .err_body = STRBUF_INIT };
		struct http_req req = { .out = &body };
		struct xfer x = { .h = h, .req = &req, .resp = &resp };
		struct strbuf url = STRBUF_INIT;
		struct strbuf form = STRBUF_INIT;
		struct curl_slist *hl = NULL;
		strbuf_reset(&body);
		setup_common(c, h, ep->insecure || c->o.tls_verify == 0, rhs,
			     &x);
		strbuf_addstr(&url, ch->realm);
		char sep = strchr(ch->realm, '?') ? '&' : '?';
		cleanup_free char *svc =
			url_escape(ch->service ? ch->service : "");
		if (!post) {
			if (ch->service) {
				strbuf_addf(&url, "%cservice=%s", sep, svc);
				sep = '&';
			}
			if (scope && *scope) {
				add_scopes(&url, scope, sep);
				sep = '&';
			}
			if (cr->user) {
				cleanup_free char *u = url_escape(cr->user);
				strbuf_addf(&url, "%caccount=%s", sep, u);
			}
			if (cr->user && cr->password) {
				curl_easy_setopt(h, CURLOPT_HTTPAUTH,
						 (long)CURLAUTH_BASIC);
				curl_easy_setopt(h, CURLOPT_USERNAME, cr->user);
				curl_easy_setopt(h, CURLOPT_PASSWORD,
						 cr->password);
			}
		} else {
			strbuf_addf(&form, "client_id=kiln&service=%s", svc);
			if (scope && *scope)
				add_scopes(&form, scope, '&');
			if (cr->identity_token) {
				cleanup_free char *t =
					url_escape(cr->identity_token);
				strbuf_addf(&form,
					    "&grant_type=refresh_token"
					    "&refresh_token=%s",
					    t);
			} else {
				cleanup_free char *u = url_escape(cr->user);
				cleanup_free char *p = url_escape(cr->password);
				strbuf_addf(&form,
					    "&grant_type=password&username=%s"
					    "&password=%s",
					    u, p);
			}
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, form.buf);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
					 (long)form.len);
			hl = curl_slist_append(hl, "Content-Type: application/"
						   "x-www-form-urlencoded");
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
		}
		curl_easy_setopt(h, CURLOPT_URL, url.buf);
		debug("token: %s %s", post ? "POST" : "GET", ch->realm);
		CURLcode rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(hl);
		explicit_bzero(form.buf, form.len);
		strbuf_release(&form);
		strbuf_release(&url);
		/* the handle still points at the secrets: clear them */
		curl_easy_reset(h);
		if (rc != CURLE_OK) {
			error_set(err, REGISTRY_ENETWORK,
				  "get a token from '%s': %s", ch->realm,
				  resp.curl_msg[0] ? resp.curl_msg
						   : curl_easy_strerror(rc));
			http_resp_release(&resp);
			strbuf_release(&body);
			return -1;
		}
		http_resp_release(&resp);
		if (status == 200)
			break;
	}
	if (status != 200) {
		error_set(err, REGISTRY_EAUTH,
			  "authenticate to '%s': token server '%s' answered "
			  "%ld%s",
			  ep->host, ch->realm, status,
			  status == 401 ? " (unauthorized: wrong username or "
					  "password?)"
					: "");
		strbuf_release(&body);
		return -1;
	}
	json_error_t je;
	json_t *j = json_loadb(body.buf, body.len, 0, &je);
	explicit_bzero(body.buf, body.len);
	strbuf_release(&body);
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok) {
		json_decref(j);
		error_set(err, REGISTRY_EPROTOCOL,
			  "token server '%s' sent no token", ch->realm);
		return -1;
	}
	json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
	if (exp < 60)
		exp = 60;
	pthread_mutex_lock(&c->lock);
	struct host_state *hs = host_get(c, ep->host);
	put_token(hs, scope, tok, (long)exp);
	pthread_mutex_unlock(&c->lock);
	json_decref(j);
	return 0;
}

/* ------------------------------------------------------------ requests */

static char *build_url(struct host_state *hs, struct endpoint *ep,
		       const char *url, int scheme)
{
	if (starts_with(url, "http://") || starts_with(url, "https://"))
		return xstrdup(url);
	return xstrfmt("%s://%s%s", scheme == 2 ? "http" : "https", ep->host,
		       url);
}

bool http_retryable_curl(struct registry_client *c, struct endpoint *ep,
			 CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT: {
		/* a host that never answered is down, not flaky: fall back
		 * to the next endpoint instead of waiting */
		pthread_mutex_lock(&c->lock);
		bool answered = host_get(c, ep->host)->answered;
		pthread_mutex_unlock(&c->lock);
		return answered;
	}
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_READ_ERROR:
		return true;
	default:
		return false;
	}
}

static bool tls_failure(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

/* Perform once with the auth we have now. */
static CURLcode perform(struct registry_client *c, CURL *h,
			struct http_req *req, struct http_resp *resp,
			struct host_state *hs, int scheme, bool *sink_failed)
{
	struct xfer x = { .h = h, .req = req, .resp = resp };
	struct curl_slist *hl = NULL;
	cleanup_free char *url = build_url(hs, req->ep, req->url, scheme);
	cleanup_free char *authz = NULL;
	char hbuf[256];
	bool same_host =
		!strcmp(host_of_url(url, hbuf, sizeof(hbuf)), req->ep->host);
	http_resp_release(resp);
	resp->content_length = -1;
	setup_common(c, h, req->ep->insecure || c->o.tls_verify == 0, hs, &x);
	curl_easy_setopt(h, CURLOPT_URL, url);
	pthread_mutex_lock(&c->lock);
	if (same_host && hs->auth == 2) {
		const char *t = find_token(hs, req->scope ? req->scope : "");
		if (t)
			authz = xstrfmt("Authorization: Bearer %s", t);
	}
	int auth = hs->auth;
	pthread_mutex_unlock(&c->lock);
	if (same_host && auth == 1 && req->ep->creds.user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->ep->creds.user);
		curl_easy_setopt(
			h, CURLOPT_PASSWORD,
			req->ep->creds.password ? req->ep->creds.password : "");
	}
	if (authz)
		hl = curl_slist_append(hl, authz);
	if (req->accept) {
		cleanup_free char *a = xstrfmt("Accept: %s", req->accept);
		hl = curl_slist_append(hl, a);
	}
	if (req->content_type) {
		cleanup_free char *a =
			xstrfmt("Content-Type: %s", req->content_type);
		hl = curl_slist_append(hl, a);
	}
	if (req->range) {
		cleanup_free char *a = xstrfmt("Range: %s", req->range);
		hl = curl_slist_append(hl, a);
	}
	if (req->content_range) {
		cleanup_free char *a =
			xstrfmt("Content-Range: %s", req->content_range);
		hl = curl_slist_append(hl, a);
	}
	/* no "Expect: 100-continue" round trip */
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (req->follow) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	}
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (req->has_body) {
		if (req->body)
			req->read_len = req->body_len;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)req->read_len);
		if (strcmp(req->method, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		if (!strcmp(req->method, "POST")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		}
	}
	debug("%s %s", req->method, url);
	CURLcode rc = curl_easy_perform(h);
	resp->curl_rc = rc;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc == CURLE_OK)
		debug("%s %s -> %ld", req->method, url, resp->status);
	else
		debug("%s %s -> %s", req->method, url,
		      resp->curl_msg[0] ? resp->curl_msg
					: curl_easy_strerror(rc));
	curl_slist_free_all(hl);
	if (authz)
		explicit_bzero(authz, strlen(authz));
	/* forget the credentials the handle holds */
	curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
	curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	*sink_failed = x.sink_failed;
	return rc;
}

static void set_curl_error(struct http_req *req, struct http_resp *resp,
			   struct error **err)
{
	error_set(err,
		  resp->curl_rc == CURLE_ABORTED_BY_CALLBACK ||
				  resp->curl_rc == CURLE_WRITE_ERROR
			  ? ECANCELED
			  : REGISTRY_ENETWORK,
		  "%s %s%s: %s", req->method,
		  starts_with(req->url, "http") ? "" : req->ep->host, req->url,
		  resp->curl_msg[0] ? resp->curl_msg
				    : curl_easy_strerror(resp->curl_rc));
}

int http_once(struct registry_client *c, CURL *h, struct http_req *req,
	      struct http_resp *resp, struct error **err)
{
	pthread_mutex_lock(&c->lock);
	struct host_state *hs = host_get(c, req->ep->host);
	int scheme = hs->scheme;
	pthread_mutex_unlock(&c->lock);
	bool plain_ok = req->ep->insecure || c->o.tls_verify == 0;
	bool sink_failed = false;
	if (!scheme)
		scheme = 1;
	for (int round = 0; round < 2; round++) {
		CURLcode rc =
			perform(c, h, req, resp, hs, scheme, &sink_failed);
		if (rc != CURLE_OK && plain_ok && scheme == 1 &&
		    tls_failure(rc) && !starts_with(req->url, "http")) {
			/* another thread may have found out meanwhile */
			pthread_mutex_lock(&c->lock);
			bool try_http = hs->scheme == 2 || !hs->answered;
			pthread_mutex_unlock(&c->lock);
			if (try_http) {
				debug("'%s' does not speak TLS; trying http",
				      req->ep->host);
				scheme = 2;
				rc = perform(c, h, req, resp, hs, scheme,
					     &sink_failed);
			}
		}
		if (rc != CURLE_OK) {
			if (sink_failed)
				resp->curl_rc = CURLE_ABORTED_BY_CALLBACK;
			set_curl_error(req, resp, err);
			return -1;
		}
		pthread_mutex_lock(&c->lock);
		hs->answered = true;
		hs->scheme = scheme;
		pthread_mutex_unlock(&c->lock);
		if (resp->status != 401 || round == 1)
			return 0;
		struct auth_challenge ch;
		if (!resp->www_auth ||
		    auth_challenge_parse(&ch, resp->www_auth) < 0)
			return 0;
		if (!strcmp(ch.scheme, "bearer")) {
			pthread_mutex_lock(&c->lock);
			hs->auth = 2;
			pthread_mutex_unlock(&c->lock);
			if (round > 0) {
				/* a fresh token was refused: no access */
				auth_challenge_release(&ch);
				return 0;
			}
			/* without a scope of ours (the /v2/ check), ask
			 * for what the registry named */
			const char *scope = req->scope ? req->scope
					    : ch.scope ? ch.scope
						       : "";
			int r = fetch_token(c, h, req->ep, &ch, scope, err);
			if (!req->scope && r == 0 && *scope) {
				/* cached under the challenge's scope; the
				 * re-send looks for "" */
				pthread_mutex_lock(&c->lock);
				const char *t = find_token(hs, scope);
				char *tok = t ? xstrdup(t) : NULL;
				if (tok)
					put_token(hs, "", tok, 60);
				free(tok);
				pthread_mutex_unlock(&c->lock);
			}
			auth_challenge_release(&ch);
			if (r < 0)
				return -1;
		} else if (!strcmp(ch.scheme, "basic")) {
			auth_challenge_release(&ch);
			if (endpoint_load_creds(c, req->ep, err) < 0)
				return -1;
			pthread_mutex_lock(&c->lock);
			int was = hs->auth;
			hs->auth = 1;
			pthread_mutex_unlock(&c->lock);
			if (!req->ep->creds.user || was == 1)
				return 0;
		} else {
			auth_challenge_release(&ch);
			return 0;
		}
	}
	return 0;
}

void http_backoff(int attempt, const char *retry_after)
{
	unsigned long long secs;
	long ms = 200L << (attempt < 6 ? attempt : 6);
	if (retry_after && !parse_uint(retry_after, 60, &secs))
		ms = (long)secs * 1000;
	if (ms > 10000)
		ms = 10000;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

int http_do(struct registry_client *c, CURL *h, struct http_req *req,
	    struct http_resp *resp, struct error **err)
{
	int retries = c->o.retries;
	for (int attempt = 0;; attempt++) {
		struct error *e = NULL;
		if (req->out)
			strbuf_reset(req->out);
		int r = http_once(c, h, req, resp, &e);
		if (r < 0) {
			if (attempt < retries && resp->curl_rc != CURLE_OK &&
			    http_retryable_curl(c, req->ep, resp->curl_rc)) {
				debug("retrying after: %s", e->msg);
				error_free(e);
				http_backoff(attempt, NULL);
				continue;
			}
			if (err && !*err)
				*err = e;
			else
				error_free(e);
			return -1;
		}
		if (retryable_status(resp->status) && attempt < retries) {
			debug("retrying after status %ld", resp->status);
			http_backoff(attempt, resp->retry_after);
			continue;
		}
		return 0;
	}
}

/* The registry's error JSON: {"errors":[{"code","message"}]} → text. */
static char *registry_error_text(const struct strbuf *body)
{
	json_error_t je;
	json_t *j = json_loadb(body->buf, body->len, 0, &je);
	json_t *errs = json_object_get(j, "errors");
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e)
	{
		const char *code = json_string_value(json_object_get(e, "cod"
									"e"));
		const char *msg = json_string_value(json_object_get(e, "messag"
								       "e"));
		if (sb.len)
			strbuf_addstr(&sb, "; ");
		if (code)
			strbuf_addstr(&sb, code);
		if (msg)
			strbuf_addf(&sb, "%s%s", code ? ": " : "", msg);
	}
	json_decref(j);
	if (!sb.len) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

void http_status_error(struct http_req *req, struct http_resp *resp,
		       struct error **err)
{
	int code = resp->status == 401 || resp->status == 403 ? REGISTRY_EAUTH
		   : resp->status == 404		      ? KILN_ENOTFOUND
					 : REGISTRY_EPROTOCOL;
	cleanup_free char *text = registry_error_text(&resp->err_body);
	const char *reason = resp->status == 401   ? "unauthorized"
			     : resp->status == 403 ? "denied"
			     : resp->status == 404 ? "not found"
			     : resp->status == 429 ? "too many requests"
						   : "unexpected status";
	const char *hint = "";
	cleanup_free char *h = NULL;
	if (resp->status == 401 && req->ep->creds.user) {
		h = xstrfmt(" (the credentials of '%s' were refused)",
			    req->ep->creds.user);
		hint = h;
	} else if (resp->status == 401 && !req->ep->creds.identity_token) {
		h = xstrfmt(" (no credentials for '%s': use 'kiln login')",
			    req->ep->auth_name);
		hint = h;
	}
	error_set(err, code, "%s %s%s: %ld %s%s%s%s", req->method,
		  starts_with(req->url, "http") ? "" : req->ep->host, req->url,
		  resp->status, reason, text ? ": " : "", text ? text : "",
		  hint);
}
