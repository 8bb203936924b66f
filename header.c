/*
 * header.c: the header lines smtpsend adds (From, Date, Message-ID), with
 * display names quoted or RFC 2047-encoded as they need.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "header.h"
#include "strbuf.h"

#define LINE_LIMIT 998

/* Append the last piece; return the string, or NULL (ERR_OS) and free. */
static char *
sb_done(struct strbuf *b, const char *s, struct error *err)
{
	strbuf_str(b, s);
	if (b->oom || b->p == NULL) {
		strbuf_free(b);
		error_set(err, ERR_OS, "out of memory");
		return NULL;
	}
	return b->p;
}

char *
header_date(time_t now, struct error *err)
{
	struct strbuf b = {0};
	static const char *const days[] = {
	    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char line[80];
	struct tm tm;
	long off;

	if (localtime_r(&now, &tm) == NULL) {
		error_set(err, ERR_OS, "localtime failed");
		return NULL;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(line, sizeof(line),
	    "Date: %s, %d %s %d %02d:%02d:%02d "
	    "%c%02ld%02ld\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
	return sb_done(&b, line, err);
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
		return error_set(
		    err, ERR_OS, "no random source: %s", strerror(errno));
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

char *
header_msgid(const char *domain, struct error *err)
{
	struct strbuf sb = {0}, *b = &sb;
	unsigned char rnd[16];
	char hex[33], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	const char *d;
	size_t i;

	if (random_bytes(rnd, sizeof(rnd), err) == -1)
		return NULL;
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
	strbuf_str(b, "Message-ID: <");
	strbuf_str(b, stamp);
	strbuf_str(b, ".");
	strbuf_str(b, hex);
	strbuf_str(b, "@");
	strbuf_str(b, domain);
	return sb_done(b, ">\r\n", err);
}

static void
base64(struct strbuf *b, const unsigned char *p, size_t n)
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
		strbuf_add(b, q, 4);
	}
}

/*
 * RFC 2047 B encoded words of at most 36 octets of UTF-8 each (60
 * characters, so "From: " and a word fit in 76), never splitting a
 * character, a blank between words (header_fold folds there).
 */
static void
encoded_words(struct strbuf *b, const char *s)
{
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		k = n - i > 36 ? 36 : n - i;
		while (i + k < n && k > 1 &&
		    ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		if (i > 0)
			strbuf_str(b, " ");
		strbuf_str(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)s + i, k);
		strbuf_str(b, "?=");
		i += k;
	}
}

/*
 * The display name as a phrase: atoms as is, else a quoted-string; encoded
 * words when asked (non-ASCII, or a run too long to fold).
 */
static void
display_name(struct strbuf *b, const char *name, int encode)
{
	const char *p;
	int atoms = 1;

	if (encode) {
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
		strbuf_str(b, name);
		return;
	}
	strbuf_str(b, "\"");
	for (p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_str(b, "\\");
		strbuf_add(b, p, 1);
	}
	strbuf_str(b, "\"");
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 1;
	return 0;
}

/* The From line for addr and nm (NULL: no name), folded. */
static char *
from_line(const char *addr, const char *nm, int encode, struct error *err)
{
	struct strbuf sb = {0}, *b = &sb;
	char *line;

	strbuf_str(b, "From: ");
	if (nm != NULL) {
		display_name(b, nm, encode);
		strbuf_str(b, " <");
		strbuf_str(b, addr);
		strbuf_str(b, ">");
	} else {
		strbuf_str(b, addr);
	}
	if (b->oom || b->p == NULL) {
		strbuf_free(b);
		error_set(err, ERR_OS, "out of memory");
		return NULL;
	}
	/* RFC 2047 6.2: a line holding encoded words is at most 76. */
	line = header_fold(b->p, encode ? 76 : LINE_LIMIT, err);
	strbuf_free(b);
	return line;
}

char *
header_from(const char *addr, const char *name, struct error *err)
{
	char *nm = NULL, *line;
	size_t i;

	if (has_ctl(addr)) {
		error_set(err, ERR_USAGE, "invalid From address");
		return NULL;
	}
	if (name != NULL && strspn(name, " \t") != strlen(name)) {
		nm = strdup(name);
		if (nm == NULL) {
			error_set(err, ERR_OS, "out of memory");
			return NULL;
		}
		for (i = 0; nm[i] != '\0'; i++)
			if ((unsigned char)nm[i] < ' ' || nm[i] == 0x7f)
				nm[i] = ' ';
	}
	line = from_line(addr, nm, nm != NULL && !addr_is_ascii(nm), err);
	/* An ASCII name with a run too long to fold fits as encoded words. */
	if (line == NULL && err->kind == ERR_USAGE && nm != NULL &&
	    addr_is_ascii(nm))
		line = from_line(addr, nm, 1, err);
	free(nm);
	if (line == NULL && err->kind == ERR_USAGE)
		error_set(err, ERR_USAGE,
		    "the From address is too long for one header line");
	return line;
}

/*
 * Where line may be folded: before a blank that follows the colon and
 * some text, and that is not inside an angle address (an address is kept
 * on one line), not escaped by a backslash, and not trailing.  Quoted
 * strings and comments may be folded (RFC 5322 3.2.4, 3.2.2).
 */
static int
fold_point(const char *line, size_t i, size_t colon, int angle)
{
	size_t k;

	if (i <= colon + 1 || angle || (line[i] != ' ' && line[i] != '\t'))
		return 0;
	if (line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == '\\')
		return 0;
	for (k = i; line[k] == ' ' || line[k] == '\t'; k++)
		;
	return line[k] != '\0';
}

char *
header_fold(const char *line, size_t soft, struct error *err)
{
	struct strbuf sb = {0}, *b = &sb;
	const char *colon = strchr(line, ':');
	size_t i, start = 0, col = 0, c;
	int quote = 0, comment = 0, angle = 0;

	if (colon == NULL) {
		error_set(err, ERR_INTERNAL, "header_fold: no colon");
		return NULL;
	}
	c = (size_t)(colon - line);
	for (i = 0;; i++) {
		/* A segment runs from one fold point to the next. */
		if (line[i] == '\0' || fold_point(line, i, c, angle)) {
			if (start > 0 && col + (i - start) > soft) {
				strbuf_str(b, "\r\n");
				col = 0;
			}
			strbuf_add(b, line + start, i - start);
			col += i - start;
			if (col > LINE_LIMIT) {
				strbuf_free(b);
				error_set(err, ERR_USAGE,
				    "a header line would be over %d octets",
				    LINE_LIMIT);
				return NULL;
			}
			start = i;
		}
		if (line[i] == '\0')
			break;
		if (i <= c)
			continue;
		if ((quote || comment > 0) && line[i] == '\\' &&
		    line[i + 1] != '\0')
			i++;
		else if (quote)
			quote = line[i] != '"';
		else if (line[i] == '"')
			quote = 1;
		else if (line[i] == '(')
			comment++;
		else if (line[i] == ')' && comment > 0)
			comment--;
		else if (comment == 0 && line[i] == '<')
			angle = 1;
		else if (comment == 0 && line[i] == '>')
			angle = 0;
	}
	return sb_done(b, "\r\n", err);
}
