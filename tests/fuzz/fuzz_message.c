/*
 * fuzz_message.c: the message reader and writer (message.c,
 * message_out.c, header.c): what any local program pipes into sendmail.
 *
 * Input: byte 0 is the read size (1..256) for a second pass, byte 1 picks
 * the header fixes, the rest is the message.  The message is read twice:
 * from a regular file (one read() for up to 64 KiB) and from a
 * SOCK_SEQPACKET socket fed by a thread, where every read() returns
 * exactly one packet, so line ends (CR | LF) fall across reads
 * deterministically.  Both must give the same bytes.
 *
 * On what message_write sends, the rules of doc/wire-rules.md are
 * checked: every line ends in CRLF, no bare CR or LF, no NUL, no line over
 * 998 octets before its CRLF (except the long lines of non-text MIME
 * parts, which message_fix counted as left whole); with dot-stuffing no
 * line is a lone "." and undoing the stuffing gives the unstuffed stream;
 * without it the byte count is message_size(); message_is_8bit is 1 if a
 * byte sent is.
 *
 * The MIME breaker (mime.c) on its own: the input as a CRLF body under a
 * multipart Content-Type picked by byte 1, fed whole and in pieces of
 * byte 0's size: the same output and counts; removing the CRLFs it
 * inserted (each before an octet that is not CR or LF) gives the input
 * back; a counting pass agrees.  When it marked text parts, a second
 * pass re-encoding them is split-independent and counted exactly too.
 */
#include <sys/socket.h>

#include <pthread.h>
#include <string.h>

#include "address.h"
#include "error.h"
#include "message.h"
#include "message_priv.h"
#include "mime.h"
#include "fuzz.h"

#define LINE_LIMIT	998

struct buf {
	char	*p;
	size_t	 n;
	size_t	 cap;
};

static int
sink(void *ctx, const void *data, size_t len, struct error *err)
{
	struct buf *b = ctx;
	char *np;

	(void)err;
	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2 + 64;
		if ((np = realloc(b->p, b->cap)) == NULL)
			abort();
		b->p = np;
	}
	if (len > 0)
		memcpy(b->p + b->n, data, len);
	b->n += len;
	return 0;
}

struct feeder {
	int		 fd;
	const uint8_t	*p;
	size_t		 n;
	size_t		 chunk;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0, k;
	ssize_t w;

