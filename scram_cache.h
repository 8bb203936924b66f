/*
 * scram_cache.h: SCRAM's SaltedPassword (RFC 5802) computed with Nettle and
 * kept between runs, so a send pays PBKDF2 only when the server's salt or
 * iteration count changes.  An entry is stored wrapped with a key derived
 * from the password, in a 0600 file of the 0700 cache directory: without
 * the password (which stays where it was: config, passwordeval, keyring)
 * the file is worth nothing.
 */
#ifndef SMTPSEND_SCRAM_CACHE_H
#define SMTPSEND_SCRAM_CACHE_H

#include <stddef.h>

#define SCRAM_SP_MAX	32	/* SHA-256's length, the longest we do */

struct scram_entry {
	const char	*dir;		/* cache directory, or NULL: no cache */
	const char	*server;	/* "host:port" as the account names it */
	const char	*user;
	int		 sha256;	/* 1: SCRAM-SHA-256(-PLUS), 0: SHA-1 */
	const char	*salt;		/* base64, as the server sent it */
	unsigned long	 iter;
};

/* Length of the SaltedPassword of e's hash: 32 or 20. */
size_t	scram_sp_len(const struct scram_entry *e);

/*
 * SaltedPassword = PBKDF2-HMAC(password, salt, iter) into sp (scram_sp_len
 * bytes); password is already SASLprep'ed.  -1 if the salt is not base64.
 */
int	scram_compute(const struct scram_entry *e, const char *password,
	    unsigned char *sp);

/* 1 with sp filled if the cache holds e (same salt and count), else 0. */
int	scram_cache_get(const struct scram_entry *e, const char *password,
	    unsigned char *sp);

/* Keep sp for e (replacing any entry of this server and user). 0 or -1. */
int	scram_cache_put(const struct scram_entry *e, const char *password,
	    const unsigned char *sp);

/* Forget e's server and user (the server refused what was kept). */
void	scram_cache_drop(const struct scram_entry *e);

#endif
