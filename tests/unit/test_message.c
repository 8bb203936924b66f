/*
 * test_message.c: the spool and the wire writer: line ends, NULs, long
 * lines, dot-stuffing and SMTP smuggling, the header index, -t recipients,
 * Bcc removal, added headers, exact sizes, and constant memory on 100 MB.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "header.h"
#include "message.h"
#include "message_priv.h"

struct mem {
	char *p;
	size_t len;
	size_t cap;
	size_t calls;
	size_t fail_after; /* fail the call after this many, 0 never */
};

static int
mem_sink(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct mem *m = ctx;

	m->calls++;
	if (m->fail_after != 0 && m->calls > m->fail_after)
		return error_set(err, ERR_NETWORK, "sink failed");
	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	m->p[m->len] = '\0';
	return 0;
}

/* A file holding the input, positioned at 0: read() returns 64 KiB blocks. */
static int
input_fd(const void *in, size_t n)
{
	char path[] = "/tmp/test_message.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, in, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static struct message *
spool(const void *in, size_t n)
{
	struct message *m = NULL;
	struct error err;
	int fd = input_fd(in, n);

	error_clear(&err);
	if (message_read(&m, fd, NULL, &err) != 0)
		fail_msg("message_read: %s", err.msg);
	close(fd);
	return m;
}

static struct message *
spool_str(const char *in)
{
	return spool(in, strlen(in));
}

/* What message_write sends; checks message_size() without dot-stuffing. */
static char *
wire(const struct message *m, int dotstuff, size_t *lenp)
{
	struct mem out = {0};
	struct error err;

	if (message_write(m, dotstuff, mem_sink, &out, &err) != 0)
		fail_msg("message_write: %s", err.msg);
	if (out.p == NULL) {
		out.p = calloc(1, 1);
		assert_non_null(out.p);
	}
	if (!dotstuff)
		assert_int_equal(message_size(m), out.len);
	if (lenp != NULL)
		*lenp = out.len;
	return out.p;
}

/* Spool in, write out (no fixes), compare. */
static void
check_wire(const char *in, size_t n, int dotstuff, const char *want)
{
	struct message *m = spool(in, n);
	char *got = wire(m, dotstuff, NULL);

	assert_string_equal(got, want);
	free(got);
	message_free(m);
}

/* Every line end is CRLF, no line is longer than 998 octets, and the
   output ends with CRLF (when not empty). */
static void
assert_clean(const char *p, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < n && p[i + 1] == '\n');
		} else if (p[i] == '\n') {
			assert_true(i > 0 && p[i - 1] == '\r');
			col = 0;
			continue;
		} else {
			assert_true(p[i] != '\0');
		}
		if (p[i] != '\r')
			col++;
		if (col > 998)
			fail_msg("line over 998 octets at offset %zu", i);
	}
	if (n > 0)
		assert_memory_equal(p + n - 2, "\r\n", 2);
}

/* No octet but NULs is no message; a lone line end is one (empty). */
static void
test_empty_input(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		int empty;
	} cases[] = {
		{ "", 0, 1 },
		{ "\0\0", 2, 1 },
		{ "\n", 1, 0 },
		{ "\r\n", 2, 0 },
		{ "x", 1, 0 },
		{ "Subject: s\n", 11, 0 },
		{ " ", 1, 0 },
	};
	struct message *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = spool(cases[i].in, cases[i].n);
		if (message_is_empty(m) != cases[i].empty)
			fail_msg("case %zu: message_is_empty %d", i,
			    message_is_empty(m));
		message_free(m);
	}
}

static void
test_line_ends(void **state)
{
	(void)state;
	check_wire("a\nb\rc\r\nd", 8, 0, "a\r\nb\r\nc\r\nd\r\n");
	check_wire("S: x\n\n\r\r\n\n", 10, 0, "S: x\r\n\r\n\r\n\r\n\r\n");
	check_wire("S: x\r\n\r\nbody\r", 13, 0, "S: x\r\n\r\nbody\r\n");
	check_wire("S: x\n\nlast", 10, 0, "S: x\r\n\r\nlast\r\n");
	check_wire("S: x", 4, 0, "S: x\r\n");
	check_wire("", 0, 0, "");
	/* NUL octets vanish, also between CR and LF */
	check_wire("S: a\0b\n\nx\0y\r\0\nz", 15, 0, "S: ab\r\n\r\nxy\r\nz\r\n");
}

/* A CR that ends one 64 KiB read and the LF that starts the next. */
static void
test_cr_at_block_boundary(void **state)
{
	size_t n = 65536 * 2 + 100, i, crlf = 0, lines = 0;
	char *in = malloc(n), *out;
	struct message *m;
	size_t len;

	(void)state;
	assert_non_null(in);
	memcpy(in, "Subject: b\r\n\r\n", 14);
	for (i = 14; i < n; i++)
		in[i] = (i % 50 == 0) ? '\n' : 'x';
	in[65535] = '\r';
	in[65536] = '\n';
	in[65536 * 2 - 1] = '\r'; /* bare CR at the second boundary */
	in[65536 * 2] = 'y';
	for (i = 14; i < n; i++)
		if (in[i] == '\n' || (in[i] == '\r' && in[i + 1] != '\n'))
			lines++;
	m = spool(in, n);
	out = wire(m, 0, &len);
	assert_clean(out, len);
	for (i = 0; i + 1 < len; i++)
		if (out[i] == '\r' && out[i + 1] == '\n')
			crlf++;
	/* header, separator, every input line end, the added final one */
	assert_int_equal(crlf, 2 + lines + 1);
	assert_null(strstr(out + 14, "\r\n\r\n"));
	free(out);
	free(in);
	message_free(m);
}

