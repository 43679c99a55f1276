/*
 * libFuzzer target for src/oci.  The first byte picks the reader; the rest
 * is its input.  Besides memory errors it checks two invariants and aborts
 * when they break: a parsed reference's string form parses to itself, and
 * anything parsed serializes to bytes that parse and serialize again to
 * the same bytes.
 */
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stable(const struct strbuf *a, const struct strbuf *b,
			 const char *what)
{
	if (a->len != b->len || memcmp(a->buf, b->buf, a->len)) {
		fprintf(stderr, "%s not byte-stable:\n%s\n%s\n", what, a->buf,
			b->buf);
		abort();
	}
}

static void fuzz_ref(const char *s)
{
	struct oci_ref *r = oci_ref_parse(s, NULL);
	if (!r)
		return;
	char *full = oci_ref_string(r);
	char *fam = oci_ref_familiar(r);
	struct oci_ref *r2 = oci_ref_parse(full, NULL);
	struct oci_ref *r3 = oci_ref_parse(fam, NULL);
	if (!r2 || !r3)
		abort();
	char *full2 = oci_ref_string(r2);
	char *full3 = oci_ref_string(r3);
	if (strcmp(full, full2) || strcmp(full, full3)) {
		fprintf(stderr, "'%s' -> '%s' -> '%s' / '%s'\n", s, full, full2,
			full3);
		abort();
	}
	free(full);
	free(full2);
	free(full3);
	free(fam);
	oci_ref_free(r);
	oci_ref_free(r2);
	oci_ref_free(r3);
}

static void fuzz_platform(const char *s)
{
	struct oci_platform p = { 0 }, q = { 0 };
	if (!oci_platform_parse(s, &p, NULL)) {
		char *str = oci_platform_string(&p);
		if (oci_platform_parse(str, &q, NULL) ||
		    !oci_platform_equal(&p, &q))
			abort();
		free(str);
	}
	oci_platform_release(&p);
	oci_platform_release(&q);
	if (!oci_platform_host(s, &p, NULL))
		oci_platform_release(&p);
}

/* Uniform wrappers so one round-trip check serves every reader. */
struct codec {
	const char *name;
	void *(*parse)(const char *buf, size_t len);
	int (*serialize)(const void *o, struct strbuf *out);
	void (*free)(void *o);
};

static void *manifest_parse(const char *b, size_t n)
{
	return oci_manifest_parse(b, n, 0, NULL);
}
static int manifest_ser(const void *o, struct strbuf *out)
{
	return oci_manifest_serialize(o, out, NULL);
}
static void manifest_free(void *o)
{
	oci_manifest_free(o);
}
static void *index_parse(const char *b, size_t n)
{
	return oci_index_parse(b, n, NULL);
}
static int index_ser(const void *o, struct strbuf *out)
{
	return oci_index_serialize(o, out, NULL);
}
static void index_free(void *o)
{
	oci_index_free(o);
}
static void *config_parse(const char *b, size_t n)
{
	return oci_image_config_parse(b, n, NULL);
}
static int config_ser(const void *o, struct strbuf *out)
{
	return oci_image_config_serialize(o, out, NULL);
}
static void config_free(void *o)
{
	oci_image_config_free(o);
}
static void *desc_parse(const char *b, size_t n)
{
	return oci_descriptor_parse(b, n, NULL);
}
static int desc_ser(const void *o, struct strbuf *out)
{
	return oci_descriptor_serialize(o, out, NULL);
}
static void desc_free(void *o)
{
	oci_descriptor_free(o);
}
static void *archive_parse(const char *b, size_t n)
{
	return oci_archive_manifest_parse(b, n, NULL);
}
static int archive_ser(const void *o, struct strbuf *out)
{
	return oci_archive_manifest_serialize(o, out, NULL);
}
static void archive_free(void *o)
{
	oci_archive_manifest_free(o);
}

static const struct codec codecs[] = {
	{ "manifest", manifest_parse, manifest_ser, manifest_free },
	{ "index", index_parse, index_ser, index_free },
	{ "config", config_parse, config_ser, config_free },
	{ "descriptor", desc_parse, desc_ser, desc_free },
	{ "manifest.json", archive_parse, archive_ser, archive_free },
};

/* parse -> serialize -> parse -> serialize gives the same bytes twice */
static void round_trip(const struct codec *c, const char *buf, size_t len)
{
	void *o = c->parse(buf, len);
	if (!o)
		return;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	if (!c->serialize(o, &a)) {
		void *o2 = c->parse(a.buf, a.len);
		if (!o2 || c->serialize(o2, &b)) {
			fprintf(stderr, "%s: own output rejected:\n%s\n",
				c->name, a.buf);
			abort();
		}
		check_stable(&a, &b, c->name);
		c->free(o2);
	}
	strbuf_release(&a);
	strbuf_release(&b);
	c->free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 8;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	char *str = xstrndup(buf, len);

	switch (mode) {
	case 0:
		fuzz_ref(str);
		break;
	case 1:
	case 2:
	case 3:
	case 4:
	case 5:
		round_trip(&codecs[mode - 1], buf, len);
		if (mode == 3) {
			struct oci_image_config *c =
				oci_image_config_parse(buf, len, NULL);
			if (c) {
				oci_image_config_free(oci_image_config_dup(c));
				oci_image_config_free(c);
			}
		}
		break;
	case 6:
		fuzz_platform(str);
		oci_digest_check_grammar(str, NULL);
		oci_digest_parse(str, NULL, NULL);
		break;
	case 7: {
		/* an index, then platform matching against it */
		struct oci_index *idx = oci_index_parse(buf, len, NULL);
		if (idx) {
			static const char *const wants[] = { "linux/amd64",
							     "linux/arm64",
							     "linux/arm/v6",
							     "windows/amd64" };
			for (size_t i = 0; i < ARRAY_SIZE(wants); i++) {
				struct oci_platform w = { 0 };
				struct error *err = NULL;
				oci_platform_parse(wants[i], &w, NULL);
				oci_index_match(idx, &w, &err);
				error_free(err);
				oci_platform_release(&w);
			}
			oci_index_free(idx);
		}
		oci_sniff_kind(buf, len);
		oci_layout_check(buf, len, NULL);
		break;
	}
	}
	free(str);
	return 0;
}
