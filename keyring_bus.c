/*
 * keyring_bus.c: the keyring child's own Secret Service calls, over GDBus
 * (GIO, reached through libsecret's handle): a "plain" session, a search
 * that reads the secrets of what it finds, deleting and creating items.
 * Reading a password this way costs a third of libsecret's way (no
 * Diffie-Hellman exchange); see keyring.c for who calls what.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libsecret/secret.h>

#include "keyring_priv.h"

/* Write the status byte and optional payload; the parent reads to EOF. */
void
keyring_report(int fd, char status, const char *data, size_t len)
{
	ssize_t n;

	if (write(fd, &status, 1) != 1)
		_exit(1);
	while (len > 0) {
		n = write(fd, data, len);
		if (n <= 0)
			_exit(1);
		data += n;
		len -= (size_t)n;
	}
}

void
keyring_report_str(int fd, char status, const char *msg)
{
	keyring_report(fd, status, msg, strlen(msg));
}

/* A lookup's D-Bus connection and "plain" session. */

#define SS_NAME "org.freedesktop.secrets"
#define SS_PATH "/org/freedesktop/secrets"
#define SS_IFACE "org.freedesktop.Secret.Service"

/* A method of a Secret Service object; NULL on error (gerr) or an answer
   not of type. */
static GVariant *
obj_call(const struct kr_bus *kb, const char *path, const char *iface,
    const char *method, GVariant *args, const char *type, GError **gerr)
{
	const struct lsec *ls = kb->ls;
	GVariant *r;

	r = ls->call_sync(kb->bus, SS_NAME, path, iface, method, args, NULL,
	    G_DBUS_CALL_FLAGS_NONE, -1, NULL, gerr);
	if (r != NULL && strcmp(ls->type_string(r), type) != 0) {
		ls->v_unref(r);
		r = NULL;
	}
	return r;
}

static GVariant *
ss_call(const struct kr_bus *kb, const char *method, GVariant *args,
    const char *type, GError **gerr)
{
	return obj_call(kb, SS_PATH, SS_IFACE, method, args, type, gerr);
}

/* Attributes (name, value, ..., NULL) as a floating a{ss}. */
static GVariant *
attrs_variant(const struct lsec *ls, const char *const *attrs)
{
	GVariantBuilder *b;
	GVariant *v;
	size_t i;

	b = ls->builder_new((const GVariantType *)"a{ss}");
	for (i = 0; attrs[i] != NULL; i += 2)
		ls->builder_add(b, "{ss}", attrs[i], attrs[i + 1]);
	v = ls->v_new("a{ss}", b);
	ls->builder_unref(b);
	return v;
}

/*
 * The "plain" algorithm: the secret crosses the user's own session bus
 * as it is, like every other message there.  libsecret's default (a
 * Diffie-Hellman exchange, then AES) costs two 1024-bit modular
 * exponentiations: two thirds of a lookup's instructions, at every send.
 */
static int
open_plain(struct kr_bus *kb, GError **gerr)
{
	const struct lsec *ls = kb->ls;
	GVariant *r, *path;

	r = ss_call(kb, "OpenSession", ls->v_new("(sv)", "plain",
	    ls->v_new("s", "")), "(vo)", gerr);
	if (r == NULL)
		return -1;
	path = ls->child(r, 1);
	snprintf(kb->session, sizeof(kb->session), "%s",
	    ls->get_string(path, NULL));
	ls->v_unref(path);
	ls->v_unref(r);
	return 0;
}

/* The secret of item path in GetSecrets' answer (a{o(oayays)}), reported. */
static int
report_item(const struct kr_bus *kb, GVariant *dict, const char *path,
    char status)
{
	const struct lsec *ls = kb->ls;
	GVariant *e, *k, *sec, *val;
	gconstpointer data;
	gsize i, n = ls->n_children(dict), len = 0;
	int done = 0;

	for (i = 0; i < n && !done; i++) {
		e = ls->child(dict, i);
		k = ls->child(e, 0);
		if (strcmp(ls->get_string(k, NULL), path) == 0) {
			sec = ls->child(e, 1);
			val = ls->child(sec, 2);
			data = ls->fixed_array(val, &len, 1);
			if (data != NULL && len > 0) {
				keyring_report(kb->fd, status, data, len);
				done = 1;
			}
			ls->v_unref(val);
			ls->v_unref(sec);
		}
		ls->v_unref(k);
		ls->v_unref(e);
	}
	return done;
}

/*
 * One search by attributes (name, value, ..., NULL), whatever the items'
 * schema, unlocking nothing (so nothing prompts).  The first unlocked
 * secret is reported with status (ST_FOUND; or '\0' for the SCRAM item
 * that follows a password, whose failures are not reported).  Returns 1
 * when it reported a secret or a failure; 0 when nothing matched (*locked
 * set when only locked items did).
 */
