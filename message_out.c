/*
 * message_out.c: what leaves the spool: the header changes (added From,
 * Date, Message-ID; Bcc removed; bare names in address fields qualified;
 * To, Cc and Bcc replaced for undisclosed_recipients; a text body with
 * long lines sent quoted-printable), the exact size, and the streaming
 * writer with optional dot-stuffing.  doc/wire-rules.md.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "header.h"
#include "message.h"
#include "message_priv.h"
#include "mime.h"
#include "qp.h"
#include "strbuf.h"

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

/* The first field called name, or NULL. */
static struct field *
find_field(const struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (message_field_is(m, &m->f[i], name))
			return &m->f[i];
	return NULL;
}

/* v without blanks around it, compared with want (case-insensitive). */
static int
value_is(const char *v, const char *want)
{
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/*
 * Why the body cannot be re-encoded (NULL: it can): only a single text
 * part (no Content-Type is text/plain) whose Content-Transfer-Encoding is
 * absent, 7bit or 8bit.  *nocharset: the part declares no charset.
 */
static const char *
why_not_qp(struct message *m, int *nocharset)
{
	struct field *f;
	const char *why = NULL;
	char *v = NULL, *p;

	*nocharset = 1;
	f = find_field(m, "Content-Transfer-Encoding");
	if (f != NULL) {
		v = message_field_value(m, f);
		if (v == NULL)
			return "out of memory";
		if (!value_is(v, "7bit") && !value_is(v, "8bit"))
			why = "the body is already encoded";
		free(v);
		if (why != NULL)
			return why;
	}
	f = find_field(m, "Content-Type");
	if (f == NULL)
		return NULL;
	v = message_field_value(m, f);
	if (v == NULL)
		return "out of memory";
	for (p = v; *p == ' ' || *p == '\t'; p++)
		;
	if (strncasecmp(p, "multipart/", 10) == 0)
		why = "the message is multipart";
	else if (strncasecmp(p, "text/", 5) != 0)
		why = "its body is not text";
	for (; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (strstr(v, "charset") != NULL)
		*nocharset = 0;
	free(v);
	return why;
}

/* What the scan of the spool learns: the encoded size, the charset, and
   the breaks of long lines as message.c's reader counts them. */
struct scan {
	uint64_t qplen;
	int eightbit;
	int bad_utf8;
	int need; /* continuation octets still expected */
	struct qp q;
	struct mime *all; /* counts the breaks of every long line */
};

static int
count_sink(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)buf;
	(void)err;
	((struct scan *)ctx)->qplen += len;
	return 0;
}

/* A UTF-8 check across blocks (overlongs and surrogates let through). */
static void
scan_utf8(struct scan *s, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c >= 0x80)
			s->eightbit = 1;
		if (s->need > 0) {
			if ((c & 0xc0) != 0x80)
				s->bad_utf8 = 1;
			s->need--;
			continue;
		}
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			s->need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			s->need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			s->need = 3;
		else
			s->bad_utf8 = 1;
	}
}

static int
scan_block(void *ctx, const char *p, size_t n, struct error *err)
{
	struct scan *s = ctx;

	scan_utf8(s, (const unsigned char *)p, n);
	if (mime_feed(s->all, p, n, NULL, NULL, err) == -1)
		return -1;
	return qp_feed(&s->q, p, n, err);
}

/* One pass over the spool: the quoted-printable size, the charset, and
   the breaks of every long line (*breaks). */
static int
scan_body(const struct message *m, struct scan *s, uint64_t *breaks,
    struct error *err)
{
	struct mime_result r;
	int ret = -1;

