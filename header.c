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
 * character, folded between words.
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
			strbuf_str(b, "\r\n ");
		strbuf_str(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)s + i, k);
		strbuf_str(b, "?=");
		i += k;
	}
}

/* The display name as a phrase: atoms as is, else a quoted-string. */
static void
display_name(struct strbuf *b, const char *name)
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

char *
header_from(const char *addr, const char *name, struct error *err)
{
	struct strbuf sb = {0}, *b = &sb;
	char *nm = NULL;
	size_t i, start = b->len;
	int ascii;

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
	strbuf_str(b, "From: ");
	if (nm != NULL) {
		display_name(b, nm);
		strbuf_str(b, " <");
		strbuf_str(b, addr);
		strbuf_str(b, ">\r\n");
	} else {
		strbuf_str(b, addr);
		strbuf_str(b, "\r\n");
	}
	/* Encoded words are folded; an atom or quoted-string cannot be. */
	ascii = nm == NULL || addr_is_ascii(nm);
	free(nm);
	if (!b->oom && ascii && b->len - start > LINE_LIMIT + 2) {
		strbuf_free(b);
		error_set(err, ERR_USAGE,
		    "the From display name or address "
		    "is too long for one header line");
		return NULL;
	}
	return sb_done(b, "", err);
}
