#!/usr/bin/env python3
"""The largest heap holders of a dhat profile (`--features dhat-heap`), at the moment the heap was
largest (t-gmax): bytes live then, grouped by the first frame of the call stack that is not the
allocator or a standard collection, with the product's own frame that led there.

    python3 tools/dhat-top.py dhat-heap.json [--top 20]
"""

import argparse
import json
import re
from collections import defaultdict

# Frames that only say "memory was allocated": the holder is the first frame past them.
PLUMBING = re.compile(
    r"^(dhat|alloc|core|std|hashbrown|<alloc|<core|<std|<hashbrown|bytes::|<bytes|smallvec|<smallvec|"
    r"serde_json::value|<serde_json::value|indexmap|<indexmap|__rust|\[root\])"
)
OURS = re.compile(r"eip_(operator|cloud|api|alibaba|otc|aws|simulator)")


def function(frame: str) -> str:
    # "0x55d0...: kube_runtime::reflector::store::Writer<K>::apply_watcher_event (src/..:1:2)"
    text = frame.split(": ", 1)[-1]
    return re.sub(r" \(.*\)$", "", text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    with open(args.profile, encoding="utf-8") as f:
        data = json.load(f)
    frames = data["ftbl"]
    holders = defaultdict(lambda: [0, 0, defaultdict(int)])
    total = 0
    for pp in data["pps"]:
        live = pp.get("gb", 0)
        if not live:
            continue
        total += live
        stack = [function(frames[i]) for i in pp["fs"]]
        holder = next((f for f in stack if not PLUMBING.match(f)), stack[-1] if stack else "?")
        ours = next((f for f in stack if OURS.search(f)), "-")
        entry = holders[holder]
        entry[0] += live
        entry[1] += pp.get("gbk", 0)
        entry[2][ours] += live
    mib = 1024 * 1024
    print(f"heap at its largest (t-gmax): {total / mib:.1f} MiB in {data.get('tgmax', data.get('tg', '?'))} us")
    print()
    print("| live at t-gmax | blocks | holder (first frame past the allocator) | reached from (the product's frame) |")
    print("| ---: | ---: | --- | --- |")
    for holder, (live, blocks, ours) in sorted(holders.items(), key=lambda kv: -kv[1][0])[: args.top]:
        via = max(ours.items(), key=lambda kv: kv[1])[0]
        print(f"| {live / mib:.2f} MiB ({100 * live / max(total, 1):.0f} %) | {blocks} | `{holder[:110]}` | `{via[:90]}` |")


if __name__ == "__main__":
    main()
