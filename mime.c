/*
 * mime.c: the line breaker of long body lines, and the MIME walk that
 * says which lines may be broken.  The walk reads the body line by line
 * (RFC 2046 5.1): a line starting with "--" and the boundary of an open
 * multipart (the innermost first) is a delimiter, "--" after it closes
 * that multipart (and any inside it); after a delimiter come the part's
 * header fields, an empty line, and its body, which is text, opaque, an
 * enclosed message (more header fields) or another multipart.  Only the
 * first octets of a line are kept (enough for any delimiter and for a
 * part's Content-Type), so memory does not depend on the input.  With a
 * plan (mime_encode), the marked parts' output is transformed: their
 * header lines are held to drop the old encoding field, their body lines
 * go through the quoted-printable encoder once their first octets show
 * they are no delimiter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "qp.h"

#define LINE_LIMIT	998
#define MIME_DEPTH	16
#define BOUNDARY_MAX	200	/* RFC 2046 says 70; longer ones are tolerated */
#define FIELD_MAX	4096	/* the kept octets of a line, of a field */
#define TYPE_MAX	64

enum kind {
	K_BODY,		/* a part's body (text or not) */
	K_HEADERS,	/* a part's header fields */
	K_PREAMBLE,	/* before a multipart's first delimiter */
	K_EPILOGUE,	/* after its close delimiter */
};

/* How a part's body is encoded: as it is, binary, base64 (whose decoders
   skip line breaks, RFC 2045 6.8), or otherwise transformed. */
enum enc { E_PLAIN, E_BINARY, E_BASE64, E_ENCODED };

struct level {
	char		 b[BOUNDARY_MAX];
	size_t		 blen;
	int		 digest;	/* parts default to message/rfc822 */
	unsigned	 idx;		/* the current part, from 1 */
};

struct mime {
	int		 follow;
	enum kind	 kind;
	int		 text;		/* K_BODY: its lines may be broken */
	int		 b64;		/* K_BODY: base64, breaks are harmless */
	struct level	 lv[MIME_DEPTH];
	size_t		 depth;
	const char	*bad;
	/* The part whose header fields are read, then whose body it is: */
	char		 type[TYPE_MAX];	/* "" until a Content-Type */
	const char	*deftype;
	enum enc	 enc;
	char		 bnd[BOUNDARY_MAX];
	size_t		 bndlen;
	int		 bndstate;	/* 0 none, 1 found, -1 too long */
	/* The field being read (Content-Type or -Transfer-Encoding only): */
	char		 fld[FIELD_MAX];
	size_t		 fldlen;
	int		 fldon;		/* 1 Content-Type, 2 the encoding */
	int		 fldover;	/* it did not fit */
	/* The current input line: */
	char		 line[FIELD_MAX];
	size_t		 linelen;	/* all its octets (not all kept) */
	size_t		 col, lim;	/* since the last break, and its limit */
	int		 brk;		/* -1 not asked yet, else breakable() */
	/* Parts are numbered in the order of their delimiters: */
	unsigned	 nparts, ord;
	int		 markable;	/* after a delimiter (no enclosed message) */
	unsigned char	 mark[MIME_QP_PARTS / 8];
	int		 marked;
	int		 plan;		/* mark is mime_encode's plan */
	/* Re-encoding the current part (plan): */
	int		 encoding;
	int		 dropping;	/* its Content-Transfer-Encoding lines */
	int		 route;		/* this body line: 0 held, 1 to qp, 2 raw */
	char		 hold[FIELD_MAX];
	size_t		 holdlen;
	int		 holdraw;	/* a header line too long to hold: sent */
	struct qp	 q;
	/* Where output goes during mime_feed: */
	mime_sink	 sink;
	void		*ctx;
	struct error	*err;
	/* What was done: */
	uint64_t	 breaks, kept, out;
	char		 broken[160], whole[160], encoded[160];
	char		 lastb[80], lastw[80], laste[80];
};

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Pass output on (and count it). */
static int
put(struct mime *mm, const void *p, size_t n)
{
	mm->out += n;
	if (mm->sink == NULL || n == 0)
		return 0;
	return mm->sink(mm->ctx, p, n, mm->err);
}

/* The quoted-printable encoder's sink. */
static int
qp_put(void *ctx, const void *buf, size_t len, struct error *err)
{
	(void)err;
	return put(ctx, buf, len);
}

static int
is_marked(const struct mime *mm)
{
	return mm->ord < MIME_QP_PARTS &&
	    (mm->mark[mm->ord / 8] & (1u << (mm->ord % 8))) != 0;
}

