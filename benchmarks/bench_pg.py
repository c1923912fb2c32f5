"""Samples per second of the RLOO policy-gradient step, kernel against NumPy.

Run ``python benchmarks/bench_pg.py``. Single thread (``NUMBA_NUM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``), default world and policy settings (``simrl.config.Config()``:
P = 16 prompts, all of them per step, k = 4 responses each, so 64 samples per step; V = 10,
T = 12; per-token k1 KL penalty with beta = 0.02; shared logits u and U[x]), against the
proxy fitted as a default run fits it.

* kernel: ``simrl.optimize.optimize`` with ``optimizer = "rloo"`` and one checkpoint at the
  end, so one call of the kernel ``simrl.kernels.pg.policy_steps`` over all the steps (the
  timed call also copies the table and computes log pi_ref once: well under 1% of it);
* NumPy: one RLOO update written here: the prompts drawn as the kernel draws them; sampling
  vectorized over the samples, one position at a time (log-softmax of the gathered logit
  rows, inverse-CDF draw, KL term); the proxy reward from dense features and BLAS; the
  leave-one-out advantage; the score-function gradient scattered into the table, ``U`` and
  ``u`` with ``np.add.at``, position by position.

One sample is one response (its rollout, reward and update). Before timing, the NumPy step is
checked exactly against the kernel: both start from the same generator state, and the NumPy
sampler reads the uniforms in the kernel's order (response by response; found by iterating the
vectorized sampler until every response's share of the stream is stable), so three
consecutive steps must give the same logits (to rounding). Each figure is the median of
``--repeats`` timed runs, interleaved (kernel, NumPy, kernel, ...) in one process after one
untimed warm-up each.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: one core each side

import argparse
import dataclasses
import time
from collections.abc import Callable

import numpy as np
from _common import interleaved_median_rates, machine

from simrl.config import Config
from simrl.experiment import build
from simrl.optimize import Target, optimize
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM

Uniforms = Callable[[np.ndarray, int], np.ndarray]


@dataclasses.dataclass
class Problem:
    """Everything one policy step reads besides the logits."""

    logp_ref: np.ndarray
    rm: ProxyRM
    shared: bool
    kl_coef: float
    k: int
    batch_prompts: int
    lr: float


def kernel_run(
    prob: Problem, ref: TabularPolicy, n_steps: int, rng: np.random.Generator
) -> TabularPolicy:
    """``n_steps`` RLOO updates of a copy of ``ref`` by ``simrl.optimize.optimize`` (the
    kernel ``simrl.kernels.pg.policy_steps`` in one call); returns the final policy."""
    pcfg = dataclasses.replace(
        Config().policy,
        optimizer="rloo",
        steps=n_steps,
        eval_every=n_steps,
        shared_logits=prob.shared,
        kl_coef=prob.kl_coef,
        rloo_k=prob.k,
        batch_prompts=prob.batch_prompts,
        lr=prob.lr,
    )
    policy, _ = optimize(ref, Target.proxy(prob.rm), pcfg, rng, lambda _step, _pol: None)
    return policy


class NumpyReward:
    """The proxy r = w . tanh(W f + c) + b of one model, on dense features built with NumPy."""

    def __init__(self, rm: ProxyRM) -> None:
        F, H = rm.n_features, rm.hidden
        p = rm.params.reshape(-1)
        self.W = p[: F * H].reshape(F, H)
        self.c, self.w, self.b = p[F * H : F * H + H], p[F * H + H : F * H + 2 * H], p[-1]
        self.P, self.V, self.F = rm.n_prompts, rm.vocab_size, F
        self.prompt_features, self.b0, self.scale = (
            rm.prompt_features,
            rm.bigram_start,
            rm.feature_scale,
        )

    def __call__(self, x: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Rewards of responses ``tokens[n, T]`` (zero after their length) to prompts ``x``."""
        n, T = tokens.shape
        V, F, s = self.V, self.F, self.scale
        rows = np.arange(n)
        valid = np.arange(T)[None, :] < lengths[:, None]
        counts = np.zeros((n, V + 1))
        np.add.at(counts, (np.broadcast_to(rows[:, None], tokens.shape), tokens), valid)
        X = np.zeros((n, F))
        X[:, :V] = counts[:, 1:] * s
        if self.prompt_features:
            X[:, V : V + self.P * V].reshape(n, self.P, V)[rows, x] = counts[:, 1:] * s
        prev = np.concatenate((np.zeros((n, 1), np.int64), tokens[:, :-1]), axis=1)
        if self.b0 >= 0:
            r, t = np.nonzero(valid)
            np.add.at(X, (r, self.b0 + prev[r, t] * V + tokens[r, t] - 1), s)
        reps = ((tokens[:, 1:] == tokens[:, :-1]) & valid[:, 1:]).sum(axis=1)
        X[:, F - 2] = lengths * s
        X[:, F - 1] = reps * s
        return np.tanh(X @ self.W + self.c) @ self.w + self.b


