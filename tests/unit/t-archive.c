/*
 * Unit tests for archive/: compression streams (ISA-L and the zlib
 * fallback, multi-member gzip, zstd, bzip2/xz, detection), digests checked
 * against an independent sha256, deterministic tar writing with mtime
 * clamping, tree round trips (modes, setuid, xattrs, symlinks, hardlinks,
 * fifos), overlay upperdir → OCI whiteouts and back, and the tar reader.
 */
#include "tap.h"
#include "archive/archive.h"

#include <dirent.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <zlib.h>

static char tmpdir[PATH_MAX];
static bool is_root;

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static void rm_rf(const char *p)
{
	nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tpath(const char *name)
{
	return xstrfmt("%s/%s", tmpdir, name);
}

/* sha256 computed here with libcrypto directly, independent of archive/. */
static void sha256_hex(const void *buf, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int n;
	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 8);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* gunzip with zlib's own inflate (multi-member aware). */
static int zlib_gunzip(const struct strbuf *in, struct strbuf *out)
{
	z_stream z = { 0 };
	unsigned char buf[65536];
	size_t pos = 0;
	int ret = Z_OK;
	inflateInit2(&z, 16 + 15);
	while (pos < in->len) {
		z.next_in = (unsigned char *)in->buf + pos;
		z.avail_in = in->len - pos;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			ret = inflate(&z, Z_NO_FLUSH);
			strbuf_add(out, buf, sizeof(buf) - z.avail_out);
		} while (ret == Z_OK && z.avail_in);
		if (ret != Z_STREAM_END)
			break;
		pos = in->len - z.avail_in;
		inflateReset(&z);
	}
	inflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -1;
}

static void make_payload(struct strbuf *sb, size_t n)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		/* half text, half noise: compressible but not trivially */
		strbuf_addch(sb, (i / 4096) % 2 ? (char)(x >> 16)
						: "kiln layer "[i % 11]);
	}
}

static int compress_buf(const struct strbuf *in,
			const struct archive_compress_opts *o,
			struct strbuf *out, struct archive_digests *dg)
{
	struct error *err = NULL;
	struct archive_compressor *c =
		archive_compressor_new(o, archive_strbuf_write, out, &err);
	int ret = -1;
	if (c) {
		/* feed in odd-sized pieces */
		ret = 0;
		for (size_t i = 0; i < in->len && !ret; i += 7777) {
			size_t n = in->len - i < 7777 ? in->len - i : 7777;
			ret = archive_compressor_write(c, in->buf + i, n, &err);
		}
		if (!ret)
			ret = archive_compressor_finish(c, dg, &err);
	}
	if (err)
		printf("# %s\n", err->msg);
	archive_compressor_free(c);
	error_free(err);
	return ret;
}

static int decompress_buf(const struct strbuf *in, unsigned flags,
			  struct strbuf *out, struct archive_digests *dg,
			  struct error **err)
{
	struct archive_mem mem = { (const unsigned char *)in->buf, in->len,
				   0 };
	struct archive_input src = { archive_mem_read, &mem };
	struct archive_decompressor *d =
		archive_decompressor_new(&src, ARCHIVE_COMP_AUTO, flags, err);
	char buf[10000];
	ssize_t n;
	while ((n = archive_decompressor_read(d, buf, sizeof(buf), err)) > 0)
		strbuf_add(out, buf, n);
	if (dg && n == 0)
		archive_decompressor_digests(d, dg);
	archive_decompressor_free(d);
	return n < 0 ? -1 : 0;
}

