#!/bin/sh
# SPDX-License-Identifier: MIT
# --state postgresql:// (issue 14): a bulk run of 6 mailboxes, Dovecot to
# Dovecot over TLS, its state in a real PostgreSQL (postgres.sh), killed
# with SIGKILL mid-run and started again: every mailbox then holds
# exactly its source messages (no loss, no duplicates), no message row is
# left pending, "mailferry status" reads the same database, and the
# database's password (in the URL of MAILFERRY_STATE for the first run,
# PGPASSWORD for the others) never shows in output, logs or the process
# list.  A mailbox another session holds is left alone, reported naming
# the holder, and done once it is free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
. "$(dirname "$0")/postgres.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
postgres_available || { echo "PostgreSQL server binaries not installed: skipped"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
N=6

postgres_start pg
PW=$(postgres_var pg password)
URL=$(postgres_var pg url)
PORT=$(postgres_var pg port)
count() { postgres_psql pg -At -c "$1"; }

dovecot_init src
dovecot_init dst
for i in $(seq 1 $N); do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "u$i@new.example" "new-$i"
done
dovecot_start src
dovecot_start dst
SRC_DIR=$(dovecot_var src dir)
for i in $(seq 1 $N); do
	python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/u$i@old.example" \
		--messages $((20 + i)) --seed "$i" --big-fraction 0.05 --max-big 200000 \
		--folders INBOX,Sent,Projects,Projects/2024 --manifest "$T/want-$i.txt"
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
total=$(( 20 * N + N * (N + 1) / 2 ))

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
{
	echo "source_user,source_password,target_user,target_password"
	for i in $(seq 1 $N); do
		echo "u$i@old.example,pw-$i,u$i@new.example,new-$i"
	done
} > "$T/accounts.csv"
SRC_T="imaps://{source_user}@127.0.0.1:$(dovecot_var src imaps)"
DST_T="alimail://{target_user}@127.0.0.1:$(dovecot_var dst imaps)"

echo "== first run (state from MAILFERRY_STATE, password in its URL), killed mid-run"
# Not through a function: $! must be mailferry itself.
MAILFERRY_STATE="postgresql://mf:$PW@127.0.0.1:$PORT/mf" "$MAILFERRY" migrate \
	--accounts "$T/accounts.csv" --jobs 3 --ca-file "$T/ca.pem" --json --worker w1 \
	--max-messages-per-second 40 "$SRC_T" "$DST_T" > "$T/run1.out" 2> "$T/run1.err" &
pid=$!
mf_on_exit "kill -9 $pid 2>/dev/null || true"
copied=0
for _ in $(seq 1 300); do
	copied=$(count "SELECT count(*) FROM messages WHERE status='copied'" 2>/dev/null || echo 0)
	[ "${copied:-0}" -ge 30 ] && break
	sleep 0.05
done
ps -o args= -p $pid > "$T/run1.ps" 2>/dev/null || true
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[ "$copied" -ge 30 ] || { cat "$T/run1.err"; fail "the first run copied only $copied messages"; }
[ "$copied" -lt "$total" ] || fail "the kill came too late to test anything"
echo "   killed with $copied of $total recorded copied"
test -e "$T/state.db.lock" && fail "a lock file was made for a database state"
ls ./*.lock 2>/dev/null | grep -q . && fail "a lock file was made in the working directory"

echo "== second run to the end (--state URL without password, PGPASSWORD)"
# The same worker name (a restarted pod): its leases are its own again at
# once, not after they run out (60 s).
export PGPASSWORD="$PW"
rc=0
t0=$(date +%s)
mf migrate --accounts "$T/accounts.csv" --jobs 3 --ca-file "$T/ca.pem" --json \
	--worker w1 --state "$URL" "$SRC_T" "$DST_T" > "$T/run2.out" 2> "$T/run2.err" || rc=$?
[ "$rc" = 0 ] || { cat "$T/run2.err"; fail "second run: exit $rc"; }
[ $(( $(date +%s) - t0 )) -lt 50 ] || { cat "$T/run2.err"; fail "the restarted worker waited for its own leases to run out"; }
grep -q 'taken over' "$T/run2.err" && fail "a worker's own mailboxes were reported taken over"

store_sums() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | sort |
	while read -r f; do tr -d '\r' < "$f" | sha256sum; done | cut -d' ' -f1 | sort; }
for i in $(seq 1 $N); do
	store_sums "$SRC_DIR/mail/u$i@old.example" > "$T/w"
	store_sums "$(dovecot_var dst dir)/mail/u$i@new.example" > "$T/g"
	[ "$(wc -l < "$T/w")" = $((20 + i)) ] || fail "u$i: source should hold $((20 + i))"
	cmp -s "$T/w" "$T/g" || { diff "$T/w" "$T/g" | head -5; fail "u$i: target differs from source (lost or duplicated)"; }
done
echo "   $N mailboxes identical to their sources ($total messages), no duplicates"
assert_eq "$(count "SELECT count(*) FROM messages WHERE status='copied'")" "$total" "copied rows"
assert_eq "$(count "SELECT count(*) FROM messages WHERE status<>'copied'")" 0 "rows left pending or failed"
assert_eq "$(count "SELECT count(*) FROM mailboxes WHERE status='done'")" "$N" "mailboxes done"

echo "== status reads the same database"
mf status --state "$URL" > "$T/status.txt"
cat "$T/status.txt"
[ "$(grep -c ' done ' "$T/status.txt")" = "$N" ] || fail "status: $N mailboxes should be done"
mf status --state "$URL" --csv | grep -q '^u3@old.example,done,[0-9]*,23,' || fail "status --csv of u3"
MAILFERRY_STATE="$URL" mf status --json u1@old.example > "$T/u1.json"
grep -q '"copied": 21' "$T/u1.json" || { cat "$T/u1.json"; fail "status --json via MAILFERRY_STATE"; }

echo "== a re-run copies nothing"
mf migrate --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --json --state "$URL" \
	"$SRC_T" "$DST_T" > "$T/run3.out" 2> "$T/run3.err" || fail "re-run failed"
grep '"event":"summary"' "$T/run3.out" | grep -q '"copied":0' || fail "the re-run copied something"

echo "== a mailbox another worker's session holds is left alone, then done when it is free"
# A psql session stands in for a worker busy with u2 (its lease has run
# out but its session lives: the lock is what counts).
postgres_psql pg -c "SELECT pg_advisory_lock(1835430002, id::int) FROM mailboxes
	WHERE name='u2@old.example'; SELECT pg_sleep(4)" > /dev/null 2>&1 &
holder=$!
mf_on_exit "kill $holder 2>/dev/null || true"
for _ in $(seq 1 100); do
	[ "$(count "SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND classid=1835430002")" = 1 ] && break
	sleep 0.05
done
rc=0
mf migrate --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --state "$URL" \
	"$SRC_T" "$DST_T" > "$T/run4.out" 2> "$T/run4.err" || rc=$?
kill $holder 2>/dev/null || true
wait $holder 2>/dev/null || true
assert_eq "$rc" 0 "exit status once the held mailbox was free"
grep -q 'u2@old.example.*being migrated by another worker.*asked for again later' "$T/run4.err" ||
	{ cat "$T/run4.err"; fail "the held mailbox is not reported"; }
assert_eq "$(count "SELECT status FROM mailboxes WHERE name='u2@old.example'")" done \
	"the held mailbox's row"

echo "== the password never shows"
for f in "$T"/run*.out "$T"/run*.err "$T/run1.ps" "$T"/status.txt "$T"/u1.json; do
	if grep -q "$PW" "$f"; then fail "the database password is in $f"; fi
done
echo ok
