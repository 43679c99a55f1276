/*
 * digest.c: content digests.  oci_digest_parse() accepts only what we can
 * verify (sha256/sha384/sha512 with lowercase hex of the right length);
 * oci_digest_check_grammar() is the image-spec's wider grammar used when
 * reading descriptors.  Hashing goes through OpenSSL's EVP interface.
 */
#include "oci/oci.h"
#include <openssl/evp.h>

static const struct {
	const char *name;
	enum oci_digest_algo algo;
	size_t hexlen;
} algos[] = {
	{ "sha256", OCI_DIGEST_SHA256, 64 },
	{ "sha384", OCI_DIGEST_SHA384, 96 },
	{ "sha512", OCI_DIGEST_SHA512, 128 },
};

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

enum oci_digest_algo oci_digest_parse(const char *s, const char **hex,
				      struct error **err)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !colon[1]) {
		error_set(err, KILN_EINVAL,
			  "invalid digest '%s': expected <algorithm>:<hex>", s);
		return OCI_DIGEST_UNKNOWN;
	}
	size_t alen = colon - s;
	for (size_t i = 0; i < ARRAY_SIZE(algos); i++) {
		if (strlen(algos[i].name) != alen ||
		    memcmp(algos[i].name, s, alen))
			continue;
		const char *h = colon + 1;
		size_t n = strlen(h);
		if (n != algos[i].hexlen) {
			error_set(err, KILN_EINVAL,
				  "invalid digest '%s': %s needs %zu hex "
				  "digits, not %zu",
				  s, algos[i].name, algos[i].hexlen, n);
			return OCI_DIGEST_UNKNOWN;
		}
		if (!is_lower_hex(h, n)) {
			error_set(err, KILN_EINVAL,
				  "invalid digest '%s': not lowercase hex", s);
			return OCI_DIGEST_UNKNOWN;
		}
		if (hex)
			*hex = h;
		return algos[i].algo;
	}
	error_set(err, KILN_EINVAL,
		  "invalid digest '%s': unsupported digest algorithm '%.*s'", s,
		  (int)alen, s);
	return OCI_DIGEST_UNKNOWN;
}

static bool is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int oci_digest_check_grammar(const char *s, struct error **err)
{
	const char *p = s;

	/* algorithm: [a-z0-9]+ ([+._-] [a-z0-9]+)* */
	for (;;) {
		if (!is_lower_alnum(*p))
			goto bad;
		while (is_lower_alnum(*p))
			p++;
		if (*p == ':')
			break;
		if (!*p || !strchr("+._-", *p))
			goto bad;
		p++;
	}
	p++;
	/* encoded: [a-zA-Z0-9=_-]+ */
	if (!*p)
		goto bad;
	for (const char *q = p; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		      (*q >= '0' && *q <= '9') || strchr("=_-", *q)))
			goto bad;
	/* a registered algorithm must also be well formed */
	size_t alen = p - 1 - s;
	for (size_t i = 0; i < ARRAY_SIZE(algos); i++)
		if (strlen(algos[i].name) == alen &&
		    !memcmp(algos[i].name, s, alen))
			return oci_digest_parse(s, NULL, err) ==
					       OCI_DIGEST_UNKNOWN
				       ? -1
				       : 0;
	return 0;
bad:
	error_set(err, KILN_EINVAL,
		  "invalid digest '%s': expected <algorithm>:<encoded>", s);
	return -1;
}

static const EVP_MD *algo_md(enum oci_digest_algo algo)
{
	switch (algo) {
	case OCI_DIGEST_SHA256:
		return EVP_sha256();
	case OCI_DIGEST_SHA384:
		return EVP_sha384();
	case OCI_DIGEST_SHA512:
		return EVP_sha512();
	default:
		BUG("unknown digest algorithm %d", (int)algo);
	}
}

static const char *algo_name(enum oci_digest_algo algo)
{
	for (size_t i = 0; i < ARRAY_SIZE(algos); i++)
		if (algos[i].algo == algo)
			return algos[i].name;
	BUG("unknown digest algorithm %d", (int)algo);
}

void oci_hasher_init(struct oci_hasher *h, enum oci_digest_algo algo)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, algo_md(algo), NULL))
		die("out of memory initialising a hash");
	h->algo = algo;
	h->size = 0;
	h->ctx = ctx;
}

void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len)
{
	if (!h->ctx)
		BUG("oci_hasher_update after final");
	if (!EVP_DigestUpdate(h->ctx, buf, len))
		BUG("EVP_DigestUpdate failed");
	h->size += len;
}

void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX + 1])
{
	static const char xd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!h->ctx)
		BUG("oci_hasher_final called twice");
	if (!EVP_DigestFinal_ex(h->ctx, md, &n))
		BUG("EVP_DigestFinal_ex failed");
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;

	const char *name = algo_name(h->algo);
	size_t at = strlen(name);
	memcpy(out, name, at);
	out[at++] = ':';
	for (unsigned int i = 0; i < n; i++) {
		out[at++] = xd[md[i] >> 4];
		out[at++] = xd[md[i] & 15];
	}
	out[at] = '\0';
}

void oci_hasher_release(struct oci_hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void oci_sha256_digest(const void *buf, size_t len,
		       char out[OCI_SHA256_DIGEST_LEN + 1])
{
	struct oci_hasher h;
	char tmp[OCI_DIGEST_MAX + 1];
	oci_hasher_init(&h, OCI_DIGEST_SHA256);
	oci_hasher_update(&h, buf, len);
	oci_hasher_final(&h, tmp);
	memcpy(out, tmp, OCI_SHA256_DIGEST_LEN + 1);
}

char *oci_sha256_digest_str(const void *buf, size_t len)
{
	char out[OCI_SHA256_DIGEST_LEN + 1];
	oci_sha256_digest(buf, len, out);
	return xstrdup(out);
}
