/*
 * log.h: one line per attempt to the logfile and/or syslog; never a secret.
 */
#ifndef SMTPSEND_LOG_H
#define SMTPSEND_LOG_H

struct account;
struct addr_list;
struct error;
struct send_result;

struct log_record {
	const struct account	*acc;
	const char		*from;
	const struct addr_list	*rcpts;
	unsigned long long	 size;
	const struct send_result *res;	/* may be NULL (failed before sending) */
	const struct error	*err;	/* kind ERR_NONE on success */
	int			 exit_code;
	const char		*logfile;	/* -X overrides acc->logfile */
	const char		*syslog_tag;	/* -L, or NULL for "smtpsend" */
	/* Added by the queue module (additive): what happened in the queue,
	   "queued:ID", "delivered:ID", "retry:ID", "failed:ID"... or NULL. */
	const char		*queue;
};

/* Write the line where the account asks (without a syslog line: to
   LOG_MAIL when stderr is not a terminal); failures are reported on stderr
   but never change the exit code. */
void	log_attempt(const struct log_record *rec);

#endif
