#!/bin/sh
# SPDX-License-Identifier: MIT
# kill -9 campaign (issue 17): a bulk run of four Dovecot mailboxes (two
# folders each, one of them non-ASCII; a few hundred messages with flags,
# keywords and dates, some 100-300 KB) is killed with SIGKILL at 20 random
# moments and restarted each time, then let finish: 10 times into a second
# Dovecot (IMAP -> IMAP), 10 times into the local sinks (two rows to
# maildir:, two to mbox:, in one accounts CSV).  Each kill lands mid-copy:
# after the state shows this run's first copy, plus a random 0-799 ms.  Then every
# source message must be on its target exactly once, byte-identical, with
# its flags and date where the sink keeps them; status says done and a
# further run copies 0.  The seed ($MAILFERRY_SEED, else random) is
# printed first; it fixes the mailboxes and the kill delays.
# Some twenty runs with Dovecot on both sides: more than the default
# 300 s on a loaded machine or under the sanitizers.
: "${MF_TEST_TIMEOUT:=600}"
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
. "$top_srcdir/tests/integration/campaign_lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 needed"; exit 77; }
campaign_seed
wall0=$(date +%s)
KILLS=${MAILFERRY_KILLS:-10} # per round: 20 in all
N=90                         # messages per mailbox
FOLDERS2="Entwürfe Проекты Größe 日本語"

for i in 1 2 3 4; do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "u$i@new.example" "new-$i"
done
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT
for i in 1 2 3 4; do
	f2=$(echo "$FOLDERS2" | cut -d' ' -f$i)
	campaign_py seed "$(dovecot_var src imap)" "u$i@old.example" "pw-$i" \
		"$((SEED + i))" $N INBOX "$f2" || fail "seeding u$i"
	campaign_py imap "$(dovecot_var src imap)" "u$i@old.example" "pw-$i" >"$T/src-$i.txt"
	# What the mbox sink keeps: no flags.
	awk '{ $3 = "(mbox)"; print }' "$T/src-$i.txt" | LC_ALL=C sort >"$T/src-$i.noflags"
done
total=$(cat "$T"/src-?.txt | wc -l)
assert_eq "$total" $((4 * N)) "messages seeded"

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" >"$T/ca.pem"
SRC_PORT=$(dovecot_var src imaps)
{
	echo "source_user,source_password,target_user,target_password"
	for i in 1 2 3 4; do echo "u$i@old.example,pw-$i,u$i@new.example,new-$i"; done
} >"$T/imap.csv"
{
	echo "source_user,source_password,kind,target_user"
	echo "u1@old.example,pw-1,maildir,u1"
	echo "u2@old.example,pw-2,mbox,u2"
	echo "u3@old.example,pw-3,maildir,u3"
	echo "u4@old.example,pw-4,mbox,u4"
} >"$T/local.csv"
SRC_T="imaps://{source_user}@127.0.0.1:$SRC_PORT"
IMAP_T="alimail://{target_user}@127.0.0.1:$(dovecot_var dst imaps)"
LOCAL_T="{kind}:$T/out/{target_user}"

