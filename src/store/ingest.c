/*
 * Ingest: one streaming pass from input bytes to a committed blob, deciding
 * from the first 512 bytes whether the content is a layer (a plain or
 * compressed tar) and, for layers, computing the diffID and uncompressed
 * size while the blob is written (and compressing plain tars with gzip).
 * With store_ingest_unpack(), the uncompressed tar also streams into an
 * extractor on a worker thread (extract.c), and the layer dir is committed
 * after the blob, so a pulled or loaded layer is ready to use.
 */
#include "store/store-internal.h"

enum route {
	ROUTE_UNDECIDED,
	ROUTE_RAW, /* bytes as is, not a layer */
	ROUTE_RAW_TAR, /* bytes as is, a plain tar: diffID = blob digest */
	ROUTE_GZIP, /* plain tar in, gzip out */
	ROUTE_PASS, /* compressed tar as is, decompressed for the diffID */
	ROUTE_RECOMPRESS, /* zstd in, decompressed, gzip out */
};

struct store_ingest {
	struct store *s;
	enum store_ingest_mode mode;
	enum route route;
	enum store_comp comp;
	unsigned char head[512];
	size_t head_len;
	struct store_blob_writer *blob;
	struct store_gzip *gz;
	struct store_unzip *unzip;
	struct store_sha256 diff;
	struct store_tarcheck tar;
	bool not_tar; /* analysis found it is no tar (AUTO/AS_IS) */
	uint64_t usize;
	bool failed;
	/* store_ingest_unpack() */
	bool unpack;
	char *want_diffid; /* expected, may be NULL */
	char *what;
	struct store_extract *x; /* running extraction, if any */
	bool x_hashes; /* the extractor computes the diffID ... */
	char x_diffid[STORE_DIGEST_MAX]; /* ... into here */
	/*
	 * Why the extraction failed, reported at commit unless the blob
	 * turns out not to match its digest (AUTO/AS_IS: a corrupt download
	 * is a digest mismatch, whatever the extractor made of it).
	 */
	struct error *x_err;
};

/* An extraction failure: fatal now for LAYER, else at commit. */
static int extract_failed(struct store_ingest *in, struct error *e,
			  struct error **err)
{
	store_extract_abort(in->x);
	in->x = NULL;
	if (in->mode == STORE_INGEST_LAYER) {
		if (err && !*err)
			*err = e;
		else
			error_free(e);
		return -1;
	}
	if (in->x_err)
		error_free(e);
	else
		in->x_err = e;
	return 0;
}

/* The content turned out not to be a layer: no extraction. */
static void drop_extract(struct store_ingest *in)
{
	store_extract_abort(in->x);
	in->x = NULL;
}

static int blob_sink(void *data, const void *buf, size_t len,
		     struct error **err)
{
	return store_blob_write(data, buf, len, err);
}

/* Uncompressed content: check tar structure, hash, count, maybe compress. */
static int analyse(struct store_ingest *in, const void *buf, size_t len,
		   struct error **err)
{
	if (!in->not_tar) {
		struct error *e = NULL;
		if (store_tarcheck_feed(&in->tar, buf, len, &e) < 0) {
			if (in->mode == STORE_INGEST_LAYER) {
				if (err && !*err)
					*err = e;
				else
					error_free(e);
				return -1;
			}
			error_free(e);
			in->not_tar = true;
			drop_extract(in);
		}
		if (!in->x_hashes)
			store_sha256_update(&in->diff, buf, len);
		in->usize += len;
		struct error *xe = NULL;
		if (in->x && !in->not_tar &&
		    store_extract_feed(in->x, buf, len, &xe) < 0)
			return extract_failed(in, xe, err);
	}
	if (in->gz)
		return store_gzip_write(in->gz, buf, len, err);
	return 0;
}

static int analyse_sink(void *data, const void *buf, size_t len,
			struct error **err)
{
	return analyse(data, buf, len, err);
}

static bool looks_like_tar(const unsigned char *h, size_t n)
{
	struct store_tarcheck t;
	memset(&t, 0, sizeof(t));
	if (n < 512)
		return false;
	return store_tarcheck_feed(&t, h, 512, NULL) == 0 &&
	       (t.entries || t.ended);
}

/* A layer (so far): start extracting it unless its dir exists. */
static int start_extract(struct store_ingest *in, struct error **err)
{
	if (!in->unpack ||
	    (in->want_diffid && store_layer_exists(in->s, in->want_diffid)))
		return 0;
	in->x = store_extract_start(in->s, in->what, geteuid() != 0, err);
	/* it sees every byte from the first: let it hash them */
	in->x_hashes = in->x != NULL;
	return in->x ? 0 : -1;
}

