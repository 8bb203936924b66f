/*
 * message.c: the spool.  stdin is read once, in fixed blocks, through a
 * small per-byte state machine that normalises line ends, drops NULs,
 * breaks over-long lines and splits the header block from the body.  The
 * header block (capped) stays in memory and is indexed; the body goes to an
 * unlinked temporary file and is streamed back from it in fixed blocks.
 * doc/wire-rules.md lists every rule applied here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "message.h"

#define BLOCK		65536
#define HDR_MAX		(1024 * 1024)
#define LINE_LIMIT	998	/* octets before CRLF (RFC 5321 4.5.3.1.6) */

/* Where the current input line stands while the header block is read. */
enum lstate {
	L_START,	/* nothing yet on this line */
	L_NAME,		/* a possible field name */
	L_NAMEWSP,	/* field name then blanks: "Subject :" (obsolete) */
	L_HEADER,	/* a header field line or a continuation */
	L_DROP,		/* mbox "From " line: discarded */
};

struct field {
	size_t	off;		/* in m->hdr */
	size_t	len;		/* all its lines, CRLFs included */
	size_t	namelen;	/* without blanks before the colon */
	int	drop;		/* message_fix removes it */
};

struct message {
	int		 fd;		/* spool: the body only */
	uint64_t	 bodylen;
	char		*hdr;		/* header block, CRLF lines, no separator */
	size_t		 hdrlen;
	size_t		 hdrcap;
	struct field	*f;
	size_t		 nf;
	int		 sep;		/* the input had the empty line */
	int		 eightbit;
	char		*added;		/* lines message_fix adds */
	size_t		 addedlen;
};

struct reader {
	struct message	*m;
	struct error	*err;
	enum lstate	 ls;
	int		 in_body;
	int		 first;		/* still on the first input line */
	int		 have_field;	/* a field line was seen: continuations ok */
	int		 cr;		/* the last byte was CR: LF pairs with it */
	size_t		 col;		/* octets on the current output line */
	size_t		 lim;		/* its limit */
	size_t		 line;		/* header phase: its offset in m->hdr */
	size_t		 outlen;
	char		 out[BLOCK];	/* body octets on their way to the spool */
};

