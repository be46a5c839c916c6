#!/usr/bin/env python3
"""A controller that completes HELLO, then stops reading for --stall seconds (still sending an ECHO_REQUEST every
second, as a controller whose reader is stuck would keep its keepalive going), then reads again: every ECHO_REPLY
queued meanwhile must arrive (replies are never dropped) and a new ECHO must be answered. Prints JSON."""
import argparse, json, socket, struct, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--stall", type=float, default=10)
a = ap.parse_args()
s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(struct.pack("!BBHI", 1, 0, 8, 1))
s.recv(8)
print(json.dumps({"ready": True}), flush=True)
queued = 0
t_end = time.time() + a.stall
while time.time() < t_end:
    queued += 1
    s.sendall(struct.pack("!BBHI", 1, 2, 8, 0x1000 + queued))
    time.sleep(1)
s.sendall(struct.pack("!BBHI", 1, 2, 8, 0x7777))
replies = set()
buf, got, t0, ok, read = b"", None, time.time(), True, 0
s.settimeout(0.2)
while time.time() - t0 < 10:
    try:
        d = s.recv(1 << 20)
    except socket.timeout:
        continue
    except OSError:
        ok = False
        break
    if not d:
        ok = False
        break
    read += len(d)
    buf += d
    while len(buf) >= 8:
        ln = struct.unpack("!H", buf[2:4])[0]
        if len(buf) < ln: break
        m, buf = buf[:ln], buf[ln:]
        if m[1] == 3 and struct.unpack("!I", m[4:8])[0] == 0x7777: got = time.time() - t0
        if m[1] == 3 and 0x1000 < struct.unpack("!I", m[4:8])[0] <= 0x1000 + queued: replies.add(struct.unpack("!I", m[4:8])[0])
        if m[1] == 2: s.sendall(bytes([1, 3]) + m[2:])
    if got is not None: break
print(json.dumps({"open_after_stall": ok, "echo_ms": None if got is None else round(got * 1000, 1),
                  "replies_kept": f"{len(replies)}/{queued}", "bytes_read": read}))
