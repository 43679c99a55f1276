/*
 * Conformance of src/oci against the OCI image-spec JSON Schemas and the
 * upstream validation fixtures (../shared/corpus/oci-schema, argv[1] is
 * the corpus directory).
 *
 *  1. kiln's strict readers agree with every fixture's pass/fail verdict;
 *     the docker-compat fixtures' digests match their bytes.
 *  2. The small draft-04 validator below agrees with the fixtures wherever
 *     the verdict is the schema's (the corpus README lists the 4 fixtures
 *     whose failure the schema does not express); this proves it can fail.
 *  3. Everything kiln writes (manifests, indexes, configs, descriptors and
 *     oci-layout built here) validates against the schemas and reads back.
 *
 * The validator supports what the 7 schemas use: type, properties,
 * patternProperties, additionalProperties, required, items, minItems,
 * maxItems, enum, minimum/maximum, minLength/maxLength, pattern (POSIX ERE
 * after translating (?: and \d \w), oneOf/anyOf/allOf/not and $ref to local
 * files by base name plus JSON pointers.  "format" is not checked (as
 * Python jsonschema by default).
 */
#include "oci/oci.h"
#include "../unit/tap.h"
#include <regex.h>
#include <sys/stat.h>

/* ================================================================ validator */

struct schema_doc {
	char *name; /* base name, "defs.json" */
	json_t *root;
};

struct validator {
	struct schema_doc docs[16];
	size_t nr;
	struct strbuf why; /* first failure, for diagnostics */
};

static const json_t *load_schema(struct validator *v, const char *dir,
				 const char *name)
{
	for (size_t i = 0; i < v->nr; i++)
		if (!strcmp(v->docs[i].name, name))
			return v->docs[i].root;
	if (v->nr == ARRAY_SIZE(v->docs))
		return NULL;
	char *path = xstrfmt("%s/%s", dir, name);
	json_error_t jerr;
	/* reals: the schemas' 64-bit bounds overflow json_int_t */
	json_t *root = json_load_file(path, JSON_DECODE_INT_AS_REAL, &jerr);
	free(path);
	if (!root)
		return NULL;
	v->docs[v->nr].name = xstrdup(name);
	v->docs[v->nr].root = root;
	return v->docs[v->nr++].root;
}

static void validator_release(struct validator *v)
{
	for (size_t i = 0; i < v->nr; i++) {
		free(v->docs[i].name);
		json_decref(v->docs[i].root);
	}
	strbuf_release(&v->why);
}

static const char *schema_dir;

PRINTF_LIKE(3, 4)
static bool fail(struct validator *v, const char *at, const char *fmt, ...)
{
	if (v->why.len)
		return false;
	va_list ap;
	strbuf_addf(&v->why, "%s: ", *at ? at : "/");
	va_start(ap, fmt);
	strbuf_vaddf(&v->why, fmt, ap);
	va_end(ap);
	return false;
}

/* Resolve a JSON pointer ("/definitions/x") inside root. */
static const json_t *json_pointer(const json_t *root, const char *ptr)
{
	const json_t *cur = root;
	while (cur && *ptr == '/') {
		ptr++;
		size_t n = strcspn(ptr, "/");
		struct strbuf tok = STRBUF_INIT;
		for (size_t i = 0; i < n; i++) {
			if (ptr[i] == '~' && i + 1 < n && ptr[i + 1] == '1')
				strbuf_addch(&tok, '/'), i++;
			else if (ptr[i] == '~' && i + 1 < n &&
				 ptr[i + 1] == '0')
				strbuf_addch(&tok, '~'), i++;
			else
				strbuf_addch(&tok, ptr[i]);
		}
		cur = json_object_get(cur, tok.buf);
		strbuf_release(&tok);
		ptr += n;
	}
	return *ptr ? NULL : cur;
}

/*
 * ECMA 262 regex (as the schemas write them) to POSIX ERE: (?: -> (,
 * \d and \w outside brackets to classes, other escapes kept literal.
 */