# Kill delays in ms, drawn from the seed.
DELAYS=$(python3 -c "import random; r = random.Random($SEED)
print(' '.join(str(r.randrange(800)) for _ in range(200)))")
delay() { echo "$DELAYS" | cut -d' ' -f"$1"; }
ndelay=0

copied_rows() { # state file
	sqlite3 "file:$1?mode=ro" "SELECT count(*) FROM messages WHERE status='copied'" \
		2>/dev/null || echo 0
}

# campaign NAME CSV SINK-TEMPLATE: KILLS killed runs, then the last one.
campaign() {
	name=$1 csv=$2 sink=$3 state="$T/$1.db"
	kills=0 runs=0 early=0 crashes=0
	while [ $kills -lt "$KILLS" ]; do
		runs=$((runs + 1))
		[ $runs -le $((3 * KILLS)) ] || fail "$name: $runs runs for $kills kills: runs keep failing"
		before=$(copied_rows "$state")
		"$MAILFERRY" migrate --accounts "$csv" --jobs 2 --retries 3 --timeout 10 \
			--ca-file "$T/ca.pem" --state "$state" --max-messages-per-second 8 -q \
			"$SRC_T" "$sink" >/dev/null 2>"$T/$name.err.$runs" &
		pid=$!
		# Wait for this run's first copy (bounded: 15 s), then a
		# random moment in the copy phase.
		w=0
		while kill -0 $pid 2>/dev/null && [ $w -lt 300 ]; do
			[ "$(copied_rows "$state")" -gt "$before" ] && break
			sleep 0.05
			w=$((w + 1))
		done
		ndelay=$((ndelay + 1))
		d=$(delay $ndelay)
		sleep "$(printf '0.%03d' "$d")"
		if kill -9 $pid 2>/dev/null; then
			wait $pid 2>/dev/null || true
			kills=$((kills + 1))
		else
			rc=0
			wait $pid || rc=$?
			# Exit status above 128: a signal of its own (a crash).
			[ $rc -lt 128 ] || { crashes=$((crashes + 1)); cat "$T/$name.err.$runs" >&2; }
			[ $rc = 0 ] && { early=1; break; }
		fi
	done
	partial=$(copied_rows "$state")
	runs=$((runs + 1))
	rc=0
	mf migrate --accounts "$csv" --jobs 2 --retries 3 --timeout 10 --ca-file "$T/ca.pem" \
		--state "$state" --json -q "$SRC_T" "$sink" >"$T/$name.last.json" \
		2>"$T/$name.last.err" || rc=$?
	[ $rc = 0 ] || { cat "$T/$name.last.err" >&2; fail "$name: the last run exited $rc"; }
	# A sanitizer's report (a build with --enable-sanitizers) is a crash
	# too, whatever the exit status.
	san=$(cat "$T/$name".err.* "$T/$name.last.err" | grep -c "$SANITIZER_RE" || true)
	[ "$san" = 0 ] || { grep -h -A5 "$SANITIZER_RE" "$T/$name".err.* "$T/$name.last.err" >&2; crashes=$((crashes + san)); }
	[ $early = 0 ] || fail "$name: a run finished before its kill (runs too fast to test anything)"
	[ "$partial" -lt "$total" ] || fail "$name: the killed runs copied everything already"
	echo "   $name: $kills kills, $runs runs, $partial of $total copied before the last run"
	mf status --state "$state" >"$T/$name.status"
	[ "$(grep -c ' done ' "$T/$name.status")" = 4 ] || {
		cat "$T/$name.status"
		fail "$name: status does not say done for all 4 mailboxes"
	}
	mf migrate --accounts "$csv" --jobs 2 --ca-file "$T/ca.pem" --state "$state" --json -q \
		"$SRC_T" "$sink" >"$T/$name.again.json" 2>&1 || fail "$name: the further run failed"
	assert_eq "$(campaign_counts "$T/$name.again.json")" "0 0" "$name: a further run copies"
	eval "${name}_kills=$kills ${name}_runs=$runs ${name}_crashes=$crashes"
}

check() { # label want got
	set -- "$1" "$2" "$3" $(campaign_compare "$2" "$3" "$1")
	lost=$((lost + $4)) dup=$((dup + $5))
	[ "$4" = 0 ] && [ "$5" = 0 ] || echo "   $1: $4 lost, $5 duplicated or altered" >&2
}

t0=$(date +%s)
echo "== IMAP -> IMAP, $KILLS kills"
campaign imap "$T/imap.csv" "$IMAP_T"
lost=0 dup=0
for i in 1 2 3 4; do
	campaign_py imap "$(dovecot_var dst imap)" "u$i@new.example" "new-$i" >"$T/dst-$i.txt"
	check "imap u$i" "$T/src-$i.txt" "$T/dst-$i.txt"
done
imap_lost=$lost imap_dup=$dup

echo "== IMAP -> maildir: and mbox:, $KILLS kills"
campaign local "$T/local.csv" "$LOCAL_T"
lost=0 dup=0
campaign_py maildir "$T/out/u1" >"$T/got-1.txt"
check "maildir u1" "$T/src-1.txt" "$T/got-1.txt"
campaign_py maildir "$T/out/u3" >"$T/got-3.txt"
check "maildir u3" "$T/src-3.txt" "$T/got-3.txt"
campaign_py mbox "$T/out/u2" >"$T/got-2.txt"
check "mbox u2" "$T/src-2.noflags" "$T/got-2.txt"
campaign_py mbox "$T/out/u4" >"$T/got-4.txt"
check "mbox u4" "$T/src-4.noflags" "$T/got-4.txt"
local_lost=$lost local_dup=$dup
t1=$(date +%s)

echo "kill campaign (seed $SEED): kills $((imap_kills + local_kills)), runs $((imap_runs + local_runs)), messages $((2 * total)), lost $((imap_lost + local_lost)), duplicated $((imap_dup + local_dup)), crashes $((imap_crashes + local_crashes)), $((t1 - t0)) s of campaign, $(($(date +%s) - wall0)) s in all"
echo "   imap: kills $imap_kills runs $imap_runs lost $imap_lost duplicated $imap_dup"
echo "   maildir+mbox: kills $local_kills runs $local_runs lost $local_lost duplicated $local_dup"
[ $((imap_lost + local_lost + imap_dup + local_dup)) = 0 ] || fail "messages lost or duplicated (seed $SEED)"
[ $((imap_crashes + local_crashes)) = 0 ] || fail "a run crashed (seed $SEED)"
echo ok
