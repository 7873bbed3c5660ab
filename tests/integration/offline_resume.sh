#!/bin/sh
# SPDX-License-Identifier: MIT
# The core promise on offline sources: a generated mbox tree (and an .eml
# tree) arrives byte-identical in the maildir sink, a second run copies
# nothing, a run killed with SIGKILL at a random moment and re-run ends
# identical with no duplicates, and a broken mbox file is reported by
# name while every other folder is copied.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed (tools/install-deps.sh installs it)"
GEN="$top_srcdir/tests/tools/gen_mailbox.py"

# "folder<TAB>sha256<TAB>size" for every message of a Maildir++ tree,
# sorted (one python3, not three processes a message).
maildir_manifest() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
rows = []
for d in ["."] + sorted(e for e in os.listdir(root) if e.startswith(".")):
    if not os.path.isdir(os.path.join(root, d, "cur")):
        continue
    folder = "INBOX" if d == "." else d[1:].replace(".", "/")
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(root, d, sub)):
            path = os.path.join(root, d, sub, name)
            if os.path.isfile(path):
                data = open(path, "rb").read()
                rows.append("%s\t%s\t%d" % (folder, hashlib.sha256(data).hexdigest(), len(data)))
sys.stdout.write("".join(r + "\n" for r in sorted(rows, key=lambda r: r.encode())))
PY
}
summary() { grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'; }

python3 "$GEN" --format mbox --out "$T/mbox" --messages 400 --seed 7 --manifest "$T/want.txt"

echo "== full copy, byte-identical"
mf migrate "mbox:$T/mbox" "maildir:$T/out1" --state "$T/s1.db" --json -q > "$T/run1.json"
assert_eq "$(summary "$T/run1.json")" "400 0" "first run counts"
maildir_manifest "$T/out1" > "$T/got1.txt"
cmp "$T/want.txt" "$T/got1.txt" || fail "copied messages differ from the source"

echo "== second run copies nothing"
mf migrate "mbox:$T/mbox" "maildir:$T/out1" --state "$T/s1.db" --json -q > "$T/run2.json"
assert_eq "$(summary "$T/run2.json")" "0 0" "second run counts"
maildir_manifest "$T/out1" | cmp - "$T/want.txt" || fail "second run changed the target"

echo "== kill -9 mid-run, then resume"
for attempt in 1 2 3; do
	# Paced so the kill lands mid-way; the delay varies per attempt.
	"$MAILFERRY" migrate "mbox:$T/mbox" "maildir:$T/out2" --state "$T/s2.db" -q \
		--max-messages-per-second 150 > /dev/null 2>&1 &
	pid=$!
	sleep "0.$((attempt * 2))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
partial=$(maildir_manifest "$T/out2" | wc -l)
[ "$partial" -lt 400 ] || fail "the killed runs were not interrupted (copied $partial)"
mf migrate "mbox:$T/mbox" "maildir:$T/out2" --state "$T/s2.db" --json -q > "$T/run3.json"
maildir_manifest "$T/out2" > "$T/got2.txt"
cmp "$T/want.txt" "$T/got2.txt" || {
	diff "$T/want.txt" "$T/got2.txt" | head
	fail "after kill -9 and resume the target is not exactly the source (lost or duplicated)"
}
echo "   interrupted at $partial/400, resumed to 400 with no duplicates"

echo "== two runs on one state file: the second refuses to start"
"$MAILFERRY" migrate "mbox:$T/mbox" "maildir:$T/out5" --state "$T/s5.db" -q \
	--max-messages-per-second 50 > /dev/null 2>&1 &
pid=$!
sleep 0.5
rc=0
mf migrate "mbox:$T/mbox" "maildir:$T/out5" --state "$T/s5.db" -q 2> "$T/lock.err" || rc=$?
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
assert_eq "$rc" 2 "exit status of a second run on a busy state file"
grep -q "another mailferry run" "$T/lock.err" || fail "no clear message: $(cat "$T/lock.err")"

echo "== a broken mbox file is named, the rest is copied"
mkdir -p "$T/bad"
cp "$T/mbox/Sent" "$T/bad/Sent"
printf 'this is not an mbox file\n' > "$T/bad/Broken"
rc=0
mf migrate "mbox:$T/bad" "maildir:$T/out3" --state "$T/s3.db" > "$T/run4.out" 2> "$T/run4.err" || rc=$?
assert_eq "$rc" 1 "exit status with a failed folder"
grep -q "Broken" "$T/run4.err" || fail "error does not name the broken file: $(cat "$T/run4.err")"
sent=$(grep -c '^Sent	' "$T/want.txt")
assert_eq "$(maildir_count "$T/out3/.Sent")" "$sent" "messages of the good folder"

echo "== eml tree (PST export layout)"
python3 "$GEN" --format eml --out "$T/eml" --messages 60 --seed 3 --folders INBOX,Sent,Projects/2024 \
	--manifest "$T/want-eml.txt"
mf migrate "eml:$T/eml" "maildir:$T/out4" --state "$T/s4.db" -q
maildir_manifest "$T/out4" | cut -f2,3 | sort > "$T/got-eml.txt"
cut -f2,3 "$T/want-eml.txt" | sort | cmp - "$T/got-eml.txt" || fail "eml tree contents differ"

echo "== status shows the mailbox"
mf status --state "$T/s2.db" | grep -q "done" || fail "status does not show the finished mailbox"
mf status --state "$T/s2.db" --json | grep -q '"copied": 400' || fail "status --json counts"
echo "ok"
