/*
 * smtp.c: the SMTP client dialogue.  A visible sequence of small steps
 * (greet, ehlo, starttls, the transaction, quit) over one strict reply
 * reader and one command primitive; pipelining is the same primitive split
 * into "write every command" then "read every reply in order".  Nothing
 * here knows whether the transport is TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "io.h"
#include "smtp.h"
#include "strbuf.h"

/*
 * Port/mode confusion, STARTTLS side.  A server on an implicit-TLS port
 * (usually 465) never speaks first: it waits for our ClientHello, so a
 * client expecting a greeting would sit until its timeout and then say
 * "timed out", which explains nothing.  So, when the caller armed the
 * probe (cleartext connection only), we wait PROBE_QUIET_MS (less when
 * the timeout is short: probe_quiet()) and, if nothing came, send the
 * five bytes "\r\n\r\n\r".  To a TLS server they are exactly one record
 * header with an invalid content type (0x0d) and version (0x0a0d): every
 * TLS stack rejects that as soon as the header is in, with an alert record
 * (first byte 0x15) or by closing the connection; five bytes and not more,
 * so it has consumed all we sent and closes with a FIN rather than a
 * reset.
 * Either answer means "this port speaks implicit TLS".  To an SMTP server
 * that is merely slow the bytes are two empty command lines, which it will
 * answer with errors after its greeting: that connection is out of step,
 * so when a greeting comes after the probe we stop cleanly and
 * smtp_greet_late() tells the caller to reconnect and wait without probing.
 */
#define PROBE_QUIET_MS 5000
#define PROBE_ANSWER_MS 2000
#define PROBE_BYTES "\r\n\r\n\r"
#define QUIT_WAIT_MS 5000

struct smtp {
	struct io *io;
	FILE *verbose;
	struct smtp_caps caps;
	char *greeting; /* "220 text" */
	char *ehlo_text;
	char *last_reply; /* "250 2.0.0 Ok", one line */
	int probe;
	int late;
	int lmtp; /* LMTP (RFC 2033): LHLO, a reply per recipient */
	int quit_sent; /* QUIT went out pipelined */
	int done; /* no more commands: QUIT answered,
		     421 seen, or connection dropped */
};

int
smtp_error_step(struct error *err, const char *step)
{
	size_t n = strlen(step) + 2, len = strlen(err->msg);

	if (err->step != NULL || n >= sizeof(err->msg))
		return -1;
	err->step = step;
	if (len + n >= sizeof(err->msg))
		len = sizeof(err->msg) - n - 1;
	memmove(err->msg + n, err->msg, len);
	err->msg[n + len] = '\0';
	memcpy(err->msg, step, n - 2);
	err->msg[n - 2] = ':';
	err->msg[n - 1] = ' ';
	return -1;
}

