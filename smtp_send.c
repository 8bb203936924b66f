/*
 * smtp_send.c: the transaction of the smtp module (declared in smtp.h):
 * MAIL, every RCPT, then DATA and the body, or BDAT.  With PIPELINING the
 * commands go out in one write and the replies are read in order; without
 * it, one at a time.  Recipients are all-or-nothing.  Only the public
 * smtp.h primitives are used, so this file knows nothing of the transport.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "error.h"
#include "io.h"
#include "message.h"
#include "smtp.h"

/* One transaction: what smtp_send decides once and the refusals it meets. */
struct txn {
	struct smtp *s;
	const struct smtp_envelope *env;
	const struct message *m;
	unsigned long long size;
	int pipelining;
	int chunking;
	int dsn; /* DSN parameters go out */
	int utf8; /* a non-ASCII address */
	char *refused; /* "<a>: 550 ...\n<b>..." */
	size_t refused_len;
	FILE *refused_fp;
	size_t nrefused;
	struct smtp_reply temp; /* first 4xx refusal */
	struct smtp_reply perm; /* first 5xx not 5.1.x */
	struct smtp_reply user; /* first 5.1.x */
};

static int
is_ascii(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return 0;
	return 1;
}

/* An address that can go between < and > on a command line. */
static int
check_addr(const char *a, int empty_ok, struct error *err)
{
	const char *p;

	if (a[0] == '\0' && !empty_ok)
		return error_set(err, ERR_USAGE, "empty recipient address");
	for (p = a; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '<' ||
		    *p == '>')
			return error_set(
			    err, ERR_USAGE, "invalid address \"%s\"", a);
	return 0;
}

/* RFC 3461 xtext, for ENVID. */
static void
put_xtext(FILE *fp, const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=')
			fputc(*p, fp);
		else
			fprintf(fp, "+%02X", (unsigned char)*p);
	}
}

/* Keyword values go out upper case ("failure,delay" -> "FAILURE,DELAY"). */
static void
put_upper(FILE *fp, const char *p)
{
	for (; *p != '\0'; p++)
		fputc((*p >= 'a' && *p <= 'z') ? *p - 32 : *p, fp);
}

/* Checks made before anything is sent: addresses, size, SMTPUTF8. */
static int
txn_check(struct txn *t, struct error *err)
{
	const struct smtp_envelope *env = t->env;
	const struct smtp_caps *c = smtp_caps(t->s);
	size_t i;

	if (check_addr(env->from, 1, err) == -1)
		return -1;
	if (env->rcpts == NULL || env->rcpts->n == 0)
		return error_set(err, ERR_USAGE, "no recipients");
	t->utf8 = !is_ascii(env->from);
	for (i = 0; i < env->rcpts->n; i++) {
		if (check_addr(env->rcpts->v[i].addr, 0, err) == -1)
			return -1;
		if (!is_ascii(env->rcpts->v[i].addr))
			t->utf8 = 1;
	}
	if ((c->flags & SMTP_CAP_SIZE) && c->size > 0 && t->size > c->size) {
		error_set(err, ERR_UNAVAILABLE,
		    "message too large: %llu > %llu bytes (the server's SIZE "
		    "limit)",
		    t->size, c->size);
		err->step = "MAIL FROM";
		return -1;
	}
	if (t->utf8 && (c->flags & SMTP_CAP_SMTPUTF8) == 0) {
		error_set(err, ERR_UNAVAILABLE,
		    "the server does not offer SMTPUTF8, needed for a "
		    "non-ASCII address");
		err->step = "MAIL FROM";
		return -1;
	}
	return 0;
}

/*
 * Close fp, the memstream that builds *line (fclose() sets *line), and
 * queue the command.
 */
static int
queue_built(struct txn *t, FILE *fp, char **line, struct error *err)
{
	int rc;

	if (fclose(fp) != 0) {
		free(*line);
		return error_set(err, ERR_OS, "out of memory");
	}
	rc = smtp_queue(t->s, *line, NULL, err);
	free(*line);
	return rc;
}

/* Queue the MAIL FROM line with every parameter the server understands. */
static int
queue_mail(struct txn *t, struct error *err)
{
	const struct smtp_envelope *env = t->env;
	const struct smtp_caps *c = smtp_caps(t->s);
	char *line = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&line, &len)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	fprintf(fp, "MAIL FROM:<%s>", env->from);
	if (c->flags & SMTP_CAP_SIZE)
		fprintf(fp, " SIZE=%llu", t->size);
	/* 8-bit content without 8BITMIME goes out as is (msmtp, Postfix). */
	if (c->flags & SMTP_CAP_8BITMIME) {
		if (env->body == 8 || message_is_8bit(t->m))
			fputs(" BODY=8BITMIME", fp);
		else if (env->body == 7)
			fputs(" BODY=7BIT", fp);
	}
	if (t->utf8)
		fputs(" SMTPUTF8", fp);
	if (t->dsn && env->dsn_return != NULL) {
		fputs(" RET=", fp);
		put_upper(fp, env->dsn_return);
	}
	if (t->dsn && env->dsn_envid != NULL) {
		fputs(" ENVID=", fp);
		put_xtext(fp, env->dsn_envid);
	}
	return queue_built(t, fp, &line, err);
}

