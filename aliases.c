/*
 * aliases.c: msmtp's aliases file ("name: addr, addr", "default: addr",
 * '#' comments) and the resolution of unqualified recipients through it,
 * else by qualifying them with the sender's domain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "error.h"

#define ALIAS_DEPTH_MAX 16
#define ALIAS_EXPAND_MAX 1000 /* recipients coming out of entries */

struct alias {
	char *name;
	struct addr_list to;
};

/* Sorted by name once loaded, so lookups are binary searches. */
struct aliases {
	struct alias *v;
	size_t n;
	size_t cap;
};

/* One addr_list_resolve() run. */
struct expansion {
	const struct aliases *a;
	const char *dom;
	const char *chain[ALIAS_DEPTH_MAX + 1]; /* entries being expanded */
	unsigned char *done; /* per entry: expanded already */
	size_t nfrom; /* recipients added from entries */
	struct addr_list out;
	struct addr_set *seen; /* what out holds */
	struct error *err;
};

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s &&
	    (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	return s;
}

static int
alias_cmp(const void *x, const void *y)
{
	return strcmp(
	    ((const struct alias *)x)->name, ((const struct alias *)y)->name);
}

static const struct alias *
alias_find(const struct aliases *a, const char *name)
{
	struct alias key;

	if (a == NULL || a->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)name;
	return bsearch(&key, a->v, a->n, sizeof(*a->v), alias_cmp);
}

/*
 * One line of the file, already stripped of its comment: "name: list".
 * Names are case-sensitive, have no '@' and no space (as msmtp).
 */
static int
alias_line(struct aliases *a, struct addr_set *names, char *line,
    const char *path, int lnum, struct error *err)
{
	struct alias *nv, *e;
	char *colon, *name;
	struct error perr;
	size_t i, cap;
	int fresh;

	colon = strchr(line, ':');
	if (colon == NULL)
		return error_set(err, ERR_CONFIG,
		    "%s:%d: expected \"name: address, ...\"", path, lnum);
	*colon = '\0';
	name = trim(line);
	if (*name == '\0' || strpbrk(name, "@ \t") != NULL)
		return error_set(err, ERR_CONFIG,
		    "%s:%d: invalid alias name "
		    "\"%s\"",
		    path, lnum, name);
	/* Names have no '@': the set compares them exactly. */
	fresh = addr_set_add(names, name, err);
	if (fresh == -1)
		return -1;
	if (fresh == 0)
		return error_set(err, ERR_CONFIG,
		    "%s:%d: duplicate alias "
		    "\"%s\"",
		    path, lnum, name);
	if (a->n == a->cap) {
		cap = a->cap == 0 ? 16 : a->cap * 2;
		nv = reallocarray(a->v, cap, sizeof(*nv));
		if (nv == NULL)
			return error_set(err, ERR_OS, "out of memory");
		a->v = nv;
		a->cap = cap;
	}
	e = &a->v[a->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (e->name == NULL)
		return error_set(err, ERR_OS, "out of memory");
	a->n++;
	if (addr_list_parse(&e->to, colon + 1, &perr) == -1)
		return error_set(err,
		    perr.kind == ERR_USAGE ? ERR_CONFIG : perr.kind,
		    "%s:%d: %s", path, lnum, perr.msg);
	if (e->to.n == 0)
		return error_set(err, ERR_CONFIG,
		    "%s:%d: alias \"%s\" has no "
		    "address",
		    path, lnum, name);
	/* As given directly, the null address cannot be a recipient. */
	for (i = 0; i < e->to.n; i++)
		if (e->to.v[i].addr[0] == '\0')
			return error_set(err, ERR_CONFIG,
			    "%s:%d: alias \"%s\": the null address <> "
			    "cannot be a recipient",
			    path, lnum, name);
	return 0;
}

int
aliases_load(struct aliases **ap, const char *path, struct error *err)
{
	struct aliases *a;
	struct addr_set *names = NULL;
	FILE *fp;
	char *line = NULL, *hash;
	size_t size = 0;
	int lnum = 0, ret = -1;

	*ap = NULL;
	if (path == NULL || *path == '\0')
		return 0; /* an empty "aliases" turns them off */
	fp = fopen(path, "re");
	if (fp == NULL)
		return error_set(err, ERR_CONFIG, "aliases file %s: %s", path,
		    strerror(errno));
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	names = addr_set_new(0, err);
	if (names == NULL)
		goto out;
	while (getline(&line, &size, fp) != -1) {
		lnum++;
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		if (*trim(line) == '\0')
			continue;
		if (alias_line(a, names, line, path, lnum, err) == -1)
			goto out;
	}
	if (ferror(fp)) {
		error_set(err, ERR_CONFIG, "aliases file %s: read error", path);
		goto out;
	}
	if (a->n > 0)
		qsort(a->v, a->n, sizeof(*a->v), alias_cmp);
	*ap = a;
	a = NULL;
	ret = 0;
out:
	addr_set_free(names);
	aliases_free(a);
	free(line);
	fclose(fp);
	return ret;
}

void
aliases_free(struct aliases *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->v[i].name);
		addr_list_free(&a->v[i].to);
	}
	free(a->v);
	free(a);
}

