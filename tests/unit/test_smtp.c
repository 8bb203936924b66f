/*
 * test_smtp.c: the reply parser, the enhanced status and capability
 * parsers, and the dialogue over a socketpair() against a scripted peer
 * thread that checks every line the client sends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "io.h"
#include "message.h"
#include "smtp.h"

/*
 * A stand-in for message.c: the transaction only needs the size, the
 * 8-bit flag and the writer, so the tests control the bytes exactly.
 */
struct message {
	const char	*data;	/* CRLF line ends */
	int		 eight;
};

uint64_t
message_size(const struct message *m)
{
	return strlen(m->data);
}

int
message_is_8bit(const struct message *m)
{
	return m->eight;
}

int
message_write(const struct message *m, int dotstuff, message_sink sink,
    void *ctx, struct error *err)
{
	const char *p = m->data, *nl;
	size_t n;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		if (dotstuff && *p == '.' && sink(ctx, ".", 1, err) == -1)
			return -1;
		if (sink(ctx, p, n, err) == -1)
			return -1;
		p += n;
	}
	return 0;
}

/* ---- parsers ---- */

static void
parse_ok(const char *line, int want_code, int want_last, const char *want)
{
	struct error err;
	const char *text;
	int code, last;

	error_clear(&err);
	assert_int_equal(smtp_parse_line(line, strlen(line), &code, &last,
	    &text, &err), 0);
	assert_int_equal(code, want_code);
	assert_int_equal(last, want_last);
	assert_string_equal(text, want);
}

static void
parse_bad(const char *line, size_t len)
{
	struct error err;
	const char *text;
	int code, last;

	error_clear(&err);
	assert_int_equal(smtp_parse_line(line, len, &code, &last, &text,
	    &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "garbage from server"));
	assert_int_equal(error_exit_code(&err), 76);
}

static void
test_parse_line(void **state)
{
	char longline[SMTP_LINE_MAX + 10];

	(void)state;
	parse_ok("250 ok", 250, 1, "ok");
	parse_ok("250-PIPELINING", 250, 0, "PIPELINING");
	parse_ok("354", 354, 1, "");
	parse_ok("550 5.1.1 <x@y>:\tno", 550, 1, "5.1.1 <x@y>:\tno");
	parse_ok("220 h\xc3\xa9llo", 220, 1, "h\xc3\xa9llo");
	parse_bad("25a ok", 6);
	parse_bad("ok", 2);
	parse_bad("", 0);
	parse_bad("250xok", 6);
	parse_bad("199 one hundred", 15);
	parse_bad("600 six hundred", 15);
	parse_bad("099 x", 5);
	parse_bad("250 a\x01z", 7);
	parse_bad("250 a\x7fz", 7);
	parse_bad("250 a\0z", 7);
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "250 ", 4);
	parse_bad(longline, SMTP_LINE_MAX + 1);
}

static void
test_parse_status(void **state)
{
	char st[16];

	(void)state;
	assert_int_equal(smtp_parse_status("5.1.1 user unknown", st), 0);
	assert_string_equal(st, "5.1.1");
	assert_int_equal(smtp_parse_status("2.0.0", st), 0);
	assert_string_equal(st, "2.0.0");
	assert_int_equal(smtp_parse_status("4.7.123 later", st), 0);
	assert_string_equal(st, "4.7.123");
	assert_int_equal(smtp_parse_status("5.1.1x", st), -1);
	assert_string_equal(st, "");
	assert_int_equal(smtp_parse_status("6.1.1 x", st), -1);
	assert_int_equal(smtp_parse_status("5.1234.1 x", st), -1);
	assert_int_equal(smtp_parse_status("5..1 x", st), -1);
	assert_int_equal(smtp_parse_status("Ok", st), -1);
	assert_int_equal(smtp_parse_status("", st), -1);
}