	memset(s, 0, sizeof(*s));
	qp_init(&s->q, count_sink, s);
	s->all = mime_new(0, NULL, NULL);
	if (s->all == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (message_spool_each(m, scan_block, s, err) == -1)
		goto out;
	if (s->need > 0)
		s->bad_utf8 = 1;
	mime_result(s->all, &r);
	*breaks = r.breaks;
	ret = qp_end(&s->q, err);
out:
	mime_free(s->all);
	s->all = NULL;
	return ret;
}

/*
 * A body line over the limit: send the body quoted-printable when it is
 * one text part, so the recipient gets exactly what the caller wrote
 * (else message_write breaks the line).  The MIME fields are fixed:
 * MIME-Version added when missing, Content-Type added (or its charset)
 * from the octets, the old Content-Transfer-Encoding replaced.
 */
static int
choose_qp(struct message *m, struct strbuf *add, struct error *err)
{
	struct scan s;
	struct field *ct;
	struct error ferr;
	const char *charset;
	char *v = NULL, *line = NULL;
	uint64_t breaks;
	int nocharset;

	m->qp = 0;
	m->noqp = NULL;
	m->mime = 0;
	memset(&m->lines, 0, sizeof(m->lines));
	if (m->breaks == 0)
		return 0;
	m->noqp = why_not_qp(m, &nocharset);
	if (m->noqp != NULL)
		return message_plan_lines(m, err);
	if (scan_body(m, &s, &breaks, err) == -1)
		return -1;
	charset = !s.eightbit ? "us-ascii" :
	    !s.bad_utf8 ? "utf-8" : "unknown-8bit";
	if (!message_has_header(m, "MIME-Version"))
		strbuf_str(add, "MIME-Version: 1.0\r\n");
	ct = find_field(m, "Content-Type");
	if (ct == NULL) {
		strbuf_printf(add, "Content-Type: text/plain; charset=%s\r\n",
		    charset);
	} else if (nocharset && s.eightbit) {
		/* Declared text without a charset would mean US-ASCII. */
		v = message_field_value(m, ct);
		if (v == NULL ||
		    asprintf(&line, "%.*s:%s; charset=%s", (int)ct->namelen,
		    m->hdr + ct->off, v, charset) == -1) {
			free(v);
			return error_set(err, ERR_OS, "out of memory");
		}
		free(ct->repl);
		ct->repl = header_fold(line, MESSAGE_LINE_LIMIT, &ferr);
		ct->repllen = ct->repl != NULL ? strlen(ct->repl) : 0;
		free(line);
		free(v);
	}
	strbuf_str(add, "Content-Transfer-Encoding: quoted-printable\r\n");
	mark_drop(m, "Content-Transfer-Encoding");
	m->qp = 1;
	m->qplen = s.qplen;
	return 0;
}

int
message_rescan(struct message *m, int qp, struct error *err)
{
	struct scan s;

	if (scan_body(m, &s, &m->breaks, err) == -1)
		return -1;
	m->qp = qp;
	m->qplen = qp ? s.qplen : 0;
	m->noqp = NULL;
	return message_plan_lines(m, err);
}

int
message_is_qp(const struct message *m)
{
	return m->qp;
}

int
message_fix(
    struct message *m, const struct message_fixes *fx, struct error *err)
{
	char *line[4] = {NULL, NULL, NULL, NULL}, *added;
	struct strbuf mime = {0};
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
	if (choose_qp(m, &mime, err) == -1)
		goto out;
	if (mime.oom) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	if (mime.len > 0) {
		added = realloc(m->added, m->addedlen + mime.len + 1);
		if (added == NULL) {
			error_set(err, ERR_OS, "out of memory");
			goto out;
		}
		memcpy(added + m->addedlen, mime.p, mime.len);
		m->added = added;
		m->addedlen += mime.len;
	}
	ret = 0;
out:
	for (i = 0; i < n; i++)
		free(line[i]);
	strbuf_free(&mime);
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
	return m->addedlen + kept_len(m) + (need_sep(m) ? 2 : 0) +
	    (m->qp ? m->qplen : m->mime ? m->lines.out :
	    m->bodylen + 2 * m->breaks);
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

/* The quoted-printable encoder's sink: on to the wire. */
static int
qp_out(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)err;
	return emit(ctx, buf, len);
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

/* What the body goes through on its way out. */
struct body_out {
	struct writer *w;
	struct qp *q;		/* quoted-printable, or */
	struct mime *mm;	/* breaking long lines, or neither */
};

static int
mime_out(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)err;
	return emit(ctx, buf, len);
}

static int
body_block(void *ctx, const char *p, size_t n, struct error *err)
{
	struct body_out *b = ctx;

	if (b->q != NULL)
		return qp_feed(b->q, p, n, err);
	if (b->mm != NULL)
		return mime_feed(b->mm, p, n, mime_out, b->w, err);
	return emit(b->w, p, n);
}

int
message_write(const struct message *m, int dotstuff, message_sink sink,
    void *ctx, struct error *err)
{
	struct writer w;
	struct qp q;
	struct body_out b = {&w, NULL, NULL};
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.sink = sink;
	w.ctx = ctx;
	w.err = err;
	w.dotstuff = dotstuff;
	w.bol = 1;
	w.out = dotstuff ? malloc(2 * MESSAGE_BLOCK) : NULL;
	if (dotstuff && w.out == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	if (write_headers(m, &w) == -1)
		goto out;
	if (m->qp) {
		qp_init(&q, qp_out, &w);
		b.q = &q;
	} else if (m->mime || m->breaks > 0) {
		b.mm = message_breaker(m, m->mime, err);
		if (b.mm == NULL)
			goto out;
		if (m->lines.marked > 0)
			mime_encode(b.mm, &m->lines);
	}
	if (message_spool_each(m, body_block, &b, err) == -1)
		goto out;
	if (m->qp && qp_end(&q, err) == -1)
		goto out;
	ret = 0;
out:
	mime_free(b.mm);
	free(w.out);
	return ret;
}

static int
strbuf_sink(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)err;
	strbuf_add(ctx, buf, len);
	return 0;
}

int
message_headers(const struct message *m, char **out, size_t *len, int *sep,
    struct error *err)
{
	struct strbuf b = { 0 };
	struct writer w;
	struct message copy = *m;

	*out = NULL;
	*len = 0;
	memset(&w, 0, sizeof(w));
	w.sink = strbuf_sink;
	w.ctx = &b;
	w.err = err;
	w.bol = 1;
	*sep = need_sep(m);
	/* The separator is not part of the block: the queue records it. */
	copy.sep = 0;
	copy.bodylen = 0;
	if (write_headers(&copy, &w) == -1) {
		strbuf_free(&b);
		return -1;
	}
	if (b.oom) {
		strbuf_free(&b);
		return error_set(err, ERR_OS, "out of memory");
	}
	*out = b.p != NULL ? b.p : strdup("");
	*len = b.len;
	return *out == NULL ? error_set(err, ERR_OS, "out of memory") : 0;
}
