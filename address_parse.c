/*
 * address_parse.c: the RFC 5322 address-list parser, for address lists as
 * callers really write them.
 *
 * The parser tokenizes first (words, quoted strings, domain literals,
 * specials; comments and whitespace only mark a gap), then walks the tokens
 * with the grammar of RFC 5322 section 3.4, relaxed where real callers are:
 * bare local names ("root"), "Name <root>", empty list elements, a group
 * without its closing ';', obsolete routes in angle addresses.
 */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "address_priv.h"
#include "error.h"

#define QUOTE_MAX 200

enum tok_type { T_WORD, T_QSTR, T_DLIT, T_SPECIAL };

struct tok {
	enum tok_type type;
	const char *p; /* start in the input (quotes included) */
	size_t len;
	int gap; /* whitespace or a comment came before it */
};

struct parser {
	const char *src;
	struct tok *t;
	size_t n;
	size_t cap;
	size_t i;
	struct addr_list out;
	struct error *err;
	size_t *ins; /* offsets in src where an unqualified local part ends */
	size_t nins;
	size_t *insa; /* where each of them starts */
	size_t *insk; /* its index in out */
};

/* Fail with ERR_USAGE, quoting the input (made printable, shortened). */
static int
bad(struct parser *ps, const char *why)
{
	char q[QUOTE_MAX + 4];
	size_t i, n = 0;

	for (i = 0; ps->src[i] != '\0' && n < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)ps->src[i];

		q[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (ps->src[i] != '\0') {
		memcpy(q + n, "...", 3);
		n += 3;
	}
	q[n] = '\0';
	return error_set(
	    ps->err, ERR_USAGE, "invalid address \"%s\": %s", q, why);
}

static int
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* UTF-8 (RFC 6532) */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
push(struct parser *ps, enum tok_type type, const char *p, size_t len, int gap)
{
	struct tok *nv;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap == 0 ? 16 : ps->cap * 2;

		nv = reallocarray(ps->t, cap, sizeof(*nv));
		if (nv == NULL)
			return error_set(ps->err, ERR_OS, "out of memory");
		ps->t = nv;
		ps->cap = cap;
	}
	ps->t[ps->n].type = type;
	ps->t[ps->n].p = p;
	ps->t[ps->n].len = len;
	ps->t[ps->n].gap = gap;
	ps->n++;
	return 0;
}

/*
 * Length of the delimited run at p (quoted string or domain literal, or a
 * comment when close is ')', which nests), or 0 if it never closes.
 */
static size_t
scan_delimited(const char *p, char close, int *ctl)
{
	size_t i = 1;
	int depth = 1;

	for (; p[i] != '\0'; i++) {
		if (is_ctl((unsigned char)p[i]))
			*ctl = 1;
		if (p[i] == '\\' && p[i + 1] != '\0') {
			/*
			 * A quoted-pair does not make a control byte harmless.
			 * Nor a TAB: RFC 5321 allows only 32..126 after '\'.
			 */
			i++;
			if (is_ctl((unsigned char)p[i]) || p[i] == '\t')
				*ctl = 1;
			continue;
		}
		if (close == ')' && p[i] == '(')
			depth++;
		else if (p[i] == close && --depth == 0)
			return i + 1;
	}
	return 0;
}

static const char *
unbalanced(unsigned char c)
{
	switch (c) {
	case '(': return "unbalanced '('";
	case ')': return "unbalanced ')'";
	case '"': return "unbalanced '\"'";
	case '[': return "unbalanced '['";
	default: return "unbalanced ']'";
	}
}

