"""Direct alignment (DPO, IPO, SLiC, chiPO): kernel against NumPy, gradients against finite
differences, the exact population optimum of DPO on a world small enough to enumerate, and
the optimizer's contract."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from conftest import finite_difference, random_logits

from simrl.config import PolicyConfig
from simrl.data import PreferencePairs
from simrl.direct import LOSSES, label_by_proxy, optimize_direct
from simrl.kernels import direct as kd
from simrl.kernels.softmax import log_softmax_table
from simrl.policy import TabularPolicy, compose_logits, shared_logit_grads

KINDS = ("dpo", "ipo", "slic", "chipo")


def random_pairs(rng: np.random.Generator, P: int, T: int, V: int, n: int) -> PreferencePairs:
    """Random responses (lengths 0..T, so some stop at the cap without EOS)."""

    def responses():
        lengths = rng.integers(0, T + 1, n)
        tokens = rng.integers(1, V + 1, (n, T)) * (np.arange(T)[None, :] < lengths[:, None])
        return tokens.astype(np.int64), lengths.astype(np.int64)

    (tw, lw), (tl, ll) = responses(), responses()
    return PreferencePairs(rng.integers(0, P, n).astype(np.int64), tw, lw, tl, ll)


def numpy_seq_logp(logits: np.ndarray, prompts, tokens, lengths) -> np.ndarray:
    """log pi(y|x) by a plain loop over tokens, EOS counted only before the cap."""
    logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    T = tokens.shape[1]
    out = np.zeros(len(prompts))
    for n, x in enumerate(prompts):
        prev = 0
        for t in range(lengths[n]):
            out[n] += logp[x, t, prev, tokens[n, t]]
            prev = tokens[n, t]
        if lengths[n] < T:
            out[n] += logp[x, lengths[n], prev, 0]
    return out


def numpy_loss(logits, ref_logits, pairs, kind, beta, clip) -> np.ndarray:
    """Per-pair losses written from the papers' formulas, in NumPy."""
    args_w = (pairs.prompts, pairs.chosen, pairs.chosen_len)
    args_l = (pairs.prompts, pairs.rejected, pairs.rejected_len)
    l_w = numpy_seq_logp(logits, *args_w) - numpy_seq_logp(ref_logits, *args_w)
    l_l = numpy_seq_logp(logits, *args_l) - numpy_seq_logp(ref_logits, *args_l)
    h = l_w - l_l
    if kind == "dpo":
        return np.logaddexp(0.0, -beta * h)
    if kind == "ipo":
        return (h - 1.0 / (2.0 * beta)) ** 2
    if kind == "slic":
        return np.maximum(0.0, 1.0 - beta * h)
    z_w, z_l = np.exp(l_w), np.exp(l_l)  # moderate ratios here: the direct formula is exact
    v = beta * (z_w + np.log(z_w)) - beta * (z_l + np.log(z_l))
    return np.logaddexp(0.0, -np.clip(v, -clip, clip))


def kernel_loss(logits, ref_logits, pairs, kind, beta, clip, fn=kd.pairs_loss_grad):
    """Mean loss and its gradient in the effective logits, by the kernel."""
    ref_lp = log_softmax_table(ref_logits)
    args_w = (pairs.prompts, pairs.chosen, pairs.chosen_len)
    args_l = (pairs.prompts, pairs.rejected, pairs.rejected_len)
    ref_pol = TabularPolicy(ref_logits)
    n = len(pairs)
    g = np.zeros_like(logits)
    margins = np.zeros(n)
    loss = fn(
        log_softmax_table(logits),
        *args_w,
        ref_pol.sequence_logprobs(*args_w),
        pairs.rejected,
        pairs.rejected_len,
        ref_pol.sequence_logprobs(*args_l),
        np.full(n, 1.0 / n),
        LOSSES[kind],
        beta,
        clip,
        g,
        margins,
    )
    assert ref_lp.shape == logits.shape
    return loss, g, margins


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_matches_numpy_reference_and_py_func(kind):
    rng = np.random.default_rng(1)
    P, T, V = 3, 4, 3
    ref_logits = random_logits(rng, P, T, V, 1.0)
    logits = ref_logits + random_logits(rng, P, T, V, 0.3)
    pairs = random_pairs(rng, P, T, V, 50)
    beta, clip = 0.7, 1.5  # clip binds for some chiPO pairs at this spread
    loss, g, margins = kernel_loss(logits, ref_logits, pairs, kind, beta, clip)
    assert loss == pytest.approx(numpy_loss(logits, ref_logits, pairs, kind, beta, clip).mean())
    loss_py, g_py, m_py = kernel_loss(
        logits, ref_logits, pairs, kind, beta, clip, kd.pairs_loss_grad.py_func
    )
    assert loss_py == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(g_py, g, atol=1e-12)
    np.testing.assert_allclose(m_py, margins, atol=1e-12)
    if kind == "chipo":
        assert (np.abs(margins) > clip).any() and (np.abs(margins) < clip).any()


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind, shared):
    """d loss / d (theta, u, U) against central differences, every coordinate."""
    rng = np.random.default_rng(2)
    P, T, V = 2, 3, 2
    ref_logits = random_logits(rng, P, T, V, 1.0)
    theta = ref_logits + random_logits(rng, P, T, V, 0.4)
    u = 0.3 * rng.standard_normal(V + 1) if shared else np.zeros(V + 1)
    U = 0.3 * rng.standard_normal((P, V + 1)) if shared else np.zeros((P, V + 1))
    pairs = random_pairs(rng, P, T, V, 30)
    beta, clip = 0.8, 2.0

    def loss_of(th, uu, UU):
        return kernel_loss(compose_logits(th, uu, UU), ref_logits, pairs, kind, beta, clip)[0]

    _, g, _ = kernel_loss(compose_logits(theta, u, U), ref_logits, pairs, kind, beta, clip)
    gu, gU = shared_logit_grads(g)
    grads = [g, gu, gU] if shared else [g]
    fd = finite_difference(loss_of, theta, u, U, shared, h=1e-6)
    np.testing.assert_allclose(np.concatenate([a.ravel() for a in grads]), fd, atol=1e-7, rtol=1e-5)
    assert np.abs(g).max() > 1e-3  # the loss does depend on the logits