	while (off < f->n) {
		k = f->n - off < f->chunk ? f->n - off : f->chunk;
		w = send(f->fd, f->p + off, k, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* Read the message through a SOCK_SEQPACKET pair, chunk bytes a read. */
static int
read_chunked(struct message **mp, const uint8_t *p, size_t n, size_t chunk,
    struct error *err)
{
	struct feeder f;
	pthread_t t;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	f.fd = sv[1];
	f.p = p;
	f.n = n;
	f.chunk = chunk;
	if (pthread_create(&t, NULL, feed, &f) != 0)
		abort();
	rc = message_read(mp, sv[0], NULL, err);
	pthread_join(t, NULL);
	close(sv[0]);
	return rc;
}

/* The wire rules on one written stream; returns lines starting with '.'.
   At most kept lines may be over the limit (left whole by message_fix). */
static size_t
check_wire(const struct buf *b, int dotstuff, uint64_t kept)
{
	size_t i, start = 0, dots = 0, over = 0;

	FUZZ_ASSERT(b->n == 0 || (b->n >= 2 && b->p[b->n - 2] == '\r' &&
	    b->p[b->n - 1] == '\n'));
	for (i = 0; i < b->n; i++) {
		FUZZ_ASSERT(b->p[i] != '\0');
		if (b->p[i] == '\r')
			FUZZ_ASSERT(i + 1 < b->n && b->p[i + 1] == '\n');
		if (b->p[i] != '\n')
			continue;
		FUZZ_ASSERT(i > 0 && b->p[i - 1] == '\r');
		/* The line is b->p[start .. i - 1), CR excluded. */
		if (i - 1 - start > LINE_LIMIT)
			over++;
		if (dotstuff)
			FUZZ_ASSERT(!(i - 1 - start == 1 && b->p[start] == '.'));
		if (i - 1 > start && b->p[start] == '.')
			dots++;
		start = i + 1;
	}
	FUZZ_ASSERT(over <= kept);
	return dots;
}

/* Undoing the dot-stuffing of s gives u. */
static void
check_unstuff(const struct buf *s, const struct buf *u)
{
	size_t i = 0, j = 0;
	int bol = 1;

	while (i < s->n) {
		if (bol && s->p[i] == '.') {
			FUZZ_ASSERT(i + 1 < s->n && s->p[i + 1] == '.');
			i++;
		}
		FUZZ_ASSERT(j < u->n && s->p[i] == u->p[j]);
		bol = s->p[i] == '\n';
		i++;
		j++;
	}
	FUZZ_ASSERT(j == u->n);
}

static void
write_and_check(struct message *m, struct buf *plain)
{
	struct buf st = { NULL, 0, 0 };
	struct error err;
	size_t dots, i;
	uint64_t kept;
	int high = 0;

	error_clear(&err);
	FUZZ_ASSERT(message_write(m, 0, sink, plain, &err) == 0);
	FUZZ_ASSERT(plain->n == message_size(m));
	kept = m->mime ? m->lines.kept : 0;
	dots = check_wire(plain, 0, kept);
	error_clear(&err);
	FUZZ_ASSERT(message_write(m, 1, sink, &st, &err) == 0);
	FUZZ_ASSERT(check_wire(&st, 1, kept) == dots);
	FUZZ_ASSERT(st.n == plain->n + dots);
	check_unstuff(&st, plain);
	for (i = 0; i < plain->n; i++)
		if ((unsigned char)plain->p[i] >= 0x80)
			high = 1;
	/* Recorded at reading: a removed Bcc may have held the 8-bit. */
	if (high)
		FUZZ_ASSERT(message_is_8bit(m));
	free(st.p);
}

static void
headers(struct message *m)
{
	struct addr_list l = { NULL, 0, 0 };
	struct error err;

	error_clear(&err);
	if (message_recipients(m, &l, &err) == -1)
		FUZZ_ASSERT(err.kind != ERR_NONE);
	addr_list_free(&l);
	error_clear(&err);
	(void)message_header_addrs(m, "From", &l, &err);
	addr_list_free(&l);
	(void)message_has_header(m, "Subject");
}

/* Fixes that do not depend on the clock or randomness, from bits. */
static void
fixes(struct message_fixes *fx, unsigned bits, const char *name)
{
	static const int modes[] = { -1, 1, 0, -1 };

	memset(fx, 0, sizeof(*fx));
	fx->from_addr = (bits & 1) ? "user@example.org" : NULL;
	fx->from_name = (bits & 2) ? name : NULL;
	fx->from_mode = modes[(bits >> 2) & 3];
	fx->remove_bcc = (bits & 16) != 0;
	fx->domain = (bits & 32) ? "example.net" : NULL;
}

static int
mime_sink_fn(void *ctx, const void *data, size_t len, struct error *err)
{
	return sink(ctx, data, len, err);
}

/* The second pass (re-encoding the marked parts): split-independent,
   counted exactly. */
static void
encode_check(const uint8_t *p, size_t n, size_t chunk, const char *ct,
    const char *cte, const struct mime_result *plan)
{
	struct mime *one, *two, *cnt;
	struct mime_result r1, r2, r3;
	struct buf a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	struct error err;
	size_t i, k;

	one = mime_new(1, ct, cte);
	two = mime_new(1, ct, cte);
	cnt = mime_new(1, ct, cte);
	if (one == NULL || two == NULL || cnt == NULL)
		abort();
	mime_encode(one, plan);
	mime_encode(two, plan);
	mime_encode(cnt, plan);
	FUZZ_ASSERT(mime_feed(one, (const char *)p, n, mime_sink_fn, &a,
	    &err) == 0);
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		FUZZ_ASSERT(mime_feed(two, (const char *)p + i, k,
		    mime_sink_fn, &b, &err) == 0);
	}
	FUZZ_ASSERT(mime_feed(cnt, (const char *)p, n, NULL, NULL, &err) == 0);
	mime_result(one, &r1);
	mime_result(two, &r2);
	mime_result(cnt, &r3);
	FUZZ_ASSERT(r1.out == a.n && r2.out == b.n && r3.out == a.n);
	FUZZ_ASSERT(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0));
	FUZZ_ASSERT(r1.breaks == r3.breaks && r1.kept == r3.kept);
	mime_free(one);
	mime_free(two);
	mime_free(cnt);
	free(a.p);
	free(b.p);
}

/* The breaker alone: split-independent, lossless, counted exactly. */
static void
mime_check(const uint8_t *p, size_t n, size_t chunk, unsigned bits)
{
	static const char *const types[] = {
		"multipart/mixed; boundary=b", "multipart/digest; boundary=\"b\"",
		"message/rfc822", "multipart/alternative; boundary=a",
	};
	const char *ct = types[bits & 3];
	struct mime *one, *two, *cnt;
	struct mime_result r1, r2, r3;
	struct buf a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	struct error err;
	size_t i, j, k;

	one = mime_new((bits & 4) == 0, ct, (bits & 8) ? "8bit" : NULL);
	two = mime_new((bits & 4) == 0, ct, (bits & 8) ? "8bit" : NULL);
	cnt = mime_new((bits & 4) == 0, ct, (bits & 8) ? "8bit" : NULL);
	if (one == NULL || two == NULL || cnt == NULL)
		abort();
	FUZZ_ASSERT(mime_feed(one, (const char *)p, n, mime_sink_fn, &a,
	    &err) == 0);
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		FUZZ_ASSERT(mime_feed(two, (const char *)p + i, k,
		    mime_sink_fn, &b, &err) == 0);
	}
	FUZZ_ASSERT(mime_feed(cnt, (const char *)p, n, NULL, NULL, &err) == 0);
	mime_result(one, &r1);
	mime_result(two, &r2);
	mime_result(cnt, &r3);
	FUZZ_ASSERT(r1.breaks == r2.breaks && r1.breaks == r3.breaks);
	FUZZ_ASSERT(r1.kept == r2.kept && r1.kept == r3.kept);
	FUZZ_ASSERT((r1.bad == NULL) == (r2.bad == NULL));
	FUZZ_ASSERT(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0));
	FUZZ_ASSERT(a.n == n + 2 * r1.breaks);
	/* Walk both: a CRLF in the output that is not the input's is one
	   inserted, followed by an octet that is neither CR nor LF. */
	for (i = 0, j = 0; i < a.n; i++) {
		if (j < n && a.p[i] == (char)p[j]) {
			j++;
			continue;
		}
		FUZZ_ASSERT(a.p[i] == '\r' && i + 2 < a.n &&
		    a.p[i + 1] == '\n' && a.p[i + 2] != '\r' &&
		    a.p[i + 2] != '\n');
		i++;
	}
	FUZZ_ASSERT(j == n);
	mime_free(one);
	mime_free(two);
	mime_free(cnt);
	if (r1.marked > 0)
		encode_check(p, n, chunk, ct, (bits & 8) ? "8bit" : NULL, &r1);
	free(a.p);
	free(b.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message *m1 = NULL, *m2 = NULL;
	struct message_fixes fx;
	struct buf a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	struct error err;
	char path[64], *name;
	size_t chunk;
	unsigned bits;
	int fd;

	if (size < 2 || size > 300000)
		return 0;
	chunk = (size_t)data[0] + 1;
	bits = data[1];
	data += 2;
	size -= 2;
	name = fuzz_strndup(data, size < 80 ? size : 80);

	fd = fuzz_memfile(data, size, path, sizeof(path));
	error_clear(&err);
	FUZZ_ASSERT(message_read(&m1, fd, NULL, &err) == 0);
	close(fd);
	error_clear(&err);
	FUZZ_ASSERT(read_chunked(&m2, data, size, chunk, &err) == 0);

	mime_check(data, size, chunk, bits);
	headers(m1);
	fixes(&fx, bits, name);
	error_clear(&err);
	if (message_fix(m1, &fx, &err) == 0) {
		error_clear(&err);
		FUZZ_ASSERT(message_fix(m2, &fx, &err) == 0);
		write_and_check(m1, &a);
		write_and_check(m2, &b);
		FUZZ_ASSERT(a.n == b.n);
		FUZZ_ASSERT(a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
	}

	/* Date and Message-ID too: not comparable, but the rules hold. */
	if (bits & 64) {
		fx.add_date = 1;
		fx.msgid_domain = (bits & 128) ? "example.org" : name;
		free(a.p);
		a.p = NULL;
		a.n = a.cap = 0;
		error_clear(&err);
		if (message_fix(m1, &fx, &err) == 0)
			write_and_check(m1, &a);
	}
	message_free(m1);
	message_free(m2);
	free(a.p);
	free(b.p);
	free(name);
	return 0;
}
