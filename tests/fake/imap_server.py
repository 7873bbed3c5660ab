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

Hostile sources (issue 17; tests/integration/hostile_servers.sh), INBOX
with the same 3 messages as above unless said otherwise:
  good               well behaved (the re-run after a hostile one)
  huge-literal       uid 2's body announced as {100000000000}, then 64 KiB
                     and a trickle of 1 KiB every 0.5 s, never the rest
  long-line          the metadata FETCH answer is a 10 MiB line without
                     CRLF, then silence
  deep-fetch         an unsolicited FETCH with a BODYSTRUCTURE nested
                     10,000 parentheses deep before the metadata
  deep-list          a LIST reply whose attributes nest 10,000 deep
  unasked            FETCH answers for a UID never asked (99, "EVIL"
                     body), a sequence number out of range (4000000000
                     and 9 of 3), between the real ones; must still work
  bye-literal        uid 2's literal stops half way with "* BYE" inside
                     it and the connection closes, on every connection
  stall-login        answers LOGIN, then never anything again
  stall-fetch        sends uid 1, half of uid 2's literal, then nothing
                     (the connection stays open)
  uidvalidity-8      like good, but UIDVALIDITY 8 and UIDs 101..103 (the
                     same messages renumbered, as after a server move)
  drip-literal       uid 2's body (a normal literal of 6.5 KB) sent one
                     byte every $FAKE_DRIP seconds (default 1.5: half the
                     test's --timeout), on every connection
  drip-list          the LIST answer sent one byte every $FAKE_DRIP s
Hostile sinks (an APPEND target; INBOX is loaded from LOGFILE.d/, where
every appended message is saved, so a later server sees what an earlier
one stored; UID SEARCH HEADER Message-ID works for the sink's lookup).
The 2nd APPEND a server process receives is stored, then:
  sink-good          answered OK (well behaved)
  sink-huge-literal  answered with an untagged literal {100000000000}, a
                     few bytes of it, then silence
  sink-long-line     answered with a 10 MiB line without CRLF, silence
  sink-deep          answered with a FETCH nested 10,000 deep
  sink-bye           answered "* BYE" and the connection closed
  sink-stall         never answered (the connection stays open)
  sink-drip          answered OK one byte every $FAKE_DRIP seconds
  sink-huge-lookup   well behaved, but UID FETCH (the sink's lookup of a
                     message it may have stored) answers {100000000000}
                     and trickles 1 KiB every 0.5 s
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
        base = 100 if SCENARIO == "uidvalidity-8" else 0
        self.msgs = [(base + i + 1, f, d, b) for i, (f, d, b) in enumerate(msgs)]


UIDVALIDITY = 8 if SCENARIO == "uidvalidity-8" else 7
DEEP = "(" * 10000 + ")" * 10000
HUGE = 100000000000
DRIP = float(os.environ.get("FAKE_DRIP", "1.5"))


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

    def stall(self, trickle=None):
        """Answer nothing more: read and drop what the client sends until
        it closes or the deadline, sending trickle every 0.5 s if given.
        Returns False (the connection is over)."""
        self.s.settimeout(0.5)
        while time.time() < DEADLINE:
            try:
                if trickle is not None:
                    self.send(trickle)
                if not self.s.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        return False

    def drip(self, data):
        """Send data one byte every DRIP seconds (until the client goes
        or the deadline).  Returns False (the connection is over)."""
        if isinstance(data, str):
            data = data.encode()
        for i in range(len(data)):
            if time.time() >= DEADLINE:
                break
            try:
                self.send(data[i:i + 1])
            except OSError:
                break
            time.sleep(DRIP)
        return False

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
            if SCENARIO == "stall-login":
                return self.stall()
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
            elif SCENARIO == "deep-list":
                self.send('* LIST (%s) "/" "INBOX"\r\n' % DEEP)
            elif SCENARIO == "drip-list":
                return self.drip('* LIST (\\HasNoChildren) "/" "INBOX"\r\n%s OK done\r\n' % tag)
            else:
                for b in self.boxes:
                    attrs = "\\HasNoChildren" + (" " + b.special if b.special and SCENARIO != "alibaba" else "")
                    self.send('* LIST (%s) "/" "%s"\r\n' % (attrs, b.name))
            self.noise()
            ok()
        elif cmd == "STATUS":
            b = self.box(args.split(" (")[0])
            self.send('* STATUS "%s" (MESSAGES %d UIDVALIDITY %d)\r\n' % (b.name, len(b.msgs), UIDVALIDITY))
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
            self.send("* OK [UIDVALIDITY %d] UIDs valid\r\n* OK [UIDNEXT %d] next\r\n"
                      % (UIDVALIDITY, b.msgs[-1][0] + 1 if b.msgs else 1))
            self.noise()
            ok("[READ-WRITE] selected" if cmd == "SELECT" else "[READ-ONLY] examined")
        elif cmd == "FETCH":
            rng = args.split(" ")[0]
            lo, _, hi = rng.partition(":")
            lo = int(lo)
            hi = len(self.selected.msgs) if hi in ("*", "") and ":" in rng else int(hi or lo)
            if "RFC822.SIZE" in args and SCENARIO == "long-line":
                self.send("* 1 FETCH (UID 1 FLAGS (" + "x" * (10 * 1024 * 1024))
                return self.stall()
            if "RFC822.SIZE" in args and SCENARIO == "deep-fetch":
                self.send("* 1 FETCH (BODYSTRUCTURE %s)\r\n" % DEEP)
            if "RFC822.SIZE" in args and SCENARIO == "unasked":
                self.send('* 9 FETCH (UID 9 FLAGS () INTERNALDATE "01-Feb-2020 10:00:00 +0000"'
                          ' RFC822.SIZE 10)\r\n')
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
            if SCENARIO == "sink-huge-lookup":
                # The sink's lookup reads a candidate back: 10^11 bytes.
                self.send("* 1 FETCH (UID %d BODY[] {%d}\r\n" % (min(wanted), HUGE))
                return self.stall(b"z" * 1024)
            for seq, (uid, flags, date, data) in enumerate(self.selected.msgs, 1):
                if uid not in wanted:
                    continue
                head = "* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(data))
                if SCENARIO == "mid-literal" and self.nconn == 1 and uid == 2:
                    self.send(head)
                    self.send(data[: len(data) // 2])
                    time.sleep(0.2)
                    return False  # connection dropped mid-literal
                if SCENARIO == "unasked" and seq == 2:
                    evil = b"From: evil@example.com\r\nSubject: EVIL\r\n\r\nEVIL\r\n"
                    self.send("* 2 FETCH (UID 99 BODY[] {%d}\r\n" % len(evil))
                    self.send(evil + b")\r\n")
                    self.send("* 4000000000 FETCH (BODY[] {%d}\r\n" % len(evil))
                    self.send(evil + b")\r\n")
                    self.send("* 77 FETCH (UID 3 FLAGS (\\Seen))\r\n")
                if SCENARIO == "huge-literal" and uid == 2:
                    self.send("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, HUGE))
                    self.send(b"x" * 65536)
                    return self.stall(b"y" * 1024)
                if SCENARIO == "bye-literal" and uid == 2:
                    self.send(head)
                    self.send(data[: len(data) // 2] + b"\r\n* BYE server shutting down\r\n")
                    time.sleep(0.2)
                    return False
                if SCENARIO == "drip-literal" and uid == 2:
                    self.send(head)
                    return self.drip(data + b")\r\n")
                if SCENARIO == "stall-fetch" and uid == 2:
                    self.send(head)
                    self.send(data[: len(data) // 2])
                    return self.stall()
                self.send(head)
                self.send(data + b")\r\n")
                self.noise()
            ok()
        elif cmd == "UID SEARCH":
            # HEADER Message-ID "<id>" (the sink's lookup); sizes ignored.
            m = re.search(r'HEADER Message-ID "((?:[^"\\]|\\.)*)"', args, re.I)
            hits = []
            if m and self.selected is not None:
                want = m.group(1).replace('\\"', '"').replace("\\\\", "\\").encode()
                for uid, _, _, data in self.selected.msgs:
                    hm = re.search(rb"(?im)^Message-ID:[ \t]*(.*?)\r?$", data)
                    if hm and hm.group(1).strip() == want:
                        hits.append(str(uid))
            self.send("* SEARCH%s\r\n" % "".join(" " + h for h in hits))
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
            STATE["appends"] += 1
            if STATE["appends"] == 2 and SCENARIO.startswith("sink-"):
                if SCENARIO == "sink-huge-literal":
                    self.send("* 1 FETCH (BODY[] {%d}\r\nxxxx" % HUGE)
                    return self.stall()
                if SCENARIO == "sink-long-line":
                    self.send("* 1 FETCH (FLAGS (" + "x" * (10 * 1024 * 1024))
                    return self.stall()
                if SCENARIO == "sink-deep":
                    self.send("* 1 FETCH (FLAGS %s)\r\n" % DEEP)
                elif SCENARIO == "sink-bye":
                    self.send("* BYE going away now\r\n")
                    time.sleep(0.2)
                    return False
                elif SCENARIO == "sink-stall":
                    return self.stall()
                elif SCENARIO == "sink-drip":
                    return self.drip("%s OK APPEND completed\r\n" % tag)
            ok("APPEND completed")
        else:
            self.send("%s BAD unknown command %s\r\n" % (tag, cmd))
        return True


def main():
    boxes = source_boxes()
    if SCENARIO == "alibaba":
        boxes = [Box("INBOX", []), Box("&XfJT0ZAB-", []), Box("&g0l6P3ux-", []),
                 Box("&XfJSIJZkkK5O9g-", []), Box("&V4NXPpCuTvY-", [])]
    if SCENARIO.startswith("sink-"):
        # What earlier servers of this test stored, as INBOX.
        d = LOGFILE + ".d"
        stored = []
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                stored.append(("", "", f.read()))
        boxes = [Box("INBOX", stored)]
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


STATE = {"appends": 0}
if __name__ == "__main__":
    main()
