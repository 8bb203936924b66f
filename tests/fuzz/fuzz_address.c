/*
 * fuzz_address.c: the RFC 5322 address-list parser (addr_list_parse) and
 * the header rewriter built on it (addr_qualify_text), on the text of a
 * To/Cc/From header or a command-line recipient.  Input is used up to its
 * first NUL (the functions take C strings).
 *
 * Invariants checked besides memory safety: a failed parse leaves the list
 * as it was; parsed addresses hold no control bytes and no empty domain;
 * addr_qualify_text accepts exactly what addr_list_parse accepts, and its
 * output parses again to the same addresses with "@example.org" added to
 * every unqualified one; addr_set finds exactly the repeated addresses.
 */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "error.h"
#include "fuzz.h"

#define DOMAIN "example.org"

static void
check_addr(const struct addr *a)
{
	const unsigned char *p;
	const char *at;

	FUZZ_ASSERT(a->addr != NULL);
	/* A TAB may come from folding inside a quoted local part. */
	for (p = (const unsigned char *)a->addr; *p != '\0'; p++)
		FUZZ_ASSERT((*p >= 0x20 || *p == '\t') && *p != 0x7f);
	at = addr_at(a->addr);
	if (at != NULL)
		FUZZ_ASSERT(at[1] != '\0' && at != a->addr);
	if (a->name != NULL)
		for (p = (const unsigned char *)a->name; *p != '\0'; p++)
			FUZZ_ASSERT(*p != '\r' && *p != '\n');
}

/* The same address up to the case of the domain. */
static int
same(const char *a, const char *b)
{
	const char *da = addr_at(a), *db = addr_at(b);

	if (da == NULL || db == NULL)
		return da == db && strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0 &&
	    strcasecmp(da, db) == 0;
}

/*
 * 1 if addr has a domain: an '@' outside quoted strings (and domain
 * literals).  Written out here, not addr_at(), to check it: "a@b" with
 * the quotes is a local part without domain.
 */
static int
has_domain(const char *addr)
{
	const char *p;
	char close = '\0';

	for (p = addr; *p != '\0'; p++) {
		if (close != '\0' && *p == '\\' && p[1] != '\0')
			p++;
		else if (close != '\0' && *p == close)
			close = '\0';
		else if (close == '\0' && (*p == '"' || *p == '['))
			close = *p == '"' ? '"' : ']';
		else if (close == '\0' && *p == '@')
			return 1;
	}
	return 0;
}

static void
check_qualified(const struct addr_list *orig, const char *q)
{
	struct addr_list l = { NULL, 0, 0 };
	struct error err;
	char want[8192];
	size_t i;

	error_clear(&err);
	FUZZ_ASSERT(addr_list_parse(&l, q, &err) == 0);
	FUZZ_ASSERT(l.n == orig->n);
	for (i = 0; i < l.n; i++) {
		if (orig->v[i].addr[0] == '\0' ||
		    has_domain(orig->v[i].addr)) {
			FUZZ_ASSERT(strcmp(l.v[i].addr, orig->v[i].addr) == 0);
			continue;
		}
		snprintf(want, sizeof(want), "%s@%s", orig->v[i].addr, DOMAIN);
		FUZZ_ASSERT(strcmp(l.v[i].addr, want) == 0);
	}
	addr_list_free(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list l = { NULL, 0, 0 }, orig;
	struct error err;
	struct addr_set *set;
	char *s, *q;
	size_t i, j;
	int rc;

	if (size > 4096)
		return 0;
	s = fuzz_strndup(data, size);
	error_clear(&err);
	if (addr_list_add(&l, "sentinel@example.net", NULL, &err) == -1)
		abort();
	rc = addr_list_parse(&l, s, &err);
	if (rc == -1) {
		FUZZ_ASSERT(err.kind == ERR_USAGE);
		FUZZ_ASSERT(l.n == 1);
		FUZZ_ASSERT(strcmp(l.v[0].addr, "sentinel@example.net") == 0);
	} else {
		FUZZ_ASSERT(l.n >= 1);
		for (i = 0; i < l.n; i++) {
			check_addr(&l.v[i]);
			FUZZ_ASSERT(has_domain(l.v[i].addr) ==
			    (addr_domain(l.v[i].addr) != NULL));
		}
	}

	error_clear(&err);
	q = addr_qualify_text(s, DOMAIN, &err);
	FUZZ_ASSERT((q != NULL) == (rc == 0));
	if (q != NULL) {
		/* Compare without the sentinel. */
		orig.v = l.v + 1;
		orig.n = orig.cap = l.n - 1;
		check_qualified(&orig, q);
		free(q);
	}

	/* The set says "new" exactly when no earlier address is the same. */
	set = addr_set_new(0, &err);
	FUZZ_ASSERT(set != NULL);
	for (i = 0; i < l.n; i++) {
		int dup = 0;

		FUZZ_ASSERT(addr_domain(l.v[i].addr) == NULL ||
		    addr_domain(l.v[i].addr) > l.v[i].addr);
		(void)addr_is_ascii(l.v[i].addr);
		for (j = 0; j < i; j++)
			dup |= same(l.v[i].addr, l.v[j].addr);
		FUZZ_ASSERT(addr_set_add(set, l.v[i].addr, &err) == !dup);
		FUZZ_ASSERT(addr_set_has(set, l.v[i].addr));
	}
	addr_set_free(set);
	addr_list_free(&l);
	free(s);
	return 0;
}
