"""Proxy architectures (activation, depth, head norm, embedding features) against NumPy
references and finite differences of every loss with centering and BSR on."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import tiny_config
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import erf

from simrl.build import build
from simrl.kernels import features as kf
from simrl.kernels import mlp as kmlp
from simrl.kernels import mlp_fit
from simrl.kernels import rm as krm
from simrl.kernels.activations import ACT_GELU, ACT_IDENTITY, ACT_RELU, ACT_TANH
from simrl.kernels.evaluate import sample_and_score_proxy
from simrl.reward_model import ProxyRM

ACTS = {
    ACT_TANH: np.tanh,
    ACT_RELU: lambda z: np.maximum(z, 0.0),
    ACT_GELU: lambda z: 0.5 * z * (1.0 + erf(z / math.sqrt(2.0))),
    ACT_IDENTITY: lambda z: z,
}
ARCHS = list(itertools.product(ACTS, (1, 2), (kmlp.NORM_NONE, kmlp.NORM_RMS)))
LOSS_CODES = [krm.LOSS_BT, krm.LOSS_MARGIN, krm.LOSS_HINGE, krm.LOSS_LOGITNORM, krm.LOSS_DR]


def numpy_forward(idx, val, params, F, H, act, depth, norm):
    """Dense NumPy version of the architecture: rewards and the head's input h."""
    o_c1, o_W2, o_c2, o_g, o_w, o_b, _ = kmlp.layout(F, H, depth, norm)
    X = np.zeros((idx.shape[0], F))
    np.add.at(X, (np.arange(idx.shape[0])[:, None], idx), val)
    a = ACTS[act](X @ params[: F * H].reshape(F, H) + params[o_c1:o_W2])
    if depth == 2:
        a = ACTS[act](a @ params[o_W2:o_c2].reshape(H, H) + params[o_c2:o_g])
    if norm == kmlp.NORM_RMS:
        a = params[o_g:o_w] * a / np.sqrt((a * a).mean(axis=1, keepdims=True) + kmlp.NORM_EPS)
    return a @ params[o_w:o_b] + params[o_b], a


def numpy_batch_loss(rw, rl, loss, margin, center, bsr):
    """The batch loss of :func:`simrl.kernels.losses.batch_loss_grad`, written in NumPy."""
    d = rw - rl

    def nls(z):  # -log sigma(z)
        return np.logaddexp(0.0, -z)

    if loss == krm.LOSS_HINGE:
        v = np.maximum(margin - d, 0.0)
    elif loss == krm.LOSS_LOGITNORM:
        v = nls(d / np.sqrt(rw * rw + rl * rl + 1e-12))
    elif loss == krm.LOSS_MARGIN:
        v = nls(d - margin)
    else:
        v = nls(d)
        if loss == krm.LOSS_DR:
            v = v + nls(rw) + nls(-rl)
    B = rw.shape[0]
    m = (rw + rl).sum() / (2 * B)
    return (v.sum() + center * ((rw + rl) ** 2).sum()) / B + bsr * B * m * m


def random_problem(rng, F, H, depth, norm, N=12, K=4):
    n = kmlp.layout(F, H, depth, norm)[-1]
    params = rng.normal(scale=0.6, size=n)
    idx = rng.integers(0, F, (N, K)).astype(np.int32)
    val = rng.normal(size=(N, K))
    val[:, -1] = 0.0  # padding
    return params, idx, val


@pytest.mark.parametrize(("act", "depth", "norm"), ARCHS)
def test_forward_matches_dense_numpy(act, depth, norm):
    rng = np.random.default_rng(act * 10 + depth * 3 + norm)
    F, H = 9, 5
    params, idx, val = random_problem(rng, F, H, depth, norm, N=30)
    r, h = kmlp.scores(idx, val, params, F, H, act, depth, norm)
    r_want, h_want = numpy_forward(idx, val, params, F, H, act, depth, norm)
    np.testing.assert_allclose(h, h_want, atol=1e-12)
    np.testing.assert_allclose(r, r_want, atol=1e-12)


@pytest.mark.parametrize(("act", "depth", "norm"), ARCHS)
@pytest.mark.parametrize("loss", LOSS_CODES)
def test_gradient_matches_finite_differences_of_every_loss(act, depth, norm, loss):
    """One SGD step with learning rate 1 on one batch holding every pair moves the
    parameters by minus the gradient of the batch loss (centering and BSR on); central
    differences of the NumPy loss must agree, for every parameter of every block."""
    rng = np.random.default_rng(100 * act + 10 * depth + norm + 1000 * loss)
    F, H, N, K = 7, 4, 6, 3
    params, iw, vw = random_problem(rng, F, H, depth, norm, N, K)
    _, il, vl = random_problem(rng, F, H, depth, norm, N, K)
    margin, center, bsr = 0.3, 0.05, 0.2
    p = params.copy()
    hist, ok = mlp_fit.fit(
        iw, vw, il, vl, p, F, H, act, depth, norm, loss, margin, 0.0, center, bsr, 0.0,
        False, 1.0, N, 1, np.random.default_rng(0),
    )  # fmt: skip
    assert ok
    grad = params - p

    def f(q):
        rw = numpy_forward(iw, vw, q, F, H, act, depth, norm)[0]
        rl = numpy_forward(il, vl, q, F, H, act, depth, norm)[0]
        return numpy_batch_loss(rw, rl, loss, margin, center, bsr)

    assert hist[0, 0] == pytest.approx(f(params), rel=1e-12)
    eps = 1e-6
    basis = np.eye(p.size)
    num = np.array([(f(params + eps * e) - f(params - eps * e)) / (2 * eps) for e in basis])
    np.testing.assert_allclose(grad, num, atol=2e-6 * max(1.0, np.abs(num).max()))
    assert np.abs(grad).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("adam", [True, False])
