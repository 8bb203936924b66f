/*
 * secret.c: the password or token of an account, from the first source
 * that has one: "password" in the config, "passwordeval", the keyring
 * (keyring.c), a prompt on /dev/tty.  Every buffer that held a secret is
 * wiped before it is freed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "child.h"
#include "config.h"
#include "error.h"
#include "io.h"
#include "keyring.h"
#include "oauth2.h"
#include "scram_cache.h"
#include "secret.h"

#define PROMPT_TIMEOUT_MS (300 * 1000)

void
secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

/* A malloc'ed copy of the first line of b (CR LF or LF removed). */
static char *
first_line(const struct child_buf *b)
{
	size_t n = 0;
	char *s;

	while (n < b->len && b->p[n] != '\n')
		n++;
	if (n > 0 && b->p[n - 1] == '\r')
		n--;
	s = malloc(n + 1);
	if (s != NULL) {
		memcpy(s, b->p, n);
		s[n] = '\0';
	}
	return s;
}

/* The passwordeval child: never returns. */
static void
eval_main(void *arg)
{
	/* From cron, give the command the user's bus too, like our lookup:
	   "passwordeval secret-tool lookup ..." is a common recipe. */
	keyring_fix_bus_env();
	execl("/bin/sh", "sh", "-c", (const char *)arg, (char *)NULL);
	_exit(127);
}

static int
eval_error(const struct account *acc, const char *why, struct error *err)
{
	if (why[0] != '\0')
		error_set(err, ERR_SECRET, "passwordeval of account %s %s",
		    acc->name, why);
	else
		error_set(err, ERR_SECRET,
		    "passwordeval of account %s printed "
		    "no password",
		    acc->name);
	/* Not quoting the command: it may hold a secret itself. */
	error_hint(err,
	    "run the passwordeval command of account %s by hand "
	    "to see why",
	    acc->name);
	return -1;
}

/* passwordeval: sh -c CMD, stdin /dev/null, first line of stdout. */
static int
run_eval(const struct account *acc, char **secret, struct error *err)
{
	struct child_result r;
	struct error cerr;
	char why[64];
	int timeout_ms, rc = -1;

	timeout_ms = (acc->timeout > 0 ? acc->timeout : 60) * 1000;
	error_clear(&cerr);
	if (child_run(eval_main, acc->passwordeval, timeout_ms, &r, &cerr) ==
	    -1)
		return error_set(err, ERR_SECRET,
		    "passwordeval of account %s: %s", acc->name, cerr.msg);
	if (!child_ok(&r) || r.out.len == 0 || r.out.p[0] == '\n' ||
	    r.out.p[0] == '\r')
		eval_error(acc, child_why(&r, timeout_ms, why, sizeof(why)),
		    err);
	else if ((*secret = first_line(&r.out)) == NULL)
		error_set(err, ERR_OS, "out of memory");
	else
		rc = 0;
	child_buf_free(&r.out);
	return rc;
}

/* Restores the terminal if a signal arrives while echo is off. */
static struct termios prompt_saved;
static volatile sig_atomic_t prompt_fd = -1;

