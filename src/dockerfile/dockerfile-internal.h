/*
 * Helpers shared by the Dockerfile parser (parser.c) and its dumpers
 * (dump.c).  Not part of the module's API.
 */
#ifndef KILN_DOCKERFILE_INTERNAL_H
#define KILN_DOCKERFILE_INTERNAL_H

#include "dockerfile/dockerfile.h"

/*
 * Decode one UTF-8 sequence at p (p < end).  Returns its length (1-4) and
 * sets *cp, or returns 0 for an invalid, overlong, surrogate or truncated
 * sequence (Go's utf8.DecodeRune would return RuneError of width 1).
 */
size_t dfp_utf8_decode(const char *p, const char *end, uint32_t *cp);

/*
 * When p starts with a character Go's unicode.IsSpace accepts (ASCII
 * \t \n \v \f \r and space, U+0085, U+00A0 and the other Unicode White_Space
 * characters), return its length in bytes; otherwise 0.
 */
size_t dfp_space_len(const char *p, const char *end);

/* Append s as Go's strconv.Quote writes it. */
void dfp_go_quote(struct strbuf *out, const char *s, size_t len);

#endif
