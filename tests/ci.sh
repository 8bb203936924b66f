#!/bin/bash
# Every test of smtpsend, on a fresh Debian 12 machine, as root:
#
#     bash tests/ci.sh          (as root, or: sudo bash tests/ci.sh)
#
# 1. installs the Debian packages it needs (skipped when all are present);
# 2. makes sure the system's own Postfix (/etc/postfix) is not running: the
#    tests start private Postfix/Dovecot instances on free loopback ports;
# 3. runs the layers (unit = cmocka, fake = scripted SMTP servers, e2e = real
#    Postfix + Dovecot SASL + gnome-keyring) against several builds:
#      static      make                     unit + fake + e2e (with the
#                                            real callers: git send-email,
#                                            mutt, cron... marked callers),
#                                            and
#                  tests/check-static (no shared library that has an archive),
#                  and unit + fake + the keyring e2e tests again among decoys
#                  (tests/hermetic.py --decoys: an /etc/smtprc, ~/.smtprc,
#                  user bus and ~/.cache/smtpsend that break any test reading
#                  them, made in a private mount namespace only)
#      shared      make SHARED=1            fake + e2e  (unit objects are
#                                            the same as static's)
#    (the builds after static run e2e without the slow real callers:
#    pytest -m 'not callers'; they exercise no code the others do not)
#    (a build that fails counts one failure, and only its unit layer runs)
#      asan        make asan                unit + fake + e2e (ASan+UBSan+LSan)
#      valgrind    the static binary and the unit tests under valgrind
#                                            unit + e2e
#      lint        make lint (banned functions, cppcheck, clang-format,
#                  tests/check-man: mandoc -Tlint, every keyword in smtprc.5)
#      package     once, not per build: tests/pkg (dpkg-buildpackage -us -uc
#                  with make SHARED=1 in a clean Debian 12 root made by
#                  mmdebstrap, lintian, and smtpsend-mta installed with apt
#                  into another such root, which sends one message to the
#                  test Postfix); the roots' tarball is kept in a temporary
#                  directory for this run
# 4. ends with one line "N passed, N failed" summing every layer, and exits
#    non-zero when anything failed.
#
# "bash tests/ci.sh --install-only" does steps 1 and 2 only (tests/demo uses it).
# Knobs: CI_BUILDS="static shared asan valgrind lint package" picks builds;
# CI_LAYER_LIMIT (s per layer run), CI_BUDGET (s after which no build starts);
# CI_SKIP_INSTALL=1 skips the package step; PYTEST_ARGS passes to pytest.
# Known-noise suppressions, when needed: tests/valgrind.supp, tests/lsan.supp.
set -u

cd "$(dirname "$0")/.." || exit 1
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8
unset SMTPSEND SMTPSEND_WRAPPER UNIT_WRAPPER LAYERS

PACKAGES="build-essential pkg-config libgnutls28-dev libgsasl-dev
libsecret-1-dev libcmocka-dev libunistring-dev ca-certificates postfix dovecot-core dovecot-lmtpd gnome-keyring
libcurl4-gnutls-dev libjson-c-dev
libsecret-tools dbus dbus-daemon dbus-bin msmtp gnutls-bin python3
python3-pytest valgrind clang libclang-rt-14-dev cppcheck clang-format
iproute2 procps strace iptables php-cli php-symfony-mailer
git git-email libmailtools-perl mutt neomutt s-nail bsd-mailx mailutils
cron at anacron lintian mmdebstrap mandoc"

BUILDS=${CI_BUILDS:-static shared asan valgrind lint package}
LAYER_LIMIT=${CI_LAYER_LIMIT:-2400}   # seconds per layer run, a safety net
BUDGET=${CI_BUDGET:-3900}             # start no new build after this many s
PASSED=0
FAILED=0
SKIPPED=0
SUMMARY=""

say() { printf '\n===== ci: %s\n' "$*"; }

install_packages() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q '^install ok installed$' || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		say "all packages present"
		return 0
	fi
	say "installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "ci: run as root (bash tests/ci.sh as root, or sudo bash tests/ci.sh) to install packages" >&2
		return 1
	fi
	# Answer Postfix's questions up front, and keep package scripts from
	# starting services (the tests run their own instances).
	printf '%s\n' \
	    'postfix postfix/main_mailer_type select Local only' \
	    'postfix postfix/mailname string localhost' | debconf-set-selections
	local made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	timeout 1200 apt-get update -q || rc=$?
	[ $rc = 0 ] && { timeout 2400 apt-get install -y -q \
	    --no-install-recommends $PACKAGES || rc=$?; }
	[ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}

stop_system_postfix() {
	# The default instance must not run; ours live in temporary dirs.
	if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
		say "stopping the system Postfix instance"
		timeout 60 postfix stop || true
	fi
}

# count NAME PASSED FAILED SKIPPED
count() {
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SKIPPED=$((SKIPPED + $4))
	SUMMARY="$SUMMARY$(printf '  %-28s %4d passed, %d failed, %d skipped' \
	    "$1" "$2" "$3" "$4")"$'\n'
}

