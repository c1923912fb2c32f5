"""Tokens per second of sampling responses from the tabular reference policy.

Run ``python benchmarks/bench_sampling.py``. Single thread (``NUMBA_NUM_THREADS=1``), default
world (``simrl.config.Config()``: P = 16 prompts, V = 10 content tokens, T = 12), reference
policy ``reference_policy(cfg.world, cfg.gold.polite_tokens)``, prompts stratified
(``n mod P``) as the evaluator draws them. Three samplers are timed:

* kernel: ``simrl.kernels.sampling.sample_responses`` on the table of ``TabularPolicy.cdf()``;
* NumPy: the straightforward vectorized version written here: all N responses advance one
  position at a time (gather the cdf rows of the unfinished ones, one inverse-CDF draw each
  by comparison with a vector of uniforms, drop those that wrote EOS);
* branch-free scan (diagnostic, not simrl code): the kernel's loop with its early-exit
  inverse-CDF scan replaced by a count of the cdf entries ``<= u``, which draws the same
  tokens from the same stream; it isolates what the data-dependent branches cost;
* floor: a Numba loop that only draws as many uniforms from a ``np.random.Generator`` as the
  kernel used, one ``rng.random()`` call each, as the kernel does: no sampler that reads the
  generator this way can be faster.

Tokens counted are the draws actually made: content tokens plus the EOS decisions (a response
that reached the cap T made no EOS draw). Before timing, the NumPy version is checked against
the kernel: exactly (same tokens) one response at a time with identical generator streams,
and statistically (mean length, token frequencies) on a large batch. Each figure is the median
of ``--repeats`` timed runs; the samplers are interleaved (kernel, NumPy, floor, kernel, ...)
in one process after one untimed warm-up of each.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads

import argparse
import time
from collections.abc import Callable

import numpy as np
from _common import interleaved_median_rates, machine
from numba import njit

from simrl.config import Config
from simrl.kernels.sampling import sample_responses
from simrl.policy import reference_policy


def kernel_sample(
    cdf: np.ndarray, prompts: np.ndarray, rng: np.random.Generator, T: int
) -> tuple[np.ndarray, np.ndarray]:
    """simrl's kernel into freshly allocated outputs: ``(tokens[N, T], lengths[N])``."""
    tokens = np.zeros((prompts.shape[0], T), np.int64)
    lengths = np.zeros(prompts.shape[0], np.int64)
    sample_responses(cdf, prompts, rng, tokens, lengths)
    return tokens, lengths