/* The level whose delimiter the current line is, or -1. *close: "--" too. */
static int
delimiter(const struct mime *mm, int *close)
{
	size_t i, kept = min_size(mm->linelen, FIELD_MAX);
	const struct level *l;

	*close = 0;
	if (kept < 2 || mm->line[0] != '-' || mm->line[1] != '-')
		return -1;
	for (i = mm->depth; i-- > 0;) {
		l = &mm->lv[i];
		if (kept < 2 + l->blen || memcmp(mm->line + 2, l->b, l->blen) != 0)
			continue;
		*close = kept >= 4 + l->blen && mm->line[2 + l->blen] == '-' &&
		    mm->line[3 + l->blen] == '-';
		return (int)i;
	}
	return -1;
}

/* The current part's type: the declared one, else the default. */
static const char *
part_type(const struct mime *mm)
{
	return mm->type[0] != '\0' ? mm->type : mm->deftype;
}

static void
start_part(struct mime *mm, int digest)
{
	mm->kind = K_HEADERS;
	mm->text = 0;
	mm->b64 = 0;
	mm->markable = 0;
	mm->type[0] = '\0';
	mm->deftype = digest ? "message/rfc822" : "text/plain";
	mm->enc = E_PLAIN;
	mm->bndlen = 0;
	mm->bndstate = 0;
	mm->fldlen = 0;
	mm->fldon = 0;
	mm->fldover = 0;
}

/* v at a parameter's value: copy it (token or quoted-string) to out. */
static const char *
param_value(const char *v, char *out, size_t cap, size_t *len, int *over)
{
	size_t n = 0;
	int quoted = *v == '"';

	*over = 0;
	if (quoted)
		v++;
	for (; *v != '\0'; v++) {
		if (quoted && *v == '"') {
			v++;
			break;
		}
		if (!quoted && (*v == ';' || is_blank(*v) || *v == '('))
			break;
		if (quoted && *v == '\\' && v[1] != '\0')
			v++;
		if (n < cap)
			out[n++] = *v;
		else
			*over = 1;
	}
	*len = n;
	return v;
}

/* A Content-Type value: the lowercased type/subtype and the boundary. */
static void
parse_ctype(struct mime *mm, const char *v)
{
	size_t n = 0, len, nl;
	const char *name;
	int over;

	while (is_blank(*v))
		v++;
	while (*v != '\0' && *v != ';' && !is_blank(*v) && *v != '(' &&
	    n + 1 < TYPE_MAX) {
		mm->type[n++] = (char)(*v >= 'A' && *v <= 'Z' ? *v + 32 : *v);
		v++;
	}
	mm->type[n] = '\0';
	if (strchr(mm->type, '/') == NULL)
		mm->type[0] = '\0';	/* not a type: the default applies */
	while (*v != '\0') {
		if (*v++ != ';')
			continue;
		while (is_blank(*v))
			v++;
		name = v;
		while (*v != '\0' && *v != '=' && *v != ';' && !is_blank(*v))
			v++;
		nl = (size_t)(v - name);
		while (is_blank(*v))
			v++;
		if (*v != '=')
			continue;
		v++;
		while (is_blank(*v))
			v++;
		if (nl == 8 && strncasecmp(name, "boundary", 8) == 0) {
			v = param_value(v, mm->bnd, sizeof(mm->bnd), &len,
			    &over);
			mm->bndlen = len;
			mm->bndstate = over ? -1 : len > 0;
		} else {
			v = param_value(v, NULL, 0, &len, &over);
		}
	}
}

static enum enc
parse_cte(const char *v)
{
	size_t n;

	while (is_blank(*v))
		v++;
	n = strcspn(v, "(");	/* a comment after it (RFC 2045 6.1) */
	while (n > 0 && is_blank(v[n - 1]))
		n--;
	if ((n == 4 && strncasecmp(v, "7bit", 4) == 0) ||
	    (n == 4 && strncasecmp(v, "8bit", 4) == 0))
		return E_PLAIN;
	if (n == 6 && strncasecmp(v, "binary", 6) == 0)
		return E_BINARY;
	if (n == 6 && strncasecmp(v, "base64", 6) == 0)
		return E_BASE64;
	return E_ENCODED;
}

/* A multipart or a message under an encoding is no structure to follow. */
static int
transformed(enum enc e)
{
	return e == E_BASE64 || e == E_ENCODED;
}

