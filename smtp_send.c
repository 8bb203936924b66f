/*
 * smtp_send.c: the transaction of the smtp module (declared in smtp.h):
 * MAIL, every RCPT, then DATA and the body, or BDAT.  With PIPELINING the
 * commands go out in one write and the replies are read in order; without
 * it, one at a time.  Recipients are all-or-nothing while nothing is
 * delivered; recipients past the server's limit go in further
 * transactions, and what cannot be undone is reported as a partial
 * delivery.  Only the public smtp.h primitives are used, so this file
 * knows nothing of the transport.
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

/* Where each recipient stands. */
enum rcpt_state {
	RS_PENDING = 0, /* not yet accepted: goes in the next transaction */
	RS_ACCEPTED, /* accepted by RCPT in the current transaction */
	RS_DELIVERED, /* the server took the message for it */
	RS_FAILED, /* did not get it; named in the failed list */
};

/*
 * The transactions of one message: what smtp_send decides once, where
 * each recipient stands, and the failures it meets.
 */
struct txn {
	struct smtp *s;
	const struct smtp_envelope *env;
	const struct message *m;
	unsigned long long size;
	int pipelining;
	int chunking;
	int lmtp; /* one reply per recipient after the data */
	int dsn; /* DSN parameters go out */
	int utf8; /* a non-ASCII address */
	unsigned char *st; /* enum rcpt_state, one per recipient */
	size_t *cur; /* the recipients of the current transaction */
	size_t ncur;
	size_t naccepted; /* in the current transaction */
	size_t ndeferred; /* past the limit in the current transaction */
	size_t limit; /* recipients per transaction, once seen; 0: unknown */
	size_t ndelivered; /* over all transactions */
	int eod_sent; /* the current transaction's data was ended */
	char *failed; /* "<a>: 550 ...\n<b>..." */
	size_t failed_len;
	FILE *failed_fp;
	size_t nfailed;
	int other; /* a failure that is no server reply */
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

/* Remember a recipient that did not get the message, and why. */
static void
note_failure(struct txn *t, size_t i, const struct smtp_reply *r)
{
	fprintf(t->failed_fp, "%s<%s>: %d %s", t->nfailed > 0 ? "\n" : "",
	    t->env->rcpts->v[i].addr, r->code, r->text);
	t->st[i] = RS_FAILED;
	t->nfailed++;
	if (r->code / 100 == 4)
		keep(&t->temp, r);
	else if (strncmp(r->status, "5.1.", 4) == 0)
		keep(&t->user, r);
	else
		keep(&t->perm, r);
}

/*
 * The recipient limit of RFC 5321 section 4.5.3.1.10: "452 too many
 * recipients" means "send to those accepted, then the rest in another
 * transaction".  Recognised as a 452 after at least one recipient of the
 * same transaction was accepted, whose enhanced code, if there is one, is
 * 4.5.3 (Postfix, Exim, OpenSMTPD: "452 4.5.3 ...").  Another 452
 * (4.2.2 mailbox full, 4.3.1 out of storage) is an ordinary temporary
 * refusal, and a 452 with nothing accepted yet could never make progress.
 */
static int
is_limit(const struct txn *t, const struct smtp_reply *r)
{
	return r->code == 452 && t->naccepted > 0 &&
	    (r->status[0] == '\0' || strcmp(r->status, "4.5.3") == 0);
}

/*
 * Nothing was delivered and some recipients were refused: one error that
 * names them all.  Any 4xx: temporary; every refusal 5.1.x: "no such
 * user"; else 5xx.
 */
static int
refusal_error(
    struct txn *t, const char *step, const char *what, struct error *err)
{
	const struct smtp_reply *r = &t->temp;

