/*
 * json.c: the small containers (oci_strlist, oci_map) and the JSON helpers
 * every reader and writer in oci/ uses.  Readers check types strictly and
 * name the offending member; writers add members in the order they are
 * called, so each object's key order is fixed by the code.
 */
#include "oci/oci-internal.h"

/* ---------------------------------------------------------------- strlist */

void oci_strlist_release(struct oci_strlist *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->nr = 0;
	l->state = OCI_ABSENT;
}

void oci_strlist_set_empty(struct oci_strlist *l)
{
	oci_strlist_release(l);
	l->v = xcalloc(1, sizeof(*l->v));
	l->state = OCI_PRESENT;
}

void oci_strlist_set_null(struct oci_strlist *l)
{
	oci_strlist_release(l);
	l->state = OCI_NULL;
}

void oci_strlist_push(struct oci_strlist *l, const char *s)
{
	if (l->state != OCI_PRESENT)
		oci_strlist_set_empty(l);
	l->v = xrealloc(l->v, st_mult(st_add(l->nr, 2), sizeof(*l->v)));
	l->v[l->nr++] = xstrdup(s);
	l->v[l->nr] = NULL;
}

void oci_strlist_set(struct oci_strlist *l, const char *const *v, size_t nr)
{
	oci_strlist_set_empty(l);
	for (size_t i = 0; i < nr; i++)
		oci_strlist_push(l, v[i]);
}

void oci_strlist_copy(struct oci_strlist *dst, const struct oci_strlist *src)
{
	oci_strlist_release(dst);
	if (src->state == OCI_PRESENT)
		oci_strlist_set(dst, (const char *const *)src->v, src->nr);
	else
		dst->state = src->state;
}

bool oci_strlist_equal(const struct oci_strlist *a, const struct oci_strlist *b)
{
	if (a->state != b->state || a->nr != b->nr)
		return false;
	for (size_t i = 0; i < a->nr; i++)
		if (strcmp(a->v[i], b->v[i]))
			return false;
	return true;
}

/* ---------------------------------------------------------------- map */

/* Index of key, or -(insertion point) - 1. */
static ssize_t map_find(const struct oci_map *m, const char *key)
{
	size_t lo = 0, hi = m->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->e[mid].key, key);
		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ssize_t)lo - 1;
}

void oci_map_set(struct oci_map *m, const char *key, const char *value)
{
	ssize_t i = map_find(m, key);
	m->state = OCI_PRESENT;
	if (i >= 0) {
		free(m->e[i].value);
		m->e[i].value = value ? xstrdup(value) : NULL;
		return;
	}
	size_t at = (size_t)(-i - 1);
	ALLOC_GROW(m->e, m->nr + 1, m->alloc);
	memmove(m->e + at + 1, m->e + at, (m->nr - at) * sizeof(*m->e));
	m->e[at].key = xstrdup(key);
	m->e[at].value = value ? xstrdup(value) : NULL;
	m->nr++;
}

const char *oci_map_get(const struct oci_map *m, const char *key)
{
	ssize_t i = map_find(m, key);
	return i >= 0 ? m->e[i].value : NULL;
}

bool oci_map_has(const struct oci_map *m, const char *key)
{
	return map_find(m, key) >= 0;
}

bool oci_map_remove(struct oci_map *m, const char *key)
{
	ssize_t i = map_find(m, key);
	if (i < 0)
		return false;
	free(m->e[i].key);
	free(m->e[i].value);
	memmove(m->e + i, m->e + i + 1, (m->nr - i - 1) * sizeof(*m->e));
	m->nr--;
	return true;
}

