"""The Debian package: built with dpkg-buildpackage -us -uc in a clean
Debian 12 root (build-essential and the Build-Depends only), checked with
lintian, installed with apt into another throwaway Debian 12 root, where
smtpsend-mta must make smtpsend the machine's sendmail and deliver one
message to the test Postfix on 127.0.0.1 (a chroot shares the network).
Both roots come from one tarball made by mmdebstrap.

Run once per CI run (tests/ci.sh, step "package"), not per build variant:
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/pkg

SMTPSEND_PKG_CACHE names a directory where the root's tarball is kept
between runs (tests/ci.sh makes one per CI run and removes it); without
it the tarball is made in this run's temporary directory.
Needs root, lintian, mmdebstrap and unshare (tests/ci.sh installs them),
and the package mirror of /etc/apt/sources.list*.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
SUITE = "bookworm"
# Everything smtpsend needs, so that apt inside the root downloads nothing
# (it still can: the root reaches the same mirror).
ROOT_PACKAGES = "libgnutls30,libgsasl18,libnettle8,ca-certificates,libsecret-1-0"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sh(args, timeout, cwd=None, env=None, input=None):
    """Run args in a process group of its own, which is killed when the
    timeout expires or the test is interrupted (mmdebstrap and apt start
    children of their own); return the CompletedProcess, text output."""
    p = subprocess.Popen(args, cwd=cwd, env=env, text=True,
                         stdin=subprocess.PIPE if input is not None
                         else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        raise
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def mirror():
    """The host's Debian sources (deb822), else deb.debian.org."""
    src = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(src):
        return src
    return "deb http://deb.debian.org/debian %s main" % SUITE


@pytest.fixture(scope="module")
def workdir():
    if os.geteuid() != 0:
        pytest.fail("the package test needs root (chroot, apt)")
    d = tempfile.mkdtemp(prefix="smtpsend-pkg-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def root_tar(workdir):
    cache = os.environ.get("SMTPSEND_PKG_CACHE") or workdir
    tar = os.path.join(cache, "debian12-%s.tar" % ROOT_PACKAGES.replace(
        ",", "+"))
    if not os.path.exists(tar):
        part = tar + ".part"
        r = sh(["mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
                "--include=" + ROOT_PACKAGES, SUITE, part, mirror()],
               timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        os.rename(part, tar)
    return tar


# Inside a root: mount it on itself (so that it is a mount point, as in
# sbuild: tests/hermetic.py, which the unit layer enters, makes "/"
# private) and /proc, in a mount namespace of this command only, then run
# $2 in it as root with a clean environment.
IN_ROOT = ('mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && '
           'exec chroot "$1" /usr/bin/env -i PATH=%s HOME=/root '
           'LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/sh -c "$2"'
           % PATH)


def in_root(root, script, timeout, input=None):
    return sh(["unshare", "--mount", "--fork", "/bin/sh", "-c", IN_ROOT,
               "in_root", root, script], timeout=timeout, input=input)


@pytest.fixture(scope="module")
def debs(workdir, root_tar):
    """Build the packages in a clean Debian 12 root that has only
    build-essential and the Build-Depends (so they must be complete), from
    a copy of the tree (tracked and new files, not build/); the results
    land in workdir, nothing is written into the worktree."""
    version = re.match(r"smtpsend \(([^)]+)\)",
                       open(os.path.join(ROOT, "debian/changelog")).readline())
    name = "smtpsend-" + version.group(1)
    root = tempfile.mkdtemp(prefix="build-", dir=workdir)
    r = sh(["tar", "-C", root, "-xf", root_tar], timeout=300)
    assert r.returncode == 0, r.stderr
    os.chmod(root, 0o755)       # "/" of the root, for apt's _apt user
    src = os.path.join(root, "src", name)
    files = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"],
               timeout=60, cwd=ROOT)
    assert files.returncode == 0, files.stderr
    for rel in files.stdout.split("\0"):
        if not rel or not os.path.lexists(os.path.join(ROOT, rel)):
            continue
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dst, follow_symlinks=False)
    r = in_root(root, "apt-get update -q && apt-get install -y -q "
                "--no-install-recommends build-essential && cd /src/%s && "
                "apt-get build-dep -y -q --no-install-recommends . && "
                "DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc"
                % name, timeout=1200)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    for f in os.listdir(os.path.join(root, "src")):
        if f != name:
            shutil.move(os.path.join(root, "src", f), workdir)
    shutil.rmtree(root, ignore_errors=True)
    found = {os.path.basename(p).split("_")[0]: p
             for p in glob.glob(os.path.join(workdir, "*.deb"))}
    assert "smtpsend" in found and "smtpsend-mta" in found, found
    changes = glob.glob(os.path.join(workdir, "*.changes"))
    assert len(changes) == 1, changes
    return {"deb": found["smtpsend"], "mta": found["smtpsend-mta"],
            "changes": changes[0], "dir": workdir}


def contents(deb):
    r = sh(["dpkg-deb", "-c", deb], timeout=60)
    assert r.returncode == 0, r.stderr
    # "lrwxrwxrwx root/root 0 date time ./usr/sbin/sendmail -> ../bin/smtpsend"
    out = {}
    for line in r.stdout.splitlines():
        fields = line.split(None, 5)
        name = fields[5]
        target = None
        if " -> " in name:
            name, target = name.split(" -> ", 1)
        out[name.lstrip(".")] = (fields[0], target)
    return out