static void test_detect(void)
{
	is_int(archive_detect_compression("\x1f\x8b\x08", 3), ARCHIVE_COMP_GZIP,
	       "detect gzip");
	is_int(archive_detect_compression("BZh91AY", 7), ARCHIVE_COMP_BZIP2,
	       "detect bzip2");
	is_int(archive_detect_compression("\xfd"
					  "7zXZ\0",
					  6),
	       ARCHIVE_COMP_XZ, "detect xz");
	is_int(archive_detect_compression("\x28\xb5\x2f\xfd\0", 5),
	       ARCHIVE_COMP_ZSTD, "detect zstd");
	is_int(archive_detect_compression("ustar\0", 6), ARCHIVE_COMP_NONE,
	       "detect plain");
	is_int(archive_detect_compression("\x1f", 1), ARCHIVE_COMP_NONE,
	       "one byte is plain");
}

static void test_gzip(void)
{
	struct strbuf plain = STRBUF_INIT;
	char want_u[72], want_c[72];
	make_payload(&plain, 3 << 20);
	sha256_hex(plain.buf, plain.len, want_u);

	for (int force = 0; force < 2; force++) {
		const char *name = force ? "zlib" : "isa-l";
		struct archive_compress_opts o = { ARCHIVE_COMP_GZIP, -1,
						   force };
		struct strbuf gz = STRBUF_INIT, back = STRBUF_INIT;
		struct archive_digests dg;
		if (!force && !archive_have_isal()) {
			tap_skip("built without ISA-L");
			continue;
		}
		ok(!compress_buf(&plain, &o, &gz, &dg), "%s: compress", name);
		ok(gz.len > 20 && gz.len < plain.len, "%s: output is smaller",
		   name);
		ok(!zlib_gunzip(&gz, &back) && back.len == plain.len &&
			   !memcmp(back.buf, plain.buf, plain.len),
		   "%s: zlib inflates it back", name);
		sha256_hex(gz.buf, gz.len, want_c);
		is_str(dg.compressed, want_c, "%s: compressed digest", name);
		is_str(dg.uncompressed, want_u, "%s: diffid", name);
		is_int(dg.compressed_size, gz.len, "%s: compressed size", name);
		is_int(dg.uncompressed_size, plain.len, "%s: size", name);

		/* Both inflaters, on a two-member stream. */
		struct strbuf two = STRBUF_INIT;
		strbuf_addbuf(&two, &gz);
		strbuf_addbuf(&two, &gz);
		for (unsigned fl = 0; fl <= ARCHIVE_DECOMP_ZLIB; fl++) {
			struct strbuf out = STRBUF_INIT;
			struct archive_digests dd;
			struct error *err = NULL;
			int r = decompress_buf(&two, fl, &out, &dd, &err);
			ok(!r && out.len == 2 * plain.len &&
				   !memcmp(out.buf, plain.buf, plain.len) &&
				   !memcmp(out.buf + plain.len, plain.buf,
					   plain.len),
			   "%s data, %s inflate: multi-member gzip", name,
			   fl ? "zlib" : "isa-l");
			sha256_hex(two.buf, two.len, want_c);
			is_str(dd.compressed, want_c,
			       "decompressor hashes its input");
			error_free(err);
			strbuf_release(&out);
		}
		/* Truncation and corruption are errors, never short data. */
		for (unsigned fl = 0; fl <= ARCHIVE_DECOMP_ZLIB; fl++) {
			struct strbuf cut = STRBUF_INIT, out = STRBUF_INIT;
			struct error *err = NULL;
			strbuf_add(&cut, gz.buf, gz.len - 3);
			int r = decompress_buf(&cut, fl, &out, NULL, &err);
			ok(r < 0 && err && strstr(err->msg, "truncated gzip"),
			   "%s inflate: truncated trailer detected",
			   fl ? "zlib" : "isa-l");
			error_clear(&err);
			strbuf_reset(&out);
			cut.buf[cut.len / 2] ^= 0xff;
			cut.buf[cut.len / 2 + 1] ^= 0xff;
			strbuf_addstr(&cut, "xyz");
			memcpy(cut.buf + cut.len - 3, gz.buf + gz.len - 3, 3);
			r = decompress_buf(&cut, fl, &out, NULL, &err);
			ok(r < 0 && err && strstr(err->msg, "corrupt gzip"),
			   "%s inflate: corruption detected (%s)",
			   fl ? "zlib" : "isa-l", err ? err->msg : "none");
			error_free(err);
			strbuf_release(&cut);
			strbuf_release(&out);
		}
		strbuf_release(&two);
		strbuf_release(&gz);
		strbuf_release(&back);
	}
	strbuf_release(&plain);
}

