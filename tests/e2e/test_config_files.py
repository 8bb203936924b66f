"""Which configuration files the built binary reads, as whom, and what its
errors show of them: msmtp's user and system files, a system file that is
root:GROUP 0640 (read by that group, skipped by others), a -C file that
is not a config at all (/etc/shadow), ~ in a -C file, MD5 fingerprints.

/etc is never touched: each run happens in a private mount namespace
whose /etc is an overlay of the real one (unshare + overlayfs), in which
/etc/smtprc and /etc/msmtprc are exactly what the test put there (the
real ones, if any, are hidden by whiteouts), and /etc/passwd may give
the test user a temporary home.  Other users are real: www-data (in the
file's group) and nobody (not in it), through setpriv.
"""

import grp
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
import uuid

import pytest

import servers

GROUP_USER = "www-data"     # its group owns the system file
OTHER_USER = "nobody"       # not in that group
SECRET = "SECRETVALUE"


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="smtpsend-conffiles-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def home_for(tmp, user, files=None):
    """A fresh home directory owned by user, holding files {rel: text}
    (0600, owned by user)."""
    h = tempfile.mkdtemp(dir=tmp, prefix="home-")
    pw = pwd.getpwnam(user)
    for rel, text in (files or {}).items():
        p = os.path.join(h, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o600)
    for root, dirs, names in os.walk(h):
        for n in dirs + names + [""]:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
    return h