def field(deb, name):
    r = sh(["dpkg-deb", "-f", deb, name], timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_packages_hold_what_they_should(debs):
    deb = contents(debs["deb"])
    assert deb["/usr/bin/smtpsend"][0].startswith("-rwxr-xr-x")
    assert "/usr/share/man/man1/smtpsend.1.gz" in deb
    assert "/usr/share/man/man5/smtprc.5.gz" in deb
    assert not any(n.startswith("/usr/sbin/") for n in deb)

    mta = contents(debs["mta"])
    links = {n: t for n, (mode, t) in mta.items() if mode.startswith("l")}
    assert links["/usr/sbin/sendmail"] == "../bin/smtpsend"
    assert links["/usr/lib/sendmail"] == "../sbin/sendmail"
    assert links["/usr/bin/mailq"] == "smtpsend"
    assert links["/usr/bin/newaliases"] == "smtpsend"
    for rel in ("Provides", "Conflicts", "Replaces"):
        assert field(debs["mta"], rel) == "mail-transport-agent", rel
    assert field(debs["mta"], "Depends").startswith("smtpsend (>= ")


def test_lintian_clean(debs):
    """No error or warning (pedantic and info tags are shown, not fatal);
    every override in debian/ carries a comment saying why."""
    r = sh(["lintian", "--pedantic", "--display-info",
            "--fail-on", "error,warning", debs["changes"]], timeout=600)
    tags = [ln for ln in r.stdout.splitlines() if re.match(r"^[EW]: ", ln)]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr
    for path in glob.glob(os.path.join(ROOT, "debian", "**",
                                       "*lintian-overrides"), recursive=True):
        prev = ""
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#"):
                assert prev.startswith("#"), "%s: %s has no comment" % (
                    path, line)
            prev = line


@pytest.fixture
def chroot(root_tar, workdir):
    """A fresh root unpacked from the tarball, removed afterwards."""
    root = tempfile.mkdtemp(prefix="root-", dir=workdir)
    r = sh(["tar", "-C", root, "-xf", root_tar], timeout=300)
    assert r.returncode == 0, r.stderr
    os.chmod(root, 0o755)       # "/" of the root, for apt's _apt user

    def run(cmd, input=None, timeout=300):
        return in_root(root, cmd, timeout=timeout, input=input)
    run.root = root
    yield run
    shutil.rmtree(root, ignore_errors=True)


def test_mta_install_in_debian12_root(debs, chroot, certs, postfix):
    root = chroot.root
    os.makedirs(os.path.join(root, "tmp/debs"), exist_ok=True)
    for p in (debs["mta"], debs["deb"]):
        shutil.copy(p, os.path.join(root, "tmp/debs"))

    # Before: the root has no sendmail at all.
    assert not os.path.lexists(os.path.join(root, "usr/sbin/sendmail"))

    # What the README tells an admin to run.
    r = chroot("cd /tmp/debs && apt-get install -y -q "
               "./smtpsend-mta_*.deb ./smtpsend_*.deb")
    assert r.returncode == 0, r.stdout + r.stderr

    r = chroot("readlink -f /usr/sbin/sendmail; readlink -f /usr/lib/sendmail;"
               " readlink -f /usr/bin/mailq; readlink -f /usr/bin/newaliases")
    assert r.stdout.split() == ["/usr/bin/smtpsend"] * 4, r.stdout + r.stderr
    r = chroot("/usr/sbin/sendmail --version")
    assert r.returncode == 0 and r.stdout.startswith("smtpsend "), r
    r = chroot("newaliases")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r
    # Nothing was ever queued in this root: mailq says so and exits 0.
    r = chroot("mailq")
    assert r.returncode == 0 and "queue is empty" in r.stdout, r
    r = chroot("dpkg-query -W -f='${Provides}' smtpsend-mta")
    assert r.stdout == "mail-transport-agent", r

    # The system-wide set-up of smtprc(5): /etc/smtprc holding a password,
    # 0640 root:mail; root sends as cron would (an unqualified recipient,
    # no From, no Date).
    shutil.copy(certs.ca, os.path.join(root, "etc/smtpsend-test-ca.pem"))
    conf = os.path.join(root, "etc/smtprc")
    with open(conf, "w") as f:
        f.write("defaults\ntls on\ntls_starttls on\n"
                "tls_trust_file /etc/smtpsend-test-ca.pem\n"
                "account test\nhost 127.0.0.1\nport %d\n"
                "from root@pkg.example\nauth on\nuser alice\n"
                "password secret\naliases /etc/aliases\n"
                "account default : test\n"
                % postfix.port("starttls_auth"))
    with open(os.path.join(root, "etc/aliases"), "w") as f:
        f.write("root: alice@localhost\n")
    r = chroot("chgrp mail /etc/smtprc && chmod 640 /etc/smtprc && "
               "stat -c '%a %U:%G' /etc/smtprc")
    assert r.stdout.strip() == "640 root:mail", r

    body = "installed from smtpsend-mta_*.deb in a Debian 12 root\n"
    r = chroot("/usr/sbin/sendmail -i root",
               input="Subject: package test\n\n" + body, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    msgs = postfix.wait_messages(1, timeout=30)
    assert len(msgs) == 1, msgs
    msg = msgs[0].decode()
    assert "\nX-Original-To: alice@localhost\n" in msg, msg
    assert "\nSubject: package test\n" in msg, msg
    assert re.search(r"^From: .*root@pkg\.example", msg, re.M), msg
    assert msg.endswith("\n\n" + body), msg
