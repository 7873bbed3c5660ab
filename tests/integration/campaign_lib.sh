# SPDX-License-Identifier: MIT
# Helpers for the fault campaigns (kill_campaign.sh, cut_campaign.sh,
# full_disk.sh), sourced after lib.sh: a seed printed so a failure can be
# replayed, seeding Dovecot mailboxes from it, and one describer that
# reads a mailbox from IMAP, a maildir sink tree or an mbox sink tree and
# prints one line per message:
#     <folder (UTF-8)> <sha256 of the message bytes> <flags> <date>
# so that two sides compare with diff: a lost message is a missing line,
# a duplicate a repeated one, a torn or altered message a foreign digest.
# Not a test itself.

# campaign_seed: MAILFERRY_SEED or a random one, printed first.
campaign_seed() {
	SEED=${MAILFERRY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	echo "seed $SEED: replay with MAILFERRY_SEED=$SEED"
}

CAMPAIGN_PY="$T/campaign.py"
cat >"$CAMPAIGN_PY" <<'PYEOF'
import base64, calendar, hashlib, imaplib, os, random, re, ssl, sys, time

sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "tools"))
from mutf7 import decode as mutf7_decode, quote as mutf7_encode  # noqa: E402

def login(port, user, pw):
    M = imaplib.IMAP4("127.0.0.1", int(port))
    M.login(user, pw)
    return M

# seed PORT USER PASS SEED N FOLDER...: N messages spread over the
# folders, CRLF line ends throughout (IMAP serves CRLF whatever is
# stored, so every side holds the same bytes), flags, keywords and
# internal dates drawn from SEED, about one in twelve 100-300 KB.
def seed(port, user, pw, s, n, *folders):
    r = random.Random(int(s))
    M = login(port, user, pw)
    for f in folders:
        if f != "INBOX":
            M.create(mutf7_encode(f))
    words = "alpha beta gamma delta From from >From epsilon zeta eta theta".split()
    for i in range(int(n)):
        box = folders[i % len(folders)]
        size = r.randrange(100000, 300000) if r.random() < 0.08 else r.randrange(300, 6000)
        lines, got = [], 0
        while got < size:
            ln = " ".join(r.choice(words) for _ in range(r.randrange(1, 14)))
            lines.append(ln)
            got += len(ln) + 2
        mid = "Message-ID: <%s.%d.%d@campaign>\r\n" % (user, int(s), i) if i % 9 else ""
        data = ("From: a%d@old.example\r\nTo: %s\r\nSubject: %s m%d\r\n%s\r\n%s\r\n"
                % (i, user, user, i, mid, "\r\n".join(lines))).encode()
        flags = [f for f, p in (("\\Seen", 0.6), ("\\Flagged", 0.15), ("\\Answered", 0.2),
                                ("$Label1", 0.1)) if r.random() < p]
        date = '"%02d-%s-20%02d %02d:%02d:%02d +0000"' % (
            r.randrange(1, 29), r.choice(["Jan", "Mar", "Jul", "Nov"]), r.randrange(10, 24),
            r.randrange(24), r.randrange(60), r.randrange(60))
        typ, resp = M.append(mutf7_encode(box), "(%s)" % " ".join(flags), date, data)
        if typ != "OK":
            sys.exit("append: %r" % (resp,))
    M.logout()

def imap_epoch(d):
    return str(calendar.timegm(time.strptime(d[:20], "%d-%b-%Y %H:%M:%S")) -
               (1 if d[21] == "+" else -1) * (int(d[22:24]) * 3600 + int(d[24:26]) * 60))

SYS = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R", "\\Draft": "D", "\\Deleted": "T"}

# imap PORT USER PASS [noflags]: every message as "folder sha flags epoch"
def imap(port, user, pw, mode=""):
    M = login(port, user, pw)
    typ, boxes = M.list('""', '"*"')
    out = []
    for b in boxes:
        m = re.match(r'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', b.decode())
        if "\\Noselect" in m.group(1) or "\\NonExistent" in m.group(1):
            continue
        name = m.group(3)
        raw = name[1:-1].replace('\\"', '"').replace("\\\\", "\\") if name.startswith('"') else name
        typ, _ = M.select(name if name.startswith('"') else '"%s"' % name, readonly=True)
        typ, data = M.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta = item[0].decode()
            fl = re.search(r"FLAGS \((.*?)\)", meta).group(1).split()
            fl = sorted(SYS.get(f, f) for f in fl if f != "\\Recent")
            date = imap_epoch(re.search(r'INTERNALDATE "(.*?)"', meta).group(1))
            if mode == "noflags":
                fl = ["(mbox)"]
            out.append("%s %s %s %s" % (mutf7_decode(raw), hashlib.sha256(item[1]).hexdigest(),
                                        ",".join(fl) or "-", date))
    M.logout()
    return out

