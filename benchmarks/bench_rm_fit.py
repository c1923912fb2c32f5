"""Preference pair-steps per second of fitting the proxy reward model, kernel against NumPy.

Run ``python benchmarks/bench_rm_fit.py``. Single thread (``NUMBA_NUM_THREADS=1`` and
``OPENBLAS_NUM_THREADS=1``, so both sides use one core; set either variable to override),
default world and data (``simrl.config.Config()``: 2000 training pairs, hidden width 32,
mini-batches of 64, Adam, 30 epochs), pairs drawn as ``simrl.experiment.build`` draws them.

* kernel: ``ProxyRM.fit`` (the Numba kernel ``simrl.kernels.rm.fit`` on the sparse features
  of ``ProxyRM.features``); the features are built inside each timed call, and their share of
  the time is printed;
* NumPy: the same model and loss written here on dense feature matrices (float64, and a
  float32 variant): per mini-batch one gather of the 2B rows, BLAS matrix products forward
  and backward, the same Adam update on the same flat parameter vector, the same batch size
  and full-batches-only epochs (the shuffle is ``rng.permutation``).

One pair-step is one preference pair in one epoch: the figure is pairs used per epoch x epochs
/ seconds. Every loss configuration found at run time is timed: each key of
``simrl.reward_model.LOSSES``, and Bradley-Terry with each regularizer field of ``RMConfig``
(``center_rewards_coefficient``, ``bsr_lambda``). Before timing, every NumPy version is checked
against the kernel on one mini-batch through ``ProxyRM.fit``: the loss, the gradient (one SGD
step with learning rate 1 gives params0 - params1 = gradient) and three Adam steps must agree.
A loss with no NumPy reference here is timed for the kernel alone. Each figure is the median
of ``--repeats`` timed fits, interleaved (kernel, NumPy float64, NumPy float32, kernel, ...)
in one process after one untimed warm-up each. ``--clock cpu`` times by this process's CPU
time instead of wall time: on a machine shared with other jobs, time slices given to them do
not count (every variant runs on one thread).

Then every proxy architecture (``rm.activation``, ``rm.depth``, ``rm.head_norm``,
``rm.features``) fitted by ``ProxyRM.fit`` with plain BT, its pair-steps/s beside the
default's in the same interleaved rounds (``--archs`` prints only this table).

Then the profile of the default fit, per mini-batch: the kernel's own forward, loss, backward
and Adam functions timed on the default data (``breakdown``), and the packed (vector)
instructions LLVM emitted for the Adam loop, read from its machine code
(``adam_instructions``; no ``fastmath``, so no fused multiply-add may appear).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: one core each side

import argparse
import dataclasses
import math
import re
import statistics
import time
from collections.abc import Callable

import numpy as np
from _common import machine
from numba import njit

from simrl.config import Config, RMConfig
from simrl.data import PreferencePairs, make_pairs, split_prompts
from simrl.kernels.rm import (
    adam_block,
    batch_backward,
    batch_forward,
    batch_loss_grad,
    compact,
    update,
)
from simrl.policy import reference_policy
from simrl.reward_model import LOSSES, ProxyRM
from simrl.world import Gold

# RMConfig fields this benchmark understands; any other field is reported as not covered.
KNOWN_FIELDS = {
    "margin",
    "label_smoothing",
    "weight_decay",
    "hidden",
    "prompt_features",
    "bigram_features",
    "loss",
    "center_rewards_coefficient",
    "bsr_lambda",
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "init_scale",
    # architectures: the table of arch_cases()
    "features",
    "activation",
    "depth",
    "head_norm",
    # pretraining is the same fit on other pairs; the probe is off by default
    "pretrain",
    "pretrain_gold_mix",
    "pretrain_pairs",
    "pretrain_epochs",
    "track_dispersion",
}
# Regularizers added to Bradley-Terry (when RMConfig has the field), with the value timed.
REGULARIZERS = {
    "center_rewards_coefficient": 0.01,
    "bsr_lambda": 0.1,
    "label_smoothing": 0.1,
    "weight_decay": 0.01,
}
NUMPY_LOSSES = ("bt", "margin", "hinge", "logitnorm", "dr")  # with a NumPy reference
# The clock of every timing: wall time (default), or with --clock cpu this process's CPU time,
# which other jobs on a shared machine do not inflate (both sides run on one thread).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def dense(idx: np.ndarray, val: np.ndarray, F: int, dtype: type) -> np.ndarray:
    """Dense ``(N, F)`` feature matrix from padded sparse rows (repeated indices add up)."""
    X = np.zeros((idx.shape[0], F))
    np.add.at(X, (np.arange(idx.shape[0])[:, None], idx), val)
    return X.astype(dtype)


class NumpyRM:
    """The proxy r = w . tanh(W f + c) + b fitted by mini-batch Adam with NumPy and BLAS.

    Parameters are one flat vector laid out as the kernel's: ``W`` (F x H, row-major), ``c``,
    ``w``, ``b``; ``W``, ``c``, ``w`` are views into it, and the gradient has the same layout.

    Args:
        Xw, Xl: Dense features of the chosen and the rejected responses, ``(N, F)``.
        params: Initial flat parameters (copied, cast to the features' dtype).
        H: Hidden width.
        rm: Loss, regularizers, learning rate, batch size and epochs.
    """

    def __init__(
        self, Xw: np.ndarray, Xl: np.ndarray, params: np.ndarray, H: int, rm: RMConfig
    ) -> None:
        if rm.loss not in NUMPY_LOSSES:
            raise ValueError(f"no NumPy reference for loss {rm.loss!r}")
        self.Xw, self.Xl, self.H, self.rm = Xw, Xl, H, rm
        dt = Xw.dtype
        N, F = Xw.shape
        self.F = F
        self.B = min(rm.batch_size, N)
        self.params = params.astype(dt)
        self.grad = np.zeros_like(self.params)
        self.m1 = np.zeros_like(self.params)
        self.m2 = np.zeros_like(self.params)
        self.tmp = np.zeros_like(self.params)
        self.Xb = np.zeros((2 * self.B, F), dt)
        self.step = 0

    def _views(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        F, H = self.F, self.H
        return (
            flat[: F * H].reshape(F, H),
            flat[F * H : F * H + H],
            flat[F * H + H : F * H + 2 * H],
            flat[F * H + 2 * H :],
        )

    def loss_grad(self, batch: np.ndarray) -> float:
        """Loss of one mini-batch of pair indices; writes its gradient into ``self.grad``."""
        B, rm = self.B, self.rm
        Xb = self.Xb
        np.take(self.Xw, batch, axis=0, out=Xb[:B])
        np.take(self.Xl, batch, axis=0, out=Xb[B:])
        W, c, w, b = self._views(self.params)
        h = np.tanh(Xb @ W + c)  # (2B, H)
        r = h @ w + b[0]
        rw, rl = r[:B], r[B:]
        v, dw, dl = pair_loss_grad(rw, rl, rm)
        total = v.sum()
        g = np.empty_like(r)
        g[:B], g[B:] = dw / B, dl / B
        if rm.center_rewards_coefficient > 0.0:
            s = rw + rl
            total += rm.center_rewards_coefficient * (s * s).sum()
            cs = 2.0 * rm.center_rewards_coefficient * s / B
            g[:B] += cs
            g[B:] += cs
        total /= B
        if rm.bsr_lambda > 0.0:
            m = r.sum() / (2.0 * B)
            total += rm.bsr_lambda * B * m * m
            g += rm.bsr_lambda * m
        gW, gc, gwv, gb = self._views(self.grad)
        gwv[:] = h.T @ g
        gb[0] = g.sum()
        da = (g[:, None] * w) * (1.0 - h * h)  # (2B, H): gradient of the pre-activation
        gc[:] = da.sum(axis=0)
        np.matmul(Xb.T, da, out=gW)
        return float(total)

    def decay(self) -> None:
        """Decoupled weight decay: shrink ``W`` and ``w`` by ``1 - lr * weight_decay``."""
        wd = getattr(self.rm, "weight_decay", 0.0)
        if wd > 0.0:
            W, _c, w, _b = self._views(self.params)
            W *= 1.0 - self.rm.lr * wd
            w *= 1.0 - self.rm.lr * wd

    def adam(self) -> None:
        """One Adam step on the flat parameters, as the kernel takes it."""
        b1, b2, eps, lr = 0.9, 0.999, 1e-8, self.rm.lr
        g, m1, m2, tmp = self.grad, self.m1, self.m2, self.tmp
        self.decay()
        self.step += 1
        c1, c2 = 1.0 - b1**self.step, 1.0 - b2**self.step
        m1 *= b1
        m1 += (1.0 - b1) * g
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        m2 *= b2
        m2 += tmp
        np.divide(m2, c2, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        np.divide(m1, tmp, out=tmp)
        tmp *= lr / c1
        self.params -= tmp

    def sgd(self) -> None:
        """One plain gradient step."""
        self.decay()
        self.params -= self.rm.lr * self.grad

    def fit(self, rng: np.random.Generator) -> int:
        """All epochs over shuffled full mini-batches; returns the pair-steps taken."""
        N, B = self.Xw.shape[0], self.B
        update = self.adam if self.rm.optimizer == "adam" else self.sgd
        n = 0
        for _ in range(self.rm.epochs):
            order = rng.permutation(N)
            for start in range(0, N - B + 1, B):
                lv = self.loss_grad(order[start : start + B])
                if not math.isfinite(lv):
                    raise FloatingPointError("NumPy fit diverged")
                update()
                n += B
        return n


@njit(cache=True)
def epoch_passes(
    fw: tuple,
    fl: tuple,
    order: np.ndarray,
    params: np.ndarray,
    grad: np.ndarray,
    F: int,
    H: int,
    B: int,
    upto: int,
    n_epochs: int,
) -> float:
    """The kernel's own mini-batch phases over ``n_epochs`` epochs of full mini-batches in
    ``order``, the parameters held fixed: ``upto`` = 1 forward, 2 forward + loss, 3 forward +
    loss + backward (Bradley-Terry)."""
    N = order.shape[0]
    hw, hl = np.empty((B, H)), np.empty((B, H))
    rw, rl, gw, gl = np.empty(B), np.empty(B), np.empty(B), np.empty(B)
    s = 0.0
    for _ in range(n_epochs):
        for start in range(0, N - B + 1, B):
            rows = order[start : start + B]
            batch_forward(fw, fl, rows, params, F, H, hw, hl, rw, rl)
            if upto >= 2:
                s += batch_loss_grad(rw, rl, 0, 0.0, 0.0, 0.0, 0.0, gw, gl)
            if upto >= 3:
                batch_backward(fw, fl, rows, params, F, H, hw, hl, gw, gl, grad)
            s += rw[0]
    return s


@njit(cache=True)
def adam_steps(
    params: np.ndarray, grad: np.ndarray, m1: np.ndarray, m2: np.ndarray, F: int, H: int
) -> None:
    """The kernel's Adam update (``simrl.kernels.rm.update``) of every parameter, once per row
    of ``grad`` (a real gradient each step; ``update`` zeroes the row it consumed)."""
    for t in range(grad.shape[0]):
        update(params, grad[t], m1, m2, F, H, True, 0.01, 0.0, t + 1)


def breakdown(rm: ProxyRM, pairs: PreferencePairs, B: int, repeats: int) -> dict[str, float]:
    """Microseconds per mini-batch of B pairs (2B responses) spent in each phase of the kernel.

    Forward, loss and backward: the kernel's ``batch_forward``, ``batch_loss_grad`` and
    ``batch_backward`` over every full mini-batch of a shuffled epoch of the default data
    (cumulative timings, differenced); Adam: ``update`` on the gradients of 16 real
    mini-batches in turn. Each timed call is one epoch (about a millisecond), so that on a
    shared machine most calls run undisturbed; medians of ``10 * repeats`` interleaved rounds.
    """
    F, H = rm.n_features, rm.hidden
    iw, vw = rm.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
    il, vl = rm.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
    fw, fl = compact(iw, vw, H), compact(il, vl, H)
    p = flat(rm).copy()
    order = np.random.default_rng(0).permutation(len(pairs))
    n_batches = len(pairs) // B
    n_ep, n_adam = 1, 16  # 16 gradients + state stay in L2, as in a fit
    grads = np.zeros((n_adam, p.shape[0]))
    for t in range(n_adam):  # the gradient of mini-batch t
        epoch_passes(fw, fl, order[t * B % (n_batches * B) :][:B], p, grads[t], F, H, B, 3, 1)
    out: dict[str, list[float]] = {"forward": [], "forward+loss": [], "+backward": [], "Adam": []}
    timed = {
        "forward": lambda: epoch_passes(fw, fl, order, p, np.zeros_like(p), F, H, B, 1, n_ep),
        "forward+loss": lambda: epoch_passes(fw, fl, order, p, np.zeros_like(p), F, H, B, 2, n_ep),
        "+backward": lambda: epoch_passes(fw, fl, order, p, np.zeros_like(p), F, H, B, 3, n_ep),
    }
    per = {"forward": n_ep * n_batches, "forward+loss": n_ep * n_batches}
    per["+backward"] = n_ep * n_batches
    for fn in timed.values():
        fn()
    adam_steps(p.copy(), grads.copy(), np.zeros_like(p), np.zeros_like(p), F, H)
    for _ in range(10 * repeats):
        for name, fn in timed.items():
            t0 = CLOCK[0]()
            fn()
            out[name].append((CLOCK[0]() - t0) / per[name])
        args = (p.copy(), grads.copy(), np.zeros_like(p), np.zeros_like(p), F, H)
        t0 = CLOCK[0]()
        adam_steps(*args)
        out["Adam"].append((CLOCK[0]() - t0) / n_adam)
    med = {k: 1e6 * statistics.median(v) for k, v in out.items()}
    return {
        "forward": med["forward"],
        "loss": med["forward+loss"] - med["forward"],
        "backward": med["+backward"] - med["forward+loss"],
        "Adam": med["Adam"],
    }


def adam_instructions() -> tuple[list[str], list[str]]:
    """Packed double-precision arithmetic (``v...pd`` on ymm/zmm) and fused multiply-adds in
    the machine code of the kernel's Adam loop, compiled afresh (cached code has no asm)."""
    opts = {k: v for k, v in adam_block.targetoptions.items() if k not in ("cache", "nopython")}
    fn = njit(**opts)(adam_block.py_func)
    a = np.ones(64)
    fn(a, a.copy(), a.copy(), a.copy(), 1.0, 0.1, 1.0)
    asm = "".join(fn.inspect_asm().values())
    packed = re.findall(r"\t(v(?:sqrt|div|mul|add|sub)pd)\s+%?([yz]mm)", asm)
    fma = re.findall(r"\t(vf(?:n)?m(?:add|sub)\w*)", asm)
    return sorted({f"{op} {reg}" for op, reg in packed}), sorted(set(fma))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)), stable."""
    return np.logaddexp(0.0, z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def smoothed_logistic(z: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """-(1 - a) log sigma(z) - a log sigma(-z) and its derivative in z."""
    return (1.0 - a) * softplus(-z) + a * softplus(z), -(1.0 - a) * sigmoid(-z) + a * sigmoid(z)


def pair_loss_grad(
    rw: np.ndarray, rl: np.ndarray, rm: RMConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pair loss and its derivatives in r_w and r_l, for every loss in NUMPY_LOSSES."""
    m = getattr(rm, "margin", 0.0)
    a = getattr(rm, "label_smoothing", 0.0)
    d = rw - rl
    if rm.loss == "hinge":
        on = (m - d > 0.0).astype(rw.dtype)
        return (m - d) * on, -on, on
    if rm.loss == "logitnorm":
        n = np.sqrt(rw * rw + rl * rl + 1e-12)
        v, g = smoothed_logistic(d / n, a)
        n3 = n * n * n
        return v, g * (1.0 / n - d * rw / n3), g * (-1.0 / n - d * rl / n3)
    v, g = smoothed_logistic(d - m if rm.loss == "margin" else d, a)
    dw, dl = g, -g
    if rm.loss == "dr":
        v = v + softplus(-rw) + softplus(rl)
        dw = dw - sigmoid(-rw)
        dl = dl + sigmoid(rl)
    return v, dw, dl


