"""JAX-on-CPU baseline of one gradscope training step, for the `gradscope bench` configurations.

It is the peer for machines without a GPU, where gradscope runs on lavapipe (a software Vulkan driver on the
same CPU cores). The step is the one torch_step.py times (src/reference/mod.rs is the exact definition):
forward (ReLU MLP with a linear head, or a tanh RNN or LSTM unrolled over T steps), loss sum((y - target)^2) / (2 B),
backward, one gradient norm per layer (||dW_l||; for the RNN the norm of time step t's share of dW_h), the
global gradient norm, and a plain SGD update; the whole step is one function compiled by jax.jit (XLA),
fp32, on the CPU (set JAX_PLATFORMS to run it elsewhere). The hidden layers of the MLP, which all have the
same shape, and the RNN's time steps run as a lax.scan, so compile time does not grow with depth.

  python3 bench/jax_step.py --suite quick [--json] [--config NAME ...]
"""

import argparse
import functools
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts in the repo
import common  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")


def mlp_problem(cfg, key):
    """Parameters (He-normal init; hidden layers 2..L stacked), inputs and targets."""
    k = jax.random.split(key, 5)
    w, d_in, d_out, depth = cfg.width, cfg.d_in, cfg.d_out, cfg.depth
    params = {
        "w1": jax.random.normal(k[0], (w, d_in)) * (2.0 / d_in) ** 0.5,
        "b1": jnp.zeros(w),
        "w": jax.random.normal(k[1], (depth - 1, w, w)) * (2.0 / w) ** 0.5,
        "b": jnp.zeros((depth - 1, w)),
        "w_out": jax.random.normal(k[2], (d_out, w)) * w ** -0.5,
        "b_out": jnp.zeros(d_out),
    }
    return params, jax.random.normal(k[3], (cfg.batch, d_in)), jax.random.normal(k[4], (cfg.batch, d_out))


def mlp_step(cfg, params, x, target):
    """Forward, loss, backward, per-layer norms, SGD. Returns (new params, loss, layer norms, global norm)."""

    def loss_fn(p):
        a = jax.nn.relu(x @ p["w1"].T + p["b1"])

        def layer(a, wb):
            h = jax.nn.relu(a @ wb[0].T + wb[1])
            return (h + a if cfg.residual else h), None

        a, _ = jax.lax.scan(layer, a, (p["w"], p["b"]))
        y = a @ p["w_out"].T + p["b_out"]
        return 0.5 * jnp.sum((y - target) ** 2) / cfg.batch

    loss, g = jax.value_and_grad(loss_fn)(params)
    norms = jnp.concatenate([jnp.linalg.norm(g["w1"])[None], jnp.sqrt(jnp.sum(g["w"] ** 2, axis=(1, 2)))])
    return sgd(cfg, params, g), loss, norms, global_norm(g)


def rnn_problem(cfg, key):
    """Parameters (Xavier-normal init), inputs T x B x d_in and targets."""
    k = jax.random.split(key, 5)
    h, i = cfg.width, cfg.d_in
    params = {
        "w_x": jax.random.normal(k[0], (h, i)) * (2.0 / (h + i)) ** 0.5,
        "w_h": jax.random.normal(k[1], (h, h)) * h ** -0.5,
        "b": jnp.zeros(h),
        "w_out": jax.random.normal(k[2], (cfg.d_out, h)) * h ** -0.5,
        "b_out": jnp.zeros(cfg.d_out),
    }
    return (params, jax.random.uniform(k[3], (cfg.depth, cfg.batch, i)),
            jax.random.uniform(k[4], (cfg.batch, cfg.d_out)))


def rnn_step(cfg, params, x, target):
    """As mlp_step, by backpropagation through time. The gradient with respect to a zero added to each z_t
    is δ_t = dL/dz_t; the per-step dW_h shares δ_t^T h_{t-1} give the norms and, summed, dW_h."""
    t_n, batch, d_in = x.shape
    zx = x @ params["w_x"].T + params["b"]  # T x B x H, all steps at once

    def loss_fn(zero, w_out, b_out):
        def cell(h, zx_zero):
            h_new = jnp.tanh(zx_zero[0] + zx_zero[1] + h @ params["w_h"].T)
            return h_new, h  # carry h_t, keep h_{t-1}

        h, h_prev = jax.lax.scan(cell, jnp.zeros((batch, cfg.width)), (zx, zero))
        y = h @ w_out.T + b_out
        return 0.5 * jnp.sum((y - target) ** 2) / cfg.batch, h_prev

    return bptt_step(cfg, params, x, zx, loss_fn)


