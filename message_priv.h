/*
 * message_priv.h: the spool's insides, shared by message.c (reading,
 * header index), message_header.c (header questions), message_spool.c (the
 * spool file) and message_out.c (fixes, writing).  Not a contract.
 */
#ifndef SMTPSEND_MESSAGE_PRIV_H
#define SMTPSEND_MESSAGE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "mime.h"

#define MESSAGE_BLOCK 65536 /* read and write unit */
#define MESSAGE_LINE_LIMIT 998 /* octets before CRLF (RFC 5321 4.5.3.1.6) */

struct field {
	size_t off; /* in m->hdr */
	size_t len; /* all its lines, CRLFs included */
	size_t namelen; /* without blanks before the colon */
	int drop; /* message_fix removes it */
	char *repl; /* message_fix rewrote it: sent instead, CRLF included */
	size_t repllen;
};

struct message {
	int fd; /* spool: the body only */
	int fd_queue; /* it is in the queue's directory */
	uint64_t bodylen;
	char *hdr; /* header block, CRLF lines, no separator */
	size_t hdrlen;
	size_t hdrcap;
	struct field *f;
	size_t nf;
	int sep; /* the input had the empty line */
	int eightbit;
	char *added; /* lines message_fix adds */
	size_t addedlen;
	/* Body lines over the limit are kept whole in the spool: */
	uint64_t breaks; /* CRLFs that break them all (the reader's count) */
	int qp; /* message_fix chose to send the body quoted-printable */
	uint64_t qplen; /* the body's size then */
	const char *noqp; /* else why not (a static string) */
	/* Else message_fix followed the MIME structure (mime.c): */
	int mime; /* 1: the writer breaks lines.breaks lines in text parts */
	struct mime_result lines; /* what it found (lines.bad: malformed) */
};

/* 1 if field f is called name (case-insensitive). */
int message_field_is(
    const struct message *m, const struct field *f, const char *name);

/* The value of field f after the colon, unfolded; malloc'ed, NULL if out of
   memory. */
char *message_field_value(const struct message *m, const struct field *f);

/*
 * After the body was spooled elsewhere (the queue): count again the breaks
 * the writer inserts, and with qp the quoted-printable size, so that
 * message_size() and the writer are right.
 */
int message_rescan(struct message *m, int qp, struct error *err);

/*
 * The queue's file system is full (ENOSPC, EDQUOT while spooling): go on
 * in $TMPDIR (or /tmp) with a copy of the bodylen octets spooled so far,
 * so that a full queue never stops a message that can be sent.
 */
int message_spool_move(struct message *m, struct error *err);

typedef int (*message_spool_fn)(void *ctx, const char *p, size_t n,
    struct error *err);

/* Pass the body spool to fn in blocks (the one read loop over it). */
int message_spool_each(const struct message *m, message_spool_fn fn,
    void *ctx, struct error *err);

/* A new breaker (mime.c) for m's body, following its MIME structure from
   its Content-Type and -Transfer-Encoding or not; NULL: out of memory. */
struct mime *message_breaker(
    const struct message *m, int follow, struct error *err);

/* For a body not sent quoted-printable as a whole: walk it, and set
   m->mime and m->lines (message_lines.c). */
int message_plan_lines(struct message *m, struct error *err);

/* Create m->fd, the body's nameless spool file, in tmpdir (the queue's,
   when the message may be queued), else in $TMPDIR or /tmp; -1 with *err
   when neither works (message_spool.c). */
int message_spool_open(
    struct message *m, const char *tmpdir, struct error *err);

/* Undo message_fix: every field is sent as read. */
void message_reset_fixes(struct message *m);

#endif