def subset(pairs: PreferencePairs, n: int) -> PreferencePairs:
    """The first ``n`` pairs."""
    return PreferencePairs(*(getattr(pairs, f.name)[:n] for f in dataclasses.fields(pairs)))


def flat(rm: ProxyRM) -> np.ndarray:
    """The parameter vector of a single-member proxy (1-D, a view)."""
    return rm.params.reshape(-1)


def check(
    rm0: ProxyRM, pairs: PreferencePairs, rm_cfg: RMConfig, dtype: type, rtol: float
) -> float:
    """Assert the NumPy fit matches ``ProxyRM.fit`` on one mini-batch; return the max rel. error.

    Loss and gradient: one SGD step with learning rate 1 and no weight decay (so
    params0 - params1 is the gradient; error relative to its largest entry). Optimizer: three
    Adam steps with the configuration as given (L2 error relative to the kernel's
    displacement of the parameters).
    """
    one = subset(pairs, rm_cfg.batch_size)
    iw, vw = rm0.features(one.prompts, one.chosen, one.chosen_len)
    il, vl = rm0.features(one.prompts, one.rejected, one.rejected_len)
    F = rm0.n_features
    Xw, Xl = dense(iw, vw, F, dtype), dense(il, vl, F, dtype)
    p0 = flat(rm0).copy()

    no_wd = {"weight_decay": 0.0} if hasattr(rm_cfg, "weight_decay") else {}
    sgd = dataclasses.replace(rm_cfg, optimizer="sgd", lr=1.0, epochs=1, **no_wd)
    k = dataclasses.replace(rm0, params=rm0.params.copy())
    k_loss = float(np.ravel(k.fit(one, sgd, np.random.default_rng(0)).loss)[0])
    g_kernel = p0 - flat(k)
    ref = NumpyRM(Xw, Xl, p0, rm0.hidden, sgd)
    loss = ref.loss_grad(np.arange(ref.B))
    scale = np.abs(g_kernel).max()
    np.testing.assert_allclose(loss, k_loss, rtol=rtol, err_msg="loss")
    np.testing.assert_allclose(ref.grad, g_kernel, rtol=rtol, atol=rtol * scale, err_msg="grad")
    worst = max(abs(loss - k_loss) / abs(k_loss), float(np.abs(ref.grad - g_kernel).max() / scale))

    adam = dataclasses.replace(rm_cfg, optimizer="adam", epochs=3)
    k = dataclasses.replace(rm0, params=rm0.params.copy())
    k.fit(one, adam, np.random.default_rng(0))
    ref = NumpyRM(Xw, Xl, p0, rm0.hidden, adam)
    ref.fit(np.random.default_rng(0))
    moved = flat(k) - p0  # L2 relative error of the displacement: in float32, Adam's first
    err = float(np.linalg.norm(ref.params - flat(k)) / np.linalg.norm(moved))  # steps ~ sign(g)
    assert err < 10 * max(rtol, 1e-6), f"Adam steps differ (relative error {err:.2e})"
    return max(worst, err)