static void
test_long_body_line(void **state)
{
	char in[3100], *out, *p;
	struct message *m;
	size_t len, i, total = 0;

	(void)state;
	memcpy(in, "S: x\n\n", 6);
	for (i = 0; i < 3000; i++)
		in[6 + i] = (char)('a' + i % 26);
	in[3006] = '\n';
	m = spool(in, 3007);
	out = wire(m, 0, &len);
	assert_clean(out, len);
	assert_int_equal(len, 6 + 2 + 3000 + 4 * 2);
	/* broken at 998: nothing lost, nothing added but CRLFs */
	for (p = out + 8; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			assert_int_equal(*p, in[6 + total++]);
	assert_int_equal(total, 3000);
	assert_memory_equal(out + 8 + 998, "\r\n", 2);
	free(out);
	message_free(m);
}

/* A line starting with '.' is broken one octet earlier: stuffed, 998. */
static void
test_long_dot_line(void **state)
{
	char in[2600], *out;
	struct message *m;
	size_t len;

	(void)state;
	memcpy(in, "S: x\n\n", 6);
	memset(in + 6, 'a', 998);
	memset(in + 6 + 998, '.', 1500);
	in[6 + 998 + 1500] = '\n';
	m = spool(in, 6 + 998 + 1501);
	out = wire(m, 1, &len);
	assert_clean(out, len);
	assert_memory_equal(out + 8 + 998, "\r\n..", 4);
	free(out);
	message_free(m);
}

static void
check_unfolds_to(const char *out, const char *field)
{
	char *u = malloc(strlen(out) + 1);
	size_t n = 0;
	const char *p;

	assert_non_null(u);
	/* up to the first CRLF that no blank follows */
	for (p = out; *p != '\0'; p++) {
		if (p[0] == '\r' && (p[2] == ' ' || p[2] == '\t')) {
			p++;
			continue;
		}
		if (p[0] == '\r')
			break;
		u[n++] = *p;
	}
	u[n] = '\0';
	assert_string_equal(u, field);
	free(u);
}

static void
test_long_subject(void **state)
{
	char subj[1100], in[1200], *out;
	struct message *m;
	size_t len, i;

	(void)state;
	/* cron's 1010-byte Subject: words, folded at the last blank */
	memcpy(subj, "Subject: ", 9);
	for (i = 9; i < 1010; i++)
		subj[i] = i % 10 == 0 ? ' ' : 'w';
	subj[1010] = '\0';
	snprintf(in, sizeof(in), "%s\nTo: a@x\n\nbody\n", subj);
	m = spool_str(in);
	assert_int_equal(message_has_header(m, "subject"), 1);
	assert_int_equal(message_has_header(m, "To"), 1);
	out = wire(m, 0, &len);
	assert_clean(out, len);
	check_unfolds_to(out, subj);
	assert_non_null(strstr(out, "\r\nTo: a@x\r\n\r\nbody\r\n"));
	/* the fold is at a blank, before the limit */
	assert_memory_equal(out + 990, "\r\n ", 3);
	free(out);
	message_free(m);

	/* no blank after the text: broken at the limit with CRLF SP */
	memset(subj + 9, 'z', 1001);
	subj[1010] = '\0';
	snprintf(in, sizeof(in), "%s\n\nbody\n", subj);
	m = spool_str(in);
	out = wire(m, 0, &len);
	assert_clean(out, len);
	assert_memory_equal(out, "Subject:\r\n zzz", 14);
	assert_non_null(strstr(out, "z\r\n zz"));
	assert_non_null(strstr(out, "\r\n\r\nbody\r\n"));
	assert_int_equal(message_has_header(m, "Subject"), 1);
	free(out);
	message_free(m);
}

static void
test_dotstuff(void **state)
{
	(void)state;
	check_wire("S: x\n\n.\n", 8, 1, "S: x\r\n\r\n..\r\n");
	check_wire("S: x\n\n.\n", 8, 0, "S: x\r\n\r\n.\r\n");
	check_wire("S: x\n\n..x\na.b\n.\r\n.", 18, 1,
	    "S: x\r\n\r\n...x\r\na.b\r\n..\r\n..\r\n");
	check_wire(".\n", 2, 1, "..\r\n");
	check_wire(".hidden: x\n\nb\n", 14, 1, "..hidden: x\r\n\r\nb\r\n");
}

/* No input can make "CRLF . CRLF" appear inside DATA. */
static void
test_smuggling(void **state)
{
	static const char *const seqs[] = {"\n.\n", "\n.\r\n", "\r.\r",
	    "\r\n.\n", "\r\n.\r", "\r.\r\n", "\n.\r", "\r.\n", "\r\n.\r\n",
	    "\r\n\0.\r\n", "\r\n.\0\r\n", "\n..\n", ".\r\n"};
	char in[64], *out, *data;
	struct message *m;
	size_t i, k, n, len;

	(void)state;
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		for (k = 0; k < 3; k++) {
			size_t sl = strlen(seqs[i]);

			if (i == 9 || i == 10)
				sl = 6;
			n = 0;
			if (k > 0) {
				memcpy(in, "Subject: s\n\n", 12);
				n = 12;
			}
			if (k == 2)
				in[n++] = 'A';
			memcpy(in + n, seqs[i], sl);
			n += sl;
			memcpy(in + n, "MAIL FROM:<x@y>\n", 16);
			n += 16;
			m = spool(in, n);
			out = wire(m, 1, &len);
			assert_clean(out, len);
			/* as it follows the DATA command's CRLF */
			data = malloc(len + 3);
			assert_non_null(data);
			memcpy(data, "\r\n", 2);
			memcpy(data + 2, out, len + 1);
			if (strstr(data, "\r\n.\r\n") != NULL)
				fail_msg(
				    "sequence %zu case %zu ends DATA", i, k);
			free(data);
			free(out);
			message_free(m);
		}
	}
}

static void
recipients(const char *in, const char *want)
{
	struct message *m = spool_str(in);
	struct addr_list l = {0};
	struct error err;
	char got[1024];
	size_t i, n = 0;

	if (message_recipients(m, &l, &err) != 0)
		fail_msg("message_recipients: %s", err.msg);
	got[0] = '\0';
	for (i = 0; i < l.n; i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
		    i > 0 ? "," : "", l.v[i].addr);
	assert_string_equal(got, want);
	addr_list_free(&l);
	message_free(m);
}

static void
test_recipients(void **state)
{
	struct message *m;
	struct addr_list l = {0};
	struct error err;

	(void)state;
	recipients("To: a@x,\n  \"Doe, J\" <b@y>,\r\n\tc@z\nSubject: s\n"
		   "cc: d@w\nTO: e@v\nBcc: f@u\nX-To: no@x\nReply-To: "
		   "no@y\n\nTo: g@h\n",
	    "a@x,b@y,c@z,d@w,e@v,f@u");
	recipients("To: undisclosed-recipients:;\nBcc: friends: a@x, b@y;\n\n",
	    "a@x,b@y");
	recipients("Subject: none\n\n", "");
	recipients("To : a@x\n\n", "a@x");
	/* Resent-*: only the topmost block */
	recipients("Resent-From: r@x\nResent-To: r1@x\nResent-Cc: r2@x\n"
		   "Resent-Bcc: r3@x\nResent-Date: now\nReceived: by x\n"
		   "Resent-From: old@x\nResent-To: old1@x\nTo: orig@x\n\nb\n",
	    "r1@x,r2@x,r3@x");
	recipients(
	    "Received: by y\nResent-Date: 1\nResent-To: a@x\n"
	    "Resent-To: b@x\nResent-Date: 2\nResent-To: c@x\nTo: d@x\n\n",
	    "a@x,b@x");
	recipients("Resent-Message-ID: <1@x>\nCc: c@x\n\n", "");

	m = spool_str("To: ok@x\nBcc: Nobody <>\n\n");
	assert_int_equal(message_recipients(m, &l, &err), -1);
	assert_int_equal(err.kind, ERR_DATA);
	assert_non_null(strstr(err.msg, "Bcc header: <>"));
	addr_list_free(&l);
	message_free(m);

	m = spool_str("To: ok@x\nCc: \"broken <b@x>\n\n");
	assert_int_equal(message_recipients(m, &l, &err), -1);
	assert_int_equal(err.kind, ERR_DATA);
	assert_non_null(strstr(err.msg, "Cc header"));
	addr_list_free(&l);
	message_free(m);
}

#define CHECK_WIRE(in, want) check_wire(in, strlen(in), 0, want)

static void
test_header_block_end(void **state)
{
	(void)state;
	/* a line that is no header starts the body; the separator is added
	   when headers precede it */
	CHECK_WIRE(
	    "Subject: x\nThis is body\n", "Subject: x\r\n\r\nThis is body\r\n");
	CHECK_WIRE("hi\n", "hi\r\n");
	CHECK_WIRE(" indented\n", " indented\r\n");
	CHECK_WIRE("\nbody\n", "\r\nbody\r\n");
	/* mbox "From " first line is dropped; a later one is body */
	CHECK_WIRE("From root Mon Jan  1 00:00:00 2024\nSubject: y\n\nFrom x\n",
	    "Subject: y\r\n\r\nFrom x\r\n");
	CHECK_WIRE("From root\r\n\r\nb\n", "\r\nb\r\n");
	CHECK_WIRE(
	    "Subject: y\nFrom root\n", "Subject: y\r\n\r\nFrom root\r\n");
}

