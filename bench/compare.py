"""Joins the JSON lines of `gradscope bench --json` and of the baseline scripts (`--json`) into one table:
per configuration, gradscope's ms/step, each baseline variant's ms/step, and gradscope's time divided by the
baseline's (above 1: gradscope is slower). Where a file holds several rounds of a configuration, the best
round of each side is compared.

  python3 bench/compare.py GRADSCOPE.jsonl BASELINE.jsonl [MORE.jsonl ...]
"""

import json
import sys


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def best(rows, key):
    """One row per (config, framework, variant): the round with the lowest `key` (files that hold several
    rounds of the same measurement, `ROUNDS=N bash bench/side_by_side.sh`), in first-seen order."""
    kept = {}
    for r in rows:
        k = (r["config"], r.get("framework"), r.get("variant"))
        if k not in kept or (r.get(key) is not None and (kept[k].get(key) is None or r[key] < kept[k][key])):
            kept[k] = r
    return list(kept.values())


def main(paths):
    ours_all = read(paths[0])
    ours = best(ours_all, "median_ms")
    base = best([r for p in paths[1:] for r in read(p)], "ms_per_step")
    rounds = len(ours_all) // max(len(ours), 1)
    if rounds > 1:
        print(f"best of {rounds} rounds each, taken in turns")
    columns = list(dict.fromkeys(f"{r['framework']} {r['variant']}" for r in base))
    if ours:
        threads = ours[0].get("driver_threads")
        note = f" · {threads} lavapipe threads" if threads is not None else ""
        print(f"gradscope adapter: {ours[0]['adapter']}{note}")
    for r in {r["framework"]: r for r in base}.values():
        print(f"{r['framework']} {r['version']} on {r['device']}")
    print("| config | gradscope ms/step | " + " | ".join(f"{c} ms/step | ratio" for c in columns) + " |")
    print("|---|---:|" + "---:|---:|" * len(columns))
    for g in ours:
        ms = None if g.get("skipped") else g["median_ms"]
        cells = [f"{ms:.3f}" if ms else f"skipped: {g['skipped']}"]
        for c in columns:
            hit = [r for r in base if r["config"] == g["config"] and f"{r['framework']} {r['variant']}" == c]
            b = hit[0]["ms_per_step"] if hit else None
            cells += [f"{b:.3f}" if b else "-", f"{ms / b:.1f}x" if b and ms else "-"]
        print(f"| {g['config']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
