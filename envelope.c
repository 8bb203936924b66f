/*
 * envelope.c: the queue's envelope file format.  One "key: value" per
 * line so that a human (or grep) reads it; times are UTC in ISO 8601.
 * The file ends with the header block, whose length is recorded, so a
 * truncated file is recognised and refused rather than half sent.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "error.h"
#include "strbuf.h"

#define ENVELOPE_VERSION	1

static const char *const state_names[] = { "queued", "uncertain", "failed" };

static int
clean(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void
put_time(struct strbuf *b, const char *key, time_t t)
{
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "1970-01-01T00:00:00Z");
	strbuf_printf(b, "%s: %s\n", key, buf);
}

static void
put_opt(struct strbuf *b, const char *key, const char *v)
{
	if (v != NULL)
		strbuf_printf(b, "%s: %s\n", key, v);
}

int
envelope_format(const struct envelope *e, char **out, size_t *len,
    struct error *err)
{
	struct strbuf b = { 0 };
	size_t i;

	*out = NULL;
	*len = 0;
	if (!clean(e->id) || !clean(e->account) || !clean(e->sender) ||
	    !clean(e->dsn_notify) || !clean(e->dsn_return) ||
	    !clean(e->dsn_envid))
		return error_set(err, ERR_DATA,
		    "a control character in the envelope cannot be queued");
	for (i = 0; i < e->nrcpts; i++)
		if (!clean(e->rcpts[i]))
			return error_set(err, ERR_DATA, "a control character "
			    "in a recipient cannot be queued");
	strbuf_printf(&b, "version: %d\n", ENVELOPE_VERSION);
	strbuf_printf(&b, "id: %s\n", e->id);
	strbuf_printf(&b, "state: %s\n", state_names[e->state]);
	strbuf_printf(&b, "account: %s\n", e->account);
	strbuf_printf(&b, "sender: <%s>\n", e->sender);
	for (i = 0; i < e->nrcpts; i++)
		strbuf_printf(&b, "recipient: <%s>\n", e->rcpts[i]);
	put_opt(&b, "dsn-notify", e->dsn_notify);
	put_opt(&b, "dsn-return", e->dsn_return);
	put_opt(&b, "dsn-envid", e->dsn_envid);
	strbuf_printf(&b, "body-type: %s\n", e->body_type == 8 ? "8bitmime" :
	    e->body_type == 7 ? "7bit" : "auto");
	strbuf_printf(&b, "eightbit: %s\n", e->eightbit ? "yes" : "no");
	strbuf_printf(&b, "separator: %s\n", e->separator ? "yes" : "no");
	strbuf_printf(&b, "encoding: %s\n", e->qp ? "quoted-printable" :
	    "as-is");
	put_time(&b, "queued", e->queued);
	strbuf_printf(&b, "attempts: %u\n", e->attempts);
	put_time(&b, "next-attempt", e->next);
	if (e->last_error != NULL) {
		/* Server replies may hold anything: keep the line a line. */
		strbuf_str(&b, "last-error: ");
		for (i = 0; e->last_error[i] != '\0'; i++) {
			char c = e->last_error[i];

			if ((unsigned char)c < 0x20 || c == 0x7f)
				c = ' ';
			strbuf_add(&b, &c, 1);
		}
		strbuf_str(&b, "\n");
	}
	strbuf_printf(&b, "body-size: %llu\n",
	    (unsigned long long)e->body_size);
	strbuf_printf(&b, "header-size: %zu\n", e->headers_len);
	strbuf_str(&b, "end\n\n");
	strbuf_add(&b, e->headers != NULL ? e->headers : "", e->headers_len);
	if (b.oom) {
		strbuf_free(&b);
		return error_set(err, ERR_OS, "out of memory");
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

static int
parse_time(const char *v, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}

static int
parse_ull(const char *v, unsigned long long max, unsigned long long *n)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || *n > max)
		return -1;
	return 0;
}

static int
yes_no(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* "<addr>" to a malloc'ed "addr"; NULL if not bracketed or no memory. */
static char *
unbracket(const char *v)
{
	size_t n = strlen(v);

	if (n < 2 || v[0] != '<' || v[n - 1] != '>')
		return NULL;
	return strndup(v + 1, n - 2);
}

static int
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst == NULL ? -1 : 0;
}

