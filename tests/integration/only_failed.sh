#!/bin/sh
# SPDX-License-Identifier: MIT
# migrate --only-failed (issue 13): a target that refuses some messages
# (Dovecot's quota_max_mail_size: u01's big mails) and is then fixed.
# The retry must visit only u01, send exactly the messages recorded as
# failed (counted by the target's own log of saves, Dovecot mail_log),
# survive a kill -9 in the middle without losing or doubling anything,
# report retried / succeeded now, and leave nothing for a plain re-run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
GEN="$top_srcdir/tests/tools/gen_mailbox.py"

# mail_log records every message the target stores: the APPEND count.
DOVECOT_EXTRA_CONF='mail_plugins = $mail_plugins quota notify mail_log
plugin {
  quota = maildir:User quota
  quota_max_mail_size = 100k
  mail_log_events = save
  mail_log_fields = uid box msgid size
}'
export DOVECOT_EXTRA_CONF
dovecot_init dst
dovecot_start dst
unset DOVECOT_EXTRA_CONF
dovecot_init src
for i in 01 02 03; do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "u$i@new.example" "new-$i"
done
dovecot_start src
mf_on_exit "[ \$? -eq 0 ] || dovecot_dump_logs dst"
SRC_DIR=$(dovecot_var src dir)
for i in 01 02 03; do
	big=0
	[ "$i" = 01 ] && big=0.3
	python3 "$GEN" --format maildir --layout fs --out "$SRC_DIR/mail/u$i@old.example" \
		--messages 30 --seed "$i" --big-fraction $big --max-big 300000 \
		--folders INBOX,Sent,Projects --manifest "$T/want-$i.txt"
