"""Make a test run blind to the machine's own smtpsend state.

smtpsend reads /etc/smtprc, the user's ~/.smtprc (the passwd entry's home
when $HOME has none), msmtp's files, the session bus at /run/user/UID/bus,
its TLS ticket cache in ~/.cache/smtpsend and its queue (/var/spool/smtpsend
for root, ~/.local/state/smtpsend for a user).  A test result must depend
on none of them, and a test that needs a user bus (cron's case) must not
create the machine-wide /run/user/UID/bus, where parallel runs would meet.

enter() moves the calling process (and so everything it starts) into a
private mount namespace where those paths do not exist: each parent
directory (/etc, the passwd home, /run, /var/spool) gets an overlay whose upper layer,
on a private tmpfs, holds whiteouts for them; /run/user is an empty
directory of that layer.  Everything else reads as before; what tests
write there (a bus socket under /run/user) stays in the overlay and
vanishes with the namespace.  Mounts below those directories are carried
over, except the hidden ones.  Product code is untouched: it looks at the
real paths, which simply are not there.

Call it before any thread starts (unshare(CLONE_NEWNS) needs a
single-threaded process).  It sets SMTPSEND_TEST_PRIVATE=1 so that the
processes started later skip it; they already share the namespace.  As
root it uses a plain mount namespace; otherwise it tries a user namespace
too, and when none is possible it warns on stderr and changes nothing.

Run as a program, `python3 tests/hermetic.py CMD...` runs CMD inside such
a namespace.  `python3 tests/hermetic.py --decoys CMD...` does the opposite,
to prove the rest: it runs CMD (which is then expected to call enter()) in
a private namespace where every one of those paths exists, with content
that breaks any test that reads it: an /etc/smtprc, /etc/msmtprc, ~/.smtprc,
~/.msmtprc and ~/.config/msmtp/config whose unknown keyword fails every
load, files in ~/.cache/smtpsend, and a live session bus at
/run/user/UID/bus (a dbus-daemon without service activation).  The real
machine paths are never touched.
"""

import ctypes
import ctypes.util
import os
import pwd
import stat
import sys
import tempfile

MARK = "SMTPSEND_TEST_PRIVATE"

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _mount(src, target, fstype, flags, data=None):
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)),
           "mount %s on %s" % (fstype or src, target))


def hidden_paths():
    """Every path smtpsend (and msmtp compatibility) reads from the machine
    or the user running the tests, as {parent directory: [names]}."""
    home = pwd.getpwuid(os.getuid()).pw_dir.rstrip("/") or "/"
    # /var/spool/smtpsend is root's queue (tests run as root; a caller run
    # by cron or at has no SMTPSEND_QUEUE_DIR), ~/.local/state/smtpsend a
    # user's.
    want = {"/etc": ["smtprc", "msmtprc"], "/run": ["user"],
            "/var/spool": ["smtpsend"]}
    # A home of / (nobody's) cannot take an overlay; it has no such files.
    if home not in want and home != "/":
        want[home] = [".smtprc", ".msmtprc", ".config/msmtp",
                      ".cache/smtpsend", ".local/state/smtpsend"]
    return want


