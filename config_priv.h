/*
 * config_priv.h: the config module's insides, shared by config.c (files,
 * grammar, sections, loading), config_keyword.c (the keyword table, what
 * each value means, account records) and config_account.c (the
 * environment, effective values, choosing and printing an account).
 * Not a contract.
 */
#ifndef SMTPSEND_CONFIG_PRIV_H
#define SMTPSEND_CONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_SYSTEM_FILE	"/etc/smtprc"
#define CONFIG_MSMTP_SYSTEM_FILE "/etc/msmtprc"
#define CONFIG_USER_FILE	".smtprc"
#define CONFIG_MAX_FILES	2
#define CONFIG_SHOW_MAX		32	/* longest name an error quotes */

struct account;
struct config_env;
struct error;
struct keyword;
struct name_index;

struct config {
	struct account	**accs;
	int		 *fileidx;	/* files[] index of each account */
	size_t		  nacc;
	char		 *files[CONFIG_MAX_FILES + 1];
	size_t		  nfiles;
	char		 *notes[CONFIG_MAX_FILES + 1];	/* skipped files */
	size_t		  nnotes;
	char		 *fqdn;		/* %C, looked up on first use */
};

/* State while one file is read. */
struct parser {
	struct config		*cf;
	const struct config_env	*env;
	const char		*file;
	const char		*home;		/* for ~ in values */
	int			 line;
	int			 system;	/* the system-wide file */
	struct account		*defaults;
	struct account		*cur;	/* defaults, an account or NULL */
	struct account		**accs;		/* accounts of this file */
	size_t			 nacc;
	size_t			 cap;		/* of accs */
	struct name_index	*index;		/* names in accs */
	int			 password;	/* a password was seen */
	struct error		*err;
};

/* config.c */

/* ERR_CONFIG "file:line: message" at the parser's position; returns -1. */
int	config_perr(struct parser *p, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* ERR_OS "out of memory"; returns -1. */
int	config_nomem(struct error *err);
/* Wipe and free a string that may hold a secret. NULL is fine. */
void	config_free_secret(char *s);
/* Blanks and tabs cut from both ends, in place; returns the new start. */
char	*config_trim(char *s);
/*
 * s for an error message: "'s'" when it is a short name (1 to
 * CONFIG_SHOW_MAX ASCII letters, digits and "_-.@+"), else "(not shown)":
 * a -C file may be anything (/etc/shadow as root), and no error may show
 * its content.  Returns buf.
 */
const char *config_show(const char *s, char *buf, size_t size);
#define CONFIG_SHOW_SIZE	(CONFIG_SHOW_MAX + 3)

/* config_keyword.c */

/* A record with the defaults of a fresh account; NULL if out of memory. */
struct account *config_account_new(void);
/* Wipe the password and free every string of acc. NULL is fine. */
void	config_account_free(struct account *acc);
/* Copy into dst every setting whose bit is in mask (inheritance); -1 if
   out of memory. */
int	config_account_copy(struct account *dst, struct account *src,
	    uint64_t mask);
/* The keyword called name, or NULL if there is none. */
const struct keyword *config_keyword(const char *name);
/* Set keyword kw of p->cur from the value v; -1 and p->err if v is not
   valid for kw (or kw refuses it). */
int	config_keyword_apply(struct parser *p, const struct keyword *kw,
	    const char *v);

/* config_account.c */

/* Effective values of acc once its whole file is read: auto_from, %U %H
   %C %M, the default domain and auth; -1 and *err on failure. */
int	config_account_finalize(struct config *cf,
	    const struct config_env *env, struct account *acc,
	    struct error *err);

#endif
