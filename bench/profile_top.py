"""Turns callgrind_annotate output (stdin) into a Markdown table of instructions per call.

Usage: callgrind_annotate [--inclusive=yes] FILE | python3 bench/profile_top.py CALLS TOP [self]
(bench/profile.sh runs it). With `self`, rows holding (nearly) the whole program are left out:
they are thread entry points that callgrind's cycle handling reports as "self" cost. Function names are shortened: generic arguments and the file part
are dropped, so the table stays readable; the raw callgrind file keeps everything.
"""

import re
import sys

calls, top = int(sys.argv[1]), int(sys.argv[2])
self_cost = len(sys.argv) > 3 and sys.argv[3] == "self"
line_re = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)$")
total = None
rows = []
PLUMBING = re.compile(
    r"tokio::runtime::|std::sys::|(^|:)clone( |$)|start_thread|thread_start|vtable\.shim|"
    r"core::future::poll_fn|futures_util::future::future::map|<core::pin::Pin|"
    r"MapIntoResponseFuture|RouteFuture|Instrumented|TowerToHyperServiceFuture|"
    r"UpgradeableConnection|handle_connection|from_fn::FromFn|MapFuture|'2 "
)
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    count, name = int(m.group(1).replace(",", "")), m.group(2).strip()
    if name.startswith("PROGRAM TOTALS"):
        total = count
        continue
    if total is None or not name or name.startswith("Ir"):
        continue
    if self_cost and total and count > 0.99 * total:
        continue
    # Inclusive: the runtime's plumbing (every task runs inside it) and recursion duplicates
    # ("'2" names, over 100%) say nothing about where a call's cost goes.
    if not self_cost and (PLUMBING.search(name) or (total and count > total)):
        continue
    rows.append((count, name))


def short(name: str) -> str:
    # "file:function [object]" → function, without generic arguments.
    name = re.sub(r"\s*\[[^\]]*\]$", "", name)
    if ":" in name and not name.startswith("<"):
        head, _, rest = name.partition(":")
        if "/" in head or head.endswith((".rs", ".c", ".h", ".S")) or head == "???":
            name = rest
    depth, out = 0, []
    for ch in name:
        if ch == "<" and out and out[-1] not in " (":
            depth += 1
            continue
        if ch == ">" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    name = "".join(out)
    return name if len(name) <= 110 else name[:107] + "..."


print("| instructions per call | share | function |")
print("|---:|---:|---|")
for count, name in rows[:top]:
    share = 100.0 * count / total if total else 0.0
    print(f"| {count // calls:,} | {share:.1f}% | `{short(name)}` |")
