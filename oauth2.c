/*
 * oauth2.c: the token lifecycle of an account with oauth2_provider.
 *
 * The store holds one record per account: the refresh token, the last
 * access token and when it expires.  It lives in the keyring (attributes
 * host, service "smtpsend-oauth2", user) or in oauth2_token_file.  A send
 * reads it; when the access token has under a minute left (or the server
 * refused it) the send takes a lock, reads the store again (another send
 * may have refreshed meanwhile), refreshes at the token endpoint, and
 * saves the new record, with the rotated refresh token, before it uses
 * the new access token.  So two sends refreshing at once never lose the
 * newest refresh token: the second waits and finds the first's tokens.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "http.h"
#include "io.h"
#include "keyring.h"
#include "oauth2.h"
#include "oauth2_priv.h"

#define OAUTH2_MIN_LIFE 60 /* s an access token must still be valid */
#define OAUTH2_STORE_MAX 65536 /* longest record read */
#define OAUTH2_FORM_MAX 32768 /* longest request body */
#define OAUTH2_DEFAULT_LIFE 3600 /* expires_in when the server omits it */
#define OAUTH2_MAGIC "smtpsend-oauth2 1"

void
oauth2_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
oauth2_tokens_free(struct tokens *t)
{
	oauth2_wipe_free(t->refresh);
	oauth2_wipe_free(t->access);
	memset(t, 0, sizeof(*t));
}

/* Parse a record; -1 if it is not one of ours. */
static int
tokens_parse(const char *rec, struct tokens *t)
{
	const char *line = rec, *nl, *v;
	char **field;
	size_t n;
	char *end;

	memset(t, 0, sizeof(*t));
	if (strncmp(rec, OAUTH2_MAGIC "\n", sizeof(OAUTH2_MAGIC)) != 0)
		return -1;
	line += sizeof(OAUTH2_MAGIC);
	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		field = NULL;
		if (strncmp(line, "refresh_token ", 14) == 0) {
			field = &t->refresh;
			v = line + 14;
		} else if (strncmp(line, "access_token ", 13) == 0) {
			field = &t->access;
			v = line + 13;
		} else if (strncmp(line, "expires_at ", 11) == 0) {
			t->expires = strtoll(line + 11, &end, 10);
			if (end != nl)
				t->expires = 0;
			continue;
		} else
			continue;
		n = (size_t)(nl - v);
		oauth2_wipe_free(*field);
		if ((*field = strndup(v, n)) == NULL)
			return -1;
	}
	return 0;
}

/* The record for t, malloc'ed. */
static char *
tokens_format(const struct tokens *t)
{
	size_t n;
	char *s;

	n = strlen(t->refresh) + (t->access != NULL ? strlen(t->access) : 0) +
	    128;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n,
	    OAUTH2_MAGIC "\nrefresh_token %s\naccess_token %s\n"
			 "expires_at %lld\n",
	    t->refresh, t->access != NULL ? t->access : "", t->expires);
	return s;
}

static int
no_refresh_token(
    const struct account *acc, const char *where, struct error *err)
{
	error_set(err, ERR_SECRET,
	    "account %s: no OAuth2 refresh token "
	    "stored yet (%s)",
	    acc->name, where);
	error_hint(err, "run smtpsend --authorize -a %s", acc->name);
	return -1;
}

/* The file store's rule: a regular file of ours that only we can use. */
static int
file_check(const struct account *acc, int fd, struct error *err)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return error_set(err, ERR_IO, "%s: %s", acc->oauth2_token_file,
		    strerror(errno));
	if (S_ISREG(st.st_mode) && st.st_uid == getuid() &&
	    (st.st_mode & 077) == 0)
		return 0;
	error_set(err, ERR_CONFIG,
	    "oauth2_token_file %s: must be a regular "
	    "file owned by you and not accessible by others",
	    acc->oauth2_token_file);
	error_hint(err, "chmod 600 %s", acc->oauth2_token_file);
	return -1;
}

