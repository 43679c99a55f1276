/*
 * kiln push [--format oci|docker] SOURCE [DESTINATION]: upload an image
 * from the store.  Blobs the repository has are skipped, the others are
 * uploaded in parallel, then the manifest is put under the tag.  Without
 * --format (or when it matches) the stored manifest goes out byte for byte,
 * so the pushed digest is the local one; otherwise the manifest's media
 * types are converted.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"
#include "store/store.h"

#include <jansson.h>

static ssize_t read_blob(void *data, uint64_t off, void *buf, size_t len)
{
	int fd = *(int *)data;
	for (;;) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static const char *short_id(const char *digest)
{
	static char buf[13];
	const char *hex = strchr(digest, ':');
	snprintf(buf, sizeof(buf), "%s", hex ? hex + 1 : digest);
	return buf;
}

/* Media types of one format, and the other's equivalents. */
static const struct {
	const char *oci, *docker;
} media_map[] = {
	{ STORE_MT_OCI_MANIFEST, STORE_MT_DOCKER_MANIFEST },
	{ STORE_MT_OCI_CONFIG, STORE_MT_DOCKER_CONFIG },
	{ STORE_MT_OCI_LAYER_GZIP, STORE_MT_DOCKER_LAYER_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" },
};

static int convert_type(json_t *obj, bool to_docker, struct error **err)
{
	const char *mt = json_string_value(json_object_get(obj, "mediaType"));
	if (!mt) {
		if (to_docker) {
			error_set(err, KILN_EINVAL,
				  "a descriptor without a media type");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(media_map); i++) {
		const char *from = to_docker ? media_map[i].oci
					     : media_map[i].docker;
		const char *to = to_docker ? media_map[i].docker
					   : media_map[i].oci;
		if (!strcmp(mt, to))
			return 0;
		if (!strcmp(mt, from)) {
			json_object_set_new(obj, "mediaType", json_string(to));
			return 0;
		}
	}
	error_set(err, KILN_EINVAL, "media type %s has no %s equivalent", mt,
		  to_docker ? "docker" : "OCI");
	return -1;
}

/* Rewrite the manifest in the other format; caller frees. */
static char *convert(json_t *m, bool to_docker, size_t *len, struct error **err)
{
	json_t *c = json_deep_copy(m);
	int ret = convert_type(c, to_docker, err);
	if (!ret)
		ret = convert_type(json_object_get(c, "config"), to_docker,
				   err);
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(c, "layers"), i, l) if (!ret)
		ret = convert_type(l, to_docker, err);
	if (to_docker)
		json_object_del(c, "annotations");
	char *out = ret ? NULL : json_dumps(c, JSON_COMPACT);
	json_decref(c);
	if (out)
		*len = strlen(out);
	return out;
}

struct push_src {
	struct registry_push_job *jobs;
	int *fds;
	size_t nr;
};

static void push_src_release(struct push_src *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		error_free(p->jobs[i].err);
	}
	free(p->fds);
	free(p->jobs);
}

static int push_image(struct registry_client *c, struct store *s,
		      const struct store_image *img, const char *format,
		      const struct registry_ref *ref, bool quiet, char **pushed,
		      size_t *pushed_len, struct error **err)
{
	struct strbuf raw = STRBUF_INIT;
	if (store_blob_read(s, img->image_manifest_digest, &raw, 0, err) < 0)
		return -1;
	const char *mt = img->image_manifest_media_type;
	bool docker = !strcmp(mt, STORE_MT_DOCKER_MANIFEST);
	char *out = NULL;
	size_t out_len = 0;
	const char *out_mt = mt;
	if (format && strcmp(format, docker ? "docker" : "oci")) {
		bool to_docker = !strcmp(format, "docker");
		out = convert(img->manifest, to_docker, &out_len, err);
		out_mt = to_docker ? STORE_MT_DOCKER_MANIFEST
				   : STORE_MT_OCI_MANIFEST;
		if (!out) {
			strbuf_release(&raw);
			return -1;
		}
		strbuf_release(&raw);
	} else {
		out = strbuf_detach(&raw, &out_len);
	}

	json_t *layers = json_object_get(img->manifest, "layers");
	size_t nr = json_array_size(layers) + 1;
	struct push_src p = { .jobs = xcalloc(nr, sizeof(*p.jobs)),
			      .fds = xcalloc(nr, sizeof(int)) };
	int ret = 0;
	for (size_t i = 0; i < nr; i++) {
		json_t *d = i ? json_array_get(layers, i - 1)
			      : json_object_get(img->manifest, "config");
		const char *digest = json_string_value(json_object_get(d, "dige"
									  "s"
									  "t"));
		bool dup = false;
		for (size_t j = 0; digest && j < p.nr; j++)
			dup |= !strcmp(p.jobs[j].digest, digest);
		if (dup)
			continue;
		uint64_t size;
		int fd = digest ? store_blob_open(s, digest, &size, err) : -1;
		if (fd < 0) {
			if (!digest)
				error_set(err, KILN_ECORRUPT,
					  "manifest: a descriptor without "
					  "digest");
			ret = -1;
			break;
		}
		p.fds[p.nr] = fd;
		p.jobs[p.nr] = (struct registry_push_job){
			.digest = digest,
			.size = size,
			.read = read_blob,
			.data = &p.fds[p.nr],
		};
		p.nr++;
	}
	if (!ret)
		ret = registry_push_blobs(c, ref, p.jobs, p.nr, err);
	for (size_t i = 0; !quiet && i < p.nr; i++) {
		const struct registry_push_job *j = &p.jobs[i];
		if (j->err)
			continue;
		printf("%s: %s\n", short_id(j->digest),
		       j->result == REGISTRY_PUSH_EXISTS    ? "Layer already "
							      "exists"
		       : j->result == REGISTRY_PUSH_MOUNTED ? "Mounted"
							    : "Pushed");
	}
	push_src_release(&p);
	char *digest = NULL;
	if (!ret)
		ret = registry_push_manifest(c, ref, out, out_len, out_mt,
					     &digest, err);
	if (!ret) {
		*pushed = digest;
		*pushed_len = out_len;
	}
	free(out);
	return ret;
}

