/*
 * Codec adapters for the store: streaming sha256 (OpenSSL), gzip
 * compression and gzip/zstd decompression as push-fed filters into a sink,
 * and a push-fed tar header sanity check.  Filters that failed stay failed.
 * These are small stand-ins until archive/ and oci/ offer the same.
 */
#include "store/store-internal.h"

#include "archive/archive.h"

#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif
#include <openssl/evp.h>
#include <zstd.h>

#define CODEC_BUF (256 * 1024)

/* ------------------------------------------------------------ sha256 */

void store_sha256_init(struct store_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		BUG("cannot initialise sha256");
	h->ctx = ctx;
}

void store_sha256_update(struct store_sha256 *h, const void *buf, size_t len)
{
	if (len && !EVP_DigestUpdate(h->ctx, buf, len))
		BUG("sha256 update failed");
}

void store_sha256_final(struct store_sha256 *h, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	if (!EVP_DigestFinal_ex(h->ctx, md, &n) || n != 32)
		BUG("sha256 final failed");
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < n; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 64] = '\0';
	store_sha256_release(h);
}

void store_sha256_peek(const struct store_sha256 *h, char *out)
{
	struct store_sha256 copy = { EVP_MD_CTX_new() };
	if (!copy.ctx || !EVP_MD_CTX_copy_ex(copy.ctx, h->ctx))
		BUG("sha256 copy failed");
	store_sha256_final(&copy, out);
}

void store_sha256_release(struct store_sha256 *h)
{
	if (h->ctx)
		EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void store_digest_buf(const void *buf, size_t len, char *out)
{
	struct store_sha256 h;
	store_sha256_init(&h);
	store_sha256_update(&h, buf, len);
	store_sha256_final(&h, out);
}

/* ------------------------------------------------------------ detection */

enum store_comp store_comp_detect(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return STORE_COMP_GZIP;
	if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f &&
	    p[3] == 0xfd)
		return STORE_COMP_ZSTD;
	if (len >= 6 && !memcmp(p,
				"\xfd"
				"7zXZ\0",
				6))
		return STORE_COMP_XZ;
	if (len >= 3 && !memcmp(p, "BZh", 3))
		return STORE_COMP_BZIP2;
	return STORE_COMP_NONE;
}

const char *store_comp_name(enum store_comp c)
{
	switch (c) {
	case STORE_COMP_NONE:
		return "none";
	case STORE_COMP_GZIP:
		return "gzip";
	case STORE_COMP_ZSTD:
		return "zstd";
	case STORE_COMP_XZ:
		return "xz";
	case STORE_COMP_BZIP2:
		return "bzip2";
	}
	return "unknown";
}

/* ------------------------------------------------------------ gzip */

/* Compression is archive/'s (ISA-L level 1 when built with it, else zlib). */
struct store_gzip {
	struct archive_compressor *c;
};

struct store_gzip *store_gzip_new(store_sink_fn sink, void *data)
{
	struct store_gzip *z = xcalloc(1, sizeof(*z));
	struct archive_compress_opts opts = { ARCHIVE_COMP_GZIP, -1, false };
	z->c = archive_compressor_new(&opts, sink, data, NULL);
	if (!z->c)
		BUG("cannot create a gzip compressor");
	return z;
}

int store_gzip_write(struct store_gzip *z, const void *buf, size_t len,
		     struct error **err)
{
	return archive_compressor_write(z->c, buf, len, err);
}

int store_gzip_finish(struct store_gzip *z, struct error **err)
{
	return archive_compressor_finish(z->c, NULL, err);
}

void store_gzip_free(struct store_gzip *z)
{
	if (!z)
		return;
	archive_compressor_free(z->c);
	free(z);
}

/* ------------------------------------------------------------ unzip */

struct store_unzip {
	enum store_comp comp;
#ifdef HAVE_ISAL
	struct inflate_state inf;
#else
	z_stream zs;
	bool zs_init;
#endif
	ZSTD_DStream *zd;
	unsigned char *out;
	store_sink_fn sink;
	void *data;
	bool failed;
	bool member_done; /* gzip: a member ended; more may follow */
	size_t zstd_hint; /* zstd: non-zero while a frame is incomplete */
	bool saw_input;
};