static void test_zstd_and_others(void)
{
	struct strbuf plain = STRBUF_INIT, z = STRBUF_INIT, out = STRBUF_INIT;
	struct archive_compress_opts o = { ARCHIVE_COMP_ZSTD, -1, false };
	struct archive_digests dg, dd;
	struct error *err = NULL;
	make_payload(&plain, 1 << 20);
	ok(!compress_buf(&plain, &o, &z, &dg), "zstd: compress");
	strbuf_addbuf(&z, &z); /* two frames */
	ok(!decompress_buf(&z, 0, &out, &dd, &err) &&
		   out.len == 2 * plain.len &&
		   !memcmp(out.buf + plain.len, plain.buf, plain.len),
	   "zstd: two frames decompress");
	ok(dd.uncompressed_size == 2 * plain.len, "zstd: size counted");
	strbuf_setlen(&z, z.len / 2 - 5);
	strbuf_reset(&out);
	ok(decompress_buf(&z, 0, &out, NULL, &err) < 0 && err &&
		   strstr(err->msg, "truncated zstd"),
	   "zstd: truncation detected");
	error_clear(&err);

	/* bzip2 and xz through libarchive's filters, made by the tools. */
	const char *tools[] = { "bzip2", "xz" };
	for (int i = 0; i < 2; i++) {
		char *src = tpath("payload"), *cmd;
		FILE *f = fopen(src, "w");
		fwrite(plain.buf, 1, plain.len, f);
		fclose(f);
		cmd = xstrfmt("%s -c < %s > %s.c 2>/dev/null", tools[i], src,
			      src);
		if (system(cmd) != 0) {
			tap_skip("%s not installed", tools[i]);
			free(cmd);
			free(src);
			continue;
		}
		struct strbuf c = STRBUF_INIT;
		char *cp = xstrfmt("%s.c", src);
		strbuf_read_file(&c, cp);
		strbuf_reset(&out);
		ok(!decompress_buf(&c, 0, &out, NULL, &err) &&
			   out.len == plain.len &&
			   !memcmp(out.buf, plain.buf, plain.len),
		   "%s: decompress", tools[i]);
		error_clear(&err);
		strbuf_release(&c);
		free(cp);
		free(cmd);
		free(src);
	}
	strbuf_release(&plain);
	strbuf_release(&z);
	strbuf_release(&out);
}

static int failing_sink(void *cookie, const void *buf, size_t len,
			struct error **err)
{
	error_set(err, ENOSPC, "disk full");
	return -1;
}

static void test_failed_stays_failed(void)
{
	struct error *err = NULL;
	struct archive_compressor *c =
		archive_compressor_new(NULL, failing_sink, NULL, &err);
	char buf[300000];
	memset(buf, 'a', sizeof(buf));
	int r1 = archive_compressor_write(c, buf, sizeof(buf), &err);
	r1 = r1 < 0 ? r1 : archive_compressor_finish(c, NULL, &err);
	ok(r1 < 0 && err && strstr(err->msg, "disk full"),
	   "sink error reported");
	error_clear(&err);
	ok(archive_compressor_write(c, "x", 1, &err) < 0,
	   "a failed compressor stays failed");
	error_clear(&err);
	archive_compressor_free(c);
}

/* ---------------------------------------------------------------- trees */