static int
spool_flush(struct reader *r)
{
	size_t done = 0;
	ssize_t n;

	while (done < r->outlen) {
		n = write(r->m->fd, r->out + done, r->outlen - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return error_set(r->err, ERR_IO,
			    "cannot write the spool file: %s", strerror(errno));
		done += (size_t)n;
	}
	r->m->bodylen += r->outlen;
	r->outlen = 0;
	return 0;
}

static int
body_put(struct reader *r, char c)
{
	if ((unsigned char)c >= 0x80)
		r->m->eightbit = 1;
	r->out[r->outlen++] = c;
	if (r->outlen == sizeof(r->out))
		return spool_flush(r);
	return 0;
}

static int
hdr_reserve(struct reader *r, size_t more)
{
	struct message *m = r->m;
	size_t cap;
	char *p;

	if (m->hdrlen + more <= m->hdrcap)
		return 0;
	if (m->hdrlen + more > HDR_MAX)
		return error_set(r->err, ERR_DATA, "the message header block "
		    "is larger than %d KiB (no empty line after the headers?)",
		    HDR_MAX / 1024);
	cap = m->hdrcap == 0 ? 4096 : m->hdrcap * 2;
	while (cap < m->hdrlen + more)
		cap *= 2;
	if (cap > HDR_MAX)
		cap = HDR_MAX;
	p = realloc(m->hdr, cap);
	if (p == NULL)
		return error_set(r->err, ERR_OS, "out of memory");
	m->hdr = p;
	m->hdrcap = cap;
	return 0;
}

/* A line starting with '.' gets one octet less: dot-stuffing adds one. */
static size_t
limit_for(char first)
{
	return first == '.' ? LINE_LIMIT - 1 : LINE_LIMIT;
}

/* Append c to the body, breaking the line (CRLF) at the limit. */
static int
body_byte(struct reader *r, char c)
{
	if (r->col >= r->lim) {
		if (body_put(r, '\r') == -1 || body_put(r, '\n') == -1)
			return -1;
		r->col = 0;
	}
	if (r->col == 0)
		r->lim = limit_for(c);
	r->col++;
	return body_put(r, c);
}

/*
 * The current line is not a header field: the header block ends before it
 * and it becomes the first body line (no separator in the input).  The
 * first input line "From ..." is an mbox separator and is dropped instead.
 */
static int
to_body(struct reader *r)
{
	struct message *m = r->m;
	size_t k, len = m->hdrlen - r->line;

	if (r->first && len >= 5 && memcmp(m->hdr + r->line, "From ", 5) == 0) {
		m->hdrlen = r->line;
		r->ls = L_DROP;
		return 0;
	}
	r->in_body = 1;
	m->sep = 0;
	r->col = 0;
	for (k = 0; k < len; k++)
		if (body_byte(r, m->hdr[r->line + k]) == -1)
			return -1;
	m->hdrlen = r->line;
	return 0;
}

/*
 * Fold the current header line, which is at its limit: before the last
 * blank that follows some text (unfolding gives the line back), else by
 * inserting CRLF and a space here.
 */
static int
hdr_fold(struct reader *r)
{
	struct message *m = r->m;
	size_t p, q = r->line;

	if (hdr_reserve(r, 3) == -1)
		return -1;
	while (q < m->hdrlen && (m->hdr[q] == ' ' || m->hdr[q] == '\t'))
		q++;
	for (p = m->hdrlen - 1; p > q; p--)
		if (m->hdr[p] == ' ' || m->hdr[p] == '\t')
			break;
	if (p > q) {
		memmove(m->hdr + p + 2, m->hdr + p, m->hdrlen - p);
		memcpy(m->hdr + p, "\r\n", 2);
		m->hdrlen += 2;
		r->line = p + 2;
	} else {
		memcpy(m->hdr + m->hdrlen, "\r\n ", 3);
		m->hdrlen += 3;
		r->line = m->hdrlen - 1;
	}
	r->col = m->hdrlen - r->line;
	r->lim = LINE_LIMIT;
	return 0;
}

static int
is_name_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != ':';
}

/* One octet (not CR, LF or NUL) while the header block is being read. */
static int
hdr_byte(struct reader *r, unsigned char c)
{
	int blank = c == ' ' || c == '\t';

	switch (r->ls) {
	case L_DROP:
		return 0;
	case L_START:
		if (blank && r->have_field)
			r->ls = L_HEADER;
		else if (is_name_char(c))
			r->ls = L_NAME;
		else
			goto body;
		r->lim = limit_for((char)c);
		break;
	case L_NAME:
	case L_NAMEWSP:
		if (c == ':') {
			r->ls = L_HEADER;
			r->have_field = 1;
		} else if (blank) {
			r->ls = L_NAMEWSP;
		} else if (r->ls == L_NAMEWSP || !is_name_char(c)) {
			goto body;
		}
		break;
	case L_HEADER:
		break;
	}
	if (r->col >= r->lim) {
		if (r->ls != L_HEADER)
			goto body;	/* a 998-octet field name is none */
		if (hdr_fold(r) == -1)
			return -1;
	}
	if (hdr_reserve(r, 1) == -1)
		return -1;
	r->m->hdr[r->m->hdrlen++] = (char)c;
	r->col++;
	return 0;
body:
	if (to_body(r) == -1)
		return -1;
	if (r->ls == L_DROP)
		return 0;
	return body_byte(r, (char)c);
}

/* End of an input line (LF, CR or CRLF). */
static int
eol(struct reader *r)
{
	struct message *m = r->m;
	int first = r->first;

	r->first = 0;
	if (!r->in_body) {
		switch (r->ls) {
		case L_START:
			m->sep = 1;	/* the empty line: not stored */
			r->in_body = 1;
			r->col = 0;
			return 0;
		case L_DROP:
			r->ls = L_START;
			return 0;
		case L_HEADER:
			if (hdr_reserve(r, 2) == -1)
				return -1;
			memcpy(m->hdr + m->hdrlen, "\r\n", 2);
			m->hdrlen += 2;
			r->line = m->hdrlen;
			r->col = 0;
			r->ls = L_START;
			return 0;
		case L_NAME:
		case L_NAMEWSP:
			r->first = first;
			if (to_body(r) == -1)
				return -1;
			r->first = 0;
			if (r->ls == L_DROP) {
				r->ls = L_START;
				return 0;
			}
			break;
		}
	}
	r->col = 0;
	if (body_put(r, '\r') == -1)
		return -1;
	return body_put(r, '\n');
}

