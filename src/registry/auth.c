/*
 * Credentials: containers-auth.json(5) files, docker's config.json (inline
 * "auth", credHelpers, credsStore) and docker-credential-* helpers;
 * WWW-Authenticate challenges; base64; and redaction of secrets from
 * anything that may be printed.  Secrets never enter an error message.
 */
#include "registry/registry-internal.h"

#include <jansson.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

void registry_creds_release(struct registry_creds *cr)
{
	if (cr->password)
		explicit_bzero(cr->password, strlen(cr->password));
	if (cr->identity_token)
		explicit_bzero(cr->identity_token, strlen(cr->identity_token));
	free(cr->user);
	free(cr->password);
	free(cr->identity_token);
	memset(cr, 0, sizeof(*cr));
}

/* ------------------------------------------------------------ names */

const char *registry_canonical_domain(const char *domain)
{
	if (!strcmp(domain, "index.docker.io") ||
	    !strcmp(domain, "registry-1.docker.io") ||
	    !strcmp(domain, "registry.hub.docker.com"))
		return "docker.io";
	return domain;
}

const char *registry_endpoint_host(const char *domain)
{
	if (!strcmp(registry_canonical_domain(domain), "docker.io"))
		return "registry-1.docker.io";
	return domain;
}

char *registry_auth_key(const char *registry)
{
	const char *s = registry, *p;
	if (skip_prefix(s, "https://", &p) || skip_prefix(s, "http://", &p))
		s = p;
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		n--;
	const char *slash = memchr(s, '/', n);
	size_t hn = slash ? (size_t)(slash - s) : n;
	cleanup_free char *host = xstrndup(s, hn);
	const char *rest = slash ? slash + 1 : "";
	size_t rn = slash ? n - hn - 1 : 0;
	/* docker's "https://index.docker.io/v1/" names the registry */
	if (rn == 2 && (!strncmp(rest, "v1", 2) || !strncmp(rest, "v2", 2)))
		rn = 0;
	const char *canon = registry_canonical_domain(host);
	return rn ? xstrfmt("%s/%.*s", canon, (int)rn, rest) : xstrdup(canon);
}

/* ------------------------------------------------------------ base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc(st_add(st_mult((len + 2) / 3, 4), 1));
	char *o = out;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = in[i] << 16;
		if (i + 1 < len)
			v |= in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = xmalloc(n / 4 * 3 + 4);
	size_t o = 0;
	unsigned v = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || !s[i] || !(c = strchr(b64, s[i]))) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	if (pad > 2 || (n % 4 && pad)) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	if (len)
		*len = o;
	return out;
}

/* ------------------------------------------------------------ helpers */