static void put(const char *root, const char *rel, const char *content,
		mode_t mode)
{
	char *p = xstrfmt("%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (!f)
		die_errno("create %s", p);
	fputs(content, f);
	fclose(f);
	chmod(p, mode);
	free(p);
}

static void mk(const char *root, const char *rel, mode_t mode)
{
	char *p = xstrfmt("%s/%s", root, rel);
	mkdir(p, mode);
	chmod(p, mode);
	free(p);
}

static void set_times(const char *root, time_t t)
{
	/* every entry, deepest first, without following symlinks */
	char *cmd = xstrfmt("find '%s' -depth -exec touch -h -d @%lld {} +",
			    root, (long long)t);
	if (system(cmd) != 0)
		die("touch failed");
	free(cmd);
}

static void build_tree(const char *root)
{
	mkdir(root, 0755);
	mk(root, "bin", 0755);
	put(root, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
	put(root, "bin/su", "setuid", 04755);
	put(root, "bin/sg", "setgid", 02711);
	mk(root, "etc", 0755);
	put(root, "etc/secret", "s3cret\n", 0600);
	put(root, "a", "a\n", 0644);
	put(root, "a-b", "a-b\n", 0644);
	mk(root, "a.d", 0700);
	put(root, "a.d/x", "x", 0644);
	mk(root, "tmp", 01777);
	char *p = xstrfmt("%s/etc/link", root);
	symlink("../bin/tool", p);
	free(p);
	p = xstrfmt("%s/etc/abs", root);
	symlink("/etc/passwd", p);
	free(p);
	char *h1 = xstrfmt("%s/bin/tool", root), *h2 = xstrfmt("%s/bin/alias",
							       root);
	link(h1, h2);
	free(h1);
	free(h2);
	p = xstrfmt("%s/fifo", root);
	mkfifo(p, 0640);
	free(p);
	p = xstrfmt("%s/etc/secret", root);
	setxattr(p, "user.kiln", "value\0bin", 9, 0);
	if (is_root) {
		/* a v2 file capability: cap_net_bind_service, effective */
		unsigned char cap[20] = { 0, 0, 0, 2, 1, 0, 0, 0, 0, 4 };
		char *t = xstrfmt("%s/bin/tool", root);
		if (setxattr(t, "security.capability", cap, sizeof(cap), 0))
			printf("# setcap: %s\n", strerror(errno));
		free(t);
		t = xstrfmt("%s/etc/owned", root);
		put(root, "etc/owned", "owned\n", 0640);
		chown(t, 1234, 5678);
		free(t);
	}
	free(p);
	set_times(root, 1600000000);
}

/* Describe a tree as text: one line per entry with everything we keep. */
static void describe(const char *root, const char *rel, struct strbuf *out)
{
	char *dir = xstrfmt("%s/%s", root, rel);
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			free(list[i]);
			continue;
		}
		char *r = xstrfmt("%s%s", rel, name);
		char *p = xstrfmt("%s/%s", root, r);
		struct stat st;
		lstat(p, &st);
		strbuf_addf(out, "%s %o %u:%u", r, st.st_mode, st.st_uid,
			    st.st_gid);
		if (!S_ISDIR(st.st_mode))
			strbuf_addf(out, " nlink=%lu", (unsigned long)st.st_nlink);
		strbuf_addf(out, " mtime=%lld", (long long)st.st_mtim.tv_sec);
		if (S_ISREG(st.st_mode)) {
			struct strbuf c = STRBUF_INIT;
			strbuf_read_file(&c, p);
			strbuf_addf(out, " [%s]", c.buf);
			strbuf_release(&c);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX] = "";
			readlink(p, t, sizeof(t) - 1);
			strbuf_addf(out, " -> %s", t);
		}
		char names[4096];
		ssize_t ln = llistxattr(p, names, sizeof(names));
		for (ssize_t k = 0; k < ln; k += strlen(names + k) + 1) {
			char v[256];
			ssize_t vn = lgetxattr(p, names + k, v, sizeof(v));
			strbuf_addf(out, " %s=%zd", names + k, vn);
			for (ssize_t m = 0; m < vn; m++)
				strbuf_addf(out, "%02x", (unsigned char)v[m]);
		}
		strbuf_addch(out, '\n');
		if (S_ISDIR(st.st_mode)) {
			char *rr = xstrfmt("%s/", r);
			describe(root, rr, out);
			free(rr);
		}
		free(r);
		free(p);
		free(list[i]);
	}
	free(list);
	free(dir);
}

