/*
 * Unit tests for the registry client's pure parts: the TOML reader and
 * registries.conf (cases in tests/data/registries-conf/, one file each,
 * first line "# expect: ok" or "# expect: <error substring>"), prefix
 * matching, references, credentials files, WWW-Authenticate, base64 and
 * secret redaction.
 */
#include "tap.h"

#include "registry/registry-internal.h"

#include <dirent.h>
#include <sys/stat.h>

static char tmpdir[64];

static char *write_tmp(const char *name, const char *text)
{
	char *p = xstrfmt("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "we");
	fputs(text, f);
	fclose(f);
	return p;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_conf_cases(void)
{
	const char *dir = "tests/data/registries-conf";
	DIR *d = opendir(dir);
	if (!d) {
		tap_skip("no %s (run from the source tree)", dir);
		return;
	}
	struct strvec names = STRVEC_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".conf"))
			strvec_push(&names, de->d_name);
	closedir(d);
	qsort(names.v, names.nr, sizeof(*names.v), cmp_names);
	for (size_t i = 0; i < names.nr; i++) {
		char *path = xstrfmt("%s/%s", dir, names.v[i]);
		struct strbuf sb = STRBUF_INIT;
		strbuf_read_file(&sb, path);
		const char *expect = NULL;
		char *nl = strchr(sb.buf, '\n');
		char *want = nl ? xstrndup(sb.buf, nl - sb.buf) : xstrdup("");
		skip_prefix(want, "# expect: ", &expect);
		struct registries_conf conf = { .search = STRVEC_INIT };
		struct error *e = NULL;
		int r = registries_conf_add(&conf, sb.buf, sb.len, path, &e);
		if (expect && !strcmp(expect, "ok")) {
			ok(r == 0, "%s parses%s%s", names.v[i], e ? ": " : "",
			   e ? e->msg : "");
		} else {
			cleanup_free char *full =
				expect ? xstrfmt("%s%s", path, expect) : NULL;
			ok(r < 0 && e && expect &&
				   (strstr(e->msg, expect) &&
				    starts_with(e->msg, path)),
			   "%s: error '%s'", names.v[i], e ? e->msg : "(none)");
			(void)full;
		}
		error_free(e);
		registries_conf_release(&conf);
		strvec_clear(&conf.search);
		free(want);
		strbuf_release(&sb);
		free(path);
	}
	strvec_clear(&names);
}

static struct registries_conf load(const char *text)
{
	struct registries_conf conf = { .search = STRVEC_INIT };
	struct error *e = NULL;
	if (registries_conf_add(&conf, text, strlen(text), "t.conf", &e) < 0) {
		printf("# %s\n", e->msg);
		error_free(e);
	}
	return conf;
}

static const char *find_prefix(const struct registries_conf *c,
			       const char *name)
{
	const struct conf_registry *r = registries_conf_find(c, name);
	return r ? r->prefix : NULL;
}