static int decide(struct store_ingest *in, struct error **err)
{
	in->comp = store_comp_detect(in->head, in->head_len);
	switch (in->comp) {
	case STORE_COMP_GZIP:
	case STORE_COMP_ZSTD:
		if (in->mode == STORE_INGEST_LAYER &&
		    in->comp == STORE_COMP_ZSTD) {
			in->route = ROUTE_RECOMPRESS;
			in->gz = store_gzip_new(blob_sink, in->blob);
		} else {
			in->route = ROUTE_PASS;
		}
		in->unzip = store_unzip_new(in->comp, analyse_sink, in);
		store_sha256_init(&in->diff);
		return start_extract(in, err);
	case STORE_COMP_XZ:
	case STORE_COMP_BZIP2:
		if (in->mode == STORE_INGEST_LAYER) {
			error_set(err, KILN_EINVAL,
				  "%s-compressed layers are not supported",
				  store_comp_name(in->comp));
			return -1;
		}
		in->route = ROUTE_RAW;
		return 0;
	case STORE_COMP_NONE:
		break;
	}
	if (!looks_like_tar(in->head, in->head_len)) {
		if (in->mode == STORE_INGEST_LAYER) {
			error_set(err, KILN_EINVAL, "not a tar archive");
			return -1;
		}
		in->route = ROUTE_RAW;
		return 0;
	}
	if (in->mode == STORE_INGEST_AS_IS) {
		in->route = ROUTE_RAW_TAR;
		store_sha256_init(&in->diff);
		return start_extract(in, err);
	}
	in->route = ROUTE_GZIP;
	in->gz = store_gzip_new(blob_sink, in->blob);
	store_sha256_init(&in->diff);
	return start_extract(in, err);
}

static int route_data(struct store_ingest *in, const void *buf, size_t len,
		      struct error **err)
{
	switch (in->route) {
	case ROUTE_RAW:
		return store_blob_write(in->blob, buf, len, err);
	case ROUTE_RAW_TAR:
		if (analyse(in, buf, len, err) < 0)
			return -1;
		return store_blob_write(in->blob, buf, len, err);
	case ROUTE_GZIP:
		return analyse(in, buf, len, err);
	case ROUTE_PASS:
		if (store_blob_write(in->blob, buf, len, err) < 0)
			return -1;
		if (!in->not_tar) {
			struct error *e = NULL;
			if (store_unzip_write(in->unzip, buf, len, &e) < 0) {
				if (in->mode == STORE_INGEST_LAYER) {
					if (err && !*err)
						*err = e;
					else
						error_free(e);
					return -1;
				}
				error_free(e);
				in->not_tar = true;
				drop_extract(in);
			}
		}
		return 0;
	case ROUTE_RECOMPRESS:
		return store_unzip_write(in->unzip, buf, len, err);
	case ROUTE_UNDECIDED:
		break;
	}
	BUG("ingest: undecided route");
}

struct store_ingest *store_ingest_begin(struct store *s,
					enum store_ingest_mode mode,
					struct error **err)
{
	struct store_blob_writer *w = store_blob_begin(s, err);
	if (!w)
		return NULL;
	struct store_ingest *in = xcalloc(1, sizeof(*in));
	in->s = s;
	in->mode = mode;
	in->blob = w;
	return in;
}

void store_ingest_unpack(struct store_ingest *in, const char *diffid,
			 const char *what)
{
	if (in->route != ROUTE_UNDECIDED || in->head_len)
		BUG("store_ingest_unpack after the first write");
	in->unpack = true;
	/* this thread decompresses: the blob is hashed and written on another
	 */
	store_blob_async(in->blob);
	free(in->want_diffid);
	in->want_diffid = diffid ? xstrdup(diffid) : NULL;
	free(in->what);
	in->what = what ? xstrdup(what) : NULL;
}

int store_ingest_write(struct store_ingest *in, const void *buf, size_t len,
		       struct error **err)
{
	const unsigned char *p = buf;
	if (in->failed) {
		error_set(err, KILN_EINTERNAL, "ingest failed earlier");
		return -1;
	}
	if (in->route == ROUTE_UNDECIDED) {
		size_t n = sizeof(in->head) - in->head_len;
		if (n > len)
			n = len;
		memcpy(in->head + in->head_len, p, n);
		in->head_len += n;
		p += n;
		len -= n;
		if (in->head_len < sizeof(in->head))
			return 0;
		if (decide(in, err) < 0 ||
		    route_data(in, in->head, in->head_len, err) < 0) {
			in->failed = true;
			return -1;
		}
	}
	if (len && route_data(in, p, len, err) < 0) {
		in->failed = true;
		return -1;
	}
	return 0;
}

void store_ingest_abort(struct store_ingest *in)
{
	if (!in)
		return;
	store_blob_abort(in->blob);
	store_extract_abort(in->x);
	error_free(in->x_err);
	free(in->want_diffid);
	free(in->what);
	store_gzip_free(in->gz);
	store_unzip_free(in->unzip);
	store_sha256_release(&in->diff);
	free(in);
}

