/*
 * context: what ignore.c shares with the walker in context.c.
 */
#ifndef KILN_CONTEXT_INTERNAL_H
#define KILN_CONTEXT_INTERNAL_H

#include "context/context.h"

/* Go's path/filepath.Clean on path[0..len); returns a new string. */
char *context_clean_path(const char *path, size_t len);

/*
 * One step of patternmatcher's MatchesUsingParentResults for `path`
 * (path[0..len)): `parent` is the per-pattern vector the parent directory
 * produced (NULL at the top level: then parents are checked from the path
 * itself), `out` receives this path's vector (context_ignore_count()
 * bytes).  Returns whether the path is excluded; *line (may be NULL) gets
 * the deciding pattern's line or 0.
 */
bool context_ignore_step(const struct context_ignore *ig, const char *path,
			 size_t len, const unsigned char *parent,
			 unsigned char *out, int *line);

/*
 * May something below the excluded directory `dir` be re-included by an
 * exception?  BuildKit's rule (fsutil): true for every directory when an
 * exception has a wildcard, else only when an exception (less a trailing
 * `/ **` or `/ *`) lies below `dir`.
 */
bool context_ignore_may_reinclude(const struct context_ignore *ig,
				  const char *dir);

#endif
