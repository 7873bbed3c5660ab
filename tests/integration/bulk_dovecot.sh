#!/bin/sh
# SPDX-License-Identifier: MIT
# A whole company at once (issue 6): 20 accounts from a CSV, Dovecot on
# both sides over TLS, 4 mailboxes at a time.  Three accounts are bad on
# purpose: a wrong password, an unreachable server, a target over quota.
# The run is killed with SIGKILL mid-way and started again; then every
# good mailbox must hold exactly its source messages (digests, no
# duplicates), the bad ones must be reported clearly, the verify report
# must say which are complete, and a delta run after "the MX switch"
# copies only the mail that arrived since.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
N=20

# Target over quota for big mailboxes only: 3 MB each.
DOVECOT_EXTRA_CONF='mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=3M
}'
export DOVECOT_EXTRA_CONF
dovecot_init dst
dovecot_start dst
unset DOVECOT_EXTRA_CONF
dovecot_init src
for i in $(seq -w 1 $N); do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "u$i@new.example" "new-$i"
done
dovecot_start src
SRC_DIR=$(dovecot_var src dir)
for i in $(seq -w 1 $N); do
	msgs=$((12 + ${i#0}))
	big=0.0
	[ "$i" = 13 ] && { msgs=40; big=0.3; } # over the target's quota
	python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/u$i@old.example" \
		--messages $msgs --seed "$i" --big-fraction $big --max-big 400000 \
		--folders INBOX,Sent,Projects,Projects/2024 --manifest "$T/want-$i.txt"
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
SRC_PORT=$(dovecot_var src imaps)
DST_PORT=$(dovecot_var dst imaps)
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	echo "source_user,source_password,source_port,target_user,target_password,enabled"
	for i in $(seq -w 1 $N); do
		pw="pw-$i"; port=$SRC_PORT
		[ "$i" = 05 ] && pw="not-the-password"
		[ "$i" = 09 ] && port=$DEAD_PORT
		echo "u$i@old.example,$pw,$port,u$i@new.example,new-$i,yes"
	done
	echo "broken row with no commas"
} > "$T/accounts.csv"
SRC_T='imaps://{source_user}@127.0.0.1:{source_port}'
DST_T="alimail://{target_user}@127.0.0.1:$DST_PORT"
run() {
	mf migrate --accounts "$T/accounts.csv" --jobs 4 --retries 2 --ca-file "$T/ca.pem" \
		--state "$T/state.db" "$@" "$SRC_T" "$DST_T"
}

echo "== first run, killed mid-way"
"$MAILFERRY" migrate --accounts "$T/accounts.csv" --jobs 4 --retries 2 --ca-file "$T/ca.pem" \
	--state "$T/state.db" --max-messages-per-second 150 -q "$SRC_T" "$DST_T" >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true

echo "== second run to the end"
rc=0
run --json > "$T/run2.json" 2> "$T/run2.err" || rc=$?
assert_eq "$rc" 3 "exit status with failed mailboxes"
grep -q "accounts.csv line 22" "$T/run2.err" || fail "the malformed row is not reported by line"

# Every message stored for a user, as sha256 of its file with line ends
# normalised: IMAP serves CRLF and Dovecot stores LF (mail_save_crlf=no),
# so the files differ exactly there; what IMAP serves is compared
# byte for byte by "mailferry verify" below.
store_sums() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | sort |
	while read -r f; do tr -d '\r' < "$f" | sha256sum; done | cut -d' ' -f1 | sort; }
source_sums() { store_sums "$SRC_DIR/mail/u$1@old.example"; }
target_sums() { store_sums "$(dovecot_var dst dir)/mail/u$1@new.example"; }
for i in $(seq -w 1 $N); do
	case $i in 05|09|13) continue ;; esac
	source_sums "$i" > "$T/w"
	target_sums "$i" > "$T/g"
	cmp -s "$T/w" "$T/g" || { diff "$T/w" "$T/g" | head -5; fail "u$i: target differs from source (lost or duplicated)"; }
done
echo "   17 good mailboxes identical to their sources, no duplicates"

echo "== the bad ones are reported clearly"
mf status --state "$T/state.db" > "$T/status.txt"
cat "$T/status.txt"
grep '^u05@old.example .*failed' "$T/status.txt" | grep -qi "auth" || fail "u05: no clear authentication error"
grep '^u09@old.example .*failed' "$T/status.txt" | grep -qiE "refused|connect" || fail "u09: no clear connection error"
grep '^u13@old.example .*failed' "$T/status.txt" | grep -qi "quota" || fail "u13: no clear quota error"
[ "$(grep -c ' done ' "$T/status.txt")" = 17 ] || fail "17 mailboxes should be done"
mf status --state "$T/state.db" --csv | grep -q '^u01@old.example,done,' || fail "status --csv"

echo "== verify writes the report"
rc=0
mf verify --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --state "$T/state.db" \
	--report "$T" "$SRC_T" "$DST_T" > "$T/verify.out" 2>/dev/null || rc=$?
grep -q "17 of 20 mailboxes complete" "$T/verify.out" || { cat "$T/verify.out"; fail "verify summary"; }
grep -q '<svg' "$T/verify-report.html" || fail "html report"

echo "== delta pass after the MX switch copies only the new mail"
python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/u01@old.example" \
	--messages 3 --seed 99 --first 500 --folders INBOX --manifest "$T/new-01.txt"
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
mf disable --state "$T/state.db" u02@old.example > /dev/null
run --json > "$T/run3.json" 2>/dev/null || true
copied=$(grep '"event":"summary"' "$T/run3.json" | sed 's/.*"copied":\([0-9]*\).*/\1/')
assert_eq "$copied" 3 "messages copied by the delta pass"
grep -q '"mailbox":"u02@old.example"' "$T/run3.json" && fail "disabled mailbox was run"
source_sums 01 > "$T/w"
[ "$(wc -l < "$T/w")" = 16 ] || fail "u01 source should hold 13 + 3 messages"
target_sums 01 | cmp -s "$T/w" - || fail "u01 after the delta pass"
echo ok