static const char *layer_type(enum store_comp c)
{
	switch (c) {
	case STORE_COMP_GZIP:
		return STORE_MT_OCI_LAYER_GZIP;
	case STORE_COMP_ZSTD:
		return STORE_MT_OCI_LAYER_ZSTD;
	default:
		return STORE_MT_OCI_LAYER;
	}
}

static int finish(struct store_ingest *in, struct error **err)
{
	if (in->route == ROUTE_UNDECIDED &&
	    (decide(in, err) < 0 ||
	     (in->head_len && route_data(in, in->head, in->head_len, err) < 0)))
		return -1;
	if (in->unzip && !in->not_tar) {
		struct error *e = NULL;
		if (store_unzip_finish(in->unzip, &e) < 0) {
			if (in->mode == STORE_INGEST_LAYER) {
				if (err && !*err)
					*err = e;
				else
					error_free(e);
				return -1;
			}
			error_free(e);
			in->not_tar = true;
			drop_extract(in);
		}
	}
	if (in->route != ROUTE_RAW && !in->not_tar) {
		struct error *e = NULL;
		if (store_tarcheck_finish(&in->tar, &e) < 0) {
			if (in->mode == STORE_INGEST_LAYER) {
				if (err && !*err)
					*err = e;
				else
					error_free(e);
				return -1;
			}
			error_free(e);
			in->not_tar = true;
			drop_extract(in);
		}
	}
	if (in->gz && store_gzip_finish(in->gz, err) < 0)
		return -1;
	if (in->x) {
		uint64_t n = 0;
		struct error *xe = NULL;
		if (store_extract_finish(in->x, &n, in->x_diffid, &xe) < 0)
			return extract_failed(in, xe, err);
		if (n != in->usize) {
			error_set(&xe, KILN_EINTERNAL,
				  "%s: extracted %llu bytes of %llu",
				  in->what ? in->what : "layer",
				  (unsigned long long)n,
				  (unsigned long long)in->usize);
			return extract_failed(in, xe, err);
		}
	}
	return 0;
}

int store_ingest_commit(struct store_ingest *in, const char *expected,
			struct store_ingest_result *res, struct error **err)
{
	memset(res, 0, sizeof(*res));
	if (in->failed) {
		error_set(err, KILN_EINTERNAL, "ingest failed earlier");
		store_ingest_abort(in);
		return -1;
	}
	if (finish(in, err) < 0) {
		store_ingest_abort(in);
		return -1;
	}
	/* a corrupt blob is a digest mismatch, whatever else went wrong */
	char got[STORE_DIGEST_MAX];
	if ((in->x_err || in->want_diffid) && expected) {
		store_blob_peek_digest(in->blob, got);
		if (strcmp(expected, got)) {
			error_set(err, KILN_ECORRUPT,
				  "blob digest mismatch: expected '%s', got "
				  "'%s'",
				  expected, got);
			store_ingest_abort(in);
			return -1;
		}
	}
	if (in->x_err) {
		if (err && !*err) {
			*err = in->x_err;
			in->x_err = NULL;
		}
		store_ingest_abort(in);
		return -1;
	}
	res->is_layer = in->route != ROUTE_RAW && !in->not_tar;
	if (res->is_layer && in->x_hashes)
		memcpy(res->diffid, in->x_diffid, STORE_DIGEST_MAX);
	else if (res->is_layer)
		store_sha256_final(&in->diff, res->diffid);
	if (res->is_layer && in->want_diffid &&
	    strcmp(res->diffid, in->want_diffid)) {
		error_set(err, KILN_ECORRUPT,
			  "%s: content has diffID '%s', expected '%s'",
			  in->what ? in->what : "layer", res->diffid,
			  in->want_diffid);
		store_ingest_abort(in);
		return -1;
	}
	struct store_blob_writer *w = in->blob;
	in->blob = NULL;
	if (store_blob_commit(w, expected, res->digest, &res->size, err) < 0) {
		store_ingest_abort(in);
		return -1;
	}
	if (res->is_layer) {
		enum store_comp stored =
			in->route == ROUTE_GZIP || in->route == ROUTE_RECOMPRESS
				? STORE_COMP_GZIP
				: in->comp;
		res->media_type = layer_type(stored);
		res->usize = in->usize;
		if (store_layerinfo_put_du(in->s, res->digest, res->diffid,
					   res->usize, in->tar.du, err) < 0) {
			store_ingest_abort(in);
			return -1;
		}
		/* the blob is in: the tree may take its final name */
		if (in->x) {
			struct store_extract *x = in->x;
			in->x = NULL;
			if (store_extract_commit(x, res->diffid, err) < 0) {
				store_ingest_abort(in);
				return -1;
			}
		}
		res->unpacked = in->unpack &&
				store_layer_exists(in->s, res->diffid);
	}
	store_ingest_abort(in);
	return 0;
}
