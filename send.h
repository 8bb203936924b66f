/*
 * send.h: one submission from start to end: connect, TLS (implicit or
 * STARTTLS), EHLO, AUTH, the transaction, QUIT.  The order of the steps
 * lives here; each step lives in its module.
 */
#ifndef SMTPSEND_SEND_H
#define SMTPSEND_SEND_H

#include <stdio.h>

struct error;
struct account;
struct addr_list;
struct message;
struct scram_kept;

struct send_job {
	const struct account	*acc;
	const char		*from;		/* envelope sender, "" = null */
	const struct addr_list	*rcpts;		/* resolved, qualified */
	const struct message	*msg;		/* fixed (message_fix done) */
	const char		*secret;	/* password/token, or NULL: no AUTH */
	struct scram_kept	*scram;		/* where secret came from (secret_get),
						   or NULL: not the keyring */
	const char		*dsn_notify;	/* -N, else account's, or NULL */
	const char		*dsn_return;	/* -R, else account's, or NULL */
	const char		*dsn_envid;	/* -V or NULL */
	int			 body;		/* -B: 0 auto, 7, 8 */
	FILE			*verbose;	/* -v transcript, or NULL */
	/*
	 * Optional (OAuth2): when the server refuses secret, ask once for a
	 * new one and authenticate again in the same session.  It returns 0
	 * with *fresh (owned by the callback's caller, valid until the send
	 * ends) or -1 with *err.
	 */
	int			(*refresh)(void *arg, const char *refused,
				    const char **fresh, struct error *err);
	void			*refresh_arg;
};

/* What the log line reports about a finished (or failed) attempt. */
struct send_result {
	char	tls[128];	/* "TLS1.3/AES-256-GCM" or "off" */
	char	auth[32];	/* mechanism used, or "" */
	char	reply[512];	/* the server's last reply text */
};

/* Submit the message.  Returns 0 when the server accepted it. */
int	send_message(const struct send_job *job, struct send_result *res,
	    struct error *err);

/*
 * A session for several messages of one account (the queue's flush):
 * send_open connects and authenticates with auth's acc, secret (none when
 * NULL), scram, verbose and refresh (the rest of auth is not used), each
 * send_next is one transaction (RSET before every one after the first),
 * send_close says QUIT when the dialogue is in step.  After a failed
 * send_next, send_usable says whether another can follow.
 */
struct send_session;
int	send_open(struct send_session **sp, const struct send_job *auth,
	    struct send_result *res, struct error *err);
int	send_next(struct send_session *ss, const struct send_job *job,
	    struct send_result *res, struct error *err);
int	send_usable(const struct send_session *ss);
void	send_close(struct send_session *ss);

/*
 * --serverinfo: connect as for sending, print greeting, capabilities before
 * and after STARTTLS, TLS and certificate details to fp, then QUIT.
 */
int	send_serverinfo(const struct account *acc, FILE *fp,
	    struct error *err);

#endif
