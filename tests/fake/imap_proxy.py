#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TCP proxy on loopback for IMAP tests and the benchmark.

Usage: imap_proxy.py PORTFILE TARGET_PORT [options]
  --delay-ms N      one-way latency added in each direction (default 0)
  --rate-mbit R     bandwidth cap per direction in Mbit/s (default none)
  --cuts K          abort the first K connections at a random byte count
  --cut-seed S      seed for the cut points (default 1)
  --cut-max B       cut points are drawn in [MIN, B] bytes (default 200000)
  --cut-min MIN     lower end of the cut points (default 200)
  --cut-prob P      besides the first K, cut each later connection with
                    probability P (default 0: never)
  --cut-log FILE    append one line per cut (connection number, offset)
  --time-limit T    exit after T seconds whatever happens (default 120)

Listens on 127.0.0.1 (random port written to PORTFILE) and forwards to
127.0.0.1:TARGET_PORT byte for byte (TLS passes through untouched).  A cut
drops both sides abruptly (RST), as a NAT timeout or a flaky link would.
Python 3 standard library only.
"""
import argparse
import asyncio
import os
import random
import socket
import struct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("target_port", type=int)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--rate-mbit", type=float, default=0.0)
    ap.add_argument("--cuts", type=int, default=0)
    ap.add_argument("--cut-seed", type=int, default=1)
    ap.add_argument("--cut-max", type=int, default=200000)
    ap.add_argument("--cut-min", type=int, default=200)
    ap.add_argument("--cut-prob", type=float, default=0.0)
    ap.add_argument("--cut-log", default=None)
    ap.add_argument("--time-limit", type=float, default=120.0)
    a = ap.parse_args()
    rnd = random.Random(a.cut_seed)
    delay = a.delay_ms / 1000.0
    rate = a.rate_mbit * 1e6 / 8 if a.rate_mbit > 0 else 0.0
    state = {"n": 0}

    def abort(w):
        try:
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            w.transport.abort()
        except Exception:
            pass

    async def pump(reader, writer, conn):
        loop = asyncio.get_running_loop()
        q = asyncio.Queue()

        async def recv():
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    await q.put((loop.time() + delay, data))
            except (ConnectionError, OSError):
                pass
            await q.put(None)

        async def send():
            free_at = 0.0  # when the capped link is free again
            try:
                while True:
                    item = await q.get()
                    if item is None or conn["dead"]:
                        break
                    t, data = item
                    if rate:
                        start = max(t, free_at)
                        free_at = start + len(data) / rate
                        t = free_at
                    now = loop.time()
                    if t > now:
                        await asyncio.sleep(t - now)
                    if conn["cut"] is not None:
                        left = conn["cut"] - conn["bytes"]
                        if left <= len(data):
                            writer.write(data[:max(left, 0)])
                            conn["dead"] = True
                            if a.cut_log:
                                with open(a.cut_log, "a") as f:
                                    f.write("cut connection %d at byte %d\n"
                                            % (conn["n"], conn["cut"]))
                            for w in conn["writers"]:
                                abort(w)
                            return
                    conn["bytes"] += len(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            if not conn["dead"]:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    writer.close()

        await asyncio.gather(recv(), send())

    async def handle(cr, cw):
        state["n"] += 1
        cut = None
        if state["n"] <= a.cuts:
            cut = rnd.randint(a.cut_min, a.cut_max)
        elif a.cut_prob > 0:
            # Both drawn for every connection: the cut points then
            # depend on the seed only.
            p, point = rnd.random(), rnd.randint(a.cut_min, a.cut_max)
            cut = point if p < a.cut_prob else None
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", a.target_port)
        except OSError:
            cw.close()
            return
        conn = {"cut": cut, "bytes": 0, "dead": False, "writers": (cw, sw),
                "n": state["n"]}
        await asyncio.gather(pump(cr, sw, conn), pump(sr, cw, conn))
        for w in (cw, sw):
            try:
                w.close()
            except Exception:
                pass

    async def run():
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        with open(a.portfile + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(a.portfile + ".tmp", a.portfile)
        try:
            await asyncio.wait_for(srv.serve_forever(), a.time_limit)
        except asyncio.TimeoutError:
            pass

    asyncio.run(run())


if __name__ == "__main__":
    main()
