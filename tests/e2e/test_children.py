"""Child processes of the binary (config eval, passwordeval) within limits:
a hung eval fails at the timeout and an endless one at the output cap,
with 78 and a clear message; and with SIGCHLD ignored by the caller (as
PHP-FPM and some daemons leave it), a failing passwordeval is a failure,
never a password, while working ones still work.  Real Postfix + Dovecot.
"""

import os
import subprocess
import sys
import time
import uuid

FROM = "alice@example.org"
RCPT = "bob@example.org"

# Runs argv[1:] with SIGCHLD ignored, as such a caller would.
SIGCHLD_IGNORED = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n")


def config(postfix, certs, extra):
    return ("account default\nhost 127.0.0.1\nport %d\ntls on\n"
            "tls_starttls on\ntls_trust_file %s\nfrom %s\nauth plain\n"
            "timeout 20\n%s"
            % (postfix.port("starttls_auth"), certs.ca, FROM, extra))


def message():
    tag = uuid.uuid4().hex
    return tag, ("From: %s\nTo: %s\nSubject: child %s\n\nbody\n"
                 % (FROM, RCPT, tag)).encode()


def delivered(postfix, tag):
    return [m for m in postfix.messages() if tag.encode() in m]


def test_eval_hang_bounded_by_timeout(run):
    t0 = time.monotonic()
    p = run(["--pretend"], config="defaults\ntimeout 2\naccount default\n"
            "host h.example\neval sleep 30\n")
    elapsed = time.monotonic() - t0
    assert p.returncode == 78, p.stderr.decode()
    assert b"eval: the command did not finish within 2 s" in p.stderr
    assert elapsed < 20, elapsed     # not the 30 s of the command


def test_eval_endless_output_capped(run):
    t0 = time.monotonic()
    p = run(["--pretend"], config="account default\nhost h.example\n"
            "eval yes\n")
    assert p.returncode == 78, p.stderr.decode()
    assert b"eval: the command printed more than 1 MiB" in p.stderr
    assert time.monotonic() - t0 < 40


def test_eval_still_works(run):
    p = run(["--pretend"], config="account default\n"
            "eval echo host h.example\n")
    assert p.returncode == 0, p.stderr.decode()
    assert b"h.example" in p.stdout


def _run_ignored(run, cmd, cfg, input):
    """run's command with SIGCHLD ignored; config cfg, recipient RCPT."""
    full = dict(os.environ, HOME=run.home)
    argv = [sys.executable, "-c", SIGCHLD_IGNORED] + cmd + \
        ["-C", run.config_file(cfg), RCPT]
    return subprocess.run(argv, input=input, env=full, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigchld_ignored_failing_passwordeval(postfix, certs, run):
    # The command prints the right password but fails: never use it.
    tag, msg = message()
    p = _run_ignored(run, run.command(), config(
        postfix, certs, "user alice\npasswordeval echo secret; exit 1\n"),
        msg)
    assert p.returncode == 78, p.stderr.decode()
    assert b"passwordeval of account default" in p.stderr
    assert b"exit status 1" in p.stderr
    assert b"secret" not in p.stderr
    time.sleep(1)
    assert delivered(postfix, tag) == []


def test_sigchld_ignored_working_evals(postfix, certs, run):
    # eval in the config and passwordeval both work as usual.
    tag, msg = message()
    p = _run_ignored(run, run.command(), config(
        postfix, certs, "eval echo user alice\n"
        "passwordeval printf 'secret\\n'\n"), msg)
    assert p.returncode == 0, p.stderr.decode()
    assert len(postfix.wait_messages(1, timeout=15)) == 1
    assert delivered(postfix, tag)


def test_sigchld_ignored_failing_eval(run):
    p = _run_ignored(run, run.command(),
                     "account default\nhost h.example\neval exit 3\n",
                     message()[1])
    assert p.returncode == 78, p.stderr.decode()
    assert b"eval: the command failed with exit status 3" in p.stderr


def test_eval_prompt_on_terminal(run):
    # A command that asks on the terminal gets its foreground while it
    # runs (in a background group it would be stopped by SIGTTIN and
    # killed at the timeout), and smtpsend gets it back.
    import pty

    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def take_tty():
        os.setsid()
        os.close(os.open(name, os.O_RDWR))     # becomes the ctty

    cfg = run.config_file("account default\ntimeout 10\n"
                          "eval read h </dev/tty; echo host $h\n"
                          "eval read u </dev/tty; echo user $u\n")
    proc = subprocess.Popen(run.command() + ["-C", cfg, "--pretend"],
                            stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=take_tty,
                            env=dict(os.environ, HOME=run.home))
    try:
        os.write(master, b"h.example\nalice\n")   # typed ahead
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err.decode()
    assert b"h.example" in out
    assert b"alice" in out
