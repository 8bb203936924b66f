/*
 * message.c: the spool.  stdin is read once, in fixed blocks, through a
 * small per-byte state machine that normalises line ends, drops NULs,
 * breaks over-long lines and splits the header block from the body.  The
 * header block (capped) stays in memory and is indexed; the body goes to an
 * unlinked temporary file (message_spool.c).  Header questions (-t
 * recipients) are in message_header.c; message_out.c changes headers and
 * streams the message back out.
 * doc/wire-rules.md lists every rule applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "message.h"
#include "message_priv.h"

#define HDR_MAX (1024 * 1024)

/* Where the current input line stands while the header block is read. */
enum lstate {
	L_START, /* nothing yet on this line */
	L_NAME, /* a possible field name */
	L_NAMEWSP, /* field name then blanks: "Subject :" (obsolete) */
	L_HEADER, /* a header field line or a continuation */
	L_DROP, /* mbox "From " line: discarded */
};

struct reader {
	struct message *m;
	struct error *err;
	enum lstate ls;
	int in_body;
	int first; /* still on the first input line */
	int have_field; /* a field line was seen: continuations ok */
	int cr; /* the last byte was CR: LF pairs with it */
	size_t col; /* octets on the current output line */
	size_t lim; /* its limit */
	size_t line; /* header phase: its offset in m->hdr */
	size_t outlen;
	char out[MESSAGE_BLOCK]; /* body octets on their way to the spool */
};

static int
spool_flush(struct reader *r)
{
	size_t done = 0;
	ssize_t n;

	while (done < r->outlen) {
		n = write(r->m->fd, r->out + done, r->outlen - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == ENOSPC || errno == EDQUOT) &&
		    r->m->fd_queue) {
			/* This block again, after bodylen, in the new spool. */
			if (message_spool_move(r->m, r->err) == -1)
				return -1;
			done = 0;
			continue;
		}
		if (n == -1)
			return error_set(r->err, ERR_IO,
			    "cannot write the spool file: %s", strerror(errno));
		done += (size_t)n;
	}
	r->m->bodylen += r->outlen;
	r->outlen = 0;
	return 0;
}

static int
body_put(struct reader *r, char c)
{
	if ((unsigned char)c >= 0x80)
		r->m->eightbit = 1;
	r->out[r->outlen++] = c;
	if (r->outlen == sizeof(r->out))
		return spool_flush(r);
	return 0;
}

static int
hdr_reserve(struct reader *r, size_t more)
{
	struct message *m = r->m;
	size_t cap;
	char *p;

	if (m->hdrlen + more <= m->hdrcap)
		return 0;
	if (m->hdrlen + more > HDR_MAX)
		return error_set(r->err, ERR_DATA,
		    "the message header block "
		    "is larger than %d KiB (no empty line after the headers?)",
		    HDR_MAX / 1024);
	cap = m->hdrcap == 0 ? 4096 : m->hdrcap * 2;
	while (cap < m->hdrlen + more)
		cap *= 2;
	if (cap > HDR_MAX)
		cap = HDR_MAX;
	p = realloc(m->hdr, cap);
	if (p == NULL)
		return error_set(r->err, ERR_OS, "out of memory");
	m->hdr = p;
	m->hdrcap = cap;
	return 0;
}

/* A line starting with '.' gets one octet less: dot-stuffing adds one. */
static size_t
limit_for(char first)
{
	return first == '.' ? MESSAGE_LINE_LIMIT - 1 : MESSAGE_LINE_LIMIT;
}

/*
 * Append c to the body.  A line reaching the limit is kept whole in the
 * spool (the writer re-encodes it, or breaks it where the break is
 * counted here, so that message_size() is exact either way).
 */
static int
body_byte(struct reader *r, char c)
{
	if (r->col >= r->lim) {
		r->m->breaks++;
		r->col = 0;
	}
	if (r->col == 0)
		r->lim = limit_for(c);
	r->col++;
	return body_put(r, c);
}

/*
 * The current line is not a header field: the header block ends before it
 * and it becomes the first body line (no separator in the input).  The
 * first input line "From ..." is an mbox separator and is dropped instead.
 */
