/*
 * http.c: one HTTPS POST and its JSON reply, for the OAuth2 endpoints.
 *
 * libcurl (Debian's GnuTLS flavour: one TLS library, the system CA store
 * or the account's trust file) and json-c are loaded with dlopen() the
 * first time a token must be fetched.  Linking them would cost every run
 * their start-up and their dependencies, though most sends use a cached
 * token or a password and never speak HTTP.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "child.h"
#include "error.h"
#include "http.h"

#define HTTP_CURL_LIB "libcurl-gnutls.so.4"
#define HTTP_JSON_LIB "libjson-c.so.5"
#define HTTP_BODY_MAX (1024 * 1024)

/* The functions used, resolved with dlsym(). */
struct http_lib {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	json_object *(*tokener_parse)(const char *);
	json_bool (*object_get_ex)(
	    const json_object *, const char *, json_object **);
	json_bool (*is_type)(const json_object *, json_type);
	const char *(*get_string)(json_object *);
	int (*get_string_len)(const json_object *);
	int64_t (*get_int64)(const json_object *);
	int (*put)(json_object *);
};

static const struct {
	int json; /* 0: libcurl, 1: json-c */
	const char *name;
	size_t off;
} http_syms[] = {
    {0, "curl_global_init", offsetof(struct http_lib, global_init)},
    {0, "curl_easy_init", offsetof(struct http_lib, easy_init)},
    {0, "curl_easy_setopt", offsetof(struct http_lib, easy_setopt)},
    {0, "curl_easy_perform", offsetof(struct http_lib, easy_perform)},
    {0, "curl_easy_getinfo", offsetof(struct http_lib, easy_getinfo)},
    {0, "curl_easy_cleanup", offsetof(struct http_lib, easy_cleanup)},
    {0, "curl_easy_strerror", offsetof(struct http_lib, easy_strerror)},
    {0, "curl_slist_append", offsetof(struct http_lib, slist_append)},
    {0, "curl_slist_free_all", offsetof(struct http_lib, slist_free_all)},
    {1, "json_tokener_parse", offsetof(struct http_lib, tokener_parse)},
    {1, "json_object_object_get_ex", offsetof(struct http_lib, object_get_ex)},
    {1, "json_object_is_type", offsetof(struct http_lib, is_type)},
    {1, "json_object_get_string", offsetof(struct http_lib, get_string)},
    {1, "json_object_get_string_len",
	offsetof(struct http_lib, get_string_len)},
    {1, "json_object_get_int64", offsetof(struct http_lib, get_int64)},
    {1, "json_object_put", offsetof(struct http_lib, put)},
};

/* Loaded once per process; file-local, never shared. */
static struct http_lib lib;
static int lib_loaded;

struct http_json {
	json_object *obj;
};

/* Members that may hold a token or a code, wiped before the free. */
static const char *const secret_keys[] = {
    "access_token", "refresh_token", "id_token", "device_code", NULL};

static int
load_fail(const char *what, struct error *err)
{
	error_set(
	    err, ERR_INTERNAL, "OAuth2 needs libcurl and json-c: %s", what);
	error_hint(
	    err, "install them (Debian: libcurl3-gnutls and libjson-c5)");
	return -1;
}

static int
lib_load(struct error *err)
{
	void *h[2], *p;
	const char *e;
	size_t i;

	if (lib_loaded)
		return 0;
	h[0] = dlopen(HTTP_CURL_LIB, RTLD_NOW | RTLD_LOCAL);
	if (h[0] == NULL) {
		e = dlerror();
		return load_fail(e != NULL ? e : HTTP_CURL_LIB, err);
	}
	h[1] = dlopen(HTTP_JSON_LIB, RTLD_NOW | RTLD_LOCAL);
	if (h[1] == NULL) {
		e = dlerror();
		return load_fail(e != NULL ? e : HTTP_JSON_LIB, err);
	}
	for (i = 0; i < sizeof(http_syms) / sizeof(http_syms[0]); i++) {
		p = dlsym(h[http_syms[i].json], http_syms[i].name);
		if (p == NULL)
			return load_fail(http_syms[i].name, err);
		memcpy((char *)&lib + http_syms[i].off, &p, sizeof(p));
	}
	if (lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return load_fail("curl_global_init failed", err);
	lib_loaded = 1;
	return 0;
}

/* The reply body, in a buffer that wipes what it held (it carries tokens)
   and grows without realloc(), so no unwiped copy is left. */
static size_t
body_write(char *data, size_t one, size_t n, void *arg)
{
	struct child_buf *b = arg;

	n *= one;
	if (b->len + n + 1 > HTTP_BODY_MAX || child_buf_add(b, data, n) == -1)
		return 0; /* curl then fails with CURLE_WRITE_ERROR */
	return n;
}

static int
curl_error(CURLcode rc, const char *ebuf, const char *url, struct error *err)
{
	const char *why = ebuf[0] != '\0' ? ebuf : lib.easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		error_set(
		    err, ERR_CERT, "%s: certificate not trusted: %s", url, why);
		error_hint(err,
		    "for a custom provider, tls_trust_file of "
		    "the account names the CA to trust");
		return -1;
	case CURLE_WRITE_ERROR:
		return error_set(err, ERR_PROTOCOL,
		    "%s: reply too long (over %d bytes)", url, HTTP_BODY_MAX);
	default:
		/* Unreachable, refused, timed out, TLS broken: retry later. */
		return error_set(err, ERR_NETWORK, "%s: %s", url, why);
	}
}

