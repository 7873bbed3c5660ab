#!/bin/sh
# SPDX-License-Identifier: MIT
# "mailferry serve"'s JSON API over a migration in progress (issue 13):
# six mailboxes moved between two Dovecots at a throttled rate while the
# dashboard reads the same state file.  Authentication (401 without the
# token, bearer or login cookie + CSRF header for writes, no cross-site
# writes, read-only modes), live counts that rise, search, the mailbox
# detail, disable/enable with the effect "mailferry status" sees, the
# verify reports, and paging over 5,000 mailboxes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
. "$(dirname "$0")/serve_lib.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }

SERVE_BIG_USER=04 serve_setup_users 6 40
openssl rand -hex 24 > "$T/token"
chmod 600 "$T/token"
echo "not-the-token-but-long-enough" > "$T/wrong"
serve_start_migration 8
serve_start main --token-file "$T/token" --reports "$T/reports"

# First, while the throttled run surely goes on (a loaded machine makes
# the later sections slow).
echo "== live counts while the run goes on"
s1=$(api GET /api/summary --token-file "$T/token")
c1=$(echo "$s1" | json_get 'd["messages"]["copied"]')
r1=$(echo "$s1" | json_get 'd["mailboxes"]["running"]')
assert_eq "$(echo "$s1" | json_get 'd["mailboxes"]["total"]')" 6 "mailboxes declared"
[ "$r1" -ge 1 ] || { echo "$s1"; cat "$T/migrate.err"; mf status --state "$T/state.db"
	fail "no mailbox running in the first summary"; }
sleep 2.5
s2=$(api GET /api/summary --token-file "$T/token")
c2=$(echo "$s2" | json_get 'd["messages"]["copied"]')
echo "   copied $c1 -> $c2 in 2.5 s; $r1 running"
[ "$c2" -gt "$c1" ] || { mf status --state "$T/state.db"; tail -5 "$T/migrate.err"
	fail "copied count did not rise ($c1 -> $c2)"; }
[ "$(echo "$s2" | json_get 'sum(x["messages"] for x in d["throughput"])')" -ge "$c2" ] ||
	fail "throughput samples do not add up to the copied messages"
echo "$s2" | json_get 'd["rate"]["messages_per_second"] > 0' | grep -q True ||
	fail "no current rate"

echo "== authentication"
assert_code "$(api_code GET /api/summary)" 401 "summary without a token"
assert_code "$(api_code GET /api/summary --token-file "$T/wrong")" 401 "summary with a wrong token"
assert_code "$(api_code GET /api/summary --token-file "$T/token")" 200 "summary with the token"
assert_code "$(api_code GET /)" 200 "the page itself needs no token"
api GET /app.js > "$T/app.js"
grep -q "api/mailboxes" "$T/app.js" || fail "app.js is not served"
assert_code "$(api_code POST /api/mailboxes/u06@old.example/disable)" 401 "anonymous write"
assert_code "$(api_code POST /api/mailboxes/u06@old.example/disable --token-file "$T/wrong")" 401 \
	"write with a wrong token"
assert_code "$(api_code POST /api/mailboxes/u06@old.example/disable --token-file "$T/token" \
	--origin http://evil.example)" 403 "cross-origin write"
assert_code "$(api_code GET /api/mailboxes/u06@old.example/disable --token-file "$T/token")" 404 \
	"a write by GET"

echo "== login form, session cookie and CSRF"
api POST /login --login-token-file "$T/wrong" --headers > "$T/login-bad"
grep -q "^Location: /?login=failed" "$T/login-bad" || { cat "$T/login-bad"; fail "bad login"; }
grep -qi "^Set-Cookie" "$T/login-bad" && fail "a cookie for a wrong token"
api POST /login --login-token-file "$T/token" --cookie-jar "$T/jar" --headers > "$T/login"
assert_eq "$(head -n 1 "$T/login")" 303 "login"
grep -q "^Set-Cookie: mf_session=.*HttpOnly; SameSite=Strict" "$T/login" ||
	{ cat "$T/login"; fail "session cookie flags"; }
assert_code "$(api_code GET /api/summary --cookie-jar "$T/jar")" 200 "read with the cookie"
sed 's/\(mf_session	[0-9]*\.[0-9a-f]*\.\)./\1x/' "$T/jar" > "$T/jar-forged"
cmp -s "$T/jar" "$T/jar-forged" && fail "the cookie was not altered"
assert_code "$(api_code GET /api/summary --cookie-jar "$T/jar-forged")" 401 "a forged cookie"
assert_code "$(api_code POST /api/mailboxes/u05@old.example/disable --cookie-jar "$T/jar")" 403 \
	"cookie write without X-CSRF-Token"
