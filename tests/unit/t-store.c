/*
 * Unit tests for store/: digests, blobs (verify before naming, no partial
 * blob under a final name), ingest, refs in index.json, reference
 * normalisation, image write/lookup, layer dirs, locks, gc and fsck.
 */
#include "tap.h"
#include "store/store.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char root[256];

static void rm_rf(const char *path)
{
	char *cmd = xstrfmt("rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", path);
	free(cmd);
}

static int count_dir(const char *sub)
{
	char *p = xstrfmt("%s/%s", root, sub);
	char *cmd = xstrfmt("ls -A '%s' | wc -l", p);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	free(cmd);
	free(p);
	return n;
}

static void test_digest(void)
{
	char d[STORE_DIGEST_MAX];
	store_digest_buf("", 0, d);
	is_str(d,
	       "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
	       "7852b855",
	       "sha256 of nothing");
	ok(store_digest_valid(d), "a computed digest is valid");
	ok(!store_digest_valid("sha256:E3B0"), "short/upper digest invalid");
	ok(!store_digest_valid("md5:abc"), "other algorithm invalid");
	ok(!store_digest_valid(NULL), "NULL invalid");
}

static void test_refs_normalize(void)
{
	static const char *const cases[][2] = {
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "busybox:1.36", "docker.io/library/busybox:1.36" },
		{ "library/busybox", "docker.io/library/busybox:latest" },
		{ "user/app:v1", "docker.io/user/app:v1" },
		{ "index.docker.io/user/app", "docker.io/user/app:latest" },
		{ "127.0.0.1:5000/x", "127.0.0.1:5000/x:latest" },
		{ "localhost/a/b:c", "localhost/a/b:c" },
		{ "quay.io/org/base:1.2", "quay.io/org/base:1.2" },
		{ "a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49"
		  "5991b7852b855",
		  "docker.io/library/a@sha256:e3b0c44298fc1c149afbf4c8996fb9242"
		  "7ae41e4649b934ca495991b7852b855" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct error *e = NULL;
		char *n = store_ref_normalize(cases[i][0], &e);
		is_str(n, cases[i][1], "normalise '%s'", cases[i][0]);
		free(n);
		error_free(e);
	}
	static const char *const bad[] = { "",	   "Busybox",	 "a b",
					   "a:",   "a:b:c",	 "-a",
					   "a//b", "a@sha256:1", ":tag" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error *e = NULL;
		char *n = store_ref_normalize(bad[i], &e);
		ok(!n && e && e->code == KILN_EINVAL &&
			   strstr(e->msg, "invalid reference format"),
		   "reject '%s'", bad[i]);
		free(n);
		error_free(e);
	}
	char *f = store_ref_familiar("docker.io/library/busybox:latest");
	is_str(f, "busybox:latest", "familiar library image");
	free(f);
	f = store_ref_familiar("docker.io/user/app:v1");
	is_str(f, "user/app:v1", "familiar user image");
	free(f);
	f = store_ref_familiar("127.0.0.1:5000/x:1");
	is_str(f, "127.0.0.1:5000/x:1", "familiar keeps other domains");
	free(f);
	char *repo, *tag, *dg;
	store_ref_split("127.0.0.1:5000/x:1", &repo, &tag, &dg);
	ok(!strcmp(repo, "127.0.0.1:5000/x") && !strcmp(tag, "1") && !*dg,
	   "split repository and tag");
	free(repo);
	free(tag);
	free(dg);
}

static void test_time(void)
{
	int64_t t;
	ok(!store_time_parse("1970-01-01T00:01:00Z", &t) && t == 60, "parse Z "
								     "time");
	ok(!store_time_parse("2024-05-01T12:00:00.123456789+02:00", &t) &&
		   t == 1714557600,
	   "parse fraction and offset");
	ok(store_time_parse("yesterday", &t) < 0, "reject junk time");
	char *now = store_time_now();
	ok(!store_time_parse(now, &t) && llabs(t - time(NULL)) < 5, "store_"
								    "time_now "
								    "round "
								    "trip");
	free(now);
}