int registry_creds_from_helper(const char *helper, const char *server,
			       struct registry_creds *out, struct error **err)
{
	cleanup_free char *prog = xstrfmt("docker-credential-%s", helper);
	int in[2], outp[2];
	if (pipe2(in, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		return -1;
	}
	if (pipe2(outp, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	char *argv[] = { prog, (char *)"get", NULL };
	pid_t pid;
	int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	if (rc) {
		close(in[1]);
		close(outp[0]);
		errno = rc;
		error_set_errno(err, "run credential helper '%s'", prog);
		return -1;
	}
	/* the server name is not a secret; a short write is the helper's
	 * problem and shows in its answer */
	if (write(in[1], server, strlen(server)) < 0) {
		/* ignored */
	}
	close(in[1]);
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	sb.cap = 1 << 20;
	int rrc = strbuf_read_fd(&sb, outp[0]);
	close(outp[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rrc < 0) {
		error_set_errno(err, "read from credential helper '%s'", prog);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (strstr(sb.buf, "credentials not found"))
			return 0;
		/* the helper's output could hold a secret: do not echo it */
		error_set(err, REGISTRY_EAUTH,
			  "credential helper '%s' failed for '%s'", prog,
			  server);
		return -1;
	}
	json_error_t je;
	json_t *j = json_loadb(sb.buf, sb.len, 0, &je);
	const char *user = j ? json_string_value(json_object_get(j, "Username"))
			     : NULL;
	const char *secret = j ? json_string_value(json_object_get(j, "Secret"))
			       : NULL;
	if (!user || !secret) {
		json_decref(j);
		error_set(err, REGISTRY_EAUTH,
			  "credential helper '%s' gave no Username/Secret",
			  prog);
		return -1;
	}
	if (!strcmp(user, "<token>")) {
		out->identity_token = xstrdup(secret);
	} else {
		out->user = xstrdup(user);
		out->password = xstrdup(secret);
	}
	json_decref(j);
	return 1;
}

/* ------------------------------------------------------------ files */

static json_t *load_json(const char *path, struct error **err)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	sb.cap = 16 << 20;
	if (strbuf_read_file(&sb, path) < 0) {
		if (errno == ENOENT)
			return NULL;
		error_set_errno(err, "read '%s'", path);
		return NULL;
	}
	if (!sb.len)
		return json_object();
	json_error_t je;
	json_t *j = json_loadb(sb.buf, sb.len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		error_set(err, KILN_EINVAL, "%s:%d: invalid JSON: %s", path,
			  je.line, j ? "not an object" : je.text);
		return NULL;
	}
	return j;
}

/* Fill out from an "auths" entry. */
static int creds_from_entry(const char *path, const char *key, json_t *e,
			    struct registry_creds *out, struct error **err)
{
	const char *auth = json_string_value(json_object_get(e, "auth"));
	const char *tok = json_string_value(json_object_get(e, "identitytoke"
							       "n"));
	const char *user = json_string_value(json_object_get(e, "username"));
	const char *pass = json_string_value(json_object_get(e, "password"));
	if (auth && *auth) {
		size_t n;
		char *dec = base64_decode(auth, &n);
		char *colon = dec ? memchr(dec, ':', n) : NULL;
		if (!colon) {
			free(dec);
			error_set(err, KILN_EINVAL,
				  "%s: invalid \"auth\" for '%s'", path, key);
			return -1;
		}
		*colon = '\0';
		out->user = xstrdup(dec);
		out->password = xstrdup(colon + 1);
		explicit_bzero(dec, n);
		free(dec);
	} else if (user && pass) {
		out->user = xstrdup(user);
		out->password = xstrdup(pass);
	}
	if (tok && *tok)
		out->identity_token = xstrdup(tok);
	return out->user || out->identity_token ? 1 : 0;
}

/* The most specific "auths" key for name ("host/a/b" → "host/a/b",
 * "host/a", "host"); keys are normalised (URLs, docker.io aliases). */
static json_t *find_auths(json_t *auths, const char *name, const char **key)
{
	json_t *best = NULL;
	size_t best_len = 0;
	const char *k;
	json_t *v;
	json_object_foreach(auths, k, v)
	{
		cleanup_free char *nk = registry_auth_key(k);
		size_t n = strlen(nk);
		if (strncmp(name, nk, n) || (name[n] && name[n] != '/'))
			continue;
		if (!best || n > best_len) {
			best = v;
			best_len = n;
			*key = k;
		}
	}
	return best;
}

static const char *helper_server(const char *host)
{
	return !strcmp(host, "docker.io") ? "https://index.docker.io/v1/"
					  : host;
}

int registry_creds_from_file(const char *path, const char *name,
			     struct registry_creds *out, struct error **err)
{
	json_t *j = load_json(path, err);
	if (!j)
		return err && *err ? -1 : 0;
	cleanup_free char *host = xstrdup(name);
	char *slash = strchr(host, '/');
	if (slash)
		*slash = '\0';
	int ret = 0;
	json_t *helpers = json_object_get(j, "credHelpers");
	const char *helper = NULL;
	if (json_is_object(helpers)) {
		const char *k;
		json_t *v;
		json_object_foreach(helpers, k, v)
		{
			cleanup_free char *nk = registry_auth_key(k);
			if (!strcmp(nk, host) && json_is_string(v))
				helper = json_string_value(v);
		}
	}
	json_t *auths = json_object_get(j, "auths");
	/* ~/.dockercfg: the entries are at the top level */
	if (!auths && ends_with(path, ".dockercfg"))
		auths = j;
	const char *key = NULL;
	json_t *e = json_is_object(auths) ? find_auths(auths, name, &key)
					  : NULL;
	const char *store = json_string_value(json_object_get(j, "credsStore"));
	if (helper && *helper)
		ret = registry_creds_from_helper(helper, helper_server(host),
						 out, err);
	else if (e && json_is_object(e))
		ret = creds_from_entry(path, key, e, out, err);
	if (!ret && store && *store)
		ret = registry_creds_from_helper(store, helper_server(host),
						 out, err);
	json_decref(j);
	return ret;
}

static char *default_auth_file(void)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run && *run)
		return xstrfmt("%s/containers/auth.json", run);
	const char *cfg = getenv("XDG_CONFIG_HOME");
	if (cfg && *cfg)
		return xstrfmt("%s/containers/auth.json", cfg);
	const char *home = getenv("HOME");
	return xstrfmt("%s/.config/containers/auth.json",
		       home && *home ? home : "/root");
}

char *registry_auth_file_path(const char *authfile)
{
	if (authfile && *authfile)
		return xstrdup(authfile);
	const char *env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return xstrdup(env);
	return default_auth_file();
}

int registry_creds_lookup(const char *authfile, const char *name,
			  struct registry_creds *out, struct error **err)
{
	struct strvec files = STRVEC_INIT;
	const char *env = getenv("REGISTRY_AUTH_FILE");
	if (authfile && *authfile) {
		strvec_push(&files, authfile);
	} else if (env && *env) {
		strvec_push(&files, env);
	} else {
		const char *home = getenv("HOME");
		const char *run = getenv("XDG_RUNTIME_DIR");
		const char *cfg = getenv("XDG_CONFIG_HOME");
		const char *dcfg = getenv("DOCKER_CONFIG");
		if (!home || !*home)
			home = "/root";
		if (run && *run)
			strvec_pushf(&files, "%s/containers/auth.json", run);
		if (cfg && *cfg)
			strvec_pushf(&files, "%s/containers/auth.json", cfg);
		else
			strvec_pushf(&files, "%s/.config/containers/auth.json",
				     home);
		if (dcfg && *dcfg)
			strvec_pushf(&files, "%s/config.json", dcfg);
		else
			strvec_pushf(&files, "%s/.docker/config.json", home);
		strvec_pushf(&files, "%s/.dockercfg", home);
	}
	int ret = 0;
	for (size_t i = 0; i < files.nr && !ret; i++) {
		ret = registry_creds_from_file(files.v[i], name, out, err);
		if (ret > 0)
			debug("credentials for '%s' from %s", name, files.v[i]);
	}
	strvec_clear(&files);
	return ret;
}

/* ------------------------------------------------------------ writing */

static int write_json_atomic(const char *path, json_t *j, struct error **err)
{
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		/* make missing parents, private like podman's */
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			error_set_errno(err, "mkdir '%s'", dir);
			return -1;
		}
	}
	cleanup_free char *tmp = xstrfmt("%s.tmpXXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "create '%s'", tmp);
		return -1;
	}
	char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	size_t n = strlen(text);
	size_t off = 0;
	int ret = fchmod(fd, 0600);
	while (!ret && off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ret = -1;
		else
			off += w;
	}
	if (!ret && write(fd, "\n", 1) != 1)
		ret = -1;
	if (!ret)
		ret = fsync(fd);
	explicit_bzero(text, n);
	free(text);
	if (close(fd) < 0)
		ret = -1;
	if (!ret && rename(tmp, path) < 0)
		ret = -1;
	if (ret) {
		error_set_errno(err, "write '%s'", path);
		unlink(tmp);
	}
	return ret;
}

