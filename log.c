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
#include "strbuf.h"

/* Server text goes in quotes; control bytes and quotes are replaced. */
static void
buf_quoted(struct strbuf *b, const char *s)
{
	char c;

	strbuf_add(b, "'", 1);
	for (; s != NULL && *s != '\0'; s++) {
		c = *s;
		if (c == '\n')
			strbuf_add(b, " ", 1);
		else if ((unsigned char)c < 0x20 || c == 0x7f || c == '\'')
			strbuf_add(b, "?", 1);
		else
			strbuf_add(b, &c, 1);
	}
	strbuf_add(b, "'", 1);
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
build_line(struct strbuf *b, const struct log_record *rec)
{
	const struct account *acc = rec->acc;
	const struct error *err = rec->err;
	size_t i;

	strbuf_str(b, "host=");
	strbuf_str(b, acc->host != NULL ? acc->host : "(none)");
	strbuf_str(b, " tls=");
	strbuf_str(b, rec->res != NULL && rec->res->tls[0] != '\0' ?
	    rec->res->tls : (acc->tls == CFG_OFF ? "off" : "none"));
	strbuf_str(b, " auth=");
	strbuf_str(b, rec->res != NULL && rec->res->auth[0] != '\0' ?
	    rec->res->auth : "off");
	if (acc->user != NULL) {
		strbuf_str(b, " user=");
		strbuf_str(b, acc->user);
	}
	strbuf_str(b, " from=");
	strbuf_str(b,
	    rec->from != NULL && rec->from[0] != '\0' ? rec->from : "<>");
	strbuf_str(b, " recipients=");
	for (i = 0; rec->rcpts != NULL && i < rec->rcpts->n; i++) {
		if (i > 0)
			strbuf_str(b, ",");
		strbuf_str(b, rec->rcpts->v[i].addr);
	}
	strbuf_printf(b, " mailsize=%llu", rec->size);
	if (err != NULL && err->kind != ERR_NONE) {
		if (err->code != 0)
			strbuf_printf(b, " smtpstatus=%d", err->code);
		strbuf_str(b, " errormsg=");
		buf_quoted(b, err->msg);
		if (err->reply[0] != '\0') {
			strbuf_str(b, " smtpmsg=");
			buf_quoted(b, err->reply);
		}
	} else if (rec->res != NULL && rec->res->reply[0] != '\0') {
		strbuf_str(b, " smtpmsg=");
		buf_quoted(b, rec->res->reply);
	}
	if (rec->queue != NULL) {
		strbuf_str(b, " queue=");
		strbuf_str(b, rec->queue);
	}
	strbuf_str(b, " exitcode=");
	strbuf_str(b, exit_name(rec->exit_code));
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
	struct strbuf b = { 0 };
	int facility = -1;

	/*
	 * Unset, syslog goes to LOG_MAIL when nobody may read stderr (cron,
	 * at, a web server), as every MTA logs; a terminal user reads stderr.
	 * An explicit syslog line (off, on, a facility) always wins.
	 */
	if (acc->set & ACC_BIT(ACC_SYSLOG)) {
		if (acc->syslog != NULL && strcasecmp(acc->syslog, "off") != 0)
			facility = syslog_facility(acc->syslog);
	} else if (!isatty(STDERR_FILENO)) {
		facility = LOG_MAIL;
	}
	if ((logfile == NULL || logfile[0] == '\0') && facility == -1)
		return;
	/* Out of memory: log what was built, truncated, rather than nothing. */
	build_line(&b, rec);
	if (b.p == NULL)
		return;
	if (logfile != NULL && logfile[0] != '\0')
		log_to_file(logfile, acc->logfile_time_format, b.p);
	if (facility != -1) {
		openlog(rec->syslog_tag != NULL ? rec->syslog_tag : "smtpsend",
		    LOG_PID, facility);
		syslog(rec->exit_code == EX_OK ? LOG_INFO : LOG_ERR, "%s", b.p);
		closelog();
	}
	strbuf_free(&b);
}