def choose_prompts(perm: np.ndarray, batch_prompts: int, rng: np.random.Generator) -> np.ndarray:
    """The step's prompts: the kernel's partial Fisher-Yates on ``perm`` (kept from step to
    step, as in the kernel), with the same generator calls."""
    P = perm.shape[0]
    for i in range(batch_prompts):
        j = i + int(rng.integers(0, P - i))
        perm[i], perm[j] = perm[j], perm[i]
    return perm[:batch_prompts].copy()


def numpy_rloo_update(
    prob: Problem,
    reward: NumpyReward,
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    prompts: np.ndarray,
    draw: Uniforms,
) -> np.ndarray:
    """Sample, score and apply one RLOO update in place; returns each sample's action count.

    ``draw(active, t)`` returns the uniforms of the unfinished samples ``active`` at
    position ``t``.
    """
    _P, T, _S, A = theta.shape
    k = prob.k
    x = np.repeat(prompts, k)
    n = x.shape[0]
    probs = np.zeros((n, T + 1, A))
    acts = np.zeros((n, T + 1), np.int64)
    tokens = np.zeros((n, T), np.int64)
    lengths = np.zeros(n, np.int64)
    pen = np.zeros(n)
    prev = np.zeros(n, np.int64)
    active = np.arange(n)
    for t in range(T):
        xa, pa = x[active], prev[active]
        logits = theta[xa, t, pa] + u + U[xa]
        mx = logits.max(axis=1, keepdims=True)
        logp = logits - (mx + np.log(np.exp(logits - mx).sum(axis=1, keepdims=True)))
        p = np.exp(logp)
        probs[active, t] = p
        a = (np.cumsum(p[:, : A - 1], axis=1) <= draw(active, t)[:, None]).sum(axis=1)
        acts[active, t] = a
        pen[active] += logp[np.arange(a.shape[0]), a] - prob.logp_ref[xa, t, pa, a]  # k1
        go = a != 0
        active, a = active[go], a[go]
        if active.shape[0] == 0:
            break
        tokens[active, t] = a
        lengths[active] += 1
        prev[active] = a
    nact = np.where(lengths < T, lengths + 1, T)

    R = (reward(x, tokens, lengths) - prob.kl_coef * pen).reshape(-1, k)
    adv = (R - (R.sum(axis=1, keepdims=True) - R) / (k - 1)).reshape(n)
    g = (prob.lr / n) * adv
    onehot = np.eye(A)
    prev_t = np.zeros(n, np.int64)
    for t in range(T):
        on = np.flatnonzero(nact > t)
        if on.shape[0] == 0:
            break
        d = g[on, None] * (onehot[acts[on, t]] - probs[on, t])
        np.add.at(theta[:, t], (x[on], prev_t[on]), d)
        if prob.shared:
            np.add.at(U, x[on], d)
            u += d.sum(axis=0)
        prev_t = acts[:, t]
    return nact


def numpy_steps(
    prob: Problem,
    reward: NumpyReward,
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    n_steps: int,
    rng: np.random.Generator,
) -> None:
    """``n_steps`` NumPy RLOO updates, uniforms drawn position by position."""
    perm = np.arange(theta.shape[0])
    for _ in range(n_steps):
        prompts = choose_prompts(perm, prob.batch_prompts, rng)
        numpy_rloo_update(
            prob, reward, theta, u, U, prompts, lambda active, _t: rng.random(active.shape[0])
        )


