#!/usr/bin/env python3
"""resident-by-type.py DUMP.dmp DUMP.pages: which managed objects hold a process's resident memory. Reads the heap
dump's objects (dotnet-dump analyze: dumpheap) and the resident page runs that resident-pages.py wrote at the same
moment; prints the resident bytes by type (an object counts the resident part of its pages), the resident bytes of
the GC heap no live object covers (free space, dead objects: the allocation budget's footprint), and the resident
anonymous memory outside the GC heap (native allocations, stacks, the runtime's own)."""
import bisect
import os
import re
import subprocess
import sys
from collections import defaultdict

dump, pages_file = sys.argv[1], sys.argv[2]
tool = os.path.expanduser("~/.dotnet/tools/dotnet-dump")
out = subprocess.run([tool, "analyze", dump, "-c", "dumpheap", "-c", "eeheap -gc", "-c", "exit"],
                     capture_output=True, text=True).stdout
runs = []
for line in open(pages_file):
    a, b = line.split()
    runs.append((int(a, 16), int(b, 16)))
runs.sort()
starts = [r[0] for r in runs]


def resident(lo, hi):
    """Resident bytes of [lo, hi)."""
    total = 0
    i = max(0, bisect.bisect_right(starts, lo) - 1)
    while i < len(runs) and runs[i][0] < hi:
        a, b = runs[i]
        total += max(0, min(b, hi) - max(a, lo))
        i += 1
    return total


mt_name = {}
objects = []
obj_re = re.compile(r"^\s*([0-9a-f]{12,16})\s+([0-9a-f]{12,16})\s+([\d,]+)\s*(Free)?\s*$")
stat_re = re.compile(r"^\s*([0-9a-f]{12,16})\s+[\d,]+\s+[\d,]+\s+(.+)$")
region_re = re.compile(r"^\s*([0-9a-f]{12,16})\s+([0-9a-f]{12,16})\s+([0-9a-f]{12,16})\s+([0-9a-f]{12,16})\s")
regions = []
for line in out.splitlines():
    m = obj_re.match(line)
    if m:
        objects.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3).replace(',', '')), bool(m.group(4))))
        continue
    m = stat_re.match(line)
    if m:
        mt_name[int(m.group(1), 16)] = m.group(2).strip()
        continue
    m = region_re.match(line)
    if m:
        # eeheap -gc: segment, begin (allocated start), allocated end, committed end
        regions.append((int(m.group(2), 16), int(m.group(4), 16)))

by_type = defaultdict(lambda: [0, 0, 0])
covered = 0
for addr, mt, size, free in objects:
    r = resident(addr, addr + size)
    name = "(free)" if free else mt_name.get(mt, hex(mt))
    t = by_type[name]
    t[0] += r
    t[1] += size
    t[2] += 1
    covered += r
gc_resident = sum(resident(a, b) for a, b in regions)
all_resident = sum(b - a for a, b in runs)
print(f"resident anonymous+heap: {all_resident / 1e6:.1f} MB; in the GC heap's {len(regions)} regions: "
      f"{gc_resident / 1e6:.1f} MB; under objects (live and free): {covered / 1e6:.1f} MB; "
      f"outside the GC heap: {(all_resident - gc_resident) / 1e6:.1f} MB")
print(f"{'resident MB':>12} {'size MB':>9} {'count':>7}  type")
for name, (r, size, n) in sorted(by_type.items(), key=lambda kv: -kv[1][0])[:40]:
    print(f"{r / 1e6:12.2f} {size / 1e6:9.2f} {n:7d}  {name}")