static int
queue_rcpt(struct txn *t, const char *addr, struct error *err)
{
	char *line = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&line, &len)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	fprintf(fp, "RCPT TO:<%s>", addr);
	if (t->dsn && t->env->dsn_notify != NULL) {
		fputs(" NOTIFY=", fp);
		put_upper(fp, t->env->dsn_notify);
	}
	return queue_built(t, fp, &line, err);
}

/* Keep the first reply of a kind (the refusal error quotes its code). */
static void
keep(struct smtp_reply *dst, const struct smtp_reply *r)
{
	if (dst->code != 0)
		return;
	dst->code = r->code;
	memcpy(dst->status, r->status, sizeof(dst->status));
}

/* Remember a refused recipient for the one error that names them all. */
static void
note_refusal(struct txn *t, const char *addr, const struct smtp_reply *r)
{
	fprintf(t->refused_fp, "%s<%s>: %d %s", t->nrefused > 0 ? "\n" : "",
	    addr, r->code, r->text);
	t->nrefused++;
	if (r->code / 100 == 4)
		keep(&t->temp, r);
	else if (strncmp(r->status, "5.1.", 4) == 0)
		keep(&t->user, r);
	else
		keep(&t->perm, r);
}

/* Any 4xx: temporary; every refusal 5.1.x: "no such user"; else 5xx. */
static int
refusal_error(struct txn *t, struct error *err)
{
	const struct smtp_reply *r = &t->temp;

	if (r->code == 0)
		r = t->perm.code != 0 ? &t->perm : &t->user;
	fflush(t->refused_fp);
	error_reply(err, ERR_REPLY, "RCPT TO", r->code, r->status, t->refused,
	    "RCPT TO: the server refused %zu of %zu recipients, so nothing was "
	    "sent",
	    t->nrefused, t->env->rcpts->n);
	return -1;
}

struct body_sink {
	struct io *io;
	unsigned long long n;
};

static int
body_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct body_sink *b = ctx;

	b->n += len;
	return io_write(b->io, buf, len, err);
}

/*
 * The end of the transaction: after 354, the dot-stuffed body and ".";
 * or "BDAT n LAST" and the body as is.  QUIT rides along when pipelining.
 * A partial body is never ended: on any error the connection is dropped.
 */
static int
send_body(struct txn *t, int bdat, struct error *err)
{
	struct smtp *s = t->s;
	struct body_sink sink = {smtp_io(s), 0};
	const char *step = bdat ? "BDAT" : "end of data";
	struct smtp_reply r;
	char line[64];
	int rc = -1;

	snprintf(line, sizeof(line), "BDAT %llu LAST", t->size);
	if (bdat && smtp_queue(s, line, NULL, err) == -1)
		return -1;
	if (message_write(t->m, !bdat, body_write, &sink, err) == -1)
		goto drop;
	if (smtp_verbose(s) != NULL)
		fprintf(smtp_verbose(s), "--> [message body: %llu bytes]\n",
		    sink.n);
	if (bdat && sink.n != t->size) {
		error_set(err, ERR_INTERNAL,
		    "message size changed while sending (%llu, announced %llu)",
		    sink.n, t->size);
		goto drop;
	}
	if ((!bdat && smtp_queue(s, ".", NULL, err) == -1) ||
	    (t->pipelining && smtp_queue(s, "QUIT", NULL, err) == -1) ||
	    smtp_flush(s, step, err) == -1)
		goto drop;
	if (smtp_read_reply(s, step, &r, err) == -1)
		return -1;
	if (r.code / 100 == 2)
		rc = 0;
	else
		smtp_reply_error(
		    err, step, &r, "the server refused the message");
	smtp_reply_free(&r);
	return rc;
drop:
	smtp_drop(s);
	return smtp_error_step(err, step);
}

/* The reply to a pipelined command; or, one at a time, send and read. */
static int
reply_to(
    struct txn *t, const char *step, struct smtp_reply *r, struct error *err)
{
	if (!t->pipelining)
		return smtp_exchange(t->s, step, r, err);
	return smtp_read_reply(t->s, step, r, err);
}