static int
feed(struct reader *r, const unsigned char *p, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '\0')
			continue;
		if (r->cr) {
			r->cr = 0;
			if (c == 0)
				continue;
		}
		if (c == '\r' || c == '\n') {
			r->cr = c == '\r';
			rc = eol(r);
		} else if (r->in_body) {
			rc = body_byte(r, (char)c);
		} else {
			rc = hdr_byte(r, c);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* At EOF: end an unterminated line, flush, and index the header block. */
static int
finish(struct reader *r)
{
	struct message *m = r->m;
	size_t pos, k;
	struct field *f;

	if ((r->in_body && r->col > 0) ||
	    (!r->in_body && r->ls != L_START && r->ls != L_DROP)) {
		if (eol(r) == -1)
			return -1;
	}
	if (spool_flush(r) == -1)
		return -1;
	for (pos = 0; pos < m->hdrlen; pos++)
		if ((unsigned char)m->hdr[pos] >= 0x80)
			m->eightbit = 1;
	for (pos = 0; pos < m->hdrlen;) {
		const char *nl = memchr(m->hdr + pos, '\n', m->hdrlen - pos);
		size_t end = (size_t)(nl - m->hdr) + 1;

		if (m->hdr[pos] == ' ' || m->hdr[pos] == '\t') {
			m->f[m->nf - 1].len += end - pos;
		} else {
			f = reallocarray(m->f, m->nf + 1, sizeof(*f));
			if (f == NULL)
				return error_set(r->err, ERR_OS,
				    "out of memory");
			m->f = f;
			f = &m->f[m->nf++];
			memset(f, 0, sizeof(*f));
			f->off = pos;
			f->len = end - pos;
			for (k = pos; m->hdr[k] != ':'; k++)
				;
			while (k > pos && (m->hdr[k - 1] == ' ' ||
			    m->hdr[k - 1] == '\t'))
				k--;
			f->namelen = k - pos;
		}
		pos = end;
	}
	return 0;
}

static int
spool_open(struct message *m, const char *tmpdir, struct error *err)
{
	char path[4096];
	int n;

	if (tmpdir == NULL)
		tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/smtpsend-XXXXXX", tmpdir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return error_set(err, ERR_IO, "spool directory name too long");
	/* mkstemp makes it 0600; unlinked at once, it dies with us. */
	m->fd = mkostemp(path, O_CLOEXEC);
	if (m->fd == -1)
		return error_set(err, ERR_IO, "cannot create a spool file in "
		    "%s: %s", tmpdir, strerror(errno));
	unlink(path);
	return 0;
}

int
message_read(struct message **mp, int fd, const char *tmpdir,
    struct error *err)
{
	struct message *m;
	struct reader *r = NULL;
	unsigned char *in = NULL;
	ssize_t n;
	int ret = -1;

	*mp = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	m->fd = -1;
	r = calloc(1, sizeof(*r));
	in = malloc(BLOCK);
	if (r == NULL || in == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	r->m = m;
	r->err = err;
	r->first = 1;
	r->lim = LINE_LIMIT;
	if (spool_open(m, tmpdir, err) == -1)
		goto out;
	for (;;) {
		n = read(fd, in, BLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, ERR_IO, "cannot read the message: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (feed(r, in, (size_t)n) == -1)
			goto out;
	}
	if (finish(r) == -1)
		goto out;
	*mp = m;
	m = NULL;
	ret = 0;
out:
	if (ret == -1)
		message_drain(fd);
	message_free(m);
	free(r);
	free(in);
	return ret;
}

void
message_drain(int fd)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
	}
}

void
message_free(struct message *m)
{
	if (m == NULL)
		return;
	if (m->fd != -1)
		close(m->fd);
	free(m->hdr);
	free(m->f);
	free(m->added);
	free(m);
}

static int
name_is(const struct message *m, const struct field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && strncasecmp(m->hdr + f->off, name, n) == 0;
}

int
message_has_header(const struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (name_is(m, &m->f[i], name))
			return 1;
	return 0;
}

int
message_is_8bit(const struct message *m)
{
	return m->eightbit;
}

/* Parse the (unfolded) value of one address field into l. */
static int
field_addresses(const struct message *m, const struct field *f,
    struct addr_list *l, struct error *err)
{
	const char *p = m->hdr + f->off, *end = p + f->len;
	struct error perr;
	char *v;
	size_t n = 0;
	int ret = 0;

	p = (const char *)memchr(p, ':', f->len) + 1;
	v = malloc((size_t)(end - p) + 1);
	if (v == NULL)
		return error_set(err, ERR_OS, "out of memory");
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			v[n++] = *p;
	v[n] = '\0';
	if (addr_list_parse(l, v, &perr) == -1) {
		if (perr.kind == ERR_USAGE)
			ret = error_set(err, ERR_DATA, "%.*s header: %s",
			    (int)f->namelen, m->hdr + f->off, perr.msg);
		else
			*err = perr;
		ret = -1;
	}
	free(v);
	return ret;
}

static int
is_resent(const struct message *m, const struct field *f)
{
	return f->namelen > 7 && strncasecmp(m->hdr + f->off, "Resent-", 7) == 0;
}

/*
 * The topmost Resent- block: the run of Resent-* fields starting at the
 * first one; a second Resent-Date, -From, -Sender or -Message-ID (one per
 * block, RFC 5322 3.6.6) starts the next block.  Returns its end index.
 */
static size_t
resent_block(const struct message *m, size_t *start)
{
	static const char *const once[] = { "Resent-Date", "Resent-From",
	    "Resent-Sender", "Resent-Message-ID" };
	unsigned seen = 0;
	size_t i, k;

	for (i = 0; i < m->nf && !is_resent(m, &m->f[i]); i++)
		;
	*start = i;
	for (; i < m->nf && is_resent(m, &m->f[i]); i++) {
		for (k = 0; k < 4; k++) {
			if (!name_is(m, &m->f[i], once[k]))
				continue;
			if (seen & (1u << k))
				return i;
			seen |= 1u << k;
		}
	}
	return i;
}

int
message_recipients(const struct message *m, struct addr_list *l,
    struct error *err)
{
	static const char *const plain[] = { "To", "Cc", "Bcc" };
	static const char *const resent[] = { "Resent-To", "Resent-Cc",
	    "Resent-Bcc" };
	const char *const *names = plain;
	size_t i, k, start = 0, end = m->nf;

	for (i = 0; i < m->nf; i++) {
		if (is_resent(m, &m->f[i])) {
			end = resent_block(m, &start);
			names = resent;
			break;
		}
	}
	for (i = start; i < end; i++)
		for (k = 0; k < 3; k++)
			if (name_is(m, &m->f[i], names[k]) &&
			    field_addresses(m, &m->f[i], l, err) == -1)
				return -1;
	return 0;
}

/* A growing string for the added header lines. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 256 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* RFC 5322 3.3: "Date: Wed, 25 Nov 2026 01:35:03 +0100", English names. */
static int
date_line(struct sbuf *b, struct error *err)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char line[80];
	time_t now = time(NULL);
	struct tm tm;
	long off;

	if (localtime_r(&now, &tm) == NULL)
		return error_set(err, ERR_OS, "localtime failed");
	off = tm.tm_gmtoff / 60;
	snprintf(line, sizeof(line), "Date: %s, %d %s %d %02d:%02d:%02d "
	    "%c%02ld%02ld\r\n", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	sb_str(b, line);
	return 0;
}

static int
random_bytes(unsigned char *buf, size_t len, struct error *err)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	while (done < len) {
		n = getrandom(buf + done, len - done, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		done += (size_t)n;
	}
	if (done == len)
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return error_set(err, ERR_OS, "no random source: %s",
		    strerror(errno));
	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done < len)
		return error_set(err, ERR_OS, "cannot read /dev/urandom");
	return 0;
}

