#ifndef SMTPSEND_FSUTIL_H
#define SMTPSEND_FSUTIL_H

/*
 * fsutil.h: file-system helpers the private stores share (the queue, the
 * TLS ticket cache, the SCRAM cache).
 */

/*
 * mkdir -p: every missing level of dir is made with mode 0700.  0, or -1
 * with errno set (ENAMETOOLONG for a name that does not fit PATH_MAX).
 */
int	fs_mkdirs(const char *dir);

#endif
