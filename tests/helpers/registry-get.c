/*
 * registry-get: drive the registry client from shell tests.
 *
 *   registry-get [options] resolve REF        digest, media type; -o FILE
 *   registry-get [options] manifest REF       the stored manifest/index
 *   registry-get [options] head REF           digest and media type
 *   registry-get [options] blob REF DIGEST [SIZE]   the blob on stdout
 *   registry-get [options] pull REF DIR       an OCI layout of REF in DIR
 *   registry-get [options] push DIR REF       push DIR's (first) image
 *   registry-get [options] login REGISTRY USER PASSWORD
 */
#include "cmd/cmd.h"
#include "registry/registry.h"

#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>

static const char *opt_conf, *opt_authfile, *opt_certdir, *opt_creds;
static const char *opt_platform, *opt_output, *opt_mount_from;
static const char *opt_tls_verify;
static int opt_parallel, opt_chunk;

static NORETURN void fail(struct error *e)
{
	error_print(e);
	exit(1);
}

static struct registry_client *client(void)
{
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	struct error *e = NULL;
	o.registries_conf = opt_conf;
	o.authfile = opt_authfile;
	o.cert_dir = opt_certdir;
	o.creds = opt_creds;
	o.parallel = opt_parallel;
	o.chunk_size = (size_t)opt_chunk;
	if (opt_tls_verify)
		o.tls_verify = strcmp(opt_tls_verify, "false") ? 1 : 0;
	struct registry_client *c = registry_client_new(&o, &e);
	if (!c)
		fail(e);
	return c;
}

/* Resolve text through unqualified-search candidates. */
static void resolve(struct registry_client *c, const char *text,
		    struct registry_ref *ref, char **m, size_t *len, char **mt,
		    char **digest)
{
	struct registry_ref *cands;
	size_t nr;
	struct error *e = NULL;
	if (registry_candidates(c, text, &cands, &nr, &e) < 0)
		fail(e);
	for (size_t i = 0; i < nr; i++) {
		struct error *e2 = NULL;
		if (!registry_resolve(c, &cands[i], opt_platform, m, len, mt,
				      digest, NULL, &e2)) {
			*ref = cands[i];
			for (size_t j = i + 1; j < nr; j++)
				registry_ref_release(&cands[j]);
			free(cands);
			error_free(e);
			return;
		}
		error_free(e);
		e = e2;
		registry_ref_release(&cands[i]);
	}
	free(cands);
	fail(e);
}

static int write_stdout(void *data, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

static int write_fd(void *data, const void *buf, size_t len)
{
	int fd = *(int *)data;
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_fd(&fd, buf, len) < 0 || close(fd) < 0)
		die_errno("write '%s'", path);
}

