#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scripted IMAP server for the replies real servers will not send.

Usage: imap_server.py SCENARIO PORTFILE LOGFILE [SECONDS]

Listens on 127.0.0.1 (random port, written to PORTFILE), serves clients one
after another, appends every line a client sends (literals summarised) to
LOGFILE, and exits after SECONDS (default 60) whatever happens.  Python 3
standard library only.

Scenarios:
  hung-greeting      accept, never send a greeting
  mid-literal        INBOX with 3 messages; the first connection dies half
                     way through the 2nd message's literal, later ones work
  bogus-untagged     unsolicited and unknown untagged data between replies,
                     an [ALERT], EXPUNGE-free noise; must still work
  xoauth2            only AUTHENTICATE XOAUTH2 (SASL-IR) with token "tok-123"
  alibaba            a target shaped like Alibaba Mail: glued greeting
                     without capabilities, IMAP4rev1 only (no LITERAL+,
                     UIDPLUS, SPECIAL-USE), Chinese folder names,
                     PERMANENTFLAGS without \\*, synchronising literals,
                     APPEND of a message containing REJECTME refused with
                     NO [TOOBIG]; appended messages are saved to LOGFILE.d/
  compress-refused   offers COMPRESS=DEFLATE but answers COMPRESS with NO;
                     the client must go on uncompressed
  starttls-refused   offers STARTTLS and LOGIN, answers STARTTLS with NO; a
                     client that asked for TLS must leave without a password
  no-starttls        does not offer STARTTLS (nor LOGINDISABLED); the same
