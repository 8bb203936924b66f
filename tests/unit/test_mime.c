/*
 * test_mime.c: long body lines in a MIME message (mime.c, and through
 * message_fix/message_write): text parts broken, other parts sent whole,
 * nested multiparts, digest parts, delimiter lines, preamble and epilogue,
 * malformed structures (every line broken), text parts re-encoded
 * quoted-printable in a second pass, exact sizes, the -v note.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "message.h"
#include "message_priv.h"
#include "mime.h"

struct mem {
	char *p;
	size_t len;
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
	return 0;
}

/* A string of n copies of c (malloc'ed). */
static char *
run_of(char c, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* s with every "@" replaced by a 1500-octet line of x (malloc'ed). */
static char *
expand(const char *s)
{
	char *out = malloc(strlen(s) * 1500 + 1);
	size_t n = 0;

	assert_non_null(out);
	for (; *s != '\0'; s++) {
		if (*s == '@') {
			memset(out + n, 'x', 1500);
			n += 1500;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return out;
}

/*
 * Feed body through a breaker that follows the structure, whole and one
 * octet at a time (both must agree), with a counting pass too; *r gets
 * the result.  Returns what was written (malloc'ed).
 */
static char *
walk(const char *ctype, const char *cte, const char *body,
    struct mime_result *r)
{
	struct mime *mm, *one, *count;
	struct mem a = {NULL, 0}, b = {NULL, 0};
	struct mime_result rb, rc;
	struct error err;
	size_t i, n = strlen(body);

	mm = mime_new(1, ctype, cte);
	one = mime_new(1, ctype, cte);
	count = mime_new(1, ctype, cte);
	assert_non_null(mm);
	assert_non_null(one);
	assert_non_null(count);
	assert_int_equal(mime_feed(mm, body, n, mem_sink, &a, &err), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(
		    mime_feed(one, body + i, 1, mem_sink, &b, &err), 0);
	assert_int_equal(mime_feed(count, body, n, NULL, NULL, &err), 0);
	mime_result(mm, r);
	mime_result(one, &rb);
	mime_result(count, &rc);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	assert_int_equal(r->breaks, rb.breaks);
	assert_int_equal(r->breaks, rc.breaks);
	assert_int_equal(r->kept, rc.kept);
	/* exact size: each break is one CRLF */
	assert_int_equal(a.len, n + 2 * r->breaks);
	mime_free(mm);
	mime_free(one);
	mime_free(count);
	free(b.p);
	return a.p;
}

/* A text part is broken at 998, an application part is left whole. */
static void
test_text_broken_other_whole(void **state)
{
	struct mime_result r;
	char *in, *out, *x;

	(void)state;
	in = expand("--b\r\nContent-Type: text/plain\r\n\r\n@\r\n"
		    "--b\r\nContent-Type: application/octet-stream\r\n\r\n@\r\n"
		    "--b--\r\n");
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.kept, 1);
	assert_string_equal(r.broken, "part 1 (text/plain)");
	assert_string_equal(r.whole, "part 2 (application/octet-stream)");
	x = run_of('x', 1500);
	/* the attachment's line is there whole, the text's in two */
	assert_non_null(strstr(out, x));
	x[998] = '\0';
	assert_non_null(strstr(out, "\r\n\r\n"));
	assert_non_null(strstr(strstr(out, "text/plain\r\n\r\n"), x));
	assert_int_equal(strncmp(strstr(out, "text/plain\r\n\r\n") + 14 + 998,
	    "\r\nx", 3), 0);
	free(x);
	free(out);
	free(in);
}

/* Quoted-printable and binary parts are left whole, even text; 7bit and
   8bit text is broken, and base64 (its decoders skip line breaks). */
static void
test_encodings(void **state)
{
	static const struct {
		const char *cte;
		uint64_t breaks;
	} cases[] = {
		{"base64", 1}, {" Quoted-Printable ", 0}, {"binary", 0},
		{"7bit", 1}, {"8BIT", 1},
	};
	struct mime_result r;
	char head[200], *in, *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(head, sizeof(head), "--b\r\nContent-Type: text/plain\r\n"
		    "Content-Transfer-Encoding:%s\r\n\r\n@\r\n--b--\r\n",
		    cases[i].cte);
		in = expand(head);
		out = walk("multipart/mixed; boundary=\"b\"", NULL, in, &r);
		assert_null(r.bad);
		assert_int_equal(r.breaks, cases[i].breaks);
		assert_int_equal(r.kept, 1 - cases[i].breaks);
		free(out);
		free(in);
	}
	/* the whole message encoded: not followed inside; only base64 is
	   broken */
	in = expand("--b\r\n\r\n@\r\n--b--\r\n");
	out = walk("multipart/mixed; boundary=b", "quoted-printable", in, &r);
	assert_int_equal(r.breaks, 0);
	assert_string_equal(out, in);
	free(out);
	out = walk("multipart/mixed; boundary=b", "base64", in, &r);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(strlen(out), strlen(in) + 2);
	free(out);
	free(in);
}

/* Nested multiparts, a folded Content-Type with a quoted boundary, the
   parts numbered as IMAP does. */
static void
test_nested(void **state)
{
	struct mime_result r;
	char *in, *out;

	(void)state;
	in = expand("preamble\r\n--outer\r\nContent-Type: multipart/alternative;"
		    "\r\n\tboundary=\"in ner\"; x=y\r\n\r\n"
		    "--in ner\r\nContent-Type: text/plain\r\n\r\nshort\r\n"
		    "--in ner\r\nContent-Type: text/html\r\n\r\n@\r\n"
		    "--in ner--\r\n"
		    "--outer\r\nContent-Type: image/png\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n@\r\n"
		    "--outer\r\n\r\n@\r\n--outer--\r\n");
	out = walk("Multipart/Mixed; boundary=outer", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 3);
	assert_int_equal(r.kept, 0);
	assert_string_equal(r.broken, "part 1.2 (text/html), part 2 (image/png), "
	    "part 3 (text/plain)");
	free(out);
	free(in);
	/* an outer delimiter ends the inner multipart (no close of its own) */
	in = expand("--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
		    "--i\r\nContent-Type: image/gif\r\n\r\nGIF\r\n"
		    "--o\r\nContent-Type: application/pdf\r\n\r\n@\r\n--o--\r\n");
	out = walk("multipart/mixed; boundary=o", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.kept, 1);
	assert_string_equal(r.whole, "part 2 (application/pdf)");
	free(out);
	free(in);
}

/* In a multipart/digest a part without Content-Type is a message: its
   header fields are not broken, its text body is. */
static void
test_digest(void **state)
{
	struct mime_result r;
	char *in, *out;

	(void)state;
	in = expand("--d\r\n\r\nSubject: one\r\nX-Long: @\r\n\r\n@\r\n"
		    "--d\r\nContent-Type: text/plain\r\n\r\n@\r\n--d--\r\n");
	out = walk("multipart/digest; boundary=d", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 2);
	assert_int_equal(r.kept, 1);
	assert_string_equal(r.whole, "part 1 headers");
	assert_string_equal(r.broken, "part 1 (text/plain), part 2 (text/plain)");
	free(out);
	free(in);
	/* outside a digest, the same part is text: its "headers" are the
	   part's header block (left), then the text (broken) */
	in = expand("--d\r\nX-Long: @\r\n\r\n@\r\n--d--\r\n");
	out = walk("multipart/mixed; boundary=d", NULL, in, &r);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.kept, 1);
	free(out);
	free(in);
	/* an enclosed message with an attachment inside */
	in = expand("--m\r\nContent-Type: message/rfc822\r\n\r\n"
		    "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=n\r\n"
		    "\r\n--n\r\nContent-Type: application/zip\r\n\r\n@\r\n"
		    "--n--\r\n--m--\r\n");
	out = walk("multipart/mixed; boundary=m", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 0);
	assert_int_equal(r.kept, 1);
	assert_string_equal(r.whole, "part 1.1 (application/zip)");
	free(out);
	free(in);
}

/* Preamble and epilogue are text nobody reads: broken.  A delimiter line
   made long by blanks after it is never broken, and still a delimiter. */
static void
test_preamble_epilogue_delimiter(void **state)
{
	struct mime_result r;
	char *in, *out, *pad, *line;

	(void)state;
	in = expand("@\r\n--b\r\n\r\nhi\r\n--b--\r\n@\r\n");
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 2);
	assert_string_equal(r.broken, "preamble, epilogue");
	free(out);
	free(in);
	pad = run_of(' ', 1200);
	line = malloc(4000);
	assert_non_null(line);
	snprintf(line, 4000, "--b%s\r\nContent-Type: application/x\r\n\r\n"
	    "@\r\n--b--%s\r\n", pad, pad);
	in = expand(line);
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_null(r.bad);
	assert_int_equal(r.breaks, 0);
	assert_int_equal(r.kept, 3);
	assert_string_equal(out, in);
	free(out);
	free(in);
	free(line);
	free(pad);
}

/* What cannot be followed is malformed: the caller breaks every line. */
static void
test_malformed(void **state)
{
	static const char *const types[] = {
		"multipart/mixed", "multipart/mixed; boundary=\"\"",
		"multipart/mixed; boundary=nothere",
	};
	struct mime_result r;
	char *in, *out;
	size_t i;

	(void)state;
	in = expand("--b\r\nContent-Type: application/x\r\n\r\n@\r\n--b--\r\n");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		out = walk(types[i], NULL, in, &r);
		assert_non_null(r.bad);
		free(out);
	}
	free(in);
	/* no close delimiter */
	in = expand("--b\r\nContent-Type: application/x\r\n\r\n@\r\n");
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_string_equal(r.bad, "a multipart has no close delimiter");
	free(out);
	free(in);
	/* a nested multipart without a boundary */
	in = expand("--b\r\nContent-Type: multipart/related\r\n\r\n@\r\n--b--\r\n");
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_string_equal(r.bad, "a multipart has no boundary");
	free(out);
	free(in);
}

