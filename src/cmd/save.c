/*
 * kiln save [-o FILE] [--format docker-archive|oci-archive] IMAGE...
 *
 * docker-archive (the default, what `docker load` and `podman load` read):
 * manifest.json, repositories, <config-hex>.json and one directory per
 * layer (named by its chain ID) with layer.tar (uncompressed), json and
 * VERSION.  oci-archive: an OCI image layout (oci-layout, index.json,
 * blobs/sha256/...) with the blobs exactly as stored.  The output file is
 * written beside its target and renamed when complete.
 */
#include "cmd/cmd.h"
#include "archive/archive.h"
#include "store/store.h"

#include <archive.h>
#include <archive_entry.h>

#define SAVE_BUF (1 << 20)

struct saver {
	struct store *s;
	struct archive *a;
	time_t mtime;
	struct strvec written; /* entry names already in the archive */
	struct error *err;
};

static bool already(struct saver *sv, const char *name)
{
	for (size_t i = 0; i < sv->written.nr; i++)
		if (!strcmp(sv->written.v[i], name))
			return true;
	strvec_push(&sv->written, name);
	return false;
}

static int header(struct saver *sv, const char *name, uint64_t size,
		  bool dir)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(e, sv->mtime, 0);
	int r = archive_write_header(sv->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		error_set(&sv->err, KILN_EINTERNAL, "write '%s': %s", name,
			  archive_error_string(sv->a));
		return -1;
	}
	return 0;
}

static int data(struct saver *sv, const void *buf, size_t len)
{
	if (len && archive_write_data(sv->a, buf, len) != (la_ssize_t)len) {
		error_set(&sv->err, KILN_EINTERNAL, "write archive: %s",
			  archive_error_string(sv->a));
		return -1;
	}
	return 0;
}

static int add_mem(struct saver *sv, const char *name, const void *buf,
		   size_t len)
{
	if (already(sv, name))
		return 0;
	if (header(sv, name, len, false) < 0)
		return -1;
	return data(sv, buf, len);
}

static int add_dir(struct saver *sv, const char *name)
{
	if (already(sv, name))
		return 0;
	return header(sv, name, 0, true);
}

/* A blob as stored. */
static int add_blob(struct saver *sv, const char *name, const char *digest)
{
	if (already(sv, name))
		return 0;
	uint64_t size;
	cleanup_close int fd = store_blob_open(sv->s, digest, &size, &sv->err);
	if (fd < 0)
		return -1;
	if (header(sv, name, size, false) < 0)
		return -1;
	cleanup_free char *buf = xmalloc(SAVE_BUF);
	uint64_t left = size;
	while (left) {
		ssize_t n = read(fd, buf, SAVE_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(&sv->err, KILN_ECORRUPT,
				  "read blob '%s': %s", digest,
				  n < 0 ? strerror(errno) : "short blob");
			return -1;
		}
		if ((uint64_t)n > left)
			n = (ssize_t)left;
		if (data(sv, buf, (size_t)n) < 0)
			return -1;
		left -= (uint64_t)n;
	}
	return 0;
}

/* A layer uncompressed: exactly `usize` bytes with diffID `diffid`. */
static int add_layer_tar(struct saver *sv, const char *name,
			 const struct store_layer_desc *l)
{
	if (already(sv, name))
		return 0;
	int fd = store_blob_open(sv->s, l->digest, NULL, &sv->err);
	if (fd < 0)
		return -1;
	struct archive_input in = { archive_fd_read, &fd };
	struct archive_decompressor *d =
		archive_decompressor_new(&in, ARCHIVE_COMP_AUTO, 0, &sv->err);
	if (!d) {
		close(fd);
		return -1;
	}
	int ret = header(sv, name, l->usize, false);
	cleanup_free char *buf = xmalloc(SAVE_BUF);
	uint64_t total = 0;
	while (!ret) {
		ssize_t n = archive_decompressor_read(d, buf, SAVE_BUF,
						      &sv->err);
		if (n < 0)
			ret = -1;
		if (n <= 0)
			break;
		total += (uint64_t)n;
		if (total > l->usize) {
			error_set(&sv->err, KILN_ECORRUPT,
				  "layer '%s' is larger than recorded",
				  l->digest);
			ret = -1;
			break;
		}
		ret = data(sv, buf, (size_t)n);
	}
	if (!ret) {
		struct archive_digests dg;
		archive_decompressor_digests(d, &dg);
		if (total != l->usize || strcmp(dg.uncompressed, l->diffid)) {
			error_set(&sv->err, KILN_ECORRUPT,
				  "layer '%s' does not match its diffID",
				  l->digest);
			ret = -1;
		}
	}
	archive_decompressor_free(d);
	close(fd);
	return ret;
}