/*
 * Append addr to the result, with "@domain" when it has none, unless it is
 * there already.  from_entry: it comes out of an aliases entry (capped).
 */
static int
add_unique(struct expansion *x, const char *addr, const char *name,
    int from_entry)
{
	char *q = NULL;
	int ret = 0;

	if (addr_at(addr) == NULL && x->dom != NULL && *x->dom != '\0') {
		if (asprintf(&q, "%s@%s", addr, x->dom) == -1)
			return error_set(x->err, ERR_OS, "out of memory");
		addr = q;
	}
	ret = addr_set_add(x->seen, addr, x->err);
	if (ret <= 0)
		goto out; /* there already, or out of memory */
	ret = 0;
	if (from_entry && x->nfrom++ == ALIAS_EXPAND_MAX) {
		ret = error_set(x->err, ERR_CONFIG,
		    "aliases expand to more than %d recipients",
		    ALIAS_EXPAND_MAX);
		goto out;
	}
	ret = addr_list_add(&x->out, addr, name, x->err);
out:
	free(q);
	return ret;
}

/*
 * Expand one unqualified name.  The "default" entry applies only to the
 * name the caller gave, not to names inside an entry (msmtp applies it
 * there too, which turns "default: root" into a loop).  A name already
 * being expanded is taken literally ("root: root, admin@x").  An entry
 * already expanded adds nothing new: skipping it keeps "a: b, b, b",
 * "b: c, c, c"... from growing as 3^depth.
 */
static int
expand(struct expansion *x, const char *addr, const char *name, int depth)
{
	const struct alias *e;
	size_t i;
	int k;

	e = alias_find(x->a, addr);
	if (e == NULL && depth == 0)
		e = alias_find(x->a, "default");
	for (k = 0; e != NULL && k < depth; k++)
		if (x->chain[k] == e->name)
			e = NULL;
	if (e == NULL)
		return add_unique(x, addr, name, depth > 0);
	if (x->done[e - x->a->v])
		return 0;
	if (depth == ALIAS_DEPTH_MAX)
		return error_set(x->err, ERR_CONFIG,
		    "aliases: more than %d "
		    "levels expanding \"%s\"",
		    ALIAS_DEPTH_MAX, addr);
	x->chain[depth] = e->name;
	for (i = 0; i < e->to.n; i++) {
		const struct addr *v = &e->to.v[i];

		if (addr_at(v->addr) != NULL) {
			if (add_unique(x, v->addr, v->name, 1) == -1)
				return -1;
		} else if (expand(x, v->addr, v->name, depth + 1) == -1) {
			return -1;
		}
	}
	x->done[e - x->a->v] = 1;
	return 0;
}

int
addr_list_resolve(struct addr_list *l, const struct aliases *a,
    const char *domain, struct error *err)
{
	struct expansion x;
	size_t i;

	memset(&x, 0, sizeof(x));
	x.a = a;
	x.dom = domain;
	x.err = err;
	x.seen = addr_set_new(l->n, err);
	if (x.seen == NULL)
		return -1;
	if (a != NULL && a->n > 0 &&
	    (x.done = calloc(a->n, sizeof(*x.done))) == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	for (i = 0; i < l->n; i++) {
		const struct addr *v = &l->v[i];

		if (v->addr[0] == '\0') {
			error_set(err, ERR_USAGE,
			    "the null address <> cannot be a recipient");
			goto fail;
		}
		if (addr_at(v->addr) != NULL) {
			if (add_unique(&x, v->addr, v->name, 0) == -1)
				goto fail;
		} else if (expand(&x, v->addr, v->name, 0) == -1) {
			goto fail;
		}
	}
	free(x.done);
	addr_set_free(x.seen);
	addr_list_free(l);
	*l = x.out;
	return 0;
fail:
	free(x.done);
	addr_set_free(x.seen);
	addr_list_free(&x.out);
	return -1;
}
