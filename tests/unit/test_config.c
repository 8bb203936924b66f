/*
 * test_config.c: the ~/.smtprc parser, inheritance, substitutions, file
 * permissions, account choice, and realistic ~/.msmtprc fixtures.
 *
 * Each test writes its config text to files in a fresh temporary
 * directory, which is also $HOME for ~ expansion.  Run from the top of the
 * tree (tests/fixtures/ is found from there), or set FIXTURES.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"

struct fx {
	char			 dir[64];
	char			 path[128];	/* the user file */
	char			 sys[128];	/* the system file */
	char			 msys[128];	/* msmtp's system file */
	struct config_env	 env;
	struct config		*cf;
	struct error		 err;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/.smtprc", fx->dir);
	snprintf(fx->sys, sizeof(fx->sys), "%s/system-smtprc", fx->dir);
	snprintf(fx->msys, sizeof(fx->msys), "%s/system-msmtprc", fx->dir);
	fx->env.user = "alice";
	fx->env.home = fx->dir;
	fx->env.hostname = "box";
	fx->env.fqdn = "box.example.org";
	fx->env.mailname = "mail.example.org";
	fx->env.uid = (unsigned int)getuid();
	fx->env.system_file = fx->sys;
	fx->env.msmtp_system_file = fx->msys;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	config_free(fx->cf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Load text as the -C file; returns config_load()'s result. */
static int
load(struct fx *fx, const char *text)
{
	config_free(fx->cf);
	fx->cf = NULL;
	error_clear(&fx->err);
	write_file(fx->path, text, 0600);
	return config_load(&fx->cf, fx->path, &fx->env, &fx->err);
}

static const struct account *
acc(struct fx *fx, const char *name)
{
	const struct account *a = config_account(fx->cf, name, &fx->err);

	if (a == NULL)
		fail_msg("account %s: %s", name, fx->err.msg);
	return a;
}

/* Loading fails with ERR_CONFIG and a message containing want. */
static void
load_fails(struct fx *fx, const char *text, const char *want)
{
	assert_int_equal(load(fx, text), -1);
	assert_null(fx->cf);
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	if (strstr(fx->err.msg, want) == NULL)
		fail_msg("error '%s' lacks '%s'", fx->err.msg, want);
}

/* sudo's HOME=/ must not hide the user's own ~/.smtprc. */
static void
test_choose_home(void **state)
{
	struct fx *fx = *state;
	char envhome[160], pwhome[160], rc[200];

	snprintf(envhome, sizeof(envhome), "%s/env", fx->dir);
	snprintf(pwhome, sizeof(pwhome), "%s/pw", fx->dir);
	assert_int_equal(mkdir(envhome, 0700), 0);
	assert_int_equal(mkdir(pwhome, 0700), 0);
	assert_ptr_equal(config_choose_home(NULL, pwhome, NULL), pwhome);
	assert_ptr_equal(config_choose_home("", pwhome, NULL), pwhome);
	/* Neither has a file: $HOME, as every program does. */
	assert_ptr_equal(config_choose_home(envhome, pwhome, NULL), envhome);
	snprintf(rc, sizeof(rc), "%s/.smtprc", pwhome);
	write_file(rc, "", 0600);
	assert_ptr_equal(config_choose_home(envhome, pwhome, NULL), pwhome);
	/* Any of msmtp's user files in $HOME keeps $HOME. */
	snprintf(rc, sizeof(rc), "%s/.msmtprc", envhome);
	write_file(rc, "", 0600);
	assert_ptr_equal(config_choose_home(envhome, pwhome, NULL), envhome);
	assert_int_equal(unlink(rc), 0);
	assert_ptr_equal(config_choose_home(envhome, pwhome, NULL), pwhome);
	snprintf(rc, sizeof(rc), "%s/xdg", fx->dir);
	assert_int_equal(mkdir(rc, 0700), 0);
	snprintf(rc, sizeof(rc), "%s/xdg/msmtp", fx->dir);
	assert_int_equal(mkdir(rc, 0700), 0);
	snprintf(rc, sizeof(rc), "%s/xdg/msmtp/config", fx->dir);
	write_file(rc, "", 0600);
	snprintf(rc, sizeof(rc), "%s/xdg", fx->dir);
	assert_ptr_equal(config_choose_home(envhome, pwhome, rc), envhome);
	snprintf(rc, sizeof(rc), "%s/.smtprc", envhome);
	write_file(rc, "", 0600);
	assert_ptr_equal(config_choose_home(envhome, pwhome, NULL), envhome);
}

/*
 * The user file: ~/.smtprc, else msmtp's ~/.msmtprc, else
 * $XDG_CONFIG_HOME/msmtp/config (default ~/.config): msmtp's order.
 */
static void
test_user_files(void **state)
{
	struct fx *fx = *state;
	char msmtprc[160], xdg[100], xdgrc[160], cfgrc[160], buf[256];

	snprintf(msmtprc, sizeof(msmtprc), "%s/.msmtprc", fx->dir);
	snprintf(xdg, sizeof(xdg), "%s/xdg", fx->dir);
	snprintf(xdgrc, sizeof(xdgrc), "%s/msmtp", xdg);
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_int_equal(mkdir(xdgrc, 0700), 0);
	snprintf(xdgrc, sizeof(xdgrc), "%s/msmtp/config", xdg);
	snprintf(cfgrc, sizeof(cfgrc), "%s/.config", fx->dir);
	assert_int_equal(mkdir(cfgrc, 0700), 0);
	snprintf(cfgrc, sizeof(cfgrc), "%s/.config/msmtp", fx->dir);
	assert_int_equal(mkdir(cfgrc, 0700), 0);
	snprintf(cfgrc, sizeof(cfgrc), "%s/.config/msmtp/config", fx->dir);

	/* None: the name smtpsend's own file would have. */
	assert_int_equal(config_user_file(fx->dir, xdg, buf, sizeof(buf)), 0);
	assert_string_equal(buf, fx->path);
	write_file(cfgrc, "account default\nhost cfg\n", 0600);
	assert_int_equal(config_user_file(fx->dir, NULL, buf, sizeof(buf)), 1);
	assert_string_equal(buf, cfgrc);
	/* A relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
	assert_int_equal(config_user_file(fx->dir, "rel", buf, sizeof(buf)),
	    1);
	assert_string_equal(buf, cfgrc);
	assert_int_equal(config_user_file(fx->dir, xdg, buf, sizeof(buf)), 0);
	write_file(xdgrc, "account default\nhost xdg\n", 0600);
	assert_int_equal(config_user_file(fx->dir, xdg, buf, sizeof(buf)), 1);
	assert_string_equal(buf, xdgrc);
	write_file(msmtprc, "account default\nhost msmtprc\n", 0600);
	assert_int_equal(config_user_file(fx->dir, xdg, buf, sizeof(buf)), 1);
	assert_string_equal(buf, msmtprc);

	/* config_load reads that one file, and says which. */
	fx->env.xdg_config_home = xdg;
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(acc(fx, "default")->host, "msmtprc");
	assert_string_equal(config_files(fx->cf)[0], msmtprc);
	assert_null(config_files(fx->cf)[1]);
	config_free(fx->cf);
	fx->cf = NULL;
	assert_int_equal(unlink(msmtprc), 0);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(acc(fx, "default")->host, "xdg");
	config_free(fx->cf);
	fx->cf = NULL;
	write_file(fx->path, "account default\nhost smtprc\n", 0600);
	write_file(msmtprc, "account default\nhost msmtprc\n", 0600);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(acc(fx, "default")->host, "smtprc");
	assert_string_equal(config_files(fx->cf)[0], fx->path);
	assert_null(config_files(fx->cf)[1]);
}

/* /etc/msmtprc is read only when there is no /etc/smtprc. */
static void
test_system_files(void **state)
{
	struct fx *fx = *state;

	write_file(fx->msys, "account default\nhost msys\n"
	    "account m\nhost m\n", 0644);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(acc(fx, "default")->host, "msys");
	assert_string_equal(config_files(fx->cf)[0], fx->msys);
	config_free(fx->cf);
	fx->cf = NULL;
	write_file(fx->sys, "account default\nhost sys\n", 0644);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(acc(fx, "default")->host, "sys");
	assert_string_equal(config_files(fx->cf)[0], fx->sys);
	assert_null(config_files(fx->cf)[1]);
	assert_null(config_account(fx->cf, "m", &fx->err));
	assert_null(config_notes(fx->cf)[0]);
	/* The password rule and its hint are the system file's. */
	config_free(fx->cf);
	fx->cf = NULL;
	write_file(fx->msys, "account default\nhost msys\npassword p\n",
	    0644);
	assert_int_equal(unlink(fx->sys), 0);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), -1);
	assert_non_null(strstr(fx->err.msg, "system-msmtprc: contains a "
	    "password but is readable by others"));
	assert_non_null(strstr(fx->err.hint, "chmod 640 "));
	assert_non_null(strstr(fx->err.hint, "chgrp "));
	assert_null(strstr(fx->err.hint, "chmod 600"));
}

