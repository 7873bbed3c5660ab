#!/bin/sh
# SPDX-License-Identifier: MIT
# POP3 resume against Dovecot: a migration killed with SIGKILL mid-way is
# run again; every message arrives exactly once (SHA-256 of each delivered
# file against each source message: no duplicate, no loss), the second run
# downloads only what was missing (UIDL ids + since->have()), and the
# server's mailbox is unchanged.  PIPELINING is on in Dovecot, so the kill
# lands with RETRs in flight.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3_dovecot.sh"

N=240
# N CRLF messages straight into alice's Maildir (one python3, not a dozen
# processes a message), and the SHA-256 of each.
md=$(dc_maildir alice)
python3 - "$md" "$N" > "$T/want.unsorted" <<'PY'
import hashlib, sys
md, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    data = ("Subject: message %d\r\nMessage-ID: <%d@mftest>\r\n\r\nbody of %d\r\n"
            ".starts with a dot %d\r\n" % (i, i, i, i)).encode()
    with open("%s/new/%d.M%dP1.mftest" % (md, 1700000000 + i, i), "wb") as f:
        f.write(data)
    print(hashlib.sha256(data).hexdigest())
PY
$dc_chown "$md"
sort "$T/want.unsorted" > "$T/want"
dc_start
dc_state alice > "$T/before"
export MAILFERRY_SOURCE_PASSWORD=secret
URI="pop3s://alice@127.0.0.1:$DC_POP3S_PORT"

# First run, slowed down so that it is surely killed mid-way.
"$MAILFERRY" migrate "$URI" "maildir:$T/out" --state "$T/state.db" --ca-file "$DC_CERT" \
	--max-messages-per-second 40 > "$T/run1.log" 2>&1 &
pid=$!
i=0
while [ "$(maildir_count "$T/out")" -lt 30 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid
wait $pid 2>/dev/null || true
got1=$(maildir_count "$T/out")
[ "$got1" -gt 0 ] && [ "$got1" -lt $N ] || fail "kill did not land mid-way ($got1 of $N copied)"

# Second run: completes, downloads only what was missing.
mf migrate "$URI" "maildir:$T/out" --state "$T/state.db" --ca-file "$DC_CERT" > "$T/run2.log" 2>&1 ||
	{ cat "$T/run2.log"; fail "second run failed"; }
todo=$(sed -n 's/.*INBOX: \([0-9]*\) of '$N' messages to download.*/\1/p' "$T/run2.log")
[ -n "$todo" ] && [ "$todo" -le $((N - got1 + 1)) ] ||
	fail "second run downloaded $todo messages, $got1 of $N were already there"
assert_eq "$(maildir_count "$T/out")" $N "messages after resume"
maildir_digests "$T/out" > "$T/got"
diff "$T/want" "$T/got" > /dev/null || fail "delivered messages differ from the server's (loss or duplicates)"

# A third run has nothing to do.
mf migrate "$URI" "maildir:$T/out" --state "$T/state.db" --ca-file "$DC_CERT" > "$T/run3.log" 2>&1 || fail "third run"
grep -q "INBOX: 0 of $N messages to download" "$T/run3.log" || fail "third run downloaded again"
assert_eq "$(maildir_count "$T/out")" $N "messages after the third run"

dc_state alice > "$T/after"
diff "$T/before" "$T/after" > /dev/null || fail "the server mailbox changed"
exit 0
