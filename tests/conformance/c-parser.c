/*
 * Conformance of the Dockerfile parser against third-party data in the
 * corpus directory (argv[1], usually ../shared/corpus):
 *   - buildkit-parser/testfiles/<case>: the dump equals `result` byte for
 *     byte;
 *   - buildkit-parser/testfiles-negative/<case>: parsing fails with a
 *     located "Dockerfile:N: ..." error;
 *   - buildkit-parser/testfile-line: line ranges equal expected-lines.tsv;
 *   - real-dockerfiles/NAME.Dockerfile: every file parses, and the
 *     instruction count matches index.tsv; the total parse time is
 *     reported.
 * Without the corpus the whole program is skipped.
 */
#include "../unit/tap.h"
#include "dockerfile/dockerfile.h"

#include <dirent.h>
#include <sys/stat.h>

static char *path_join(const char *a, const char *b)
{
	return xstrfmt("%s/%s", a, b);
}

static int is_dir(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The sorted entries of dir (no dot files); caller frees with strvec. */
static void list_dir(const char *dir, const char *suffix, struct strvec *out)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    (!suffix || ends_with(ents[i]->d_name, suffix)))
			strvec_push(out, ents[i]->d_name);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static int read_file(const char *path, struct strbuf *sb)
{
	strbuf_reset(sb);
	if (strbuf_read_file(sb, path) < 0) {
		printf("# cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Print where got and want first differ, as a TAP comment. */
static void diff_hint(const char *got, const char *want)
{
	const char *start = got;
	int line = 1;
	while (*got && *got == *want) {
		if (*got == '\n')
			line++;
		got++;
		want++;
	}
	while (got > start && got[-1] != '\n') {
		got--;
		want--;
	}
	printf("# first difference at line %d\n", line);
	printf("#   got: %.*s\n", (int)strcspn(got, "\n"), got);
	printf("#  want: %.*s\n", (int)strcspn(want, "\n"), want);
}

static void positive_cases(const char *base)
{
	char *dir = path_join(base, "testfiles");
	struct strvec cases = STRVEC_INIT;
	struct strbuf in = STRBUF_INIT, want = STRBUF_INIT, got = STRBUF_INIT;

	list_dir(dir, NULL, &cases);
	ok(cases.nr == 33, "buildkit-parser: 33 positive cases (found %zu)",
	   cases.nr);
	for (size_t i = 0; i < cases.nr; i++) {
		char *d = path_join(dir, cases.v[i]);
		char *df_path = path_join(d, "Dockerfile");
		char *res_path = path_join(d, "result");
		struct error *err = NULL;
		if (read_file(df_path, &in) < 0 ||
		    read_file(res_path, &want) < 0) {
			ok(0, "testfiles/%s: readable", cases.v[i]);
			goto next;
		}
		struct dockerfile *df =
			dockerfile_parse("Dockerfile", in.buf, in.len, &err);
		if (!df) {
			ok(0, "testfiles/%s: parses", cases.v[i]);
			printf("# %s\n", err->msg);
			error_free(err);
			goto next;
		}
		strbuf_reset(&got);
		dockerfile_dump_buildkit(df, &got);
		dockerfile_free(df);
		if (!ok(got.len == want.len &&
				!memcmp(got.buf, want.buf, got.len),
			"testfiles/%s: dump equals result", cases.v[i]))
			diff_hint(got.buf, want.buf);
	next:
		free(d);
		free(df_path);
		free(res_path);
	}
	strvec_clear(&cases);
	strbuf_release(&in);
	strbuf_release(&want);
	strbuf_release(&got);
	free(dir);
}

static void negative_cases(const char *base)
{
	char *dir = path_join(base, "testfiles-negative");
	struct strvec cases = STRVEC_INIT;
	struct strbuf in = STRBUF_INIT;

	list_dir(dir, NULL, &cases);
	ok(cases.nr == 4, "buildkit-parser: 4 negative cases (found %zu)",
	   cases.nr);
	for (size_t i = 0; i < cases.nr; i++) {
		char *d = path_join(dir, cases.v[i]);
		char *df_path = path_join(d, "Dockerfile");
		struct error *err = NULL;
		if (read_file(df_path, &in) < 0) {
			ok(0, "testfiles-negative/%s: readable", cases.v[i]);
		} else {
			struct dockerfile *df = dockerfile_parse(
				"Dockerfile", in.buf, in.len, &err);
			unsigned long long line = 0;
			const char *p = NULL;
			bool located =
				err &&
				skip_prefix(err->msg, "Dockerfile:", &p) &&
				(line = strtoull(p, (char **)&p, 10)) > 0 &&
				skip_prefix(p, ": ", &p) && *p;
			ok(!df && located,
			   "testfiles-negative/%s: rejected with a located "
			   "error",
			   cases.v[i]);
			printf("#   %s\n", err ? err->msg : "(no error)");
			dockerfile_free(df);
			error_free(err);
		}
		free(d);
		free(df_path);
	}
	strvec_clear(&cases);
	strbuf_release(&in);
	free(dir);
}

static void line_case(const char *base)
{
	char *df_path = path_join(base, "testfile-line/Dockerfile");
	char *tsv_path = path_join(base, "testfile-line/expected-lines.tsv");
	struct strbuf in = STRBUF_INIT, tsv = STRBUF_INIT;
	struct error *err = NULL;
	struct dockerfile *df = NULL;

	if (read_file(df_path, &in) < 0 || read_file(tsv_path, &tsv) < 0) {
		ok(0, "testfile-line: readable");
		goto out;
	}
	df = dockerfile_parse("Dockerfile", in.buf, in.len, &err);
	if (!ok(df != NULL, "testfile-line: parses")) {
		printf("# %s\n", err->msg);
		goto out;
	}
	size_t nchildren = 0;
	char *save = NULL;
	for (char *l = strtok_r(tsv.buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		int start, end;
		if (sscanf(l, "%63[^\t]\t%d\t%d", name, &start, &end) != 3)
			continue; /* the header */
		unsigned idx;
		if (!strcmp(name, "(root)")) {
			is_int(df->start_line, start,
			       "testfile-line: root starts "
			       "at line %d",
			       start);
			is_int(df->end_line, end,
			       "testfile-line: root ends at "
			       "line %d",
			       end);
		} else if (sscanf(name, "child %u", &idx) == 1 && idx >= 1) {
			nchildren++;
			if (idx > df->nnodes) {
				ok(0, "testfile-line: child %u exists", idx);
				continue;
			}
			const struct dockerfile_node *n = &df->nodes[idx - 1];
			ok(n->start_line == start && n->end_line == end,
			   "testfile-line: child %u spans %d-%d (got %d-%d)",
			   idx, start, end, n->start_line, n->end_line);
		}
	}
	is_int(df->nnodes, nchildren, "testfile-line: %zu children", nchildren);
out:
	error_free(err);
	dockerfile_free(df);
	strbuf_release(&in);
	strbuf_release(&tsv);
	free(df_path);
	free(tsv_path);
}

/* index.tsv: file name -> instruction_count column. */
static long index_count(const struct strbuf *index, const char *file)
{
	const char *p = index->buf;
	size_t flen = strlen(file);
	int col = -1;

	/* find the column in the header */
	const char *hdr_end = strchr(p, '\n');
	if (!hdr_end)
		return -1;
	int c = 0;
	for (const char *q = p; q < hdr_end; c++) {
		size_t n = strcspn(q, "\t\n");
		if (n == strlen("instruction_count") &&
		    !memcmp(q, "instruction_count", n))
			col = c;
		q += n + (q[n] == '\t');
		if (q[-1] != '\t')
			break;
	}
	if (col < 0)
		return -1;
	for (p = hdr_end + 1; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, file, flen) && p[flen] == '\t') {
			const char *q = p;
			for (int k = 0; k < col; k++)
				q = strchr(q, '\t') + 1;
			return strtol(q, NULL, 10);
		}
		if (!strchr(p, '\n'))
			break;
	}
	return -1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void real_dockerfiles(const char *corpus)
{
	char *dir = path_join(corpus, "real-dockerfiles");
	char *index_path = path_join(dir, "index.tsv");
	struct strvec files = STRVEC_INIT;
	struct strbuf index = STRBUF_INIT;
	double total = 0;
	size_t lines = 0, nodes = 0;

	list_dir(dir, ".Dockerfile", &files);
	ok(files.nr == 275, "real-dockerfiles: 275 files (found %zu)",
	   files.nr);
	if (read_file(index_path, &index) < 0)
		strbuf_reset(&index);
	for (size_t i = 0; i < files.nr; i++) {
		char *path = path_join(dir, files.v[i]);
		struct strbuf in = STRBUF_INIT;
		struct error *err = NULL;
		if (read_file(path, &in) < 0) {
			ok(0, "real-dockerfiles/%s: readable", files.v[i]);
			free(path);
			continue;
		}
		double t0 = now_ms();
		struct dockerfile *df =
			dockerfile_parse(files.v[i], in.buf, in.len, &err);
		total += now_ms() - t0;
		long want = index_count(&index, files.v[i]);
		if (!df) {
			ok(0, "real-dockerfiles/%s: parses", files.v[i]);
			printf("# %s\n", err->msg);
		} else if (want >= 0 && (size_t)want != df->nnodes) {
			ok(0,
			   "real-dockerfiles/%s: parses, %zu instructions "
			   "(index.tsv says %ld)",
			   files.v[i], df->nnodes, want);
		} else {
			ok(1, "real-dockerfiles/%s: parses, %zu instructions",
			   files.v[i], df->nnodes);
			nodes += df->nnodes;
			lines += (size_t)df->end_line;
		}
		error_free(err);
		dockerfile_free(df);
		strbuf_release(&in);
		free(path);
	}
	printf("# real-dockerfiles: parsed %zu files, %zu lines, %zu "
	       "instructions in %.1f ms\n",
	       files.nr, lines, nodes, total);
	strvec_clear(&files);
	strbuf_release(&index);
	free(index_path);
	free(dir);
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : "../shared/corpus";
	char *bk = path_join(corpus, "buildkit-parser");
	if (!is_dir(bk)) {
		printf("1..0 # SKIP corpus not found (%s)\n", corpus);
		free(bk);
		return 0;
	}
	positive_cases(bk);
	negative_cases(bk);
	line_case(bk);
	real_dockerfiles(corpus);
	free(bk);
	return tap_done();
}