done
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
{
	echo "source_user,source_password,target_user,target_password"
	for i in 01 02 03; do echo "u$i@old.example,pw-$i,u$i@new.example,new-$i"; done
} > "$T/accounts.csv"
SRC_T="imaps://{source_user}@127.0.0.1:$(dovecot_var src imaps)"
DST_T="alimail://{target_user}@127.0.0.1:$(dovecot_var dst imaps)"
DST_LOG=$(dovecot_var dst log)
saves() { grep -c ': save: ' "$DST_LOG" || true; }
migrate() {
	mf migrate --accounts "$T/accounts.csv" --jobs 2 --ca-file "$T/ca.pem" \
		--state "$T/state.db" "$@" "$SRC_T" "$DST_T"
}
# status --json of one mailbox: python expression on it as d
st() { mf status --json --state "$T/state.db" "$1" |
	python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print('"$2"')'; }
# messages in a user's target, all folders
target_count() { dovecot_adm dst search -u "$1" mailbox '*' ALL | wc -l; }
src_total=$(cat "$T"/want-0[123].txt | wc -l)

echo "== first run: the target refuses u01's big mails"
rc=0
migrate -q > "$T/run1.out" 2> "$T/run1.err" || rc=$?
assert_eq "$rc" 1 "exit status with refused messages $(cat "$T/run1.err")"
nfail=$(st u01@old.example 'd["failed"]')
[ "$nfail" -ge 3 ] || fail "u01: only $nfail messages refused"
assert_eq "$(st u02@old.example 'd["failed"]')" 0 "u02 failed"
assert_eq "$(st u03@old.example 'd["failed"]')" 0 "u03 failed"
mf status --state "$T/state.db" u01@old.example > "$T/status1.txt"
grep -qi 'larger than the maximum size\|too large\|quota' "$T/status1.txt" ||
	{ cat "$T/status1.txt"; fail "the server's words are not recorded"; }
s1=$(saves)
assert_eq "$s1" "$((src_total - nfail))" "messages stored by the first run"
echo "   $nfail of $src_total refused; $s1 stored"

echo "== --only-failed while the target still refuses: retried, still failing"
rc=0
migrate --only-failed > "$T/still.out" 2> "$T/still.err" || rc=$?
assert_eq "$rc" 1 "exit status while messages still fail"
assert_eq "$(saves)" "$s1" "nothing stored while the target refuses"
grep -q "^u01@old.example: done: $nfail retried, 0 succeeded now, $nfail still failing" \
	"$T/still.out" || { cat "$T/still.out"; fail "per-mailbox retry line"; }
grep -q '^u02@old.example: skipped: nothing recorded as failed' "$T/still.out" ||
	{ cat "$T/still.out"; fail "u02 not said to be skipped"; }
assert_eq "$(grep -c '^still failing: u01@old.example: ' "$T/still.out")" "$nfail" \
	"still-failing list"
grep -q "$nfail messages retried, 0 succeeded now, $nfail still failing" "$T/still.out" ||
	{ cat "$T/still.out"; fail "summary while still failing"; }

echo "== fix the target (no size limit), reload Dovecot"
sed -i 's/quota_max_mail_size = 100k/quota_max_mail_size = 0/' "$(dovecot_var dst conf)"
dovecot_adm dst reload
sleep 1

echo "== --only-failed, killed with SIGKILL after its first store, then again"
# Not through migrate(): $! must be mailferry itself, not a subshell.
"$MAILFERRY" migrate --accounts "$T/accounts.csv" --jobs 2 --ca-file "$T/ca.pem" \
	--state "$T/state.db" --only-failed --json --max-messages-per-second 2 \
	"$SRC_T" "$DST_T" > "$T/kill.out" 2> "$T/kill.err" &
pid=$!
mf_on_exit "kill -9 $pid 2>/dev/null || true"
for _ in $(seq 1 200); do
	[ "$(saves)" -gt "$s1" ] && break
	sleep 0.05
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
s2=$(saves)
[ "$s2" -gt "$s1" ] || { cat "$T/kill.err"; fail "the killed retry stored nothing"; }
[ "$s2" -lt "$((s1 + nfail))" ] || fail "the kill came too late to test anything"
echo "   killed after $((s2 - s1)) of $nfail stored"
rc=0
migrate --only-failed --json > "$T/retry.json" 2> "$T/retry.err" || rc=$?
assert_eq "$rc" 0 "exit status once everything is copied $(cat "$T/retry.err")"
s3=$(saves)
assert_eq "$((s3 - s1))" "$nfail" "messages stored by the retries (exactly the failed ones)"
python3 - "$T/retry.json" "$((s1 + nfail - s2))" <<'PY' || fail "--only-failed JSON events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
left = int(sys.argv[2])
done = {e["mailbox"]: e for e in ev if e["event"] == "mailbox_done"}
assert done["u02@old.example"]["status"] == "skipped", done
assert done["u03@old.example"]["status"] == "skipped", done
u1 = done["u01@old.example"]
assert u1["status"] == "done", u1
c = u1["counts"]
# A message whose append landed just before the kill is settled by
# lookup (recorded copied, not sent again): it counts as succeeded now.
# Sent now: exactly the ones the target does not hold yet.
assert c["copied"] == left, (c, left)
assert c["retried"] == c["succeeded_now"] == c["copied"] + c["skipped"], c
assert c["failed"] == 0, c
assert not [e for e in ev if e["event"] == "still_failed"], "still_failed events"
starts = [e for e in ev if e["event"] == "mailbox_start"]
assert [e["mailbox"] for e in starts] == ["u01@old.example"], starts
msgs = [e for e in ev if e["event"] == "message"]
assert all(e["outcome"] == "copied" for e in msgs), msgs
summ = [e for e in ev if e["event"] == "summary"][0]
assert summ["mailboxes_skipped"] == 2, summ
assert summ["counts"]["succeeded_now"] == c["succeeded_now"], summ
print("   retry after the kill: %d retried, %d succeeded now" % (c["retried"], c["succeeded_now"]))
PY

echo "== the target holds each source message once; the state agrees"
for i in 01 02 03; do
	assert_eq "$(target_count "u$i@new.example")" "$(wc -l < "$T/want-$i.txt")" \
		"u$i: messages in the target"
	assert_eq "$(st "u$i@old.example" 'd["failed"], d["pending"]')" "0 0" \
		"u$i: failed and pending after the retry"
done
assert_eq "$s3" "$src_total" "messages stored in all (none twice)"

echo "== a plain re-run copies nothing; another --only-failed has nothing to do"
migrate --json > "$T/plain.json" 2> "$T/plain.err" || fail "plain re-run $(cat "$T/plain.err")"
python3 -c 'import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if "\"summary\"" in l][0]
assert s["counts"]["copied"] == 0 and s["counts"]["failed"] == 0, s' "$T/plain.json" ||
	fail "the plain re-run copied or failed something"
rc=0
migrate --only-failed > "$T/again.out" 2>&1 || rc=$?
assert_eq "$rc" 0 "--only-failed with nothing failed"
assert_eq "$(grep -c ': skipped: nothing recorded as failed' "$T/again.out")" 3 "all skipped"
assert_eq "$(saves)" "$src_total" "stores after the re-runs"
echo "PASS"
