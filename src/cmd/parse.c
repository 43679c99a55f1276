/*
 * kiln parse: parse a Dockerfile and print its syntax tree, either as
 * BuildKit's parser dump (what BuildKit's own tests compare against) or as
 * JSON with line ranges, flags, heredocs and directives.  Nothing is built.
 */
#include "cmd/cmd.h"
#include "dockerfile/dockerfile.h"

/* The largest Dockerfile kiln reads; more is refused, not truncated. */
#define PARSE_MAX_INPUT (64u << 20)

static const char parse_usage[] = "kiln parse [OPTIONS] [FILE]";
static const char parse_summary[] = "Parse a Dockerfile and print its syntax "
				    "tree.\n\n"
				    "FILE (or -f FILE) defaults to "
				    "./Dockerfile; \"-\" reads standard "
				    "input.";

static int read_input(const char *path, struct strbuf *sb)
{
	int fd = 0;
	if (strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error("open '%s': %s", path, strerror(errno));
	}
	int ret = strbuf_read_fd(sb, fd);
	int saved = errno;
	if (fd)
		close(fd);
	if (ret < 0 && saved == E2BIG)
		return error("read '%s': larger than %u MiB, not a Dockerfile",
			     path, PARSE_MAX_INPUT >> 20);
	if (ret < 0)
		return error("read '%s': %s", path, strerror(saved));
	return 0;
}

int cmd_parse(int argc, char **argv)
{
	const char *file = NULL, *format = "buildkit";
	const struct opt opts[] = {
		OPT_STRING_('f', "file", &file, "FILE",
			    "Dockerfile to parse (\"-\" for standard input)"),
		OPT_STRING_(0, "format", &format, "FORMAT",
			    "Output format: buildkit or json"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, parse_usage, parse_summary,
			     false);
	if (argc > 1 || (argc == 1 && file))
		usage_error("parse", "\"kiln parse\" accepts at most one FILE");
	if (argc == 1)
		file = argv[0];
	if (!file)
		file = "Dockerfile";
	bool json = !strcmp(format, "json");
	if (!json && strcmp(format, "buildkit"))
		usage_error("parse",
			    "invalid argument \"%s\" for \"--format\" flag: "
			    "expected buildkit or json",
			    format);

	struct strbuf in = STRBUF_INIT;
	in.cap = PARSE_MAX_INPUT;
	if (read_input(file, &in) < 0) {
		strbuf_release(&in);
		return 1;
	}

	struct error *err = NULL;
	const char *name = strcmp(file, "-") ? file : "Dockerfile";
	struct dockerfile *df = dockerfile_parse(name, in.buf, in.len, &err);
	strbuf_release(&in);
	if (!df) {
		error_print(err);
		error_free(err);
		return 1;
	}

	struct strbuf out = STRBUF_INIT;
	if (json) {
		dockerfile_dump_json(df, &out);
	} else {
		for (size_t i = 0; i < df->nwarnings; i++)
			warning("%s:%d: %s", df->filename, df->warnings[i].line,
				df->warnings[i].msg);
		dockerfile_dump_buildkit(df, &out);
	}
	dockerfile_free(df);
	int ret = 0;
	if (fwrite(out.buf, 1, out.len, stdout) != out.len || fflush(stdout))
		ret = error("write: %s", strerror(errno));
	strbuf_release(&out);
	return ret ? 1 : 0;
}
