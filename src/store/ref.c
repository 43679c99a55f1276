/*
 * Reference helpers for the store, on top of oci/'s docker-compatible
 * parser: the full normalised form kept in index.json, the familiar form
 * users see, and the split `kiln images` prints.  Pure string functions.
 */
#include "store/store-internal.h"
#include "oci/oci.h"

char *store_ref_normalize(const char *ref, struct error **err)
{
	struct oci_ref *r = oci_ref_parse(ref, err);
	if (!r) {
		error_wrap(err, "reference '%s'", ref);
		return NULL;
	}
	char *s = oci_ref_string(r);
	oci_ref_free(r);
	return s;
}

char *store_ref_familiar(const char *full)
{
	struct oci_ref *r = oci_ref_parse(full, NULL);
	if (!r)
		return xstrdup(full);
	char *s = oci_ref_familiar(r);
	oci_ref_free(r);
	return s;
}

void store_ref_split(const char *full, char **repo, char **tag, char **digest)
{
	struct oci_ref *r = oci_ref_parse_name(full, NULL);
	if (!r) {
		*repo = xstrdup(full);
		*tag = xstrdup("");
		*digest = xstrdup("");
		return;
	}
	*repo = oci_ref_familiar_name(r);
	*tag = xstrdup(r->tag ? r->tag : "");
	*digest = xstrdup(r->digest ? r->digest : "");
	oci_ref_free(r);
}