def numpy_sample(
    cdf: np.ndarray, prompts: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized NumPy sampler: every unfinished response advances one position per pass.

    The draw is the kernel's inverse CDF: the first action ``a < A - 1`` with
    ``u < cdf[a]``, else ``A - 1``; counting the cdf entries ``<= u`` among the first
    ``A - 1`` gives exactly that index.
    """
    _P, T, _S, A = cdf.shape
    N = prompts.shape[0]
    tokens = np.zeros((N, T), np.int64)
    lengths = np.zeros(N, np.int64)
    active = np.arange(N)
    x = prompts.copy()
    prev = np.zeros(N, np.int64)
    for t in range(T):
        rows = cdf[x, t, prev, : A - 1]  # (n_active, A - 1)
        u = rng.random(active.shape[0])
        a = (rows <= u[:, None]).sum(axis=1)
        go = a != 0
        active, x, a = active[go], x[go], a[go]
        if active.shape[0] == 0:
            break
        tokens[active, t] = a
        lengths[active] += 1
        prev = a
    return tokens, lengths


@njit(cache=True)
def branch_free_sample(
    cdf: np.ndarray,
    prompts: np.ndarray,
    rng: np.random.Generator,
    tokens: np.ndarray,
    lengths: np.ndarray,
) -> None:
    """The kernel's loop and draw (count of cdf entries <= u) written out in one function:
    what inlining leaves of the kernel's per-response call overhead."""
    T = tokens.shape[1]
    A = cdf.shape[3]
    for n in range(prompts.shape[0]):
        x = prompts[n]
        prev = 0
        length = 0
        for t in range(T):
            u = rng.random()
            row = cdf[x, t, prev]
            a = 0
            for c in range(A - 1):
                a += row[c] <= u
            if a == 0:
                break
            tokens[n, t] = a
            length += 1
            prev = a
        for t in range(length, T):
            tokens[n, t] = 0
        lengths[n] = length


@njit(cache=True)
def uniforms_floor(rng: np.random.Generator, n: int) -> float:
    """Draw ``n`` uniforms one ``rng.random()`` call at a time (their sum keeps the loop)."""
    s = 0.0
    for _ in range(n):
        s += rng.random()
    return s


def n_draws(lengths: np.ndarray, T: int) -> int:
    """Tokens drawn: content tokens plus one EOS decision per response shorter than T."""
    return int(lengths.sum() + (lengths < T).sum())


def check(cdf: np.ndarray, P: int, T: int, V: int) -> str:
    """Assert that the NumPy sampler draws what the kernel draws; return a one-line report."""
    # Exact: with one response the kernel and the NumPy version read the same uniforms.
    for seed in range(300):
        p = np.array([seed % P], np.int64)
        tk, lk = kernel_sample(cdf, p, np.random.default_rng(seed), T)
        tn, ln = numpy_sample(cdf, p, np.random.default_rng(seed))
        assert (tk == tn).all() and (lk == ln).all(), f"sampler mismatch at seed {seed}"
    # Exact: the branch-free diagnostic reads the stream in the kernel's order.
    n = 20_000
    prompts = np.arange(n, dtype=np.int64) % P
    tk, lk = kernel_sample(cdf, prompts, np.random.default_rng(7), T)
    tb, lb = np.zeros_like(tk), np.zeros_like(lk)
    branch_free_sample(cdf, prompts, np.random.default_rng(7), tb, lb)
    assert (tk == tb).all() and (lk == lb).all(), "branch-free variant differs from the kernel"
    # Statistical: a large batch, where the two read the stream in different orders.
    n = 200_000
    prompts = np.arange(n, dtype=np.int64) % P
    tk, lk = kernel_sample(cdf, prompts, np.random.default_rng(1), T)
    tn, ln = numpy_sample(cdf, prompts, np.random.default_rng(2))
    se = np.sqrt(lk.var() / n + ln.var() / n)
    z_len = abs(lk.mean() - ln.mean()) / se
    assert z_len < 5.0, f"mean lengths differ: {lk.mean()} vs {ln.mean()}"
    fk = np.bincount(tk[tk > 0], minlength=V + 1)[1:]
    fn = np.bincount(tn[tn > 0], minlength=V + 1)[1:]
    pooled = (fk + fn) / (fk.sum() + fn.sum())
    chi2 = float(
        (((fk - pooled * fk.sum()) ** 2) / (pooled * fk.sum())).sum()
        + (((fn - pooled * fn.sum()) ** 2) / (pooled * fn.sum())).sum()
    )
    assert chi2 < 3.0 * V + 30.0, f"token frequencies differ (chi2 {chi2:.1f}, {V} cells)"
    return (
        f"check: NumPy == kernel on 300 single responses (same stream), branch-free == kernel "
        f"on 20000; on {n} responses "
        f"mean length z = {z_len:.2f}, token-frequency chi2 = {chi2:.1f} ({V - 1} df)"
    )


def main() -> None:
    """Time the three samplers interleaved and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per sampler")
    ap.add_argument("--responses", type=int, default=200_000, help="responses per timed run")
    args = ap.parse_args()

    cfg = Config()
    ref = reference_policy(cfg.world, cfg.gold.polite_tokens)
    P, T, V = ref.shape
    cdf = ref.cdf()
    prompts = np.arange(args.responses, dtype=np.int64) % P
    print(check(cdf, P, T, V))

    # check() ran every sampler once (warm-up); the floor draws as many uniforms as the kernel.
    _, lengths = kernel_sample(cdf, prompts, np.random.default_rng(0), T)
    draws = n_draws(lengths, T)
    numpy_sample(cdf, prompts, np.random.default_rng(0))
    uniforms_floor(np.random.default_rng(0), 10)

    def timed(sampler: Callable[..., None]) -> Callable[[int], tuple[float, int]]:
        """Time a sampler with the kernel's signature (outputs preallocated)."""

        def run(seed: int) -> tuple[float, int]:
            rng = np.random.default_rng(seed)
            tokens = np.zeros((prompts.shape[0], T), np.int64)
            out_len = np.zeros(prompts.shape[0], np.int64)
            t0 = time.perf_counter()
            sampler(cdf, prompts, rng, tokens, out_len)
            return time.perf_counter() - t0, n_draws(out_len, T)

        return run

    def timed_numpy(seed: int) -> tuple[float, int]:
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        _, out_len = numpy_sample(cdf, prompts, rng)
        return time.perf_counter() - t0, n_draws(out_len, T)

    def timed_floor(seed: int) -> tuple[float, int]:
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        uniforms_floor(rng, draws)
        return time.perf_counter() - t0, draws

    samplers: dict[str, Callable[[int], tuple[float, int]]] = {
        "kernel (sample_responses)": timed(sample_responses),
        "NumPy, vectorized over responses": timed_numpy,
        "same loop inlined (diagnostic)": timed(branch_free_sample),
        "floor (rng.random() per token)": timed_floor,
    }
    med = interleaved_median_rates(samplers, args.repeats)
    kern = med["kernel (sample_responses)"]

    print(
        f"# token sampling, default world (P={P}, V={V}, T={T}), {args.responses} responses "
        f"(~{draws / args.responses:.2f} draws each), median of {args.repeats}"
    )
    print(f"# {machine()}")
    print(f"{'sampler':<36}{'Mtokens/s':>11}{'ns/token':>10}{'kernel / this':>15}")
    for name, rate in med.items():
        print(f"{name:<36}{rate / 1e6:>11.1f}{1e9 / rate:>10.2f}{kern / rate:>15.2f}")
    print(
        f"kernel / NumPy = {kern / med['NumPy, vectorized over responses']:.1f}x (target >= 3x); "
        f"kernel = {100 * kern / med['floor (rng.random() per token)']:.0f}% of the floor "
        f"(target >= 25%)"
    )


if __name__ == "__main__":
    main()
