#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Find import circles between the files of each library: file A calls a
function defined in file B and B calls one defined in A (or a longer
loop).  Read from the built objects with nm, so it sees calls, not just
includes.  Usage: call_circles.py BUILDDIR; prints each circle and exits 1
if there is one."""
import os
import subprocess
import sys


def libraries(top):
    """libtool's PIC objects, grouped by the directory that builds them."""
    groups = {}
    for root, _dirs, files in os.walk(top):
        if os.path.basename(root) != ".libs" or "/tests" in root:
            continue
        objs = [os.path.join(root, f) for f in files if f.endswith(".o")]
        if objs:
            groups[os.path.dirname(root)] = objs
    return groups


def symbols(obj):
    defined, undefined = set(), set()
    out = subprocess.run(["nm", obj], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
    return defined, undefined


def circles(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def source_name(obj):
    # libtool names objects "<lib>_la-<file>.o" when per-target flags exist
    base = os.path.basename(obj)[:-2]
    return (base.split("-", 1)[1] if "_la-" in base else base) + ".c"


def main():
    bad = 0
    for lib, objs in sorted(libraries(sys.argv[1]).items()):
        syms = {o: symbols(o) for o in objs}
        owner = {}
        for o, (defined, _u) in syms.items():
            for s in defined:
                owner[s] = o
        graph = {o: {owner[s] for s in syms[o][1] if s in owner and owner[s] != o}
                 for o in objs}
        for comp in circles(graph):
            bad = 1
            print("call circle in %s: %s" % (os.path.relpath(lib, sys.argv[1]),
                  " <-> ".join(source_name(o) for o in comp)))
    return bad


if __name__ == "__main__":
    sys.exit(main())