def run_ns(tmp, args, etc=None, user="root", env=None, passwd_home=None,
           input=b"", timeout=60):
    """Run smtpsend args in a private mount namespace with /etc overlaid:
    etc {name: (text, mode, group)} is put into /etc, smtprc and msmtprc
    are hidden unless given; passwd_home {user: dir} changes homes in
    /etc/passwd (default: user's home is $HOME, so that no real home is
    read).  As user (setpriv, with that user's groups)."""
    etc = dict(etc or {})
    if passwd_home is None and env and "HOME" in env:
        passwd_home = {user: env["HOME"]}
    d = tempfile.mkdtemp(dir=tmp, prefix="etc-")
    upper, work = os.path.join(d, "upper"), os.path.join(d, "work")
    os.mkdir(upper)
    os.mkdir(work)
    for name in ("smtprc", "msmtprc"):
        if name not in etc:       # an overlayfs whiteout hides the real one
            os.mknod(os.path.join(upper, name), stat.S_IFCHR | 0o600,
                     os.makedev(0, 0))
    for name, (text, mode, group) in etc.items():
        p = os.path.join(upper, name)
        with open(p, "w") as f:
            f.write(text)
        os.chown(p, 0, grp.getgrnam(group).gr_gid)
        os.chmod(p, mode)
    if passwd_home:
        lines = []
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields[0] in passwd_home:
                    fields[5] = passwd_home[fields[0]]
                lines.append(":".join(fields) + "\n")
        with open(os.path.join(upper, "passwd"), "w") as f:
            f.writelines(lines)
        os.chmod(os.path.join(upper, "passwd"), 0o644)
    script = ("mount --make-rprivate / && mount -t overlay overlay -o "
              "lowerdir=/etc,upperdir=%s,workdir=%s /etc && exec \"$@\""
              % (upper, work))
    cmd = ["unshare", "--mount", "sh", "-c", script, "sh"]
    if user != "root":
        cmd += ["setpriv", "--reuid=" + user,
                "--regid=%d" % pwd.getpwnam(user).pw_gid, "--init-groups"]
    wrapper = os.environ.get("SMTPSEND_WRAPPER")
    if wrapper:
        timeout *= 4
    full = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            # Never root's real queue (issue 7): one of the test's own.
            "SMTPSEND_QUEUE_DIR": os.path.join(d, "queue")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:     # sanitizer builds: keep their settings
            full[k] = os.environ[k]
    full.update(env or {})
    binary = shlex.split(wrapper or "") + [servers.smtpsend_path()]
    p = subprocess.run(cmd + binary + list(args),
                       input=input, env=full, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shutil.rmtree(d, ignore_errors=True)
    return p


def out(p):
    return (p.stdout + p.stderr).decode(errors="replace")


def account(host="msmtp.example", extra=""):
    return ("account default\nhost %s\nfrom me@example.org\n%s"
            % (host, extra))


# ------------------------------------------- item 10: no file content shown

def test_shadow_like_file_not_echoed(tmp):
    rc = os.path.join(tmp, "shadow")
    with open(rc, "w") as f:
        f.write("root:$6$%s$hash:19000:0:99999:7:::\n" % SECRET)
    h = home_for(tmp, "root")
    p = run_ns(tmp, ["-C", rc, "--pretend"], env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert SECRET not in out(p) and "root:" not in out(p), out(p)
    assert "shadow:1: unknown keyword (not shown)" in out(p), out(p)


def test_values_and_eval_not_echoed(tmp):
    h = home_for(tmp, "root")
    for line, want in (("port " + SECRET, ":2: invalid value for port"),
                       ("auth " + SECRET, ":2: invalid value for auth"),
                       ("eval echo %s; false" % SECRET,
                        ":2: eval: the command failed")):
        rc = os.path.join(tmp, "rc-" + uuid.uuid4().hex)
        with open(rc, "w") as f:
            f.write("account a\n%s\n" % line)
        p = run_ns(tmp, ["-C", rc, "--pretend"], env={"HOME": h})
        assert p.returncode == 78, out(p)
        assert want in out(p), out(p)
        assert SECRET not in out(p), out(p)


# ------------------------------------------------ item 14: msmtp's files

@pytest.mark.parametrize("rel,xdg", [
    (".msmtprc", None),
    (".config/msmtp/config", None),
    ("xdg/msmtp/config", "xdg"),
])
def test_msmtp_user_file_read_and_named(tmp, rel, xdg):
    h = home_for(tmp, "root", {rel: account("from-" + rel.replace("/", "-"))})
    env = {"HOME": h}
    if xdg:
        env["XDG_CONFIG_HOME"] = os.path.join(h, xdg)
    p = run_ns(tmp, ["--pretend"], env=env)
    assert p.returncode == 0, out(p)
    assert "configuration file: %s\n" % os.path.join(h, rel) in out(p)
    assert "= from-" + rel.replace("/", "-") in out(p)
    assert "works unchanged" not in out(p)


def test_user_file_order(tmp):
    files = {".msmtprc": account("msmtprc"),
             ".config/msmtp/config": account("xdg")}
    h = home_for(tmp, "root", files)
    p = run_ns(tmp, ["--pretend"], env={"HOME": h})
    assert p.returncode == 0 and "= msmtprc\n" in out(p), out(p)
    with open(os.path.join(h, ".smtprc"), "w") as f:
        f.write(account("smtprc"))
    p = run_ns(tmp, ["--pretend"], env={"HOME": h})
    assert p.returncode == 0 and "= smtprc\n" in out(p), out(p)
    assert ".msmtprc" not in out(p)


def test_etc_msmtprc_when_no_etc_smtprc(tmp):
    h = home_for(tmp, "root")
    etc = {"msmtprc": (account("etc-msmtprc"), 0o644, "root")}
    p = run_ns(tmp, ["--pretend"], etc=etc, env={"HOME": h})
    assert p.returncode == 0, out(p)
    assert "configuration file: /etc/msmtprc\n" in out(p)
    assert "= etc-msmtprc\n" in out(p)
    etc["smtprc"] = (account("etc-smtprc"), 0o644, "root")
    p = run_ns(tmp, ["--pretend"], etc=etc, env={"HOME": h})
    assert p.returncode == 0 and "= etc-smtprc\n" in out(p), out(p)
    assert "/etc/msmtprc" not in out(p)


def test_passwd_home_only_when_home_has_no_file(tmp):
    # sudo's HOME=/ case: the passwd home's file is used only when $HOME
    # holds none of smtpsend's or msmtp's user files.
    pwhome = home_for(tmp, GROUP_USER, {".smtprc": account("pw-home")})
    envhome = home_for(tmp, GROUP_USER,
                       {".msmtprc": account("env-home")})
    p = run_ns(tmp, ["--pretend"], user=GROUP_USER,
               env={"HOME": envhome}, passwd_home={GROUP_USER: pwhome})
    assert p.returncode == 0 and "= env-home\n" in out(p), out(p)
    os.unlink(os.path.join(envhome, ".msmtprc"))
    p = run_ns(tmp, ["--pretend"], user=GROUP_USER,
               env={"HOME": envhome}, passwd_home={GROUP_USER: pwhome})
    assert p.returncode == 0 and "= pw-home\n" in out(p), out(p)


def test_verbose_names_the_file(tmp, postfix):
    h = home_for(tmp, "root", {".msmtprc": (
        "account default\nhost 127.0.0.1\nport %d\ntls off\n"
        "from me@example.org\n" % postfix.port("plain"))})
    p = run_ns(tmp, ["-v", "-i", "rcpt@example.org"], env={"HOME": h},
               input=b"Subject: conffiles\n\nbody\n")
    assert p.returncode == 0, out(p)
    assert "--- configuration file: %s/.msmtprc\n" % h in out(p)
    assert len(postfix.wait_messages(1, timeout=15)) == 1


# ------------------------------------- item 15: system file permissions

def system_rc(postfix):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from www@example.org\nuser %s\npassword %s\nauth plain\n"
            % (postfix.port("plain_auth"), servers.ALICE,
               servers.ALICE_PASSWORD))


@pytest.mark.parametrize("name", ["smtprc", "msmtprc"])
def test_group_readable_system_file_works_for_group(tmp, postfix, name):
    etc = {name: (system_rc(postfix), 0o640, GROUP_USER)}
    h = home_for(tmp, GROUP_USER)
    p = run_ns(tmp, ["--pretend"], etc=etc, user=GROUP_USER,
               env={"HOME": h})
    assert p.returncode == 0, out(p)
    assert "configuration file: /etc/%s\n" % name in out(p)
    assert servers.ALICE_PASSWORD not in out(p)
    p = run_ns(tmp, ["-i", "rcpt@example.org"], etc=etc, user=GROUP_USER,
               env={"HOME": h}, input=b"Subject: group\n\nbody\n")
    assert p.returncode == 0, out(p)
    assert len(postfix.wait_messages(1, timeout=15)) == 1


def test_world_readable_system_file_hint(tmp, postfix):
    etc = {"smtprc": (system_rc(postfix), 0o644, GROUP_USER)}
    h = home_for(tmp, GROUP_USER)
    p = run_ns(tmp, ["--pretend"], etc=etc, user=GROUP_USER,
               env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert "/etc/smtprc: contains a password but is readable by others" \
        in out(p)
    assert "chmod 640 /etc/smtprc" in out(p)
    assert "chgrp" in out(p)
    assert "chmod 600" not in out(p)


def test_unreadable_system_file_skipped(tmp, postfix):
    etc = {"smtprc": (system_rc(postfix), 0o640, GROUP_USER)}
    # Not in the group, no file of its own: nothing to use, and it says so.
    h = home_for(tmp, OTHER_USER)
    p = run_ns(tmp, ["--pretend"], etc=etc, user=OTHER_USER,
               env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert "/etc/smtprc: Permission denied (skipped)" in out(p)
    assert "no configuration file" in out(p)
    # With a file of its own, that one is used; -v and --pretend say why
    # the system file was not.
    h = home_for(tmp, OTHER_USER, {".smtprc": (
        "account default\nhost 127.0.0.1\nport %d\ntls off\n"
        "from nobody@example.org\n" % postfix.port("plain"))})
    p = run_ns(tmp, ["--pretend"], etc=etc, user=OTHER_USER,
               env={"HOME": h})
    assert p.returncode == 0, out(p)
    assert "configuration file: %s/.smtprc\n" % h in out(p)
    assert "configuration file: /etc/smtprc: Permission denied " \
        "(skipped)\n" in out(p)
    p = run_ns(tmp, ["-v", "-i", "rcpt@example.org"], etc=etc,
               user=OTHER_USER, env={"HOME": h},
               input=b"Subject: skipped\n\nbody\n")
    assert p.returncode == 0, out(p)
    assert "--- configuration file: /etc/smtprc: Permission denied " \
        "(skipped)\n" in out(p)
    assert len(postfix.wait_messages(1, timeout=15)) == 1


def test_unreadable_user_or_C_file_is_error(tmp):
    h = home_for(tmp, OTHER_USER, {".smtprc": account()})
    rc = os.path.join(h, ".smtprc")
    os.chown(rc, 0, 0)
    p = run_ns(tmp, ["--pretend"], user=OTHER_USER, env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert "%s: Permission denied" % rc in out(p)
    p = run_ns(tmp, ["-C", rc, "--pretend"], user=OTHER_USER,
               env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert "%s: Permission denied" % rc in out(p)


# ------------------------------------------ item 17: ~ in -C, MD5 pins

def test_tilde_in_C_file_is_HOME(tmp):
    # $HOME has no config file, the passwd home has one: the user files
    # come from the passwd home, but ~ in a -C file is $HOME, as in msmtp.
    pwhome = home_for(tmp, GROUP_USER, {".smtprc": account()})
    envhome = home_for(tmp, GROUP_USER, {"rc": account(
        extra="logfile ~/smtpsend.log\ntls_trust_file ~/ca.pem\n")})
    p = run_ns(tmp, ["-C", os.path.join(envhome, "rc"), "--pretend"],
               user=GROUP_USER, env={"HOME": envhome},
               passwd_home={GROUP_USER: pwhome})
    assert p.returncode == 0, out(p)
    assert "= %s/smtpsend.log\n" % envhome in out(p)
    assert "= %s/ca.pem\n" % envhome in out(p)
    assert pwhome not in out(p)


def test_md5_fingerprint_refused_when_read(tmp):
    h = home_for(tmp, "root")
    rc = os.path.join(h, "rc")
    md5 = ":".join(["ab"] * 16)
    with open(rc, "w") as f:
        f.write(account(extra="tls_fingerprint %s\n" % md5))
    p = run_ns(tmp, ["-C", rc, "--pretend"], env={"HOME": h})
    assert p.returncode == 78, out(p)
    assert "rc:4: tls_fingerprint: an MD5 fingerprint is not accepted" \
        in out(p)
    assert "SHA-256" in out(p) and "SHA-1" in out(p)
    with open(rc, "w") as f:
        f.write(account(extra="tls_fingerprint %s\n" % ":".join(["ab"] * 20)))
    p = run_ns(tmp, ["-C", rc, "--pretend"], env={"HOME": h})
    assert p.returncode == 0, out(p)


def test_home_it_cannot_search_is_not_its_home(tmp):
    # HOME=/root kept for www-data (PHP-FPM, su without -): the file there
    # is not its file; the passwd home's is used, no permission error.
    roothome = home_for(tmp, "root", {".smtprc": account("root-home")})
    os.chmod(roothome, 0o700)
    pwhome = home_for(tmp, GROUP_USER, {".msmtprc": account("own-home")})
    p = run_ns(tmp, ["--pretend"], user=GROUP_USER, env={"HOME": roothome},
               passwd_home={GROUP_USER: pwhome})
    assert p.returncode == 0, out(p)
    assert "= own-home\n" in out(p)
    assert "configuration file: %s/.msmtprc\n" % pwhome in out(p)


# ------------------------------------------------ the queue in --pretend

def test_pretend_shows_the_queue(tmp):
    """--pretend prints queue, queue_dir (the directory actually used,
    noted "default" when the file names none) and queue_lifetime."""
    rc = ("account default\nhost h.example\nfrom me@example.org\n"
          "account q2\nhost h.example\nqueue off\nqueue_dir ~/myq\n"
          "queue_lifetime 36h\n")
    h = home_for(tmp, OTHER_USER, {".smtprc": rc})
    env = {"HOME": h, "SMTPSEND_QUEUE_DIR": ""}
    p = run_ns(tmp, ["--pretend"], user=OTHER_USER, env=env)
    assert p.returncode == 0, out(p)
    lines = p.stdout.decode().splitlines()
    assert "queue                = on (default)" in lines, out(p)
    assert ("queue_dir            = %s/.local/state/smtpsend/queue "
            "(default)" % h) in lines, out(p)
    assert "queue_lifetime       = 5d (default)" in lines, out(p)
    p = run_ns(tmp, ["--pretend", "-a", "q2"], user=OTHER_USER, env=env)
    assert p.returncode == 0, out(p)
    lines = p.stdout.decode().splitlines()
    assert "queue                = off" in lines, out(p)
    assert "queue_dir            = %s/myq" % h in lines, out(p)
    assert "queue_lifetime       = 36h" in lines, out(p)
    # XDG_STATE_HOME, and for root /var/spool/smtpsend, unless
    # SMTPSEND_QUEUE_DIR names another: the path a send would use.
    p = run_ns(tmp, ["--pretend"], user=OTHER_USER,
               env=dict(env, XDG_STATE_HOME=h + "/st"))
    assert ("queue_dir            = %s/st/smtpsend/queue (default)" % h
            in p.stdout.decode().splitlines()), out(p)
    hr = home_for(tmp, "root", {".smtprc": rc})
    p = run_ns(tmp, ["--pretend"], env={"HOME": hr, "SMTPSEND_QUEUE_DIR": ""})
    assert ("queue_dir            = /var/spool/smtpsend (default)"
            in p.stdout.decode().splitlines()), out(p)
    p = run_ns(tmp, ["--pretend"],
               env={"HOME": hr, "SMTPSEND_QUEUE_DIR": "/srv/q"})
    assert ("queue_dir            = /srv/q (default)"
            in p.stdout.decode().splitlines()), out(p)
