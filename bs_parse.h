/*
 * bs_parse.h: the syntax of -bs commands (bs_parse.c), for bs.c.  Each
 * function works on the command line in place and keeps no state.
 */
#ifndef SMTPSEND_BS_PARSE_H
#define SMTPSEND_BS_PARSE_H

/* arg after the keyword kw ("FROM:", "TO:"; case-insensitive) and the
   blanks that follow it; NULL if arg does not start with kw. */
char	*bs_after_keyword(char *arg, const char *kw);

/* A "<path>" or bare address at p, cut in place: *addr is the address
   (source route dropped), *rest the parameters.  -1 on bad syntax. */
int	 bs_parse_path(char *p, char **addr, char **rest);

/* RFC 3461 xtext s decoded into *out (malloc'ed, the caller frees it);
   -1 if malformed or out of memory. */
int	 bs_xtext_decode(const char *s, char **out);

/* 1 if v is a valid NOTIFY value (NEVER, or SUCCESS,FAILURE,DELAY). */
int	 bs_notify_ok(const char *v);

/* The next "KEY[=VALUE]" in *rest, cut in place: the key, *value (NULL
   without "="), *rest moved past it; NULL at the end of the list. */
char	*bs_next_param(char **rest, char **value);

/* 1 if s has an octet over 0x7f. */
int	 bs_has_8bit(const char *s);

#endif
