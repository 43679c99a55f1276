/*
 * bench-parse: time dockerfile_parse() over every *.Dockerfile in a
 * directory (the corpus's real-dockerfiles), in one process.  Files are
 * read first, so the figures are parse time only: the first pass, and the
 * best of `runs` further passes.  Exits 1 if any file fails to parse.
 *
 *   out/bench/bench-parse DIR [RUNS]
 */
#include "dockerfile/dockerfile.h"

#include <dirent.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Parse every file once; returns the milliseconds taken, -1 on failure. */
static double pass(struct strbuf *files, const char **names, size_t n,
		   size_t *nodes)
{
	double t0 = now_ms();
	*nodes = 0;
	for (size_t i = 0; i < n; i++) {
		struct error *err = NULL;
		struct dockerfile *df = dockerfile_parse(names[i], files[i].buf,
							 files[i].len, &err);
		if (!df) {
			fprintf(stderr, "bench-parse: %s\n", err->msg);
			error_free(err);
			return -1;
		}
		*nodes += df->nnodes;
		dockerfile_free(df);
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-parse DIR [RUNS]\n");
		return 2;
	}
	unsigned long long runs = 20;
	if (argc > 2 && parse_uint(argv[2], 100000, &runs) < 0) {
		fprintf(stderr, "bench-parse: bad RUNS '%s'\n", argv[2]);
		return 2;
	}
	struct dirent **ents;
	int n = scandir(argv[1], &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "bench-parse: %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	struct strbuf *files = xcalloc((size_t)n, sizeof(*files));
	const char **names = xcalloc((size_t)n, sizeof(*names));
	size_t nr = 0, bytes = 0;
	for (int i = 0; i < n; i++) {
		if (ends_with(ents[i]->d_name, ".Dockerfile")) {
			char *path = xstrfmt("%s/%s", argv[1], ents[i]->d_name);
			strbuf_init(&files[nr], 0);
			if (strbuf_read_file(&files[nr], path) < 0) {
				fprintf(stderr, "bench-parse: %s: %s\n", path,
					strerror(errno));
				return 2;
			}
			bytes += files[nr].len;
			names[nr++] = xstrdup(ents[i]->d_name);
			free(path);
		}
		free(ents[i]);
	}
	free(ents);

	size_t nodes;
	double first = pass(files, names, nr, &nodes);
	if (first < 0)
		return 1;
	double best = first;
	for (unsigned long long r = 0; r < runs; r++) {
		double t = pass(files, names, nr, &nodes);
		if (t < 0)
			return 1;
		if (t < best)
			best = t;
	}
	printf("parsed %zu files (%zu KiB, %zu instructions): first pass "
	       "%.2f ms, best of %llu %.2f ms\n",
	       nr, bytes / 1024, nodes, first, runs, best);
	for (size_t i = 0; i < nr; i++) {
		strbuf_release(&files[i]);
		free((char *)names[i]);
	}
	free(files);
	free(names);
	return 0;
}