/* An empty file is valid (fuzz finding: it read past getline's buffer). */
static void
test_empty_file(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(load(fx, ""), 0);
	assert_null(config_account(fx->cf, "default", &fx->err));
	assert_int_equal(fx->err.kind, ERR_CONFIG);
}

static void
test_grammar(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx,
	    "# comment\n"
	    "\n"
	    "   \t# indented comment\n"
	    "account a\r\n"
	    "  host   smtp.example.org   \r\n"
	    "\tuser \"  spaced user  \"\n"
	    "from \"a\\\"b@example.org\"\n"
	    "passwordeval echo 'x' # not a comment\n"
	    "logfile_time_format \"\n"
	    "tls_priorities \"NORMAL\n"
	    "from_full_name Joe \"Q\" Public\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(a->host, "smtp.example.org");
	assert_string_equal(a->user, "  spaced user  ");
	/* msmtp has no escapes: only the outer quotes go. */
	assert_string_equal(a->from, "a\\\"b@example.org");
	assert_string_equal(a->passwordeval, "echo 'x' # not a comment");
	assert_string_equal(a->logfile_time_format, "\"");
	assert_string_equal(a->tls_priorities, "\"NORMAL");
	assert_string_equal(a->from_full_name, "Joe \"Q\" Public");
	assert_string_equal(a->file, fx->path);
	assert_int_equal(a->line, 4);
	assert_string_equal(config_files(fx->cf)[0], fx->path);
	assert_null(config_files(fx->cf)[1]);
}

static void
test_long_line(void **state)
{
	struct fx *fx = *state;
	size_t n = 200000;
	char *text = malloc(n + 64);
	const struct account *a;

	assert_non_null(text);
	memcpy(text, "account a\nhost h\npassword ", 26);
	memset(text + 26, 'x', n);
	memcpy(text + 26 + n, "y\n", 3);
	assert_int_equal(load(fx, text), 0);
	a = acc(fx, "a");
	assert_int_equal(strlen(a->password), n + 1);
	assert_int_equal(a->password[n], 'y');
	free(text);
}

static void
test_empty_values(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx,
	    "account a\nhost h\nauth\ntls\ntls_starttls\ntls_certcheck\n"
	    "remove_bcc_headers\nsyslog\nset_from_header\nset_date_header\n"
	    "user\npassword\nlogfile\naliases \"\"\ntls_fingerprint\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(config_auth(a), "on");
	assert_int_equal(a->tls, CFG_ON);
	assert_int_equal(a->tls_starttls, CFG_ON);
	assert_int_equal(a->tls_certcheck, CFG_ON);
	assert_int_equal(a->remove_bcc_headers, CFG_ON);
	assert_string_equal(a->syslog, "LOG_USER");
	/* msmtp 1.8.23 takes a bare set_from_header as auto. */
	assert_int_equal(a->set_from_header, CFG_AUTO);
	assert_int_equal(a->set_date_header, CFG_AUTO);
	assert_null(a->user);
	assert_null(a->password);
	assert_null(a->password_file);
	assert_null(a->logfile);
	assert_null(a->aliases);
	assert_null(a->tls_fingerprint);
	assert_true(a->set & ACC_BIT(ACC_USER));
	assert_true(a->set & ACC_BIT(ACC_ALIASES));
}

static void
test_defaults(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx,
	    "account early\nhost h0\n"
	    "defaults\nport 2525\ntimeout 10\n"
	    "account a\nhost h1\n"
	    "defaults\nport 2526\n"
	    "account b\nhost h2\ntimeout 5\n"), 0);
	a = acc(fx, "early");		/* defined before the defaults */
	assert_int_equal(a->port, 0);
	assert_int_equal(a->timeout, 60);
	assert_int_equal(config_port(a), 587);
	a = acc(fx, "a");
	assert_int_equal(a->port, 2525);
	assert_int_equal(a->timeout, 10);
	assert_false(a->set & ACC_BIT(ACC_PORT));	/* from defaults */
	a = acc(fx, "b");		/* defaults accumulate */
	assert_int_equal(a->port, 2526);
	assert_int_equal(a->timeout, 5);
	assert_true(a->set & ACC_BIT(ACC_TIMEOUT));
}

static void
test_inheritance(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx,
	    "defaults\nport 1\n"
	    "account a\nhost ha\nuser ua\nfrom a@x\n"
	    "account b\nhost hb\nuser ub\ntimeout 7\n"
	    "account c : a, b\nfrom c@x\n"
	    "account d : b,a\n"
	    "defaults\nport 2\n"
	    "account e : c\n"
	    "account p\nhost hp\nport 5\n"
	    "account q : p\n"
	    "defaults\nport 9\n"
	    "account r : q\n"
	    "account default : d\n"), 0);
	a = acc(fx, "c");		/* parents in order, own lines last */
	assert_string_equal(a->host, "hb");
	assert_string_equal(a->user, "ub");
	assert_int_equal(a->timeout, 7);
	assert_string_equal(a->from, "c@x");
	a = acc(fx, "d");
	assert_string_equal(a->host, "ha");
	assert_string_equal(a->from, "a@x");
	/* msmtp: only what a parent set explicitly is inherited. */
	a = acc(fx, "e");
	assert_int_equal(a->port, 2);
	assert_string_equal(a->from, "c@x");
	assert_string_equal(a->host, "hb");
	/* ...and what it inherited counts as set. */
	a = acc(fx, "r");
	assert_int_equal(a->port, 5);
	assert_true(a->set & ACC_BIT(ACC_PORT));
	a = acc(fx, "default");
	assert_string_equal(a->name, "default");
	assert_string_equal(a->host, "ha");
	assert_int_equal(a->port, 9);
}

static void
test_implicit_default(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	/* msmtp puts lines before any section into an account "default". */
	assert_int_equal(load(fx, "host h\nport 2525\naccount b\nhost i\n"),
	    0);
	a = acc(fx, "default");
	assert_string_equal(a->host, "h");
	assert_int_equal(a->port, 2525);
	assert_int_equal(acc(fx, "b")->port, 0);
}