int registry_auth_store(const char *path, const char *key, const char *user,
			const char *password, struct error **err)
{
	json_t *j = load_json(path, err);
	if (!j) {
		if (err && *err)
			return -1;
		j = json_object();
	}
	json_t *auths = json_object_get(j, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(j, "auths", auths);
	}
	cleanup_free char *nkey = registry_auth_key(key);
	/* drop every spelling of this key (docker.io, its URL, ...) */
	bool found = false;
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(auths, tmp, k, v)
	{
		cleanup_free char *nk = registry_auth_key(k);
		if (!strcmp(nk, nkey)) {
			json_object_del(auths, k);
			found = true;
		}
	}
	if (user) {
		cleanup_free char *up = xstrfmt("%s:%s", user, password);
		char *enc = base64_encode(up, strlen(up));
		explicit_bzero(up, strlen(up));
		json_object_set_new(auths, nkey,
				    json_pack("{s:s}", "auth", enc));
		explicit_bzero(enc, strlen(enc));
		free(enc);
	} else if (!found) {
		json_decref(j);
		error_set(err, KILN_ENOTFOUND, "not logged in to '%s'", nkey);
		return -1;
	}
	int ret = write_json_atomic(path, j, err);
	json_decref(j);
	return ret;
}

int registry_auth_remove_all(const char *path, struct error **err)
{
	json_t *j = load_json(path, err);
	if (!j)
		return err && *err ? -1 : 0;
	json_object_set_new(j, "auths", json_object());
	int ret = write_json_atomic(path, j, err);
	json_decref(j);
	return ret;
}

