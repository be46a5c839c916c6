#!/usr/bin/env python3
"""A controller that reads slowly while its flows expire: over OpenFlow 1.0 it installs --flows flows with SEND_FLOW_REM
and a --hard-timeout, asks for flow stats once, then reads at --rate bytes/s through a 64 KiB receive buffer, answering
echo requests when it reads them. When the switch closes the connection it connects again (HELLO only: the flows stay)
and reads on, counting the closes. It ends when every FLOW_REMOVED has arrived, when nothing but echo requests has
come for --quiet seconds after the last flow's hard timeout, or after --limit seconds. With --listen it is the
controller of an active switch. Prints JSON: FLOW_REMOVED received of those expected, flows dumped, how many times
the switch closed the connection."""
import argparse, json, socket, struct, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--flows", type=int, default=200000)
ap.add_argument("--hard-timeout", type=int, default=20)
ap.add_argument("--rate", type=int, default=64 << 10)
ap.add_argument("--quiet", type=float, default=30)
ap.add_argument("--limit", type=float, default=1800)
ap.add_argument("--listen", action="store_true", help="listen on --port for the switch to connect (an active switch)")
a = ap.parse_args()

s = None
buf = b""

srv = None
if a.listen:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Set before listen so accepted connections start with the small receive window.
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(1)
    srv.settimeout(60)

def connect():
    """Connects to the switch (or, with --listen, takes its next connection) and says HELLO."""
    global s, buf
    if srv is not None:
        s, _ = srv.accept()
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", a.port))
    s.settimeout(None)
    s.sendall(struct.pack("!BBHI", 1, 0, 8, 1))
    buf = b""

def messages(chunk):
    """Whole messages from what was read so far."""
    global buf
    buf += chunk
    while len(buf) >= 8:
        ln = struct.unpack("!H", buf[2:4])[0]
        if ln < 8:
            raise SystemExit(json.dumps({"flows": a.flows, "error": "unframeable stream", "bytes": buf[:16].hex()}))
        if len(buf) < ln:
            return
        m, buf = buf[:ln], buf[ln:]
        yield m

def flow_mod(i):
    # ofp_match: wildcard all but dl_type and nw_dst (OFPFW_ALL less DL_TYPE, nw_dst exact).
    wildcards = 0x3FFFFF & ~(1 << 4) & ~(0x3F << 14)
    match = struct.pack("!IH6s6sHBxHBBxxIIHH", wildcards, 0, b"\0" * 6, b"\0" * 6, 0, 0, 0x0800, 0, 0, 0,
                        0x0A000000 + i, 0, 0)
    body = match + struct.pack("!QHHHHIHH", 0, 0, 0, a.hard_timeout, 100, 0xFFFFFFFF, 0xFFFF, 1)  # no action: drop
    return struct.pack("!BBHI", 1, 14, 8 + len(body), 0x100 + i) + body

removed, dumped, closes, read, echoes = 0, 0, 0, 0, 0

def barrier(xid):
    """Waits for the barrier's reply, answering echo requests and counting FLOW_REMOVED (flows expire while installing)."""
    global removed
    s.sendall(struct.pack("!BBHI", 1, 18, 8, xid))
    while True:
        d = s.recv(1 << 20)
        if not d:
            print(json.dumps({"flows": a.flows, "flow_removed": f"{removed}/{a.flows}", "removed": removed, "dumped": 0,
                              "closed": True, "closes": 1, "echoes": 0, "seconds": 0, "bytes_read": 0,
                              "install_s": round(time.time() - t_install, 1), "rate": a.rate, "while": "installing"}))
            raise SystemExit(1)
        for m in messages(d):
            if m[1] == 19 and struct.unpack("!I", m[4:8])[0] == xid:
                return
            if m[1] == 2:
                s.sendall(bytes([1, 3]) + m[2:])
            elif m[1] == 11:
                removed += 1

connect()
t_install = time.time()
batch = []
for i in range(a.flows):
    batch.append(flow_mod(i))
    if len(batch) == 1000:
        s.sendall(b"".join(batch))
        batch = []
    if i % 10000 == 9999:
        barrier(0x7000_0000 + i)
s.sendall(b"".join(batch))
barrier(0x7FFF_FFFF)
install_s = time.time() - t_install
# The last flow was installed before this; none may live past its hard timeout (plus the switch's expiry pass).
all_expired = time.time() + a.hard_timeout + 2

# One flow-stats request for every flow, then read slowly.
s.sendall(struct.pack("!BBHIHH", 1, 16, 56, 0x5555, 1, 0) + struct.pack("!I", 0x3FFFFF) + b"\0" * 36 + struct.pack("!BxH", 0xFF, 0xFFFF))
t0 = last_news = time.time()
s.settimeout(1)
while removed < a.flows and time.time() - t0 < a.limit:
    if time.time() > all_expired and time.time() - last_news > a.quiet:
        break
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    except OSError:
        d = b""
    if not d:
        # Closed by the switch: connect again and read on (the flows are the switch's, not the connection's).
        closes += 1
        s.close()
        while time.time() - t0 < a.limit and not (time.time() > all_expired and time.time() - last_news > a.quiet):
            try:
                connect()
                break
            except OSError:
                time.sleep(1)
        try:
            s.settimeout(1)
        except OSError:
            pass
        continue
    read += len(d)
    for m in messages(d):
        if m[1] != 2:
            last_news = time.time()
        if m[1] == 2:
            echoes += 1
            try:
                s.sendall(bytes([1, 3]) + m[2:])
            except OSError:
                pass  # closed meanwhile: the next read says so
        elif m[1] == 11:
            removed += 1
        elif m[1] == 17 and struct.unpack("!I", m[4:8])[0] == 0x5555:
            dumped += (len(m) - 12) // 88
    ahead = read / a.rate - (time.time() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(json.dumps({"flows": a.flows, "flow_removed": f"{removed}/{a.flows}", "removed": removed, "dumped": dumped,
                  "closed": closes > 0, "closes": closes, "echoes": echoes, "seconds": round(time.time() - t0, 1),
                  "bytes_read": read, "install_s": round(install_s, 1), "rate": a.rate}))