static void
test_caps(void **state)
{
	struct smtp_caps c;

	(void)state;
	smtp_caps_parse(&c, "mx.example Hello\npipelining\nSIZE 10240000\n"
	    "8BITMIME\nAuth PLAIN login\nAUTH=LOGIN CRAM-MD5\nStartTLS\n"
	    "ENHANCEDSTATUSCODES\nXFOO bar\nDSN\nSMTPUTF8\nCHUNKING");
	assert_int_equal(c.flags, SMTP_CAP_PIPELINING | SMTP_CAP_SIZE |
	    SMTP_CAP_8BITMIME | SMTP_CAP_AUTH | SMTP_CAP_STARTTLS |
	    SMTP_CAP_ENHANCED | SMTP_CAP_DSN | SMTP_CAP_SMTPUTF8 |
	    SMTP_CAP_CHUNKING);
	assert_true(c.size == 10240000ULL);
	assert_string_equal(c.auth, "PLAIN LOGIN CRAM-MD5");

	/* The greeting line is never a capability; garbage is ignored. */
	smtp_caps_parse(&c, "PIPELINING\nSIZE abc\nAUTH=PL@IN XOAUTH2\n"
	    "SIZEX\n\n  \nPIPELININGX");
	assert_int_equal(c.flags, SMTP_CAP_SIZE | SMTP_CAP_AUTH);
	assert_true(c.size == 0);
	assert_string_equal(c.auth, "XOAUTH2");

	smtp_caps_parse(&c, "only.a.name");
	assert_int_equal(c.flags, 0);
	smtp_caps_parse(&c, NULL);
	assert_int_equal(c.flags, 0);
}

/* ---- the scripted peer ---- */

enum { S, C, P, BODY, CHUNK, RAWIN, RAWOUT, EXPECT_EOF, SLEEP_MS };

struct step {
	int		 kind;
	const char	*text;
};

struct peer {
	int		 fd;
	const struct step *steps;
	pthread_t	 th;
	char		 fail[512];
	char		 buf[65536];
	int		 cid[65536];	/* recv() number of every byte */
	size_t		 len;
	int		 nrecv;
	int		 last_cid;	/* chunk of the last client line */
	char		 body[8192];
	size_t		 bodylen;
	unsigned long	 bdat;
};

static int
peer_fill(struct peer *p)
{
	struct pollfd pfd = { p->fd, POLLIN, 0 };
	ssize_t n;
	size_t i;

	if (p->len == sizeof(p->buf) || poll(&pfd, 1, 3000) != 1)
		return -1;
	n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
	if (n <= 0)
		return (int)n;
	p->nrecv++;
	for (i = 0; i < (size_t)n; i++)
		p->cid[p->len + i] = p->nrecv;
	p->len += (size_t)n;
	return 1;
}

static void
peer_consume(struct peer *p, size_t n)
{
	memmove(p->buf, p->buf + n, p->len - n);
	memmove(p->cid, p->cid + n, (p->len - n) * sizeof(int));
	p->len -= n;
}

/* One client line without its CRLF; -1 on EOF or timeout. */
static int
peer_line(struct peer *p, char *out, size_t size)
{
	char *nl;
	size_t n;

	while ((nl = memchr(p->buf, '\n', p->len)) == NULL)
		if (peer_fill(p) <= 0)
			return -1;
	n = (size_t)(nl - p->buf);
	p->last_cid = p->cid[n];
	snprintf(out, size, "%.*s", (int)(n > 0 && nl[-1] == '\r' ? n - 1 :
	    n), p->buf);
	peer_consume(p, n + 1);
	return 0;
}

static int
peer_raw(struct peer *p, size_t n)
{
	while (p->len < n)
		if (peer_fill(p) <= 0)
			return -1;
	return 0;
}