"""
import base64
import os
import re
import socket
import sys
import time

SCENARIO, PORTFILE, LOGFILE = sys.argv[1], sys.argv[2], sys.argv[3]
LIMIT = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
DEADLINE = time.time() + LIMIT


def log(line):
    with open(LOGFILE, "a", encoding="utf-8", errors="replace") as f:
        f.write(line + "\n")


def msg(n, size_pad=0):
    body = "From: fake@example.com\r\nSubject: message %d\r\nMessage-ID: <%d@fake>\r\n\r\n" % (n, n)
    body += "line of body %d\r\n" % n * (3 + size_pad)
    return body.encode()


class Box:
    def __init__(self, name, msgs, special=""):
        self.name, self.special = name, special
        # uid, flags, internaldate, bytes
        self.msgs = [(i + 1, f, d, b) for i, (f, d, b) in enumerate(msgs)]


def source_boxes():
    return [Box("INBOX", [("\\Seen", "01-Feb-2020 10:00:00 +0800", msg(1)),
                          ("\\Flagged $Label1", "02-Feb-2020 10:00:00 +0000", msg(2, 400)),
                          ("", "03-Feb-2020 10:00:00 -0500", msg(3))])]


class Conn:
    def __init__(self, sock, nconn):
        self.s = sock
        self.f = sock.makefile("rb")
        self.nconn = nconn
        self.selected = None
        self.boxes = STATE["boxes"]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        l = self.f.readline()
        if not l:
            raise EOFError
        return l.rstrip(b"\r\n").decode("utf-8", "replace")

    def read_literal(self, n):
        data = b""
        while len(data) < n:
            chunk = self.f.read(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def caps(self):
        if SCENARIO == "alibaba":
            return "IMAP4rev1"
        if SCENARIO == "xoauth2":
            return "IMAP4rev1 SASL-IR AUTH=XOAUTH2 LOGINDISABLED"
        if SCENARIO == "compress-refused":
            return "IMAP4rev1 LITERAL+ UIDPLUS COMPRESS=DEFLATE"
        if SCENARIO == "starttls-refused":
            return "IMAP4rev1 STARTTLS LITERAL+ UIDPLUS AUTH=PLAIN"
        return "IMAP4rev1 LITERAL+ UIDPLUS"

    def run(self):
        if SCENARIO == "hung-greeting":
            time.sleep(max(0, DEADLINE - time.time()))
            return
        if SCENARIO == "alibaba":
            self.send("* OK AliYun IMAP Server Ready(10.147.40.164)\r\n")
        else:
            self.send("* OK fake IMAP ready\r\n")
        while True:
            l = self.line()
            # Literals inside commands: {n} or {n+} at the end.
            m = re.search(r"\{(\d+)(\+?)\}$", l)
            literal = None
            if m:
                if not m.group(2):
                    self.send("+ Ready for literal data\r\n")
                literal = self.read_literal(int(m.group(1)))
                rest = self.line()
                log("%s <literal %d bytes%s> %s" % (l, len(literal), "" if m.group(2) else " sync", rest))
            else:
                log(l)
            parts = l.split(" ", 2)
            tag = parts[0]
            cmd = parts[1].upper() if len(parts) > 1 else ""
            args = parts[2] if len(parts) > 2 else ""
            if cmd == "UID" and args:
                sub, _, args = args.partition(" ")
                cmd = "UID " + sub.upper()
            if not self.handle(tag, cmd, args, literal):
                return

    def noise(self):
        if SCENARIO == "bogus-untagged":
            self.send("* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"
                      "* XYZZY whatever [odd] 123\r\n"
                      "* OK [ALERT] maintenance tonight\r\n"
                      "* NO something unrelated failed\r\n"
                      "* 3 RECENT\r\n")

    def box(self, name):
        name = name.strip('"')
        for b in self.boxes:
            if b.name == name or (name.upper() == "INBOX" and b.name == "INBOX"):
                return b
        return None

    def handle(self, tag, cmd, args, literal):
        ok = lambda text="done": self.send("%s OK %s\r\n" % (tag, text))
        if cmd == "CAPABILITY":
            self.send("* CAPABILITY %s\r\n" % self.caps())
            ok()
        elif cmd == "LOGIN":
            ok("[CAPABILITY %s] logged in" % self.caps()) if SCENARIO != "xoauth2" else \
                self.send("%s NO LOGIN disabled\r\n" % tag)
        elif cmd == "AUTHENTICATE":
            mech, _, ir = args.partition(" ")
            raw = base64.b64decode(ir) if ir else b""
            if mech.upper() == "XOAUTH2" and raw == b"user=alice@example.com\x01auth=Bearer tok-123\x01\x01":
                ok("authenticated")
            else:
                self.send("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
                self.line()
                self.send("%s NO [AUTHENTICATIONFAILED] bad token\r\n" % tag)
        elif cmd == "LOGOUT":
            self.send("* BYE bye\r\n")
            ok()
            return False
        elif cmd in ("NOOP", "ID", "NAMESPACE"):
            ok()
        elif cmd == "STARTTLS" and SCENARIO == "starttls-refused":
            self.send("%s NO [UNAVAILABLE] TLS is broken today\r\n" % tag)
        elif cmd == "COMPRESS" and SCENARIO == "compress-refused":
            self.send("%s NO [CANNOT] compression is off today\r\n" % tag)
        elif cmd == "LIST":
            if args.endswith('""'):
                self.send('* LIST (\\Noselect) "/" ""\r\n')
            else:
                for b in self.boxes:
                    attrs = "\\HasNoChildren" + (" " + b.special if b.special and SCENARIO != "alibaba" else "")
                    self.send('* LIST (%s) "/" "%s"\r\n' % (attrs, b.name))
            self.noise()
            ok()
        elif cmd == "STATUS":
            b = self.box(args.split(" (")[0])
            self.send('* STATUS "%s" (MESSAGES %d UIDVALIDITY 7)\r\n' % (b.name, len(b.msgs)))
            ok()
        elif cmd in ("SELECT", "EXAMINE"):
            b = self.box(args)
            if b is None:
                self.send("%s NO no such mailbox\r\n" % tag)
                return True
            self.selected = b
            self.send("* FLAGS (\\Answered \\Seen \\Deleted \\Draft \\Flagged)\r\n")
            self.send("* OK [PERMANENTFLAGS (\\Answered \\Seen \\Deleted \\Draft \\Flagged)] Limited\r\n")
            self.send("* %d EXISTS\r\n* 0 RECENT\r\n" % len(b.msgs))
            self.send("* OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT %d] next\r\n" % (len(b.msgs) + 1))
            self.noise()
            ok("[READ-WRITE] selected" if cmd == "SELECT" else "[READ-ONLY] examined")
        elif cmd == "FETCH":
            rng = args.split(" ")[0]
            lo, _, hi = rng.partition(":")
            lo = int(lo)
            hi = len(self.selected.msgs) if hi in ("*", "") and ":" in rng else int(hi or lo)
            for seq in range(lo, hi + 1):
                uid, flags, date, data = self.selected.msgs[seq - 1]
                if "RFC822.SIZE" in args:
                    self.send('* %d FETCH (UID %d FLAGS (%s) INTERNALDATE "%s" RFC822.SIZE %d)\r\n'
                              % (seq, uid, flags, date, len(data)))
                else:
                    self.send("* %d FETCH (UID %d)\r\n" % (seq, uid))
            self.noise()
            ok()
        elif cmd == "UID FETCH":
            wanted = set()
            for part in args.split(" ")[0].split(","):
                a, _, b = part.partition(":")
                wanted.update(range(int(a), int(b or a) + 1))
            for seq, (uid, flags, date, data) in enumerate(self.selected.msgs, 1):
                if uid not in wanted:
                    continue
                head = "* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(data))
                if SCENARIO == "mid-literal" and self.nconn == 1 and uid == 2:
                    self.send(head)
                    self.send(data[: len(data) // 2])
                    time.sleep(0.2)
                    return False  # connection dropped mid-literal
                self.send(head)
                self.send(data + b")\r\n")
                self.noise()
            ok()
        elif cmd == "UID SEARCH":
            self.send("* SEARCH\r\n")
            ok()
        elif cmd == "CREATE":
            name = args.strip('"')
            if self.box(name) is None:
                self.boxes.append(Box(name, []))
            ok()
        elif cmd == "APPEND":
            if literal is not None and b"REJECTME" in literal:
                self.send("%s NO [TOOBIG] Message too large for this mailbox\r\n" % tag)
                return True
            name = args.split(" ")[0].strip('"')
            b = self.box(name)
            if b is None:
                self.send("%s NO [TRYCREATE] no such mailbox\r\n" % tag)
                return True
            d = LOGFILE + ".d"
            os.makedirs(d, exist_ok=True)
            n = len(os.listdir(d)) + 1
            with open(os.path.join(d, "%03d" % n), "wb") as f:
                f.write(literal)
            b.msgs.append((len(b.msgs) + 1, "", "", literal))
            ok("APPEND completed")
        else:
            self.send("%s BAD unknown command %s\r\n" % (tag, cmd))
        return True


def main():
    boxes = source_boxes()
    if SCENARIO == "alibaba":
        boxes = [Box("INBOX", []), Box("&XfJT0ZAB-", []), Box("&g0l6P3ux-", []),
                 Box("&XfJSIJZkkK5O9g-", []), Box("&V4NXPpCuTvY-", [])]
    STATE["boxes"] = boxes
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    nconn = 0
    while time.time() < DEADLINE:
        srv.settimeout(max(0.1, DEADLINE - time.time()))
        try:
            sock, _ = srv.accept()
        except socket.timeout:
            break
        nconn += 1
        log("== connection %d" % nconn)
        sock.settimeout(max(0.1, DEADLINE - time.time()))
        try:
            Conn(sock, nconn).run()
        except (EOFError, OSError):
            pass
        finally:
            sock.close()


STATE = {}
if __name__ == "__main__":
    main()
