"""PyTorch fp32 baseline of one gradscope training step, for the `gradscope bench` configurations.

One step, as gradscope's engine does it (src/reference/mod.rs is the exact definition):
  MLP  z_l = a_{l-1} W_l^T + b_l, a_l = relu(z_l) (+ a_{l-1} when residual, l >= 2), y = a_L W_out^T + b_out
  RNN  z_t = x_t W_x^T + h_{t-1} W_h^T + b, h_t = tanh(z_t), h_0 = 0, y = h_T W_out^T + b_out
  loss = sum((y - target)^2) / (2 B); backward; one gradient norm per layer (||dW_l|| for the MLP, the norm
  of time step t's share of dW_h for the RNN, as gradscope's statistics do) and the global gradient norm;
  plain SGD update of every parameter.

Variants: `eager` (ordinary PyTorch) and, on a CUDA GPU, `graph` (the same step captured once as a CUDA
graph and replayed, which removes the launch overhead) and, for RNN configs, `cudnn`: torch.nn.RNN, i.e. the
fused cuDNN kernel, with one norm per parameter tensor instead of per time step (a reference point for a
fused recurrent kernel, not the same step). Without a GPU only `eager` runs, on the CPU.
TF32 is off: every matmul is full fp32.

  python3 bench/torch_step.py --suite full [--json] [--config NAME ...]
"""

import argparse
import functools
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts in the repo
import common  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def normal(*shape, std=1.0):
    return torch.randn(*shape, device=DEV) * std


def mlp_problem(cfg):
    """Parameters [W_1, b_1, ..., W_L, b_L, W_out, b_out] (He-normal init), inputs and targets."""
    params = []
    for l in range(1, cfg.depth + 1):
        fan_in = cfg.d_in if l == 1 else cfg.width
        params += [normal(cfg.width, fan_in, std=(2.0 / fan_in) ** 0.5), torch.zeros(cfg.width, device=DEV)]
    params += [normal(cfg.d_out, cfg.width, std=cfg.width ** -0.5), torch.zeros(cfg.d_out, device=DEV)]
    return [p.requires_grad_() for p in params], normal(cfg.batch, cfg.d_in), normal(cfg.batch, cfg.d_out)


def mlp_step(cfg, params, x, target):
    """Forward, loss, backward, per-layer norms, SGD. Returns (loss, per-layer norms, global norm)."""
    a = x
    for l in range(cfg.depth):
        h = torch.relu(torch.nn.functional.linear(a, params[2 * l], params[2 * l + 1]))
        a = h + a if cfg.residual and l >= 1 else h
    y = torch.nn.functional.linear(a, params[-2], params[-1])
    loss = 0.5 * (y - target).square().sum() / cfg.batch
    grads = torch.autograd.grad(loss, params)
    norms = torch.stack(torch._foreach_norm(grads[0:-2:2]))  # ||dW_l||, l = 1..L
    return loss.detach(), norms, sgd(cfg, params, grads)


def rnn_problem(cfg):
    """Parameters [W_x, W_h, b, W_out, b_out] (Xavier-normal init), inputs T x B x d_in and targets."""
    h, i = cfg.width, cfg.d_in
    params = [normal(h, i, std=(2.0 / (h + i)) ** 0.5), normal(h, h, std=h ** -0.5),
              torch.zeros(h, device=DEV), normal(cfg.d_out, h, std=h ** -0.5), torch.zeros(cfg.d_out, device=DEV)]
    x, target = torch.rand(cfg.depth, cfg.batch, i, device=DEV), torch.rand(cfg.batch, cfg.d_out, device=DEV)
    return [p.requires_grad_() for p in params], x, target


def rnn_step(cfg, params, x, target):
    """As mlp_step, by backpropagation through time; the per-time-step dW_h shares give the norms."""
    w_x, w_h, b, w_out, b_out = params
    t_n, batch, d_in = x.shape
    zx = torch.addmm(b, x.reshape(t_n * batch, d_in), w_x.t()).view(t_n, batch, -1)  # all steps at once
    h = torch.zeros(batch, cfg.width, device=DEV)
    hs, zs = [h], []
    for t in range(t_n):
        z = zx[t] + h @ w_h.t()
        h = torch.tanh(z)
        zs.append(z)
        hs.append(h)
    y = torch.nn.functional.linear(h, w_out, b_out)
    loss = 0.5 * (y - target).square().sum() / cfg.batch
    *deltas, d_w_out, d_b_out = torch.autograd.grad(loss, zs + [w_out, b_out])
    with torch.no_grad():
        delta = torch.stack(deltas)  # T x B x H: dL/dz_t
        d_w_h_t = torch.bmm(delta.transpose(1, 2), torch.stack(hs[:-1]))  # T x H x H, one share per step
        grads = (delta.reshape(-1, cfg.width).t() @ x.reshape(-1, d_in), d_w_h_t.sum(0), delta.sum((0, 1)),
                 d_w_out, d_b_out)
        step_norms = torch.linalg.vector_norm(d_w_h_t, dim=(1, 2))
    return loss.detach(), step_norms, sgd(cfg, params, grads)


def lstm_problem(cfg):
    """LSTM parameters [W_x, W_h, b, W_out, b_out] (blocks i, f, g, o; forget bias 1), inputs, targets."""
    h, i = cfg.width, cfg.d_in
    b = torch.zeros(4 * h, device=DEV)
    b[h:2 * h] = 1.0
    params = [normal(4 * h, i, std=(2.0 / (h + i)) ** 0.5), normal(4 * h, h, std=h ** -0.5), b,
              normal(cfg.d_out, h, std=h ** -0.5), torch.zeros(cfg.d_out, device=DEV)]
    x, target = torch.rand(cfg.depth, cfg.batch, i, device=DEV), torch.rand(cfg.batch, cfg.d_out, device=DEV)
    return [p.requires_grad_() for p in params], x, target


