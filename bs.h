/*
 * bs.h: sendmail -bs, an SMTP server on standard input and output.  Each
 * transaction the caller makes (Symfony Mailer, Laravel, SwiftMailer) is
 * spooled with the message module and submitted through the account, as a
 * normal send is; the submission's verdict is the reply to the end of DATA.
 */
#ifndef SMTPSEND_BS_H
#define SMTPSEND_BS_H

#include <stdio.h>

struct account;
struct addr_list;
struct error;
struct message;
struct send_result;

/* What the command line gives a -bs session; strings are borrowed. */
struct bs_opts {
	const char	*config;	/* -C, or NULL */
	const char	*account;	/* -a: every transaction uses it */
	const char	*full_name;	/* -F */
	const char	*dsn_notify;	/* -N: default for RCPT without NOTIFY */
	const char	*dsn_return;	/* -R: default for MAIL without RET */
	const char	*dsn_envid;	/* -V: default for MAIL without ENVID */
	const char	*logfile;	/* -X */
	const char	*syslog_tag;	/* -L */
	int		 body;		/* -B: 0, 7 or 8 */
	int		 verbose;	/* -v: both dialogues on stderr */
};

/*
 * Run the session on fds 0 and 1: greet before reading anything, answer
 * until QUIT or EOF.  Returns the exit code: 0 after QUIT, or at EOF with
 * no transaction open; EX_DATAERR at EOF inside a transaction (that
 * message was not sent); EX_IOERR when stdin or stdout fail.
 */
int	bs_run(const struct bs_opts *o);

/* One transaction as the session collected it (bs_send.c submits it). */
struct bs_txn {
	const struct account	*acc;		/* chosen at MAIL */
	const char		*from;		/* MAIL FROM as given, "" = <> */
	const struct addr_list	*rcpts;		/* RCPT TO as given */
	const char		*notify;	/* NOTIFY, or NULL: -N, account */
	const char		*ret;		/* RET, or NULL: -R, account */
	const char		*envid;		/* ENVID decoded, or NULL: -V */
	int			 body;		/* BODY: 0 (-B), 7, 8 */
	const char		*home;		/* for the queue's directory */
};

/*
 * Submit msg (spooled, not yet fixed) as a normal send of it would go:
 * envelope sender, aliases and qualification, header fixes, secret,
 * send_message(), one log line.  Returns 0 when the server accepted it;
 * 1 when it failed for a temporary reason and the queue took it (its id
 * in queued, QUEUE_ID_MAX octets); -1 with *err otherwise.  verbose: the
 * -v transcript, or NULL.
 */
int	bs_send(const struct bs_opts *o, const struct bs_txn *t,
	    struct message *msg, struct send_result *res, FILE *verbose,
	    char *queued, struct error *err);

#endif
