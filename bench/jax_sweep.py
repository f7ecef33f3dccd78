"""JAX-on-CPU peer of `gradscope bench --sweep`: the trainability map's grid of tanh MLPs trained together.

The nets of the grid (src/bench.rs: sweep_bench_config): depth 30, width 64, batch 16, xavier-normal init
scaled by a gain, biases drawn with a bias std, the teacher regression task (16 inputs, 4 outputs), MSE,
plain SGD at lr 0.01; full: a 24 x 24 gain (0.5..3) x bias-std (0..0.5) grid and 100 steps, quick: 8 x 8 and
10 steps. One step of every net, as gradscope's: forward, loss, backward, each layer's delta rms (the
metric's ||delta_1|| / ||delta_L||), each layer's ||dW||, the global gradient norm and the SGD update. The
step of one net is jax.vmap'ed over the grid and compiled once with jax.jit (fp32, CPU).

  python3 bench/jax_sweep.py --suite quick [--json]
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")

DEPTH, WIDTH, BATCH, D_IN, D_OUT, LR = 30, 64, 16, 16, 4, 0.01
GRIDS = {"full": (24, 24, 100), "quick": (8, 8, 10)}


def init(key, gain, bias_std):
    """One net: xavier-normal hidden layers (variance gain^2 * 2 / (fan_in + fan_out)), biases N(0, bias_std^2)."""
    k = jax.random.split(key, 6)
    xavier = lambda kk, shape: jax.random.normal(kk, shape) * gain * (2.0 / (shape[-1] + shape[-2])) ** 0.5
    return {
        "w1": xavier(k[0], (WIDTH, D_IN)),
        "b1": jax.random.normal(k[1], (WIDTH,)) * bias_std,
        "w": xavier(k[2], (DEPTH - 1, WIDTH, WIDTH)),
        "b": jax.random.normal(k[3], (DEPTH - 1, WIDTH)) * bias_std,
        "w_out": xavier(k[4], (D_OUT, WIDTH)),
        "b_out": jnp.zeros(D_OUT),
    }


def step(params, x, target):
    """One net's step: returns (new params, loss, log10 ||delta_1|| / ||delta_L||, per-layer ||dW||)."""

    def loss_fn(p, eps):
        # eps: zeros added to every pre-activation, so d loss / d eps is every layer's delta
        z1 = x @ p["w1"].T + p["b1"] + eps[0]
        a = jnp.tanh(z1)

        def layer(a, wbe):
            w, b, e = wbe
            z = a @ w.T + b + e
            return jnp.tanh(z), None

        a, _ = jax.lax.scan(layer, a, (p["w"], p["b"], eps[1:]))
        y = a @ p["w_out"].T + p["b_out"]
        return 0.5 * jnp.sum((y - target) ** 2) / BATCH

    eps = jnp.zeros((DEPTH, BATCH, WIDTH))
    loss, (g, deltas) = jax.value_and_grad(loss_fn, argnums=(0, 1))(params, eps)
    delta_rms = jnp.sqrt(jnp.mean(deltas ** 2, axis=(1, 2)))
    ratio = jnp.log10(delta_rms[0]) - jnp.log10(delta_rms[-1])
    norms = jnp.concatenate([jnp.linalg.norm(g["w1"])[None], jnp.sqrt(jnp.sum(g["w"] ** 2, axis=(1, 2)))])
    new = jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g)
    return new, loss, ratio, norms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=sorted(GRIDS), default="quick")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    nx, ny, steps = GRIDS[args.suite]
    gains = jnp.linspace(0.5, 3.0, nx)
    biases = jnp.linspace(0.0, 0.5, ny)
    gg, bb = jnp.meshgrid(gains, biases)
    keys = jax.random.split(jax.random.PRNGKey(1), nx * ny)
    params = jax.vmap(init)(keys, gg.ravel(), bb.ravel())
    kx, kt = jax.random.split(jax.random.PRNGKey(2))
    x = jax.random.normal(kx, (BATCH, D_IN))
    target = jax.random.normal(kt, (BATCH, D_OUT))
    grid_step = jax.jit(jax.vmap(step, in_axes=(0, None, None)))
    jax.block_until_ready(grid_step(params, x, target))  # compile
    t0 = time.perf_counter()
    jax.block_until_ready(grid_step(params, x, target))
    init_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = params
    out = None
    for _ in range(steps):
        out = grid_step(p, x, target)
        p = out[0]
    jax.block_until_ready(out)
    train_s = time.perf_counter() - t0
    nets = nx * ny
    result = {
        "config": f"sweep-{nx}x{ny}", "framework": "jax", "version": jax.__version__,
        "device": f"cpu ({os.cpu_count()} cores)", "nets": nets, "steps": steps,
        "init_secs": init_s, "grid_ms_per_step": train_s * 1e3 / steps,
        "net_ms_per_step": train_s * 1e3 / steps / nets,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"jax {jax.__version__} on {result['device']}: {result['config']}, {nets} nets x {steps} steps")
        print(f"  gradient of every net at init: {init_s:.3f} s")
        print(f"  {result['grid_ms_per_step']:.1f} ms per grid step, {result['net_ms_per_step']:.3f} ms per net-step")


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
