/*
 * address.c: lists of addresses, the set that finds duplicates among
 * them, and the parts of one address (where its domain starts).  The
 * parser that fills the lists is address_parse.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "address_priv.h"
#include "error.h"

int
addr_list_grow(struct addr_list *l, size_t more, struct error *err)
{
	struct addr *nv;
	size_t cap;

	if (l->n + more <= l->cap)
		return 0;
	cap = l->cap == 0 ? 8 : l->cap;
	while (cap < l->n + more)
		cap *= 2;
	nv = reallocarray(l->v, cap, sizeof(*nv));
	if (nv == NULL)
		return error_set(err, ERR_OS, "out of memory");
	l->v = nv;
	l->cap = cap;
	return 0;
}

int
addr_list_add(
    struct addr_list *l, const char *addr, const char *name, struct error *err)
{
	char *a, *nm = NULL;

	if (addr_list_grow(l, 1, err) == -1)
		return -1;
	a = strdup(addr);
	if (name != NULL)
		nm = strdup(name);
	if (a == NULL || (name != NULL && nm == NULL)) {
		free(a);
		free(nm);
		return error_set(err, ERR_OS, "out of memory");
	}
	l->v[l->n].addr = a;
	l->v[l->n].name = nm;
	l->n++;
	return 0;
}

static int
addr_same(const char *a, const char *b)
{
	const char *da = addr_at(a), *db = addr_at(b);

	if (da == NULL || db == NULL)
		return da == db && strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0 &&
	    strcasecmp(da, db) == 0;
}

/*
 * The set is an open-addressing hash table of copies, kept at most half
 * full, so each lookup is a few probes: -t with 100,000 recipients and
 * aliases expansion stay linear.
 */
struct set_slot {
	char *addr; /* NULL: empty */
	size_t hash;
};

struct addr_set {
	struct set_slot *slot;
	size_t cap; /* a power of two */
	size_t n;
};

/* FNV-1a of the local part as is and the domain in lower case. */
static size_t
addr_hash(const char *addr)
{
	const char *at = addr_at(addr), *p;
	uint64_t h = 14695981039346656037ULL;
	unsigned char c;

	for (p = addr; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (at != NULL && p > at && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

/* The slot holding addr, or the empty slot where it belongs. */
static struct set_slot *
set_find(const struct addr_set *s, const char *addr, size_t hash)
{
	size_t i = hash & (s->cap - 1);

	while (s->slot[i].addr != NULL &&
	    (s->slot[i].hash != hash || !addr_same(s->slot[i].addr, addr)))
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

/* Rehash into a table twice as big, or of at least 2 * want slots. */
static int
set_grow(struct addr_set *s, size_t want, struct error *err)
{
	struct addr_set bigger;
	size_t i;

	bigger.cap = s->cap == 0 ? 64 : s->cap * 2;
	while (bigger.cap < 2 * want && bigger.cap < ((size_t)1 << 40))
		bigger.cap *= 2;
	bigger.n = s->n;
	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (bigger.slot == NULL)
		return error_set(err, ERR_OS, "out of memory");
	for (i = 0; i < s->cap; i++)
		if (s->slot[i].addr != NULL)
			*set_find(&bigger, s->slot[i].addr, s->slot[i].hash) =
			    s->slot[i];
	free(s->slot);
	*s = bigger;
	return 0;
}

struct addr_set *
addr_set_new(size_t hint, struct error *err)
{
	struct addr_set *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		error_set(err, ERR_OS, "out of memory");
		return NULL;
	}
	if (set_grow(s, hint, err) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

int
addr_set_has(const struct addr_set *s, const char *addr)
{
	return set_find(s, addr, addr_hash(addr))->addr != NULL;
}

int
addr_set_add(struct addr_set *s, const char *addr, struct error *err)
{
	size_t hash = addr_hash(addr);
	struct set_slot *slot = set_find(s, addr, hash);

	if (slot->addr != NULL)
		return 0;
	if (2 * (s->n + 1) > s->cap) {
		if (set_grow(s, 0, err) == -1)
			return -1;
		slot = set_find(s, addr, hash);
	}
	slot->addr = strdup(addr);
	if (slot->addr == NULL)
		return error_set(err, ERR_OS, "out of memory");
	slot->hash = hash;
	s->n++;
	return 1;
}

void
addr_set_free(struct addr_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->cap; i++)
		free(s->slot[i].addr);
	free(s->slot);
	free(s);
}

void
addr_list_free(struct addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].addr);
		free(l->v[i].name);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
addr_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

const char *
addr_domain(const char *addr)
{
	const char *at = addr_at(addr);

	return at == NULL ? NULL : at + 1;
}

/*
 * What the parser builds is a dot-atom or one quoted string, '@', then
 * atoms or a domain literal; addresses from elsewhere may have more '@'
 * (the last one wins, as before).  Quoted strings and domain literals may
 * hold '@' and backslash pairs.
 */
const char *
addr_at(const char *addr)
{
	const char *p, *at = NULL;
	char close = '\0';

	if (addr == NULL)
		return NULL;
	for (p = addr; *p != '\0'; p++) {
		if (close != '\0') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == close)
				close = '\0';
		} else if (*p == '"') {
			close = '"';
		} else if (*p == '[') {
			close = ']';
		} else if (*p == '@') {
			at = p;
		}
	}
	return at;
}
