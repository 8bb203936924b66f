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
 * What the child says: a lookup of the password writes "F" and the
 * password, then, when the SCRAM item of the same server and user was
 * asked for and exists, a NUL and that item's value: one child, one bus
 * connection for both (keyring_bus.c does the D-Bus calls, in a "plain"
 * session).  Storing a password goes through libsecret; the SCRAM items
 * are written and removed by keyring_bus.c.
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
#include "keyring_priv.h"

#define KEYRING_LIB "libsecret-1.so.0"
#define KEYRING_STORE_TIMEOUT 120 /* s: storing may show an unlock prompt */

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
    {"g_error_free", offsetof(struct lsec, error_free)},
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

static int
lsec_load(struct lsec *ls, int fd)
{
	void *h, *p;
	size_t i;
	const char *e;

	h = dlopen(KEYRING_LIB, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		e = dlerror();
		keyring_report_str(fd, ST_ABSENT, e != NULL ? e : KEYRING_LIB);
		return -1;
	}
	for (i = 0; i < sizeof(lsec_syms) / sizeof(lsec_syms[0]); i++) {
		p = dlsym(h, lsec_syms[i].name);
		if (p == NULL) {
			keyring_report_str(fd, ST_ABSENT, lsec_syms[i].name);
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
	const char *user = job->user != NULL ? "user" : NULL;
	const char *pw[] = {"host", job->host, "service", job->service, user,
	    job->user, NULL};
	const char *old[] = {"server", job->host, "protocol", "smtp", user,
	    job->user, NULL};
	const char *scram[] = {"service", KEYRING_SCRAM_SERVICE, "host",
	    job->host, "port", job->port, "user", job->user, NULL};
	int locked = 0, done, ignored = 0;

	if (lsec_load(&ls, fd) == -1 || keyring_bus_open(&kb, &ls, fd) == -1)
		return;
	done = keyring_bus_search(&kb, pw, ST_FOUND, &locked);
	if (!done && strcmp(job->service, "smtp") == 0)
		done = keyring_bus_search(&kb, old, ST_FOUND, &locked);
	if (!done) {
		keyring_report(fd, locked ? ST_LOCKED : ST_NOTFOUND, NULL, 0);
		return;
	}
	if (job->port != NULL && job->user != NULL)
		(void)keyring_bus_search(&kb, scram, '\0', &ignored);
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
		keyring_report(fd, ST_STORED, NULL, 0);
	else
		keyring_report_str(fd, ST_UNREACHABLE,
		    gerr != NULL ? gerr->message : "storing failed");
	ls.hash_unref(a);
}

/*
 * Replace (KR_SCRAM_STORE) or remove the SCRAM item of host, port and
 * user, over GDBus in a plain session like a lookup: libsecret's session
 * would cost a first run as much again as the lookup did.
 */
static void
kr_scram(int fd, const struct kr_job *job)
{
	struct lsec ls;
	struct kr_bus kb;
	GError *gerr = NULL;
	char label[512];
	const char *attrs[] = {"service", KEYRING_SCRAM_SERVICE, "host",
	    job->host, "port", job->port, "user", job->user, "mechanism",
	    job->mech, "xdg:schema", scram_schema.name, NULL};

	if (lsec_load(&ls, fd) == -1 || keyring_bus_open(&kb, &ls, fd) == -1)
		return;
	/* Any mechanism's item of this server and user goes. */
	attrs[8] = NULL;
	if (keyring_bus_delete(&kb, attrs, &gerr) == -1)
		goto fail;
	if (job->op == KR_SCRAM_STORE) {
		attrs[8] = "mechanism";
		snprintf(label, sizeof(label), "smtpsend %s salted password: "
		    "%s@%s port %s", job->mech, job->user, job->host, job->port);
		if (keyring_bus_create(&kb, label, attrs, job->secret, &gerr) == -1)
			goto fail;
	}
	keyring_report(fd, ST_STORED, NULL, 0);
	return;
fail:
	keyring_report_str(fd, ST_UNREACHABLE, gerr != NULL ? gerr->message :
	    "the default collection is locked");
	if (gerr != NULL)
		ls.error_free(gerr);
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
