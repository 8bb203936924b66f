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
 * ERR_USAGE if addr has control octets or the line cannot fit in 998.
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

#endif