int cmd_push(int argc, char **argv)
{
	const char *format = NULL, *authfile = NULL, *cert_dir = NULL;
	const char *creds = NULL, *conf = NULL, *tls_verify = NULL;
	const char *digestfile = NULL;
	bool quiet = false;
	const struct opt opts[] = {
		OPT_STRING_('f', "format", &format, "oci|docker",
			    "Manifest format to push (default: as stored)"),
		OPT_BOOL_('q', "quiet", &quiet, "Print nothing but errors"),
		OPT_STRING_(0, "digestfile", &digestfile, "FILE",
			    "Write the pushed manifest's digest to FILE"),
		OPT_STRING_(0, "authfile", &authfile, "FILE",
			    "Path of the authentication file"),
		OPT_STRING_(0, "creds", &creds, "USER[:PASSWORD]",
			    "Credentials for the registry"),
		OPT_STRING_(0, "cert-dir", &cert_dir, "DIR",
			    "Certificates for the registry (*.crt, *.cert, "
			    "*.key)"),
		OPT_STRING_(0, "tls-verify", &tls_verify, "BOOL",
			    "Require HTTPS and verify certificates"),
		OPT_STRING_(0, "registries-conf", &conf, "FILE",
			    "Path of registries.conf"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln push [OPTIONS] IMAGE [DESTINATION]",
			     "Upload an image to a registry.", false);
	if (argc < 1 || argc > 2)
		usage_error("push", "\"kiln push\" requires 1 or 2 arguments");
	if (format && strcmp(format, "oci") && strcmp(format, "docker"))
		usage_error("push", "--format must be oci or docker, not '%s'",
			    format);
	struct error *e = NULL;
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct store_image *img = store_image_lookup(s, argv[0], &e);
	if (!img) {
		store_free(s);
		return cmd_fail(e);
	}
	char *dest = NULL;
	if (argc == 2)
		dest = xstrdup(argv[1]);
	else if (!(dest = store_ref_normalize(argv[0], &e)) ||
		 starts_with(argv[0], "sha256:")) {
		free(dest);
		store_image_free(img);
		store_free(s);
		error_free(e);
		usage_error("push", "'%s' is not a name: give a DESTINATION",
			    argv[0]);
	}
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	o.registries_conf = conf;
	o.authfile = authfile;
	o.cert_dir = cert_dir;
	o.creds = creds;
	if (tls_verify)
		o.tls_verify = strcmp(tls_verify, "false") ? 1 : 0;
	struct registry_ref ref = { 0 };
	struct registry_client *c = NULL;
	char *pushed = NULL;
	size_t pushed_len = 0;
	int ret = 0;
	if (registry_ref_parse(&ref, dest, &e) < 0 ||
	    !(c = registry_client_new(&o, &e))) {
		ret = 1;
	} else {
		if (!quiet) {
			char *full = registry_ref_string(&ref);
			printf("Pushing %s\n", full);
			free(full);
			fflush(stdout);
		}
		if (push_image(c, s, img, format, &ref, quiet, &pushed,
			       &pushed_len, &e) < 0)
			ret = 1;
	}
	if (ret) {
		error_print(e);
		error_free(e);
	} else {
		if (!quiet)
			printf("%s: digest: %s size: %zu\n",
			       ref.tag ? ref.tag : "latest", pushed,
			       pushed_len);
		if (digestfile) {
			FILE *f = fopen(digestfile, "we");
			if (!f || fprintf(f, "%s", pushed) < 0 || fclose(f)) {
				error("write '%s': %s", digestfile,
				      strerror(errno));
				ret = 1;
			}
		}
	}
	free(pushed);
	registry_ref_release(&ref);
	registry_client_free(c);
	free(dest);
	store_image_free(img);
	store_free(s);
	return ret;
}