def lstm_step(cfg, params, x, target):
    """As rnn_step for the LSTM (docs/DESIGN.md): dL/da_t of each step's gate pre-activations gives the
    per-step dW_h shares and norms."""
    w_x, w_h, b, w_out, b_out = params
    t_n, batch, d_in = x.shape
    hid = cfg.width
    zx = torch.addmm(b, x.reshape(t_n * batch, d_in), w_x.t()).view(t_n, batch, -1)
    h = torch.zeros(batch, hid, device=DEV)
    c = torch.zeros(batch, hid, device=DEV)
    hs, zs = [h], []
    for t in range(t_n):
        a = zx[t] + h @ w_h.t()
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        zs.append(a)
        hs.append(h)
    y = torch.nn.functional.linear(h, w_out, b_out)
    loss = 0.5 * (y - target).square().sum() / cfg.batch
    *deltas, d_w_out, d_b_out = torch.autograd.grad(loss, zs + [w_out, b_out])
    with torch.no_grad():
        delta = torch.stack(deltas)  # T x B x 4H: dL/da_t
        d_w_h_t = torch.bmm(delta.transpose(1, 2), torch.stack(hs[:-1]))  # T x 4H x H
        grads = (delta.reshape(-1, 4 * hid).t() @ x.reshape(-1, d_in), d_w_h_t.sum(0), delta.sum((0, 1)),
                 d_w_out, d_b_out)
        step_norms = torch.linalg.vector_norm(d_w_h_t, dim=(1, 2))
    return loss.detach(), step_norms, sgd(cfg, params, grads)


def cudnn_lstm(cfg, x, target):
    """The step with the recurrent layer as torch.nn.LSTM (cuDNN) and per-tensor norms; (step, params)."""
    lstm = torch.nn.LSTM(cfg.d_in, cfg.width).to(DEV)
    head = torch.nn.Linear(cfg.width, cfg.d_out).to(DEV)
    params = list(lstm.parameters()) + list(head.parameters())

    def step():
        y = head(lstm(x)[1][0][0])
        loss = 0.5 * (y - target).square().sum() / cfg.batch
        grads = torch.autograd.grad(loss, params)
        norms = torch.stack(torch._foreach_norm(grads))
        return loss.detach(), norms, sgd(cfg, params, grads)

    return step, params


def sgd(cfg, params, grads):
    """The global gradient norm, then p -= lr * g for every parameter (in place). Returns the norm."""
    with torch.no_grad():
        global_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_add_(params, grads, alpha=-cfg.lr)
    return global_norm


def cudnn_rnn(cfg, x, target):
    """The step with the recurrent layer as torch.nn.RNN (cuDNN) and per-tensor norms; (step, params)."""
    rnn = torch.nn.RNN(cfg.d_in, cfg.width, nonlinearity="tanh").to(DEV)
    head = torch.nn.Linear(cfg.width, cfg.d_out).to(DEV)
    params = list(rnn.parameters()) + list(head.parameters())

    def step():
        y = head(rnn(x)[1][0])
        loss = 0.5 * (y - target).square().sum() / cfg.batch
        grads = torch.autograd.grad(loss, params)
        norms = torch.stack(torch._foreach_norm(grads))
        return loss.detach(), norms, sgd(cfg, params, grads)

    return step, params


def measure(step, params, suite):
    """Median ms/step of step(); every timed round starts from the weights `params` hold now."""
    initial = [p.detach().clone() for p in params]

    def reset():
        with torch.no_grad():
            torch._foreach_copy_(params, initial)
        sync()

    def run(n):
        for _ in range(n):
            step()
        sync()

    return common.measure(run, reset, suite)


def cuda_graph(step):
    """step() captured once as a CUDA graph (after a warm-up on a side stream); returns its replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def run_config(cfg, suite, emit):
    make, step_fn = {
        "mlp": (mlp_problem, mlp_step),
        "rnn": (rnn_problem, rnn_step),
        "lstm": (lstm_problem, lstm_step),
    }[cfg.arch]
    params, x, target = make(cfg)
    initial = [p.detach().clone() for p in params]
    step = functools.partial(step_fn, cfg, params, x, target)
    variants = {"eager": lambda: (step, params)}
    if DEV.type == "cuda":
        variants["graph"] = lambda: (cuda_graph(step), params)
        if cfg.arch == "rnn":
            variants["cudnn"] = lambda: cudnn_rnn(cfg, x, target)
        if cfg.arch == "lstm":
            variants["cudnn"] = lambda: cudnn_lstm(cfg, x, target)
    for variant, build in variants.items():
        with torch.no_grad():
            torch._foreach_copy_(params, initial)
        try:
            fn, ps = build()
            emit(variant, measure(fn, ps, suite))
        except Exception as e:  # one failed variant should not end the run
            print(f"{cfg.name:<11} {variant:<10} failed: {e}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=sorted(common.SUITES), default="quick")
    ap.add_argument("--config", nargs="*", default=[], help="only these configurations")
    ap.add_argument("--json", action="store_true", help="one JSON object per line instead of the table")
    args = ap.parse_args()
    device = (f"cuda: {torch.cuda.get_device_name()}" if DEV.type == "cuda"
              else f"cpu ({torch.get_num_threads()} threads)")
    if not args.json:
        common.header("pytorch", torch.__version__, device)
    torch.manual_seed(0)
    for cfg in common.selected(args.suite, args.config):
        run_config(cfg, args.suite, lambda variant, ms: common.report(
            cfg, variant, ms, args.json, "pytorch", torch.__version__, device))


if __name__ == "__main__":
    main()
