#!/usr/bin/env bash
# One prepared run of every speed measurement, beside the peer framework, for a machine where time is
# short (a lent GPU): it builds nothing, runs an already built `target/release/gradscope`, and writes
# every output and one summary table into a folder.
#
#   bash bench/side_by_side.sh [OUTDIR]
#
#   SUITE=full|quick   the configurations (default: full)
#   PEER=torch|jax     the baseline (default: torch where it imports with CUDA, else jax)
#   STEP_TIMEOUT=S     seconds each measurement may take (default 240)
#   ROUNDS=N           the suite and the peer N times in turns, each one's best round kept (default 1)
#
# OUTDIR (default $OUT, else /tmp/gradscope-bench) receives: gradscope.jsonl (the suite, default paths),
# variants.jsonl (every path and tile policy), profile.txt (GPU time per kernel), peer.jsonl (both .jsonl with
# one line per configuration and round), summary.md
# (the side-by-side table and the variants table) and log.txt. A step that fails or runs out of time is
# noted in log.txt and the rest still run.
set -u
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gradscope-bench}}"
suite="${SUITE:-full}"
limit="${STEP_TIMEOUT:-240}"
rounds="${ROUNDS:-1}"
bin=./target/release/gradscope
mkdir -p "$out"
log="$out/log.txt"
: > "$log"
if [ ! -x "$bin" ]; then
    echo "no $bin: build it first (cargo build --release)" | tee -a "$log"
    exit 2
fi
peer="${PEER:-}"
if [ -z "$peer" ]; then
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        peer=torch
    else
        peer=jax
    fi
fi

# step NAME OUTFILE COMMAND...: runs COMMAND with the time limit, stdout to OUTFILE, notes the outcome
step() {
    local name="$1" file="$2"
    shift 2
    local t0 rc
    t0=$(date +%s)
    timeout "$limit" "$@" > "$file" 2>> "$log"
    rc=$?
    echo "$name: exit $rc after $(( $(date +%s) - t0 )) s" | tee -a "$log"
}

"$bin" adapters >> "$log" 2>&1
# the suite and the peer in turns, ROUNDS times: a machine that slows down for a while (a shared VM)
# then slows both, and compare.py keeps each one's best round
: > "$out/gradscope.jsonl"
: > "$out/peer.jsonl"
for round in $(seq 1 "$rounds"); do
    step "gradscope bench (round $round of $rounds)" "$out/round.jsonl" "$bin" bench --suite "$suite" --json
    cat "$out/round.jsonl" >> "$out/gradscope.jsonl"
    step "$peer baseline (round $round of $rounds)" "$out/round.jsonl" \
        python3 "bench/${peer}_step.py" --suite "$suite" --json
    cat "$out/round.jsonl" >> "$out/peer.jsonl"
done
rm -f "$out/round.jsonl"
step "gradscope bench --variants" "$out/variants.jsonl" "$bin" bench --suite "$suite" --variants --json
step "gradscope bench --profile" "$out/profile.txt" "$bin" bench --suite "$suite" --profile

{
    echo "# gradscope beside $peer ($suite suite)"
    echo
    python3 bench/compare.py "$out/gradscope.jsonl" "$out/peer.jsonl" 2>&1
    echo
    echo "## Every variant (ms/step, path)"
    echo
    python3 - "$out/variants.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
configs = list(dict.fromkeys(r["config"] for r in rows))
variants = list(dict.fromkeys(r["variant"] for r in rows))
print("| variant | " + " | ".join(configs) + " |")
print("|---|" + "---:|" * len(configs))
for v in variants:
    cells = []
    for c in configs:
        r = next((r for r in rows if r["config"] == c and r["variant"] == v), None)
        if r is None or r.get("skipped"):
            cells.append("-")
        else:
            cells.append(f'{r["median_ms"]:.3g} ({r["path"]}, {r["dispatches_per_step"]} disp)')
    print(f"| {v} | " + " | ".join(cells) + " |")
PY
} > "$out/summary.md" 2>> "$log"
cat "$out/summary.md"
