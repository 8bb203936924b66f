/*
 * scram_cache.h: SCRAM's SaltedPassword (RFC 5802) computed with Nettle and
 * kept between runs, so a send pays PBKDF2 only when the server's salt or
 * iteration count changes.  An entry is stored wrapped with a key derived
 * from the password, where the password is: in the keyring (an item of
 * service "smtpsend-scram", keyring.h) when the password came from there,
 * else in a 0600 file of the 0700 cache directory, which without the
 * password (config, passwordeval, prompt) is worth nothing.
 */
#ifndef SMTPSEND_SCRAM_CACHE_H
#define SMTPSEND_SCRAM_CACHE_H

#include <stddef.h>

struct error;

#define SCRAM_SP_MAX	32	/* SHA-256's length, the longest we do */

/*
 * Where the password came from, filled by secret_get(): in the keyring,
 * the SCRAM item was fetched with it (blob).  The caller owns it and
 * releases it with scram_kept_free(); scram_cache_put() and _drop() keep
 * blob in step with the keyring, so that a second AUTH in the same run
 * (the queue's next session) uses what the first one kept.
 */
struct scram_kept {
	int		 keyring;	/* 1: the password is in the keyring */
	int		 timeout;	/* s, for the keyring calls */
	char		*blob;		/* the item's value, or NULL; wiped */
};

/* Wipe and free blob; k is {0} again.  NULL is fine. */
void	scram_kept_free(struct scram_kept *k);

struct scram_entry {
	const char	*dir;		/* cache directory, or NULL: no cache */
	const char	*server;	/* "host:port" as the account names it */
	const char	*user;
	int		 sha256;	/* 1: SCRAM-SHA-256(-PLUS), 0: SHA-1 */
	const char	*salt;		/* base64, as the server sent it */
	unsigned long	 iter;
	struct scram_kept *kept;	/* keyring set: kept there, not in dir */
	const char	*host;		/* the keyring item's host and port */
	int		 port;
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

/*
 * Keep sp for e (replacing any entry of this server and user): in the
 * keyring (e->kept->keyring; another keyring child, err says why it
 * failed), else in the file.  0 or -1.
 */
int	scram_cache_put(const struct scram_entry *e, const char *password,
	    const unsigned char *sp, struct error *err);

/*
 * Forget e's server and user (the server refused what was kept): the
 * keyring item (another keyring child; failures ignored) or the file.
 */
void	scram_cache_drop(const struct scram_entry *e);

#endif
