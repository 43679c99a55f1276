/*
 * Image references as the registry client needs them, with docker's
 * normalisation (busybox → docker.io/library/busybox:latest).  The oci/
 * module owns the general reference type; this is the small subset the
 * transport needs, kept here so the client has no upward dependency.
 */
#include "registry/registry.h"

#include "registry/registry-internal.h"

void registry_ref_release(struct registry_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

static bool valid_path(const char *p)
{
	/* components of [a-z0-9] joined by '.', '_', '__' or '-'s */
	if (!*p)
		return false;
	char prev = '/';
	for (; *p; p++) {
		char c = *p;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (alnum) {
			prev = c;
			continue;
		}
		if (c != '/' && c != '.' && c != '_' && c != '-')
			return false;
		if (prev == '/' || prev == '.' ||
		    (c != '-' && c != '_' && prev == '-'))
			return false;
		if (c == '/' && (prev == '_' || prev == '-'))
			return false;
		prev = c;
	}
	return prev != '/' && prev != '.' && prev != '_' && prev != '-';
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (!n || n > 128 || *t == '.' || *t == '-')
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '_' || *t == '.' ||
		      *t == '-'))
			return false;
	return true;
}

static bool valid_digest(const char *d)
{
	const char *hex;
	size_t want;
	if (skip_prefix(d, "sha256:", &hex))
		want = 64;
	else if (skip_prefix(d, "sha512:", &hex))
		want = 128;
	else
		return false;
	if (strlen(hex) != want)
		return false;
	for (; *hex; hex++)
		if (!((*hex >= '0' && *hex <= '9') ||
		      (*hex >= 'a' && *hex <= 'f')))
			return false;
	return true;
}

static bool valid_domain(const char *d)
{
	if (!*d)
		return false;
	for (; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '.' || *d == '-' ||
		      *d == ':' || *d == '[' || *d == ']'))
			return false;
	return true;
}

int registry_ref_parse(struct registry_ref *ref, const char *text,
		       struct error **err)
{
	memset(ref, 0, sizeof(*ref));
	cleanup_free char *s = xstrdup(text);
	char *at = strchr(s, '@');
	if (at) {
		*at = '\0';
		if (!valid_digest(at + 1)) {
			error_set(err, KILN_EINVAL,
				  "invalid reference '%s': bad digest", text);
			return -1;
		}
		ref->digest = xstrdup(at + 1);
	}
	char *slash = strrchr(s, '/');
	char *colon = strrchr(slash ? slash : s, ':');
	if (colon) {
		*colon = '\0';
		if (!valid_tag(colon + 1)) {
			error_set(err, KILN_EINVAL,
				  "invalid reference '%s': bad tag '%s'", text,
				  colon + 1);
			registry_ref_release(ref);
			return -1;
		}
		ref->tag = xstrdup(colon + 1);
	}
	char *first = strchr(s, '/');
	const char *name = s;
	if (first && (memchr(s, '.', first - s) || memchr(s, ':', first - s) ||
		      (first - s == 9 && !strncmp(s, "localhost", 9)))) {
		*first = '\0';
		if (!valid_domain(s)) {
			error_set(err, KILN_EINVAL,
				  "invalid reference '%s': bad registry '%s'",
				  text, s);
			registry_ref_release(ref);
			return -1;
		}
		ref->domain = xstrdup(registry_canonical_domain(s));
		ref->qualified = true;
		name = first + 1;
	} else {
		ref->domain = xstrdup("docker.io");
	}
	if (!valid_path(name)) {
		bool upper = false;
		for (const char *p = name; *p; p++)
			upper |= *p >= 'A' && *p <= 'Z';
		error_set(err, KILN_EINVAL,
			  upper ? "invalid reference '%s': repository name "
				  "must be lowercase"
				: "invalid reference '%s'",
			  text);
		registry_ref_release(ref);
		return -1;
	}
	if (!strcmp(ref->domain, "docker.io") && !strchr(name, '/'))
		ref->path = xstrfmt("library/%s", name);
	else
		ref->path = xstrdup(name);
	if (!ref->tag && !ref->digest)
		ref->tag = xstrdup("latest");
	return 0;
}

char *registry_ref_name(const struct registry_ref *ref)
{
	return xstrfmt("%s/%s", ref->domain, ref->path);
}

char *registry_ref_string(const struct registry_ref *ref)
{
	return xstrfmt("%s/%s%s%s%s%s", ref->domain, ref->path,
		       ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		       ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}