static int
to_body(struct reader *r)
{
	struct message *m = r->m;
	size_t k, len = m->hdrlen - r->line;

	if (r->first && len >= 5 && memcmp(m->hdr + r->line, "From ", 5) == 0) {
		m->hdrlen = r->line;
		r->ls = L_DROP;
		return 0;
	}
	r->in_body = 1;
	m->sep = 0;
	r->col = 0;
	for (k = 0; k < len; k++)
		if (body_byte(r, m->hdr[r->line + k]) == -1)
			return -1;
	m->hdrlen = r->line;
	return 0;
}

/*
 * Fold the current header line, which is at its limit: before the last
 * blank that follows some text (unfolding gives the line back); else after
 * the last comma (an address list "a@x,b@y" stays one: the space a fold
 * leaves is allowed around the comma); else by inserting CRLF and a space
 * here.  On a field's first line only a place after the colon qualifies: a
 * fold inside "Bcc :" (the obsolete blank before the colon, RFC 5322
 * 4.5.3) would turn the field name into "Bcc" CRLF and hide the field from
 * Bcc removal and -t.
 */
static int
hdr_fold(struct reader *r)
{
	struct message *m = r->m;
	size_t p, q = r->line, at = m->hdrlen;
	const char *colon;

	if (hdr_reserve(r, 3) == -1)
		return -1;
	if (m->hdr[q] != ' ' && m->hdr[q] != '\t') {
		/* hdr_byte stores the colon before the line can be full. */
		colon = memchr(m->hdr + q, ':', m->hdrlen - q);
		q = (size_t)(colon - m->hdr);
	}
	while (q < m->hdrlen && (m->hdr[q] == ' ' || m->hdr[q] == '\t'))
		q++;
	for (p = m->hdrlen - 1; p > q; p--)
		if (m->hdr[p] == ' ' || m->hdr[p] == '\t')
			break;
	if (p > q) {
		memmove(m->hdr + p + 2, m->hdr + p, m->hdrlen - p);
		memcpy(m->hdr + p, "\r\n", 2);
		m->hdrlen += 2;
		r->line = p + 2;
	} else {
		for (p = m->hdrlen - 1; p > q; p--)
			if (m->hdr[p] == ',')
				break;
		if (p > q)
			at = p + 1;
		memmove(m->hdr + at + 3, m->hdr + at, m->hdrlen - at);
		memcpy(m->hdr + at, "\r\n ", 3);
		m->hdrlen += 3;
		r->line = at + 2;
	}
	r->col = m->hdrlen - r->line;
	r->lim = MESSAGE_LINE_LIMIT;
	return 0;
}

static int
is_name_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != ':';
}

/* One octet (not CR, LF or NUL) while the header block is being read. */
static int
hdr_byte(struct reader *r, unsigned char c)
{
	int blank = c == ' ' || c == '\t';

	switch (r->ls) {
	case L_DROP: return 0;
	case L_START:
		if (blank && r->have_field)
			r->ls = L_HEADER;
		else if (is_name_char(c))
			r->ls = L_NAME;
		else
			goto body;
		r->lim = limit_for((char)c);
		break;
	case L_NAME:
	case L_NAMEWSP:
		/*
		 * The name and its colon must fit on the first line: no fold
		 * may come before the colon.  Blanks between them that would
		 * not fit are dropped (they carry no meaning); a name that
		 * leaves no room for the colon is none.
		 */
		if (c == ':') {
			r->ls = L_HEADER;
			r->have_field = 1;
		} else if (blank) {
			r->ls = L_NAMEWSP;
			if (r->col + 1 >= r->lim)
				return 0;
		} else if (r->ls == L_NAMEWSP || !is_name_char(c) ||
		    r->col + 1 >= r->lim) {
			goto body;
		}
		break;
	case L_HEADER: break;
	}
	if (r->col >= r->lim && hdr_fold(r) == -1)
		return -1;
	if (hdr_reserve(r, 1) == -1)
		return -1;
	r->m->hdr[r->m->hdrlen++] = (char)c;
	r->col++;
	return 0;
body:
	if (to_body(r) == -1)
		return -1;
	if (r->ls == L_DROP)
		return 0;
	return body_byte(r, (char)c);
}

