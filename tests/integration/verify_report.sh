#!/bin/sh
# SPDX-License-Identifier: MIT
# "mailferry verify": after a bulk run from an accounts CSV, the report
# says complete; after a message is deleted in one target and a stray one
# added in another, it names exactly those folders, counts them, and
# exits 1; the HTML page is self-contained.
. "$(dirname "$0")/lib.sh"
GEN="$top_srcdir/tests/tools/gen_mailbox.py"
python3 "$GEN" --format maildir --out "$T/old/u1" --messages 80 --seed 11
python3 "$GEN" --format mbox --out "$T/old/u2" --messages 60 --seed 12
python3 "$GEN" --format maildir --out "$T/old/u3" --messages 40 --seed 13
cat > "$T/acc.csv" <<CSV
source_user,source_protocol,folder_policy
u1,maildir,
u2,mbox,inbox
u3,maildir,folder:Old Mail
CSV
SRC="{source_protocol}:$T/old/{source_user}"
DST="maildir:$T/new/{source_user}"
mf migrate --accounts "$T/acc.csv" --state "$T/s.db" -q "$SRC" "$DST"

echo "== clean run verifies complete"
mkdir "$T/r1"
mf verify --accounts "$T/acc.csv" --state "$T/s.db" --report "$T/r1" "$SRC" "$DST" > "$T/v1.out"
cat "$T/v1.out"
grep -q "3 of 3 mailboxes complete" "$T/v1.out" || fail "clean run not complete"
grep -q '"accounts_complete": 3' "$T/r1/verify-report.json" || fail "json report"
grep -q '<svg class="chart"' "$T/r1/verify-report.html" || fail "html chart"
! grep -qE '(src|href)="(https?:)?//' "$T/r1/verify-report.html" || fail "html is not self-contained"

echo "== a lost message and a stray one are found"
victim=$(find "$T/new/u1/.Sent/cur" -type f | head -1)
rm "$victim"
mkdir -p "$T/new/u2/cur"
printf 'Subject: already there\n\nreceived in the target\n' > "$T/new/u2/cur/1.stray:2,S"
rc=0
mf verify --accounts "$T/acc.csv" --state "$T/s.db" --report "$T/r2" "$SRC" "$DST" > "$T/v2.out" || rc=$?
cat "$T/v2.out"
assert_eq "$rc" 1 "verify exit status with a missing message"
grep -q "^u1: INCOMPLETE: .* 1 missing" "$T/v2.out" || fail "u1 not reported incomplete"
grep -q "^u2: complete" "$T/v2.out" || fail "an extra message must not make u2 incomplete"
python3 - "$T/r2/verify-report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
acc = {a["account"]: a for a in d["accounts"]}
sent = [f for f in acc["u1"]["folders"] if f["target"] == "Sent"][0]
assert sent["missing"] == 1 and sent["status"] == "missing", sent
inbox = [f for f in acc["u2"]["folders"] if f["target"] == "INBOX"][0]
assert inbox["extra"] == 1 and inbox["missing"] == 0, inbox
assert inbox["source_messages"] == 60, inbox
assert [f["target"] for f in acc["u3"]["folders"]] == ["Old Mail"], acc["u3"]
PY
[ -f "$T/r2/verify-report.html" ] || fail "verify did not create its report directory"

echo "== the HTML summary: one row per mailbox, incomplete first, linked to its section"
python3 - "$T/r2/verify-report.html" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
body = html[html.index('<table id="summary">'):]
body = body[:body.index("</table>")]
rows = re.findall(r'<tr class="(ok|bad)"><td><a href="#(m\d+)">([^<]*)</a></td><td data-v="(\d)">'
                  r'([^<]*)</td><td>(\d+)</td><td data-v="\d+">[^<]*</td><td>(\d+)</td>'
                  r'<td>(\d+)</td><td>(\d+)</td>', body)
assert [r[2] for r in rows] == ["u1", "u2", "u3"], rows
assert rows[0][0] == "bad" and rows[0][4] == "messages missing" and rows[0][7] == "1", rows[0]
assert rows[1][4] == "complete" and rows[1][8] == "1", rows[1]   # u2: one extra
assert rows[1][5] == "60", rows[1]
for r in rows:
    assert 'id="%s"' % r[1] in html, r
PY
CHROMIUM=$(command -v chromium || true)
if [ -n "$CHROMIUM" ]; then
	# The page's script in a real browser: a filter and a sort given in
	# the address (#filter=...&sort=Na|Nd) are applied on load.
	chrome() {
		HOME="$T/home" timeout 90 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
			--user-data-dir="$T/chrome" --no-first-run --disable-extensions \
			--disable-sync --disable-background-networking --disable-component-update \
			--virtual-time-budget=5000 "$@" 2> "$T/chrome.err"
	}
	mkdir -p "$T/home"
	chrome --dump-dom "file://$T/r2/verify-report.html#filter=U2" > "$T/filtered.html" ||
		{ tail "$T/chrome.err"; fail "chromium --dump-dom"; }
	python3 - "$T/filtered.html" <<'PY' || fail "filter in the browser"
import re, sys
body = open(sys.argv[1]).read()
body = body[body.index('id="summary"'):body.index("</table>")]
rows = re.findall(r'<tr class="\w+"( hidden="")?><td><a href="#m\d+">(\w+)</a>', body)
assert [(n, bool(h)) for h, n in rows] == [("u1", True), ("u2", False), ("u3", True)], rows
assert 'title="sort"' in body, "the script did not run"
PY
	# Column 2 (source messages) descending: 80, 60, 40.
	chrome --dump-dom "file://$T/r2/verify-report.html#sort=2d" > "$T/sorted.html" ||
		{ tail "$T/chrome.err"; fail "chromium --dump-dom"; }
	grep -q 'data-sorted="2d"' "$T/sorted.html" || fail "sort not applied in the browser"
	python3 - "$T/sorted.html" <<'PY' || fail "sort in the browser"
import re, sys
body = open(sys.argv[1]).read()
body = body[body.index('id="summary"'):body.index("</table>")]
names = re.findall(r'<a href="#m\d+">(\w+)</a>', body)
assert names == ["u1", "u2", "u3"], names
PY
	chrome --dump-dom "file://$T/r2/verify-report.html#sort=2a" > "$T/sorted.html"
	python3 - "$T/sorted.html" <<'PY' || fail "ascending sort in the browser"
import re, sys
body = open(sys.argv[1]).read()
body = body[body.index('id="summary"'):body.index("</table>")]
assert re.findall(r'<a href="#m\d+">(\w+)</a>', body) == ["u3", "u2", "u1"]
PY
else
	echo "   chromium not installed: the summary's script not tried in a browser"
fi
echo "== an impossible report directory fails before any mailbox is read"
rc=0
mf verify --accounts "$T/acc.csv" --state "$T/s.db" --report "$T/no/such/dir" "$SRC" "$DST" \
	> "$T/v3.out" 2>&1 || rc=$?
assert_eq "$rc" 2 "verify exit status with an impossible report directory"
grep -q "cannot create the report directory $T/no/such/dir" "$T/v3.out" || { cat "$T/v3.out"; fail "unclear"; }
grep -q "complete" "$T/v3.out" && fail "mailboxes were read before the directory failed"
echo ok
