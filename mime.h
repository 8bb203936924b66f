/*
 * mime.h: breaks the body lines that are too long for SMTP (over 998
 * octets), streaming, in constant memory.  It either breaks every long
 * line, or follows the MIME structure (RFC 2046: boundaries, nested
 * multiparts, each part's Content-Type and Content-Transfer-Encoding,
 * message/rfc822 inside) and breaks only the lines of text parts sent as
 * they are (7bit, 8bit or no encoding), the preambles and the epilogues;
 * other long lines (other types, encoded parts, part headers, delimiter
 * lines) are left whole, since a break would change their data.  The same
 * input always gets the same breaks, so a counting pass gives the size of
 * what a writing pass sends.  A second pass can re-encode the text parts
 * the first found long lines in as quoted-printable instead (mime_encode).
 */
#ifndef SMTPSEND_MIME_H
#define SMTPSEND_MIME_H

#include <stddef.h>
#include <stdint.h>

struct error;
struct mime;

typedef int (*mime_sink)(void *ctx, const void *buf, size_t len,
    struct error *err);

/*
 * A breaker for a body of CRLF lines.  follow 0: every long line is
 * broken.  follow 1: ctype and cte are the values of the message's
 * Content-Type and Content-Transfer-Encoding fields (NULL: absent), and
 * the MIME structure decides.  NULL when out of memory.
 */
struct mime *mime_new(int follow, const char *ctype, const char *cte);

/*
 * Pass n octets on to sink (NULL: count only), with CRLF inserted where a
 * line reaches 998 octets (997 from a '.') and may be broken.  0, or -1
 * with the sink's error.
 */
int	mime_feed(struct mime *mm, const char *p, size_t n, mime_sink sink,
	    void *ctx, struct error *err);

#define MIME_QP_PARTS	256	/* parts past this one are broken instead */

/* What a whole body showed (call after the last mime_feed). */
struct mime_result {
	uint64_t	breaks;		/* CRLFs inserted */
	uint64_t	kept;		/* long lines left whole */
	uint64_t	out;		/* octets passed on */
	const char	*bad;		/* the structure is malformed: why, else NULL */
	char		broken[160];	/* "part 1 (text/plain), epilogue" */
	char		whole[160];	/* the parts of the lines left whole */
	char		encoded[160];	/* the parts (to be) re-encoded */
	int		marked;		/* parts marked in mark */
	unsigned char	mark[MIME_QP_PARTS / 8];	/* by delimiter order */
};
void	mime_result(const struct mime *mm, struct mime_result *r);

/*
 * Before the first mime_feed: plan is a first pass's result over the same
 * body.  The text parts it marked (after a delimiter, not encoded, with
 * a long line) are sent quoted-printable, their Content-Transfer-Encoding
 * replaced, instead of being broken.
 */
void	mime_encode(struct mime *mm, const struct mime_result *plan);

void	mime_free(struct mime *mm);

#endif
