"""Every Numba kernel against a plain reference: its ``.py_func`` or a NumPy version."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import enumerate_responses, random_logits, tiny_config
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from simrl.build import build
from simrl.kernels import features as kf
from simrl.kernels import pg
from simrl.kernels import rm as krm
from simrl.kernels.evaluate import sample_and_score
from simrl.kernels.gold import gold_rewards
from simrl.kernels.pg import ALGO_RLOO, KL_K1, policy_steps
from simrl.kernels.sampling import sample_responses, sequence_logprobs
from simrl.kernels.softmax import log_softmax_table
from simrl.kernels.vexp import vexp
from simrl.optimize import Target
from simrl.policy import TabularPolicy
from simrl.policy_gradient import chi2_reference

seeds = st.integers(0, 2**32 - 1)


def numpy_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@given(seeds)
def test_log_softmax_matches_numpy_and_rows_sum_to_one(seed):
    logits = random_logits(np.random.default_rng(seed), 2, 3, 4, scale=30.0)
    out = log_softmax_table(logits)
    np.testing.assert_allclose(out, numpy_log_softmax(logits), atol=1e-12)
    np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(out, log_softmax_table.py_func(logits))


@given(seeds, st.integers(1, 6), st.integers(1, 5))
def test_sampling_matches_py_func_and_respects_eos_and_cap(seed, T, V):
    pol = TabularPolicy(random_logits(np.random.default_rng(seed), 2, T, V))
    prompts = np.arange(200, dtype=np.int64) % 2
    out = []
    for fn in (sample_responses, sample_responses.py_func):
        tok = np.full((200, T), -1, np.int64)
        ln = np.full(200, -1, np.int64)
        fn(pol.cdf(), prompts, np.random.default_rng(seed), tok, ln)
        out.append((tok, ln))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    tok, ln = out[0]
    assert ((ln >= 0) & (ln <= T)).all()
    for row, L in zip(tok, ln, strict=True):
        assert (row[:L] >= 1).all() and (row[:L] <= V).all()  # content tokens only
        assert (row[L:] == 0).all()  # EOS ends the response; padding is 0


def test_sampling_frequencies_match_enumerated_probabilities():
    V, T = 2, 3
    pol = TabularPolicy(random_logits(np.random.default_rng(5), 1, T, V))
    tokens, lengths = enumerate_responses(V, T)
    p = np.exp(pol.sequence_logprobs(np.zeros(len(lengths), np.int64), tokens, lengths))
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    n = 200_000
    tok, ln = pol.sample(np.zeros(n, np.int64), np.random.default_rng(1))
    keys = {tuple(r[:L]): i for i, (r, L) in enumerate(zip(tokens, lengths, strict=True))}
    counts = np.bincount(
        [keys[tuple(r[:L])] for r, L in zip(tok, ln, strict=True)], minlength=len(p)
    )
    se = np.sqrt(p * (1 - p) / n)
    assert (np.abs(counts / n - p) < 5 * se + 1e-12).all()


def gold_reference(x, seq, values, bigram, sat, a, lopt, rho):
    """Plain Python r*(x, y)."""
    L = len(seq)
    r = a * (L - L * L / (2 * lopt))
    prev = 0
    for tok in seq:
        r += bigram[prev, tok] - rho * (tok == prev)
        prev = tok
    counts = np.bincount(np.asarray(seq, int), minlength=values.shape[1])
    for v in range(1, values.shape[1]):
        c, w = counts[v], values[x, v]
        r += w * (c - c * c / (2 * sat[v])) if w > 0 else w * c
    return r


@given(seeds)
def test_gold_matches_plain_python(seed):
    rng = np.random.default_rng(seed)
    P, T, V = 3, 6, 4
    values, bigram = rng.normal(size=(P, V + 1)), rng.normal(size=(V + 1, V + 1))
    sat = rng.uniform(0.5, 3, size=V + 1)
    pol = TabularPolicy(random_logits(rng, P, T, V))
    prompts = rng.integers(0, P, 50)
    tok, ln = pol.sample(prompts, rng)
    got = gold_rewards(prompts, tok, ln, values, bigram, sat, 0.7, 3.0, 0.4)
    want = [
        gold_reference(x, r[:L], values, bigram, sat, 0.7, 3.0, 0.4)
        for x, r, L in zip(prompts, tok, ln, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def dense_features(x, seq, P, V, T, prompt_features, bigram_features):
    """Plain NumPy feature vector in the layout of simrl.kernels.features."""
    F = kf.n_features(P, V, prompt_features, bigram_features)
    f = np.zeros(F)
    b0 = kf.bigram_start(P, V, prompt_features)
    prev = 0
    for tok in seq:
        f[tok - 1] += 1
        if prompt_features:
            f[V + x * V + tok - 1] += 1
        if bigram_features:
            f[b0 + prev * V + tok - 1] += 1
        f[F - 1] += tok == prev
        prev = tok
    f[F - 2] = len(seq)
    return f / math.sqrt(T)


def sparse_to_dense(idx, val, F):
    out = np.zeros((idx.shape[0], F))
    for n in range(idx.shape[0]):
        np.add.at(out[n], idx[n], val[n])
    return out


@given(seeds, st.booleans(), st.booleans())
def test_features_match_dense_numpy(seed, pf, bf):
    rng = np.random.default_rng(seed)
    P, T, V = 3, 7, 4
    pol = TabularPolicy(random_logits(rng, P, T, V))
    prompts = rng.integers(0, P, 40)
    tok, ln = pol.sample(prompts, rng)
    F = kf.n_features(P, V, pf, bf)
    b0 = kf.bigram_start(P, V, pf) if bf else -1
    args = (prompts, tok, ln, V, F, pf, b0, 1 / math.sqrt(T), kf.max_nnz(V, T))
    idx, val = kf.features_batch(*args)
    idx2, val2 = kf.features_batch.py_func(*args)
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_array_equal(val, val2)
    want = np.array(
        [
            dense_features(x, r[:L], P, V, T, pf, bf)
            for x, r, L in zip(prompts, tok, ln, strict=True)
        ]
    )
    np.testing.assert_allclose(sparse_to_dense(idx, val, F), want, atol=1e-12)
    nonzero = val != 0.0  # forward_one stops at a row's first zero: none may come later
    assert (np.cumsum(~nonzero, axis=1)[nonzero] == 0).all()


def random_rm(rng, F, H):
    params = rng.normal(scale=0.5, size=F * H + 2 * H + 1)
    W = params[: F * H].reshape(F, H)
    c, w, b = params[F * H : F * H + H], params[F * H + H : F * H + 2 * H], params[-1]
    return params, W, c, w, b


@given(seeds)
def test_rm_forward_matches_dense_numpy(seed):
    rng = np.random.default_rng(seed)
    F, H, N, K = 12, 5, 30, 6
    params, W, c, w, b = random_rm(rng, F, H)
    idx = rng.integers(0, F, (N, K)).astype(np.int32)
    val = rng.normal(size=(N, K))
    r, h = krm.scores(idx, val, params, F, H)
    dense = sparse_to_dense(idx, val, F)
    h_want = np.tanh(dense @ W + c)
    np.testing.assert_allclose(h, h_want, atol=1e-12)
    np.testing.assert_allclose(r, h_want @ w + b, atol=1e-12)


def test_rm_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    F, H, N, K = 8, 4, 5, 3
    params, *_ = random_rm(rng, F, H)
    idx = rng.integers(0, F, (N, K)).astype(np.int32)
    val = rng.normal(size=(N, K))
    g = rng.normal(size=N)  # loss = sum_n g_n r_n

    def loss(p):
        return float(g @ krm.scores(idx, val, p, F, H)[0])

    grad = np.zeros_like(params)
    h = np.zeros(H)
    for n in range(N):
        krm.forward_one(idx[n], val[n], params, F, H, h)
        krm.backward_one(idx[n], val[n], params, F, H, h, g[n], grad)
    eps = 1e-6
    num = np.array(
        [(loss(params + eps * e) - loss(params - eps * e)) / (2 * eps) for e in np.eye(params.size)]
    )
    np.testing.assert_allclose(grad, num, atol=1e-7)


LOSS_CODES = [krm.LOSS_BT, krm.LOSS_MARGIN, krm.LOSS_HINGE, krm.LOSS_LOGITNORM, krm.LOSS_DR]


@given(
    seeds,
    st.sampled_from(LOSS_CODES),
    st.floats(0, 2),
    st.floats(0, 0.4),
    st.floats(0, 2),
    st.floats(0, 2),
)
def test_batch_loss_gradient_matches_finite_differences(seed, loss, margin, smooth, center, bsr):
    rng = np.random.default_rng(seed)
    B = 6
    rw, rl = rng.normal(size=B) * 2, rng.normal(size=B) * 2
    if loss == krm.LOSS_HINGE:  # keep away from the kink d = m, where no derivative exists
        d = rw - rl
        rw = np.where(np.abs(d - margin) < 1e-3, rw + 0.1, rw)
    args = (loss, margin, smooth, center, bsr)
    gw, gl = np.zeros(B), np.zeros(B)
    krm.batch_loss_grad(rw, rl, *args, gw, gl)
    scratch = np.zeros(B)

    def f(a, b):
        return krm.batch_loss_grad(a, b, *args, scratch, scratch.copy())

    eps = 1e-6
    for i in range(B):
        e = np.eye(B)[i] * eps
        assert math.isclose(gw[i], (f(rw + e, rl) - f(rw - e, rl)) / (2 * eps), abs_tol=1e-5)
        assert math.isclose(gl[i], (f(rw, rl + e) - f(rw, rl - e)) / (2 * eps), abs_tol=1e-5)
    gw2, gl2 = np.zeros(B), np.zeros(B)
    assert krm.batch_loss_grad.py_func(rw, rl, *args, gw2, gl2) == f(rw, rl)
    np.testing.assert_array_equal(gw, gw2)


def pair_loss_numpy(rw, rl, loss, m, a):
    """The BSR paper's definitions in plain NumPy, with label smoothing a."""
    d = rw - rl

    def logistic(z):
        return -(1 - a) * np.log(1 / (1 + np.exp(-z))) - a * np.log(1 / (1 + np.exp(z)))

    if loss == krm.LOSS_HINGE:
        return np.maximum(m - d, 0.0)
    if loss == krm.LOSS_MARGIN:
        return logistic(d - m)
    if loss == krm.LOSS_LOGITNORM:
        return logistic(d / np.sqrt(rw**2 + rl**2 + 1e-12))
    base = logistic(d)
    if loss == krm.LOSS_DR:
        base = base - np.log(1 / (1 + np.exp(-rw))) - np.log(1 / (1 + np.exp(rl)))
    return base


