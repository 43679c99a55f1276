/*
 * Image references as the registry client needs them: oci_ref_parse()'s
 * docker normalisation (busybox → docker.io/library/busybox:latest) plus
 * whether the text named a registry, which decides if
 * unqualified-search-registries apply.
 */
#include "registry/registry-internal.h"

#include "oci/oci.h"

void registry_ref_release(struct registry_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

/* Whether the text names a registry (the rule oci_ref_parse applies). */
static bool names_domain(const char *text)
{
	const char *slash = strchr(text, '/');
	if (!slash)
		return false;
	size_t n = slash - text;
	if (memchr(text, '.', n) || memchr(text, ':', n) ||
	    (n == 9 && !strncmp(text, "localhost", 9)))
		return true;
	for (size_t i = 0; i < n; i++)
		if (text[i] >= 'A' && text[i] <= 'Z')
			return true;
	return false;
}

int registry_ref_parse(struct registry_ref *ref, const char *text,
		       struct error **err)
{
	memset(ref, 0, sizeof(*ref));
	struct oci_ref *r = oci_ref_parse(text, err);
	if (!r) {
		error_wrap(err, "reference '%s'", text);
		return -1;
	}
	ref->domain = xstrdup(registry_canonical_domain(r->domain));
	ref->path = steal_pointer(&r->path);
	ref->tag = steal_pointer(&r->tag);
	ref->digest = steal_pointer(&r->digest);
	ref->qualified = names_domain(text);
	oci_ref_free(r);
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