/* End of an input line (LF, CR or CRLF). */
static int
eol(struct reader *r)
{
	struct message *m = r->m;
	int first = r->first;

	r->first = 0;
	if (!r->in_body) {
		switch (r->ls) {
		case L_START:
			m->sep = 1; /* the empty line: not stored */
			r->in_body = 1;
			r->col = 0;
			return 0;
		case L_DROP: r->ls = L_START; return 0;
		case L_HEADER:
			if (hdr_reserve(r, 2) == -1)
				return -1;
			memcpy(m->hdr + m->hdrlen, "\r\n", 2);
			m->hdrlen += 2;
			r->line = m->hdrlen;
			r->col = 0;
			r->ls = L_START;
			return 0;
		case L_NAME:
		case L_NAMEWSP:
			r->first = first;
			if (to_body(r) == -1)
				return -1;
			r->first = 0;
			if (r->ls == L_DROP) {
				r->ls = L_START;
				return 0;
			}
			break;
		}
	}
	r->col = 0;
	if (body_put(r, '\r') == -1)
		return -1;
	return body_put(r, '\n');
}

/*
 * The body's fast path: copy the run of plain octets (no CR, LF or NUL) at
 * p, up to the line limit, in one go.  *used says how many were taken.
 */
static int
body_run(struct reader *r, const unsigned char *p, size_t n, size_t *used)
{
	size_t k, room, chunk;
	unsigned char acc = 0;

	*used = 1;
	if (r->col >= r->lim) {
		r->m->breaks++;
		r->col = 0;
	}
	if (r->col == 0)
		r->lim = limit_for((char)p[0]);
	room = r->lim - r->col;
	for (k = 0; k < n && k < room; k++) {
		if (p[k] == '\r' || p[k] == '\n' || p[k] == '\0')
			break;
		acc |= p[k];
	}
	if (acc & 0x80)
		r->m->eightbit = 1;
	r->col += k;
	*used = k;
	while (k > 0) {
		chunk = sizeof(r->out) - r->outlen;
		if (chunk > k)
			chunk = k;
		memcpy(r->out + r->outlen, p, chunk);
		r->outlen += chunk;
		p += chunk;
		k -= chunk;
		if (r->outlen == sizeof(r->out) && spool_flush(r) == -1)
			return -1;
	}
	return 0;
}

