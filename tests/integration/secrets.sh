#!/bin/sh
# SPDX-License-Identifier: MIT
# Secrets stay secret (issue 17).  Passwords given by file, by the
# environment and in the accounts CSV (and a wrong one) must not appear in
# /proc/PID/cmdline, the -v log, --json events, the state file (its WAL
# and shared memory copied mid-run too), status, verify reports,
# preflight output or crash output -- neither as typed nor as the base64
# of an AUTHENTICATE PLAIN exchange.  OAuth tokens and refresh tokens are
# checked the same way by imap_oauth_dovecot.sh (g).
# And: an imap:// source whose server refuses STARTTLS, or does not offer
# it, is left before any password is sent (tests/fake/imap_server.py logs
# every line it receives).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"

# One distinct secret per way in, so a leak says which way it came.
PW_FILE='Fi1e-src-7QxKp!'
PW_ENV='Env-snk-Zp4Lw#'
PW_CSV_S1='Csv-src-1-Wm9$'
PW_CSV_D1='Csv-dst-1-Hj2%'
PW_CSV_S2='Csv-src-2-Rb5&'
PW_CSV_D2='Csv-dst-2-Nc3*'
PW_WRONG='Wr0ng-pass-Ty8~'
PW_EVE='Eve-right-Kq6^'

dovecot_init src
dovecot_init dst
dovecot_user src alice@old.example "$PW_FILE"
dovecot_user dst alice@new.example "$PW_ENV"
dovecot_user src u1@old.example "$PW_CSV_S1"
dovecot_user dst u1@new.example "$PW_CSV_D1"
dovecot_user src u2@old.example "$PW_CSV_S2"
dovecot_user dst u2@new.example "$PW_CSV_D2"
dovecot_user src eve@old.example "$PW_EVE"
dovecot_user dst eve@new.example "$PW_EVE"
dovecot_start src
dovecot_start dst
SRC_DIR=$(dovecot_var src dir)
for u in alice u1 u2 eve; do
	python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/$u@old.example" \
		--messages 40 --seed 7 --folders INBOX,Sent >/dev/null
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
SRC_HP="127.0.0.1:$(dovecot_var src imaps)"
DST_HP="127.0.0.1:$(dovecot_var dst imaps)"
mkdir "$T/out"
printf '%s\n' "$PW_FILE" > "$T/src.pw"

# Copies of /proc/PID/cmdline and of the state file's -wal/-shm while pid
# runs (a finished run checkpoints the WAL away).
watch_run() { # pid name
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 600 ]; do
		tr '\0' ' ' < "/proc/$1/cmdline" >> "$T/out/$2.cmdline" 2>/dev/null || true
		for f in "$T"/state.db-wal "$T"/state.db-shm "$T"/state.db; do
			[ -f "$f" ] && cp "$f" "$T/out/$2.$(basename "$f").$n" 2>/dev/null || true
		done
		n=$((n + 1))
		sleep 0.1
	done
	[ -s "$T/out/$2.cmdline" ] || fail "$2: the run ended before its cmdline was read"
	ls "$T/out/$2.state.db-wal."* >/dev/null 2>&1 || fail "$2: no copy of the WAL was taken"
}

echo "== single run: source password from a file, sink password from the environment"
MAILFERRY_SINK_PASSWORD="$PW_ENV" "$MAILFERRY" migrate -v --json --state "$T/state.db" \
	--ca-file "$T/ca.pem" --source-password-file "$T/src.pw" --max-messages-per-second 40 \
	"imaps://alice@old.example@$SRC_HP" "alimail://alice@new.example@$DST_HP" \
	> "$T/out/single.json" 2> "$T/out/single.log" &
pid=$!
watch_run $pid single
wait $pid || fail "single run: $(tail -3 "$T/out/single.log")"

echo "== bulk run: passwords in the accounts CSV, one of them wrong"
{
	echo "source_user,source_password,target_user,target_password"
	echo "u1@old.example,$PW_CSV_S1,u1@new.example,$PW_CSV_D1"
	echo "u2@old.example,$PW_CSV_S2,u2@new.example,$PW_CSV_D2"
	echo "eve@old.example,$PW_WRONG,eve@new.example,$PW_EVE"
} > "$T/accounts.csv"
SRC_T="imaps://{source_user}@$SRC_HP"
DST_T="alimail://{target_user}@$DST_HP"
bulk() {
	"$MAILFERRY" migrate --accounts "$T/accounts.csv" --state "$T/state.db" \
		--ca-file "$T/ca.pem" "$@" "$SRC_T" "$DST_T"
}
rc=0
bulk -v --json --max-messages-per-second 40 > "$T/out/bulk.json" 2> "$T/out/bulk.log" &
pid=$!
watch_run $pid bulk
wait $pid || rc=$?
assert_eq "$rc" 3 "bulk exit status with a wrong password"
grep -qi "eve@old.example.*auth" "$T/out/bulk.log" ||
	{ tail "$T/out/bulk.log"; fail "the wrong password is not reported for eve"; }

