"""What the baseline scripts share: the `gradscope bench` configurations, the timing loop and the output.

The configurations mirror `configs()` in src/bench.rs, names included; `python3 bench/common.py` checks that
the two still agree (it exits 1 and prints the difference when they do not).

Timing: after a warm-up, each timed round puts the initial weights back (not timed, as `gradscope bench`
restarts long runs so the weights never drift far), runs n steps and waits for the last one; n is chosen so a
round lasts about `round_s` seconds (at most 200 steps). The reported ms/step is the median over the rounds.
"""

import json
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Input and output sizes the tasks set (src/model/config.rs: d_in, d_out).
TEACHER_D_IN, TEACHER_D_OUT = 16, 4  # MLP teacher regression, MSE
ADDING_D_IN, ADDING_D_OUT = 2, 1  # RNN adding problem, MSE


@dataclass(frozen=True)
class Config:
    """One network of the benchmark: an MLP of `depth` hidden layers or an RNN over `depth` time steps."""

    name: str
    arch: str  # "mlp", "rnn" or "lstm"
    depth: int
    width: int
    batch: int
    activation: str  # "relu" (MLP) or "tanh" (RNN)
    d_in: int
    d_out: int
    residual: bool = False
    lr: float = 1e-3

    def flops(self) -> float:
        """About 6·B·(weights) per step, the same count `gradscope bench` divides by."""
        b, w, d, i, o = self.batch, self.width, self.depth, self.d_in, self.d_out
        if self.arch == "mlp":
            return 6.0 * b * (i * w + (d - 1) * w * w + w * o)
        gates = 4 if self.arch == "lstm" else 1
        return 6.0 * b * d * gates * (i * w + w * w) + 6.0 * b * w * o


def mlp(name, depth, width, batch):
    return Config(name, "mlp", depth, width, batch, "relu", TEACHER_D_IN, TEACHER_D_OUT)


def rnn(name, steps, hidden, batch):
    return Config(name, "rnn", steps, hidden, batch, "tanh", ADDING_D_IN, ADDING_D_OUT)


def lstm(name, steps, hidden, batch):
    return Config(name, "lstm", steps, hidden, batch, "tanh", ADDING_D_IN, ADDING_D_OUT)


SUITES = {
    "full": [
        mlp("S", 32, 64, 256),
        mlp("M", 64, 256, 512),
        mlp("L", 64, 1024, 1024),
        mlp("deep", 512, 128, 256),
        rnn("rnn", 300, 128, 64),
        lstm("lstm", 300, 128, 64),
    ],
    "quick": [
        mlp("S-quick", 8, 32, 64),
        mlp("M-quick", 16, 64, 64),
        mlp("deep-quick", 64, 16, 32),
        rnn("rnn-quick", 50, 16, 8),
        lstm("lstm-quick", 50, 16, 8),
    ],
    # of `gradscope bench --suite lessons`, the one lesson whose step the scripts model: the LSTM lesson
    # (preset lstm-adding; it trains with Adam there, SGD here)
    "lessons": [
        lstm("lstm-lesson", 200, 32, 32),
    ],
}

# Rounds and seconds per round of each suite.
ROUNDS = {"quick": (7, 0.1), "lessons": (7, 0.1), "full": (15, 0.2)}


def measure(run, reset, suite, warmup=3):
    """Median ms per step. `run(n)` runs n steps and waits for them; `reset()` restores the initial weights."""
    reps, round_s = ROUNDS[suite]
    reset()
    run(warmup)
    reset()
    t0 = time.perf_counter()
    run(1)
    one = time.perf_counter() - t0
    n = max(1, min(200, math.ceil(round_s / max(one, 1e-6))))
    per_step = []
    for _ in range(reps):
        reset()
        t0 = time.perf_counter()
        run(n)
        per_step.append((time.perf_counter() - t0) / n)
    return statistics.median(per_step) * 1e3


def header(framework, version, device):
    print(f"{framework} {version} on {device}")
    print(f"{'config':<11} {'variant':<10} {'ms/step':>9} {'steps/s':>9} {'GFLOP/s':>9}")


def report(cfg, variant, ms, as_json, framework, version, device):
    """One table row, or one JSON line with `--json`."""
    if as_json:
        print(json.dumps({
            "config": cfg.name, "variant": variant, "ms_per_step": ms, "steps_per_s": 1e3 / ms,
            "gflops": cfg.flops() / (ms * 1e-3) / 1e9, "framework": framework, "version": version,
            "device": device,
        }), flush=True)
    else:
        print(f"{cfg.name:<11} {variant:<10} {ms:>9.3f} {1e3 / ms:>9.1f} "
              f"{cfg.flops() / (ms * 1e-3) / 1e9:>9.2f}", flush=True)


def selected(suite, names):
    """The configurations of `suite`, or only those named."""
    cfgs = SUITES[suite]
    return [c for c in cfgs if not names or c.name in names]


def check_against_rust(path=Path(__file__).resolve().parent.parent / "src" / "bench.rs"):
    """Compares SUITES with the configurations written in src/bench.rs; returns a list of differences."""
    text = path.read_text()
    found = {}
    for suite, arm in (("full", "Full"), ("quick", "Quick")):
        body = text.split(f"Suite::{arm} => vec![", 1)[1].split("],", 1)[0]
        found[suite] = [
            (name, kind, int(d), int(w), int(b))
            for name, kind, d, w, b in re.findall(
                r'name:\s*"([^"]+)",\s*cfg:\s*(mlp|rnn|lstm)\((\d+),\s*(\d+),\s*(\d+)\)', body)
        ]
    ours = {s: [(c.name, c.arch, c.depth, c.width, c.batch) for c in cs] for s, cs in SUITES.items()
            if s in found}
    return [f"{s}: src/bench.rs has {found[s]}, bench/common.py has {ours[s]}"
            for s in ours if ours[s] != found[s]]


if __name__ == "__main__":
    diffs = check_against_rust()
    print("\n".join(diffs) if diffs else "bench/common.py matches src/bench.rs")
    sys.exit(1 if diffs else 0)
