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
 * The most one expansion may produce, in bytes (BuildKit has no limit,
 * but nested ${V//p/${V//p/...}} grows exponentially).
 */
#define DOCKERFILE_EXPAND_MAX (4 << 20)

/*
 * BuildKit's ProcessWord: expand `word` (quotes removed, escapes applied,
 * $VAR ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?m} ${VAR?m}
 * ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} ${VAR/p/r} ${VAR//p/r}) against
 * `env`.  On success *out is a new string (caller frees) and 0 is returned.
 * `matched` / `unmatched` (each may be NULL) receive, once each and in the
 * order first referenced, the names looked up that were set / unset.
 * On error returns -1 with *err = `failed to process "WORD": cause`
 * (code KILN_EINVAL); *out is left untouched.  Output beyond
 * DOCKERFILE_EXPAND_MAX, or ${...} nested deeper than 500, is an error.
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

/*
 * The build plan: the Dockerfile as BuildKit's instructions package and
 * dockerfile2llb see it, before anything runs.  Flags are validated,
 * global and stage ARGs resolved, every word BuildKit expands is expanded
 * (against the ARGs, the ENVs before it and, through a callback, the base
 * image's environment), stages are named and linked, and only the stages
 * the target needs are kept, in an order where every stage comes after
 * the stages it uses.  Pure: the only outside information comes through
 * dockerfile_plan_opts.
 *
 * Ownership: everything in a plan lives in plan->arena and is freed by
 * dockerfile_plan_free().  `node` pointers borrow from the struct
 * dockerfile passed to dockerfile_plan_new(), which must outlive the plan.
 */

/* A list of strings in the plan's arena. */
struct dockerfile_strs {
	const char **v; /* NULL-terminated, never NULL */
	size_t nr;
};

struct dockerfile_kv {
	const char *key;
	const char *value;
};

enum dockerfile_instr_kind {
	DOCKERFILE_ADD,
	DOCKERFILE_ARG,
	DOCKERFILE_CMD,
	DOCKERFILE_COPY,
	DOCKERFILE_ENTRYPOINT,
	DOCKERFILE_ENV,
	DOCKERFILE_EXPOSE,
	DOCKERFILE_HEALTHCHECK,
	DOCKERFILE_LABEL,
	DOCKERFILE_MAINTAINER,
	DOCKERFILE_ONBUILD,
	DOCKERFILE_RUN,
	DOCKERFILE_SHELL,
	DOCKERFILE_STOPSIGNAL,
	DOCKERFILE_USER,
	DOCKERFILE_VOLUME,
	DOCKERFILE_WORKDIR,
};
/* "ADD", "ARG", ... */
const char *dockerfile_instr_name(enum dockerfile_instr_kind kind);

/*
 * A command line as written: exec (JSON) form gives the array, shell
 * form gives one string (the executor prepends SHELL or /bin/sh -c).
 */
struct dockerfile_cmdline {
	bool json;
	struct dockerfile_strs args;
};

enum dockerfile_mount_type {
	DOCKERFILE_MOUNT_BIND,
	DOCKERFILE_MOUNT_CACHE,
	DOCKERFILE_MOUNT_TMPFS,
	DOCKERFILE_MOUNT_SECRET,
	DOCKERFILE_MOUNT_SSH,
};

enum dockerfile_mount_sharing {
	DOCKERFILE_SHARING_SHARED, /* the default */
	DOCKERFILE_SHARING_PRIVATE,
	DOCKERFILE_SHARING_LOCKED,
};

/* One RUN --mount, values expanded (except `from`, which BuildKit
 * refuses to expand). */
struct dockerfile_mount {
	enum dockerfile_mount_type type;
	const char *target; /* NULL when not given: secret/ssh defaults,
			       else the working directory (BuildKit) */
	const char *source; /* NULL when not given */
	const char *from; /* stage name or image as written; NULL if none */
	int from_stage; /* position in plan->stages, or -1 (image/none) */
	bool readonly; /* after BuildKit's defaults: bind, secret and
			  ssh read-only, cache and tmpfs writable */
	const char *id; /* cache/secret/ssh id; NULL when not given */
	enum dockerfile_mount_sharing sharing;
	bool has_mode;
	unsigned mode;
	long long uid, gid; /* -1 when not given */
	bool required; /* secret/ssh */
	const char *env; /* secret: environment variable; NULL if none */
	unsigned long long size; /* tmpfs size in bytes; 0 = unlimited */
};

enum dockerfile_network {
	DOCKERFILE_NETWORK_DEFAULT,
	DOCKERFILE_NETWORK_NONE,
	DOCKERFILE_NETWORK_HOST,
};

enum dockerfile_security {
	DOCKERFILE_SECURITY_SANDBOX,
	DOCKERFILE_SECURITY_INSECURE,
};

struct dockerfile_run {
	struct dockerfile_cmdline cmd; /* not expanded (the shell does it) */
	struct dockerfile_mount *mounts;
	size_t nmounts;
	enum dockerfile_network network;
	enum dockerfile_security security;
	struct dockerfile_strs devices;
	/* heredocs, borrowed from the AST node; not expanded (BuildKit
	 * leaves them to the shell) */
	const struct dockerfile_heredoc *heredocs;
	size_t nheredocs;
	/*
	 * The environment the command runs with, "K=V" in BuildKit's order:
	 * the base environment, then ENVs and valued ARGs in order (a name
	 * redefined keeps its place).  Proxy build args are separate, in
	 * plan->proxy_env.
	 */
	struct dockerfile_strs env;
};

/* A COPY/ADD source given as a heredoc: a file named `path` holding
 * `data` (expanded when the delimiter was unquoted). */
struct dockerfile_inline_source {
	const char *path;
	const char *data;
};

struct dockerfile_copy {
	struct dockerfile_strs sources; /* expanded paths or URLs */
	struct dockerfile_inline_source *inline_sources;
	size_t ninline;
	const char *dest; /* expanded */
	const char *from; /* COPY --from as written; NULL if none */
	int from_stage; /* position in plan->stages, or -1 */
	const char *chown, *chmod; /* expanded; NULL when not given */
	bool link, parents;
	struct dockerfile_strs excludes; /* not expanded, as BuildKit */
	/* ADD only */
	const char *checksum;
	bool keep_git_dir;
	int unpack; /* -1 not given, 0 false, 1 true */
};

struct dockerfile_arg {
	const char *name;
	const char *def; /* the default as written; NULL when none */
	const char *value; /* in effect after this instruction; NULL = unset */
};

enum dockerfile_health_type {
	DOCKERFILE_HEALTH_NONE, /* HEALTHCHECK NONE */
	DOCKERFILE_HEALTH_CMD, /* test = ["CMD", ...] or ["CMD-SHELL", s] */
};

struct dockerfile_healthcheck {
	enum dockerfile_health_type type;
	struct dockerfile_strs test; /* Docker's Healthcheck.Test */
	/* nanoseconds; 0 = not given (the runtime's default applies) */
	long long interval, timeout, start_period, start_interval;
	int retries; /* 0 = not given */
};

struct dockerfile_instr {
	enum dockerfile_instr_kind kind;
	const struct dockerfile_node *node; /* borrowed from the AST */
	int line;
	union {
		struct dockerfile_run run;
		struct dockerfile_copy copy; /* COPY and ADD */
		struct dockerfile_cmdline cmdline; /* CMD, ENTRYPOINT */
		struct dockerfile_strs shell; /* SHELL */
		struct {
			struct dockerfile_kv *pairs;
			size_t npairs;
		} kv; /* ENV, LABEL: expanded keys and values */
		struct {
			struct dockerfile_arg *args;
			size_t nargs;
		} arg;
		/* EXPOSE: expanded, split, normalised "PORT/PROTO" */
		struct dockerfile_strs ports;
		struct dockerfile_strs volumes; /* VOLUME: expanded */
		struct dockerfile_healthcheck health;
		/* USER, WORKDIR, STOPSIGNAL: expanded; MAINTAINER as written;
		 * ONBUILD: the trigger instruction's text */
		const char *str;
	} u;
};

struct dockerfile_stage {
	const char *name; /* lowercased; NULL when the stage has none */
	const char *display; /* name, or "stage-N" like BuildKit */
	size_t index; /* 0-based position among all FROMs */
	const struct dockerfile_node *node; /* its FROM */
	const char *base; /* FROM's image after expansion */
	int base_stage; /* position in plan->stages, or -1 */
	bool scratch; /* FROM scratch */
	const char *platform; /* FROM --platform after expansion; or NULL */
	struct dockerfile_instr *instrs;
	size_t ninstrs;
	/* positions in plan->stages of the stages this one uses (its base,
	 * COPY --from, RUN --mount from=), each once */
	size_t *deps;
	size_t ndeps;
};

/*
 * Asked once per kept stage whose base is an image (never for scratch or
 * a stage): fill `env` with the image's environment ("K=V" entries) so
 * expansion sees it, as BuildKit's does.  Return -1 with *err to fail the
 * plan.  Without a callback images are taken to have an empty environment.
 */
typedef int (*dockerfile_base_env_fn)(void *data, const char *image,
				      const char *platform,
				      struct dockerfile_env *env,
				      struct error **err);

struct dockerfile_plan_opts {
	/* "K=V" build args; an entry without '=' is ignored (the caller
	 * resolves `--build-arg K` from its environment first) */
	const char **build_args;
	size_t nbuild_args;
	const char *target; /* stage name; NULL = the last stage */
	const char *platform; /* target "os/arch[/variant]"; NULL =
				 build_platform */
	const char *build_platform; /* NULL = "linux/amd64" */
	dockerfile_base_env_fn base_env;
	void *base_env_data;
};

struct dockerfile_plan {
	struct arena arena;
	struct dockerfile_stage *stages; /* kept stages, dependency order */
	size_t nstages;
	size_t target; /* position of the target in stages */
	/* the global scope FROM lines saw: platform ARGs, then global ARGs
	 * that have a value */
	struct dockerfile_strs global_args;
	/* proxy build args (HTTP_PROXY ... any case) RUN always gets */
	struct dockerfile_strs proxy_env;
	/* build args some ARG of a kept stage (or the global scope)
	 * declared, and those none did (for the "not consumed" warning;
	 * the predefined proxy and platform names never count as unused) */
	struct dockerfile_strs used_build_args, unused_build_args;
};

/*
 * Build the plan for `df` (see above).  Returns NULL with *err set on an
 * invalid Dockerfile; messages read "FILE:LINE: cause", except for those
 * about the whole file or the options (`target stage "x" could not be
 * found`).
 */
struct dockerfile_plan *
dockerfile_plan_new(const struct dockerfile *df,
		    const struct dockerfile_plan_opts *opts,
		    struct error **err);
void dockerfile_plan_free(struct dockerfile_plan *plan);

/*
 * Parse a Go duration ("1m30s", "1.5h", "300ms") into nanoseconds;
 * returns -1 on a malformed value or overflow.
 */
int dockerfile_parse_duration(const char *s, long long *ns);

#endif