/* ------------------------------------------------------------ challenges */

void auth_challenge_release(struct auth_challenge *ch)
{
	free(ch->scheme);
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
	free(ch->error);
	memset(ch, 0, sizeof(*ch));
}

static bool is_tchar(char c)
{
	return c && !strchr(" \t,=\";\r\n", c);
}

int auth_challenge_parse(struct auth_challenge *ch, const char *h)
{
	memset(ch, 0, sizeof(*ch));
	while (*h == ' ' || *h == '\t')
		h++;
	const char *b = h;
	while (is_tchar(*h))
		h++;
	if (h == b)
		return -1;
	ch->scheme = xstrndup(b, h - b);
	for (char *p = ch->scheme; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	for (;;) {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (!*h || *h == '\r' || *h == '\n')
			return 0;
		b = h;
		while (is_tchar(*h))
			h++;
		size_t klen = h - b;
		while (*h == ' ' || *h == '\t')
			h++;
		if (!klen || *h != '=') {
			/* a token68 (Basic xyz) or a following challenge */
			return 0;
		}
		h++;
		while (*h == ' ' || *h == '\t')
			h++;
		struct strbuf val = STRBUF_INIT;
		if (*h == '"') {
			h++;
			while (*h && *h != '"') {
				if (*h == '\\' && h[1])
					h++;
				strbuf_addch(&val, *h++);
			}
			if (*h != '"') {
				strbuf_release(&val);
				auth_challenge_release(ch);
				return -1;
			}
			h++;
		} else {
			const char *vb = h;
			while (is_tchar(*h))
				h++;
			strbuf_add(&val, vb, h - vb);
		}
		char **dst = NULL;
		if (klen == 5 && !strncasecmp(b, "realm", 5))
			dst = &ch->realm;
		else if (klen == 7 && !strncasecmp(b, "service", 7))
			dst = &ch->service;
		else if (klen == 5 && !strncasecmp(b, "scope", 5))
			dst = &ch->scope;
		else if (klen == 5 && !strncasecmp(b, "error", 5))
			dst = &ch->error;
		if (dst) {
			free(*dst);
			*dst = strbuf_detach(&val, NULL);
		} else {
			strbuf_release(&val);
		}
	}
}

/* ------------------------------------------------------------ redaction */

char *registry_redact_header(const char *line, size_t len)
{
	static const char *const secret[] = { "authorization",
					      "proxy-authorization", "cookie",
					      "set-cookie" };
	const char *colon = memchr(line, ':', len);
	if (colon) {
		size_t n = colon - line;
		for (size_t i = 0; i < ARRAY_SIZE(secret); i++) {
			if (n != strlen(secret[i]) ||
			    strncasecmp(line, secret[i], n))
				continue;
			const char *v = colon + 1;
			const char *end = line + len;
			while (v < end && *v == ' ')
				v++;
			const char *sp = v;
			while (sp < end && *sp != ' ' && *sp != '\r' &&
			       *sp != '\n')
				sp++;
			/* keep a scheme word ("Bearer"), drop the rest */
			if (i < 2 && sp < end && *sp == ' ')
				return xstrfmt("%.*s: %.*s <redacted>", (int)n,
					       line, (int)(sp - v), v);
			return xstrfmt("%.*s: <redacted>", (int)n, line);
		}
	}
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return xstrndup(line, len);
}

int registry_auth_lookup_user(const char *authfile, const char *key,
			      char **user, struct error **err)
{
	struct registry_creds cr = { 0 };
	int ret = registry_creds_lookup(authfile, key, &cr, err);
	if (ret > 0)
		*user = xstrdup(cr.user ? cr.user : "<token>");
	registry_creds_release(&cr);
	return ret;
}