static void test_conf_semantics(void)
{
	struct registries_conf c = load(
		"unqualified-search-registries = ['a.io', \"b.io\"]\n"
		"[[registry]]\nprefix = \"docker.io\"\nlocation = "
		"\"hub.corp\"\n"
		"[[registry.mirror]]\nlocation = \"m1\"\n"
		"[[registry.mirror]]\nlocation = \"m2\"\ninsecure = true\n"
		"pull-from-mirror = \"tag-only\"\n"
		"[[registry]]\nprefix = \"docker.io/library\"\n"
		"location = \"lib.corp/lib\"\n"
		"[[registry]]\nprefix = \"docker.io/library/busybox:1\"\n"
		"blocked = true\n"
		"[[registry]]\nprefix = \"*.example.com\"\nblocked = true\n"
		"[[registry]]\nprefix = \"*.b.example.com\"\ninsecure = true\n"
		"[[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n"
		"[[registry]]\nprefix = \"localhost\"\n");
	is_int(c.search.nr, 2, "two search registries");
	is_str(c.search.v[1], "b.io", "literal and basic strings");
	is_int(c.regs_nr, 7, "seven registries");
	is_int(c.regs[0].mirrors_nr, 2, "two mirrors");
	is_int(c.regs[0].mirrors[1].mode, PULL_TAG_ONLY, "tag-only");
	ok(c.regs[0].mirrors[1].insecure && !c.regs[0].mirrors[0].insecure,
	   "mirror insecure flags");
	is_str(find_prefix(&c, "docker.io/foo/bar"), "docker.io",
	       "prefix match");
	is_str(find_prefix(&c, "docker.io/library/busybox"),
	       "docker.io/library", "longest prefix wins");
	is_str(find_prefix(&c, "docker.io/librarything/x"), "docker.io",
	       "prefixes match whole path components");
	is_str(find_prefix(&c, "docker.io/library/busybox:1"),
	       "docker.io/library/busybox:1", "a tag in the prefix");
	is_str(find_prefix(&c, "quay.io/x"), NULL, "no match");
	is_str(find_prefix(&c, "a.example.com/x"), "*.example.com", "wildcard");
	is_str(find_prefix(&c, "x.b.example.com/y"), "*.b.example.com",
	       "the longest wildcard wins");
	is_str(find_prefix(&c, "example.com/x"), NULL,
	       "a wildcard needs a subdomain");
	is_str(find_prefix(&c, "localhost:5000/x"), "localhost:5000",
	       "host:port prefix");
	is_str(find_prefix(&c, "localhost/x"), "localhost", "localhost");
	is_str(find_prefix(&c, "localhost:5001/x"), NULL,
	       "a port is part of the host");
	ok(c.regs[5].insecure && !strcmp(c.regs[5].prefix, "localhost:5000"),
	   "prefix defaults to location");
	/* a later file overrides */
	struct error *e = NULL;
	const char *more = "unqualified-search-registries = []\n"
			   "[[registry]]\nprefix = \"docker.io\"\n"
			   "location = \"other.corp\"\n";
	ok(!registries_conf_add(&c, more, strlen(more), "d.conf", &e), "drop-"
								       "in "
								       "parse"
								       "s");
	is_int(c.search.nr, 0, "drop-in replaces the search list");
	is_int(c.regs_nr, 7, "same prefix replaces, not appends");
	is_str(registries_conf_find(&c, "docker.io/x/y")->location,
	       "other.corp", "drop-in location wins");
	is_int(registries_conf_find(&c, "docker.io/x/y")->mirrors_nr, 0,
	       "replaced entry lost its mirrors");
	registries_conf_release(&c);
	strvec_clear(&c.search);

	struct registries_conf v1 = load("[registries.search]\nregistries = "
					 "['q.io']\n"
					 "[registries.insecure]\nregistries = "
					 "['h:5000']\n"
					 "[registries.block]\nregistries = "
					 "['bad.io', 'h:5000']\n");
	is_int(v1.search.nr, 1, "v1 search");
	const struct conf_registry *h = registries_conf_find(&v1, "h:5000/x");
	ok(h && h->insecure && h->blocked, "v1 insecure + block merge");
	ok(registries_conf_find(&v1, "bad.io/x")->blocked, "v1 block");
	registries_conf_release(&v1);
	strvec_clear(&v1.search);
}

static void test_toml(void)
{
	struct error *e = NULL;
	const char *t = "a = \"\\u00e9\\t\\\"x\\\\\"\nb = -1_000\n"
			"c.d = true\n[t]\n[t.u]\nv = []\n[[arr]]\n[[arr]]\n"
			"k = 'lit\\eral'\n";
	struct toml_value *v = toml_parse(t, strlen(t), "x", &e);
	ok(v != NULL, "toml parses%s%s", e ? ": " : "", e ? e->msg : "");
	if (!v)
		return;
	is_str(toml_get(v, "a")->str, "\xc3\xa9\t\"x\\", "escapes");
	is_int(toml_get(v, "b")->i, -1000, "integer with underscore");
	ok(toml_get(toml_get(v, "c"), "d")->b, "dotted key");
	ok(toml_get(toml_get(toml_get(v, "t"), "u"), "v")->type == TOML_ARRAY,
	   "nested table");
	is_int(toml_get(v, "arr")->items_nr, 2, "array of tables");
	is_str(toml_get(toml_get(v, "arr")->items[1], "k")->str, "lit\\eral",
	       "literal string keeps backslashes");
	toml_free(v);
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "a = 1\n\na = 2\n", "x:3: duplicate key 'a'" },
		{ "a = [1, 'x']\n", "x:1: mixed types in array" },
		{ "[a]\nb = 1\n[a.b]\n", "x:3: 'b' is already defined as a "
					 "value" },
		{ "[[a]]\n[a]\n", "x:2: 'a' is already defined as an array of "
				  "tables" },
		{ "a = \"\"\"x\"\"\"\n", "x:1: multi-line strings" },
		{ "a = 1979-05-27\n", "x:1: invalid value" },
		{ "a = \"x\001\"\n", "x:1: unterminated string" },
		{ "= 1\n", "x:1: unexpected '='" },
		{ "[a\n", "x:1: expected ']'" },
		{ "a = [\n 'x',\n 'y'\n", "x:4: unterminated array" },
		{ "a = 99999999999999999999\n", "x:1: invalid value" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e = NULL;
		v = toml_parse(bad[i].text, strlen(bad[i].text), "x", &e);
		ok(!v && e && starts_with(e->msg, bad[i].err),
		   "toml error %zu: %s", i, e ? e->msg : "(none)");
		toml_free(v);
		error_free(e);
	}
	e = NULL;
	v = toml_parse("a = 1\0", 6, "x", &e);
	ok(!v && e, "NUL byte refused");
	error_free(e);
}

