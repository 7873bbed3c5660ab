#!/bin/sh
# SPDX-License-Identifier: MIT
# EWS throttling through the real CLI, against the fake EWS server: the
# server answers ErrorServerBusy (as a SOAP fault and inside a 200 reply,
# with BackOffMilliseconds) and HTTP 503 with Retry-After on chosen
# requests; the plugin hands each to the core with the server's delay, the
# core waits and reopens, and one run still copies the whole mailbox.
. "$(dirname "$0")/lib.sh"

[ -f "$top_builddir/plugins/ews/ews.la" ] || { echo "SKIP: ews plugin not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl missing"; exit 77; }
FAKE="$top_srcdir/tests/fake/ews/fake_ews.py"
FIX="$top_srcdir/tests/fake/ews/fixture"
MAIL="$FIX/mail"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"

fake_pid=""
stop_fake() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
		fake_pid=""
	fi
}
mf_on_exit stop_fake
# start_fake [fake_ews.py options...]: fresh server, fresh request log.
start_fake() {
	stop_fake
	rm -f "$T/port" "$T/requests.jsonl"
	python3 "$FAKE" --fixture "$FIX/mailbox.json" --port-file "$T/port" \
		--cert "$T/cert.pem" --key "$T/key.pem" --log "$T/requests.jsonl" \
		--user 'svc@example.com:S3cret!' --user 'alice@example.com:alice-pw' \
		--impersonator svc@example.com --time-limit 120 "$@" 2>>"$T/fake.err" &
	fake_pid=$!
	i=0
	while [ ! -s "$T/port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "fake EWS server did not start: $(cat "$T/fake.err")"
		sleep 0.1
	done
	URI="ews://svc%40example.com@127.0.0.1:$(cat "$T/port")/EWS/Exchange.asmx"
}

# run NAME TARGET [mailferry options...]: one migration, --json to NAME.json,
# log to NAME.err; the exit status is kept in $rc.
run() {
	name=$1 target=$2
	shift 2
	rc=0
	MAILFERRY_SOURCE_PASSWORD=${PW-'S3cret!'} mf migrate "$URI" "$target" \
		--ca-file "$T/cert.pem" --json "$@" > "$T/$name.json" 2> "$T/$name.err" || rc=$?
}
counts() { # "copied failed" of a --json run
	grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'
}
requests() { grep -c "$1" "$T/requests.jsonl" || true; }
digests() { for f in "$@"; do sha256sum "$MAIL/$f.eml" | cut -d' ' -f1; done | sort; }
ALICE="a1-welcome a2-unread a3-replied a12-forwarded a6-project a7-q1 a8-sent a9-draft a10-junk"

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
