/*
 * strbuf: growable byte buffer, git's invariants (never NULL, always
 * NUL-terminated).  An optional hard cap bounds what untrusted input can
 * make us allocate; checked appends fail cleanly instead of growing past it.
 */
#include "base/base.h"

char strbuf_slopbuf[1];

void strbuf_init(struct strbuf *sb, size_t hint)
{
	sb->alloc = sb->len = sb->cap = 0;
	sb->buf = strbuf_slopbuf;
	if (hint)
		strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	size_t cap = sb->cap;
	strbuf_init(sb, 0);
	sb->cap = cap;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *r;
	if (len)
		*len = sb->len;
	if (!sb->alloc)
		r = xstrdup("");
	else
		r = sb->buf;
	size_t cap = sb->cap;
	strbuf_init(sb, 0);
	sb->cap = cap;
	return r;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need = st_add(st_add(sb->len, extra), 1);
	if (need <= sb->alloc)
		return;
	bool fresh = !sb->alloc;
	if (fresh)
		sb->buf = NULL;
	ALLOC_GROW(sb->buf, need, sb->alloc);
	if (fresh)
		sb->buf[0] = '\0';
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (len > (sb->alloc ? sb->alloc - 1 : 0))
		BUG("strbuf_setlen beyond allocation");
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

static void check_cap(struct strbuf *sb, size_t len)
{
	if (sb->cap && sb->len + len > sb->cap)
		die("internal buffer limit of %zu bytes exceeded", sb->cap);
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	check_cap(sb, len);
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

int strbuf_add_checked(struct strbuf *sb, const void *data, size_t len)
{
	if (sb->cap && (len > sb->cap || sb->len > sb->cap - len))
		return -1;
	strbuf_add(sb, data, len);
	return 0;
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;
	strbuf_add(sb, &ch, 1);
}

void strbuf_addbuf(struct strbuf *sb, const struct strbuf *other)
{
	strbuf_add(sb, other->buf, other->len);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		BUG("vsnprintf failed for format '%s'", fmt);
	check_cap(sb, (size_t)n);
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

void strbuf_rtrim(struct strbuf *sb)
{
	while (sb->len && is_space(sb->buf[sb->len - 1]))
		sb->len--;
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
}

void strbuf_ltrim(struct strbuf *sb)
{
	size_t i = 0;
	while (i < sb->len && is_space(sb->buf[i]))
		i++;
	if (!i)
		return;
	memmove(sb->buf, sb->buf + i, sb->len - i);
	sb->len -= i;
	sb->buf[sb->len] = '\0';
}

void strbuf_trim(struct strbuf *sb)
{
	strbuf_rtrim(sb);
	strbuf_ltrim(sb);
}

int strbuf_read_fd(struct strbuf *sb, int fd)
{
	size_t oldlen = sb->len;
	for (;;) {
		strbuf_grow(sb, 65536);
		size_t room = sb->alloc - sb->len - 1;
		if (sb->cap && room > sb->cap - sb->len + 1)
			room = sb->cap - sb->len + 1;
		ssize_t n = read(fd, sb->buf + sb->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			strbuf_setlen(sb, oldlen);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
		if (sb->cap && sb->len > sb->cap) {
			strbuf_setlen(sb, oldlen);
			errno = E2BIG;
			return -1;
		}
	}
	return 0;
}

int strbuf_read_file(struct strbuf *sb, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = strbuf_read_fd(sb, fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return ret;
}
