/*
 * ref.c: image references, normalised as docker does.  The grammar is
 * docker/distribution's:
 *   reference  = name [":" tag] ["@" digest]
 *   name       = [domain "/"] component ("/" component)*
 *   domain     = host [":" port]; host = dns-name | "[" ipv6 "]"
 *   component  = [a-z0-9]+ (separator [a-z0-9]+)*, separator = . | _ | __ | -+
 *   tag        = [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 * A parsed oci_ref always holds a domain ("docker.io" by default) and a full
 * path ("library/" added for official images on docker.io).
 */
#include "oci/oci.h"
#include <ctype.h>

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define FORMAT_ERR "invalid reference format"

static bool is_alnum_lower(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(int c)
{
	return is_alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(int c)
{
	return is_alnum(c) || c == '_';
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* dns-name = label ("." label)*, label = alnum | alnum [alnum-]* alnum */
static bool valid_dns_name(const char *s, size_t n)
{
	size_t i = 0;
	if (!n)
		return false;
	while (i < n) {
		size_t start = i;
		while (i < n && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-')
				return false;
			i++;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		if (i < n) {
			i++; /* '.' */
			if (i == n)
				return false;
		}
	}
	return true;
}

static bool valid_domain(const char *s)
{
	size_t n = strlen(s);
	const char *port = NULL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end == s + 1)
			return false;
		for (const char *p = s + 1; p < end; p++)
			if (!(isxdigit((unsigned char)*p) || *p == ':'))
				return false;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return false;
	} else {
		const char *colon = strchr(s, ':');
		if (!valid_dns_name(s, colon ? (size_t)(colon - s) : n))
			return false;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		if (!*port)
			return false;
		for (; *port; port++)
			if (*port < '0' || *port > '9')
				return false;
	}
	return true;
}

/* component = [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		if (i >= n || !is_alnum_lower(s[i]))
			return false;
		while (i < n && is_alnum_lower(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
	}
}

static bool valid_path(const char *s)
{
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (!valid_component(s, n))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

bool oci_tag_valid(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > OCI_REF_TAG_MAX || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/*
 * The digest grammar of a reference (checked before the algorithm and
 * length): [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)* ":" xdigit{32,}
 */
static bool ref_digest_grammar(const char *s)
{
	const char *p = s;
	for (;;) {
		if (!isalpha((unsigned char)*p))
			return false;
		while (is_alnum(*p))
			p++;
		if (*p == ':')
			break;
		if (!*p || !strchr("-_+.", *p))
			return false;
		p++;
	}
	p++;
	size_t n = 0;
	for (; p[n]; n++)
		if (!isxdigit((unsigned char)p[n]))
			return false;
	return n >= 32;
}

static bool is_image_id(const char *s)
{
	size_t n = strlen(s);
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void oci_ref_free(struct oci_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r);
}

static struct oci_ref *ref_parse(const char *s, bool default_tag,
				 struct error **err)
{
	if (!*s) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": repository name must have at least one "
				     "component");
		return NULL;
	}
	if (is_image_id(s)) {
		error_set(err, KILN_EINVAL,
			  "invalid repository name (%s), cannot specify "
			  "64-byte hexadecimal strings",
			  s);
		return NULL;
	}

	/* split the domain off as docker's splitDockerDomain does */
	cleanup_free char *domain = NULL;
	cleanup_free char *rest = NULL;
	const char *slash = strchr(s, '/');
	if (!slash ||
	    (!memchr(s, '.', slash - s) && !memchr(s, ':', slash - s) &&
	     !(slash - s == 9 && !memcmp(s, "localhost", 9)) &&
	     !has_upper(s, slash - s))) {
		domain = xstrdup(DEFAULT_DOMAIN);
		rest = xstrdup(s);
	} else {
		domain = xstrndup(s, slash - s);
		rest = xstrdup(slash + 1);
	}
	if (!strcmp(domain, LEGACY_DEFAULT_DOMAIN)) {
		free(domain);
		domain = xstrdup(DEFAULT_DOMAIN);
	}
	if (!strcmp(domain, DEFAULT_DOMAIN) && !strchr(rest, '/')) {
		char *t = xstrfmt(OFFICIAL_PREFIX "%s", rest);
		free(rest);
		rest = t;
	}

	/* the remote name is what precedes the first ':' */
	const char *colon = strchr(rest, ':');
	if (has_upper(rest, colon ? (size_t)(colon - rest) : strlen(rest))) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": repository name must be lowercase");
		return NULL;
	}

	/* rest = path [":" tag] ["@" digest] */
	char *digest = NULL, *tag = NULL;
	char *at = strchr(rest, '@');
	if (at) {
		*at = '\0';
		digest = at + 1;
	}
	char *tsep = strchr(rest, ':');
	if (tsep) {
		*tsep = '\0';
		tag = tsep + 1;
	}

	if (!valid_domain(domain)) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": invalid registry host '%s'", domain);
		return NULL;
	}
	if (!valid_path(rest)) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": invalid repository name '%s': "
				     "components are lowercase letters and "
				     "digits separated by '.', '_', '__' or "
				     "'-'",
			  rest);
		return NULL;
	}
	if (tag && !oci_tag_valid(tag)) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": invalid tag '%s': up to 128 of "
				     "[A-Za-z0-9_.-], not starting with '.' or "
				     "'-'",
			  tag);
		return NULL;
	}
	if (digest && !ref_digest_grammar(digest)) {
		error_set(err, KILN_EINVAL, FORMAT_ERR ": invalid digest '%s'",
			  digest);
		return NULL;
	}
	if (strlen(domain) + 1 + strlen(rest) > OCI_REF_NAME_MAX) {
		error_set(err, KILN_EINVAL,
			  FORMAT_ERR ": repository name must not be more than "
				     "%d characters",
			  OCI_REF_NAME_MAX);
		return NULL;
	}
	if (digest &&
	    oci_digest_parse(digest, NULL, err) == OCI_DIGEST_UNKNOWN) {
		error_wrap(err, FORMAT_ERR);
		return NULL;
	}

	struct oci_ref *r = xcalloc(1, sizeof(*r));
	r->domain = steal_pointer(&domain);
	r->path = xstrdup(rest);
	r->tag = tag ? xstrdup(tag) : NULL;
	r->digest = digest ? xstrdup(digest) : NULL;
	if (default_tag && !tag && !digest) {
		r->tag = xstrdup("latest");
		r->default_tag = true;
	}
	return r;
}

