"""Score one response by the proxy (an ensemble spec) or, for reference runs, by the gold.

Specs are tuples so that kernels take one argument per reward source:

* proxy ``rm = (params[k, n_params], F, H, prompt_features, b0, scale, mode, lam)``
  (see :mod:`simrl.kernels.features` and :func:`simrl.kernels.rm.ensemble_one`), or with a
  trailing ``arch`` field for the other architectures (:mod:`simrl.kernels.proxy`);
* gold ``gold = (values, bigram, saturation, length_weight, length_opt, repeat_penalty)``
  (see :func:`simrl.kernels.gold.gold_one`).

An optimizer that optimizes the proxy receives an empty placeholder for the gold
(:func:`simrl.world.no_gold`), so it cannot read it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.features import max_nnz
from simrl.kernels.gold import gold_one
from simrl.kernels.proxy import proxy_reward

SOURCE_PROXY = 0
SOURCE_GOLD = 1


@njit(cache=True, inline="always")
def proxy_one(
    x: int,
    row: np.ndarray,
    length: int,
    rm: tuple,
    counts: np.ndarray,
    fidx: np.ndarray,
    fval: np.ndarray,
    h: np.ndarray,
    rs: np.ndarray,
) -> float:
    """Proxy reward r_phi(x, y) of one response; the other arrays are scratch."""
    return proxy_reward(x, row, length, rm, counts, fidx, fval, h, rs)


@njit(cache=True, inline="always")
def gold_score(x: int, row: np.ndarray, length: int, gold: tuple, counts: np.ndarray) -> float:
    """Gold reward r*(x, y) of one response."""
    values, bigram, saturation, length_weight, length_opt, repeat_penalty = gold
    return gold_one(
        x,
        row,
        length,
        values,
        bigram,
        saturation,
        length_weight,
        length_opt,
        repeat_penalty,
        counts,
    )


@njit(cache=True, inline="always")
def reward_one(
    source: int,
    x: int,
    row: np.ndarray,
    length: int,
    rm: tuple,
    gold: tuple,
    counts: np.ndarray,
    fidx: np.ndarray,
    fval: np.ndarray,
    h: np.ndarray,
    rs: np.ndarray,
) -> float:
    """The optimized reward of one response: proxy (``SOURCE_PROXY``) or gold."""
    if source == SOURCE_GOLD:
        return gold_score(x, row, length, gold, counts)
    return proxy_one(x, row, length, rm, counts, fidx, fval, h, rs)


@njit(cache=True)
def proxy_scratch(rm: tuple, V: int, T: int):
    """Scratch arrays of :func:`reward_one` for responses of at most ``T`` tokens over ``V``
    content tokens: ``(counts, fidx, fval, h, rs)``."""
    K = max_nnz(V, T)
    return (
        np.zeros(V + 1),
        np.zeros(K, np.int32),
        np.zeros(K),
        np.zeros(rm[2]),
        np.zeros(rm[0].shape[0]),
    )


@njit(cache=True)
def proxy_into(
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    n: int,
    V: int,
    rm: tuple,
    out: np.ndarray,
) -> None:
    """Proxy reward of the first ``n`` responses ``tokens[i, :lengths[i]]`` (content tokens
    1..V) to prompts ``prompts[i]``, into ``out[:n]``.

    Samplers collect a batch of responses and score it with one call, where the scoring
    path is inlined once: a compiled call per response passes a dozen arrays, each with its
    atomic reference-count updates, and inlining the scoring into every sampler instead
    multiplies compile time.
    """
    counts, fidx, fval, h, rs = proxy_scratch(rm, V, tokens.shape[1])
    for i in range(n):
        out[i] = proxy_one(prompts[i], tokens[i], lengths[i], rm, counts, fidx, fval, h, rs)


@njit(cache=True)
def rewards_into(
    source: int,
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    n: int,
    V: int,
    rm: tuple,
    gold: tuple,
    out: np.ndarray,
) -> None:
    """:func:`reward_one` of the first ``n`` responses into ``out[:n]`` (see
    :func:`proxy_into`)."""
    if source == SOURCE_GOLD:
        counts = np.zeros(V + 1)
        for i in range(n):
            out[i] = gold_score(prompts[i], tokens[i], lengths[i], gold, counts)
    else:
        proxy_into(prompts, tokens, lengths, n, V, rm, out)


@njit(cache=True)
def reward_batch(
    source: int,
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    rm: tuple,
    gold: tuple,
) -> np.ndarray:
    """:func:`reward_one` of each response ``tokens[n]`` of length ``lengths[n]`` to prompt
    ``prompts[n]``."""
    V = gold[2].shape[0] - 1  # the gold's (or its placeholder's) saturation has V + 1 entries
    out = np.empty(prompts.shape[0])
    rewards_into(source, prompts, tokens, lengths, prompts.shape[0], V, rm, gold, out)
    return out