@given(seeds, st.sampled_from(LOSS_CODES), st.floats(0, 2), st.floats(0, 0.4))
def test_pair_losses_match_numpy_definitions(seed, loss, margin, smooth):
    rng = np.random.default_rng(seed)
    rw, rl = rng.normal(size=8) * 3, rng.normal(size=8) * 3
    if loss == krm.LOSS_HINGE:
        smooth = 0.0
    want = pair_loss_numpy(rw, rl, loss, margin, smooth).mean()
    got = krm.batch_loss_grad(rw, rl, loss, margin, smooth, 0.0, 0.0, np.zeros(8), np.zeros(8))
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def int_power(a, t):
    """a**t for an integer t as compiled code computes it (binary exponentiation), which can
    differ from C's pow() in the last bit."""
    r = 1.0
    while t:
        if t & 1:
            r *= a
        t >>= 1
        a *= a
    return r


def fit_numpy(
    iw, vw, il, vl, params, F, H, loss, margin, smooth, center, bsr, wd, adam, lr, B, epochs, rng
):
    """The fitting algorithm in plain NumPy, operation by operation as DESIGN.md states it:
    Fisher-Yates shuffle, full mini-batches, forward (sums in the stored order of the sparse
    entries), the batch loss, backward, then AdamW (Kingma & Ba 2015; decay on W and w only)
    or SGD. Element-wise NumPy ops round like scalar ones, so the result must be identical."""
    W, c = params[: F * H].reshape(F, H), params[F * H : F * H + H]
    w, b = params[F * H + H : F * H + 2 * H], params[F * H + 2 * H :]
    m1, m2 = np.zeros_like(params), np.zeros_like(params)
    N = iw.shape[0]
    B = min(B, N)
    order, hist, step = np.arange(N), np.zeros((epochs, 3)), 0

    def forward(idx, val):
        z = c.copy()
        for k in range(idx.size):
            if val[k] != 0.0:
                z = z + val[k] * W[idx[k]]
        h = np.array([1.0 - 2.0 / (vexp.py_func(2.0 * x) + 1.0) for x in z])  # tanh
        r = b[0]
        for j in range(H):
            r += w[j] * h[j]
        return r, h

    for ep in range(epochs):
        for i in range(N - 1, 0, -1):
            j = rng.integers(0, i + 1)
            order[i], order[j] = order[j], order[i]
        stats = np.zeros(5)  # loss, sum r, sum r^2, batches, rewards
        for start in range(0, N - B + 1, B):
            rows = order[start : start + B]
            out = [forward(iw[p], vw[p]) + forward(il[p], vl[p]) for p in rows]
            rw, rl = np.array([o[0] for o in out]), np.array([o[2] for o in out])
            for i in range(B):
                stats[1] += rw[i] + rl[i]
                stats[2] += rw[i] * rw[i] + rl[i] * rl[i]
            gw, gl = np.zeros(B), np.zeros(B)
            stats[0] += krm.batch_loss_grad.py_func(
                rw, rl, loss, margin, smooth, center, bsr, gw, gl
            )
            stats[3:] += 1, 2 * B
            grad = np.zeros_like(params)
            gW, gc = grad[: F * H].reshape(F, H), grad[F * H : F * H + H]
            gwv = grad[F * H + H : F * H + 2 * H]
            for i, p in enumerate(rows):
                for g, h, idx, val in (
                    (gw[i], out[i][1], iw[p], vw[p]),
                    (gl[i], out[i][3], il[p], vl[p]),
                ):
                    grad[-1] += g
                    gwv += g * h
                    da = g * w * (1.0 - h * h)
                    gc += da
                    for k in range(idx.size):
                        if val[k] != 0.0:
                            gW[idx[k]] += val[k] * da
            step += 1
            if wd > 0.0:
                W *= 1.0 - lr * wd
                w *= 1.0 - lr * wd
            if adam:
                m1[:] = 0.9 * m1 + (1.0 - 0.9) * grad
                m2[:] = 0.999 * m2 + (1.0 - 0.999) * grad * grad
                size = lr / (1.0 - int_power(0.9, step))  # bias corrections
                inv = 1.0 / math.sqrt(1.0 - int_power(0.999, step))
                params -= size * m1 / (np.sqrt(m2) * inv + 1e-8)
            else:
                params -= lr * grad
        mean = stats[1] / stats[4]
        hist[ep] = stats[0] / stats[3], mean, math.sqrt(max(stats[2] / stats[4] - mean * mean, 0.0))
    return hist


