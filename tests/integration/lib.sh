# SPDX-License-Identifier: MIT
# Sourced by every integration test: locations, the mailferry wrapper,
# a private temp dir removed on exit, and small assertion helpers.
# Tests run with "set -eu"; each is bounded by MF_TEST_TIMEOUT seconds.
set -eu
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"

MAILFERRY="$top_builddir/cli/mailferry"
MAILFERRY_PLUGIN_PATH="$top_builddir/plugins/mbox:$top_builddir/plugins/imap:$top_builddir/plugins/pop3:$top_builddir/plugins/ews:$top_builddir/plugins/graph:$top_builddir/sinks"
export MAILFERRY_PLUGIN_PATH
TEST_DATA="$top_srcdir/tests/data"

T=$(mktemp -d "${TMPDIR:-/tmp}/mftest.XXXXXX")
mf_cleanup_hooks=""
mf_on_exit() { mf_cleanup_hooks="$1; $mf_cleanup_hooks"; }
trap 'eval "$mf_cleanup_hooks"; [ -n "${MF_KEEP_TEMP:-}" ] || rm -rf "$T"' EXIT

# Whole test bounded in time: a watchdog kills this shell if it hangs.
MF_TEST_TIMEOUT=${MF_TEST_TIMEOUT:-300}
# The sleep holds no descriptor of ours: a caller reading our output
# through a pipe sees its end when we exit, not when the sleep does.
( sleep "$MF_TEST_TIMEOUT" </dev/null >/dev/null 2>&1
  echo "TIMEOUT after ${MF_TEST_TIMEOUT}s" >&2; kill -TERM $$ 2>/dev/null ) &
mf_watchdog=$!
mf_on_exit "kill $mf_watchdog 2>/dev/null || true"

# Run mailferry; under libtool the binary may be a wrapper script.
mf() { "$MAILFERRY" "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }

# Number of message files in a maildir folder (cur + new).
maildir_count() { find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l; }

# SHA-256 of every message body in a maildir tree, sorted, one per line:
# compares two trees by content regardless of file names.
maildir_digests() { find "$1" \( -path '*/cur/*' -o -path '*/new/*' \) -type f -exec sha256sum {} + | cut -d' ' -f1 | sort; }

# wait_port_file FILE WHAT [ERRFILE]: wait (30 s at most: loaded CI) for
# a test server to write its port into FILE; sets WAITED_PORT.  On a
# timeout the failure quotes ERRFILE (the server's stderr).  Not meant for
# $(...): a fail there would end only the subshell.
wait_port_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$2 did not start within 30 s${3:+: $(cat "$3" 2>/dev/null)}"
		sleep 0.1
	done
	WAITED_PORT=$(cat "$1")
}

# imap_fake SCENARIO NAME LIFETIME: the scripted IMAP server
# (tests/fake/imap_server.py) playing SCENARIO for LIFETIME seconds at
# most, every line it receives logged in $T/NAME.log; sets PORT, LOG and
# fpid, and stops it when the test ends.
imap_fake() {
	rm -f "$T/$2.port"
	python3 "$top_srcdir/tests/fake/imap_server.py" "$1" "$T/$2.port" "$T/$2.log" "$3" &
	fpid=$!
	mf_on_exit "kill $fpid 2>/dev/null || true"
	wait_port_file "$T/$2.port" "fake IMAP server ($1)"
	PORT=$WAITED_PORT
	LOG="$T/$2.log"
}

# imap_login_py PORT USER PASS: run python3 code from stdin with M an
# imaplib session logged in on 127.0.0.1:PORT (plain IMAP; the password
# goes through the environment, not argv).
imap_login_py() {
	MF_PY_PORT=$1 MF_PY_USER=$2 MF_PY_PASS=$3 python3 -c '
import imaplib, os, sys
M = imaplib.IMAP4("127.0.0.1", int(os.environ["MF_PY_PORT"]), timeout=30)
M.login(os.environ["MF_PY_USER"], os.environ.pop("MF_PY_PASS"))
exec(compile(sys.stdin.read(), "imap_login_py", "exec"))
M.logout()
'
}
