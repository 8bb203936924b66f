/*
 * message_header.c: the questions asked of a spooled message's header
 * block (message.c indexes it): is a field there, its unfolded value, the
 * addresses of one field, and the -t recipients (To, Cc, Bcc, or those of
 * the topmost Resent- block).  doc/wire-rules.md.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "error.h"
#include "message.h"
#include "message_priv.h"

int
message_field_is(
    const struct message *m, const struct field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && strncasecmp(m->hdr + f->off, name, n) == 0;
}

int
message_has_header(const struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (message_field_is(m, &m->f[i], name))
			return 1;
	return 0;
}

char *
message_field_value(const struct message *m, const struct field *f)
{
	const char *p = m->hdr + f->off, *end = p + f->len;
	char *v;
	size_t n = 0;

	p = (const char *)memchr(p, ':', f->len) + 1;
	v = malloc((size_t)(end - p) + 1);
	if (v == NULL)
		return NULL;
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			v[n++] = *p;
	v[n] = '\0';
	return v;
}

/* Parse the (unfolded) value of one address field into l. */
static int
field_addresses(const struct message *m, const struct field *f,
    struct addr_list *l, struct error *err)
{
	struct error perr;
	char *v;
	size_t i, first = l->n;
	int ret = 0;

	v = message_field_value(m, f);
	if (v == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (addr_list_parse(l, v, &perr) == -1) {
		if (perr.kind == ERR_USAGE)
			error_set(err, ERR_DATA, "%.*s header: %s",
			    (int)f->namelen, m->hdr + f->off, perr.msg);
		else
			*err = perr;
		ret = -1;
	}
	for (i = first; ret == 0 && i < l->n; i++)
		if (l->v[i].addr[0] == '\0')
			ret = error_set(err, ERR_DATA,
			    "%.*s header: <> is not a recipient",
			    (int)f->namelen, m->hdr + f->off);
	free(v);
	return ret;
}

int
message_header_addrs(const struct message *m, const char *name,
    struct addr_list *l, struct error *err)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (message_field_is(m, &m->f[i], name))
			return field_addresses(m, &m->f[i], l, err);
	return 0;
}

static int
is_resent(const struct message *m, const struct field *f)
{
	return f->namelen > 7 &&
	    strncasecmp(m->hdr + f->off, "Resent-", 7) == 0;
}

/*
 * The topmost Resent- block: the run of Resent-* fields starting at the
 * first one; a second Resent-Date, -From, -Sender or -Message-ID (one per
 * block, RFC 5322 3.6.6) starts the next block.  Returns its end index.
 */
static size_t
resent_block(const struct message *m, size_t *start)
{
	static const char *const once[] = {
	    "Resent-Date", "Resent-From", "Resent-Sender", "Resent-Message-ID"};
	unsigned seen = 0;
	size_t i, k;

	for (i = 0; i < m->nf && !is_resent(m, &m->f[i]); i++)
		;
	*start = i;
	for (; i < m->nf && is_resent(m, &m->f[i]); i++) {
		for (k = 0; k < 4; k++) {
			if (!message_field_is(m, &m->f[i], once[k]))
				continue;
			if (seen & (1u << k))
				return i;
			seen |= 1u << k;
		}
	}
	return i;
}

int
message_recipients(
    const struct message *m, struct addr_list *l, struct error *err)
{
	static const char *const plain[] = {"To", "Cc", "Bcc"};
	static const char *const resent[] = {
	    "Resent-To", "Resent-Cc", "Resent-Bcc"};
	const char *const *names = plain;
	size_t i, k, start = 0, end = m->nf;

	for (i = 0; i < m->nf; i++) {
		if (is_resent(m, &m->f[i])) {
			end = resent_block(m, &start);
			names = resent;
			break;
		}
	}
	for (i = start; i < end; i++)
		for (k = 0; k < 3; k++)
			if (message_field_is(m, &m->f[i], names[k]) &&
			    field_addresses(m, &m->f[i], l, err) == -1)
				return -1;
	return 0;
}
