#!/bin/sh
# SPDX-License-Identifier: MIT
# EWS with auth=bearer and no token file: the bearer comes from the
# core's OAuth service (client credentials against a token stub that
# issues one known token), with the scope of the EWS server and the
# impersonated mailbox as subject; the fake EWS accepts only that token.
# A 401 mid-session (what an expired token gets): the session asks the
# service once more and re-sends the request.  Then a token endpoint
# that refuses: exit 3 with its words.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ews_lib.sh"

# A token endpoint answering every grant with the same token, and
# logging what it was asked (scope, grant), so the test knows the token.
cat > "$T/stub.py" <<'EOF'
import http.server, json, ssl, sys, threading, time, urllib.parse
portfile, cert, key, log, refuse = sys.argv[1:6]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        with open(log, "a") as f:
            f.write(json.dumps({k: v[0] for k, v in form.items() if k != "client_secret"}) + "\n")
        if refuse == "1":
            body, code = {"error": "unauthorized_client", "error_description":
                          "AADSTS700016: Application with identifier 'app1' was not found."}, 400
        else:
            body, code = {"token_type": "Bearer", "expires_in": 3599,
                          "access_token": "ews-stub-token-0123456789"}, 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(portfile, "w").write(str(srv.server_address[1]))
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
EOF
start_stub() { # start_stub REFUSE
	rm -f "$T/stub.port"
	python3 "$T/stub.py" "$T/stub.port" "$T/cert.pem" "$T/key.pem" "$T/stub.log" "$1" &
	mf_on_exit "kill $! 2>/dev/null || true"
	wait_port_file "$T/stub.port" "token stub"
	TOKEN_URL="https://127.0.0.1:$(cat "$T/stub.port")/tenant1/oauth2/v2.0/token"
}
printf 'app1-secret\n' > "$T/app1.secret"

start_fake --token 'ews-stub-token-0123456789:svc@example.com'
start_stub 0
URI="ews://svc%40example.com@127.0.0.1:$(cat "$T/port")/EWS/Exchange.asmx?auth=bearer"
rc=0
mf migrate "$URI" "maildir:$T/out" --impersonate alice@example.com --ca-file "$T/cert.pem" \
	--state "$T/st.db" --oauth-token-url "$TOKEN_URL" --oauth-client-id app1 \
	--oauth-client-secret-file "$T/app1.secret" --json > "$T/a.json" 2> "$T/a.err" || rc=$?
assert_eq "$rc" 1 "exit status with the bearer from the service ($(tail -3 "$T/a.err"))"
assert_eq "$(counts "$T/a.json")" "9 1" "copied/failed"
assert_eq "$(maildir_digests "$T/out")" "$(digests $ALICE)" "message contents"
grep -q '"scope": "https://127.0.0.1/.default"' "$T/stub.log" ||
	fail "scope asked: $(cat "$T/stub.log")"
grep -q '"grant_type": "client_credentials"' "$T/stub.log" || fail "grant: $(cat "$T/stub.log")"
if grep -q -F 'ews-stub-token' "$T/a.json" "$T/a.err" "$T/st.db"; then
	fail "the access token appears in an output or the state"
fi

# A 401 on the 4th request, after the token worked: renewed (refresh) and
# re-sent inside the session; --retries 0, so no reconnect by the core
# can be what saves the run.
start_fake --token 'ews-stub-token-0123456789:svc@example.com' --unauthorized-on 4
URI="ews://svc%40example.com@127.0.0.1:$(cat "$T/port")/EWS/Exchange.asmx?auth=oauth"
rc=0
mf migrate "$URI" "maildir:$T/out3" --impersonate alice@example.com --ca-file "$T/cert.pem" \
	--state "$T/st3.db" --oauth-token-url "$TOKEN_URL" --oauth-client-id app1 \
	--oauth-client-secret-file "$T/app1.secret" --retries 0 -v --json \
	> "$T/c.json" 2> "$T/c.err" || rc=$?
assert_eq "$rc" 1 "exit status with a 401 mid-session ($(tail -3 "$T/c.err"))"
assert_eq "$(counts "$T/c.json")" "9 1" "copied/failed through a 401"
assert_eq "$(requests '"injected": "401"')" 1 "injected 401s"
grep -q 'HTTP 401: asking the OAuth service for a new token' "$T/c.err" ||
	fail "no renewal after the 401: $(tail -5 "$T/c.err")"
if grep -q -F 'ews-stub-token' "$T/c.json" "$T/c.err" "$T/st3.db"; then
	fail "the access token appears in an output or the state (401 case)"
fi

# A token endpoint that refuses: the mailbox fails with its words.
start_stub 1
rc=0
mf migrate "$URI" "maildir:$T/out2" --impersonate alice@example.com --ca-file "$T/cert.pem" \
	--state "$T/st2.db" --oauth-token-url "$TOKEN_URL" --oauth-client-id app1 \
	--oauth-client-secret-file "$T/app1.secret" > "$T/b.out" 2> "$T/b.err" || rc=$?
assert_eq "$rc" 3 "exit status when the token endpoint refuses"
grep -q 'unauthorized_client: AADSTS700016' "$T/b.err" || fail "endpoint words missing: $(cat "$T/b.err")"
echo "ews: bearer from the core's OAuth service, 9 copied; a 401 mid-session renewed in place; refusal named"