struct store_unzip *store_unzip_new(enum store_comp c, store_sink_fn sink,
				    void *data)
{
	if (c != STORE_COMP_NONE && c != STORE_COMP_GZIP &&
	    c != STORE_COMP_ZSTD)
		return NULL;
	struct store_unzip *u = xcalloc(1, sizeof(*u));
	u->comp = c;
	u->sink = sink;
	u->data = data;
	if (c == STORE_COMP_GZIP) {
#ifdef HAVE_ISAL
		isal_inflate_init(&u->inf);
		u->inf.crc_flag = ISAL_GZIP;
#else
		if (inflateInit2(&u->zs, 16 + MAX_WBITS) != Z_OK)
			BUG("inflateInit2 failed");
		u->zs_init = true;
#endif
	} else if (c == STORE_COMP_ZSTD) {
		u->zd = ZSTD_createDStream();
		if (!u->zd)
			BUG("ZSTD_createDStream failed");
		ZSTD_initDStream(u->zd);
	}
	if (c != STORE_COMP_NONE)
		u->out = xmalloc(CODEC_BUF);
	return u;
}

static int unzip_fail(struct store_unzip *u, struct error **err,
		      const char *why)
{
	u->failed = true;
	error_set(err, KILN_ECORRUPT, "%s: %s", store_comp_name(u->comp), why);
	return -1;
}

#ifdef HAVE_ISAL
static int unzip_gzip(struct store_unzip *u, const unsigned char *p, size_t len,
		      struct error **err)
{
	while (len) {
		if (u->member_done) {
			/* another member follows, or zero padding */
			if (p[0] == 0) {
				size_t i = 0;
				while (i < len && p[i] == 0)
					i++;
				p += i;
				len -= i;
				continue;
			}
			isal_inflate_reset(&u->inf);
			u->inf.crc_flag = ISAL_GZIP;
			u->member_done = false;
		}
		uint32_t n = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
		u->inf.next_in = (uint8_t *)p;
		u->inf.avail_in = n;
		do {
			u->inf.next_out = u->out;
			u->inf.avail_out = CODEC_BUF;
			int ret = isal_inflate(&u->inf);
			if (ret < 0)
				return unzip_fail(u, err, "invalid data");
			size_t got = CODEC_BUF - u->inf.avail_out;
			if (got && u->sink(u->data, u->out, got, err) < 0) {
				u->failed = true;
				return -1;
			}
			if (u->inf.block_state == ISAL_BLOCK_FINISH) {
				u->member_done = true;
				break;
			}
		} while (u->inf.avail_in || u->inf.avail_out == 0);
		size_t used = n - u->inf.avail_in;
		p += used;
		len -= used;
		if (!u->member_done && u->inf.avail_in)
			return unzip_fail(u, err, "stuck decompressor");
	}
	return 0;
}

#else
static int unzip_gzip(struct store_unzip *u, const unsigned char *p, size_t len,
		      struct error **err)
{
	while (len) {
		if (u->member_done) {
			/* another member follows, or zero padding */
			if (p[0] == 0) {
				size_t i = 0;
				while (i < len && p[i] == 0)
					i++;
				p += i;
				len -= i;
				continue;
			}
			inflateReset(&u->zs);
			u->member_done = false;
		}
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		u->zs.next_in = (Bytef *)p;
		u->zs.avail_in = n;
		int ret;
		do {
			u->zs.next_out = u->out;
			u->zs.avail_out = CODEC_BUF;
			ret = inflate(&u->zs, Z_NO_FLUSH);
			if (ret != Z_OK && ret != Z_STREAM_END &&
			    ret != Z_BUF_ERROR)
				return unzip_fail(u, err, "invalid data");
			size_t got = CODEC_BUF - u->zs.avail_out;
			if (got && u->sink(u->data, u->out, got, err) < 0) {
				u->failed = true;
				return -1;
			}
			if (ret == Z_STREAM_END) {
				u->member_done = true;
				break;
			}
		} while (u->zs.avail_in || u->zs.avail_out == 0);
		size_t used = n - u->zs.avail_in;
		p += used;
		len -= used;
	}
	return 0;
}
#endif