def test_chipo_in_log_space_does_not_overflow():
    """Log-ratios beyond log(DBL_MAX): exp(l) overflows, the margin is clipped, no NaN."""
    loss, d_w, d_l = kd.pair_loss(kd.LOSS_CHIPO, 800.0, 10.0, 0.1, 8.0)
    assert loss == pytest.approx(np.logaddexp(0.0, -8.0)) and d_w == 0.0 and d_l == 0.0
    loss, _, _ = kd.pair_loss(kd.LOSS_CHIPO, 10.0, 800.0, 0.1, 8.0)
    assert loss == pytest.approx(np.logaddexp(0.0, 8.0))
    # equal huge ratios: margin beta (z_w - z_l) + beta (l_w - l_l) = 0, not inf - inf
    assert kd.chipo_margin(800.0, 800.0, 0.1) == 0.0
    # at moderate ratios the log-space margin is the direct formula
    l_w, l_l, beta = 3.0, -2.0, 0.4
    direct = beta * (np.exp(l_w) + l_w) - beta * (np.exp(l_l) + l_l)
    assert kd.chipo_margin(l_w, l_l, beta) == pytest.approx(direct, rel=1e-14)
    assert kd.chipo_margin.py_func(l_w, l_l, beta) == pytest.approx(direct, rel=1e-14)


EXAMPLE = runpy.run_path(
    str(Path(__file__).parents[1] / "examples" / "direct_population.py"), run_name="example"
)


def test_population_minimizers_dpo_and_chipo():
    """Rafailov et al. (2023), section 4: beta log pi/pi_ref = r*/tau + c(x) at the optimum of the
    population DPO loss, so KL(pi || pi_ref) ~ Var_ref(r*/tau) / (2 beta^2) for large beta.
    chiPO's optimum has beta phi(pi/pi_ref) = r*/tau + c(x) instead; phi(z) ~ 1 + 2 (z - 1)
    near z = 1 halves the log-ratios, so at large beta its KL is a quarter of DPO's."""
    tau = 0.5
    betas = [8.0, 16.0, 32.0, 64.0]
    kls: dict[str, list[float]] = {"dpo": [], "chipo": []}
    for kind in kls:
        for beta in [1.0, 4.0, *betas]:
            o = EXAMPLE["population_optimum"](kind, beta, tau)
            resid = EXAMPLE["implicit_reward"](kind, beta, o["ratio"]) - o["gold"] / tau
            assert (np.exp(o["logp"]) > 1e-6).all()  # every response keeps some probability
            assert np.ptp(resid, axis=1).max() < 1e-4, (kind, beta)
            if beta in betas:
                kls[kind].append(o["policy"].kl(o["ref"]).mean())
    slope = np.polyfit(np.log(betas), np.log(kls["dpo"]), 1)[0]
    assert -2.2 < slope < -1.8, slope
    assert kls["chipo"][-1] / kls["dpo"][-1] == pytest.approx(0.25, abs=0.01)


def test_optimize_direct_checkpoints_and_determinism():
    rng = np.random.default_rng(3)
    P, T, V = 3, 3, 2
    ref = TabularPolicy(random_logits(rng, P, T, V, 1.0))
    pairs = random_pairs(rng, P, T, V, 40)
    cfg = PolicyConfig(optimizer="dpo", dpo_epochs=3, dpo_batch_size=16, dpo_eval_every=4)
    runs, steps = [], []
    for _ in range(2):
        steps.clear()
        pol, hist = optimize_direct(
            ref, pairs, cfg, np.random.default_rng(7), lambda s, p: steps.append(s)
        )
        runs.append(pol.logits)
    assert steps == [0, 4, 6]  # 3 epochs of 40 // 16 = 2 full batches
    np.testing.assert_array_equal(runs[0], runs[1])
    assert hist.loss[-1] < hist.loss[0]  # the training pairs get fitted


def test_online_labels_follow_the_proxy_and_need_it():
    rng = np.random.default_rng(4)
    P, T, V = 2, 4, 3
    ref = TabularPolicy(random_logits(rng, P, T, V, 0.5))
    prompts = np.zeros(4000, np.int64)
    longer = label_by_proxy(ref, prompts, lambda x, t, n: 50.0 * n, rng)
    assert (longer.chosen_len >= longer.rejected_len).all()  # sigma(50 d) = 1 for d >= 1
    flat = label_by_proxy(ref, prompts, lambda x, t, n: 0.0 * n, rng)
    assert (
        0.4
        < np.mean(flat.chosen_len > flat.rejected_len)
        / np.mean(flat.chosen_len != flat.rejected_len)
        < 0.6
    )  # sigma(0) = 1/2: a coin, not the sign
    pairs = random_pairs(rng, P, T, V, 8)
    with pytest.raises(ValueError, match="proxy_score"):
        optimize_direct(
            ref, pairs, PolicyConfig(optimizer="dpo", dpo_online=True), rng, lambda s, p: None
        )
