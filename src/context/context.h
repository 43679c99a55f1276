/*
 * context: the build context.
 *
 *  - .dockerignore matching with moby/patternmatcher's semantics (the
 *    matcher BuildKit uses): a path is excluded when it or a parent
 *    directory matches; `!` exceptions re-include; the last matching
 *    pattern decides.  `*` and `?` never cross `/`, `**` spans any number
 *    of directories (zero included), `[a-z]`, `[^...]` and `\` escapes
 *    work as in Go's filepath.Match.  Patterns are compiled once into a
 *    small NFA, so matching is linear in the path length times the
 *    pattern length; no regex library.
 *  - Choosing the ignore file like BuildKit: `<Dockerfile>.dockerignore`
 *    next to the Dockerfile wins over the context's `.dockerignore`.
 *  - A walker that lists the context (never following symlinks, skipping
 *    excluded directories when no exception can re-include anything in
 *    them), content digests with a persistent stat cache, and a digest over
 *    a set of paths for COPY/ADD cache keys.
 *
 * Nothing here prints; errors come back through `struct error **err`.
 * The only thing this module writes is the digest cache file.
 */
#ifndef KILN_CONTEXT_H
#define KILN_CONTEXT_H

#include "base/base.h"
#include <sys/stat.h>

/* ============================================================== ignore */

/* A compiled list of ignore patterns.  Immutable once built. */
struct context_ignore;

/*
 * Read the text of an ignore file the way BuildKit's ignorefile.ReadAll
 * does: a UTF-8 BOM on line 1 is dropped; a line starting with `#` is a
 * comment (checked before trimming); other lines are trimmed and empty
 * ones dropped; a leading `!` is split off and the rest trimmed again,
 * cleaned like Go's filepath.Clean and stripped of one leading `/`, then
 * the `!` is put back (a lone `!` stays `!`; compiling it fails).
 *
 * Appends the patterns to `patterns`.  When `lines` is non-NULL, *lines
 * is set to a newly allocated array (caller frees) holding the 1-based
 * source line of each pattern in `patterns` (lines for patterns that were
 * already in `patterns` are 0).  `source` names the file in errors (may
 * be NULL).  Returns 0, or -1 when a line is longer than 64 KiB.
 */
int context_ignore_read(const char *buf, size_t len, const char *source,
			struct strvec *patterns, int **lines,
			struct error **err);

/*
 * Compile `nr` patterns with patternmatcher.New's rules: each is trimmed
 * and cleaned, empty ones are skipped, `!` marks an exception.  `lines`
 * (may be NULL: then pattern i has line i + 1) gives each pattern's source
 * line and `source` (may be NULL) its file, both used in error messages
 * and reported by context_ignore_match().
 *
 * Returns NULL with *err set (code KILN_EINVAL) for a malformed pattern:
 *   ".dockerignore:3: invalid pattern '[': syntax error in pattern"
 *   ".dockerignore:5: illegal exclusion pattern: \"!\""
 * Caller frees with context_ignore_free().
 */
struct context_ignore *context_ignore_new(const char *const *patterns,
					  size_t nr, const int *lines,
					  const char *source,
					  struct error **err);

/* context_ignore_read() + context_ignore_new() on a file's text. */
struct context_ignore *context_ignore_parse(const char *buf, size_t len,
					    const char *source,
					    struct error **err);

/*
 * Load the ignore file for a build, as BuildKit chooses it:
 * `<dockerfile_path>.dockerignore` when it exists, else `.dockerignore` in
 * the context, else no patterns at all (an empty, valid matcher).
 *
 * `dockerfile_path` is opened relative to `context_dirfd` unless it is
 * absolute, so cmd/ should pass an absolute path for `-f` given relative
 * to the working directory; NULL means "Dockerfile" in the context.
 * Returns NULL with *err set when a file exists but cannot be read or has
 * a bad pattern.  Caller frees with context_ignore_free().
 */
struct context_ignore *context_ignore_load(int context_dirfd,
					   const char *dockerfile_path,
					   struct error **err);

/* The file the patterns came from ("build/app.Dockerfile.dockerignore"),
 * or NULL when none was read.  Borrowed. */
const char *context_ignore_source(const struct context_ignore *ig);

/* Number of compiled patterns. */
size_t context_ignore_count(const struct context_ignore *ig);

/*
 * Is `path` (relative to the context root, `/`-separated) excluded?
 * The path is cleaned first (Go's filepath.Clean); "." is never excluded.
 * Semantics are patternmatcher's MatchesUsingParentResults applied to
 * every parent in turn, exactly what the walker does.
 *
 * When `line` is non-NULL it receives the source line of the pattern that
 * decided (the last one that matched the path or a parent: an exclusion
 * when the result is true, an exception when false), or 0 when no pattern
 * matched.  There is no directory-only pattern in .dockerignore (a
 * trailing `/` is cleaned away), so the entry's type does not matter.
 */