static void test_blobs(struct store *s)
{
	struct error *e = NULL;
	char d[STORE_DIGEST_MAX], want[STORE_DIGEST_MAX];
	store_digest_buf("hello", 5, want);
	ok(!store_blob_put(s, "hello", 5, NULL, d, &e), "put a blob");
	is_str(d, want, "put returns the digest");
	ok(store_blob_exists(s, d), "the blob exists");
	ok(!store_blob_put(s, "hello", 5, want, NULL, &e), "put again with the "
							   "expected digest");

	/* a mismatch never gets a name and leaves no staging file */
	struct store_blob_writer *w = store_blob_begin(s, &e);
	ok(w != NULL, "begin a blob");
	store_blob_write(w, "world", 5, &e);
	ok(store_blob_written(w) == 5, "written counts bytes");
	ok(store_blob_commit(w, want, d, NULL, &e) < 0 && e &&
		   e->code == KILN_ECORRUPT,
	   "commit with a wrong expected digest fails");
	error_clear(&e);
	store_digest_buf("world", 5, d);
	ok(!store_blob_exists(s, d), "the mismatching blob has no name");
	is_int(count_dir("tmp"), 0, "no staging leftovers after a mismatch");

	w = store_blob_begin(s, &e);
	store_blob_write(w, "partial", 7, &e);
	store_blob_abort(w);
	is_int(count_dir("tmp"), 0, "abort removes the staging file");

	struct strbuf sb = STRBUF_INIT;
	ok(!store_blob_read(s, want, &sb, 0, &e) && !strcmp(sb.buf, "hello"),
	   "read a blob back");
	strbuf_release(&sb);

	/* corrupt it behind the store's back */
	char *p = xstrfmt("%s/blobs/sha256/%s", s->root, want + 7);
	FILE *f = fopen(p, "a");
	if (f) {
		fputs("!", f);
		fclose(f);
	}
	ok(store_blob_read(s, want, &sb, 0, &e) < 0 && e &&
		   e->code == KILN_ECORRUPT,
	   "reading a corrupt blob fails");
	error_clear(&e);
	ok(store_blob_verify(s, want, &e) < 0, "verify finds the corruption");
	error_clear(&e);
	unlink(p);
	ok(!store_blob_put(s, "hello", 5, NULL, NULL, &e) &&
		   !store_blob_verify(s, want, &e),
	   "a removed blob can be written again");
	error_clear(&e);
	free(p);
	strbuf_release(&sb);

	ok(store_blob_open(s, "sha256:nope", NULL, &e) < 0 && e &&
		   e->code == KILN_EINVAL,
	   "open refuses an invalid digest");
	error_clear(&e);
	store_digest_buf("absent", 6, d);
	ok(store_blob_open(s, d, NULL, &e) < 0 && e &&
		   e->code == KILN_ENOTFOUND,
	   "open of a missing blob is KILN_ENOTFOUND");
	error_clear(&e);
}

/* A small tar archive with one file, built by hand. */
static size_t make_tar(unsigned char *buf, size_t cap)
{
	memset(buf, 0, cap);
	unsigned char *h = buf;
	memcpy(h, "hello.txt", 9);
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	memcpy(h + 124, "00000000005", 11);
	memcpy(h + 136, "00000000000", 11);
	h[156] = '0';
	memcpy(h + 257, "ustar", 5);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	char chk[8];
	snprintf(chk, sizeof(chk), "%06o", sum);
	memcpy(h + 148, chk, 7);
	memcpy(buf + 512, "hello", 5);
	return 512 * 4; /* header, data block, two zero blocks */
}