def kernel_order_step(
    prob: Problem,
    reward: NumpyReward,
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    perm: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """One NumPy RLOO update that reads the generator exactly as the kernel does.

    The kernel reads the uniforms response after response, one per action taken, so
    response i starts at the sum of the earlier responses' action counts. Those depend on
    the draws: the sampler is rerun on copies of the logits until the counts repeat (each
    pass fixes at least one more response, so at most n passes), then the generator is
    left exactly as far on as the kernel leaves it.
    """
    T = theta.shape[1]
    prompts = choose_prompts(perm, prob.batch_prompts, rng)
    n = prompts.shape[0] * prob.k
    start = rng.bit_generator.state
    stream = rng.random(n * T + T)
    counts = np.full(n, -1)
    guess = np.ones(n, np.int64)
    mat = stream[: n * T].reshape(n, T)
    while not np.array_equal(counts, guess):
        counts = guess
        off = np.concatenate(([0], np.cumsum(counts)[:-1]))
        mat = stream[off[:, None] + np.arange(T)[None, :]]
        guess = numpy_rloo_update(
            prob, reward, theta.copy(), u.copy(), U.copy(), prompts, lambda a, t, m=mat: m[a, t]
        )
    rng.bit_generator.state = start
    rng.random(int(counts.sum()))
    numpy_rloo_update(prob, reward, theta, u, U, prompts, lambda a, t: mat[a, t])


def check(prob: Problem, ref: TabularPolicy, n_steps: int = 3) -> float:
    """Kernel and NumPy from the same state and generator; return the max abs difference of
    the final logits ``theta + u + U[x]``."""
    P, _T, _S, A = ref.logits.shape
    reward = NumpyReward(prob.rm)
    rk, rn = np.random.default_rng(11), np.random.default_rng(11)
    final = kernel_run(prob, ref, n_steps, rk).logits
    theta, u, U = np.array(ref.logits, dtype=np.float64), np.zeros(A), np.zeros((P, A))
    perm = np.arange(P)
    for _ in range(n_steps):
        kernel_order_step(prob, reward, theta, u, U, perm, rn)
    mine = theta + u + U[:, None, None, :]
    diff = float(np.abs(final - mine).max())
    moved = float(np.abs(final - ref.logits).max())
    assert moved > 0.0 and diff < 1e-9 * moved, f"NumPy != kernel ({diff:.2e}, moved {moved})"
    assert rk.bit_generator.state == rn.bit_generator.state, "different uniforms consumed"
    return diff


def main() -> None:
    """Check, time interleaved, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per implementation")
    ap.add_argument("--kernel-steps", type=int, default=500, help="kernel steps per timed run")
    ap.add_argument("--numpy-steps", type=int, default=20, help="NumPy steps per timed run")
    args = ap.parse_args()

    cfg = Config()
    pc = cfg.policy
    assert pc.optimizer == "rloo" and pc.kl_estimator == "k1" and pc.kl_target == 0.0
    setup = build(cfg)
    ref, rm = setup.ref, setup.rm
    P, T, V = ref.shape
    bp = pc.batch_prompts or P
    prob = Problem(ref.logp(), rm, pc.shared_logits, pc.kl_coef, pc.rloo_k, bp, pc.lr)
    theta0 = np.array(ref.logits, dtype=np.float64)
    reward = NumpyReward(rm)

    x = np.arange(512) % P  # the NumPy reward must be the proxy's reward
    tok, ln = ref.sample(x, np.random.default_rng(3))
    np.testing.assert_allclose(reward(x, tok, ln), rm.score(x, tok, ln), rtol=1e-12, atol=1e-12)
    diff = check(prob, ref)
    print(
        f"check: NumPy RLOO == kernel over 3 steps from the same generator state "
        f"(kernel-order uniforms): max |diff| of logits {diff:.1e}; NumPy reward == proxy"
    )

    n = prob.batch_prompts * prob.k

    def run_kernel(seed: int) -> tuple[float, int]:
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        kernel_run(prob, ref, args.kernel_steps, rng)
        return time.perf_counter() - t0, args.kernel_steps * n

    def run_numpy(seed: int) -> tuple[float, int]:
        theta, u, U = theta0.copy(), np.zeros(V + 1), np.zeros((P, V + 1))
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        numpy_steps(prob, reward, theta, u, U, args.numpy_steps, rng)
        return time.perf_counter() - t0, args.numpy_steps * n

    runners = {
        "kernel (policy_steps, rloo)": run_kernel,
        "NumPy, vectorized over samples": run_numpy,
    }
    for fn in runners.values():
        fn(0)
    med = interleaved_median_rates(runners, args.repeats)
    kern = med["kernel (policy_steps, rloo)"]
    print(
        f"# RLOO step, default world (P={P}, V={V}, T={T}), {prob.batch_prompts} prompts x "
        f"k={prob.k} = {n} samples per step, median of {args.repeats}"
    )
    print(f"# {machine()}")
    print(f"{'implementation':<34}{'samples/s':>12}{'us/step':>10}{'kernel / this':>15}")
    for name, rate in med.items():
        print(f"{name:<34}{rate:>12,.0f}{1e6 * n / rate:>10.1f}{kern / rate:>15.1f}")
    print(f"kernel / NumPy = {kern / med['NumPy, vectorized over samples']:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
