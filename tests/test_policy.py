"""Tabular policies: normalization, the reference policy's structure, exact KL."""

from __future__ import annotations

import math

import numpy as np
from conftest import enumerate_responses, random_logits
from hypothesis import given
from hypothesis import strategies as st

from simrl.config import WorldConfig
from simrl.kernels.kl import exact_kl
from simrl.policy import TabularPolicy, reference_policy

seeds = st.integers(0, 2**32 - 1)


def enumerated_kl(pi: TabularPolicy, ref: TabularPolicy) -> np.ndarray:
    """KL per prompt by summing over every response (plain NumPy, tiny worlds only)."""
    P, T, V = pi.shape
    tokens, lengths = enumerate_responses(V, T)
    out = np.zeros(P)
    for x in range(P):
        prompts = np.full(len(lengths), x)
        lp = pi.sequence_logprobs(prompts, tokens, lengths)
        lq = ref.sequence_logprobs(prompts, tokens, lengths)
        assert math.isclose(np.exp(lp).sum(), 1.0, rel_tol=1e-10)
        out[x] = np.sum(np.exp(lp) * (lp - lq))
    return out


def test_reference_policy_rows_sum_to_one_and_have_structure():
    cfg = WorldConfig()
    ref = reference_policy(cfg, polite_tokens=2)
    np.testing.assert_allclose(ref.probs().sum(-1), 1.0, atol=1e-12)
    length = ref.expected_length()
    assert np.all(np.abs(length - cfg.ref_len) < 1.5)  # a typical length, not uniform
    first = ref.probs()[:, 0, 0, 1:]  # first-token distribution
    assert first.max() > 2.0 / cfg.vocab_size  # favoured tokens
    assert ref.probs()[:, :, 1:3, 1:3].mean() < first.mean()  # polite/repeat used sparingly


@given(seeds, st.integers(1, 4), st.integers(2, 3))
def test_exact_kl_matches_enumeration(seed, T, V):
    rng = np.random.default_rng(seed)
    pi = TabularPolicy(random_logits(rng, 2, T, V))
    ref = TabularPolicy(random_logits(rng, 2, T, V))
    np.testing.assert_allclose(pi.kl(ref), enumerated_kl(pi, ref), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(exact_kl.py_func(pi.logp(), ref.logp()), pi.kl(ref), rtol=1e-12)


@given(seeds)
def test_kl_is_nonnegative_and_zero_iff_policies_agree(seed):
    rng = np.random.default_rng(seed)
    ref = TabularPolicy(random_logits(rng, 2, 4, 3))
    assert np.all(ref.kl(ref) == 0.0)
    # adding a constant to a whole row leaves the distribution unchanged: still zero
    shifted = TabularPolicy(ref.logits + rng.normal(size=ref.logits.shape[:-1])[..., None])
    np.testing.assert_allclose(shifted.kl(ref), 0.0, atol=1e-12)
    other = TabularPolicy(ref.logits + 0.1 * rng.normal(size=ref.logits.shape))
    assert np.all(other.kl(ref) > 0)
    # every state is reachable (all probabilities > 0), so any changed row shows up
    one_row = ref.logits.copy()
    one_row[1, 3, 2, :] += np.array([0.0, 0.5, 0.0, 0.0])
    kl = TabularPolicy(one_row).kl(ref)
    assert kl[0] == 0.0 and kl[1] > 0


def test_per_token_penalty_is_exactly_zero_when_policies_agree():
    rng = np.random.default_rng(0)
    ref = TabularPolicy(random_logits(rng, 3, 5, 4))
    same = TabularPolicy(ref.logits.copy())
    prompts = rng.integers(0, 3, 500)
    tok, ln = same.sample(prompts, rng)
    k1 = same.sequence_logprobs(prompts, tok, ln) - ref.sequence_logprobs(prompts, tok, ln)
    assert np.all(k1 == 0.0)


def test_exact_kl_matches_monte_carlo_within_its_confidence_interval():
    rng = np.random.default_rng(1)
    ref = TabularPolicy(random_logits(rng, 2, 6, 4))
    pi = TabularPolicy(ref.logits + 0.7 * rng.normal(size=ref.logits.shape))
    n = 100_000
    for x in range(2):
        prompts = np.full(n, x)
        tok, ln = pi.sample(prompts, rng)
        k1 = pi.sequence_logprobs(prompts, tok, ln) - ref.sequence_logprobs(prompts, tok, ln)
        se = k1.std() / math.sqrt(n)
        assert abs(k1.mean() - pi.kl(ref)[x]) < 4 * se


def test_expected_length_matches_samples():
    rng = np.random.default_rng(2)
    pi = TabularPolicy(random_logits(rng, 2, 6, 3))
    _, ln = pi.sample(np.zeros(50_000, np.int64), rng)
    assert abs(ln.mean() - pi.expected_length()[0]) < 4 * ln.std() / math.sqrt(ln.size)


@given(seeds, st.integers(1, 4), st.integers(2, 3))
def test_length_distribution_matches_enumeration(seed, T, V):
    pi = TabularPolicy(random_logits(np.random.default_rng(seed), 2, T, V))
    tokens, lengths = enumerate_responses(V, T)
    dist = pi.length_distribution()
    np.testing.assert_allclose(dist.sum(1), 1.0, atol=1e-12)
    for x in range(2):
        p = np.exp(pi.sequence_logprobs(np.full(lengths.size, x), tokens, lengths))
        np.testing.assert_allclose(
            dist[x], np.bincount(lengths, weights=p, minlength=T + 1), atol=1e-12
        )
    np.testing.assert_allclose(pi.expected_length(), dist @ np.arange(T + 1), atol=1e-12)


@given(seeds)
def test_expected_token_counts_match_enumeration(seed):
    V, T = 3, 3
    pi = TabularPolicy(random_logits(np.random.default_rng(seed), 1, T, V))
    tokens, lengths = enumerate_responses(V, T)
    p = np.exp(pi.sequence_logprobs(np.zeros(lengths.size, np.int64), tokens, lengths))
    mask = np.arange(T)[None, :] < lengths[:, None]
    want = [(p[:, None] * ((tokens == v) & mask)).sum() for v in range(1, V + 1)]
    counts = pi.expected_token_counts()[0]
    np.testing.assert_allclose(counts[1:], want, atol=1e-12)
    np.testing.assert_allclose(counts[0], p[lengths < T].sum(), atol=1e-12)  # ended by EOS
    np.testing.assert_allclose(counts[1:].sum(), pi.expected_length()[0], atol=1e-12)


def test_a_policy_owns_its_logits_and_its_cached_tables_cannot_go_stale():
    rng = np.random.default_rng(5)
    logits = random_logits(rng, 2, 3, 3, 1.0)
    pi = TabularPolicy(logits)
    logp, cdf = pi.logp(), pi.cdf()
    assert pi.logp() is logp and pi.cdf() is cdf  # computed once
    logits += 5.0 * random_logits(rng, 2, 3, 3, 1.0)  # the caller's array moves on...
    np.testing.assert_array_equal(pi.logp(), TabularPolicy(pi.logits).logp())  # ...pi not
    assert not np.shares_memory(pi.logits, logits)
    for table in (pi.logits, logp, cdf):
        assert not table.flags.writeable
    np.testing.assert_array_equal(cdf, np.cumsum(np.exp(logp), axis=-1))