static int
perform(CURL *c, const struct http_request *req, struct child_buf *b,
    long *status, struct error *err)
{
	struct curl_slist *hdrs = NULL, *h;
	char ebuf[CURL_ERROR_SIZE];
	CURLcode rc;
	int ret = -1;

	ebuf[0] = '\0';
	h = lib.slist_append(NULL, "Accept: application/json");
	if (h == NULL)
		return error_set(err, ERR_OS, "out of memory");
	hdrs = h;
	lib.easy_setopt(c, CURLOPT_URL, req->url);
	lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lib.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	lib.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	lib.easy_setopt(c, CURLOPT_POSTFIELDS, req->form);
	lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(req->form));
	lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	lib.easy_setopt(c, CURLOPT_WRITEDATA, b);
	lib.easy_setopt(c, CURLOPT_USERAGENT, "smtpsend/" SMTPSEND_VERSION);
	lib.easy_setopt(c, CURLOPT_TIMEOUT, (long)req->timeout);
	lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)req->timeout);
	if (req->cafile != NULL) {
		/* Only that file: Debian's libcurl would add /etc/ssl/certs. */
		lib.easy_setopt(c, CURLOPT_CAINFO, req->cafile);
		lib.easy_setopt(c, CURLOPT_CAPATH, (char *)NULL);
	}
	rc = lib.easy_perform(c);
	if (rc != CURLE_OK) {
		curl_error(rc, ebuf, req->url, err);
		goto done;
	}
	lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	ret = 0;
done:
	lib.slist_free_all(hdrs);
	return ret;
}

int
http_post(const struct http_request *req, long *status, struct http_json **json,
    struct error *err)
{
	struct child_buf b = {0};
	json_object *obj;
	CURL *c;
	int rc;

	*json = NULL;
	*status = 0;
	if (lib_load(err) == -1)
		return -1;
	if ((c = lib.easy_init()) == NULL)
		return error_set(err, ERR_INTERNAL, "curl_easy_init failed");
	rc = perform(c, req, &b, status, err);
	lib.easy_cleanup(c);
	if (rc == 0 && b.p != NULL) {
		obj = lib.tokener_parse(b.p);
		if (obj != NULL && lib.is_type(obj, json_type_object)) {
			if ((*json = malloc(sizeof(**json))) == NULL) {
				lib.put(obj);
				rc = error_set(err, ERR_OS, "out of memory");
			} else
				(*json)->obj = obj;
		} else if (obj != NULL)
			lib.put(obj);
	}
	child_buf_free(&b);
	return rc;
}

static json_object *
member(const struct http_json *json, const char *key)
{
	json_object *v = NULL;

	if (json == NULL || !lib.object_get_ex(json->obj, key, &v))
		return NULL;
	return v;
}

const char *
http_json_str(const struct http_json *json, const char *key)
{
	json_object *v = member(json, key);

	if (v == NULL || !lib.is_type(v, json_type_string))
		return NULL;
	return lib.get_string(v);
}

int
http_json_int(const struct http_json *json, const char *key, long long *v)
{
	json_object *m = member(json, key);
	const char *s;
	char *end;

	if (m == NULL || lib.is_type(m, json_type_null))
		return 0;
	if (lib.is_type(m, json_type_int)) {
		*v = (long long)lib.get_int64(m);
		return 1;
	}
	if (lib.is_type(m, json_type_string)) {
		s = lib.get_string(m);
		if (s[0] >= '0' && s[0] <= '9') {
			*v = strtoll(s, &end, 10);
			if (*end == '\0')
				return 1;
		}
	}
	return -1;
}

void
http_json_free(struct http_json *json)
{
	json_object *v;
	size_t i;

	if (json == NULL)
		return;
	for (i = 0; secret_keys[i] != NULL; i++) {
		v = member(json, secret_keys[i]);
		if (v != NULL && lib.is_type(v, json_type_string))
			explicit_bzero((char *)(void *)lib.get_string(v),
			    (size_t)lib.get_string_len(v));
	}
	lib.put(json->obj);
	free(json);
}

int
http_form_add(char *buf, size_t size, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(buf);
	unsigned char c;
	int w;

	w = snprintf(buf + n, size - n, "%s%s=", n > 0 ? "&" : "", name);
	if (w < 0 || (size_t)w >= size - n)
		return -1;
	n += (size_t)w;
	for (; *value != '\0'; value++) {
		c = (unsigned char)*value;
		if (n + 4 > size)
			return -1;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf[n++] = (char)c;
		else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	return 0;
}