	if (r->code == 0)
		r = t->perm.code != 0 ? &t->perm : &t->user;
	fflush(t->failed_fp);
	error_reply(err, ERR_REPLY, step, r->code, r->status, t->failed,
	    "%s: the server refused %zu of %zu recipients, %s", step,
	    t->nfailed, t->env->rcpts->n, what);
	return -1;
}

/*
 * After a failure in a later transaction: every recipient that has not
 * got the message is named with the cause; those whose data was ended
 * without a reply may or may not have it.
 */
static void
fail_rest(struct txn *t, const struct error *cause)
{
	const struct addr_list *l = t->env->rcpts;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (t->st[i] == RS_DELIVERED || t->st[i] == RS_FAILED)
			continue;
		fprintf(t->failed_fp, "%s<%s>: %s%s%s%s",
		    t->nfailed > 0 ? "\n" : "", l->v[i].addr,
		    t->st[i] == RS_ACCEPTED && t->eod_sent
			? "unknown (the data was sent, no reply came): "
			: "not sent: ",
		    cause->msg, cause->reply[0] != '\0' ? ": " : "",
		    cause->reply);
		t->st[i] = RS_FAILED;
		t->nfailed++;
		t->other = 1;
	}
}

/*
 * Some recipients got the message and some did not: that cannot be
 * undone, and sending again would give the first ones a second copy, so
 * this is never a temporary failure (see error.h).  The list goes into
 * the reply (and the log line); when it is too long for that, it is also
 * printed whole, one recipient a line.
 */
static int
partial_error(struct txn *t, struct error *err)
{
	const char *status = "";
	char *p, *nl;

	fflush(t->failed_fp);
	if (t->temp.code == 0 && t->perm.code == 0 && !t->other)
		status = t->user.status;
	if (t->failed_len + t->nfailed + 3 >= ERROR_REPLY_MAX) {
		for (p = t->failed; p != NULL && *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			fprintf(stderr, "smtpsend: not delivered to %.*s\n",
			    (int)(nl != NULL ? nl - p : (long)strlen(p)), p);
			if (nl == NULL)
				break;
		}
	}
	error_reply(err, ERR_PARTIAL, NULL, 0, status, t->failed,
	    "partial delivery: the message reached %zu of %zu recipients; "
	    "not delivered to %zu",
	    t->ndelivered, t->env->rcpts->n, t->nfailed);
	error_hint(err,
	    "do not send the message again to every recipient: %zu would "
	    "get it twice; send it only to those named",
	    t->ndelivered);
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

static int
any_pending(const struct txn *t)
{
	size_t i;

	for (i = 0; i < t->env->rcpts->n; i++)
		if (t->st[i] == RS_PENDING)
			return 1;
	return 0;
}

/*
 * The replies to the end of the data.  SMTP: one for the transaction.
 * LMTP (RFC 2033): one per accepted recipient, in the order of the RCPTs,
 * each a verdict on that recipient alone.
 */
static int
end_replies(struct txn *t, const char *step, struct error *err)
{
	struct smtp_reply r;
	size_t k, i;
	int rc = 0;

	for (k = 0; k < t->ncur; k++) {
		i = t->cur[k];
		if (t->st[i] != RS_ACCEPTED)
			continue;
		if (smtp_read_reply(t->s, step, &r, err) == -1)
			return -1;
		if (r.code / 100 == 2) {
			t->st[i] = RS_DELIVERED;
			t->ndelivered++;
		} else if (t->lmtp) {
			note_failure(t, i, &r);
		} else {
			t->eod_sent = 0; /* a verdict, not an unknown */
			rc = smtp_reply_error(
			    err, step, &r, "the server refused the message");
		}
		smtp_reply_free(&r);
		if (!t->lmtp)
			break;
	}
	/* SMTP: the one reply was for every accepted recipient. */
	for (k = 0; rc == 0 && !t->lmtp && k < t->ncur; k++) {
		i = t->cur[k];
		if (t->st[i] == RS_ACCEPTED) {
			t->st[i] = RS_DELIVERED;
			t->ndelivered++;
		}
	}
	return rc;
}

/*
 * The end of the transaction: after 354, the dot-stuffed body and ".";
 * or "BDAT n LAST" and the body as is.  QUIT rides along when pipelining
 * and no other transaction follows.  A partial body is never ended: on
 * any error the connection is dropped.
 */
static int
send_body(struct txn *t, int bdat, struct error *err)
{
	struct smtp *s = t->s;
	struct body_sink sink = {smtp_io(s), 0};
	const char *step = bdat ? "BDAT" : "end of data";
	char line[64];
	int quit = t->pipelining && !any_pending(t) && !t->env->more;

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
	    (quit && smtp_queue(s, "QUIT", NULL, err) == -1) ||
	    smtp_flush(s, step, err) == -1)
		goto drop;
	t->eod_sent = 1;
	return end_replies(t, step, err);
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
	size_t k;

	if (queue_mail(t, err) == -1)
		return -1;
	for (k = 0; k < t->ncur; k++)
		if (queue_rcpt(t, t->env->rcpts->v[t->cur[k]].addr, err) == -1)
			return -1;
	if (!t->chunking && smtp_queue(t->s, "DATA", NULL, err) == -1)
		return -1;
	return smtp_flush(t->s, "MAIL FROM", err);
}

