/*
 * oci-internal.h: JSON reading and writing helpers shared by the oci/ files.
 * Readers take a context string ("manifest: layers[2]") used as the prefix
 * of their error messages; they return 0 or -1 with a KILN_EINVAL error.
 */
#ifndef KILN_OCI_INTERNAL_H
#define KILN_OCI_INTERNAL_H

#include "oci/oci.h"

/* Parse buf as a JSON object; errors read "<what>: invalid JSON: ...". */
json_t *oj_load_object(const char *buf, size_t len, const char *what,
		       struct error **err);
/* Append the compact JSON of v to out. */
void oj_dump(const json_t *v, struct strbuf *out);

/* Human name of a JSON value's type ("string", "number", ...). */
const char *oj_type_name(const json_t *v);

/*
 * Optional members: absent or null leaves *out NULL (or the list/map
 * absent/null) and returns 0.  `required` makes absence (and null) an error.
 */
int oj_get_string(const json_t *obj, const char *key, bool required, char **out,
		  const char *ctx, struct error **err);
int oj_get_strlist(const json_t *obj, const char *key, struct oci_strlist *out,
		   const char *ctx, struct error **err);
/* as_set: values must be objects ({}), stored as NULL; else strings. */
int oj_get_map(const json_t *obj, const char *key, bool as_set,
	       struct oci_map *out, const char *ctx, struct error **err);
/* Integer member; absent leaves *out unchanged and sets *present false. */
int oj_get_int(const json_t *obj, const char *key, bool required, int64_t *out,
	       const char *ctx, struct error **err);
int oj_get_bool(const json_t *obj, const char *key, bool *out, const char *ctx,
		struct error **err);

/* Writers: add key only when set/present; steal nothing from the caller. */
void oj_put_string(json_t *obj, const char *key, const char *v);
void oj_put_strlist(json_t *obj, const char *key, const struct oci_strlist *l);
void oj_put_map(json_t *obj, const char *key, const struct oci_map *m);
/* A JSON string; invalid UTF-8 bytes become U+FFFD (as Go writes them). */
json_t *oj_str(const char *s);
/* json_object_set_new that aborts on out-of-memory. */
void oj_set_new(json_t *obj, const char *key, json_t *v);

/* Descriptors and platforms as JSON (descriptor.c, platform.c). */
int oci_descriptor_from_json(const json_t *j, struct oci_descriptor *d,
			     const char *ctx, struct error **err);
json_t *oci_descriptor_to_json(const struct oci_descriptor *d, const char *ctx,
			       struct error **err);
int oci_platform_from_json(const json_t *j, struct oci_platform *p,
			   const char *ctx, struct error **err);
json_t *oci_platform_to_json(const struct oci_platform *p, const char *ctx,
			     struct error **err);

#endif
