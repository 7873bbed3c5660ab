#!/bin/sh
# SPDX-License-Identifier: MIT
# Cyrus IMAP 3.6 as sink and as source, COMPRESS=DEFLATE (RFC 4978)
# (issues 15 and 17): a generated mailbox (a few hundred messages, nested
# non-ASCII folders, flags, dates, 8-bit headers, LF and CRLF mail) moved
#   1. Dovecot -> Cyrus (imaps: compression above TLS): compression on the sink side (Cyrus offers it,
#      Dovecot 2.3 without imap_zlib does not): the JSON summary shows it
#      active and fewer wire than plain bytes; byte-identical with flags
#      and dates; a re-run copies 0; mailferry verify agrees;
#   2. Cyrus -> Dovecot: compression on the source side, the same checks;
#   3. Dovecot -> Cyrus with ?compress=no: no compression, still identical;
#   4. into a Cyrus with its default munge8bit: 1, which rewrites raw 8-bit
#      header bytes on APPEND: mailferry verify must report that message
#      as missing on the target (and the other one as fine);
#   5. into a Cyrus with its 3.x default layout (altnamespace and
#      unixhierarchysep: '/' separator, folders beside INBOX): identical;
#   6. a maildir holding a message with a NUL byte and one with a bare CR
#      among good ones, into Cyrus: it refuses the NUL (RFC 3501 forbids
#      NUL in a literal) and stores the bare CR as it is.  The refusal is
#      recorded with Cyrus's words and the message named, the run goes on
#      (exit 1), the others land once, the bare CR byte-identical; a
#      re-run copies nothing again.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/dovecot.sh"
. "$top_srcdir/tests/integration/imap_lib.sh"
. "$top_srcdir/tests/integration/cyrus.sh"
cyrus_available || { echo "SKIP: Cyrus not unpacked (tools/install-cyrus.sh)"; exit 77; }

N=${MF_CYRUS_MESSAGES:-300}
dovecot_user src alice secret-a
dovecot_user src dave secret-d
dovecot_user src erin secret-e
dovecot_start src
cyrus_user dst bob secret-b
cyrus_user dst carol secret-c
cyrus_user dst henry secret-h
cyrus_start dst
cyrus_user munged frank secret-f
CYRUS_MUNGE8BIT=1 cyrus_start munged
cyrus_user alt gina secret-g
CYRUS_ALTNAMESPACE=yes CYRUS_UNIXHIERARCHYSEP=yes cyrus_start alt
trap 'st=$?; [ $st = 0 ] || { dovecot_dump_logs src; cyrus_dump_logs dst munged alt; }; eval "$mf_cleanup_hooks"; rm -rf "$T"; exit $st' EXIT

python3 "$top_srcdir/tests/tools/gen_mailbox.py" --format maildir --layout fs \
	--out "$(dovecot_var src dir)/mail/alice" --messages "$N" --seed 15 \
	--big-fraction 0.03 --max-big 300000 \
	--folders 'INBOX,Sent,Projects,Projects/2024,Archiv/Übersicht,Archiv/Übersicht/Älter,日本語'
dovecot_seeded src alice
cat "$(dovecot_var src cert)" "$(cyrus_var dst cert)" >"$T/ca.pem"
for u in a b c d e f g h; do echo "secret-$u" >"$T/pw-$u"; done
DOVE="imaps://%s@127.0.0.1:$(dovecot_var src imaps)"
CYR="imap://%s@127.0.0.1:$(cyrus_var dst imap)/?tls=none"
CYRS="imaps://%s@127.0.0.1:$(cyrus_var dst imaps)"

# describe PORT USER PASS TLS: one line per message, sorted, names without
# the personal namespace prefix and with '/' between levels
# (tests/tools/imap_describe.py, shared with courier_matrix.sh):
#   <folder> <sha256 of BODY[]> <flags> <internal date as epoch seconds>
describe() {
	tls=""
	[ "$4" = 1 ] && tls="--tls --ca $T/ca.pem"
	MF_PASS=$3 python3 "$top_srcdir/tests/tools/imap_describe.py" "$1" "$2" $tls
}