static int
peer_step(struct peer *p, const struct step *st)
{
	char line[4096];
	size_t n;
	int prev;

	switch (st->kind) {
	case S:
		snprintf(line, sizeof(line), "%s\r\n", st->text);
		return send(p->fd, line, strlen(line), MSG_NOSIGNAL) < 0;
	case RAWOUT:
		return send(p->fd, st->text, strlen(st->text),
		    MSG_NOSIGNAL) < 0;
	case C:
	case P:
		prev = p->last_cid;
		if (peer_line(p, line, sizeof(line)) == -1) {
			snprintf(p->fail, sizeof(p->fail), "wanted \"%s\", "
			    "got nothing", st->text);
			return 1;
		}
		if (strcmp(line, st->text) != 0) {
			snprintf(p->fail, sizeof(p->fail), "wanted \"%s\", "
			    "got \"%s\"", st->text, line);
			return 1;
		}
		if (st->kind == P && p->last_cid != prev) {
			snprintf(p->fail, sizeof(p->fail), "\"%s\" was not "
			    "in the same write as the line before", line);
			return 1;
		}
		if (strncmp(line, "BDAT ", 5) == 0)
			p->bdat = strtoul(line + 5, NULL, 10);
		return 0;
	case BODY:
		for (;;) {
			if (peer_line(p, line, sizeof(line)) == -1)
				return 1;
			if (strcmp(line, ".") == 0)
				return 0;
			n = strlen(line);
			if (p->bodylen + n + 2 < sizeof(p->body)) {
				memcpy(p->body + p->bodylen, line, n);
				memcpy(p->body + p->bodylen + n, "\r\n", 2);
				p->bodylen += n + 2;
			}
		}
	case CHUNK:
		if (peer_raw(p, p->bdat) == -1 || p->bdat >= sizeof(p->body))
			return 1;
		memcpy(p->body, p->buf, p->bdat);
		p->bodylen = p->bdat;
		p->last_cid = p->cid[p->bdat - 1];
		peer_consume(p, p->bdat);
		return 0;
	case RAWIN:
		n = strlen(st->text);
		if (peer_raw(p, n) == -1 || memcmp(p->buf, st->text, n) != 0) {
			snprintf(p->fail, sizeof(p->fail), "raw bytes wanted");
			return 1;
		}
		peer_consume(p, n);
		return 0;
	case EXPECT_EOF:
		if (p->len == 0 && peer_fill(p) == 0)
			return 0;
		snprintf(p->fail, sizeof(p->fail), "wanted EOF, got %s",
		    p->len > 0 ? "more data" : "nothing");
		return 1;
	case SLEEP_MS:
		usleep((useconds_t)strtoul(st->text, NULL, 10) * 1000);
		return 0;
	}
	return 1;
}

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	const struct step *st;

	for (st = p->steps; st->text != NULL; st++) {
		if (peer_step(p, st) != 0) {
			if (p->fail[0] == '\0')
				snprintf(p->fail, sizeof(p->fail), "step %d "
				    "(\"%s\") failed", (int)(st - p->steps),
				    st->text);
			break;
		}
	}
	close(p->fd);
	return NULL;
}

struct session {
	struct peer	*peer;
	struct io	*io;
	struct smtp	*smtp;
};

static void
session_start(struct session *ss, const struct step *steps, int timeout_ms)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ss->peer = calloc(1, sizeof(*ss->peer));
	assert_non_null(ss->peer);
	ss->peer->fd = sv[1];
	ss->peer->steps = steps;
	assert_int_equal(pthread_create(&ss->peer->th, NULL, peer_main,
	    ss->peer), 0);
	ss->io = io_new(sv[0], timeout_ms);
	assert_non_null(ss->io);
	ss->smtp = smtp_new(ss->io, getenv("TEST_VERBOSE") ? stderr : NULL);
	assert_non_null(ss->smtp);
}

static char last_body[8192];

/*
 * Optionally quit, close our side, and require the peer's script to have
 * passed; what the peer received as the body is kept in last_body.
 */
static void
session_end(struct session *ss, int quit)
{
	if (quit)
		smtp_quit(ss->smtp);
	smtp_free(ss->smtp);
	io_free(ss->io);
	pthread_join(ss->peer->th, NULL);
	memcpy(last_body, ss->peer->body, sizeof(last_body));
	last_body[sizeof(last_body) - 1] = '\0';
	if (ss->peer->fail[0] != '\0')
		fail_msg("peer: %s", ss->peer->fail);
	free(ss->peer);
}

#define END	{ 0, NULL }

#define GREET_EHLO \
	{ S, "220 fake.example ESMTP" }, { C, "EHLO client.example" }

