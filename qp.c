/*
 * qp.c: quoted-printable encoding, streamed (see qp.h).  Output lines stay
 * within 76 octets with their soft break, blanks before a line end are
 * encoded (transports strip them), and a dot starting a line is encoded
 * too, so no output line is "." however the body is sent.
 */
#include <string.h>

#include "qp.h"

#define QP_LINE 76

static int
flush(struct qp *q, struct error *err)
{
	size_t n = q->outlen;

	q->outlen = 0;
	if (n == 0)
		return 0;
	return q->sink(q->ctx, q->out, n, err);
}

static int
put(struct qp *q, const char *s, size_t n, struct error *err)
{
	if (q->outlen + n > sizeof(q->out) && flush(q, err) == -1)
		return -1;
	memcpy(q->out + q->outlen, s, n);
	q->outlen += n;
	return 0;
}

/* One octet, literal or =XX, after a soft break when it would not fit. */
static int
token(struct qp *q, unsigned char c, int literal, struct error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];
	size_t n = literal ? 1 : 3;

	/* Room for the token and the "=" of a soft break after it. */
	if (q->col + n > QP_LINE - 1) {
		if (put(q, "=\r\n", 3, err) == -1)
			return -1;
		q->col = 0;
	}
	if (literal && c == '.' && q->col == 0)
		return token(q, c, 0, err);
	enc[0] = (char)c;
	if (!literal) {
		enc[0] = '=';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 15];
	}
	q->col += n;
	return put(q, enc, n, err);
}

static int
is_literal(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '=';
}

/* The held-back blank, literal (more follows on the line) or encoded. */
static int
flush_ws(struct qp *q, int literal, struct error *err)
{
	int c = q->ws;

	q->ws = 0;
	if (c == 0)
		return 0;
	return token(q, (unsigned char)c, literal, err);
}

void
qp_init(struct qp *q, qp_sink sink, void *ctx)
{
	memset(q, 0, sizeof(*q));
	q->sink = sink;
	q->ctx = ctx;
}

int
qp_feed(struct qp *q, const void *p, size_t n, struct error *err)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (q->cr) {
			q->cr = 0;
			if (c == '\n') {
				/* A hard line break: a blank before it is
				   encoded. */
				if (flush_ws(q, 0, err) == -1 ||
				    put(q, "\r\n", 2, err) == -1)
					return -1;
				q->col = 0;
				continue;
			}
			if (flush_ws(q, 1, err) == -1 ||
			    token(q, '\r', 0, err) == -1)
				return -1;
		}
		if (c == '\r') {
			q->cr = 1;
			continue;
		}
		if (flush_ws(q, 1, err) == -1)
			return -1;
		if (c == ' ' || c == '\t')
			q->ws = c;
		else if (token(q, c, is_literal(c), err) == -1)
			return -1;
	}
	return 0;
}

int
qp_end(struct qp *q, struct error *err)
{
	if (q->cr) {
		q->cr = 0;
		if (flush_ws(q, 1, err) == -1 || token(q, '\r', 0, err) == -1)
			return -1;
	}
	if (flush_ws(q, 0, err) == -1)
		return -1;
	if (q->col > 0) {
		if (put(q, "=\r\n", 3, err) == -1)
			return -1;
		q->col = 0;
	}
	return flush(q, err);
}