static int
tokenize(struct parser *ps)
{
	const char *p = ps->src;
	int gap = 0, ctl = 0;
	size_t len;

	while (*p != '\0') {
		unsigned char c = (unsigned char)*p;

		if (c == ' ' || c == '\t') {
			gap = 1;
			p++;
			continue;
		}
		if (is_ctl(c))
			return bad(ps, "control character");
		if (c == '(' || c == '"' || c == '[') {
			char close = c == '(' ? ')' : c == '"' ? '"' : ']';

			len = scan_delimited(p, close, &ctl);
			if (len == 0)
				return bad(ps, unbalanced(c));
			if (ctl)
				return bad(ps, "control character");
			if (c == '(') {
				gap = 1;
			} else {
				if (push(ps, c == '"' ? T_QSTR : T_DLIT, p, len,
					gap) == -1)
					return -1;
				gap = 0;
			}
			p += len;
			continue;
		}
		if (c == ')' || c == ']')
			return bad(ps, unbalanced(c));
		if (c == '\\')
			return bad(ps, "backslash outside quotes");
		if (strchr("<>@,;:.", c) != NULL) {
			len = 1;
		} else {
			for (len = 0; is_atext((unsigned char)p[len]); len++)
				;
			if (len == 0)
				return bad(ps, "unexpected character");
		}
		if (push(ps, len == 1 && !is_atext(c) ? T_SPECIAL : T_WORD, p,
			len, gap) == -1)
			return -1;
		gap = 0;
		p += len;
	}
	return 0;
}

static int
at_special(const struct parser *ps, char c)
{
	return ps->i < ps->n && ps->t[ps->i].type == T_SPECIAL &&
	    ps->t[ps->i].p[0] == c;
}

static int
is_wordish(const struct tok *t)
{
	return t->type == T_WORD || t->type == T_QSTR ||
	    (t->type == T_SPECIAL && t->p[0] == '.');
}

/* Append the text of token t to buf: quoted strings lose quotes, escapes. */
static void
put_tok(char *buf, size_t *n, const struct tok *t)
{
	size_t k;

	if (t->type != T_QSTR) {
		memcpy(buf + *n, t->p, t->len);
		*n += t->len;
		return;
	}
	for (k = 1; k + 1 < t->len; k++) {
		if (t->p[k] == '\\')
			k++;
		buf[(*n)++] = t->p[k];
	}
}

static size_t
span_len(const struct parser *ps, size_t a, size_t b)
{
	size_t k, len = 1;

	for (k = a; k < b; k++)
		len += ps->t[k].len + 1;
	return len;
}

/* The display name: words joined by one space where the input had a gap. */
static char *
phrase(struct parser *ps, size_t a, size_t b)
{
	char *s;
	size_t k, n = 0;

	if (a == b)
		return NULL;
	s = malloc(span_len(ps, a, b));
	if (s == NULL)
		return NULL;
	for (k = a; k < b; k++) {
		if (k > a && ps->t[k].gap)
			s[n++] = ' ';
		put_tok(s, &n, &ps->t[k]);
	}
	s[n] = '\0';
	return s;
}

static int
is_dot_atom(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '.')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0')
				return 0;
		} else if (!is_atext((unsigned char)*p)) {
			return 0;
		}
	}
	return 1;
}

/*
 * The local part from tokens [a, b): words separated by dots.  Without
 * quoted strings it is kept as written; with them, the content is quoted
 * again as one quoted-string unless it is a plain dot-atom.
 */
static char *
local_part(struct parser *ps, size_t a, size_t b)
{
	char *s, *q;
	size_t k, n = 0, m = 0;
	int quoted = 0;

	for (k = a; k < b; k++) {
		if (k > a && ps->t[k].type != T_SPECIAL &&
		    ps->t[k - 1].type != T_SPECIAL) {
			bad(ps,
			    "words without '.' before '@' "
			    "(a display name needs <address>)");
			return NULL;
		}
		if (ps->t[k].type == T_QSTR)
			quoted = 1;
	}
	s = malloc(span_len(ps, a, b));
	if (s == NULL)
		goto oom;
	for (k = a; k < b; k++)
		put_tok(s, &n, &ps->t[k]);
	s[n] = '\0';
	if (!quoted || is_dot_atom(s))
		return s;
	q = malloc(2 * n + 3);
	if (q == NULL) {
		free(s);
		goto oom;
	}
	q[m++] = '"';
	for (k = 0; k < n; k++) {
		if (s[k] == '"' || s[k] == '\\')
			q[m++] = '\\';
		q[m++] = s[k];
	}
	q[m++] = '"';
	q[m] = '\0';
	free(s);
	return q;
oom:
	error_set(ps->err, ERR_OS, "out of memory");
	return NULL;
}

