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

/*
 * An environment for expansion: an ordered list of "NAME=VALUE" strings
 * (an entry without '=' is a set, empty variable).  Lookup returns the last
 * entry of a name, so pushing a name again overrides it.  With
 * `case_insensitive` (BuildKit's Windows rule) names compare ignoring ASCII
 * case.  Owns its strings; release with dockerfile_env_release().
 */
struct dockerfile_env {
	struct strvec vars;
	bool case_insensitive;
};
#define DOCKERFILE_ENV_INIT        \
	{                          \
		STRVEC_INIT, false \
	}
void dockerfile_env_init(struct dockerfile_env *env);
void dockerfile_env_release(struct dockerfile_env *env);
/* Append "name=value" (overrides earlier entries of the name on lookup). */
void dockerfile_env_push(struct dockerfile_env *env, const char *name,
			 const char *value);
/* Append a raw "NAME=VALUE" (or "NAME") entry. */
void dockerfile_env_push_entry(struct dockerfile_env *env, const char *entry);
/*
 * Replace the value of an existing name in place (Docker's ENV rule:
 * the variable keeps its position), or append it.
 */
void dockerfile_env_set(struct dockerfile_env *env, const char *name,
			const char *value);
/* The value of `name` (borrowed), or NULL when unset. */
const char *dockerfile_env_get(const struct dockerfile_env *env,
			       const char *name);
void dockerfile_env_copy(struct dockerfile_env *dst,
			 const struct dockerfile_env *src);

/*
 * Lexer options, BuildKit's shell.Lex fields.  A zeroed struct (or a NULL
 * pointer) means escape '\\' and BuildKit's defaults.
 */
struct dockerfile_shell_opts {
	char escape; /* '\\' (also when 0) or '`' */
	bool raw_quotes; /* keep the quote characters in the output */
	bool raw_escapes; /* keep the escape characters */
	bool skip_unset_env; /* leave $UNSET / ${UNSET...} as written */
	bool skip_process_quotes; /* quotes are ordinary characters */
};

/*
 * BuildKit's ProcessWord: expand `word` (quotes removed, escapes applied,
 * $VAR ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?m} ${VAR?m}
 * ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} ${VAR/p/r} ${VAR//p/r}) against
 * `env`.  On success *out is a new string (caller frees) and 0 is returned.
 * `matched` / `unmatched` (each may be NULL) receive, once each and in the
 * order first referenced, the names looked up that were set / unset.
 * On error returns -1 with *err = `failed to process "WORD": cause`
 * (code KILN_EINVAL); *out is left untouched.
 */
int dockerfile_expand_word(const char *word, const struct dockerfile_env *env,
			   const struct dockerfile_shell_opts *opts, char **out,
			   struct strvec *matched, struct strvec *unmatched,
			   struct error **err);

/*
 * BuildKit's ProcessWords: like dockerfile_expand_word, then split into
 * words on unquoted whitespace, where whitespace coming from an unquoted
 * expansion splits too ("${v}" stays one word).  Words are appended to
 * `out`.  Empty words are dropped.
 */
int dockerfile_expand_words(const char *word, const struct dockerfile_env *env,
			    const struct dockerfile_shell_opts *opts,
			    struct strvec *out, struct strvec *matched,
			    struct strvec *unmatched, struct error **err);

/* ======================================================= build plan */

#endif
