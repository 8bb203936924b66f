/*
 * strbuf.h: a growing NUL-terminated string.  An allocation failure sets a
 * sticky oom flag: later appends do nothing, so callers append freely and
 * check once at the end.  Not for secrets (realloc leaves unwiped copies;
 * see secret_buf in secret.h).
 */
#ifndef SMTPSEND_STRBUF_H
#define SMTPSEND_STRBUF_H

#include <stddef.h>

/* Zero-initialise before use: struct strbuf b = {0}. */
struct strbuf {
	char	*p;	/* NULL until the first append; malloc'ed */
	size_t	 len;	/* bytes in p, not counting the NUL */
	size_t	 cap;
	int	 oom;	/* an allocation failed: p is truncated */
};

/* Append n bytes of s (no NUL needed). */
void	strbuf_add(struct strbuf *b, const char *s, size_t n);

/* Append the string s. */
void	strbuf_str(struct strbuf *b, const char *s);

/* Append printf-style; a format error is treated like oom. */
void	strbuf_printf(struct strbuf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Free b->p and reset b to empty (oom cleared).  The caller owns b->p
   until then and may take it instead of calling this. */
void	strbuf_free(struct strbuf *b);

#endif
