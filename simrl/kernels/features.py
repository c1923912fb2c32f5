"""Sparse proxy features f(x, y), in two kinds.

``sufficient`` (the gold's own statistics): token counts, prompt-specific counts, bigram
counts, length, repeats. Feature layout, every value multiplied by ``scale``:

* ``v - 1``                  count of content token v (shared by all prompts);
* ``V + x V + v - 1``        count of token v in a response to prompt x (optional);
* ``B0 + prev V + v - 1``    count of the bigram (prev, v), prev = 0 for BOS (optional;
                             ``B0`` is where the bigram block starts);
* ``F - 2``                  length L;
* ``F - 1``                  number of immediate repetitions.

A response has at most ``max_nnz(V, T) = 2 min(V, T) + T + 2`` non-zero features, stored as
padded ``(index, value)`` rows; padding has value 0 and index 0, so it adds nothing.

``embedding`` (:func:`embedding_one`): what a bag-of-tokens encoder sees, and nothing the
gold is known to use. Layout ``v - 1`` for token v (value ``c_v * scale``) and ``V + x`` for
prompt x (value 1), F = V + P. The proxy's first layer applied to these features is
``sum_t E[y_t] * scale + U[x]``: learned token embeddings E (the first V rows of W1) pooled
by a *sum* over the response, plus a learned prompt embedding U (the next P rows). A sum,
not a mean, so the pooled vector keeps the response's length, which the gold values. Adding
U is the same as concatenating [pooled, U[x]] before a linear layer. No position or bigram
embeddings: under a sum pool, position embeddings add up to a function of the length alone
(a hand-made length feature), and bigram embeddings are bigram counts by another name; so
the proxy must learn prompt-specific values through its nonlinearity and depth, and cannot
see word order or repetition at all (the gold's coherence and repetition terms are outside
its class: it is misspecified, as real reward models are). At most ``min(V, T) + 1``
non-zeros, within :func:`max_nnz`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def bigram_start(n_prompts: int, vocab_size: int, prompt_features: bool) -> int:
    """Index B0 where the bigram block starts."""
    return vocab_size + (n_prompts * vocab_size if prompt_features else 0)


def n_features(
    n_prompts: int, vocab_size: int, prompt_features: bool, bigram_features: bool
) -> int:
    """Total number of features F."""
    n_bigram = (vocab_size + 1) * vocab_size if bigram_features else 0
    return bigram_start(n_prompts, vocab_size, prompt_features) + n_bigram + 2


FEATURES_SUFFICIENT = 0
FEATURES_EMBEDDING = 1


def n_embedding_features(n_prompts: int, vocab_size: int) -> int:
    """Number of embedding features F = V + P (token rows, then prompt rows)."""
    return vocab_size + n_prompts


@njit(cache=True)
def max_nnz(vocab_size: int, max_len: int) -> int:
    """Upper bound on non-zero features of one response."""
    return 2 * min(vocab_size, max_len) + max_len + 2


@njit(cache=True, inline="always")
def features_one(
    x: int,
    row: np.ndarray,
    length: int,
    V: int,
    F: int,
    prompt_features: bool,
    b0: int,
    scale: float,
    counts: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
) -> int:
    """Fill ``idx``/``val`` with the sparse features of one response; returns nnz.

    ``b0`` is the start of the bigram block, or -1 for no bigram features. ``counts`` is
    scratch of size V + 1. Unused slots are zeroed. Repeated bigrams take one slot each
    (their values add up in the forward pass).
    """
    counts[:] = 0.0
    reps = 0
    prev = -1
    for t in range(length):
        a = row[t]
        counts[a] += 1.0
        if a == prev:
            reps += 1
        prev = a
    k = 0
    for v in range(1, V + 1):
        c = counts[v]
        if c > 0.0:
            idx[k] = v - 1
            val[k] = c * scale
            k += 1
            if prompt_features:
                idx[k] = V + x * V + v - 1
                val[k] = c * scale
                k += 1
    if b0 >= 0:
        prev = 0
        for t in range(length):
            idx[k] = b0 + prev * V + row[t] - 1
            val[k] = scale
            k += 1
            prev = row[t]
    idx[k] = F - 2
    val[k] = length * scale
    k += 1
    if reps > 0:
        idx[k] = F - 1
        val[k] = reps * scale
        k += 1
    for j in range(k, idx.shape[0]):
        idx[j] = 0
        val[j] = 0.0
    return k


@njit(cache=True)
def features_batch(
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    V: int,
    F: int,
    prompt_features: bool,
    b0: int,
    scale: float,
    K: int,
):
    """Sparse features of many responses: ``(idx[N, K] int32, val[N, K] float64)``."""
    N = prompts.shape[0]
    idx = np.zeros((N, K), np.int32)
    val = np.zeros((N, K))
    counts = np.zeros(V + 1)
    for n in range(N):
        features_one(
            prompts[n],
            tokens[n],
            lengths[n],
            V,
            F,
            prompt_features,
            b0,
            scale,
            counts,
            idx[n],
            val[n],
        )
    return idx, val


@njit(cache=True)
def embedding_one(
    x: int,
    row: np.ndarray,
    length: int,
    V: int,
    scale: float,
    counts: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
) -> int:
    """Fill ``idx``/``val`` with the embedding features of one response (token counts times
    ``scale``, in token order, then the prompt's one-hot); returns nnz. ``counts`` is
    scratch of size V + 1; unused slots are zeroed."""
    counts[:] = 0.0
    for t in range(length):
        counts[row[t]] += 1.0
    k = 0
    for v in range(1, V + 1):
        if counts[v] > 0.0:
            idx[k] = v - 1
            val[k] = counts[v] * scale
            k += 1
    idx[k] = V + x
    val[k] = 1.0
    k += 1
    for j in range(k, idx.shape[0]):
        idx[j] = 0
        val[j] = 0.0
    return k


@njit(cache=True)
def embedding_batch(
    prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray, V: int, scale: float, K: int
):
    """Embedding features of many responses: ``(idx[N, K] int32, val[N, K] float64)``."""
    N = prompts.shape[0]
    idx = np.zeros((N, K), np.int32)
    val = np.zeros((N, K))
    counts = np.zeros(V + 1)
    for n in range(N):
        embedding_one(prompts[n], tokens[n], lengths[n], V, scale, counts, idx[n], val[n])
    return idx, val
