/*
 * Unit tests for src/oci: references, digests, manifests, indexes, image
 * configs (null/empty handling, unknown fields), platforms and matching,
 * docker-save manifests and oci-layout.
 */
#include "oci/oci.h"
#include "tap.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D64 "sha256:" HEX64
#define EMPTY_SHA256 \
	"sha256:"    \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---------------------------------------------------------------- references
 */

struct ref_case {
	const char *in;
	const char *full; /* NULL: must fail */
	const char *familiar; /* or error substring when full is NULL */
};

static const struct ref_case ref_cases[] = {
	/* docker's normalisation */
	{ "golang", "docker.io/library/golang:latest", "golang:latest" },
	{ "golang:1.22", "docker.io/library/golang:1.22", "golang:1.22" },
	{ "user/repo", "docker.io/user/repo:latest", "user/repo:latest" },
	{ "docker.io/library/golang:latest", "docker.io/library/golang:latest",
	  "golang:latest" },
	{ "docker.io/golang", "docker.io/library/golang:latest",
	  "golang:latest" },
	{ "index.docker.io/golang", "docker.io/library/golang:latest",
	  "golang:latest" },
	{ "index.docker.io/library/golang:1", "docker.io/library/golang:1",
	  "golang:1" },
	{ "docker.io/library/foo/bar", "docker.io/library/foo/bar:latest",
	  "library/foo/bar:latest" },
	{ "localhost/repo", "localhost/repo:latest", "localhost/repo:latest" },
	{ "localhost:5000/repo:v1", "localhost:5000/repo:v1",
	  "localhost:5000/repo:v1" },
	/* docker tag documentation examples */
	{ "fedora/httpd:version1.0", "docker.io/fedora/httpd:version1.0",
	  "fedora/httpd:version1.0" },
	{ "myregistryhost:5000/fedora/httpd:version1.0",
	  "myregistryhost:5000/fedora/httpd:version1.0",
	  "myregistryhost:5000/fedora/httpd:version1.0" },
	{ "httpd", "docker.io/library/httpd:latest", "httpd:latest" },
	{ "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0",
	  "quay.io/coreos/etcd:v3.5.0" },
	{ "registry-1.docker.io/foo", "registry-1.docker.io/foo:latest",
	  "registry-1.docker.io/foo:latest" },
	{ "127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y:tag",
	  "127.0.0.1:5000/x/y:tag" },
	{ "[::1]:5000/repo", "[::1]:5000/repo:latest",
	  "[::1]:5000/repo:latest" },
	{ "example.com/a/b/c", "example.com/a/b/c:latest",
	  "example.com/a/b/c:latest" },
	/* no slash: "localhost:5000" is repository localhost, tag 5000 */
	{ "localhost:5000", "docker.io/library/localhost:5000",
	  "localhost:5000" },
	/* an uppercase first component is a domain */
	{ "Foo/bar", "Foo/bar:latest", "Foo/bar:latest" },
	{ "a.b", "docker.io/library/a.b:latest", "a.b:latest" },
	/* found by the fuzzer: a path that reads as a domain keeps docker.io */
	{ "index.docker.io/index.docker.io/foo",
	  "docker.io/index.docker.io/foo:latest",
	  "docker.io/index.docker.io/foo:latest" },
	{ "docker.io/localhost/foo", "docker.io/localhost/foo:latest",
	  "docker.io/localhost/foo:latest" },
	{ "foo_bar", "docker.io/library/foo_bar:latest", "foo_bar:latest" },
	{ "foo__bar", "docker.io/library/foo__bar:latest", "foo__bar:latest" },
	{ "foo---bar", "docker.io/library/foo---bar:latest",
	  "foo---bar:latest" },
	{ "foo:Tag_1.0-rc", "docker.io/library/foo:Tag_1.0-rc",
	  "foo:Tag_1.0-rc" },
	{ "repo@" D64, "docker.io/library/repo@" D64, "repo@" D64 },
	{ "repo:tag@" D64, "docker.io/library/repo:tag@" D64, "repo:tag@" D64 },
	{ "host.io/a/b@" D64, "host.io/a/b@" D64, "host.io/a/b@" D64 },
	/* errors */
	{ "", NULL, "must have at least one component" },
	{ "Golang", NULL,
	  "invalid reference format: repository name must be lowercase" },
	{ "user/Repo", NULL,
	  "invalid reference format: repository name must be lowercase" },
	{ "example.com/Upper:tag", NULL, "repository name must be lowercase" },
	{ "foo:bad tag", NULL, "invalid tag 'bad tag'" },
	{ "foo:.tag", NULL, "invalid tag '.tag'" },
	{ "foo:-tag", NULL, "invalid tag '-tag'" },
	{ "foo:", NULL, "invalid tag ''" },
	{ "foo:tag:x", NULL, "invalid tag 'tag:x'" },
	{ "foo@sha256:abc", NULL, "invalid digest 'sha256:abc'" },
	{ "foo@", NULL, "invalid digest ''" },
	{ "foo@sha256:" HEX64 "0", NULL, "needs 64 hex digits, not 65" },
	{ "foo@sha256:"
	  "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	  NULL, "not lowercase hex" },
	{ "foo@md5:0123456789abcdef0123456789abcdef", NULL,
	  "unsupported digest algorithm 'md5'" },
	{ "foo//bar", NULL, "invalid repository name" },
	{ "foo/", NULL, "invalid repository name" },
	{ "-foo", NULL, "invalid repository name" },
	{ "foo-", NULL, "invalid repository name" },
	{ "foo..bar", NULL, "invalid repository name" },
	{ "foo___bar", NULL, "invalid repository name" },
	{ "foo._bar", NULL, "invalid repository name" },
	{ "foo!", NULL, "invalid repository name" },
	{ HEX64, NULL, "cannot specify 64-byte hexadecimal strings" },
	{ "example.com:/foo", NULL, "invalid registry host 'example.com:'" },
	{ "-example.com/foo", NULL, "invalid registry host" },
	{ "exa_mple.com/foo", NULL, "invalid registry host" },
	{ "http://foo", NULL, "invalid registry host 'http:'" },
};

static void test_refs(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(ref_cases); i++) {
		const struct ref_case *c = &ref_cases[i];
		struct error *err = NULL;
		struct oci_ref *r = oci_ref_parse(c->in, &err);
		if (c->full) {
			if (!ok(r != NULL, "ref '%s' parses", c->in)) {
				printf("#   error: %s\n", err ? err->msg : "?");
				error_free(err);
				continue;
			}
			char *full = oci_ref_string(r);
			char *fam = oci_ref_familiar(r);
			is_str(full, c->full, "ref '%s' normalises", c->in);
			is_str(fam, c->familiar, "ref '%s' familiar form",
			       c->in);
			/* the normalised form parses back to itself */
			struct oci_ref *r2 = oci_ref_parse(full, NULL);
			char *full2 = r2 ? oci_ref_string(r2) : NULL;
			is_str(full2, c->full, "ref '%s' is a fixed point",
			       full);
			free(full2);
			oci_ref_free(r2);
			free(full);
			free(fam);
			oci_ref_free(r);
		} else {
			ok(!r && err && err->code == KILN_EINVAL &&
				   strstr(err->msg, c->familiar),
			   "ref '%s' rejected: %s", c->in,
			   err ? err->msg : "(accepted)");
			oci_ref_free(r);
			error_free(err);
		}
	}

	/* name length: 255 counts the normalised name */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "example.com/");
	while (sb.len < OCI_REF_NAME_MAX)
		strbuf_addch(&sb, 'a');
	struct error *err = NULL;
	struct oci_ref *r = oci_ref_parse(sb.buf, &err);
	ok(r != NULL, "name of exactly 255 characters is accepted");
	oci_ref_free(r);
	strbuf_addch(&sb, 'a');
	r = oci_ref_parse(sb.buf, &err);
	ok(!r && err &&
		   !strcmp(err->msg, "invalid reference format: repository "
				     "name must not be more than 255 "
				     "characters"),
	   "name of 256 characters is rejected");
	error_clear(&err);
	strbuf_reset(&sb);
	/* "docker.io/library/" (18) + 238 = 256 */
	for (int i = 0; i < 238; i++)
		strbuf_addch(&sb, 'a');
	r = oci_ref_parse(sb.buf, &err);
	ok(!r && err && strstr(err->msg, "255"), "short name too long once "
						 "normalised");
	error_clear(&err);

	/* tags: 128 is the limit */
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "foo:");
	for (int i = 0; i < 128; i++)
		strbuf_addch(&sb, 't');
	r = oci_ref_parse(sb.buf, NULL);
	ok(r && strlen(r->tag) == 128, "128-character tag accepted");
	oci_ref_free(r);
	strbuf_addch(&sb, 't');
	r = oci_ref_parse(sb.buf, &err);
	ok(!r && err && strstr(err->msg, "invalid tag"), "129-character tag "
							 "rejected");
	error_clear(&err);
	strbuf_release(&sb);

	/* fields, default tag, parse_name, familiar name */
	r = oci_ref_parse("golang", NULL);
	is_str(r->domain, "docker.io", "domain field");
	is_str(r->path, "library/golang", "path field");
	is_str(r->tag, "latest", "default tag");
	ok(r->default_tag && !r->digest, "default_tag set, no digest");
	char *s = oci_ref_familiar_name(r);
	is_str(s, "golang", "familiar name (REPOSITORY column)");
	free(s);
	s = oci_ref_name(r);
	is_str(s, "docker.io/library/golang", "full name");
	free(s);
	struct oci_ref *d = oci_ref_dup(r);
	ok(d != r && !strcmp(d->path, r->path) && d->default_tag, "oci_ref_dup "
								  "copies");
	oci_ref_free(d);
	oci_ref_free(r);
	r = oci_ref_parse_name("golang", NULL);
	ok(r && !r->tag && !r->default_tag, "parse_name adds no tag");
	oci_ref_free(r);
	r = oci_ref_parse("repo@" D64, NULL);
	ok(r && !r->tag && r->digest && !strcmp(r->digest, D64), "digest-only "
								 "reference "
								 "has no tag");
	oci_ref_free(r);
	r = oci_ref_parse("user/repo:1", NULL);
	ok(r && !r->default_tag, "explicit tag is not default");
	oci_ref_free(r);

	ok(oci_tag_valid("v1.0_rc-2") && oci_tag_valid("_x") &&
		   !oci_tag_valid("") && !oci_tag_valid(".x") &&
		   !oci_tag_valid("a/b"),
	   "oci_tag_valid");
}

