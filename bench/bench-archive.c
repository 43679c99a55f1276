/*
 * bench-archive: drive archive/ from bench/archive.sh.
 *
 *   bench-archive extract LAYER DIR [zlib]        extract (any compression)
 *   bench-archive layer DIR OUT [zlib|isal] [LEVEL]  tree → tar.gz blob
 *   bench-archive gzip IN OUT [zlib|isal] [LEVEL]    compress a file
 *   bench-archive gunzip IN [zlib]                 decompress, discard
 *
 * Prints "<seconds> <digest> <diffid>" on stdout.
 */
#include "archive/archive.h"

#include <sys/stat.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int r, struct error *err)
{
	if (r < 0) {
		fprintf(stderr, "bench-archive: %s\n", err ? err->msg : "?");
		exit(1);
	}
}

static int xopen(const char *p, int flags)
{
	int fd = open(p, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		die_errno("open '%s'", p);
	return fd;
}

int main(int argc, char **argv)
{
	struct error *err = NULL;
	struct archive_digests dg = { 0 };
	double t0 = now();

	if (argc < 3)
		die("usage: see bench/bench-archive.c");
	const char *cmd = argv[1];
	int optarg_i = !strcmp(cmd, "gunzip")	 ? 3
		       : !strcmp(cmd, "extract") ? 4
						 : 4;
	bool zlib = argc > optarg_i && !strcmp(argv[optarg_i], "zlib");
	struct archive_compress_opts co = { ARCHIVE_COMP_GZIP, -1, zlib };
	if (argc > optarg_i + 1)
		co.level = (int)strtol(argv[optarg_i + 1], NULL, 10);

	if (!strcmp(cmd, "extract")) {
		int in = xopen(argv[2], O_RDONLY);
		mkdir(argv[3], 0755);
		int root = xopen(argv[3], O_RDONLY | O_DIRECTORY);
		struct archive_input src = { archive_fd_read, &in };
		struct archive_extract_opts eo = { .force_zlib = zlib };
		struct archive_extract_stats st;
		check(archive_extract(root, &src, &eo, &st, &err), err);
		dg = st.digests;
	} else if (!strcmp(cmd, "layer")) {
		int dir = xopen(argv[2], O_RDONLY | O_DIRECTORY);
		int out = xopen(argv[3], O_WRONLY | O_CREAT | O_TRUNC);
		check(archive_write_layer(dir, NULL, &co, archive_fd_write,
					  &out, &dg, &err),
		      err);
		close(out);
	} else if (!strcmp(cmd, "gzip")) {
		int in = xopen(argv[2], O_RDONLY);
		int out = xopen(argv[3], O_WRONLY | O_CREAT | O_TRUNC);
		struct archive_compressor *c = archive_compressor_new(
			&co, archive_fd_write, &out, &err);
		static char buf[1 << 20];
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			check(archive_compressor_write(c, buf, n, &err), err);
		check(archive_compressor_finish(c, &dg, &err), err);
		archive_compressor_free(c);
		close(out);
	} else if (!strcmp(cmd, "gunzip")) {
		int in = xopen(argv[2], O_RDONLY);
		struct archive_input src = { archive_fd_read, &in };
		struct archive_decompressor *d = archive_decompressor_new(
			&src, ARCHIVE_COMP_AUTO, zlib ? ARCHIVE_DECOMP_ZLIB : 0,
			&err);
		static char buf[1 << 20];
		ssize_t n;
		while ((n = archive_decompressor_read(d, buf, sizeof(buf),
						      &err)) > 0)
			;
		check(n, err);
		archive_decompressor_digests(d, &dg);
		archive_decompressor_free(d);
	} else {
		die("unknown command '%s'", cmd);
	}
	printf("%.3f %s %s\n", now() - t0, dg.compressed, dg.uncompressed);
	return 0;
}