/* The field in fld is complete: note its value. */
static void
field_done(struct mime *mm)
{
	char *colon;

	int which = mm->fldon;

	if (which == 0)
		return;
	mm->fldon = 0;
	mm->fld[min_size(mm->fldlen, FIELD_MAX - 1)] = '\0';
	colon = strchr(mm->fld, ':');
	if (colon == NULL)
		return;
	if (which == 1) {
		if (mm->fldover)
			mm->bad = "a part's Content-Type is too long to read";
		else
			parse_ctype(mm, colon + 1);
	} else {
		mm->enc = mm->fldover ? E_ENCODED : parse_cte(colon + 1);
	}
}

/* A field name, blanks, a colon: is the line that field? */
static int
field_is(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(p, name, k) != 0)
		return 0;
	while (k < n && is_blank(p[k]))
		k++;
	return k < n && p[k] == ':';
}

static void
field_add(struct mime *mm, const char *p, size_t n, int cut)
{
	size_t room = FIELD_MAX - 1 - mm->fldlen;

	if (cut)
		mm->fldover = 1;
	if (n > room) {
		mm->fldover = 1;
		n = room;
	}
	memcpy(mm->fld + mm->fldlen, p, n);
	mm->fldlen += n;
}

/* Where the current line is, for -v: "part 2.1 (text/plain)". */
static void
label(const struct mime *mm, char *buf, size_t cap)
{
	char path[64];
	size_t i, n = 0, upto = mm->depth;
	int k;

	if (mm->kind == K_PREAMBLE)
		upto--;		/* the preamble of the part's multipart */
	path[0] = '\0';
	for (i = 0; i < upto; i++) {
		k = snprintf(path + n, sizeof(path) - n, "%s%u",
		    i > 0 ? "." : "", mm->lv[i].idx);
		if (k < 0 || (size_t)k >= sizeof(path) - n)
			break;
		n += (size_t)k;
	}
	if (!mm->follow)
		snprintf(buf, cap, "body");
	else if (mm->kind == K_PREAMBLE || mm->kind == K_EPILOGUE)
		snprintf(buf, cap, "%s%s%s",
		    mm->kind == K_PREAMBLE ? "preamble" : "epilogue",
		    n > 0 ? " of part " : "", path);
	else if (mm->kind == K_HEADERS)
		snprintf(buf, cap, "%s%s headers", n > 0 ? "part " : "body",
		    path);
	else
		snprintf(buf, cap, "%s%s (%s)", n > 0 ? "part " : "body",
		    path, part_type(mm));
}

/* Add where the current line is to list, unless it was the last added. */
static void
note(const struct mime *mm, char *list, size_t cap, char *last)
{
	char here[80];
	size_t n = strlen(list);

	label(mm, here, sizeof(here));
	if (strcmp(here, last) == 0)
		return;
	memcpy(last, here, sizeof(here));
	if (n + 2 + strlen(here) + 5 < cap)
		snprintf(list + n, cap - n, "%s%s", n > 0 ? ", " : "", here);
	else if (n + 5 < cap && (n < 3 || strcmp(list + n - 3, "...") != 0))
		snprintf(list + n, cap - n, ", ...");
}

/* After the part's header fields: what its body is. */
static void
body_start(struct mime *mm)
{
	const char *type = part_type(mm);
	struct level *l;

	mm->kind = K_BODY;
	mm->text = 0;
	mm->b64 = 0;
	if (strncmp(type, "multipart/", 10) == 0 && !transformed(mm->enc)) {
		if (mm->bndstate != 1) {
			mm->bad = mm->bndstate == 0 ? "a multipart has no "
			    "boundary" : "a boundary is too long";
			return;
		}
		if (mm->depth == MIME_DEPTH) {
			mm->bad = "multiparts are nested too deep";
			return;
		}
		l = &mm->lv[mm->depth++];
		memcpy(l->b, mm->bnd, mm->bndlen);
		l->blen = mm->bndlen;
		l->digest = strcmp(type, "multipart/digest") == 0;
		l->idx = 0;
		mm->kind = K_PREAMBLE;
	} else if (strcmp(type, "message/rfc822") == 0 &&
	    !transformed(mm->enc)) {
		start_part(mm, 0);	/* the enclosed message's header */
	} else {
		mm->text = strncmp(type, "text/", 5) == 0 && mm->enc == E_PLAIN;
		mm->b64 = mm->enc == E_BASE64;
	}
	if (mm->encoding && mm->kind == K_BODY && mm->text) {
		qp_init(&mm->q, qp_put, mm);
		note(mm, mm->encoded, sizeof(mm->encoded), mm->laste);
	} else {
		mm->encoding = 0;
	}
}

