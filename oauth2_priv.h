/*
 * oauth2_priv.h: the oauth2 module's insides, shared by oauth2.c (store,
 * lock, refresh) and oauth2_flow.c (--authorize).  Not a contract.
 */
#ifndef SMTPSEND_OAUTH2_PRIV_H
#define SMTPSEND_OAUTH2_PRIV_H

#include <stddef.h>

struct account;
struct error;
struct http_json;
struct oauth2_source;

/* One store record. */
struct tokens {
	char *refresh;
	char *access;
	long long expires; /* time(NULL) units; 0 = unknown */
};

/* Wipe and free a string; NULL is fine. */
void oauth2_wipe_free(char *s);
/* Wipe and free both tokens. */
void oauth2_tokens_free(struct tokens *t);
/* Write t to the account's store (keyring or oauth2_token_file). */
int oauth2_store_save(
    const struct account *acc, const struct tokens *t, struct error *err);
/* Take the refresh lock of the account's store: *fdp, close it to let go. */
int oauth2_lock(const struct account *acc, int *fdp, struct error *err);
/* The CA file for the provider's endpoints, or NULL: the system store. */
const char *oauth2_trust_file(const struct account *acc);
/* The error for a token endpoint that did not answer 200. */
int oauth2_endpoint_error(const struct account *acc, const char *url,
    long status, const struct http_json *j, struct error *err);
/* Copy the tokens of a 200 reply into t; -1 (76) naming a missing field. */
int oauth2_take_tokens(const char *url, const struct http_json *j,
    struct tokens *t, struct error *err);
/* Add client_id (and client_secret if any) to form; -1 with *err. */
int oauth2_form_client(const struct account *acc,
    const struct oauth2_source *src, char *form, size_t size,
    struct error *err);

#endif