static char *ecma_to_ere(const char *re)
{
	struct strbuf sb = STRBUF_INIT;
	bool in_bracket = false;
	for (const char *p = re; *p; p++) {
		if (!in_bracket && p[0] == '(' && p[1] == '?' && p[2] == ':') {
			strbuf_addch(&sb, '(');
			p += 2;
		} else if (!in_bracket && p[0] == '\\' && p[1]) {
			p++;
			if (*p == 'd')
				strbuf_addstr(&sb, "[0-9]");
			else if (*p == 'w')
				strbuf_addstr(&sb, "[A-Za-z0-9_]");
			else if (*p == 's')
				strbuf_addstr(&sb, "[[:space:]]");
			else
				strbuf_addf(&sb, "\\%c", *p);
		} else {
			if (*p == '[' && !in_bracket) {
				in_bracket = true;
				strbuf_addch(&sb, '[');
				/* a leading ^ or ] belongs to the bracket */
				if (p[1] == '^')
					strbuf_addch(&sb, *++p);
				if (p[1] == ']')
					strbuf_addch(&sb, *++p);
				continue;
			}
			if (*p == ']' && in_bracket)
				in_bracket = false;
			strbuf_addch(&sb, *p);
		}
	}
	return strbuf_detach(&sb, NULL);
}

static int regex_search(const char *re, const char *s)
{
	regex_t rx;
	char *ere = ecma_to_ere(re);
	int rc = regcomp(&rx, ere, REG_EXTENDED | REG_NOSUB);
	free(ere);
	if (rc)
		return -1;
	rc = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return rc == 0;
}

static bool is_type(const json_t *inst, const char *t)
{
	if (!strcmp(t, "object"))
		return json_is_object(inst);
	if (!strcmp(t, "array"))
		return json_is_array(inst);
	if (!strcmp(t, "string"))
		return json_is_string(inst);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(inst);
	if (!strcmp(t, "null"))
		return json_is_null(inst);
	if (!strcmp(t, "number"))
		return json_is_number(inst);
	if (!strcmp(t, "integer")) {
		if (json_is_integer(inst))
			return true;
		double d = json_is_real(inst) ? json_real_value(inst) : 0.5;
		return json_is_real(inst) && d == (double)(long long)d;
	}
	return false;
}

static double num(const json_t *j)
{
	return json_is_integer(j) ? (double)json_integer_value(j)
				  : json_real_value(j);
}

/* Equality as JSON Schema's enum wants it (1 == 1.0). */
static bool json_same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return num(a) == num(b);
	return json_equal((json_t *)a, (json_t *)b);
}

static bool validate(struct validator *v, const json_t *doc,
		     const json_t *schema, const json_t *inst, const char *at);

static bool validate_ref(struct validator *v, const json_t *doc,
			 const char *ref, const json_t *inst, const char *at)
{
	const char *hash = strchr(ref, '#');
	size_t flen = hash ? (size_t)(hash - ref) : strlen(ref);
	const json_t *target_doc = doc;
	if (flen) {
		/* map any URL to the local file by its base name */
		char *file = xstrndup(ref, flen);
		const char *base = strrchr(file, '/');
		base = base ? base + 1 : file;
		target_doc = load_schema(v, schema_dir, base);
		if (!target_doc) {
			fail(v, at, "cannot load $ref '%s'", ref);
			free(file);
			return false;
		}
		free(file);
	}
	const json_t *target = hash && hash[1]
				       ? json_pointer(target_doc, hash + 1)
				       : target_doc;
	if (!target)
		return fail(v, at, "unresolvable $ref '%s'", ref);
	return validate(v, target_doc, target, inst, at);
}

/* Validate against each subschema of an array; returns how many passed. */
static size_t count_valid(struct validator *v, const json_t *doc,
			  const json_t *arr, const json_t *inst, const char *at)
{
	size_t n = 0, i;
	const json_t *sub;
	json_array_foreach(arr, i, sub)
	{
		struct strbuf saved = v->why;
		strbuf_init(&v->why, 0);
		if (validate(v, doc, sub, inst, at))
			n++;
		strbuf_release(&v->why);
		v->why = saved;
	}
	return n;
}