/* One image of the docker-archive; appends its manifest.json entry. */
static int save_docker(struct saver *sv, struct store_image *img,
		       const struct strvec *tags, json_t *manifest,
		       json_t *repos)
{
	struct store_layer_desc *layers;
	size_t nr;
	if (store_image_layers(sv->s, img, &layers, &nr, &sv->err) < 0)
		return -1;
	cleanup_strbuf struct strbuf cfg = STRBUF_INIT;
	int ret = store_blob_read(sv->s, img->config_digest, &cfg, 0, &sv->err);
	cleanup_free char *cfgname =
		xstrfmt("%s.json", img->config_digest + 7);
	if (!ret)
		ret = add_mem(sv, cfgname, cfg.buf, cfg.len);
	json_t *lnames = json_array();
	char chain[STORE_DIGEST_MAX] = "";
	char parent[STORE_DIGEST_MAX] = "";
	for (size_t i = 0; !ret && i < nr; i++) {
		/* the chain ID names the layer directory, as docker's v1 ids */
		if (i == 0) {
			memcpy(chain, layers[i].diffid, STORE_DIGEST_MAX);
		} else {
			cleanup_free char *in =
				xstrfmt("%s %s", chain, layers[i].diffid);
			store_digest_buf(in, strlen(in), chain);
		}
		cleanup_free char *dir = xstrfmt("%s", chain + 7);
		cleanup_free char *tar = xstrfmt("%s/layer.tar", dir);
		cleanup_free char *ver = xstrfmt("%s/VERSION", dir);
		cleanup_free char *js = xstrfmt("%s/json", dir);
		cleanup_free char *v1 =
			*parent ? xstrfmt("{\"id\":\"%s\",\"parent\":\"%s\"}",
					  chain + 7, parent + 7)
				: xstrfmt("{\"id\":\"%s\"}", chain + 7);
		ret = add_dir(sv, dir);
		if (!ret)
			ret = add_mem(sv, ver, "1.0", 3);
		if (!ret)
			ret = add_mem(sv, js, v1, strlen(v1));
		if (!ret)
			ret = add_layer_tar(sv, tar, &layers[i]);
		json_array_append_new(lnames, json_string(tar));
		memcpy(parent, chain, STORE_DIGEST_MAX);
	}
	store_layer_descs_free(layers, nr);
	if (ret < 0) {
		json_decref(lnames);
		return -1;
	}
	json_t *m = json_object();
	json_object_set_new(m, "Config", json_string(cfgname));
	json_t *rt = json_array();
	for (size_t i = 0; i < tags->nr; i++) {
		cleanup_free char *fam = store_ref_familiar(tags->v[i]);
		json_array_append_new(rt, json_string(fam));
		char *repo, *tag, *dg;
		store_ref_split(tags->v[i], &repo, &tag, &dg);
		if (*chain && *tag) {
			json_t *r = json_object_get(repos, repo);
			if (!r) {
				r = json_object();
				json_object_set_new(repos, repo, r);
			}
			json_object_set_new(r, tag, json_string(chain + 7));
		}
		free(repo);
		free(tag);
		free(dg);
	}
	json_object_set_new(m, "RepoTags", tags->nr ? rt : json_null());
	if (!tags->nr)
		json_decref(rt);
	json_object_set_new(m, "Layers", lnames);
	json_array_append_new(manifest, m);
	return 0;
}