# io SIDE FIELD FILE: a field of the summary event's io.SIDE
io() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
side, field, path = sys.argv[1:]
ev = [json.loads(l) for l in open(path) if l.startswith("{")]
s = [e for e in ev if e.get("event") == "summary"][-1]
print(json.dumps(s["io"][side][field]))
EOF
}
copied() { grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*/\1/'; }

run() { # state source sink
	st=$1 src=$2 snk=$3
	shift 3
	mf migrate "$src" "$snk" --state "$T/$st.db" --ca-file "$T/ca.pem" --json \
		--timeout 30 "$@"
}

describe "$(dovecot_var src imaps)" alice secret-a 1 >"$T/alice.txt"
[ "$(wc -l <"$T/alice.txt")" -eq "$N" ] || fail "seeding: $(wc -l <"$T/alice.txt") messages"

echo "== 1. Dovecot -> Cyrus, COMPRESS on the sink side"
t0=$(date +%s)
run s1 "$(printf "$DOVE" alice)" "$(printf "$CYRS" bob)" --source-password-file "$T/pw-a" \
	--sink-password-file "$T/pw-b" >"$T/run1.json" 2>"$T/run1.err" ||
	{ cat "$T/run1.err"; fail "Dovecot -> Cyrus failed"; }
echo "   $(copied "$T/run1.json") copied in $(( $(date +%s) - t0 )) s"
assert_eq "$(copied "$T/run1.json")" "$N" "messages copied to Cyrus"
assert_eq "$(io sink compressed "$T/run1.json")" true "compression on the Cyrus side"
assert_eq "$(io source compressed "$T/run1.json")" false "Dovecot offers no COMPRESS"
grep -q "COMPRESS=DEFLATE active" "$T/run1.err" || fail "no 'COMPRESS=DEFLATE active' in the log"
pin=$(io sink plain_out "$T/run1.json") win=$(io sink wire_out "$T/run1.json")
echo "   sink: $pin plain bytes sent, $win on the wire"
[ "$win" -gt 0 ] && [ "$win" -lt "$pin" ] || fail "compressed sink bytes $win not below plain $pin"
src_p=$(io source plain_in "$T/run1.json") src_w=$(io source wire_in "$T/run1.json")
assert_eq "$src_w" "$src_p" "uncompressed source: wire == plain"
describe "$(cyrus_var dst imap)" bob secret-b 0 >"$T/bob.txt"
diff "$T/alice.txt" "$T/bob.txt" >&2 || fail "Cyrus copy differs from the Dovecot source"

run s1 "$(printf "$DOVE" alice)" "$(printf "$CYRS" bob)" --source-password-file "$T/pw-a" \
	--sink-password-file "$T/pw-b" >"$T/run1b.json" 2>"$T/run1b.err" ||
	{ cat "$T/run1b.err"; fail "re-run failed"; }
assert_eq "$(copied "$T/run1b.json")" 0 "re-run copies"
MAILFERRY_SOURCE_PASSWORD=secret-a MAILFERRY_SINK_PASSWORD=secret-b \
	mf verify "$(printf "$DOVE" alice)" "$(printf "$CYRS" bob)" --ca-file "$T/ca.pem" --state "$T/s1.db" \
	--report "$T/report1" >"$T/verify1.out" 2>&1 || { cat "$T/verify1.out"; fail "verify Dovecot/Cyrus"; }

echo "== 2. Cyrus -> Dovecot, COMPRESS on the source side"
run s2 "$(printf "$CYR" bob)" "$(printf "$DOVE" dave)" --source-password-file "$T/pw-b" \
	--sink-password-file "$T/pw-d" >"$T/run2.json" 2>"$T/run2.err" ||
	{ cat "$T/run2.err"; fail "Cyrus -> Dovecot failed"; }
assert_eq "$(copied "$T/run2.json")" "$N" "messages copied from Cyrus"
assert_eq "$(io source compressed "$T/run2.json")" true "compression on the Cyrus side"
assert_eq "$(io sink compressed "$T/run2.json")" false "Dovecot sink uncompressed"
pin=$(io source plain_in "$T/run2.json") win=$(io source wire_in "$T/run2.json")
echo "   source: $pin plain bytes received, $win on the wire"
[ "$win" -gt 0 ] && [ "$win" -lt "$pin" ] || fail "compressed source bytes $win not below plain $pin"
describe "$(dovecot_var src imaps)" dave secret-d 1 >"$T/dave.txt"
diff "$T/bob.txt" "$T/dave.txt" >&2 || fail "Dovecot copy differs from the Cyrus source"
run s2 "$(printf "$CYR" bob)" "$(printf "$DOVE" dave)" --source-password-file "$T/pw-b" \
	--sink-password-file "$T/pw-d" >"$T/run2b.json" 2>/dev/null || fail "re-run 2 failed"
assert_eq "$(copied "$T/run2b.json")" 0 "re-run copies"

echo "== 3. Dovecot -> Cyrus with ?compress=no"
run s3 "$(printf "$DOVE" alice)" "$(printf "$CYR" carol)&compress=no" \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-c" \
	>"$T/run3.json" 2>"$T/run3.err" || { cat "$T/run3.err"; fail "compress=no run failed"; }
assert_eq "$(copied "$T/run3.json")" "$N" "messages copied with compress=no"
assert_eq "$(io sink compressed "$T/run3.json")" false "compress=no honoured"
assert_eq "$(io sink wire_out "$T/run3.json")" "$(io sink plain_out "$T/run3.json")" \
	"uncompressed: wire == plain"
grep -q "COMPRESS=DEFLATE active" "$T/run3.err" && fail "compression used despite compress=no"
describe "$(cyrus_var dst imap)" carol secret-c 0 >"$T/carol.txt"
diff "$T/alice.txt" "$T/carol.txt" >&2 || fail "compress=no copy differs"
echo "== 4. Cyrus with munge8bit: 1 alters 8-bit headers; verify says so"
printf 'From: a@example.com\r\nSubject: plain\r\n\r\nascii only\r\n' |
	imap_append src erin secret-e INBOX '\Seen' '01-Feb-2020 10:00:00 +0000'
printf 'From: a@example.com\r\nSubject: 8bit\r\nX-Legacy: caf\351\r\n\r\nbody\r\n' |
	imap_append src erin secret-e INBOX '' '02-Feb-2020 10:00:00 +0000'
CYR4="imap://frank@127.0.0.1:$(cyrus_var munged imap)/?tls=none"
run s4 "$(printf "$DOVE" erin)" "$CYR4" --source-password-file "$T/pw-e" \
	--sink-password-file "$T/pw-f" >"$T/run4.json" 2>"$T/run4.err" ||
	{ cat "$T/run4.err"; fail "run into the munging Cyrus failed"; }
assert_eq "$(copied "$T/run4.json")" 2 "messages copied into the munging Cyrus"
rc=0
MAILFERRY_SOURCE_PASSWORD=secret-e MAILFERRY_SINK_PASSWORD=secret-f \
	mf verify "$(printf "$DOVE" erin)" "$CYR4" --ca-file "$T/ca.pem" --state "$T/s4.db" \
	--report "$T/report4" >"$T/verify4.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || { cat "$T/verify4.out"; fail "verify missed the altered message"; }
python3 - "$T/report4/verify-report.json" <<'EOF' || fail "verify report: $(cat "$T/report4/verify-report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
inbox = [f for f in r["accounts"][0]["folders"] if f["target"] == "INBOX"][0]
assert inbox["source_messages"] == 2 and inbox["target_messages"] == 2, inbox
assert inbox["missing"] == 1 and inbox["extra"] == 1, inbox
EOF
echo "== 5. Dovecot -> Cyrus with altnamespace and '/' as separator"
run s5 "$(printf "$DOVE" alice)" "imap://gina@127.0.0.1:$(cyrus_var alt imap)/?tls=none" \
	--source-password-file "$T/pw-a" --sink-password-file "$T/pw-g" \
	>"$T/run5.json" 2>"$T/run5.err" || { cat "$T/run5.err"; fail "run into alt Cyrus failed"; }
assert_eq "$(copied "$T/run5.json")" "$N" "messages copied into the alt-namespace Cyrus"
describe "$(cyrus_var alt imap)" gina secret-g 0 >"$T/gina.txt"
diff "$T/alice.txt" "$T/gina.txt" >&2 || fail "alt-namespace copy differs"
echo "== 6. Cyrus refuses a message with a NUL byte, stores one with a bare CR"
md=$T/refuse
mkdir -p "$md/cur" "$md/new" "$md/tmp"
msg() { printf 'From: a@example.com\r\nSubject: %s\r\nMessage-ID: <%s@refuse>\r\n\r\n' "$2" "$2" >"$md/cur/$1"; }
msg 1000000001.M1P1.h:2,S good-1 && printf 'fine\r\n' >>"$md/cur/1000000001.M1P1.h:2,S"
msg 1000000002.M2P1.h:2,S nul && printf 'a\000b\r\n' >>"$md/cur/1000000002.M2P1.h:2,S"
msg 1000000003.M3P1.h:2,S bare-cr && printf 'a\rb\r\n' >>"$md/cur/1000000003.M3P1.h:2,S"
msg 1000000004.M4P1.h:2,S good-2 && printf 'fine\r\n' >>"$md/cur/1000000004.M4P1.h:2,S"
rc=0
run s6 "maildir:$md" "imap://henry@127.0.0.1:$(cyrus_var dst imap)/?tls=none" \
	--sink-password-file "$T/pw-h" --name henry >"$T/run6.json" 2>"$T/run6.err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/run6.err"; fail "refusals: exit $rc, expected 1 (some messages failed)"; }