static void
test_oauth2_keywords(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char want[256];

	/* Each keyword is found (the table is searched with bsearch), and
	   the password beside them too. */
	assert_int_equal(load(fx,
	    "defaults\noauth2_provider custom\noauth2_client_id cid\n"
	    "account a\nhost h\nuser me@example.org\npassword pw\n"
	    "oauth2_client_secret cs\noauth2_scope s1 s2\n"
	    "oauth2_token_endpoint https://t.example/token\n"
	    "oauth2_device_endpoint https://t.example/device\n"
	    "oauth2_auth_endpoint https://t.example/auth\n"
	    "oauth2_token_file ~/tok\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(a->oauth2_provider, "custom");
	assert_string_equal(a->oauth2_client_id, "cid");
	assert_string_equal(a->oauth2_client_secret, "cs");
	assert_string_equal(a->oauth2_scope, "s1 s2");
	assert_string_equal(a->oauth2_token_endpoint, "https://t.example/token");
	assert_string_equal(a->oauth2_device_endpoint,
	    "https://t.example/device");
	assert_string_equal(a->oauth2_auth_endpoint, "https://t.example/auth");
	snprintf(want, sizeof(want), "%s/tok", fx->dir);
	assert_string_equal(a->oauth2_token_file, want);
	assert_string_equal(a->password, "pw");
	/* No auth line: XOAUTH2 or OAUTHBEARER, whichever is offered. */
	assert_string_equal(config_auth(a), "OAUTH2");
	load_fails(fx, "account a\nhost h\nuser u\noauth2_provider google\n"
	    "oauth2_client_id c\noauth2_tenant x\n",
	    "oauth2_tenant is for oauth2_provider microsoft only");
	load_fails(fx, "account a\nhost h\nuser u\noauth2_provider other\n",
	    ":4: invalid value for oauth2_provider");
}

/* Loading fails with ERR_CONFIG at "file:line: account a: " + want. */
static void
load_fails_at(struct fx *fx, const char *text, int line, const char *want)
{
	char head[256];

	load_fails(fx, text, want);
	snprintf(head, sizeof(head), "%s:%d: account a: ", fx->path, line);
	if (strncmp(fx->err.msg, head, strlen(head)) != 0)
		fail_msg("error '%s' is not at '%s'", fx->err.msg, head);
}

/*
 * Every OAuth2 combination error names the line of the keyword at fault
 * (for a missing one, the oauth2_provider line), also when it comes
 * from defaults or a parent account.
 */
static void
test_oauth2_error_lines(void **state)
{
	struct fx *fx = *state;
#define A	"account a\nhost h\nuser u\n"	/* lines 1-3 */

	load_fails_at(fx, A "oauth2_client_id c\nfrom f@x\n", 4,
	    "oauth2_client_id needs oauth2_provider");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "from f@x\noauth2_tenant t\n", 7,
	    "oauth2_tenant is for oauth2_provider microsoft only");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "from f@x\noauth2_token_endpoint https://t.example/t\n", 7,
	    "oauth2_token_endpoint is for oauth2_provider custom only");
	load_fails_at(fx, A "oauth2_provider microsoft\noauth2_client_id c\n"
	    "oauth2_device_endpoint https://t.example/d\n", 6,
	    "oauth2_device_endpoint is for oauth2_provider custom only");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "from f@x\noauth2_auth_endpoint https://t.example/a\n", 7,
	    "oauth2_auth_endpoint is for oauth2_provider custom only");
	load_fails_at(fx, A "from f@x\noauth2_provider google\nport 2525\n",
	    5, "oauth2_provider google needs oauth2_client_id");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "oauth2_client_secret s\nfrom f@x\n"
	    "oauth2_client_secret_eval echo s\n", 8,
	    "oauth2_client_secret and oauth2_client_secret_eval: give one");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "oauth2_client_secret_eval echo s\nfrom f@x\n"
	    "oauth2_client_secret s\n", 8,
	    "oauth2_client_secret and oauth2_client_secret_eval: give one");
	load_fails_at(fx, A "oauth2_provider custom\noauth2_client_id c\n"
	    "from f@x\n", 4,
	    "oauth2_provider custom needs oauth2_token_endpoint");
	load_fails_at(fx, "account a\nhost h\noauth2_provider google\n"
	    "oauth2_client_id c\nfrom f@x\n", 3,
	    "oauth2_provider google needs user");
	load_fails_at(fx, A "auth plain\noauth2_provider google\n"
	    "oauth2_client_id c\n", 4,
	    "needs auth on, xoauth2 or oauthbearer (auth is PLAIN)");
	load_fails_at(fx, A "oauth2_provider google\noauth2_client_id c\n"
	    "from f@x\nauth off\n", 7,
	    "needs auth on, xoauth2 or oauthbearer (auth is off)");
	/* From defaults and a parent: their lines, in the same file. */
	load_fails_at(fx, "defaults\nauth login\n\naccount a\nhost h\n"
	    "user u\noauth2_provider microsoft\noauth2_client_id c\n", 2,
	    "(auth is LOGIN)");
	load_fails_at(fx, "account p\nhost h\nuser u\n"
	    "oauth2_provider microsoft\noauth2_client_id c\n"
	    "oauth2_tenant t\naccount a : p\noauth2_provider google\n", 6,
	    "oauth2_tenant is for oauth2_provider microsoft only");
#undef A
}

/* --pretend shows the provider's defaults for what was not given. */
static void
test_oauth2_print_defaults(void **state)
{
	struct fx *fx = *state;
	static const char *const ms[] = {
		"oauth2_tenant        = common (default)\n",
		"oauth2_scope         = https://outlook.office.com/SMTP.Send "
		    "offline_access (default)\n",
		"oauth2_token_endpoint = https://login.microsoftonline.com/"
		    "common/oauth2/v2.0/token (default)\n",
		"oauth2_device_endpoint = https://login.microsoftonline.com/"
		    "common/oauth2/v2.0/devicecode (default)\n",
		"oauth2_auth_endpoint = https://login.microsoftonline.com/"
		    "common/oauth2/v2.0/authorize (default)\n",
		"oauth2_token_file    = (not set) (default: the keyring)\n",
		NULL
	}, *const msgiven[] = {
		"oauth2_tenant        = contoso.example\n",
		"oauth2_scope         = s1 s2\n",
		"oauth2_token_endpoint = https://login.microsoftonline.com/"
		    "contoso.example/oauth2/v2.0/token (default)\n",
		NULL
	}, *const google[] = {
		"oauth2_scope         = https://mail.google.com/ (default)\n",
		"oauth2_token_endpoint = https://oauth2.googleapis.com/token "
		    "(default)\n",
		"oauth2_device_endpoint = https://oauth2.googleapis.com/"
		    "device/code (default)\n",
		"oauth2_auth_endpoint = https://accounts.google.com/o/oauth2/"
		    "v2/auth (default)\n",
		NULL
	}, *const custom[] = {
		"oauth2_scope         = (not set)\n",
		"oauth2_token_endpoint = https://t.example/t\n",
		"oauth2_device_endpoint = (not set)\n",
		NULL
	};
	static const struct {
		const char		*name;
		const char *const	*want;
	} cases[] = {
		{ "ms", ms }, { "msgiven", msgiven }, { "google", google },
		{ "custom", custom },
	};
	char buf[8192];
	size_t i, n;
	const char *const *w;
	FILE *fp;

	assert_int_equal(load(fx, "defaults\nhost h\nuser u\n"
	    "oauth2_client_id c\n"
	    "account ms\noauth2_provider microsoft\n"
	    "account msgiven\noauth2_provider microsoft\n"
	    "oauth2_tenant contoso.example\noauth2_scope s1 s2\n"
	    "account google\noauth2_provider google\n"
	    "account custom\noauth2_provider custom\n"
	    "oauth2_token_endpoint https://t.example/t\n"), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fp = tmpfile();
		assert_non_null(fp);
		config_print_account(acc(fx, cases[i].name), fp);
		rewind(fp);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		buf[n] = '\0';
		fclose(fp);
		for (w = cases[i].want; *w != NULL; w++)
			if (strstr(buf, *w) == NULL)
				fail_msg("%s: no '%s' in:\n%s", cases[i].name,
				    *w, buf);
	}
	/* The tenant is Microsoft's alone. */
	fp = tmpfile();
	assert_non_null(fp);
	config_print_account(acc(fx, "google"), fp);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_null(strstr(buf, "oauth2_tenant"));
}