assert_code "$(api_code POST /api/mailboxes/u05@old.example/disable --cookie-jar "$T/jar" \
	--csrf-from-session)" 200 "cookie write with X-CSRF-Token"
mf status --state "$T/state.db" | grep -q '^u05@old.example *disabled' ||
	fail "u05 not disabled by the cookie write"
assert_code "$(api_code POST /api/mailboxes/u05@old.example/enable --token-file "$T/token")" 200 \
	"enable u05"

echo "== search, filter, detail"
p=$(api GET "/api/mailboxes?q=U03" --token-file "$T/token")
assert_eq "$(echo "$p" | json_get 'd["matched"]')" 1 "search matches"
assert_eq "$(echo "$p" | json_get 'd["mailboxes"][0]["name"]')" u03@old.example "search result"
assert_eq "$(api GET "/api/mailboxes?q=new.example&limit=2" --token-file "$T/token" |
	json_get 'd["matched"], len(d["mailboxes"])')" "6 2" "search by target, paged"
assert_code "$(api_code GET "/api/mailboxes?sort=nonsense" --token-file "$T/token")" 400 "bad sort"
d=$(api GET /api/mailboxes/u01@old.example --token-file "$T/token")
assert_eq "$(echo "$d" | json_get 'sorted(f["path"] for f in d["folder_list"] if f["copied"])')" \
	"['INBOX', 'Sent']" "folders with mail in the detail"
assert_code "$(api_code GET /api/mailboxes/nobody@old.example --token-file "$T/token")" 404 \
	"unknown mailbox"

echo "== disable and enable as mailferry disable/enable do"
assert_code "$(api_code POST /api/mailboxes/u06@old.example/disable --token-file "$T/token")" 200 \
	"disable u06"
mf status --state "$T/state.db" | grep -q '^u06@old.example *disabled' ||
	fail "mailferry status does not show u06 disabled"
assert_eq "$(api GET "/api/mailboxes?state=disabled" --token-file "$T/token" |
	json_get '[m["name"] for m in d["mailboxes"]]')" "['u06@old.example']" "state filter"
assert_code "$(api_code POST /api/mailboxes/u06@old.example/enable --token-file "$T/token")" 200 \
	"enable u06"
mf status --state "$T/state.db" | grep -q '^u06@old.example *disabled' &&
	fail "u06 still disabled after enable"
mf status --json --state "$T/state.db" u06@old.example | grep -q '"enabled": true' ||
	fail "u06 not enabled"
assert_code "$(api_code POST /api/mailboxes/nobody@old.example/disable --token-file "$T/token")" \
	404 "disable an unknown mailbox"

echo "== read-only modes"
main_url=$SERVE_URL
serve_start ro --token-file "$T/token" --read-only
assert_code "$(api_code GET /api/summary)" 401 "read-only still needs the token to read"
assert_code "$(api_code GET /api/summary --token-file "$T/token")" 200 "read-only read"
assert_code "$(api_code POST /api/mailboxes/u04@old.example/disable --token-file "$T/token")" 403 \
	"write to a --read-only dashboard"
serve_start anon
assert_code "$(api_code GET /api/summary)" 200 "no token file: anonymous reads"
assert_code "$(api_code POST /api/mailboxes/u04@old.example/disable)" 403 "no token file: no writes"
mf status --state "$T/state.db" | grep -q '^u04@old.example *disabled' && fail "u04 was disabled"
"$MAILFERRY" serve --state "$T/state.db" --listen 0.0.0.0:0 > /dev/null 2> "$T/wide.err" &&
	fail "serve listened beyond loopback without a token"
grep -q "give a --token-file" "$T/wide.err" || fail "no reason given for refusing 0.0.0.0"
SERVE_URL=$main_url

echo "== the run ends; its verify report is offered"
rc=0
wait $MIGRATE_PID || rc=$?
assert_eq "$rc" 1 "migration exit status (u04's big mails refused) $(cat "$T/migrate.err")"
mf status --json --state "$T/state.db" > "$T/status.json"
want=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(sum(m["state"] == "done" for m in a), sum(m["copied"] for m in a), sum(m["failed"] for m in a))' "$T/status.json")
assert_eq "$(api GET /api/summary --token-file "$T/token" | json_get 'd["mailboxes"]["done"], d["messages"]["copied"], d["messages"]["failed"]')" \
	"$want" "summary after the run, as mailferry status counts"
