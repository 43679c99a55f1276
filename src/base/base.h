/*
 * base: the few building blocks every other module uses.
 *
 *  - struct error: an error code plus a "context: cause" message, set by
 *    library code through a `struct error **err` last parameter and printed
 *    only by cmd/.
 *  - struct strbuf: git's growable buffer; never NULL, always NUL-terminated,
 *    with an optional hard cap for untrusted input.
 *  - struct strvec: a NULL-terminated vector of owned strings.
 *  - struct arena: bump allocator for single-lifetime graphs (the AST).
 *  - xmalloc and friends: abort on out-of-memory.
 *  - logging: die(), error(), warning() to stderr.
 *  - cleanup macros built on __attribute__((cleanup)).
 *
 * This header includes the common system headers first and banned.h last,
 * so functions we do not want used fail to compile.
 */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>

#define KILN_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Programmer errors: print where and abort. */
#define BUG(...) bug_fl(__FILE__, __LINE__, __VA_ARGS__)
NORETURN PRINTF_LIKE(3, 4) void bug_fl(const char *file, int line,
				       const char *fmt, ...);

/* ---------------------------------------------------------------- xalloc */

/* All of these abort with a message when memory runs out. */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* Returns a newly allocated string; caller frees. */
PRINTF_LIKE(1, 2) char *xstrfmt(const char *fmt, ...);
PRINTF_LIKE(1, 0) char *xstrvfmt(const char *fmt, va_list ap);

/* Multiplication and addition that abort on overflow. */
size_t st_mult(size_t a, size_t b);
size_t st_add(size_t a, size_t b);

/*
 * Grow `ptr` (an array of `alloc` elements) so it holds at least `nr`
 * elements; `alloc` is updated.  Like git's ALLOC_GROW.
 */
#define ALLOC_GROW(ptr, nr, alloc)                                             \
	do {                                                                   \
		if ((size_t)(nr) > (size_t)(alloc)) {                          \
			size_t alloc_grow_n_ = ((size_t)(alloc) + 16) * 3 / 2; \
			if (alloc_grow_n_ < (size_t)(nr))                      \
				alloc_grow_n_ = (nr);                          \
			(ptr) = xrealloc((ptr), st_mult(alloc_grow_n_,         \
							sizeof(*(ptr))));      \
			(alloc) = alloc_grow_n_;                               \
		}                                                              \
	} while (0)

/* ---------------------------------------------------------------- cleanup */

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))

/* Take ownership out of a cleanup variable. */
static inline void *steal_pointer_(void *pp)
{
	void **p = pp;
	void *ret = *p;
	*p = NULL;
	return ret;
}
#define steal_pointer(pp) steal_pointer_(pp)
static inline int steal_fd(int *fd)
{
	int ret = *fd;
	*fd = -1;
	return ret;
}

/* ---------------------------------------------------------------- errors */

/*
 * An error: `code` is an errno value (or one of the KILN_E* codes below),
 * `msg` reads "context: cause", lowercase, no trailing period.
 * Owned by whoever receives it through `struct error **err`; free with
 * error_free().  Functions taking `struct error **err` accept err == NULL
 * when the caller does not care.
 */
struct error {
	int code;
	char *msg;
};

enum {
	KILN_EINVAL = 1000, /* bad input (syntax, value) */
	KILN_ENOTFOUND, /* named object does not exist */
	KILN_ECORRUPT, /* data does not match its digest or format */
	KILN_EINTERNAL,
};

/* Set *err (if err is non-NULL and *err is NULL) to a new error. */
PRINTF_LIKE(3, 4)
void error_set(struct error **err, int code, const char *fmt, ...);
/* Like error_set() with code = errno and ": strerror(errno)" appended. */
PRINTF_LIKE(2, 3)
void error_set_errno(struct error **err, const char *fmt, ...);
/* Prefix an existing error's message with "context: ". */
PRINTF_LIKE(2, 3) void error_wrap(struct error **err, const char *fmt, ...);
void error_free(struct error *e);
/* Free *err and set it to NULL. */
void error_clear(struct error **err);
static inline void cleanup_errorp(struct error **e)
{
	error_free(*e);
}
#define cleanup_error __attribute__((cleanup(cleanup_errorp)))

/* ---------------------------------------------------------------- logging */

/* Print "error: <msg>" to stderr; returns -1 so callers can `return
 * error(...)`. */
PRINTF_LIKE(1, 2) int error(const char *fmt, ...);
PRINTF_LIKE(1, 2) void warning(const char *fmt, ...);
/* Print "error: <msg>" and exit(125), docker's status for its own failures. */
NORETURN PRINTF_LIKE(1, 2) void die(const char *fmt, ...);
/* Print "error: <msg>: strerror(errno)" and exit(125). */
NORETURN PRINTF_LIKE(1, 2) void die_errno(const char *fmt, ...);
/* Print an error object as "error: <msg>". */
void error_print(const struct error *e);
/* Debug output when KILN_DEBUG is set in the environment. */
PRINTF_LIKE(1, 2) void debug(const char *fmt, ...);
extern const char *progname;

/* ---------------------------------------------------------------- strbuf */

/*
 * A growable buffer.  Invariants (git's): `buf` is never NULL and always
 * NUL-terminated at `buf[len]`; it may contain NUL bytes.  `cap`, when
 * non-zero, is a hard limit on `len`: an append that would exceed it fails
 * (strbuf_add_checked returns -1) and leaves the buffer as it was; the
 * unchecked appends call die() so only use them when there is no cap.
 */
