/*
 * options.c: the sendmail command line: Postfix-compatible getopt parsing
 * (bundled flags, attached or separate arguments, the long options), the
 * -b modes, the checks of -B, -N and -R, the name called (mailq,
 * newaliases), and the usage and --help text.  main() acts on the result.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "oauth2.h"
#include "options.h"

enum {
	LONG_VERSION = 256,
	LONG_HELP,
	LONG_PRETEND,
	LONG_SERVERINFO,
	LONG_STORE_PASSWORD,
	LONG_ACCOUNT,
	LONG_AUTHORIZE,
	LONG_DEVICE,
	LONG_BROWSER,
	LONG_FORCE,
	LONG_QUEUE_SHOW,
	LONG_QUEUE_REMOVE,
	LONG_QUEUE_DIR,
};

static const char usage_line[] =
    "usage: smtpsend [-t] [-i] [-f sender] [-F name] [-a account] "
    "[-C file] [-v] [--] [recipient ...]";

void
options_help(void)
{
	printf("%s\n\n", usage_line);
	printf(
	    "Reads a message on standard input and submits it to the SMTP server\n"
	    "of an account in ~/.smtprc (msmtp's ~/.msmtprc format).\n\n"
	    "  -t               also take recipients from To, Cc and Bcc\n"
	    "  -f ADDR, -r ADDR envelope sender (<> for the null sender)\n"
	    "  -F NAME          display name for a From header smtpsend adds\n"
	    "  -a NAME          use account NAME (also --account=NAME)\n"
	    "  -C FILE          read FILE instead of /etc/smtprc and ~/.smtprc\n"
	    "                   (or msmtp's files when those do not exist)\n"
	    "  -N DSN, -R RET, -V ENVID   delivery status notification options\n"
	    "  -B 8BITMIME|7BIT body type\n"
	    "  -X FILE, -L TAG  log file, syslog tag\n"
	    "  -v               print the SMTP dialogue (secrets hidden)\n"
	    "  -i, -oi, -o*, -O, -A, -G, -U, -h, -m, -n, -c, -e, -p, -x, -bm\n"
	    "                   accepted for compatibility and ignored\n"
	    "  -bs              SMTP on standard input and output (Symfony,\n"
	    "                   Laravel): each transaction sent as a message\n"
	    "  -bi              (newaliases) does nothing\n"
	    "  --pretend        print the account that would be used, then exit\n"
	    "  --serverinfo     print what the account's server offers, then exit\n"
	    "  --store-password store the account's password in the keyring\n"
	    "  --authorize [--device|--browser]  get and store the OAuth2\n"
	    "                   tokens of an account with oauth2_provider\n"
	    "  -odq             queue the message without trying to send it\n"
	    "  -q, -qf          send the queued messages that are due (-qf: all)\n"
	    "  -bp, mailq       list the queue\n"
	    "  --queue-show ID, --queue-remove ID..., --queue-dir\n"
	    "  --version, --help\n\n"
	    "Exit codes follow sysexits(3): 0 sent or queued, 75 try again later,\n"
	    "others permanent; see smtpsend(1).\n");
}

static int
parse_body(const char *arg, int *body, struct error *err)
{
	if (strcasecmp(arg, "8BITMIME") == 0)
		*body = 8;
	else if (strcasecmp(arg, "7BIT") == 0)
		*body = 7;
	else
		return error_set(err, ERR_USAGE,
		    "-B %s: the body type is 8BITMIME or 7BIT", arg);
	return 0;
}

/* -N: "never", or a comma list of success, failure, delay (RFC 3461). */
static int
check_dsn_notify(const char *arg, struct error *err)
{
	const char *p = arg, *end;
	size_t n;

	if (strcasecmp(arg, "never") == 0)
		return 0;
	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (!((n == 7 && strncasecmp(p, "success", n) == 0) ||
		    (n == 7 && strncasecmp(p, "failure", n) == 0) ||
		    (n == 5 && strncasecmp(p, "delay", n) == 0)))
			return error_set(err, ERR_USAGE, "-N %s: give never, "
			    "or a list of success, failure and delay", arg);
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/*
 * -b<mode>: -bm (send), -bs (SMTP on stdin/stdout), -bi (newaliases), -bp
 * (mailq).  -bv and -bt are refused at once: Postfix's -bv mails a
 * verification report (an MTA's job), -bt is sendmail's address test.
 */
static int
parse_mode(const char *arg, struct opts *o, struct error *err)
{
	if (strcmp(arg, "m") == 0)
		return 0;
	o->bmode = 1;
	if (strcmp(arg, "i") == 0) {
		o->mode = MODE_NEWALIASES;
		return 0;
	}
	if (strcmp(arg, "p") == 0) {
		o->mode = MODE_QUEUE;
		return 0;
	}
	if (strcmp(arg, "s") == 0) {
		o->mode = MODE_BS;
		return 0;
	}
	if (strcmp(arg, "v") == 0)
		return error_set(err, ERR_USAGE, "-bv (verify recipients "
		    "and mail a report) is not supported");
	if (strcmp(arg, "t") == 0)
		return error_set(err, ERR_USAGE,
		    "-bt (address test mode) is not supported");
	return error_set(err, ERR_USAGE, "-b%s: unsupported mode", arg);
}

static int
parse_option(int c, const char *arg, struct opts *o, struct error *err)
{
	switch (c) {
	case 't':
		o->extract = 1;
		break;
	case 'v':
		o->verbose = 1;
		break;
	case 'f':
	case 'r':
		o->from = arg;
		break;
	case 'F':
		o->full_name = arg;
		break;
	case 'C':
		o->config = arg;
		break;
	case 'a':
	case LONG_ACCOUNT:
		o->account = arg;
		break;
	case 'N':
		o->dsn_notify = arg;
		return check_dsn_notify(arg, err);
	case 'R':
		o->dsn_return = arg;
		if (strcasecmp(arg, "hdrs") != 0 && strcasecmp(arg, "full") != 0)
			return error_set(err, ERR_USAGE,
			    "-R %s: give hdrs or full", arg);
		break;
	case 'V':
		o->dsn_envid = arg;
		break;
	case 'X':
		o->logfile = arg;
		break;
	case 'L':
		o->syslog_tag = arg;
		break;
	case 'B':
		return parse_body(arg, &o->body, err);
	case 'b':
		return parse_mode(arg, o, err);
	case 'q':
		/* -qf: every message; -q1h and the like: one flush. */
		o->mode = MODE_FLUSH;
		if (strcmp(arg, "f") == 0)
			o->force = 1;
		break;
	case 'o':
		/* -odq defers; -odi and -odb (and -odbackground) send now. */
		if (strcmp(arg, "dq") == 0)
			o->defer = 1;
		else if (strcmp(arg, "di") == 0 || strcmp(arg, "db") == 0)
			o->defer = 0;
		break;
	case LONG_FORCE:
		o->force = 1;
		break;
	case LONG_QUEUE_SHOW:
		o->mode = MODE_QUEUE_SHOW;
		o->queue_id = arg;
		break;
	case LONG_QUEUE_REMOVE:
		o->mode = MODE_QUEUE_REMOVE;
		break;
	case LONG_QUEUE_DIR:
		o->mode = MODE_QUEUE_DIR;
		break;
	case 'A': case 'O': case 'e': case 'h': case 'p':
	case 'G': case 'I': case 'U': case 'c': case 'i': case 'm':
	case 'n': case 'x':
		break;		/* sendmail options without meaning here */
	case LONG_VERSION:
		o->mode = MODE_VERSION;
		break;
	case LONG_HELP:
		o->mode = MODE_HELP;
		break;
	case LONG_PRETEND:
		o->mode = MODE_PRETEND;
		break;
	case LONG_SERVERINFO:
		o->mode = MODE_SERVERINFO;
		break;
	case LONG_AUTHORIZE:
		o->mode = MODE_AUTHORIZE;
		break;
	case LONG_DEVICE:
		o->flow = OAUTH2_FLOW_DEVICE;
		break;
	case LONG_BROWSER:
		o->flow = OAUTH2_FLOW_BROWSER;
		break;
	case LONG_STORE_PASSWORD:
		o->mode = MODE_STORE_PASSWORD;
		break;
	default:
		return error_set(err, ERR_USAGE, "unknown option");
	}
	return 0;
}

/*
 * Postfix-compatible parsing: attached or separate arguments, bundled
 * flags, options end at the first operand or "--" ('+' in the string).
 * A bare "-q" (flush the queue) has no argument, unlike "-q1h".
 */
int
options_parse(int argc, char **argv, struct opts *o, struct error *err)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, LONG_VERSION },
		{ "help", no_argument, NULL, LONG_HELP },
		{ "pretend", no_argument, NULL, LONG_PRETEND },
		{ "serverinfo", no_argument, NULL, LONG_SERVERINFO },
		{ "store-password", no_argument, NULL, LONG_STORE_PASSWORD },
		{ "authorize", no_argument, NULL, LONG_AUTHORIZE },
		{ "device", no_argument, NULL, LONG_DEVICE },
		{ "browser", no_argument, NULL, LONG_BROWSER },
		{ "account", required_argument, NULL, LONG_ACCOUNT },
		{ "force", no_argument, NULL, LONG_FORCE },
		{ "queue-show", required_argument, NULL, LONG_QUEUE_SHOW },
		{ "queue-remove", no_argument, NULL, LONG_QUEUE_REMOVE },
		{ "queue-dir", no_argument, NULL, LONG_QUEUE_DIR },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = basename(argv[0]);
	struct error ignored;
	int c, failed = 0;

	memset(o, 0, sizeof(*o));
	if (strcmp(prog, "mailq") == 0)
		o->mode = MODE_QUEUE;
	else if (strcmp(prog, "newaliases") == 0)
		o->mode = MODE_NEWALIASES;
	opterr = 0;
	for (;;) {
		if (optind < argc && strcmp(argv[optind], "-q") == 0) {
			o->mode = MODE_FLUSH;
			optind++;
			continue;
		}
		c = getopt_long(argc, argv,
		    "+A:B:C:F:GIL:N:O:R:UV:X:a:b:ce:f:h:imno:p:r:q:tvx",
		    longopts, NULL);
		if (c == -1)
			break;
		/* After an error, parsing goes on to learn the mode: a -b
		   mode that reads no message must not drain stdin. */
		if (c == '?' || c == ':') {
			if (failed)
				continue;
			failed = 1;
			if (optopt > 0 && optopt < 256)
				error_set(err, ERR_USAGE, "option -%c: %s",
				    optopt, c == ':' ? "needs an argument" :
				    "unknown option");
			else
				error_set(err, ERR_USAGE, "unknown option %s",
				    argv[optind - 1]);
			continue;
		}
		if (parse_option(c, optarg, o, failed ? &ignored : err) == -1)
			failed = 1;
	}
	if (o->flow != 0 && o->mode != MODE_AUTHORIZE)
		return error_set(err, ERR_USAGE, "--device and --browser go "
		    "with --authorize");
	o->rcpts = argv + optind;
	o->nrcpts = argc - optind;
	if (!failed && o->mode == MODE_BS && (o->nrcpts > 0 || o->extract))
		return error_set(err, ERR_USAGE, "-bs takes no recipients "
		    "and no -t: they come with RCPT TO");
	return failed ? -1 : 0;
}

const char *
options_usage(void)
{
	return usage_line;
}