def _submounts(parent):
    """Mount points strictly below parent, outermost first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(parent.rstrip("/") + "/"):
                out.append(point)
    return sorted(set(out), key=lambda p: p.count("/"))


def _is_hidden(path, parent, names):
    return any(path == os.path.join(parent, n) or
               path.startswith(os.path.join(parent, n) + "/") for n in names)


def _overlay(parent, names, scratch, n, populate=None):
    """Overlay parent with whiteouts for names (or, with populate, call
    populate(upper) to fill the upper layer); keep its other submounts."""
    upper = os.path.join(scratch, "u%d" % n)
    work = os.path.join(scratch, "w%d" % n)
    keep = os.path.join(scratch, "k%d" % n)
    for d in (upper, work, keep):
        os.mkdir(d, 0o755)
    # Carry the mounts below parent over (a container's bind-mounted
    # /etc/hosts, say), but not the hidden ones (/run/user/1000).
    kept = []
    for i, point in enumerate(_submounts(parent)):
        if _is_hidden(point, parent, names) or \
                any(point.startswith(k + "/") for k, _ in kept):
            continue
        stash = os.path.join(keep, str(i))
        if os.path.isdir(point):
            os.mkdir(stash)
        else:
            open(stash, "w").close()
        _mount(point, stash, None, MS_BIND | MS_REC)
        kept.append((point, stash))
    for name in names if populate is None else []:
        path = os.path.join(upper, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    if populate is not None:
        populate(upper)
    st = os.stat(parent)
    os.chmod(upper, stat.S_IMODE(st.st_mode))
    try:
        os.chown(upper, st.st_uid, st.st_gid)
    except OSError:
        pass                    # a user namespace: the owner is not mapped
    _mount("overlay", parent, "overlay", 0,
           "lowerdir=%s,upperdir=%s,workdir=%s" % (parent, upper, work))
    for point, stash in kept:
        if os.path.lexists(point):
            _mount(stash, point, None, MS_BIND | MS_REC)


def _unshare():
    if os.geteuid() == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        return
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS),
           "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write("%d %d 1" % (uid, uid))
    with open("/proc/self/gid_map", "w") as f:
        f.write("%d %d 1" % (gid, gid))


def enter():
    """Enter the private namespace (once per process tree)."""
    if os.environ.get(MARK) == "1":
        return
    try:
        _unshare()
    except OSError as e:
        print("hermetic: cannot make a private mount namespace (%s): the "
              "tests can see this machine's smtprc, keyring bus and cache"
              % e, file=sys.stderr)
        return
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch = tempfile.mkdtemp(prefix="smtpsend-hermetic-")
    _mount("tmpfs", scratch, "tmpfs", 0, "mode=700")
    for n, (parent, names) in enumerate(sorted(hidden_paths().items())):
        if os.path.isdir(parent):
            _overlay(parent, names, scratch, n)
    if os.path.isdir("/run") and not os.path.isdir("/run/user"):
        os.mkdir("/run/user", 0o755)        # in the overlay only
    # The overlays keep their layers; the scratch directory itself goes.
    _check(_libc.umount2(scratch.encode(), MNT_DETACH), "umount " + scratch)
    os.rmdir(scratch)
    os.environ[MARK] = "1"


DECOY = "# a decoy: no test may read this file\ndecoy_keyword_no_test_may_read on\n"

# A session bus that activates nothing: no keyring is started behind it.
DECOY_BUS = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _populate(parent, home):
    def fill(upper):
        if parent == "/etc":
            _write(os.path.join(upper, "smtprc"), DECOY, 0o644)
            _write(os.path.join(upper, "msmtprc"), DECOY, 0o644)
        elif parent == "/run":
            os.makedirs(os.path.join(upper, "user", str(os.getuid())),
                        mode=0o700)
        elif parent == home:
            for name in (".smtprc", ".msmtprc", ".config/msmtp/config"):
                _write(os.path.join(upper, name), DECOY, 0o600)
            for name in ("127.0.0.1_465_alice-0.tls",
                         "127.0.0.1_587_alice-0.tls", "decoy"):
                _write(os.path.join(upper, ".cache", "smtpsend", name),
                       "decoy ticket\n", 0o600)
    return fill


def run_with_decoys(argv):
    """Run argv among decoys (see above); returns its exit status."""
    import subprocess

    _unshare()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch = tempfile.mkdtemp(prefix="smtpsend-decoys-")
    _mount("tmpfs", scratch, "tmpfs", 0, "mode=700")
    home = pwd.getpwuid(os.getuid()).pw_dir.rstrip("/") or "/"
    for n, (parent, names) in enumerate(sorted(hidden_paths().items())):
        if os.path.isdir(parent):
            _overlay(parent, names, scratch, n, _populate(parent, home))
    bus = "/run/user/%d/bus" % os.getuid()
    conf = os.path.join(scratch, "bus.conf")
    _write(conf, DECOY_BUS % bus, 0o600)
    p = subprocess.run(["dbus-daemon", "--config-file=" + conf, "--fork",
                        "--print-pid"], stdout=subprocess.PIPE, check=True,
                       timeout=20)
    dbus_pid = int(p.stdout.split()[0])
    env = dict(os.environ)
    env.pop(MARK, None)
    try:
        assert stat.S_ISSOCK(os.stat(bus).st_mode)
        print("hermetic: decoys at /etc/smtprc, /etc/msmtprc, %s/.smtprc, "
              "%s/.msmtprc, %s/.config/msmtp/config, %s/.cache/smtpsend/, "
              "%s" % (home, home, home, home, bus), file=sys.stderr)
        return subprocess.run(argv, env=env).returncode
    finally:
        os.kill(dbus_pid, 15)
        _check(_libc.umount2(scratch.encode(), MNT_DETACH),
               "umount " + scratch)
        os.rmdir(scratch)


def is_private():
    """True when this process runs in the namespace enter() made."""
    return os.environ.get(MARK) == "1"


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1:] == ["--decoys"]:
        print("usage: hermetic.py [--decoys] CMD [ARG...]", file=sys.stderr)
        sys.exit(64)
    if sys.argv[1] == "--decoys":
        sys.exit(run_with_decoys(sys.argv[2:]))
    enter()
    os.execvp(sys.argv[1], sys.argv[1:])
