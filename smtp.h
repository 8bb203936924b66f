/*
 * smtp.h: the SMTP client dialogue as small steps over one command
 * primitive, on top of io.h.  Works the same over TCP, TLS or a
 * socketpair() in tests.
 */
#ifndef SMTPSEND_SMTP_H
#define SMTPSEND_SMTP_H

#include <stddef.h>
#include <stdio.h>

struct error;
struct io;
struct message;
struct addr_list;

#define SMTP_LINE_MAX	2048	/* longest reply line accepted */
#define SMTP_REPLY_MAX	65536	/* longest whole reply accepted */

struct smtp_reply {
	int	 code;		/* 3 digits */
	char	 status[16];	/* enhanced status code "2.1.0", or "" */
	char	*text;		/* lines after "NNN[- ]" joined by '\n'
				   (status code left in); owned by the caller
				   of smtp_reply_free */
	size_t	 lines;
};

void	smtp_reply_free(struct smtp_reply *r);

/*
 * Parse one reply line: "NNN-text" or "NNN text" or "NNN".  Sets *code,
 * *last (1 for ' ' or no text) and *text.  Rejects non-digit codes, codes
 * outside 200..599, control bytes other than TAB, lines over SMTP_LINE_MAX.
 * Returns 0 or -1 with ERR_PROTOCOL.
 */
int	smtp_parse_line(const char *line, size_t len, int *code, int *last,
	    const char **text, struct error *err);

/* Parse an enhanced status code at the start of text ("5.1.1 ..."). */
int	smtp_parse_status(const char *text, char status[16]);

enum smtp_cap {
	SMTP_CAP_PIPELINING	= 1 << 0,
	SMTP_CAP_SIZE		= 1 << 1,
	SMTP_CAP_8BITMIME	= 1 << 2,
	SMTP_CAP_SMTPUTF8	= 1 << 3,
	SMTP_CAP_DSN		= 1 << 4,
	SMTP_CAP_CHUNKING	= 1 << 5,
	SMTP_CAP_STARTTLS	= 1 << 6,
	SMTP_CAP_ENHANCED	= 1 << 7,
	SMTP_CAP_AUTH		= 1 << 8,
};

struct smtp_caps {
	unsigned int	 flags;
	unsigned long long size;	/* SIZE limit, 0 = none given */
	char		 auth[512];	/* mechanisms, upper case, space separated */
};

/* Parse the text of an EHLO reply (first line is the greeting name). */
void	smtp_caps_parse(struct smtp_caps *caps, const char *ehlo_text);

struct smtp;

/* A session over io (not owned).  verbose: transcript stream or NULL. */
struct smtp *smtp_new(struct io *io, FILE *verbose);
void	smtp_free(struct smtp *s);

struct io *smtp_io(struct smtp *s);
FILE	*smtp_verbose(struct smtp *s);

/*
 * Read the greeting.  A 220 is success; anything else fills *err (421 is
 * temporary).  The "implicit TLS on a STARTTLS port" probe lives here: see
 * smtp.c.
 */
int	smtp_greet(struct smtp *s, struct error *err);

/*
 * Arm the implicit-TLS probe of smtp_greet (see smtp.c): only for a
 * connection that is still cleartext.  Off by default.
 */
void	smtp_set_probe(struct smtp *s, int on);

/*
 * 1 when smtp_greet failed because a real greeting came only after the
 * probe was sent: the dialogue is out of step, so the caller should
 * reconnect and greet again with the probe off.
 */
int	smtp_greet_late(const struct smtp *s);

/*
 * Speak LMTP (RFC 2033) instead of SMTP: LHLO instead of EHLO (never
 * HELO), and smtp_send() reads one reply per accepted recipient after the
 * data.  Off by default.
 */
void	smtp_set_lmtp(struct smtp *s, int on);
int	smtp_lmtp(const struct smtp *s);

/*
 * EHLO domain (LHLO with LMTP); on 5xx, HELO if allow_helo.  Capabilities are replaced by
 * the new reply.
 */
int	smtp_ehlo(struct smtp *s, const char *domain, int allow_helo,
	    struct error *err);

const struct smtp_caps *smtp_caps(const struct smtp *s);

