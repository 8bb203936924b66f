/*
 * qp.h: a streaming quoted-printable encoder (RFC 2045 6.7) for bodies
 * with lines too long for SMTP.  Constant memory: input comes in pieces of
 * any size, output goes to a sink in pieces.  CRLF in the input is a line
 * break of the output; every other octet (a lone CR or LF, NUL, 8-bit)
 * survives decoding exactly.
 */
#ifndef SMTPSEND_QP_H
#define SMTPSEND_QP_H

#include <stddef.h>

struct error;

typedef int (*qp_sink)(void *ctx, const void *buf, size_t len,
    struct error *err);

struct qp {
	qp_sink	 sink;
	void	*ctx;
	size_t	 col;	/* octets on the current output line */
	int	 ws;	/* a space or tab held back: is it trailing? */
	int	 cr;	/* a CR held back: does LF follow? */
	size_t	 outlen;
	char	 out[4096];
};

/* Start an encoding into sink. */
void	qp_init(struct qp *q, qp_sink sink, void *ctx);

/* Encode n octets of p; 0, or -1 with the sink's error. */
int	qp_feed(struct qp *q, const void *p, size_t n, struct error *err);

/*
 * Flush what is held back; an output line left open ends with a soft
 * break ("=" CRLF), so the output always ends in CRLF and decodes to
 * exactly the input.  0, or -1 with the sink's error.
 */
int	qp_end(struct qp *q, struct error *err);

#endif