# maildir DIR [mbox]: a Maildir++ tree (flags from the info suffix,
# keywords through the folder's dovecot-keywords, date from the mtime);
# with "mbox", as the mbox sink must hold it: no flags, and a final
# newline added to a message without one.
def maildir(root, mode=""):
    out = []
    for d in ["."] + sorted(e for e in os.listdir(root) if e.startswith(".")):
        base = os.path.join(root, d)
        if not os.path.isdir(os.path.join(base, "cur")):
            continue
        folder = "INBOX" if d == "." else d[1:].replace(".", "/")
        kw = {}
        kwf = os.path.join(base, "dovecot-keywords")
        if os.path.exists(kwf):
            for ln in open(kwf):
                idx, _, word = ln.strip().partition(" ")
                kw[chr(ord("a") + int(idx))] = word
        for sub in ("cur", "new"):
            for name in os.listdir(os.path.join(base, sub)):
                p = os.path.join(base, sub, name)
                info = name.partition(":2,")[2]
                fl = sorted(kw.get(c, c) if c.islower() else c for c in info)
                data = open(p, "rb").read()
                if mode == "mbox":
                    fl = ["(mbox)"]
                    if not data.endswith(b"\n"):
                        data += b"\n"
                out.append("%s %s %s %d" % (folder, hashlib.sha256(data).hexdigest(),
                                            ",".join(fl) or "-", int(os.stat(p).st_mtime)))
        leftovers = os.listdir(os.path.join(base, "tmp"))
        if leftovers:
            out.append("%s LEFT-IN-TMP %s" % (folder, " ".join(sorted(leftovers))))
    return out

# mbox DIR: the sink's Thunderbird tree of mboxrd files.  Each message is
# the bytes after its From_ line up to the empty separator line, with one
# '>' taken off every ^>+From line; the date comes from the From_ line.
# A file must end with a complete message and its separator: anything
# else (a torn tail) is reported as a line of its own.
FROM_RE = re.compile(rb"^From MAILER-DAEMON (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\n")
def mbox(root):
    out = []
    for dp, dns, fns in os.walk(root):
        for fn in fns:
            if fn.startswith("."):
                out.append("JOURNAL-LEFT %s" % os.path.join(dp, fn))
                continue
            rel = os.path.relpath(os.path.join(dp, fn), root)
            folder = rel.replace(".sbd/", "/")
            data = open(os.path.join(dp, fn), "rb").read()
            if not data:
                continue
            if not data.startswith(b"From ") or not data.endswith(b"\n\n"):
                out.append("%s TORN-FILE size=%d" % (folder, len(data)))
            starts = [m.start() for m in re.finditer(rb"(?:^|(?<=\n\n))From ", data)]
            for k, st in enumerate(starts):
                end = starts[k + 1] if k + 1 < len(starts) else len(data)
                chunk = data[st:end]
                m = FROM_RE.match(chunk)
                if m is None:
                    out.append("%s BAD-FROM-LINE %r" % (folder, chunk[:60]))
                    continue
                body = chunk[m.end():]
                if body.endswith(b"\n"):
                    body = body[:-1]
                body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
                epoch = calendar.timegm(time.strptime(m.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
                out.append("%s %s (mbox) %d" % (folder, hashlib.sha256(body).hexdigest(), epoch))
    return out

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "seed":
    seed(*args)
else:
    for line in sorted({"imap": imap, "maildir": maildir, "mbox": mbox}[cmd](*args)):
        print(line)
PYEOF

# campaign_py CMD ARGS...: run the helper above (seed, imap, maildir, mbox).
campaign_py() { python3 "$CAMPAIGN_PY" "$@"; }

# What a sanitizer build prints when it finds something (grep pattern).
SANITIZER_RE='ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:'

# Summary counts of a --json run: "copied failed".
campaign_counts() {
	grep '"event":"summary"' "$1" | sed 's/.*"copied":\([0-9]*\).*"failed":\([0-9]*\).*/\1 \2/'
}

# campaign_compare WANT GOT LABEL: prints "lost duplicated" counts of GOT
# against WANT (multisets of lines) and the differing lines on stderr.
campaign_compare() {
	python3 - "$1" "$2" "$3" <<'PYEOF'
import collections, sys
want = collections.Counter(open(sys.argv[1]).read().splitlines())
got = collections.Counter(open(sys.argv[2]).read().splitlines())
lost = sum((want - got).values())
dup = sum((got - want).values())
for l in list((want - got).elements())[:5]:
    print("  %s: missing or altered: %s" % (sys.argv[3], l), file=sys.stderr)
for l in list((got - want).elements())[:5]:
    print("  %s: extra or foreign: %s" % (sys.argv[3], l), file=sys.stderr)
print(lost, dup)
PYEOF
}
