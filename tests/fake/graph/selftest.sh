#!/bin/sh
# SPDX-License-Identifier: MIT
# Self-test of fake_graph.py with curl and openssl: tokens (secret, signed
# JWT assertion, wrong secret, refresh rotation, Google service account),
# folder paging, delta + deltaLink after /_control/add and /_control/delete,
# $value bytes, $batch, introspection, throttling, token expiry.
# Bounded: every curl has --max-time, the servers have --time-limit 600
# (generous: under a loaded CI machine the whole script can take minutes;
# 240 s once ran out half way, a connection refused).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
FAKE="$HERE/fake_graph.py"
W=$(mktemp -d "${TMPDIR:-/tmp}/fake-graph-selftest.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

fail() { echo "selftest: FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# JSON field extraction: a dotted path into the document on stdin.
jget() { # dotted path; keys with dots (@odata.nextLink) are matched whole
    python3 -c '
import json, sys
v, parts = json.load(sys.stdin), sys.argv[1].split(".")
while parts and v is not None:
    if isinstance(v, list):
        v = v[int(parts.pop(0))] if int(parts[0]) < len(v) else None
        continue
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in v:
            v = v[".".join(parts[:n])]
            del parts[:n]
            break
    else:
        v = None
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# --- certificates: TLS for 127.0.0.1, and the app's signing certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$W/tls.key" -out "$W/tls.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mailferry-app \
    -keyout "$W/app.key" -out "$W/app.pem" 2>/dev/null

# --- fixture: alice has two small messages and one of 3 MB
A=alice@contoso.example
mkdir -p "$W/fx/$A/Inbox/Projects" "$W/fx/$A/Sent Items" "$W/fx/$A/Hidden"
echo '{"isHidden": true}' > "$W/fx/$A/Hidden/.folder.json"
printf 'From: bob@example.net\r\nTo: %s\r\nSubject: hello\r\nDate: Tue, 04 Mar 2025 05:06:07 +0000\r\nMessage-ID: <m1@example.net>\r\n\r\nHi Alice\r\n' "$A" > "$W/fx/$A/Inbox/m1.eml"
echo '{"isRead": true, "flagStatus": "flagged"}' > "$W/fx/$A/Inbox/m1.eml.json"
printf 'From: carol@example.net\r\nSubject: second\r\nDate: Wed, 05 Mar 2025 05:06:07 +0000\r\nMessage-ID: <m3@example.net>\r\n\r\nAgain\r\n' > "$W/fx/$A/Inbox/m3.eml"
touch -d '2025-03-05 00:00:00' "$W/fx/$A/Inbox/m3.eml" 2>/dev/null || true
printf 'From: bob@example.net\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <m2@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nd\303\251j\303\240 vu\r\n' > "$W/fx/$A/Inbox/Projects/m2.eml"
{ printf 'From: bob@example.net\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\n\r\n'
  awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%01000d\r\n", i }'; } > "$W/fx/$A/Sent Items/big.eml"

start() { # NAME ARGS... ; sets PORT
    name=$1; shift
    python3 "$FAKE" --fixture "$W/fx" --generate bob@contoso.example:40:3 \
        --port-file "$W/$name.port" --cert "$W/tls.pem" --key "$W/tls.key" \
        --log "$W/$name.jsonl" --time-limit 600 --tenant contoso \
        --app app1:s3cret --app-cert app2:"$W/app.pem" \
        --refresh-token rt1:app1:$A \
        --service-account sa@proj.iam.gserviceaccount.com:"$W/app.pem" "$@" &
    PIDS="$PIDS $!"
    n=0
    while [ ! -s "$W/$name.port" ]; do
        n=$((n + 1)); [ $n -lt 100 ] || fail "$name did not start"; sleep 0.1
    done
    PORT=$(cat "$W/$name.port")
}

C="curl -sS --max-time 20 --cacert $W/tls.pem"
start main
B="https://127.0.0.1:$PORT"

token_secret() { # BASE -> access token
    $C "$1/contoso/oauth2/v2.0/token" -d grant_type=client_credentials \
        -d client_id=app1 -d client_secret=s3cret \
        --data-urlencode scope=https://graph.microsoft.com/.default | jget access_token
}

# --- token by secret
R=$($C "$B/contoso/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app1 -d client_secret=s3cret \
    --data-urlencode scope=https://graph.microsoft.com/.default)
[ "$(echo "$R" | jget token_type)" = Bearer ] || fail "secret token: $R"
[ "$(echo "$R" | jget expires_in)" = 3599 ] || fail "expires_in: $R"
[ -n "$(echo "$R" | jget ext_expires_in)" ] || fail "ext_expires_in: $R"
TOK=$(echo "$R" | jget access_token)
ok "client_credentials with client_secret"

# --- wrong secret, unknown app, bad scope, unknown tenant
R=$($C -w '\n%{http_code}' "$B/contoso/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app1 -d client_secret=nope --data-urlencode scope=https://graph.microsoft.com/.default)
[ "$(echo "$R" | tail -n1)" = 401 ] || fail "wrong secret status: $R"
echo "$R" | head -n1 | jget error | grep -qx invalid_client || fail "wrong secret: $R"
echo "$R" | head -n1 | jget error_description | grep -q '^AADSTS7000215:' || fail "AADSTS7000215: $R"
echo "$R" | head -n1 | jget error_codes | grep -q 7000215 || fail "error_codes: $R"
ok "wrong secret -> 401 invalid_client AADSTS7000215"
$C "$B/contoso/oauth2/v2.0/token" -d grant_type=client_credentials -d client_id=nobody \
    -d client_secret=x -d scope=x/.default | jget error | grep -qx unauthorized_client \
    || fail "unknown app"
$C "$B/contoso/oauth2/v2.0/token" -d grant_type=client_credentials -d client_id=app1 \
    -d client_secret=s3cret -d scope=Mail.Read | jget error | grep -qx invalid_scope \
    || fail "invalid scope"
$C "$B/fabrikam/oauth2/v2.0/token" -d grant_type=client_credentials -d client_id=app1 \
    -d client_secret=s3cret -d scope=x/.default | jget error_description \
    | grep -q "AADSTS90002: Tenant 'fabrikam' not found" || fail "unknown tenant"
ok "unauthorized_client, invalid_scope, AADSTS90002"

# --- token by signed JWT client assertion
X5T=$(openssl x509 -in "$W/app.pem" -outform DER | openssl dgst -sha1 -binary | b64url)
NOW=$(date +%s)
AUD="$B/contoso/oauth2/v2.0/token"
H=$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$X5T" | b64url)
P=$(printf '{"aud":"%s","iss":"app2","sub":"app2","jti":"j-%s","nbf":%d,"exp":%d}' \
    "$AUD" "$NOW" "$NOW" $((NOW + 600)) | b64url)
S=$(printf '%s.%s' "$H" "$P" | openssl dgst -sha256 -sign "$W/app.key" -binary | b64url)
R=$($C "$AUD" -d grant_type=client_credentials -d client_id=app2 \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    -d client_assertion="$H.$P.$S" --data-urlencode scope=https://graph.microsoft.com/.default)
[ -n "$(echo "$R" | jget access_token)" ] || fail "assertion token: $R"
# a tampered signature is refused
R=$($C "$AUD" -d grant_type=client_credentials -d client_id=app2 \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    -d client_assertion="$H.$P.${S%????}AAAA" --data-urlencode scope=https://graph.microsoft.com/.default)
echo "$R" | jget error_description | grep -q '^AADSTS700027' || fail "bad signature: $R"
ok "client_credentials with JWT client assertion (x5t, RS256); tampered -> AADSTS700027"

# --- refresh token rotation
R=$($C "$B/contoso/oauth2/v2.0/token" -d grant_type=refresh_token -d client_id=app1 -d refresh_token=rt1)
RT2=$(echo "$R" | jget refresh_token)
DTOK=$(echo "$R" | jget access_token)
[ -n "$RT2" ] && [ "$RT2" != rt1 ] || fail "refresh: $R"
$C "$B/contoso/oauth2/v2.0/token" -d grant_type=refresh_token -d client_id=app1 -d refresh_token=rt1 \
    | jget error | grep -qx invalid_grant || fail "refresh token reuse"
ok "refresh_token grant rotates; reuse -> invalid_grant"

# --- Google service account
GAUD="$B/token"
H=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
P=$(printf '{"iss":"sa@proj.iam.gserviceaccount.com","sub":"%s","scope":"https://mail.google.com/","aud":"%s","iat":%d,"exp":%d}' \
    "$A" "$GAUD" "$NOW" $((NOW + 3600)) | b64url)
S=$(printf '%s.%s' "$H" "$P" | openssl dgst -sha256 -sign "$W/app.key" -binary | b64url)
R=$($C "$GAUD" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer -d assertion="$H.$P.$S")
GTOK=$(echo "$R" | jget access_token)
[ -n "$GTOK" ] || fail "google: $R"
$C "$GAUD" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer \
    -d assertion="$H.$P.${S%????}AAAA" | jget error_description | grep -qx 'Invalid JWT Signature.' \
    || fail "google bad signature"
ok "Google service-account JWT grant"

# --- introspection
R=$($C "$B/introspect" -d token="$GTOK")
[ "$(echo "$R" | jget active)" = True ] && [ "$(echo "$R" | jget username)" = $A ] || fail "introspect: $R"
[ "$(echo "$R" | jget email)" = $A ] || fail "introspect email: $R"
[ "$(echo "$R" | jget active)" = True ] || fail "introspect"
$C "$B/introspect" -d token=bogus | jget active | grep -qx False || fail "introspect bogus"
$C "$B/introspect?user=$A" -d token="$TOK" | jget username | grep -qx $A || fail "introspect app ?user"
ok "introspection (delegated/google subject, app + ?user=, unknown)"

gget() { $C -H "Authorization: Bearer $TOK" "$@"; }

# --- auth errors
R=$($C -w '\n%{http_code}' "$B/v1.0/users/$A/mailFolders")
[ "$(echo "$R" | tail -n1)" = 401 ] || fail "no token: $R"
R=$($C -H "Authorization: Bearer $DTOK" "$B/v1.0/users/bob@contoso.example/mailFolders")
[ "$(echo "$R" | jget error.code)" = ErrorAccessDenied ] || fail "delegated other mailbox: $R"
R=$(gget "$B/v1.0/users/nobody@contoso.example/mailFolders")
[ "$(echo "$R" | jget error.code)" = ErrorInvalidUser ] || fail "unknown user: $R"
ok "401 without token, 403 ErrorAccessDenied, 404 ErrorInvalidUser"

# --- folder paging (bob has > 10 top-level folders with hidden ones)
URL="$B/v1.0/users/bob@contoso.example/mailFolders?includeHiddenFolders=true&\$top=4"
N=0 PAGES=0
while [ -n "$URL" ]; do
    R=$(gget "$URL")
    N=$((N + $(echo "$R" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))')))
    PAGES=$((PAGES + 1))
    URL=$(echo "$R" | jget @odata.nextLink)
    [ "$URL" != None ] || URL=
    [ $PAGES -lt 20 ] || fail "paging does not end"
done
[ $N -eq 9 ] && [ $PAGES -eq 3 ] || fail "folder paging: $N folders in $PAGES pages"
NV=$(gget "$B/v1.0/users/bob@contoso.example/mailFolders?\$top=50" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))')
[ "$NV" -eq 8 ] || fail "hidden folder listed without includeHiddenFolders ($NV)"
gget "$B/v1.0/users/bob@contoso.example/mailFolders?\$top=50" | grep -q mailSearchFolder \
    || fail "search folder"
INBOX=$(gget "$B/v1.0/users/$A/mailFolders/inbox" | jget id)
R=$(gget "$B/v1.0/users/$A/mailFolders/$INBOX/childFolders")
[ "$(echo "$R" | jget value.0.displayName)" = Projects ] || fail "childFolders: $R"
[ "$(gget "$B/v1.0/users/$A/mailFolders/nope" | jget error.code)" = ErrorItemNotFound ] \
    || fail "missing folder"
ok "mailFolders paging (\$top, @odata.nextLink), hidden, search folder, childFolders"

# --- delta: full sync in pages, then deltaLink after add and delete
DURL="$B/v1.0/users/$A/mailFolders/inbox/messages/delta?\$select=subject,isRead"
gget -D "$W/h" -H 'Prefer: odata.maxpagesize=1' -o /dev/null "$DURL"
grep -qi '^Preference-Applied: odata.maxpagesize=1' "$W/h" || fail "Preference-Applied"
URL=$DURL PAGES=0 SEEN=""
while :; do
    R=$(gget -H 'Prefer: odata.maxpagesize=1' "$URL")
    SEEN="$SEEN $(echo "$R" | jget value.0.subject)"
    PAGES=$((PAGES + 1)); [ $PAGES -lt 10 ] || fail "delta does not end"
    DL=$(echo "$R" | jget @odata.deltaLink)
    [ "$DL" = None ] || break
    URL=$(echo "$R" | jget @odata.nextLink)
    echo "$URL" | grep -q '\$skiptoken=' || fail "nextLink: $R"
done
[ $PAGES -eq 2 ] && { [ "$SEEN" = " hello second" ] || [ "$SEEN" = " second hello" ]; } || fail "delta pages $PAGES:$SEEN"
echo "$DL" | grep -q '\$deltatoken=' || fail "deltaLink: $DL"
R=$($C "$B/_control/add" -H 'Content-Type: application/json' \
    -d '{"user":"'$A'","folder":"Inbox","name":"new1.eml","mime":"Subject: new one\r\nMessage-ID: <n1@x>\r\n\r\nbody\r\n"}')
NEWID=$(echo "$R" | jget id)
R=$(gget "$DL")
[ "$(echo "$R" | python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(len(v), v[0]["id"], v[0]["subject"])')" \
    = "1 $NEWID new one" ] || fail "deltaLink after add: $R"
DL=$(echo "$R" | jget @odata.deltaLink)
$C "$B/_control/delete" -H 'Content-Type: application/json' \
    -d '{"user":"'$A'","folder":"Inbox","name":"new1.eml"}' >/dev/null
R=$(gget "$DL")
[ "$(echo "$R" | jget value.0.@removed.reason)" = deleted ] || fail "deltaLink after delete: $R"
[ "$(gget "$B/v1.0/users/$A/messages/$NEWID/\$value" | jget error.code)" = ErrorItemNotFound ] \
    || fail "\$value of a deleted message"
FORGED=$(echo "$DL" | sed 's/\$deltatoken=./$deltatoken=X/')
[ "$(gget "$FORGED" | jget error.code)" = SyncStateInvalid ] || fail "forged deltatoken"
ok "delta pages, deltaLink returns exactly the added message, @removed, forged token"

# --- $value bytes equal the .eml (3 MB message), Content-Type text/plain
SENT=$(gget "$B/v1.0/users/$A/mailFolders/sentitems/messages/delta" | jget value.0.id)
gget -D "$W/h" -o "$W/big.out" "$B/v1.0/users/$A/messages/$SENT/\$value"
grep -qi '^Content-Type: text/plain' "$W/h" || fail "\$value content type"
[ "$(openssl dgst -sha256 -r < "$W/big.out" | cut -d' ' -f1)" = \
  "$(openssl dgst -sha256 -r < "$W/fx/$A/Sent Items/big.eml" | cut -d' ' -f1)" ] \
    || fail "\$value bytes differ"
ok "\$value bytes equal the .eml (sha256, $(wc -c < "$W/big.out") bytes)"

# --- $batch
BODY=$(printf '{"requests":[{"id":"1","method":"GET","url":"/users/%s/mailFolders/inbox"},{"id":"2","method":"GET","url":"/users/%s/messages/%s/$value"},{"id":"3","method":"GET","url":"/users/%s/mailFolders/nope"}]}' "$A" "$A" "$SENT" "$A")
R=$(gget -H 'Content-Type: application/json' -d "$BODY" "$B/v1.0/\$batch")
[ "$(echo "$R" | jget responses.0.status)" = 200 ] || fail "batch 1: $R"
[ "$(echo "$R" | jget responses.0.body.displayName)" = Inbox ] || fail "batch 1 body"
[ "$(echo "$R" | jget responses.2.status)" = 404 ] || fail "batch 3"
echo "$R" | jget responses.1.body | openssl base64 -d -A | cmp -s - "$W/fx/$A/Sent Items/big.eml" \
    || fail "batch \$value body"
BIG=$(python3 -c 'import json; print(json.dumps({"requests":[{"id":str(i),"method":"GET","url":"/users/x/mailFolders"} for i in range(21)]}))')
[ "$(gget -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$BIG" "$B/v1.0/\$batch")" = 400 ] \
    || fail "batch > 20"
ok "\$batch (JSON, base64 \$value, 404 item, > 20 -> 400)"

R=$($C "$B/_control/stats")
[ "$(echo "$R" | jget batch)" = 2 ] || [ "$(echo "$R" | jget batch)" = 1 ] || fail "stats: $R"
[ "$(echo "$R" | jget token.client_credentials)" -ge 1 ] || fail "stats token: $R"
ok "stats: $R"

# --- throttling and expiry on a second server
# Lifetime 6 s: three requests must fit in it on a loaded CI machine.
start throttle --throttle-every 3 --token-lifetime 6
B2="https://127.0.0.1:$PORT"
T2=$(token_secret "$B2")
CODES=""
for i in 1 2 3; do
    CODES="$CODES $($C -D "$W/h$i" -o "$W/b$i" -w '%{http_code}' -H "Authorization: Bearer $T2" \
        "$B2/v1.0/users/$A/mailFolders/inbox")"
done
[ "$CODES" = " 200 200 429" ] || fail "throttle codes:$CODES"
grep -qi '^Retry-After: 1' "$W/h3" || fail "Retry-After"
[ "$(jget error.code < "$W/b3")" = ApplicationThrottled ] || fail "429 body"
ok "429 ApplicationThrottled with Retry-After every 3rd request"
sleep 7
R=$($C -D "$W/h" -w '\n%{http_code}' -H "Authorization: Bearer $T2" "$B2/v1.0/users/$A/mailFolders/inbox")
[ "$(echo "$R" | tail -n1)" = 401 ] || fail "expired: $R"
echo "$R" | head -n1 | jget error.message | grep -q 'Lifetime validation failed, the token is expired.' \
    || fail "expired message: $R"
grep -qi '^WWW-Authenticate: Bearer' "$W/h" || fail "WWW-Authenticate"
$C "$B2/introspect" -d token="$T2" | jget active | grep -qx False || fail "introspect expired"
ok "expired token -> 401 InvalidAuthenticationToken (after --token-lifetime 6)"

# --- per-mailbox concurrency (> 4 in flight -> 429) and a restarted server
start conc --latency-ms 1500
B3="https://127.0.0.1:$PORT"
T3=$(token_secret "$B3")
for i in 1 2 3 4 5 6; do
    $C -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $T3" \
        "$B3/v1.0/users/$A/mailFolders/inbox" > "$W/c$i" &
done
wait_n=0
while [ "$(cat "$W"/c[1-6] 2>/dev/null | wc -l)" -lt 6 ]; do
    wait_n=$((wait_n + 1)); [ $wait_n -lt 100 ] || fail "parallel requests hang"; sleep 0.1
done
[ "$(cat "$W"/c[1-6] | grep -c 429)" -eq 2 ] || fail "concurrency: $(cat "$W"/c[1-6] | tr '\n' ' ')"
[ "$($C -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T3" "$B3/v1.0/users/$A/mailFolders/inbox")" = 200 ] \
    || fail "slots not released"
ok "more than 4 requests in flight for one mailbox -> 429"
R=$($C -H "Authorization: Bearer $T3" "$(echo "$DL" | sed "s|$B|$B3|")")
[ "$(echo "$R" | jget @odata.deltaLink)" != None ] || fail "restarted server refused deltaLink: $R"
ok "a restarted server accepts an earlier deltaLink"
grep -q '"token_kind": "app"' "$W/main.jsonl" || fail "request log"
ok "request log"

echo "selftest: all passed"