def lstm_problem(cfg, key):
    """LSTM parameters (blocks i, f, g, o stacked; Xavier-normal init, forget bias 1), inputs, targets."""
    k = jax.random.split(key, 5)
    h, i = cfg.width, cfg.d_in
    params = {
        "w_x": jax.random.normal(k[0], (4 * h, i)) * (2.0 / (h + i)) ** 0.5,
        "w_h": jax.random.normal(k[1], (4 * h, h)) * h ** -0.5,
        "b": jnp.zeros(4 * h).at[h:2 * h].set(1.0),
        "w_out": jax.random.normal(k[2], (cfg.d_out, h)) * h ** -0.5,
        "b_out": jnp.zeros(cfg.d_out),
    }
    return (params, jax.random.uniform(k[3], (cfg.depth, cfg.batch, i)),
            jax.random.uniform(k[4], (cfg.batch, cfg.d_out)))


def lstm_step(cfg, params, x, target):
    """As rnn_step for the LSTM of docs/DESIGN.md: the gradient with respect to a zero added to each step's
    gate pre-activations a_t gives dL/da_t, whose shares dL/da_t^T h_{t-1} give the per-step norms."""
    t_n, batch, d_in = x.shape
    hid = cfg.width
    zx = x @ params["w_x"].T + params["b"]  # T x B x 4H

    def loss_fn(zero, w_out, b_out):
        def cell(hc, zx_zero):
            h, c = hc
            a = zx_zero[0] + zx_zero[1] + h @ params["w_h"].T
            i, f, g, o = (a[:, k * hid:(k + 1) * hid] for k in range(4))
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h_new = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h_new, c), h

        zeros = jnp.zeros((batch, hid))
        (h, _), h_prev = jax.lax.scan(cell, (zeros, zeros), (zx, zero))
        y = h @ w_out.T + b_out
        return 0.5 * jnp.sum((y - target) ** 2) / cfg.batch, h_prev

    return bptt_step(cfg, params, x, zx, loss_fn)


def bptt_step(cfg, params, x, zx, loss_fn):
    """The rest of a recurrent step: loss_fn(zero, w_out, b_out) -> (loss, h_{t-1} per step) takes a zero
    added to each step's pre-activations, whose gradient is dL/dz_t (T x B x rows of W_h); its shares
    dL/dz_t^T h_{t-1} give the per-step norms and, summed, dW_h."""
    (loss, h_prev), (delta, d_w_out, d_b_out) = jax.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True)(
        jnp.zeros_like(zx), params["w_out"], params["b_out"])
    d_w_h_t = jnp.einsum("tbi,tbj->tij", delta, h_prev)  # one share of dW_h per time step
    g = {
        "w_x": jnp.einsum("tbi,tbj->ij", delta, x),
        "w_h": d_w_h_t.sum(0),
        "b": delta.sum((0, 1)),
        "w_out": d_w_out,
        "b_out": d_b_out,
    }
    norms = jnp.sqrt(jnp.sum(d_w_h_t ** 2, axis=(1, 2)))
    return sgd(cfg, params, g), loss, norms, global_norm(g)


def global_norm(g):
    return jnp.sqrt(sum(jnp.sum(v ** 2) for v in jax.tree_util.tree_leaves(g)))


def sgd(cfg, params, g):
    return jax.tree_util.tree_map(lambda p, d: p - cfg.lr * d, params, g)


def run_config(cfg, suite, emit):
    make, step_fn = {
        "mlp": (mlp_problem, mlp_step),
        "rnn": (rnn_problem, rnn_step),
        "lstm": (lstm_problem, lstm_step),
    }[cfg.arch]
    initial, x, target = make(cfg, jax.random.PRNGKey(0))
    step = jax.jit(functools.partial(step_fn, cfg))
    state = {"params": initial}

    def reset():
        state["params"] = initial

    def run(n):
        out = None
        for _ in range(n):
            out = step(state["params"], x, target)
            state["params"] = out[0]
        jax.block_until_ready(out)

    emit("jit", common.measure(run, reset, suite))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=sorted(common.SUITES), default="quick")
    ap.add_argument("--config", nargs="*", default=[], help="only these configurations")
    ap.add_argument("--json", action="store_true", help="one JSON object per line instead of the table")
    args = ap.parse_args()
    dev = jax.devices()[0]
    device = f"cpu ({os.cpu_count()} cores)" if dev.platform == "cpu" else f"{dev.platform}: {dev.device_kind}"
    if not args.json:
        common.header("jax", jax.__version__, device)
    for cfg in common.selected(args.suite, args.config):
        run_config(cfg, args.suite, lambda variant, ms: common.report(
            cfg, variant, ms, args.json, "jax", jax.__version__, device))


if __name__ == "__main__":
    main()