def test_general_kernel_at_the_default_architecture_is_the_default_fit_bit_for_bit(adam):
    """tanh, depth 1, no norm: the general kernel does the default kernel's operations in
    the same order, so parameters, history and epoch snapshots are equal, not close."""
    s = build(tiny_config(rm={"hidden": 11}))
    pairs, rm = s.train.pairs, s.rm
    iw, vw = rm.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
    il, vl = rm.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
    args = (krm.LOSS_BT, 0.5, 0.1, 0.01, 0.1, 1e-2, adam, 0.05, 32, 3)
    p0 = np.random.default_rng(1).normal(scale=0.3, size=rm.params.shape[1])
    a, b = p0.copy(), p0.copy()
    sa, sb = np.empty((3, p0.size)), np.empty((3, p0.size))
    F, H = rm.n_features, 11
    ha, _ = krm.fit(iw, vw, il, vl, a, F, H, *args, np.random.default_rng(2), sa)
    arch = (ACT_TANH, 1, kmlp.NORM_NONE)
    hb, _ = mlp_fit.fit(iw, vw, il, vl, b, F, H, *arch, *args, np.random.default_rng(2), sb)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ha, hb)
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(sa[-1], a)
    c = p0.copy()  # without snapshots: the same fit
    krm.fit(iw, vw, il, vl, c, F, H, *args, np.random.default_rng(2))
    np.testing.assert_array_equal(c, a)


@given(st.integers(0, 2**32 - 1))
def test_embedding_features_are_sum_pooled_token_embeddings_plus_prompt_embedding(seed):
    rng = np.random.default_rng(seed)
    P, V, T, H, N = 3, 4, 6, 5, 20
    F = kf.n_embedding_features(P, V)
    lengths = rng.integers(0, T + 1, N)
    tokens = np.where(np.arange(T) < lengths[:, None], rng.integers(1, V + 1, (N, T)), 0)
    prompts = rng.integers(0, P, N)
    scale = 1.0 / math.sqrt(T)
    idx, val = kf.embedding_batch(prompts, tokens, lengths, V, scale, kf.max_nnz(V, T))
    W = rng.normal(size=(F, H))
    E, U = W[:V], W[V:]
    X = np.zeros((N, F))
    np.add.at(X, (np.arange(N)[:, None], idx), val)
    for n in range(N):
        want = sum((E[tokens[n, t] - 1] for t in range(lengths[n])), np.zeros(H)) * scale
        np.testing.assert_allclose(X[n] @ W, want + U[prompts[n]], atol=1e-12)


@pytest.mark.parametrize(
    "rm_cfg",
    [
        {"features": "embedding"},
        {"activation": "relu", "depth": 2},
        {"activation": "gelu", "head_norm": "rmsnorm", "ensemble_size": 2, "ensemble_mode": "min"},
        {"features": "embedding", "activation": "identity", "head_norm": "rmsnorm", "depth": 2},
    ],
)
def test_compiled_scoring_path_agrees_with_the_python_scores(rm_cfg):
    """What optimizers and the evaluator score (a spec through simrl.kernels.proxy) is what
    ProxyRM.score says, for every architecture: same responses, same rewards."""
    s = build(tiny_config(rm=rm_cfg))
    rm = s.rm
    assert len(rm.spec()) == 9 and not rm.is_default
    cdf = s.ref.cdf()
    prompts = np.arange(200) % 3
    p = sample_and_score_proxy(cdf, prompts, np.random.default_rng(5), rm.spec())
    from simrl.kernels.sampling import sample_responses

    T = s.ref.shape[1]
    tok, ln = np.zeros((200, T), np.int64), np.zeros(200, np.int64)
    sample_responses(cdf, prompts, np.random.default_rng(5), tok, ln)
    np.testing.assert_allclose(p, rm.score(prompts, tok, ln), rtol=1e-12, atol=1e-12)


def test_default_architecture_keeps_the_default_spec_and_kernels():
    rm = build(tiny_config()).rm
    assert rm.is_default and len(rm.spec()) == 8


def test_init_draws_the_default_parameters_as_before():
    """Adding architectures left the default initialization's draws unchanged."""
    cfg = tiny_config()
    rm = ProxyRM.init(cfg.world, cfg.rm, np.random.default_rng(7))
    F, H = rm.n_features, cfg.rm.hidden
    rng = np.random.default_rng(7)
    W = cfg.rm.init_scale * rng.standard_normal(F * H)
    w = cfg.rm.init_scale * rng.standard_normal(H)
    np.testing.assert_array_equal(rm.params[0], np.concatenate([W, np.zeros(H), w, [0.0]]))