/* One image of the oci-archive; appends its index.json descriptor. */
static int save_oci(struct saver *sv, struct store_image *img,
		    const char *tag, json_t *index)
{
	cleanup_free char *mname = xstrfmt("blobs/sha256/%s",
					   img->manifest_digest + 7);
	if (add_blob(sv, mname, img->manifest_digest) < 0)
		return -1;
	if (strcmp(img->manifest_digest, img->image_manifest_digest)) {
		cleanup_free char *n = xstrfmt("blobs/sha256/%s",
					       img->image_manifest_digest + 7);
		if (add_blob(sv, n, img->image_manifest_digest) < 0)
			return -1;
	}
	cleanup_free char *cname =
		xstrfmt("blobs/sha256/%s", img->config_digest + 7);
	if (add_blob(sv, cname, img->config_digest) < 0)
		return -1;
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(img->manifest, "layers"), i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest"));
		if (!store_digest_valid(d)) {
			error_set(&sv->err, KILN_ECORRUPT,
				  "image '%s': invalid layer digest",
				  img->config_digest);
			return -1;
		}
		cleanup_free char *n = xstrfmt("blobs/sha256/%s", d + 7);
		if (add_blob(sv, n, d) < 0)
			return -1;
	}
	json_t *desc = json_object();
	json_object_set_new(desc, "mediaType",
			    json_string(img->manifest_media_type));
	json_object_set_new(desc, "digest",
			    json_string(img->manifest_digest));
	uint64_t size = 0;
	int fd = store_blob_open(sv->s, img->manifest_digest, &size, NULL);
	if (fd >= 0)
		close(fd);
	json_object_set_new(desc, "size", json_integer((json_int_t)size));
	if (tag) {
		cleanup_free char *fam = store_ref_familiar(tag);
		json_t *ann = json_object();
		json_object_set_new(ann, STORE_ANN_IMAGE_NAME, json_string(tag));
		json_object_set_new(ann, STORE_ANN_REF_NAME, json_string(fam));
		json_object_set_new(desc, "annotations", ann);
	}
	json_array_append_new(index, desc);
	return 0;
}

static int out_write(struct archive *a, void *data, const void *buf,
		     size_t len)
{
	int fd = *(int *)data;
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "%s", strerror(errno));
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (int)len;
}

static la_ssize_t out_write_cb(struct archive *a, void *data, const void *buf,
			       size_t len)
{
	return out_write(a, data, buf, len);
}