bool context_ignore_match(const struct context_ignore *ig, const char *path,
			  int *line);

/*
 * The deprecated patternmatcher.Matches(file, patterns): like
 * context_ignore_match() but it tries the pattern against the path and
 * against the one parent that has as many elements as the pattern.  Kept
 * for conformance with upstream's tests; builds must not use it.
 */
bool context_ignore_match_legacy(const struct context_ignore *ig,
				 const char *path);

void context_ignore_free(struct context_ignore *ig);

/* ============================================================== walk */

enum context_type {
	CONTEXT_FILE,
	CONTEXT_DIR,
	CONTEXT_SYMLINK,
	CONTEXT_OTHER, /* fifo, socket, device: see `rdev` and `mode` */
};

#define CONTEXT_DIGEST_RAW 32
/* "sha256:" + 64 hex digits + NUL */
#define CONTEXT_DIGEST_STRLEN 72

/* One entry of the context, as lstat() saw it. */
struct context_entry {
	char *path; /* relative, '/'-separated, no "./"; owned */
	enum context_type type;
	mode_t mode; /* full st_mode (type and permission bits) */
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec mtime;
	dev_t rdev;
	char *link; /* symlink target, owned; NULL for other types */
	/* Regular files, after context_hash(): sha256 of the content. */
	bool has_digest;
	unsigned char digest[CONTEXT_DIGEST_RAW];
	/* For the stat cache; not part of any digest. */
	struct timespec ctime;
	ino_t ino;
	dev_t dev;
};

/*
 * The included entries of a context in walk order: depth first, the
 * entries of each directory sorted by name (bytewise), a directory before
 * its contents -- the order BuildKit sends them in.  An excluded directory
 * appears only when something inside it is re-included by an exception.
 */
struct context_walk {
	struct context_entry *entries;
	size_t nr, alloc;
	size_t dirs_read; /* directories listed, for diagnostics and tests */
};
#define CONTEXT_WALK_INIT     \
	{                     \
		NULL, 0, 0, 0 \
	}

/*
 * List the context below `context_dirfd`, skipping what `ig` excludes
 * (`ig` may be NULL: nothing is excluded).  Symlinks are listed, never
 * followed; directories are opened with O_NOFOLLOW one level at a time.
 * An excluded directory is not descended into unless an exception pattern
 * could re-include something in it (BuildKit's rule: when every exception
 * is a plain path, only directories on the way to one; when any exception
 * has a wildcard, all of them).
 * Appends to `out` (initialise with CONTEXT_WALK_INIT); returns 0, or -1
 * with *err set (out is then released).
 */
int context_walk(int context_dirfd, const struct context_ignore *ig,
		 struct context_walk *out, struct error **err);

void context_walk_release(struct context_walk *w);

/* The entry for `path` (cleaned as by context_ignore_match), or NULL. */
const struct context_entry *context_walk_find(const struct context_walk *w,
					      const char *path);

struct context_hash_stats {
	size_t hashed; /* files read and hashed */
	size_t cached; /* digests taken from the stat cache */
	off_t bytes; /* bytes read */
};

/*
 * Compute the sha256 of every regular file in `w` that has no digest yet.
 * With `cache_path` (may be NULL), a stat cache is read from that file:
 * a file whose path, size, mtime, ctime, inode and device are unchanged
 * keeps its cached digest without being read.  The cache is then written
 * back (temporary file, fsync, rename) when anything changed, holding the
 * entries of `w` only.  Entries whose mtime or ctime is not older than
 * the moment they were hashed are not cached (they could still change
 * within the same timestamp tick).  An unreadable or corrupt cache is
 * ignored.  Files are opened beneath `context_dirfd` without following
 * any symlink; a file replaced since the walk is hashed as it is now and
 * its entry's stat fields refreshed.  `stats` may be NULL.
 * Returns 0, or -1 with *err set.
 */
int context_hash(int context_dirfd, struct context_walk *w,
		 const char *cache_path, struct context_hash_stats *stats,
		 struct error **err);

/*
 * The digest of a set of context paths, for COPY/ADD cache keys: sha256
 * over every entry at or below each of `paths` ("." is the whole context),
 * in walk order, each counted once, covering path, type, permission bits,
 * uid, gid and the content digest (files), link target (symlinks) or
 * device number -- never timestamps.  Needs context_hash() first.
 * Writes "sha256:<hex>" to `out`.  Returns 0, or -1 with *err set
 * (KILN_ENOTFOUND when a path is not in `w`).
 */
int context_digest_paths(const struct context_walk *w, const char *const *paths,
			 size_t nr, char out[CONTEXT_DIGEST_STRLEN],
			 struct error **err);

/* Format a raw digest as "sha256:<hex>". */
void context_digest_format(const unsigned char raw[CONTEXT_DIGEST_RAW],
			   char out[CONTEXT_DIGEST_STRLEN]);

#endif
