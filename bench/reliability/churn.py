#!/usr/bin/env python3
"""Flow churn over one OpenFlow 1.0 session: a rolling window of flows, added and deleted (strict) at a paced rate.

  churn.py --port P [--rate N] [--window W] [--seconds S] [--cookie C] [--stop-file F]

Flow i matches ip,nw_dst=10.200.(i/256 mod 256).(i mod 256),tp... (priority 20, cookie C) and outputs to port 2; once
W flows are in, every add is paired with a strict delete of the flow added W steps earlier, so the table holds W of
them. A BARRIER_REQUEST follows every 100 flow-mods; at the end the session waits for the last BARRIER_REPLY.
Runs until --seconds pass or --stop-file exists, then prints one JSON line: messages sent, flows added, the add rate,
errors received, barriers answered.
"""
import argparse, json, os, socket, struct, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--rate", type=int, default=10000, help="flow-mods per second")
ap.add_argument("--window", type=int, default=5000)
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--cookie", type=lambda s: int(s, 0), default=0x55)
ap.add_argument("--stop-file", default="")
ap.add_argument("--ready-file", default="")
a = ap.parse_args()

OFPFW_ALL = (1 << 22) - 1
OFPFW_DL_TYPE, OFPFW_NW_DST_ALL = 1 << 4, 32 << 14

def flow_mod(i, command, xid):
    wild = OFPFW_ALL & ~OFPFW_DL_TYPE & ~(0x3f << 14)   # dl_type and nw_dst (/32) exact
    dst = bytes([10, 200, (i >> 8) & 255, i & 255])
    m = struct.pack("!IH6s6sHBxHBB2x4s4sHH", wild, 0, b"\0" * 6, b"\0" * 6, 0, 0, 0x0800, 0, 0, b"\0" * 4, dst, 0, 0)
    act = struct.pack("!HHHH", 0, 8, 2, 0) if command == 0 else b""
    body = m + struct.pack("!QHHHHIHH", a.cookie, command, 0, 0, 20, 0xffffffff, 0xffff, 0) + act
    return struct.pack("!BBHI", 1, 14, 8 + len(body), xid) + body

s = socket.create_connection((a.host, a.port), timeout=10)
s.sendall(struct.pack("!BBHI", 1, 0, 8, 1))
errors = barriers = 0
last_barrier = 0
lock = threading.Lock()
closed = False

def reader():
    global errors, barriers, last_barrier, closed
    buf = b""
    s.settimeout(None)
    while True:
        try:
            d = s.recv(1 << 16)
        except OSError:
            d = b""
        if not d:
            closed = True
            return
        buf += d
        while len(buf) >= 8:
            ln = struct.unpack("!H", buf[2:4])[0]
            if ln < 8 or len(buf) < ln: break
            m, buf = buf[:ln], buf[ln:]
            t, xid = m[1], struct.unpack("!I", m[4:8])[0]
            if t == 1: errors += 1
            elif t == 19:
                barriers += 1
                last_barrier = xid
            elif t == 2: s.sendall(bytes([1, 3]) + m[2:])

threading.Thread(target=reader, daemon=True).start()
if a.ready_file: open(a.ready_file, "w").close()
sent, i, xid = 0, 0, 100
t0 = time.time()
per_tick = max(1, a.rate // 100)
while time.time() - t0 < a.seconds and not (a.stop_file and os.path.exists(a.stop_file)) and not closed:
    tick = time.time()
    out = []
    for _ in range(per_tick):
        xid += 1
        out.append(flow_mod(i % 65536, 0, xid))
        if i >= a.window:
            xid += 1
            out.append(flow_mod((i - a.window) % 65536, 4, xid))   # OFPFC_DELETE_STRICT
        i += 1
        if i % 100 == 0:
            xid += 1
            out.append(struct.pack("!BBHI", 1, 18, 8, xid))
    s.sendall(b"".join(out))
    sent += len(out)
    d = 0.01 - (time.time() - tick)
    if d > 0: time.sleep(d)
xid += 1
s.sendall(struct.pack("!BBHI", 1, 18, 8, xid))
t_end = time.time() + 10
while last_barrier != xid and time.time() < t_end and not closed: time.sleep(0.05)
el = time.time() - t0
print(json.dumps({"messages": sent, "adds": i, "rate": round(i / el), "errors": errors, "barriers": barriers,
                  "last_barrier_answered": last_barrier == xid, "seconds": round(el, 1), "closed_by_switch": closed}))
