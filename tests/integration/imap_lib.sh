# SPDX-License-Identifier: MIT
# Helpers for the imap_*.sh tests (sourced after lib.sh and dovecot.sh):
# talk IMAP to a Dovecot instance with Python's stdlib imaplib to seed
# messages with exact flags and internal dates, and to describe a mailbox
# (every message's SHA-256, flags and internal date, per folder) so two
# servers can be compared byte for byte.  Not a test itself.

command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 needed"; exit 77; }
dovecot_available || { echo "SKIP: dovecot not installed"; exit 77; }

# imap_py NAME USER PASS <<'EOF' ... EOF: run Python with "M" logged in
# (plain IMAP on the instance's imap port) and helpers q() (quote a name as
# mUTF-7) and die().
imap_py() {
	port=$(dovecot_var "$1" imap)
	python3 - "$port" "$2" "$3" 3<&0 <<'PYEOF'
import imaplib, sys, hashlib, re, base64
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
M = imaplib.IMAP4("127.0.0.1", port)
M.login(user, pw)
import os
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "tools"))
from mutf7 import quote as q  # noqa: E402
def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
exec(open("/dev/fd/3").read())
M.logout()
PYEOF
}

# imap_append NAME USER PASS FOLDER 'FLAGS' 'DATE' < message
# (DATE like "01-Feb-2020 10:00:00 +0800"; FLAGS like "\Seen $Label1")
imap_append() {
	f=$(mktemp "$T/msg.XXXXXX")
	cat >"$f"
	imap_py "$1" "$2" "$3" <<EOF
data = open("$f", "rb").read()
typ, r = M.append(q("""$4"""), "($5)", '"$6"', data)
if typ != "OK":
    die("append: %r" % (r,))
EOF
	rm -f "$f"
}

# imap_describe NAME USER PASS: one line per message, sorted:
#   <folder> <sha256 of BODY[]> <sorted flags> <internaldate>
imap_describe() {
	imap_py "$1" "$2" "$3" <<'EOF'
import imaplib
def unq(s):
    s = s.strip()
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\") if s.startswith('"') else s
typ, boxes = M.list('""', '"*"')
lines = []
for b in boxes:
    b = b.decode()
    m = re.match(r'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', b)
    if "\\Noselect" in m.group(1) or "\\NonExistent" in m.group(1):
        continue
    name = m.group(3)
    typ, _ = M.select(name if name.startswith('"') else '"%s"' % name, readonly=True)
    if typ != "OK":
        die("select " + name)
    typ, data = M.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        flags = sorted(f for f in re.search(r"FLAGS \((.*?)\)", meta).group(1).split() if f != "\\Recent")
        date = re.search(r'INTERNALDATE "(.*?)"', meta).group(1)
        lines.append("%s %s %s %s" % (unq(name), hashlib.sha256(item[1]).hexdigest(),
                                      ",".join(flags) or "-", date))
for l in sorted(lines):
    print(l)
EOF
}

# kill_campaign SEED COUNT CMD...: four runs of CMD (output in $T/run.N),
# each killed with -9 a random 0.1-0.9 s after the target (COUNT prints
# its message count) first grew; sets kills to how many were killed
# mid-way.  SEED makes the moments replayable.
kill_campaign() {
	kc_r=$1 kc_count=$2
	shift 2
	kills=0
	for attempt in 1 2 3 4; do
		"$@" > "$T/run.$attempt" 2>&1 &
		kc_pid=$!
		kc_before=$($kc_count)
		kc_waited=0
		while kill -0 "$kc_pid" 2>/dev/null && [ "$($kc_count)" -le "$kc_before" ] &&
			[ $kc_waited -lt 300 ]; do
			sleep 0.1
			kc_waited=$((kc_waited + 1))
		done
		kc_r=$(( (kc_r * 1103515245 + 12345) % 2147483648 ))
		sleep "0.$(( kc_r % 9 + 1 ))"
		if kill -9 "$kc_pid" 2>/dev/null; then kills=$((kills + 1)); fi
		wait "$kc_pid" 2>/dev/null || true
	done
}
