/*
 * envelope.h: the envelope file of a queued message, in a form a human can
 * read: "key: value" lines, "end", an empty line, then the message's
 * header block exactly as it is sent.  The body lives beside it in its own
 * file (queue.c).  Pure functions: no file system here.
 */
#ifndef SMTPSEND_ENVELOPE_H
#define SMTPSEND_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct error;

enum envelope_state {
	ENVELOPE_QUEUED = 0,
	ENVELOPE_UNCERTAIN,	/* the connection dropped after the final dot */
	ENVELOPE_FAILED,	/* moved to failed/ */
};

struct envelope {
	char		 *id;
	char		 *account;	/* account name in the configuration */
	char		 *sender;	/* "" = null sender <> */
	char		**rcpts;
	size_t		  nrcpts;
	char		 *dsn_notify;	/* or NULL */
	char		 *dsn_return;	/* or NULL */
	char		 *dsn_envid;	/* or NULL */
	int		  body_type;	/* -B: 0 auto, 7, 8 */
	int		  eightbit;	/* some octet >= 0x80 */
	int		  separator;	/* the message had the empty line */
	int		  qp;		/* the body goes quoted-printable */
	time_t		  queued;	/* first queued */
	unsigned int	  attempts;	/* failed flushes so far */
	time_t		  next;		/* due at */
	enum envelope_state state;
	char		 *last_error;	/* one line, or NULL */
	uint64_t	  body_size;	/* octets in the body file */
	char		 *headers;	/* header block, CRLF lines */
	size_t		  headers_len;
};

/*
 * Serialise e to a malloc'ed buffer (*out, *len).  Refuses (ERR_DATA)
 * values holding a line end or other control byte, so the file always
 * parses back to the same envelope.
 */
int	envelope_format(const struct envelope *e, char **out, size_t *len,
	    struct error *err);

/*
 * Parse buf (the whole file) into *e (zeroed first; free with
 * envelope_free()).  A missing "end", an unknown version, a bad number or
 * a header block of the wrong length is ERR_DATA saying which line.
 */
int	envelope_parse(struct envelope *e, const char *buf, size_t len,
	    struct error *err);

/* Free what e holds and zero it. */
void	envelope_free(struct envelope *e);

/*
 * The delay before the next try after `attempts` failed flushes: 1 min,
 * doubling, at most 1 h.
 */
time_t	envelope_backoff(unsigned int attempts);

/*
 * Parse a queue_lifetime value: a number with a unit s, m, h or d.
 * Returns 0 and *secs, or -1.
 */
int	envelope_duration(const char *s, long long *secs);

#endif