static int write_layer_path(const char *dir,
			    const struct archive_tree_opts *topts,
			    const struct archive_compress_opts *copts,
			    struct strbuf *out, struct archive_digests *dg)
{
	struct error *err = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = archive_write_layer(fd, topts, copts, archive_strbuf_write,
				    out, dg, &err);
	if (err)
		printf("# %s\n", err->msg);
	error_free(err);
	close(fd);
	return r;
}

static int extract_buf(const struct strbuf *in, const char *dir,
		       const struct archive_extract_opts *opts,
		       struct archive_extract_stats *st, struct error **err)
{
	struct archive_mem mem = { (const unsigned char *)in->buf, in->len,
				   0 };
	struct archive_input src = { archive_mem_read, &mem };
	mkdir(dir, 0755);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = archive_extract(fd, &src, opts, st, err);
	close(fd);
	return r;
}

static void test_round_trip(void)
{
	char *src = tpath("src"), *dst = tpath("dst");
	struct strbuf tgz = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT;
	struct archive_digests dg;
	struct archive_extract_stats st;
	struct error *err = NULL;

	build_tree(src);
	ok(!write_layer_path(src, NULL, NULL, &tgz, &dg), "write tree.tar.gz");
	ok(!extract_buf(&tgz, dst, NULL, &st, &err), "extract it");
	if (err)
		printf("# %s\n", err->msg);
	error_clear(&err);
	is_str(st.digests.compressed, dg.compressed,
	       "extraction sees the same blob digest");
	is_str(st.digests.uncompressed, dg.uncompressed,
	       "extraction sees the same diffid");
	describe(src, "", &a);
	describe(dst, "", &b);
	is_str(b.buf, a.buf, "round trip keeps modes, owners, xattrs, links");
	ok(strstr(b.buf, "bin/su 104755") != NULL, "setuid bit kept");
	ok(strstr(b.buf, "nlink=2") != NULL, "hardlink kept");
	if (is_root)
		ok(strstr(b.buf, "security.capability") != NULL,
		   "security.capability kept");

	/* diffid is the sha256 of the gunzipped blob */
	struct strbuf tar = STRBUF_INIT;
	char want[72];
	zlib_gunzip(&tgz, &tar);
	sha256_hex(tar.buf, tar.len, want);
	is_str(dg.uncompressed, want, "diffid = sha256(gunzip(blob))");
	sha256_hex(tgz.buf, tgz.len, want);
	is_str(dg.compressed, want, "digest = sha256(blob)");
	ok(tar.len % 512 == 0 && tar.len >= 1024 &&
		   !memcmp(tar.buf + 257, "ustar", 5),
	   "plain ustar/pax output, unblocked");
	ok(tar.len < 20 * 512 + 10240, "no 10 KiB record padding (%zu)",
	   tar.len);

	/* Determinism and the mtime clamp. */
	struct strbuf t2 = STRBUF_INIT;
	struct archive_digests dg2;
	write_layer_path(src, NULL, NULL, &t2, &dg2);
	is_str(dg2.compressed, dg.compressed, "same tree → same digest");
	struct archive_tree_opts clamp = { .clamp_mtime = true,
					   .mtime_max = 1500000000 };
	strbuf_reset(&t2);
	write_layer_path(src, &clamp, NULL, &t2, &dg2);
	ok(strcmp(dg2.uncompressed, dg.uncompressed) != 0,
	   "clamp changes the diffid");
	set_times(src, 1700000000);
	struct archive_digests dg3;
	strbuf_reset(&t2);
	write_layer_path(src, NULL, NULL, &t2, &dg3);
	ok(strcmp(dg3.uncompressed, dg.uncompressed) != 0,
	   "new mtimes change the diffid");
	strbuf_reset(&t2);
	write_layer_path(src, &clamp, NULL, &t2, &dg3);
	is_str(dg3.uncompressed, dg2.uncompressed,
	       "clamped: later mtimes give the same diffid");

	/* Order: bytewise within a directory, parents first. */
	struct archive_mem mem = { (const unsigned char *)tgz.buf, tgz.len,
				   0 };
	struct archive_input in = { archive_mem_read, &mem };
	struct archive_reader *r = archive_reader_new(&in, &err);
	struct archive_member m;
	struct strbuf order = STRBUF_INIT;
	while (archive_reader_next(r, &m, &err) == 1)
		strbuf_addf(&order, "%s ", m.path);
	archive_reader_free(r);
	const char *want_order =
		"a a-b a.d/ a.d/x bin/ bin/alias bin/sg bin/su bin/tool etc/ "
		"etc/abs etc/link ";
	ok(starts_with(order.buf, want_order), "entry order");
	if (!starts_with(order.buf, want_order))
		printf("#   got %s\n", order.buf);

	/* zlib-compressed and zstd layers extract the same way. */
	for (int i = 0; i < 2; i++) {
		struct archive_compress_opts co = {
			i ? ARCHIVE_COMP_ZSTD : ARCHIVE_COMP_GZIP, -1, !i
		};
		struct strbuf l = STRBUF_INIT, d = STRBUF_INIT;
		char *dd = tpath(i ? "dst-zstd" : "dst-zlib");
		write_layer_path(src, NULL, &co, &l, &dg3);
		ok(!extract_buf(&l, dd, NULL, NULL, &err),
		   "%s layer extracts", i ? "zstd" : "zlib");
		error_clear(&err);
		strbuf_reset(&a);
		describe(src, "", &a);
		describe(dd, "", &d);
		is_str(d.buf, a.buf, "%s round trip", i ? "zstd" : "zlib");
		strbuf_release(&l);
		strbuf_release(&d);
		free(dd);
	}

	strbuf_release(&order);
	strbuf_release(&tgz);
	strbuf_release(&tar);
	strbuf_release(&t2);
	strbuf_release(&a);
	strbuf_release(&b);
	free(src);
	free(dst);
}

