#!/bin/sh
# SPDX-License-Identifier: MIT
# Several streams per mailbox (issue 15): --streams 4 spreads a mailbox's
# folders over four source and four sink connections, and cuts a big
# folder by uid into parts that they copy at once.  Killed with -9 at
# random moments of multi-stream runs and re-run until done, the target
# must equal the source exactly (nothing lost, nothing doubled, flags and
# dates kept); a further run copies nothing.  --connections-per-host
# bounds the streams.  The random seed is printed so a failure replays
# (MF_STREAMS_SEED=N).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

seed=${MF_STREAMS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "seed $seed"
dovecot_user src alice secret-a
dovecot_user dst bob secret-b
dovecot_user dst carol secret-c
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT

SRC_DIR=$(dovecot_var src dir)
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$SRC_DIR/mail/alice" --messages 240 --seed 5 --big-fraction 0.05 \
	--folders "INBOX,Sent,Archive,Projects,Projects/2026,Clients" > /dev/null
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
echo secret-a > "$T/pw-a"
echo secret-b > "$T/pw-b"
echo secret-c > "$T/pw-c"
SRC="imap://alice@127.0.0.1:$(dovecot_var src imap)/?tls=none"
DST="imap://bob@127.0.0.1:$(dovecot_var dst imap)/?tls=none"
count_dst() { dovecot_adm dst search -u bob mailbox '*' all 2>/dev/null | wc -l; }

# --- kill -9 campaign --------------------------------------------------
# Both servers are 127.0.0.1: 4 streams take 8 slots of that host.
kill_campaign "$seed" count_dst \
	"$MAILFERRY" migrate "$SRC" "$DST" --state "$T/state.db" --streams 4 -v \
	--connections-per-host 16 \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" \
	--max-messages-per-second 60
grep -q ": 4 streams" "$T"/run.* || fail "no run used 4 streams: $(cat "$T/run.1")"
[ "$kills" -gt 0 ] || fail "no run was killed mid-way"
mf migrate "$SRC" "$DST" --state "$T/state.db" --streams 4 --json --connections-per-host 16 \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" > "$T/final.json" ||
	fail "final run failed: $(tail -5 "$T/final.json")"
imap_describe src alice secret-a > "$T/src.txt"
imap_describe dst bob secret-b > "$T/dst.txt"
assert_eq "$(wc -l < "$T/src.txt")" 240 "source messages"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs after $kills kills: lost or doubled messages"
# The biggest folder (INBOX, over its fair share of 60) was cut by uid
# for the streams (ABI 1.7 split()), so the kills hit split folders too.
cat "$T"/run.* | grep -q "INBOX: [0-9]* parts for the streams" ||
	fail "no folder was split for the streams: $(grep -h 'parts\|streams' "$T"/run.* | head -5)"
mf migrate "$SRC" "$DST" --state "$T/state.db" --streams 4 --json --connections-per-host 16 \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" > "$T/again.json" ||
	fail "re-run failed"
grep -q '"event":"summary".*"copied":0,' "$T/again.json" || fail "re-run copied again: $(grep summary "$T/again.json")"

# --- the connection cap bounds the streams ----------------------------
# Source and sink are both 127.0.0.1 here: 4 slots are two streams.
mf migrate "$SRC" "imap://carol@127.0.0.1:$(dovecot_var dst imap)/?tls=none" \
	--state "$T/state-c.db" --streams 8 --connections-per-host 4 -v \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-c" > "$T/capped.log" 2>&1 ||
	fail "capped run failed: $(tail -5 "$T/capped.log")"
grep -q ": 2 streams" "$T/capped.log" || fail "--connections-per-host 4 did not give 2 streams: $(grep streams "$T/capped.log")"
imap_describe dst carol secret-c > "$T/carol.txt"
diff "$T/src.txt" "$T/carol.txt" >&2 || fail "capped run: target differs"
echo "ok: 240 messages in 6 folders exact after $kills kill -9 of 4-stream runs (seed $seed)"