static void test_ingest(struct store *s)
{
	struct error *e = NULL;
	unsigned char tar[4096];
	size_t n = make_tar(tar, sizeof(tar));
	char diffid[STORE_DIGEST_MAX];
	store_digest_buf(tar, n, diffid);

	struct store_ingest *in = store_ingest_begin(s, STORE_INGEST_LAYER, &e);
	struct store_ingest_result res;
	/* feed in odd pieces */
	for (size_t off = 0; off < n; off += 100)
		store_ingest_write(in, tar + off, n - off < 100 ? n - off : 100,
				   &e);
	ok(!store_ingest_commit(in, NULL, &res, &e), "ingest a layer");
	ok(res.is_layer, "recognised as a layer");
	is_str(res.media_type, STORE_MT_OCI_LAYER_GZIP, "stored gzip");
	is_str(res.diffid, diffid, "diffID is the tar's digest");
	is_int(res.usize, n, "uncompressed size");
	char got[STORE_DIGEST_MAX];
	uint64_t usize = 0;
	ok(!store_layerinfo_get(s, res.digest, got, &usize, &e) &&
		   !strcmp(got, diffid) && usize == n,
	   "layer info recorded");
	char *li = xstrfmt("%s/layerinfo/%s", s->root, res.digest + 7);
	unlink(li);
	free(li);
	ok(!store_layerinfo_get(s, res.digest, got, &usize, &e) &&
		   !strcmp(got, diffid) && usize == n,
	   "layer info recomputed from the blob");

	in = store_ingest_begin(s, STORE_INGEST_LAYER, &e);
	store_ingest_write(in, "{\"not\":\"a tar\"}", 15, &e);
	ok(store_ingest_commit(in, NULL, &res, &e) < 0 && e &&
		   strstr(e->msg, "not a tar archive"),
	   "LAYER mode refuses non-tar data");
	error_clear(&e);

	in = store_ingest_begin(s, STORE_INGEST_AUTO, &e);
	store_ingest_write(in, "{\"a\":1}", 7, &e);
	ok(!store_ingest_commit(in, NULL, &res, &e) && !res.is_layer &&
		   res.size == 7,
	   "AUTO mode keeps JSON as is");

	in = store_ingest_begin(s, STORE_INGEST_AS_IS, &e);
	store_ingest_write(in, tar, n, &e);
	ok(!store_ingest_commit(in, diffid, &res, &e) && res.is_layer &&
		   !strcmp(res.media_type, STORE_MT_OCI_LAYER),
	   "AS_IS mode keeps a plain tar, verified");

	in = store_ingest_begin(s, STORE_INGEST_LAYER, &e);
	store_ingest_write(in, tar, 700, &e);
	ok(store_ingest_commit(in, NULL, &res, &e) < 0 && e &&
		   strstr(e->msg, "truncated"),
	   "a truncated tar is refused");
	error_clear(&e);
	is_int(count_dir("tmp"), 0, "no staging leftovers");
}

