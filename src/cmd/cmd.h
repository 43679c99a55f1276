/*
 * cmd: one file per kiln command plus the small option parser they share.
 * Each cmd_<name>() gets argv with argv[0] = the command name and returns
 * the process exit status.  Commands print; library code does not.
 */
#ifndef KILN_CMD_H
#define KILN_CMD_H

#include "base/base.h"

/* ------------------------------------------------------------ options */

enum opt_type {
	OPT_END = 0,
	OPT_BOOL, /* bool *; "--flag", "--flag=true|false" */
	OPT_STRING, /* const char **; "--flag VALUE" or "--flag=VALUE" */
	OPT_LIST, /* struct strvec *; repeatable string */
	OPT_INT, /* int *; non-negative decimal */
};

struct opt {
	enum opt_type type;
	char short_name; /* 0 when none */
	const char *long_name;
	void *value;
	const char *argh; /* placeholder shown in help, e.g. "FILE" */
	const char *help;
};

#define OPT_BOOL_(s, l, v, h)                      \
	{                                          \
		OPT_BOOL, (s), (l), (v), NULL, (h) \
	}
#define OPT_STRING_(s, l, v, a, h)                  \
	{                                           \
		OPT_STRING, (s), (l), (v), (a), (h) \
	}
#define OPT_LIST_(s, l, v, a, h)                  \
	{                                         \
		OPT_LIST, (s), (l), (v), (a), (h) \
	}
#define OPT_INT_(s, l, v, a, h)                  \
	{                                        \
		OPT_INT, (s), (l), (v), (a), (h) \
	}
#define OPT_END_()                                 \
	{                                          \
		OPT_END, 0, NULL, NULL, NULL, NULL \
	}

/*
 * Parse docker-style options: short flags may be bundled (-it), a short
 * option's value may be attached (-tname) or the next word; long options
 * take "--x=v" or "--x v".  Options and operands may be interleaved unless
 * `stop_at_operand` is set (for `run IMAGE CMD...`), and "--" ends options.
 * "-h"/"--help" prints the usage and exits 0.  An unknown flag or a missing
 * value prints a docker-like error and exits 125.
 * On return argv[0..ret) holds the operands; returns their count.
 */
int parse_options(int argc, char **argv, const struct opt *opts,
		  const char *usage, const char *summary, bool stop_at_operand);
void usage_with_options(FILE *out, const char *usage, const char *summary,
			const struct opt *opts);
/* Print "error: <msg>", the "See 'kiln CMD --help'" hint, exit 125. */
NORETURN PRINTF_LIKE(2, 3) void usage_error(const char *cmd, const char *fmt,
					    ...);

/* ------------------------------------------------------------ commands */

struct cmd_entry {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};
/* The table main() dispatches on, in `kiln help` order. */
extern const struct cmd_entry kiln_commands[];

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_rmi(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_rm(int argc, char **argv);

/* ------------------------------------------------------------ registry */

/*
 * The registry flags `pull`, `push` and `build` share, as podman spells
 * them: OPT_REGISTRY_FLAGS_(&f) in an option table, then
 * cmd_registry_options() turns what was given into registry_options.
 */
struct cmd_registry_flags {
	const char *authfile, *creds, *cert_dir, *tls_verify, *conf;
};
#define OPT_REGISTRY_FLAGS_(f)                                               \
	OPT_STRING_(0, "authfile", &(f)->authfile, "FILE",                   \
		    "Path of the authentication file"),                      \
		OPT_STRING_(0, "creds", &(f)->creds, "USER[:PASSWORD]",      \
			    "Credentials for the registry"),                 \
		OPT_STRING_(0, "cert-dir", &(f)->cert_dir, "DIR",            \
			    "Certificates for the registry (*.crt, *.cert, " \
			    "*.key)"),                                       \
		OPT_STRING_(0, "tls-verify", &(f)->tls_verify, "BOOL",       \
			    "Require HTTPS and verify certificates"),        \
		OPT_STRING_(0, "registries-conf", &(f)->conf, "FILE",        \
			    "Path of registries.conf")
struct registry_options;
void cmd_registry_options(const struct cmd_registry_flags *f,
			  struct registry_options *o);

/* ------------------------------------------------------------ output */

/*
 * docker's go-units formatting: "Less than a second", "About a minute",
 * "3 hours" for a duration in seconds; "2.14MB" (decimal units, `prec`
 * significant digits: 3 for images/history).  Caller frees.
 */
char *cmd_human_duration(int64_t seconds);
char *cmd_human_size(double size, int prec);
/* "<duration> ago" for a unix time, "N/A" for 0. */
char *cmd_created_since(int64_t when);
/*
 * Cut `s` to `max` characters (UTF-8 aware), ending in "…", as docker's
 * Ellipsis.  Caller frees.
 */
char *cmd_ellipsis(const char *s, size_t max);

/*
 * A table printed like docker's tabwriter (minwidth 10, padding 3, the
 * last column unpadded).  Add cells row by row.
 */
struct cmd_table {
	struct strvec cells;
	size_t ncols;
};
void cmd_table_init(struct cmd_table *t, size_t ncols);
void cmd_table_add(struct cmd_table *t, const char *cell);
PRINTF_LIKE(2, 3)
void cmd_table_addf(struct cmd_table *t, const char *fmt, ...);
void cmd_table_print(struct cmd_table *t, FILE *out);
void cmd_table_release(struct cmd_table *t);

/* Open the store (--root / $KILN_ROOT / default); prints the error. */
struct store;
struct store *cmd_store_open(void);
/* Print an error object, free it, return 1 (an operational failure). */
int cmd_fail(struct error *e);

#endif