@pytest.mark.parametrize(
    ("loss", "hidden", "adam"),
    [(code, 11, True) for code in LOSS_CODES] + [(krm.LOSS_BT, 4, True), (krm.LOSS_BT, 11, False)],
)
def test_fit_is_bit_identical_to_numpy(loss, hidden, adam):
    """The vectorized kernel (CSR features, fused AdamW per block) reorders no sum: params
    and history equal the NumPy reference exactly. H = 11 runs the vector loops' bodies and
    remainders; the parameter vector's blocks have odd lengths."""
    cfg = tiny_config(rm={"hidden": hidden})
    s = build(cfg)
    pairs, rm = s.train.pairs, s.rm
    iw, vw = rm.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
    il, vl = rm.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
    smooth = 0.0 if loss == krm.LOSS_HINGE else 0.1
    args = (rm.n_features, hidden, loss, 0.5, smooth, 0.01, 0.1, 1e-2, adam, 0.05, 32, 3)
    p0 = np.random.default_rng(1).normal(scale=0.3, size=rm.params.shape[1])
    p_kernel, p_numpy = p0.copy(), p0.copy()
    hist, ok = krm.fit(iw, vw, il, vl, p_kernel, *args, np.random.default_rng(2))
    want = fit_numpy(iw, vw, il, vl, p_numpy, *args, np.random.default_rng(2))
    assert ok
    assert not np.array_equal(p_kernel, p0)
    np.testing.assert_array_equal(p_kernel, p_numpy)
    np.testing.assert_array_equal(hist, want)


