#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Describe an IMAP mailbox so that two servers can be compared byte for
byte: one line per message, sorted,

    <folder> <sha256 of BODY[]> <sorted flags or -> <internal date, epoch s>

with folder names without the personal namespace prefix ("INBOX." on
Cyrus and Courier) and '/' between levels whatever the server's
separator, so Dovecot, Cyrus and Courier describe the same mailbox alike.
The password comes from MF_PASS (never argv).

    imap_describe.py PORT USER [--tls | --starttls] [--ca FILE]
                     [--content-only | --special-use]

--content-only prints only "<folder> <sha256>" (for POP3 copies, which
carry no flags or dates); --special-use prints "<use> <folder>" for every
folder with a special-use attribute instead of messages.
"""
import argparse
import hashlib
import imaplib
import os
import re
import ssl
import time

USES = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--content-only", action="store_true")
    ap.add_argument("--special-use", action="store_true")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca) if a.ca else None
    if a.tls:
        M = imaplib.IMAP4_SSL("127.0.0.1", a.port, ssl_context=ctx, timeout=60)
    else:
        M = imaplib.IMAP4("127.0.0.1", a.port, timeout=60)
        if a.starttls:
            M.starttls(ssl_context=ctx)
    M.login(a.user, os.environ["MF_PASS"])
    if a.special_use and "SPECIAL-USE" in M.capabilities:
        typ, boxes = M.list('""', '"*" RETURN (SPECIAL-USE)')
    else:
        typ, boxes = M.list('""', '"*"')
    assert typ == "OK", boxes
    lines = []
    for b in boxes:
        if b is None:
            continue
        b = b.decode()
        m = re.match(r'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', b)
        attrs = m.group(1)
        if "\\Noselect" in attrs or "\\NonExistent" in attrs:
            continue
        sep = m.group(2).strip('"')
        name = m.group(3)
        raw = name[1:-1].replace('\\"', '"').replace("\\\\", "\\") if name.startswith('"') else name
        norm = raw
        if sep != "NIL" and norm.upper().startswith("INBOX" + sep):
            norm = norm[6:]
        if sep not in ("NIL", "/"):
            norm = norm.replace(sep, "/")
        if a.special_use:
            for u in USES:
                if u.lower() in attrs.lower().split():
                    lines.append("%s %s" % (u, norm))
            continue
        typ, _ = M.select('"%s"' % raw.replace("\\", "\\\\").replace('"', '\\"'), readonly=True)
        assert typ == "OK", raw
        typ, data = M.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            digest = hashlib.sha256(item[1]).hexdigest()
            if a.content_only:
                lines.append("%s %s" % (norm, digest))
                continue
            meta = item[0].decode()
            flags = sorted(f for f in re.search(r"FLAGS \((.*?)\)", meta).group(1).split()
                           if f != "\\Recent")
            when = time.mktime(imaplib.Internaldate2tuple(item[0]))
            lines.append("%s %s %s %d" % (norm, digest, ",".join(flags) or "-", int(when)))
    for line in sorted(lines):
        print(line)
    M.logout()


if __name__ == "__main__":
    main()
