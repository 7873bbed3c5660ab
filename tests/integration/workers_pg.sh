#!/bin/sh
# SPDX-License-Identifier: MIT
# Three workers on one run (issue 14): three "mailferry migrate" processes
# given one accounts CSV of 12 Dovecot mailboxes and one PostgreSQL state.
#  1. One worker is killed with SIGKILL while it holds mailboxes; the two
#     others take them over once the lease (4 s) has run out and finish
#     the run: every mailbox byte-identical to its source, no duplicates,
#     no row left pending, status "done" for all, mailboxes done by more
#     than one worker.  The rate limit holds for the three together (the
#     run cannot be faster than the shared --max-messages-per-second
#     allows) and so does --connections-per-host (at most that many
#     run-wide slots taken at any time, seen in pg_locks).
#     verify reads the same database and finds all 12 complete.
#  2. The same on 12 fresh target mailboxes with the database restarted
#     mid-run: every worker reconnects and the run completes, nothing lost
#     or doubled.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
. "$(dirname "$0")/postgres.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
postgres_available || { echo "PostgreSQL server binaries not installed: skipped"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
N=12
RATE=15 # messages per second, for all workers together
CAP=4   # connections per host, for all workers together

postgres_start pg
# A database per part: the state keys mailboxes by source account, and
# both parts read the same sources.
postgres_psql pg -d postgres -c 'CREATE DATABASE mf2' > /dev/null
DB=mf
url() { echo "postgresql://mf@127.0.0.1:$(postgres_var pg port)/$DB"; }
PGPASSWORD=$(postgres_var pg password)
export PGPASSWORD
count() { postgres_psql pg -d "$DB" -At -c "$1"; }

dovecot_init src
dovecot_init dst
for i in $(seq 1 $N); do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "a$i@new.example" "new-$i"
	dovecot_user dst "b$i@new.example" "new-$i"
done
dovecot_start src
dovecot_start dst
SRC_DIR=$(dovecot_var src dir)
DST_DIR=$(dovecot_var dst dir)
total=0
for i in $(seq 1 $N); do
	python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/u$i@old.example" \
		--messages $((16 + i)) --seed "$i" --big-fraction 0.05 --max-big 150000 \
		--folders INBOX,Sent,Projekte,Projekte/Archiv --manifest "$T/want-$i.txt"
	total=$((total + 16 + i))
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
for p in a b; do
	{
		echo "source_user,source_password,target_user,target_password"
		for i in $(seq 1 $N); do echo "u$i@old.example,pw-$i,$p$i@new.example,new-$i"; done
	} > "$T/accounts-$p.csv"
done
SRC_T="imaps://{source_user}@127.0.0.1:$(dovecot_var src imaps)"
DST_T="alimail://{target_user}@localhost:$(dovecot_var dst imaps)"

start_worker() { # PREFIX NAME: one worker in the background; its pid in $wpid
	"$MAILFERRY" migrate --accounts "$T/accounts-$1.csv" --state "$(url)" --ca-file "$T/ca.pem" \
		--worker "$2" --lease 4 --jobs 2 --streams 1 --max-messages-per-second $RATE \
		--connections-per-host $CAP --json "$SRC_T" "$DST_T" \
		> "$T/$1-$2.out" 2> "$T/$1-$2.err" &
	wpid=$!
	mf_on_exit "kill -9 $wpid 2>/dev/null || true"
}

copied_now() { count "SELECT count(*) FROM messages WHERE status='copied'" 2>/dev/null || echo 0; }

store_sums() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | sort |
	while read -r f; do tr -d '\r' < "$f" | sha256sum; done | cut -d' ' -f1 | sort; }