static bool validate(struct validator *v, const json_t *doc,
		     const json_t *schema, const json_t *inst, const char *at)
{
	const json_t *k;

	if (!json_is_object(schema))
		return fail(v, at, "schema is not an object");
	/* draft-04: $ref replaces the rest of the schema */
	k = json_object_get(schema, "$ref");
	if (json_is_string(k))
		return validate_ref(v, doc, json_string_value(k), inst, at);

	k = json_object_get(schema, "type");
	if (json_is_string(k) && !is_type(inst, json_string_value(k)))
		return fail(v, at, "not of type %s", json_string_value(k));
	if (json_is_array(k)) {
		bool any = false;
		size_t i;
		const json_t *t;
		json_array_foreach(k, i, t)
			any |= is_type(inst, json_string_value(t));
		if (!any)
			return fail(v, at, "not of any allowed type");
	}

	k = json_object_get(schema, "enum");
	if (json_is_array(k)) {
		bool found = false;
		size_t i;
		const json_t *e;
		json_array_foreach(k, i, e) found |= json_same(e, inst);
		if (!found)
			return fail(v, at, "not one of the enum values");
	}

	if (json_is_number(inst)) {
		const json_t *mn = json_object_get(schema, "minimum");
		const json_t *mx = json_object_get(schema, "maximum");
		bool exmin = json_is_true(json_object_get(schema, "exclusiveMin"
								  "imum"));
		bool exmax = json_is_true(json_object_get(schema, "exclusiveMax"
								  "imum"));
		if (mn && (exmin ? num(inst) <= num(mn) : num(inst) < num(mn)))
			return fail(v, at, "below minimum");
		if (mx && (exmax ? num(inst) >= num(mx) : num(inst) > num(mx)))
			return fail(v, at, "above maximum");
	}

	if (json_is_string(inst)) {
		const char *s = json_string_value(inst);
		size_t len = 0; /* code points */
		for (const char *p = s; *p; p++)
			len += ((unsigned char)*p & 0xc0) != 0x80;
		k = json_object_get(schema, "minLength");
		if (k && len < num(k))
			return fail(v, at, "shorter than minLength");
		k = json_object_get(schema, "maxLength");
		if (k && len > num(k))
			return fail(v, at, "longer than maxLength");
		k = json_object_get(schema, "pattern");
		if (json_is_string(k)) {
			int m = regex_search(json_string_value(k), s);
			if (m < 0)
				return fail(v, at, "bad pattern '%s'",
					    json_string_value(k));
			if (!m)
				return fail(v, at, "'%s' does not match '%s'",
					    s, json_string_value(k));
		}
	}

	if (json_is_array(inst)) {
		size_t n = json_array_size(inst);
		k = json_object_get(schema, "minItems");
		if (k && n < num(k))
			return fail(v, at, "fewer than minItems");
		k = json_object_get(schema, "maxItems");
		if (k && n > num(k))
			return fail(v, at, "more than maxItems");
		k = json_object_get(schema, "items");
		for (size_t i = 0; k && i < n; i++) {
			const json_t *sub =
				json_is_array(k) ? json_array_get(k, i) : k;
			if (!sub)
				break; /* additionalItems: not used */
			char *a = xstrfmt("%s/%zu", at, i);
			bool okk = validate(v, doc, sub,
					    json_array_get(inst, i), a);
			free(a);
			if (!okk)
				return false;
		}
	}

	if (json_is_object(inst)) {
		const json_t *props = json_object_get(schema, "properties");
		const json_t *pprops = json_object_get(schema, "patternProperti"
							       "es");
		const json_t *addl = json_object_get(schema, "additionalPropert"
							     "ies");
		size_t i;
		const json_t *r;
		json_array_foreach(json_object_get(schema, "required"), i, r)
		{
			if (!json_object_get(inst, json_string_value(r)))
				return fail(v, at, "missing required '%s'",
					    json_string_value(r));
		}
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)inst, key, val)
		{
			char *a = xstrfmt("%s/%s", at, key);
			bool matched = false, good = true;
			const json_t *ps = json_object_get(props, key);
			if (ps) {
				matched = true;
				good = validate(v, doc, ps, val, a);
			}
			const char *pat;
			const json_t *psub;
			json_object_foreach((json_t *)pprops, pat, psub)
			{
				if (!good)
					break;
				int m = regex_search(pat, key);
				if (m < 0) {
					good = fail(v, a, "bad pattern '%s'",
						    pat);
				} else if (m) {
					matched = true;
					good = validate(v, doc, psub, val, a);
				}
			}
			if (good && !matched && addl) {
				if (json_is_false(addl))
					good = fail(v, a,
						    "additional property not "
						    "allowed");
				else if (json_is_object(addl))
					good = validate(v, doc, addl, val, a);
			}
			free(a);
			if (!good)
				return false;
		}
	}

	k = json_object_get(schema, "allOf");
	if (json_is_array(k) &&
	    count_valid(v, doc, k, inst, at) != json_array_size(k))
		return fail(v, at, "not valid against allOf");
	k = json_object_get(schema, "anyOf");
	if (json_is_array(k) && count_valid(v, doc, k, inst, at) == 0)
		return fail(v, at, "not valid against anyOf");
	k = json_object_get(schema, "oneOf");
	if (json_is_array(k) && count_valid(v, doc, k, inst, at) != 1)
		return fail(v, at, "not valid against exactly one of oneOf");
	k = json_object_get(schema, "not");
	if (json_is_object(k)) {
		struct strbuf saved = v->why;
		strbuf_init(&v->why, 0);
		bool inner = validate(v, doc, k, inst, at);
		strbuf_release(&v->why);
		v->why = saved;
		if (inner)
			return fail(v, at, "valid against 'not'");
	}
	return true;
}

