/*
 * message_lines.c: long body lines that are not re-encoded with the whole
 * body (message_out.c): the plan made by walking the MIME structure over
 * the spool (mime.c), and the -v note of what was done.  Also the one
 * read loop over the spool.  doc/wire-rules.md, rule 6.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "message.h"
#include "message_priv.h"
#include "mime.h"

int
message_spool_each(const struct message *m, message_spool_fn fn, void *ctx,
    struct error *err)
{
	char *in;
	uint64_t off = 0;
	ssize_t n;
	int ret = -1;

	in = malloc(MESSAGE_BLOCK);
	if (in == NULL)
		return error_set(err, ERR_OS, "out of memory");
	while (off < m->bodylen) {
		size_t want = m->bodylen - off > MESSAGE_BLOCK
		    ? MESSAGE_BLOCK
		    : (size_t)(m->bodylen - off);

		n = pread(m->fd, in, want, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, ERR_IO, "cannot read the spool file: %s",
			    n == 0 ? "unexpected end" : strerror(errno));
			goto out;
		}
		if (fn(ctx, in, (size_t)n, err) == -1)
			goto out;
		off += (uint64_t)n;
	}
	ret = 0;
out:
	free(in);
	return ret;
}

/* The value of the first field called name (malloc'ed), NULL if none;
   *oom when out of memory. */
static char *
field_value(const struct message *m, const char *name, int *oom)
{
	size_t i;
	char *v;

	for (i = 0; i < m->nf; i++) {
		if (!message_field_is(m, &m->f[i], name))
			continue;
		v = message_field_value(m, &m->f[i]);
		*oom = *oom || v == NULL;
		return v;
	}
	return NULL;
}

struct mime *
message_breaker(const struct message *m, int follow, struct error *err)
{
	char *ctv = NULL, *ctev = NULL;
	struct mime *mm = NULL;
	int oom = 0;

	if (follow) {
		ctv = field_value(m, "Content-Type", &oom);
		ctev = field_value(m, "Content-Transfer-Encoding", &oom);
	}
	if (!oom)
		mm = mime_new(follow, ctv, ctev);
	free(ctv);
	free(ctev);
	if (mm == NULL)
		error_set(err, ERR_OS, "out of memory");
	return mm;
}

static int
count_block(void *ctx, const char *p, size_t n, struct error *err)
{
	return mime_feed(ctx, p, n, NULL, NULL, err);
}

/* One counting pass of the MIME walk (re-encoding what plan marked). */
static int
walk_body(const struct message *m, const struct mime_result *plan,
    struct mime_result *r, struct error *err)
{
	struct mime *mm = message_breaker(m, 1, err);
	int ret;

	if (mm == NULL)
		return -1;
	if (plan != NULL)
		mime_encode(mm, plan);
	ret = message_spool_each(m, count_block, mm, err);
	mime_result(mm, r);
	mime_free(mm);
	return ret;
}

/*
 * Long lines of a body that is not re-encoded as a whole: where the MIME
 * structure can be followed, the text parts with long lines (after a
 * delimiter, not encoded) are re-encoded quoted-printable in a second
 * pass, so the recipient sees exactly what was written; the lines of
 * preambles and epilogues (and of text parts past MIME_QP_PARTS) are
 * broken; the others (another type, an encoded part, a part's header) are
 * sent whole, since a break would change their data: a server may refuse
 * them, but a recipient never gets a corrupted attachment.  A malformed
 * structure (no boundary, no close delimiter) leaves no way to tell the
 * parts apart: every long line is broken, as Postfix would.
 */
int
message_plan_lines(struct message *m, struct error *err)
{
	struct mime_result first;

	m->mime = 0;
	memset(&m->lines, 0, sizeof(m->lines));
	if (m->breaks == 0 || m->qp)
		return 0;
	if (walk_body(m, NULL, &first, err) == -1)
		return -1;
	m->lines.bad = first.bad;
	if (first.bad != NULL)
		return 0;
	if (first.marked == 0)
		m->lines = first;
	/* Else the size of what the writer sends, re-encoding included. */
	else if (walk_body(m, &first, &m->lines, err) == -1)
		return -1;
	m->mime = 1;
	return 0;
}

void
message_note_long_lines(const struct message *m, FILE *fp)
{
	const struct mime_result *r = &m->lines;

	if (m->breaks == 0)
		return;
	if (m->qp) {
		fprintf(fp, "--- body lines over %d octets: the body is sent "
		    "quoted-printable (decodes to exactly the input)\n",
		    MESSAGE_LINE_LIMIT);
		return;
	}
	if (!m->mime) {
		fprintf(fp, "--- body lines over %d octets: broken with %llu "
		    "line break(s), which changes the text: %s%s%s\n",
		    MESSAGE_LINE_LIMIT, (unsigned long long)m->breaks,
		    m->noqp != NULL ? m->noqp : "not re-encoded",
		    r->bad != NULL ? ", and its MIME structure is malformed: " :
		    "", r->bad != NULL ? r->bad : "");
		return;
	}
	if (r->marked > 0)
		fprintf(fp, "--- body lines over %d octets: %d text part(s) "
		    "sent quoted-printable (decode to exactly the input): %s\n",
		    MESSAGE_LINE_LIMIT, r->marked, r->encoded);
	if (r->breaks > 0)
		fprintf(fp, "--- body lines over %d octets: broken with %llu "
		    "line break(s) in %s, which changes the text (%s)\n",
		    MESSAGE_LINE_LIMIT, (unsigned long long)r->breaks,
		    r->broken, m->noqp != NULL ? m->noqp : "not re-encoded");
	if (r->kept > 0)
		fprintf(fp, "--- %llu long line(s) in a non-text part left as "
		    "they are, over %d octets, in %s: a break would change "
		    "the data (not text, encoded, or a part's header)\n",
		    (unsigned long long)r->kept, MESSAGE_LINE_LIMIT, r->whole);
}