/* After '@': a domain literal, or atoms separated by single dots. */
static int
domain(struct parser *ps, size_t *a, size_t *b)
{
	const struct tok *t;
	int want_word = 1;

	*a = ps->i;
	if (ps->i < ps->n && ps->t[ps->i].type == T_DLIT) {
		ps->i++;
		*b = ps->i;
		return 0;
	}
	for (; ps->i < ps->n; ps->i++) {
		t = &ps->t[ps->i];
		if (want_word && t->type == T_WORD)
			want_word = 0;
		else if (!want_word && t->type == T_SPECIAL && t->p[0] == '.')
			want_word = 1;
		else
			break;
	}
	*b = ps->i;
	if (*a == *b)
		return bad(ps, "missing domain after '@'");
	if (want_word)
		return bad(ps, "empty label in domain");
	return 0;
}

/*
 * Remember where a local part without domain starts and ends, and which
 * address it becomes (addr_qualify_text, addr_rewrite_text).
 */
static int
note_unqualified(
    struct parser *ps, const struct tok *first, const struct tok *last)
{
	size_t *nv;

	nv = reallocarray(ps->insa, ps->nins + 1, sizeof(*nv));
	if (nv == NULL)
		return error_set(ps->err, ERR_OS, "out of memory");
	ps->insa = nv;
	nv = reallocarray(ps->insk, ps->nins + 1, sizeof(*nv));
	if (nv == NULL)
		return error_set(ps->err, ERR_OS, "out of memory");
	ps->insk = nv;
	nv = reallocarray(ps->ins, ps->nins + 1, sizeof(*nv));
	if (nv == NULL)
		return error_set(ps->err, ERR_OS, "out of memory");
	ps->ins = nv;
	ps->insa[ps->nins] = (size_t)(first->p - ps->src);
	ps->insk[ps->nins] = ps->out.n;
	ps->ins[ps->nins++] = (size_t)(last->p + last->len - ps->src);
	return 0;
}

/* Build local@domain (or just local) from token ranges; then add it. */
static int
add_spec(struct parser *ps, size_t la, size_t lb, size_t da, size_t db,
    const char *name)
{
	char *local, *addr;
	size_t k, n, len;
	int ret = -1;

	local = local_part(ps, la, lb);
	if (local == NULL)
		return -1;
	n = strlen(local);
	len = n + span_len(ps, da, db) + 1;
	addr = malloc(len);
	if (addr == NULL) {
		free(local);
		return error_set(ps->err, ERR_OS, "out of memory");
	}
	memcpy(addr, local, n);
	if (da == db &&
	    note_unqualified(ps, &ps->t[la], &ps->t[lb - 1]) == -1) {
		free(local);
		free(addr);
		return -1;
	}
	if (da != db)
		addr[n++] = '@';
	for (k = da; k < db; k++)
		put_tok(addr, &n, &ps->t[k]);
	addr[n] = '\0';
	ret = addr_list_add(&ps->out, addr, name, ps->err);
	free(local);
	free(addr);
	return ret;
}

/* A run of words, quoted strings and dots from the current token. */
static size_t
word_run(struct parser *ps)
{
	while (ps->i < ps->n && is_wordish(&ps->t[ps->i]))
		ps->i++;
	return ps->i;
}

/* Obsolete route "@a,@b:" before the addr-spec: checked, then ignored. */
static int
skip_route(struct parser *ps)
{
	size_t a, b;

	while (at_special(ps, '@')) {
		ps->i++;
		if (domain(ps, &a, &b) == -1)
			return -1;
		while (at_special(ps, ','))
			ps->i++;
		if (at_special(ps, ':')) {
			ps->i++;
			return 0;
		}
	}
	return bad(ps, "bad route in angle address");
}

/* After '<': "<>", or [route] addr-spec ">". */
static int
angle_addr(struct parser *ps, const char *name)
{
	size_t la, lb, da, db;

	if (at_special(ps, '>')) {
		ps->i++;
		return addr_list_add(&ps->out, "", name, ps->err);
	}
	if (at_special(ps, '@') && skip_route(ps) == -1)
		return -1;
	la = ps->i;
	lb = word_run(ps);
	if (la == lb)
		return bad(ps,
		    ps->i == ps->n ? "unbalanced '<'"
				   : "expected an address after '<'");
	da = db = lb;
	if (at_special(ps, '@')) {
		ps->i++;
		if (domain(ps, &da, &db) == -1)
			return -1;
	}
	if (!at_special(ps, '>'))
		return bad(ps,
		    ps->i == ps->n ? "unbalanced '<'"
				   : "unexpected text inside <...>");
	ps->i++;
	return add_spec(ps, la, lb, da, db, name);
}