/* One "key: value" line: 0, -1 bad value, -2 out of memory. */
static int
parse_field(struct envelope *e, const char *key, const char *v,
    unsigned long long *hdrsize, int *seen_version)
{
	unsigned long long n;
	char **r;
	size_t i;

	if (strcmp(key, "version") == 0) {
		if (parse_ull(v, 1000, &n) == -1 || n != ENVELOPE_VERSION)
			return -1;
		*seen_version = 1;
	} else if (strcmp(key, "id") == 0) {
		return set_str(&e->id, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "state") == 0) {
		for (i = 0; i < 3; i++)
			if (strcmp(v, state_names[i]) == 0)
				break;
		if (i == 3)
			return -1;
		e->state = (enum envelope_state)i;
	} else if (strcmp(key, "account") == 0) {
		return set_str(&e->account, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "sender") == 0) {
		free(e->sender);
		e->sender = unbracket(v);
		return e->sender == NULL ? -1 : 0;
	} else if (strcmp(key, "recipient") == 0) {
		r = reallocarray(e->rcpts, e->nrcpts + 1, sizeof(*r));
		if (r == NULL)
			return -2;
		e->rcpts = r;
		r[e->nrcpts] = unbracket(v);
		if (r[e->nrcpts] == NULL)
			return -1;
		e->nrcpts++;
	} else if (strcmp(key, "dsn-notify") == 0) {
		return set_str(&e->dsn_notify, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "dsn-return") == 0) {
		return set_str(&e->dsn_return, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "dsn-envid") == 0) {
		return set_str(&e->dsn_envid, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "body-type") == 0) {
		if (strcmp(v, "8bitmime") == 0)
			e->body_type = 8;
		else if (strcmp(v, "7bit") == 0)
			e->body_type = 7;
		else if (strcmp(v, "auto") == 0)
			e->body_type = 0;
		else
			return -1;
	} else if (strcmp(key, "eightbit") == 0) {
		return yes_no(v, &e->eightbit);
	} else if (strcmp(key, "separator") == 0) {
		return yes_no(v, &e->separator);
	} else if (strcmp(key, "encoding") == 0) {
		if (strcmp(v, "quoted-printable") == 0)
			e->qp = 1;
		else if (strcmp(v, "as-is") == 0)
			e->qp = 0;
		else
			return -1;
	} else if (strcmp(key, "queued") == 0) {
		return parse_time(v, &e->queued);
	} else if (strcmp(key, "next-attempt") == 0) {
		return parse_time(v, &e->next);
	} else if (strcmp(key, "attempts") == 0) {
		if (parse_ull(v, UINT_MAX, &n) == -1)
			return -1;
		e->attempts = (unsigned int)n;
	} else if (strcmp(key, "last-error") == 0) {
		return set_str(&e->last_error, v) == -1 ? -2 : 0;
	} else if (strcmp(key, "body-size") == 0) {
		if (parse_ull(v, UINT64_MAX, &n) == -1)
			return -1;
		e->body_size = n;
	} else if (strcmp(key, "header-size") == 0) {
		return parse_ull(v, SIZE_MAX, hdrsize);
	} else {
		return -1;
	}
	return 0;
}

int
envelope_parse(struct envelope *e, const char *buf, size_t len,
    struct error *err)
{
	unsigned long long hdrsize = ULLONG_MAX;
	const char *p = buf, *end = buf + len, *nl, *colon;
	char *line = NULL;
	int lineno = 0, seen_version = 0, rc, ended = 0;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		lineno++;
		if (nl == NULL) {
			error_set(err, ERR_DATA, "line %d: cut short", lineno);
			goto fail;
		}
		free(line);
		line = strndup(p, (size_t)(nl - p));
		if (line == NULL) {
			error_set(err, ERR_OS, "out of memory");
			goto fail;
		}
		p = nl + 1;
		if (strcmp(line, "end") == 0) {
			ended = 1;
			break;
		}
		colon = strstr(line, ": ");
		if (colon == NULL) {
			error_set(err, ERR_DATA, "line %d: not \"key: value\"",
			    lineno);
			goto fail;
		}
		line[colon - line] = '\0';
		rc = parse_field(e, line, colon + 2, &hdrsize, &seen_version);
		if (rc == -2) {
			error_set(err, ERR_OS, "out of memory");
			goto fail;
		}
		if (rc == -1) {
			error_set(err, ERR_DATA, "line %d: bad %s", lineno,
			    line);
			goto fail;
		}
	}
	if (!ended) {
		error_set(err, ERR_DATA, "no \"end\" line: cut short");
		goto fail;
	}
	if (!seen_version || e->id == NULL || e->account == NULL ||
	    e->sender == NULL || e->nrcpts == 0 || hdrsize == ULLONG_MAX) {
		error_set(err, ERR_DATA, "a required field is missing");
		goto fail;
	}
	if (p >= end || *p != '\n' || (unsigned long long)(end - p - 1) !=
	    hdrsize) {
		error_set(err, ERR_DATA, "the header block is not %llu octets: "
		    "cut short or damaged", hdrsize);
		goto fail;
	}
	p++;
	e->headers_len = (size_t)hdrsize;
	e->headers = malloc(e->headers_len + 1);
	if (e->headers == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	memcpy(e->headers, p, e->headers_len);
	e->headers[e->headers_len] = '\0';
	free(line);
	return 0;
fail:
	free(line);
	envelope_free(e);
	return -1;
}

void
envelope_free(struct envelope *e)
{
	size_t i;

	free(e->id);
	free(e->account);
	free(e->sender);
	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->dsn_notify);
	free(e->dsn_return);
	free(e->dsn_envid);
	free(e->last_error);
	free(e->headers);
	memset(e, 0, sizeof(*e));
}

time_t
envelope_backoff(unsigned int attempts)
{
	time_t d = 60;
	unsigned int i;

	for (i = 1; i < attempts && d < 3600; i++)
		d *= 2;
	return d > 3600 ? 3600 : d;
}

int
envelope_duration(const char *s, long long *secs)
{
	unsigned long long n;
	char num[32];
	size_t len = strlen(s);
	long long unit;

	if (len < 2 || len >= sizeof(num))
		return -1;
	switch (s[len - 1]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (parse_ull(num, (unsigned long long)(LLONG_MAX / 86400), &n) == -1 ||
	    n == 0)
		return -1;
	*secs = (long long)n * unit;
	return 0;
}