/* A text line starting with a dot is broken at 997 (dot-stuffing adds
   one), like every other break; a not-followed breaker breaks all. */
static void
test_dot_and_all(void **state)
{
	struct mime_result r;
	struct mime *mm;
	struct mem a = {NULL, 0};
	struct error err;
	char *in, *out;

	(void)state;
	in = expand("--b\r\n\r\n.@\r\n--b--\r\n");
	out = walk("multipart/mixed; boundary=b", NULL, in, &r);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(strncmp(strstr(out, "\r\n\r\n.") + 4 + 997, "\r\n", 2),
	    0);
	free(out);
	mm = mime_new(0, NULL, NULL);
	assert_non_null(mm);
	assert_int_equal(mime_feed(mm, in, strlen(in), mem_sink, &a, &err), 0);
	mime_result(mm, &r);
	assert_int_equal(r.breaks, 1);
	assert_string_equal(r.broken, "body");
	mime_free(mm);
	free(a.p);
	free(in);
}

/* Decode quoted-printable text (malloc'ed): soft breaks go, =XX is XX. */
static char *
qp_decode(const char *p, size_t n)
{
	char *out = malloc(n + 1), hex[3] = {0, 0, 0};
	size_t i, k = 0;

	assert_non_null(out);
	for (i = 0; i < n; i++) {
		if (p[i] == '=' && i + 2 < n && p[i + 1] == '\r' &&
		    p[i + 2] == '\n') {
			i += 2;
		} else if (p[i] == '=') {
			assert_true(i + 2 < n);
			hex[0] = p[i + 1];
			hex[1] = p[i + 2];
			out[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[k++] = p[i];
		}
	}
	out[k] = '\0';
	return out;
}

/*
 * The two passes: a first one plans (which parts to re-encode), a second
 * re-encodes them, fed whole and one octet at a time (the same output),
 * and a counting one agrees on the size.  Returns the output.
 */
static char *
encode_walk(const char *ctype, const char *body, struct mime_result *r)
{
	struct mime_result plan, rb, rc;
	struct mime *mm, *one, *count;
	struct mem a = {NULL, 0}, b = {NULL, 0};
	struct error err;
	size_t i, n = strlen(body);

	free(walk(ctype, NULL, body, &plan));
	mm = mime_new(1, ctype, NULL);
	one = mime_new(1, ctype, NULL);
	count = mime_new(1, ctype, NULL);
	assert_non_null(mm);
	assert_non_null(one);
	assert_non_null(count);
	mime_encode(mm, &plan);
	mime_encode(one, &plan);
	mime_encode(count, &plan);
	assert_int_equal(mime_feed(mm, body, n, mem_sink, &a, &err), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(
		    mime_feed(one, body + i, 1, mem_sink, &b, &err), 0);
	assert_int_equal(mime_feed(count, body, n, NULL, NULL, &err), 0);
	mime_result(mm, r);
	mime_result(one, &rb);
	mime_result(count, &rc);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	assert_int_equal(r->out, a.len);
	assert_int_equal(rc.out, a.len);
	assert_int_equal(r->marked, plan.marked);
	mime_free(mm);
	mime_free(one);
	mime_free(count);
	free(b.p);
	return a.p;
}

/* The text between after and the next "\r\n--b" in out, decoded. */
static char *
part_decoded(const char *out, const char *after)
{
	const char *p = strstr(out, after), *end;

	assert_non_null(p);
	p += strlen(after);
	end = strstr(p, "\r\n--b");
	assert_non_null(end);
	return qp_decode(p, (size_t)(end - p));
}

/* A text part with a long line is re-encoded: its old encoding field
   (folded, with a comment) goes, quoted-printable comes before the empty
   line, and it decodes to the input; the attachment stays as it is. */
static void
test_reencode_text_part(void **state)
{
	struct mime_result r;
	char *in, *out, *dec, *want, *x;

	(void)state;
	in = expand("pre @\r\n--b\r\nContent-Type: text/plain\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n (old)\r\nX-K: v\r\n"
		    "X-Long: @\r\n\r\n"
		    ".dot\r\n@ = tail \r\n-- \r\n--bX\r\n"
		    "--b\r\nContent-Type: application/octet-stream\r\n\r\n@\r\n"
		    "--b--\r\n@\r\n");
	out = encode_walk("multipart/mixed; boundary=b", in, &r);
	assert_null(r.bad);
	assert_int_equal(r.marked, 1);
	assert_string_equal(r.encoded, "part 1 (text/plain)");
	/* the preamble and the epilogue are still broken, the file whole */
	assert_int_equal(r.breaks, 2);
	assert_string_equal(r.broken, "preamble, epilogue");
	/* the attachment's line, and the part's long header line (whole);
	   "--bX" began a part 2 of its own */
	assert_int_equal(r.kept, 2);
	assert_string_equal(r.whole, "part 1 headers, "
	    "part 3 (application/octet-stream)");
	assert_null(strstr(out, "8bit"));
	assert_null(strstr(out, "(old)"));
	assert_non_null(strstr(out, "Content-Type: text/plain\r\nX-K: v\r\n"
	    "X-Long: xxx"));
	assert_non_null(strstr(out, "xxx\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
	dec = part_decoded(out, "quoted-printable\r\n\r\n");
	x = run_of('x', 1500);
	want = malloc(4000);
	assert_non_null(want);
	/* "--bX" starts with the boundary: a delimiter (a prefix, as
	   Postfix has it), sent as it is after the encoded text */
	snprintf(want, 4000, ".dot\r\n%s = tail \r\n-- ", x);
	assert_string_equal(dec, want);
	assert_non_null(strstr(out, "\r\n--bX\r\n--b\r\n"));
	assert_non_null(strstr(out, x));	/* the attachment */
	free(want);
	free(x);
	free(dec);
	free(out);
	free(in);
}

/* Nested and digest parts: each marked text part is re-encoded, a text
   body inside an enclosed message is broken (its header is no part's). */
static void
test_reencode_nested(void **state)
{
	struct mime_result r;
	char *in, *out;

	(void)state;
	in = expand("--o\r\nContent-Type: multipart/alternative; boundary=bi\r\n"
		    "\r\n--bi\r\n\r\n@\r\n--bi\r\nContent-Type: text/html\r\n\r\n"
		    "<p>@</p>\r\n--bi--\r\n--o\r\nContent-Type: message/rfc822\r\n"
		    "\r\nSubject: s\r\n\r\n@\r\n--o--\r\n");
	out = encode_walk("multipart/mixed; boundary=o", in, &r);
	assert_null(r.bad);
	assert_int_equal(r.marked, 2);
	assert_string_equal(r.encoded, "part 1.1 (text/plain), "
	    "part 1.2 (text/html)");
	assert_int_equal(r.breaks, 1);
	assert_string_equal(r.broken, "part 2 (text/plain)");
	assert_non_null(strstr(out, "--bi\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nxxx"));
	free(out);
	free(in);
	in = expand("--d\r\n\r\nSubject: m\r\n\r\n@\r\n"
		    "--d\r\nContent-Type: text/plain\r\n\r\n@\r\n--d--\r\n");
	out = encode_walk("multipart/digest; boundary=d", in, &r);
	assert_int_equal(r.marked, 1);
	assert_string_equal(r.encoded, "part 2 (text/plain)");
	assert_int_equal(r.breaks, 1);
	free(out);
	free(in);
}

/* ---- through the message: spool, fix, write, size, note, queue ---- */

static struct message *
spool_str(const char *in)
{
	char path[] = "/tmp/test_mime.XXXXXX";
	struct message *m = NULL;
	struct error err;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, in, strlen(in)), (ssize_t)strlen(in));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	if (message_read(&m, fd, NULL, &err) != 0)
		fail_msg("message_read: %s", err.msg);
	close(fd);
	return m;
}

/* Written out, and message_size() checked against it. */
static char *
wire(const struct message *m)
{
	struct mem out = {NULL, 0};
	struct error err;

	if (message_write(m, 0, mem_sink, &out, &err) != 0)
		fail_msg("message_write: %s", err.msg);
	assert_int_equal(message_size(m), out.len);
	return out.p;
}

static char *
note(const struct message *m)
{
	char *p = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&p, &n);

	assert_non_null(fp);
	message_note_long_lines(m, fp);
	fclose(fp);
	return p;
}

static void
test_message_multipart(void **state)
{
	struct message_fixes fx = {0};
	struct message *m;
	struct error err;
	char *in, *out, *v, *x;
	uint64_t size;

	(void)state;
	in = expand("MIME-Version: 1.0\nContent-Type: multipart/mixed; "
		    "boundary=b\n\n--b\nContent-Type: text/plain\n\n@\n"
		    "--b\nContent-Type: application/octet-stream\n\n@\n--b--\n");
	m = spool_str(in);
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m);
	x = run_of('x', 1500);
	assert_non_null(strstr(out, x));	/* the attachment, whole */
	assert_non_null(strstr(out, "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nxxx"));
	v = part_decoded(out, "quoted-printable\r\n\r\n");
	assert_string_equal(v, x);
	free(v);
	v = note(m);
	assert_non_null(strstr(v, "1 text part(s) sent quoted-printable "
	    "(decode to exactly the input): part 1 (text/plain)"));
	assert_null(strstr(v, "broken"));
	assert_non_null(strstr(v, "1 long line(s) in a non-text part left "
	    "as they are"));
	assert_non_null(strstr(v, "part 2 (application/octet-stream)"));
	free(v);
	/* the queue's rescan plans the same */
	size = message_size(m);
	assert_int_equal(message_rescan(m, 0, &err), 0);
	assert_int_equal(message_size(m), size);
	free(wire(m));
	/* message_fix again (a retry with other fixes): the same */
	assert_int_equal(message_fix(m, &fx, &err), 0);
	assert_int_equal(message_size(m), size);
	free(x);
	free(out);
	message_free(m);
	free(in);
	/* malformed: every long line broken, and -v says why */
	in = expand("Content-Type: multipart/mixed; boundary=BB\n\n--BB\n"
		    "Content-Type: application/octet-stream\n\n@\n");
	m = spool_str(in);
	assert_int_equal(message_fix(m, &fx, &err), 0);
	out = wire(m);
	assert_null(strstr(out, "xxxxxxxxxx\r\n\r\n"));
	assert_non_null(strstr(out, "x\r\nx"));
	v = note(m);
	assert_non_null(strstr(v, "broken with 1 line break(s)"));
	assert_non_null(strstr(v, "no close delimiter"));
	free(v);
	free(out);
	message_free(m);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_broken_other_whole),
	    cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_preamble_epilogue_delimiter),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_dot_and_all),
	    cmocka_unit_test(test_reencode_text_part),
	    cmocka_unit_test(test_reencode_nested),
	    cmocka_unit_test(test_message_multipart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