static void
test_keywords(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char want[256];

	assert_int_equal(load(fx,
	    "account a\n"
	    "host smtp.example.org\nport 2587\nfrom me@example.org\n"
	    "from_full_name Me Myself\ndomain client.example.org\n"
	    "timeout 15\nauth scram-sha-256\nuser me\npassword pw\n"
	    "passwordeval pass show smtp\ntls off\ntls_starttls off\n"
	    "tls_trust_file ~/ca.pem\n"
	    "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33\n"
	    "tls_certcheck off\ntls_cert_file ~/c.pem\ntls_key_file /k.pem\n"
	    "tls_priorities NORMAL:-VERS-TLS1.2\ntls_host_override other\n"
	    "tls_min_version 1.3\ndsn_notify success,failure,delay\n"
	    "dsn_return full\nlogfile -\nlogfile_time_format %H:%M\n"
	    "syslog LOG_LOCAL3\naliases ~/aliases\nset_from_header on\n"
	    "set_date_header off\nset_msgid_header off\n"
	    "remove_bcc_headers off\nallow_from_override off\n"
	    "tls_crl_file ~/crl.pem\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(a->host, "smtp.example.org");
	assert_int_equal(a->port, 2587);
	assert_int_equal(config_port(a), 2587);
	assert_string_equal(a->from, "me@example.org");
	assert_string_equal(a->from_full_name, "Me Myself");
	assert_string_equal(a->domain, "client.example.org");
	assert_int_equal(a->timeout, 15);
	assert_string_equal(config_auth(a), "SCRAM-SHA-256");
	assert_string_equal(a->user, "me");
	assert_string_equal(a->password, "pw");
	assert_string_equal(a->password_file, fx->path);
	assert_string_equal(a->passwordeval, "pass show smtp");
	assert_int_equal(a->tls, CFG_OFF);
	assert_int_equal(a->tls_starttls, CFG_OFF);
	assert_int_equal(config_starttls(a), 0);
	snprintf(want, sizeof(want), "%s/ca.pem", fx->dir);
	assert_string_equal(a->tls_trust_file, want);
	assert_string_equal(a->tls_fingerprint,
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33");
	assert_int_equal(a->tls_certcheck, CFG_OFF);
	snprintf(want, sizeof(want), "%s/c.pem", fx->dir);
	assert_string_equal(a->tls_cert_file, want);
	assert_string_equal(a->tls_key_file, "/k.pem");
	assert_string_equal(a->tls_priorities, "NORMAL:-VERS-TLS1.2");
	assert_string_equal(a->tls_host_override, "other");
	assert_string_equal(a->tls_min_version, "1.3");
	assert_string_equal(a->dsn_notify, "SUCCESS,FAILURE,DELAY");
	assert_string_equal(a->dsn_return, "FULL");
	assert_string_equal(a->logfile, "-");
	assert_string_equal(a->logfile_time_format, "%H:%M");
	assert_string_equal(a->syslog, "LOG_LOCAL3");
	snprintf(want, sizeof(want), "%s/aliases", fx->dir);
	assert_string_equal(a->aliases, want);
	assert_int_equal(a->set_from_header, CFG_ON);
	assert_int_equal(a->set_date_header, CFG_OFF);
	assert_int_equal(a->set_msgid_header, CFG_OFF);
	assert_int_equal(a->remove_bcc_headers, CFG_OFF);
	assert_int_equal(a->allow_from_override, CFG_OFF);
	snprintf(want, sizeof(want), "%s/crl.pem", fx->dir);
	assert_string_equal(a->tls_crl_file, want);
	assert_int_equal(__builtin_popcountll(a->set), 32);
}

static void
test_builtin_defaults(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx, "account a\nhost h\n"
	    "account b\nhost h\nuser u\n"
	    "account c\nhost h\nuser u\nauth off\n"
	    "account d\nhost h\nport 465\n"
	    "account e\nhost h\nport 465\ntls_starttls on\n"
	    "account f\nhost h\ntls_starttls off\n"
	    "account g\nhost h\ntls off\n"
	    "account t\nhost h\ntimeout off\n"), 0);
	a = acc(fx, "a");
	assert_int_equal(a->tls, CFG_ON);
	assert_int_equal(a->tls_certcheck, CFG_ON);
	assert_int_equal(a->timeout, 60);
	assert_string_equal(a->domain, "localhost");
	assert_null(a->from);		/* msmtp has no default from */
	assert_null(a->tls_trust_file);
	assert_null(config_auth(a));
	assert_int_equal(config_port(a), 587);
	assert_int_equal(config_starttls(a), 1);
	assert_int_equal(a->set, ACC_BIT(ACC_HOST));
	assert_string_equal(config_auth(acc(fx, "b")), "on");
	assert_null(config_auth(acc(fx, "c")));
	a = acc(fx, "d");		/* 465: implicit TLS */
	assert_int_equal(config_port(a), 465);
	assert_int_equal(config_starttls(a), 0);
	assert_int_equal(config_starttls(acc(fx, "e")), 1);
	a = acc(fx, "f");
	assert_int_equal(config_port(a), 465);
	assert_int_equal(config_starttls(a), 0);
	a = acc(fx, "g");
	assert_int_equal(config_port(a), 587);
	assert_int_equal(config_starttls(a), 0);
	assert_int_equal(acc(fx, "t")->timeout, 0);
}

/* source_ip, proxy_host, proxy_port, socket: msmtp's meaning, inherited. */
static void
test_connect_keywords(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char path[300];
	FILE *fp;

	assert_int_equal(load(fx, "defaults\nproxy_host 127.0.0.1\n"
	    "source_ip 127.0.0.2\n"
	    "account a\nhost mail.example\n"
	    "account b : a\nproxy_port 9050\nsource_ip ::1\n"
	    "account c : b\nproxy_host\nproxy_port\nsource_ip\n"
	    "account s\nsocket ~/smtp.sock\n"
	    "account st\nsocket /run/x\ntls on\nhost mail.example\n"
	    "account bad\nsocket /run/x\ntls on\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(a->proxy_host, "127.0.0.1");
	assert_int_equal(a->proxy_port, 0);
	assert_string_equal(a->source_ip, "127.0.0.2");
	assert_null(a->socket);
	assert_int_equal(a->tls, CFG_ON);
	a = acc(fx, "b");
	assert_string_equal(a->proxy_host, "127.0.0.1");
	assert_int_equal(a->proxy_port, 9050);
	assert_string_equal(a->source_ip, "::1");
	a = acc(fx, "c");		/* empty values reset */
	assert_null(a->proxy_host);
	assert_int_equal(a->proxy_port, 0);
	assert_null(a->source_ip);
	/* A socket needs no host, and tls is off there unless asked for. */
	a = acc(fx, "s");
	snprintf(path, sizeof(path), "%s/smtp.sock", fx->env.home);
	assert_string_equal(a->socket, path);
	assert_null(a->host);
	assert_int_equal(a->tls, CFG_OFF);
	a = acc(fx, "st");
	assert_int_equal(a->tls, CFG_ON);
	/* TLS over a socket without a name to check would check nothing. */
	assert_null(config_account(fx->cf, "bad", &fx->err));
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	assert_non_null(strstr(fx->err.msg, "needs a server name"));
	/* --pretend shows them. */
	fp = tmpfile();
	assert_non_null(fp);
	config_print_account(acc(fx, "b"), fp);
	rewind(fp);
	{
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);

		buf[n] = '\0';
		assert_non_null(strstr(buf, "proxy_host           = 127.0.0.1"));
		assert_non_null(strstr(buf, "proxy_port           = 9050"));
		assert_non_null(strstr(buf, "source_ip            = ::1"));
		assert_non_null(strstr(buf, "socket               = (not set)"));
	}
	fclose(fp);
}

static void
test_aliases_of_old_keywords(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx, "account a\nhost h\nkeepbcc on\n"
	    "tls_nocertcheck\ntls_nostarttls\nadd_missing_from_header off\n"
	    "add_missing_date_header on\nconnect_timeout 9\nprotocol smtp\n"
	    "ntlmdomain X\ntls_min_dh_prime_bits 512\nproxy_port 1080\n"
	    "proxy_host\nsocket\nsource_ip\nundisclosed_recipients off\n"
	    "tls_force_sslv3 off\nset_to_header off\ntls_trust_file system\n"
	    "auto_from on\nmaildomain example.net\n"
	    "account b\nhost h\nauto_from on\n"), 0);
	a = acc(fx, "a");
	assert_int_equal(a->remove_bcc_headers, CFG_OFF);
	assert_int_equal(a->tls_certcheck, CFG_OFF);
	assert_int_equal(a->tls_starttls, CFG_OFF);
	assert_int_equal(a->set_from_header, CFG_OFF);
	assert_int_equal(a->set_date_header, CFG_AUTO);
	assert_int_equal(a->timeout, 9);
	assert_null(a->tls_trust_file);
	assert_string_equal(a->from, "alice@example.net");
	assert_string_equal(acc(fx, "b")->from, "alice");
	assert_int_equal(a->lmtp, CFG_OFF);
}

/* protocol lmtp: LMTP, msmtp's default port 2003; inherited; smtp undoes. */
static void
test_protocol_lmtp(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(load(fx, "defaults\nprotocol lmtp\n"
	    "account a\nhost h\n"
	    "account b\nhost h\nport 24\n"
	    "account c\nhost h\nprotocol smtp\n"), 0);
	assert_int_equal(acc(fx, "a")->lmtp, CFG_ON);
	assert_int_equal(config_port(acc(fx, "a")), 2003);
	assert_int_equal(config_starttls(acc(fx, "a")), 1);
	assert_int_equal(config_port(acc(fx, "b")), 24);
	assert_int_equal(acc(fx, "c")->lmtp, CFG_OFF);
	assert_int_equal(config_port(acc(fx, "c")), 587);
}

/* msmtp's undisclosed_recipients: on/off (empty = on), off by default,
   inherited from defaults and parents like every setting. */
