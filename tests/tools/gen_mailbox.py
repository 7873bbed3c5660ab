#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate a realistic, reproducible mailbox tree for tests, the demo and
benchmarks: Maildir++ , an mbox tree (mboxrd) or an .eml tree, plus a
manifest listing "folder<TAB>sha256<TAB>size" of every message as it must
arrive at the target.

Messages are mostly 2-30 KB text/HTML mails; a fraction carry 0.1-2 MB
base64 attachments.  Nasty bits are mixed in on purpose: "From " at the
start of body lines, ">From " lines, CRLF and LF line ends, 8-bit
headers, non-ASCII folder names, duplicate Message-IDs on distinct mails.
"""
import argparse
import base64
import email.utils
import hashlib
import os
import random

FOLDERS = ["INBOX", "Sent", "Drafts", "Projects", "Projects/2024", "Archiv/Übersicht"]
WORDS = ("migration mailbox server folder project budget meeting report quarter "
         "customer invoice schedule review draft contract weekly status update "
         "from the team please note attached").split()


def body_text(rng, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
        if rng.random() < 0.03:
            line = "From the desk of " + line      # must be escaped in mbox
        elif rng.random() < 0.02:
            line = ">From an earlier quote " + line
        out.append(line)
        n += len(line) + 1
    return out


def make_message(rng, i, folder, big_fraction, max_big):
    crlf = rng.random() < 0.3
    nl = "\r\n" if crlf else "\n"
    date = email.utils.formatdate(1600000000 + i * 3607 + rng.randint(0, 3600), localtime=False)
    mid = "<%d.%d@old.example.com>" % (i if rng.random() > 0.01 else 1, 4242)
    subject = "Status %d: %s" % (i, " ".join(rng.choice(WORDS) for _ in range(4)))
    if rng.random() < 0.1:
        subject = "=?UTF-8?B?%s?=" % base64.b64encode(("Grüße %d" % i).encode()).decode()
    headers = [
        "Return-Path: <user%d@old.example.com>" % (i % 17),
        "Received: from mx.old.example.com by old.example.com; %s" % date,
        "From: User %d <user%d@old.example.com>" % (i % 17, i % 17),
        "To: alice@old.example.com",
        "Subject: %s" % subject,
        "Date: %s" % date,
        "Message-ID: %s" % mid,
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.05:
        headers.append("X-Legacy: caf\xe9 8-bit header")
    big = rng.random() < big_fraction
    text = body_text(rng, rng.randint(2000, 30000))
    if not big:
        headers.append("Content-Type: text/plain; charset=utf-8")
        lines = headers + [""] + text
    else:
        boundary = "=_mf_%d" % i
        headers.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
        payload = rng.randbytes(rng.randint(100 * 1024, max_big))
        b64 = base64.encodebytes(payload).decode().splitlines()
        lines = headers + ["", "--" + boundary, "Content-Type: text/plain", ""] + text + [
            "--" + boundary, "Content-Type: application/octet-stream",
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="file%d.bin"' % i, ""] + b64 + [
            "--" + boundary + "--", ""]
    raw = nl.join(lines).encode("utf-8", "surrogateescape")
    if not raw.endswith(nl.encode()):
        raw += nl.encode()
    return raw


def maildir_dir(root, folder, layout):
    if folder == "INBOX":
        return root
    if layout == "fs":  # Dovecot LAYOUT=fs: one directory level per folder level
        return os.path.join(root, *folder.split("/"))
    return os.path.join(root, "." + folder.replace("/", "."))


def write_maildir(root, folder, i, raw, rng, layout):
    d = maildir_dir(root, folder, layout)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if folder != "INBOX" and layout != "fs":
        open(os.path.join(d, "maildirfolder"), "a").close()
    flags = "".join(f for f, p in (("F", 0.1), ("R", 0.2), ("S", 0.7)) if rng.random() < p)
    base = "%d.M%dP%d.gen" % (1600000000 + i, i, os.getpid())
    if flags or rng.random() < 0.5:
        path = os.path.join(d, "cur", base + ":2," + flags)
    else:
        path = os.path.join(d, "new", base)
    with open(path, "wb") as f:
        f.write(raw)
    t = 1600000000 + i * 3607
    os.utime(path, (t, t))


def mboxrd_escape(raw):
    out = []
    for line in raw.split(b"\n"):
        stripped = line.lstrip(b">")
        if stripped.startswith(b"From "):
            line = b">" + line
        out.append(line)
    return b"\n".join(out)


def write_mbox(root, folder, raw, i):
    parts = folder.split("/")
    path = os.path.join(root, *[p + ".sbd" for p in parts[:-1]], parts[-1])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(b"From user@old.example.com Sat Jan  2 10:%02d:00 2021\n" % (i % 60))
        body = mboxrd_escape(raw)
        f.write(body)
        if not body.endswith(b"\n"):
            f.write(b"\n")
        f.write(b"\n")


def write_eml(root, folder, raw, i):
    d = os.path.join(root, *folder.split("/")) if folder != "INBOX" else os.path.join(root, "Inbox")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%06d.eml" % i), "wb") as f:
        f.write(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--format", choices=["maildir", "mbox", "eml"], default="maildir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--big-fraction", type=float, default=0.03)
    ap.add_argument("--max-big", type=int, default=2 * 1024 * 1024)
    ap.add_argument("--folders", default=",".join(FOLDERS))
    ap.add_argument("--manifest")
    ap.add_argument("--layout", choices=["maildir++", "fs"], default="maildir++",
                    help="maildir folder layout (fs = Dovecot LAYOUT=fs)")
    ap.add_argument("--first", type=int, default=1, help="number of the first message")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    folders = a.folders.split(",")
    manifest = []
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.first, a.first + a.messages):
        folder = folders[0] if rng.random() < 0.4 else rng.choice(folders)
        raw = make_message(rng, i, folder, a.big_fraction, a.max_big)
        if a.format == "mbox":
            # mbox cannot keep CR-free distinctions or a missing final
            # newline; what arrives is what was stored.
            write_mbox(a.out, folder, raw, i)
        elif a.format == "eml":
            write_eml(a.out, folder, raw, i)
        else:
            write_maildir(a.out, folder, i, raw, rng, a.layout)
        manifest.append("%s\t%s\t%d" % (folder, hashlib.sha256(raw).hexdigest(), len(raw)))
    if a.manifest:
        with open(a.manifest, "w") as f:
            f.write("\n".join(sorted(manifest)) + "\n")


if __name__ == "__main__":
    main()
