/*
 * kiln pull [--platform P] [-q] NAME[:TAG|@DIGEST]: resolve the name
 * through registries.conf (search registries, mirrors), fetch the blobs the
 * store lacks, streaming each into the store: the config first, then the
 * layers in parallel, each decompressed, hashed and extracted into its
 * layer dir while it streams (a layer whose dir exists is only stored).
 * Check the diffIDs against the config, store the manifest and tag it.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"
#include "store/store.h"

#include <jansson.h>

struct pull_blob {
	const char *digest;
	int64_t size;
	const char *media_type;
	struct store_ingest *in;
	struct error *err; /* the store's own error, if writing failed */
	struct store_ingest_result res;
};

static int ingest_write(void *data, const void *buf, size_t len)
{
	struct pull_blob *b = data;
	return store_ingest_write(b->in, buf, len, &b->err);
}

static const char *short_id(const char *digest)
{
	static char buf[13];
	const char *hex = strchr(digest, ':');
	snprintf(buf, sizeof(buf), "%s", hex ? hex + 1 : digest);
	return buf;
}

static bool is_image_manifest(const char *mt)
{
	return !strcmp(mt, STORE_MT_OCI_MANIFEST) ||
	       !strcmp(mt, STORE_MT_DOCKER_MANIFEST);
}

/*
 * Fetch the blobs of manifest `m` the store lacks: the config (i == 0)
 * when `config_only`, else the layers, extracting each as it streams;
 * `diffids` (the config's rootfs.diff_ids, may be NULL) names the layer
 * dirs to expect.
 */
static int pull_blobs(struct registry_client *c, struct store *s,
		      const struct registry_ref *ref, json_t *m,
		      bool config_only, json_t *diffids, bool quiet,
		      struct error **err)
{
	json_t *config = json_object_get(m, "config");
	json_t *layers = json_object_get(m, "layers");
	size_t nr = config_only ? 1 : json_array_size(layers) + 1;
	struct pull_blob *blobs = xcalloc(nr, sizeof(*blobs));
	struct registry_blob_job *jobs = xcalloc(nr, sizeof(*jobs));
	size_t njobs = 0;
	int ret = 0;
	for (size_t i = 0; i < nr; i++) {
		json_t *d = i ? json_array_get(layers, i - 1) : config;
		struct pull_blob *b = &blobs[i];
		b->digest = json_string_value(json_object_get(d, "digest"));
		b->size = json_integer_value(json_object_get(d, "size"));
		b->media_type = json_string_value(json_object_get(d, "mediaTyp"
								     "e"));
		if (!b->digest || !store_digest_valid(b->digest)) {
			error_set(err, KILN_ECORRUPT,
				  "manifest: invalid or unsupported digest "
				  "'%s'",
				  b->digest ? b->digest : "(none)");
			ret = -1;
			break;
		}
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= !strcmp(blobs[j].digest, b->digest);
		if (dup || store_blob_exists(s, b->digest) ||
		    (!i && !config_only)) {
			if (!quiet && i)
				printf("%s: Already exists\n",
				       short_id(b->digest));
			continue;
		}
		b->in = store_ingest_begin(s, STORE_INGEST_AS_IS, err);
		if (!b->in) {
			ret = -1;
			break;
		}
		if (i) {
			const char *want = json_string_value(
				json_array_get(diffids, i - 1));
			cleanup_free char *what =
				xstrfmt("layer %s", b->digest);
			store_ingest_unpack(
				b->in, store_digest_valid(want) ? want : NULL,
				what);
		}
		jobs[njobs++] = (struct registry_blob_job){
			.digest = b->digest,
			.size = b->size,
			.write = ingest_write,
			.data = b,
		};
	}
	if (!ret && njobs) {
		if (!quiet) {
			for (size_t i = 1; i < nr; i++)
				if (blobs[i].in)
					printf("%s: Pulling fs layer\n",
					       short_id(blobs[i].digest));
			fflush(stdout);
		}
		ret = registry_fetch_blobs(c, ref, jobs, njobs, err);
		for (size_t i = 0; ret && i < nr; i++)
			if (blobs[i].err) {
				error_clear(err);
				error_set(err, blobs[i].err->code, "%s",
					  blobs[i].err->msg);
				break;
			}
	}
	for (size_t i = 0; i < nr; i++) {
		struct pull_blob *b = &blobs[i];
		if (!b->in)
			continue;
		if (ret) {
			store_ingest_abort(b->in);
		} else if (store_ingest_commit(b->in, b->digest, &b->res, err) <
			   0) {
			ret = -1;
		} else if (!quiet && i) {
			printf("%s: Pull complete\n", short_id(b->digest));
		}
		b->in = NULL;
	}
	for (size_t i = 0; i < njobs; i++)
		error_free(jobs[i].err);
	for (size_t i = 0; i < nr; i++)
		error_free(blobs[i].err);
	free(jobs);
	free(blobs);
	return ret;
}

