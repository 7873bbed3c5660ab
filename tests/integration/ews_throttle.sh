#!/bin/sh
# SPDX-License-Identifier: MIT
# EWS throttling through the real CLI, against the fake EWS server: the
# server answers ErrorServerBusy (as a SOAP fault and inside a 200 reply,
# with BackOffMilliseconds) and HTTP 503 with Retry-After on chosen
# requests; the plugin hands each to the core with the server's delay, the
# core waits and reopens, and one run still copies the whole mailbox.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ews_lib.sh"

# Requests 4 and 9 are answered busy, 13 with 503 + Retry-After: 1; the
# core waits as told and reopens; one run still gets everything.
start_fake --busy-on 4 --busy-ms 400 --busy-msg-on 9 --unavailable-on 13 --retry-after 1
OUT2="$T/out-busy"
run run4 "maildir:$OUT2" --state "$T/st-busy.db" --impersonate alice@example.com
assert_eq "$rc" 1 "throttled run exit status ($(cat "$T/run4.err"))"
assert_eq "$(counts "$T/run4.json")" "9 1" "throttled run copied/failed"
assert_eq "$(requests '"injected": "busy-fault"')" 1 "busy fault injected"
assert_eq "$(requests '"injected": "busy-message"')" 1 "busy message injected"
assert_eq "$(requests '"injected": "503"')" 1 "503 injected"
assert_eq "$(maildir_digests "$OUT2")" "$(digests $ALICE)" "contents after throttling"
grep -q 'ErrorServerBusy.*retrying in 400 ms' "$T/run4.err" \
	|| fail "BackOffMilliseconds not honoured: $(grep retrying "$T/run4.err")"
grep -q 'HTTP 503.*retrying in 1000 ms' "$T/run4.err" \
	|| fail "Retry-After not honoured: $(grep retrying "$T/run4.err")"

echo "ok: ews_throttle"