static int unzip_zstd(struct store_unzip *u, const unsigned char *p, size_t len,
		      struct error **err)
{
	ZSTD_inBuffer in = { p, len, 0 };
	bool full = false;
	/*
	 * Run while there is input or the decoder may hold more output; do
	 * not call it again after a frame completed with everything flushed
	 * (that would start reading a new frame).
	 */
	while (in.pos < in.size || full) {
		ZSTD_outBuffer out = { u->out, CODEC_BUF, 0 };
		size_t r = ZSTD_decompressStream(u->zd, &out, &in);
		if (ZSTD_isError(r))
			return unzip_fail(u, err, ZSTD_getErrorName(r));
		u->zstd_hint = r;
		full = out.pos == CODEC_BUF;
		if (out.pos && u->sink(u->data, u->out, out.pos, err) < 0) {
			u->failed = true;
			return -1;
		}
	}
	return 0;
}

int store_unzip_write(struct store_unzip *u, const void *buf, size_t len,
		      struct error **err)
{
	if (u->failed) {
		error_set(err, KILN_EINTERNAL, "decompressor failed earlier");
		return -1;
	}
	if (len)
		u->saw_input = true;
	switch (u->comp) {
	case STORE_COMP_GZIP:
		return unzip_gzip(u, buf, len, err);
	case STORE_COMP_ZSTD:
		return unzip_zstd(u, buf, len, err);
	default:
		return u->sink(u->data, buf, len, err);
	}
}

int store_unzip_finish(struct store_unzip *u, struct error **err)
{
	if (u->failed) {
		error_set(err, KILN_EINTERNAL, "decompressor failed earlier");
		return -1;
	}
	if (u->comp == STORE_COMP_GZIP && (!u->member_done || !u->saw_input))
		return unzip_fail(u, err, "unexpected end of data");
	if (u->comp == STORE_COMP_ZSTD && (u->zstd_hint || !u->saw_input))
		return unzip_fail(u, err, "unexpected end of data");
	return 0;
}

void store_unzip_free(struct store_unzip *u)
{
	if (!u)
		return;
	if (u->zd)
		ZSTD_freeDStream(u->zd);
#ifndef HAVE_ISAL
	if (u->zs_init)
		inflateEnd(&u->zs);
#endif
	free(u->out);
	free(u);
}

/* ------------------------------------------------------------ tar check */

