/*
 * platform.c: os/architecture/variant triples, their normalisation
 * (containerd's rules, with arm64 keeping "v8" explicitly), and choosing
 * the best manifest from an index.  Nothing here looks at the running
 * machine: the caller passes uname(2)'s machine string in.
 */
#include "oci/oci-internal.h"
#include <ctype.h>

void oci_platform_release(struct oci_platform *p)
{
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	oci_strlist_release(&p->os_features);
	memset(p, 0, sizeof(*p));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void oci_platform_copy(struct oci_platform *dst, const struct oci_platform *src)
{
	oci_platform_release(dst);
	dst->os = dup_or_null(src->os);
	dst->architecture = dup_or_null(src->architecture);
	dst->variant = dup_or_null(src->variant);
	dst->os_version = dup_or_null(src->os_version);
	oci_strlist_copy(&dst->os_features, &src->os_features);
}

static void set_str(char **dst, const char *v)
{
	char *n = dup_or_null(v);
	free(*dst);
	*dst = n;
}

static void lowercase(char *s)
{
	for (; s && *s; s++)
		*s = tolower((unsigned char)*s);
}

static bool var_is(const char *v, const char *a, const char *b, const char *c)
{
	if (!v || !*v)
		return !a;
	return (a && !strcmp(v, a)) || (b && !strcmp(v, b)) ||
	       (c && !strcmp(v, c));
}

void oci_platform_normalize(struct oci_platform *p)
{
	lowercase(p->os);
	lowercase(p->architecture);
	lowercase(p->variant);
	if (p->variant && !*p->variant)
		set_str(&p->variant, NULL);
	if (p->os && !strcmp(p->os, "macos"))
		set_str(&p->os, "darwin");

	const char *a = p->architecture;
	if (!a)
		return;
	if (!strcmp(a, "i386") || !strcmp(a, "i486") || !strcmp(a, "i586") ||
	    !strcmp(a, "i686") || !strcmp(a, "x86")) {
		set_str(&p->architecture, "386");
		set_str(&p->variant, NULL);
	} else if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") ||
		   !strcmp(a, "amd64")) {
		set_str(&p->architecture, "amd64");
		if (var_is(p->variant, "v1", "1", NULL))
			set_str(&p->variant, NULL);
	} else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
		set_str(&p->architecture, "arm64");
		if (var_is(p->variant, NULL, NULL, NULL) ||
		    var_is(p->variant, "8", "v8.0", NULL))
			set_str(&p->variant, "v8");
		else if (var_is(p->variant, "9", "9.0", "v9.0"))
			set_str(&p->variant, "v9");
	} else if (!strcmp(a, "armhf")) {
		set_str(&p->architecture, "arm");
		set_str(&p->variant, "v7");
	} else if (!strcmp(a, "armel")) {
		set_str(&p->architecture, "arm");
		set_str(&p->variant, "v6");
	} else if (starts_with(a, "armv") && a[4] >= '5' && a[4] <= '8') {
		/* uname style: armv5tel, armv6l, armv7l, armv8l */
		char v[3] = { 'v', a[4], '\0' };
		set_str(&p->architecture, "arm");
		set_str(&p->variant, v);
	} else if (!strcmp(a, "arm")) {
		if (var_is(p->variant, NULL, NULL, NULL) ||
		    var_is(p->variant, "7", NULL, NULL))
			set_str(&p->variant, "v7");
		else if (var_is(p->variant, "5", "6", "8")) {
			char v[3] = { 'v', p->variant[0], '\0' };
			set_str(&p->variant, v);
		}
	} else if (!strcmp(a, "loongarch64")) {
		set_str(&p->architecture, "loong64");
	}
}

static bool valid_platform_word(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

int oci_platform_parse(const char *s, struct oci_platform *p,
		       struct error **err)
{
	const char *parts[3];
	size_t lens[3], n = 0;
	const char *q = s;

	for (;;) {
		const char *slash = strchr(q, '/');
		size_t len = slash ? (size_t)(slash - q) : strlen(q);
		if (n == 3 || !valid_platform_word(q, len)) {
			error_set(err, KILN_EINVAL,
				  "invalid platform '%s': expected "
				  "os/arch[/variant]",
				  s);
			return -1;
		}
		parts[n] = q;
		lens[n++] = len;
		if (!slash)
			break;
		q = slash + 1;
	}
	if (n < 2) {
		error_set(err, KILN_EINVAL,
			  "invalid platform '%s': expected os/arch[/variant]",
			  s);
		return -1;
	}
	oci_platform_release(p);
	p->os = xstrndup(parts[0], lens[0]);
	p->architecture = xstrndup(parts[1], lens[1]);
	if (n == 3)
		p->variant = xstrndup(parts[2], lens[2]);
	oci_platform_normalize(p);
	return 0;
}

static const char *const known_arches[] = {
	"amd64",   "arm64",   "arm",  "386",	"ppc64le", "ppc64",    "s390x",
	"riscv64", "loong64", "mips", "mipsle", "mips64",  "mips64le",
};

int oci_platform_host(const char *uname_machine, struct oci_platform *p,
		      struct error **err)
{
	struct oci_platform h = { 0 };
	h.os = xstrdup("linux");
	h.architecture = xstrdup(uname_machine);
	oci_platform_normalize(&h);
	for (size_t i = 0; i < ARRAY_SIZE(known_arches); i++) {
		if (!strcmp(h.architecture, known_arches[i])) {
			oci_platform_release(p);
			*p = h;
			return 0;
		}
	}
	error_set(err, KILN_EINVAL, "unknown machine architecture '%s'",
		  uname_machine);
	oci_platform_release(&h);
	return -1;
}

char *oci_platform_string(const struct oci_platform *p)
{
	const char *os = p->os ? p->os : "unknown";
	const char *arch = p->architecture ? p->architecture : "unknown";
	if (p->variant)
		return xstrfmt("%s/%s/%s", os, arch, p->variant);
	return xstrfmt("%s/%s", os, arch);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool oci_platform_equal(const struct oci_platform *a,
			const struct oci_platform *b)
{
	struct oci_platform x = { 0 }, y = { 0 };
	oci_platform_copy(&x, a);
	oci_platform_copy(&y, b);
	oci_platform_normalize(&x);
	oci_platform_normalize(&y);
	bool eq = str_eq(x.os, y.os) &&
		  str_eq(x.architecture, y.architecture) &&
		  str_eq(x.variant, y.variant);
	oci_platform_release(&x);
	oci_platform_release(&y);
	return eq;
}

/* "v7" -> 70, "v8.2" -> 82, none -> 10 (v1); -1 when unparseable. */
static int variant_num(const char *v)
{
	if (!v)
		return 10;
	if (v[0] != 'v' || !isdigit((unsigned char)v[1]))
		return -1;
	int major = v[1] - '0', minor = 0;
	const char *p = v + 2;
	if (isdigit((unsigned char)*p))
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]) || p[2])
			return -1;
		minor = p[1] - '0';
	} else if (*p) {
		return -1;
	}
	return major * 10 + minor;
}

