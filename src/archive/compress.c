/*
 * Compression streams: gzip (ISA-L igzip when built with HAVE_ISAL, zlib
 * otherwise or on request), zstd (libzstd), and bzip2/xz decompression via
 * libarchive's raw format.  Both directions hash the compressed and the
 * uncompressed bytes as they pass, so a layer is compressed, digested and
 * diffid'ed in one pass.  A stream that failed stays failed.
 */
#include "archive/archive-internal.h"

#include <archive.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>
#ifdef HAVE_ISAL
#include <isa-l.h>
#endif

#define CHUNK (128 * 1024)

/* ---------------------------------------------------------------- helpers */

void archive_sha_init(struct archive_sha *s)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		BUG("sha256 init failed");
	s->ctx = ctx;
}

void archive_sha_update(struct archive_sha *s, const void *buf, size_t len)
{
	if (len && EVP_DigestUpdate(s->ctx, buf, len) != 1)
		BUG("sha256 update failed");
}

void archive_sha_final(struct archive_sha *s, char out[72])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";

	if (EVP_DigestFinal_ex(s->ctx, md, &n) != 1 || n != 32)
		BUG("sha256 final failed");
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	archive_sha_release(s);
}

void archive_sha_release(struct archive_sha *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

ssize_t archive_fd_read(void *cookie, void *buf, size_t len, struct error **err)
{
	int fd = *(int *)cookie;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR) {
			error_set_errno(err, "read");
			return -1;
		}
	}
}