/* A complete line (its CRLF just seen). */
static void
line_end(struct mime *mm)
{
	size_t kept = min_size(mm->linelen, FIELD_MAX);
	int lvl, close;

	lvl = mm->follow ? delimiter(mm, &close) : -1;
	if (lvl >= 0) {
		field_done(mm);
		mm->depth = (size_t)lvl + 1;
		mm->encoding = 0;
		if (close) {
			mm->depth--;
			mm->kind = K_EPILOGUE;
		} else {
			mm->lv[lvl].idx++;
			start_part(mm, mm->lv[lvl].digest);
			mm->markable = 1;
			mm->ord = mm->nparts++;
			mm->encoding = mm->plan && is_marked(mm);
			mm->dropping = 0;
		}
	} else if (mm->follow && mm->kind == K_HEADERS) {
		if (mm->linelen == 0) {
			field_done(mm);
			body_start(mm);
		} else if (is_blank(mm->line[0])) {
			if (mm->fldon)
				field_add(mm, mm->line, kept,
				    mm->linelen > kept);
		} else {
			field_done(mm);
			if (field_is(mm->line, kept, "Content-Type"))
				mm->fldon = 1;
			else if (field_is(mm->line, kept,
			    "Content-Transfer-Encoding"))
				mm->fldon = 2;
			mm->fldlen = 0;
			mm->fldover = 0;
			if (mm->fldon)
				field_add(mm, mm->line, kept,
				    mm->linelen > kept);
		}
	}
	mm->linelen = 0;
	mm->col = 0;
	mm->brk = -1;
	mm->route = 0;
	mm->holdlen = 0;
	mm->holdraw = 0;
}

/* May the current line, reaching the limit, be broken? */
static int
breakable(struct mime *mm)
{
	int close;

	if (mm->brk != -1)
		return mm->brk;
	if (!mm->follow)
		mm->brk = 1;
	else if (delimiter(mm, &close) >= 0 || mm->kind == K_HEADERS)
		mm->brk = 0;
	else
		mm->brk = mm->kind != K_BODY || mm->text || mm->b64;
	return mm->brk;
}

/*
 * A first pass meets a long line in a text part after a delimiter: mark
 * the part, so that a second pass (mime_encode) can re-encode it.
 */
static void
mark(struct mime *mm)
{
	if (mm->plan || !mm->markable || mm->kind != K_BODY || !mm->text ||
	    mm->ord >= MIME_QP_PARTS || is_marked(mm))
		return;
	mm->mark[mm->ord / 8] |= (unsigned char)(1u << (mm->ord % 8));
	mm->marked++;
	note(mm, mm->encoded, sizeof(mm->encoded), mm->laste);
}

/* The held start of a body line is enough to tell: a delimiter (the
   part ends: the rest is sent as it is), or text (encoded). */
static int
enc_route(struct mime *mm)
{
	int close, ret;

	if (delimiter(mm, &close) >= 0) {
		mm->route = 2;
		if (qp_end(&mm->q, mm->err) == -1)
			return -1;
		ret = put(mm, mm->hold, mm->holdlen);
	} else {
		mm->route = 1;
		ret = qp_feed(&mm->q, mm->hold, mm->holdlen, mm->err);
	}
	mm->holdlen = 0;
	return ret;
}

/* An octet (not LF) of a part being re-encoded. */
static int
enc_octet(struct mime *mm, char c)
{
	if (mm->kind == K_BODY && mm->route == 1)
		return qp_feed(&mm->q, &c, 1, mm->err);
	if ((mm->kind == K_BODY && mm->route == 2) || mm->holdraw)
		return put(mm, &c, 1);
	if (mm->holdlen == sizeof(mm->hold)) {
		/* a header line too long to hold is no encoding field */
		mm->holdraw = 1;
		if (put(mm, mm->hold, mm->holdlen) == -1)
			return -1;
		mm->holdlen = 0;
		return put(mm, &c, 1);
	}
	mm->hold[mm->holdlen++] = c;
	if (mm->kind == K_BODY && (mm->linelen >= 4 + BOUNDARY_MAX ||
	    (mm->linelen >= 2 && memcmp(mm->line, "--", 2) != 0)))
		return enc_route(mm);
	return 0;
}

/* The end of a line of a part being re-encoded: the header's lines are
   sent but the old encoding's, and ours before the empty line. */