@njit
def compiled_sqrt(x):
    out = np.empty_like(x)
    for i in range(x.size):  # vectorized: the packed square root
        out[i] = krm.ieee_sqrt(x[i])
    return out, krm.ieee_sqrt(x[0])  # and the scalar one


@given(st.lists(st.floats(min_value=0.0, allow_subnormal=True), min_size=1, max_size=40))
def test_compiled_sqrt_is_libm_sqrt(xs):
    """The llvm.sqrt intrinsic the Adam loop uses rounds as math.sqrt does, packed or not."""
    want = np.array([math.sqrt(v) for v in xs])
    got, first = compiled_sqrt(np.array(xs))
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))
    assert first == want[0]
    special, _ = compiled_sqrt(np.array([np.inf, np.nan, -1.0, -0.0]))
    np.testing.assert_array_equal(special, [np.inf, np.nan, np.nan, -0.0])


@given(seeds, st.integers(1, 19))
def test_batch_forward_backward_equal_forward_one_backward_one(seed, H):
    """compact() keeps exactly the non-zero entries in order (zeros anywhere in a row, and
    repeated indices), and the pair-fused batch passes give each response the bits of
    forward_one and each gradient entry the bits of backward_one called pair by pair, chosen
    first."""
    rng = np.random.default_rng(seed)
    F, N, K = 9, 6, 7
    params, *_ = random_rm(rng, F, H)
    idx_w, idx_l = rng.integers(0, F, (2, N, K)).astype(np.int32)
    val_w, val_l = rng.normal(size=(2, N, K)) * (rng.random((2, N, K)) < 0.6)
    fw, fl = krm.compact(idx_w, val_w, H), krm.compact(idx_l, val_l, H)
    assert fw[0][-1] == np.count_nonzero(val_w)
    rows = rng.permutation(N)[:4]
    hw, hl, rw, rl = np.zeros((4, H)), np.zeros((4, H)), np.zeros(4), np.zeros(4)
    krm.batch_forward(fw, fl, rows, params, F, H, hw, hl, rw, rl)
    g, grad, want = rng.normal(size=(2, 4)), np.zeros_like(params), np.zeros_like(params)
    h = np.zeros(H)
    for i, p in enumerate(rows):
        for side, (idx, val, hs, rs) in enumerate(((idx_w, val_w, hw, rw), (idx_l, val_l, hl, rl))):
            lead = np.argsort(val[p] == 0.0, kind="stable")  # features_one's layout: zeros last
            assert krm.forward_one(idx[p][lead], val[p][lead], params, F, H, h) == rs[i]
            np.testing.assert_array_equal(h, hs[i])
            krm.backward_one(idx[p], val[p], params, F, H, h, g[side, i], want)
    krm.batch_backward(fw, fl, rows, params, F, H, hw, hl, g[0], g[1], grad)
    np.testing.assert_array_equal(grad, want)


