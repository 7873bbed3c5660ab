#!/bin/sh
# SPDX-License-Identifier: MIT
# "mailferry preflight" (issue 13) against real Dovecots over TLS: seven
# rows of one accounts CSV, run in parallel.  Two good mailboxes; a
# source message over the target's size limit (the target's quota plugin
# enforces quota_max_mail_size and advertises it as APPENDLIMIT); a
# target whose quota (STORAGE 1 KiB, per user) is smaller than the
# source mailbox; a wrong source password; a target account that does not
# exist; a source port where nothing listens; a source folder whose name
# holds the target's separator ('.').  Also a POP3 source (LIST sizes).  Checked: exit status, the
# table, --json and --csv parsed with python3, the server's words on
# refused logins, GETQUOTAROOT and APPENDLIMIT figures, that nothing was
# written to any target, and a single-account run with --rate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
. "$(dirname "$0")/imap_lib.sh"

LIMIT=20480
DOVECOT_EXTRA_CONF="mail_plugins = \$mail_plugins quota
protocol imap {
  mail_plugins = \$mail_plugins imap_quota
  imap_capability = +APPENDLIMIT=$LIMIT
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100M
  quota_max_mail_size = $LIMIT
}"
export DOVECOT_EXTRA_CONF
dovecot_init dst
for u in alice bob carol erin gina hank; do
	dovecot_user dst "$u@new.example" "new-$u"
done
# dave's own quota rule, a passdb extra field handed to the userdb.
printf '%s:{PLAIN}%s:::::: userdb_quota_rule=*:storage=1K\n' dave@new.example new-dave \
	>>"$(dovecot_var dst dir)/users"
dovecot_start dst .
unset DOVECOT_EXTRA_CONF
for u in alice bob carol dave erin frank gina hank; do
	dovecot_user src "$u@old.example" "pw-$u"
done
dovecot_start src

msg() { # msg SUBJECT BODYBYTES
	printf 'From: a@old.example\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n\r\n' "$1" "$1"
	python3 -c "import sys; sys.stdout.write(('x' * 70 + '\r\n') * ($2 // 72))"
}
D="01-Feb-2020 10:00:00 +0000"
msg a1 500 | imap_append src alice@old.example pw-alice INBOX '\Seen' "$D"
msg a2 800 | imap_append src alice@old.example pw-alice INBOX '' "$D"
imap_py src alice@old.example pw-alice <<'PYEOF'
M.create(q("Projects"))
PYEOF
msg a3 600 | imap_append src alice@old.example pw-alice Projects '' "$D"
msg b1 700 | imap_append src bob@old.example pw-bob INBOX '' "$D"
msg c1 30000 | imap_append src carol@old.example pw-carol INBOX '' "$D"
msg c2 400 | imap_append src carol@old.example pw-carol INBOX '' "$D"
imap_py src hank@old.example pw-hank <<'PYEOF'
M.create(q("Release v1.2"))
PYEOF
msg h1 300 | imap_append src hank@old.example pw-hank 'Release v1.2' '' "$D"
for i in 1 2 3; do
	msg "d$i" 1500 | imap_append src dave@old.example pw-dave INBOX '' "$D"
done

cat "$(dovecot_var src cert)" "$(dovecot_var dst cert)" > "$T/ca.pem"
SRC_PORT=$(dovecot_var src imaps)
DST_PORT=$(dovecot_var dst imaps)
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	echo "source_user,source_password,source_port,target_user,target_password"
	echo "alice@old.example,pw-alice,$SRC_PORT,alice@new.example,new-alice"
	echo "bob@old.example,pw-bob,$SRC_PORT,bob@new.example,new-bob"
	echo "carol@old.example,pw-carol,$SRC_PORT,carol@new.example,new-carol"
	echo "dave@old.example,pw-dave,$SRC_PORT,dave@new.example,new-dave"
	echo "erin@old.example,not-the-password,$SRC_PORT,erin@new.example,new-erin"
	echo "frank@old.example,pw-frank,$SRC_PORT,frank@new.example,new-frank"
	echo "gina@old.example,pw-gina,$DEAD_PORT,gina@new.example,new-gina"
	echo "hank@old.example,pw-hank,$SRC_PORT,hank@new.example,new-hank"
} > "$T/accounts.csv"
SRC_T='imaps://{source_user}@127.0.0.1:{source_port}'
DST_T="alimail://{target_user}@127.0.0.1:$DST_PORT"
pf() {
	mf preflight --accounts "$T/accounts.csv" --jobs 4 --timeout 20 --ca-file "$T/ca.pem" \
		--state "$T/none.db" "$@" "$SRC_T" "$DST_T"
}

