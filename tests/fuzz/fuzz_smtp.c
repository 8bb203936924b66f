/*
 * fuzz_smtp.c: the SMTP reply reader and capability parser, fed what a
 * hostile server could send.
 *
 * The input is used three ways: as one reply line (smtp_parse_line), as a
 * string (smtp_parse_status, smtp_caps_parse), and as the byte stream of a
 * whole dialogue read through io.c and smtp.c over an in-memory transport
 * (greeting, EHLO, then replies until the stream ends or is refused).  The
 * first byte picks how many bytes each transport read returns, so line
 * ends fall across reads.
 */
#include <fcntl.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "smtp.h"
#include "fuzz.h"

struct mem {
	const uint8_t	*p;
	size_t		 n;
	size_t		 off;
	size_t		 chunk;
};

static ssize_t
mem_read(void *ctx, void *buf, size_t len, struct error *err)
{
	struct mem *m = ctx;
	size_t k = m->n - m->off;

	(void)err;
	if (k > len)
		k = len;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

static ssize_t
mem_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)ctx;
	(void)buf;
	(void)err;
	return (ssize_t)len;
}

static size_t
mem_pending(void *ctx)
{
	struct mem *m = ctx;

	return m->n - m->off;
}

static void
mem_close(void *ctx)
{
	(void)ctx;
}

static const struct io_ops mem_ops = {
	mem_read, mem_write, mem_pending, mem_close
};

/* "2.1.0"-shaped: class digit, dot, 1-3 digits, dot, 1-3 digits. */
static int
status_ok(const char *s)
{
	size_t i = 2, n;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (n = 0; s[i] >= '0' && s[i] <= '9'; i++)
		n++;
	if (n < 1 || n > 3 || s[i++] != '.')
		return 0;
	for (n = 0; s[i] >= '0' && s[i] <= '9'; i++)
		n++;
	return n >= 1 && n <= 3 && s[i] == '\0';
}

static void
check_caps(const struct smtp_caps *caps)
{
	size_t n = strnlen(caps->auth, sizeof(caps->auth));

	FUZZ_ASSERT(n < sizeof(caps->auth));
	FUZZ_ASSERT(strspn(caps->auth, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ ")
	    == n);
	FUZZ_ASSERT(n == 0 || (caps->flags & SMTP_CAP_AUTH) != 0);
	FUZZ_ASSERT(caps->size == 0 || (caps->flags & SMTP_CAP_SIZE) != 0);
}

static void
check_reply(const struct smtp_reply *r)
{
	struct smtp_caps caps;
	const char *p;

	FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
	FUZZ_ASSERT(r->text != NULL);
	FUZZ_ASSERT(r->lines >= 1);
	for (p = r->text; *p != '\0'; p++)
		FUZZ_ASSERT(*p == '\n' || *p == '\t' ||
		    ((unsigned char)*p >= 0x20 && *p != 0x7f));
	FUZZ_ASSERT(strnlen(r->status, sizeof(r->status)) < sizeof(r->status));
	if (r->status[0] != '\0') {
		FUZZ_ASSERT(status_ok(r->status));
		FUZZ_ASSERT(r->status[0] - '0' == r->code / 100);
	}
	smtp_caps_parse(&caps, r->text);
	check_caps(&caps);
}

static void
one_line(const uint8_t *data, size_t size)
{
	struct error err;
	const char *text;
	int code, last;

	error_clear(&err);
	if (smtp_parse_line((const char *)data, size, &code, &last, &text,
	    &err) == -1) {
		FUZZ_ASSERT(err.kind != ERR_NONE);
		return;
	}
	FUZZ_ASSERT(size >= 3 && size <= SMTP_LINE_MAX);
	FUZZ_ASSERT(code >= 200 && code <= 599);
	FUZZ_ASSERT(last == 0 || last == 1);
	FUZZ_ASSERT(text >= (const char *)data &&
	    text <= (const char *)data + size);
}

static void
as_string(const uint8_t *data, size_t size)
{
	struct smtp_caps caps;
	char status[16], *s;

	s = fuzz_strndup(data, size);
	memset(status, 'x', sizeof(status));
	if (smtp_parse_status(s, status) == 0) {
		FUZZ_ASSERT(status_ok(status));
		FUZZ_ASSERT(strncmp(s, status, strlen(status)) == 0);
	} else
		FUZZ_ASSERT(status[0] == '\0');
	smtp_caps_parse(&caps, s);
	check_caps(&caps);
	free(s);
}

static void
dialogue(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct mem m;
	struct error err;
	struct smtp_reply r;
	struct smtp *s;
	struct io *io;
	int fd, i;

	if (size == 0)
		return;
	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	m.chunk = (size_t)data[0] + 1;
	m.p = data + 1;
	m.n = size - 1;
	m.off = 0;
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		abort();
	if ((io = io_new(fd, 1000)) == NULL)
		abort();
	io_set_ops(io, &mem_ops, &m);
	if ((s = smtp_new(io, devnull)) == NULL)
		abort();
	error_clear(&err);
	if (smtp_greet(s, &err) == 0 &&
	    smtp_ehlo(s, "localhost", 1, &err) == 0) {
		check_caps(smtp_caps(s));
		FUZZ_ASSERT(smtp_ehlo_text(s) != NULL);
		for (i = 0; i < 64 && !smtp_closed(s); i++) {
			error_clear(&err);
			if (smtp_read_reply(s, "fuzz", &r, &err) == -1)
				break;
			check_reply(&r);
			smtp_reply_free(&r);
		}
	}
	if (err.kind != ERR_NONE)
		FUZZ_ASSERT(err.msg[0] != '\0');
	smtp_free(s);
	io_free(io);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_line(data, size);
	as_string(data, size);
	dialogue(data, size);
	return 0;
}
