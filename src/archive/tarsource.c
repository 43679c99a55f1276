/*
 * The tar input path shared by extraction and the reader: input stream →
 * decompressor (auto-detected, hashing both sides) → header guard →
 * libarchive's tar parser.  The guard caps extension headers before
 * libarchive buffers them; errors from our own layers win over libarchive's
 * wording so messages say "truncated gzip stream" rather than "read error".
 */
#include "archive/archive-internal.h"

#include <archive.h>
#include <archive_entry.h>

#define SRC_CHUNK (128 * 1024)

/* Is this 512-byte block a header with a valid checksum? */
static bool tar_checksum_ok(const unsigned char *b)
{
	unsigned long want = 0, sum = 0;
	int i = 148, digits = 0;

	while (i < 156 && b[i] == ' ')
		i++;
	for (; i < 156 && b[i] >= '0' && b[i] <= '7'; i++, digits++)
		want = want * 8 + (b[i] - '0');
	if (!digits)
		return false;
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : b[i];
	return sum == want;
}

/* The size field: octal, or base-256 when the high bit is set. */
static uint64_t tar_size(const unsigned char *b)
{
	const unsigned char *p = b + 124;
	uint64_t v = 0;

	if (p[0] & 0x80) {
		/* base-256; anything that does not fit in 64 bits is huge. */
		for (int i = 1; i < 12; i++) {
			if (v >> 56)
				return UINT64_MAX;
			v = (v << 8) | p[i];
		}
		return (p[0] & 0x40) ? UINT64_MAX : v;
	}
	for (int i = 0; i < 12 && p[i] == ' '; i++)
		p++;
	for (int i = 0; i < 12 && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static int guard_block(const unsigned char *b, struct error **err)
{
	unsigned char t = b[156];

	/* Cheap test first: only extension headers can be huge buffers. */
	if (t != 'x' && t != 'g' && t != 'L' && t != 'K')
		return 0;
	if (!tar_checksum_ok(b))
		return 0;
	uint64_t size = tar_size(b);
	if (size > ARCHIVE_MAX_EXT_HEADER) {
		error_set(err, KILN_ECORRUPT,
			  "tar header too large (%llu bytes in a '%c' header, "
			  "limit %d)",
			  (unsigned long long)size, t, ARCHIVE_MAX_EXT_HEADER);
		return -1;
	}
	return 0;
}

int archive_tar_guard_feed(struct archive_tar_guard *g, const void *buf,
			   size_t len, struct error **err)
{
	const unsigned char *p = buf;

	/* Complete a block left over from the previous call. */
	if (g->fill) {
		size_t n = 512 - g->fill;
		if (n > len)
			n = len;
		memcpy(g->block + g->fill, p, n);
		g->fill += n;
		p += n;
		len -= n;
		g->offset += n;
		if (g->fill < 512)
			return 0;
		g->fill = 0;
		if (guard_block(g->block, err))
			return -1;
	}
	while (len >= 512) {
		if (guard_block(p, err))
			return -1;
		p += 512;
		len -= 512;
		g->offset += 512;
	}
	memcpy(g->block, p, len);
	g->fill = len;
	g->offset += len;
	return 0;
}

static la_ssize_t src_read_cb(struct archive *a, void *cookie,
			      const void **buf)
{
	struct archive_tar_source *src = cookie;

	if (src->eof)
		return 0;
	ssize_t n = archive_decompressor_read(src->dec, src->buf, src->bufsize,
					      &src->err);
	if (n > 0 &&
	    archive_tar_guard_feed(&src->guard, src->buf, n, &src->err) < 0)
		n = -1;
	if (n < 0) {
		archive_set_error(a, EIO, "%s",
				  src->err ? src->err->msg : "read error");
		return -1;
	}
	if (n == 0)
		src->eof = true;
	*buf = src->buf;
	return n;
}

int archive_tar_source_open(struct archive_tar_source *src,
			    const struct archive_input *in, unsigned dflags,
			    struct error **err)
{
	memset(src, 0, sizeof(*src));
	src->dec = archive_decompressor_new(in, ARCHIVE_COMP_AUTO, dflags, err);
	if (!src->dec)
		return -1;
	src->bufsize = SRC_CHUNK;
	src->buf = xmalloc(src->bufsize);
	src->a = archive_read_new();
	if (!src->a)
		BUG("archive_read_new");
	archive_read_support_format_tar(src->a);
	/* A zero-byte layer is a valid empty layer. */
	archive_read_support_format_empty(src->a);
	if (archive_read_open2(src->a, src, NULL, src_read_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		archive_tar_source_error(src, NULL, err);
		return -1;
	}
	return 0;
}

void archive_tar_source_error(struct archive_tar_source *src,
			      const char *what, struct error **err)
{
	struct error *e = NULL;

	if (src->err) {
		error_set(&e, src->err->code, "%s", src->err->msg);
	} else {
		const char *s = src->a ? archive_error_string(src->a) : NULL;
		if (!s)
			s = "unknown error";
		if (strstr(s, "Truncated") || strstr(s, "truncated"))
			error_set(&e, KILN_ECORRUPT, "truncated tar");
		else if (strstr(s, "Unrecognized archive format"))
			error_set(&e, KILN_ECORRUPT, "not a tar archive");
		else
			error_set(&e, KILN_ECORRUPT, "malformed tar: %s", s);
	}
	if (what)
		error_wrap(&e, "%s", what);
	if (err && !*err)
		*err = e;
	else
		error_free(e);
}

int archive_tar_source_drain(struct archive_tar_source *src,
			     struct error **err)
{
	while (!src->eof) {
		ssize_t n = archive_decompressor_read(src->dec, src->buf,
						      src->bufsize, err);
		if (n < 0)
			return -1;
		if (n == 0)
			src->eof = true;
	}
	return 0;
}

void archive_tar_source_close(struct archive_tar_source *src)
{
	if (src->a)
		archive_read_free(src->a);
	archive_decompressor_free(src->dec);
	error_free(src->err);
	free(src->buf);
	memset(src, 0, sizeof(*src));
}