static int
feed(struct reader *r, const unsigned char *p, size_t n)
{
	size_t i, used;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '\0')
			continue;
		if (r->cr) {
			r->cr = 0;
			if (c == '\n')
				continue;
		}
		if (c == '\r' || c == '\n') {
			r->cr = c == '\r';
			rc = eol(r);
		} else if (r->in_body) {
			rc = body_run(r, p + i, n - i, &used);
			i += used - 1;
		} else {
			rc = hdr_byte(r, c);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* At EOF: end an unterminated line, flush, and index the header block. */
static int
finish(struct reader *r)
{
	struct message *m = r->m;
	size_t pos, k, cap = 0;
	struct field *f;

	if ((r->in_body && r->col > 0) ||
	    (!r->in_body && r->ls != L_START && r->ls != L_DROP)) {
		if (eol(r) == -1)
			return -1;
	}
	if (spool_flush(r) == -1)
		return -1;
	for (pos = 0; pos < m->hdrlen; pos++)
		if ((unsigned char)m->hdr[pos] >= 0x80)
			m->eightbit = 1;
	for (pos = 0; pos < m->hdrlen;) {
		const char *nl = memchr(m->hdr + pos, '\n', m->hdrlen - pos);
		size_t end = (size_t)(nl - m->hdr) + 1;

		if (m->hdr[pos] == ' ' || m->hdr[pos] == '\t') {
			m->f[m->nf - 1].len += end - pos;
		} else {
			if (m->nf == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				f = reallocarray(m->f, cap, sizeof(*f));
				if (f == NULL)
					return error_set(
					    r->err, ERR_OS, "out of memory");
				m->f = f;
			}
			f = &m->f[m->nf++];
			memset(f, 0, sizeof(*f));
			f->off = pos;
			f->len = end - pos;
			for (k = pos; m->hdr[k] != ':'; k++)
				;
			while (k > pos &&
			    (m->hdr[k - 1] == ' ' || m->hdr[k - 1] == '\t'))
				k--;
			f->namelen = k - pos;
		}
		pos = end;
	}
	return 0;
}

int
message_read(struct message **mp, int fd, const char *tmpdir, struct error *err)
{
	struct message *m;
	struct reader *r = NULL;
	unsigned char *in = NULL;
	ssize_t n;
	int ret = -1;

	*mp = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	m->fd = -1;
	r = calloc(1, sizeof(*r));
	in = malloc(MESSAGE_BLOCK);
	if (r == NULL || in == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	r->m = m;
	r->err = err;
	r->first = 1;
	r->lim = MESSAGE_LINE_LIMIT;
	if (message_spool_open(m, tmpdir, err) == -1)
		goto out;
	for (;;) {
		n = read(fd, in, MESSAGE_BLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, ERR_IO, "cannot read the message: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (feed(r, in, (size_t)n) == -1)
			goto out;
	}
	if (finish(r) == -1)
		goto out;
	*mp = m;
	m = NULL;
	ret = 0;
out:
	if (ret == -1)
		message_drain(fd);
	message_free(m);
	free(r);
	free(in);
	return ret;
}

int
message_is_empty(const struct message *m)
{
	return m->hdrlen == 0 && m->bodylen == 0 && !m->sep;
}

/* message_read's reader, fed by the caller (-bs). */
struct message_input {
	struct reader r;
};

int
message_input_new(
    struct message_input **ip, const char *tmpdir, struct error *err)
{
	struct message_input *in;

	*ip = NULL;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return error_set(err, ERR_OS, "out of memory");
	in->r.m = calloc(1, sizeof(*in->r.m));
	if (in->r.m == NULL) {
		free(in);
		return error_set(err, ERR_OS, "out of memory");
	}
	in->r.m->fd = -1;
	in->r.first = 1;
	in->r.lim = MESSAGE_LINE_LIMIT;
	if (message_spool_open(in->r.m, tmpdir, err) == -1) {
		message_input_free(in);
		return -1;
	}
	*ip = in;
	return 0;
}

int
message_input_feed(struct message_input *in, const void *buf, size_t len,
    struct error *err)
{
	in->r.err = err;
	return feed(&in->r, buf, len);
}

int
message_input_end(
    struct message_input *in, struct message **mp, struct error *err)
{
	int ret = -1;

	*mp = NULL;
	in->r.err = err;
	if (finish(&in->r) == 0) {
		*mp = in->r.m;
		in->r.m = NULL;
		ret = 0;
	}
	message_input_free(in);
	return ret;
}

void
message_input_free(struct message_input *in)
{
	if (in == NULL)
		return;
	message_free(in->r.m);
	free(in);
}

void
message_drain(int fd)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
	}
}

void
message_reset_fixes(struct message *m)
{
	size_t i;

	for (i = 0; i < m->nf; i++) {
		m->f[i].drop = 0;
		free(m->f[i].repl);
		m->f[i].repl = NULL;
		m->f[i].repllen = 0;
	}
}

void
message_free(struct message *m)
{
	if (m == NULL)
		return;
	if (m->fd != -1)
		close(m->fd);
	message_reset_fixes(m);
	free(m->hdr);
	free(m->f);
	free(m->added);
	free(m);
}

int
message_is_8bit(const struct message *m)
{
	return m->eightbit;
}

int
message_from_queue(struct message **mp, const char *hdr, size_t hdrlen,
    int bodyfd, uint64_t bodylen, int sep, int eightbit, int qp,
    struct error *err)
{
	struct message *m;
	struct reader *r;
	int ret = -1;

	*mp = NULL;
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	if (m == NULL || r == NULL) {
		free(m);
		free(r);
		return error_set(err, ERR_OS, "out of memory");
	}
	/* The stored block went through this reader once: reading it again
	   indexes it and changes nothing.  Its last line ends the block. */
	m->fd = -1;
	r->m = m;
	r->err = err;
	r->first = 1;
	r->lim = MESSAGE_LINE_LIMIT;
	if (feed(r, (const unsigned char *)hdr, hdrlen) == -1 ||
	    feed(r, (const unsigned char *)"\r\n", 2) == -1 ||
	    finish(r) == -1)
		goto out;
	if (m->bodylen != 0) {
		error_set(err, ERR_DATA, "the queued header block is damaged");
		goto out;
	}
	m->fd = bodyfd;
	m->bodylen = bodylen;
	m->sep = sep;
	m->eightbit = m->eightbit || eightbit;
	if (message_rescan(m, qp, err) == -1)
		goto out;
	*mp = m;
	m = NULL;
	ret = 0;
out:
	if (m != NULL)
		m->fd = -1;	/* bodyfd stays the caller's on failure */
	message_free(m);
	free(r);
	return ret;
}
