#!/bin/sh
# SPDX-License-Identifier: MIT
# The offline sources (plugins/mbox) through the real CLI into the maildir
# sink, on the committed fixtures of tests/data/mbox/: an mboxrd file (and
# the same file read as mboxo), a Thunderbird-style mbox tree, a Maildir++
# with keywords and a modified-UTF-7 name, nested maildirs, and an .eml
# tree.  The expected messages come from an independent reference written
# here in Python (mbox splitting and unescaping, file bytes for
# maildir/eml), compared as "folder, SHA-256, system flags" per message;
# then internal dates, keywords, and ids that stay stable when a maildir
# message's flags change.
. "$(dirname "$0")/lib.sh"
# Sanitizer builds: LSan misreads glibc's dynamic TLS at exit on some memory
# layouts and dies with "Tracer caught signal 11" after a clean run
# (google/sanitizers#1322); this fixture set hits such a layout.  No effect
# on normal builds.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0"
export ASAN_OPTIONS
command -v python3 >/dev/null || fail "python3 is needed (tools/install-deps.sh installs it)"
D="$TEST_DATA/mbox"

# "folder<TAB>sha256<TAB>FLAGS" for every message of a Maildir++ target,
# FLAGS = the uppercase letters of the ":2," info (keyword letters differ
# per target and are checked separately).
target_manifest() (
	cd "$1"
	for d in . .*; do
		[ -d "$d/cur" ] || [ -d "$d/new" ] || continue
		if [ "$d" = . ]; then f=INBOX; else f=$(printf '%s' "${d#.}" | tr . /); fi
		for m in "$d"/cur/* "$d"/new/*; do
			[ -f "$m" ] || continue
			info=${m##*:2,}
			[ "$info" = "$m" ] && info=
			printf '%s\t%s\t%s\n' "$f" "$(sha256sum < "$m" | cut -d' ' -f1)" \
				"$(printf '%s' "$info" | tr -cd 'A-Z')"
		done
	done | LC_ALL=C sort
)

# Reference: ref KIND SRC=FOLDER...; KIND mboxrd|mboxo (SRC an mbox file),
# maildir (SRC a cur/ or new/ dir), eml (SRC a dir of .eml files).
ref() {
	python3 - "$@" <<'EOF' | LC_ALL=C sort
import hashlib, os, re, sys
kind = sys.argv[1]
# A separator: "From " + sender + weekday, after a blank line (or first).
SEP = re.compile(rb'From \S*\s+(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ')
def flags_of(msg):
    hdr = re.split(rb'\r?\n\r?\n', msg, 1)[0]
    f = set()
    st = re.search(rb'^Status:(.*)$', hdr, re.M | re.I)
    xs = re.search(rb'^X-Status:(.*)$', hdr, re.M | re.I)
    if st and b'R' in st.group(1):
        f.add('S')
    for c, fl in zip(b'AFTD', 'RFDT'):
        if xs and bytes([c]) in xs.group(1):
            f.add(fl)
    return ''.join(sorted(f))
for spec in sys.argv[2:]:
    src, folder = spec.rsplit('=', 1)
    if kind in ('mboxrd', 'mboxo'):
        lines = open(src, 'rb').read().splitlines(keepends=True)
        msgs, cur, prev_blank = [], None, False
        for i, l in enumerate(lines):
            if i == 0 or (prev_blank and SEP.match(l)):
                if cur is not None:
                    msgs.append(cur)
                cur, prev_blank = [], False
                continue
            cur.append(l)
            prev_blank = l in (b'\n', b'\r\n')
        if cur is not None:
            msgs.append(cur)
        for m in msgs:
            if m and m[-1] in (b'\n', b'\r\n'):
                m = m[:-1]
            if kind == 'mboxrd':
                m = [re.sub(rb'^>(>*From )', rb'\1', l) for l in m]
            else:
                m = [l[1:] if l.startswith(b'>From ') else l for l in m]
            body = b''.join(m)
            print('%s\t%s\t%s' % (folder, hashlib.sha256(body).hexdigest(),
                                  flags_of(body)))
    else:
        for name in sorted(os.listdir(src)):
            p = os.path.join(src, name)
            if name.startswith('.') or not os.path.isfile(p):
                continue
            if kind == 'eml':
                if not name.lower().endswith('.eml'):
                    continue
                fl = ''
            else:
                info = name.split(':2,', 1)[1] if ':2,' in name else ''
                f = set(c for c in info if c.isupper())
                if os.path.basename(src) == 'new':
                    f.discard('S')
                fl = ''.join(sorted(f))
            body = open(p, 'rb').read()
            print('%s\t%s\t%s' % (folder, hashlib.sha256(body).hexdigest(), fl))
EOF
}

summary() { grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'; }

check() { # check NAME WANT-FILE TARGET-DIR
	target_manifest "$3" > "$T/$1.got"
	[ -s "$2" ] || fail "$1: empty reference"
	cmp -s "$2" "$T/$1.got" || {
		diff "$2" "$T/$1.got" >&2 || true
		fail "$1: target differs from the source"
	}
	echo "   $1: $(wc -l < "$2") messages identical"
}

echo "== mbox file (mboxrd default, then format=mboxo)"
mf migrate "mbox:$D/single.mbox" "maildir:$T/o1" --state "$T/s1.db" -q
ref mboxrd "$D/single.mbox=INBOX" > "$T/o1.want"
check single-mboxrd "$T/o1.want" "$T/o1"
mf migrate "mbox:$D/single.mbox?format=mboxo" "maildir:$T/o1o" --state "$T/s1o.db" -q
ref mboxo "$D/single.mbox=INBOX" > "$T/o1o.want"
check single-mboxo "$T/o1o.want" "$T/o1o"
cmp -s "$T/o1.want" "$T/o1o.want" && fail "fixture does not tell mboxrd from mboxo"
# Internal dates come from the From_ lines (asctime, taken as UTC).
dates=$(stat -c %Y "$T"/o1/cur/* | sort -n | tr '\n' ' ')
assert_eq "$dates" "1795694400 1795768200 1795856400 " "internal dates from From_ lines"

echo "== mbox tree (Thunderbird .sbd, Apple Mail X.mbox/, plain subdirectory)"
mf migrate "mbox:$D/tree" "maildir:$T/o2" --state "$T/s2.db" -q
t="$D/tree"
ref mboxrd "$t/Inbox=INBOX" "$t/Sent=Sent" "$t/Archive.sbd/2024=Archive/2024" \
	"$t/Archive.sbd/2025=Archive/2025" "$t/Projects=Projects" \
	"$t/Projects.sbd/Alpha=Projects/Alpha" "$t/lists/mutt-users=lists/mutt-users" \
	"$t/Junk.mbox/mbox=Junk" > "$T/o2.want"
check mbox-tree "$T/o2.want" "$T/o2"
[ -d "$T/o2/.Drafts" ] || fail "the empty Drafts mbox did not become a folder"

echo "== Maildir++ (keywords, modified UTF-7 name, tmp/ ignored)"
mf migrate "maildir:$D/maildir" "maildir:$T/o3" --state "$T/s3.db" -q
m="$D/maildir"
ref maildir "$m/cur=INBOX" "$m/new=INBOX" "$m/.Sent/cur=Sent" \
	"$m/.Archive.2024/cur=Archive/2024" "$m/.Drafts/new=Drafts" \
	"$m/.&ZeVnLIqe-/cur=日本語" > "$T/o3.want"
check maildir "$T/o3.want" "$T/o3"
kw=$(ls "$T/o3/cur" | sed -n 's/.*:2,[A-Z]*\([a-z]\).*/\1/p')
[ -n "$kw" ] || fail "the \$Work keyword was not passed on"
idx=$(( $(printf '%d' "'$kw") - 97 ))
grep -q "^$idx \$Work\$" "$T/o3/dovecot-keywords" || fail "keyword letter $kw is not \$Work"

echo "== nested maildirs"
mf migrate "maildir:$D/maildir-tree" "maildir:$T/o4" --state "$T/s4.db" -q
n="$D/maildir-tree"
ref maildir "$n/INBOX/cur=INBOX" "$n/INBOX/new=INBOX" \
	"$n/Projects/Alpha/cur=Projects/Alpha" "$n/Projects/Beta/new=Projects/Beta" \
	> "$T/o4.want"
check maildir-tree "$T/o4.want" "$T/o4"

echo "== .eml tree (readpst -e layout), and seen=1"
mf migrate "eml:$D/eml" "maildir:$T/o5" --state "$T/s5.db" -q
e="$D/eml"
# The local sink files special-use folders under its own Sent and Trash.
ref eml "$e=INBOX" "$e/Sent Items=Sent" \
	"$e/Top of Personal Folders/Deleted Items=Trash" > "$T/o5.want"
check eml "$T/o5.want" "$T/o5"
d1=$(stat -c %Y "$T"/o5/cur/1793610000.* 2>/dev/null | head -n1)
assert_eq "$d1" 1793610000 "internal date of 1.eml from its Date: header"
mf migrate "eml:$D/eml?seen=1" "maildir:$T/o6" --state "$T/s6.db" -q
sed 's/\t$/\tS/' "$T/o5.want" > "$T/o6.want"
check eml-seen "$T/o6.want" "$T/o6"

echo "== round trip through the local sink's mbox writer (mboxrd)"
# Bytes and internal dates must survive maildir → mbox → maildir; flags do
# not (the mbox sink keeps message bytes exact, so it writes no Status:).
mf migrate "maildir:$D/maildir" "mbox:$T/rt-mbox" --state "$T/s8.db" -q
mf migrate "mbox:$T/rt-mbox" "maildir:$T/o8" --state "$T/s9.db" -q
cut -f1,2 "$T/o3.want" | sed 's/$/	/' > "$T/o8.want"
check mbox-round-trip "$T/o8.want" "$T/o8"
# Again with the quoting-heavy single.mbox messages (already in $T/o1);
# their flags live in Status:/X-Status: inside the bytes, so they return.
mf migrate "maildir:$T/o1" "mbox:$T/rt-mbox2" --state "$T/s10.db" -q
mf migrate "mbox:$T/rt-mbox2" "maildir:$T/o9" --state "$T/s11.db" -q
check mbox-round-trip-quoting "$T/o1.want" "$T/o9"
a=$(stat -c %Y "$T"/o3/cur/* | sort | tr '\n' ' ')
b=$(stat -c %Y "$T"/o8/cur/* | sort | tr '\n' ' ')
assert_eq "$b" "$a" "internal dates after the round trip"

echo "== maildir ids survive flag changes and moves to cur/"
cp -r "$D/maildir" "$T/md"
mf migrate "maildir:$T/md" "maildir:$T/o7" --state "$T/s7.db" --json -q > "$T/r1.json"
assert_eq "$(summary "$T/r1.json")" "7 0" "first run"
mv "$T/md/cur/1700000000.M1P1.host:2,S" "$T/md/cur/1700000000.M1P1.host:2,RS"
mv "$T/md/new/1700000002.M3P3.host" "$T/md/cur/1700000002.M3P3.host:2,S"
mf migrate "maildir:$T/md" "maildir:$T/o7" --state "$T/s7.db" --json -q > "$T/r2.json"
assert_eq "$(summary "$T/r2.json")" "0 0" "second run after flag changes"
echo "ok"
