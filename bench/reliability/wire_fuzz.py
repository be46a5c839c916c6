#!/usr/bin/env python3
"""Grammar-aware OpenFlow 1.0 fuzzing of a live switch over several concurrent sessions.

  wire_fuzz.py --port P --pid PID [--messages N] [--sessions K] [--seed S] [--corpus FILE] [--json]

Each session completes HELLO, then sends generated messages: every message type with well-formed bodies of random
content, every length boundary (headers announcing 8..65535 bytes, bodies cut short or padded), stats requests of
every kind (flow stats whose replies are large), flow-mods and packet-outs with nested, oversized, misaligned and
unknown actions, HELLO with elements, vendor messages, and byte-level mutations of all of these. After every batch
the session sends ECHO_REQUEST and requires the ECHO_REPLY within 1 s (after a warm-up of --warmup messages per session,
untimed, so a freshly started daemon's JIT compilation is not counted). A session the switch closes (it must, on a
length it cannot frame) is reopened and counted. The switch's RSS is sampled every second.
Exit code 0 when every echo was answered in time and the switch is alive at the end.
"""
import argparse, json, random, socket, struct, threading, time

OFP_TYPES = list(range(0, 22))

def hdr(t, length, xid, version=1):
    return struct.pack("!BBHI", version, t, length, xid)

def match(r):
    return struct.pack("!IH6s6sHBxHBB2xIIHH", r.getrandbits(32) & ((1 << 22) - 1) if r.random() < 0.8 else r.getrandbits(32),
                       r.choice([1, 2, 3, 4, 0xfff8, 0xfffb, 0xfffd, 0xffff, r.getrandbits(16)]),
                       r.randbytes(6), r.randbytes(6), r.choice([0xffff, 1, 4095, r.getrandbits(16)]), r.getrandbits(8),
                       r.choice([0x0800, 0x0806, 0x8100, 0x86dd, r.getrandbits(16)]), r.getrandbits(8), r.choice([1, 6, 17, r.getrandbits(8)]),
                       r.getrandbits(32), r.getrandbits(32), r.getrandbits(16), r.getrandbits(16))

def action(r, depth=0):
    t = r.choice(list(range(0, 12)) + [0xffff, r.getrandbits(16)])
    body_len = {0: 4, 1: 4, 2: 4, 3: 0, 4: 12, 5: 12, 6: 4, 7: 4, 8: 4, 9: 4, 10: 4, 11: 12}.get(t, r.choice([0, 4, 8, 12]))
    if t == 0:  # OUTPUT
        body = struct.pack("!HH", r.choice([1, 2, 3, 4, 5, 0xfff8, 0xfffa, 0xfffb, 0xfffc, 0xfffd, 0xfffe, 0xffff, 0]), r.getrandbits(16))
    else:
        body = r.randbytes(body_len)
    length = 4 + len(body)
    roll = r.random()
    if roll < 0.05: length = r.choice([0, 4, 6, 7])           # too short / misaligned
    elif roll < 0.08: length += r.choice([8, 64, 4096])       # runs past the list
    return struct.pack("!HH", t, length & 0xffff) + body

def actions(r):
    n = r.choice([0, 1, 2, 3, 8, 40])
    return b"".join(action(r) for _ in range(n))