static void
test_header_cap(void **state)
{
	size_t n = 1100 * 1024, i;
	char *in = malloc(n);
	struct message *m = (struct message *)1;
	struct error err;
	int fd;

	(void)state;
	assert_non_null(in);
	for (i = 0; i < n; i++)
		in[i] = i % 20 == 0 ? 'X'
		    : i % 20 == 1   ? ':'
		    : i % 20 == 19  ? '\n'
				    : 'h';
	fd = input_fd(in, n);
	assert_int_equal(message_read(&m, fd, NULL, &err), -1);
	assert_null(m);
	assert_int_equal(err.kind, ERR_DATA);
	assert_non_null(strstr(err.msg, "header block"));
	/* the rest of the input was drained */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)n);
	close(fd);
	free(in);

	/* just under the cap is fine */
	in = malloc(900 * 1024);
	assert_non_null(in);
	for (i = 0; i < 900 * 1024; i++)
		in[i] = i % 20 == 0 ? 'X'
		    : i % 20 == 1   ? ':'
		    : i % 20 == 19  ? '\n'
				    : 'h';
	m = spool(in, 900 * 1024);
	assert_int_equal(message_size(m), 900 * 1024 + 900 * 1024 / 20);
	message_free(m);
	free(in);
}

static void
test_8bit(void **state)
{
	struct message *m;

	(void)state;
	m = spool_str("Subject: x\n\nplain\n");
	assert_int_equal(message_is_8bit(m), 0);
	message_free(m);
	m = spool_str("Subject: x\n\ncaf\xc3\xa9\n");
	assert_int_equal(message_is_8bit(m), 1);
	message_free(m);
	m = spool_str("Subject: caf\xc3\xa9\n\nplain\n");
	assert_int_equal(message_is_8bit(m), 1);
	message_free(m);
}

static void
test_bcc_removed(void **state)
{
	struct message_fixes fx = {0};
	struct message *m;
	struct addr_list l = {0};
	struct error err;
	char *out;

	(void)state;
	m = spool_str("To: a@x\nBcc: b@x,\n c@x\nSubject: s\n"
		      "bcc:d@x\nX-Bcc: kept\n\nBcc: body@x\n");
	assert_int_equal(message_recipients(m, &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[2].addr, "c@x");
	addr_list_free(&l);
	message_free(m);
	m = spool_str("To: a@x\nBcc: b@x,\n c@x\nSubject: s\nResent-Bcc: z@x\n"
		      "bcc:d@x\nX-Bcc: kept\n\nBcc: body@x\n");
	assert_int_equal(message_recipients(m, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].addr, "z@x");
	fx.remove_bcc = 1;
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m, 0, NULL);
	assert_string_equal(out,
	    "To: a@x\r\nSubject: s\r\nX-Bcc: kept\r\n"
	    "\r\nBcc: body@x\r\n");
	free(out);
	/* fixing again starts over */
	fx.remove_bcc = 0;
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m, 0, NULL);
	assert_non_null(strstr(out, "Bcc: b@x,\r\n c@x\r\n"));
	free(out);
	addr_list_free(&l);
	message_free(m);
}

/* "Date: Www, D Mmm YYYY HH:MM:SS +hhmm" */
static void
assert_date(const char *line)
{
	char wd[4], mon[4], sign;
	int d, y, h, mi, s, zone, n = 0;

	assert_int_equal(sscanf(line,
			     "Date: %3[A-Za-z], %d %3[A-Za-z] %d "
			     "%2d:%2d:%2d %c%4d\r\n%n",
			     wd, &d, mon, &y, &h, &mi, &s, &sign, &zone, &n),
	    9);
	assert_true(n > 0);
	assert_non_null(strstr("SunMonTueWedThuFriSat", wd));
	assert_non_null(strstr("JanFebMarAprMayJunJulAugSepOctNovDec", mon));
	assert_true(d >= 1 && d <= 31 && y >= 2024 && h < 24 && mi < 60);
	assert_true(sign == '+' || sign == '-');
	assert_memory_equal(strchr(line, sign) + 5, "\r\n", 2);
}

static char *
fixed(const char *in, const struct message_fixes *fx, uint64_t *size)
{
	struct message *m = spool_str(in);
	struct error err;
	char *out;

	if (message_fix(m, fx, &err) != 0)
		fail_msg("message_fix: %s", err.msg);
	out = wire(m, 0, NULL);
	if (size != NULL)
		*size = message_size(m);
	message_free(m);
	return out;
}

/* n addresses tag001@secret.example,... without blanks (malloc'ed). */
static char *
address_run(const char *tag, int n)
{
	char *v = malloc((size_t)n * 48 + 1);
	size_t len = 0;
	int i;

	assert_non_null(v);
	v[0] = '\0';
	for (i = 1; i <= n; i++)
		len += (size_t)snprintf(v + len, 48, "%s%s%03d@secret.example",
		    i > 1 ? "," : "", tag, i);
	return v;
}

/*
 * The field "name value" (after the fields in before) between other
 * headers: every recipient -t finds
 * (want), and what is left of "secret" once Bcc removal has run (1 if the
 * field must survive).
 */
static void
check_obsolete(const char *before, const char *name, const char *value,
    size_t want, int kept)
{
	struct message_fixes fx = {0};
	struct addr_list l = {0};
	struct message *m;
	struct error err;
	char *in, *out;
	size_t len;

	assert_true(asprintf(&in,
			"From: me@example.com\nTo: you@example.com"
			"\n%s%s%s\nSubject: hi\n\nbody\n",
			before, name, value) > 0);
	m = spool_str(in);
	if (message_recipients(m, &l, &err) != 0)
		fail_msg("%s: message_recipients: %s", name, err.msg);
	if (l.n != want)
		fail_msg("\"%s\": %zu recipients, want %zu", name, l.n, want);
	fx.remove_bcc = 1;
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m, 0, &len);
	assert_clean(out, len);
	if ((strstr(out, "secret") != NULL) != kept)
		fail_msg("\"%s\": %s", name, kept ? "lost" : "leaked");
	assert_non_null(strstr(out, "\r\nSubject: hi\r\n\r\nbody\r\n"));
	free(out);
	addr_list_free(&l);
	message_free(m);
	free(in);
}

/*
 * The obsolete blank before the colon (RFC 5322 4.5.3: "Bcc :") names the
 * same field everywhere headers are treated specially, also on a line
 * over 998 octets: a fold never comes before the colon (issue 9: the
 * field became "Bcc" CRLF and its 60 addresses reached every recipient).
 */
