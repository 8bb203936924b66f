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

/*
 * Store secret under host/service "smtp"/user, label "smtpsend: user@host";
 * the SCRAM items of that host and user (every port) are removed.
 */
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
 * SCRAM's SaltedPassword of a password that is in the keyring is kept
 * there too (scram_cache.c): an item with attributes service
 * KEYRING_SCRAM_SERVICE, host (as configured), port, user and mechanism.
 */
#define KEYRING_SCRAM_SERVICE "smtpsend-scram"

/*
 * keyring_lookup() that also fetches, in the same child and over the same
 * bus connection, the SCRAM item of host, port and user: *scram is
 * malloc'ed, or NULL when there is none (or it is locked).  Returns as
 * keyring_lookup(); *scram is set only when the password was found.
 */
int keyring_lookup_scram(const char *host, int port, const char *user,
    int timeout, char **secret, char **scram, char *note, size_t notesize,
    struct error *err);

/*
 * Replace the SCRAM item of host, port and user by value (mech: the
 * mechanism attribute, "SCRAM-SHA-256"), or remove it.  Waits at most
 * timeout s (30 when 0 or more).  0, or -1 with ERR_KEYRING.
 */
int keyring_scram_store(const char *host, int port, const char *user,
    const char *mech, const char *value, int timeout, struct error *err);
int keyring_scram_clear(const char *host, int port, const char *user,
    int timeout, struct error *err);

/*
 * In a child process only: when DBUS_SESSION_BUS_ADDRESS is unset (cron)
 * and /run/user/UID/bus is a socket owned by us, set it.
 */
void keyring_fix_bus_env(void);

#endif
