/*
 * secret.h: where the password or token comes from: the config file,
 * passwordeval, the keyring (libsecret, dlopen'ed), a prompt on /dev/tty.
 */
#ifndef SMTPSEND_SECRET_H
#define SMTPSEND_SECRET_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct error;
struct account;

/*
 * Find the secret for acc, in order: password, passwordeval, keyring,
 * prompt.  Returns 0 with *secret malloc'ed (release it with
 * secret_free()); 1 with *secret NULL and *err set (ERR_SECRET) when no
 * source has one: no password or passwordeval, the keyring answered that
 * it has none (or libsecret is missing), no terminal; -1 on errors:
 * ERR_SECRET (78: passwordeval failed), ERR_KEYRING (75: keyring
 * unreachable or locked, with a hint).
 */
int secret_get(const struct account *acc, char **secret, struct error *err);

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

/*
 * Helpers shared with keyring.c.  A secret_buf grows without realloc() (no
 * unwiped copies) up to 1 MiB; secret_buf_free() wipes it.
 */
struct secret_buf {
	char *p;
	size_t len;
	size_t size;
};

int secret_buf_add(struct secret_buf *b, const char *data, size_t n);
void secret_buf_free(struct secret_buf *b);

/*
 * Read a child's pipe fd into b until EOF, or until it has exited and
 * printed a line, within timeout_ms; on timeout the child is killed.
 * *status: its wait status.  Returns 0, 1 on timeout, -1 on error.
 */
int secret_collect(
    int fd, pid_t pid, int timeout_ms, struct secret_buf *b, int *status);

/*
 * Fork a child that runs child(fd, arg) with fd the write end of a new
 * pipe (the child exits 0 if child returns).  Returns the pid with *rfd
 * the read end (close-on-exec, the caller closes it and reaps the pid,
 * e.g. with secret_collect()), or -1 with *err (ERR_OS).
 */
pid_t secret_spawn(void (*child)(int fd, void *arg), void *arg, int *rfd,
    struct error *err);

#endif
