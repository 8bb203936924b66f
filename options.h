/*
 * options.h: the sendmail command line (options.c), parsed into a plain
 * struct that main() acts on.
 */
#ifndef SMTPSEND_OPTIONS_H
#define SMTPSEND_OPTIONS_H

struct error;

enum mode {
	MODE_SEND,
	MODE_VERSION,
	MODE_HELP,
	MODE_PRETEND,
	MODE_SERVERINFO,
	MODE_STORE_PASSWORD,
	MODE_AUTHORIZE,
	MODE_NEWALIASES,
	MODE_QUEUE,		/* mailq, -bp */
	MODE_FLUSH,		/* -q, -qf */
	MODE_QUEUE_SHOW,	/* --queue-show ID */
	MODE_QUEUE_REMOVE,	/* --queue-remove ID... */
	MODE_QUEUE_DIR,		/* --queue-dir */
	MODE_BS,
};

/* Everything the command line says; argv strings are borrowed, not copied. */
struct opts {
	enum mode	  mode;
	int		  extract;	/* -t */
	int		  verbose;	/* -v */
	int		  body;		/* -B: 0, 7 or 8 */
	const char	 *from;		/* -f / -r, NULL if not given */
	const char	 *full_name;	/* -F */
	const char	 *config;	/* -C */
	const char	 *account;	/* -a / --account */
	const char	 *dsn_notify;	/* -N */
	const char	 *dsn_return;	/* -R */
	const char	 *dsn_envid;	/* -V */
	const char	 *logfile;	/* -X */
	const char	 *syslog_tag;	/* -L */
	int		  bmode;	/* a -b other than -bm: stdin is no message */
	int		  flow;		/* --device/--browser: oauth2_flow */
	int		  defer;	/* -odq: queue without trying */
	int		  force;	/* -qf, -q --force: ignore backoff */
	const char	 *queue_id;	/* --queue-show */
	char		**rcpts;	/* operands */
	int		  nrcpts;
};

/*
 * Parse argv into *o (zeroed first; strings point into argv): the mode
 * from the name called and the options, the operands as recipients.
 * -1 with *err on a usage error; o->mode and o->bmode are still set then,
 * so that the caller knows whether stdin holds a message.
 */
int	options_parse(int argc, char **argv, struct opts *o,
	    struct error *err);

/* Print the --help text on stdout. */
void	options_help(void);

/* The one-line usage message (static, no newline). */
const char *options_usage(void);

#endif