def training_pairs(cfg: Config) -> PreferencePairs:
    """Training pairs drawn as a run draws them (same streams as ``simrl.experiment``)."""
    children = np.random.SeedSequence(cfg.seed).spawn(2)
    r_split, r_data = (np.random.default_rng(c) for c in children)
    ref = reference_policy(cfg.world, cfg.gold.polite_tokens)
    gold = Gold.from_config(cfg.world, cfg.gold)
    train_x, _ = split_prompts(cfg.world.n_prompts, cfg.data.heldout_prompt_fraction, r_split)
    return make_pairs(ref, gold, cfg.data, train_x, cfg.data.n_pairs, r_data).pairs


def configs() -> list[tuple[str, RMConfig]]:
    """Every loss configuration available at run time, with a label."""
    out = []
    base = Config().rm
    names = {f.name for f in dataclasses.fields(RMConfig)}
    for loss in LOSSES:
        out.append((loss, dataclasses.replace(base, loss=loss)))
    for field, coef in REGULARIZERS.items():
        if field in names:
            out.append((f"bt + {field}={coef:g}", dataclasses.replace(base, **{field: coef})))
    return out


def arch_cases() -> list[tuple[str, dict]]:
    """Architectures timed beside the default (RMConfig changes, plain BT)."""
    out: list[tuple[str, dict]] = [("default: sufficient, tanh, depth 1", {})]
    out += [(f"sufficient, {a}, depth 1", {"activation": a}) for a in ("relu", "gelu", "identity")]
    out += [
        ("sufficient, tanh, depth 1, rmsnorm", {"head_norm": "rmsnorm"}),
        ("sufficient, tanh, depth 2", {"depth": 2}),
        ("embedding, tanh, depth 1", {"features": "embedding"}),
        ("embedding, relu, depth 2, rmsnorm", {"features": "embedding", "activation": "relu",
                                               "depth": 2, "head_norm": "rmsnorm"}),
        ("embedding, gelu, depth 2, rmsnorm", {"features": "embedding", "activation": "gelu",
                                               "depth": 2, "head_norm": "rmsnorm"}),
    ]  # fmt: skip
    return out


