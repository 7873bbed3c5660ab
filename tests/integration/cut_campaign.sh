#!/bin/sh
# SPDX-License-Identifier: MIT
# Link-cut campaign (issue 17): two mailboxes (two folders each, one
# non-ASCII; flags, keywords, dates, some 100-300 KB, some without a
# Message-ID) go from one Dovecot to another through
# tests/fake/imap_proxy.py on both sides.  The proxies cut most
# connections (CUT_PROB, every one unless the draw spares it) at a random
# byte offset drawn from the seed, TLS handshake and login included.
# mailferry is re-run until it exits 0 (at most MAX_RUNS runs); then the
# target must equal the source exactly: 0 lost, 0 duplicated.  Prints the
# runs it took and the cuts made.  The seed ($MAILFERRY_SEED, else
# random) is printed first; it fixes the mailboxes and the cut points.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
. "$top_srcdir/tests/integration/campaign_lib.sh"
campaign_seed
wall0=$(date +%s)
MAX_RUNS=${MAILFERRY_MAX_RUNS:-40}
CUT_PROB=${MAILFERRY_CUT_PROB:-0.9}
N=70 # messages per mailbox

for i in 1 2; do
	dovecot_user src "u$i@old.example" "pw-$i"
	dovecot_user dst "u$i@new.example" "new-$i"
done
dovecot_start src
dovecot_start dst
trap 'st=$?; [ $st = 0 ] || dovecot_dump_logs src dst; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT
campaign_py seed "$(dovecot_var src imap)" u1@old.example pw-1 "$SEED" $N INBOX "Entwürfe" ||
	fail "seeding u1"
campaign_py seed "$(dovecot_var src imap)" u2@old.example pw-2 "$((SEED + 1))" $N INBOX \
	"Проекты/2024" || fail "seeding u2"
for i in 1 2; do
	campaign_py imap "$(dovecot_var src imap)" "u$i@old.example" "pw-$i" >"$T/src-$i.txt"
done
total=$(cat "$T"/src-?.txt | wc -l)
assert_eq "$total" $((2 * N)) "messages seeded"

proxy() { # name target-port seed
	rm -f "$T/$1.port"
	python3 "$top_srcdir/tests/fake/imap_proxy.py" "$T/$1.port" "$2" \
		--cut-prob "$CUT_PROB" --cut-seed "$3" --cut-min 200 --cut-max 500000 \
		--cut-log "$T/$1.cuts" --time-limit "$MF_TEST_TIMEOUT" &
	mf_on_exit "kill $! 2>/dev/null || true"
	wait_port_file "$T/$1.port" "proxy $1"
}
: >"$T/psrc.cuts"
: >"$T/pdst.cuts"
proxy psrc "$(dovecot_var src imaps)" "$SEED"
proxy pdst "$(dovecot_var dst imaps)" "$((SEED + 7))"

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" >"$T/ca.pem"
{
	echo "source_user,source_password,target_user,target_password"
	for i in 1 2; do echo "u$i@old.example,pw-$i,u$i@new.example,new-$i"; done
} >"$T/accounts.csv"
SRC_T="imaps://{source_user}@127.0.0.1:$(cat "$T/psrc.port")"
DST_T="alimail://{target_user}@127.0.0.1:$(cat "$T/pdst.port")"

t0=$(date +%s)
runs=0 done=0 crashes=0
while [ $runs -lt "$MAX_RUNS" ]; do
	runs=$((runs + 1))
	rc=0
	mf migrate --accounts "$T/accounts.csv" --jobs 2 --streams 2 --retries 2 --timeout 10 \
		--ca-file "$T/ca.pem" --state "$T/state.db" -q "$SRC_T" "$DST_T" \
		>"$T/out.$runs" 2>&1 || rc=$?
	[ $rc -lt 128 ] || { crashes=$((crashes + 1)); cat "$T/out.$runs" >&2; }
	[ $rc = 0 ] && { done=1; break; }
done
t1=$(date +%s)
# A sanitizer's report (a build with --enable-sanitizers) is a crash too.
san=$(cat "$T"/out.* | grep -c "$SANITIZER_RE" || true)
[ "$san" = 0 ] || { grep -h -A5 "$SANITIZER_RE" "$T"/out.* >&2; crashes=$((crashes + san)); }
src_cuts=$(wc -l <"$T/psrc.cuts")
dst_cuts=$(wc -l <"$T/pdst.cuts")
lost=0 dup=0
for i in 1 2; do
	campaign_py imap "$(dovecot_var dst imap)" "u$i@new.example" "new-$i" >"$T/dst-$i.txt"
	set -- $(campaign_compare "$T/src-$i.txt" "$T/dst-$i.txt" "u$i")
	lost=$((lost + $1)) dup=$((dup + $2))
done
echo "cut campaign (seed $SEED): runs $runs, cuts $((src_cuts + dst_cuts)) (source $src_cuts, sink $dst_cuts), messages $total, lost $lost, duplicated $dup, crashes $crashes, $((t1 - t0)) s of runs, $(($(date +%s) - wall0)) s in all"
[ $crashes = 0 ] || fail "a run crashed (seed $SEED)"
[ $done = 1 ] || { tail -n 5 "$T/out.$runs" >&2; fail "no clean run in $MAX_RUNS (seed $SEED)"; }
[ $((src_cuts)) -gt 0 ] && [ $((dst_cuts)) -gt 0 ] || fail "a side was never cut"
[ $lost = 0 ] && [ $dup = 0 ] || fail "messages lost or duplicated (seed $SEED)"
# Each error names the one session it happened on.
grep -h "imap: .*alimail: \|alimail: .*imap: " "$T"/out.* >&2 && fail "an error names both sessions"
# A further run through the cutting proxies may fail again; the state
# says done, and a run without cuts copies nothing.
mf migrate --accounts "$T/accounts.csv" --jobs 2 --ca-file "$T/ca.pem" --state "$T/state.db" \
	--json -q "imaps://{source_user}@127.0.0.1:$(dovecot_var src imaps)" \
	"alimail://{target_user}@127.0.0.1:$(dovecot_var dst imaps)" >"$T/again.json" 2>&1 ||
	fail "the run without cuts failed: $(tail -n 3 "$T/again.json")"
assert_eq "$(campaign_counts "$T/again.json")" "0 0" "a further run copies"
echo ok
