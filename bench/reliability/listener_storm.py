#!/usr/bin/env python3
"""Hostile load on an OpenFlow listener, with the switch's threads and RSS sampled while it lasts.

  listener_storm.py --port P --pid PID [--silent N] [--trickle N] [--interval S] [--flood N] [--seconds S]
                    [--controller] [--json]

--silent N     connections that never send a byte
--trickle N    connections that send one byte every --interval seconds (a slow-drip HELLO)
--flood N      connection attempts opened and closed as fast as possible, during the run
--controller   first connect a well-behaved controller and measure FLOW_MOD+BARRIER round trips during the storm
Prints one line per second (threads, RSS, connections still open) and a summary (JSON with --json).
"""
import argparse, json, os, socket, struct, sys, threading, time

def proc_status(pid):
    threads = rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"): threads = int(line.split()[1])
            elif line.startswith("VmRSS:"): rss = int(line.split()[1]) // 1024
    return threads, rss

def open_conn(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(True)
    s.settimeout(5)
    s.connect((host, port))
    s.setblocking(False)
    return s

def is_open(s):
    """True while the switch keeps the connection (reads and discards what it sent, e.g. its HELLO)."""
    try:
        while True:
            if s.recv(65536) == b"": return False
    except BlockingIOError:
        return True
    except OSError:
        return False

HELLO = struct.pack("!BBHI", 1, 0, 8, 1)

class Controller:
    """A minimal OpenFlow 1.0 peer: HELLO, then FLOW_MOD + BARRIER round trips, echo answered."""
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.s.sendall(HELLO)
        self.xid = 1000
        self.lat = []
    def recv_msg(self):
        while True:
            if len(self.buf) >= 8:
                ln = struct.unpack("!H", self.buf[2:4])[0]
                if len(self.buf) >= ln:
                    m, self.buf = self.buf[:ln], self.buf[ln:]
                    if m[1] == 2:  # ECHO_REQUEST
                        self.s.sendall(bytes([1, 3]) + m[2:])
                        continue
                    return m
            d = self.s.recv(65536)
            if not d: raise EOFError("switch closed the controller connection")
            self.buf += d
    def flow_mod_rtt(self, i):
        self.xid += 1
        # ofp_match: wildcards all but nw_dst (exact), nw_dst varies; ADD, actions drop
        wildcards = ((1 << 22) - 1) & ~(0x3f << 14) & ~(1 << 4)
        match = struct.pack("!IH6s6sHBxHBB2xIIHH", wildcards, 0, b"\0" * 6, b"\0" * 6, 0, 0, 0x0800, 0, 0, 0, 0x0a000000 + (i & 0xffffff), 0, 0)
        body = match + struct.pack("!QHHHHIHH", 0, 0, 0, 0, 100, 0xffffffff, 0xffff, 0)
        fm = struct.pack("!BBHI", 1, 14, 8 + len(body), self.xid) + body
        self.xid += 1
        bar = struct.pack("!BBHI", 1, 18, 8, self.xid)
        t0 = time.perf_counter()
        self.s.sendall(fm + bar)
        while True:
            m = self.recv_msg()
            if m[1] == 19 and struct.unpack("!I", m[4:8])[0] == self.xid: break
            if m[1] == 1: raise RuntimeError("switch answered the flow-mod with an error")
        self.lat.append((time.perf_counter() - t0) * 1000)

def pct(xs, p):
    if not xs: return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--silent", type=int, default=0)
    ap.add_argument("--trickle", type=int, default=0)
    ap.add_argument("--interval", type=float, default=4)
    ap.add_argument("--flood", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--controller", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    t0, r0 = proc_status(a.pid)
    ctl = None
    phase = ["idle"]
    lat = {"idle": [], "storm": []}
    stop = threading.Event()
    def drive():
        i = 0
        try:
            while not stop.is_set():
                ctl.flow_mod_rtt(i)
                if i >= 50: lat[phase[0]].append(ctl.lat[-1])
                i += 1
                time.sleep(0.01)
        except Exception as e:
            lat["error"] = repr(e)
    if a.controller:
        ctl = Controller(a.host, a.port)
        ct = threading.Thread(target=drive, daemon=True)
        ct.start()
        time.sleep(5)
        phase[0] = "storm"
    silent, trickle, refused = [], [], 0
    for i in range(a.silent + a.trickle):
        try:
            s = open_conn(a.host, a.port)
        except OSError:
            refused += 1
            continue
        (silent if i < a.silent else trickle).append(s)
    flood_done = [0, 0]
    def flood():
        for _ in range(a.flood):
            try:
                s = socket.create_connection((a.host, a.port), timeout=2)
                s.close()
                flood_done[0] += 1
            except OSError:
                flood_done[1] += 1
    ft = threading.Thread(target=flood, daemon=True)
    if a.flood: ft.start()
    max_threads, max_rss = t0, r0
    start = time.time()
    next_drip = start
    while time.time() - start < a.seconds:
        now = time.time()
        if now >= next_drip:
            for s in trickle:
                try: s.send(b"\x01")
                except OSError: pass
            next_drip = now + a.interval
        time.sleep(0.2)
        if int(now - start) != int(time.time() - start):
            th, rss = proc_status(a.pid)
            max_threads, max_rss = max(max_threads, th), max(max_rss, rss)
            if not a.json:
                print(f"t={int(time.time()-start):3d}s threads={th} rss={rss}MB silent_open={sum(map(is_open, silent))} trickle_open={sum(map(is_open, trickle))}", flush=True)
    stop.set()
    th, rss = proc_status(a.pid)
    res = {
        "threads_before": t0, "rss_mb_before": r0, "threads_max": max(max_threads, th), "rss_mb_max": max(max_rss, rss),
        "threads_end": th, "rss_mb_end": rss,
        "silent_open_at_end": sum(map(is_open, silent)), "trickle_open_at_end": sum(map(is_open, trickle)),
        "connect_refused": refused, "flood_connected": flood_done[0], "flood_failed": flood_done[1],
    }
    if ctl:
        res.update({"flowmod_ms_p50_idle": round(pct(lat["idle"], 50), 3), "flowmod_ms_p99_idle": round(pct(lat["idle"], 99), 3),
                    "flowmod_ms_p50_storm": round(pct(lat["storm"], 50), 3), "flowmod_ms_p99_storm": round(pct(lat["storm"], 99), 3),
                    "flowmod_ms_max_storm": round(max(lat["storm"] or [float("nan")]), 3),
                    "flowmods_in_storm": len(lat["storm"]), "controller_error": lat.get("error", "")})
    for s in silent + trickle: s.close()
    print(json.dumps(res) if a.json else "\n".join(f"{k}: {v}" for k, v in res.items()))

if __name__ == "__main__":
    main()
