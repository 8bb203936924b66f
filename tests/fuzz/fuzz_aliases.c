/*
 * fuzz_aliases.c: the aliases file parser (aliases_load) and the
 * expansion of recipients through it (addr_list_resolve).
 *
 * Input: the first line is a recipient list (parsed with addr_list_parse;
 * "root" when it does not parse), the rest is the aliases file, read from
 * an in-memory file.  Checked besides memory safety: after a successful
 * resolve every recipient has an '@' and no two are the same (dedupe), and
 * a failed resolve leaves the list as it was.
 */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "error.h"
#include "fuzz.h"

/* The same address up to the case of the domain, written out here. */
static int
same(const char *a, const char *b)
{
	const char *da = addr_at(a), *db = addr_at(b);

	if (da == NULL || db == NULL)
		return da == db && strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0 &&
	    strcasecmp(da, db) == 0;
}

static void
check_resolved(const struct addr_list *l)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		FUZZ_ASSERT(l->v[i].addr != NULL);
		FUZZ_ASSERT(addr_domain(l->v[i].addr) != NULL);
		/* no duplicate of an earlier one */
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(!same(l->v[i].addr, l->v[j].addr));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list l = { NULL, 0, 0 };
	struct aliases *a = NULL;
	struct error err;
	const uint8_t *nl;
	char path[64], *first;
	size_t firstlen, before;
	int fd;

	if (size > 8192)
		return 0;
	nl = memchr(data, '\n', size);
	firstlen = nl != NULL ? (size_t)(nl - data) : size;
	first = fuzz_strndup(data, firstlen);
	error_clear(&err);
	if (addr_list_parse(&l, first, &err) == -1 || l.n == 0) {
		addr_list_free(&l);
		error_clear(&err);
		if (addr_list_add(&l, "root", NULL, &err) == -1)
			abort();
	}
	free(first);
	if (nl != NULL) {
		data = nl + 1;
		size -= firstlen + 1;
	} else
		size = 0;

	fd = fuzz_memfile(data, size, path, sizeof(path));
	error_clear(&err);
	if (aliases_load(&a, path, &err) == -1) {
		FUZZ_ASSERT(a == NULL);
		FUZZ_ASSERT(err.kind == ERR_CONFIG || err.kind == ERR_OS);
	} else {
		FUZZ_ASSERT(a != NULL);
		before = l.n;
		error_clear(&err);
		if (addr_list_resolve(&l, a, "example.org", &err) == 0)
			check_resolved(&l);
		else
			FUZZ_ASSERT(l.n == before);
	}
	aliases_free(a);
	addr_list_free(&l);
	close(fd);
	return 0;
}