def body_for(t, r):
    if t == 0:   # HELLO, maybe with elements
        return b"" if r.random() < 0.5 else b"".join(struct.pack("!HH", r.getrandbits(16), 8) + r.randbytes(4) for _ in range(r.randint(1, 4)))
    if t == 1:   # ERROR (not HELLO_FAILED: a peer's HELLO_FAILED refuses the session, so the switch closes it by design,
                 # and the rest of the batch would go unread; the unit tests cover it)
        return struct.pack("!HH", r.randint(1, 15), r.getrandbits(4)) + r.randbytes(r.randint(0, 64))
    if t in (2, 3):  # ECHO
        return r.randbytes(r.choice([0, 1, 16, 1000, 4000]))
    if t == 4:   # VENDOR
        return struct.pack("!I", r.choice([0x2320, 0x00002320, r.getrandbits(32)])) + r.randbytes(r.randint(0, 32))
    if t in (5, 7, 18):  # FEATURES_REQUEST, GET_CONFIG_REQUEST, BARRIER_REQUEST
        return b"" if r.random() < 0.9 else r.randbytes(r.randint(1, 8))
    if t == 9:   # SET_CONFIG
        return struct.pack("!HH", r.getrandbits(2), r.choice([0, 128, 0xffff, r.getrandbits(16)]))
    if t == 13:  # PACKET_OUT
        acts = actions(r)
        data = r.randbytes(r.choice([0, 14, 60, 1500]))
        return struct.pack("!IHH", r.choice([0xffffffff, r.getrandbits(32), 0, 1]), r.choice([1, 2, 0xfff8, 0xffff, r.getrandbits(16)]),
                           len(acts) if r.random() < 0.9 else r.getrandbits(16)) + acts + data
    if t == 14:  # FLOW_MOD
        return match(r) + struct.pack("!QHHHHIHH", r.getrandbits(64), r.choice([0, 1, 2, 3, 4, 5, r.getrandbits(16)]), r.choice([0, 1, 60]),
                                      r.choice([0, 1, 60]), r.getrandbits(16), r.choice([0xffffffff, r.getrandbits(32)]),
                                      r.choice([0xffff, 1, 2]), r.getrandbits(3)) + actions(r)
    if t == 15:  # PORT_MOD
        return struct.pack("!H6sIII4x", r.choice([1, 2, 3, 4, 9, 0xfffe, r.getrandbits(16)]), r.randbytes(6), r.getrandbits(7), r.getrandbits(7), r.getrandbits(12))
    if t == 16:  # STATS_REQUEST
        st = r.choice([0, 1, 2, 3, 4, 5, 0xffff, r.getrandbits(16)])
        if st in (1, 2): body = match(r) + struct.pack("!BxH", r.choice([0, 1, 0xff, 7]), r.choice([0xffff, 1, 2]))
        elif st == 4: body = struct.pack("!H6x", r.choice([0xffff, 1, 2, 9]))
        elif st == 5: body = struct.pack("!H2xI", r.choice([0xfffc, 1, 9]), r.choice([0xffffffff, 0, 7]))
        else: body = r.randbytes(r.choice([0, 0, 4, 12]))
        return struct.pack("!HH", st, r.getrandbits(16)) + body
    if t == 20:  # QUEUE_GET_CONFIG_REQUEST
        return struct.pack("!H2x", r.choice([1, 2, 9, 0xfff8, r.getrandbits(16)]))
    # messages only a switch sends, and unknown types
    return r.randbytes(r.choice([0, 4, 16, 64]))

def message(r, xid):
    t = r.choice(OFP_TYPES + [0xff, 22, 30])
    body = body_for(t, r)
    length = 8 + len(body)
    version = 1 if r.random() < 0.97 else r.choice([0, 2, 4, 0x81])
    roll = r.random()
    msg = hdr(t, length, xid, version) + body
    if roll < 0.10:                                   # byte flips
        b = bytearray(msg)
        for _ in range(r.randint(1, 4)):
            i = r.randrange(len(b))
            if i >= 4 or r.random() < 0.3: b[i] ^= 1 << r.randrange(8)
        msg = bytes(b)
    elif roll < 0.16:                                 # announced length shorter than the body, within framing
        cut = r.randint(8, max(8, length))
        msg = hdr(t, cut, xid, version) + body[:cut - 8]
    elif roll < 0.19:                                 # body padded beyond what the type wants
        pad = r.randbytes(r.choice([1, 3, 8, 100]))
        msg = hdr(t, length + len(pad), xid, version) + body + pad
    # keep the header's length and the bytes sent consistent so the stream stays framed (a deliberately broken
    # stream is a separate case below)
    ln = struct.unpack("!H", msg[2:4])[0]
    if ln < 8 or ln > len(msg):
        msg = msg[:2] + struct.pack("!H", len(msg)) + msg[4:]
    return msg[:struct.unpack("!H", msg[2:4])[0]]

