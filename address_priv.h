/*
 * address_priv.h: the address module's insides, shared by address.c
 * (lists, the duplicate set, the parts of an address), address_parse.c
 * (the RFC 5322 parser) and address_text.c (header text with its bare
 * names qualified).  Not a contract.
 */
#ifndef SMTPSEND_ADDRESS_PRIV_H
#define SMTPSEND_ADDRESS_PRIV_H

#include <stddef.h>

#include "address.h"

struct error;

/* Make room in l for more entries: 0, or -1 (ERR_OS) with l unchanged. */
int	addr_list_grow(struct addr_list *l, size_t more, struct error *err);

/*
 * What the parser found in an address-list: the mailboxes, and for each
 * local part without a domain, in the order of the input, where it starts
 * (insa) and ends (ins) in the input and which entry of out it became
 * (insk).
 */
struct addr_parsed {
	struct addr_list out;
	size_t		*ins;
	size_t		 nins;
	size_t		*insa;
	size_t		*insk;
};

/*
 * Parse s into *r, which is filled either way: free it with
 * addr_parsed_free().  0, or -1 with ERR_USAGE quoting s (or ERR_OS).
 */
int	addr_parse(struct addr_parsed *r, const char *s, struct error *err);
void	addr_parsed_free(struct addr_parsed *r);

#endif