/* ---- greeting and EHLO ---- */

static void
test_greet_codes(void **state)
{
	static const struct step ok[] = {
		{ S, "220-fake.example ESMTP" }, { S, "220 second line" },
		{ C, "EHLO me" }, { S, "250-fake.example" },
		{ S, "250-SIZE 1000" }, { S, "250 PIPELINING" },
		{ C, "QUIT" }, { S, "221 bye" }, { EXPECT_EOF, "" }, END };
	static const struct step busy[] = {
		{ S, "421 4.3.2 too busy" }, { EXPECT_EOF, "" }, END };
	static const struct step no[] = {
		{ S, "554 5.7.1 go away" }, { C, "QUIT" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, ok, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	assert_string_equal(smtp_greeting(ss.smtp),
	    "220 fake.example ESMTP\nsecond line");
	assert_int_equal(smtp_ehlo(ss.smtp, "me", 0, &err), 0);
	assert_int_equal(smtp_caps(ss.smtp)->flags, SMTP_CAP_SIZE |
	    SMTP_CAP_PIPELINING);
	assert_true(smtp_caps(ss.smtp)->size == 1000);
	session_end(&ss, 1);

	session_start(&ss, busy, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(err.code, 421);
	assert_true(err.temporary);
	assert_int_equal(error_exit_code(&err), 75);
	assert_non_null(strstr(err.reply, "too busy"));
	session_end(&ss, 1);	/* no QUIT after 421: the peer wants EOF */

	session_start(&ss, no, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(error_exit_code(&err), 69);
	session_end(&ss, 1);
}

static void
test_helo_fallback(void **state)
{
	static const struct step fallback[] = {
		{ S, "220 old.example" }, { C, "EHLO me" },
		{ S, "502 5.5.1 what?" }, { C, "HELO me" },
		{ S, "250 old.example" }, { C, "QUIT" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	static const struct step nofallback[] = {
		{ S, "220 old.example" }, { C, "EHLO me" },
		{ S, "500 what?" }, { C, "QUIT" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, fallback, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	assert_int_equal(smtp_ehlo(ss.smtp, "me", 1, &err), 0);
	assert_int_equal(smtp_caps(ss.smtp)->flags, 0);
	session_end(&ss, 1);

	session_start(&ss, nofallback, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	assert_int_equal(smtp_ehlo(ss.smtp, "me", 0, &err), -1);
	assert_int_equal(err.kind, ERR_REPLY);
	assert_int_equal(error_exit_code(&err), 69);
	session_end(&ss, 1);
}

static void
test_garbage_and_timeout(void **state)
{
	static const struct step mixed[] = {
		{ S, "220 x" }, { C, "EHLO me" }, { S, "250-x" },
		{ S, "251 PIPELINING" }, { EXPECT_EOF, "" }, END };
	static const struct step junk[] = {
		{ S, "HTTP/1.1 400 Bad Request" }, { EXPECT_EOF, "" }, END };
	static const struct step silent[] = {
		{ SLEEP_MS, "600" }, { EXPECT_EOF, "" }, END };
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, mixed, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	assert_int_equal(smtp_ehlo(ss.smtp, "me", 0, &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "EHLO: garbage from server"));
	session_end(&ss, 0);

	session_start(&ss, junk, 3000);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(error_exit_code(&err), 76);
	session_end(&ss, 0);

	session_start(&ss, silent, 200);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, "greeting: timed out"));
	assert_int_equal(error_exit_code(&err), 75);
	session_end(&ss, 0);
}

/*
 * Every line of a multi-line EHLO reply comes well within the timeout,
 * but the whole reply does not: the timeout bounds the reply, so the
 * reader gives up, and nothing is sent after the timeout.
 */
static void
test_reply_deadline(void **state)
{
	static const struct step slow[] = {
		{ S, "220 x" }, { C, "EHLO me" }, { S, "250-x" },
		{ SLEEP_MS, "400" }, { S, "250-PIPELINING" },
		{ SLEEP_MS, "400" }, { EXPECT_EOF, "" }, END };
	struct timespec a, b;
	struct session ss;
	struct error err;
	long ms;

	(void)state;
	error_clear(&err);
	session_start(&ss, slow, 500);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(smtp_ehlo(ss.smtp, "me", 0, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 450 && ms < 800); /* a line renewing it: 900 */
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, "EHLO: timed out"));
	session_end(&ss, 0);
}

/* ---- the transaction ---- */

static struct addr rcpt_v[] = {
	{ (char *)"a@x.example", NULL },
	{ (char *)"b@y.example", NULL },
	{ (char *)"c@z.example", NULL },
};
static struct addr_list rcpts3 = { rcpt_v, 3, 3 };
static struct addr_list rcpts1 = { rcpt_v, 1, 1 };
static const struct message msg = {
	"Subject: t\r\n\r\n.dot line\r\nbody\r\n", 0
};

static void
envelope(struct smtp_envelope *env, const struct addr_list *l)
{
	memset(env, 0, sizeof(*env));
	env->from = "me@example.org";
	env->rcpts = l;
}

static void
run_greet_ehlo(struct session *ss)
{
	struct error err;

	error_clear(&err);
	assert_int_equal(smtp_greet(ss->smtp, &err), 0);
	assert_int_equal(smtp_ehlo(ss->smtp, "client.example", 0, &err), 0);
}

static void
test_pipelined(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250-PIPELINING" }, { S, "250 SIZE 100000" },
		{ C, "MAIL FROM:<me@example.org> SIZE=31" },
		{ P, "RCPT TO:<a@x.example>" }, { P, "DATA" },
		{ S, "250 2.1.0 ok" }, { S, "250 2.1.5 ok" },
		{ S, "354 go" }, { BODY, "" }, { P, "QUIT" },
		{ S, "250 2.0.0 queued as X" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts1);
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), 0);
	assert_string_equal(smtp_last_reply(ss.smtp),
	    "250 2.0.0 queued as X");
	session_end(&ss, 1);
}

static void
test_chunking(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250-PIPELINING" }, { S, "250-CHUNKING" },
		{ S, "250 8BITMIME" },
		{ C, "MAIL FROM:<me@example.org> BODY=8BITMIME" },
		{ P, "RCPT TO:<a@x.example>" },
		{ P, "RCPT TO:<b@y.example>" },
		{ S, "250 ok" }, { S, "250 ok" }, { S, "250 ok" },
		{ C, "BDAT 28 LAST" }, { CHUNK, "" }, { P, "QUIT" },
		{ S, "250 2.0.0 queued" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	static const struct message m8 = {
		"Subject: t\r\n\r\n.caf\xc3\xa9\r\nbody\r\n", 1
	};
	struct addr_list two = { rcpt_v, 2, 2 };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &two);
	assert_int_equal(smtp_send(ss.smtp, &env, &m8, &err), 0);
	session_end(&ss, 1);
	/* BDAT carries the message as is: no dot-stuffing. */
	assert_string_equal(last_body, m8.data);
}

static void
test_stepwise_partial_rcpt(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250 fake.example" },
		{ C, "MAIL FROM:<me@example.org>" }, { S, "250 ok" },
		{ C, "RCPT TO:<a@x.example>" }, { S, "250 ok" },
		{ C, "RCPT TO:<b@y.example>" },
		{ S, "550 5.1.1 no such user" },
		{ C, "RCPT TO:<c@z.example>" }, { S, "250 ok" },
		{ C, "QUIT" }, { S, "221 bye" }, { EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts3);
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), -1);
	assert_int_equal(err.kind, ERR_REPLY);
	assert_int_equal(error_exit_code(&err), 67);
	assert_non_null(strstr(err.msg, "1 of 3 recipients"));
	assert_non_null(strstr(err.reply, "<b@y.example>: 550 5.1.1 no such"));
	assert_null(strstr(err.reply, "a@x"));
	session_end(&ss, 1);
}

/*
 * LMTP: LHLO, and after the data one reply per accepted recipient.  One
 * delivered, one 4xx, one 5xx: a partial delivery, 69 (never 75), the two
 * that failed named.
 */
static void
test_lmtp_per_recipient(void **state)
{
	static const struct step steps[] = {
		{ S, "220 lmtp.example LMTP" }, { C, "LHLO client.example" },
		{ S, "250-lmtp.example" }, { S, "250 PIPELINING" },
		{ C, "MAIL FROM:<me@example.org>" },
		{ P, "RCPT TO:<a@x.example>" }, { P, "RCPT TO:<b@y.example>" },
		{ P, "RCPT TO:<c@z.example>" }, { P, "DATA" },
		{ S, "250 ok" }, { S, "250 ok" }, { S, "250 ok" },
		{ S, "250 ok" }, { S, "354 go" }, { BODY, "" }, { P, "QUIT" },
		{ S, "250 2.0.0 <a@x.example> saved" },
		{ S, "451 4.3.0 <b@y.example> try later" },
		{ S, "550 5.1.1 <c@z.example> gone" },
		{ S, "221 bye" }, { EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	smtp_set_lmtp(ss.smtp, 1);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts3);
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), -1);
	assert_int_equal(err.kind, ERR_PARTIAL);
	assert_int_equal(error_exit_code(&err), 69);
	assert_non_null(strstr(err.msg, "reached 1 of 3 recipients"));
	assert_null(strstr(err.reply, "<a@x.example>"));
	assert_non_null(strstr(err.reply, "<b@y.example>: 451 4.3.0"));
	assert_non_null(strstr(err.reply, "<c@z.example>: 550 5.1.1"));
	session_end(&ss, 1);
}

/* With PIPELINING, DATA already went out: a 354 must not become mail. */
static void
test_refused_rcpt_then_354(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250 PIPELINING" },
		{ C, "MAIL FROM:<me@example.org>" },
		{ P, "RCPT TO:<a@x.example>" }, { P, "RCPT TO:<b@y.example>" },
		{ P, "RCPT TO:<c@z.example>" }, { P, "DATA" },
		{ S, "250 ok" }, { S, "450 4.2.0 mailbox busy" },
		{ S, "250 ok" }, { S, "554 5.7.1 no thanks" },
		{ S, "354 go ahead anyway" },
		{ EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts3);
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), -1);
	/* One 4xx among the refusals: the whole attempt is temporary. */
	assert_int_equal(error_exit_code(&err), 75);
	assert_non_null(strstr(err.reply, "<a@x.example>: 450 4.2.0"));
	assert_non_null(strstr(err.reply, "<c@z.example>: 554 5.7.1"));
	session_end(&ss, 1);	/* the peer requires EOF: no ".", no QUIT */
}

