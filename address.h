/*
 * address.h: RFC 5322 address lists as they come from argv and headers,
 * aliases (msmtp's format) and qualification of bare local names.
 */
#ifndef SMTPSEND_ADDRESS_H
#define SMTPSEND_ADDRESS_H

#include <stddef.h>

struct error;

struct addr {
	char	*addr;	/* addr-spec "local@domain", or "root"; "" = null path */
	char	*name;	/* display name (decoded, unquoted), or NULL */
};

struct addr_list {
	struct addr	*v;
	size_t		 n;
	size_t		 cap;
};

/*
 * Parse s as an RFC 5322 address-list and append every mailbox to l (group
 * members included, empty groups add nothing).  Accepts what callers really
 * pass: bare local names, comma lists from cron, display names, comments,
 * quoted local parts, "<>" (null path, only where allowed by the caller).
 * Errors are ERR_USAGE with a message quoting the input; l is then unchanged.
 */
int	addr_list_parse(struct addr_list *l, const char *s, struct error *err);

/* Append a copy of addr (and name, may be NULL). Returns 0 or -1 (ERR_OS). */
int	addr_list_add(struct addr_list *l, const char *addr, const char *name,
	    struct error *err);

/*
 * A set of addresses compared as recipients are: the local part exactly,
 * the domain without regard to case ("root" only equals "root").  Lookups
 * and additions take constant time on average; addr_list_resolve() removes
 * duplicates with it.  hint: how many are expected (0: unknown), so the
 * table need not grow.  NULL / -1 with ERR_OS when out of memory.
 */
struct addr_set;
struct addr_set *addr_set_new(size_t hint, struct error *err);

/* 1 if the set holds addr. */
int	addr_set_has(const struct addr_set *s, const char *addr);

/* Add a copy of addr: 1 if it was new, 0 if it was there, -1 (ERR_OS). */
int	addr_set_add(struct addr_set *s, const char *addr, struct error *err);

/* NULL is fine. */
void	addr_set_free(struct addr_set *s);

void	addr_list_free(struct addr_list *l);

struct aliases;

/* Load an msmtp aliases file ("name: addr, addr", "default: addr"). */
int	aliases_load(struct aliases **ap, const char *path, struct error *err);
void	aliases_free(struct aliases *a);

/*
 * Replace every unqualified address in l (addr_at() NULL) by its aliases
 * entry (or the "default" entry), else qualify it with @domain, removing
 * duplicates (the first is kept; see addr_set).  a may be NULL.  The null address "" is refused (ERR_USAGE);
 * more than 1000 recipients out of aliases entries is ERR_CONFIG.
 */
int	addr_list_resolve(struct addr_list *l, const struct aliases *a,
	    const char *domain, struct error *err);

/*
 * s (an address-list header value) with "@domain" inserted after every
 * address that has none; names, comments, groups and spacing are kept
 * ("root (Cron Daemon)" -> "root@example.org (Cron Daemon)").  Returns a
 * malloc'ed string, or NULL with *err set (ERR_USAGE: s does not parse).
 * Added by the message module (additive).
 */
char	*addr_qualify_text(const char *s, const char *domain,
	    struct error *err);

/*
 * addr_qualify_text() for a header: each bare name becomes what the
 * envelope makes of it, its aliases entry (a, may be NULL; the "default"
 * entry too) when that is a single address, else name@domain.  Names,
 * comments, groups and spacing are kept.  Malloc'ed, or NULL with *err
 * (ERR_USAGE: s does not parse).
 */
char	*addr_rewrite_text(const char *s, const struct aliases *a,
	    const char *domain, struct error *err);

/* 1 if s has only ASCII bytes. */
int	addr_is_ascii(const char *s);

/*
 * The '@' between the local part and the domain of addr (the last '@'
 * outside quoted strings and domain literals: "\"a@b\"" has none), or
 * NULL when addr is unqualified.  Added for the fuzz findings (additive).
 */
const char *addr_at(const char *addr);

/* The domain part of addr (after addr_at()), or NULL. */
const char *addr_domain(const char *addr);

#endif
