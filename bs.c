/*
 * bs.c: sendmail -bs.  A small SMTP server on fds 0 and 1: the greeting
 * goes out before anything is read (callers wait for it), commands are
 * read from a buffer and their replies held until the buffer is empty
 * (RFC 2920 pipelining), DATA is unstuffed here and fed to the message
 * module's spool.  At the end of DATA the transaction is submitted through
 * the account (bs_send.c), as sendmail.c does for a normal send, and the
 * verdict is the reply.  Nothing here knows SMTP client details.  The
 * syntax of paths, parameters and xtext is bs_parse.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "bs.h"
#include "bs_parse.h"
#include "config.h"
#include "error.h"
#include "message.h"
#include "queue.h"
#include "send.h"

#define BS_IN_MAX	65536	/* input buffer */
#define BS_LINE_MAX	2048	/* a command line, CRLF included (Postfix's) */
#define BS_REPLY_MAX	512	/* one reply line */
#define BS_RCPT_MAX	1000	/* recipients per transaction */

/* The session: the two channels, the configuration, one transaction. */
struct bs {
	const struct bs_opts	*o;
	FILE			*v;		/* -v transcript, or NULL */
	char			 in[BS_IN_MAX];
	size_t			 inpos, inlen;
	int			 eof;
	int			 ioerr;		/* stdin or stdout failed */
	char			*out;		/* replies not yet written */
	size_t			 outlen, outcap;
	char			 host[256];
	/* Configuration, loaded at the first MAIL. */
	int			 cf_tried;
	struct config_env	 env;
	struct config		*cf;
	struct error		 cf_err;
	/* The transaction. */
	int			 mail;		/* MAIL accepted */
	const struct account	*acc;
	char			*from;		/* as given, "" = null path */
	struct addr_list	 rcpts;
	char			*notify;	/* NOTIFY of the first RCPT */
	char			*ret;		/* RET */
	char			*envid;		/* ENVID, decoded */
	int			 body;		/* BODY: 0, 7, 8 */
	int			 smtputf8;
};

/* ---------------------------------------------------------------- output */

static void
trace(struct bs *b, const char *dir, const char *s, size_t n)
{
	size_t i;

	if (b->v == NULL)
		return;
	fprintf(b->v, "%s ", dir);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			fprintf(b->v, "\\x%02x", c);
		else
			fputc(c, b->v);
	}
	fputc('\n', b->v);
}

/* Write every held reply to fd 1. */
static void
flush_out(struct bs *b)
{
	size_t done = 0;
	ssize_t n;

	while (done < b->outlen && !b->ioerr) {
		n = write(STDOUT_FILENO, b->out + done, b->outlen - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "smtpsend: -bs: cannot write to "
			    "standard output: %s\n", strerror(errno));
			b->ioerr = 1;
			break;
		}
		done += (size_t)n;
	}
	b->outlen = 0;
}

/*
 * Hold one reply line: "CODE[-| ]text".  Control bytes in the text (from
 * a server's reply or our own error messages) become spaces, and the line
 * is cut to BS_REPLY_MAX, so the caller always gets a well-formed reply.
 */