static void
test_obsolete_names(void **state)
{
	static const char *const bcc[] = {
	    "Bcc :", "Bcc\t:", "bcc \t  :", "BCC:", "Bcc : "};
	static const char *const rcpt[] = {"To :", "Cc :", "cc\t:", "TO  :"};
	char *list = address_run("u", 60), *pad, *out;
	struct message_fixes fx = {0};
	struct addr_list l = {0};
	struct message *m;
	struct error err;
	size_t i;

	(void)state;
	assert_true(strlen(list) > 1000);
	for (i = 0; i < sizeof(bcc) / sizeof(bcc[0]); i++) {
		check_obsolete("", bcc[i], list, 61, 0);
		check_obsolete("", bcc[i], "u@secret.example", 2, 0);
	}
	for (i = 0; i < sizeof(rcpt) / sizeof(rcpt[0]); i++)
		check_obsolete("", rcpt[i], list, 61, 1);
	/* Resent-*: the block is found and read through the same names */
	check_obsolete("Resent-From : r@x\n", "Resent-Bcc :", list, 60, 0);
	check_obsolete("Resent-Date\t: now\n", "Resent-Bcc\t:", list, 60, 0);
	check_obsolete("Resent-From : r@x\n", "Resent-To :", list, 60, 1);
	check_obsolete("Resent-Sender : r@x\n", "Resent-Cc :", list, 60, 1);
	recipients("Resent-Date : 1\nResent-To : a@x\nResent-Message-ID : <i>\n"
		   "Resent-Date : 2\nResent-To : b@x\nTo : c@x\n\n",
	    "a@x");
	recipients("Resent-From : 1@x\nResent-Cc : a@x\nResent-From : 2@x\n"
		   "Resent-Bcc : b@x\n\n",
	    "a@x");

	/* blanks before the colon that do not fit on the line are dropped */
	pad = malloc(1300);
	assert_non_null(pad);
	memcpy(pad, "Bcc", 3);
	memset(pad + 3, ' ', 1200);
	memcpy(pad + 1203, ":", 2);
	check_obsolete("", pad, "u@secret.example", 2, 0);
	check_obsolete("", pad, list, 61, 0);
	memcpy(pad, "Cc\t", 3);
	check_obsolete("", pad, list, 61, 1);
	free(pad);

	/* From, Date and Message-ID in that form are present: none added,
	   and a bare From is still qualified, its name kept as written */
	fx.from_addr = "root@example.org";
	fx.from_name = "Someone";
	fx.from_mode = -1;
	fx.add_date = 1;
	fx.msgid_domain = "example.org";
	out = fixed(
	    "From : root\nDate\t: x\nMessage-ID : <a@b>\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "From : root@example.org\r\nDate\t: x\r\n"
	    "Message-ID : <a@b>\r\n\r\nb\r\n");
	free(out);
	m = spool_str("Subject: s\nfrom  : A <a@x>\n\nb\n");
	assert_int_equal(message_has_header(m, "From"), 1);
	assert_int_equal(message_header_addrs(m, "From", &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].addr, "a@x");
	addr_list_free(&l);
	message_free(m);
	/* a From over 998 octets in that form is still the From */
	out = malloc(strlen(list) + 64);
	assert_non_null(out);
	snprintf(out, strlen(list) + 64, "From :%s\n\nb\n", list);
	m = spool_str(out);
	free(out);
	assert_int_equal(message_header_addrs(m, "From", &l, &err), 0);
	assert_int_equal(l.n, 60);
	addr_list_free(&l);
	message_free(m);
	free(list);
}

/* undisclosed_recipients: every To, Cc and Bcc (any form) goes, one
   "To: undisclosed-recipients:;" comes; -t still sees the originals. */
static void
test_undisclosed(void **state)
{
	struct message_fixes fx = {0};
	struct addr_list l = {0};
	struct message *m;
	struct error err;
	char *out;

	(void)state;
	m = spool_str("From: me@x\nTO: a@x,\n b@x\nCc : c@x\nSubject: s\n"
		      "bcc:d@x\nX-To: kept\nResent-Cc: r@x\n\nbody\nTo: e@x\n");
	fx.undisclosed = 1;
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m, 0, NULL);
	assert_string_equal(out,
	    "To: undisclosed-recipients:;\r\nFrom: me@x\r\nSubject: s\r\n"
	    "X-To: kept\r\nResent-Cc: r@x\r\n\r\nbody\r\nTo: e@x\r\n");
	free(out);
	/* the recipients are still those of the message (Resent- block) */
	assert_int_equal(message_recipients(m, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].addr, "r@x");
	addr_list_free(&l);
	message_free(m);

	/* after the other added lines; also without any To in the input */
	fx.from_addr = "me@x";
	fx.from_mode = -1;
	fx.msgid_domain = "x";
	out = fixed("Subject: s\n\nb\n", &fx, NULL);
	assert_non_null(strstr(out,
	    "@x>\r\nTo: undisclosed-recipients:;\r\n"
	    "Subject: s\r\n\r\nb\r\n"));
	assert_memory_equal(out, "From: me@x\r\nMessage-ID: <", 25);
	free(out);
	/* off: nothing changes */
	fx.undisclosed = 0;
	fx.msgid_domain = NULL;
	out = fixed("To: a@x\nCc: c@x\n\nb\n", &fx, NULL);
	assert_string_equal(
	    out, "From: me@x\r\nTo: a@x\r\nCc: c@x\r\n\r\nb\r\n");
	free(out);
}

static void
test_added_headers(void **state)
{
	struct message_fixes fx = {0};
	char *out, *out2, *p;
	uint64_t size;

	(void)state;
	fx.from_addr = "root@example.org";
	fx.from_name = "CronDaemon";
	fx.from_mode = -1;
	fx.add_date = 1;
	fx.msgid_domain = "example.org";
	out = fixed("hi\n", &fx, &size);
	assert_int_equal(size, strlen(out));
	assert_memory_equal(
	    out, "From: CronDaemon <root@example.org>\r\nDate: ", 43);
	assert_date(out + 37);
	p = strstr(out, "\r\nMessage-ID: <");
	assert_non_null(p);
	assert_non_null(strstr(p, "@example.org>\r\n\r\nhi\r\n"));
	assert_int_equal(
	    strstr(p + 2, "\r\n") - p, 2 + 13 + 14 + 1 + 32 + 12 + 1);
	/* unique */
	out2 = fixed("hi\n", &fx, NULL);
	assert_string_not_equal(strstr(out2, "Message-ID"), p + 2);
	free(out2);
	free(out);

	/* present headers are kept, nothing added */
	out = fixed("From: me@x\nDate: x\nMessage-ID: <a@b>\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "From: me@x\r\nDate: x\r\nMessage-ID: <a@b>"
	    "\r\n\r\nb\r\n");
	free(out);
	/* from_mode 1 replaces From, 0 never adds */
	fx.from_mode = 1;
	fx.add_date = 0;
	fx.msgid_domain = NULL;
	out = fixed("from: me@x,\n you@y\nSubject: s\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "From: CronDaemon <root@example.org>\r\n"
	    "Subject: s\r\n\r\nb\r\n");
	free(out);
	fx.from_mode = 0;
	out = fixed("Subject: s\n\nb\n", &fx, NULL);
	assert_string_equal(out, "Subject: s\r\n\r\nb\r\n");
	free(out);
	/* no name, no From for the null sender, a bad domain for the ID */
	fx.from_mode = -1;
	fx.from_name = NULL;
	fx.msgid_domain = "bad domain>";
	out = fixed("Subject: s\n\nb\n", &fx, NULL);
	assert_memory_equal(out, "From: root@example.org\r\nMessage-ID: <", 37);
	assert_non_null(strstr(out, "@localhost>\r\nSubject"));
	free(out);
	fx.from_addr = "";
	fx.msgid_domain = NULL;
	out = fixed("Subject: s\n\nb\n", &fx, NULL);
	assert_string_equal(out, "Subject: s\r\n\r\nb\r\n");
	free(out);
}

