/*
 * keyring.h: passwords in the Secret Service (gnome-keyring, KeePassXC...)
 * through libsecret, dlopen'ed in a short-lived child process: a send that
 * needs no keyring maps none of GLib, and a keyring that hangs (a locked
 * collection waiting for a prompt, a dead bus) is killed at the deadline.
 */
#ifndef SMTPSEND_KEYRING_H
#define SMTPSEND_KEYRING_H

#include <stddef.h>

struct error;

/*
 * Look up the item with attributes host (as written in the config),
 * service "smtp" and user, whatever its schema name (msmtp's and
 * secret-tool's items), then the old org.gnome.keyring.NetworkPassword
 * attributes (server, protocol "smtp", user).  Never unlocks.  Returns 1
 * with *secret malloc'ed, 0 if not found (note gets " (keyring
 * unavailable: why)" when libsecret is missing), -1 with ERR_KEYRING when
 * the keyring is unreachable, locked or does not answer within timeout s.
 */
int keyring_lookup(const char *host, const char *user, int timeout,
    char **secret, char *note, size_t notesize, struct error *err);

/* Store secret under host/service "smtp"/user, label "smtpsend: user@host". */
int keyring_store(
    const char *host, const char *user, const char *secret, struct error *err);

/*
 * The same for other items of smtpsend's (the OAuth2 tokens): attribute
 * service is the given one, and no old-style attributes are tried.  The
 * label of a stored item is "smtpsend SERVICE: user@host".
 */
int keyring_lookup_service(const char *host, const char *service,
    const char *user, int timeout, char **secret, char *note,
    size_t notesize, struct error *err);
int keyring_store_service(const char *host, const char *service,
    const char *user, const char *secret, struct error *err);

/*
 * In a child process only: when DBUS_SESSION_BUS_ADDRESS is unset (cron)
 * and /run/user/UID/bus is a socket owned by us, set it.
 */
void keyring_fix_bus_env(void);

#endif