static void
test_undisclosed_recipients(void **state)
{
	struct fx *fx = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	assert_int_equal(load(fx, "account none\nhost h\n"
	    "defaults\nundisclosed_recipients\n"
	    "account a\nhost h\n"
	    "account b\nhost h\nundisclosed_recipients off\n"
	    "account c : b\n"
	    "defaults\n"
	    "account d\nhost h\nundisclosed_recipients on\n"
	    "account e : d\n"), 0);
	assert_int_equal(acc(fx, "none")->undisclosed_recipients, CFG_OFF);
	assert_false(acc(fx, "none")->set &
	    ACC_BIT(ACC_UNDISCLOSED_RECIPIENTS));
	assert_int_equal(acc(fx, "a")->undisclosed_recipients, CFG_ON);
	assert_int_equal(acc(fx, "b")->undisclosed_recipients, CFG_OFF);
	assert_int_equal(acc(fx, "c")->undisclosed_recipients, CFG_OFF);
	assert_int_equal(acc(fx, "d")->undisclosed_recipients, CFG_ON);
	assert_int_equal(acc(fx, "e")->undisclosed_recipients, CFG_ON);
	assert_true(acc(fx, "e")->set & ACC_BIT(ACC_UNDISCLOSED_RECIPIENTS));
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	config_print_account(acc(fx, "e"), m);
	assert_int_equal(fclose(m), 0);
	assert_non_null(strstr(buf, "\nundisclosed_recipients = on\n"));
	free(buf);
}

static void
test_substitutions(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char *from = NULL;

	assert_int_equal(load(fx,
	    "account a\nhost h\nfrom %U@%H.%C.%M\ndomain %H/%C/%M/%U/%x%%\n"
	    "account f\nhost h\nfrom bounce-%F\n"
	    "account n\nhost h\n"), 0);
	a = acc(fx, "a");
	assert_string_equal(a->from,
	    "alice@box.box.example.org.mail.example.org");
	/* msmtp substitutes only %H %C %M in domain. */
	assert_string_equal(a->domain,
	    "box/box.example.org/mail.example.org/%U/%x%%");
	assert_int_equal(config_from(a, NULL, &from, &fx->err), 0);
	assert_string_equal(from, a->from);
	free(from);
	a = acc(fx, "f");
	assert_string_equal(a->from, "bounce-%F");
	assert_int_equal(config_from(a, "joe@example.com", &from, &fx->err),
	    0);
	assert_string_equal(from, "bounce-joe@example.com");
	free(from);
	assert_int_equal(config_from(a, NULL, &from, &fx->err), -1);
	assert_null(from);
	assert_int_equal(fx->err.kind, ERR_DATA);
	assert_int_equal(config_from(acc(fx, "n"), "x@y", &from, &fx->err),
	    0);
	assert_null(from);

	fx->env.mailname = NULL;
	load_fails(fx, "account a\nhost h\nfrom %U@%M\n", ":1: account 'a'");
	assert_non_null(strstr(fx->err.msg, "/etc/mailname"));
}

static void
test_tilde(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char want[256];

	assert_int_equal(load(fx, "account a\nhost h\nlogfile ~\n"
	    "aliases ~bob/aliases\ntls_key_file \"~/my key.pem\"\n"
	    "tls_cert_file x~/c\npasswordeval cat ~/pw\n"
	    "account b\nhost h\ntls_key_file ~/k\n"), 0);
	/* A key without its certificate is refused when the account is used. */
	assert_null(config_account(fx->cf, "b", &fx->err));
	assert_non_null(strstr(fx->err.msg, ":8: account 'b': tls_cert_file"));
	a = acc(fx, "a");
	assert_string_equal(a->logfile, fx->dir);
	assert_string_equal(a->aliases, "~bob/aliases");
	snprintf(want, sizeof(want), "%s/my key.pem", fx->dir);
	assert_string_equal(a->tls_key_file, want);
	assert_string_equal(a->tls_cert_file, "x~/c");
	assert_string_equal(a->passwordeval, "cat ~/pw");
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*line;
		const char	*want;
	} bad[] = {
		{ "bogus 1", ":3: unknown keyword 'bogus'" },
		{ "port 0", ":3: invalid value for port (expected: a number "
		    "from 1 to 65535)" },
		{ "port 65536", ":3: invalid value for port" },
		{ "port 25x", ":3: invalid value for port" },
		{ "port -25", ":3: invalid value for port" },
		{ "port 99999999999999999999", ":3: invalid value" },
		{ "port", ":3: invalid value for port" },
		{ "timeout 0", ":3: invalid value for timeout" },
		{ "timeout soon", ":3: invalid value for timeout" },
		{ "tls maybe", ":3: invalid value for tls (expected: on "
		    "or off)" },
		{ "tls_starttls yes", ":3: invalid value for tls_starttls" },
		{ "auth foo", ":3: invalid value for auth" },
		{ "syslog LOG_FOO", ":3: invalid value for syslog" },
		{ "dsn_notify success,bogus", ":3: invalid value" },
		{ "dsn_notify success,", ":3: invalid value" },
		{ "dsn_notify", ":3: invalid value for dsn_notify" },
		{ "dsn_return some", ":3: invalid value for dsn_return" },
		{ "set_from_header always", ":3: invalid value" },
		{ "set_date_header on", ":3: invalid value for "
		    "set_date_header (expected: auto or off)" },
		{ "tls_fingerprint 00:11:2", ":3: invalid value" },
		{ "tls_fingerprint 0011", ":3: invalid value" },
		{ "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
		    ":3: tls_fingerprint: an MD5 fingerprint is not accepted" },
		{ "tls_min_version 1.1", ":3: invalid value for "
		    "tls_min_version" },
		{ "host", ":3: host needs a value" },
		{ "tls_nocertcheck on", ":3: tls_nocertcheck takes no value" },
		{ "protocol esmtp", ":3: invalid value for protocol" },
		{ "source_ip mail.example", ":3: invalid value for source_ip" },
		{ "source_ip 10.0.0.300", ":3: invalid value" },
		{ "proxy_port 0", ":3: invalid value for proxy_port" },
		{ "proxy_port 70000", ":3: invalid value for proxy_port" },
		{ "undisclosed_recipients yes", ":3: invalid value for "
		    "undisclosed_recipients" },
		{ "tls_force_sslv3 on", ":3: tls_force_sslv3: not supported" },
		{ "account", ":3: account needs a name" },
		{ "account x : nothere", ":3: account 'nothere' is not defined" },
		{ "account x : a,", ":3: missing account name" },
		{ "account a", ":3: account 'a' is already defined on line 1" },
		{ "account x,y", ":3: account name (not shown) contains a "
		    "comma" },
		{ "defaults now", ":3: defaults takes no value" },
		{ "eval", ":3: eval needs a command" },
		{ "eval exit 3", ":3: eval: the command failed" },
		{ "eval true", ":3: eval: the command printed nothing" },
		{ "eval echo eval echo x", ":3: eval: the output is an eval" },
		{ "eval echo bogus", ":3: unknown keyword 'bogus'" },
	};
	struct fx *fx = *state;
	char text[256];
	size_t i;

	assert_int_equal(load(fx, "account a\nhost h\ntls_fingerprint "
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33\n"),
	    0);
	assert_int_equal(strlen(acc(fx, "a")->tls_fingerprint), 59);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "account a\nhost h\n%s\n",
		    bad[i].line);
		load_fails(fx, text, bad[i].want);
		assert_non_null(strstr(fx->err.msg, fx->path));
	}
	/* A NUL byte cannot hide the rest of a line. */
	{
		FILE *fp = fopen(fx->path, "w");

		assert_non_null(fp);
		assert_int_equal(fwrite("account a\nhost h\nfoo\0bar\n", 1,
		    25, fp), 25);
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(config_load(&fx->cf, fx->path, &fx->env,
		    &fx->err), -1);
		assert_non_null(strstr(fx->err.msg, ":3: NUL byte"));
	}
}

/*
 * -C may name any file (/etc/shadow as root): an error quotes at most a
 * short name, never the rest of the line, a value or an eval command.
 */
