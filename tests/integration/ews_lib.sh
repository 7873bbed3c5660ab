# SPDX-License-Identifier: MIT
# Sourced (after lib.sh) by the EWS integration scripts that run the CLI
# against the fake EWS server (tests/fake/ews): skips when the plugin,
# python3 or openssl is missing, a throw-away certificate for 127.0.0.1,
# start_fake/stop_fake, the run wrapper and small helpers over its --json
# output, the server's request log and the fixture's .eml files.

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
	wait_port_file "$T/port" "fake EWS server" "$T/fake.err"
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
