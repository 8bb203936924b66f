/*
 * test_qp.c: the quoted-printable encoder.  decode(encode(x)) == x for
 * random bytes (CR, LF, NUL, blanks before line ends, '=', lone dots,
 * 8-bit), fed in random pieces; every output line is short, printable,
 * without trailing blanks, and never starts with a dot.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "qp.h"

struct mem {
	char *p;
	size_t len;
	int calls;
};

static int
mem_sink(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct mem *m = ctx;

	(void)err;
	m->p = realloc(m->p, m->len + len + 1);
	assert_non_null(m->p);
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	m->p[m->len] = '\0';
	m->calls++;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	fail_msg("bad hex digit %02x", (unsigned char)c);
	return -1;
}

/* RFC 2045 6.7 decoding of text that must be well formed; *n its size. */
static char *
decode(const char *in, size_t len, size_t *n)
{
	char *out = malloc(len + 1);
	size_t i = 0, k = 0, eol;

	assert_non_null(out);
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);

		assert_non_null(nl); /* every line ends in CRLF */
		eol = (size_t)(nl - in);
		assert_true(eol > i);
		assert_int_equal(in[eol - 1], '\r');
		eol--; /* at the CR */
		while (i < eol) {
			if (in[i] == '=' && i + 1 == eol) {
				i++; /* soft break */
				goto soft;
			}
			if (in[i] == '=') {
				assert_true(i + 2 < eol);
				out[k++] = (char)(hexval(in[i + 1]) * 16 +
				    hexval(in[i + 2]));
				i += 3;
			} else {
				out[k++] = in[i++];
			}
		}
		out[k++] = '\r';
		out[k++] = '\n';
soft:
		i = eol + 2;
	}
	*n = k;
	return out;
}

/* The output's lines: within 76, printable, no trailing blank, no dot. */
static void
check_lines(const char *p, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r') {
			assert_true(i + 1 < len && p[i + 1] == '\n');
			assert_true(i - start <= 76);
			if (i > start)
				assert_true(p[i - 1] != ' ' && p[i - 1] != '\t');
			if (i > start)
				assert_true(p[start] != '.');
			start = i + 2;
			i++;
			continue;
		}
		assert_true((c >= 33 && c <= 126) || c == ' ' || c == '\t');
	}
	assert_int_equal(start, len); /* ends with CRLF (or is empty) */
}

static void
round_trip(const unsigned char *in, size_t n, unsigned seed)
{
	struct qp q;
	struct mem out = {0};
	struct error err;
	size_t i = 0, piece, dn;
	char *back;

	srand(seed);
	qp_init(&q, mem_sink, &out);
	while (i < n) {
		piece = (size_t)(rand() % 9) == 0 ? (size_t)(rand() % 5000) :
		    (size_t)(rand() % 7) + 1;
		if (piece > n - i)
			piece = n - i;
		assert_int_equal(qp_feed(&q, in + i, piece, &err), 0);
		i += piece;
	}
	assert_int_equal(qp_end(&q, &err), 0);
	check_lines(out.p != NULL ? out.p : "", out.len);
	back = decode(out.p != NULL ? out.p : "", out.len, &dn);
	/* qp_end ends an open last line with a soft break: exact size. */
	assert_int_equal(dn, n);
	if (n > 0)
		assert_memory_equal(back, in, n);
	free(back);
	free(out.p);
}

static void
test_round_trip_random(void **state)
{
	/* Octets that matter most, often; then anything. */
	static const unsigned char special[] = { '\r', '\n', '\0', ' ', '\t',
		'=', '.', 0xff, 0x80, 'a' };
	unsigned char *in;
	size_t n, i;
	unsigned seed;

	(void)state;
	in = malloc(20000);
	assert_non_null(in);
	for (seed = 1; seed <= 300; seed++) {
		srand(seed * 7919);
		n = (size_t)(rand() % 20000);
		for (i = 0; i < n; i++)
			in[i] = rand() % 2 ? special[rand() % sizeof(special)]
					   : (unsigned char)(rand() % 256);
		round_trip(in, n, seed);
	}
	free(in);
}

static void
test_round_trip_edges(void **state)
{
	static const char *const cases[] = {
		"", "\r\n", ".\r\n", "a\r\n.\r\n", " \r\n", "a \r\n", "a\t",
		"a ", "\r", "\n", "\r\r\n", " \r", "=\r\n=",
		"From x\r\n", ". \r\n.", "a \r b",
	};
	unsigned char line[3000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		round_trip((const unsigned char *)cases[i], strlen(cases[i]),
		    (unsigned)i);
	round_trip((const unsigned char *)"\0 \0\r\n\0", 6, 0);
	/* A long line of each kind of octet, and a long line of blanks. */
	memset(line, 'x', sizeof(line));
	round_trip(line, sizeof(line), 1);
	memset(line, ' ', sizeof(line));
	round_trip(line, sizeof(line), 2);
	memset(line, 0xe9, sizeof(line));
	round_trip(line, sizeof(line), 3);
	memset(line, '.', sizeof(line));
	round_trip(line, sizeof(line), 4);
}

/* Known output: literal text, =XX, the soft break at 76, a blank at the
   end of a line encoded, a dot at a line start encoded. */
static void
test_known_output(void **state)
{
	struct qp q;
	struct mem out = {0};
	struct error err;
	char in[100];

	(void)state;
	qp_init(&q, mem_sink, &out);
	assert_int_equal(qp_feed(&q, "caf\xc3\xa9 = ok \r\n.\r\nend", 19, &err),
	    0);
	assert_int_equal(qp_end(&q, &err), 0);
	assert_string_equal(out.p, "caf=C3=A9 =3D ok=20\r\n=2E\r\nend=\r\n");
	free(out.p);
	memset(&out, 0, sizeof(out));
	memset(in, 'y', sizeof(in));
	qp_init(&q, mem_sink, &out);
	assert_int_equal(qp_feed(&q, in, sizeof(in), &err), 0);
	assert_int_equal(qp_feed(&q, "\r\n", 2, &err), 0);
	assert_int_equal(qp_end(&q, &err), 0);
	assert_int_equal(out.len, 75 + 3 + 25 + 2);
	assert_memory_equal(out.p + 75, "=\r\n", 3);
	assert_memory_equal(out.p + 78 + 25, "\r\n", 2);
	free(out.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_random),
	    cmocka_unit_test(test_round_trip_edges),
	    cmocka_unit_test(test_known_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