check_targets() { # PREFIX
	for i in $(seq 1 $N); do
		store_sums "$SRC_DIR/mail/u$i@old.example" > "$T/w"
		store_sums "$DST_DIR/mail/$1$i@new.example" > "$T/g"
		[ "$(wc -l < "$T/w")" = $((16 + i)) ] || fail "u$i: source should hold $((16 + i))"
		cmp -s "$T/w" "$T/g" || {
			diff "$T/w" "$T/g" | head -5
			count "SELECT b.name, f.path, m.source_id, m.status, m.target_id FROM messages m JOIN folders f ON f.id=m.folder_id JOIN mailboxes b ON b.id=f.mailbox_id WHERE b.name='u$i@old.example'" | head -40
			cat "$T"/*.err | grep -v ' info: ' | head -30
			fail "$1$i: target differs from source ($(wc -l < "$T/g") of $(wc -l < "$T/w"): lost or duplicated)"
		}
	done
	# The state of this run's mailboxes: done, nothing pending.
	assert_eq "$(count "SELECT count(*) FROM mailboxes WHERE status='done'")" "$N" "mailboxes done"
	assert_eq "$(count "SELECT count(*) FROM messages WHERE status<>'copied'")" 0 \
		"message rows left pending or failed"
}

echo "== 1: three workers, one killed with SIGKILL while it holds mailboxes"
# $RATE/s for everyone: at least this long, were the limit per worker it
# would take a third of it.
floor_ms=$((total * 1000 / RATE * 8 / 10))
t0=$(date +%s%N)
start_worker a w1; w1=$wpid
start_worker a w2; w2=$wpid
start_worker a w3; w3=$wpid
# Kill w1 once it holds a mailbox and a fifth of the run is copied; watch
# the run-wide connection slots meanwhile.
max_slots=0
killed=0
for _ in $(seq 1 600); do
	slots=$(count "SELECT coalesce(max(n),0) FROM (SELECT count(*) n FROM pg_locks
		WHERE locktype='advisory' AND classid=1835430003 GROUP BY objid::bigint >> 10) s" 2>/dev/null || echo 0)
	[ "${slots:-0}" -gt "$max_slots" ] && max_slots=$slots
	echo "$(date +%s%N) $(copied_now)" >> "$T/samples"
	if [ $killed = 0 ] && [ "$(copied_now)" -ge $((total / 5)) ] &&
		[ "$(count "SELECT count(*) FROM mailboxes WHERE worker='w1' AND lease_until IS NOT NULL AND status='running'")" -ge 1 ]; then
		held=$(count "SELECT string_agg(name, ' ') FROM mailboxes WHERE worker='w1' AND lease_until IS NOT NULL AND status='running'")
		kill -9 $w1
		killed=1
		echo "   w1 killed at $(copied_now) of $total copied, holding: $held"
	fi
	kill -0 $w2 2>/dev/null || kill -0 $w3 2>/dev/null || break
	sleep 0.05
done
[ $killed = 1 ] || fail "w1 was never seen holding a mailbox mid-run"
wait $w1 2>/dev/null || true
rc2=0; wait $w2 || rc2=$?
rc3=0; wait $w3 || rc3=$?
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc2 = 0 ] || { cat "$T/a-w2.err"; fail "w2: exit $rc2"; }
[ $rc3 = 0 ] || { cat "$T/a-w3.err"; fail "w3: exit $rc3"; }
check_targets a
echo "   $N mailboxes identical to their sources ($total messages), no duplicates, in ${elapsed_ms} ms"
for m in $held; do
	grep -h "$m: taken over from worker w1" "$T/a-w2.err" "$T/a-w3.err" >/dev/null ||
		{ cat "$T/a-w2.err" "$T/a-w3.err"; fail "$m: not reported taken over from w1"; }
	by=$(count "SELECT worker FROM mailboxes WHERE name='$m'")
	[ "$by" = w2 ] || [ "$by" = w3 ] || fail "$m: finished by '$by', not w2 or w3"
done
workers=$(count "SELECT count(DISTINCT worker) FROM mailboxes WHERE status='done'")
[ "$workers" -ge 2 ] || fail "all mailboxes done by one worker: nothing was shared"
echo "   held by w1 and taken over: $held; mailboxes done by $workers workers"
[ "$elapsed_ms" -ge "$floor_ms" ] ||
	fail "the run took ${elapsed_ms} ms: faster than $RATE messages/s for all workers together allows (${floor_ms} ms)"
# And over any stretch of 2 s or more: without sharing, three workers
# would go at up to three times the rate.
peak=$(awk '{ t[NR] = $1 / 1e9; c[NR] = $2 }
	END { m = 0; for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++)
		if (t[j] - t[i] >= 2) { r = (c[j] - c[i]) / (t[j] - t[i]); if (r > m) m = r; break }
		printf "%d", m }' "$T/samples")
[ "$peak" -le $((RATE * 3 / 2)) ] ||
	fail "$peak messages/s over 2 s: the $RATE/s limit did not hold for the workers together"
echo "   the shared rate held: ${elapsed_ms} ms >= ${floor_ms} ms for $total messages at $RATE/s, peak $peak/s over 2 s"
[ "$max_slots" -ge 1 ] || fail "no run-wide connection slot was ever seen taken"
[ "$max_slots" -le "$CAP" ] || fail "$max_slots run-wide slots of one host taken at once (cap $CAP)"
echo "   at most $max_slots connection slots of one host taken at once, run-wide (cap $CAP)"

echo "== status shows the run and its workers"
"$MAILFERRY" status --state "$(url)" > "$T/status.txt"
[ "$(grep -c ' done ' "$T/status.txt")" -ge "$N" ] || { cat "$T/status.txt"; fail "status: not all done"; }
grep -q "^total: $N mailboxes ($N done, 0 running, 0 failed, 0 pending, 0 disabled), $total messages copied" "$T/status.txt" ||
	{ cat "$T/status.txt"; fail "status: the run's totals"; }
"$MAILFERRY" status --state "$(url)" --workers > "$T/workers.txt"
cat "$T/workers.txt"
for w in w1 w2 w3; do grep -q "^$w " "$T/workers.txt" || fail "status --workers: no $w"; done
grep -q '^w2  *left ' "$T/workers.txt" || fail "status --workers: w2 should have left"
grep -q "^w1  *silent " "$T/workers.txt" || fail "status --workers: w1 (killed) should be silent"
"$MAILFERRY" status --state "$(url)" --json u1@old.example | grep -q '"worker": "w[123]"' ||
	fail "status --json: no worker"

echo "== verify reads the same database"
rc=0
"$MAILFERRY" verify --accounts "$T/accounts-a.csv" --ca-file "$T/ca.pem" --state "$(url)" \
	--report "$T" "$SRC_T" "$DST_T" > "$T/verify.out" 2> "$T/verify.err" || rc=$?
grep -q "$N of $N mailboxes complete" "$T/verify.out" || { cat "$T/verify.out" "$T/verify.err"; fail "verify: exit $rc"; }
assert_eq "$rc" 0 "verify exit status"

echo "== 2: three workers, the database restarted mid-run"
DB=mf2
start_worker b w1; w1=$wpid
start_worker b w2; w2=$wpid
start_worker b w3; w3=$wpid
restarted=0
for _ in $(seq 1 600); do
	if [ "$(copied_now)" -ge $((total / 4)) ]; then
		echo "   restarting the database at $(copied_now) of $total copied"
		postgres_stop pg
		sleep 1
		postgres_start pg
		restarted=1
		break
	fi
	sleep 0.05
done
[ $restarted = 1 ] || fail "the run ended before the restart"
for p in $w1 $w2 $w3; do
	rc=0; wait $p || rc=$?
	[ $rc = 0 ] || { cat "$T"/b-w*.err; fail "a worker exited $rc after the database restart"; }
done
grep -q 'connection to the server lost' "$T"/b-w*.err || fail "no worker saw the database go away"
check_targets b
echo "   $N mailboxes identical to their sources after the restart, no duplicates"

echo "== the database password never shows"
for f in "$T"/*.out "$T"/*.err "$T/status.txt" "$T/workers.txt"; do
	grep -qF "$PGPASSWORD" "$f" && fail "$f shows the database password"
done
echo ok