static void
test_size_overflow(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250 SIZE 10" }, { C, "QUIT" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts1);
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), -1);
	assert_int_equal(err.kind, ERR_UNAVAILABLE);
	assert_string_equal(err.msg, "message too large: 31 > 10 bytes (the "
	    "server's SIZE limit)");
	assert_int_equal(error_exit_code(&err), 69);
	session_end(&ss, 1);
}

static void
test_dsn(void **state)
{
	static const struct step steps[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250 DSN" },
		{ C, "MAIL FROM:<me@example.org> RET=HDRS ENVID=a+2Bb+3Dc" },
		{ S, "250 ok" },
		{ C, "RCPT TO:<a@x.example> NOTIFY=FAILURE,DELAY" },
		{ S, "250 ok" }, { C, "DATA" }, { S, "354 go" },
		{ BODY, "" }, { S, "452 4.3.1 out of space" },
		{ C, "QUIT" }, { S, "221 bye" }, { EXPECT_EOF, "" }, END };
	struct smtp_envelope env;
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, steps, 3000);
	run_greet_ehlo(&ss);
	envelope(&env, &rcpts1);
	env.dsn_notify = "failure,delay";
	env.dsn_return = "hdrs";
	env.dsn_envid = "a+b=c";
	assert_int_equal(smtp_send(ss.smtp, &env, &msg, &err), -1);
	assert_int_equal(err.code, 452);
	assert_int_equal(error_exit_code(&err), 75);
	assert_non_null(strstr(err.msg, "end of data"));
	session_end(&ss, 1);
	/* The body went out dot-stuffed (the peer keeps it stuffed). */
	assert_string_equal(last_body, "Subject: t\r\n\r\n..dot line\r\n"
	    "body\r\n");
}