def run_policy_steps(fn, s, algo, estimator, target, shared=True, kl_target=0.0, steps=5):
    ref = s.ref
    P, _T, V = ref.shape
    theta = ref.logits.copy()
    u, U = np.zeros(V + 1), np.zeros((P, V + 1))
    hist = np.zeros((steps, 3))
    state = np.array([0.05, np.nan])
    ok = fn(
        theta,
        u,
        U,
        shared,
        ref.logp(),
        target.source,
        target.rm,
        target.gold,
        target.mul,
        target.add,
        False,
        algo,
        estimator,
        kl_target,
        100.0,
        3,
        2,
        0.5,
        3,
        0.2,
        True,
        0.9,
        True,  # grpo_std_norm
        0.0,  # no occupancy chi^2
        chi2_reference(ref, 0.0),
        steps,
        np.random.default_rng(9),
        hist,
        state,
    )
    return ok, theta, u, U, hist, state


@pytest.mark.parametrize("algo", [pg.ALGO_REINFORCE, ALGO_RLOO, pg.ALGO_PPO, pg.ALGO_GRPO])
@pytest.mark.parametrize("estimator", [KL_K1, pg.KL_K2, pg.KL_K3])
def test_policy_steps_match_py_func(algo, estimator):
    s = build(tiny_config())
    target = Target.proxy(s.rm)
    (ok1, *a), (ok2, *b) = (
        run_policy_steps(fn, s, algo, estimator, target, kl_target=0.5)
        for fn in (policy_steps, policy_steps.py_func)
    )
    assert ok1 and ok2
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    assert not np.array_equal(a[0], s.ref.logits)  # the policy did move


