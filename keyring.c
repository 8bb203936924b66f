/*
 * keyring.c: the Secret Service through libsecret, loaded with dlopen() in
 * a forked child that writes one status byte and the secret to a pipe.
 *
 * Why a child: libsecret starts GLib threads and D-Bus connections in the
 * process that uses it, and a lookup can block (service activation, an
 * unreachable bus); in a child, the parent keeps a plain deadline, kills it
 * when it passes, and never has GLib in its address space.  Why not link
 * libsecret: it costs every run millions of instructions of start-up.
 *
 * The environment: from cron DBUS_SESSION_BUS_ADDRESS is unset; the user's
 * bus at /run/user/UID/bus is then set in the child's environment only
 * (and passwordeval's, see secret.c), never in smtpsend's own.  The child
 * runs through child.c: deadline, output cap, its process group killed.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsecret/secret.h>

#include "child.h"
#include "error.h"
#include "keyring.h"

#define KEYRING_LIB "libsecret-1.so.0"
#define KEYRING_STORE_TIMEOUT 120 /* s: storing may show an unlock prompt */

/* Status bytes from the child. */
#define ST_FOUND 'F'
#define ST_NOTFOUND 'N'
#define ST_LOCKED 'L'
#define ST_UNREACHABLE 'U'
#define ST_ABSENT 'A'
#define ST_STORED 'S'