/* Message-ID: <time.128 random bits@domain>; a domain unfit for it is
   replaced by "localhost". */
static int
msgid_line(struct sbuf *b, const char *domain, struct error *err)
{
	unsigned char rnd[16];
	char hex[33], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	const char *d;
	size_t i;

	if (random_bytes(rnd, sizeof(rnd), err) == -1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	for (d = domain; *d != '\0'; d++)
		if ((unsigned char)*d <= ' ' || *d == 0x7f ||
		    strchr("<>@\"\\()", *d) != NULL)
			break;
	if (*domain == '\0' || *d != '\0' || strlen(domain) > 255)
		domain = "localhost";
	sb_str(b, "Message-ID: <");
	sb_str(b, stamp);
	sb_str(b, ".");
	sb_str(b, hex);
	sb_str(b, "@");
	sb_str(b, domain);
	sb_str(b, ">\r\n");
	return 0;
}

static void
base64(struct sbuf *b, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		sb_add(b, q, 4);
	}
}

/*
 * RFC 2047 B encoded words of at most 36 octets of UTF-8 each (60
 * characters, so "From: " and a word fit in 76), never splitting a
 * character, folded between words.
 */
static void
encoded_words(struct sbuf *b, const char *s)
{
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		k = n - i > 36 ? 36 : n - i;
		while (i + k < n && k > 1 &&
		    ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		if (i > 0)
			sb_str(b, "\r\n ");
		sb_str(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)s + i, k);
		sb_str(b, "?=");
		i += k;
	}
}