/* The greeting text and the last EHLO reply text (for --serverinfo). */
const char *smtp_greeting(const struct smtp *s);
const char *smtp_ehlo_text(const struct smtp *s);

/*
 * Send STARTTLS (ERR_UNAVAILABLE before sending if not offered), require
 * 220, and refuse any byte that arrived after it (ERR_PROTOCOL).  The
 * caller then runs the TLS handshake and EHLO again.
 */
int	smtp_starttls(struct smtp *s, struct error *err);

/*
 * The command primitive: send line + CRLF, flush, read the whole reply into
 * *r (caller frees with smtp_reply_free).  shown is what the -v transcript
 * prints instead of line (for secrets), NULL to print line.  Returns 0 when
 * a well-formed reply was read, whatever its code; -1 on I/O or protocol
 * errors.
 */
int	smtp_command(struct smtp *s, const char *line, const char *shown,
	    struct smtp_reply *r, struct error *err);

/*
 * Pipelining is the command primitive split in two: smtp_queue() adds a
 * command to the next write (shown as for smtp_command; a queued QUIT
 * counts as sent), smtp_flush() sends everything queued at once, and
 * smtp_read_reply() reads the next reply in order.  step names errors
 * ("RCPT TO: timed out ...").  The timeout bounds each flush and each
 * whole reply.  0 or -1 with *err.
 */
int	smtp_queue(struct smtp *s, const char *line, const char *shown,
	    struct error *err);
int	smtp_flush(struct smtp *s, const char *step, struct error *err);
int	smtp_read_reply(struct smtp *s, const char *step,
	    struct smtp_reply *r, struct error *err);

/*
 * One step without pipelining: send what is queued and read the reply,
 * both within one timeout (smtp_command is smtp_queue + smtp_exchange).
 */
int	smtp_exchange(struct smtp *s, const char *step, struct smtp_reply *r,
	    struct error *err);

/*
 * Fill *err from a reply that is not the one wanted, as "step: what:
 * reply": 4xx temporary, 5xx permanent, anything else a protocol error.
 * Returns -1.
 */
int	smtp_reply_error(struct error *err, const char *step,
	    const struct smtp_reply *r, const char *what);

/* Put "step: " before err's message, once.  Returns -1. */
int	smtp_error_step(struct error *err, const char *step);

/* Drop the connection at once (abandons a DATA phase); no QUIT after. */
void	smtp_drop(struct smtp *s);

/* 1 when no command can follow: 421 seen, QUIT answered, or dropped. */
int	smtp_closed(const struct smtp *s);

/* The envelope and options of one transaction. */
struct smtp_envelope {
	const char		*from;		/* "" = null reverse-path */
	const struct addr_list	*rcpts;
	const char		*dsn_notify;	/* NULL or "never", "failure,delay" */
	const char		*dsn_return;	/* NULL or "hdrs"/"full" */
	const char		*dsn_envid;	/* NULL or -V value */
	int			 body;		/* 0 auto, 7 (7BIT), 8 (8BITMIME) */
	int			 more;		/* another transaction follows in
						   this session: no QUIT after
						   the data (additive, queue) */
};

/*
 * The transaction (smtp_send.c): MAIL, every RCPT, then DATA + body + "."
 * (or BDAT n LAST), pipelined when offered, and QUIT pipelined after the
 * end.  SIZE is checked before anything is sent.  Recipients are
 * all-or-nothing while nothing is delivered: if any RCPT is refused the
 * transaction is abandoned (the connection dropped if 354 already came)
 * and every refused address is named in *err.  Recipients past the
 * server's limit ("452 4.5.3 too many recipients") go in further
 * transactions of the session; a failure after a first delivery is
 * ERR_PARTIAL, naming every recipient that did not get the message.
 * With LMTP, the per-recipient replies after the data decide the same way.
 * Returns 0 only when every recipient got the message.  The server's
 * final reply text is kept for smtp_last_reply().
 */
int	smtp_send(struct smtp *s, const struct smtp_envelope *env,
	    const struct message *m, struct error *err);

/* Last reply text seen (for the log line). */
const char *smtp_last_reply(const struct smtp *s);

/* Send QUIT and read its reply, unless already sent; errors ignored. */
void	smtp_quit(struct smtp *s);

#endif