/*
 * The few libsecret and GLib functions used, resolved with dlsym() (GIO's
 * through libsecret's handle, whose dependency it is).  A lookup talks
 * D-Bus itself (GDBus) in a "plain" session; a store goes through
 * libsecret.
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

static const struct {
	const char *name;
	size_t off;
} lsec_syms[] = {
    {"g_bus_get_sync", offsetof(struct lsec, bus_get_sync)},
    {"g_dbus_connection_call_sync", offsetof(struct lsec, call_sync)},
    {"g_variant_new", offsetof(struct lsec, v_new)},
    {"g_variant_builder_new", offsetof(struct lsec, builder_new)},
    {"g_variant_builder_add", offsetof(struct lsec, builder_add)},
    {"g_variant_builder_unref", offsetof(struct lsec, builder_unref)},
    {"g_variant_get_child_value", offsetof(struct lsec, child)},
    {"g_variant_n_children", offsetof(struct lsec, n_children)},
    {"g_variant_get_string", offsetof(struct lsec, get_string)},
    {"g_variant_get_fixed_array", offsetof(struct lsec, fixed_array)},
    {"g_variant_get_type_string", offsetof(struct lsec, type_string)},
    {"g_variant_unref", offsetof(struct lsec, v_unref)},
    {"secret_password_storev_sync", offsetof(struct lsec, storev_sync)},
    {"secret_password_clearv_sync", offsetof(struct lsec, clearv_sync)},
    {"g_hash_table_new", offsetof(struct lsec, hash_new)},
    {"g_hash_table_insert", offsetof(struct lsec, hash_insert)},
    {"g_hash_table_unref", offsetof(struct lsec, hash_unref)},
    {"g_str_hash", offsetof(struct lsec, str_hash)},
    {"g_str_equal", offsetof(struct lsec, str_equal)},
};

/* msmtp's schema, so that msmtp finds what --store-password stored. */
static const SecretSchema keyring_schema = {
    "de.marlam.msmtp.password",
    SECRET_SCHEMA_NONE,
    {
	{"host", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"service", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"user", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{NULL, 0},
    },
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

/*
 * SCRAM's SaltedPassword (scram_cache.c), kept beside a password that is
 * in the keyring: one item per server (host as configured, port) and
 * user; mechanism names the hash it was computed for.
 */
static const SecretSchema scram_schema = {
    "org.smtpsend.ScramSaltedPassword",
    SECRET_SCHEMA_NONE,
    {
	{"service", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"host", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"port", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"user", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{"mechanism", SECRET_SCHEMA_ATTRIBUTE_STRING},
	{NULL, 0},
    },
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* 1 and the address when the user's bus socket exists and is ours. */
static int
user_bus(char *addr, size_t size)
{
	struct stat st;
	char path[64];

	snprintf(path, sizeof(path), "/run/user/%u/bus", (unsigned)getuid());
	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != getuid())
		return 0;
	snprintf(addr, size, "unix:path=%s", path);
	return 1;
}

static int
bus_env_set(void)
{
	const char *v = getenv("DBUS_SESSION_BUS_ADDRESS");

	return v != NULL && v[0] != '\0';
}

void
keyring_fix_bus_env(void)
{
	char addr[128];

	if (!bus_env_set() && user_bus(addr, sizeof(addr)))
		setenv("DBUS_SESSION_BUS_ADDRESS", addr, 1);
}

/* Write the status byte and optional payload; the parent reads to EOF. */
static void
report(int fd, char status, const char *data, size_t len)
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

static void
report_str(int fd, char status, const char *msg)
{
	report(fd, status, msg, strlen(msg));
}

static int
lsec_load(struct lsec *ls, int fd)
{
	void *h, *p;
	size_t i;
	const char *e;

	h = dlopen(KEYRING_LIB, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		e = dlerror();
		report_str(fd, ST_ABSENT, e != NULL ? e : KEYRING_LIB);
		return -1;
	}
	for (i = 0; i < sizeof(lsec_syms) / sizeof(lsec_syms[0]); i++) {
		p = dlsym(h, lsec_syms[i].name);
		if (p == NULL) {
			report_str(fd, ST_ABSENT, lsec_syms[i].name);
			return -1;
		}
		memcpy((char *)ls + lsec_syms[i].off, &p, sizeof(p));
	}
	return 0;
}

static GHashTable *
attrs_new(const struct lsec *ls, const char *k1, const char *v1, const char *k2,
    const char *v2, const char *user)
{
	GHashTable *a = ls->hash_new(ls->str_hash, ls->str_equal);

	ls->hash_insert(a, (gpointer)k1, (gpointer)v1);
	ls->hash_insert(a, (gpointer)k2, (gpointer)v2);
	if (user != NULL)
		ls->hash_insert(a, (gpointer) "user", (gpointer)user);
	return a;
}

/* The SCRAM item's attributes; port NULL: those of any port. */
static GHashTable *
scram_attrs(const struct lsec *ls, const char *host, const char *port,
    const char *user)
{
	GHashTable *a = attrs_new(ls, "service", KEYRING_SCRAM_SERVICE,
	    "host", host, user);

	if (port != NULL)
		ls->hash_insert(a, (gpointer) "port", (gpointer)port);
	return a;
}

/* A lookup's D-Bus connection and "plain" session. */
struct kr_bus {
	const struct lsec *ls;
	GDBusConnection *bus;
	char session[256];
	int fd;
};

#define SS_NAME "org.freedesktop.secrets"
#define SS_PATH "/org/freedesktop/secrets"
#define SS_IFACE "org.freedesktop.Secret.Service"

/* A Secret Service method; NULL on error (gerr) or an answer not of type. */
static GVariant *
ss_call(const struct kr_bus *kb, const char *method, GVariant *args,
    const char *type, GError **gerr)
{
	const struct lsec *ls = kb->ls;
	GVariant *r;

	r = ls->call_sync(kb->bus, SS_NAME, SS_PATH, SS_IFACE, method, args,
	    NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, gerr);
	if (r != NULL && strcmp(ls->type_string(r), type) != 0) {
		ls->v_unref(r);
		r = NULL;
	}
	return r;
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
				report(kb->fd, status, data, len);
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
static int
search(const struct kr_bus *kb, const char *const *attrs, char status,
    int *locked)
{
	const struct lsec *ls = kb->ls;
	GVariantBuilder *b;
	GVariant *r, *s = NULL, *unlocked = NULL, *v;
	GError *gerr = NULL;
	gsize i;
	int done = 0;

	b = ls->builder_new((const GVariantType *)"a{ss}");
	for (i = 0; attrs[i] != NULL; i += 2)
		ls->builder_add(b, "{ss}", attrs[i], attrs[i + 1]);
	r = ss_call(kb, "SearchItems", ls->v_new("(a{ss})", b), "(aoao)",
	    &gerr);
	ls->builder_unref(b);
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
		report_str(kb->fd, ST_UNREACHABLE, gerr != NULL ?
		    gerr->message : "unexpected answer from the Secret Service");
		done = 1;
	}
out:
	if (unlocked != NULL)
		ls->v_unref(unlocked);
	if (s != NULL)
		ls->v_unref(s);
	if (r != NULL)
		ls->v_unref(r);
	return done;
}

/* What the child is asked to do. */
enum kr_op { KR_LOOKUP, KR_STORE, KR_SCRAM_STORE, KR_SCRAM_CLEAR };

struct kr_job {
	enum kr_op op;
	const char *host;
	const char *service;
	const char *user;
	const char *secret; /* what to store */
	const char *port; /* the SCRAM item's (decimal), or NULL: none */
	const char *mech; /* KR_SCRAM_STORE: its mechanism attribute */
};

/*
 * The password, then (job->port set) the SCRAM item of the same server
 * and user over the same connection: "F" password ["\0" scram item].
 */
static void
kr_lookup(int fd, const struct kr_job *job)
{
	struct lsec ls;
	struct kr_bus kb;
	GError *gerr = NULL;
	const char *user = job->user != NULL ? "user" : NULL;
	const char *pw[] = {"host", job->host, "service", job->service, user,
	    job->user, NULL};
	const char *old[] = {"server", job->host, "protocol", "smtp", user,
	    job->user, NULL};
	const char *scram[] = {"service", KEYRING_SCRAM_SERVICE, "host",
	    job->host, "port", job->port, "user", job->user, NULL};
	int locked = 0, done, ignored = 0;

	if (lsec_load(&ls, fd) == -1)
		return;
	memset(&kb, 0, sizeof(kb));
	kb.ls = &ls;
	kb.fd = fd;
	kb.bus = ls.bus_get_sync(G_BUS_TYPE_SESSION, NULL, &gerr);
	if (kb.bus == NULL || open_plain(&kb, &gerr) == -1) {
		report_str(fd, ST_UNREACHABLE, gerr != NULL ? gerr->message :
		    "no Secret Service");
		return;
	}
	done = search(&kb, pw, ST_FOUND, &locked);
	if (!done && strcmp(job->service, "smtp") == 0)
		done = search(&kb, old, ST_FOUND, &locked);
	if (!done) {
		report(fd, locked ? ST_LOCKED : ST_NOTFOUND, NULL, 0);
		return;
	}
	if (job->port != NULL && job->user != NULL)
		(void)search(&kb, scram, '\0', &ignored);
}

/* The item's schema with its name left out of the match: any schema. */
static int
clear_any(const struct lsec *ls, const SecretSchema *schema, GHashTable *a,
    GError **gerr)
{
	SecretSchema any = *schema;

	any.flags = SECRET_SCHEMA_DONT_MATCH_NAME;
	return ls->clearv_sync(&any, a, NULL, gerr);
}

static void
kr_store(int fd, const struct kr_job *job)
{
	struct lsec ls;
	GError *gerr = NULL;
	GHashTable *a;
	char label[512];

	if (lsec_load(&ls, fd) == -1)
		return;
	if (strcmp(job->service, "smtp") == 0)
		snprintf(label, sizeof(label), "smtpsend: %s@%s", job->user,
		    job->host);
	else
		snprintf(label, sizeof(label), "smtpsend %s: %s@%s",
		    job->service, job->user, job->host);
	/* A new password makes the SaltedPassword kept for the old one
	   wrong: forget it (of every port) rather than be refused once. */
	if (strcmp(job->service, "smtp") == 0) {
		a = scram_attrs(&ls, job->host, NULL, job->user);
		(void)clear_any(&ls, &scram_schema, a, NULL);
		ls.hash_unref(a);
	}
	a = attrs_new(&ls, "host", job->host, "service", job->service,
	    job->user);
	/* Items with these attributes under any schema name (secret-tool
	   makes such): cleared first, so that one item is left and a lookup,
	   which matches any schema, cannot find a stale one. */
	(void)clear_any(&ls, &keyring_schema, a, NULL);
	if (ls.storev_sync(&keyring_schema, a, SECRET_COLLECTION_DEFAULT, label,
		job->secret, NULL, &gerr))
		report(fd, ST_STORED, NULL, 0);
	else
		report_str(fd, ST_UNREACHABLE,
		    gerr != NULL ? gerr->message : "storing failed");
	ls.hash_unref(a);
}

/* Replace (KR_SCRAM_STORE) or remove the SCRAM item of host, port, user. */
static void
kr_scram(int fd, const struct kr_job *job)
{
	struct lsec ls;
	GError *gerr = NULL;
	GHashTable *a;
	char label[512];
	int ok;

	if (lsec_load(&ls, fd) == -1)
		return;
	a = scram_attrs(&ls, job->host, job->port, job->user);
	ok = clear_any(&ls, &scram_schema, a, &gerr) || gerr == NULL;
	if (ok && job->op == KR_SCRAM_STORE) {
		snprintf(label, sizeof(label), "smtpsend %s salted password: "
		    "%s@%s port %s", job->mech, job->user, job->host, job->port);
		ls.hash_insert(a, (gpointer) "mechanism", (gpointer)job->mech);
		ok = ls.storev_sync(&scram_schema, a, SECRET_COLLECTION_DEFAULT,
		    label, job->secret, NULL, &gerr);
	}
	if (ok)
		report(fd, ST_STORED, NULL, 0);
	else
		report_str(fd, ST_UNREACHABLE,
		    gerr != NULL ? gerr->message : "storing failed");
	ls.hash_unref(a);
}

/* In the child, with stdout the pipe to the parent. */
static void
kr_main(void *arg)
{
	const struct kr_job *job = arg;

	keyring_fix_bus_env();
	switch (job->op) {
	case KR_LOOKUP: kr_lookup(STDOUT_FILENO, job); break;
	case KR_STORE: kr_store(STDOUT_FILENO, job); break;
	default: kr_scram(STDOUT_FILENO, job); break;
	}
}

/*
 * Fork the child, which runs the job, and collect what it reports.
 * Returns 0 with *b filled, 1 on timeout, -1.
 */
static int
run_child(const struct kr_job *job, int timeout, struct child_buf *b,
    struct error *err)
{
	struct child_result r;
	struct error cerr;

	error_clear(&cerr);
	if (child_run(kr_main, (void *)job, timeout * 1000, &r, &cerr) == -1)
		return error_set(err, ERR_KEYRING,
		    "keyring: cannot read the "
		    "lookup's answer: %s",
		    cerr.msg);
	*b = r.out;
	if (r.end == CHILD_TIMEOUT)
		return 1;
	/* A dead child's partial answer (or 1 MiB of junk) is no answer. */
	if (r.end == CHILD_TOO_MUCH || !child_ok(&r))
		child_buf_free(b);
	return 0;
}

static int
keyring_error(struct error *err, const char *what, const char *detail)
{
	error_set(err, ERR_KEYRING, "%s%s", what, detail);
	error_hint(err,
	    "run smtpsend from a login session where the keyring "
	    "is unlocked, use passwordeval instead, or store the password "
	    "again with smtpsend --store-password");
	return -1;
}

/* No bus at all: say so before GLib would try to autolaunch one. */
static int
check_bus(struct error *err)
{
	char addr[128], what[256];

	if (bus_env_set() || user_bus(addr, sizeof(addr)))
		return 0;
	snprintf(what, sizeof(what),
	    "DBUS_SESSION_BUS_ADDRESS is unset and "
	    "/run/user/%u/bus does not exist (cron without a login session?)",
	    (unsigned)getuid());
	/* --store-password needs the same bus: it is no fix here. */
	error_set(err, ERR_KEYRING, "keyring unreachable: no D-Bus session "
	    "bus: %s", what);
	error_hint(err, "give the user a bus of its own with \"loginctl "
	    "enable-linger USER\" (systemd), or, for system jobs, set "
	    "passwordeval (\"cat FILE\" of a password file the job can read) "
	    "or password in a 0600 configuration file");
	return -1;
}

/*
 * The lookup: *secret from "F" password, and *scram (when asked for) from
 * what follows the password's NUL.
 */
static int
lookup(const struct kr_job *job, int timeout, char **secret, char **scram,
    char *note, size_t notesize, struct error *err)
{
	struct child_buf b = {0};
	char secs[16];
	size_t n;
	int rc;

	*secret = NULL;
	if (scram != NULL)
		*scram = NULL;
	if (job->host == NULL)
		return 0;
	if (check_bus(err) == -1)
		return -1;
	if (timeout <= 0 || timeout > 30)
		timeout = 30;
	rc = run_child(job, timeout, &b, err);
	if (rc == -1)
		return -1;
	snprintf(secs, sizeof(secs), "%d s", timeout);
	if (rc == 1)
		rc = keyring_error(err, "keyring did not answer within ", secs);
	else if (b.len == 0)
		rc = keyring_error(err, "keyring lookup failed", "");
	else if (b.p[0] == ST_FOUND) {
		*secret = strdup(b.p + 1);
		n = strlen(b.p + 1);
		if (scram != NULL && *secret != NULL && 2 + n < b.len)
			*scram = strdup(b.p + 2 + n);
		rc = *secret == NULL ? error_set(err, ERR_OS, "out of memory")
				     : 1;
	} else if (b.p[0] == ST_LOCKED)
		rc = keyring_error(err,
		    "keyring locked: the password is in a "
		    "locked collection",
		    " and smtpsend does not prompt");
	else if (b.p[0] == ST_UNREACHABLE)
		rc = keyring_error(err, "keyring unreachable: ", b.p + 1);
	else {
		if (b.p[0] == ST_ABSENT)
			snprintf(note, notesize, " (keyring unavailable: %s)",
			    b.p + 1);
		rc = 0;
	}
	child_buf_free(&b);
	return rc;
}

int
keyring_lookup(const char *host, const char *user, int timeout, char **secret,
    char *note, size_t notesize, struct error *err)
{
	return keyring_lookup_service(
	    host, "smtp", user, timeout, secret, note, notesize, err);
}

int
keyring_lookup_scram(const char *host, int port, const char *user,
    int timeout, char **secret, char **scram, char *note, size_t notesize,
    struct error *err)
{
	struct kr_job job = {KR_LOOKUP, host, "smtp", user, NULL, NULL, NULL};
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	job.port = p;
	return lookup(&job, timeout, secret, scram, note, notesize, err);
}

int
keyring_lookup_service(const char *host, const char *service, const char *user,
    int timeout, char **secret, char *note, size_t notesize, struct error *err)
{
	struct kr_job job = {KR_LOOKUP, host, service, user, NULL, NULL, NULL};

	return lookup(&job, timeout, secret, NULL, note, notesize, err);
}

/* Run a store or clear job; 0, or -1 with ERR_KEYRING saying why. */
static int
change(const struct kr_job *job, int timeout, const char *what,
    struct error *err)
{
	struct child_buf b = {0};
	int rc;

	if (check_bus(err) == -1)
		return -1;
	rc = run_child(job, timeout, &b, err);
	if (rc == 1)
		rc = error_set(err, ERR_KEYRING,
		    "keyring did not answer within "
		    "%d s",
		    timeout);
	else if (rc == 0 && (b.len == 0 || b.p[0] != ST_STORED)) {
		if (b.len > 0 && b.p[0] == ST_ABSENT)
			rc = error_set(err, ERR_KEYRING,
			    "keyring unavailable: "
			    "%s",
			    b.p + 1);
		else
			rc = error_set(err, ERR_KEYRING, "cannot %s in the "
			    "keyring: %s", what, b.len > 1 ? b.p + 1 :
			    "no answer");
	}
	child_buf_free(&b);
	return rc;
}

int
keyring_store(
    const char *host, const char *user, const char *secret, struct error *err)
{
	return keyring_store_service(host, "smtp", user, secret, err);
}

int
keyring_store_service(const char *host, const char *service, const char *user,
    const char *secret, struct error *err)
{
	struct kr_job job = {KR_STORE, host, service, user, secret, NULL,
	    NULL};

	return change(&job, KEYRING_STORE_TIMEOUT, "store the password", err);
}

int
keyring_scram_store(const char *host, int port, const char *user,
    const char *mech, const char *value, int timeout, struct error *err)
{
	struct kr_job job = {KR_SCRAM_STORE, host, KEYRING_SCRAM_SERVICE,
	    user, value, NULL, mech};
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	job.port = p;
	if (timeout <= 0 || timeout > 30)
		timeout = 30;
	return change(&job, timeout, "keep the SCRAM salted password", err);
}

int
keyring_scram_clear(const char *host, int port, const char *user,
    int timeout, struct error *err)
{
	struct kr_job job = {KR_SCRAM_CLEAR, host, KEYRING_SCRAM_SERVICE,
	    user, NULL, NULL, NULL};
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	job.port = p;
	if (timeout <= 0 || timeout > 30)
		timeout = 30;
	return change(&job, timeout, "remove the SCRAM salted password", err);
}
