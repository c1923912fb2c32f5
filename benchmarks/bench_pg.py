"""Per-sample cost of the RLOO, PPO and GRPO steps, beside the floor and a NumPy RLOO.

Run ``python benchmarks/bench_pg.py``. Single thread (``NUMBA_NUM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``), default world and policy settings (``simrl.config.Config()``:
P = 16 prompts, all of them per step, k = 4 responses each, so 64 samples per step; V = 10,
T = 12; per-token k1 KL penalty with beta = 0.02; shared logits u and U[x]), against the
proxy fitted as a default run fits it.

* kernel: ``simrl.optimize.optimize`` with ``optimizer = "rloo"`` (or ``"ppo"``, 4 epochs,
  or ``"grpo"``, 4 epochs with its per-token k3 loss) and one checkpoint at the end, so one
  call of the kernel ``simrl.kernels.pg.policy_steps`` over all the steps (the timed call
  also copies the table and computes log pi_ref once: well under 1% of it);
* kernel with ``occupancy_chi2 = 1``: RLOO plus the exact chi^2 gradient step every step
  (a forward and a backward recursion over the whole state table);
* floor: sampling the same number of responses from the same policies and scoring them by
  the proxy with the existing kernels (``sample_responses`` on a precomputed CDF table, then
  ``ProxyRM.score``: ``features_batch`` and the MLP's ``scores``), 10 steps' samples (640)
  per call: fewer pay Python's call overhead, many more pay for their large temporary
  arrays (3,200 per call cost 3-4x as much per sample here). The policies are the ones
  the step passes through: an untimed run of the same steps records the policy every 50
  steps, and the floor draws each block of 50 steps' samples from that block's first policy
  (CDF tables built before timing). A step must do this work and more: softmax rows of the
  current logits (a table of CDFs would be stale after one update), the KL term, the
  advantage and the gradient; the target is a step at most 3x the floor;
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
``--repeats`` timed runs, interleaved (kernel, floor, NumPy, kernel, ...) in one process after
one untimed warm-up each. Times are CPU time of the process (``time.process_time``), so other
processes sharing the cores slow a figure only through the caches, not by taking its turn.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: one core each side

import argparse
import dataclasses
import importlib.util
import subprocess
import tempfile
import time
from collections.abc import Callable
from inspect import signature
from pathlib import Path
from types import ModuleType

import numpy as np
from _common import interleaved_median_rates, machine

from simrl.config import Config
from simrl.experiment import build
from simrl.kernels import pg
from simrl.kernels.reward import SOURCE_PROXY
from simrl.kernels.sampling import sample_responses
from simrl.optimize import ALGORITHMS, Target, optimize
from simrl.policy import TabularPolicy
from simrl.policy_gradient import chi2_reference
from simrl.reward_model import ProxyRM
from simrl.world import no_gold

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
    prob: Problem,
    ref: TabularPolicy,
    n_steps: int,
    rng: np.random.Generator,
    optimizer: str = "rloo",
    every: int = 0,
    on_checkpoint: Callable[[int, TabularPolicy], None] = lambda _step, _pol: None,
    chi2: float = 0.0,
) -> TabularPolicy:
    """``n_steps`` updates of a copy of ``ref`` by ``simrl.optimize.optimize`` (the kernel
    ``simrl.kernels.pg.policy_steps`` in one call, or one per ``every`` steps with
    ``on_checkpoint`` in between); returns the final policy."""
    pcfg = dataclasses.replace(
        Config().policy,
        optimizer=optimizer,
        steps=n_steps,
        eval_every=every or n_steps,
        shared_logits=prob.shared,
        kl_coef=prob.kl_coef,
        rloo_k=prob.k,
        batch_prompts=prob.batch_prompts,
        lr=prob.lr,
        occupancy_chi2=chi2,
    )
    policy, _ = optimize(ref, Target.proxy(prob.rm), pcfg, rng, on_checkpoint)
    return policy


def floor_tables(
    prob: Problem, ref: TabularPolicy, n_steps: int, optimizer: str, block: int = 50
) -> list[np.ndarray]:
    """CDF tables of the policies a run of ``n_steps`` passes through, one per ``block``
    steps (the first is ``ref``'s), from an untimed run with a checkpoint every block."""
    tables: list[np.ndarray] = []

    def keep(step: int, pol: TabularPolicy) -> None:
        if step < n_steps:
            tables.append(pol.cdf())

    kernel_run(prob, ref, n_steps, np.random.default_rng(0), optimizer, block, keep)
    return tables


def floor_run(
    prob: Problem, tables: list[np.ndarray], calls: int, batch: int, rng: np.random.Generator
) -> tuple[float, int, float]:
    """From each CDF table, ``calls`` times: sample ``batch`` responses with
    ``sample_responses`` and score them with ``ProxyRM.score``. Returns (seconds, samples,
    mean actions per sample)."""
    P, T = tables[0].shape[0], tables[0].shape[1]
    prompts = np.tile(np.repeat(np.arange(P), prob.k), -(-batch // (P * prob.k)))[:batch]
    tokens = np.zeros((batch, T), np.int64)
    lengths = np.zeros(batch, np.int64)
    actions = 0
    t0 = time.process_time()
    for cdf in tables:
        for _ in range(calls):
            sample_responses(cdf, prompts, rng, tokens, lengths)
            prob.rm.score(prompts, tokens, lengths)
            actions += int(np.minimum(lengths + 1, T).sum())  # one int per call: negligible
    seconds = time.process_time() - t0
    n = batch * calls * len(tables)
    return seconds, n, actions / n


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


#: The line of ``policy_steps`` computing a later epoch's rows (the end of phase 4).
BLOCK_ROWS = "                policy_rows(theta, u, U, sx, st, sp, nrows, lp, pr)\n"


def kernel_variant(source: str, name: str, phases: bool = False) -> ModuleType:
    """Import a copy of a ``simrl/kernels/pg.py`` source as module ``name`` (no Numba cache).

    With ``phases`` the copy's ``policy_steps`` takes a last argument ``stage`` and stops each
    step after phase ``stage``: 1 rollout (rows, draws, KL term), 2 + proxy reward,
    3 + advantage and the first pass of updates, 4 + the rows of PPO's later epochs (and
    nothing else of them), 5 everything (their ratios and updates too). A kernel from before
    the later epochs computed their rows as one block (no ``BLOCK_ROWS`` line) has no stage 4.
    The edits are textual; an assertion fails if the source no longer has the lines they
    edit.
    """
    src = source.replace("cache=True", "cache=False")
    if phases:
        edits = [
            (
                "    state: np.ndarray,\n) -> bool:",
                "    state: np.ndarray,\n    stage: int,\n) -> bool:",
            ),
            (  # a kernel scoring each response as it is drawn, or the batch after the rollout
                "            r = reward_one("
                if "            r = reward_one(" in src
                else "        rewards_into(",
                "            if stage < 2:\n                continue\n            r = reward_one("
                if "            r = reward_one(" in src
                else "        if stage < 2:\n            continue\n        rewards_into(",
            ),
            (
                "        if algo == ALGO_REINFORCE:\n",
                "        if stage < 3:\n            continue\n        if algo == ALGO_REINFORCE:\n",
            ),
            (
                "        for epoch in range(epochs):",
                "        for epoch in range(epochs if stage >= 4 else 1):",
            ),
        ]
        if BLOCK_ROWS in src:  # a later epoch's rows, then (stage 4) nothing more of it
            edits.append(
                (
                    BLOCK_ROWS,
                    BLOCK_ROWS + "                if stage < 5:\n" + " " * 20 + "continue\n",
                )
            )
        for old, new in edits:
            assert src.count(old) == 1, f"cannot cut the kernel into phases at {old!r}"
            src = src.replace(old, new)
    path = Path(tempfile.mkdtemp(prefix="bench_pg_")) / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def direct_run(
    kernel: Callable[..., bool],
    prob: Problem,
    ref: TabularPolicy,
    algo: str,
    n_steps: int,
    lr: float,
    seed: int,
    *extra: int,
) -> tuple[float, np.ndarray]:
    """One call of a ``policy_steps`` over ``n_steps`` default-config steps: CPU seconds and
    the final logits theta + u + U[x]."""
    pc = Config().policy
    P, _T, V = ref.shape
    theta, u, U = np.array(ref.logits, dtype=np.float64), np.zeros(V + 1), np.zeros((P, V + 1))
    hist, state = np.zeros((n_steps, 3)), np.array([prob.kl_coef, np.nan])
    params = signature(kernel.py_func).parameters
    # the raw proxy; kernels from before reward normalization lack its three arguments, and
    # kernels from before GRPO and the occupancy chi^2 lack those three (here: off)
    affine = (1.0, np.zeros(P), False) if "r_mul" in params else ()
    grpo_chi2 = (True, 0.0, chi2_reference(ref, 0.0)) if "grpo_std_norm" in params else ()
    t0 = time.process_time()
    kernel(
        theta, u, U, prob.shared, prob.logp_ref, SOURCE_PROXY, prob.rm.spec(), no_gold(V),
        *affine, ALGORITHMS[algo], 0, 0.0, pc.kl_horizon, prob.k, prob.batch_prompts, lr,
        pc.ppo_epochs, pc.ppo_clip, pc.ppo_norm_adv, pc.baseline_decay, *grpo_chi2, n_steps,
        np.random.default_rng(seed), hist, state, *extra,
    )  # fmt: skip
    return time.process_time() - t0, theta + u + U[:, None, None, :]


def timed(
    kernel: Callable[..., bool], prob: Problem, ref: TabularPolicy, algo: str, lr: float, *extra
) -> Callable[[int], tuple[float, int]]:
    """A runner for :func:`interleaved_median_rates`: 500 steps of ``kernel``."""

    def run(seed: int) -> tuple[float, int]:
        seconds, _ = direct_run(kernel, prob, ref, algo, 500, lr, seed, *extra)
        return seconds, 500 * prob.batch_prompts * prob.k

    return run


def profile(prob: Problem, ref: TabularPolicy, repeats: int, source: str, label: str) -> None:
    """Per-sample cost of each phase of the step of a kernel ``source``, at pi_ref (lr =
    1e-12: every update is made, but the policy stays where it is, so every variant draws
    the same samples), from copies cut after each phase, timed interleaved."""
    mod = kernel_variant(source, f"pg_phases_{label}", phases=True)
    labels = [
        "rollout: rows, draws, KL term",
        "proxy reward",
        "advantage + first pass of updates",
        "PPO: later epochs, their rows",
        "PPO: later epochs, ratios + updates",
    ]
    if BLOCK_ROWS not in source:
        labels[4] = "PPO: later epochs (rows + updates)"
    print(f"# phases of the step ({label}) at pi_ref, CPU ns per sample, median of {repeats}")
    for algo in ("rloo", "ppo"):
        stages = (
            ((1, 2, 3, 4, 5) if BLOCK_ROWS in source else (1, 2, 3, 5))
            if algo == "ppo"
            else (1, 2, 3)
        )
        runners = {st: timed(mod.policy_steps, prob, ref, algo, 1e-12, st) for st in stages}
        for fn in runners.values():
            fn(0)
        med = interleaved_median_rates(runners, repeats)
        prev = 0.0
        for st in stages:
            print(f"{algo:<5}{labels[st - 1]:<40}{1e9 / med[st] - prev:>8.0f}")
            prev = 1e9 / med[st]
        print(f"{algo:<5}{'total':<40}{prev:>8.0f}")


def source_at(commit: str) -> str:
    """``simrl/kernels/pg.py`` as of ``commit``."""
    return subprocess.run(
        ["git", "show", f"{commit}:simrl/kernels/pg.py"], capture_output=True, text=True, check=True
    ).stdout


def against(prob: Problem, ref: TabularPolicy, commit: str, repeats: int) -> None:
    """This kernel against ``policy_steps`` of an earlier commit, timed interleaved, after
    checking whether both end at the same logits (bit for bit)."""
    old = kernel_variant(source_at(commit), "pg_old")
    lr = Config().policy.lr
    print(f"# policy_steps now against {commit}, 500 steps, CPU ns per sample, median of {repeats}")
    for algo in ("rloo", "ppo"):
        same = np.array_equal(
            direct_run(old.policy_steps, prob, ref, algo, 50, lr, 1)[1],
            direct_run(pg.policy_steps, prob, ref, algo, 50, lr, 1)[1],
        )
        runners = {
            "old": timed(old.policy_steps, prob, ref, algo, lr),
            "new": timed(pg.policy_steps, prob, ref, algo, lr),
        }
        med = interleaved_median_rates(runners, repeats)
        o, w = 1e9 / med["old"], 1e9 / med["new"]
        print(
            f"{algo:<5}{commit[:7]} {o:6.0f}  now {w:6.0f}  now / {commit[:7]} = {w / o:.2f}  "
            f"(final logits after 50 steps {'bit-identical' if same else 'DIFFER'})"
        )


def main() -> None:
    """Check, time interleaved, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per implementation")
    ap.add_argument("--kernel-steps", type=int, default=500, help="kernel steps per timed run")
    ap.add_argument("--numpy-steps", type=int, default=20, help="NumPy steps per timed run")
    ap.add_argument(
        "--profile", action="store_true", help="print the cost of each phase (and COMMIT's)"
    )
    ap.add_argument("--against", metavar="COMMIT", help="time this kernel against COMMIT's")
    args = ap.parse_args()

    cfg = Config()
    pc = cfg.policy
    assert pc.optimizer == "rloo" and pc.kl_estimator_used == "k1" and pc.kl_target == 0.0
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
    steps = args.kernel_steps
    block = 50
    assert steps % block == 0, "--kernel-steps must be a multiple of 50"
    algos = ("rloo", "ppo", "grpo")
    tables = {algo: floor_tables(prob, ref, steps, algo, block) for algo in algos}
    acts: dict[str, float] = {}

    def kernel(algo: str, chi2: float = 0.0) -> Callable[[int], tuple[float, int]]:
        def run(seed: int) -> tuple[float, int]:
            rng = np.random.default_rng(seed)
            t0 = time.process_time()
            kernel_run(prob, ref, steps, rng, algo, chi2=chi2)
            return time.process_time() - t0, steps * n

        return run

    def floor(algo: str) -> Callable[[int], tuple[float, int]]:
        def run(seed: int) -> tuple[float, int]:
            seconds, samples, acts[algo] = floor_run(
                prob, tables[algo], block // 10, 10 * n, np.random.default_rng(seed)
            )
            return seconds, samples

        return run

    def run_numpy(seed: int) -> tuple[float, int]:
        theta, u, U = theta0.copy(), np.zeros(V + 1), np.zeros((P, V + 1))
        rng = np.random.default_rng(seed)
        t0 = time.process_time()
        numpy_steps(prob, reward, theta, u, U, args.numpy_steps, rng)
        return time.process_time() - t0, args.numpy_steps * n

    names = {
        "rloo": "kernel (policy_steps, rloo)",
        "ppo": f"kernel (policy_steps, ppo x{pc.ppo_epochs})",
        "floor rloo": "floor: sample + proxy (rloo's)",
        "floor ppo": "floor: sample + proxy (ppo's)",
        "grpo": f"kernel (policy_steps, grpo x{pc.ppo_epochs})",
        "floor grpo": "floor: sample + proxy (grpo's)",
        "chi2": "kernel (rloo + occupancy chi^2)",
        "numpy": "NumPy RLOO, vectorized",
    }
    runners = {
        names["rloo"]: kernel("rloo"),
        names["floor rloo"]: floor("rloo"),
        names["ppo"]: kernel("ppo"),
        names["floor ppo"]: floor("ppo"),
        names["grpo"]: kernel("grpo"),
        names["floor grpo"]: floor("grpo"),
        names["chi2"]: kernel("rloo", 1.0),
        names["numpy"]: run_numpy,
    }
    for fn in runners.values():
        fn(0)
    med = interleaved_median_rates(runners, args.repeats)
    print(
        f"# policy-gradient step, default world (P={P}, V={V}, T={T}), {prob.batch_prompts} "
        f"prompts x k={prob.k} = {n} samples per step, {steps} steps from pi_ref, "
        f"median of {args.repeats}"
    )
    print(f"# {machine()}")
    print(f"{'implementation':<34}{'samples/s':>12}{'ns/sample':>11}{'us/step':>9}")
    for name, rate in med.items():
        print(f"{name:<34}{rate:>12,.0f}{1e9 / rate:>11.0f}{1e6 * n / rate:>9.1f}")
    for algo in algos:
        ratio = med[names[f"floor {algo}"]] / med[names[algo]]
        print(
            f"{algo} step / floor = {ratio:.2f}x (target <= 3x); floor samples take "
            f"{acts[algo]:.2f} actions on average"
        )
    print(f"kernel / NumPy (rloo) = {med[names['rloo']] / med[names['numpy']]:.1f}x")
    print(
        f"rloo + occupancy chi^2 (exact gradient every step) / rloo = "
        f"{med[names['rloo']] / med[names['chi2']]:.2f}x"
    )
    if args.profile:
        profile(prob, ref, args.repeats, Path(pg.__file__).read_text(), "now")
        if args.against:
            profile(prob, ref, args.repeats, source_at(args.against), args.against)
    if args.against:
        against(prob, ref, args.against, args.repeats)


if __name__ == "__main__":
    main()