struct oci_ref *oci_ref_parse(const char *s, struct error **err)
{
	return ref_parse(s, true, err);
}

struct oci_ref *oci_ref_parse_name(const char *s, struct error **err)
{
	return ref_parse(s, false, err);
}

struct oci_ref *oci_ref_dup(const struct oci_ref *r)
{
	struct oci_ref *d = xcalloc(1, sizeof(*d));
	d->domain = xstrdup(r->domain);
	d->path = xstrdup(r->path);
	d->tag = r->tag ? xstrdup(r->tag) : NULL;
	d->digest = r->digest ? xstrdup(r->digest) : NULL;
	d->default_tag = r->default_tag;
	return d;
}

static void add_suffix(struct strbuf *sb, const struct oci_ref *r)
{
	if (r->tag)
		strbuf_addf(sb, ":%s", r->tag);
	if (r->digest)
		strbuf_addf(sb, "@%s", r->digest);
}

char *oci_ref_name(const struct oci_ref *r)
{
	return xstrfmt("%s/%s", r->domain, r->path);
}

char *oci_ref_string(const struct oci_ref *r)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/%s", r->domain, r->path);
	add_suffix(&sb, r);
	return strbuf_detach(&sb, NULL);
}

char *oci_ref_familiar_name(const struct oci_ref *r)
{
	if (strcmp(r->domain, DEFAULT_DOMAIN))
		return oci_ref_name(r);
	const char *p = r->path;
	const char *rest;
	if (skip_prefix(p, OFFICIAL_PREFIX, &rest) && !strchr(rest, '/'))
		p = rest;
	/*
	 * A first component that would read as a domain ("docker.io/a.b/c")
	 * keeps the domain, so the familiar form parses back to the same
	 * name (docker prints the ambiguous "a.b/c" here).
	 */
	const char *slash = strchr(p, '/');
	if (slash && (memchr(p, '.', slash - p) || memchr(p, ':', slash - p) ||
		      (slash - p == 9 && !memcmp(p, "localhost", 9))))
		return oci_ref_name(r);
	return xstrdup(p);
}

char *oci_ref_familiar(const struct oci_ref *r)
{
	struct strbuf sb = STRBUF_INIT;
	char *name = oci_ref_familiar_name(r);
	strbuf_addstr(&sb, name);
	free(name);
	add_suffix(&sb, r);
	return strbuf_detach(&sb, NULL);
}
