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

/* The few libsecret and GLib functions used, resolved with dlsym(). */
struct lsec {
	SecretService *(*service_get_sync)(
	    SecretServiceFlags, GCancellable *, GError **);
	GList *(*search_sync)(SecretService *, const SecretSchema *,
	    GHashTable *, SecretSearchFlags, GCancellable *, GError **);
	gboolean (*item_get_locked)(SecretItem *);
	SecretValue *(*item_get_secret)(SecretItem *);
	const gchar *(*value_get)(SecretValue *, gsize *);
	void (*value_unref)(gpointer);
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
	void (*list_free_full)(GList *, GDestroyNotify);
	void (*object_unref)(gpointer);
};

static const struct {
	const char *name;
	size_t off;
} lsec_syms[] = {
    {"secret_service_get_sync", offsetof(struct lsec, service_get_sync)},
    {"secret_service_search_sync", offsetof(struct lsec, search_sync)},
    {"secret_item_get_locked", offsetof(struct lsec, item_get_locked)},
    {"secret_item_get_secret", offsetof(struct lsec, item_get_secret)},
    {"secret_value_get", offsetof(struct lsec, value_get)},
    {"secret_value_unref", offsetof(struct lsec, value_unref)},
    {"secret_password_storev_sync", offsetof(struct lsec, storev_sync)},
    {"secret_password_clearv_sync", offsetof(struct lsec, clearv_sync)},
    {"g_hash_table_new", offsetof(struct lsec, hash_new)},
    {"g_hash_table_insert", offsetof(struct lsec, hash_insert)},
    {"g_hash_table_unref", offsetof(struct lsec, hash_unref)},
    {"g_str_hash", offsetof(struct lsec, str_hash)},
    {"g_str_equal", offsetof(struct lsec, str_equal)},
    {"g_list_free_full", offsetof(struct lsec, list_free_full)},
    {"g_object_unref", offsetof(struct lsec, object_unref)},
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

/*
 * One search without a schema (so no xdg:schema is matched) and without
 * SECRET_SEARCH_UNLOCK (so nothing prompts).  Reports and returns 1 when
 * it found a secret or failed; 0 when nothing matched (*locked set when
 * only locked items did).
 */
static int
search(const struct lsec *ls, SecretService *svc, GHashTable *attrs, int fd,
    int *locked)
{
	GError *gerr = NULL;
	GList *items, *l;
	SecretValue *v;
	const gchar *data;
	gsize len;
	int done = 0;

	items = ls->search_sync(svc, NULL, attrs,
	    SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS, NULL, &gerr);
	if (gerr != NULL) {
		report_str(fd, ST_UNREACHABLE, gerr->message);
		return 1;
	}
	for (l = items; l != NULL && !done; l = l->next) {
		if (ls->item_get_locked(l->data)) {
			*locked = 1;
			continue;
		}
		v = ls->item_get_secret(l->data);
		if (v == NULL)
			continue;
		data = ls->value_get(v, &len);
		if (data != NULL && len > 0) {
			report(fd, ST_FOUND, data, len);
			done = 1;
		}
		ls->value_unref(v);
	}
	ls->list_free_full(items, ls->object_unref);
	return done;
}

static void
kr_lookup(int fd, const char *host, const char *service, const char *user)
{
	struct lsec ls;
	SecretService *svc;
	GError *gerr = NULL;
	GHashTable *a;
	int locked = 0, done;

	if (lsec_load(&ls, fd) == -1)
		return;
	svc = ls.service_get_sync(SECRET_SERVICE_OPEN_SESSION, NULL, &gerr);
	if (svc == NULL) {
		report_str(fd, ST_UNREACHABLE,
		    gerr != NULL ? gerr->message : "no Secret Service");
		return;
	}
	a = attrs_new(&ls, "host", host, "service", service, user);
	done = search(&ls, svc, a, fd, &locked);
	ls.hash_unref(a);
	if (!done && strcmp(service, "smtp") == 0) {
		a = attrs_new(&ls, "server", host, "protocol", "smtp", user);
		done = search(&ls, svc, a, fd, &locked);
		ls.hash_unref(a);
	}
	if (!done)
		report(fd, locked ? ST_LOCKED : ST_NOTFOUND, NULL, 0);
}

static void
kr_store(int fd, const char *host, const char *service, const char *user,
    const char *secret)
{
	struct lsec ls;
	GError *gerr = NULL;
	GHashTable *a;
	SecretSchema any_schema = keyring_schema;
	char label[512];

	if (lsec_load(&ls, fd) == -1)
		return;
	if (strcmp(service, "smtp") == 0)
		snprintf(label, sizeof(label), "smtpsend: %s@%s", user, host);
	else
		snprintf(label, sizeof(label), "smtpsend %s: %s@%s", service,
		    user, host);
	a = attrs_new(&ls, "host", host, "service", service, user);
	/* Items with these attributes under any schema name (secret-tool
	   makes such): cleared first, so that one item is left and a lookup,
	   which matches any schema, cannot find a stale one. */
	any_schema.flags = SECRET_SCHEMA_DONT_MATCH_NAME;
	(void)ls.clearv_sync(&any_schema, a, NULL, NULL);
	if (ls.storev_sync(&keyring_schema, a, SECRET_COLLECTION_DEFAULT, label,
		secret, NULL, &gerr))
		report(fd, ST_STORED, NULL, 0);
	else
		report_str(fd, ST_UNREACHABLE,
		    gerr != NULL ? gerr->message : "storing failed");
	ls.hash_unref(a);
}

/* What the child is asked to do: a lookup (secret NULL) or a store. */
struct kr_job {
	const char *host;
	const char *service;
	const char *user;
	const char *secret;
};

/* In the child, with stdout the pipe to the parent. */
static void
kr_main(void *arg)
{
	const struct kr_job *job = arg;

	keyring_fix_bus_env();
	if (job->secret == NULL)
		kr_lookup(STDOUT_FILENO, job->host, job->service, job->user);
	else
		kr_store(STDOUT_FILENO, job->host, job->service, job->user,
		    job->secret);
}

/*
 * Fork the child, which runs the lookup (secret NULL) or the store, and
 * collect what it reports.  Returns 0 with *b filled, 1 on timeout, -1.
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

int
keyring_lookup(const char *host, const char *user, int timeout, char **secret,
    char *note, size_t notesize, struct error *err)
{
	return keyring_lookup_service(
	    host, "smtp", user, timeout, secret, note, notesize, err);
}

int
keyring_lookup_service(const char *host, const char *service, const char *user,
    int timeout, char **secret, char *note, size_t notesize, struct error *err)
{
	struct kr_job job = {host, service, user, NULL};
	struct child_buf b = {0};
	char secs[16];
	int rc;

	*secret = NULL;
	if (host == NULL)
		return 0;
	if (check_bus(err) == -1)
		return -1;
	if (timeout <= 0 || timeout > 30)
		timeout = 30;
	rc = run_child(&job, timeout, &b, err);
	if (rc == -1)
		return -1;
	snprintf(secs, sizeof(secs), "%d s", timeout);
	if (rc == 1)
		rc = keyring_error(err, "keyring did not answer within ", secs);
	else if (b.len == 0)
		rc = keyring_error(err, "keyring lookup failed", "");
	else if (b.p[0] == ST_FOUND) {
		*secret = strdup(b.p + 1);
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
keyring_store(
    const char *host, const char *user, const char *secret, struct error *err)
{
	return keyring_store_service(host, "smtp", user, secret, err);
}

int
keyring_store_service(const char *host, const char *service, const char *user,
    const char *secret, struct error *err)
{
	struct kr_job job = {host, service, user, secret};
	struct child_buf b = {0};
	int rc;

	if (check_bus(err) == -1)
		return -1;
	rc = run_child(&job, KEYRING_STORE_TIMEOUT, &b, err);
	if (rc == 1)
		rc = error_set(err, ERR_KEYRING,
		    "keyring did not answer within "
		    "%d s",
		    KEYRING_STORE_TIMEOUT);
	else if (rc == 0 && (b.len == 0 || b.p[0] != ST_STORED)) {
		if (b.len > 0 && b.p[0] == ST_ABSENT)
			rc = error_set(err, ERR_KEYRING,
			    "keyring unavailable: "
			    "%s",
			    b.p + 1);
		else
			rc = error_set(err, ERR_KEYRING,
			    "cannot store the "
			    "password in the keyring: %s",
			    b.len > 1 ? b.p + 1 : "no answer");
	}
	child_buf_free(&b);
	return rc;
}