# u06 may have been skipped while it was disabled: then it is pending again.
assert_eq "$(api GET /api/summary --token-file "$T/token" | json_get 'd["mailboxes"]["running"], d["mailboxes"]["done"] + d["mailboxes"]["pending"]')" \
	"0 6" "nothing running after the run"
d=$(api GET /api/mailboxes/u04@old.example --token-file "$T/token")
nfail=$(echo "$d" | json_get 'd["failed_messages_total"]')
[ "$nfail" -ge 1 ] || { echo "$d"; fail "u04: no failed messages"; }
assert_eq "$(echo "$d" | json_get 'd["failed"]')" "$nfail" "u04: failed count and list"
echo "$d" | json_get 'd["failed_messages"][0]["error"]' | grep -q "larger than the maximum size" ||
	{ echo "$d"; fail "u04: the server's words are not in the failed message"; }
echo "   u04: $nfail messages refused: $(echo "$d" | json_get 'd["failed_messages"][0]["error"]')"
mkdir -p "$T/reports/run1"
mf verify --accounts "$T/accounts.csv" --ca-file "$T/ca.pem" --state "$T/state.db" \
	--report "$T/reports/run1" "$SERVE_SRC_T" "$SERVE_DST_T" > /dev/null 2>&1 ||
	true # u04 is incomplete
[ -s "$T/reports/run1/verify-report.html" ] || fail "verify wrote no report"
api GET /api/reports --token-file "$T/token" | grep -q '"path":"run1/verify-report.html"' ||
	fail "report not listed"
assert_code "$(api_code GET /reports/run1/verify-report.html)" 401 "report without a token"
api GET /reports/run1/verify-report.html --token-file "$T/token" > "$T/report.got"
assert_eq "$(head -n 1 "$T/report.got")" 200 "report with the token"
grep -q "u03@old.example" "$T/report.got" || fail "report content"
assert_code "$(api_code GET /reports/run1/../../state.db --token-file "$T/token")" 404 "traversal"
assert_code "$(api_code GET /reports/run1/%2e%2e/%2e%2e/token --token-file "$T/token")" 404 \
	"encoded traversal"

echo "== 5,000 mailboxes page fast"
{
	echo "source_user,enabled"
	for i in $(seq 1 5000); do echo "user$i@big.example,no"; done
	echo "needle@big.example,yes"
} > "$T/big.csv"
mkdir -p "$T/big/needle@big.example/cur" "$T/big/needle@big.example/new" \
	"$T/big/needle@big.example/tmp"
mf migrate --accounts "$T/big.csv" --state "$T/big.db" -q 'maildir:'"$T"'/big/{source_user}' \
	'maildir:'"$T"'/bigout/{source_user}' > /dev/null 2>&1 || fail "the 5,001-row run"
SERVE_STATE="$T/big.db" serve_start big --token-file "$T/token"
start=$(date +%s%N)
p=$(api GET "/api/mailboxes?offset=4950&limit=50&sort=name" --token-file "$T/token")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "$(echo "$p" | json_get 'd["matched"], len(d["mailboxes"])')" "5001 50" "last page"
want=$(python3 -c 'print(sorted(["needle@big.example"] + ["user%d@big.example" % i for i in range(1, 5001)])[4950:5000])')
assert_eq "$(echo "$p" | json_get '[m["name"] for m in d["mailboxes"]]')" "$want" "page sorted by name"
p=$(api GET "/api/mailboxes?q=needle&sort=copied&order=desc" --token-file "$T/token")
assert_eq "$(echo "$p" | json_get 'd["matched"], d["mailboxes"][0]["state"]')" "1 done" "needle"
assert_eq "$(api GET /api/summary --token-file "$T/token" | json_get 'd["mailboxes"]["disabled"]')" \
	5000 "disabled mailboxes counted"
echo "   a page of 50 of 5,001 mailboxes in ${ms} ms (client included)"
[ "$ms" -lt 3000 ] || fail "a page took ${ms} ms"

echo "== the token never reaches a log"
tok=$(cat "$T/token")
for f in "$T"/serve-*.out "$T"/serve-*.err "$T/migrate.err"; do
	grep -qF "$tok" "$f" && fail "token in $f"
done
grep -q "serve: u06@old.example disabled" "$T/serve-main.err" || fail "writes are not logged"
echo ok
