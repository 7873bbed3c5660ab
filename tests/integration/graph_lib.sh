# SPDX-License-Identifier: MIT
# Sourced (after lib.sh) by the Microsoft Graph tests: the fake Graph and
# token service (tests/fake/graph/fake_graph.py) over HTTPS with a
# throw-away certificate, a fixture generator, and the run wrapper.  The
# app registration is app1 with a secret in a file; the tenant is tenant1.

[ -f "$top_builddir/plugins/graph/graph.la" ] || { echo "SKIP: graph plugin not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
FAKE="$top_srcdir/tests/fake/graph/fake_graph.py"
SECRET='app1-Secret~not-in-any-output'
printf '%s\n' "$SECRET" > "$T/app1.secret"
chmod 600 "$T/app1.secret"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"

# make_fixture DIR USER N: N messages (CRLF, distinct bodies, a 2 MB one)
# over nested folders with non-ASCII names, flags and dates in sidecars.
make_fixture() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, os, random, sys
root, user, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
folders = ["Inbox", "Inbox/Projects", "Inbox/Projects/2026", "Sent Items", "Archive",
           "Données/Été", "Drafts"]
rnd = random.Random(12)
for i in range(n):
    folder = folders[i % len(folders)]
    d = os.path.join(root, user, folder)
    os.makedirs(d, exist_ok=True)
    day = 1 + i % 28
    body = "Message %d of the Graph test, ünïcode body.\r\n" % i
    if i == 7:
        body += ("x" * 998 + "\r\n") * 2100  # about 2 MB: the temp-file path
    mime = ("From: Sender %d <s%d@old.example>\r\nTo: %s\r\nSubject: test %d\r\n"
            "Message-ID: <g%d@old.example>\r\nDate: Mon, %d Jun 2026 10:%02d:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s") % (i, i, user, i, i, day, i % 60, body)
    name = "m%04d.eml" % i
    with open(os.path.join(d, name), "wb") as f:
        f.write(mime.encode())
    side = {"isRead": rnd.random() < 0.6,
            "flagStatus": "flagged" if i % 9 == 0 else "complete" if i % 9 == 1 else "notFlagged",
            "isDraft": folder == "Drafts",
            "receivedDateTime": "2026-06-%02dT10:%02d:00Z" % (day, i % 60)}
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(side, f)
EOF
}

fake_pid=""
stop_fake() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
		fake_pid=""
	fi
}
mf_on_exit stop_fake
# start_fake [fake_graph.py options...]: a fresh server on a new port.
start_fake() {
	stop_fake
	rm -f "$T/port"
	python3 "$FAKE" --port-file "$T/port" --cert "$T/cert.pem" --key "$T/key.pem" \
		--app "app1:$SECRET" --tenant tenant1 --log "$T/requests.jsonl" \
		--time-limit "${MF_TEST_TIMEOUT:-300}" "$@" 2>>"$T/fake.err" &
	fake_pid=$!
	wait_port_file "$T/port" "fake Graph server" "$T/fake.err"
	PORT=$(cat "$T/port")
	BASE="https://127.0.0.1:$PORT"
}
stats() { curl -sf --cacert "$T/cert.pem" "$BASE/_control/stats"; }
stat_of() { # stat_of KEY [SUBKEY]: a number from /_control/stats
	stats | python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1:]: d = d.get(k, 0) if isinstance(d, dict) else 0
print(d if isinstance(d, int) else sum(d.values()) if isinstance(d, dict) else 0)' "$@"
}
control() { # control add|delete JSON
	curl -sf --cacert "$T/cert.pem" -X POST "$BASE/_control/$1" -d "$2" >/dev/null ||
		fail "fake control $1 failed"
}

# graph_run NAME USER TARGET [mailferry options...]: --json to NAME.json,
# log to NAME.err, exit status in $rc.
graph_run() {
	name=$1 user=$2 target=$3
	shift 3
	rc=0
	mf migrate "graph://tenant1/$user?base=$BASE&page-size=50${GRAPH_QUERY-}" "$target" --name "$user" \
		--ca-file "$T/cert.pem" --oauth-authority "$BASE" --oauth-client-id app1 \
		--oauth-client-secret-file "${SECRET_FILE:-$T/app1.secret}" \
		--json "$@" > "$T/$name.json" 2> "$T/$name.err" || rc=$?
}
counts() { # "copied failed" of a --json run
	grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'
}
show() { echo "---- $1"; tail -20 "$T/$1.err"; tail -3 "$T/$1.json"; echo "---- fake"; tail -5 "$T/fake.err"; }
