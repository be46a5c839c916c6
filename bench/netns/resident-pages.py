#!/usr/bin/env python3
"""resident-pages.py PID: every resident page of a process's anonymous and heap mappings, one line per run of
resident pages: "start end" in hex (end exclusive). Reads /proc/PID/maps and /proc/PID/pagemap (root)."""
import struct
import sys

pid = sys.argv[1]
PAGE = 4096
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
    for line in maps:
        parts = line.split()
        name = parts[5] if len(parts) > 5 else ""
        if name not in ("", "[heap]"):
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        pm.seek(lo // PAGE * 8)
        data = pm.read((hi - lo) // PAGE * 8)
        run = None
        for i in range(len(data) // 8):
            (entry,) = struct.unpack_from("<Q", data, i * 8)
            present = entry & (1 << 63) or entry & (1 << 62)  # in memory or swapped
            addr = lo + i * PAGE
            if present and run is None:
                run = addr
            elif not present and run is not None:
                print(f"{run:x} {addr:x}")
                run = None
        if run is not None:
            print(f"{run:x} {hi:x}")