int cmd_save(int argc, char **argv)
{
	const char *output = NULL, *format = "docker-archive";
	const struct opt opts[] = {
		OPT_STRING_(0, "format", &format, "string",
			    "docker-archive (default) or oci-archive"),
		OPT_STRING_('o', "output", &output, "string",
			    "Write to a file, instead of STDOUT"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln save [OPTIONS] IMAGE [IMAGE...]",
			     "Save one or more images to a tar archive "
			     "(streamed to STDOUT by default)",
			     false);
	if (argc < 1)
		usage_error("save", "\"kiln save\" requires at least 1 argument");
	bool oci;
	if (!strcmp(format, "docker-archive") || !strcmp(format, "docker"))
		oci = false;
	else if (!strcmp(format, "oci-archive") || !strcmp(format, "oci"))
		oci = true;
	else
		usage_error("save",
			    "unknown format \"%s\" (docker-archive or "
			    "oci-archive)",
			    format);
	if (!output && isatty(STDOUT_FILENO)) {
		error("cowardly refusing to save to a terminal. Use the -o "
		      "flag or redirect");
		return 1;
	}
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct error *e = NULL;
	/* resolve everything before writing anything */
	struct store_image **imgs = xcalloc((size_t)argc, sizeof(*imgs));
	struct strvec *tags = xcalloc((size_t)argc, sizeof(*tags));
	int ret = 0;
	for (int i = 0; i < argc; i++)
		strvec_init(&tags[i]);
	for (int i = 0; i < argc && !ret; i++) {
		imgs[i] = store_image_lookup(s, argv[i], &e);
		if (!imgs[i]) {
			ret = -1;
			break;
		}
		struct error *ign = NULL;
		cleanup_free char *full = store_ref_normalize(argv[i], &ign);
		error_free(ign);
		for (size_t k = 0; full && k < imgs[i]->names.nr; k++)
			if (!strcmp(imgs[i]->names.v[k], full))
				strvec_push(&tags[i], full);
	}
	cleanup_free char *tmp = NULL;
	int fd = -1;
	if (!ret && output) {
		tmp = xstrfmt("%s.kiln-tmp-%d", output, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			error_set_errno(&e, "create '%s'", tmp);
			ret = -1;
		}
	} else if (!ret) {
		fd = dup(STDOUT_FILENO);
	}
	struct saver sv = { s, NULL, 0, STRVEC_INIT, NULL };
	if (!ret) {
		sv.a = archive_write_new();
		archive_write_set_format_pax_restricted(sv.a);
		archive_write_set_bytes_per_block(sv.a, 10240);
		if (archive_write_open(sv.a, &fd, NULL, out_write_cb, NULL) !=
		    ARCHIVE_OK) {
			error_set(&e, KILN_EINTERNAL, "write archive: %s",
				  archive_error_string(sv.a));
			ret = -1;
		}
	}
	json_t *manifest = json_array(), *repos = json_object();
	json_t *index = json_array();
	for (int i = 0; !ret && i < argc; i++) {
		const char *created = json_string_value(
			json_object_get(imgs[i]->config, "created"));
		int64_t t = 0;
		if (created)
			store_time_parse(created, &t);
		sv.mtime = (time_t)t;
		if (oci) {
			if (tags[i].nr == 0)
				ret = save_oci(&sv, imgs[i], NULL, index);
			for (size_t k = 0; !ret && k < tags[i].nr; k++)
				ret = save_oci(&sv, imgs[i], tags[i].v[k],
					       index);
		} else {
			ret = save_docker(&sv, imgs[i], &tags[i], manifest,
					  repos);
		}
		if (ret < 0) {
			e = sv.err;
			sv.err = NULL;
		}
	}
	if (!ret) {
		char *mj, *rj = NULL;
		if (oci) {
			json_t *ij = json_object();
			json_object_set_new(ij, "schemaVersion", json_integer(2));
			json_object_set_new(ij, "mediaType",
					    json_string(STORE_MT_OCI_INDEX));
			json_object_set(ij, "manifests", index);
			mj = json_dumps(ij, JSON_COMPACT);
			json_decref(ij);
			static const char layout[] =
				"{\"imageLayoutVersion\":\"1.0.0\"}";
			ret = add_mem(&sv, "oci-layout", layout,
				      strlen(layout));
			if (!ret)
				ret = add_mem(&sv, "index.json", mj, strlen(mj));
		} else {
			mj = json_dumps(manifest, JSON_COMPACT);
			rj = json_dumps(repos, JSON_COMPACT);
			ret = add_mem(&sv, "manifest.json", mj, strlen(mj));
			if (!ret && json_object_size(repos))
				ret = add_mem(&sv, "repositories", rj,
					      strlen(rj));
		}
		free(mj);
		free(rj);
		if (ret < 0) {
			e = sv.err;
			sv.err = NULL;
		}
	}
	if (sv.a) {
		if (archive_write_close(sv.a) != ARCHIVE_OK && !ret) {
			error_set(&e, KILN_EINTERNAL, "write archive: %s",
				  archive_error_string(sv.a));
			ret = -1;
		}
		archive_write_free(sv.a);
	}
	if (!ret && tmp && (fsync(fd) < 0 || rename(tmp, output) < 0)) {
		error_set_errno(&e, "write '%s'", output);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp)
		unlink(tmp);
	json_decref(manifest);
	json_decref(repos);
	json_decref(index);
	for (int i = 0; i < argc; i++) {
		store_image_free(imgs[i]);
		strvec_clear(&tags[i]);
	}
	free(imgs);
	free(tags);
	strvec_clear(&sv.written);
	error_free(sv.err);
	store_free(s);
	return ret < 0 ? cmd_fail(e) : 0;
}