def arch_table(cfg: Config, pairs: PreferencePairs, repeats: int) -> None:
    """Print each architecture's pair-steps/s and its ratio to the default's."""
    cases = [(label, dataclasses.replace(cfg.rm, **ch)) for label, ch in arch_cases()]
    B = min(cfg.rm.batch_size, len(pairs))
    n = (len(pairs) // B) * B * cfg.rm.epochs

    def one(rm_cfg: RMConfig, seed: int) -> float:
        rm = ProxyRM.init(cfg.world, rm_cfg, np.random.default_rng(1))
        t0 = CLOCK[0]()
        rm.fit(pairs, rm_cfg, np.random.default_rng(seed))
        return n / (CLOCK[0]() - t0)

    for _, c in cases:  # warm-up (compilation)
        one(c, 0)
    rates: dict[str, list[float]] = {label: [] for label, _ in cases}
    for rep in range(repeats):
        for label, c in cases:
            rates[label].append(one(c, 100 + rep))
    med = {label: statistics.median(v) for label, v in rates.items()}
    base = med[cases[0][0]]
    print(
        f"# proxy architectures, ProxyRM.fit with plain BT, H = {cfg.rm.hidden}, {len(pairs)} "
        f"pairs, {cfg.rm.epochs} epochs; median of {repeats}; M pair-steps/s"
    )
    print(f"{'architecture':<40}{'kernel':>8}{'/default':>10}")
    for label, _ in cases:
        print(f"{label:<40}{med[label] / 1e6:>8.2f}{med[label] / base:>10.2f}")


def main() -> None:
    """Check, time interleaved, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed fits per variant")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or this process's CPU time (for a machine shared with other jobs)",
    )
    ap.add_argument(
        "--widths", type=int, nargs="+", default=[8, 32, 128], help="hidden widths (plain BT)"
    )
    ap.add_argument("--archs", action="store_true", help="only the architectures' table")
    args = ap.parse_args()
    CLOCK[0] = time.perf_counter if args.clock == "wall" else time.process_time

    cfg = Config()
    pairs = training_pairs(cfg)
    if args.archs:
        print(f"# {machine()}, clock: {args.clock} time")
        arch_table(cfg, pairs, args.repeats)
        return
    unknown = sorted({f.name for f in dataclasses.fields(RMConfig)} - KNOWN_FIELDS)

    def fresh(rm_cfg: RMConfig) -> ProxyRM:
        return ProxyRM.init(cfg.world, rm_cfg, np.random.default_rng(1))

    cases: list[tuple[str, RMConfig]] = configs()
    cases += [
        (f"bt, H={h}", dataclasses.replace(cfg.rm, hidden=h))
        for h in args.widths
        if h != cfg.rm.hidden
    ]
    print(f"# {machine()}, clock: {args.clock} time")
    for label, rm_cfg in cases:
        if rm_cfg.loss in NUMPY_LOSSES:
            e64 = check(fresh(rm_cfg), pairs, rm_cfg, np.float64, 1e-8)
            e32 = check(fresh(rm_cfg), pairs, rm_cfg, np.float32, 2e-3)
            print(
                f"check {label}: NumPy == kernel on one batch (loss, gradient, 3 Adam steps); "
                f"max rel. error float64 {e64:.1e}, float32 {e32:.1e}"
            )
    if unknown:
        print(f"note: RMConfig fields not covered by this benchmark: {', '.join(unknown)}")

    rm_def = fresh(cfg.rm)
    F = rm_def.n_features
    iw, vw = rm_def.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
    il, vl = rm_def.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
    X = {dt: (dense(iw, vw, F, dt), dense(il, vl, F, dt)) for dt in (np.float64, np.float32)}

    def feature_seconds() -> float:
        t0 = CLOCK[0]()
        rm_def.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
        rm_def.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
        return CLOCK[0]() - t0

    def run_kernel(rm_cfg: RMConfig, seed: int) -> tuple[float, int]:
        rm = fresh(rm_cfg)
        t0 = CLOCK[0]()
        rm.fit(pairs, rm_cfg, np.random.default_rng(seed))
        sec = CLOCK[0]() - t0
        B = min(rm_cfg.batch_size, len(pairs))
        return sec, (len(pairs) // B) * B * rm_cfg.epochs

    def run_numpy(rm_cfg: RMConfig, seed: int, dt: type) -> tuple[float, int]:
        ref = NumpyRM(*X[dt], flat(fresh(rm_cfg)), rm_cfg.hidden, rm_cfg)
        t0 = CLOCK[0]()
        n = ref.fit(np.random.default_rng(seed))
        return CLOCK[0]() - t0, n

    runners: list[tuple[str, str, Callable[[int], tuple[float, int]]]] = []
    for label, rm_cfg in cases:
        runners.append((label, "kernel", lambda s, c=rm_cfg: run_kernel(c, s)))
        if rm_cfg.loss in NUMPY_LOSSES:
            for dt, name in ((np.float64, "numpy64"), (np.float32, "numpy32")):
                runners.append((label, name, lambda s, c=rm_cfg, d=dt: run_numpy(c, s, d)))
    for _, _, fn in runners:  # warm-up
        fn(0)
    rates: dict[tuple[str, str], list[float]] = {(lb, nm): [] for lb, nm, _ in runners}
    feats = []
    for rep in range(args.repeats):
        for label, name, fn in runners:
            sec, n = fn(100 + rep)
            rates[(label, name)].append(n / sec)
        feats.append(feature_seconds())
    med = {key: statistics.median(v) for key, v in rates.items()}

    print(
        f"# proxy RM fit, default world (F={F} features, {len(pairs)} pairs, batch "
        f"{cfg.rm.batch_size}, {cfg.rm.epochs} epochs, Adam), median of {args.repeats}; "
        f"M pair-steps/s"
    )
    head = f"{'loss configuration':<40}{'kernel':>8}{'NumPy64':>9}{'NumPy32':>9}"
    print(f"{head}{'k/NumPy64':>11}{'k/NumPy32':>11}")
    for label, _ in cases:
        k = med[(label, "kernel")]
        row = f"{label:<40}{k / 1e6:>8.2f}"
        if (label, "numpy64") in med:
            n64, n32 = med[(label, "numpy64")], med[(label, "numpy32")]
            row += f"{n64 / 1e6:>9.2f}{n32 / 1e6:>9.2f}{k / n64:>11.2f}{k / n32:>11.2f}"
        else:
            row += f"{'-':>9}{'-':>9}{'-':>11}{'-':>11}"
        print(row)
    default_label = cases[0][0]
    pair_steps = len(pairs) // cfg.rm.batch_size * cfg.rm.batch_size * cfg.rm.epochs
    share = statistics.median(feats) / (pair_steps / med[(default_label, "kernel")])
    h32 = next((lb for lb, c in cases if c == dataclasses.replace(cfg.rm, hidden=32)), None)
    ratios = {
        lb: med[(lb, "kernel")] / max(med[(lb, "numpy64")], med[(lb, "numpy32")])
        for lb, c in cases
        if c.loss in NUMPY_LOSSES and c.hidden == cfg.rm.hidden
    }
    worst = min(ratios, key=ratios.get)
    print(
        f"feature building inside ProxyRM.fit: {1e3 * statistics.median(feats):.2f} ms "
        f"({100 * share:.1f}% of a default fit)"
    )
    B = cfg.rm.batch_size
    bd = breakdown(rm_def, pairs, B, args.repeats)
    per_batch = 1e6 * B / med[(default_label, "kernel")]
    npar = flat(rm_def).shape[0]
    parts = bd["forward"] + bd["loss"] + bd["backward"] + bd["Adam"]
    print(
        f"kernel, plain BT, per mini-batch of {B} pairs ({2 * B} responses): {per_batch:.1f} us "
        f"= forward {bd['forward']:.1f} + loss {bd['loss']:.1f} + backward "
        f"{bd['backward']:.1f} + Adam {bd['Adam']:.1f} + rest {per_batch - parts:.1f} "
        f"(shuffle, reward statistics, calls)"
    )
    arch_table(cfg, pairs, args.repeats)
    packed, fma = adam_instructions()
    print(
        f"Adam update over all {npar} params: {1e3 * bd['Adam'] / npar:.2f} ns per parameter "
        f"(target <= 1.5 ns); packed instructions in its loop: {', '.join(packed) or 'none'}; "
        f"fused multiply-adds: {', '.join(fma) or 'none'}"
    )
    if h32 is not None:
        rate = med[(h32, "kernel")]
        print(f"kernel at H = 32, plain BT: {rate / 1e6:.2f} M pair-steps/s (target >= 1.0 M)")
    r32 = {lb: med[(lb, "kernel")] / med[(lb, "numpy32")] for lb in ratios}
    r64 = {lb: med[(lb, "kernel")] / med[(lb, "numpy64")] for lb in ratios}
    print(
        f"kernel / faster NumPy variant at H = {cfg.rm.hidden}: {min(ratios.values()):.2f}x "
        f"({worst}) to {max(ratios.values()):.2f}x (target >= 2x); / float32 NumPy "
        f"{min(r32.values()):.2f}-{max(r32.values()):.2f}x, / float64 NumPy "
        f"{min(r64.values()):.2f}-{max(r64.values()):.2f}x"
    )


if __name__ == "__main__":
    main()
