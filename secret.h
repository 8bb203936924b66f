/*
 * secret.h: where the password or token comes from: the config file,
 * passwordeval, the keyring (libsecret, dlopen'ed), a prompt on /dev/tty.
 */
#ifndef SMTPSEND_SECRET_H
#define SMTPSEND_SECRET_H

#include <stdio.h>

struct error;
struct account;
struct scram_kept;

/*
 * Find the secret for acc, in order: password, passwordeval, keyring,
 * prompt.  Returns 0 with *secret malloc'ed (release it with
 * secret_free()); 1 with *secret NULL and *err set (ERR_SECRET) when no
 * source has one: no password or passwordeval, the keyring answered that
 * it has none (or libsecret is missing), no terminal; -1 on errors:
 * ERR_SECRET (78: passwordeval failed), ERR_KEYRING (75: keyring
 * unreachable or locked, with a hint).  kept (may be NULL) says whether
 * the secret came from the keyring, with SCRAM's SaltedPassword item
 * fetched beside it (scram_cache.h); release it with scram_kept_free().
 */
int secret_get(const struct account *acc, char **secret,
    struct scram_kept *kept, struct error *err);

/*
 * An account with oauth2_provider gets its access token from oauth2.c
 * (secret_get() too).  This one is for a token the server refused: a new
 * one, refreshed.  0 with *secret, or -1 with *err as oauth2_token().
 */
int secret_refresh(const struct account *acc, const char *refused,
    char **secret, struct error *err);

/*
 * --authorize (flow: enum oauth2_flow): the OAuth2 authorization of acc,
 * instructions on out; see oauth2_authorize().
 */
int secret_authorize(const struct account *acc, int flow, FILE *out,
    struct error *err);

/* Wipe and free. NULL is fine. */
void secret_free(char *secret);

/* --store-password: read the secret (no echo on a tty) and store it. */
int secret_store(const struct account *acc, struct error *err);

#endif