echo "== table"
rc=0
pf >"$T/table.txt" 2>"$T/table.err" || rc=$?
cat "$T/table.txt"
assert_eq "$rc" 1 "exit status with rows that cannot run"
grep -q '^2 of 8 mailboxes can run$' "$T/table.txt" || fail "summary line"
grep -q '^no rate' "$T/table.txt" || fail "an estimate without a rate was invented"
grep -q 'source: .*Authentication failed' "$T/table.txt" ||
	fail "the source server's words for erin are not shown"
grep -qi 'pw-\|new-alice\|not-the-password' "$T/table.txt" "$T/table.err" &&
	fail "a password was printed"

echo "== --json"
pf --json >"$T/pf.json" || true
python3 - "$T/pf.json" "$LIMIT" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
limit = int(sys.argv[2])
rows = {r["account"].split("@")[0]: r for r in doc["rows"]}
def die(m):
    print("FAIL: " + m, file=sys.stderr); sys.exit(1)
if doc["total"] != 8 or doc["ok"] != 2:
    die("ok %r of %r, expected 2 of 8" % (doc["ok"], doc["total"]))
if doc["rate_bytes_per_second"] is not None:
    die("a rate from nowhere")
for name in ("alice", "bob"):
    r = rows[name]
    if not r["ok"] or r["verdict"] != "ok":
        die("%s: %s" % (name, r["verdict"]))
    s = r["sink"]
    if s["login"] != "ok" or s["max_message_size"] != limit:
        die("%s: target probe %r" % (name, s))
    if s["quota_limit"] != 100 * 1024 * 1024 or s["quota_used"] != 0:
        die("%s: GETQUOTAROOT figures %r" % (name, s))
    for cap in ("UIDPLUS", "LITERAL+", "SPECIAL-USE", "QUOTA", "APPENDLIMIT=%d" % limit):
        if cap not in s["capabilities"].split():
            die("%s: %s not among %r" % (name, cap, s["capabilities"]))
    if r["oversize"] != 0 or r["refused_folders"] or r["counts_partial"]:
        die("%s: %r" % (name, r))
if rows["alice"]["messages"] != 3 or rows["bob"]["messages"] != 1:
    die("messages: alice %r bob %r" % (rows["alice"]["messages"], rows["bob"]["messages"]))
if not 1900 <= rows["alice"]["bytes"] <= 2300:
    die("alice bytes %r" % rows["alice"]["bytes"])
c = rows["carol"]
if c["ok"] or c["oversize"] != 1 or not 29000 <= c["largest_oversize"] <= 31000:
    die("carol: oversize %r largest %r" % (c["oversize"], c["largest_oversize"]))
if "over the target's limit" not in c["verdict"]:
    die("carol verdict " + c["verdict"])
d = rows["dave"]
if d["ok"] or d["sink"]["quota_limit"] != 1024 or d["quota_free"] != 1024:
    die("dave quota %r" % d)
if "target quota" not in d["verdict"] or d["bytes"] <= 1024:
    die("dave verdict %r bytes %r" % (d["verdict"], d["bytes"]))
e = rows["erin"]
if e["source"]["login"] != "auth-refused" or e["sink"]["login"] != "ok" or e["ok"]:
    die("erin %r" % e)
if "AUTHENTICATIONFAILED" not in e["source"]["error"]:
    die("erin: server words missing: %r" % e["source"]["error"])
f = rows["frank"]
# Dovecot answers a missing user exactly as a wrong password.
if f["sink"]["login"] != "auth-refused" or f["source"]["login"] != "ok" or f["ok"]:
    die("frank %r" % f)
if "Authentication failed" not in f["sink"]["error"]:
    die("frank: server words missing: %r" % f["sink"]["error"])
g = rows["gina"]
if g["source"]["login"] != "connection-refused" or g["bytes"] is not None:
    die("gina %r" % g)
h = rows["hank"]
if h["ok"] or h["refused_folders"] != ["Release v1.2: \"Release v1.2\" holds the target's separator '.'"]:
    die("hank %r" % h)
if h["sink"]["separator"] != "." or h["messages"] != 1:
    die("hank %r" % h)
for r in doc["rows"]:
    if "pw-" in json.dumps(r) or "new-" + r["account"].split("@")[0] in json.dumps(r):
        die("a password in the JSON")
print("json: ok")
PYEOF

echo "== --csv"
pf --csv >"$T/pf.csv" || true
python3 - "$T/pf.csv" <<'PYEOF'
import csv, sys
rows = {r["account"].split("@")[0]: r for r in csv.DictReader(open(sys.argv[1]))}
def die(m):
    print("FAIL: " + m, file=sys.stderr); sys.exit(1)
if len(rows) != 8:
    die("%d rows" % len(rows))
