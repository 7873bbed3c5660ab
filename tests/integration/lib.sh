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