/* The config's rootfs.diff_ids must name the layers we got. */
static int check_diffids(struct store *s, json_t *m, struct error **err)
{
	const char *cd = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	json_t *cfg = store_blob_read_json(s, cd, err);
	if (!cfg)
		return -1;
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_"
								      "ids");
	json_t *layers = json_object_get(m, "layers");
	int ret = 0;
	if (json_array_size(ids) != json_array_size(layers)) {
		error_set(err, KILN_ECORRUPT,
			  "the config lists %zu layers, the manifest %zu",
			  json_array_size(ids), json_array_size(layers));
		ret = -1;
	}
	for (size_t i = 0; !ret && i < json_array_size(layers); i++) {
		const char *d = json_string_value(
			json_object_get(json_array_get(layers, i), "digest"));
		const char *want = json_string_value(json_array_get(ids, i));
		char diffid[STORE_DIGEST_MAX];
		uint64_t usize;
		if (store_layerinfo_get(s, d, diffid, &usize, err) < 0) {
			ret = -1;
		} else if (!want || strcmp(want, diffid)) {
			error_set(err, KILN_ECORRUPT,
				  "layer %s: its content is %s, the config "
				  "says %s",
				  d, diffid, want ? want : "(none)");
			ret = -1;
		}
	}
	json_decref(cfg);
	return ret;
}

/* The layers, once the config is in (its diffIDs name the layer dirs). */
static int pull_layers(struct registry_client *c, struct store *s,
		       const struct registry_ref *ref, json_t *m, bool quiet,
		       struct error **err)
{
	const char *cd = json_string_value(
		json_object_get(json_object_get(m, "config"), "digest"));
	json_t *cfg = store_blob_read_json(s, cd, NULL);
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_"
								      "ids");
	if (json_array_size(ids) != json_array_size(json_object_get(m, "laye"
								       "rs")))
		ids = NULL; /* check_diffids() says what is wrong */
	int ret = pull_blobs(c, s, ref, m, false, ids, quiet, err);
	json_decref(cfg);
	return ret;
}