/* The display name as a phrase: atoms as is, else a quoted-string. */
static void
display_name(struct sbuf *b, const char *name)
{
	const char *p;
	int atoms = 1;

	if (!addr_is_ascii(name)) {
		encoded_words(b, name);
		return;
	}
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr(" !#$%&'*+-/=?^_`{|}~", *p) != NULL))
			atoms = 0;
	if (atoms && name[0] != ' ' && name[strlen(name) - 1] != ' ' &&
	    strstr(name, "  ") == NULL) {
		sb_str(b, name);
		return;
	}
	sb_str(b, "\"");
	for (p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			sb_str(b, "\\");
		sb_add(b, p, 1);
	}
	sb_str(b, "\"");
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 1;
	return 0;
}

/* "From: Name <addr>" or "From: addr"; control octets in the name
   (a header injection) become spaces. */
static int
from_line(struct sbuf *b, const char *addr, const char *name,
    struct error *err)
{
	char *nm = NULL;
	size_t i, start = b->len;
	int ascii;

	if (has_ctl(addr))
		return error_set(err, ERR_USAGE, "invalid From address");
	if (name != NULL && strspn(name, " \t") != strlen(name)) {
		nm = strdup(name);
		if (nm == NULL)
			return error_set(err, ERR_OS, "out of memory");
		for (i = 0; nm[i] != '\0'; i++)
			if ((unsigned char)nm[i] < ' ' || nm[i] == 0x7f)
				nm[i] = ' ';
	}
	sb_str(b, "From: ");
	if (nm != NULL) {
		display_name(b, nm);
		sb_str(b, " <");
		sb_str(b, addr);
		sb_str(b, ">\r\n");
	} else {
		sb_str(b, addr);
		sb_str(b, "\r\n");
	}
	/* Encoded words are folded; an atom or quoted-string cannot be. */
	ascii = nm == NULL || addr_is_ascii(nm);
	free(nm);
	if (!b->oom && ascii && b->len - start > LINE_LIMIT + 2)
		return error_set(err, ERR_USAGE, "the From display name or "
		    "address is too long for one header line");
	return 0;
}

static void
mark_drop(struct message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (name_is(m, &m->f[i], name))
			m->f[i].drop = 1;
}

int
message_fix(struct message *m, const struct message_fixes *fx,
    struct error *err)
{
	struct sbuf b = { 0 };
	size_t i;
	int want_from;