static int score_normalized(const struct oci_platform *want,
			    const struct oci_platform *have)
{
	if (!want->os || !have->os || !want->architecture ||
	    !have->architecture || strcmp(want->os, have->os))
		return 0;
	if (!strcmp(want->architecture, have->architecture)) {
		if (str_eq(want->variant, have->variant))
			return 1000;
		const char *a = want->architecture;
		if (!strcmp(a, "arm") || !strcmp(a, "arm64") ||
		    !strcmp(a, "amd64")) {
			int w = variant_num(want->variant);
			int h = variant_num(have->variant);
			/* older variants run on newer machines */
			if (w >= 0 && h >= 0 && h < w)
				return 500 + h;
			return 0;
		}
		/* an unspecified variant takes any */
		return want->variant ? 0 : 400;
	}
	if (!strcmp(want->architecture, "amd64") &&
	    !strcmp(have->architecture, "386"))
		return 100;
	return 0;
}

int oci_platform_score(const struct oci_platform *want,
		       const struct oci_platform *have)
{
	struct oci_platform w = { 0 }, h = { 0 };
	oci_platform_copy(&w, want);
	oci_platform_copy(&h, have);
	oci_platform_normalize(&w);
	oci_platform_normalize(&h);
	int s = score_normalized(&w, &h);
	oci_platform_release(&w);
	oci_platform_release(&h);
	return s;
}

const struct oci_descriptor *oci_index_match(const struct oci_index *idx,
					     const struct oci_platform *want,
					     struct error **err)
{
	const struct oci_descriptor *best = NULL;
	int best_score = 0;

	for (size_t i = 0; i < idx->manifests_nr; i++) {
		const struct oci_descriptor *d = &idx->manifests[i];
		if (!d->platform)
			continue;
		int s = oci_platform_score(want, d->platform);
		if (s > best_score) {
			best = d;
			best_score = s;
		}
	}
	if (best)
		return best;

	struct strbuf avail = STRBUF_INIT;
	for (size_t i = 0; i < idx->manifests_nr; i++) {
		const struct oci_platform *p = idx->manifests[i].platform;
		/* attestation manifests say unknown/unknown */
		if (!p || (p->os && !strcmp(p->os, "unknown")))
			continue;
		struct oci_platform n = { 0 };
		oci_platform_copy(&n, p);
		oci_platform_normalize(&n);
		char *s = oci_platform_string(&n);
		strbuf_addf(&avail, "%s%s", avail.len ? ", " : "", s);
		free(s);
		oci_platform_release(&n);
	}
	char *w = oci_platform_string(want);
	error_set(err, KILN_ENOTFOUND,
		  "no matching manifest for %s in the manifest list entries "
		  "(available: %s)",
		  w, avail.len ? avail.buf : "none");
	free(w);
	strbuf_release(&avail);
	return NULL;
}

int oci_platform_from_json(const json_t *j, struct oci_platform *p,
			   const char *ctx, struct error **err)
{
	if (!json_is_object(j)) {
		error_set(err, KILN_EINVAL,
			  "%s: 'platform' must be an object, not %s", ctx,
			  oj_type_name(j));
		return -1;
	}
	cleanup_free char *c = xstrfmt("%s: platform", ctx);
	if (oj_get_string(j, "architecture", true, &p->architecture, c, err) ||
	    oj_get_string(j, "os", true, &p->os, c, err) ||
	    oj_get_string(j, "os.version", false, &p->os_version, c, err) ||
	    oj_get_strlist(j, "os.features", &p->os_features, c, err) ||
	    oj_get_string(j, "variant", false, &p->variant, c, err))
		return -1;
	return 0;
}

json_t *oci_platform_to_json(const struct oci_platform *p, const char *ctx,
			     struct error **err)
{
	if (!p->architecture || !p->os) {
		error_set(err, KILN_EINVAL,
			  "%s: platform needs an architecture and an os", ctx);
		return NULL;
	}
	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_put_string(j, "architecture", p->architecture);
	oj_put_string(j, "os", p->os);
	oj_put_string(j, "os.version", p->os_version);
	if (p->os_features.state == OCI_PRESENT)
		oj_put_strlist(j, "os.features", &p->os_features);
	oj_put_string(j, "variant", p->variant);
	return j;
}