/* Validate a document (text) against a schema file; why says what failed. */
static bool validate_text(struct validator *v, const char *schema_name,
			  const char *text, size_t len)
{
	strbuf_reset(&v->why);
	const json_t *schema = load_schema(v, schema_dir, schema_name);
	if (!schema)
		return fail(v, "", "cannot load schema %s", schema_name);
	json_error_t jerr;
	json_t *inst = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!inst)
		return fail(v, "", "invalid JSON: %s", jerr.text);
	bool good = validate(v, schema, schema, inst, "");
	json_decref(inst);
	return good;
}

/* ================================================================ fixtures */

struct fixture {
	char *file, *validator, *expected, *digest, *subst;
};

static const char *schema_for(const char *validator)
{
	if (!strcmp(validator, "Manifest"))
		return "image-manifest-schema.json";
	if (!strcmp(validator, "ImageIndex"))
		return "image-index-schema.json";
	if (!strcmp(validator, "ImageConfig"))
		return "config-schema.json";
	if (!strcmp(validator, "Descriptor"))
		return "content-descriptor.json";
	if (!strcmp(validator, "LayoutHeader"))
		return "image-layout-schema.json";
	return NULL;
}

/* Run kiln's strict reader of that kind; 0 when it accepts. */
static int kiln_read(const char *validator, const char *buf, size_t len,
		     struct error **err)
{
	if (!strcmp(validator, "Manifest")) {
		struct oci_manifest *m =
			oci_manifest_parse(buf, len, OCI_PARSE_SCHEMA, err);
		oci_manifest_free(m);
		return m ? 0 : -1;
	}
	if (!strcmp(validator, "ImageIndex")) {
		struct oci_index *i = oci_index_parse(buf, len, err);
		oci_index_free(i);
		return i ? 0 : -1;
	}
	if (!strcmp(validator, "ImageConfig")) {
		struct oci_image_config *c =
			oci_image_config_parse(buf, len, err);
		oci_image_config_free(c);
		return c ? 0 : -1;
	}
	if (!strcmp(validator, "Descriptor")) {
		struct oci_descriptor *d = oci_descriptor_parse(buf, len, err);
		oci_descriptor_free(d);
		return d ? 0 : -1;
	}
	if (!strcmp(validator, "LayoutHeader"))
		return oci_layout_check(buf, len, err);
	error_set(err, KILN_EINVAL, "unknown validator '%s'", validator);
	return -1;
}

/* Upstream swaps Docker v2.2 media types for OCI ones before validating. */
static void docker_to_oci(struct strbuf *sb)
{
	static const char *const map[][2] = {
		{ DOCKER_MEDIATYPE_MANIFEST_LIST, OCI_MEDIATYPE_INDEX },
		{ DOCKER_MEDIATYPE_MANIFEST, OCI_MEDIATYPE_MANIFEST },
		{ DOCKER_MEDIATYPE_LAYER_GZIP, OCI_MEDIATYPE_LAYER_GZIP },
		{ DOCKER_MEDIATYPE_CONFIG, OCI_MEDIATYPE_CONFIG },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		struct strbuf out = STRBUF_INIT;
		const char *p = sb->buf, *hit;
		while ((hit = strstr(p, map[i][0]))) {
			strbuf_add(&out, p, hit - p);
			strbuf_addstr(&out, map[i][1]);
			p = hit + strlen(map[i][0]);
		}
		strbuf_addstr(&out, p);
		strbuf_release(sb);
		*sb = out;
	}
}

