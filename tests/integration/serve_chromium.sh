#!/bin/sh
# SPDX-License-Identifier: MIT
# The dashboard in a real browser (issue 13): Debian's chromium, headless,
# loads the page of a migration in progress with "#q=u03" in the address;
# the page's script must fill the search box, ask the API and draw the
# table, so the DOM chromium dumps holds u03's row and no other user's.
# A screenshot of it must be a real picture (many colours, not a blank
# page).  A dashboard with a token shows its login form instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
. "$(dirname "$0")/serve_lib.sh"
dovecot_available || { echo "dovecot not installed: skipped"; exit 77; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "chromium not installed (tools/install-deps.sh installs it): skipped"; exit 77; }

# A private profile; nothing but the loopback dashboard is fetched.
chrome() {
	HOME="$T/home" timeout 90 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome" --no-first-run --disable-extensions --disable-sync \
		--disable-background-networking --disable-component-update \
		--disable-default-apps --window-size=1280,1100 --virtual-time-budget=10000 \
		"$@" 2> "$T/chrome.err"
}
mkdir -p "$T/home"

serve_setup_users 4 30
serve_start_migration 6
serve_start anon

echo "== the page renders the searched mailbox only"
chrome --dump-dom "$SERVE_URL/#q=u03" > "$T/dom.html" || { tail "$T/chrome.err"; fail "chromium --dump-dom"; }
grep -q 'data-name="u03@old.example"' "$T/dom.html" ||
	{ head -c 3000 "$T/dom.html"; fail "u03's row is not in the page"; }
for other in u01 u02 u04; do
	grep -q "data-name=\"$other@old.example\"" "$T/dom.html" && fail "$other is shown despite the search"
done
grep -q 'id="t-mailboxes">4<' "$T/dom.html" || fail "the totals are not drawn"
grep -q 'id="page-info">1–1 of 1<' "$T/dom.html" || fail "the pager does not say 1 of 1"
mf status --state "$T/state.db" | grep -q running || echo "   (the run had finished by then)"

echo "== a screenshot with something in it"
for _ in $(seq 1 100); do  # until the chart has a bar to draw
	[ "$(api GET /api/summary | json_get 'd["messages"]["copied"]')" -gt 0 ] && break
	sleep 0.1
done
(cd "$T" && chrome --screenshot="$T/shot.png" "$SERVE_URL/#q=u0") ||
	{ tail "$T/chrome.err"; fail "chromium --screenshot"; }
[ -s "$T/shot.png" ] || fail "no screenshot"
python3 - "$T/shot.png" <<'PY' || fail "the screenshot is not a rendered dashboard"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
colours, prev, i = set(), bytearray(stride), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):  # undo the PNG row filters
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp * 2):
            colours.add(bytes(line[x:x + 3]))
    prev = line
print(f"   screenshot {w}x{h}, {len(data)} bytes, {len(colours)} colours")
assert w >= 800 and len(data) > 20000 and len(colours) > 50, "too plain"
PY

echo "== with a token, the page asks to log in"
openssl rand -hex 24 > "$T/token"
serve_start tok --token-file "$T/token"
chrome --dump-dom "$SERVE_URL/" > "$T/login.html" || fail "chromium --dump-dom (login)"
grep -q '<section id="login">' "$T/login.html" || fail "no login form shown"
grep -q 'data-name=' "$T/login.html" && fail "mailboxes shown without the token"
echo ok
