/*
 * bs_parse.c: the syntax of -bs commands, without the session: the
 * keyword after MAIL and RCPT, the reverse- or forward-path, the
 * "KEY=VALUE" parameters, NOTIFY's value and RFC 3461 xtext.  bs.c
 * decides what each means and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bs_parse.h"

/* "FROM:" / "TO:" after the verb, case-insensitive; NULL if absent. */
char *
bs_after_keyword(char *arg, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

/*
 * A reverse- or forward-path: "<addr>" (a source route "@a,@b:" dropped)
 * or, as Postfix allows, a bare address.  *addr points into the line,
 * *rest at the parameters.  Returns -1 on bad syntax: no closing ">",
 * a blank, a control byte or a bracket inside, a missing local part or
 * domain around "@".
 */
int
bs_parse_path(char *p, char **addr, char **rest)
{
	char *a, *end, *at = NULL;
	int quoted = 0;

	if (*p == '<') {
		a = ++p;
		for (; *p != '\0' && (quoted || *p != '>'); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p[1] != '\0')
				p++;
		}
		if (*p != '>')
			return -1;
		end = p++;
	} else {
		a = p;
		while (*p != '\0' && *p != ' ')
			p++;
		end = p;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	*end = '\0';
	if (a[0] == '@') {		/* source route, obsolete */
		a = strchr(a, ':');
		if (a == NULL)
			return -1;
		a++;
	}
	for (end = a, quoted = 0; *end != '\0'; end++) {
		if ((unsigned char)*end < 0x20 || *end == 0x7f)
			return -1;
		if (*end == '"')
			quoted = !quoted;
		else if (!quoted && (*end == ' ' || *end == '<' ||
		    *end == '>' || *end == ',' || *end == ';'))
			return -1;
		else if (!quoted && *end == '@')
			at = end;
	}
	if (quoted || (at != NULL && (at == a || at[1] == '\0')))
		return -1;
	while (*p == ' ')
		p++;
	*addr = a;
	*rest = p;
	return 0;
}

/* RFC 3461 xtext ("+2B" for "+") into plain text; -1 if malformed. */
int
bs_xtext_decode(const char *s, char **out)
{
	char *d = malloc(strlen(s) + 1), *q = d;
	unsigned int v;

	if (d == NULL)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s == '+') {
			if (sscanf(s + 1, "%2X", &v) != 1 ||
			    strspn(s + 1, "0123456789ABCDEF") < 2 ||
			    v < 0x21 || v > 0x7e)
				goto bad;
			*q++ = (char)v;
			s += 2;
		} else if (*s >= 0x21 && *s <= 0x7e && *s != '=') {
			*q++ = *s;
		} else {
			goto bad;
		}
	}
	*q = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return -1;
}

/* NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY. */
int
bs_notify_ok(const char *v)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	const char *p = v;
	size_t n, k;

	if (strcasecmp(v, "NEVER") == 0)
		return 1;
	for (;;) {
		n = strcspn(p, ",");
		for (k = 0; k < 3; k++)
			if (n == strlen(words[k]) &&
			    strncasecmp(p, words[k], n) == 0)
				break;
		if (k == 3)
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

/* Next "KEY[=VALUE]" of a parameter list; NULL at the end. */
char *
bs_next_param(char **rest, char **value)
{
	char *k = *rest, *e;

	while (*k == ' ')
		k++;
	if (*k == '\0')
		return NULL;
	e = k + strcspn(k, " ");
	*rest = *e != '\0' ? e + 1 : e;
	*e = '\0';
	*value = strchr(k, '=');
	if (*value != NULL)
		*(*value)++ = '\0';
	return k;
}

int
bs_has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}