static int address(struct parser *ps, int in_group);

/* After "name:": mailboxes up to ';' (or the end: lenient). */
static int
group(struct parser *ps)
{
	for (;;) {
		while (at_special(ps, ','))
			ps->i++;
		if (ps->i == ps->n)
			return 0;
		if (at_special(ps, ';')) {
			ps->i++;
			return 0;
		}
		if (address(ps, 1) == -1)
			return -1;
		if (!at_special(ps, ',') && !at_special(ps, ';') &&
		    ps->i != ps->n)
			return bad(ps, "expected ',' or ';' in group");
	}
}

/* name-addr, addr-spec, bare local name, or (outside groups) a group. */
static int
address(struct parser *ps, int in_group)
{
	size_t a = ps->i, b, da, db;
	char *name;
	int ret;

	b = word_run(ps);
	if (at_special(ps, '<') || (a == b && at_special(ps, '@'))) {
		if (at_special(ps, '@'))
			return bad(ps, "missing local part before '@'");
		ps->i++;
		name = phrase(ps, a, b);
		if (a != b && name == NULL)
			return error_set(ps->err, ERR_OS, "out of memory");
		ret = angle_addr(ps, name);
		free(name);
		return ret;
	}
	if (at_special(ps, ':')) {
		if (in_group)
			return bad(ps, "group inside a group");
		ps->i++;
		return group(ps);
	}
	if (a == b)
		return bad(
		    ps, ps->i == ps->n ? "no address" : "unexpected character");
	da = db = b;
	if (at_special(ps, '@')) {
		ps->i++;
		if (domain(ps, &da, &db) == -1)
			return -1;
		/* "a@b <a@b>": the first one was meant as a display name. */
		if (at_special(ps, '<')) {
			ps->i++;
			name = phrase(ps, a, db);
			if (name == NULL)
				return error_set(
				    ps->err, ERR_OS, "out of memory");
			ret = angle_addr(ps, name);
			free(name);
			return ret;
		}
	}
	return add_spec(ps, a, b, da, db, NULL);
}

static int
parse_all(struct parser *ps)
{
	if (tokenize(ps) == -1)
		return -1;
	for (;;) {
		while (at_special(ps, ','))
			ps->i++;
		if (ps->i == ps->n)
			return 0;
		if (address(ps, 0) == -1)
			return -1;
		if (ps->i == ps->n)
			return 0;
		if (!at_special(ps, ','))
			return bad(ps,
			    at_special(ps, ';')
				? "';' outside a group"
				: "expected ',' between addresses");
	}
}

int
addr_parse(struct addr_parsed *r, const char *s, struct error *err)
{
	struct parser ps;
	int ret;

	memset(&ps, 0, sizeof(ps));
	ps.src = s;
	ps.err = err;
	ret = parse_all(&ps);
	free(ps.t);
	r->out = ps.out;
	r->ins = ps.ins;
	r->nins = ps.nins;
	r->insa = ps.insa;
	r->insk = ps.insk;
	return ret;
}

void
addr_parsed_free(struct addr_parsed *r)
{
	addr_list_free(&r->out);
	free(r->ins);
	free(r->insa);
	free(r->insk);
}

int
addr_list_parse(struct addr_list *l, const char *s, struct error *err)
{
	struct addr_parsed r;
	int ret = -1;

	if (addr_parse(&r, s, err) == -1)
		goto out;
	if (addr_list_grow(l, r.out.n, err) == -1)
		goto out;
	if (r.out.n > 0)
		memcpy(l->v + l->n, r.out.v, r.out.n * sizeof(*l->v));
	l->n += r.out.n;
	r.out.n = 0;
	ret = 0;
out:
	addr_parsed_free(&r);
	return ret;
}