/* Copy at most 60 bytes of a line, control bytes as \xNN. */
static void
quote_line(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, n = 0;
	unsigned char c;

	for (i = 0; i < len && i < 60 && n + 5 < size; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(dst + n, size - n, "\\x%02x", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

static int
garbage(struct error *err, const char *why, const char *line, size_t len)
{
	char q[300];

	quote_line(q, sizeof(q), line, len);
	return error_set(
	    err, ERR_PROTOCOL, "garbage from server (%s): \"%s\"", why, q);
}

int
smtp_parse_line(const char *line, size_t len, int *code, int *last,
    const char **text, struct error *err)
{
	unsigned char c;
	size_t i;

	if (len > SMTP_LINE_MAX)
		return garbage(err, "reply line too long", line, len);
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return garbage(err, "control byte in reply", line, len);
	}
	for (i = 0; i < 3; i++)
		if (i >= len || line[i] < '0' || line[i] > '9')
			return garbage(err, "not an SMTP reply", line, len);
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (*code < 200 || *code > 599)
		return garbage(err, "reply code out of range", line, len);
	if (len == 3 || line[3] == ' ')
		*last = 1;
	else if (line[3] == '-')
		*last = 0;
	else
		return garbage(err, "not an SMTP reply", line, len);
	*text = len == 3 ? line + 3 : line + 4;
	return 0;
}

/* 1 to 3 digits ("1", "999"); returns the count or 0. */
static size_t
digits(const char *s)
{
	size_t n = 0;

	while (n < 4 && s[n] >= '0' && s[n] <= '9')
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

int
smtp_parse_status(const char *text, char status[16])
{
	const char *p = text;
	size_t n;

	status[0] = '\0';
	if (text == NULL || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[1] != '.')
		return -1;
	p += 2;
	if ((n = digits(p)) == 0 || p[n] != '.')
		return -1;
	p += n + 1;
	if ((n = digits(p)) == 0)
		return -1;
	p += n;
	if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
		return -1;
	snprintf(status, 16, "%.*s", (int)(p - text), text);
	return 0;
}

void
smtp_reply_free(struct smtp_reply *r)
{
	if (r == NULL)
		return;
	free(r->text);
	r->text = NULL;
}

/* 1 if the space-separated list has word. */
static int
auth_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* Add each mechanism of "PLAIN LOGIN" to caps->auth once, upper case. */
static void
caps_add_auth(struct smtp_caps *caps, const char *p)
{
	char mech[64];
	size_t n, i, have;

	for (;;) {
		p += strspn(p, " \t=");
		n = strcspn(p, " \t");
		if (n == 0)
			return;
		if (n < sizeof(mech)) {
			for (i = 0; i < n; i++)
				mech[i] = (char)((p[i] >= 'a' && p[i] <= 'z')
					? p[i] - 32
					: p[i]);
			mech[n] = '\0';
			have = strlen(caps->auth);
			if (strspn(mech,
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
				n &&
			    !auth_has(caps->auth, mech) &&
			    have + n + 2 < sizeof(caps->auth))
				snprintf(caps->auth + have,
				    sizeof(caps->auth) - have, "%s%s",
				    have > 0 ? " " : "", mech);
		}
		p += n;
	}
}

/* Compare the keyword at p (ended by space, '=' or end) with kw. */
static int
keyword_is(const char *p, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(p, kw, n) == 0;
}

static void
caps_line(struct smtp_caps *caps, const char *p, size_t len)
{
	static const struct {
		const char *kw;
		unsigned int flag;
	} table[] = {
	    {"PIPELINING", SMTP_CAP_PIPELINING},
	    {"SIZE", SMTP_CAP_SIZE},
	    {"8BITMIME", SMTP_CAP_8BITMIME},
	    {"SMTPUTF8", SMTP_CAP_SMTPUTF8},
	    {"DSN", SMTP_CAP_DSN},
	    {"CHUNKING", SMTP_CAP_CHUNKING},
	    {"STARTTLS", SMTP_CAP_STARTTLS},
	    {"ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCED},
	    {"AUTH", SMTP_CAP_AUTH},
	};
	char param[1024], *end;
	unsigned long long v;
	size_t i, n;

	n = strcspn(p, " \t=\n");
	if (n > len)
		n = len;
	snprintf(param, sizeof(param), "%.*s", (int)(len - n), p + n);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!keyword_is(p, n, table[i].kw))
			continue;
		caps->flags |= table[i].flag;
		if (table[i].flag == SMTP_CAP_AUTH)
			caps_add_auth(caps, param);
		if (table[i].flag == SMTP_CAP_SIZE &&
		    (param[0] == ' ' || param[0] == '=')) {
			v = strtoull(param + 1, &end, 10);
			if (end != param + 1 && *end == '\0' &&
			    param[1] >= '0' && param[1] <= '9')
				caps->size = v;
		}
	}
}

void
smtp_caps_parse(struct smtp_caps *caps, const char *ehlo_text)
{
	const char *p, *nl;
	size_t len;

	memset(caps, 0, sizeof(*caps));
	if (ehlo_text == NULL || (p = strchr(ehlo_text, '\n')) == NULL)
		return;
	for (p++; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		caps_line(caps, p, len);
		if (nl == NULL)
			break;
	}
}

struct smtp *
smtp_new(struct io *io, FILE *verbose)
{
	struct smtp *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->io = io;
	s->verbose = verbose;
	return s;
}

void
smtp_free(struct smtp *s)
{
	if (s == NULL)
		return;
	free(s->greeting);
	free(s->ehlo_text);
	free(s->last_reply);
	free(s);
}

struct io *
smtp_io(struct smtp *s)
{
	return s->io;
}

FILE *
smtp_verbose(struct smtp *s)
{
	return s->verbose;
}

const struct smtp_caps *
smtp_caps(const struct smtp *s)
{
	return &s->caps;
}

const char *
smtp_greeting(const struct smtp *s)
{
	return s->greeting != NULL ? s->greeting : "";
}

const char *
smtp_ehlo_text(const struct smtp *s)
{
	return s->ehlo_text != NULL ? s->ehlo_text : "";
}

const char *
smtp_last_reply(const struct smtp *s)
{
	return s->last_reply != NULL ? s->last_reply : "";
}

void
smtp_set_probe(struct smtp *s, int on)
{
	s->probe = on;
}

int
smtp_greet_late(const struct smtp *s)
{
	return s->late;
}

void
smtp_set_lmtp(struct smtp *s, int on)
{
	s->lmtp = on;
}

int
smtp_lmtp(const struct smtp *s)
{
	return s->lmtp;
}

/* The -v transcript: one line, control bytes made visible. */
static void
trace(struct smtp *s, const char *dir, const char *line, size_t len)
{
	char q[SMTP_LINE_MAX * 4 + 1];
	size_t i, n = 0;
	unsigned char c;

	if (s->verbose == NULL)
		return;
	for (i = 0; i < len && n + 5 < sizeof(q); i++) {
		c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			n += (size_t)snprintf(
			    q + n, sizeof(q) - n, "\\x%02x", c);
		else
			q[n++] = (char)c;
	}
	q[n] = '\0';
	fprintf(s->verbose, "%s %s\n", dir, q);
}

/* "550 5.1.1 text" from a reply, lines joined by "\n"; malloc'ed. */
static char *
reply_string(const struct smtp_reply *r)
{
	struct strbuf b = {0};

	strbuf_printf(
	    &b, "%d%s%s", r->code, r->text[0] != '\0' ? " " : "", r->text);
	return b.p;
}

static void
keep_last_reply(struct smtp *s, const struct smtp_reply *r)
{
	char *p;

	free(s->last_reply);
	s->last_reply = reply_string(r);
	for (p = s->last_reply; p != NULL && *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
}

/*
 * The one reply reader: every line strictly parsed, the same code on every
 * line, bounded line and reply length, and the whole reply in by deadline
 * (a server that trickles it a byte at a time cannot stretch the wait).
 * step names the errors.
 */
static int
read_reply(struct smtp *s, const char *step, long long deadline,
    struct smtp_reply *r, struct error *err)
{
	struct strbuf b = {0};
	const char *text;
	char *line;
	size_t len, total = 0;
	int code, last, first = 0;

	memset(r, 0, sizeof(*r));
	do {
		if (io_readline(s->io, &line, &len, SMTP_LINE_MAX, deadline,
			err) == -1)
			goto fail;
		trace(s, "<--", line, len);
		if (smtp_parse_line(line, len, &code, &last, &text, err) == -1)
			goto fail;
		if (first != 0 && code != first) {
			garbage(err, "mixed codes in one reply", line, len);
			goto fail;
		}
		first = code;
		total += len + 2;
		if (total > SMTP_REPLY_MAX) {
			garbage(err, "reply too long", line, len);
			goto fail;
		}
		strbuf_printf(&b, "%s%s", r->lines > 0 ? "\n" : "", text);
		r->lines++;
	} while (!last);
	if (b.oom) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	r->code = first;
	r->text = b.p != NULL ? b.p : strdup("");
	if (r->text == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	/* RFC 3463: the status class must be the reply's class. */
	if (smtp_parse_status(r->text, r->status) == 0 &&
	    r->status[0] - '0' != r->code / 100)
		r->status[0] = '\0';
	keep_last_reply(s, r);
	if (r->code == 421)
		s->done = 1; /* the server is closing the connection */
	return 0;
fail:
	strbuf_free(&b);
	r->text = NULL;
	return smtp_error_step(err, step);
}

int
smtp_read_reply(
    struct smtp *s, const char *step, struct smtp_reply *r, struct error *err)
{
	return read_reply(s, step, io_deadline(s->io), r, err);
}

/* Queue one command line (no CR or LF inside), shown in the transcript. */
static int
put_cmd(struct smtp *s, const char *line, const char *shown, struct error *err)
{
	if (strpbrk(line, "\r\n") != NULL)
		return error_set(
		    err, ERR_INTERNAL, "line break inside an SMTP command");
	trace(s, "-->", shown != NULL ? shown : line,
	    strlen(shown != NULL ? shown : line));
	if (io_puts(s->io, line, err) == -1 ||
	    io_puts(s->io, "\r\n", err) == -1)
		return -1;
	return 0;
}

/* The step name of a command line, for error messages. */
static const char *
verb_of(const char *line)
{
	static const char *const verbs[] = {
	    "EHLO",
	    "HELO",
	    "LHLO",
	    "STARTTLS",
	    "AUTH",
	    "MAIL FROM",
	    "RCPT TO",
	    "DATA",
	    "BDAT",
	    "RSET",
	    "NOOP",
	    "QUIT",
	};
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strncasecmp(line, verbs[i], strlen(verbs[i])) == 0)
			return verbs[i];
	return "SMTP command";
}

int
smtp_command(struct smtp *s, const char *line, const char *shown,
    struct smtp_reply *r, struct error *err)
{
	const char *step = verb_of(line);

	memset(r, 0, sizeof(*r));
	if (s->done) {
		error_set(err, ERR_NETWORK, "connection already closed");
		return smtp_error_step(err, step);
	}
	if (put_cmd(s, line, shown, err) == -1)
		return smtp_error_step(err, step);
	return smtp_exchange(s, step, r, err);
}

int
smtp_exchange(
    struct smtp *s, const char *step, struct smtp_reply *r, struct error *err)
{
	long long deadline = io_deadline(s->io);

	/* One step: the command and its whole reply within the timeout. */
	memset(r, 0, sizeof(*r));
	if (io_flush(s->io, deadline, err) == -1)
		return smtp_error_step(err, step);
	return read_reply(s, step, deadline, r, err);
}

int
smtp_reply_error(struct error *err, const char *step,
    const struct smtp_reply *r, const char *what)
{
	char *text = reply_string(r);
	enum error_kind kind;

	kind = (r->code / 100 == 4 || r->code / 100 == 5) ? ERR_REPLY
							  : ERR_PROTOCOL;
	error_reply(
	    err, kind, step, r->code, r->status, text, "%s: %s", step, what);
	free(text);
	return -1;
}

/*
 * How long to wait in silence before probing: PROBE_QUIET_MS, but always
 * leaving the answer PROBE_ANSWER_MS (or half the timeout when it is
 * short), so that the greeting step as a whole stays within the timeout.
 */
static int
probe_quiet(int timeout)
{
	int answer = timeout / 2 < PROBE_ANSWER_MS ? timeout / 2
						   : PROBE_ANSWER_MS;

	return timeout - answer < PROBE_QUIET_MS ? timeout - answer
						 : PROBE_QUIET_MS;
}

/*
 * Wait for a greeting; probe for implicit TLS when none comes (see top).
 * Every wait ends by the greeting's deadline.
 */
static int
probe_greeting(struct smtp *s, long long deadline, struct error *err)
{
	int quiet = probe_quiet(io_timeout(s->io)), r;
	unsigned char b[8] = {0};
	long long left;
	ssize_t n;

	r = io_wait_readable(s->io, quiet, err);
	if (r != 0)
		return r < 0 ? smtp_error_step(err, "greeting") : 0;
	if (s->verbose != NULL)
		fprintf(s->verbose,
		    "--> [no greeting after %d ms: probing for implicit TLS]\n",
		    quiet);
	left = deadline - io_now_ms();
	if (io_write(s->io, PROBE_BYTES, sizeof(PROBE_BYTES) - 1, err) == -1 ||
	    io_flush(s->io, deadline, err) == -1)
		n = 0;
	else
		n = io_peek(s->io, b, sizeof(b), left > 0 ? (int)left : 0, err);
	if (n == 0 || (n > 0 && (b[0] == 0x15 || b[0] == 0x16))) {
		error_set(err, ERR_TLS,
		    "greeting: no SMTP greeting; the server answered like a "
		    "TLS server: this port speaks implicit TLS (usually port "
		    "465)");
		error_hint(err,
		    "set \"tls_starttls off\" (with \"tls on\") for this port, "
		    "or use the STARTTLS port (usually 587)");
		return -1;
	}
	if (n < 0) {
		if (strncmp(err->msg, "timed out", 9) == 0)
			error_set(err, ERR_NETWORK,
			    "timed out: no greeting from the server in %.1f s",
			    io_timeout(s->io) / 1000.0);
		smtp_error_step(err, "greeting");
		error_hint(err,
		    "no greeting came within %.1f s: if this port speaks "
		    "implicit TLS (usually 465), set \"tls_starttls off\"",
		    quiet / 1000.0);
		return -1;
	}
	if (b[0] >= '0' && b[0] <= '9') {
		s->late = 1;
		return error_set(err, ERR_NETWORK,
		    "greeting: the server's greeting came only after more than "
		    "%d ms",
		    quiet);
	}
	garbage(err, "not an SMTP greeting", (const char *)b, (size_t)n);
	return smtp_error_step(err, "greeting");
}

int
smtp_greet(struct smtp *s, struct error *err)
{
	long long deadline = io_deadline(s->io);
	struct smtp_reply r;
	int rc = -1;

	/* The greeting is one step: probe and reply within the timeout. */
	if (s->probe && probe_greeting(s, deadline, err) == -1)
		return -1;
	if (read_reply(s, "greeting", deadline, &r, err) == -1) {
		if (s->probe && err->kind == ERR_NETWORK)
			error_hint(err,
			    "if this port speaks implicit TLS (usually 465), "
			    "set \"tls_starttls off\"");
		return -1;
	}
	free(s->greeting);
	s->greeting = reply_string(&r);
	if (r.code == 220)
		rc = 0;
	else
		smtp_reply_error(
		    err, "greeting", &r, "the server refused the connection");
	smtp_reply_free(&r);
	return rc;
}

int
smtp_ehlo(struct smtp *s, const char *domain, int allow_helo, struct error *err)
{
	struct smtp_reply r;
	char line[1024];
	int rc = -1;

	memset(&s->caps, 0, sizeof(s->caps));
	/* LMTP has LHLO only: no HELO, and EHLO is not LMTP's. */
	snprintf(line, sizeof(line), "%s %s", s->lmtp ? "LHLO" : "EHLO",
	    domain);
	if (smtp_command(s, line, NULL, &r, err) == -1)
		return -1;
	if (r.code / 100 == 5 && allow_helo && !s->lmtp) {
		smtp_reply_free(&r);
		snprintf(line, sizeof(line), "HELO %s", domain);
		if (smtp_command(s, line, NULL, &r, err) == -1)
			return -1;
		if (r.code / 100 == 2) {
			free(s->ehlo_text);
			s->ehlo_text = r.text; /* no capabilities */
			return 0;
		}
		smtp_reply_error(err, "HELO", &r, "the server refused HELO");
	} else if (r.code / 100 == 2) {
		smtp_caps_parse(&s->caps, r.text);
		free(s->ehlo_text);
		s->ehlo_text = r.text;
		return 0;
	} else {
		smtp_reply_error(err, s->lmtp ? "LHLO" : "EHLO", &r,
		    s->lmtp ? "the server refused LHLO"
			    : "the server refused EHLO");
		if (r.code / 100 == 5 && !s->lmtp)
			error_hint(err,
			    "HELO is not tried when TLS or authentication is "
			    "required");
	}
	smtp_reply_free(&r);
	return rc;
}

int
smtp_starttls(struct smtp *s, struct error *err)
{
	struct smtp_reply r;
	size_t extra;
	int rc = -1;

	if ((s->caps.flags & SMTP_CAP_STARTTLS) == 0) {
		error_set(err, ERR_UNAVAILABLE,
		    "STARTTLS: the server does not offer STARTTLS");
		err->step = "STARTTLS";
		error_hint(err,
		    "smtpsend never falls back to cleartext: if the port "
		    "speaks implicit TLS (usually 465) set \"tls_starttls "
		    "off\", else ask the server's admin");
		return -1;
	}
	if (smtp_command(s, "STARTTLS", NULL, &r, err) == -1)
		return -1;
	extra = io_unread(s->io);
	if (r.code != 220) {
		smtp_reply_error(
		    err, "STARTTLS", &r, "the server refused STARTTLS");
	} else if (extra > 0) {
		error_set(err, ERR_PROTOCOL,
		    "STARTTLS: command injection: the server sent %zu more "
		    "bytes after its 220 reply",
		    extra);
		err->step = "STARTTLS";
		error_hint(err,
		    "someone between you and the server may be tampering with "
		    "the connection; nothing was sent");
	} else {
		memset(&s->caps, 0, sizeof(s->caps));
		rc = 0;
	}
	smtp_reply_free(&r);
	return rc;
}

void
smtp_quit(struct smtp *s)
{
	struct smtp_reply r;
	struct error e;
	long long deadline;

	if (s == NULL || s->done)
		return;
	s->done = 1;
	/* The work is done: a server slow to say goodbye costs 5 s at most. */
	deadline = io_now_ms() +
	    (io_timeout(s->io) < QUIT_WAIT_MS ? io_timeout(s->io)
					      : QUIT_WAIT_MS);
	if (!s->quit_sent && (put_cmd(s, "QUIT", NULL, &e) == -1 ||
				 io_flush(s->io, deadline, &e) == -1))
		return;
	s->quit_sent = 1;
	if (read_reply(s, "QUIT", deadline, &r, &e) == 0)
		smtp_reply_free(&r);
}

int
smtp_queue(
    struct smtp *s, const char *line, const char *shown, struct error *err)
{
	if (s->done) {
		error_set(err, ERR_NETWORK, "connection already closed");
		return smtp_error_step(err, verb_of(line));
	}
	if (put_cmd(s, line, shown, err) == -1)
		return smtp_error_step(err, verb_of(line));
	if (strcasecmp(line, "QUIT") == 0)
		s->quit_sent = 1;
	return 0;
}

int
smtp_flush(struct smtp *s, const char *step, struct error *err)
{
	if (io_flush(s->io, io_deadline(s->io), err) == -1)
		return smtp_error_step(err, step);
	return 0;
}

void
smtp_drop(struct smtp *s)
{
	if (s->verbose != NULL)
		fprintf(s->verbose,
		    "--- dropping the connection: the transaction is "
		    "abandoned\n");
	io_shutdown(s->io);
	s->done = 1;
}

int
smtp_closed(const struct smtp *s)
{
	return s->done;
}