void oci_map_release(struct oci_map *m)
{
	for (size_t i = 0; i < m->nr; i++) {
		free(m->e[i].key);
		free(m->e[i].value);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

void oci_map_copy(struct oci_map *dst, const struct oci_map *src)
{
	oci_map_release(dst);
	for (size_t i = 0; i < src->nr; i++)
		oci_map_set(dst, src->e[i].key, src->e[i].value);
	dst->state = src->state;
}

static bool str_equal_null(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool oci_map_equal(const struct oci_map *a, const struct oci_map *b)
{
	if (a->state != b->state || a->nr != b->nr)
		return false;
	for (size_t i = 0; i < a->nr; i++)
		if (strcmp(a->e[i].key, b->e[i].key) ||
		    !str_equal_null(a->e[i].value, b->e[i].value))
			return false;
	return true;
}

/* ---------------------------------------------------------------- reading */

json_t *oj_load_object(const char *buf, size_t len, const char *what,
		       struct error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, 0, &jerr);
	if (!j) {
		error_set(err, KILN_EINVAL, "%s: invalid JSON: %s at line %d",
			  what, jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		error_set(err, KILN_EINVAL,
			  "%s: expected a JSON object, got %s", what,
			  oj_type_name(j));
		json_decref(j);
		return NULL;
	}
	return j;
}

void oj_dump(const json_t *v, struct strbuf *out)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!n)
		BUG("json_dumpb failed");
	strbuf_grow(out, n);
	if (json_dumpb(v, out->buf + out->len, n,
		       JSON_COMPACT | JSON_ENCODE_ANY) != n)
		BUG("json_dumpb size changed");
	strbuf_setlen(out, out->len + n);
}

const char *oj_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static int type_error(const char *ctx, const char *key, const char *want,
		      const json_t *got, struct error **err)
{
	error_set(err, KILN_EINVAL, "%s: '%s' must be %s, not %s", ctx, key,
		  want, oj_type_name(got));
	return -1;
}

static int missing(const char *ctx, const char *key, struct error **err)
{
	error_set(err, KILN_EINVAL, "%s: missing required field '%s'", ctx,
		  key);
	return -1;
}

int oj_get_string(const json_t *obj, const char *key, bool required, char **out,
		  const char *ctx, struct error **err)
{
	const json_t *v = json_object_get(obj, key);
	free(*out);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? (v ? type_error(ctx, key, "a string", v, err)
				     : missing(ctx, key, err))
				: 0;
	if (!json_is_string(v))
		return type_error(ctx, key, "a string", v, err);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int oj_get_strlist(const json_t *obj, const char *key, struct oci_strlist *out,
		   const char *ctx, struct error **err)
{
	const json_t *v = json_object_get(obj, key);
	size_t i;
	const json_t *s;

	oci_strlist_release(out);
	if (!v)
		return 0;
	if (json_is_null(v)) {
		out->state = OCI_NULL;
		return 0;
	}
	if (!json_is_array(v))
		return type_error(ctx, key, "an array of strings", v, err);
	oci_strlist_set_empty(out);
	json_array_foreach(v, i, s)
	{
		if (!json_is_string(s)) {
			error_set(err, KILN_EINVAL,
				  "%s: '%s[%zu]' must be a string, not %s", ctx,
				  key, i, oj_type_name(s));
			oci_strlist_release(out);
			return -1;
		}
		oci_strlist_push(out, json_string_value(s));
	}
	return 0;
}

int oj_get_map(const json_t *obj, const char *key, bool as_set,
	       struct oci_map *out, const char *ctx, struct error **err)
{
	const json_t *v = json_object_get(obj, key);
	const char *k;
	const json_t *val;

	oci_map_release(out);
	if (!v)
		return 0;
	if (json_is_null(v)) {
		out->state = OCI_NULL;
		return 0;
	}
	if (!json_is_object(v))
		return type_error(ctx, key, "an object", v, err);
	out->state = OCI_PRESENT;
	json_object_foreach((json_t *)v, k, val)
	{
		if (as_set ? !json_is_object(val) : !json_is_string(val)) {
			error_set(err, KILN_EINVAL,
				  "%s: '%s' member '%s' must be %s, not %s",
				  ctx, key, k,
				  as_set ? "an object" : "a string",
				  oj_type_name(val));
			oci_map_release(out);
			return -1;
		}
		oci_map_set(out, k, as_set ? NULL : json_string_value(val));
	}
	return 0;
}

int oj_get_int(const json_t *obj, const char *key, bool required, int64_t *out,
	       const char *ctx, struct error **err)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || (!required && json_is_null(v)))
		return required ? missing(ctx, key, err) : 0;
	if (!json_is_integer(v))
		return type_error(ctx, key, "an integer", v, err);
	*out = json_integer_value(v);
	return 0;
}

int oj_get_bool(const json_t *obj, const char *key, bool *out, const char *ctx,
		struct error **err)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return type_error(ctx, key, "a boolean", v, err);
	*out = json_is_true(v);
	return 0;
}

/* ---------------------------------------------------------------- writing */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A JSON string for s.  Invalid UTF-8 bytes become U+FFFD, as Go's
 * encoding/json writes them, so writing never fails on odd input.
 */
json_t *oj_str(const char *s)
{
	size_t n = strlen(s), i = 0;
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)s;
	while (i < n) {
		size_t k = utf8_seq(u + i, n - i);
		if (k) {
			strbuf_add(&sb, s + i, k);
			i += k;
		} else {
			strbuf_addstr(&sb, "\xef\xbf\xbd");
			i++;
		}
	}
	j = json_stringn(sb.buf, sb.len);
	strbuf_release(&sb);
	if (!j)
		die("out of memory building JSON");
	return j;
}

void oj_set_new(json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v))
		die("out of memory building JSON");
}

void oj_put_string(json_t *obj, const char *key, const char *v)
{
	if (v)
		oj_set_new(obj, key, oj_str(v));
}

void oj_put_strlist(json_t *obj, const char *key, const struct oci_strlist *l)
{
	if (l->state == OCI_ABSENT)
		return;
	if (l->state == OCI_NULL) {
		oj_set_new(obj, key, json_null());
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < l->nr; i++)
		if (!a || json_array_append_new(a, oj_str(l->v[i])))
			die("out of memory building JSON");
	oj_set_new(obj, key, a);
}

void oj_put_map(json_t *obj, const char *key, const struct oci_map *m)
{
	if (m->state == OCI_ABSENT)
		return;
	if (m->state == OCI_NULL) {
		oj_set_new(obj, key, json_null());
		return;
	}
	json_t *o = json_object();
	for (size_t i = 0; i < m->nr; i++) {
		json_t *k = oj_str(m->e[i].key);
		oj_set_new(o, json_string_value(k),
			   m->e[i].value ? oj_str(m->e[i].value)
					 : json_object());
		json_decref(k);
	}
	oj_set_new(obj, key, o);
}