static int tar_parse_octal(const unsigned char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (p[0] & 0x80) {
		/* base-256 (GNU) for big sizes */
		v = p[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v >> 55)
				return -1;
			v = (v << 8) | p[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && p[i] == ' ')
		i++;
	bool digits = false;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(p[i] - '0');
		digits = true;
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return -1;
	*out = v;
	return digits ? 0 : -1;
}

static int tar_check_header(struct store_tarcheck *t, struct error **err)
{
	const unsigned char *h = t->hdr;
	uint64_t want, size;
	unsigned long usum = 0;
	long ssum = 0;
	for (int i = 0; i < 512; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	if (tar_parse_octal(h + 148, 8, &want) < 0 ||
	    (want != usum && (long)want != ssum)) {
		error_set(err, KILN_EINVAL,
			  t->entries ? "invalid tar header (entry %llu)"
				     : "not a tar archive",
			  (unsigned long long)t->entries + 1);
		return -1;
	}
	if (tar_parse_octal(h + 124, 12, &size) < 0) {
		error_set(err, KILN_EINVAL, "invalid tar header: bad size");
		return -1;
	}
	switch (h[156]) {
	case 'x':
	case 'K':
		t->meta_type = h[156];
		t->meta_left = size;
		t->meta_len = 0;
		break;
	case 'g':
	case 'L':
		break;
	case '0':
	case '\0':
	case '7':
		if (t->have_size)
			size = t->size;
		t->du += size;
		t->have_size = t->have_link = false;
		break;
	case '2':
		t->du += t->have_link ? t->link_len
				      : strnlen((const char *)h + 157, 100);
		size = 0;
		t->have_size = t->have_link = false;
		break;
	case '1':
	case '3':
	case '4':
	case '5':
	case '6':
		size = 0;
		t->have_size = t->have_link = false;
		break;
	default:
		t->have_size = t->have_link = false;
		break;
	}
	t->skip = (size + 511) & ~(uint64_t)511;
	t->entries++;
	return 0;
}

/* The collected pax records or GNU long link name, for the next entry. */
static void tar_meta_done(struct store_tarcheck *t)
{
	if (t->meta_type == 'K') {
		t->link_len = strnlen(t->meta, t->meta_len);
		t->have_link = true;
		return;
	}
	/* pax: "<len> <key>=<value>\n" records */
	size_t i = 0;
	while (i < t->meta_len) {
		size_t len = 0, j = i;
		while (j < t->meta_len && t->meta[j] >= '0' &&
		       t->meta[j] <= '9' && len < STORE_TAR_META_MAX)
			len = len * 10 + (size_t)(t->meta[j++] - '0');
		if (j >= t->meta_len || t->meta[j] != ' ' || len <= j - i ||
		    len > t->meta_len - i)
			return;
		const char *key = t->meta + j + 1;
		const char *end = t->meta + i + len - 1; /* the '\n' */
		const char *eq = memchr(key, '=', (size_t)(end - key));
		if (eq) {
			size_t klen = (size_t)(eq - key);
			if (klen == 4 && !memcmp(key, "size", 4)) {
				uint64_t v = 0;
				const char *p = eq + 1;
				for (; p < end && *p >= '0' && *p <= '9'; p++)
					v = v * 10 + (uint64_t)(*p - '0');
				if (p == end && p > eq + 1 &&
				    v < (1ull << 62)) {
					t->size = v;
					t->have_size = true;
				}
			} else if (klen == 8 && !memcmp(key, "linkpath", 8)) {
				t->link_len = (uint64_t)(end - eq - 1);
				t->have_link = true;
			}
		}
		i += len;
	}
}

int store_tarcheck_feed(struct store_tarcheck *t, const void *buf, size_t len,
			struct error **err)
{
	const unsigned char *p = buf;
	while (len && !t->ended) {
		if (t->skip) {
			size_t n = t->skip < len ? (size_t)t->skip : len;
			if (t->meta_left) {
				size_t m = t->meta_left < n
						   ? (size_t)t->meta_left
						   : n;
				size_t room = STORE_TAR_META_MAX - t->meta_len;
				memcpy(t->meta + t->meta_len, p,
				       m < room ? m : room);
				t->meta_len += m < room ? m : room;
				t->meta_left -= m;
				if (!t->meta_left)
					tar_meta_done(t);
			}
			t->skip -= n;
			p += n;
			len -= n;
			continue;
		}
		size_t n = 512 - t->fill;
		if (n > len)
			n = len;
		memcpy(t->hdr + t->fill, p, n);
		t->fill += n;
		p += n;
		len -= n;
		if (t->fill < 512)
			break;
		t->fill = 0;
		bool zero = true;
		for (int i = 0; i < 512 && zero; i++)
			zero = t->hdr[i] == 0;
		if (zero) {
			if (!t->entries) {
				/* an empty archive is two zero blocks */
				t->ended = true;
				break;
			}
			t->ended = true;
			break;
		}
		if (tar_check_header(t, err) < 0)
			return -1;
	}
	return 0;
}

int store_tarcheck_finish(struct store_tarcheck *t, struct error **err)
{
	if (t->ended)
		return 0;
	if (!t->entries) {
		error_set(err, KILN_EINVAL, "not a tar archive");
		return -1;
	}
	if (t->skip || t->fill) {
		error_set(err, KILN_EINVAL, "truncated tar archive");
		return -1;
	}
	return 0;
}