struct strbuf {
	size_t alloc;
	size_t len;
	size_t cap;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT                     \
	{                               \
		0, 0, 0, strbuf_slopbuf \
	}

void strbuf_init(struct strbuf *sb, size_t hint);
/* Free the contents; the strbuf can be reused after strbuf_init. */
void strbuf_release(struct strbuf *sb);
/* Give the string to the caller (who frees it); sb is re-initialised. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
#define strbuf_reset(sb) strbuf_setlen(sb, 0)
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addbuf(struct strbuf *sb, const struct strbuf *other);
PRINTF_LIKE(2, 3) void strbuf_addf(struct strbuf *sb, const char *fmt, ...);
PRINTF_LIKE(2, 0)
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Append honouring sb->cap: returns -1 (buffer unchanged) when over cap. */
int strbuf_add_checked(struct strbuf *sb, const void *data, size_t len);
void strbuf_trim(struct strbuf *sb);
void strbuf_rtrim(struct strbuf *sb);
void strbuf_ltrim(struct strbuf *sb);
/*
 * Read a whole file descriptor / file into sb.  Returns 0, or -1 with errno
 * set (E2BIG when sb->cap would be exceeded).
 */
int strbuf_read_fd(struct strbuf *sb, int fd);
int strbuf_read_file(struct strbuf *sb, const char *path);
static inline void cleanup_strbufp(struct strbuf *sb)
{
	strbuf_release(sb);
}
#define cleanup_strbuf __attribute__((cleanup(cleanup_strbufp)))

/* ---------------------------------------------------------------- strvec */

/* A NULL-terminated array of owned strings; `v` is never NULL. */
struct strvec {
	const char **v;
	size_t nr;
	size_t alloc;
};
extern const char *strvec_empty[];
#define STRVEC_INIT                \
	{                          \
		strvec_empty, 0, 0 \
	}

void strvec_init(struct strvec *sv);
/* Push a copy of s; returns the copy. */
const char *strvec_push(struct strvec *sv, const char *s);
PRINTF_LIKE(2, 3)
const char *strvec_pushf(struct strvec *sv, const char *fmt, ...);
/* Take ownership of an allocated string. */
void strvec_push_nodup(struct strvec *sv, char *s);
void strvec_pushv(struct strvec *sv, const char **v);
void strvec_pop(struct strvec *sv);
void strvec_clear(struct strvec *sv);
/* Detach the array (NULL-terminated); caller frees each string and it. */
const char **strvec_detach(struct strvec *sv);
static inline void cleanup_strvecp(struct strvec *sv)
{
	strvec_clear(sv);
}
#define cleanup_strvec __attribute__((cleanup(cleanup_strvecp)))

/* ---------------------------------------------------------------- arena */

/*
 * Bump allocator: everything allocated from an arena is freed at once by
 * arena_release().  Allocation aborts on out-of-memory.  Memory is zeroed.
 */
struct arena_block;
struct arena {
	struct arena_block *head;
	size_t used;
	size_t total; /* bytes handed out, for statistics */
};
#define ARENA_INIT         \
	{                  \
		NULL, 0, 0 \
	}
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void *arena_memdup(struct arena *a, const void *p, size_t n);
void arena_release(struct arena *a);

/* ---------------------------------------------------------------- fs */

/*
 * Remove `name` (relative to `dirfd`, or a path with AT_FDCWD) and, for a
 * directory, everything below it, without following symlinks; directories
 * are made writable (and searchable) first, so read-only layer trees and
 * overlay work dirs go too.  A missing `name` is success.  Returns 0, or
 * -1 with errno set (removal goes on past failures).
 */
int rm_rf_at(int dirfd, const char *name);

/*
 * Open directory dirfd/name for readdir() (`flags` adds to O_RDONLY |
 * O_DIRECTORY | O_CLOEXEC, e.g. O_NOFOLLOW); NULL with errno set.
 * The caller closedir()s it.
 */
DIR *opendir_at(int dirfd, const char *name, int flags);
/*
 * The names in directory dirfd/name but "." and "..", sorted, appended
 * to `out`.  Returns 0, or -1 with errno set (out unchanged).
 */
int read_dir_names(int dirfd, const char *name, int flags, struct strvec *out);
/* Whether dirfd/name is a directory without entries (false on error). */
bool dir_is_empty_at(int dirfd, const char *name);

/*
 * Create directory `path` and any missing parents with `mode` (as
 * mkdir -p; an existing directory is success).  Returns 0, or -1 with
 * errno set and `path` left as far as it got.
 */
int mkdir_p(const char *path, mode_t mode);

/* ---------------------------------------------------------------- utf8 */

#define UTF8_RUNE_ERROR 0xFFFDu
/*
 * Decode one rune from s[0..n) like Go's utf8.DecodeRune: invalid or
 * truncated input (overlong forms, surrogates, > U+10FFFF) gives
 * UTF8_RUNE_ERROR with width 1.  Returns the width; n must be > 0.
 */
size_t utf8_decode_rune(const unsigned char *s, size_t n, uint32_t *r);
/* Go's unicode.IsSpace. */
bool go_is_space(uint32_t r);

/* ---------------------------------------------------------------- misc */

static inline bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool ends_with(const char *s, const char *suffix);
/* If s starts with prefix, set *out past it and return true. */
bool skip_prefix(const char *s, const char *prefix, const char **out);
/* Parse a non-negative decimal integer; returns -1 on junk or overflow. */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Damerau-free Levenshtein distance, for did-you-mean suggestions. */
size_t levenshtein(const char *a, const char *b);

#include "base/banned.h"

#endif
