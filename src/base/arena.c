/*
 * arena: a bump allocator.  Blocks are chained; every allocation is zeroed
 * and 16-byte aligned; arena_release() frees all blocks at once.  Large
 * requests get a block of their own.
 */
#include "base/base.h"

#define ARENA_BLOCK (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;
	_Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (!size)
		size = 16;
	if (!a->head || a->used + size > a->head->size) {
		size_t bsize = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
		struct arena_block *b = xmalloc(st_add(sizeof(*b), bsize));
		b->size = bsize;
		if (bsize == size && a->head) {
			/* keep bumping in the current block */
			b->next = a->head->next;
			a->head->next = b;
			a->total += size;
			memset(b->data, 0, size);
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		a->used = 0;
	}
	void *p = a->head->data + a->used;
	a->used += size;
	a->total += size;
	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *r = arena_alloc(a, st_add(n, 1));
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *r = arena_alloc(a, n);
	if (n)
		memcpy(r, p, n);
	return r;
}

void arena_release(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = a->total = 0;
}
