/*
 * A thin iterator over tar entries (docker save archives: manifest.json,
 * then the blobs it names).  Input goes through the same decompressing,
 * header-guarded source as extraction; nothing touches the filesystem.
 */
#include "archive/archive-internal.h"

#include <archive.h>
#include <archive_entry.h>

struct archive_reader {
	struct archive_tar_source src;
	bool failed, ended;
	struct strbuf path;
};

struct archive_reader *archive_reader_new(const struct archive_input *in,
					  struct error **err)
{
	struct archive_reader *r = xcalloc(1, sizeof(*r));
	strbuf_init(&r->path, 0);
	/* nothing reads a reader's digests: do not hash */
	if (archive_tar_source_open(&r->src, in, ARCHIVE_DECOMP_NOHASH, err) <
	    0) {
		archive_reader_free(r);
		return NULL;
	}
	return r;
}

int archive_reader_next(struct archive_reader *r, struct archive_member *m,
			struct error **err)
{
	struct archive_entry *ent;

	if (r->failed) {
		error_set(err, KILN_EINTERNAL, "read from a failed tar reader");
		return -1;
	}
	if (r->ended)
		return 0;
	int ret = archive_read_next_header(r->src.a, &ent);
	if (ret == ARCHIVE_EOF) {
		r->ended = true;
		if (archive_tar_source_drain(&r->src, err) < 0) {
			r->failed = true;
			return -1;
		}
		return 0;
	}
	if (ret < ARCHIVE_WARN) {
		r->failed = true;
		archive_tar_source_error(&r->src, NULL, err);
		return -1;
	}
	const char *p = archive_entry_pathname(ent);
	if (!p)
		p = "";
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	strbuf_reset(&r->path);
	strbuf_addstr(&r->path, p);
	memset(m, 0, sizeof(*m));
	m->path = r->path.buf;
	m->hardlink = archive_entry_hardlink(ent) != NULL;
	m->linkname = m->hardlink ? archive_entry_hardlink(ent)
				  : archive_entry_symlink(ent);
	m->mode = archive_entry_mode(ent);
	m->size = archive_entry_size(ent);
	m->mtime = archive_entry_mtime(ent);
	m->uid = archive_entry_uid(ent);
	m->gid = archive_entry_gid(ent);
	return 1;
}

ssize_t archive_reader_read(struct archive_reader *r, void *buf, size_t len,
			    struct error **err)
{
	if (r->failed) {
		error_set(err, KILN_EINTERNAL, "read from a failed tar reader");
		return -1;
	}
	la_ssize_t n = archive_read_data(r->src.a, buf, len);
	if (n < 0) {
		r->failed = true;
		archive_tar_source_error(&r->src, NULL, err);
		return -1;
	}
	return n;
}

int archive_reader_read_all(struct archive_reader *r, struct strbuf *sb,
			    size_t cap, struct error **err)
{
	char buf[16384];
	size_t start = sb->len;
	for (;;) {
		ssize_t n = archive_reader_read(r, buf, sizeof(buf), err);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (sb->len - start + n > cap) {
			error_set(err, E2BIG, "tar entry larger than %zu bytes",
				  cap);
			return -1;
		}
		strbuf_add(sb, buf, n);
	}
}

void archive_reader_free(struct archive_reader *r)
{
	if (!r)
		return;
	archive_tar_source_close(&r->src);
	strbuf_release(&r->path);
	free(r);
}