	for (i = 0; i < m->nf; i++)
		m->f[i].drop = 0;
	free(m->added);
	m->added = NULL;
	m->addedlen = 0;
	want_from = fx->from_addr != NULL && fx->from_addr[0] != '\0' &&
	    (fx->from_mode == 1 ||
	    (fx->from_mode == -1 && !message_has_header(m, "From")));
	if (want_from && from_line(&b, fx->from_addr, fx->from_name, err) == -1)
		goto fail;
	if (want_from && fx->from_mode == 1)
		mark_drop(m, "From");
	if (fx->add_date && !message_has_header(m, "Date") &&
	    date_line(&b, err) == -1)
		goto fail;
	if (fx->msgid_domain != NULL && !message_has_header(m, "Message-ID") &&
	    msgid_line(&b, fx->msgid_domain, err) == -1)
		goto fail;
	if (fx->remove_bcc) {
		mark_drop(m, "Bcc");
		mark_drop(m, "Resent-Bcc");
	}
	if (b.oom) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	m->added = b.p;
	m->addedlen = b.len;
	return 0;
fail:
	for (i = 0; i < m->nf; i++)
		m->f[i].drop = 0;
	free(b.p);
	return -1;
}

static size_t
kept_len(const struct message *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nf; i++)
		if (!m->f[i].drop)
			n += m->f[i].len;
	return n;
}

/*
 * The empty line goes out when the input had one, or when a body follows
 * headers (the input's header block ended at a line that was no header).
 */
static int
need_sep(const struct message *m)
{
	if (m->sep)
		return 1;
	return m->bodylen > 0 && m->addedlen + kept_len(m) > 0;
}

uint64_t
message_size(const struct message *m)
{
	return m->addedlen + kept_len(m) + (need_sep(m) ? 2 : 0) + m->bodylen;
}

struct writer {
	message_sink	 sink;
	void		*ctx;
	struct error	*err;
	int		 dotstuff;
	int		 bol;		/* the next octet starts a line */
	char		*out;		/* 2 * BLOCK: room for every dot doubled */
};

/* Send p, doubling dots at line starts when dot-stuffing. */
static int
emit(struct writer *w, const char *p, size_t n)
{
	size_t i, k, chunk;

	while (n > 0) {
		chunk = n > BLOCK ? BLOCK : n;
		if (!w->dotstuff) {
			if (w->sink(w->ctx, p, chunk, w->err) == -1)
				return -1;
		} else {
			for (i = 0, k = 0; i < chunk; i++) {
				if (w->bol && p[i] == '.')
					w->out[k++] = '.';
				w->out[k++] = p[i];
				w->bol = p[i] == '\n';
			}
			if (w->sink(w->ctx, w->out, k, w->err) == -1)
				return -1;
		}
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static int
write_headers(const struct message *m, struct writer *w)
{
	size_t i, run = 0, runlen = 0;

	if (emit(w, m->added, m->addedlen) == -1)
		return -1;
	for (i = 0; i <= m->nf; i++) {
		if (i < m->nf && !m->f[i].drop) {
			if (runlen == 0)
				run = m->f[i].off;
			runlen += m->f[i].len;
			continue;
		}
		if (runlen > 0 && emit(w, m->hdr + run, runlen) == -1)
			return -1;
		runlen = 0;
	}
	if (need_sep(m) && emit(w, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
message_write(const struct message *m, int dotstuff, message_sink sink,
    void *ctx, struct error *err)
{
	struct writer w;
	char *in;
	uint64_t off = 0;
	ssize_t n;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.sink = sink;
	w.ctx = ctx;
	w.err = err;
	w.dotstuff = dotstuff;
	w.bol = 1;
	in = malloc(BLOCK);
	w.out = dotstuff ? malloc(2 * BLOCK) : NULL;
	if (in == NULL || (dotstuff && w.out == NULL)) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	if (write_headers(m, &w) == -1)
		goto out;
	while (off < m->bodylen) {
		size_t want = m->bodylen - off > BLOCK ? BLOCK :
		    (size_t)(m->bodylen - off);

		n = pread(m->fd, in, want, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, ERR_IO, "cannot read the spool file: %s",
			    n == 0 ? "unexpected end" : strerror(errno));
			goto out;
		}
		if (emit(&w, in, (size_t)n) == -1)
			goto out;
		off += (uint64_t)n;
	}
	ret = 0;
out:
	free(in);
	free(w.out);
	return ret;
}