static void test_refs(struct store *s)
{
	struct error *e = NULL;
	char m1[STORE_DIGEST_MAX], m2[STORE_DIGEST_MAX];
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":"
				  "\"linux\",\"rootfs\":"
				  "{\"type\":\"layers\",\"diff_ids\":[]},"
				  "\"created\":"
				  "\"2024-01-01T00:00:00Z\"}";
	int64_t msize;
	ok(!store_image_write(s, cfg, strlen(cfg), NULL, 0, m1, &msize, NULL,
			      &e),
	   "write an image with no layers");
	static const char cfg2[] = "{\"architecture\":\"amd64\",\"os\":"
				   "\"linux\",\"rootfs\":"
				   "{\"type\":\"layers\",\"diff_ids\":[]},"
				   "\"created\":"
				   "\"2024-01-02T00:00:00Z\"}";
	ok(!store_image_write(s, cfg2, strlen(cfg2), NULL, 0, m2, &msize, NULL,
			      &e),
	   "write a second image");
	struct store_desc d1 = { STORE_MT_OCI_MANIFEST, m1, msize };
	struct store_desc d2 = { STORE_MT_OCI_MANIFEST, m2, msize };
	const char *name = "docker.io/library/t:1";
	ok(!store_ref_set(s, name, &d1, &e), "tag the first image");
	struct store_refs refs = STORE_REFS_INIT;
	ok(!store_refs_read(s, &refs, &e), "read the refs");
	const struct store_ref *r = store_refs_find(&refs, name);
	ok(r && !strcmp(r->digest, m1) && r->tag_time > 0, "the tag is there");
	store_refs_release(&refs);

	ok(!store_ref_set(s, name, &d2, &e), "move the tag");
	store_refs_read(s, &refs, &e);
	r = store_refs_find(&refs, name);
	ok(r && !strcmp(r->digest, m2), "the tag moved");
	bool dangling = false;
	for (size_t i = 0; i < refs.nr; i++)
		dangling |= !refs.v[i].name && !strcmp(refs.v[i].digest, m1);
	ok(dangling, "the old image stays as a dangling entry");
	store_refs_release(&refs);

	struct store_image *img = store_image_lookup(s, "t:1", &e);
	ok(img && !strcmp(img->manifest_digest, m2), "lookup by short name");
	char *prefix = img ? xstrndup(img->config_digest + 7, 8) : NULL;
	store_image_free(img);
	img = prefix ? store_image_lookup(s, prefix, &e) : NULL;
	ok(img && !strcmp(img->manifest_digest, m2), "lookup by ID prefix");
	store_image_free(img);
	free(prefix);
	img = store_image_lookup(s, "nope:1", &e);
	ok(!img && e && e->code == KILN_ENOTFOUND &&
		   !strcmp(e->msg, "no such image: 'nope:1'"),
	   "unknown image: one clear message");
	error_clear(&e);

	char old[STORE_DIGEST_MAX];
	ok(!store_ref_delete(s, name, old, &e) && !strcmp(old, m2), "delete "
								    "the tag");
	ok(store_ref_delete(s, name, old, &e) < 0 && e &&
		   e->code == KILN_ENOTFOUND,
	   "deleting again is KILN_ENOTFOUND");
	error_clear(&e);

	/* concurrent tagging from several processes loses nothing */
	for (int i = 0; i < 8; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct store *cs = store_open(root, NULL);
			char *n = xstrfmt("docker.io/library/conc:%d", i);
			int rc = cs && !store_ref_set(cs, n, &d1, NULL) ? 0 : 1;
			free(n);
			store_free(cs);
			_exit(rc);
		}
	}
	int failures = 0, status;
	while (wait(&status) > 0)
		failures += !WIFEXITED(status) || WEXITSTATUS(status);
	is_int(failures, 0, "8 concurrent taggers succeed");
	store_refs_read(s, &refs, &e);
	int found = 0;
	for (size_t i = 0; i < refs.nr; i++)
		found += refs.v[i].name && starts_with(refs.v[i].name, "docker."
								       "io/"
								       "library"
								       "/conc"
								       ":");
	is_int(found, 8, "every concurrent tag is in index.json");
	store_refs_release(&refs);
}

static void test_locks(struct store *s)
{
	struct error *e = NULL;
	ok(!store_lock(s, LOCK_SH, &e), "take the shared lock");
	/* another process can share it but not take it exclusively */
	pid_t pid = fork();
	if (pid == 0) {
		struct store *cs = store_open(root, NULL);
		int rc = 2;
		if (cs) {
			bool sh = flock(cs->lock_fd, LOCK_SH | LOCK_NB) == 0;
			flock(cs->lock_fd, LOCK_UN);
			bool ex = flock(cs->lock_fd, LOCK_EX | LOCK_NB) == 0;
			rc = sh && !ex ? 0 : 1;
		}
		store_free(cs);
		_exit(rc);
	}
	int status;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a shared holder "
							  "blocks gc, not "
							  "other writers");
}