int
keyring_bus_search(const struct kr_bus *kb, const char *const *attrs, char status,
    int *locked)
{
	const struct lsec *ls = kb->ls;
	GVariant *r, *s = NULL, *unlocked = NULL, *v;
	GError *gerr = NULL;
	gsize i;
	int done = 0;

	r = ss_call(kb, "SearchItems", ls->v_new("(@a{ss})",
	    attrs_variant(ls, attrs)), "(aoao)", &gerr);
	if (r == NULL)
		goto fail;
	unlocked = ls->child(r, 0);
	if (ls->n_children(unlocked) == 0) {
		v = ls->child(r, 1);
		if (ls->n_children(v) > 0)
			*locked = 1;
		ls->v_unref(v);
		goto out;
	}
	s = ss_call(kb, "GetSecrets", ls->v_new("(@aoo)", unlocked,
	    kb->session), "(a{o(oayays)})", &gerr);
	if (s == NULL)
		goto fail;
	v = ls->child(s, 0);
	for (i = 0; i < ls->n_children(unlocked) && !done; i++) {
		GVariant *item = ls->child(unlocked, i);

		done = report_item(kb, v, ls->get_string(item, NULL), status);
		ls->v_unref(item);
	}
	ls->v_unref(v);
	goto out;
fail:
	if (status == ST_FOUND) {
		keyring_report_str(kb->fd, ST_UNREACHABLE, gerr != NULL ?
		    gerr->message : "unexpected answer from the Secret Service");
		done = 1;
	}
out:
	/* Freed, or valgrind's leak check fails the child (CI). */
	if (gerr != NULL)
		ls->error_free(gerr);
	if (unlocked != NULL)
		ls->v_unref(unlocked);
	if (s != NULL)
		ls->v_unref(s);
	if (r != NULL)
		ls->v_unref(r);
	return done;
}

/* The session bus and a plain session on it; reports why not. */
int
keyring_bus_open(struct kr_bus *kb, const struct lsec *ls, int fd)
{
	GError *gerr = NULL;

	memset(kb, 0, sizeof(*kb));
	kb->ls = ls;
	kb->fd = fd;
	kb->bus = ls->bus_get_sync(G_BUS_TYPE_SESSION, NULL, &gerr);
	if (kb->bus != NULL && open_plain(kb, &gerr) == 0)
		return 0;
	keyring_report_str(fd, ST_UNREACHABLE, gerr != NULL ? gerr->message :
	    "no Secret Service");
	if (gerr != NULL)
		ls->error_free(gerr);
	return -1;
}

/* Delete the unlocked items with these attributes. */
int
keyring_bus_delete(const struct kr_bus *kb, const char *const *attrs,
    GError **gerr)
{
	const struct lsec *ls = kb->ls;
	GVariant *r, *unlocked, *item, *d;
	gsize i;
	int rc = 0;

	r = ss_call(kb, "SearchItems", ls->v_new("(@a{ss})",
	    attrs_variant(ls, attrs)), "(aoao)", gerr);
	if (r == NULL)
		return -1;
	unlocked = ls->child(r, 0);
	for (i = 0; i < ls->n_children(unlocked) && rc == 0; i++) {
		item = ls->child(unlocked, i);
		d = obj_call(kb, ls->get_string(item, NULL),
		    "org.freedesktop.Secret.Item", "Delete", NULL, "(o)", gerr);
		if (d == NULL)
			rc = -1;
		else
			ls->v_unref(d);
		ls->v_unref(item);
	}
	ls->v_unref(unlocked);
	ls->v_unref(r);
	return rc;
}

/* A new item in the default collection; -1 (gerr may stay NULL). */
int
keyring_bus_create(const struct kr_bus *kb, const char *label,
    const char *const *attrs, const char *secret, GError **gerr)
{
	const struct lsec *ls = kb->ls;
	GVariantBuilder *props, *params, *value;
	GVariant *r, *item;
	size_t i;
	int rc;

	props = ls->builder_new((const GVariantType *)"a{sv}");
	ls->builder_add(props, "{sv}", "org.freedesktop.Secret.Item.Label",
	    ls->v_new("s", label));
	ls->builder_add(props, "{sv}",
	    "org.freedesktop.Secret.Item.Attributes", attrs_variant(ls, attrs));
	params = ls->builder_new((const GVariantType *)"ay");
	value = ls->builder_new((const GVariantType *)"ay");
	for (i = 0; secret[i] != '\0'; i++)
		ls->builder_add(value, "y", (guchar)secret[i]);
	r = obj_call(kb, "/org/freedesktop/secrets/aliases/default",
	    "org.freedesktop.Secret.Collection", "CreateItem",
	    ls->v_new("(a{sv}(oayays)b)", props, kb->session, params, value,
	    "text/plain", TRUE), "(oo)", gerr);
	ls->builder_unref(props);
	ls->builder_unref(params);
	ls->builder_unref(value);
	if (r == NULL)
		return -1;
	/* "/": the collection is locked and the service wants a prompt. */
	item = ls->child(r, 0);
	rc = strcmp(ls->get_string(item, NULL), "/") == 0 ? -1 : 0;
	ls->v_unref(item);
	ls->v_unref(r);
	return rc;
}
