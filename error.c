/*
 * error.c: filling the error struct, and the one place where an error
 * becomes an exit code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "error.h"

void
error_clear(struct error *err)
{
	memset(err, 0, sizeof(*err));
}

static int
kind_is_temporary(enum error_kind kind)
{
	return kind == ERR_NETWORK || kind == ERR_KEYRING;
}

int
error_set(struct error *err, enum error_kind kind, const char *fmt, ...)
{
	va_list ap;

	error_clear(err);
	err->kind = kind;
	err->temporary = kind_is_temporary(kind);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
error_hint(struct error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

/* Copy reply text, turning line breaks into "; " so the error is one line. */
static void
copy_reply(char *dst, size_t size, const char *text)
{
	size_t n = 0;

	for (; text != NULL && *text != '\0' && n + 3 < size; text++) {
		if (*text == '\n') {
			dst[n++] = ';';
			dst[n++] = ' ';
		} else if ((unsigned char)*text < 0x20) {
			dst[n++] = ' ';
		} else {
			dst[n++] = *text;
		}
	}
	dst[n] = '\0';
}

int
error_reply(struct error *err, enum error_kind kind, const char *step, int code,
    const char *status, const char *text, const char *fmt, ...)
{
	va_list ap;

	error_clear(err);
	err->kind = kind;
	err->step = step;
	err->code = code;
	err->temporary = (code / 100 == 4);
	if (status != NULL)
		snprintf(err->status, sizeof(err->status), "%s", status);
	copy_reply(err->reply, sizeof(err->reply), text);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A refusal by the server: the class and the enhanced status decide. */
static int
reply_exit_code(const struct error *err)
{
	if (err->temporary || err->code / 100 == 4)
		return EX_TEMPFAIL;
	if (strncmp(err->status, "5.1.", 4) == 0)
		return EX_NOUSER;
	return EX_UNAVAILABLE;
}

int
error_exit_code(const struct error *err)
{
	switch (err->kind) {
	case ERR_NONE:
		return EX_OK;
	case ERR_USAGE:
		return EX_USAGE;
	case ERR_DATA:
		return EX_DATAERR;
	case ERR_CONFIG:
	case ERR_SECRET:
		return EX_CONFIG;
	case ERR_KEYRING:
	case ERR_NETWORK:
		return EX_TEMPFAIL;
	case ERR_OS:
		return EX_OSERR;
	case ERR_IO:
		return EX_IOERR;
	case ERR_INTERNAL:
		return EX_SOFTWARE;
	case ERR_NOHOST:
		return err->temporary ? EX_TEMPFAIL : EX_NOHOST;
	case ERR_TLS:
		return err->temporary ? EX_TEMPFAIL : EX_UNAVAILABLE;
	case ERR_CERT:
	case ERR_UNAVAILABLE:
		return EX_UNAVAILABLE;
	case ERR_PROTOCOL:
		return EX_PROTOCOL;
	case ERR_REPLY:
		return reply_exit_code(err);
	case ERR_AUTH:
		return err->temporary ? EX_TEMPFAIL : EX_NOPERM;
	case ERR_PARTIAL:
		return strncmp(err->status, "5.1.", 4) == 0 ? EX_NOUSER
							    : EX_UNAVAILABLE;
	}
	return EX_SOFTWARE;
}

void
error_print(const struct error *err)
{
	if (err->kind == ERR_NONE)
		return;
	if (err->reply[0] != '\0')
		fprintf(stderr, "smtpsend: %s: %s\n", err->msg, err->reply);
	else
		fprintf(stderr, "smtpsend: %s\n", err->msg);
	if (err->hint[0] != '\0')
		fprintf(stderr, "smtpsend: hint: %s\n", err->hint);
}