/*
 * Decode the encoded word text at p (up to "?=") and append it to dst; the
 * word must hold whole UTF-8 characters.
 */
static void
b64_append(char *dst, const char *p)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char word[64];
	size_t n = 0, k, bits = 0;
	unsigned v = 0;

	for (; *p != '?' && *p != '='; p++) {
		assert_non_null(strchr(tab, *p));
		v = (v << 6) | (unsigned)(strchr(tab, *p) - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			word[n++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	assert_true(n > 0);
	assert_true((word[0] & 0xc0) != 0x80); /* starts a character */
	for (k = n; k > 0 && (word[k - 1] & 0xc0) == 0x80; k--)
		;
	/* the last character is complete: "a" or a 3-octet U+20AC */
	assert_true(word[n - 1] == 'a' || (k >= 1 && n - k + 1 == 3));
	strncat(dst, (const char *)word, n);
}

/* Body lines of out after the empty line: each at most max octets. */
static void
assert_body_lines_within(const char *out, size_t max)
{
	const char *p = strstr(out, "\r\n\r\n"), *nl;

	assert_non_null(p);
	for (p += 4; *p != '\0'; p = nl + 2) {
		nl = strstr(p, "\r\n");
		assert_non_null(nl);
		assert_true((size_t)(nl - p) <= max);
	}
}

/*
 * A body line over 998 octets in a single text part: the body goes
 * quoted-printable, the MIME fields fixed, the size exact (fixed() checks
 * message_size against what is written).
 */
static void
test_long_line_quoted_printable(void **state)
{
	struct message_fixes fx = {0};
	const char *want;
	char *in, *out;
	size_t i, n;
	uint64_t size;

	(void)state;
	in = malloc(4000);
	assert_non_null(in);
	n = (size_t)snprintf(in, 4000, "Subject: s\n\n");
	for (i = 0; i < 1500; i++) {
		in[n++] = '\xc3'; /* "é" 1500 times: 3000 octets of UTF-8 */
		in[n++] = '\xa9';
	}
	memcpy(in + n, "\n.\n", 4);
	in[n + 4] = '\0';
	out = fixed(in, &fx, &size);
	assert_int_equal(size, strlen(out));
	want = "MIME-Version: 1.0\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n"
	       "Subject: s\r\n\r\n=C3=A9=C3=A9";
	assert_memory_equal(out, want, strlen(want));
	assert_non_null(strstr(out, "=\r\n=C3=A9"));
	/* the lone dot line is encoded, never a lone "." */
	assert_non_null(strstr(out, "\r\n=2E\r\n"));
	assert_body_lines_within(out, 76);
	free(out);
	/* declared text without a charset, 8bit, Latin-1: unknown-8bit */
	n = (size_t)snprintf(in, 4000, "Content-Type: text/plain\n"
	    "Content-Transfer-Encoding: 8bit\nMIME-Version: 1.0\n\n");
	memset(in + n, '\xe9', 1200);
	memcpy(in + n + 1200, "\n", 2);
	out = fixed(in, &fx, &size);
	assert_int_equal(size, strlen(out));
	want = "Content-Transfer-Encoding: quoted-printable\r\n"
	       "Content-Type: text/plain; charset=unknown-8bit\r\n"
	       "MIME-Version: 1.0\r\n\r\n=E9=E9";
	assert_memory_equal(out, want, strlen(want));
	assert_null(strstr(out, "Encoding: 8bit"));
	assert_body_lines_within(out, 76);
	free(out);
	/* a declared charset is kept as written; short lines: no change */
	out = fixed("Content-Type: text/plain; charset=iso-8859-1\n\n"
		    "short \xe9\n", &fx, NULL);
	assert_string_equal(out, "Content-Type: text/plain; "
	    "charset=iso-8859-1\r\n\r\nshort \xe9\r\n");
	free(out);
	free(in);
}

/*
 * Where re-encoding is not possible: a long line of a multipart that
 * cannot be followed (no close delimiter) is broken as before, and so is
 * one of a base64 body (its decoders skip line breaks); one of another
 * encoded or non-text body is sent whole (a break would change the data).
 */
static void
test_long_line_broken(void **state)
{
	static const struct {
		const char *head;
		int broken;
	} cases[] = {
		{"Content-Type: multipart/mixed; boundary=b\n", 1},
		{"Content-Transfer-Encoding: base64\n", 1},
		{"Content-Transfer-Encoding: quoted-printable\n", 0},
		{"Content-Type: application/octet-stream\n", 0},
	};
	struct message_fixes fx = {0};
	char in[3200], *out, *body;
	size_t i, n;
	uint64_t size;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = (size_t)snprintf(in, sizeof(in), "%s\n", cases[i].head);
		memset(in + n, 'a', 3000);
		memcpy(in + n + 3000, "\n", 2);
		out = fixed(in, &fx, &size);
		assert_int_equal(size, strlen(out));
		/* never re-encoded: only a declared encoding says it */
		if (strstr(cases[i].head, "quoted") == NULL)
			assert_null(strstr(out, "quoted-printable"));
		body = strstr(out, "\r\n\r\n") + 4;
		if (cases[i].broken) {
			assert_body_lines_within(out, 998);
			/* nothing lost: the a's are all there */
			assert_int_equal(strspn(body, "a\r\n"), 3000 + 4 * 2);
		} else {
			assert_int_equal(strspn(body, "a"), 3000);
			assert_string_equal(body + 3000, "\r\n");
		}
		free(out);
	}
}

/*
 * Every address field a system tool writes (cron's To: root, mailx's Cc)
 * gets the domain; qualified addresses, groups, names and comments stay.
 */
static void
test_addr_fields_qualified(void **state)
{
	struct message_fixes fx = {0};
	char *out;

	(void)state;
	fx.from_addr = "cron@example.org";
	fx.from_mode = -1;
	fx.remove_bcc = 1;
	out = fixed("From: root (Cron Daemon)\nTo: root\nCc: admin, "
		    "\"Ops\" <ops@x.test>\nReply-To: Web <www-data>\n"
		    "Sender: daemon\nBcc: secret\nResent-From: at\n"
		    "Resent-To: root\nResent-Cc: u:;\nResent-Sender: s\n"
		    "X-To: root\nSubject: root\n\nTo: root\n", &fx, NULL);
	assert_string_equal(out,
	    "From: root@example.org (Cron Daemon)\r\n"
	    "To: root@example.org\r\n"
	    "Cc: admin@example.org, \"Ops\" <ops@x.test>\r\n"
	    "Reply-To: Web <www-data@example.org>\r\n"
	    "Sender: daemon@example.org\r\n"
	    "Resent-From: at@example.org\r\n"
	    "Resent-To: root@example.org\r\n"
	    "Resent-Cc: u:;\r\n"
	    "Resent-Sender: s@example.org\r\n"
	    "X-To: root\r\nSubject: root\r\n\r\nTo: root\r\n");
	free(out);
	/* rewrite_headers off: all as written */
	fx.keep_addrs = 1;
	out = fixed("From: root\nTo: root\nCc: admin\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "From: root\r\nTo: root\r\nCc: admin\r\n\r\nb\r\n");
	free(out);
}

/* A kept From naming a bare local user gets the domain, nothing else. */
static void
test_from_qualified(void **state)
{
	struct message_fixes fx = {0};
	char *out;

	(void)state;
	fx.from_addr = "root@example.org";
	fx.from_mode = -1;
	out = fixed("From: root (Cron Daemon)\nTo: root\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "From: root@example.org (Cron Daemon)\r\n"
	    "To: root@example.org\r\n\r\nb\r\n");
	free(out);
	fx.domain = "other.test";
	out =
	    fixed("Subject: s\nFROM:Anacron\n <root>\nX: y\n\nb\n", &fx, NULL);
	assert_string_equal(out,
	    "Subject: s\r\nFROM:Anacron <root@other.test>"
	    "\r\nX: y\r\n\r\nb\r\n");
	free(out);
	/* qualified, unparsable or not asked: as it was */
	out = fixed("From: a@x (A)\n\nb\n", &fx, NULL);
	assert_string_equal(out, "From: a@x (A)\r\n\r\nb\r\n");
	free(out);
	out = fixed("From: \"open <root>\n\nb\n", &fx, NULL);
	assert_string_equal(out, "From: \"open <root>\r\n\r\nb\r\n");
	free(out);
	fx.domain = NULL;
	fx.from_addr = NULL;
	out = fixed("From: root\n\nb\n", &fx, NULL);
	assert_string_equal(out, "From: root\r\n\r\nb\r\n");
	free(out);
}

static void
check_from(const char *name, const char *want)
{
	struct message_fixes fx = {0};
	char *out;

	fx.from_addr = "j@x";
	fx.from_name = name;
	fx.from_mode = -1;
	out = fixed("\nb\n", &fx, NULL);
	assert_string_equal(out, want);
	free(out);
}

static void
test_from_names(void **state)
{
	struct message_fixes fx = {0};
	struct message *m;
	struct error err;
	char name[200], decoded[200], *out, *p, *line;
	size_t i, n;

	(void)state;
	check_from("Doe, John", "From: \"Doe, John\" <j@x>\r\n\r\nb\r\n");
	check_from("Cron Daemon", "From: Cron Daemon <j@x>\r\n\r\nb\r\n");
	check_from(
	    "John Q. Public", "From: \"John Q. Public\" <j@x>\r\n\r\nb\r\n");
	check_from("a\"b\\c", "From: \"a\\\"b\\\\c\" <j@x>\r\n\r\nb\r\n");
	check_from(
	    "J\xc3\xb6rg", "From: =?UTF-8?B?SsO2cmc=?= <j@x>\r\n\r\nb\r\n");
	check_from("", "From: j@x\r\n\r\nb\r\n");
	/* header injection through -F is defused */
	check_from("x\r\nBcc: evil@y",
	    "From: \"x  Bcc: evil@y\" <j@x>\r\n"
	    "\r\nb\r\n");
	/* long non-ASCII names: several encoded words on short lines, no
	   character split across words, nothing lost */
	n = 0;
	name[n++] = 'a';
	for (i = 0; i < 50; i++) {
		memcpy(name + n, "\xe2\x82\xac", 3); /* U+20AC */
		n += 3;
	}
	name[n] = '\0';
	fx.from_addr = "j@x";
	fx.from_name = name;
	fx.from_mode = -1;
	out = fixed("\nb\n", &fx, NULL);
	assert_clean(out, strlen(out));
	decoded[0] = '\0';
	for (line = out, i = 0; (p = strstr(line, "\r\n")) != NULL && p != line;
	     line = p + 2, i++) {
		assert_true(p - line <= 76);
		assert_non_null(strstr(line, "=?UTF-8?B?"));
		b64_append(decoded, strstr(line, "=?UTF-8?B?") + 10);
	}
	assert_true(i >= 5);
	assert_string_equal(decoded, name);
	free(out);
	/* an over-long ASCII name cannot be folded: refused */
	m = spool_str("\nb\n");
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	fx.from_addr = malloc(1000);
	assert_non_null(fx.from_addr);
	memset((char *)fx.from_addr, 'a', 999);
	((char *)fx.from_addr)[999] = '\0';
	assert_int_equal(message_fix(m, &fx, &err), -1);
	assert_int_equal(err.kind, ERR_USAGE);
	free((char *)fx.from_addr);
	message_free(m);
}

/* Date in a known zone: exact text, numeric zone, half-hour offsets. */
static void
check_date(const char *tz, const char *want)
{
	struct error err;
	char *line;

	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
	line = header_date(1795571319, &err); /* 2026-11-25 01:48:39 UTC */
	assert_non_null(line);
	assert_string_equal(line, want);
	assert_date(line);
	free(line);
}

static void
test_header_lines(void **state)
{
	const char *tz = getenv("TZ");
	char *saved = tz != NULL ? strdup(tz) : NULL;
	struct error err;
	char *line;

	(void)state;
	check_date("UTC0", "Date: Wed, 25 Nov 2026 01:48:39 +0000\r\n");
	check_date("NST+3:30", "Date: Tue, 24 Nov 2026 22:18:39 -0330\r\n");
	check_date("IST-5:30", "Date: Wed, 25 Nov 2026 07:18:39 +0530\r\n");
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);

	line = header_msgid("mail.example.org", &err);
	assert_non_null(line);
	assert_int_equal(strlen(line), 13 + 14 + 1 + 32 + 1 + 16 + 3);
	assert_string_equal(line + 13 + 14 + 1 + 32, "@mail.example.org>\r\n");
	free(line);
	line = header_msgid("", &err);
	assert_non_null(strstr(line, "@localhost>\r\n"));
	free(line);
	line = header_msgid("a b", &err);
	assert_non_null(strstr(line, "@localhost>\r\n"));
	free(line);

	assert_null(header_from("a@x\r\nBcc: y@z", NULL, &err));
	assert_int_equal(err.kind, ERR_USAGE);
	line = header_from("a@x", " \t ", &err);
	assert_string_equal(line, "From: a@x\r\n");
	free(line);
}

/* Every line of s ends in CRLF, is at most max octets, and s unfolds
   (CRLF removed) to want (unless NULL). */
static void
check_folded(const char *s, size_t max, const char *want)
{
	char *u = malloc(strlen(s) + 1);
	const char *p, *nl;
	size_t n = 0;

	assert_non_null(u);
	for (p = s; *p != '\0'; p = nl + 2) {
		nl = strstr(p, "\r\n");
		assert_non_null(nl);
		if ((size_t)(nl - p) > max)
			fail_msg("line of %zu octets (max %zu): %.60s...",
			    (size_t)(nl - p), max, p);
		if (p != s)
			assert_true(*p == ' ' || *p == '\t');
		memcpy(u + n, p, (size_t)(nl - p));
		n += (size_t)(nl - p);
	}
	u[n] = '\0';
	if (want != NULL)
		assert_string_equal(u, want);
	free(u);
}

/*
 * Every header line smtpsend writes stays within 998 octets: a From with an
 * encoded -F name and a long address was one 1031-octet line (issue 9).
 */
static void
test_from_fold(void **state)
{
	char local[1100], addr[1200], want[3000], name[1300], *line;
	const char *p;
	struct message_fixes fx = {0};
	struct error err;
	size_t i, n;

	(void)state;
	/* issue 9's case: -f with a 990-octet local part, -F Jöhn.  No
	   line can hold the 1004-octet <address>: refused, never sent */
	memset(local, 'a', 990);
	local[990] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	error_clear(&err);
	line = header_from(addr, "J\xc3\xb6hn", &err);
	if (line != NULL)
		fail_msg("a From line of %zu octets", strlen(line));
	assert_int_equal(err.kind, ERR_USAGE);
	assert_non_null(strstr(err.msg, "too long"));
	assert_null(header_from(addr, "John", &err));
	assert_null(header_from(addr, NULL, &err));

	/* 980: the address goes on a line of its own */
	local[980] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	line = header_from(addr, "J\xc3\xb6hn", &err);
	assert_non_null(line);
	snprintf(want, sizeof(want), "From: =?UTF-8?B?SsO2aG4=?=\r\n <%s>\r\n",
	    addr);
	assert_string_equal(line, want);
	free(line);
	line = header_from(addr, "John Smith", &err);
	assert_non_null(line);
	snprintf(want, sizeof(want), "From: John Smith\r\n <%s>\r\n", addr);
	assert_string_equal(line, want);
	free(line);

	/* long names fold between words, in or out of a quoted-string */
	for (n = 0, i = 0; i < 250; i++)
		n += (size_t)snprintf(name + n, sizeof(name) - n, "%sw%03zu",
		    i > 0 ? " " : "", i);
	line = header_from("j@x", name, &err);
	assert_non_null(line);
	snprintf(want, sizeof(want), "From: %s <j@x>", name);
	check_folded(line, 998, want);
	assert_non_null(strstr(line, "\r\n "));
	free(line);
	name[4] = ',';
	line = header_from("j@x", name, &err);
	assert_non_null(line);
	snprintf(want, sizeof(want), "From: \"%s\" <j@x>", name);
	check_folded(line, 998, want);
	free(line);

	/* a name without blanks too long for a line: encoded words */
	memset(name, 'n', 1200);
	name[1200] = '\0';
	line = header_from("j@x", name, &err);
	assert_non_null(line);
	check_folded(line, 76, NULL);
	for (n = 0, p = line; (p = strstr(p, "=?UTF-8?B?")) != NULL; p++)
		n++;
	assert_int_equal(n, (1200 + 35) / 36);
	free(line);

	/* Date and Message-ID are short whatever the input */
	memset(name, 'd', 1200);
	line = header_msgid(name, &err);
	assert_non_null(line);
	assert_true(strlen(line) < 100);
	free(line);

	/* the whole message: every added line within the limit */
	fx.from_addr = addr;
	fx.from_name = "J\xc3\xb6hn";
	fx.from_mode = -1;
	fx.add_date = 1;
	fx.msgid_domain = "example.com";
	line = fixed("Subject: s\n\nb\n", &fx, NULL);
	assert_clean(line, strlen(line));
	free(line);
}

/* header_fold: where a field may be folded, and where never. */
static void
test_header_fold(void **state)
{
	char in[2400], *line;
	struct error err;
	size_t n;

	(void)state;
	line = header_fold("From: a b", 5, &err);
	assert_string_equal(line, "From: a\r\n b\r\n");
	free(line);
	/* never before or right after the colon, in an angle address, after
	   a backslash, or before trailing blanks */
	line = header_fold("From : A <x y@z> (c\\ d)  ", 1, &err);
	assert_string_equal(line, "From : A\r\n <x y@z>\r\n (c\\ d)  \r\n");
	free(line);
	line = header_fold("From: \"a\\\" b\" <c>", 1, &err);
	assert_string_equal(line, "From: \"a\\\"\r\n b\"\r\n <c>\r\n");
	free(line);
	/* a run over 998 octets: refused */
	n = (size_t)snprintf(in, sizeof(in), "From: x <");
	memset(in + n, 'a', 995);
	snprintf(in + n + 995, sizeof(in) - n - 995, "@b> y");
	assert_null(header_fold(in, 998, &err));
	assert_int_equal(err.kind, ERR_USAGE);
	in[n + 985] = '>';
	in[n + 986] = '\0';
	line = header_fold(in, 998, &err);
	assert_non_null(line);
	check_folded(line, 998, in);
	free(line);
}

/* A kept From over 998 octets once qualified is folded, not left bare. */
static void
test_from_qualified_long(void **state)
{
	struct message_fixes fx = {0};
	char in[4000], want[6000], *out;
	size_t n = 0, w = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(in, sizeof(in), "From: ");
	w += (size_t)snprintf(want, sizeof(want), "From: ");
	for (i = 0; i < 90; i++) {
		n += (size_t)snprintf(
		    in + n, sizeof(in) - n, "%suser%03d", i > 0 ? ", " : "", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w,
		    "%suser%03d@example.org", i > 0 ? ", " : "", i);
	}
	assert_true(n < 998 && w > 998);
	snprintf(in + n, sizeof(in) - n, "\nTo: x@y\n\nb\n");
	fx.from_addr = "root@example.org";
	fx.from_mode = -1;
	out = fixed(in, &fx, NULL);
	assert_clean(out, strlen(out));
	strstr(out, "\r\nTo: x@y\r\n")[2] = '\0';
	check_folded(out, 998, want);
	free(out);
}

static void
test_sink_chunks(void **state)
{
	size_t n = 1024 * 1024, i;
	char *in = malloc(n);
	struct message *m;
	struct mem out = {0};
	struct error err;

	(void)state;
	assert_non_null(in);
	memcpy(in, "S: x\n\n", 6);
	for (i = 6; i < n; i++)
		in[i] = i % 40 == 0 ? '\n' : i % 40 == 1 ? '.' : 'b';
	m = spool(in, n);
	assert_int_equal(message_write(m, 1, mem_sink, &out, &err), 0);
	/* big blocks, not one call per line */
	assert_true(out.calls < 40);
	free(out.p);
	memset(&out, 0, sizeof(out));
	assert_int_equal(message_write(m, 0, mem_sink, &out, &err), 0);
	assert_true(out.calls < 40);
	assert_int_equal(out.len, message_size(m));
	free(out.p);
	/* a failing sink stops the write with its error */
	memset(&out, 0, sizeof(out));
	out.fail_after = 3;
	error_clear(&err);
	assert_int_equal(message_write(m, 1, mem_sink, &out, &err), -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_int_equal(out.calls, 4);
	free(out.p);
	message_free(m);
	free(in);
}

static void
test_spool_errors(void **state)
{
	struct message *m = (struct message *)1;
	struct error err;
	int p[2];

	(void)state;
	assert_int_equal(setenv("TMPDIR", "/nonexistent/tmp", 1), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "S: x\n\nb\n", 8), 8);
	close(p[1]);
	assert_int_equal(message_read(&m, p[0], "/nonexistent/dir", &err), -1);
	assert_int_equal(unsetenv("TMPDIR"), 0);
	assert_null(m);
	assert_int_equal(err.kind, ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent/tmp"));
	/* drained: nothing left to read */
	assert_int_equal(read(p[0], &err, 1), 0);
	close(p[0]);
	message_drain(-1);
	message_free(NULL);
}

/* A directory that cannot take the spool (the queue's): $TMPDIR, /tmp. */
static void
test_spool_fallback(void **state)
{
	struct message *m = NULL;
	struct error err;
	int p[2];

	(void)state;
	error_clear(&err);
	assert_int_equal(unsetenv("TMPDIR"), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "S: x\n\nb\n", 8), 8);
	close(p[1]);
	assert_int_equal(message_read(&m, p[0], "/nonexistent/dir", &err), 0);
	close(p[0]);
	assert_non_null(m);
	assert_int_equal(message_size(m), 11);
	message_free(m);
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

struct counter {
	uint64_t len;
	unsigned crlfdot; /* "\r\n.\r\n" seen (must stay 0) */
	char last[4]; /* the last 4 octets, across calls */
};

static int
count_sink(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct counter *c = ctx;
	const unsigned char *p = buf;
	size_t i;

	(void)err;
	for (i = 0; i < len; i++) {
		memmove(c->last, c->last + 1, 3);
		c->last[3] = (char)p[i];
		if (p[i] == '\n' && memcmp(c->last, "\n.\r\n", 4) == 0)
			c->crlfdot++;
	}
	c->len += len;
	return 0;
}

/* The child writes mb MiB of mail into the pipe; lines of every kind. */
static void
writer(int fd, size_t mb)
{
	static char block[1024 * 1024];
	size_t i;

	memcpy(block, "Subject: big\nTo: a@x\n\n", 22);
	for (i = 22; i < sizeof(block); i++)
		block[i] = i % 73 == 0 ? '\n'
		    : i % 3001 == 0    ? '\r'
		    : i % 997 == 1     ? '.'
				       : 'x';
	for (i = 0; i < mb; i++) {
		const char *p = i == 0 ? block : block + 22;
		size_t n = i == 0 ? sizeof(block) : sizeof(block) - 22;

		while (n > 0) {
			ssize_t w = write(fd, p, n);

			if (w <= 0)
				_exit(1);
			p += w;
			n -= (size_t)w;
		}
	}
	_exit(0);
}

static void
test_big_constant_memory(void **state)
{
	const char *preload = getenv("LD_PRELOAD");
	int slow = preload != NULL && strstr(preload, "vgpreload") != NULL &&
	    getenv("SMTPSEND_SLOW_OK") == NULL;
	size_t mb = slow ? 3 : 100;
	struct message *m;
	struct counter c = {0};
	struct error err;
	long before;
	pid_t pid;
	int p[2], status;

	(void)state;
	c.last[2] = '\r'; /* DATA's own CRLF */
	c.last[3] = '\n';
	before = maxrss_kib();
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		writer(p[1], mb);
	}
	close(p[1]);
	assert_int_equal(message_read(&m, p[0], NULL, &err), 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(message_write(m, 1, count_sink, &c, &err), 0);
	assert_int_equal(c.crlfdot, 0);
	assert_true(c.len > message_size(m)); /* dots were doubled */
	assert_true(message_size(m) > mb * 1024 * 1024);
	memset(&c, 0, sizeof(c));
	assert_int_equal(message_write(m, 0, count_sink, &c, &err), 0);
	assert_int_equal(c.len, message_size(m));
	message_free(m);
	if (!slow && maxrss_kib() - before > 20 * 1024)
		fail_msg("peak RSS grew by %ld KiB", maxrss_kib() - before);
}

/*
 * -bs feeds the spool piece by piece (message_input_*): one byte at a
 * time and in two halves, the result is what message_read makes of the
 * same input, CR/LF pairs and header folds split across pieces included.
 */
static void
test_input_pieces(void **state)
{
	char in[3000], *want, *got;
	struct message_input *mi;
	struct message *m, *ref;
	struct error err;
	size_t n, i, step;
	static const char head[] = "From: a@example.org\r\nSubject: x\r\n "
	    "folded\rBcc: b@example.org\n\n.dot\r\r\nbare\rcr\nNUL\0here";

	(void)state;
	n = sizeof(head) - 1;
	memcpy(in, head, n);
	memset(in + n, 'x', 1200);	/* a long last line, no line end */
	n += 1200;
	ref = spool(in, n);
	want = wire(ref, 1, NULL);
	for (step = 1; step <= n; step += n / 2) {
		error_clear(&err);
		assert_int_equal(message_input_new(&mi, NULL, &err), 0);
		for (i = 0; i < n; i += step)
			assert_int_equal(message_input_feed(mi, in + i,
			    i + step <= n ? step : n - i, &err), 0);
		assert_int_equal(message_input_end(mi, &m, &err), 0);
		assert_true(message_has_header(m, "Bcc"));
		got = wire(m, 1, NULL);
		assert_string_equal(got, want);
		assert_int_equal(message_size(m), message_size(ref));
		free(got);
		message_free(m);
	}
	free(want);
	message_free(ref);
	message_input_free(NULL);
}

/*
 * The queue keeps the body spool and rescans it (message_rescan): the
 * breaks it counts are the reader's, for random lines of every length
 * around the limit, leading dots, bare CR/LF and NULs.
 */
static void
test_rescan_matches_reader(void **state)
{
	static const char alphabet[] = "ab.\r\n \0=";
	char *in;
	size_t n, i, len;
	int round;
	uint64_t breaks;
	struct message *m;
	struct error err;

	(void)state;
	srand(7);
	in = malloc(20000);
	assert_non_null(in);
	for (round = 0; round < 200; round++) {
		n = snprintf(in, 100, "Subject: r%d\n\n", round);
		len = (size_t)(rand() % 6000);
		for (i = 0; i < len; i++) {
			int r = rand() % 1000;

			in[n++] = r < 990 ? 'x' :
			    alphabet[rand() % (sizeof(alphabet) - 1)];
		}
		m = spool(in, n);
		breaks = m->breaks;
		error_clear(&err);
		assert_int_equal(message_rescan(m, 0, &err), 0);
		assert_int_equal(m->breaks, breaks);
		message_free(m);
	}
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_empty_input),
	    cmocka_unit_test(test_cr_at_block_boundary),
	    cmocka_unit_test(test_long_body_line),
	    cmocka_unit_test(test_long_dot_line),
	    cmocka_unit_test(test_long_subject),
	    cmocka_unit_test(test_dotstuff),
	    cmocka_unit_test(test_smuggling),
	    cmocka_unit_test(test_recipients),
	    cmocka_unit_test(test_header_block_end),
	    cmocka_unit_test(test_header_cap),
	    cmocka_unit_test(test_8bit),
	    cmocka_unit_test(test_bcc_removed),
	    cmocka_unit_test(test_obsolete_names),
	    cmocka_unit_test(test_undisclosed),
	    cmocka_unit_test(test_added_headers),
	    cmocka_unit_test(test_from_names),
	    cmocka_unit_test(test_from_qualified),
	    cmocka_unit_test(test_addr_fields_qualified),
	    cmocka_unit_test(test_long_line_quoted_printable),
	    cmocka_unit_test(test_long_line_broken),
	    cmocka_unit_test(test_header_lines),
	    cmocka_unit_test(test_from_fold),
	    cmocka_unit_test(test_header_fold),
	    cmocka_unit_test(test_from_qualified_long),
	    cmocka_unit_test(test_sink_chunks),
	    cmocka_unit_test(test_spool_errors),
	    cmocka_unit_test(test_spool_fallback),
	    cmocka_unit_test(test_big_constant_memory),
	    cmocka_unit_test(test_input_pieces),
	    cmocka_unit_test(test_rescan_matches_reader),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
