#!/usr/bin/env python3
"""peakmem.py NAMES CMD... — run CMD and print the peak, over the run, of
the summed proportional set size (PSS, KiB: shared pages divided among the
processes sharing them, so a forked helper is not counted twice) of its
descendant processes whose command name is one of NAMES (comma-separated,
e.g. "kiln" or "buildah,runc").

GNU time's %M reports the largest single descendant, which for a build is
the compiler a RUN step starts, the same for every builder; this measures
the builder itself instead.  Polls /proc every 5 ms."""
import os
import subprocess
import sys
import time


def children_map():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        comm = st[st.index("(") + 1:st.rindex(")")]
        kids.setdefault(int(rest[1]), []).append((int(p), comm, int(rest[21])))
    return kids


def pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    names = set(sys.argv[1].split(","))
    page = os.sysconf("SC_PAGE_SIZE") // 1024
    proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        kids = children_map()
        total, todo = 0, [(proc.pid, None, None)]
        seen = set()
        # the launched process itself
        try:
            with open("/proc/%d/stat" % proc.pid) as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            if comm in names:
                total += pss(proc.pid)
        except OSError:
            pass
        while todo:
            pid = todo.pop()[0]
            for c in kids.get(pid, []):
                if c[0] in seen:
                    continue
                seen.add(c[0])
                if c[1] in names:
                    total += pss(c[0])
                todo.append(c)
        peak = max(peak, total)
        time.sleep(0.005)
    print(peak)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
