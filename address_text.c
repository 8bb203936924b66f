/*
 * address_text.c: address-list header text rewritten for sending: every
 * bare local name qualified with the domain, or replaced by its aliases
 * entry, and all the rest (names, comments, groups, spacing) kept as
 * written.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "address_priv.h"
#include "error.h"
#include "strbuf.h"

char *
addr_qualify_text(const char *s, const char *domain, struct error *err)
{
	struct addr_parsed r;
	char *out = NULL;
	size_t i, pos = 0, n = 0, dl = strlen(domain);

	if (addr_parse(&r, s, err) == -1)
		goto out;
	out = malloc(strlen(s) + r.nins * (dl + 1) + 1);
	if (out == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	for (i = 0; i < r.nins; i++) {
		memcpy(out + n, s + pos, r.ins[i] - pos);
		n += r.ins[i] - pos;
		out[n++] = '@';
		memcpy(out + n, domain, dl);
		n += dl;
		pos = r.ins[i];
	}
	memcpy(out + n, s + pos, strlen(s + pos) + 1);
out:
	addr_parsed_free(&r);
	return out;
}

/*
 * What the envelope would make of the bare name: its aliases entry when
 * that is one address, else name@domain (NULL: name@domain).  *out is
 * malloc'ed, or NULL when name@domain it is.
 */
static int
alias_of(const char *name, const struct aliases *a, const char *domain,
    char **out, struct error *err)
{
	struct addr_list one = { 0 };
	const char *r, *at;
	int ret = -1;

	*out = NULL;
	if (a == NULL)
		return 0;
	if (addr_list_add(&one, name, NULL, err) == -1 ||
	    addr_list_resolve(&one, a, domain, err) == -1)
		goto out;
	ret = 0;
	if (one.n != 1)
		goto out;
	r = one.v[0].addr;
	at = addr_at(r);
	if (at != NULL && (size_t)(at - r) == strlen(name) &&
	    strncmp(r, name, strlen(name)) == 0 &&
	    strcasecmp(at + 1, domain) == 0)
		goto out;
	*out = strdup(r);
	if (*out == NULL)
		ret = error_set(err, ERR_OS, "out of memory");
out:
	addr_list_free(&one);
	return ret;
}

char *
addr_rewrite_text(const char *s, const struct aliases *a, const char *domain,
    struct error *err)
{
	struct addr_parsed r;
	struct strbuf b = { 0 };
	char *alias = NULL, *out = NULL;
	size_t i, pos = 0;

	if (addr_parse(&r, s, err) == -1)
		goto out;
	for (i = 0; i < r.nins; i++) {
		if (alias_of(r.out.v[r.insk[i]].addr, a, domain, &alias,
		    err) == -1)
			goto out;
		if (alias != NULL) {
			/* The name itself is replaced by its alias. */
			strbuf_add(&b, s + pos, r.insa[i] - pos);
			strbuf_str(&b, alias);
		} else {
			strbuf_add(&b, s + pos, r.ins[i] - pos);
			strbuf_str(&b, "@");
			strbuf_str(&b, domain);
		}
		free(alias);
		alias = NULL;
		pos = r.ins[i];
	}
	strbuf_str(&b, s + pos);
	if (b.oom || b.p == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	out = b.p;
	b.p = NULL;
out:
	strbuf_free(&b);
	addr_parsed_free(&r);
	return out;
}