static int do_pull(struct registry_client *c, const char *text, const char *dir)
{
	struct registry_ref ref;
	char *m, *mt, *digest;
	size_t len;
	resolve(c, text, &ref, &m, &len, &mt, &digest);
	cleanup_free char *bdir = xstrfmt("%s/blobs/sha256", dir);
	cleanup_free char *cmd = xstrfmt("mkdir -p '%s'", bdir);
	if (system(cmd))
		die("mkdir failed");
	json_error_t je;
	json_t *j = json_loadb(m, len, 0, &je);
	if (!j)
		die("bad manifest: %s", je.text);
	json_t *descs = json_array();
	json_array_append(descs, json_object_get(j, "config"));
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(j, "layers"), i, l)
		json_array_append(descs, l);
	size_t nr = json_array_size(descs);
	struct registry_blob_job *jobs = xcalloc(nr, sizeof(*jobs));
	int *fds = xcalloc(nr, sizeof(*fds));
	char **tmps = xcalloc(nr, sizeof(*tmps));
	json_array_foreach(descs, i, l)
	{
		jobs[i].digest = json_string_value(json_object_get(l, "diges"
								      "t"));
		jobs[i].size = json_integer_value(json_object_get(l, "size"));
		tmps[i] = xstrfmt("%s/%s.tmp", bdir, jobs[i].digest + 7);
		fds[i] = open(tmps[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		if (fds[i] < 0)
			die_errno("open '%s'", tmps[i]);
		jobs[i].write = write_fd;
		jobs[i].data = &fds[i];
	}
	struct error *e = NULL;
	int ret = registry_fetch_blobs(c, &ref, jobs, nr, &e);
	for (i = 0; i < nr; i++) {
		close(fds[i]);
		if (!jobs[i].err) {
			cleanup_free char *fin =
				xstrfmt("%s/%s", bdir, jobs[i].digest + 7);
			if (rename(tmps[i], fin) < 0)
				die_errno("rename");
		} else {
			unlink(tmps[i]);
		}
		error_free(jobs[i].err);
		free(tmps[i]);
	}
	free(tmps);
	free(fds);
	free(jobs);
	json_decref(descs);
	json_decref(j);
	if (ret < 0)
		fail(e);
	cleanup_free char *mp = xstrfmt("%s/%s", bdir, digest + 7);
	write_file(mp, m, len);
	char *idx = xstrfmt("{\"schemaVersion\":2,\"manifests\":[{"
			    "\"mediaType\":\"%s\","
			    "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{"
			    "\"org."
			    "opencontainers.image.ref.name\":\"%s\"}}]}\n",
			    mt, digest, len, ref.tag ? ref.tag : "latest");
	cleanup_free char *ip = xstrfmt("%s/index.json", dir);
	write_file(ip, idx, strlen(idx));
	free(idx);
	cleanup_free char *lp = xstrfmt("%s/oci-layout", dir);
	const char *lay = "{\"imageLayoutVersion\":\"1.0.0\"}";
	write_file(lp, lay, strlen(lay));
	printf("%s\n", digest);
	free(m);
	free(mt);
	free(digest);
	registry_ref_release(&ref);
	return 0;
}

static ssize_t read_fd(void *data, uint64_t off, void *buf, size_t len)
{
	return pread(*(int *)data, buf, len, (off_t)off);
}

static int push_one(struct registry_client *c, struct registry_ref *ref,
		    const char *dir, const char *digest, uint64_t size)
{
	cleanup_free char *p = xstrfmt("%s/blobs/sha256/%s", dir, digest + 7);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("open '%s'", p);
	enum registry_push_result r;
	struct error *e = NULL;
	if (registry_push_blob(c, ref, digest, size, read_fd, &fd,
			       opt_mount_from, &r, &e) < 0)
		fail(e);
	close(fd);
	printf("%s %s\n", digest,
	       r == REGISTRY_PUSH_EXISTS    ? "exists"
	       : r == REGISTRY_PUSH_MOUNTED ? "mounted"
					    : "uploaded");
	return 0;
}

static int do_push(struct registry_client *c, const char *dir, const char *text)
{
	struct registry_ref ref;
	struct error *e = NULL;
	if (registry_ref_parse(&ref, text, &e) < 0)
		fail(e);
	cleanup_free char *ip = xstrfmt("%s/index.json", dir);
	json_error_t je;
	json_t *idx = json_load_file(ip, 0, &je);
	json_t *md = json_array_get(json_object_get(idx, "manifests"), 0);
	const char *mdig = json_string_value(json_object_get(md, "digest"));
	const char *mt = json_string_value(json_object_get(md, "mediaType"));
	if (!mdig || !mt)
		die("%s: no manifest", ip);
	cleanup_free char *mp = xstrfmt("%s/blobs/sha256/%s", dir, mdig + 7);
	struct strbuf m = STRBUF_INIT;
	if (strbuf_read_file(&m, mp) < 0)
		die_errno("read '%s'", mp);
	json_t *j = json_loadb(m.buf, m.len, 0, &je);
	json_t *cfg = json_object_get(j, "config");
	push_one(c, &ref, dir,
		 json_string_value(json_object_get(cfg, "digest")),
		 json_integer_value(json_object_get(cfg, "size")));
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(j, "layers"), i, l)
		push_one(c, &ref, dir,
			 json_string_value(json_object_get(l, "digest")),
			 json_integer_value(json_object_get(l, "size")));
	char *digest = NULL;
	if (registry_push_manifest(c, &ref, m.buf, m.len, mt, &digest, &e) < 0)
		fail(e);
	printf("%s\n", digest);
	free(digest);
	json_decref(j);
	json_decref(idx);
	strbuf_release(&m);
	registry_ref_release(&ref);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct opt opts[] = {
		OPT_STRING_(0, "registries-conf", &opt_conf, "FILE", NULL),
		OPT_STRING_(0, "authfile", &opt_authfile, "FILE", NULL),
		OPT_STRING_(0, "cert-dir", &opt_certdir, "DIR", NULL),
		OPT_STRING_(0, "creds", &opt_creds, "USER:PASS", NULL),
		OPT_STRING_(0, "tls-verify", &opt_tls_verify, "BOOL", NULL),
		OPT_STRING_(0, "platform", &opt_platform, "P", NULL),
		OPT_STRING_('o', "output", &opt_output, "FILE", NULL),
		OPT_STRING_(0, "mount-from", &opt_mount_from, "REPO", NULL),
		OPT_INT_(0, "parallel", &opt_parallel, "N", NULL),
		OPT_INT_(0, "chunk-size", &opt_chunk, "N", NULL),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "registry-get CMD ARGS",
			     "Drive the registry client.", false);
	if (argc < 2)
		die("usage: registry-get CMD ARGS");
	struct registry_client *c = client();
	struct error *e = NULL;
	const char *cmd = argv[0];
	int ret = 0;
	if (!strcmp(cmd, "resolve")) {
		struct registry_ref ref;
		char *m, *mt, *digest;
		size_t len;
		resolve(c, argv[1], &ref, &m, &len, &mt, &digest);
		printf("%s\n%s\n", digest, mt);
		if (opt_output)
			write_file(opt_output, m, len);
		free(m);
		free(mt);
		free(digest);
		registry_ref_release(&ref);
	} else if (!strcmp(cmd, "manifest") || !strcmp(cmd, "head")) {
		struct registry_ref ref;
		char *m = NULL, *mt, *digest;
		size_t len = 0;
		if (registry_ref_parse(&ref, argv[1], &e) < 0)
			fail(e);
		if (cmd[0] == 'm'
			    ? registry_get_manifest(c, &ref, &m, &len, &mt,
						    &digest, &e)
			    : registry_head_manifest(c, &ref, &mt, &digest, &e))
			fail(e);
		if (m)
			fwrite(m, 1, len, stdout);
		else
			printf("%s %s\n", digest, mt);
		free(m);
		free(mt);
		free(digest);
		registry_ref_release(&ref);
	} else if (!strcmp(cmd, "blob") && argc >= 3) {
		struct registry_ref ref;
		unsigned long long size;
		if (registry_ref_parse(&ref, argv[1], &e) < 0)
			fail(e);
		if (argc > 3 && parse_uint(argv[3], LLONG_MAX, &size))
			die("bad size");
		if (registry_fetch_blob(c, &ref, argv[2],
					argc > 3 ? (int64_t)size : -1,
					write_stdout, NULL, &e) < 0)
			fail(e);
		registry_ref_release(&ref);
	} else if (!strcmp(cmd, "pull") && argc >= 3) {
		ret = do_pull(c, argv[1], argv[2]);
	} else if (!strcmp(cmd, "push") && argc >= 3) {
		ret = do_push(c, argv[1], argv[2]);
	} else if (!strcmp(cmd, "login") && argc >= 4) {
		if (registry_check_login(c, argv[1], argv[2], argv[3], &e) < 0)
			fail(e);
		printf("Login Succeeded!\n");
	} else {
		die("unknown command '%s'", cmd);
	}
	registry_client_free(c);
	return ret;
}
