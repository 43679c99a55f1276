/*
 * Image reference normalisation with docker's rules, a small adapter the
 * store uses until oci/ provides the real parser: "busybox" becomes
 * "docker.io/library/busybox:latest", "localhost:5000/x" keeps its domain.
 * Pure string functions; no I/O.
 */
#include "store/store-internal.h"

#include <ctype.h>

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *p, size_t n)
{
	size_t i = 0;
	if (!n || !is_alnum_lower(p[0]))
		return false;
	while (i < n) {
		while (i < n && is_alnum_lower(p[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_alnum_lower(p[i]) || i == sep)
			return false;
	}
	return true;
}

static bool valid_domain(const char *p, size_t n)
{
	size_t i = 0;
	if (!n)
		return false;
	/* domain-component ('.' domain-component)* (':' port)? */
	for (;;) {
		size_t start = i;
		while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '-'))
			i++;
		if (i == start || p[start] == '-' || p[i - 1] == '-')
			return false;
		if (i == n)
			return true;
		if (p[i] == '.') {
			i++;
			continue;
		}
		if (p[i] == ':') {
			i++;
			if (i == n)
				return false;
			for (; i < n; i++)
				if (!isdigit((unsigned char)p[i]))
					return false;
			return true;
		}
		return false;
	}
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (!n || n > 128)
		return false;
	if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' ||
		      t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

static bool valid_ref_digest(const char *d)
{
	const char *colon = strchr(d, ':');
	if (!colon || colon == d)
		return false;
	for (const char *p = d; p < colon; p++)
		if (!is_alnum_lower(*p) && !strchr("+._-", *p))
			return false;
	size_t n = strlen(colon + 1);
	if (n < 32)
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	if (starts_with(d, "sha256:"))
		return store_digest_valid(d);
	return true;
}

char *store_ref_normalize(const char *ref, struct error **err)
{
	cleanup_free char *name = xstrdup(ref);
	char *digest = NULL, *tag = NULL;
	char *at = strchr(name, '@');
	if (at) {
		*at = '\0';
		digest = at + 1;
		if (!valid_ref_digest(digest)) {
			error_set(err, KILN_EINVAL,
				  "invalid reference format: '%s'", ref);
			return NULL;
		}
	}
	char *slash = strrchr(name, '/');
	char *colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
		if (!valid_tag(tag)) {
			error_set(err, KILN_EINVAL,
				  "invalid reference format: '%s'", ref);
			return NULL;
		}
	}
	if (!*name || strlen(name) > 255) {
		error_set(err, KILN_EINVAL, "invalid reference format: '%s'",
			  ref);
		return NULL;
	}
	const char *domain = "docker.io";
	const char *path = name;
	char *first = strchr(name, '/');
	if (first) {
		size_t n = (size_t)(first - name);
		bool upper = false;
		for (size_t i = 0; i < n; i++)
			upper |= isupper((unsigned char)name[i]) != 0;
		if (memchr(name, '.', n) || memchr(name, ':', n) ||
		    (n == 9 && !memcmp(name, "localhost", 9)) || upper) {
			*first = '\0';
			domain = name;
			path = first + 1;
			if (!valid_domain(domain, n)) {
				error_set(err, KILN_EINVAL,
					  "invalid reference format: '%s'",
					  ref);
				return NULL;
			}
			if (!strcmp(domain, "index.docker.io"))
				domain = "docker.io";
		}
	}
	/* validate path components */
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!valid_component(p, n)) {
			bool upper = false;
			for (size_t i = 0; i < n; i++)
				upper |= isupper((unsigned char)p[i]) != 0;
			error_set(err, KILN_EINVAL,
				  upper ? "invalid reference format: "
					  "repository "
					  "name must be lowercase: '%s'"
					: "invalid reference format: '%s'",
				  ref);
			return NULL;
		}
		if (!e)
			break;
		p = e + 1;
	}
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/", domain);
	if (!strcmp(domain, "docker.io") && !strchr(path, '/'))
		strbuf_addstr(&sb, "library/");
	strbuf_addstr(&sb, path);
	if (tag)
		strbuf_addf(&sb, ":%s", tag);
	if (digest)
		strbuf_addf(&sb, "@%s", digest);
	if (!tag && !digest)
		strbuf_addstr(&sb, ":latest");
	return strbuf_detach(&sb, NULL);
}

char *store_ref_familiar(const char *full)
{
	const char *p = full;
	if (skip_prefix(p, "docker.io/", &p)) {
		const char *rest;
		if (skip_prefix(p, "library/", &rest)) {
			size_t n = strcspn(rest, ":@");
			if (!memchr(rest, '/', n))
				p = rest;
		}
	}
	return xstrdup(p);
}

void store_ref_split(const char *full, char **repo, char **tag, char **digest)
{
	cleanup_free char *fam = store_ref_familiar(full);
	char *at = strchr(fam, '@');
	*digest = xstrdup(at ? at + 1 : "");
	if (at)
		*at = '\0';
	char *slash = strrchr(fam, '/');
	char *colon = strrchr(slash ? slash : fam, ':');
	*tag = xstrdup(colon ? colon + 1 : "");
	if (colon)
		*colon = '\0';
	*repo = xstrdup(fam);
}
