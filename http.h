/*
 * http.h: HTTPS POST of a form and the JSON reply, through libcurl (the
 * GnuTLS flavour) and json-c, both dlopen'ed on first use: a send that
 * needs no HTTP maps neither.
 */
#ifndef SMTPSEND_HTTP_H
#define SMTPSEND_HTTP_H

#include <stddef.h>

struct error;
struct http_json;

struct http_request {
	const char *url; /* https:// only */
	const char *form; /* application/x-www-form-urlencoded body */
	const char *cafile; /* trust anchors, or NULL: the system store */
	int timeout; /* seconds for the whole exchange */
};

/*
 * POST req->form to req->url.  Returns 0 with *status the HTTP status and
 * *json the parsed body (NULL if it is not a JSON object; release it with
 * http_json_free()).  Errors: ERR_NETWORK (unreachable, timeout; 75),
 * ERR_CERT (the certificate is not trusted), ERR_INTERNAL when libcurl
 * or json-c cannot be loaded (with a hint naming the Debian packages).
 */
int http_post(const struct http_request *req, long *status,
    struct http_json **json, struct error *err);

/*
 * Member key of the object: its string value (owned by json, valid until
 * http_json_free()), or NULL when absent or not a string.
 */
const char *http_json_str(const struct http_json *json, const char *key);

/*
 * Member key as an integer (a JSON number, or a string of digits as some
 * servers send): 1 with *v, 0 when absent, -1 when of another type.
 */
int http_json_int(const struct http_json *json, const char *key, long long *v);

/* Wipe the strings that held tokens and free.  NULL is fine. */
void http_json_free(struct http_json *json);

/*
 * Append "name=value" to the form in buf (size bytes), percent-encoding
 * value, with "&" before it unless buf is empty.  -1 when it does not fit.
 */
int http_form_add(char *buf, size_t size, const char *name, const char *value);

#endif