line=$(grep '"outcome":"failed".*1000000002.M2P1.h' "$T/run6.json") ||
	{ cat "$T/run6.json"; fail "the refusal of the NUL message is not recorded"; }
echo "$line" | grep -q 'NO Message contains NUL' ||
	fail "the refusal lacks Cyrus's words: $line"
echo "   $(echo "$line" | sed 's/.*"error":"\([^"]*\)".*/\1/')"
assert_eq "$(grep -c '"outcome":"failed"' "$T/run6.json")" 1 "messages refused"
assert_eq "$(copied "$T/run6.json")" 3 "messages copied beside the refused one"
mf status henry --state "$T/s6.db" >"$T/status6.txt" 2>&1 || true
grep -q "1000000002.M2P1.h" "$T/status6.txt" || { cat "$T/status6.txt"; fail "status does not list the refused message"; }
rc=0
run s6 "maildir:$md" "imap://henry@127.0.0.1:$(cyrus_var dst imap)/?tls=none" \
	--sink-password-file "$T/pw-h" --name henry >"$T/run6b.json" 2>"$T/run6b.err" || rc=$?
assert_eq "$(copied "$T/run6b.json")" 0 "re-run after refusals copies"
cyrus_py dst henry secret-h >"$T/henry.txt" <<'PY'
import hashlib
typ, d = M.select("INBOX", readonly=True)
print(int(d[0]))
typ, r = M.uid("SEARCH", None, "HEADER", "Message-ID", "<bare-cr@refuse>")
typ, f = M.uid("FETCH", r[0].split()[0], "(BODY.PEEK[])")
print(hashlib.sha256(f[0][1]).hexdigest())
PY
assert_eq "$(sed -n 1p "$T/henry.txt")" 3 "messages in the target after the re-run"
assert_eq "$(sed -n 2p "$T/henry.txt")" "$(sha256sum <"$md/cur/1000000003.M3P1.h:2,S" | cut -d' ' -f1)" \
	"the bare-CR message as stored"
echo "cyrus_compress: OK ($N messages each way)"