static void test_refs(void)
{
	static const struct {
		const char *in, *domain, *path, *tag, *digest;
	} cases[] = {
		{ "busybox", "docker.io", "library/busybox", "latest", NULL },
		{ "golang:1.19", "docker.io", "library/golang", "1.19", NULL },
		{ "user/app", "docker.io", "user/app", "latest", NULL },
		{ "index.docker.io/library/x:1", "docker.io", "library/x", "1",
		  NULL },
		{ "docker.io/x", "docker.io", "library/x", "latest", NULL },
		{ "localhost/app", "localhost", "app", "latest", NULL },
		{ "localhost:5000/a/b:v", "localhost:5000", "a/b", "v", NULL },
		{ "quay.io/org/base:1.2", "quay.io", "org/base", "1.2", NULL },
		{ "127.0.0.1:5000/x@sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		  "cdef",
		  "127.0.0.1:5000", "x", NULL,
		  "sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		  "cdef" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct registry_ref r;
		struct error *e = NULL;
		int ret = registry_ref_parse(&r, cases[i].in, &e);
		ok(!ret && !strcmp(r.domain, cases[i].domain) &&
			   !strcmp(r.path, cases[i].path) &&
			   (cases[i].tag ? r.tag && !strcmp(r.tag, cases[i].tag)
					 : !r.tag) &&
			   (cases[i].digest
				    ? r.digest &&
					      !strcmp(r.digest, cases[i].digest)
				    : !r.digest),
		   "ref %s", cases[i].in);
		if (!ret)
			registry_ref_release(&r);
		error_free(e);
	}
	static const char *const bad[] = { "Busybox",	  "a//b", "x:",
					   "x@sha256:12", "-x",	  "x:-t",
					   "a/b_/c",	  "" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct registry_ref r;
		struct error *e = NULL;
		ok(registry_ref_parse(&r, bad[i], &e) < 0 && e,
		   "bad ref '%s': %s", bad[i], e ? e->msg : "accepted");
		error_free(e);
	}
	struct registry_ref r;
	registry_ref_parse(&r, "busybox", NULL);
	char *s = registry_ref_string(&r);
	is_str(s, "docker.io/library/busybox:latest", "ref string");
	free(s);
	registry_ref_release(&r);
}

static void test_auth_files(void)
{
	const char *pw = "p@ss:w0rd";
	char *enc = base64_encode("bob:p@ss:w0rd", 13);
	char *text = xstrfmt("{\"auths\":{\"reg.io\":{\"auth\":\"%s\"},"
			     "\"reg.io/team\":{\"auth\":\"%s\"},"
			     "\"https://index.docker.io/v1/"
			     "\":{\"auth\":\"%s\"},"
			     "\"tok.io\":{\"identitytoken\":\"idtok\"}}}",
			     "Ym9iOndyb25n" /* bob:wrong */, enc, enc);
	char *path = write_tmp("auth.json", text);
	struct registry_creds cr = { 0 };
	struct error *e = NULL;
	is_int(registry_creds_from_file(path, "reg.io/team/app", &cr, &e), 1,
	       "found for a repository");
	is_str(cr.user, "bob", "user");
	is_str(cr.password, pw, "password may contain ':'");
	registry_creds_release(&cr);
	registry_creds_from_file(path, "reg.io/other/app", &cr, &e);
	is_str(cr.password, "wrong", "less specific key elsewhere");
	registry_creds_release(&cr);
	is_int(registry_creds_from_file(path, "docker.io/library/x", &cr, &e),
	       1, "docker's URL key is docker.io");
	registry_creds_release(&cr);
	is_int(registry_creds_from_file(path, "tok.io/x", &cr, &e), 1,
	       "identity token");
	is_str(cr.identity_token, "idtok", "identity token value");
	registry_creds_release(&cr);
	is_int(registry_creds_from_file(path, "reg.iox/a", &cr, &e), 0,
	       "keys match whole hosts");
	char *missing = xstrfmt("%s/nope.json", tmpdir);
	is_int(registry_creds_from_file(missing, "reg.io", &cr, &e), 0,
	       "a missing file has no credentials");
	char *broken = write_tmp("broken.json", "{\"auths\": {");
	is_int(registry_creds_from_file(broken, "reg.io", &cr, &e), -1,
	       "broken JSON is an error");
	ok(e && strstr(e->msg, "broken.json:"), "error names the file: %s",
	   e ? e->msg : "");
	error_clear(&e);
	char *junk = write_tmp("junk.json", "{\"auths\":{\"reg.io\":{\"auth\":"
					    "\"!!\"}}}");
	is_int(registry_creds_from_file(junk, "reg.io", &cr, &e), -1,
	       "bad base64 is an error");
	ok(e && !strstr(e->msg, "!!"), "without echoing the value");
	error_clear(&e);

	/* writing: 0600, other entries kept, logout removes */
	char *out = xstrfmt("%s/sub/dir/auth.json", tmpdir);
	ok(!registry_auth_store(out, "reg.io", "bob", pw, &e), "store");
	ok(!registry_auth_store(out, "https://index.docker.io/v1/", "al", "x",
				&e),
	   "store docker.io");
	struct stat st;
	ok(!stat(out, &st) && (st.st_mode & 0777) == 0600, "mode 0600");
	registry_creds_from_file(out, "reg.io/x", &cr, &e);
	is_str(cr.password, pw, "round trip");
	registry_creds_release(&cr);
	struct strbuf sb = STRBUF_INIT;
	strbuf_read_file(&sb, out);
	ok(strstr(sb.buf, "\"docker.io\"") && !strstr(sb.buf, pw), "normalised "
								   "key, "
								   "password "
								   "only "
								   "encoded");
	strbuf_release(&sb);
	ok(!registry_auth_store(out, "reg.io", NULL, NULL, &e), "remove");
	is_int(registry_creds_from_file(out, "reg.io/x", &cr, &e), 0,
	       "removed");
	is_int(registry_auth_store(out, "reg.io", NULL, NULL, &e), -1,
	       "removing again fails");
	ok(e && e->code == KILN_ENOTFOUND, "with not-found");
	error_clear(&e);
	ok(!registry_auth_remove_all(out, &e), "remove all");
	is_int(registry_creds_from_file(out, "docker.io/x", &cr, &e), 0,
	       "all removed");

	char *k = registry_auth_key("https://index.docker.io/v1/");
	is_str(k, "docker.io", "auth key of docker's URL");
	free(k);
	k = registry_auth_key("http://reg:5000/ns/");
	is_str(k, "reg:5000/ns", "auth key keeps a namespace");
	free(k);
	free(enc);
	free(text);
	free(path);
	free(missing);
	free(broken);
	free(junk);
	free(out);
}

static void test_helper(void)
{
	char *bin = xstrfmt("%s/docker-credential-unit", tmpdir);
	FILE *f = fopen(bin, "we");
	fputs("#!/bin/sh\nread s\ncase $s in\n"
	      "ok.io) echo '{\"Username\":\"u\",\"Secret\":\"sec\"}' ;;\n"
	      "tok.io) echo '{\"Username\":\"<token>\",\"Secret\":\"t\"}' ;;\n"
	      "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	      "esac\n",
	      f);
	fclose(f);
	chmod(bin, 0755);
	char *path = xstrfmt("%s:%s", tmpdir, getenv("PATH"));
	setenv("PATH", path, 1);
	struct registry_creds cr = { 0 };
	struct error *e = NULL;
	is_int(registry_creds_from_helper("unit", "ok.io", &cr, &e), 1,
	       "helper");
	is_str(cr.password, "sec", "helper secret");
	registry_creds_release(&cr);
	is_int(registry_creds_from_helper("unit", "tok.io", &cr, &e), 1,
	       "helper token");
	is_str(cr.identity_token, "t", "<token> is an identity token");
	registry_creds_release(&cr);
	is_int(registry_creds_from_helper("unit", "none.io", &cr, &e), 0,
	       "not found is not an error");
	is_int(registry_creds_from_helper("missing-helper", "x", &cr, &e), -1,
	       "a missing helper is an error");
	error_clear(&e);
	free(bin);
	free(path);
}

static void test_challenges(void)
{
	struct auth_challenge ch;
	ok(!auth_challenge_parse(&ch, "Bearer "
				      "realm=\"https://auth.docker.io/token\","
				      "service=\"registry.docker.io\",scope="
				      "\"repository:"
				      "samalba/my-app:pull,push\""),
	   "bearer parses");
	is_str(ch.scheme, "bearer", "scheme lowercased");
	is_str(ch.realm, "https://auth.docker.io/token", "realm");
	is_str(ch.service, "registry.docker.io", "service");
	is_str(ch.scope, "repository:samalba/my-app:pull,push",
	       "quoted commas stay in the scope");
	auth_challenge_release(&ch);
	ok(!auth_challenge_parse(&ch, "BASIC realm=basic-realm , charset=x"),
	   "basic parses");
	is_str(ch.scheme, "basic", "basic scheme");
	is_str(ch.realm, "basic-realm", "token value");
	auth_challenge_release(&ch);
	ok(!auth_challenge_parse(&ch, "Bearer realm=\"a\\\"b\",error="
				      "\"insufficient_scope\""),
	   "escapes");
	is_str(ch.realm, "a\"b", "escaped quote");
	is_str(ch.error, "insufficient_scope", "error param");
	auth_challenge_release(&ch);
	ok(auth_challenge_parse(&ch, "Bearer realm=\"open") < 0, "unterminated "
								 "quote is an "
								 "error");
	ok(auth_challenge_parse(&ch, "") < 0, "empty is an error");
}

static void test_base64_redact(void)
{
	static const char *const in[] = { "",	  "f",	   "fo",    "foo",
					  "foob", "fooba", "foobar" };
	static const char *const want[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"
	};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		char *e = base64_encode(in[i], strlen(in[i]));
		is_str(e, want[i], "base64 '%s'", in[i]);
		size_t n;
		char *d = base64_decode(e, &n);
		is_str(d, in[i], "round trip '%s'", in[i]);
		free(d);
		free(e);
	}
	ok(!base64_decode("Zm9v!", NULL), "junk refused");
	ok(!base64_decode("Zg=a", NULL), "data after padding refused");

	static const struct {
		const char *in, *out;
	} r[] = {
		{ "Authorization: Basic Ym9iOnNlY3JldA==\r\n", "Authorization: "
							       "Basic "
							       "<redacted>" },
		{ "authorization: Bearer eyJhbGciOi.x.y\r\n", "authorization: "
							      "Bearer "
							      "<redacted>" },
		{ "Proxy-Authorization: Basic abc\r\n", "Proxy-Authorization: "
							"Basic <redacted>" },
		{ "Authorization: sekrit\r\n", "Authorization: <redacted>" },
		{ "Cookie: session=abc\r\n", "Cookie: <redacted>" },
		{ "Set-Cookie: a=b; Path=/\r\n", "Set-Cookie: <redacted>" },
		{ "Accept: application/json\r\n", "Accept: application/json" },
		{ "X-Authorization-Hint: fine\r\n", "X-Authorization-Hint: "
						    "fine" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		char *o = registry_redact_header(r[i].in, strlen(r[i].in));
		is_str(o, r[i].out, "redact %zu", i);
		free(o);
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t-registry.XXXXXX");
	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	unsetenv("KILN_DEBUG");
	test_toml();
	test_conf_cases();
	test_conf_semantics();
	test_refs();
	test_auth_files();
	test_helper();
	test_challenges();
	test_base64_redact();
	char *cmd = xstrfmt("rm -rf '%s'", tmpdir);
	if (system(cmd)) {
		/* leave it */
	}
	free(cmd);
	return tap_done();
}