static int
queue_envelope(struct txn *t, struct error *err)
{
	size_t i;

	if (queue_mail(t, err) == -1)
		return -1;
	for (i = 0; i < t->env->rcpts->n; i++)
		if (queue_rcpt(t, t->env->rcpts->v[i].addr, err) == -1)
			return -1;
	if (!t->chunking && smtp_queue(t->s, "DATA", NULL, err) == -1)
		return -1;
	return smtp_flush(t->s, "MAIL FROM", err);
}

/*
 * The replies to a pipelined DATA: 354 only counts when MAIL and every
 * RCPT were accepted; a 354 that came anyway is answered by dropping the
 * connection, so the server never sees the end of the message.
 */
static int
data_reply(struct txn *t, int mail_ok, struct error *err)
{
	struct smtp_reply r;
	int code;

	if (smtp_read_reply(t->s, "DATA", &r, err) == -1)
		return -1;
	code = r.code;
	if (code == 354 && (!mail_ok || t->nrefused > 0))
		smtp_drop(t->s);
	else if (code != 354 && mail_ok && t->nrefused == 0)
		smtp_reply_error(err, "DATA", &r, "the server refused DATA");
	smtp_reply_free(&r);
	return code != 354 && mail_ok && t->nrefused == 0 ? -1 : 0;
}

/*
 * MAIL, every RCPT, and DATA unless BDAT follows: with PIPELINING all in
 * one write, then the replies in order; else one at a time.  Every RCPT is
 * tried so that every refused address can be named.
 */
static int
envelope(struct txn *t, struct error *err)
{
	const struct addr_list *l = t->env->rcpts;
	struct smtp_reply mail, r;
	size_t i;
	int rc = -1, mail_ok;

	if (t->pipelining && queue_envelope(t, err) == -1)
		return -1;
	if (!t->pipelining && queue_mail(t, err) == -1)
		return -1;
	if (reply_to(t, "MAIL FROM", &mail, err) == -1)
		return -1;
	mail_ok = mail.code / 100 == 2;
	for (i = 0;
	     i < l->n && !smtp_closed(t->s) && (mail_ok || t->pipelining);
	     i++) {
		if (!t->pipelining && queue_rcpt(t, l->v[i].addr, err) == -1)
			goto out;
		if (reply_to(t, "RCPT TO", &r, err) == -1)
			goto out;
		if (r.code / 100 != 2 && mail_ok)
			note_refusal(t, l->v[i].addr, &r);
		smtp_reply_free(&r);
	}
	if (t->pipelining && !t->chunking && !smtp_closed(t->s) &&
	    data_reply(t, mail_ok, err) == -1)
		goto out;
	if (!mail_ok)
		smtp_reply_error(
		    err, "MAIL FROM", &mail, "the server refused the sender");
	else if (t->nrefused > 0)
		refusal_error(t, err);
	else if (smtp_closed(t->s))
		error_set(err, ERR_NETWORK,
		    "RCPT TO: the server closed the connection");
	else
		rc = 0;
out:
	smtp_reply_free(&mail);
	return rc;
}

/* Without PIPELINING, DATA waits for its 354 before the body. */
static int
data_command(struct txn *t, struct error *err)
{
	struct smtp_reply r;
	int rc = 0;

	if (smtp_command(t->s, "DATA", NULL, &r, err) == -1)
		return -1;
	if (r.code != 354)
		rc = smtp_reply_error(
		    err, "DATA", &r, "the server refused DATA");
	smtp_reply_free(&r);
	return rc;
}

int
smtp_send(struct smtp *s, const struct smtp_envelope *env,
    const struct message *m, struct error *err)
{
	const struct smtp_caps *c = smtp_caps(s);
	struct txn t;
	int rc = -1, asked;

	memset(&t, 0, sizeof(t));
	t.s = s;
	t.env = env;
	t.m = m;
	t.size = message_size(m);
	t.pipelining = (c->flags & SMTP_CAP_PIPELINING) != 0;
	t.chunking = (c->flags & SMTP_CAP_CHUNKING) != 0;
	if (smtp_closed(s))
		return error_set(err, ERR_NETWORK, "connection already closed");
	if (txn_check(&t, err) == -1)
		return -1;
	if ((t.refused_fp = open_memstream(&t.refused, &t.refused_len)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	asked = env->dsn_notify != NULL || env->dsn_return != NULL ||
	    env->dsn_envid != NULL;
	t.dsn = asked && (c->flags & SMTP_CAP_DSN) != 0;
	if (asked && !t.dsn)
		fprintf(stderr,
		    "smtpsend: note: the server does not offer DSN; sending "
		    "without the DSN parameters\n");
	if (envelope(&t, err) == -1)
		goto out;
	if (!t.chunking && !t.pipelining && data_command(&t, err) == -1)
		goto out;
	rc = send_body(&t, t.chunking, err);
out:
	fclose(t.refused_fp);
	free(t.refused);
	return rc;
}