static void
test_no_echo(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;
		const char	*never;
	} bad[] = {
		{ "root:$6$SALTsalt$HASHhashHASH:19000:0:99999:7:::\n",
		    ":1: unknown keyword (not shown)", "root" },
		{ "daemon:*:19000:0:99999:7:::\n",
		    ":1: unknown keyword (not shown)", "daemon" },
		{ "abcdefghijklmnopqrstuvwxyzABCDEFG x\n",
		    ":1: unknown keyword (not shown)", "abcdefghij" },
		{ "host\tsecret-host\nport SECRETVALUE\n",
		    ":2: invalid value for port", "SECRETVALUE" },
		{ "auth SECRETVALUE\n", ":1: invalid value for auth",
		    "SECRETVALUE" },
		{ "tls_fingerprint SECRETVALUE\n", ":1: invalid value for "
		    "tls_fingerprint", "SECRETVALUE" },
		{ "source_ip SECRETVALUE\n", ":1: invalid value for "
		    "source_ip", "SECRETVALUE" },
		{ "protocol SECRETVALUE\n", ":1: invalid value for protocol",
		    "SECRETVALUE" },
		{ "eval echo SECRETVALUE; exit 1\n", ":1: eval: the command "
		    "failed", "SECRETVALUE" },
		{ "eval : SECRETVALUE\n", ":1: eval: the command printed "
		    "nothing", "SECRETVALUE" },
		{ "eval echo 'SECRETVALUE:x'\n", ":1: unknown keyword (not "
		    "shown)", "SECRETVALUE" },
		{ "account SECRET:VALUE\n", ":1: account 'VALUE' is not "
		    "defined", "SECRET" },
		{ "account SECRET VALUE\naccount SECRET VALUE\n", ":2: "
		    "account (not shown) is already defined", "SECRET" },
		{ "account SECRET,VALUE\n", ":1: account name (not shown) "
		    "contains a comma", "SECRET" },
		{ "account a\nhost h\nfrom %U\naccount $SECRET$\nhost h\n"
		    "from %M\n", ":4: account (not shown): %M has no value",
		    "SECRET" },
	};
	struct fx *fx = *state;
	size_t i;

	fx->env.mailname = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_fails(fx, bad[i].text, bad[i].want);
		if (strstr(fx->err.msg, bad[i].never) != NULL ||
		    strstr(fx->err.hint, bad[i].never) != NULL)
			fail_msg("error '%s' (hint '%s') shows '%s'",
			    fx->err.msg, fx->err.hint, bad[i].never);
	}
	/* A short name is quoted, so typos stay easy to find. */
	load_fails(fx, "tls_trust_fle x\n", ":1: unknown keyword "
	    "'tls_trust_fle'");
	load_fails(fx, "abcdefghijklmnopqrstuvwxyzABCDEF x\n",
	    ":1: unknown keyword 'abcdefghijklmnopqrstuvwxyzABCDEF'");
	load_fails(fx, "account my-work@example.org\naccount "
	    "my-work@example.org\n", ":2: account 'my-work@example.org' is "
	    "already defined on line 1");
}

/*
 * ~ in a -C file is $HOME, as in msmtp, even when the home the user files
 * come from is the passwd entry's (sudo's HOME=/); in those it is that
 * home.
 */
static void
test_tilde_home(void **state)
{
	struct fx *fx = *state;
	char want[256];

	fx->env.env_home = "/env/home";
	assert_int_equal(load(fx, "account a\nhost h\nlogfile ~/log\n"
	    "tls_trust_file ~/ca.pem\naliases ~\n"), 0);
	assert_string_equal(acc(fx, "a")->logfile, "/env/home/log");
	assert_string_equal(acc(fx, "a")->tls_trust_file, "/env/home/ca.pem");
	assert_string_equal(acc(fx, "a")->aliases, "/env/home");
	config_free(fx->cf);
	fx->cf = NULL;
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	snprintf(want, sizeof(want), "%s/log", fx->dir);
	assert_string_equal(acc(fx, "a")->logfile, want);
	config_free(fx->cf);
	fx->cf = NULL;
	fx->env.env_home = NULL;	/* $HOME unset: the passwd home */
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    0);
	assert_string_equal(acc(fx, "a")->logfile, want);
}

/*
 * Many accounts, some in both files: every one found, the user file's
 * replacing the system file's (the lookup that made 20,000 accounts take
 * seconds; no timing here, bench/run measures it).
 */
static void
test_many_accounts(void **state)
{
	struct fx *fx = *state;
	FILE *sys, *user;
	char name[32], want[32];
	int i, n = 5000;

	sys = fopen(fx->sys, "w");
	user = fopen(fx->path, "w");
	assert_non_null(sys);
	assert_non_null(user);
	for (i = 0; i < n; i++) {
		fprintf(sys, "account a%d%s\nhost sys%d\n", i,
		    i > 0 ? " : a0" : "", i);
		if (i % 3 == 0)
			fprintf(user, "account a%d\nhost user%d\n", i, i);
		fprintf(user, "account u%d\nhost u%d\n", i, i);
	}
	assert_int_equal(fclose(sys), 0);
	assert_int_equal(fclose(user), 0);
	assert_int_equal(chmod(fx->path, 0600), 0);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		snprintf(want, sizeof(want), "%s%d", i % 3 == 0 ? "user" :
		    "sys", i);
		assert_string_equal(acc(fx, name)->host, want);
		snprintf(name, sizeof(name), "u%d", i);
		snprintf(want, sizeof(want), "u%d", i);
		assert_string_equal(acc(fx, name)->host, want);
	}
	assert_null(config_account(fx->cf, "a5000", &fx->err));
	load_fails(fx, "account a1\nhost h\naccount a2\nhost h\n"
	    "account a1\n", ":5: account 'a1' is already defined on line 1");
	load_fails(fx, "account a1\nhost h\naccount b : a1, a2\n",
	    ":3: account 'a2' is not defined");
}

static void
test_eval(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(load(fx, "account a\n"
	    "eval echo host smtp.example.org; echo ignored\n"
	    "eval echo user $(wc -c)\n"), 0);
	assert_string_equal(acc(fx, "a")->host, "smtp.example.org");
	assert_string_equal(acc(fx, "a")->user, "0");	/* stdin: /dev/null */
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* eval has passwordeval's limits: the timeout in force, 1 MiB, a kill. */
static void
test_eval_limits(void **state)
{
	struct fx *fx = *state;
	double t0, t;

	t0 = now_s();
	load_fails(fx, "defaults\ntimeout 2\naccount a\neval sleep 30\n",
	    ":4: eval: the command did not finish within 2 s");
	t = now_s() - t0;
	assert_true(t >= 1.9);
	assert_true(t < 10);
	assert_int_equal(error_exit_code(&fx->err), 78);
	/* The account's own timeout counts from its line on. */
	t0 = now_s();
	load_fails(fx, "account a\ntimeout 1\neval sleep 30 | cat\n",
	    ":3: eval: the command did not finish within 1 s");
	assert_true(now_s() - t0 < 10);
	/* Endless output stops at the cap, endless first line too. */
	t0 = now_s();
	load_fails(fx, "account a\neval yes\n",
	    ":2: eval: the command printed more than 1 MiB");
	load_fails(fx, "account a\neval tr '\\0' x < /dev/zero\n",
	    ":2: eval: the command printed more than 1 MiB");
	assert_true(now_s() - t0 < 30);
	assert_int_equal(error_exit_code(&fx->err), 78);
	/* A signal is named. */
	load_fails(fx, "account a\neval kill -9 $$\n",
	    ":2: eval: the command was killed by signal 9");
}

static void
test_account_lookup(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	assert_int_equal(load(fx, "account a\nhost h\naccount nohost\n"
	    "port 25\n"), 0);
	a = config_account(fx->cf, "nohost", &fx->err);
	assert_null(a);
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	assert_non_null(strstr(fx->err.msg, ":3: account 'nohost' has no "
	    "host"));
	assert_null(config_account(fx->cf, "zz", &fx->err));
	assert_non_null(strstr(fx->err.msg, "no account 'zz' in "));
	assert_null(config_account(fx->cf, "default", &fx->err));
	assert_non_null(strstr(fx->err.msg, "no default account in "));
	assert_non_null(strstr(fx->err.hint, "account default :"));

	/* Neither file exists: say which files were looked for. */
	config_free(fx->cf);
	fx->cf = NULL;
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_null(config_files(fx->cf)[0]);
	assert_null(config_account(fx->cf, "default", &fx->err));
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	assert_non_null(strstr(fx->err.msg, "/etc/smtprc"));
	assert_non_null(strstr(fx->err.msg, "/etc/msmtprc"));
	assert_non_null(strstr(fx->err.msg, "~/.smtprc"));
	assert_non_null(strstr(fx->err.msg, "~/.msmtprc"));
	assert_non_null(strstr(fx->err.msg, "~/.config/msmtp/config"));
	assert_non_null(strstr(fx->err.hint, "create ~/.smtprc"));
	assert_null(strstr(fx->err.hint, "works unchanged"));

	/* -C with a missing file is an error. */
	config_free(fx->cf);
	fx->cf = NULL;
	assert_int_equal(config_load(&fx->cf, "/nonexistent/rc", &fx->env,
	    &fx->err), -1);
	assert_null(fx->cf);
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	assert_non_null(strstr(fx->err.msg, "/nonexistent/rc: No such file"));
}

static void
test_system_and_user(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	write_file(fx->sys, "defaults\nport 2525\n"
	    "account default\nhost sys.example\nfrom root@sys.example\n"
	    "account shared\nhost sys-shared\nuser sysuser\n", 0644);
	write_file(fx->path, "account shared\nhost user-shared\n"
	    "account mine : shared\nfrom me@example.org\n", 0600);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	assert_string_equal(config_files(fx->cf)[0], fx->sys);
	assert_string_equal(config_files(fx->cf)[1], fx->path);
	assert_null(config_files(fx->cf)[2]);
	a = acc(fx, "default");
	assert_string_equal(a->host, "sys.example");
	assert_int_equal(a->port, 2525);
	a = acc(fx, "shared");	/* replaced whole, not merged */
	assert_string_equal(a->host, "user-shared");
	assert_null(a->user);
	assert_int_equal(a->port, 0);	/* system defaults stay there */
	assert_string_equal(a->file, fx->path);
	assert_string_equal(acc(fx, "mine")->host, "user-shared");

	/* An error in the user file names it. */
	config_free(fx->cf);
	fx->cf = NULL;
	write_file(fx->path, "account x\nhost h\nport 0\n", 0600);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), -1);
	assert_non_null(strstr(fx->err.msg, ".smtprc:3: invalid value"));
}

