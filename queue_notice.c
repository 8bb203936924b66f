/*
 * queue_notice.c: the failure notice for a message that left the queue
 * undelivered (a permanent refusal, or queue_lifetime passed).  A short
 * multipart/report in the style of RFC 3464 with the original headers,
 * sent with the null envelope sender <> to the message's sender, through
 * the message's own account, so that it cannot loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "error.h"
#include "message.h"
#include "queue.h"
#include "queue_priv.h"
#include "send.h"
#include "submit.h"

static void
rfc5322_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* The report as a message file; the caller reads it back as a message. */
static void
write_report(FILE *fp, const struct envelope *e, const char *dir,
    const char *domain, const char *host, const char *status,
    const char *reason)
{
	char now[64], arrived[64];
	unsigned int r = 0;
	size_t i;

	/* Only the notice's Message-ID uses it, beside the queue id, which
	   is unique already. */
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = 0;
	rfc5322_date(time(NULL), now, sizeof(now));
	rfc5322_date(e->queued, arrived, sizeof(arrived));
	fprintf(fp, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", domain);
	fprintf(fp, "To: <%s>\n", e->sender);
	fprintf(fp, "Subject: Undelivered Mail Returned to Sender\n");
	fprintf(fp, "Date: %s\n", now);
	fprintf(fp, "Message-ID: <%s.%08x.notice@%s>\n", e->id, r, domain);
	fprintf(fp, "Auto-Submitted: auto-replied\n");
	fprintf(fp, "MIME-Version: 1.0\n");
	fprintf(fp, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s/smtpsend\"\n\n",
	    e->id);
	fprintf(fp, "This is a MIME-encapsulated message.\n\n");
	fprintf(fp, "--%s/smtpsend\n", e->id);
	fprintf(fp, "Content-Description: Notification\n");
	fprintf(fp, "Content-Type: text/plain; charset=utf-8\n\n");
	fprintf(fp, "This is smtpsend on %s.\n\n", host);
	fprintf(fp, "Your message could not be delivered and will not be "
	    "retried.\nA copy is kept as %s in %s/failed/.\n\n", e->id, dir);
	for (i = 0; i < e->nrcpts; i++)
		fprintf(fp, "<%s>: %s\n", e->rcpts[i], reason);
	fprintf(fp, "\n--%s/smtpsend\n", e->id);
	fprintf(fp, "Content-Description: Delivery report\n");
	fprintf(fp, "Content-Type: message/delivery-status\n\n");
	fprintf(fp, "Reporting-MTA: dns; %s\n", host);
	fprintf(fp, "X-Smtpsend-Queue-ID: %s\n", e->id);
	fprintf(fp, "Arrival-Date: %s\n", arrived);
	for (i = 0; i < e->nrcpts; i++) {
		fprintf(fp, "\nFinal-Recipient: rfc822; %s\n", e->rcpts[i]);
		fprintf(fp, "Action: failed\n");
		fprintf(fp, "Status: %s\n", status);
		fprintf(fp, "Diagnostic-Code: smtp; %s\n", reason);
	}
	fprintf(fp, "\n--%s/smtpsend\n", e->id);
	fprintf(fp, "Content-Description: Undelivered Message Headers\n");
	fprintf(fp, "Content-Type: text/rfc822-headers\n\n");
	fwrite(e->headers, 1, e->headers_len, fp);
	fprintf(fp, "\n--%s/smtpsend--\n", e->id);
}

int
queue_notice(const struct account *acc, const char *secret,
    struct scram_kept *scram, struct submit_token *tok,
    const struct envelope *e, const char *dir,
    const char *status, const char *reason, FILE *verbose, struct error *err)
{
	struct addr_list to = { 0 };
	struct message *m = NULL;
	struct send_result res;
	struct send_job job;
	char host[256] = "localhost";
	const char *domain;
	FILE *fp;
	int ret = -1;

	/* A bounce of a bounce would loop: the null sender gets none. */
	if (e->sender[0] == '\0')
		return 0;
	(void)gethostname(host, sizeof(host) - 1);
	domain = addr_domain(e->sender);
	if (acc->from != NULL && addr_domain(acc->from) != NULL)
		domain = addr_domain(acc->from);
	if (domain == NULL)
		domain = acc->domain;
	fp = tmpfile();
	if (fp == NULL)
		return error_set(err, ERR_IO, "cannot write the failure "
		    "notice: no temporary file");
	write_report(fp, e, dir, domain, host, status, reason);
	if (fflush(fp) == EOF || fseek(fp, 0, SEEK_SET) == -1) {
		error_set(err, ERR_IO, "cannot write the failure notice");
		goto out;
	}
	if (message_read(&m, fileno(fp), NULL, err) == -1 ||
	    addr_list_add(&to, e->sender, NULL, err) == -1)
		goto out;
	memset(&job, 0, sizeof(job));
	job.acc = acc;
	job.from = "";
	job.rcpts = &to;
	job.msg = m;
	job.secret = secret;
	job.scram = scram;
	job.verbose = verbose;
	if (tok != NULL)
		submit_refresh(&job, tok);
	ret = send_message(&job, &res, err);
out:
	addr_list_free(&to);
	message_free(m);
	fclose(fp);
	return ret;
}
