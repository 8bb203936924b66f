/*
 * header.h: the header lines message_fix adds, each returned as one
 * malloc'ed string ending in CRLF (the caller frees it), or NULL with *err
 * set.
 */
#ifndef SMTPSEND_HEADER_H
#define SMTPSEND_HEADER_H

#include <time.h>

struct error;

/*
 * "From: Name <addr>", or "From: addr" when name is NULL or blank.  The
 * name is written as atoms, a quoted-string, or RFC 2047 encoded words
 * (UTF-8, B) when it has non-ASCII octets; control octets become spaces.
 * Folded as header_fold() does (lines of encoded words within 76); an
 * ASCII name that cannot be folded is encoded too.  ERR_USAGE if addr has
 * control octets or no line can hold the address.
 */
char *header_from(const char *addr, const char *name, struct error *err);

/* "Date: Wed, 25 Nov 2026 01:35:03 +0100" (RFC 5322 3.3, local time). */
char *header_date(time_t now, struct error *err);

/*
 * "Message-ID: <YYYYMMDDhhmmss.<128 random bits in hex>@domain>", from
 * getrandom() (or /dev/urandom); a domain unfit for a msg-id becomes
 * "localhost".
 */
char *header_msgid(const char *domain, struct error *err);

/*
 * line, one whole address header field unfolded ("From: ..." without
 * CRLF), folded before blanks after the colon so that its lines stay
 * within soft octets where they can and never exceed 998, CRLF added;
 * angle addresses are never split.  Malloc'ed; NULL with ERR_USAGE when a
 * part that cannot be folded is over 998 octets (ERR_OS: out of memory).
 */
char *header_fold(const char *line, size_t soft, struct error *err);

#endif