static void test_empty(void)
{
	char *e = tpath("empty"), *d = tpath("empty-x");
	struct strbuf l = STRBUF_INIT, none = STRBUF_INIT;
	struct archive_digests dg;
	struct error *err = NULL;
	mkdir(e, 0755);
	ok(!write_layer_path(e, NULL, NULL, &l, &dg), "empty layer");
	is_int(dg.uncompressed_size, 1024, "empty layer is two zero blocks");
	ok(!extract_buf(&l, d, NULL, NULL, &err), "empty layer extracts");
	error_clear(&err);
	ok(!extract_buf(&none, d, NULL, NULL, &err),
	   "a zero-byte stream extracts");
	if (err)
		printf("# %s\n", err->msg);
	error_clear(&err);
	strbuf_release(&l);
	free(e);
	free(d);
}

static void test_whiteouts(void)
{
	if (!is_root) {
		tap_skip("overlay whiteout conversion needs root (0/0 char "
			 "devices, trusted.* xattrs)");
		return;
	}
	char *up = tpath("upper"), *x = tpath("upper-x"),
	     *lower = tpath("lower"), *ov = tpath("upper-ov");
	struct strbuf l = STRBUF_INIT, order = STRBUF_INIT;
	struct archive_digests dg;
	struct error *err = NULL;
	mkdir(up, 0755);
	char *p = xstrfmt("%s/gone", up);
	ok(!mknod(p, S_IFCHR | 0, makedev(0, 0)), "mknod whiteout");
	free(p);
	mk(up, "opq", 0750);
	put(up, "opq/-first", "child\n", 0644);
	put(up, "opq/new", "new\n", 0644);
	p = xstrfmt("%s/opq", up);
	setxattr(p, "trusted.overlay.opaque", "y", 1, 0);
	free(p);
	put(up, "file", "f\n", 0644);
	p = xstrfmt("%s/file", up);
	setxattr(p, "trusted.overlay.origin", "\0\1", 2, 0);
	setxattr(p, "user.overlay.impure", "y", 1, 0);
	setxattr(p, "user.keep", "k", 1, 0);
	free(p);
	mk(up, "proc", 0755);
	mk(up, "etc", 0755);
	put(up, "etc/resolv.conf", "nameserver 1.1.1.1\n", 0644);
	put(up, "etc/hosts", "127.0.0.1 localhost\n", 0644);
	const char *skip[] = { "/proc", "etc/resolv.conf/", NULL };
	struct archive_tree_opts to = { .overlay_upper = true, .skip = skip };
	ok(!write_layer_path(up, &to, NULL, &l, &dg), "write upperdir diff");

	struct archive_mem mem = { (const unsigned char *)l.buf, l.len, 0 };
	struct archive_input in = { archive_mem_read, &mem };
	struct archive_reader *r = archive_reader_new(&in, &err);
	struct archive_member m;
	while (archive_reader_next(r, &m, &err) == 1)
		strbuf_addf(&order, "%s ", m.path);
	archive_reader_free(r);
	is_str(order.buf,
	       ".wh.gone etc/ etc/hosts file opq/ opq/.wh..wh..opq "
	       "opq/-first opq/new ",
	       "whiteouts converted, opaque marker first, skips honoured");

	/* Applied onto a lower tree. */
	mkdir(lower, 0755);
	put(lower, "gone", "lower\n", 0644);
	mk(lower, "opq", 0755);
	put(lower, "opq/old", "old\n", 0644);
	put(lower, "keep", "keep\n", 0644);
	struct archive_extract_stats st;
	ok(!extract_buf(&l, lower, NULL, &st, &err), "apply the diff");
	struct stat sb;
	char *g = xstrfmt("%s/gone", lower), *o = xstrfmt("%s/opq/old", lower),
	     *n = xstrfmt("%s/opq/-first", lower),
	     *f = xstrfmt("%s/file", lower);
	ok(lstat(g, &sb) < 0 && lstat(o, &sb) < 0 && lstat(n, &sb) == 0,
	   "applied: whiteout and opaque directory take effect");
	char v[8];
	ok(lgetxattr(f, "trusted.overlay.origin", v, sizeof(v)) < 0 &&
		   lgetxattr(f, "user.overlay.impure", v, sizeof(v)) < 0 &&
		   lgetxattr(f, "user.keep", v, sizeof(v)) == 1,
	   "overlay xattrs not copied, others kept");
	is_int(st.whiteouts, 2, "two whiteouts counted");

	/* Overlay-lower mode gives back the overlay encoding. */
	ok(!extract_buf(&l, ov, &(struct archive_extract_opts){
					.whiteouts = ARCHIVE_WHITEOUT_OVERLAY },
			NULL, &err),
	   "extract as overlay lowerdir");
	char *og = xstrfmt("%s/gone", ov), *oo = xstrfmt("%s/opq", ov);
	ok(lstat(og, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == 0,
	   "overlay: 0/0 whiteout device");
	ok(lgetxattr(oo, "trusted.overlay.opaque", v, sizeof(v)) == 1 &&
		   v[0] == 'y',
	   "overlay: opaque xattr");

	/* userxattr: opaque is user.overlay.opaque both ways. */
	char *up2 = tpath("upper-user"), *ov2 = tpath("upper-user-ov");
	struct strbuf l2 = STRBUF_INIT;
	mkdir(up2, 0755);
	mk(up2, "d", 0755);
	p = xstrfmt("%s/d", up2);
	setxattr(p, "user.overlay.opaque", "y", 1, 0);
	free(p);
	to.userxattr = true;
	write_layer_path(up2, &to, NULL, &l2, &dg);
	ok(!extract_buf(&l2, ov2, &(struct archive_extract_opts){
					  .whiteouts = ARCHIVE_WHITEOUT_OVERLAY,
					  .userxattr = true },
			NULL, &err),
	   "userxattr round trip");
	p = xstrfmt("%s/d", ov2);
	ok(lgetxattr(p, "user.overlay.opaque", v, sizeof(v)) == 1 &&
		   lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0,
	   "userxattr: user.overlay.opaque");
	free(p);
	error_clear(&err);
	free(up2);
	free(ov2);
	strbuf_release(&l2);
	free(og);
	free(oo);
	free(g);
	free(o);
	free(n);
	free(f);
	free(up);
	free(x);
	free(lower);
	free(ov);
	strbuf_release(&l);
	strbuf_release(&order);
}

static void test_reader(void)
{
	/* A docker-save-like archive: manifest.json plus a blob. */
	char *d = tpath("save");
	struct strbuf t = STRBUF_INIT, man = STRBUF_INIT;
	struct archive_compress_opts plain = { ARCHIVE_COMP_NONE, -1, false };
	struct archive_digests dg;
	struct error *err = NULL;
	mkdir(d, 0755);
	mk(d, "blobs", 0755);
	mk(d, "blobs/sha256", 0755);
	put(d, "blobs/sha256/abc", "layer bytes", 0644);
	put(d, "manifest.json", "[{\"Config\":\"blobs/sha256/abc\"}]", 0644);
	write_layer_path(d, NULL, &plain, &t, &dg);
	is_str(dg.compressed, dg.uncompressed, "no compression: one digest");

	struct archive_mem mem = { (const unsigned char *)t.buf, t.len, 0 };
	struct archive_input in = { archive_mem_read, &mem };
	struct archive_reader *r = archive_reader_new(&in, &err);
	struct archive_member m;
	int found = 0, ret;
	while ((ret = archive_reader_next(r, &m, &err)) == 1) {
		if (!strcmp(m.path, "manifest.json")) {
			ok(!archive_reader_read_all(r, &man, 1 << 20, &err),
			   "read manifest.json");
			found++;
		}
		if (!strcmp(m.path, "blobs/sha256/abc")) {
			struct strbuf sb = STRBUF_INIT;
			ok(archive_reader_read_all(r, &sb, 4, &err) < 0 &&
				   err && err->code == E2BIG,
			   "read_all honours its cap");
			error_clear(&err);
			found++;
			strbuf_release(&sb);
		}
	}
	is_int(ret, 0, "reader ends cleanly");
	is_int(found, 2, "reader finds both entries");
	is_str(man.buf, "[{\"Config\":\"blobs/sha256/abc\"}]",
	       "manifest content");
	archive_reader_free(r);

	/* A truncated tar fails clearly through the reader as well. */
	mem = (struct archive_mem){ (const unsigned char *)t.buf, 1000, 0 };
	r = archive_reader_new(&in, &err);
	while ((ret = archive_reader_next(r, &m, &err)) == 1) {
		char buf[4096];
		while ((ret = archive_reader_read(r, buf, sizeof(buf), &err)) >
		       0)
			;
		if (ret < 0)
			break;
	}
	ok(ret < 0 && err && strstr(err->msg, "truncated tar"),
	   "reader: truncated tar (%s)", err ? err->msg : "no error");
	error_clear(&err);
	archive_reader_free(r);
	strbuf_release(&t);
	strbuf_release(&man);
	free(d);
}

int main(void)
{
	is_root = geteuid() == 0;
	snprintf(tmpdir, sizeof(tmpdir), "%s/kiln-t-archive.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	test_detect();
	test_gzip();
	test_zstd_and_others();
	test_failed_stays_failed();
	test_round_trip();
	test_empty();
	test_whiteouts();
	test_reader();
	rm_rf(tmpdir);
	return tap_done();
}