def test_ppo_with_one_epoch_is_rloo():
    """With one pass the ratio is 1 and nothing is clipped: PPO's update is RLOO's."""
    s = build(tiny_config(policy={"ppo_epochs": 1}))
    target = Target.proxy(s.rm)
    a = run_policy_steps(policy_steps, s, ALGO_RLOO, KL_K1, target)
    ppo = s.ref  # same inputs, PPO code path with ppo_epochs = 1
    P, _T, V = ppo.shape
    theta, u, U = ppo.logits.copy(), np.zeros(V + 1), np.zeros((P, V + 1))
    hist, state = np.zeros((5, 3)), np.array([0.05, np.nan])
    policy_steps(
        theta,
        u,
        U,
        True,
        ppo.logp(),
        target.source,
        target.rm,
        target.gold,
        target.mul,
        target.add,
        False,
        pg.ALGO_PPO,
        KL_K1,
        0.0,
        100.0,
        3,
        2,
        0.5,
        1,
        0.2,
        False,
        0.9,
        True,
        0.0,
        chi2_reference(ppo, 0.0),
        5,
        np.random.default_rng(9),
        hist,
        state,
    )
    np.testing.assert_array_equal(theta, a[1])
    np.testing.assert_array_equal(hist, a[4])


def test_sample_and_score_matches_py_func():
    s = build(tiny_config(rm={"ensemble_size": 2, "ensemble_mode": "uwo"}))
    rm, g = s.rm, s.gold
    prompts = np.arange(300, dtype=np.int64) % 3
    a = sample_and_score(s.ref.cdf(), prompts, np.random.default_rng(3), rm.spec(), g.spec())
    b = sample_and_score.py_func(
        s.ref.cdf(), prompts, np.random.default_rng(3), rm.spec(), g.spec()
    )
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    # and the fused kernel scores exactly what the separate pieces score
    tok, ln = s.ref.sample(prompts, np.random.default_rng(3))
    np.testing.assert_allclose(a[0], g.rewards(prompts, tok, ln), rtol=1e-12)
    np.testing.assert_allclose(a[1], rm.score(prompts, tok, ln), rtol=1e-12)
    np.testing.assert_array_equal(a[2], ln)


@given(seeds)
def test_sequence_logprobs_match_py_func(seed):
    rng = np.random.default_rng(seed)
    pol = TabularPolicy(random_logits(rng, 2, 4, 3))
    prompts = rng.integers(0, 2, 50)
    tok, ln = pol.sample(prompts, rng)
    np.testing.assert_allclose(
        sequence_logprobs(pol.logp(), prompts, tok, ln),
        sequence_logprobs.py_func(pol.logp(), prompts, tok, ln),
        rtol=1e-13,
    )


@pytest.mark.parametrize("arch", [{}, {"activation": "relu", "features": "embedding"}])
def test_samplers_score_in_chunks_what_they_draw_one_by_one(arch):
    """The samplers draw a chunk of responses, then score the chunk with one call
    (``proxy_into``): across chunk boundaries the draws and the scores must be those of
    drawing and scoring one response at a time, bit for bit."""
    from simrl.kernels import evaluate as kev
    from simrl.kernels.reward import SOURCE_GOLD, SOURCE_PROXY, reward_one, rewards_into

    s = build(tiny_config(rm={"ensemble_size": 2, "ensemble_mode": "uwo", **arch}))
    rm, g, cdf = s.rm.spec(), s.gold.spec(), s.ref.cdf()
    N = kev.CHUNK + 37
    prompts = np.arange(N, dtype=np.int64) % 3
    gold, proxy, lens = sample_and_score(cdf, prompts, np.random.default_rng(9), rm, g)
    only = kev.sample_and_score_proxy(cdf, prompts, np.random.default_rng(9), rm)
    tok, ln = s.ref.sample(prompts, np.random.default_rng(9))  # the same draws
    np.testing.assert_array_equal(lens, ln)
    np.testing.assert_array_equal(only, proxy)
    V = cdf.shape[3] - 1
    for source, want in ((SOURCE_PROXY, proxy), (SOURCE_GOLD, gold)):
        out = np.zeros(N)
        rewards_into(source, prompts, tok, ln, N, V, rm, g, out)
        np.testing.assert_array_equal(out, want)
        scratch = kf.max_nnz(V, tok.shape[1])
        counts, fidx, fval = np.zeros(V + 1), np.zeros(scratch, np.int32), np.zeros(scratch)
        h, rs = np.zeros(rm[2]), np.zeros(rm[0].shape[0])
        one = [
            reward_one(source, prompts[i], tok[i], ln[i], rm, g, counts, fidx, fval, h, rs)
            for i in range(0, N, 97)
        ]
        np.testing.assert_array_equal(one, want[::97])