/*
 * The data goes out only to recipients that were accepted, and, while
 * nothing has been delivered, only if none was refused (all-or-nothing).
 */
static int
abandon(const struct txn *t, int mail_ok)
{
	return !mail_ok || t->naccepted == 0 ||
	    (t->ndelivered == 0 && t->nfailed > 0);
}

/*
 * The reply to a pipelined DATA: a 354 that comes for an abandoned
 * transaction is answered by dropping the connection, so the server never
 * sees the end of the message.
 */
static int
data_reply(struct txn *t, int mail_ok, struct error *err)
{
	struct smtp_reply r;
	int code, go = !abandon(t, mail_ok);

	if (smtp_read_reply(t->s, "DATA", &r, err) == -1)
		return -1;
	code = r.code;
	if (code == 354 && !go)
		smtp_drop(t->s);
	else if (code != 354 && go)
		smtp_reply_error(err, "DATA", &r, "the server refused DATA");
	smtp_reply_free(&r);
	return code != 354 && go ? -1 : 0;
}

/* What one RCPT reply means for recipient i. */
static void
rcpt_reply(struct txn *t, size_t i, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		t->st[i] = RS_ACCEPTED;
		t->naccepted++;
	} else if (is_limit(t, r)) {
		t->ndeferred++; /* still pending: the next transaction */
		if (t->limit == 0)
			t->limit = t->naccepted;
	} else {
		note_failure(t, i, r);
	}
}

/*
 * MAIL, an RCPT for every pending recipient, and DATA unless BDAT
 * follows: with PIPELINING all in one write, then the replies in order;
 * else one at a time, stopping at the server's recipient limit.  Every
 * RCPT is tried so that every refused address can be named.  Returns 0
 * when the data may follow (or, after an earlier delivery, when no
 * recipient of this transaction was accepted).
 */
