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

/*
 * A here-document attached to an instruction (`RUN <<EOF`, `COPY <<A <<B`).
 * Heredocs are recognised, as in BuildKit, for RUN, COPY and ADD in shell
 * form (also behind ONBUILD); the bodies follow the instruction line in the
 * order the delimiters appear.
 */
struct dockerfile_heredoc {
	const char *name;    /* the delimiter word, quotes removed */
	const char *content; /* the body exactly as written: every line with
				its own line ending, leading tabs kept even
				with `chomp` (consumers strip them) */
	bool expand;         /* false when (part of) the delimiter was quoted */
	bool chomp;          /* `<<-`: leading tabs are to be stripped from the
				body, and were ignored on the delimiter line */
	int fd;              /* `3<<EOF` gives 3; 0 when none was given */
};

/*
 * One instruction.  Strings are in the dockerfile's arena.
 * `args` are the arguments exactly as BuildKit's parser splits them (see
 * ../shared/corpus/buildkit-parser/README.md); `flags` are the leading
 * `--name[=value]` words.  For ONBUILD, `child` is the nested instruction
 * and `args` is empty.  `keyword` is always one of the 18 instructions:
 * dockerfile_parse() rejects anything else.
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
	/* strlen() of each arg, except that a JSON-form string may hold
	 * \u0000 (BuildKit keeps it): then the length runs past the NUL */
	const size_t *arg_lens;
	size_t nargs;
	bool json; /* the arguments came from a JSON (exec) array */
	struct dockerfile_node *child;
	struct dockerfile_heredoc *heredocs;
	size_t nheredocs;
	/* the comment lines right before the instruction, '#' and the
	 * surrounding blanks removed (BuildKit's PrevComment) */
	const char **comments;
	size_t ncomments;
};

struct dockerfile_warning {
	int line;
	const char *msg;
};

/* A parser directive (`# syntax=...`) from the top of the file. */
struct dockerfile_directive {
	const char *name; /* lowercased: "syntax", "escape" or "check" */
	const char *value;
	int line;
};

struct dockerfile {
	struct arena arena; /* owns every string and node below */
	const char *filename;
	char escape;        /* '\\' or '`' */
	const char *syntax; /* parser directives; NULL when absent */
	const char *check;
	struct dockerfile_directive *directives;
	size_t ndirectives;
	struct dockerfile_node *nodes;
	size_t nnodes;
	int start_line, end_line; /* of all instructions together */
	struct dockerfile_warning *warnings;
	size_t nwarnings;
};

/* A physical line longer than this is an error, as in BuildKit. */
#define DOCKERFILE_MAX_LINE 65535

/*
 * Parse `len` bytes of Dockerfile text (need not be NUL-terminated).
 * `filename` is used in messages ("Dockerfile:7: ...").  Returns a new AST
 * (free with dockerfile_free), or NULL with *err set (code KILN_EINVAL,
 * message "FILE:LINE: cause").
 *
 * The splitting is BuildKit's parser; on top of it kiln rejects what
 * BuildKit would only reject later: unknown instructions (with a
 * did-you-mean), missing arguments (`FROM` alone, `COPY onlyone`, `ENV`),
 * `FROM` with other than one or three arguments, the forbidden ONBUILD
 * triggers (ONBUILD, FROM, MAINTAINER) and NUL bytes in the text.  Flag
 * names and values are not checked here.
 */
struct dockerfile *dockerfile_parse(const char *filename, const char *text,
				    size_t len, struct error **err);
void dockerfile_free(struct dockerfile *df);

/* The dump BuildKit's parser tests compare against, one line per node. */
void dockerfile_dump_buildkit(const struct dockerfile *df, struct strbuf *out);
/*
 * The AST as JSON (an object, ending in a newline): file, escape,
 * directives, warnings, and per instruction its line range, original text,
 * flags, args, json flag, comments, heredocs and ONBUILD child.  Invalid
 * UTF-8 is replaced by U+FFFD so the output is always valid JSON.
 */
void dockerfile_dump_json(const struct dockerfile *df, struct strbuf *out);

/* ======================================================= word expansion */

/* ======================================================= build plan */

#endif
