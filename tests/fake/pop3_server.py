#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A scripted POP3 server for replies Dovecot will not send (used by
# tests/integration/pop3_fake.sh): no UIDL, repeated UIDL ids, no TOP
# either, a RETR refused, no STLS, bytes injected after the STLS reply, and
# a banner that never comes.  Hostile modes (issue 17,
# tests/integration/hostile_servers.sh): retrendless (RETR 2 sends lines
# without end, up to 64 MiB, never the terminating dot), retrstall (RETR 2
# sends half the message, then nothing), longline (UIDL answers with a
# 10 MiB line without CRLF, then nothing), stall (nothing after PASS),
# dupuidl2 (distinct messages 1 and 2 share a UIDL id), retrdrip (RETR 2
# sends its answer one byte every --drip seconds).
# Plain TCP on 127.0.0.1 only, python3 stdlib only.  It serves the files of
# a directory (sorted by name) as the maildrop, logs every command it gets
# (PASS/AUTH secrets masked) to a file, writes its port to a file, and
# exits by itself after --max-sessions sessions or --lifetime seconds.
import argparse
import os
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "nouidl", "dupuidl", "notop",
                             "retrerr", "nostls", "inject", "hang",
                             "retrendless", "retrstall", "longline", "stall",
                             "dupuidl2", "retrdrip"])
    ap.add_argument("--drip", type=float, default=1.5)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--password", default="secret")
    ap.add_argument("--max-sessions", type=int, default=10)
    ap.add_argument("--lifetime", type=float, default=60)
    a = ap.parse_args()

    threading.Timer(a.lifetime, lambda: os._exit(0)).start()
    names = sorted(os.listdir(a.dir))
    msgs = []
    for n in names:
        with open(os.path.join(a.dir, n), "rb") as f:
            data = f.read()
        # POP3 is CRLF on the wire (RFC 1939 §3)
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        msgs.append(data)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(tmp, a.port_file)
    log = open(a.log, "a", buffering=1)

    for _ in range(a.max_sessions):
        conn, _addr = srv.accept()
        conn.settimeout(20)
        try:
            session(conn, a, msgs, log)
        except (OSError, ValueError) as e:
            log.write("# session ended: %s\n" % e)
        finally:
            conn.close()
    os._exit(0)


def stall(conn, limit=20):
    """Answer nothing more: drop what the client sends until it closes
    (or limit seconds)."""
    end = time.time() + limit
    conn.settimeout(0.5)
    while time.time() < end:
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def stuff(data):
    out = []
    for line in data.split(b"\r\n")[:-1] if data.endswith(b"\r\n") else data.split(b"\r\n"):
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out) + b"\r\n.\r\n"


def session(conn, a, msgs, log):
    rf = conn.makefile("rb")
    send = conn.sendall
    if a.mode == "hang":
        # A server that accepts and never greets: the client's timeout
        # must end it; the session lasts 15 s at most.
        time.sleep(15)
        return
    send(b"+OK fake POP3 ready <1234.5678@fake>\r\n")
    authed = False
    user = None
    while True:
        raw = rf.readline(1024)
        if not raw:
            log.write("# EOF\n")
            return
        line = raw.rstrip(b"\r\n").decode("latin-1")
        cmd, _, arg = line.partition(" ")
        cmd = cmd.upper()
        log.write(("PASS ***" if cmd == "PASS" else line) + "\n")
        if cmd == "CAPA":
            caps = ["USER", "PIPELINING"]
            if a.mode not in ("nouidl", "notop"):
                caps.append("UIDL")
            if a.mode != "notop":
                caps.append("TOP")
            if a.mode != "nostls":
                caps.append("STLS")
            send(("+OK\r\n" + "".join(c + "\r\n" for c in caps) + ".\r\n").encode())
        elif cmd == "STLS":
            if a.mode == "inject":
                # CVE-2011-0411: plaintext smuggled in before the handshake
                send(b"+OK Begin TLS\r\n+OK injected\r\n")
            else:
                send(b"-ERR no TLS here\r\n")
        elif cmd == "USER":
            user = arg
            send(b"+OK\r\n")
        elif cmd == "PASS":
            if user is not None and arg == a.password:
                authed = True
                send(b"+OK logged in\r\n")
                if a.mode == "stall":
                    stall(conn)
                    return
            else:
                send(b"-ERR [AUTH] invalid login\r\n")
        elif cmd == "QUIT":
            send(b"+OK bye\r\n")
            return
        elif not authed:
            send(b"-ERR not logged in\r\n")
        elif cmd == "STAT":
            send(("+OK %d %d\r\n" % (len(msgs), sum(map(len, msgs)))).encode())
        elif cmd == "LIST" and arg == "":
            body = "".join("%d %d\r\n" % (i + 1, len(m)) for i, m in enumerate(msgs))
            send(("+OK\r\n" + body + ".\r\n").encode())
        elif cmd == "UIDL" and arg == "":
            if a.mode in ("nouidl", "notop"):
                send(b"-ERR UIDL not supported\r\n")
                continue
            ids = ["u%d" % (i + 1) for i in range(len(msgs))]
            if a.mode == "dupuidl" and len(ids) > 1:
                ids[-1] = ids[0]
            if a.mode == "dupuidl2" and len(ids) > 1:
                ids[1] = ids[0]
            if a.mode == "longline":
                send(b"+OK\r\n1 " + b"u" * (10 * 1024 * 1024))
                stall(conn)
                return
            body = "".join("%d %s\r\n" % (i + 1, u) for i, u in enumerate(ids))
            send(("+OK\r\n" + body + ".\r\n").encode())
        elif cmd in ("RETR", "TOP"):
            try:
                n = int(arg.split()[0])
                m = msgs[n - 1]
            except (ValueError, IndexError):
                send(b"-ERR no such message\r\n")
                continue
            if cmd == "TOP":
                if a.mode == "notop":
                    send(b"-ERR TOP not supported\r\n")
                    continue
                cut = m.find(b"\r\n\r\n")
                m = m[:cut + 4] if cut >= 0 else m
            elif a.mode == "retrerr" and n == 2:
                send(b"-ERR [SYS/TEMP] message 2 unreadable\r\n")
                continue
            if cmd == "RETR" and n == 2 and a.mode == "retrendless":
                send(b"+OK\r\n" + m)
                chunk = b"this line never ends the message\r\n" * 2000
                sent = 0
                try:
                    while sent < 64 * 1024 * 1024:
                        send(chunk)
                        sent += len(chunk)
                except OSError:
                    return
                stall(conn)
                return
            if cmd == "RETR" and n == 2 and a.mode == "retrdrip":
                data = b"+OK\r\n" + stuff(m)
                end = time.time() + 20
                for i in range(len(data)):
                    if time.time() > end:
                        break
                    send(data[i:i + 1])
                    time.sleep(a.drip)
                return
            if cmd == "RETR" and n == 2 and a.mode == "retrstall":
                send(b"+OK\r\n" + m[: len(m) // 2])
                stall(conn)
                return
            send(b"+OK\r\n" + stuff(m))
        elif cmd == "DELE":
            # Must never happen: the test fails on this log line.
            send(b"+OK marked\r\n")
        else:
            send(b"-ERR unknown command\r\n")


if __name__ == "__main__":
    sys.exit(main())