/* Store the image `ref` resolved to, and tag it. */
static int pull_image(struct registry_client *c, const struct registry_ref *ref,
		      const char *what, const char *m, size_t len,
		      const char *mt, const char *digest, bool quiet,
		      struct error **err)
{
	if (!is_image_manifest(mt)) {
		error_set(err, KILN_EINVAL,
			  "'%s': unsupported manifest type %s", what, mt);
		return -1;
	}
	json_error_t je;
	json_t *mj = json_loadb(m, len, 0, &je);
	if (!mj) {
		error_set(err, KILN_ECORRUPT, "manifest %s: %s", digest,
			  je.text);
		return -1;
	}
	struct store *s = store_open(NULL, err);
	if (!s) {
		json_decref(mj);
		return -1;
	}
	if (!quiet) {
		char *full = registry_ref_string(ref);
		printf("Pulling %s\n", full);
		free(full);
	}
	/*
	 * Blobs fetched before a failure stay (verified, unreferenced) so a
	 * retry need not fetch them again; `kiln prune` reclaims them.
	 */
	bool had = store_blob_exists(s, digest);
	struct registry_ref named = *ref;
	if (named.tag)
		named.digest = NULL;
	char *text = registry_ref_string(&named);
	char *name = NULL;
	bool same = false;
	int ret = -1;
	if (!pull_blobs(c, s, ref, mj, true, NULL, quiet, err) &&
	    !pull_layers(c, s, ref, mj, quiet, err) &&
	    !check_diffids(s, mj, err) &&
	    !store_blob_put(s, m, len, digest, NULL, err) &&
	    (name = store_ref_normalize(text, err))) {
		struct store_desc d = { .media_type = mt,
					.digest = digest,
					.size = (int64_t)len };
		struct store_refs refs = STORE_REFS_INIT;
		if (!store_refs_read(s, &refs, NULL)) {
			const struct store_ref *r =
				store_refs_find(&refs, name);
			same = had && r && !strcmp(r->digest, digest);
		}
		store_refs_release(&refs);
		ret = store_ref_set(s, name, &d, err);
	}
	if (!ret && !quiet) {
		char *fam = store_ref_familiar(name);
		printf("Digest: %s\n", digest);
		printf("Status: %s %s\n",
		       same ? "Image is up to date for"
			    : "Downloaded newer image for",
		       fam);
		free(fam);
	}
	if (!ret)
		printf("%s\n", name);
	free(name);
	free(text);
	store_free(s);
	json_decref(mj);
	return ret;
}

int cmd_pull(int argc, char **argv)
{
	const char *platform = NULL, *authfile = NULL, *cert_dir = NULL;
	const char *creds = NULL, *conf = NULL, *tls_verify = NULL;
	bool quiet = false;
	const struct opt opts[] = {
		OPT_STRING_(0, "platform", &platform, "OS/ARCH[/VARIANT]",
			    "Pull the image for this platform"),
		OPT_BOOL_('q', "quiet", &quiet, "Print only the image name"),
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
			     "kiln pull [OPTIONS] NAME[:TAG|@DIGEST]",
			     "Download an image from a registry.", false);
	if (argc != 1)
		usage_error("pull", "\"kiln pull\" requires exactly 1 "
				    "argument");
	struct registry_options o = REGISTRY_OPTIONS_INIT;
	o.registries_conf = conf;
	o.authfile = authfile;
	o.cert_dir = cert_dir;
	o.creds = creds;
	if (tls_verify)
		o.tls_verify = strcmp(tls_verify, "false") ? 1 : 0;
	struct error *e = NULL;
	struct registry_client *c = registry_client_new(&o, &e);
	if (!c)
		return cmd_fail(e);

	struct registry_ref *cands = NULL;
	size_t ncands = 0;
	if (registry_candidates(c, argv[0], &cands, &ncands, &e) < 0) {
		registry_client_free(c);
		return cmd_fail(e);
	}
	char *m = NULL, *mt = NULL, *digest = NULL;
	size_t len = 0;
	struct registry_ref *ref = NULL;
	for (size_t i = 0; i < ncands && !ref; i++) {
		struct error *e2 = NULL;
		if (!registry_resolve(c, &cands[i], platform, &m, &len, &mt,
				      &digest, NULL, &e2)) {
			ref = &cands[i];
			error_clear(&e);
		} else if (!e || e2->code != KILN_ENOTFOUND) {
			error_free(e);
			e = e2;
		} else {
			error_free(e2);
		}
	}
	int ret = 0;
	if (!ref ||
	    pull_image(c, ref, argv[0], m, len, mt, digest, quiet, &e) < 0) {
		error_print(e);
		error_free(e);
		ret = 1;
	}
	free(m);
	free(mt);
	free(digest);
	for (size_t i = 0; i < ncands; i++)
		registry_ref_release(&cands[i]);
	free(cands);
	registry_client_free(c);
	return ret;
}
