/*
 * Small containers used by the tar writer and the extractor: a string set
 * (paths unpacked by this layer, hardlink sources keyed by device:inode).
 */
#include "archive/archive-internal.h"

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static struct archive_strset_slot *
find_slot(struct archive_strset_slot *slots, size_t alloc, const char *key)
{
	size_t mask = alloc - 1, i = fnv1a(key) & mask;
	while (slots[i].key && strcmp(slots[i].key, key))
		i = (i + 1) & mask;
	return &slots[i];
}

static void strset_grow(struct archive_strset *s)
{
	size_t nalloc = s->alloc ? s->alloc * 2 : 64;
	struct archive_strset_slot *n = xcalloc(nalloc, sizeof(*n));
	for (size_t i = 0; i < s->alloc; i++)
		if (s->slots[i].key)
			*find_slot(n, nalloc, s->slots[i].key) = s->slots[i];
	free(s->slots);
	s->slots = n;
	s->alloc = nalloc;
}

struct archive_strset_slot *archive_strset_put(struct archive_strset *s,
					       const char *key, bool *added)
{
	/* Keep the load factor under 1/2. */
	if ((s->nr + 1) * 2 > s->alloc)
		strset_grow(s);
	struct archive_strset_slot *slot = find_slot(s->slots, s->alloc, key);
	if (added)
		*added = !slot->key;
	if (!slot->key) {
		slot->key = xstrdup(key);
		slot->val = 0;
		s->nr++;
	}
	return slot;
}

struct archive_strset_slot *archive_strset_get(const struct archive_strset *s,
					       const char *key)
{
	if (!s->alloc)
		return NULL;
	struct archive_strset_slot *slot = find_slot(s->slots, s->alloc, key);
	return slot->key ? slot : NULL;
}

void archive_strset_clear(struct archive_strset *s)
{
	for (size_t i = 0; i < s->alloc; i++)
		free(s->slots[i].key);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

char *archive_clean_skip(const char *p)
{
	while (*p == '/' || (p[0] == '.' && p[1] == '/'))
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return xstrndup(p, n);
}