static void reply_line(struct bs *b, int code, int more, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
reply_line(struct bs *b, int code, int more, const char *fmt, ...)
{
	char line[BS_REPLY_MAX + 2];
	va_list ap;
	size_t n, i, cap;
	char *p;
	int k;

	k = snprintf(line, sizeof(line), "%03d%c", code, more ? '-' : ' ');
	va_start(ap, fmt);
	vsnprintf(line + k, sizeof(line) - (size_t)k - 2, fmt, ap);
	va_end(ap);
	n = strlen(line);
	for (i = (size_t)k; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	trace(b, ">>>", line, n);
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (b->outlen + n > b->outcap) {
		cap = b->outcap == 0 ? 4096 : b->outcap * 2;
		while (cap < b->outlen + n)
			cap *= 2;
		p = realloc(b->out, cap);
		if (p == NULL) {
			flush_out(b);
			if (n > b->outcap)
				return;
		} else {
			b->out = p;
			b->outcap = cap;
		}
	}
	memcpy(b->out + b->outlen, line, n);
	b->outlen += n;
}

/* ----------------------------------------------------------------- input */

/*
 * Read more input.  Held replies go out first: the caller may be waiting
 * for them before it writes again (this is the pipelining rule: answer
 * when the input is used up).  Returns 1 with more bytes, 0 at EOF or on
 * an error.
 */
static int
fill(struct bs *b)
{
	ssize_t n;

	flush_out(b);
	if (b->eof || b->ioerr)
		return 0;
	if (b->inpos > 0) {
		memmove(b->in, b->in + b->inpos, b->inlen - b->inpos);
		b->inlen -= b->inpos;
		b->inpos = 0;
	}
	if (b->inlen == sizeof(b->in))
		return 1;
	for (;;) {
		n = read(STDIN_FILENO, b->in + b->inlen,
		    sizeof(b->in) - b->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n == -1) {
		fprintf(stderr, "smtpsend: -bs: cannot read standard input: "
		    "%s\n", strerror(errno));
		b->ioerr = 1;
		return 0;
	}
	if (n == 0) {
		b->eof = 1;
		return 0;
	}
	b->inlen += (size_t)n;
	return 1;
}

/*
 * The next command line, LF or CRLF terminated, NUL-terminated in place.
 * Returns 1 with *line, 0 at EOF (an unterminated last line is dropped),
 * -1 for a line over BS_LINE_MAX (read and discarded to its end).
 */
static int
get_line(struct bs *b, char **line)
{
	char *nl;
	size_t len;
	int toolong = 0;

	for (;;) {
		nl = memchr(b->in + b->inpos, '\n', b->inlen - b->inpos);
		if (nl != NULL)
			break;
		if (b->inlen - b->inpos >= BS_LINE_MAX) {
			toolong = 1;
			b->inpos = b->inlen;
		}
		if (!fill(b))
			return 0;
	}
	len = (size_t)(nl - (b->in + b->inpos));
	*line = b->in + b->inpos;
	b->inpos += len + 1;
	if (toolong || len + 1 > BS_LINE_MAX)
		return -1;
	if (len > 0 && (*line)[len - 1] == '\r')
		len--;
	(*line)[len] = '\0';
	trace(b, "<<<", *line, len);
	return 1;
}

/* ------------------------------------------------------- transaction */

static void
txn_reset(struct bs *b)
{
	b->mail = 0;
	b->acc = NULL;
	free(b->from);
	free(b->notify);
	free(b->ret);
	free(b->envid);
	b->from = b->notify = b->ret = b->envid = NULL;
	b->body = 0;
	b->smtputf8 = 0;
	addr_list_free(&b->rcpts);
}

/* The configuration, loaded once, at the first MAIL. */
static const struct error *
load_config(struct bs *b)
{
	if (b->cf_tried)
		return b->cf != NULL ? NULL : &b->cf_err;
	b->cf_tried = 1;
	error_clear(&b->cf_err);
	if (config_env_init(&b->env, &b->cf_err) == -1 ||
	    config_load(&b->cf, b->o->config, &b->env, &b->cf_err) == -1) {
		config_free(b->cf);
		b->cf = NULL;
		error_print(&b->cf_err);
		return &b->cf_err;
	}
	return NULL;
}

/* The account as for -f: -a, else the one whose from matches, else default. */
static const struct account *
pick_account(struct bs *b, const char *from, struct error *err)
{
	const struct account *acc;

	if (b->o->account != NULL)
		return config_account(b->cf, b->o->account, err);
	if (from[0] != '\0') {
		acc = config_account_for_from(b->cf, from);
		if (acc != NULL)
			return acc;
	}
	return config_account(b->cf, "default", err);
}

/*
 * A failed transaction as the reply to the end of DATA.  Temporary
 * failures are 451: nothing holds the message, the caller must try again
 * (with queue on, bs_send() has queued such a message first, and the
 * answer was "250 2.0.0 Ok: queued as ID": what reaches here was not
 * queued).  Trouble on this machine (the
 * configuration, the spool, memory) is 451 4.3.x as well, as Postfix
 * answers: an admin can fix it and the caller's retry then works.
 * Everything else is permanent: 554 with the server's status and text.
 */
static void
reply_failure(struct bs *b, const struct error *err)
{
	const char *status = err->status;
	char text[ERROR_MSG_MAX + ERROR_REPLY_MAX + 2];
	int code = error_exit_code(err), temp;

	temp = code == EX_TEMPFAIL || code == EX_CONFIG || code == EX_OSERR ||
	    code == EX_IOERR || code == EX_SOFTWARE;
	if (err->reply[0] != '\0')
		snprintf(text, sizeof(text), "%s: %s", err->msg, err->reply);
	else
		snprintf(text, sizeof(text), "%s", err->msg);
	if (status[0] != (temp ? '4' : '5'))
		status = temp ? (code == EX_TEMPFAIL ? "4.4.0" : "4.3.0") :
		    "5.0.0";
	if (temp)
		reply_line(b, 451, 0, "%s Not sent, try again later: %s",
		    status, text);
	else
		reply_line(b, 554, 0, "%s Not sent: %s", status, text);
}

/* The end of DATA: submit and answer. */
static void
deliver(struct bs *b, struct message_input *in, const struct error *data_err)
{
	struct message *msg = NULL;
	struct send_result res;
	struct bs_txn t;
	struct error err;
	char queued[QUEUE_ID_MAX];
	int rc;

	error_clear(&err);
	if (data_err->kind != ERR_NONE) {
		message_input_free(in);
		reply_failure(b, data_err);
		return;
	}
	if (message_input_end(in, &msg, &err) == -1) {
		reply_failure(b, &err);
		return;
	}
	/* Replies the caller pipelined before DATA go out before the wait. */
	flush_out(b);
	memset(&t, 0, sizeof(t));
	t.acc = b->acc;
	t.from = b->from;
	t.rcpts = &b->rcpts;
	t.notify = b->notify;
	t.ret = b->ret;
	t.envid = b->envid;
	t.body = b->body;
	t.home = b->env.home;
	rc = bs_send(b->o, &t, msg, &res, b->v, queued, &err);
	if (rc == 0)
		reply_line(b, 250, 0, "2.0.0 Ok: sent through account %s: %s",
		    b->acc->name != NULL ? b->acc->name : "default",
		    res.reply);
	else if (rc == 1)
		reply_line(b, 250, 0, "2.0.0 Ok: queued as %s", queued);
	else
		reply_failure(b, &err);
	if (rc == -1 && err.kind != ERR_NONE)
		error_print(&err);
	message_free(msg);
}

/* ------------------------------------------------------------ DATA */

/*
 * Read the message up to the line ".", undoing the dot-stuffing, and feed
 * it to the spool.  A line end is LF, with or without CR, as Postfix
 * accepts; the spool normalises everything else.  After a spool error the
 * rest is read and dropped.  Returns 1 at ".", 0 at EOF or on an error.
 */
static int
read_data(struct bs *b, struct message_input *in, struct error *err,
    size_t *nbytes)
{
	int bol = 1;
	size_t avail, n;
	char *p, *nl;

	*nbytes = 0;
	for (;;) {
		avail = b->inlen - b->inpos;
		if (avail < 3 && (bol || avail == 0)) {
			/* At a line start, ".\r\n" must be seen whole. */
			nl = memchr(b->in + b->inpos, '\n', avail);
			if ((avail == 0 || nl == NULL) && !fill(b))
				return 0;
			avail = b->inlen - b->inpos;
			if (avail < 3 && memchr(b->in + b->inpos, '\n',
			    avail) == NULL)
				continue;
		}
		p = b->in + b->inpos;
		if (bol && p[0] == '.') {
			if (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')) {
				b->inpos += p[1] == '\n' ? 2 : 3;
				return 1;
			}
			b->inpos++;
			p++;
			avail--;
		}
		nl = memchr(p, '\n', avail);
		n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
		bol = nl != NULL;
		if (err->kind == ERR_NONE &&
		    message_input_feed(in, p, n, err) == -1 && b->v != NULL)
			fprintf(b->v, "--- %s\n", err->msg);
		*nbytes += n;
		b->inpos += n;
	}
}

/* -------------------------------------------------------- commands */

/* MAIL FROM parameters; replies itself and returns -1 on a bad one. */
static int
mail_params(struct bs *b, char *rest)
{
	char *k, *v;

	while ((k = bs_next_param(&rest, &v)) != NULL) {
		if (strcasecmp(k, "SIZE") == 0 && v != NULL &&
		    v[0] != '\0' && strlen(v) <= 20 &&
		    strspn(v, "0123456789") == strlen(v))
			continue;
		if (strcasecmp(k, "BODY") == 0 && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 ||
		    strcasecmp(v, "8BITMIME") == 0)) {
			b->body = strcasecmp(v, "7BIT") == 0 ? 7 : 8;
			continue;
		}
		if (strcasecmp(k, "SMTPUTF8") == 0 && v == NULL) {
			b->smtputf8 = 1;
			continue;
		}
		if (strcasecmp(k, "RET") == 0 && v != NULL &&
		    b->ret == NULL && (strcasecmp(v, "FULL") == 0 ||
		    strcasecmp(v, "HDRS") == 0)) {
			b->ret = strdup(v);
			continue;
		}
		if (strcasecmp(k, "ENVID") == 0 && v != NULL &&
		    b->envid == NULL && strlen(v) <= 100 &&
		    bs_xtext_decode(v, &b->envid) == 0)
			continue;
		if (strcasecmp(k, "SIZE") == 0 || strcasecmp(k, "BODY") == 0 ||
		    strcasecmp(k, "SMTPUTF8") == 0 ||
		    strcasecmp(k, "RET") == 0 || strcasecmp(k, "ENVID") == 0)
			reply_line(b, 501, 0, "5.5.4 Bad %s parameter", k);
		else
			reply_line(b, 555, 0, "5.5.4 Unsupported option: %s",
			    k);
		return -1;
	}
	return 0;
}

static void
cmd_mail(struct bs *b, char *arg)
{
	const struct error *cerr;
	struct error err;
	char *addr, *rest;

	if (b->mail) {
		reply_line(b, 503, 0, "5.5.1 Error: nested MAIL command");
		return;
	}
	arg = bs_after_keyword(arg, "FROM:");
	if (arg == NULL || bs_parse_path(arg, &addr, &rest) == -1) {
		reply_line(b, 501, 0, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (mail_params(b, rest) == -1)
		goto fail;
	if (bs_has_8bit(addr) && !b->smtputf8) {
		reply_line(b, 553, 0, "5.6.7 Non-ASCII sender address "
		    "without SMTPUTF8");
		goto fail;
	}
	if ((cerr = load_config(b)) != NULL) {
		reply_line(b, 451, 0, "4.3.5 Configuration error: %s",
		    cerr->msg);
		goto fail;
	}
	error_clear(&err);
	if ((b->acc = pick_account(b, addr, &err)) == NULL) {
		error_print(&err);
		reply_line(b, 451, 0, "4.3.5 Configuration error: %s", err.msg);
		goto fail;
	}
	if ((b->from = strdup(addr)) == NULL) {
		reply_line(b, 451, 0, "4.3.0 Out of memory");
		goto fail;
	}
	b->mail = 1;
	reply_line(b, 250, 0, "2.1.0 Ok");
	return;
fail:
	txn_reset(b);
}

static void
cmd_rcpt(struct bs *b, char *arg)
{
	struct error err;
	char *addr, *rest, *k, *v, *notify = NULL;

	if (!b->mail) {
		reply_line(b, 503, 0, "5.5.1 Error: need MAIL command");
		return;
	}
	arg = bs_after_keyword(arg, "TO:");
	if (arg == NULL || bs_parse_path(arg, &addr, &rest) == -1 ||
	    addr[0] == '\0') {
		reply_line(b, 501, 0, "5.1.3 Bad recipient address syntax");
		return;
	}
	while ((k = bs_next_param(&rest, &v)) != NULL) {
		if (strcasecmp(k, "NOTIFY") == 0 && v != NULL &&
		    notify == NULL && bs_notify_ok(v)) {
			notify = v;
		} else if (strcasecmp(k, "ORCPT") == 0 && v != NULL &&
		    strchr(v, ';') != NULL) {
			/* Kept by no send path: noted, not passed on. */
			if (b->v != NULL)
				fprintf(b->v, "--- ORCPT=%s is not passed "
				    "on\n", v);
		} else {
			if (strcasecmp(k, "NOTIFY") == 0 ||
			    strcasecmp(k, "ORCPT") == 0)
				reply_line(b, 501, 0, "5.5.4 Bad %s parameter",
				    k);
			else
				reply_line(b, 555, 0, "5.5.4 Unsupported "
				    "option: %s", k);
			return;
		}
	}
	if (bs_has_8bit(addr) && !b->smtputf8) {
		reply_line(b, 553, 0, "5.6.7 Non-ASCII recipient address "
		    "without SMTPUTF8");
		return;
	}
	/* One send carries one NOTIFY for all its recipients. */
	if (b->rcpts.n > 0 && ((notify == NULL) != (b->notify == NULL) ||
	    (notify != NULL && strcasecmp(notify, b->notify) != 0))) {
		reply_line(b, 455, 0, "4.5.4 NOTIFY differs from this "
		    "transaction's other recipients: send this one in "
		    "another transaction");
		return;
	}
	if (b->rcpts.n >= BS_RCPT_MAX) {
		reply_line(b, 452, 0, "4.5.3 Error: too many recipients");
		return;
	}
	error_clear(&err);
	if (b->rcpts.n == 0 && notify != NULL) {
		b->notify = strdup(notify);
		if (b->notify == NULL) {
			reply_line(b, 451, 0, "4.3.0 Out of memory");
			return;
		}
	}
	if (addr_list_add(&b->rcpts, addr, NULL, &err) == -1) {
		reply_line(b, 451, 0, "4.3.0 Out of memory");
		return;
	}
	reply_line(b, 250, 0, "2.1.5 Ok");
}

static void
cmd_data(struct bs *b, const char *arg)
{
	struct message_input *in = NULL;
	struct error err;
	char spool[4096];
	size_t n = 0;

	if (arg[0] != '\0') {
		reply_line(b, 501, 0, "5.5.4 Syntax: DATA");
		return;
	}
	if (!b->mail) {
		reply_line(b, 503, 0, "5.5.1 Error: need RCPT command");
		return;
	}
	if (b->rcpts.n == 0) {
		reply_line(b, 554, 0, "5.5.1 Error: no valid recipients");
		return;
	}
	error_clear(&err);
	/* In the account's queue directory: queueing it is then a link. */
	(void)message_input_new(&in, queue_spool_dir(b->acc, b->env.home,
	    spool, sizeof(spool)) == 0 ? spool : NULL, &err);
	reply_line(b, 354, 0, "End data with <CR><LF>.<CR><LF>");
	if (read_data(b, in, &err, &n) == 1) {
		if (b->v != NULL)
			fprintf(b->v, "<<< [message: %zu bytes]\n", n);
		deliver(b, in, &err);
	} else {
		/* EOF inside DATA: b->mail stays set, bs_run says so. */
		message_input_free(in);
		return;
	}
	txn_reset(b);
}

static void
cmd_ehlo(struct bs *b, const char *arg, int ehlo)
{
	if (arg[0] == '\0') {
		reply_line(b, 501, 0, "5.5.4 Syntax: %s hostname",
		    ehlo ? "EHLO" : "HELO");
		return;
	}
	txn_reset(b);
	if (!ehlo) {
		reply_line(b, 250, 0, "%s", b->host);
		return;
	}
	reply_line(b, 250, 1, "%s", b->host);
	reply_line(b, 250, 1, "PIPELINING");
	reply_line(b, 250, 1, "SIZE");
	reply_line(b, 250, 1, "8BITMIME");
	reply_line(b, 250, 1, "SMTPUTF8");
	reply_line(b, 250, 1, "DSN");
	reply_line(b, 250, 0, "ENHANCEDSTATUSCODES");
}

/* One command line; returns 1 after QUIT. */
static int
command(struct bs *b, char *line)
{
	char *arg = line + strcspn(line, " ");
	size_t n = (size_t)(arg - line);

	while (*arg == ' ')
		arg++;
#define IS(verb) (n == strlen(verb) && strncasecmp(line, verb, n) == 0)
	if (IS("EHLO") || IS("HELO"))
		cmd_ehlo(b, arg, IS("EHLO"));
	else if (IS("MAIL"))
		cmd_mail(b, arg);
	else if (IS("RCPT"))
		cmd_rcpt(b, arg);
	else if (IS("DATA"))
		cmd_data(b, arg);
	else if (IS("RSET")) {
		txn_reset(b);
		reply_line(b, 250, 0, "2.0.0 Ok");
	} else if (IS("NOOP"))
		reply_line(b, 250, 0, "2.0.0 Ok");
	else if (IS("QUIT")) {
		reply_line(b, 221, 0, "2.0.0 Bye");
		return 1;
	} else if (IS("VRFY"))
		reply_line(b, 252, 0, "2.0.0 Cannot VRFY; send to the "
		    "address and the server will say");
	else if (IS("HELP"))
		reply_line(b, 214, 0, "2.0.0 Commands: EHLO HELO MAIL RCPT "
		    "DATA RSET NOOP VRFY HELP QUIT");
	else if (IS("EXPN") || IS("STARTTLS") || IS("AUTH") || IS("BDAT") ||
	    IS("ETRN") || IS("TURN"))
		reply_line(b, 502, 0, "5.5.1 Error: command not implemented");
	else
		reply_line(b, 500, 0, "5.5.2 Error: command not recognized");
#undef IS
	return 0;
}

int
bs_run(const struct bs_opts *o)
{
	struct bs *b;
	char *line;
	int rc, code = EX_OK, quit = 0;

	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		fprintf(stderr, "smtpsend: out of memory\n");
		return EX_OSERR;
	}
	b->o = o;
	b->v = o->verbose ? stderr : NULL;
	if (gethostname(b->host, sizeof(b->host) - 1) == -1 ||
	    b->host[0] == '\0')
		snprintf(b->host, sizeof(b->host), "localhost");
	reply_line(b, 220, 0, "%s ESMTP smtpsend", b->host);
	while (!quit && !b->ioerr) {
		rc = get_line(b, &line);
		if (rc == 0)
			break;
		if (rc == -1)
			reply_line(b, 500, 0, "5.5.2 Error: line too long");
		else
			quit = command(b, line);
	}
	flush_out(b);
	if (b->ioerr) {
		code = EX_IOERR;
	} else if (!quit && b->mail) {
		fprintf(stderr, "smtpsend: -bs: standard input ended inside "
		    "a transaction (no QUIT): that message was not sent\n");
		code = EX_DATAERR;
	}
	txn_reset(b);
	config_free(b->cf);
	if (b->cf_tried)
		config_env_free(&b->env);
	free(b->out);
	free(b);
	return code;
}