static int
envelope(struct txn *t, struct error *err)
{
	const struct addr_list *l = t->env->rcpts;
	struct smtp_reply mail, r;
	size_t i, k;
	int rc = -1, mail_ok;

	t->ncur = t->naccepted = t->ndeferred = 0;
	t->eod_sent = 0;
	/* Once the limit is known, no RCPT is sent only to be refused. */
	for (i = 0; i < l->n && (t->limit == 0 || t->ncur < t->limit); i++)
		if (t->st[i] == RS_PENDING)
			t->cur[t->ncur++] = i;
	if (t->pipelining && queue_envelope(t, err) == -1)
		return -1;
	if (!t->pipelining && queue_mail(t, err) == -1)
		return -1;
	if (reply_to(t, "MAIL FROM", &mail, err) == -1)
		return -1;
	mail_ok = mail.code / 100 == 2;
	for (k = 0;
	     k < t->ncur && !smtp_closed(t->s) && (mail_ok || t->pipelining);
	     k++) {
		i = t->cur[k];
		if (!t->pipelining && t->ndeferred > 0)
			break; /* past the limit: the rest waits */
		if (!t->pipelining && queue_rcpt(t, l->v[i].addr, err) == -1)
			goto out;
		if (reply_to(t, "RCPT TO", &r, err) == -1)
			goto out;
		if (mail_ok)
			rcpt_reply(t, i, &r);
		smtp_reply_free(&r);
	}
	if (t->pipelining && !t->chunking && !smtp_closed(t->s) &&
	    data_reply(t, mail_ok, err) == -1)
		goto out;
	if (!mail_ok)
		smtp_reply_error(
		    err, "MAIL FROM", &mail, "the server refused the sender");
	else if (t->ndelivered == 0 && t->nfailed > 0)
		refusal_error(t, "RCPT TO", "so nothing was sent", err);
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

/* One transaction for the pending recipients: envelope, then the data. */
static int
transaction(struct txn *t, struct error *err)
{
	if (envelope(t, err) == -1)
		return -1;
	if (t->naccepted == 0)
		return 0;
	if (!t->chunking && !t->pipelining && data_command(t, err) == -1)
		return -1;
	return send_body(t, t->chunking, err);
}

/*
 * Transactions until every recipient has an answer.  More than one only
 * when the server stops at its recipient limit; each later one starts
 * with MAIL at once (a completed transaction needs no RSET).  A failure
 * after a first delivery becomes a partial delivery.
 */
static int
transactions(struct txn *t, struct error *err)
{
	FILE *v = smtp_verbose(t->s);
	int rc;

	for (;;) {
		rc = transaction(t, err);
		if (rc == -1 || !any_pending(t))
			break;
		/* LMTP refused all so far: stop while nothing is delivered. */
		if (t->ndelivered == 0 && t->nfailed > 0)
			break;
		if (smtp_closed(t->s)) {
			rc = error_set(err, ERR_NETWORK,
			    "MAIL FROM: the server closed the connection");
			break;
		}
		if (v != NULL)
			fprintf(v,
			    "--- the server's recipient limit: the other "
			    "recipients go in a new transaction\n");
	}
	if (rc == -1 && t->ndelivered > 0) {
		/* After a timeout or garbage the dialogue is out of step. */
		if (err->kind != ERR_REPLY && !smtp_closed(t->s))
			smtp_drop(t->s);
		fail_rest(t, err);
		return partial_error(t, err);
	}
	if (rc == -1 || t->nfailed == 0)
		return rc;
	if (t->ndelivered == 0)
		return refusal_error(
		    t, "end of data", "so nothing was delivered", err);
	return partial_error(t, err);
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
	t.lmtp = smtp_lmtp(s);
	if (smtp_closed(s))
		return error_set(err, ERR_NETWORK, "connection already closed");
	if (txn_check(&t, err) == -1)
		return -1;
	t.st = calloc(env->rcpts->n, sizeof(*t.st));
	t.cur = calloc(env->rcpts->n, sizeof(*t.cur));
	t.failed_fp = open_memstream(&t.failed, &t.failed_len);
	if (t.st == NULL || t.cur == NULL || t.failed_fp == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	asked = env->dsn_notify != NULL || env->dsn_return != NULL ||
	    env->dsn_envid != NULL;
	t.dsn = asked && (c->flags & SMTP_CAP_DSN) != 0;
	if (asked && !t.dsn)
		fprintf(stderr,
		    "smtpsend: note: the server does not offer DSN; sending "
		    "without the DSN parameters\n");
	rc = transactions(&t, err);
out:
	if (t.failed_fp != NULL)
		fclose(t.failed_fp);
	free(t.failed);
	free(t.st);
	free(t.cur);
	return rc;
}