/* ---------------------------------------------------------------- digests */

static void test_digests(void)
{
	char out[OCI_DIGEST_MAX + 1];
	oci_sha256_digest("", 0, out);
	is_str(out, EMPTY_SHA256, "sha256 of nothing");
	char *s = oci_sha256_digest_str("abc", 3);
	is_str(s,
	       "sha256:"
	       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"
	       "d",
	       "sha256 of abc");

	/* streaming in odd pieces gives the same digest */
	static char big[100003];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 13);
	char one[OCI_SHA256_DIGEST_LEN + 1];
	oci_sha256_digest(big, sizeof(big), one);
	struct oci_hasher h;
	oci_hasher_init(&h, OCI_DIGEST_SHA256);
	for (size_t at = 0, step = 1; at < sizeof(big); at += step, step *= 3)
		oci_hasher_update(&h, big + at,
				  step < sizeof(big) - at ? step
							  : sizeof(big) - at);
	is_int(h.size, sizeof(big), "hasher counts bytes");
	oci_hasher_final(&h, out);
	oci_hasher_release(&h);
	is_str(out, one, "streaming sha256 equals one-shot");

	oci_hasher_init(&h, OCI_DIGEST_SHA512);
	oci_hasher_update(&h, "abc", 3);
	oci_hasher_final(&h, out);
	oci_hasher_release(&h);
	is_str(out,
	       "sha512:"
	       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39"
	       "a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca4"
	       "9f",
	       "sha512 of abc");
	oci_hasher_init(&h, OCI_DIGEST_SHA384);
	oci_hasher_release(&h); /* release without final does not leak */

	const char *hex = NULL;
	struct error *err = NULL;
	is_int(oci_digest_parse(s, &hex, &err), OCI_DIGEST_SHA256,
	       "parse sha256 digest");
	ok(hex == s + 7, "hex points past the colon");
	free(s);
	ok(oci_digest_valid(out), "sha512 digest valid");

	static const struct {
		const char *d;
		const char *why;
	} bad[] = {
		{ "sha256", "<algorithm>:<hex>" },
		{ ":" HEX64, "<algorithm>:<hex>" },
		{ "sha256:", "<algorithm>:<hex>" },
		{ "sha256:abc", "needs 64 hex digits, not 3" },
		{ "sha256:" HEX64 "00", "not 66" },
		{ "sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		  "cdeg",
		  "not lowercase hex" },
		{ "SHA256:" HEX64, "unsupported digest algorithm 'SHA256'" },
		{ "md5:0123456789abcdef0123456789abcdef", "unsupported digest "
							  "algorithm" },
		{ "sha512:" HEX64, "needs 128 hex digits" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		enum oci_digest_algo a = oci_digest_parse(bad[i].d, NULL, &err);
		ok(a == OCI_DIGEST_UNKNOWN && err &&
			   strstr(err->msg, bad[i].why),
		   "digest '%s' rejected: %s", bad[i].d,
		   err ? err->msg : "(accepted)");
		error_clear(&err);
	}

	/* the image-spec grammar admits unverifiable algorithms */
	static const char *const grammar_ok[] = {
		D64,
		"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
		"multihash+base58:"
		"QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
		"sha256.foo-bar:abc",
		"a:b",
	};
	static const char *const grammar_bad[] = {
		"sha256+foo+-b:abc", "SHA256:abc", "sha256:", ":abc",
		"sha256:ab/c",	     "sha256:abc", /* registered: too short */
		"sha256+:abc",	     "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(grammar_ok); i++)
		ok(!oci_digest_check_grammar(grammar_ok[i], NULL),
		   "grammar accepts '%s'", grammar_ok[i]);
	for (size_t i = 0; i < ARRAY_SIZE(grammar_bad); i++)
		ok(oci_digest_check_grammar(grammar_bad[i], NULL) == -1,
		   "grammar rejects '%s'", grammar_bad[i]);
}

/* ---------------------------------------------------------------- media types
 */

static void test_mediatypes(void)
{
	is_int(oci_mediatype_kind(OCI_MEDIATYPE_MANIFEST), OCI_KIND_MANIFEST,
	       "OCI manifest kind");
	is_int(oci_mediatype_kind(DOCKER_MEDIATYPE_MANIFEST), OCI_KIND_MANIFEST,
	       "docker manifest kind");
	is_int(oci_mediatype_kind(DOCKER_MEDIATYPE_MANIFEST_LIST),
	       OCI_KIND_INDEX, "docker list kind");
	is_int(oci_mediatype_kind(OCI_MEDIATYPE_INDEX), OCI_KIND_INDEX,
	       "OCI index kind");
	is_int(oci_mediatype_kind(DOCKER_MEDIATYPE_CONFIG), OCI_KIND_CONFIG,
	       "docker config kind");
	is_int(oci_mediatype_kind(OCI_MEDIATYPE_LAYER_ZSTD), OCI_KIND_LAYER,
	       "zstd layer kind");
	is_int(oci_mediatype_kind("text/plain"), OCI_KIND_UNKNOWN,
	       "unknown kind");
	is_int(oci_layer_compression(DOCKER_MEDIATYPE_LAYER_GZIP),
	       OCI_COMPRESSION_GZIP, "docker layer is gzip");
	is_int(oci_layer_compression(OCI_MEDIATYPE_LAYER), OCI_COMPRESSION_NONE,
	       "OCI tar layer is uncompressed");
	is_int(oci_layer_compression(OCI_MEDIATYPE_LAYER_ZSTD),
	       OCI_COMPRESSION_ZSTD, "zstd layer");
	is_int(oci_layer_compression(OCI_MEDIATYPE_CONFIG),
	       OCI_COMPRESSION_UNKNOWN, "config is no layer");
	ok(oci_mediatype_valid("application/vnd.example+type") &&
		   !oci_mediatype_valid("application") &&
		   !oci_mediatype_valid(".foo/bar") &&
		   !oci_mediatype_valid("foo/.bar") &&
		   !oci_mediatype_valid("foo/") && !oci_mediatype_valid(""),
	   "oci_mediatype_valid");
}

/* ---------------------------------------------------------------- manifests */

static void set_desc(struct oci_descriptor *d, const char *mt,
		     const char *digest, int64_t size)
{
	oci_descriptor_release(d);
	d->media_type = xstrdup(mt);
	d->digest = xstrdup(digest);
	d->size = size;
}

/* parse -> serialize must give `json` back exactly */
static void check_manifest_stable(const char *json, const char *name)
{
	struct error *err = NULL;
	struct oci_manifest *m =
		oci_manifest_parse(json, strlen(json), 0, &err);
	if (!ok(m != NULL, "%s: parses", name)) {
		printf("#   %s\n", err->msg);
		error_free(err);
		return;
	}
	struct strbuf sb = STRBUF_INIT;
	ok(!oci_manifest_serialize(m, &sb, NULL), "%s: serializes", name);
	is_str(sb.buf, json, "%s: bytes stable", name);
	strbuf_release(&sb);
	oci_manifest_free(m);
}

static void test_manifests(void)
{
	struct oci_manifest m = { 0 };
	struct oci_descriptor l = { 0 };
	struct strbuf sb = STRBUF_INIT, sb2 = STRBUF_INIT;
	struct error *err = NULL;

	m.schema_version = 2;
	m.media_type = xstrdup(OCI_MEDIATYPE_MANIFEST);
	set_desc(&m.config, OCI_MEDIATYPE_CONFIG, D64, 1470);
	set_desc(&l, OCI_MEDIATYPE_LAYER_GZIP, EMPTY_SHA256, 32);
	oci_map_set(&l.annotations, "b", "2");
	oci_map_set(&l.annotations, "a", "1");
	oci_manifest_add_layer(&m, &l);
	set_desc(&l, OCI_MEDIATYPE_LAYER_ZSTD, D64, 7);
	oci_strlist_push(&l.urls, "https://example.com/blob");
	oci_manifest_add_layer(&m, &l);
	oci_descriptor_release(&l);
	oci_map_set(&m.annotations, "org.opencontainers.image.created",
		    "2024-01-01T00:00:00Z");
	ok(!oci_manifest_serialize(&m, &sb, &err), "manifest serializes");
	static const char want[] = "{\"schemaVersion\":2,\"mediaType\":"
				   "\"application/"
				   "vnd.oci.image.manifest.v1+json\","
				   "\"config\":{\"mediaType\":\"application/"
				   "vnd.oci.image.config.v1+json\",\"digest\":"
				   "\"" D64 "\",\"size\":1470},"
				   "\"layers\":[{\"mediaType\":\"application/"
				   "vnd.oci.image.layer.v1.tar+gzip\","
				   "\"digest\":\"" EMPTY_SHA256
				   "\",\"size\":32,\"annotations\":{\"a\":"
				   "\"1\",\"b\":\"2\"}},"
				   "{\"mediaType\":\"application/"
				   "vnd.oci.image.layer.v1.tar+zstd\","
				   "\"digest\":\"" D64 "\",\"size\":7,\"urls\":"
						       "[\"https://example.com/"
						       "blob\"]}],"
				   "\"annotations\":{\"org.opencontainers."
				   "image.created\":\"2024-01-01T00:00:00Z\"}}";
	is_str(sb.buf, want, "manifest bytes: fixed key order, compact");

	struct oci_manifest *p = oci_manifest_parse(sb.buf, sb.len, 0, &err);
	ok(p && p->layers_nr == 2 && p->config.size == 1470 &&
		   !strcmp(p->layers[1].urls.v[0], "https://example.com/"
						   "blob") &&
		   !strcmp(oci_map_get(&p->layers[0].annotations, "a"), "1"),
	   "manifest parses back with its fields");
	ok(!oci_manifest_serialize(p, &sb2, NULL) && !strcmp(sb.buf, sb2.buf),
	   "manifest parse -> serialize is byte-stable");
	oci_manifest_free(p);
	strbuf_reset(&sb2);

	/* subject and artifactType */
	m.subject = xcalloc(1, sizeof(*m.subject));
	set_desc(m.subject, OCI_MEDIATYPE_MANIFEST, EMPTY_SHA256, 100);
	m.artifact_type = xstrdup("application/vnd.example+type");
	strbuf_reset(&sb);
	ok(!oci_manifest_serialize(&m, &sb, NULL) &&
		   strstr(sb.buf, "\"artifactType\":\"application/"
				  "vnd.example+type\",\"config\"") &&
		   strstr(sb.buf, "],\"subject\":{\"mediaType\""),
	   "artifactType and subject in their places");
	p = oci_manifest_parse(sb.buf, sb.len, 0, NULL);
	ok(p && p->subject && p->subject->size == 100 &&
		   !strcmp(p->artifact_type, "application/vnd.example+type"),
	   "subject parses back");
	oci_manifest_free(p);

	/* writer refuses incomplete or invalid objects */
	free(m.config.digest);
	m.config.digest = NULL;
	strbuf_reset(&sb);
	ok(oci_manifest_serialize(&m, &sb, &err) == -1 && err &&
		   strstr(err->msg, "manifest: config: descriptor needs a "
				    "digest"),
	   "writer refuses a descriptor without digest");
	error_clear(&err);
	m.config.digest = xstrdup("sha256:short");
	ok(oci_manifest_serialize(&m, &sb, &err) == -1 && err, "writer refuses "
							       "a malformed "
							       "digest");
	error_clear(&err);
	oci_manifest_release(&m);

	/* docker schema2, as registries serve it (indented, docker types) */
	static const char docker[] =
		"{\n \"schemaVersion\": 2,\n \"mediaType\": "
		"\"application/vnd.docker.distribution.manifest.v2+json\",\n"
		" \"config\": {\"mediaType\": "
		"\"application/vnd.docker.container.image.v1+json\", \"size\": "
		"1457,"
		" \"digest\": \"" D64 "\"},\n"
		" \"layers\": [{\"mediaType\": "
		"\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
		" \"size\": 3408729, \"digest\": \"" EMPTY_SHA256 "\"}],\n"
		" \"futureField\": {\"x\": 1}\n}\n";
	p = oci_manifest_parse(docker, strlen(docker), 0, &err);
	ok(p && !strcmp(p->media_type, DOCKER_MEDIATYPE_MANIFEST) &&
		   p->layers_nr == 1 && p->layers[0].size == 3408729 &&
		   oci_layer_compression(p->layers[0].media_type) ==
			   OCI_COMPRESSION_GZIP,
	   "docker schema2 manifest parses; unknown field ignored");
	strbuf_reset(&sb);
	ok(p && !oci_manifest_serialize(p, &sb, NULL) &&
		   !strstr(sb.buf, "futureField"),
	   "unknown manifest field is not written back");
	oci_manifest_free(p);
	check_manifest_stable(sb.buf, "docker manifest");

	/* empty layers: allowed by default, rejected with OCI_PARSE_SCHEMA */
	static const char nolayers[] = "{\"schemaVersion\":2,\"mediaType\":"
				       "\"application/"
				       "vnd.oci.image.manifest.v1+json\","
				       "\"config\":{\"mediaType\":"
				       "\"application/"
				       "vnd.oci.image.config.v1+json\","
				       "\"digest\":\"" D64 "\",\"size\":2},"
							   "\"layers\":[]}";
	check_manifest_stable(nolayers, "manifest without layers");
	p = oci_manifest_parse(nolayers, strlen(nolayers), OCI_PARSE_SCHEMA,
			       &err);
	ok(!p && err && strstr(err->msg, "'layers' is empty"), "OCI_PARSE_"
							       "SCHEMA rejects "
							       "empty layers");
	error_clear(&err);

	/* strict reading: each of these is one defect */
	static const struct {
		const char *json;
		const char *why;
	} bad[] = {
		{ "[]", "expected a JSON object" },
		{ "{", "invalid JSON" },
		{ "{\"schemaVersion\":1,\"config\":{},\"layers\":[]}", "unsuppo"
								       "rted "
								       "schemaV"
								       "ersion "
								       "1" },
		{ "{\"schemaVersion\":\"2\"}", "'schemaVersion' must be an "
					       "integer" },
		{ "{\"schemaVersion\":2,\"layers\":[]}", "missing required "
							 "field 'config'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1}}",
		  "missing required field 'layers'" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"application/"
		  "vnd.oci.image.index.v1+json\","
		  "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D64 "\","
									"\"size"
									"\":1},"
									"\"laye"
									"rs\":["
									"]}",
		  "is not an image manifest" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":\"1\"},\"layers\":[]}",
		  "manifest: config: 'size' must be an integer, not a string" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1.0},\"layers\":[]}",
		  "'size' must be an integer, not a number" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":-1},\"layers\":[]}",
		  "negative size" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"invalid\","
		  "\"digest\":\"" D64 "\",\"size\":1},\"layers\":[]}",
		  "invalid mediaType 'invalid'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1},\"layers\":[{"
					  "\"mediaType\":\"a/b\",\"size\":1}]}",
		  "manifest: layers[0]: missing required field 'digest'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1},\"layers\":[],"
					  "\"subject\":\"x\"}",
		  "a descriptor must be an object" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1},\"layers\":[],"
					  "\"annotations\":{\"k\":1}}",
		  "'annotations' member 'k' must be a string" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1,\"data\":\"abc\"},"
					  "\"layers\":[]}",
		  "not valid base64" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1,\"urls\":[\"value\"]},"
					  "\"layers\":[]}",
		  "invalid URL 'value'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/"
		  "b\",\"digest\":\"sha256:ABC\","
		  "\"size\":1},\"layers\":[]}",
		  "invalid digest 'sha256:ABC'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		p = oci_manifest_parse(bad[i].json, strlen(bad[i].json), 0,
				       &err);
		ok(!p && err && strstr(err->msg, bad[i].why),
		   "bad manifest %zu rejected: %s", i,
		   err ? err->msg : "(accepted)");
		oci_manifest_free(p);
		error_clear(&err);
	}
	strbuf_release(&sb);
	strbuf_release(&sb2);
}