want = {"alice": "ok", "bob": "ok", "carol": "fail", "dave": "fail", "erin": "fail",
        "frank": "fail", "gina": "fail", "hank": "fail"}
for k, v in want.items():
    if rows[k]["result"] != v:
        die("%s: %s (%s)" % (k, rows[k]["result"], rows[k]["verdict"]))
if rows["hank"]["refused_folders"] != "1":
    die("refused column %r" % rows["hank"])
if rows["carol"]["oversize"] != "1" or rows["alice"]["oversize"] != "0":
    die("oversize column")
if rows["gina"]["bytes"] != "" or rows["gina"]["source_login"] != "connection-refused":
    die("gina: %r" % rows["gina"])
if rows["erin"]["source_login"] != "auth-refused" or rows["frank"]["target_login"] != "auth-refused":
    die("login columns")
print("csv: ok")
PYEOF

echo "== nothing was written to any target"
for u in alice bob carol dave hank; do
	n=$(dovecot_adm dst mailbox status -u "$u@new.example" messages INBOX | sed 's/[^0-9]//g')
	assert_eq "$n" 0 "$u's target INBOX after preflight"
done
dovecot_adm dst mailbox list -u alice@new.example > "$T/boxes"
grep -qx Projects "$T/boxes" && fail "preflight created a folder on the target"

echo "== a POP3 source: sizes from STAT, oversize from LIST"
printf 'pw-carol\n' > "$T/carol.pw"
printf 'new-carol\n' > "$T/carol-dst.pw"
rc=0
mf preflight --csv --ca-file "$T/ca.pem" --state "$T/none.db" \
	--source-password-file "$T/carol.pw" --sink-password-file "$T/carol-dst.pw" \
	"pop3s://carol@old.example@127.0.0.1:$(dovecot_var src pop3s)" \
	"alimail://carol@new.example@127.0.0.1:$DST_PORT" >"$T/pop3.csv" || rc=$?
assert_eq "$rc" 1 "exit status of a POP3 row with an oversize message"
python3 - "$T/pop3.csv" <<'PYEOF'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))[0]
if r["source_login"] != "ok" or r["messages"] != "2" or r["oversize"] != "1":
    sys.exit("FAIL: pop3 row %r" % r)
print("pop3: ok")
PYEOF

echo "== one account, with --rate"
printf 'pw-alice\n' > "$T/src.pw"
printf 'new-alice\n' > "$T/dst.pw"
mf preflight --json --rate 1k --ca-file "$T/ca.pem" --state "$T/none.db" \
	--source-password-file "$T/src.pw" --sink-password-file "$T/dst.pw" \
	"imaps://alice@old.example@127.0.0.1:$SRC_PORT" \
	"alimail://alice@new.example@127.0.0.1:$DST_PORT" >"$T/one.json" ||
	fail "a good single account must exit 0"
python3 - "$T/one.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["rows"][0]
if doc["rate_bytes_per_second"] != 1024 or doc["rate_from"] != "--rate":
    sys.exit("FAIL: rate %r" % doc["rate_bytes_per_second"])
if abs(r["estimate_seconds"] - r["bytes"] / 1024) > 0.01:
    sys.exit("FAIL: estimate %r for %r bytes" % (r["estimate_seconds"], r["bytes"]))
print("single: ok, estimate %.1f s" % r["estimate_seconds"])
PYEOF
echo "== a server that accepts and never answers: the row ends at --timeout"
python3 - "$T/hung.port" <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conns = []
end = time.time() + 60  # bounded: gone a minute later whatever happens
s.settimeout(1)
while time.time() < end:
    try:
        conns.append(s.accept()[0])
    except socket.timeout:
        pass
PYEOF
hung=$!
mf_on_exit "kill $hung 2>/dev/null || true"
i=0
while [ ! -s "$T/hung.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
t0=$(date +%s)
rc=0
mf preflight --json --timeout 2 --ca-file "$T/ca.pem" --state "$T/none.db" \
	--source-password-file "$T/src.pw" --sink-password-file "$T/dst.pw" \
	"imaps://alice@old.example@127.0.0.1:$(cat "$T/hung.port")" \
	"alimail://alice@new.example@127.0.0.1:$DST_PORT" >"$T/hung.json" || rc=$?
took=$(( $(date +%s) - t0 ))
assert_eq "$rc" 1 "exit status with a hung source"
[ "$took" -le 10 ] || fail "a row with --timeout 2 took $took s"
python3 - "$T/hung.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))["rows"][0]
if r["source"]["login"] != "timeout" or r["sink"]["login"] != "ok":
    sys.exit("FAIL: hung source row %r" % r)
print("hung: ok (%s)" % r["source"]["error"])
PYEOF
kill $hung 2>/dev/null || true
echo "preflight: all checks passed"