echo "== crash output: SIGSEGV in the middle of a run"
sed -i "s/$PW_WRONG/$PW_EVE/" "$T/accounts.csv"
"$MAILFERRY" migrate --accounts "$T/accounts.csv" --state "$T/crash.db" --ca-file "$T/ca.pem" \
	-v --max-messages-per-second 10 "$SRC_T" "maildir:$T/crash/{source_user}" \
	> "$T/out/crash.out" 2> "$T/out/crash.err" &
pid=$!
sleep 1.5
kill -SEGV $pid 2>/dev/null || fail "the run to crash had ended already"
rc=0
wait $pid || rc=$?
[ "$rc" -ne 0 ] || fail "SIGSEGV did not end the run"
grep -qi "signal\|crash\|SIGSEGV" "$T/out/crash.err" ||
	{ tail "$T/out/crash.err"; fail "no crash report"; }

echo "== the outputs an operator hands on"
mf status --state "$T/state.db" > "$T/out/status.txt"
mf status --json --state "$T/state.db" > "$T/out/status.json"
mf status --csv --state "$T/state.db" > "$T/out/status.csv"
mkdir "$T/report"
bulk_verify_rc=0
"$MAILFERRY" verify --accounts "$T/accounts.csv" --state "$T/state.db" --ca-file "$T/ca.pem" \
	--report "$T/report" "$SRC_T" "$DST_T" > "$T/out/verify.out" 2>&1 || bulk_verify_rc=$?
[ -s "$T/report/verify-report.html" ] || fail "no verify report ($bulk_verify_rc)"
"$MAILFERRY" preflight --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --json \
	"$SRC_T" "$DST_T" > "$T/out/preflight.json" 2> "$T/out/preflight.err" || true
"$MAILFERRY" preflight --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --csv \
	"$SRC_T" "$DST_T" > "$T/out/preflight.csv" 2>&1 || true
grep -q 'u1@old.example' "$T/out/preflight.csv" || fail "preflight wrote no rows"
cp "$T"/state.db* "$T"/crash.db* "$T/out/"

# Every secret, and the base64 an AUTHENTICATE PLAIN would carry for it.
found=0
for pw in "$PW_FILE" "$PW_ENV" "$PW_CSV_S1" "$PW_CSV_D1" "$PW_CSV_S2" "$PW_CSV_D2" \
	"$PW_WRONG" "$PW_EVE"; do
	if grep -rlaF -e "$pw" "$T/out" "$T/report"; then
		echo "LEAK: '$pw' in the files above" >&2
		found=1
	fi
	for user in alice@old.example alice@new.example u1@old.example u1@new.example \
		u2@old.example u2@new.example eve@old.example eve@new.example; do
		b64=$(printf '\0%s\0%s' "$user" "$pw" | base64 -w0)
		if grep -rlaF -e "$b64" "$T/out" "$T/report"; then
			echo "LEAK: AUTHENTICATE PLAIN of $user with '$pw'" >&2
			found=1
		fi
	done
done
[ $found -eq 0 ] || fail "a secret reached an output"
nfiles=$(find "$T/out" "$T/report" -type f | wc -l)
echo "   $nfiles files (cmdline, logs, events, state + WAL copies, reports) hold no secret"

echo "== STARTTLS refused or not offered: no password leaves"
for scenario in starttls-refused no-starttls; do
	imap_fake "$scenario" "$scenario" 30
	rc=0
	mf migrate "imap://alice@127.0.0.1:$PORT/" "maildir:$T/md-$scenario" \
		--state "$T/$scenario.db" --source-password-file "$T/src.pw" --retries 1 \
		> "$T/$scenario.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "$scenario: the run went on without TLS"
	grep -q "STARTTLS" "$T/$scenario.out" || { cat "$T/$scenario.out"; fail "$scenario: unclear error"; }
	if grep -qiE '^[^ ]+ (LOGIN|AUTHENTICATE)' "$T/$scenario.log" ||
		grep -qF -e "$PW_FILE" "$T/$scenario.log"; then
		cat "$T/$scenario.log"
		fail "$scenario: credentials sent in clear text"
	fi
	kill $fpid 2>/dev/null || true
	echo "   $scenario: $(head -c 200 "$T/$scenario.out" | tr '\n' ' ')"
done
echo PASS
