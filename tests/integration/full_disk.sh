#!/bin/sh
# SPDX-License-Identifier: MIT
# A full disk (issue 17), for real: small tmpfs mounts (root only; in a
# private mount namespace when unshare(1) allows, so nothing outlives the
# test) under
#   (a) the maildir sink, (b) the mbox sink: a mailbox bigger than the
#       space; the run must fail with a clear error naming the account,
#       folder and message and "No space left", leave a consistent target
#       and state (no torn or half message, nothing in tmp/, every message
#       in the target recorded copied exactly once), and after the mount
#       is made bigger a re-run completes with nothing lost or doubled;
#   (c) the state file (SQLite, --state PATH): a clear error naming the
#       state file, and after more space a re-run completes with no
#       duplicates on the target;
#   (d) the spool's temp directory ($TMPDIR, where messages over the
#       spool's 4 MiB memory limit go): the same, and the error must say
#       it is the temp directory that is full, not the target.
# Skipped (77) when not root or when tmpfs cannot be mounted.
[ "$(id -u)" = 0 ] || { echo "SKIP: root needed to mount tmpfs"; exit 77; }
if [ -z "${MF_FULL_DISK_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
	unshare -m --propagation private true 2>/dev/null; then
	MF_FULL_DISK_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/campaign_lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 needed"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
wall0=$(date +%s)

# mount_tmpfs DIR SIZE: a tmpfs of SIZE on DIR, unmounted on exit.
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>/dev/null ||
		{ echo "SKIP: cannot mount tmpfs on $1"; exit 77; }
	mf_on_exit "umount '$1' 2>/dev/null || umount -l '$1' 2>/dev/null || true"
}
copied_rows() { sqlite3 "file:$1?mode=ro" "SELECT count(*) FROM messages WHERE status='copied'"; }
other_rows() { sqlite3 "file:$1?mode=ro" "SELECT count(*) FROM messages WHERE status<>'copied'"; }

# Source: a Maildir++ tree of ~8 MB (nested and non-ASCII folders, some
# 100-400 KB messages), flags in the names, dates in the mtimes.
python3 "$GEN" --format maildir --out "$T/src" --messages 160 --seed 17 --big-fraction 0.15 \
	--max-big 400000 --folders "INBOX,Entwürfe,Projects/2024" >/dev/null
campaign_py maildir "$T/src" >"$T/want.md"
campaign_py maildir "$T/src" mbox >"$T/want.mbox"
total=$(wc -l <"$T/want.md")
srcsize=$(du -sk "$T/src" | cut -f1)
echo "source: $total messages, $srcsize KB"

# run SINK STATE NAME: one migrate, its --json and stderr kept; exit code
# in $rc.
run() {
	rc=0
	mf migrate "maildir:$T/src" "$1" --state "$2" --retries 2 --json \
		>"$T/$3.json" 2>"$T/$3.err" || rc=$?
	[ $rc -lt 128 ] || { cat "$T/$3.err" >&2; fail "$3: mailferry crashed (exit $rc)"; }
	! grep -q "$SANITIZER_RE" "$T/$3.err" || { cat "$T/$3.err" >&2; fail "$3: sanitizer report"; }
}

# subset WANT GOT LABEL: GOT holds only WANT's lines, none twice.
subset() {
	set -- "$1" "$2" "$3" $(campaign_compare "$1" "$2" "$3" 2>"$T/cmp.err")
	grep -v "missing or altered" "$T/cmp.err" >&2 || true
	[ "$5" = 0 ] || fail "$3: $5 foreign, torn or duplicated messages in the target"
	echo "   $3: $(wc -l <"$2") of $(wc -l <"$1") in the target, none torn or doubled"
}
exact() {
	set -- "$1" "$2" "$3" $(campaign_compare "$1" "$2" "$3")
	[ "$4" = 0 ] && [ "$5" = 0 ] || fail "$3: $4 lost, $5 duplicated after the re-run"
	lost=$((lost + $4)) dup=$((dup + $5))
}
# The error must say what happened and where: the account (the source
# URI names the mailbox), the folder, the message and the errno text.
clear_error() { # NAME
	grep -q "No space left on device" "$T/$1.err" ||
		{ cat "$T/$1.err" >&2; fail "$1: no 'No space left on device' in the error"; }
	grep "No space left" "$T/$1.err" | grep -q 'folder "' ||
		fail "$1: the error does not name the folder"
	grep "No space left" "$T/$1.err" | grep -q 'message ' ||
		fail "$1: the error does not name the message"
	mf status --state "$2" >"$T/$1.status"
	grep -q "failed" "$T/$1.status" || { cat "$T/$1.status"; fail "$1: status does not say failed"; }
	grep -q "No space left" "$T/$1.status" ||
		{ cat "$T/$1.status"; fail "$1: status does not keep the error"; }
}
lost=0 dup=0