/* ---------------------------------------------------------------- indexes */

static void add_platform_desc(struct oci_index *idx, const char *digest,
			      const char *os, const char *arch,
			      const char *variant)
{
	struct oci_descriptor d = { 0 };
	set_desc(&d, OCI_MEDIATYPE_MANIFEST, digest, 500);
	if (os) {
		d.platform = xcalloc(1, sizeof(*d.platform));
		d.platform->os = xstrdup(os);
		d.platform->architecture = xstrdup(arch);
		d.platform->variant = variant ? xstrdup(variant) : NULL;
	}
	oci_index_add(idx, &d);
	oci_descriptor_release(&d);
}

#define HEX63 "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG(c) "sha256:" c HEX63

static void test_indexes(void)
{
	struct oci_index idx = { 0 };
	struct strbuf sb = STRBUF_INIT, sb2 = STRBUF_INIT;
	struct error *err = NULL;

	idx.schema_version = 2;
	idx.media_type = xstrdup(OCI_MEDIATYPE_INDEX);
	add_platform_desc(&idx, DIG("1"), "linux", "amd64", NULL);
	add_platform_desc(&idx, DIG("2"), "linux", "arm64", NULL);
	add_platform_desc(&idx, DIG("3"), "linux", "arm", "v6");
	add_platform_desc(&idx, DIG("4"), "linux", "arm", "v7");
	add_platform_desc(&idx, DIG("5"), "unknown", "unknown", NULL);
	add_platform_desc(&idx, DIG("6"), NULL, NULL, NULL);
	oci_map_set(&idx.manifests[5].annotations, OCI_ANNOTATION_REF_NAME,
		    "v1");
	idx.manifests[1].platform->os_version = xstrdup("1.0");
	oci_strlist_push(&idx.manifests[1].platform->os_features, "f");

	ok(!oci_index_serialize(&idx, &sb, &err), "index serializes");
	ok(strstr(sb.buf, "\"platform\":{\"architecture\":\"arm64\",\"os\":"
			  "\"linux\",\"os.version\":\"1.0\",\"os.features\":["
			  "\"f\"]}") != NULL,
	   "platform key order");
	ok(starts_with(sb.buf, "{\"schemaVersion\":2,\"mediaType\":"
			       "\"application/"
			       "vnd.oci.image.index.v1+json\",\"manifests\":["
			       "{"),
	   "index key order");
	struct oci_index *p = oci_index_parse(sb.buf, sb.len, &err);
	ok(p && p->manifests_nr == 6 && !p->manifests[5].platform &&
		   !strcmp(p->manifests[3].platform->variant, "v7"),
	   "index parses back");
	ok(p && !oci_index_serialize(p, &sb2, NULL) && !strcmp(sb.buf, sb2.buf),
	   "index parse -> serialize is byte-stable");
	oci_index_free(p);

	is_int(oci_index_find_annotation(&idx, OCI_ANNOTATION_REF_NAME, "v1"),
	       5, "find by ref.name annotation");
	is_int(oci_index_find_annotation(&idx, OCI_ANNOTATION_REF_NAME, "v2"),
	       -1, "missing ref.name annotation");

	/* platform matching */
	static const struct {
		const char *want;
		int pick; /* index into manifests, -1: none */
	} cases[] = {
		{ "linux/amd64", 0 },	 { "linux/x86_64", 0 },
		{ "linux/arm64", 1 },	 { "linux/arm64/v8", 1 },
		{ "linux/aarch64", 1 },	 { "linux/arm/v7", 3 },
		{ "linux/arm", 3 },	 { "linux/arm/v6", 2 },
		{ "linux/arm/v8", 3 },	 { "linux/arm/v5", -1 },
		{ "linux/s390x", -1 },	 { "windows/amd64", -1 },
		{ "linux/amd64/v3", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct oci_platform want = { 0 };
		ok(!oci_platform_parse(cases[i].want, &want, NULL),
		   "platform '%s' parses", cases[i].want);
		const struct oci_descriptor *d =
			oci_index_match(&idx, &want, &err);
		if (cases[i].pick < 0)
			ok(!d && err && err->code == KILN_ENOTFOUND,
			   "'%s' matches nothing", cases[i].want);
		else
			ok(d == &idx.manifests[cases[i].pick],
			   "'%s' picks manifest %d", cases[i].want,
			   cases[i].pick);
		error_clear(&err);
		oci_platform_release(&want);
	}
	struct oci_platform want = { 0 };
	oci_platform_parse("linux/s390x", &want, NULL);
	oci_index_match(&idx, &want, &err);
	is_str(err ? err->msg : NULL,
	       "no matching manifest for linux/s390x in the manifest list "
	       "entries (available: linux/amd64, linux/arm64/v8, linux/arm/v6, "
	       "linux/arm/v7)",
	       "no-match error lists the available platforms");
	error_clear(&err);

	/* a 386-only index serves amd64; arm/v7 preferred over earlier v6 */
	struct oci_index i2 = { .schema_version = 2 };
	add_platform_desc(&i2, DIG("7"), "linux", "386", NULL);
	oci_platform_parse("linux/amd64", &want, NULL);
	ok(oci_index_match(&i2, &want, NULL) == &i2.manifests[0], "386 runs on "
								  "amd64");
	add_platform_desc(&i2, DIG("8"), "linux", "amd64", NULL);
	ok(oci_index_match(&i2, &want, NULL) == &i2.manifests[1], "amd64 "
								  "preferred "
								  "over 386");
	oci_platform_release(&want);
	oci_index_release(&i2);

	oci_index_remove(&idx, 0);
	ok(idx.manifests_nr == 5 && idx.manifests[0].platform &&
		   !strcmp(idx.manifests[0].platform->architecture, "arm64"),
	   "oci_index_remove shifts");

	/* a docker manifest list; an OCI layout index.json without mediaType */
	static const char list[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/"
		"vnd.docker.distribution.manifest.list.v2+json\","
		"\"manifests\":[{\"mediaType\":\"application/"
		"vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D64
		"\",\"size\":528,\"platform\":{\"architecture\":\"arm\",\"os\":"
		"\"linux\",\"variant\":\"v7\"}}]}";
	p = oci_index_parse(list, strlen(list), &err);
	strbuf_reset(&sb);
	ok(p && !oci_index_serialize(p, &sb, NULL) && !strcmp(sb.buf, list),
	   "docker manifest list round-trips byte-exact");
	oci_index_free(p);
	static const char layout_index[] = "{\"schemaVersion\":2,\"manifests\":"
					   "[]}";
	p = oci_index_parse(layout_index, strlen(layout_index), &err);
	strbuf_reset(&sb);
	ok(p && !p->media_type && !oci_index_serialize(p, &sb, NULL) &&
		   !strcmp(sb.buf, layout_index),
	   "empty index.json round-trips");
	oci_index_free(p);

	static const struct {
		const char *json;
		const char *why;
	} bad[] = {
		{ "{\"schemaVersion\":2}", "missing required field "
					   "'manifests'" },
		{ "{\"schemaVersion\":2,\"manifests\":{}}", "'manifests' must "
							    "be an array" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"application/"
		  "vnd.oci.image.manifest.v1+json\",\"manifests\":[]}",
		  "is not an image index" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/"
		  "b\",\"digest\":\"" D64 "\",\"size\":1,\"platform\":{\"os\":"
					  "\"linux\"}}]}",
		  "index: manifests[0]: platform: missing required field "
		  "'architecture'" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"\","
		  "\"digest\":\"" D64 "\",\"size\":1}]}",
		  "invalid mediaType ''" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"subject\":\"nope\"}",
		  "a descriptor must be an object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		p = oci_index_parse(bad[i].json, strlen(bad[i].json), &err);
		ok(!p && err && strstr(err->msg, bad[i].why),
		   "bad index %zu rejected: %s", i,
		   err ? err->msg : "(accepted)");
		oci_index_free(p);
		error_clear(&err);
	}

	is_int(oci_sniff_kind(list, strlen(list)), OCI_KIND_INDEX,
	       "sniff manifest list");
	is_int(oci_sniff_kind(layout_index, strlen(layout_index)),
	       OCI_KIND_INDEX, "sniff index without mediaType");
	is_int(oci_sniff_kind("{\"layers\":[]}", 13), OCI_KIND_MANIFEST,
	       "sniff manifest by shape");
	is_int(oci_sniff_kind("{\"rootfs\":{}}", 13), OCI_KIND_CONFIG,
	       "sniff config by shape");
	is_int(oci_sniff_kind("nope", 4), OCI_KIND_UNKNOWN, "sniff garbage");

	oci_index_release(&idx);
	strbuf_release(&sb);
	strbuf_release(&sb2);
}

/* ---------------------------------------------------------------- platforms */

static void test_platforms(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "linux/amd64", "linux/amd64" },
		{ "linux/x86_64", "linux/amd64" },
		{ "linux/amd64/v1", "linux/amd64" },
		{ "linux/amd64/v3", "linux/amd64/v3" },
		{ "linux/arm64", "linux/arm64/v8" },
		{ "linux/arm64/v8", "linux/arm64/v8" },
		{ "linux/aarch64", "linux/arm64/v8" },
		{ "linux/arm64/8", "linux/arm64/v8" },
		{ "linux/arm", "linux/arm/v7" },
		{ "linux/arm/7", "linux/arm/v7" },
		{ "linux/arm/v6", "linux/arm/v6" },
		{ "linux/armhf", "linux/arm/v7" },
		{ "linux/armel", "linux/arm/v6" },
		{ "linux/i386", "linux/386" },
		{ "Linux/AMD64", "linux/amd64" },
		{ "linux/ppc64le", "linux/ppc64le" },
		{ "linux/riscv64", "linux/riscv64" },
		{ "macos/arm64", "darwin/arm64/v8" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct oci_platform p = { 0 };
		ok(!oci_platform_parse(cases[i].in, &p, NULL), "parse '%s'",
		   cases[i].in);
		char *s = oci_platform_string(&p);
		is_str(s, cases[i].out, "'%s' normalises", cases[i].in);
		free(s);
		oci_platform_release(&p);
	}
	static const char *const bad[] = { "linux",   "linux/",	      "/amd64",
					   "a/b/c/d", "linux/am d64", "" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct oci_platform p = { 0 };
		struct error *err = NULL;
		ok(oci_platform_parse(bad[i], &p, &err) == -1 && err &&
			   strstr(err->msg, "expected os/arch[/variant]"),
		   "platform '%s' rejected", bad[i]);
		error_free(err);
		oci_platform_release(&p);
	}

	static const struct {
		const char *machine, *out;
	} hosts[] = {
		{ "x86_64", "linux/amd64" },
		{ "aarch64", "linux/arm64/v8" },
		{ "arm64", "linux/arm64/v8" },
		{ "armv7l", "linux/arm/v7" },
		{ "armv6l", "linux/arm/v6" },
		{ "armv5tel", "linux/arm/v5" },
		{ "i686", "linux/386" },
		{ "ppc64le", "linux/ppc64le" },
		{ "s390x", "linux/s390x" },
		{ "riscv64", "linux/riscv64" },
		{ "loongarch64", "linux/loong64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		struct oci_platform p = { 0 };
		ok(!oci_platform_host(hosts[i].machine, &p, NULL), "host '%s'",
		   hosts[i].machine);
		char *s = oci_platform_string(&p);
		is_str(s, hosts[i].out, "host '%s' platform", hosts[i].machine);
		free(s);
		oci_platform_release(&p);
	}
	struct oci_platform p = { 0 }, q = { 0 };
	struct error *err = NULL;
	ok(oci_platform_host("pdp11", &p, &err) == -1 && err &&
		   strstr(err->msg, "'pdp11'"),
	   "unknown machine rejected");
	error_clear(&err);

	/* equality and scores */
	oci_platform_parse("linux/arm64", &p, NULL);
	q.os = xstrdup("linux");
	q.architecture = xstrdup("aarch64");
	ok(oci_platform_equal(&p, &q), "arm64 == aarch64 (variant v8 default)");
	ok(q.variant == NULL, "equal does not modify its arguments");
	oci_platform_release(&p);
	oci_platform_release(&q);

	oci_platform_parse("linux/arm/v7", &p, NULL);
	oci_platform_parse("linux/arm/v6", &q, NULL);
	int older = oci_platform_score(&p, &q);
	ok(older > 0 && older < oci_platform_score(&p, &p), "arm/v6 runs on "
							    "arm/v7, below "
							    "exact");
	ok(oci_platform_score(&q, &p) == 0, "arm/v7 does not run on arm/v6");
	oci_platform_release(&p);
	oci_platform_release(&q);
	oci_platform_parse("linux/amd64", &p, NULL);
	oci_platform_parse("linux/amd64/v2", &q, NULL);
	ok(oci_platform_score(&p, &q) == 0, "amd64/v2 does not run on v1");
	ok(oci_platform_score(&q, &p) > 0, "amd64 (v1) runs on v2");
	oci_platform_release(&p);
	oci_platform_release(&q);
}

/* ---------------------------------------------------------------- config */

static struct oci_image_config *parse_config(const char *json,
					     struct error **err)
{
	return oci_image_config_parse(json, strlen(json), err);
}

static char *config_json(const struct oci_image_config *c)
{
	struct strbuf sb = STRBUF_INIT;
	if (oci_image_config_serialize(c, &sb, NULL))
		BUG("config serialize failed");
	return strbuf_detach(&sb, NULL);
}

static void test_config(void)
{
	struct oci_image_config c = { 0 };
	struct error *err = NULL;

	c.created = xstrdup("2024-05-01T12:00:00.123456789Z");
	c.author = xstrdup("kiln");
	c.architecture = xstrdup("arm64");
	c.variant = xstrdup("v8");
	c.os = xstrdup("linux");
	c.has_config = true;
	c.config.user = xstrdup("1000:1000");
	oci_map_set(&c.config.exposed_ports, "8080/tcp", NULL);
	oci_map_set(&c.config.exposed_ports, "53/udp", NULL);
	oci_strlist_push(&c.config.env, "PATH=/usr/bin:/bin");
	oci_strlist_push(&c.config.env, "EMPTY=");
	oci_strlist_push(&c.config.entrypoint, "/entry");
	oci_strlist_set_null(&c.config.cmd);
	oci_map_set(&c.config.volumes, "/data", NULL);
	c.config.working_dir = xstrdup("/app");
	oci_map_set(&c.config.labels, "z", "last");
	oci_map_set(&c.config.labels, "a", "first");
	c.config.stop_signal = xstrdup("SIGTERM");
	c.config.args_escaped = true;
	c.config.healthcheck = xcalloc(1, sizeof(*c.config.healthcheck));
	oci_strlist_push(&c.config.healthcheck->test, "CMD-SHELL");
	oci_strlist_push(&c.config.healthcheck->test, "curl -f localhost");
	c.config.healthcheck->interval = 30000000000LL;
	c.config.healthcheck->timeout = 5000000000LL;
	c.config.healthcheck->start_period = 1000000000LL;
	c.config.healthcheck->start_interval = 2000000000LL;
	c.config.healthcheck->retries = 3;
	oci_strlist_push(&c.config.on_build, "RUN echo hi");
	oci_strlist_push(&c.config.shell, "/bin/bash");
	oci_strlist_push(&c.config.shell, "-c");
	oci_strlist_push(&c.diff_ids, EMPTY_SHA256);
	oci_image_config_add_history(&c, "2024-05-01T12:00:00Z",
				     "/bin/sh -c #(nop) ADD file:x in /", NULL,
				     NULL, false);
	oci_image_config_add_history(&c, "2024-05-01T12:00:01Z", "CMD null",
				     "me", "buildkit.dockerfile.v0", true);

	char *s = config_json(&c);
	static const char want[] =
		"{\"created\":\"2024-05-01T12:00:00.123456789Z\",\"author\":"
		"\"kiln\","
		"\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":"
		"\"linux\","
		"\"config\":{\"User\":\"1000:1000\",\"ExposedPorts\":{\"53/"
		"udp\":{},\"8080/tcp\":{}},"
		"\"Env\":[\"PATH=/usr/bin:/"
		"bin\",\"EMPTY=\"],\"Entrypoint\":[\"/entry\"],\"Cmd\":null,"
		"\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/"
		"app\",\"Labels\":{\"a\":\"first\",\"z\":\"last\"},"
		"\"StopSignal\":\"SIGTERM\",\"ArgsEscaped\":true,"
		"\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f "
		"localhost\"],\"Interval\":30000000000,"
		"\"Timeout\":5000000000,\"StartPeriod\":1000000000,"
		"\"StartInterval\":2000000000,\"Retries\":3},"
		"\"OnBuild\":[\"RUN echo "
		"hi\"],\"Shell\":[\"/bin/bash\",\"-c\"]},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" EMPTY_SHA256
		"\"]},"
		"\"history\":[{\"created\":\"2024-05-01T12:00:00Z\",\"created_"
		"by\":\"/bin/sh -c #(nop) ADD file:x in /\"},"
		"{\"created\":\"2024-05-01T12:00:01Z\",\"created_by\":\"CMD "
		"null\",\"author\":\"me\","
		"\"comment\":\"buildkit.dockerfile.v0\",\"empty_layer\":true}]"
		"}";
	is_str(s, want, "config bytes: every field, fixed order");

	struct oci_image_config *p = parse_config(s, &err);
	ok(p != NULL, "config parses back");
	char *s2 = p ? config_json(p) : NULL;
	is_str(s2, s, "config parse -> serialize is byte-stable");
	ok(p && p->config.cmd.state == OCI_NULL &&
		   p->config.entrypoint.state == OCI_PRESENT &&
		   p->config.healthcheck->retries == 3 &&
		   p->config.args_escaped && p->history_nr == 2 &&
		   p->history[1].empty_layer && !p->history[0].empty_layer &&
		   oci_map_has(&p->config.volumes, "/data") &&
		   !strcmp(oci_map_get(&p->config.labels, "z"), "last"),
	   "config fields parse back");
	struct oci_image_config *d = oci_image_config_dup(p);
	char *s3 = config_json(d);
	is_str(s3, s, "oci_image_config_dup is deep and complete");
	oci_image_config_free(d);
	free(s3);
	oci_image_config_free(p);
	free(s2);
	free(s);
	oci_image_config_release(&c);

	/* null vs empty vs absent, docker's three meanings */
	static const char *const three = "{\"architecture\":\"amd64\",\"os\":"
					 "\"linux\",\"config\":{"
					 "\"Entrypoint\":null,\"Cmd\":[],"
					 "\"Labels\":null,\"OnBuild\":null,"
					 "\"Env\":null},"
					 "\"rootfs\":{\"type\":\"layers\","
					 "\"diff_ids\":[]}}";
	p = parse_config(three, &err);
	ok(p && p->config.entrypoint.state == OCI_NULL &&
		   p->config.cmd.state == OCI_PRESENT &&
		   p->config.cmd.nr == 0 &&
		   p->config.shell.state == OCI_ABSENT &&
		   p->config.labels.state == OCI_NULL &&
		   p->config.on_build.state == OCI_NULL,
	   "null, [] and absent are distinguished");
	ok(p && p->config.env.state == OCI_ABSENT, "Env null reads as absent "
						   "(the schema has no null "
						   "Env)");
	s = p ? config_json(p) : NULL;
	is_str(s,
	       "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	       "\"Entrypoint\":null,"
	       "\"Cmd\":[],\"Labels\":null,\"OnBuild\":null},\"rootfs\":{"
	       "\"type\":\"layers\",\"diff_ids\":[]}}",
	       "null and [] written back as such");
	free(s);
	oci_image_config_free(p);

	/* unknown fields are kept, known ones win */
	static const char *const docker = "{\"architecture\":\"amd64\","
					  "\"config\":{\"Hostname\":"
					  "\"09713501c176\",\"User\":\"\","
					  "\"AttachStdin\":false,\"Cmd\":["
					  "\"sh\"],\"Image\":\"sha256:32e2\"},"
					  "\"container\":\"15a3\",\"container_"
					  "config\":{\"Cmd\":[\"/bin/sh\"]},"
					  "\"created\":\"2016-10-10T23:04:00."
					  "821781828Z\",\"docker_version\":\"1."
					  "12.1\","
					  "\"os\":\"linux\",\"rootfs\":{"
					  "\"type\":\"layers\",\"diff_ids\":["
					  "\"" EMPTY_SHA256 "\"]}}";
	p = parse_config(docker, &err);
	ok(p && p->extra && json_object_get(p->extra, "container_config") &&
		   json_object_get(p->extra, "docker_version") &&
		   !json_object_get(p->extra, "os") && p->config.extra &&
		   json_object_get(p->config.extra, "Hostname") &&
		   !strcmp(p->config.user, ""),
	   "unknown top-level and config members kept in extra");
	s = p ? config_json(p) : NULL;
	is_str(s,
	       "{\"created\":\"2016-10-10T23:04:00.821781828Z\","
	       "\"architecture\":\"amd64\",\"os\":\"linux\","
	       "\"config\":{\"User\":\"\",\"Cmd\":[\"sh\"],\"Hostname\":"
	       "\"09713501c176\",\"AttachStdin\":false,"
	       "\"Image\":\"sha256:32e2\"},\"rootfs\":{\"type\":\"layers\","
	       "\"diff_ids\":[\"" EMPTY_SHA256 "\"]},"
	       "\"container\":\"15a3\",\"container_config\":{\"Cmd\":[\"/bin/"
	       "sh\"]},\"docker_version\":\"1.12.1\"}",
	       "extra written after known members, in input order");
	if (p)
		json_object_set_new(p->extra, "os", json_string("plan9"));
	char *t = p ? config_json(p) : NULL;
	ok(t && strstr(t, "\"os\":\"linux\"") && !strstr(t, "plan9"), "a known "
								      "member "
								      "wins "
								      "over "
								      "extra");
	free(t);
	free(s);
	oci_image_config_free(p);

	/* invalid UTF-8 from a caller is written as U+FFFD, like Go */
	c.architecture = xstrdup("amd64");
	c.os = xstrdup("linux");
	c.author = xstrdup("caf\xe9");
	s = config_json(&c);
	ok(strstr(s, "\"author\":\"caf\xef\xbf\xbd\"") != NULL, "invalid UTF-8 "
								"becomes "
								"U+FFFD");
	free(s);
	oci_image_config_release(&c);

	static const struct {
		const char *json;
		const char *why;
	} bad[] = {
		{ "{\"architecture\":\"amd64\",\"os\":123,\"rootfs\":{\"type\":"
		  "\"layers\",\"diff_ids\":[]}}",
		  "config: 'os' must be a string, not an integer" },
		{ "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_"
		  "ids\":[]}}",
		  "missing required field 'architecture'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\"}", "missing "
								   "required "
								   "field "
								   "'rootfs'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
		  "\"type\":\"layers\"}}",
		  "missing required field 'diff_ids'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
		  "\"type\":\"tar\",\"diff_ids\":[]}}",
		  "unsupported type 'tar'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
		  "\"type\":\"layers\",\"diff_ids\":[\"x\"]}}",
		  "diff_ids[0]: invalid digest 'x'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"User\":1},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
		  "}",
		  "config: config: 'User' must be a string" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"Env\":[\"foo\"]},\"rootfs\":{\"type\":\"layers\",\"diff_"
		  "ids\":[]}}",
		  "Env entry 'foo' is not KEY=value" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"Env\":[7]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]"
		  "}}",
		  "'Env[0]' must be a string" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"Volumes\":[\"/"
		  "a\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "'Volumes' must be an object" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"ExposedPorts\":{\"80/"
		  "tcp\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "'ExposedPorts' member '80/tcp' must be an object" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"Healthcheck\":{\"Retries\":\"3\"}},\"rootfs\":{\"type\":"
		  "\"layers\",\"diff_ids\":[]}}",
		  "Healthcheck: 'Retries' must be an integer" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
		  "\"ArgsEscaped\":1},\"rootfs\":{\"type\":\"layers\",\"diff_"
		  "ids\":[]}}",
		  "'ArgsEscaped' must be a boolean" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":[],"
		  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "'config' must be an object" },
		{ "{\"history\":\"x\",\"architecture\":\"amd64\",\"os\":"
		  "\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "'history' must be an array" },
		{ "{\"history\":[{\"empty_layer\":\"yes\"}],\"architecture\":"
		  "\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]}}",
		  "history[0]: 'empty_layer' must be a boolean" },
		{ "{\"created\":\"yesterday\",\"architecture\":\"amd64\","
		  "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_"
		  "ids\":[]}}",
		  "not an RFC 3339 time" },
		{ "invalid JSON", "config: invalid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		p = parse_config(bad[i].json, &err);
		ok(!p && err && strstr(err->msg, bad[i].why),
		   "bad config %zu rejected: %s", i,
		   err ? err->msg : "(accepted)");
		oci_image_config_free(p);
		error_clear(&err);
	}

	/* the writer refuses what the reader would */
	struct oci_image_config w = { 0 };
	struct strbuf sb = STRBUF_INIT;
	ok(oci_image_config_serialize(&w, &sb, &err) == -1 && err &&
		   strstr(err->msg, "missing architecture"),
	   "writer refuses a config without architecture");
	error_clear(&err);
	w.architecture = xstrdup("amd64");
	w.os = xstrdup("linux");
	oci_strlist_push(&w.config.env, "NOEQUALS");
	ok(oci_image_config_serialize(&w, &sb, &err) == -1 && err, "writer "
								   "refuses a "
								   "bad Env "
								   "entry");
	error_clear(&err);
	oci_strlist_release(&w.config.env);
	ok(!oci_image_config_serialize(&w, &sb, NULL) &&
		   !strcmp(sb.buf, "{\"architecture\":\"amd64\",\"os\":"
				   "\"linux\","
				   "\"rootfs\":{\"type\":\"layers\",\"diff_"
				   "ids\":[]}}"),
	   "minimal config");
	strbuf_release(&sb);
	oci_image_config_release(&w);
}

/* ---------------------------------------------------------------- archives */

static void test_archive_and_layout(void)
{
	static const char saved[] = "[{\"Config\":\"blobs/sha256/"
				    "aa\",\"RepoTags\":[\"golang:latest\"],"
				    "\"Layers\":[\"blobs/sha256/bb\",\"blobs/"
				    "sha256/cc\"]},"
				    "{\"Config\":\"blobs/sha256/"
				    "dd\",\"RepoTags\":null,\"Layers\":[]}]";
	struct error *err = NULL;
	struct oci_archive_manifest *am =
		oci_archive_manifest_parse(saved, strlen(saved), &err);
	ok(am && am->nr == 2 && am->images[0].layers.nr == 2 &&
		   !strcmp(am->images[0].repo_tags.v[0], "golang:latest") &&
		   am->images[1].repo_tags.state == OCI_NULL,
	   "docker save manifest.json parses");
	struct strbuf sb = STRBUF_INIT;
	ok(am && !oci_archive_manifest_serialize(am, &sb, NULL) &&
		   !strcmp(sb.buf, saved),
	   "manifest.json round-trips byte-exact");
	oci_archive_manifest_free(am);

	am = xcalloc(1, sizeof(*am));
	struct oci_archive_image *img = oci_archive_manifest_add(am, "blobs/"
								     "sha256/"
								     "ee");
	oci_strlist_push(&img->repo_tags, "a:1");
	oci_strlist_push(&img->layers, "blobs/sha256/ff");
	strbuf_reset(&sb);
	ok(!oci_archive_manifest_serialize(am, &sb, NULL) &&
		   !strcmp(sb.buf, "[{\"Config\":\"blobs/sha256/"
				   "ee\",\"RepoTags\":[\"a:1\"],"
				   "\"Layers\":[\"blobs/sha256/ff\"]}]"),
	   "manifest.json built in code");
	oci_archive_manifest_free(am);
	strbuf_release(&sb);

	am = oci_archive_manifest_parse("[{\"Config\":\"x\"}]", 16, &err);
	ok(!am && err && strstr(err->msg, "'Layers'"), "manifest.json without "
						       "Layers rejected");
	error_clear(&err);
	am = oci_archive_manifest_parse("{}", 2, &err);
	ok(!am && err && strstr(err->msg, "expected an array"), "manifest.json "
								"must be an "
								"array");
	error_clear(&err);

	ok(!oci_layout_check(OCI_LAYOUT_FILE_CONTENT,
			     strlen(OCI_LAYOUT_FILE_CONTENT), NULL),
	   "oci-layout content accepted");
	ok(oci_layout_check("{\"imageLayoutVersion\":\"2.0.0\"}", 30, &err) ==
			   -1 &&
		   err && strstr(err->msg, "'2.0.0'"),
	   "other layout version rejected");
	error_clear(&err);
}

/* ---------------------------------------------------------------- containers
 */

static void test_containers(void)
{
	struct oci_map m = { 0 }, n = { 0 };
	oci_map_set(&m, "b", "2");
	oci_map_set(&m, "c", NULL);
	oci_map_set(&m, "a", "1");
	oci_map_set(&m, "b", "two");
	ok(m.nr == 3 && !strcmp(m.e[0].key, "a") && !strcmp(m.e[2].key, "c"),
	   "map stays sorted, replaces");
	is_str(oci_map_get(&m, "b"), "two", "map get");
	ok(oci_map_has(&m, "c") && !oci_map_get(&m, "c") &&
		   !oci_map_has(&m, "d"),
	   "set member has no value");
	oci_map_copy(&n, &m);
	ok(oci_map_equal(&m, &n), "map copy equal");
	ok(oci_map_remove(&n, "a") && !oci_map_remove(&n, "a") && n.nr == 2 &&
		   !oci_map_equal(&m, &n),
	   "map remove");
	oci_map_release(&m);
	oci_map_release(&n);

	struct oci_strlist l = { 0 }, k = { 0 };
	const char *v[] = { "x", "y" };
	oci_strlist_set(&l, v, 2);
	oci_strlist_copy(&k, &l);
	ok(oci_strlist_equal(&l, &k) && k.v[2] == NULL, "strlist copy");
	oci_strlist_set_null(&k);
	ok(!oci_strlist_equal(&l, &k) && k.state == OCI_NULL && !k.v, "strlist "
								      "null");
	oci_strlist_set_empty(&k);
	ok(k.state == OCI_PRESENT && k.nr == 0 && k.v && !k.v[0], "strlist "
								  "empty");
	oci_strlist_release(&l);
	oci_strlist_release(&k);
}

int main(void)
{
	test_refs();
	test_digests();
	test_mediatypes();
	test_manifests();
	test_indexes();
	test_platforms();
	test_config();
	test_archive_and_layout();
	test_containers();
	return tap_done();
}
