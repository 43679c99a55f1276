/*
 * build cache: keys are sha256 chains (parent key, then the step's
 * inputs); records live in the store's cache/ directory, one small text
 * file per key, written to a temporary name, fsync'd and renamed, so a
 * record is complete or absent.  A record names a layer by diffID and
 * blob; a record whose blob is gone is a miss.
 */
#include "build/build-internal.h"

#include <sys/stat.h>

void build_key_init(struct build_keyer *k, const char *parent)
{
	oci_hasher_init(&k->h, OCI_DIGEST_SHA256);
	build_key_add(k, "kiln-build-cache-v1");
	if (parent)
		build_key_add(k, parent);
}

void build_key_add(struct build_keyer *k, const char *field)
{
	size_t len = strlen(field);
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%zu:", len);
	oci_hasher_update(&k->h, hdr, (size_t)n);
	oci_hasher_update(&k->h, field, len);
}

void build_key_addf(struct build_keyer *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *s = xstrvfmt(fmt, ap);
	va_end(ap);
	build_key_add(k, s);
}

void build_key_final(struct build_keyer *k, char out[BUILD_KEY_HEX])
{
	char d[OCI_DIGEST_MAX + 1];
	oci_hasher_final(&k->h, d);
	oci_hasher_release(&k->h);
	memcpy(out, d + strlen("sha256:"), BUILD_KEY_HEX - 1);
	out[BUILD_KEY_HEX - 1] = 0;
}

static int cache_dirfd(struct build *b, struct error **err)
{
	int fd = openat(b->s->root_fd, "cache",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(b->s->root_fd, "cache", 0700) < 0 &&
		    errno != EEXIST) {
			error_set_errno(err, "mkdir '%s/cache'", b->s->root);
			return -1;
		}
		fd = openat(b->s->root_fd, "cache",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		error_set_errno(err, "open '%s/cache'", b->s->root);
	return fd;
}

void build_cache_rec_release(struct build_cache_rec *rec)
{
	build_layer_release(&rec->layer);
	free(rec->created);
	memset(rec, 0, sizeof(*rec));
}

int build_cache_get(struct build *b, const char *key,
		    struct build_cache_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (b->o->no_cache)
		return 0;
	cleanup_close int dfd = cache_dirfd(b, NULL);
	if (dfd < 0)
		return 0;
	cleanup_close int fd = openat(dfd, key, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char kind[16], a[80], d[80], mt[128], created[64];
	long long size;
	unsigned long long usize;
	if (sscanf(buf, "v1 %15s", kind) != 1)
		return 0;
	if (!strcmp(kind, "empty")) {
		if (sscanf(buf, "v1 empty %63s", created) != 1)
			return 0;
		rec->empty = true;
		rec->created = xstrdup(created);
		return 1;
	}
	if (sscanf(buf, "v1 layer %79s %79s %lld %llu %127s %63s", a, d, &size,
		   &usize, mt, created) != 6)
		return 0;
	if (!store_digest_valid(a) || !store_digest_valid(d))
		return 0;
	/* the blob must still be there (stat only; never opened) */
	if (!store_blob_exists(b->s, d))
		return 0;
	rec->layer.diffid = xstrdup(a);
	rec->layer.digest = xstrdup(d);
	rec->layer.media_type = xstrdup(mt);
	rec->layer.size = size;
	rec->layer.usize = usize;
	rec->created = xstrdup(created);
	return 1;
}

int build_cache_put(struct build *b, const char *key,
		    const struct build_cache_rec *rec, struct error **err)
{
	cleanup_close int dfd = cache_dirfd(b, err);
	if (dfd < 0)
		return -1;
	cleanup_free char *text =
		rec->empty ? xstrfmt("v1 empty %s\n", rec->created)
			   : xstrfmt("v1 layer %s %s %lld %llu %s %s\n",
				     rec->layer.diffid, rec->layer.digest,
				     (long long)rec->layer.size,
				     (unsigned long long)rec->layer.usize,
				     rec->layer.media_type, rec->created);
	cleanup_free char *tmp = xstrfmt(".%s.%d.%lx", key, (int)getpid(),
					 (unsigned long)pthread_self());
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	if (fd < 0) {
		error_set_errno(err, "create cache record");
		return -1;
	}
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		error_set_errno(err, "write cache record");
		close(fd);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(dfd, tmp, dfd, key) < 0) {
		error_set_errno(err, "rename cache record");
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	build_note_created(b, &b->rb_records, key);
	return 0;
}