# layers NAME COMMAND...: run a tests/run-layers command, add its total.
layers() {
	local name=$1 log rc line
	shift
	say "$name: $*"
	log=$(mktemp)
	timeout -k 30 "$LAYER_LIMIT" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "ci: $name: no total (exit $rc): counted as 1 failed"
		count "$name" 0 1 0
		return
	fi
	set -- $(echo "$line" | sed -E \
	    's/^total: ([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/')
	local p=$1 f=$2 s=${3:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "ci: $name: exit $rc with no failure counted: counted as 1 failed"
		f=1
	fi
	count "$name" "$p" "$f" "$s"
}

# step NAME COMMAND...: a command that passes or fails as one test.
step() {
	local name=$1 rc
	shift
	say "$name: $*"
	timeout -k 30 "$LAYER_LIMIT" "$@"
	rc=$?
	if [ $rc = 0 ]; then count "$name" 1 0 0
	else echo "ci: $name failed (exit $rc)"; count "$name" 0 1 0; fi
	return $rc
}

# in_budget NAME: false (and one failure) once CI_BUDGET seconds are spent,
# so that the run ends, with its total, within CI's own time limit.
in_budget() {
	if [ $(( $(date +%s) - START )) -lt "$BUDGET" ]; then return 0; fi
	echo "ci: $1: not run, the time budget (${BUDGET}s) is spent"
	count "$1 (not run)" 0 1 0
	return 1
}

has() { case " $(echo $BUILDS) " in *" $1 "*) return 0;; esac; return 1; }

# The real programs that call sendmail (tests/e2e/test_callers_real.py,
# marker "callers": a cron minute) and the queue's fault campaign (marker
# "once": hundreds of sends) are slow: the static build runs them.
NOT_CALLERS="${PYTEST_ARGS:-} -m 'not callers and not once'"

START=$(date +%s)
if [ "${CI_SKIP_INSTALL:-0}" != 1 ]; then
	install_packages || { echo "ci: package installation failed"; count install 0 1 0; }
fi
stop_system_postfix
if [ "${1:-}" = --install-only ]; then
	[ "$FAILED" = 0 ]
	exit
fi

# The same variables as the Makefile's asan target, so that "make unit"
# builds the unit tests the way "make asan" built the library.
ASAN_VARS="SHARED=1 CC=clang"
ASAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
VALGRIND="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --quiet"
[ -f tests/valgrind.supp ] && VALGRIND="$VALGRIND --suppressions=$PWD/tests/valgrind.supp"
LSAN_OPTIONS="print_suppressions=0"
[ -f tests/lsan.supp ] && LSAN_OPTIONS="$LSAN_OPTIONS:suppressions=$PWD/tests/lsan.supp"
export LSAN_OPTIONS

# A build that fails is one failure, and its binary is not tested (a stale
# one could pass for it); its unit tests still run where they build.
static_ok=1
if has static || has valgrind; then
	step "build static" make -j2 B=build || static_ok=0
	[ $static_ok = 1 ] && step "static linking" tests/check-static build/smtpsend
fi
if has static; then
	if [ $static_ok = 1 ]; then
		layers "static: unit+fake+e2e" tests/run-layers build
		# No test may see this machine's smtprc, bus or cache: prove
		# it where they all exist (never on the real paths).
		PYTEST_ARGS="${PYTEST_ARGS:-} -k 'test_fake or test_stdfds or test_keyring or test_secrets_leak'" \
		    layers "static: among decoys" /usr/bin/python3 \
		    tests/hermetic.py --decoys tests/run-layers build
	else
		LAYERS=unit layers "static: unit" tests/run-layers build
	fi
fi
if has shared && in_budget shared; then
	# The unit objects are the same as the static build's: fake + e2e.
	step "build shared" make -j2 SHARED=1 B=build-shared &&
	    LAYERS="fake e2e" PYTEST_ARGS=$NOT_CALLERS \
	    layers "shared: fake+e2e" \
	    tests/run-layers build-shared SHARED=1
fi
if has asan && in_budget asan; then
	asan_layers="unit fake e2e"
	step "build asan" make -j2 asan || asan_layers=unit
	LAYERS=$asan_layers PYTEST_ARGS=$NOT_CALLERS \
	ASAN_OPTIONS="detect_leaks=1:exitcode=98:abort_on_error=0" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	    layers "asan: ${asan_layers// /+}" tests/run-layers build-asan \
	    $ASAN_VARS EXTRA_CFLAGS="$ASAN_FLAGS" \
	    LDFLAGS="-fsanitize=address,undefined"
fi
if has valgrind && in_budget valgrind; then
	vg_layers="unit e2e"
	[ $static_ok = 1 ] || vg_layers=unit
	LAYERS=$vg_layers PYTEST_ARGS=$NOT_CALLERS \
	SMTPSEND_WRAPPER="$VALGRIND" UNIT_WRAPPER="$VALGRIND" \
	    layers "valgrind: ${vg_layers// /+}" tests/run-layers build
fi
if has lint; then
	step "lint" make lint
fi
if has package && in_budget package; then
	# One package build per CI run; its Debian 12 root is made once into
	# a directory of this run and removed with it.
	pkg_cache=$(mktemp -d /tmp/smtpsend-ci-pkg.XXXXXX)
	SMTPSEND_PKG_CACHE=$pkg_cache LAYERS=pkg layers "package" \
	    tests/run-layers build
	rm -rf "$pkg_cache"
fi

say "summary ($(( $(date +%s) - START )) s)"
printf '%s' "$SUMMARY"
if [ "$SKIPPED" != 0 ]; then
	echo "($SKIPPED skipped)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