/* The fixtures whose failure is beyond the schema (corpus README). */
static bool beyond_schema(const char *file)
{
	static const char *const list[] = {
		"image-config-10-invalid.json",
		"descriptor-16-invalid.json",
		"descriptor-18-invalid.json",
		"descriptor-30-invalid.json",
	};
	for (size_t i = 0; i < ARRAY_SIZE(list); i++)
		if (!strcmp(file, list[i]))
			return true;
	return false;
}

static void run_fixtures(struct validator *v, const char *fixdir)
{
	struct strbuf tsv = STRBUF_INIT;
	char *path = xstrfmt("%s/index.tsv", fixdir);
	if (strbuf_read_file(&tsv, path) < 0) {
		ok(0, "read %s", path);
		free(path);
		return;
	}
	free(path);

	size_t nfix = 0, agree = 0, schema_agree = 0;
	char *save = NULL;
	for (char *line = strtok_r(tsv.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7] = { 0 };
		size_t n = 0;
		for (char *p = line; n < 7;) {
			f[n++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (n < 5 || !strcmp(f[0], "file"))
			continue;
		const char *file = f[0], *validator = f[1], *expected = f[2];
		bool want_pass = !strcmp(expected, "pass");
		nfix++;

		struct strbuf doc = STRBUF_INIT;
		char *fp = xstrfmt("%s/%s", fixdir, file);
		if (strbuf_read_file(&doc, fp) < 0) {
			ok(0, "read %s", fp);
			free(fp);
			continue;
		}
		free(fp);

		/* 1. kiln's strict reader agrees with the verdict */
		struct error *err = NULL;
		bool kiln_pass = !kiln_read(validator, doc.buf, doc.len, &err);
		agree += kiln_pass == want_pass;
		ok(kiln_pass == want_pass, "reader %s %s: %s",
		   kiln_pass ? "accepts" : "rejects", file,
		   err ? err->msg : "ok");
		error_free(err);

		/* the docker-compat documents are pinned by digest */
		if (strcmp(f[3], "-")) {
			char d[OCI_SHA256_DIGEST_LEN + 1];
			oci_sha256_digest(doc.buf, doc.len, d);
			is_str(d, f[3], "%s digest matches its bytes", file);
		}

		/* 2. the schema validator agrees where the schema decides */
		bool schema_want = want_pass || beyond_schema(file);
		if (!strcmp(f[4], "yes"))
			docker_to_oci(&doc);
		bool schema_pass = validate_text(v, schema_for(validator),
						 doc.buf, doc.len);
		schema_agree += schema_pass == schema_want;
		ok(schema_pass == schema_want, "schema %s %s%s%s",
		   schema_pass ? "accepts" : "rejects", file,
		   schema_pass ? "" : ": ", schema_pass ? "" : v->why.buf);
		strbuf_release(&doc);
	}
	ok(nfix >= 71, "%zu fixtures read (README says 71)", nfix);
	printf("# reader agrees on %zu/%zu, schema validator on %zu/%zu\n",
	       agree, nfix, schema_agree, nfix);
	strbuf_release(&tsv);
}

/* ================================================================ kiln writes
 */

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D64 "sha256:" HEX64

static void set_desc(struct oci_descriptor *d, const char *mt,
		     const char *digest, int64_t size)
{
	oci_descriptor_release(d);
	d->media_type = xstrdup(mt);
	d->digest = xstrdup(digest);
	d->size = size;
}

static void check_written(struct validator *v, const char *what,
			  const char *schema, const char *validator,
			  const struct strbuf *sb, int rc)
{
	if (!ok(rc == 0, "%s: kiln writes it", what))
		return;
	bool good = validate_text(v, schema, sb->buf, sb->len);
	ok(good, "%s: valid against %s%s%s", what, schema, good ? "" : ": ",
	   good ? "" : v->why.buf);
	struct error *err = NULL;
	int r = kiln_read(validator, sb->buf, sb->len, &err);
	ok(r == 0, "%s: kiln reads it back%s%s", what, err ? ": " : "",
	   err ? err->msg : "");
	error_free(err);
}

static void test_manifests(struct validator *v)
{
	struct oci_manifest m = { .schema_version = 2 };
	struct oci_descriptor l = { 0 };
	struct strbuf sb = STRBUF_INIT;

	m.media_type = xstrdup(OCI_MEDIATYPE_MANIFEST);
	set_desc(&m.config, OCI_MEDIATYPE_CONFIG, D64, 1470);
	static const char *const layer_types[] = { OCI_MEDIATYPE_LAYER,
						   OCI_MEDIATYPE_LAYER_GZIP,
						   OCI_MEDIATYPE_LAYER_ZSTD };
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++) {
		char digest[OCI_SHA256_DIGEST_LEN + 1];
		oci_sha256_digest(layer_types[i], strlen(layer_types[i]),
				  digest);
		set_desc(&l, layer_types[i], digest, 1000 + (int64_t)i);
		oci_manifest_add_layer(&m, &l);
	}
	check_written(v, "OCI manifest", "image-manifest-schema.json",
		      "Manifest", &sb, oci_manifest_serialize(&m, &sb, NULL));

	/* every optional field */
	oci_map_set(&m.annotations, "org.opencontainers.image.source",
		    "https://example.com/src");
	oci_map_set(&m.layers[0].annotations, "k", "v");
	oci_strlist_push(&m.layers[1].urls, "https://example.com/layer");
	m.layers[2].data = xstrdup("aGVsbG8=");
	m.artifact_type = xstrdup("application/vnd.example+type");
	m.subject = xcalloc(1, sizeof(*m.subject));
	set_desc(m.subject, OCI_MEDIATYPE_MANIFEST, D64, 321);
	strbuf_reset(&sb);
	check_written(v, "OCI manifest with all optional fields",
		      "image-manifest-schema.json", "Manifest", &sb,
		      oci_manifest_serialize(&m, &sb, NULL));
	oci_manifest_release(&m);

	/* Docker schema2 */
	m.schema_version = 2;
	m.media_type = xstrdup(DOCKER_MEDIATYPE_MANIFEST);
	set_desc(&m.config, DOCKER_MEDIATYPE_CONFIG, D64, 1457);
	set_desc(&l, DOCKER_MEDIATYPE_LAYER_GZIP, D64, 3408729);
	oci_manifest_add_layer(&m, &l);
	strbuf_reset(&sb);
	check_written(v, "Docker schema2 manifest",
		      "image-manifest-schema.json", "Manifest", &sb,
		      oci_manifest_serialize(&m, &sb, NULL));
	oci_manifest_release(&m);
	oci_descriptor_release(&l);

	/* the schema catches a writer bug: a manifest with no layers */
	m.schema_version = 2;
	set_desc(&m.config, OCI_MEDIATYPE_EMPTY,
		 "sha256:"
		 "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaf"
		 "f8a",
		 2);
	strbuf_reset(&sb);
	bool rejected =
		!oci_manifest_serialize(&m, &sb, NULL) &&
		!validate_text(v, "image-manifest-schema.json", sb.buf, sb.len);
	ok(rejected && strstr(v->why.buf, "minItems"),
	   "layer-less manifest fails the schema (minItems), as expected: %s",
	   v->why.buf);
	oci_manifest_release(&m);
	strbuf_release(&sb);
}

static void add_entry(struct oci_index *idx, const char *mt, const char *os,
		      const char *arch, const char *variant, const char *ref)
{
	struct oci_descriptor d = { 0 };
	char digest[OCI_SHA256_DIGEST_LEN + 1];
	char *seed = xstrfmt("%s/%s/%s/%s", mt, os ? os : "", arch ? arch : "",
			     variant ? variant : "");
	oci_sha256_digest(seed, strlen(seed), digest);
	free(seed);
	set_desc(&d, mt, digest, 700);
	if (os) {
		d.platform = xcalloc(1, sizeof(*d.platform));
		d.platform->os = xstrdup(os);
		d.platform->architecture = xstrdup(arch);
		d.platform->variant = variant ? xstrdup(variant) : NULL;
	}
	if (ref)
		oci_map_set(&d.annotations, OCI_ANNOTATION_REF_NAME, ref);
	oci_index_add(idx, &d);
	oci_descriptor_release(&d);
}

static void test_indexes(struct validator *v)
{
	struct oci_index idx = { .schema_version = 2 };
	struct strbuf sb = STRBUF_INIT;

	idx.media_type = xstrdup(OCI_MEDIATYPE_INDEX);
	add_entry(&idx, OCI_MEDIATYPE_MANIFEST, "linux", "amd64", NULL, NULL);
	add_entry(&idx, OCI_MEDIATYPE_MANIFEST, "linux", "arm64", "v8", NULL);
	add_entry(&idx, OCI_MEDIATYPE_MANIFEST, "linux", "arm", "v7", NULL);
	add_entry(&idx, OCI_MEDIATYPE_MANIFEST, "windows", "amd64", NULL, NULL);
	idx.manifests[3].platform->os_version = xstrdup("10.0.17763.1879");
	oci_strlist_push(&idx.manifests[3].platform->os_features, "win32k");
	oci_map_set(&idx.annotations, "org.opencontainers.image.version",
		    "1.0");
	check_written(v, "OCI multi-platform index", "image-index-schema.json",
		      "ImageIndex", &sb, oci_index_serialize(&idx, &sb, NULL));
	idx.artifact_type = xstrdup("application/vnd.example+type");
	idx.subject = xcalloc(1, sizeof(*idx.subject));
	set_desc(idx.subject, OCI_MEDIATYPE_INDEX, D64, 99);
	strbuf_reset(&sb);
	check_written(v, "OCI index with subject and artifactType",
		      "image-index-schema.json", "ImageIndex", &sb,
		      oci_index_serialize(&idx, &sb, NULL));
	oci_index_release(&idx);

	/* the store's index.json: one descriptor per tag */
	idx.schema_version = 2;
	idx.media_type = xstrdup(OCI_MEDIATYPE_INDEX);
	add_entry(&idx, OCI_MEDIATYPE_MANIFEST, NULL, NULL, NULL,
		  "docker.io/library/busybox:latest");
	add_entry(&idx, OCI_MEDIATYPE_INDEX, NULL, NULL, NULL,
		  "helloworld:multi");
	add_entry(&idx, DOCKER_MEDIATYPE_MANIFEST, NULL, NULL, NULL, "old:1");
	strbuf_reset(&sb);
	check_written(v, "store index.json", "image-index-schema.json",
		      "ImageIndex", &sb, oci_index_serialize(&idx, &sb, NULL));
	oci_index_release(&idx);

	idx.schema_version = 2;
	idx.media_type = xstrdup(DOCKER_MEDIATYPE_MANIFEST_LIST);
	add_entry(&idx, DOCKER_MEDIATYPE_MANIFEST, "linux", "amd64", NULL,
		  NULL);
	add_entry(&idx, DOCKER_MEDIATYPE_MANIFEST, "linux", "arm", "v6", NULL);
	strbuf_reset(&sb);
	check_written(v, "Docker manifest list", "image-index-schema.json",
		      "ImageIndex", &sb, oci_index_serialize(&idx, &sb, NULL));
	oci_index_release(&idx);
	strbuf_release(&sb);
}

static void test_configs(struct validator *v)
{
	struct oci_image_config c = { 0 };
	struct strbuf sb = STRBUF_INIT;

	c.architecture = xstrdup("amd64");
	c.os = xstrdup("linux");
	check_written(v, "minimal config", "config-schema.json", "ImageConfig",
		      &sb, oci_image_config_serialize(&c, &sb, NULL));

	c.created = xstrdup("2024-05-01T12:00:00Z");
	c.author = xstrdup("Alyssa P. Hacker <alyspdev@example.com>");
	c.variant = xstrdup("v3");
	c.os_version = xstrdup("6.1");
	oci_strlist_push(&c.os_features, "feature");
	c.has_config = true;
	c.config.user = xstrdup("1:1");
	oci_map_set(&c.config.exposed_ports, "8080/tcp", NULL);
	oci_strlist_push(&c.config.env, "PATH=/usr/bin");
	oci_strlist_push(&c.config.entrypoint, "/bin/sh");
	oci_strlist_push(&c.config.cmd, "-c");
	oci_strlist_push(&c.config.cmd, "echo hi");
	oci_map_set(&c.config.volumes, "/var/lib/data", NULL);
	c.config.working_dir = xstrdup("/home/alice");
	oci_map_set(&c.config.labels, "com.example.key", "value");
	c.config.stop_signal = xstrdup("SIGKILL");
	c.config.args_escaped = true;
	c.config.healthcheck = xcalloc(1, sizeof(*c.config.healthcheck));
	oci_strlist_push(&c.config.healthcheck->test, "CMD");
	oci_strlist_push(&c.config.healthcheck->test, "true");
	c.config.healthcheck->interval = 1000000000;
	c.config.healthcheck->retries = 3;
	oci_strlist_push(&c.config.on_build, "RUN true");
	oci_strlist_push(&c.config.shell, "/bin/sh");
	oci_strlist_push(&c.config.shell, "-c");
	char digest[OCI_SHA256_DIGEST_LEN + 1];
	oci_sha256_digest("layer", 5, digest);
	oci_strlist_push(&c.diff_ids, digest);
	oci_image_config_add_history(&c, "2024-05-01T12:00:00Z",
				     "RUN /bin/sh -c true # buildkit", "me",
				     "buildkit.dockerfile.v0", false);
	oci_image_config_add_history(&c, "2024-05-01T12:00:01Z", "CMD", NULL,
				     NULL, true);
	strbuf_reset(&sb);
	check_written(v, "config with every field", "config-schema.json",
		      "ImageConfig", &sb,
		      oci_image_config_serialize(&c, &sb, NULL));

	/* docker's nulls: Cmd/Entrypoint/Volumes/Labels may be null */
	oci_strlist_set_null(&c.config.cmd);
	oci_strlist_set_null(&c.config.entrypoint);
	oci_map_release(&c.config.volumes);
	c.config.volumes.state = OCI_NULL;
	oci_map_release(&c.config.labels);
	c.config.labels.state = OCI_NULL;
	oci_strlist_set_empty(&c.config.on_build);
	strbuf_reset(&sb);
	check_written(v, "config with docker's nulls", "config-schema.json",
		      "ImageConfig", &sb,
		      oci_image_config_serialize(&c, &sb, NULL));
	oci_image_config_release(&c);
	strbuf_release(&sb);

	/* a pulled docker config is read, then written valid */
	static const char pulled[] = "{\"architecture\":\"amd64\",\"config\":{"
				     "\"Hostname\":\"\",\"Env\":null,\"Cmd\":"
				     "null,"
				     "\"Volumes\":null,\"Entrypoint\":null,"
				     "\"OnBuild\":null,\"Labels\":{}},"
				     "\"container_config\":{\"Cmd\":[\"/bin/"
				     "sh\"]},\"os\":\"linux\","
				     "\"rootfs\":{\"type\":\"layers\",\"diff_"
				     "ids\":[]}}";
	struct oci_image_config *p =
		oci_image_config_parse(pulled, strlen(pulled), NULL);
	ok(p != NULL, "pulled docker config reads");
	if (p) {
		struct strbuf out = STRBUF_INIT;
		check_written(v, "re-written docker config",
			      "config-schema.json", "ImageConfig", &out,
			      oci_image_config_serialize(p, &out, NULL));
		strbuf_release(&out);
		oci_image_config_free(p);
	}
}

static void test_misc(struct validator *v)
{
	struct strbuf sb = STRBUF_INIT;
	struct oci_descriptor d = { 0 };
	set_desc(&d, "text/plain", D64, 5);
	d.data = xstrdup("aGVsbG8=");
	oci_strlist_push(&d.urls, "https://example.com/hello");
	oci_map_set(&d.annotations, "a", "b");
	d.artifact_type = xstrdup("application/vnd.example+type");
	d.platform = xcalloc(1, sizeof(*d.platform));
	oci_platform_parse("linux/arm64", d.platform, NULL);
	check_written(v, "descriptor", "content-descriptor.json", "Descriptor",
		      &sb, oci_descriptor_serialize(&d, &sb, NULL));
	oci_descriptor_release(&d);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, OCI_LAYOUT_FILE_CONTENT);
	check_written(v, "oci-layout", "image-layout-schema.json",
		      "LayoutHeader", &sb, 0);
	strbuf_release(&sb);
}

int main(int argc, char **argv)
{
	struct stat st;
	const char *corpus = argc > 1 ? argv[1] : "../shared/corpus";
	char *dir = xstrfmt("%s/oci-schema", corpus);
	char *fixdir = xstrfmt("%s/validation-fixtures", dir);
	if (stat(fixdir, &st) || !S_ISDIR(st.st_mode)) {
		printf("1..0 # SKIP corpus not found (%s)\n", fixdir);
		free(dir);
		free(fixdir);
		return 0;
	}
	schema_dir = dir;

	struct validator v = { .why = STRBUF_INIT };
	run_fixtures(&v, fixdir);
	test_manifests(&v);
	test_indexes(&v);
	test_configs(&v);
	test_misc(&v);

	validator_release(&v);
	free(dir);
	free(fixdir);
	return tap_done();
}
