/*
 * keyring_priv.h: what keyring.c (the child's jobs, the parent's side) and
 * keyring_bus.c (the child's D-Bus calls) share.  Child side only: the
 * functions report to the pipe and never return errors to a caller that
 * could show a secret.
 */
#ifndef SMTPSEND_KEYRING_PRIV_H
#define SMTPSEND_KEYRING_PRIV_H

#include <stddef.h>

#include <libsecret/secret.h>

/* Status bytes from the child. */
#define ST_FOUND 'F'
#define ST_NOTFOUND 'N'
#define ST_LOCKED 'L'
#define ST_UNREACHABLE 'U'
#define ST_ABSENT 'A'
#define ST_STORED 'S'

/*
 * The few libsecret and GLib functions used, resolved with dlsym() (GIO's
 * through libsecret's handle, whose dependency it is).  Lookups and the
 * SCRAM items talk D-Bus themselves (GDBus) in a "plain" session; storing
 * a password goes through libsecret, which may have to create or unlock
 * the collection.
 */
struct lsec {
	GDBusConnection *(*bus_get_sync)(GBusType, GCancellable *, GError **);
	GVariant *(*call_sync)(GDBusConnection *, const gchar *, const gchar *,
	    const gchar *, const gchar *, GVariant *, const GVariantType *,
	    GDBusCallFlags, gint, GCancellable *, GError **);
	GVariant *(*v_new)(const gchar *, ...);
	GVariantBuilder *(*builder_new)(const GVariantType *);
	void (*builder_add)(GVariantBuilder *, const gchar *, ...);
	void (*builder_unref)(GVariantBuilder *);
	GVariant *(*child)(GVariant *, gsize);
	gsize (*n_children)(GVariant *);
	const gchar *(*get_string)(GVariant *, gsize *);
	gconstpointer (*fixed_array)(GVariant *, gsize *, gsize);
	const gchar *(*type_string)(GVariant *);
	void (*v_unref)(GVariant *);
	void (*error_free)(GError *);
	gboolean (*storev_sync)(const SecretSchema *, GHashTable *,
	    const gchar *, const gchar *, const gchar *, GCancellable *,
	    GError **);
	gboolean (*clearv_sync)(const SecretSchema *, GHashTable *,
	    GCancellable *, GError **);
	GHashTable *(*hash_new)(GHashFunc, GEqualFunc);
	gboolean (*hash_insert)(GHashTable *, gpointer, gpointer);
	void (*hash_unref)(GHashTable *);
	guint (*str_hash)(gconstpointer);
	gboolean (*str_equal)(gconstpointer, gconstpointer);
};

/* The child's D-Bus connection and "plain" session. */
struct kr_bus {
	const struct lsec *ls;
	GDBusConnection *bus;
	char session[256];
	int fd;
};

/* Write the status byte and optional payload; the parent reads to EOF. */
void keyring_report(int fd, char status, const char *data, size_t len);
void keyring_report_str(int fd, char status, const char *msg);

/* The session bus and a plain session on it, for ls; reports why not. */
int keyring_bus_open(struct kr_bus *kb, const struct lsec *ls, int fd);

/*
 * Search by attributes (name, value, ..., NULL) and report the first
 * unlocked secret with status (see keyring_bus.c).  1: reported.
 */
int keyring_bus_search(const struct kr_bus *kb, const char *const *attrs,
    char status, int *locked);

/* Delete the unlocked items with these attributes.  0 or -1 (gerr). */
int keyring_bus_delete(const struct kr_bus *kb, const char *const *attrs,
    GError **gerr);

/* Create an item in the default collection.  0 or -1 (gerr may be NULL). */
int keyring_bus_create(const struct kr_bus *kb, const char *label,
    const char *const *attrs, const char *secret, GError **gerr);

#endif