static void
prompt_signal(int sig)
{
	if (prompt_fd != -1)
		tcsetattr(prompt_fd, TCSAFLUSH, &prompt_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read one line from fd, bounded in time and length. */
static int
read_line(int fd, int timeout_ms, struct child_buf *b)
{
	long long deadline = io_now_ms() + timeout_ms;
	struct pollfd pfd;
	char c;
	ssize_t n;
	int ms;

	for (;;) {
		ms = (int)(deadline - io_now_ms());
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (ms <= 0 || poll(&pfd, 1, ms) == 0)
			return -1;
		n = read(fd, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			return n < 0 ? -1 : 0;
		if (child_buf_add(b, &c, 1) == -1)
			return -1;
	}
}

/*
 * Ask on /dev/tty without echo.  Returns 1 with *secret, 0 when there is
 * no terminal to ask on (or we are not its foreground process group, where
 * reading would stop us), -1 on error.
 */
static int
secret_prompt(const char *what, char **secret, struct error *err)
{
	struct child_buf b = {0};
	struct termios t;
	struct sigaction sa, old[3];
	static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	int fd, i, rc;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &prompt_saved) == -1) {
		close(fd);
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_signal;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	prompt_fd = fd;
	t = prompt_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	t.c_lflag |= ICANON;
	/* Echo off (and typeahead dropped) before the prompt is visible. */
	tcsetattr(fd, TCSAFLUSH, &t);
	dprintf(fd, "smtpsend: %s: ", what);
	rc = read_line(fd, PROMPT_TIMEOUT_MS, &b);
	tcsetattr(fd, TCSAFLUSH, &prompt_saved);
	prompt_fd = -1;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	dprintf(fd, "\n");
	close(fd);
	if (rc == -1 || b.len == 0) {
		child_buf_free(&b);
		return error_set(err, ERR_SECRET, "no password entered");
	}
	*secret = first_line(&b);
	child_buf_free(&b);
	return *secret == NULL ? error_set(err, ERR_OS, "out of memory") : 1;
}

static int
no_secret(const struct account *acc, const char *note, struct error *err)
{
	error_set(err, ERR_SECRET,
	    "no password for account %s (user %s at "
	    "%s): none in the config, from the keyring%s, or a terminal",
	    acc->name, acc->user != NULL ? acc->user : "?",
	    acc->host != NULL ? acc->host : "?", note);
	if (note[0] != '\0')
		error_hint(err,
		    "set passwordeval, or install libsecret "
		    "(Debian: libsecret-1-0) and a keyring");
	else
		error_hint(err,
		    "store one with smtpsend --store-password -a "
		    "%s, or set passwordeval",
		    acc->name);
	return -1;
}

/* oauth2_client_secret, or the first line of oauth2_client_secret_eval. */
static int
client_secret(const struct account *acc, char **out, struct error *err)
{
	struct child_result r;
	struct error cerr;
	int timeout_ms, rc = -1;

	*out = NULL;
	if (acc->oauth2_client_secret != NULL) {
		*out = strdup(acc->oauth2_client_secret);
		return *out == NULL ? error_set(err, ERR_OS, "out of memory")
				    : 0;
	}
	if (acc->oauth2_client_secret_eval == NULL)
		return 0;
	timeout_ms = (acc->timeout > 0 ? acc->timeout : 60) * 1000;
	error_clear(&cerr);
	if (child_run(eval_main, acc->oauth2_client_secret_eval, timeout_ms,
	    &r, &cerr) == -1)
		return error_set(err, ERR_SECRET, "oauth2_client_secret_eval "
		    "of account %s: %s", acc->name, cerr.msg);
	if (!child_ok(&r) || r.out.len == 0 || r.out.p[0] == '\n' ||
	    r.out.p[0] == '\r') {
		/* Not quoting the command: it may hold a secret itself. */
		error_set(err, ERR_SECRET, "oauth2_client_secret_eval of "
		    "account %s failed or printed nothing", acc->name);
		error_hint(err, "run the command by hand to see why");
	} else if ((*out = first_line(&r.out)) == NULL)
		error_set(err, ERR_OS, "out of memory");
	else
		rc = 0;
	child_buf_free(&r.out);
	return rc;
}

static const struct oauth2_source oauth2_src = {client_secret};

int
secret_refresh(const struct account *acc, const char *refused, char **secret,
    struct error *err)
{
	return oauth2_token(acc, refused, &oauth2_src, secret, err);
}

int
secret_authorize(const struct account *acc, int flow, FILE *out,
    struct error *err)
{
	return oauth2_authorize(acc, (enum oauth2_flow)flow, &oauth2_src, out,
	    err);
}

/*
 * An account whose AUTH may be SCRAM gets the SCRAM item looked up with
 * the password, in the same keyring child (no second process, no second
 * bus connection); any other gets the password alone.  1: found.
 */
static int
from_keyring(const struct account *acc, char **secret, struct scram_kept *kept,
    char *note, size_t notesize, struct error *err)
{
	const char *mech = config_auth(acc);
	int rc;

	if (kept == NULL || acc->user == NULL || mech == NULL ||
	    (strcmp(mech, "on") != 0 && strncmp(mech, "SCRAM-", 6) != 0))
		rc = keyring_lookup(acc->host, acc->user, acc->timeout,
		    secret, note, notesize, err);
	else
		rc = keyring_lookup_scram(acc->host, config_port(acc),
		    acc->user, acc->timeout, secret, &kept->blob, note,
		    notesize, err);
	if (rc == 1 && kept != NULL) {
		kept->keyring = 1;
		kept->timeout = acc->timeout;
	}
	return rc;
}

int
secret_get(const struct account *acc, char **secret, struct scram_kept *kept,
    struct error *err)
{
	const char *mech = config_auth(acc);
	char what[512], note[256];
	struct error kerr;
	int rc;

	*secret = NULL;
	scram_kept_free(kept);
	/* Built-in OAuth2: password and passwordeval are not consulted. */
	if (acc->oauth2_provider != NULL)
		return oauth2_token(acc, NULL, &oauth2_src, secret, err);
	/* EXTERNAL: the client certificate is the credential. */
	if (mech != NULL && !auth_needs_secret(acc))
		*secret = strdup("");
	else if (acc->password != NULL)
		*secret = strdup(acc->password);
	else if (acc->passwordeval != NULL && acc->passwordeval[0] != '\0')
		return run_eval(acc, secret, err);
	else {
		note[0] = '\0';
		error_clear(&kerr);
		rc = from_keyring(acc, secret, kept, note, sizeof(note),
		    &kerr);
		if (rc == 1)
			return 0;
		snprintf(what, sizeof(what), "password for %s at %s",
		    acc->user != NULL ? acc->user : "?",
		    acc->host != NULL ? acc->host : "?");
		if (rc == -1 && isatty(2))
			fprintf(stderr, "smtpsend: %s\n", kerr.msg);
		rc = secret_prompt(what, secret, err);
		if (rc == 1)
			return 0;
		if (rc == -1)
			return -1;
		if (kerr.kind != ERR_NONE) {
			*err = kerr;
			return -1;
		}
		/* Nothing anywhere, and the keyring said so: the caller may
		   send without AUTH when auth was not asked for. */
		no_secret(acc, note, err);
		return 1;
	}
	if (*secret == NULL)
		return error_set(err, ERR_OS, "out of memory");
	return 0;
}

/* On a terminal, a typo would be stored unseen: ask twice. */
static int
ask_twice(const struct account *acc, char **secret, struct error *err)
{
	char what[512], *again = NULL;
	int rc, same;

	snprintf(what, sizeof(what), "password to store for %s at %s",
	    acc->user, acc->host);
	rc = secret_prompt(what, secret, err);
	if (rc == 1) {
		rc = secret_prompt("the same again", &again, err);
		if (rc == 1) {
			same = strcmp(*secret, again) == 0;
			secret_free(again);
			if (same)
				return 0;
			error_set(err, ERR_SECRET,
			    "the two entries differ: "
			    "nothing stored");
		}
		secret_free(*secret);
		*secret = NULL;
	}
	if (rc == 0)
		error_set(err, ERR_SECRET,
		    "cannot read the password: "
		    "/dev/tty is not usable");
	return -1;
}

/* The secret for --store-password: the terminal, else stdin's first line. */
static int
read_new_secret(const struct account *acc, char **secret, struct error *err)
{
	struct child_buf b = {0};
	int rc;

	if (isatty(0))
		return ask_twice(acc, secret, err);
	rc = read_line(0, PROMPT_TIMEOUT_MS, &b);
	if (rc == -1 && b.len == 0) {
		child_buf_free(&b);
		return error_set(err, ERR_SECRET, "no password on stdin");
	}
	*secret = first_line(&b);
	child_buf_free(&b);
	if (*secret == NULL)
		return error_set(err, ERR_OS, "out of memory");
	return 0;
}

int
secret_store(const struct account *acc, struct error *err)
{
	char *secret = NULL;
	int rc;

	if (acc->host == NULL || acc->user == NULL)
		return error_set(err, ERR_CONFIG,
		    "account %s: --store-password "
		    "needs host and user",
		    acc->name);
	if (read_new_secret(acc, &secret, err) == -1)
		return -1;
	if (secret[0] == '\0') {
		secret_free(secret);
		return error_set(err, ERR_SECRET,
		    "empty password: nothing "
		    "stored");
	}
	rc = keyring_store(acc->host, acc->user, secret, err);
	secret_free(secret);
	return rc;
}
