/*
 * message_out.c: what leaves the spool: the header changes (added From,
 * Date, Message-ID; Bcc removed; bare names in address fields qualified;
 * To, Cc and Bcc
 * replaced for undisclosed_recipients), the exact size, and
 * the streaming writer with optional dot-stuffing.  doc/wire-rules.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "header.h"
#include "message.h"
#include "message_priv.h"

static void
mark_drop(struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (message_field_is(m, &m->f[i], name))
			m->f[i].drop = 1;
}

/* The address fields a bare name is qualified in (Postfix's
   append_at_myorigin for local submissions); 1: as a recipient. */
static const struct {
	const char *name;
	int rcpt;
} addr_fields[] = {
	{"From", 0}, {"Sender", 0}, {"Reply-To", 1}, {"To", 1}, {"Cc", 1},
	{"Resent-From", 0}, {"Resent-Sender", 0}, {"Resent-To", 1},
	{"Resent-Cc", 1},
};

/* -1 when f is no address field, else 1 for a recipient field. */
static int
addr_field(const struct message *m, const struct field *f)
{
	size_t k;

	for (k = 0; k < sizeof(addr_fields) / sizeof(addr_fields[0]); k++)
		if (message_field_is(m, f, addr_fields[k].name))
			return addr_fields[k].rcpt;
	return -1;
}

/*
 * Each kept address field naming bare local users ("root (Cron Daemon)",
 * "Anacron <root>", cron's "To: root") gets @domain after each, or, in a
 * recipient field, the user's aliases entry when that is one address: what
 * the envelope got.  The field is otherwise kept as written (unfolded,
 * then folded again where a line would pass 998).  A field that does not
 * parse, or cannot be folded, is left alone.
 */
static int
qualify_fields(
    struct message *m, const struct message_fixes *fx, struct error *err)
{
	const char *dom =
	    fx->domain != NULL ? fx->domain : addr_domain(fx->from_addr);
	struct error perr;
	struct field *f;
	char *v, *q, *line = NULL;
	size_t i, name;
	int rcpt, ret = -1;

	for (i = 0; dom != NULL && *dom != '\0' && i < m->nf; i++) {
		f = &m->f[i];
		rcpt = addr_field(m, f);
		if (f->drop || rcpt == -1)
			continue;
		v = message_field_value(m, f);
		if (v == NULL)
			return error_set(err, ERR_OS, "out of memory");
		q = addr_rewrite_text(v, rcpt ? fx->aliases : NULL, dom, &perr);
		if (q == NULL && perr.kind != ERR_USAGE &&
		    perr.kind != ERR_CONFIG) {
			*err = perr;
			goto out;
		}
		name = (size_t)((const char *)memchr(
				    m->hdr + f->off, ':', f->len) -
			   (m->hdr + f->off)) +
		    1;
		if (q != NULL && strcmp(q, v) != 0) {
			if (asprintf(&line, "%.*s%s", (int)name,
				m->hdr + f->off, q) == -1) {
				line = NULL;
				error_set(err, ERR_OS, "out of memory");
				goto out;
			}
			f->repl = header_fold(line, MESSAGE_LINE_LIMIT, &perr);
			if (f->repl == NULL && perr.kind != ERR_USAGE) {
				*err = perr;
				goto out;
			}
			f->repllen = f->repl != NULL ? strlen(f->repl) : 0;
		}
		free(line);
		free(v);
		free(q);
		line = v = q = NULL;
	}
	return 0;
out:
	free(line);
	free(v);
	free(q);
	return ret;
}

int
message_fix(
    struct message *m, const struct message_fixes *fx, struct error *err)
{
	char *line[4] = {NULL, NULL, NULL, NULL}, *added;
	size_t i, n = 0, len = 0;
	int want_from, ret = -1;