static int
enc_eol(struct mime *mm)
{
	static const char cte[] = "Content-Transfer-Encoding: "
	    "quoted-printable\r\n";
	size_t kept = min_size(mm->linelen, FIELD_MAX);
	int close, send = 1;

	if (mm->kind == K_BODY) {
		if (mm->route == 0 && enc_route(mm) == -1)
			return -1;
		if (mm->route == 1)
			return qp_feed(&mm->q, "\n", 1, mm->err);
		return put(mm, "\n", 1);
	}
	if (mm->holdraw) {
		mm->dropping = mm->dropping && is_blank(mm->line[0]);
		return put(mm, "\n", 1);
	}
	if (mm->linelen == 0) {
		if (put(mm, cte, sizeof(cte) - 1) == -1)
			return -1;
	} else if (delimiter(mm, &close) < 0) {
		if (!is_blank(mm->line[0]))
			mm->dropping = field_is(mm->line, kept,
			    "Content-Transfer-Encoding");
		send = !mm->dropping;
	}
	if (send && (put(mm, mm->hold, mm->holdlen) == -1 ||
	    put(mm, "\n", 1) == -1))
		return -1;
	return 0;
}

/* An octet of a part being re-encoded: the line is followed as always. */
static int
enc_step(struct mime *mm, char c)
{
	int ret;

	if (c == '\n') {
		ret = enc_eol(mm);
		line_end(mm);
		return ret;
	}
	if (c == '\r')
		return enc_octet(mm, c);
	if (mm->linelen < FIELD_MAX)
		mm->line[mm->linelen] = c;
	mm->linelen++;
	ret = enc_octet(mm, c);
	/* A long line not encoded (a header's, a delimiter) is sent whole. */
	if (mm->col == 0)
		mm->lim = c == '.' ? LINE_LIMIT - 1 : LINE_LIMIT;
	if (mm->col == mm->lim && !(mm->kind == K_BODY && mm->route == 1)) {
		mm->kept++;
		note(mm, mm->whole, sizeof(mm->whole), mm->lastw);
	}
	mm->col++;
	return ret;
}

int
mime_feed(struct mime *mm, const char *p, size_t n, mime_sink sink,
    void *ctx, struct error *err)
{
	size_t i, start = 0;

	mm->sink = sink;
	mm->ctx = ctx;
	mm->err = err;
	for (i = 0; i < n; i++) {
		if (mm->encoding) {
			if (put(mm, p + start, i - start) == -1 ||
			    enc_step(mm, p[i]) == -1)
				return -1;
			start = i + 1;
			continue;
		}
		if (p[i] == '\n') {
			line_end(mm);
			continue;
		}
		if (p[i] == '\r') {
			mm->col = 0;
			continue;
		}
		if (mm->col >= mm->lim && breakable(mm)) {
			if (put(mm, p + start, i - start) == -1 ||
			    put(mm, "\r\n", 2) == -1)
				return -1;
			start = i;
			mm->breaks++;
			note(mm, mm->broken, sizeof(mm->broken), mm->lastb);
			mark(mm);
			mm->col = 0;
		} else if (mm->col == mm->lim) {
			mm->kept++;
			note(mm, mm->whole, sizeof(mm->whole), mm->lastw);
		}
		if (mm->col == 0)
			mm->lim = p[i] == '.' ? LINE_LIMIT - 1 : LINE_LIMIT;
		mm->col++;
		if (mm->linelen < FIELD_MAX)
			mm->line[mm->linelen] = p[i];
		mm->linelen++;
	}
	return put(mm, p + start, n - start);
}

struct mime *
mime_new(int follow, const char *ctype, const char *cte)
{
	struct mime *mm;

	mm = calloc(1, sizeof(*mm));
	if (mm == NULL)
		return NULL;
	mm->follow = follow;
	mm->lim = LINE_LIMIT;
	mm->brk = -1;
	start_part(mm, 0);
	mm->kind = K_BODY;
	if (!follow)
		return mm;
	if (ctype != NULL)
		parse_ctype(mm, ctype);
	if (cte != NULL)
		mm->enc = parse_cte(cte);
	body_start(mm);
	return mm;
}

void
mime_result(const struct mime *mm, struct mime_result *r)
{
	r->breaks = mm->breaks;
	r->kept = mm->kept;
	r->out = mm->out;
	r->marked = mm->marked;
	memcpy(r->mark, mm->mark, sizeof(r->mark));
	memcpy(r->encoded, mm->encoded, sizeof(r->encoded));
	r->bad = mm->bad;
	if (r->bad == NULL && mm->depth > 0)
		r->bad = "a multipart has no close delimiter";
	memcpy(r->broken, mm->broken, sizeof(r->broken));
	memcpy(r->whole, mm->whole, sizeof(r->whole));
}

void
mime_encode(struct mime *mm, const struct mime_result *plan)
{
	memcpy(mm->mark, plan->mark, sizeof(mm->mark));
	mm->marked = plan->marked;
	mm->plan = 1;
}

void
mime_free(struct mime *mm)
{
	free(mm);
}