echo "== (a) maildir sink on a full disk"
mount_tmpfs "$T/d1" 2m
t0=$(date +%s)
run "maildir:$T/d1/md" "$T/a.db" a1
[ $rc != 0 ] || fail "(a) the run into a full maildir exited 0"
clear_error a1 "$T/a.db"
echo "   error: $(grep -m1 'No space left' "$T/a1.err")"
campaign_py maildir "$T/d1/md" >"$T/got.a1"
grep -q LEFT-IN-TMP "$T/got.a1" && fail "(a) files left in tmp/: $(grep LEFT-IN-TMP "$T/got.a1")"
subset "$T/want.md" "$T/got.a1" "(a) after the failure"
assert_eq "$(copied_rows "$T/a.db")" "$(wc -l <"$T/got.a1")" "(a) copied rows = messages in the target"
mount -o remount,size=64m "$T/d1" || fail "remount"
run "maildir:$T/d1/md" "$T/a.db" a2
[ $rc = 0 ] || { cat "$T/a2.err" >&2; fail "(a) the re-run after freeing space exited $rc"; }
campaign_py maildir "$T/d1/md" >"$T/got.a2"
exact "$T/want.md" "$T/got.a2" "(a) maildir"
assert_eq "$(other_rows "$T/a.db")" 0 "(a) rows left pending or failed"
echo "   (a) re-run complete: $total messages, 0 lost, 0 duplicated ($(($(date +%s) - t0)) s)"

echo "== (b) mbox sink on a full disk"
mount_tmpfs "$T/d2" 2m
t0=$(date +%s)
run "mbox:$T/d2/mb" "$T/b.db" b1
[ $rc != 0 ] || fail "(b) the run into a full mbox exited 0"
clear_error b1 "$T/b.db"
echo "   error: $(grep -m1 'No space left' "$T/b1.err")"
campaign_py mbox "$T/d2/mb" >"$T/got.b1"
grep -q "TORN\|BAD-FROM\|JOURNAL-LEFT" "$T/got.b1" &&
	fail "(b) torn message or journal left: $(grep "TORN\|BAD-FROM\|JOURNAL" "$T/got.b1")"
subset "$T/want.mbox" "$T/got.b1" "(b) after the failure"
assert_eq "$(copied_rows "$T/b.db")" "$(wc -l <"$T/got.b1")" "(b) copied rows = messages in the target"
mount -o remount,size=64m "$T/d2" || fail "remount"
run "mbox:$T/d2/mb" "$T/b.db" b2
[ $rc = 0 ] || { cat "$T/b2.err" >&2; fail "(b) the re-run after freeing space exited $rc"; }
campaign_py mbox "$T/d2/mb" >"$T/got.b2"
grep -q "TORN\|BAD-FROM\|JOURNAL-LEFT" "$T/got.b2" && fail "(b) torn message after the re-run"
exact "$T/want.mbox" "$T/got.b2" "(b) mbox"
assert_eq "$(other_rows "$T/b.db")" 0 "(b) rows left pending or failed"
echo "   (b) re-run complete: $total messages, 0 lost, 0 duplicated ($(($(date +%s) - t0)) s)"

