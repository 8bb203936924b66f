/*
 * error.h: the one error struct every layer fills, and the one function that
 * turns it into a sysexits(3) exit code.
 */
#ifndef SMTPSEND_ERROR_H
#define SMTPSEND_ERROR_H

#include <stddef.h>

enum error_kind {
	ERR_NONE = 0,
	ERR_USAGE,	/* bad option, no recipients: 64 */
	ERR_DATA,	/* the message cannot be sent as given: 65 */
	ERR_CONFIG,	/* config error, unknown account, permissions: 78 */
	ERR_SECRET,	/* passwordeval failed, no password available: 78 */
	ERR_KEYRING,	/* keyring unreachable or locked: 75 */
	ERR_OS,		/* a system call failed (fork, malloc...): 71 */
	ERR_IO,		/* local I/O failure (spool, stdin): 74 */
	ERR_INTERNAL,	/* a bug: 70 */
	ERR_NOHOST,	/* host name does not exist: 68 (75 if temporary) */
	ERR_NETWORK,	/* refused, lost, timeout: 75 */
	ERR_TLS,	/* handshake failure: 75 if temporary, else 69 */
	ERR_CERT,	/* certificate not trusted, expired, mismatch: 69 */
	ERR_UNAVAILABLE,/* STARTTLS/AUTH/mechanism not offered, size: 69 */
	ERR_PROTOCOL,	/* the server broke the protocol: 76 */
	ERR_REPLY,	/* the server refused: by code/status, 4xx 75, 5.1.x 67, 5xx 69 */
	ERR_AUTH,	/* credentials rejected: 77 (75 if temporary) */
	ERR_PARTIAL,	/* delivered to some recipients only: 67 when every
			   other one was refused with 5.1.x, else 69; never
			   75, since a retry would duplicate the message */
};

#define ERROR_MSG_MAX	1024
#define ERROR_REPLY_MAX	2048

struct error {
	enum error_kind	kind;
	int		temporary;	/* 1: the same attempt may work later */
	int		code;		/* SMTP reply code, or 0 */
	char		status[16];	/* enhanced status "5.1.1", or "" */
	const char	*step;		/* "greeting", "EHLO", "RCPT", ... or NULL */
	char		msg[ERROR_MSG_MAX];	/* what failed and why, one line */
	char		reply[ERROR_REPLY_MAX];	/* server reply text, lines joined by "; " */
	char		hint[ERROR_MSG_MAX];	/* what to do, or "" */
};

/* Reset *err to "no error". */
void	error_clear(struct error *err);

/*
 * Fill *err with kind and a printf-formatted one-line message; clears code,
 * status, reply and hint; temporary defaults from the kind (NETWORK,
 * KEYRING are temporary).  Always returns -1, so callers can
 * "return error_set(err, ...);".
 */
int	error_set(struct error *err, enum error_kind kind, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Set the hint ("what to do") of an error already set. */
void	error_hint(struct error *err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Record a server reply in *err: kind ERR_REPLY (or the given kind), code,
 * enhanced status, temporary = (code / 100 == 4), text copied to reply.
 * Returns -1.
 */
int	error_reply(struct error *err, enum error_kind kind, const char *step,
	    int code, const char *status, const char *text, const char *fmt, ...)
	    __attribute__((format(printf, 7, 8)));

/* The sysexits(3) code for *err (0 for ERR_NONE).  The only such mapping. */
int	error_exit_code(const struct error *err);

/*
 * Print "smtpsend: <msg>[: <reply>]" and, on a second line, the hint if any,
 * to stderr.
 */
void	error_print(const struct error *err);

#endif