int archive_fd_write(void *cookie, const void *buf, size_t len,
		     struct error **err)
{
	int fd = *(int *)cookie;
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set_errno(err, "write");
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

ssize_t archive_mem_read(void *cookie, void *buf, size_t len,
			 struct error **err)
{
	struct archive_mem *m = cookie;
	size_t n = m->len - m->pos;
	if (n > len)
		n = len;
	memcpy(buf, m->buf + m->pos, n);
	m->pos += n;
	return n;
}

int archive_strbuf_write(void *cookie, const void *buf, size_t len,
			 struct error **err)
{
	strbuf_add(cookie, buf, len);
	return 0;
}

const char *archive_compression_str(enum archive_compression c)
{
	switch (c) {
	case ARCHIVE_COMP_NONE:
		return "none";
	case ARCHIVE_COMP_GZIP:
		return "gzip";
	case ARCHIVE_COMP_ZSTD:
		return "zstd";
	case ARCHIVE_COMP_BZIP2:
		return "bzip2";
	case ARCHIVE_COMP_XZ:
		return "xz";
	case ARCHIVE_COMP_AUTO:
		return "auto";
	}
	return "unknown";
}

enum archive_compression archive_detect_compression(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return ARCHIVE_COMP_GZIP;
	if (len >= 3 && !memcmp(p, "BZh", 3))
		return ARCHIVE_COMP_BZIP2;
	if (len >= 6 && !memcmp(p,
				"\xfd"
				"7zXZ\0",
				6))
		return ARCHIVE_COMP_XZ;
	if (len >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
		return ARCHIVE_COMP_ZSTD;
	return ARCHIVE_COMP_NONE;
}

bool archive_have_isal(void)
{
#ifdef HAVE_ISAL
	return true;
#else
	return false;
#endif
}

static void digests_fill(struct archive_digests *dg, struct archive_sha *c,
			 struct archive_sha *u, uint64_t csize, uint64_t usize)
{
	archive_sha_final(c, dg->compressed);
	archive_sha_final(u, dg->uncompressed);
	dg->compressed_size = csize;
	dg->uncompressed_size = usize;
}

/* ---------------------------------------------------------------- compressor
 */

enum backend {
	BK_NONE,
	BK_ZLIB,
	BK_ISAL,
	BK_ZSTD,
};

struct archive_compressor {
	enum backend bk;
	archive_write_fn out;
	void *cookie;
	bool failed, finished;
	struct archive_sha sha_c, sha_u;
	uint64_t csize, usize;
	unsigned char *obuf;
	z_stream z;
#ifdef HAVE_ISAL
	struct isal_zstream isal;
	unsigned char *level_buf;
#endif
	ZSTD_CStream *zstd;
};

/* Hand compressed bytes to the sink, hashing them. */
static int comp_emit(struct archive_compressor *c, const void *buf, size_t len,
		     struct error **err)
{
	if (!len)
		return 0;
	archive_sha_update(&c->sha_c, buf, len);
	c->csize += len;
	if (c->out(c->cookie, buf, len, err) < 0) {
		c->failed = true;
		return -1;
	}
	return 0;
}

struct archive_compressor *
archive_compressor_new(const struct archive_compress_opts *opts,
		       archive_write_fn out, void *cookie, struct error **err)
{
	struct archive_compress_opts def = { ARCHIVE_COMP_GZIP, -1, false };
	if (!opts)
		opts = &def;
	struct archive_compressor *c = xcalloc(1, sizeof(*c));
	int level = opts->level;

	c->out = out;
	c->cookie = cookie;
	c->obuf = xmalloc(CHUNK);
	switch (opts->comp) {
	case ARCHIVE_COMP_NONE:
		c->bk = BK_NONE;
		break;
	case ARCHIVE_COMP_GZIP:
		if (level < 0)
			level = 1;
#ifdef HAVE_ISAL
		if (!opts->force_zlib && level <= ISAL_DEF_MAX_LEVEL) {
			static const uint32_t sizes[] = {
				0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT,
				ISAL_DEF_LVL3_DEFAULT
			};
			c->bk = BK_ISAL;
			isal_deflate_init(&c->isal);
			c->isal.level = level;
			c->isal.gzip_flag = IGZIP_GZIP;
			c->isal.flush = NO_FLUSH;
			if (sizes[level]) {
				c->level_buf = xmalloc(sizes[level]);
				c->isal.level_buf = c->level_buf;
				c->isal.level_buf_size = sizes[level];
			}
			break;
		}
#endif
		c->bk = BK_ZLIB;
		if (level > 9)
			level = 9;
		/* 16 + 15: a gzip wrapper around a 32 KiB window. */
		if (deflateInit2(&c->z, level, Z_DEFLATED, 16 + 15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			error_set(err, KILN_EINTERNAL, "deflateInit2 failed");
			free(c->obuf);
			free(c);
			return NULL;
		}
		break;
	case ARCHIVE_COMP_ZSTD:
		c->bk = BK_ZSTD;
		c->zstd = ZSTD_createCStream();
		if (!c->zstd)
			BUG("ZSTD_createCStream");
		ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel,
				       level < 0 ? 3 : level);
		break;
	default:
		error_set(err, KILN_EINVAL, "cannot compress with %s",
			  archive_compression_str(opts->comp));
		free(c->obuf);
		free(c);
		return NULL;
	}
	archive_sha_init(&c->sha_c);
	archive_sha_init(&c->sha_u);
	return c;
}

static int comp_run(struct archive_compressor *c, const void *buf, size_t len,
		    bool end, struct error **err)
{
	switch (c->bk) {
	case BK_NONE:
		return comp_emit(c, buf, len, err);
	case BK_ZLIB:
		c->z.next_in = (Bytef *)buf;
		c->z.avail_in = len;
		for (;;) {
			c->z.next_out = c->obuf;
			c->z.avail_out = CHUNK;
			int ret = deflate(&c->z, end ? Z_FINISH : Z_NO_FLUSH);
			if (ret == Z_STREAM_ERROR) {
				c->failed = true;
				error_set(err, KILN_EINTERNAL,
					  "deflate failed");
				return -1;
			}
			if (comp_emit(c, c->obuf, CHUNK - c->z.avail_out, err))
				return -1;
			if (end ? ret == Z_STREAM_END
				: c->z.avail_in == 0 && c->z.avail_out != 0)
				return 0;
		}
#ifdef HAVE_ISAL
	case BK_ISAL:
		c->isal.next_in = (uint8_t *)buf;
		c->isal.avail_in = len;
		c->isal.end_of_stream = end;
		for (;;) {
			c->isal.next_out = c->obuf;
			c->isal.avail_out = CHUNK;
			int ret = isal_deflate(&c->isal);
			if (ret != COMP_OK) {
				c->failed = true;
				error_set(err, KILN_EINTERNAL,
					  "isal_deflate failed (%d)", ret);
				return -1;
			}
			if (comp_emit(c, c->obuf, CHUNK - c->isal.avail_out,
				      err))
				return -1;
			if (end ? c->isal.internal_state.state == ZSTATE_END
				: c->isal.avail_in == 0 &&
					    c->isal.avail_out != 0)
				return 0;
		}
#endif
	case BK_ZSTD: {
		ZSTD_inBuffer in = { buf, len, 0 };
		for (;;) {
			ZSTD_outBuffer o = { c->obuf, CHUNK, 0 };
			size_t ret = ZSTD_compressStream2(
				c->zstd, &o, &in,
				end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(ret)) {
				c->failed = true;
				error_set(err, KILN_EINTERNAL, "zstd: %s",
					  ZSTD_getErrorName(ret));
				return -1;
			}
			if (comp_emit(c, c->obuf, o.pos, err))
				return -1;
			if (end ? ret == 0
				: in.pos == in.size && o.pos < o.size)
				return 0;
		}
	}
	default:
		BUG("bad compressor backend");
	}
}

int archive_compressor_write(struct archive_compressor *c, const void *buf,
			     size_t len, struct error **err)
{
	if (c->failed || c->finished) {
		error_set(err, KILN_EINTERNAL, "write to a %s compressor",
			  c->failed ? "failed" : "finished");
		return -1;
	}
	if (!len)
		return 0;
	archive_sha_update(&c->sha_u, buf, len);
	c->usize += len;
	return comp_run(c, buf, len, false, err);
}

int archive_compressor_write_cb(void *cookie, const void *buf, size_t len,
				struct error **err)
{
	return archive_compressor_write(cookie, buf, len, err);
}

int archive_compressor_finish(struct archive_compressor *c,
			      struct archive_digests *dg, struct error **err)
{
	if (c->failed || c->finished) {
		error_set(err, KILN_EINTERNAL, "finish of a %s compressor",
			  c->failed ? "failed" : "finished");
		return -1;
	}
	if (c->bk != BK_NONE && comp_run(c, NULL, 0, true, err))
		return -1;
	c->finished = true;
	struct archive_digests tmp;
	digests_fill(dg ? dg : &tmp, &c->sha_c, &c->sha_u, c->csize, c->usize);
	return 0;
}

void archive_compressor_free(struct archive_compressor *c)
{
	if (!c)
		return;
	if (c->bk == BK_ZLIB)
		deflateEnd(&c->z);
	ZSTD_freeCStream(c->zstd);
#ifdef HAVE_ISAL
	free(c->level_buf);
#endif
	archive_sha_release(&c->sha_c);
	archive_sha_release(&c->sha_u);
	free(c->obuf);
	free(c);
}

/* ---------------------------------------------------------------- decompressor
 */

struct archive_decompressor {
	const struct archive_input *in;
	enum archive_compression comp;
	unsigned flags;
	bool failed, done, started;
	bool in_eof;
	bool member_end; /* gzip/zstd: between members/frames */
	unsigned char *ibuf;
	size_t ipos, ilen;
	struct archive_sha sha_c, sha_u;
	uint64_t csize, usize;
	bool zlib_live;
	z_stream z;
#ifdef HAVE_ISAL
	bool use_isal;
	struct inflate_state *isal;
#endif
	ZSTD_DStream *zstd;
	struct archive *la; /* bzip2, xz */
};

struct archive_decompressor *
archive_decompressor_new(const struct archive_input *in,
			 enum archive_compression comp, unsigned flags,
			 struct error **err)
{
	struct archive_decompressor *d = xcalloc(1, sizeof(*d));
	d->in = in;
	d->comp = comp;
	d->flags = flags;
	d->ibuf = xmalloc(CHUNK);
	archive_sha_init(&d->sha_c);
	archive_sha_init(&d->sha_u);
	return d;
}

/* Refill the input buffer (only when it is empty); false at EOF or error. */
static int dec_refill(struct archive_decompressor *d, struct error **err)
{
	if (d->ipos < d->ilen)
		return 1;
	if (d->in_eof)
		return 0;
	ssize_t n = d->in->read(d->in->cookie, d->ibuf, CHUNK, err);
	if (n < 0) {
		error_set(err, EIO, "read failed");
		return -1;
	}
	d->ipos = 0;
	d->ilen = n;
	if (n == 0) {
		d->in_eof = true;
		return 0;
	}
	/* plain input is hashed once, as the output */
	if (!(d->flags & ARCHIVE_DECOMP_NOHASH) && d->comp != ARCHIVE_COMP_NONE)
		archive_sha_update(&d->sha_c, d->ibuf, n);
	d->csize += n;
	return 1;
}

static la_ssize_t la_read_cb(struct archive *a, void *cookie, const void **buf)
{
	struct archive_decompressor *d = cookie;
	struct error *e = NULL;
	int r = dec_refill(d, &e);
	if (r < 0) {
		archive_set_error(a, EIO, "%s", e ? e->msg : "read failed");
		error_free(e);
		return -1;
	}
	if (r == 0)
		return 0;
	*buf = d->ibuf + d->ipos;
	size_t n = d->ilen - d->ipos;
	d->ipos = d->ilen;
	return n;
}

static int dec_start(struct archive_decompressor *d, struct error **err)
{
	d->started = true;
	if (d->comp == ARCHIVE_COMP_AUTO) {
		/* Peek at least 6 bytes (xz's magic) for detection. */
		while (d->ilen < 6 && !d->in_eof) {
			ssize_t n = d->in->read(d->in->cookie,
						d->ibuf + d->ilen,
						CHUNK - d->ilen, err);
			if (n < 0)
				return -1;
			if (n == 0)
				d->in_eof = true;
			if (!(d->flags & ARCHIVE_DECOMP_NOHASH))
				archive_sha_update(&d->sha_c, d->ibuf + d->ilen,
						   n);
			d->csize += n;
			d->ilen += n;
		}
		d->comp = archive_detect_compression(d->ibuf, d->ilen);
	}
	switch (d->comp) {
	case ARCHIVE_COMP_NONE:
		return 0;
	case ARCHIVE_COMP_GZIP:
#ifdef HAVE_ISAL
		if (!(d->flags & ARCHIVE_DECOMP_ZLIB)) {
			d->use_isal = true;
			d->isal = xmalloc(sizeof(*d->isal));
			isal_inflate_init(d->isal);
			d->isal->crc_flag = ISAL_GZIP;
			return 0;
		}
#endif
		if (inflateInit2(&d->z, 16 + 15) != Z_OK) {
			error_set(err, KILN_EINTERNAL, "inflateInit2 failed");
			return -1;
		}
		d->zlib_live = true;
		return 0;
	case ARCHIVE_COMP_ZSTD:
		d->zstd = ZSTD_createDStream();
		if (!d->zstd)
			BUG("ZSTD_createDStream");
		return 0;
	case ARCHIVE_COMP_BZIP2:
	case ARCHIVE_COMP_XZ: {
		struct archive_entry *ent;
		d->la = archive_read_new();
		archive_read_support_filter_bzip2(d->la);
		archive_read_support_filter_xz(d->la);
		archive_read_support_format_raw(d->la);
		if (archive_read_open2(d->la, d, NULL, la_read_cb, NULL,
				       NULL) != ARCHIVE_OK ||
		    archive_read_next_header(d->la, &ent) != ARCHIVE_OK) {
			error_set(err, KILN_ECORRUPT, "corrupt %s stream: %s",
				  archive_compression_str(d->comp),
				  archive_error_string(d->la));
			return -1;
		}
		return 0;
	}
	default:
		error_set(err, KILN_EINVAL, "bad decompressor type");
		return -1;
	}
}

static ssize_t dec_none(struct archive_decompressor *d, void *buf, size_t len,
			struct error **err)
{
	/* a large read with nothing buffered goes straight to the caller */
	if (d->ipos == d->ilen && !d->in_eof && len >= CHUNK) {
		ssize_t n = d->in->read(d->in->cookie, buf, len, err);
		if (n < 0) {
			error_set(err, EIO, "read failed");
			return -1;
		}
		if (n == 0)
			d->in_eof = true;
		d->csize += n;
		return n;
	}
	int r = dec_refill(d, err);
	if (r <= 0)
		return r;
	size_t n = d->ilen - d->ipos;
	if (n > len)
		n = len;
	memcpy(buf, d->ibuf + d->ipos, n);
	d->ipos += n;
	return n;
}

/* After a gzip member only another member may follow, like Go's reader. */
static int gzip_garbage(struct archive_decompressor *d, struct error **err)
{
	if (d->ibuf[d->ipos] == 0x1f)
		return 0;
	error_set(err, KILN_ECORRUPT,
		  "corrupt gzip stream: trailing garbage after member");
	return -1;
}

#ifdef HAVE_ISAL
static const char *isal_strerror(int ret)
{
	switch (ret) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid lookback distance";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unsupported compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "checksum mismatch";
	default:
		return "inflate error";
	}
}

static ssize_t dec_isal(struct archive_decompressor *d, void *buf, size_t len,
			struct error **err)
{
	struct inflate_state *s = d->isal;
	for (;;) {
		if (d->member_end) {
			/* A new gzip member may follow; EOF here is clean. */
			int r = dec_refill(d, err);
			if (r <= 0)
				return r;
			if (gzip_garbage(d, err))
				return -1;
			isal_inflate_reset(s);
			s->crc_flag = ISAL_GZIP;
			d->member_end = false;
		}
		s->next_in = d->ibuf + d->ipos;
		s->avail_in = d->ilen - d->ipos;
		s->next_out = buf;
		s->avail_out = len;
		int ret = isal_inflate(s);
		d->ipos = d->ilen - s->avail_in;
		if (ret < 0) {
			error_set(err, KILN_ECORRUPT, "corrupt gzip stream: %s",
				  isal_strerror(ret));
			return -1;
		}
		if (s->block_state == ISAL_BLOCK_FINISH)
			d->member_end = true;
		size_t n = len - s->avail_out;
		if (n)
			return n;
		if (d->member_end)
			continue;
		if (s->avail_in == 0) {
			int r = dec_refill(d, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				error_set(err, KILN_ECORRUPT,
					  "truncated gzip stream");
				return -1;
			}
		}
	}
}
#endif

static ssize_t dec_zlib(struct archive_decompressor *d, void *buf, size_t len,
			struct error **err)
{
	for (;;) {
		if (d->member_end) {
			int r = dec_refill(d, err);
			if (r <= 0)
				return r;
			if (gzip_garbage(d, err))
				return -1;
			inflateReset(&d->z);
			d->member_end = false;
		}
		d->z.next_in = d->ibuf + d->ipos;
		d->z.avail_in = d->ilen - d->ipos;
		d->z.next_out = buf;
		d->z.avail_out = len;
		int ret = inflate(&d->z, Z_NO_FLUSH);
		d->ipos = d->ilen - d->z.avail_in;
		if (ret == Z_STREAM_END) {
			d->member_end = true;
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			error_set(err, KILN_ECORRUPT, "corrupt gzip stream: %s",
				  d->z.msg ? d->z.msg : "inflate error");
			return -1;
		}
		size_t n = len - d->z.avail_out;
		if (n)
			return n;
		if (d->member_end)
			continue;
		if (d->z.avail_in == 0) {
			int r = dec_refill(d, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				error_set(err, KILN_ECORRUPT,
					  "truncated gzip stream");
				return -1;
			}
		}
	}
}

static ssize_t dec_zstd(struct archive_decompressor *d, void *buf, size_t len,
			struct error **err)
{
	for (;;) {
		if (d->ipos == d->ilen) {
			int r = dec_refill(d, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				if (!d->member_end && d->csize) {
					error_set(err, KILN_ECORRUPT,
						  "truncated zstd stream");
					return -1;
				}
				return 0;
			}
		}
		ZSTD_inBuffer in = { d->ibuf, d->ilen, d->ipos };
		ZSTD_outBuffer o = { buf, len, 0 };
		size_t ret = ZSTD_decompressStream(d->zstd, &o, &in);
		d->ipos = in.pos;
		if (ZSTD_isError(ret)) {
			error_set(err, KILN_ECORRUPT, "corrupt zstd stream: %s",
				  ZSTD_getErrorName(ret));
			return -1;
		}
		/* 0 means a frame is complete and fully flushed. */
		d->member_end = ret == 0;
		if (o.pos)
			return o.pos;
	}
}

static ssize_t dec_la(struct archive_decompressor *d, void *buf, size_t len,
		      struct error **err)
{
	la_ssize_t n = archive_read_data(d->la, buf, len);
	if (n < 0) {
		const char *s = archive_error_string(d->la);
		error_set(err, KILN_ECORRUPT, "corrupt %s stream: %s",
			  archive_compression_str(d->comp),
			  s ? s : "read error");
		return -1;
	}
	return n;
}

ssize_t archive_decompressor_read(struct archive_decompressor *d, void *buf,
				  size_t len, struct error **err)
{
	ssize_t n;

	if (d->failed) {
		error_set(err, KILN_EINTERNAL, "read from a failed stream");
		return -1;
	}
	if (d->done || !len)
		return 0;
	if (!d->started && dec_start(d, err) < 0) {
		d->failed = true;
		return -1;
	}
	switch (d->comp) {
	case ARCHIVE_COMP_NONE:
		n = dec_none(d, buf, len, err);
		break;
	case ARCHIVE_COMP_GZIP:
#ifdef HAVE_ISAL
		if (d->use_isal) {
			n = dec_isal(d, buf, len, err);
			break;
		}
#endif
		n = dec_zlib(d, buf, len, err);
		break;
	case ARCHIVE_COMP_ZSTD:
		n = dec_zstd(d, buf, len, err);
		break;
	default:
		n = dec_la(d, buf, len, err);
		break;
	}
	if (n < 0) {
		d->failed = true;
		return -1;
	}
	if (n == 0)
		d->done = true;
	if (!(d->flags & ARCHIVE_DECOMP_NOHASH))
		archive_sha_update(&d->sha_u, buf, n);
	d->usize += n;
	return n;
}

ssize_t archive_decompressor_read_cb(void *cookie, void *buf, size_t len,
				     struct error **err)
{
	return archive_decompressor_read(cookie, buf, len, err);
}

enum archive_compression
archive_decompressor_compression(const struct archive_decompressor *d)
{
	return d->comp;
}

void archive_decompressor_digests(struct archive_decompressor *d,
				  struct archive_digests *dg)
{
	/*
	 * Finalise copies so the running hashes can continue.  Plain input
	 * is its own output: sha_c stopped at the detection bytes.
	 */
	const struct archive_sha *sc = d->comp == ARCHIVE_COMP_NONE ? &d->sha_u
								    : &d->sha_c;
	struct archive_sha c = { EVP_MD_CTX_new() }, u = { EVP_MD_CTX_new() };
	if (!c.ctx || !u.ctx || !EVP_MD_CTX_copy_ex(c.ctx, sc->ctx) ||
	    !EVP_MD_CTX_copy_ex(u.ctx, d->sha_u.ctx))
		BUG("sha256 copy failed");
	digests_fill(dg, &c, &u, d->csize, d->usize);
}

void archive_decompressor_free(struct archive_decompressor *d)
{
	if (!d)
		return;
	if (d->zlib_live)
		inflateEnd(&d->z);
#ifdef HAVE_ISAL
	free(d->isal);
#endif
	ZSTD_freeDStream(d->zstd);
	if (d->la)
		archive_read_free(d->la);
	archive_sha_release(&d->sha_c);
	archive_sha_release(&d->sha_u);
	free(d->ibuf);
	free(d);
}
