/*
 * dockerfile: the Dockerfile frontend.  Pure: no I/O, no global state, so
 * every function here can be unit-tested and fuzzed in memory.
 *
 * Three layers, each built on the one before:
 *   1. the parser: text -> AST (struct dockerfile, one node per
 *      instruction), with directives, continuations, heredocs and BuildKit's
 *      per-instruction argument splitting;
 *   2. shell-word expansion: BuildKit's lexer for $VAR, ${VAR:-x}, quotes
 *      and escapes, used on instruction arguments;
 *   3. the build plan: typed instructions, ARG scoping, stages and the
 *      stage graph pruned to a target.
 *
 * Errors read "FILE:LINE: message" and are returned through struct error.
 */
#ifndef KILN_DOCKERFILE_H
#define KILN_DOCKERFILE_H

#include "base/base.h"

/* ================================================================ parser */

/* A here-document attached to an instruction (`RUN <<EOF`, `COPY <<A <<B`). */
struct dockerfile_heredoc {
	const char *name;    /* the delimiter word, quotes removed */
	const char *content; /* the body, each line ending in '\n' */
	bool expand;         /* false when the delimiter was quoted */
	bool chomp;          /* `<<-`: leading tabs stripped from the body */
	int fd;              /* `3<<EOF` gives 3; 0 when none was given */
};

/*
 * One instruction.  Strings are in the dockerfile's arena.
 * `args` are the arguments exactly as BuildKit's parser splits them (see
 * ../shared/corpus/buildkit-parser/README.md); `flags` are the leading
 * `--name[=value]` words.  For ONBUILD, `child` is the nested instruction
 * and `args` is empty.
 */
struct dockerfile_node {
	const char *keyword;  /* lowercased: "from", "run", ... */
	const char *original; /* the logical line as written (continuations
				 joined), without heredoc bodies */
	int start_line;       /* 1-based, first physical line */
	int end_line;         /* last physical line consumed (incl. heredocs) */
	const char **flags;
	size_t nflags;
	const char **args;
	size_t nargs;
	bool json; /* the arguments came from a JSON (exec form) array */
	struct dockerfile_node *child;
	struct dockerfile_heredoc *heredocs;
	size_t nheredocs;
};

struct dockerfile_warning {
	int line;
	const char *msg;
};

struct dockerfile {
	struct arena arena; /* owns every string and node below */
	const char *filename;
	char escape;        /* '\\' or '`' */
	const char *syntax; /* parser directives; NULL when absent */
	const char *check;
	struct dockerfile_node *nodes;
	size_t nnodes;
	int start_line, end_line; /* of all instructions together */
	struct dockerfile_warning *warnings;
	size_t nwarnings;
};

/*
 * Parse `len` bytes of Dockerfile text.  `filename` is used in messages
 * ("Dockerfile:7: ...").  Returns a new AST (free with dockerfile_free), or
 * NULL with *err set.
 */
struct dockerfile *dockerfile_parse(const char *filename, const char *text,
				    size_t len, struct error **err);
void dockerfile_free(struct dockerfile *df);

/* The dump BuildKit's parser tests compare against, one line per node. */
void dockerfile_dump_buildkit(const struct dockerfile *df, struct strbuf *out);
/* The AST as JSON: line ranges, flags, args, heredocs, original text. */
void dockerfile_dump_json(const struct dockerfile *df, struct strbuf *out);

/* ======================================================= word expansion */

/* ======================================================= build plan */

#endif