	want_from = fx->from_addr != NULL && fx->from_addr[0] != '\0' &&
	    (fx->from_mode == 1 ||
		(fx->from_mode == -1 && !message_has_header(m, "From")));
	if (want_from) {
		line[n] = header_from(fx->from_addr, fx->from_name, err);
		if (line[n++] == NULL)
			goto out;
	}
	if (fx->add_date && !message_has_header(m, "Date")) {
		line[n] = header_date(time(NULL), err);
		if (line[n++] == NULL)
			goto out;
	}
	if (fx->msgid_domain != NULL && !message_has_header(m, "Message-ID")) {
		line[n] = header_msgid(fx->msgid_domain, err);
		if (line[n++] == NULL)
			goto out;
	}
	if (fx->undisclosed) {
		/* An empty group: the recipients stay out of the headers. */
		line[n] = strdup("To: undisclosed-recipients:;\r\n");
		if (line[n++] == NULL) {
			error_set(err, ERR_OS, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		len += strlen(line[i]);
	added = malloc(len + 1);
	if (added == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	for (i = 0, len = 0; i < n; i++) {
		memcpy(added + len, line[i], strlen(line[i]));
		len += strlen(line[i]);
	}
	free(m->added);
	m->added = added;
	m->addedlen = len;
	message_reset_fixes(m);
	if (want_from && fx->from_mode == 1)
		mark_drop(m, "From");
	if (fx->remove_bcc) {
		mark_drop(m, "Bcc");
		mark_drop(m, "Resent-Bcc");
	}
	if (fx->undisclosed) {
		mark_drop(m, "To");
		mark_drop(m, "Cc");
		mark_drop(m, "Bcc");
	}
	if (!fx->keep_addrs && qualify_fields(m, fx, err) == -1)
		goto out;
	ret = 0;
out:
	for (i = 0; i < n; i++)
		free(line[i]);
	return ret;
}

static size_t
kept_len(const struct message *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nf; i++)
		if (!m->f[i].drop)
			n += m->f[i].repl != NULL ? m->f[i].repllen
						  : m->f[i].len;
	return n;
}

/*
 * The empty line goes out when the input had one, or when a body follows
 * headers (the input's header block ended at a line that was no header).
 */
static int
need_sep(const struct message *m)
{
	if (m->sep)
		return 1;
	return m->bodylen > 0 && m->addedlen + kept_len(m) > 0;
}

uint64_t
message_size(const struct message *m)
{
	return m->addedlen + kept_len(m) + (need_sep(m) ? 2 : 0) + m->bodylen;
}

struct writer {
	message_sink sink;
	void *ctx;
	struct error *err;
	int dotstuff;
	int bol; /* the next octet starts a line */
	char *out; /* 2 * MESSAGE_BLOCK: room for every dot doubled */
};

/* Send p, doubling dots at line starts when dot-stuffing. */
static int
emit(struct writer *w, const char *p, size_t n)
{
	size_t i, k, chunk, end;
	const char *nl;

	while (n > 0) {
		chunk = n > MESSAGE_BLOCK ? MESSAGE_BLOCK : n;
		if (!w->dotstuff) {
			if (w->sink(w->ctx, p, chunk, w->err) == -1)
				return -1;
		} else {
			for (i = 0, k = 0; i < chunk; i = end) {
				if (w->bol && p[i] == '.')
					w->out[k++] = '.';
				nl = memchr(p + i, '\n', chunk - i);
				end = nl != NULL ? (size_t)(nl - p) + 1 : chunk;
				memcpy(w->out + k, p + i, end - i);
				k += end - i;
				w->bol = nl != NULL;
			}
			if (w->sink(w->ctx, w->out, k, w->err) == -1)
				return -1;
		}
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static int
write_headers(const struct message *m, struct writer *w)
{
	size_t i, run = 0, runlen = 0;

	if (emit(w, m->added, m->addedlen) == -1)
		return -1;
	/* Consecutive fields sent as read go out in one piece. */
	for (i = 0; i <= m->nf; i++) {
		if (i < m->nf && !m->f[i].drop && m->f[i].repl == NULL) {
			if (runlen == 0)
				run = m->f[i].off;
			runlen += m->f[i].len;
			continue;
		}
		if (runlen > 0 && emit(w, m->hdr + run, runlen) == -1)
			return -1;
		runlen = 0;
		if (i < m->nf && !m->f[i].drop && m->f[i].repl != NULL &&
		    emit(w, m->f[i].repl, m->f[i].repllen) == -1)
			return -1;
	}
	if (need_sep(m) && emit(w, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
message_write(const struct message *m, int dotstuff, message_sink sink,
    void *ctx, struct error *err)
{
	struct writer w;
	char *in;
	uint64_t off = 0;
	ssize_t n;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.sink = sink;
	w.ctx = ctx;
	w.err = err;
	w.dotstuff = dotstuff;
	w.bol = 1;
	in = malloc(MESSAGE_BLOCK);
	w.out = dotstuff ? malloc(2 * MESSAGE_BLOCK) : NULL;
	if (in == NULL || (dotstuff && w.out == NULL)) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	if (write_headers(m, &w) == -1)
		goto out;
	while (off < m->bodylen) {
		size_t want = m->bodylen - off > MESSAGE_BLOCK
		    ? MESSAGE_BLOCK
		    : (size_t)(m->bodylen - off);

		n = pread(m->fd, in, want, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, ERR_IO, "cannot read the spool file: %s",
			    n == 0 ? "unexpected end" : strerror(errno));
			goto out;
		}
		if (emit(&w, in, (size_t)n) == -1)
			goto out;
		off += (uint64_t)n;
	}
	ret = 0;
out:
	free(in);
	free(w.out);
	return ret;
}