class Session:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.s.sendall(hdr(0, 8, 1))
    def echo(self, xid, timeout=1.0):
        self.s.sendall(hdr(2, 12, xid) + b"ping")
        deadline = time.time() + timeout
        while True:
            while len(self.buf) >= 8:
                ln = struct.unpack("!H", self.buf[2:4])[0]
                if ln < 8: raise RuntimeError("switch sent a message with length < 8")
                if len(self.buf) < ln: break
                m, self.buf = self.buf[:ln], self.buf[ln:]
                if m[1] == 3 and struct.unpack("!I", m[4:8])[0] == xid: return time.time() - (deadline - timeout)
                if m[1] == 2: self.s.sendall(bytes([1, 3]) + m[2:])
            left = deadline - time.time()
            if left <= 0: return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(1 << 20)
            except socket.timeout:
                return None
            if not d: raise EOFError
            self.buf += d
    def close(self):
        try: self.s.close()
        except OSError: pass

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1]) // 1024
    return 0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--warmup", type=int, default=5000, help="messages sent first on every session, echo not timed (the daemon's JIT)")
    ap.add_argument("--corpus", help="replay this minimised corpus first (OUTCOME<TAB>HEX lines, tests/OfAgent.Tests/Corpus/wire-corpus.txt), "
                    "each input followed by an ECHO that must be answered within 1 s")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    per = a.messages // a.sessions
    stats = {"sent": 0, "echoes": 0, "echo_late": 0, "echo_max_ms": 0.0, "reopened": 0, "broken_streams": 0, "errors": []}
    lock = threading.Lock()
    rss = [rss_mb(a.pid)]
    rss0 = rss[0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            try: rss.append(rss_mb(a.pid))
            except OSError: break
            time.sleep(1)

    def worker(k):
        r = random.Random(a.seed * 1000 + k)
        sess = Session(a.host, a.port)
        sent, xid = 0, 0x10000000 * (k + 1)
        # Warm-up: the same kind of traffic, so a freshly started daemon compiles its code paths before the clock runs.
        try:
            for _ in range(max(1, a.warmup // a.batch)):
                batch = []
                for _ in range(min(a.batch, a.warmup)):
                    xid += 1
                    batch.append(message(r, xid))
                sess.s.sendall(b"".join(batch))
                xid += 1
                sess.echo(xid, timeout=30)
        except (EOFError, OSError):
            sess.close()
            sess = Session(a.host, a.port)
        while sent < per:
            try:
                batch = []
                for _ in range(min(a.batch, per - sent)):
                    xid += 1
                    batch.append(message(r, xid))
                if r.random() < 0.01:                  # a stream the switch cannot frame: it must close it, alone
                    batch.append(hdr(r.randint(0, 21), r.randint(0, 7), 0))
                    broken = True
                else:
                    broken = False
                sess.s.sendall(b"".join(batch))
                sent += len(batch)
                if broken:
                    with lock: stats["broken_streams"] += 1
                    raise EOFError
                xid += 1
                t = sess.echo(xid)
                with lock:
                    stats["echoes"] += 1
                    if t is None: stats["echo_late"] += 1
                    else: stats["echo_max_ms"] = max(stats["echo_max_ms"], t * 1000)
            except (EOFError, ConnectionError, BrokenPipeError, socket.timeout, OSError) as e:
                sess.close()
                with lock: stats["reopened"] += 1
                try:
                    sess = Session(a.host, a.port)
                except OSError as e2:
                    with lock: stats["errors"].append(f"session {k}: cannot reconnect: {e2}")
                    return
        with lock: stats["sent"] += sent
        sess.close()

    threading.Thread(target=sampler, daemon=True).start()
    corpus = {"replayed": 0, "late": 0, "closed": 0}
    if a.corpus:
        # Every input on a live session: an unframeable one must close that session (and only it); any other must
        # leave the session answering ECHO within 1 s.
        sess = Session(a.host, a.port)
        sess.echo(1, timeout=30)
        for line in open(a.corpus):
            if not line.strip() or line.startswith("#"): continue
            outcome, hx = line.rstrip("\n").rsplit("\t", 1)
            msg = bytes.fromhex(hx)
            # An entry is one decoder input: bytes past the length its header declares are not part of the message (on
            # a live stream they would start another one, which waits for the rest and swallows the ECHO after it).
            declared = int.from_bytes(msg[2:4], "big") if len(msg) >= 4 else 0
            if not outcome.startswith("frame ") and 8 <= declared < len(msg): msg = msg[:declared]
            try:
                sess.s.sendall(msg)
                corpus["replayed"] += 1
                if outcome.startswith("frame "): raise EOFError
                if sess.echo(0x7000 + corpus["replayed"]) is None: corpus["late"] += 1
            except (EOFError, OSError):
                corpus["closed"] += 1
                sess.close()
                sess = Session(a.host, a.port)
        sess.close()
    t0 = time.time()
    ws = [threading.Thread(target=worker, args=(k,)) for k in range(a.sessions)]
    for w in ws: w.start()
    for w in ws: w.join()
    stop.set()
    alive = True
    try:
        s = Session(a.host, a.port)
        alive = s.echo(0x7fffffff, 2.0) is not None
        s.close()
    except OSError:
        alive = False
    res = {"seed": a.seed, "messages": stats["sent"], "sessions": a.sessions, "seconds": round(time.time() - t0, 1),
           "echoes": stats["echoes"], "echo_late": stats["echo_late"], "echo_max_ms": round(stats["echo_max_ms"], 1),
           "sessions_reopened": stats["reopened"], "broken_streams_sent": stats["broken_streams"],
           "rss_mb_start": rss0, "rss_mb_max": max(rss), "alive": alive, "errors": stats["errors"],
           "corpus_replayed": corpus["replayed"], "corpus_late": corpus["late"], "corpus_sessions_closed": corpus["closed"]}
    print(json.dumps(res) if a.json else "\n".join(f"{k}: {v}" for k, v in res.items()))
    raise SystemExit(0 if alive and stats["echo_late"] == 0 and corpus["late"] == 0 and not stats["errors"] else 1)

if __name__ == "__main__":
    main()
