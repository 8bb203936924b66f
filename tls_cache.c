/*
 * tls_cache.c: TLS session tickets between runs.  A ticket holds the
 * session's secrets, so it lives in a file only we can read and write, in
 * a directory only we can write; anything else is ignored.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "fsutil.h"
#include "tls_cache.h"
#include "tls_cert.h"
#include "tls_params.h"

#define TICKET_MAX	(64 * 1024)	/* larger ticket files are not ours */

static void
sanitise_key(const char *key, char *out, size_t size)
{
	size_t i;

	for (i = 0; key[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)key[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '@')
			out[i] = (char)c;
		else
			out[i] = '_';
	}
	out[i] = '\0';
}

/*
 * A short digest of every setting that shapes the session, so that a
 * ticket made with other settings (no client certificate, another name
 * sent...) is never offered.  What is trusted is left out on purpose:
 * tls.c checks the certificate of a resumed session against today's trust
 * file, pin and CRLs, so a ticket may outlive a change of them.
 */
static void
settings_digest(const struct tls_params *p, char *out, size_t size)
{
	const char *v[5];
	unsigned char md[32];
	gnutls_hash_hd_t h;
	size_t i;

	v[0] = p->host;
	v[1] = p->cert_file;
	v[2] = p->key_file;
	v[3] = p->priorities;
	v[4] = p->min_version;
	memset(md, 0, sizeof(md));
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) == 0) {
		for (i = 0; i < 5; i++)
			gnutls_hash(h, v[i] != NULL ? v[i] : "",
			    v[i] != NULL ? strlen(v[i]) + 1 : 0);
		gnutls_hash_deinit(h, md);
	}
	snprintf(out, size, "%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
	    md[3], md[4], md[5]);
}

char *
tls_cache_path(const struct tls_params *p)
{
	char name[256], digest[16], *path;
	size_t len;

	if (p->cache_dir == NULL || p->cache_key == NULL)
		return NULL;
	sanitise_key(p->cache_key, name, sizeof(name));
	settings_digest(p, digest, sizeof(digest));
	len = strlen(p->cache_dir) + strlen(name) + 32;
	path = malloc(len);
	if (path != NULL)
		snprintf(path, len, "%s/%s-%s.tls", p->cache_dir, name,
		    digest);
	return path;
}

/* A ticket file or directory only we can write: anything else is ignored. */
static int
is_private(const struct stat *st)
{
	return st->st_uid == geteuid() && (st->st_mode & 022) == 0;
}

/*
 * A ticket file: MAGIC, the size of the record, the record (what the
 * verification relied on), then GnuTLS's session data.  A file without
 * the magic is session data alone, from before records were kept.
 */
#define MAGIC		"smtpsend tkt v1"	/* 16 bytes with its NUL */

int
tls_cache_read(const char *path, struct tls_cert_basis *b, gnutls_datum_t *d)
{
	struct stat st;
	unsigned char *buf = NULL;
	uint32_t size;
	size_t head = sizeof(MAGIC) + sizeof(size) + sizeof(*b);
	ssize_t n;
	int fd, ret = -1;

	memset(b, 0, sizeof(*b));
	d->data = NULL;
	d->size = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || !is_private(&st) ||
	    st.st_size <= 0 || st.st_size > TICKET_MAX)
		goto done;
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		goto done;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		goto done;
	if ((size_t)n > head && memcmp(buf, MAGIC, sizeof(MAGIC)) == 0) {
		memcpy(&size, buf + sizeof(MAGIC), sizeof(size));
		if (size != sizeof(*b))
			goto done;	/* another build's: unusable */
		memcpy(b, buf + sizeof(MAGIC) + sizeof(size), sizeof(*b));
		b->trust[sizeof(b->trust) - 1] = '\0';
		memmove(buf, buf + head, (size_t)n - head);
		n -= (ssize_t)head;
	}
	d->data = buf;
	d->size = (unsigned int)n;
	buf = NULL;
	ret = 0;
done:
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return ret;
}

void
tls_cache_data_free(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		explicit_bzero(d->data, d->size);
		free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

void
tls_cache_remove(const char *path, FILE *verbose)
{
	if (unlink(path) == 0 && verbose != NULL)
		fprintf(verbose, "--- removed TLS session ticket %s\n", path);
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_file(const char *path, const struct tls_cert_basis *b,
    const gnutls_datum_t *d)
{
	uint32_t size = sizeof(*b);
	char dir[4096], tmp[4096 + 16];
	struct stat st;
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	if (fs_mkdirs(dir) == -1 || stat(dir, &st) == -1 ||
	    !is_private(&st))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/.ticket.XXXXXX", dir);
	fd = mkstemp(tmp);	/* mode 0600 */
	if (fd == -1)
		return -1;
	if (fchmod(fd, 0600) == -1 ||
	    write_all(fd, (const unsigned char *)MAGIC, sizeof(MAGIC)) == -1 ||
	    write_all(fd, (const unsigned char *)&size, sizeof(size)) == -1 ||
	    write_all(fd, (const unsigned char *)b, sizeof(*b)) == -1 ||
	    write_all(fd, d->data, d->size) == -1 || close(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tls_cache_save(gnutls_session_t s, const char *path,
    const struct tls_cert_basis *b, FILE *verbose)
{
	gnutls_datum_t d = { NULL, 0 };
	int ret;

	if (gnutls_session_get_data2(s, &d) < 0 || d.size == 0)
		return -1;
	ret = write_file(path, b, &d);
	if (verbose != NULL)
		fprintf(verbose, "--- %s TLS session ticket %s\n",
		    ret == 0 ? "saved" : "could not save", path);
	explicit_bzero(d.data, d.size);
	gnutls_free(d.data);
	return ret;
}