static void
test_permissions(void **state)
{
	struct fx *fx = *state;
	char hint[256];

	write_file(fx->path, "account a\nhost h\npassword secret\n", 0644);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    -1);
	assert_int_equal(fx->err.kind, ERR_CONFIG);
	assert_non_null(strstr(fx->err.msg, "contains a password but is "
	    "readable by others"));
	snprintf(hint, sizeof(hint), "chmod 600 %s", fx->path);
	assert_string_equal(fx->err.hint, hint);
	assert_int_equal(chmod(fx->path, 0640), 0);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    -1);
	assert_int_equal(chmod(fx->path, 0600), 0);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    0);
	config_free(fx->cf);
	fx->cf = NULL;

	/* No password: any mode is fine; a password in defaults counts. */
	write_file(fx->path, "account a\nhost h\npasswordeval x\n", 0644);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    0);
	config_free(fx->cf);
	fx->cf = NULL;
	write_file(fx->path, "defaults\npassword p\naccount a\nhost h\n",
	    0604);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    -1);

	/* Owned by someone else. */
	fx->env.uid = fx->env.uid + 4242;
	write_file(fx->path, "account a\nhost h\npassword p\n", 0600);
	assert_int_equal(config_load(&fx->cf, fx->path, &fx->env, &fx->err),
	    -1);
	assert_non_null(strstr(fx->err.msg, "not by you"));

	/* The system file may be root's and group-readable. */
	fx->env.uid = 4242;
	assert_int_equal(unlink(fx->path), 0);
	write_file(fx->sys, "account default\nhost h\npassword p\n", 0640);
	if (getuid() == 0) {
		assert_int_equal(config_load(&fx->cf, NULL, &fx->env,
		    &fx->err), 0);
		config_free(fx->cf);
		fx->cf = NULL;
		assert_int_equal(chmod(fx->sys, 0644), 0);
		assert_int_equal(config_load(&fx->cf, NULL, &fx->env,
		    &fx->err), -1);
		assert_non_null(strstr(fx->err.msg, "system-smtprc: contains"));
	}
}

static void
test_from_matching(void **state)
{
	struct fx *fx = *state;
	const struct config *cf;

	write_file(fx->sys, "account sysglob\nhost h\nfrom *@example.org\n"
	    "account sysexact\nhost h\nfrom exact@example.org\n", 0644);
	write_file(fx->path, "account work\nhost h\nfrom Jane@Work.example\n"
	    "account glob\nhost h\nfrom *@lists.example\n"
	    "account any\nhost h\nfrom j?ne@home.[a-z]*\n"
	    "account f\nhost h\nfrom %F\n"
	    "account fglob\nhost h\nfrom *@work.example\n"
	    "account uglob\nhost h\nfrom u*@example.org\n", 0600);
	assert_int_equal(config_load(&fx->cf, NULL, &fx->env, &fx->err), 0);
	cf = fx->cf;
	assert_string_equal(config_account_for_from(cf,
	    "jane@work.example")->name, "work");	/* exact beats glob */
	assert_string_equal(config_account_for_from(cf,
	    "bob@work.example")->name, "fglob");
	assert_string_equal(config_account_for_from(cf,
	    "x@lists.example")->name, "glob");
	assert_string_equal(config_account_for_from(cf,
	    "jane@home.net")->name, "any");
	assert_string_equal(config_account_for_from(cf,
	    "jane+git@work.example")->name, "fglob");	/* glob first */
	assert_string_equal(config_account_for_from(cf,
	    "exact@example.org")->name, "sysexact");
	assert_string_equal(config_account_for_from(cf,
	    "other@example.org")->name, "sysglob");
	/* User-file accounts come before system ones. */
	assert_string_equal(config_account_for_from(cf,
	    "user@example.org")->name, "uglob");
	assert_null(config_account_for_from(cf, "nobody@nowhere.example"));
	assert_null(config_account_for_from(cf, ""));
	assert_null(config_account_for_from(cf, "%F"));

	config_free(fx->cf);
	fx->cf = NULL;
	assert_int_equal(load(fx, "account a\nhost h\nfrom me@example.org\n"
	    "account b\nhost h\nfrom b+x@example.org\n"), 0);
	assert_string_equal(config_account_for_from(fx->cf,
	    "me+lists@example.org")->name, "a");
	assert_string_equal(config_account_for_from(fx->cf,
	    "ME+a+b@Example.org")->name, "a");
	assert_string_equal(config_account_for_from(fx->cf,
	    "b+x@example.org")->name, "b");
	assert_null(config_account_for_from(fx->cf, "+x@example.org"));
	assert_null(config_account_for_from(fx->cf, "me@exa+mple.org"));
}

static void
test_print(void **state)
{
	struct fx *fx = *state;
	char *buf = NULL, want[256];
	size_t len = 0;
	FILE *m;

	assert_int_equal(load(fx, "\naccount a\nhost smtp.example.org\n"
	    "user me\npassword hunter2\nport 465\n"), 0);
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	config_print_account(acc(fx, "a"), m);
	assert_int_equal(fclose(m), 0);
	assert_null(strstr(buf, "hunter2"));
	snprintf(want, sizeof(want), "= a (%s:2)\n", fx->path);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "\npassword             = * ("));
	assert_non_null(strstr(buf, "\nhost                 = smtp.example."
	    "org\n"));
	assert_non_null(strstr(buf, "\nport                 = 465\n"));
	assert_non_null(strstr(buf, "\ntls_starttls         = off (default)\n"));
	assert_non_null(strstr(buf, "\nauth                 = on (default)\n"));
	assert_non_null(strstr(buf, "\ntimeout              = 60 s (default)\n"));
	assert_non_null(strstr(buf, "\ntls_trust_file       = system\n"));
	assert_non_null(strstr(buf, "\npasswordeval         = (not set)\n"));
	free(buf);
}

/* The queue lines of --pretend: set or default, the lifetime in the
   largest unit that divides it. */