static void test_layers_gc_fsck(struct store *s)
{
	struct error *e = NULL;
	char diffid[STORE_DIGEST_MAX];
	store_digest_buf("layer", 5, diffid);
	char *st = store_layer_begin(s, &e);
	ok(st != NULL, "begin a layer dir");
	char *f = xstrfmt("%s/file", st);
	FILE *fp = fopen(f, "w");
	if (fp)
		fclose(fp);
	free(f);
	ok(!store_layer_commit(s, st, diffid, &e), "commit a layer dir");
	ok(store_layer_exists(s, diffid), "the layer dir exists");
	free(st);
	st = store_layer_begin(s, &e);
	ok(!store_layer_commit(s, st, diffid, &e), "a second extraction of the "
						   "same layer is discarded "
						   "quietly");
	free(st);
	is_int(count_dir("tmp"), 0, "no staging leftovers");

	struct strvec problems = STRVEC_INIT, repairs = STRVEC_INIT;
	ok(!store_fsck(s, false, &problems, NULL, &e), "fsck runs");
	is_int(problems.nr, 0, "fsck: the store is consistent");
	for (size_t i = 0; i < problems.nr; i++)
		printf("# %s\n", problems.v[i]);
	strvec_clear(&problems);

	/* a stray file in layers/ and a corrupt blob */
	char *junk = xstrfmt("%s/layers/half.tmp", s->root);
	fp = fopen(junk, "w");
	if (fp)
		fclose(fp);
	free(junk);
	char d[STORE_DIGEST_MAX];
	store_blob_put(s, "soon corrupt", 12, NULL, d, &e);
	char *p = xstrfmt("%s/blobs/sha256/%s", s->root, d + 7);
	fp = fopen(p, "w");
	if (fp) {
		fputs("other", fp);
		fclose(fp);
	}
	free(p);
	store_fsck(s, false, &problems, NULL, &e);
	is_int(problems.nr, 2, "fsck finds the stray dir and the bad blob");
	strvec_clear(&problems);
	store_fsck(s, true, &problems, &repairs, &e);
	is_int(repairs.nr, 2, "fsck --repair fixes both");
	strvec_clear(&problems);
	strvec_clear(&repairs);
	store_fsck(s, false, &problems, NULL, &e);
	is_int(problems.nr, 0, "consistent after repair");
	strvec_clear(&problems);

	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":"
				  "\"linux\",\"rootfs\":"
				  "{\"type\":\"layers\",\"diff_ids\":[]},"
				  "\"comment\":\"dangling\"}";
	char m[STORE_DIGEST_MAX];
	int64_t msize;
	store_image_write(s, cfg, strlen(cfg), NULL, 0, m, &msize, NULL, &e);
	struct store_desc dd = { STORE_MT_OCI_MANIFEST, m, msize };
	ok(!store_ref_set(s, NULL, &dd, &e), "add an untagged image");
	struct store_prune_opts po = { false, false };
	struct store_prune_result res;
	ok(!store_prune(s, &po, &res, &e), "prune");
	ok(res.untagged.nr >= 1, "prune drops the dangling image");
	ok(!store_layer_exists(s, diffid), "prune drops unreferenced layers");
	store_prune_result_release(&res);
	store_fsck(s, false, &problems, NULL, &e);
	is_int(problems.nr, 0, "consistent after prune");
	strvec_clear(&problems);
	error_free(e);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/kiln-t-store.%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	test_digest();
	test_refs_normalize();
	test_time();
	struct error *e = NULL;
	struct store *s = store_open(root, &e);
	ok(s != NULL, "open a new store");
	if (!s) {
		printf("# %s\n", e ? e->msg : "?");
		return tap_done();
	}
	struct stat st;
	ok(stat(root, &st) == 0 && count_dir("blobs/sha256") == 0, "the layout "
								   "exists");
	test_blobs(s);
	test_ingest(s);
	test_refs(s);
	test_locks(s);
	store_free(s);
	s = store_open(root, &e);
	test_layers_gc_fsck(s);
	store_free(s);

	char *p = xstrfmt("%s/index.json", root);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("{", f);
		fclose(f);
	}
	free(p);
	s = store_open(root, &e);
	struct store_refs refs = STORE_REFS_INIT;
	ok(store_refs_read(s, &refs, &e) < 0 && e && e->code == KILN_ECORRUPT,
	   "an unreadable index.json is KILN_ECORRUPT");
	error_clear(&e);
	store_free(s);

	char *notstore = xstrfmt("%s.other", root);
	mkdir(notstore, 0755);
	p = xstrfmt("%s/index.json", notstore);
	f = fopen(p, "w");
	if (f)
		fclose(f);
	s = store_open(notstore, &e);
	ok(!s && e, "a directory that is not an OCI layout is refused");
	error_clear(&e);
	store_free(s);
	free(p);
	rm_rf(notstore);
	free(notstore);
	rm_rf(root);
	return tap_done();
}