echo "== (c) the state file on a full disk"
mount_tmpfs "$T/d3" 256k
mkdir -p "$T/mdc"
t0=$(date +%s)
run "maildir:$T/mdc" "$T/d3/state.db" c1
[ $rc != 0 ] || fail "(c) the run with a full state disk exited 0"
grep -q "state.db" "$T/c1.err" || { cat "$T/c1.err" >&2; fail "(c) the error does not name the state file"; }
grep -qi "full\|No space left" "$T/c1.err" || { cat "$T/c1.err" >&2; fail "(c) the error does not say the disk is full"; }
echo "   error: $(grep -i -m1 'full\|No space left' "$T/c1.err")"
campaign_py maildir "$T/mdc" >"$T/got.c1"
subset "$T/want.md" "$T/got.c1" "(c) after the failure"
# Whatever reached the target is known to the state (copied, or pending
# for the next run to find by lookup), so nothing can be copied twice.
known=$(sqlite3 "file:$T/d3/state.db?mode=ro" \
	"SELECT count(*) FROM messages WHERE status IN ('copied','pending')")
[ "$known" -ge "$(wc -l <"$T/got.c1")" ] ||
	fail "(c) $(wc -l <"$T/got.c1") messages in the target, the state knows $known"
mount -o remount,size=16m "$T/d3" || fail "remount"
run "maildir:$T/mdc" "$T/d3/state.db" c2
[ $rc = 0 ] || { cat "$T/c2.err" >&2; fail "(c) the re-run after freeing space exited $rc"; }
campaign_py maildir "$T/mdc" >"$T/got.c2"
exact "$T/want.md" "$T/got.c2" "(c) state"
assert_eq "$(other_rows "$T/d3/state.db")" 0 "(c) rows left pending or failed"
assert_eq "$(copied_rows "$T/d3/state.db")" "$total" "(c) copied rows"
echo "   (c) re-run complete: $total messages, 0 lost, 0 duplicated ($(($(date +%s) - t0)) s)"

echo "== (d) the spool's temp directory on a full disk"
python3 "$GEN" --format maildir --out "$T/bigsrc" --messages 12 --seed 3 --big-fraction 0.5 \
	--max-big 9000000 --folders INBOX >/dev/null
campaign_py maildir "$T/bigsrc" >"$T/want.d"
nbig=$(find "$T/bigsrc" -type f -size +4M | wc -l)
[ "$nbig" -gt 0 ] || fail "(d) no message over the spool's memory limit"
mount_tmpfs "$T/d4" 1m
t0=$(date +%s)
rc=0
TMPDIR="$T/d4" mf migrate "maildir:$T/bigsrc" "maildir:$T/mdd" --state "$T/d.db" --retries 2 \
	--json >"$T/d1.json" 2>"$T/d1.err" || rc=$?
[ $rc != 0 ] && [ $rc -lt 128 ] || { cat "$T/d1.err" >&2; fail "(d) exit $rc with a full TMPDIR"; }
grep "No space left" "$T/d1.err" | grep -q "message .*temp directory.*TMPDIR" ||
	{ cat "$T/d1.err" >&2; fail "(d) the error does not name the message and the temp directory"; }
echo "   error: $(grep -m1 'No space left' "$T/d1.err")"
campaign_py maildir "$T/mdd" >"$T/got.d1" 2>/dev/null || : >"$T/got.d1"
subset "$T/want.d" "$T/got.d1" "(d) after the failure"
mount -o remount,size=64m "$T/d4" || fail "remount"
rc=0
TMPDIR="$T/d4" mf migrate "maildir:$T/bigsrc" "maildir:$T/mdd" --state "$T/d.db" --retries 2 \
	--json >"$T/d2.json" 2>"$T/d2.err" || rc=$?
[ $rc = 0 ] || { cat "$T/d2.err" >&2; fail "(d) the re-run after freeing space exited $rc"; }
! grep -q "$SANITIZER_RE" "$T/d1.err" "$T/d2.err" || fail "(d) sanitizer report"
campaign_py maildir "$T/mdd" >"$T/got.d2"
exact "$T/want.d" "$T/got.d2" "(d) spool"
d_total=$(wc -l <"$T/want.d")
echo "   (d) re-run complete: $d_total messages ($nbig over 4 MiB), 0 lost, 0 duplicated ($(($(date +%s) - t0)) s)"

echo "full disk (maildir, mbox, state, spool): runs 8, messages $((3 * total + d_total)), lost $lost, duplicated $dup, crashes 0, $(($(date +%s) - wall0)) s"
echo ok
