/*
 * log.c: the one line per attempt that goes to the logfile and syslog.  It
 * is built from the envelope, the send result and the error only: no field
 * can hold a secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "send.h"

/* A growing string; on allocation failure it stays truncated, never fails. */
struct buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (b->len + n + 1 > b->cap) {
		cap = (b->len + n + 1) * 2;
		p = realloc(b->s, cap);
		if (p == NULL)
			return;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Server text goes in quotes; control bytes and quotes are replaced. */
static void
buf_quoted(struct buf *b, const char *s)
{
	char c;

	buf_add(b, "'", 1);
	for (; s != NULL && *s != '\0'; s++) {
		c = *s;
		if (c == '\n')
			buf_add(b, " ", 1);
		else if ((unsigned char)c < 0x20 || c == 0x7f || c == '\'')
			buf_add(b, "?", 1);
		else
			buf_add(b, &c, 1);
	}
	buf_add(b, "'", 1);
}

static const char *
exit_name(int code)
{
	static const struct {
		int		 code;
		const char	*name;
	} names[] = {
		{ EX_OK, "EX_OK" },
		{ EX_USAGE, "EX_USAGE" },
		{ EX_DATAERR, "EX_DATAERR" },
		{ EX_NOUSER, "EX_NOUSER" },
		{ EX_NOHOST, "EX_NOHOST" },
		{ EX_UNAVAILABLE, "EX_UNAVAILABLE" },
		{ EX_SOFTWARE, "EX_SOFTWARE" },
		{ EX_OSERR, "EX_OSERR" },
		{ EX_IOERR, "EX_IOERR" },
		{ EX_TEMPFAIL, "EX_TEMPFAIL" },
		{ EX_PROTOCOL, "EX_PROTOCOL" },
		{ EX_NOPERM, "EX_NOPERM" },
		{ EX_CONFIG, "EX_CONFIG" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "EX_UNKNOWN";
}

/* "host=... tls=... auth=... user=... from=... recipients=... ..." */
static void
build_line(struct buf *b, const struct log_record *rec)
{
	const struct account *acc = rec->acc;
	const struct error *err = rec->err;
	char num[64];
	size_t i;

	buf_str(b, "host=");
	buf_str(b, acc->host != NULL ? acc->host : "(none)");
	buf_str(b, " tls=");
	buf_str(b, rec->res != NULL && rec->res->tls[0] != '\0' ?
	    rec->res->tls : (acc->tls == CFG_OFF ? "off" : "none"));
	buf_str(b, " auth=");
	buf_str(b, rec->res != NULL && rec->res->auth[0] != '\0' ?
	    rec->res->auth : "off");
	if (acc->user != NULL) {
		buf_str(b, " user=");
		buf_str(b, acc->user);
	}
	buf_str(b, " from=");
	buf_str(b, rec->from != NULL && rec->from[0] != '\0' ? rec->from : "<>");
	buf_str(b, " recipients=");
	for (i = 0; rec->rcpts != NULL && i < rec->rcpts->n; i++) {
		if (i > 0)
			buf_str(b, ",");
		buf_str(b, rec->rcpts->v[i].addr);
	}
	snprintf(num, sizeof(num), " mailsize=%llu", rec->size);
	buf_str(b, num);
	if (err != NULL && err->kind != ERR_NONE) {
		if (err->code != 0) {
			snprintf(num, sizeof(num), " smtpstatus=%d", err->code);
			buf_str(b, num);
		}
		buf_str(b, " errormsg=");
		buf_quoted(b, err->msg);
		if (err->reply[0] != '\0') {
			buf_str(b, " smtpmsg=");
			buf_quoted(b, err->reply);
		}
	} else if (rec->res != NULL && rec->res->reply[0] != '\0') {
		buf_str(b, " smtpmsg=");
		buf_quoted(b, rec->res->reply);
	}
	buf_str(b, " exitcode=");
	buf_str(b, exit_name(rec->exit_code));
}

static void
log_to_file(const char *path, const char *timefmt, const char *line)
{
	char stamp[128] = "";
	struct tm tm;
	time_t now = time(NULL);
	FILE *fp;
	int fd;

	/* The format is the user's logfile_time_format: not a literal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (localtime_r(&now, &tm) != NULL)
		strftime(stamp, sizeof(stamp),
		    timefmt != NULL ? timefmt : "%b %d %H:%M:%S", &tm);
#pragma GCC diagnostic pop
	if (strcmp(path, "-") == 0) {
		printf("%s %s\n", stamp, line);
		fflush(stdout);
		return;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "smtpsend: cannot write log file %s: %s\n",
		    path, strerror(errno));
		return;
	}
	fp = fdopen(fd, "a");
	if (fp == NULL) {
		close(fd);
		return;
	}
	fprintf(fp, "%s %s\n", stamp, line);
	if (fclose(fp) == EOF)
		fprintf(stderr, "smtpsend: cannot write log file %s: %s\n",
		    path, strerror(errno));
}

static int
syslog_facility(const char *name)
{
	static const struct {
		const char	*name;
		int		 facility;
	} facilities[] = {
		{ "on", LOG_MAIL }, { "LOG_MAIL", LOG_MAIL },
		{ "LOG_USER", LOG_USER }, { "LOG_LOCAL0", LOG_LOCAL0 },
		{ "LOG_LOCAL1", LOG_LOCAL1 }, { "LOG_LOCAL2", LOG_LOCAL2 },
		{ "LOG_LOCAL3", LOG_LOCAL3 }, { "LOG_LOCAL4", LOG_LOCAL4 },
		{ "LOG_LOCAL5", LOG_LOCAL5 }, { "LOG_LOCAL6", LOG_LOCAL6 },
		{ "LOG_LOCAL7", LOG_LOCAL7 },
	};
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

void
log_attempt(const struct log_record *rec)
{
	const struct account *acc = rec->acc;
	const char *logfile = rec->logfile != NULL ? rec->logfile : acc->logfile;
	struct buf b = { 0 };
	int facility = -1;

	if (acc->syslog != NULL && strcasecmp(acc->syslog, "off") != 0)
		facility = syslog_facility(acc->syslog);
	if ((logfile == NULL || logfile[0] == '\0') && facility == -1)
		return;
	build_line(&b, rec);
	if (b.s == NULL)
		return;
	if (logfile != NULL && logfile[0] != '\0')
		log_to_file(logfile, acc->logfile_time_format, b.s);
	if (facility != -1) {
		openlog(rec->syslog_tag != NULL ? rec->syslog_tag : "smtpsend",
		    LOG_PID, facility);
		syslog(rec->exit_code == EX_OK ? LOG_INFO : LOG_ERR, "%s", b.s);
		closelog();
	}
	free(b.s);
}