static int
file_load(const struct account *acc, char **rec, struct error *err)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = open(acc->oauth2_token_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1) {
		error_set(err, errno == ELOOP ? ERR_CONFIG : ERR_IO,
		    "oauth2_token_file %s: %s", acc->oauth2_token_file,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (file_check(acc, fd, err) == -1)
		goto done;
	if ((buf = malloc(OAUTH2_STORE_MAX + 1)) == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto done;
	}
	while (len < OAUTH2_STORE_MAX &&
	    (n = read(fd, buf + len, OAUTH2_STORE_MAX - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, ERR_IO, "%s: %s", acc->oauth2_token_file,
			    strerror(errno));
			goto done;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*rec = buf;
	buf = NULL;
	rc = 1;
done:
	if (buf != NULL) {
		explicit_bzero(buf, OAUTH2_STORE_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Write to PATH.tmp (0600) and rename: a crash leaves the old record. */
static int
file_save(const struct account *acc, const char *rec, struct error *err)
{
	char tmp[4096];
	size_t len = strlen(rec), off = 0;
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", acc->oauth2_token_file) >=
	    (int)sizeof(tmp))
		return error_set(err, ERR_CONFIG,
		    "oauth2_token_file: name "
		    "too long");
	unlink(tmp);
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return error_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
	while (off < len) {
		n = write(fd, rec + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) == -1 || close(fd) == -1) {
		if (off < len)
			close(fd);
		unlink(tmp);
		return error_set(
		    err, ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
	}
	if (rename(tmp, acc->oauth2_token_file) == -1) {
		unlink(tmp);
		return error_set(err, ERR_IO, "%s: %s", acc->oauth2_token_file,
		    strerror(errno));
	}
	return 0;
}

/* 1 with *t, 0 when nothing is stored, -1. */
static int
store_load(const struct account *acc, struct tokens *t, struct error *err)
{
	char note[256], *rec = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	note[0] = '\0';
	if (acc->oauth2_token_file != NULL)
		rc = file_load(acc, &rec, err);
	else
		rc = keyring_lookup_service(acc->host, OAUTH2_KEYRING_SERVICE,
		    acc->user, acc->timeout, &rec, note, sizeof(note), err);
	if (rc == 0 && note[0] != '\0') {
		error_set(err, ERR_SECRET,
		    "account %s: no OAuth2 token store%s", acc->name, note);
		error_hint(err,
		    "set oauth2_token_file, or install libsecret "
		    "(Debian: libsecret-1-0) and a keyring");
		return -1;
	}
	if (rc == -1 && err->kind == ERR_KEYRING)
		error_hint(err, "run smtpsend from a login session where the "
		    "keyring is unlocked, or keep the tokens in a file with "
		    "oauth2_token_file");
	if (rc != 1)
		return rc;
	rc = tokens_parse(rec, t);
	oauth2_wipe_free(rec);
	if (rc == -1 || t->refresh == NULL || t->refresh[0] == '\0') {
		oauth2_tokens_free(t);
		return 0;
	}
	return 1;
}

int
oauth2_store_save(
    const struct account *acc, const struct tokens *t, struct error *err)
{
	char *rec;
	int rc;

	if ((rec = tokens_format(t)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (acc->oauth2_token_file != NULL)
		rc = file_save(acc, rec, err);
	else
		rc = keyring_store_service(
		    acc->host, OAUTH2_KEYRING_SERVICE, acc->user, rec, err);
	oauth2_wipe_free(rec);
	return rc;
}

/*
 * The lock that serialises refreshes of one store: PATH.lock beside a
 * token file, else one in $XDG_RUNTIME_DIR (or /tmp) per user.
 */
int
oauth2_lock(const struct account *acc, int *fdp, struct error *err)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	long long deadline;
	char path[4096];
	int fd;

	if (acc->oauth2_token_file != NULL)
		snprintf(path, sizeof(path), "%s.lock", acc->oauth2_token_file);
	else if (rt != NULL && rt[0] == '/')
		snprintf(path, sizeof(path), "%s/smtpsend-oauth2.lock", rt);
	else
		snprintf(path, sizeof(path), "/tmp/smtpsend-oauth2-%u.lock",
		    (unsigned)getuid());
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return error_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	deadline =
	    io_now_ms() + (acc->timeout > 0 ? acc->timeout : 60) * 2000LL;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return error_set(
			    err, ERR_IO, "%s: %s", path, strerror(errno));
		}
		if (io_now_ms() > deadline) {
			close(fd);
			return error_set(err, ERR_NETWORK,
			    "%s: another "
			    "smtpsend holds the token lock",
			    path);
		}
		poll(NULL, 0, 20);
	}
	*fdp = fd;
	return 0;
}

/* A custom endpoint is trusted like the SMTP server: tls_trust_file. */
const char *
oauth2_trust_file(const struct account *acc)
{
	if (strcmp(acc->oauth2_provider, "custom") == 0 &&
	    acc->tls_trust_file != NULL && acc->tls_trust_file[0] != '\0')
		return acc->tls_trust_file;
	return NULL;
}

/* The token endpoint refused: say what to do. */
int
oauth2_endpoint_error(const struct account *acc, const char *url, long status,
    const struct http_json *j, struct error *err)
{
	const char *e = http_json_str(j, "error");
	const char *d = http_json_str(j, "error_description");
	char why[300];

	snprintf(why, sizeof(why), "%s%s%.200s",
	    e != NULL ? e
		      : "no error "
			"code",
	    d != NULL ? ": " : "", d != NULL ? d : "");
	if (status >= 500) {
		error_set(err, ERR_NETWORK,
		    "OAuth2 token endpoint %s answered "
		    "HTTP %ld",
		    url, status);
		return -1;
	}
	if (e != NULL && strcmp(e, "invalid_grant") == 0) {
		error_set(err, ERR_AUTH,
		    "account %s: the OAuth2 refresh token "
		    "was refused (%s)",
		    acc->name, why);
		error_hint(err, "run smtpsend --authorize -a %s", acc->name);
		return -1;
	}
	if (e != NULL &&
	    (strcmp(e, "invalid_client") == 0 ||
		strcmp(e, "unauthorized_client") == 0 ||
		strcmp(e, "invalid_scope") == 0)) {
		error_set(err, ERR_CONFIG,
		    "account %s: the OAuth2 provider "
		    "refused the client (%s)",
		    acc->name, why);
		error_hint(err,
		    "check oauth2_client_id, oauth2_client_secret "
		    "and oauth2_scope");
		return -1;
	}
	return error_set(err, ERR_PROTOCOL,
	    "OAuth2 token endpoint %s "
	    "answered HTTP %ld (%s)",
	    url, status, why);
}

/* Take the new tokens from a 200 reply into t (a missing refresh_token
   means the old one stays valid). */
int
oauth2_take_tokens(const char *url, const struct http_json *j, struct tokens *t,
    struct error *err)
{
	const char *access, *refresh, *type;
	long long life = OAUTH2_DEFAULT_LIFE;
	int rc;

	if (j == NULL)
		return error_set(err, ERR_PROTOCOL,
		    "OAuth2 token endpoint %s: "
		    "the reply is not a JSON object",
		    url);
	access = http_json_str(j, "access_token");
	if (access == NULL || access[0] == '\0')
		return error_set(err, ERR_PROTOCOL,
		    "OAuth2 token endpoint %s: "
		    "no access_token in the reply",
		    url);
	type = http_json_str(j, "token_type");
	if (type == NULL || strcasecmp(type, "bearer") != 0)
		return error_set(err, ERR_PROTOCOL,
		    "OAuth2 token endpoint %s: "
		    "token_type is not Bearer",
		    url);
	rc = http_json_int(j, "expires_in", &life);
	if (rc == -1 || (rc == 1 && life <= 0))
		return error_set(err, ERR_PROTOCOL,
		    "OAuth2 token endpoint %s: "
		    "expires_in is not a positive number",
		    url);
	refresh = http_json_str(j, "refresh_token");
	oauth2_wipe_free(t->access);
	if ((t->access = strdup(access)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (refresh != NULL && refresh[0] != '\0') {
		oauth2_wipe_free(t->refresh);
		if ((t->refresh = strdup(refresh)) == NULL)
			return error_set(err, ERR_OS, "out of memory");
	}
	t->expires = (long long)time(NULL) + life;
	return 0;
}

/* The refresh_token grant: t gets the new tokens. */
static int
refresh(const struct account *acc, const struct oauth2_source *src,
    struct tokens *t, struct error *err)
{
	struct http_request req;
	struct http_json *j = NULL;
	char ubuf[512], *form;
	long status = 0;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	req.url = config_oauth2_endpoint(acc, CONFIG_OAUTH2_TOKEN, ubuf,
	    sizeof(ubuf));
	req.cafile = oauth2_trust_file(acc);
	req.timeout = acc->timeout > 0 ? acc->timeout : 60;
	if ((form = calloc(1, OAUTH2_FORM_MAX)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	req.form = form;
	if (http_form_add(
		form, OAUTH2_FORM_MAX, "grant_type", "refresh_token") == -1 ||
	    http_form_add(form, OAUTH2_FORM_MAX, "refresh_token", t->refresh) ==
		-1) {
		error_set(err, ERR_CONFIG,
		    "account %s: OAuth2 request too "
		    "long",
		    acc->name);
		goto done;
	}
	if (oauth2_form_client(acc, src, form, OAUTH2_FORM_MAX, err) == -1)
		goto done;
	if (http_post(&req, &status, &j, err) == -1)
		goto done;
	if (status != 200)
		oauth2_endpoint_error(acc, req.url, status, j, err);
	else
		rc = oauth2_take_tokens(req.url, j, t, err);
done:
	http_json_free(j);
	explicit_bzero(form, OAUTH2_FORM_MAX);
	free(form);
	return rc;
}

int
oauth2_form_client(const struct account *acc, const struct oauth2_source *src,
    char *form, size_t size, struct error *err)
{
	char *cs = NULL;
	int rc = 0;

	if (src->client_secret(acc, &cs, err) == -1)
		return -1;
	if (http_form_add(form, size, "client_id", acc->oauth2_client_id) ==
		-1 ||
	    (cs != NULL &&
		http_form_add(form, size, "client_secret", cs) == -1))
		rc = error_set(err, ERR_CONFIG,
		    "account %s: OAuth2 request "
		    "too long",
		    acc->name);
	oauth2_wipe_free(cs);
	return rc;
}

static int
usable(const struct tokens *t, const char *refused)
{
	return t->access != NULL && t->access[0] != '\0' &&
	    t->expires - (long long)time(NULL) >= OAUTH2_MIN_LIFE &&
	    (refused == NULL || strcmp(t->access, refused) != 0);
}

int
oauth2_token(const struct account *acc, const char *refused,
    const struct oauth2_source *src, char **token, struct error *err)
{
	struct tokens t;
	int lock = -1, rc;

	*token = NULL;
	rc = store_load(acc, &t, err);
	if (rc == 0)
		return no_refresh_token(acc,
		    acc->oauth2_token_file != NULL ? acc->oauth2_token_file
						   : "keyring",
		    err);
	if (rc == -1)
		return -1;
	if (!usable(&t, refused)) {
		/* Read again under the lock: another send may have
		   refreshed, and its refresh token is the only valid one. */
		oauth2_tokens_free(&t);
		if (oauth2_lock(acc, &lock, err) == -1)
			return -1;
		rc = store_load(acc, &t, err);
		if (rc == 0)
			no_refresh_token(acc, "store emptied", err);
		if (rc != 1)
			goto fail;
		if (!usable(&t, refused) &&
		    (refresh(acc, src, &t, err) == -1 ||
			oauth2_store_save(acc, &t, err) == -1))
			goto fail;
		close(lock);
	}
	*token = t.access;
	t.access = NULL;
	oauth2_tokens_free(&t);
	return 0;
fail:
	oauth2_tokens_free(&t);
	close(lock);
	return -1;
}
