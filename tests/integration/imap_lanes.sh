#!/bin/sh
# SPDX-License-Identifier: MIT
# Sink lanes (issue 15): into a target without LITERAL+ every APPEND waits
# for "+", so each stream stores through --append-lanes sink sessions
# (default 4; plugin ABI 1.8 appends_wait).  Killed with -9 at random
# moments and re-run until done, the target must equal the source exactly
# (nothing lost or doubled, flags and dates kept) and a further run copies
# nothing.  --connections-per-account bounds streams and lanes together;
# a target with LITERAL+ gets no lanes.  The seed is printed so a failure
# replays (MF_LANES_SEED=N).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"

seed=${MF_LANES_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "seed $seed"
dovecot_user src alice secret-a
dovecot_user dst bob secret-b
dovecot_user dst carol secret-c
dovecot_user plus dave secret-d
dovecot_start src
DOVECOT_EXTRA_CONF="protocol imap {
  mail_max_userip_connections = 20
  imap_capability = $DOVECOT_NO_LITERAL_PLUS
}" dovecot_start dst
dovecot_start plus
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; [ -n "${MF_KEEP_TEMP:-}" ] || rm -rf "$T"; exit $st' EXIT

SRC_DIR=$(dovecot_var src dir)
python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$SRC_DIR/mail/alice" --messages 200 --seed 9 --big-fraction 0.05 \
	--folders "INBOX,Sent,Archive,Projects" > /dev/null
chown -R nobody "$SRC_DIR/mail" 2>/dev/null || true
for u in a b c d; do echo "secret-$u" > "$T/pw-$u"; done
SRC="imap://alice@127.0.0.1:$(dovecot_var src imap)/?tls=none"
DST="imap://bob@127.0.0.1:$(dovecot_var dst imap)/?tls=none"
count_dst() { dovecot_adm dst search -u bob mailbox '*' all 2>/dev/null | wc -l; }
run() { # run LOG TARGET PASSWORD-FILE EXTRA...: one migrate into TARGET
	log=$1 dst=$2 pw=$3
	shift 3
	"$MAILFERRY" migrate "$SRC" "$dst" --state "$T/state-$(basename "$pw").db" -v \
		--connections-per-host 64 --source-password-file "$T/pw-a" \
		--sink-password-file "$pw" "$@" > "$log" 2>&1
}

# --- kill -9 campaign --------------------------------------------------
kill_campaign "$seed" count_dst \
	"$MAILFERRY" migrate "$SRC" "$DST" --state "$T/state-pw-b.db" -v --connections-per-host 64 \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-b" \
	--max-messages-per-second 60
grep -q "wait a round trip each: 4 sink sessions" "$T"/run.* ||
	fail "no stream stored through 4 sink sessions: $(grep -h 'sink sessions\|lane' "$T"/run.* | head -5)"
[ "$kills" -gt 0 ] || fail "no run was killed mid-way"
run "$T/final.log" "$DST" "$T/pw-b" || fail "final run failed: $(tail -5 "$T/final.log")"
imap_describe src alice secret-a > "$T/src.txt"
imap_describe dst bob secret-b > "$T/dst.txt"
assert_eq "$(wc -l < "$T/src.txt")" 200 "source messages"
diff "$T/src.txt" "$T/dst.txt" >&2 || fail "target differs after $kills kills: lost or doubled messages"
run "$T/again.log" "$DST" "$T/pw-b" --json || fail "re-run failed"
grep -q '"event":"summary".*"copied":0,' "$T/again.log" || fail "re-run copied again: $(grep summary "$T/again.log")"

# --- the account cap: 2 streams x 3 lanes within 6 ----------------------
CAROL="imap://carol@127.0.0.1:$(dovecot_var dst imap)/?tls=none"
run "$T/capped.log" "$CAROL" "$T/pw-c" --streams 2 --connections-per-account 6 ||
	fail "capped run failed: $(tail -5 "$T/capped.log")"
grep -q "wait a round trip each: 3 sink sessions" "$T/capped.log" ||
	fail "--connections-per-account 6 did not give 3 lanes a stream: $(grep 'sink sessions' "$T/capped.log")"
grep -q "4 sink sessions" "$T/capped.log" && fail "a stream passed the account cap"
imap_describe dst carol secret-c > "$T/carol.txt"
diff "$T/src.txt" "$T/carol.txt" >&2 || fail "capped run: target differs"

# --- a target with LITERAL+ streams its appends: no lanes -------------
run "$T/plus.log" "imap://dave@127.0.0.1:$(dovecot_var plus imap)/?tls=none" "$T/pw-d" ||
	fail "LITERAL+ run failed: $(tail -5 "$T/plus.log")"
grep -q "sink sessions" "$T/plus.log" && fail "lanes opened on a target with LITERAL+"
imap_describe plus dave secret-d > "$T/dave.txt"
diff "$T/src.txt" "$T/dave.txt" >&2 ||
	fail "LITERAL+ run: target differs; its log: $(grep -v 'CLEAR TEXT\|not a loadable' "$T/plus.log" | tail -40)"
echo "ok: 200 messages exact through sink lanes after $kills kill -9 (seed $seed)"
