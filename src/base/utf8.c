/*
 * UTF-8 decoding and the Unicode space class with Go's semantics, which
 * BuildKit's shell lexer and moby's .dockerignore reader follow.
 */
#include "base/base.h"

size_t utf8_decode_rune(const unsigned char *s, size_t n, uint32_t *r)
{
	unsigned char c = s[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t w;
	uint32_t v;

	if (c < 0x80) {
		*r = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		w = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		w = 3;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		w = 4;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*r = UTF8_RUNE_ERROR;
		return 1;
	}
	if (n < w || s[1] < lo || s[1] > hi)
		goto bad;
	v = (v << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < w; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*r = v;
	return w;
bad:
	*r = UTF8_RUNE_ERROR;
	return 1;
}

bool go_is_space(uint32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	}
	return r >= 0x2000 && r <= 0x200A;
}