static void
test_starttls_checks(void **state)
{
	static const struct step none[] = {
		GREET_EHLO, { S, "250 fake.example" },
		{ C, "QUIT" }, { S, "221 bye" }, { EXPECT_EOF, "" }, END };
	static const struct step inject[] = {
		GREET_EHLO, { S, "250-fake.example" },
		{ S, "250 STARTTLS" }, { C, "STARTTLS" },
		{ RAWOUT, "220 go ahead\r\nMAIL FROM:<evil@x>\r\n" },
		{ EXPECT_EOF, "" }, END };
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, none, 3000);
	run_greet_ehlo(&ss);
	assert_int_equal(smtp_starttls(ss.smtp, &err), -1);
	assert_int_equal(err.kind, ERR_UNAVAILABLE);
	session_end(&ss, 1);

	session_start(&ss, inject, 3000);
	run_greet_ehlo(&ss);
	assert_int_equal(smtp_starttls(ss.smtp, &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "command injection"));
	session_end(&ss, 0);
}

/* The -v transcript shows `shown` for secrets, never the line itself. */
static void
test_transcript_shown(void **state)
{
	static const struct step steps[] = {
		{ S, "220 fake.example" },
		{ C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==" },
		{ S, "235 2.7.0 ok" }, { C, "QUIT" }, { S, "221 bye" },
		{ EXPECT_EOF, "" }, END };
	struct smtp_reply r;
	struct session ss;
	struct error err;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	error_clear(&err);
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	session_start(&ss, steps, 3000);
	smtp_free(ss.smtp);
	ss.smtp = smtp_new(ss.io, fp);
	assert_int_equal(smtp_greet(ss.smtp, &err), 0);
	assert_int_equal(smtp_command(ss.smtp, "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	    "AUTH PLAIN ****", &r, &err), 0);
	assert_int_equal(r.code, 235);
	assert_string_equal(r.status, "2.7.0");
	smtp_reply_free(&r);
	session_end(&ss, 1);
	fclose(fp);
	assert_string_equal(text, "<-- 220 fake.example\n"
	    "--> AUTH PLAIN ****\n<-- 235 2.7.0 ok\n--> QUIT\n<-- 221 bye\n");
	free(text);
}

/* The implicit-TLS probe: a TLS server answers it with an alert. */
static void
test_probe(void **state)
{
	static const struct step tls[] = {
		{ RAWIN, "\r\n\r\n\r" }, { RAWOUT, "\x15\x03\x03" },
		{ EXPECT_EOF, "" }, END };
	static const struct step late[] = {
		{ RAWIN, "\r\n\r\n\r" }, { S, "220 slow.example" },
		{ EXPECT_EOF, "" }, END };
	struct session ss;
	struct error err;

	(void)state;
	error_clear(&err);
	session_start(&ss, tls, 300);
	smtp_set_probe(ss.smtp, 1);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(err.kind, ERR_TLS);
	assert_non_null(strstr(err.msg, "implicit TLS"));
	assert_non_null(strstr(err.hint, "tls_starttls off"));
	assert_int_equal(error_exit_code(&err), 69);
	assert_int_equal(smtp_greet_late(ss.smtp), 0);
	session_end(&ss, 0);

	session_start(&ss, late, 300);
	smtp_set_probe(ss.smtp, 1);
	assert_int_equal(smtp_greet(ss.smtp, &err), -1);
	assert_int_equal(smtp_greet_late(ss.smtp), 1);
	session_end(&ss, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_greet_codes),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_garbage_and_timeout),
		cmocka_unit_test(test_reply_deadline),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_stepwise_partial_rcpt),
		cmocka_unit_test(test_refused_rcpt_then_354),
		cmocka_unit_test(test_lmtp_per_recipient),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_starttls_checks),
		cmocka_unit_test(test_transcript_shown),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