static void
test_print_queue(void **state)
{
	static const struct {
		const char	*line;
		const char	*want;
	} life[] = {
		{ "", "queue_lifetime       = 5d (default)\n" },
		{ "queue_lifetime 90s\n", "queue_lifetime       = 90s\n" },
		{ "queue_lifetime 120s\n", "queue_lifetime       = 2m\n" },
		{ "queue_lifetime 36h\n", "queue_lifetime       = 36h\n" },
		{ "queue_lifetime 48h\n", "queue_lifetime       = 2d\n" },
	};
	struct fx *fx = *state;
	char *buf = NULL, text[128];
	size_t len = 0, i;
	FILE *m;

	for (i = 0; i < sizeof(life) / sizeof(life[0]); i++) {
		snprintf(text, sizeof(text), "account a\nhost h\n%s%s",
		    life[i].line, i == 0 ? "" : "queue off\nqueue_dir /q\n");
		assert_int_equal(load(fx, text), 0);
		m = open_memstream(&buf, &len);
		assert_non_null(m);
		config_print_queue(acc(fx, "a"), "/var/q", m);
		assert_int_equal(fclose(m), 0);
		assert_non_null(strstr(buf, life[i].want));
		if (i == 0) {
			assert_non_null(strstr(buf, "queue                = on "
			    "(default)\n"));
			assert_non_null(strstr(buf, "queue_dir            = /var/q "
			    "(default)\n"));
		} else {
			assert_non_null(strstr(buf, "queue                = "
			    "off\n"));
			assert_non_null(strstr(buf, "queue_dir            = "
			    "/var/q\n"));
		}
		free(buf);
		buf = NULL;
	}
}

static void
test_env_init(void **state)
{
	struct config_env env;
	struct error err;
	char *home = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
	char dir[] = "/tmp/test_env_init.XXXXXX", rc[64];
	FILE *fp;

	(void)state;
	/* A $HOME with a .smtprc is taken whatever the passwd entry's home
	   holds (the user running the tests may have a ~/.smtprc). */
	assert_non_null(mkdtemp(dir));
	snprintf(rc, sizeof(rc), "%s/.smtprc", dir);
	fp = fopen(rc, "w");
	assert_non_null(fp);
	fclose(fp);
	setenv("HOME", dir, 1);
	setenv("USER", "not-me", 1);
	assert_int_equal(config_env_init(&env, &err), 0);
	assert_string_equal(env.home, dir);
	assert_string_not_equal(env.user, "not-me");
	assert_int_equal(env.uid, getuid());
	assert_non_null(env.hostname);
	assert_true(env.hostname[0] != '\0');
	assert_null(env.system_file);
	config_env_free(&env);
	setenv("HOME", "", 1);		/* empty: the passwd entry */
	assert_int_equal(config_env_init(&env, &err), 0);
	assert_true(env.home[0] == '/');
	config_env_free(&env);
	unlink(rc);
	rmdir(dir);
	if (home != NULL)
		setenv("HOME", home, 1);
	free(home);
}

/* Copy a fixture to a 0600 file in the test directory and load it. */
static void
load_fixture(struct fx *fx, const char *name)
{
	const char *dir = getenv("FIXTURES");
	char path[512], *text;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir :
	    "tests/fixtures", name);
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("%s: cannot open (run from the top of the tree)", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	if (load(fx, text) != 0)
		fail_msg("%s: %s", name, fx->err.msg);
	free(text);
}

static void
test_fixture_gmail(void **state)
{
	struct fx *fx = *state;
	const struct account *a;
	char want[256];

	load_fixture(fx, "gmail.msmtprc");
	a = acc(fx, "default");
	assert_string_equal(a->host, "smtp.gmail.com");
	assert_int_equal(config_port(a), 587);
	assert_int_equal(config_starttls(a), 1);
	assert_string_equal(config_auth(a), "on");
	assert_string_equal(a->user, "jane.doe@gmail.com");
	assert_string_equal(a->from, "jane.doe@gmail.com");
	assert_null(a->password);
	assert_string_equal(a->passwordeval, "gpg --quiet --for-your-eyes-only "
	    "--no-tty --decrypt ~/.msmtp-gmail.gpg");
	assert_string_equal(a->tls_trust_file,
	    "/etc/ssl/certs/ca-certificates.crt");
	snprintf(want, sizeof(want), "%s/.msmtp.log", fx->dir);
	assert_string_equal(a->logfile, want);
	assert_string_equal(config_account_for_from(fx->cf,
	    "jane.doe@gmail.com")->name, "gmail");
}

static void
test_fixture_fastmail(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	load_fixture(fx, "fastmail.msmtprc");
	a = acc(fx, "default");
	assert_string_equal(a->host, "smtp.fastmail.com");
	assert_int_equal(config_port(a), 465);
	assert_int_equal(config_starttls(a), 0);
	assert_int_equal(a->timeout, 30);
	assert_string_equal(a->syslog, "LOG_MAIL");
	assert_null(a->tls_trust_file);
	assert_string_equal(a->passwordeval,
	    "pass show mail/fastmail | head -n 1");
	a = acc(fx, "fastmail-alias");
	assert_string_equal(a->from, "joe.smith@fastmail.example");
	assert_string_equal(a->user, "joe@fastmail.example");
	assert_int_equal(config_port(a), 465);
	a = acc(fx, "work");
	assert_int_equal(config_port(a), 587);
	assert_int_equal(config_starttls(a), 1);
	assert_string_equal(a->password, "s3cret with spaces");
	assert_int_equal(a->set_from_header, CFG_ON);
	assert_string_equal(config_account_for_from(fx->cf,
	    "joe.smith@fastmail.example")->name, "fastmail-alias");
	assert_string_equal(config_account_for_from(fx->cf,
	    "anyone@corp.example")->name, "work");
}

static void
test_fixture_system(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	load_fixture(fx, "system.msmtprc");
	a = acc(fx, "default");
	assert_string_equal(a->host, "mail.oursite.example");
	assert_int_equal(config_port(a), 587);
	assert_string_equal(a->from, "alice@mail.example.org");
	assert_string_equal(a->domain, "box.example.org");
	assert_int_equal(a->allow_from_override, CFG_OFF);
	assert_int_equal(a->set_from_header, CFG_ON);
	assert_string_equal(a->syslog, "LOG_MAIL");
	assert_string_equal(a->aliases, "/etc/aliases");
	assert_string_equal(config_auth(a), "PLAIN");
	assert_string_equal(a->password, "Relay-Pass-1");
}

static void
test_fixture_office365(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	load_fixture(fx, "office365.msmtprc");
	a = acc(fx, "default");
	assert_string_equal(a->host, "smtp.office365.com");
	assert_string_equal(config_auth(a), "XOAUTH2");
	assert_string_equal(a->from_full_name, "Alex Example");
	assert_string_equal(a->passwordeval,
	    "~/bin/oauth2-token.py --account alex@contoso.example");
	assert_string_equal(a->dsn_notify, "FAILURE,DELAY");
	assert_string_equal(a->dsn_return, "HDRS");
	assert_string_equal(a->logfile_time_format, "%Y-%m-%d %H:%M:%S");
	assert_int_equal(config_starttls(a), 1);
}

static void
test_fixture_debian(void **state)
{
	struct fx *fx = *state;
	const struct account *a;

	load_fixture(fx, "debian-wiki.msmtprc");
	a = acc(fx, "default");
	assert_string_equal(a->host, "mail.isp.example");
	assert_int_equal(config_port(a), 25);
	assert_int_equal(config_starttls(a), 1);
	/* Not enclosed in quotes as a whole: kept as written. */
	assert_string_equal(a->password, "P@ss#word \"quoted\"");
	assert_int_equal(a->remove_bcc_headers, CFG_ON);
	assert_string_equal(a->tls_fingerprint, "43:AB:12:0F:7C:99:8A:01:2B:"
	    "3C:4D:5E:6F:70:81:92:A3:B4:C5:D6");
	a = acc(fx, "legacy");
	assert_string_equal(a->from, "alice@legacy.example");
	assert_int_equal(config_port(a), 465);
	assert_int_equal(config_starttls(a), 0);
	assert_int_equal(a->set_from_header, CFG_OFF);
	assert_int_equal(a->timeout, 15);
	assert_non_null(strstr(a->tls_crl_file, "/.certs/legacy.crl"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_choose_home, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grammar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_implicit_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth2_error_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oauth2_print_defaults,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_oauth2_keywords, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_builtin_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_protocol_lmtp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_aliases_of_old_keywords,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_undisclosed_recipients,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_substitutions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tilde, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tilde_home, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_accounts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_user_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_system_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eval_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_account_lookup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_system_and_user, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_from_matching, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_queue, setup,
		    teardown),
		cmocka_unit_test(test_env_init),
		cmocka_unit_test_setup_teardown(test_fixture_gmail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fixture_fastmail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fixture_system, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fixture_office365, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_connect_keywords, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fixture_debian, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
