/*
 * message.h: the message spool.  stdin is copied once into a private,
 * unlinked temporary file with clean line ends; the header block is indexed
 * so headers can be read, added and removed when the message is sent.  Memory
 * use does not depend on the message size.
 */
#ifndef SMTPSEND_MESSAGE_H
#define SMTPSEND_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct error;
struct addr_list;
struct aliases;
struct message;

/*
 * Read fd to EOF into a spool under tmpdir (when it is NULL or no file
 * can be made there: $TMPDIR, else /tmp), mode 0600, nameless (O_TMPFILE)
 * or unlinked at once.  While copying: LF, CR and CRLF become CRLF;
 * NUL bytes are dropped; header lines over 998 octets are folded, body lines
 * kept whole and counted (message_fix decides); a final CRLF is added.  On error fd is still
 * read to EOF (no SIGPIPE for the writer).  Errors: ERR_IO, ERR_OS.
 */
int	message_read(struct message **mp, int fd, const char *tmpdir,
	    struct error *err);

/* 1 if the input held nothing (no octet but NULs): there is no message. */
int	message_is_empty(const struct message *m);
/*
 * The same spool fed piece by piece, for input that is not a whole fd
 * (the DATA of -bs, unstuffed by the caller): message_input_new opens the
 * spool, message_input_feed applies message_read's rules to each piece,
 * message_input_end finishes it into *mp and frees in.  After an error
 * the input can only be freed.  message_input_free(NULL) is fine.
 */
struct message_input;
int	message_input_new(struct message_input **ip, const char *tmpdir,
	    struct error *err);
int	message_input_feed(struct message_input *in, const void *buf,
	    size_t len, struct error *err);
int	message_input_end(struct message_input *in, struct message **mp,
	    struct error *err);
void	message_input_free(struct message_input *in);

/* Read fd to EOF, discarding (for early errors). */
void	message_drain(int fd);

/*
 * Append the recipients of the headers for -t: every To, Cc and Bcc, or,
 * when the message has Resent-* headers, those of the first (topmost)
 * Resent- block only.
 */
int	message_recipients(const struct message *m, struct addr_list *l,
	    struct error *err);

/*
 * Append the addresses of the first header field called name ("From");
 * nothing if there is none.  Errors: ERR_DATA when it does not parse.
 */
int	message_header_addrs(const struct message *m, const char *name,
	    struct addr_list *l, struct error *err);

/* 1 if the message has a header field called name (case-insensitive). */
int	message_has_header(const struct message *m, const char *name);

/* 1 if any byte of the message (headers or body) is >= 0x80. */
int	message_is_8bit(const struct message *m);

/* What message_fix changes in the header block when it is sent. */
struct message_fixes {
	const char	*from_addr;	/* address for an added From, or NULL */
	const char	*from_name;	/* display name (-F / from_full_name) */
	int		 from_mode;	/* -1 add when missing, 1 always replace, 0 never */
	int		 add_date;	/* add Date when missing */
	const char	*msgid_domain;	/* add Message-ID <rand@domain> when missing; NULL = no */
	int		 remove_bcc;	/* drop Bcc and Resent-Bcc */
	/* Added (additive): bare names in a kept From field ("root",
	   "Anacron <root>") get @domain; NULL = the domain of from_addr. */
	const char	*domain;
	/* Added (additive): drop every To, Cc and Bcc and add
	   "To: undisclosed-recipients:;" (msmtp's undisclosed_recipients). */
	int		 undisclosed;
	/* Added (additive): the bare names of From, Sender, Reply-To, To,
	   Cc and their Resent- forms are qualified like From's (above);
	   in the recipient fields (Reply-To, To, Cc, Resent-To, Resent-Cc)
	   an aliases entry of one address replaces the name (may be NULL). */
	const struct aliases *aliases;
	int		 keep_addrs;	/* rewrite_headers off: none of it */
};

/*
 * Decide the header changes (builds added header lines, quoting or RFC 2047
 * encoding the display name).  Call once before message_size/message_write.
 */
int	message_fix(struct message *m, const struct message_fixes *fx,
	    struct error *err);

/*
 * For -v: after message_fix, a line on fp when body lines were over 998
 * octets, saying whether the body goes quoted-printable or the lines are
 * broken (in which MIME parts), and why; another naming the parts whose
 * long lines are sent whole.  Nothing otherwise.
 */
void	message_note_long_lines(const struct message *m, FILE *fp);

/* Exact size in octets of what message_write sends without dot-stuffing. */
uint64_t message_size(const struct message *m);

typedef int (*message_sink)(void *ctx, const void *buf, size_t len,
    struct error *err);

/*
 * Stream the message (added headers, kept headers, body) to sink.  With
 * dotstuff, lines starting with '.' get another '.' (DATA); the caller sends
 * the final ".\r\n".  Reads the spool in fixed-size blocks.
 */
int	message_write(const struct message *m, int dotstuff, message_sink sink,
	    void *ctx, struct error *err);

/*
 * Queue support (additive).  Make the body spool durable as dirfd/name:
 * fsync, then a hard link to the spool (no copy), or, when the spool is
 * on another file system, a copy through dirfd/tmpname, synced and
 * renamed.  Errors: ERR_IO (EEXIST when name is taken).
 */
int	message_spool_save(const struct message *m, int dirfd,
	    const char *name, const char *tmpname, struct error *err);

/*
 * The header block exactly as message_write sends it (fixes applied), in a
 * malloc'ed *out of *len octets, without the empty line; *sep says whether
 * that line is sent.
 */
int	message_headers(const struct message *m, char **out, size_t *len,
	    int *sep, struct error *err);

/*
 * A message from the queue: the stored header block (message_headers) and
 * the body file bodyfd of bodylen octets, owned by the message on success
 * (the caller keeps it on failure).  No fixes are applied again; qp says
 * the body goes quoted-printable (message_is_qp() when it was queued), and
 * the body is scanned again for what the writer must know (long lines).
 */
int	message_from_queue(struct message **mp, const char *hdr,
	    size_t hdrlen, int bodyfd, uint64_t bodylen, int sep, int eightbit,
	    int qp, struct error *err);

/* 1 if message_fix chose to send the body quoted-printable. */
int	message_is_qp(const struct message *m);

/* Close the spool and free. NULL is fine. */
void	message_free(struct message *m);

#endif
