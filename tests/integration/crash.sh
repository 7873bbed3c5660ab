#!/bin/sh
# SPDX-License-Identifier: MIT
# A plugin that crashes, and one that returns garbage, must not corrupt
# the state: a source plugin segfaulting inside fetch() kills the run
# with a message naming the plugin, the mailbox and the folder; the state
# file passes SQLite's integrity check and shows what was copied; a re-run
# with the fixed plugin completes with every message exactly once.  A
# plugin announcing a size it does not deliver gets that message recorded
# as failed, and the rest copied.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
command -v sqlite3 > /dev/null || fail "sqlite3 is needed (tools/install-deps.sh installs it)"
mkdir -p "$T/bad" "$T/good" "$T/garbage"
build() { # dir, extra flags
	d=$1
	shift
	"$CC" -shared -fPIC -fvisibility=hidden -I"$top_srcdir/include" "$@" \
		-o "$d/crashy.so" "$top_srcdir/tests/integration/crash_plugin.c"
}
build "$T/bad" -DCRASH_AT=4
build "$T/good"
# The core's own crash report is what is tested, not a sanitizer's.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:allow_user_segv_handler=1"
export ASAN_OPTIONS

echo "== the plugin segfaults in fetch() before message 4"
rc=0
mf migrate --plugin-dir "$T/bad" crashy:x "maildir:$T/out" --state "$T/s.db" --name alice@corp \
	> "$T/run1.out" 2> "$T/run1.err" || rc=$?
[ "$rc" = 139 ] || fail "exit status of a run killed by SIGSEGV (128 + 11): expected 139, got $rc; its output: $(cat "$T/run1.out" "$T/run1.err")"
grep -q "mailferry: plugin 'crashy' crashed (SIGSEGV) while fetching alice@corp: INBOX; the state file is consistent; re-run to resume" \
	"$T/run1.err" || fail "no crash report naming plugin, mailbox and folder: $(cat "$T/run1.err")"
grep "crashed" "$T/run1.err"
assert_eq "$(sqlite3 "$T/s.db" 'PRAGMA integrity_check')" ok "state file integrity"
assert_eq "$(maildir_count "$T/out")" 3 "messages copied before the crash"
mf status --state "$T/s.db" > "$T/status.txt" 2>&1 || true
grep -q "alice@corp" "$T/status.txt" || fail "status cannot read the state: $(cat "$T/status.txt")"

echo "== re-run with the fixed plugin: completes, no duplicates"
mf migrate --plugin-dir "$T/good" crashy:x "maildir:$T/out" --state "$T/s.db" --name alice@corp \
	--json -q > "$T/run2.json" 2> "$T/run2.err" || fail "re-run failed: $(cat "$T/run2.err")"
grep -q '"event":"summary".*"copied":3' "$T/run2.json" || fail "re-run did not copy exactly the 3 missing: $(tail -1 "$T/run2.json")"
mf migrate --plugin-dir "$T/good" crashy:x "maildir:$T/ref" --state "$T/ref.db" -q > /dev/null 2>&1
assert_eq "$(maildir_count "$T/out")" 6 "messages after the re-run"
assert_eq "$(maildir_digests "$T/out")" "$(maildir_digests "$T/ref")" "content after crash + re-run"

echo "== a plugin that announces more bytes than it delivers"
"$CC" -shared -fPIC -fvisibility=hidden -I"$top_srcdir/include" -I"$top_builddir" \
	-DFIXTURE=garbage -DFIXTURE_GARBAGE -o "$T/garbage/garbage.so" "$top_srcdir/tests/abi/abi_fixture.c"
rc=0
mf migrate --plugin-dir "$T/garbage" fixture-garbage:x "maildir:$T/g" --state "$T/g.db" \
	--name bob@corp > "$T/g.out" 2> "$T/g.err" || rc=$?
[ "$rc" = 1 ] || fail "exit status with one message failed: expected 1, got $rc; its output: $(cat "$T/g.out" "$T/g.err")"
assert_eq "$(sqlite3 "$T/g.db" 'PRAGMA integrity_check')" ok "state file integrity (garbage)"
assert_eq "$(find "$T/g" -path '*/cur/*' -type f | wc -l)" 2 "good messages copied"
grep -q "bob@corp: INBOX: message 2" "$T/g.err" || fail "the bad message is not named: $(cat "$T/g.err")"
echo PASS
