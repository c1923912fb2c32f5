"""The policy-gradient kernel: its rows, its per-sample update and the expected update of each
KL penalty, checked by enumerating every response of a tiny world."""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import finite_difference, random_logits, tiny_config
from hypothesis import given
from hypothesis import strategies as st

from simrl.experiment import build
from simrl.kernels import pg
from simrl.kernels.kl import exact_kl, occupancy
from simrl.kernels.reward import reward_batch
from simrl.kernels.softmax import log_softmax_table, softmax_row
from simrl.kernels.vexp import vexp
from simrl.occupancy import OccupancyChi2
from simrl.optimize import Target, normalized, optimize
from simrl.policy import enumerate_responses, shared_logit_grads
from simrl.policy_gradient import chi2_reference

seeds = st.integers(0, 2**32 - 1)


@given(seeds, st.sampled_from([1e-3, 1.0, 300.0]), st.booleans())
def test_policy_row_is_bit_identical_to_softmax_row(seed, scale, ties):
    """The kernel's rows must equal the shared softmax bit for bit: log pi - log pi_ref is
    then exactly 0 where the policies agree, and the speed-ups change no result."""
    rng = np.random.default_rng(seed)
    P, T, A = 2, 3, 5
    theta = scale * rng.standard_normal((P, T, A, A))
    if ties:  # equal maxima and exact zeros
        theta = np.round(theta)
    u, U = rng.standard_normal(A), rng.standard_normal((P, A))
    logits, lp, pr = np.zeros(A), np.zeros((2, A)), np.zeros((2, A))
    want_lp, want_pr = np.zeros(A), np.zeros(A)
    for x, t, prev in np.ndindex(P, T, A):
        pg.policy_row(theta, u, U, x, t, prev, logits, lp[1], pr[1])
        softmax_row(theta[x, t, prev] + u + U[x], want_lp, want_pr)
        assert np.array_equal(lp[1], want_lp) and np.array_equal(pr[1], want_pr)


def test_policy_row_propagates_nan_like_softmax_row():
    theta = np.zeros((1, 1, 4, 4))
    theta[0, 0, 0, 2] = np.nan
    logits, lp, pr = np.zeros(4), np.zeros(4), np.zeros(4)
    pg.policy_row(theta, np.zeros(4), np.zeros((1, 4)), 0, 0, 0, logits, lp, pr)
    assert np.isnan(lp).all() and np.isnan(pr).all()


@given(seeds, st.sampled_from([1e-3, 1.0, 300.0]), st.booleans(), st.integers(1, 40))
def test_policy_rows_are_the_rows_with_a_vectorized_exp(seed, scale, ties, n):
    """The later passes' block of rows (policy_rows, softmax_columns) is, bit for bit, each row
    taken alone with the exponential vexp (the vectorized loop gives vexp's scalar result at
    every lane and at the remainder) and within 4 ulp of policy_row's C-library rows."""
    rng = np.random.default_rng(seed)
    P, T, A = 2, 3, 11
    theta = scale * rng.standard_normal((P, T, A, A))
    if ties:
        theta = np.round(theta)
    u, U = rng.standard_normal(A), rng.standard_normal((P, A))
    sx, st_, sp = rng.integers(0, P, n), rng.integers(0, T, n), rng.integers(0, A, n)
    lp, pr = np.zeros((n + 3, A)), np.zeros((n + 3, A))
    pg.policy_rows(theta, u, U, sx, st_, sp, n, lp, pr)
    assert not lp[n:].any() and not pr[n:].any()  # rows past n untouched
    logits, want_lp, want_pr = np.zeros(A), np.zeros(A), np.zeros(A)
    for i in range(n):
        z = theta[sx[i], st_[i], sp[i]] + u + U[sx[i]]
        mx = z.max()
        e = [vexp(float(v - mx)) for v in z]
        total = 0.0
        for v in e:  # left to right, as the kernel
            total += v
        lse = mx + math.log(total)
        assert np.array_equal(lp[i], z - lse) and np.array_equal(pr[i], np.array(e) / total)
        pg.policy_row(theta, u, U, sx[i], st_[i], sp[i], logits, want_lp, want_pr)
        np.testing.assert_array_max_ulp(pr[i], want_pr, maxulp=4)
        np.testing.assert_allclose(lp[i], want_lp, rtol=0, atol=4 * np.spacing(np.abs(z).max()))


def test_policy_rows_propagate_nan():
    theta = np.zeros((1, 1, 4, 4))
    theta[0, 0, 1, 2] = np.nan
    lp, pr = np.zeros((2, 4)), np.zeros((2, 4))
    states = np.zeros(2, np.int64), np.zeros(2, np.int64), np.array([0, 1])
    pg.policy_rows(theta, np.zeros(4), np.zeros((1, 4)), *states, 2, lp, pr)
    assert np.isfinite(lp[0]).all() and np.isnan(lp[1]).all() and np.isnan(pr[1]).all()


# --- The expected update of each KL penalty, by enumerating every response ------------------
#
# A tiny world (P = 2 prompts, V = 2 tokens, T = 3: 15 responses per prompt), a random
# reference and a random policy away from it, and the proxy reward set to 0 so that only the
# penalty moves the policy. The expected update is sum_x (1/P) sum_y pi(y|x) times the
# per-sample update the kernel applies (sample_coefs, then add_score), with the advantage
# A(y) = R(y) = -beta L(y) for k1 and 0 for k2 and k3. RLOO's leave-one-out baseline adds
# -b_i grad log pi(y_i) with b_i a function of the other samples only, so its expectation
# is E[b_i] E[grad log pi(y_i)] = 0 (test_score_function_has_zero_mean checks the second
# factor exactly); REINFORCE's moving baseline is fixed during the step, likewise.

P_, T_, V_ = 2, 3, 2
BETA = 0.7


def tiny_policy(seed: int, shared: bool, distance: float):
    """Reference log-probs and policy parameters (theta, u, U) at about ``distance`` from it."""
    rng = np.random.default_rng(seed)
    ref = random_logits(rng, P_, T_, V_)
    theta = ref + distance * rng.standard_normal(ref.shape)
    A = V_ + 1
    u = distance * rng.standard_normal(A) if shared else np.zeros(A)
    U = distance * rng.standard_normal((P_, A)) if shared else np.zeros((P_, A))
    return log_softmax_table(ref), theta, u, U


def table(theta, u, U):
    return log_softmax_table(theta + u + U[:, None, None, :])


def actions(row, length):
    """The actions of a response: its tokens, then EOS unless it stopped at the cap."""
    return [*row[:length], 0] if length < T_ else list(row[:length])


def expected_update(theta, u, U, shared, logp_ref, estimator, adv_one=False):
    """sum_x (1/P) sum_y pi(y|x) * (the kernel's per-sample update), at step size 1.

    With ``adv_one`` every advantage is 1 and beta 0: the expected score function."""
    logp = table(theta, u, U)
    gt, gu, gU = np.zeros_like(theta), np.zeros_like(u), np.zeros_like(U)
    tokens, lengths = enumerate_responses(V_, T_)
    lp, lr_, coef = np.zeros(T_), np.zeros(T_), np.zeros(T_)
    for x in range(P_):
        for row, length in zip(tokens, lengths, strict=True):
            acts = actions(row, length)
            prev, states = 0, []
            for t, a in enumerate(acts):
                lp[t], lr_[t] = logp[x, t, prev, a], logp_ref[x, t, prev, a]
                states.append(prev)
                prev = a
            m = len(acts)
            big_l = float(np.sum(lp[:m] - lr_[:m]))
            if adv_one:
                adv, beta = 1.0, 0.0
            else:
                adv, beta = (-BETA * big_l if estimator == pg.KL_K1 else 0.0), BETA
            pg.sample_coefs(adv, beta, lp, lp, lr_, m, False, 0.2, estimator, coef)
            w = math.exp(float(np.sum(lp[:m]))) / P_
            for t, a in enumerate(acts):
                probs = np.exp(logp[x, t, states[t]])
                pg.add_score(gt, gu, gU, shared, x, t, states[t], probs, a, w * coef[t])
    return flat(gt, gu, gU, shared)


def flat(theta, u, U, shared):
    return np.concatenate([theta.ravel(), u, U.ravel()]) if shared else theta.ravel().copy()


def kl_forward(logp_ref):
    """Mean over prompts of the exact KL(pi || pi_ref), as a function of the parameters."""
    return lambda th, u, U: float(exact_kl(table(th, u, U), logp_ref).mean())


def kl_reverse(logp_ref):
    """Mean over prompts of the exact KL(pi_ref || pi) of the response distributions."""
    return lambda th, u, U: float(exact_kl(logp_ref, table(th, u, U)).mean())


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("shared", [False, True])
def test_score_function_has_zero_mean(shared):
    """E_y[grad log pi(y)] = 0: the baselines (leave-one-out, moving average) add nothing in
    expectation, so the enumerated updates below may use A(y) = R(y)."""
    logp_ref, theta, u, U = tiny_policy(0, shared, 1.0)
    g = expected_update(theta, u, U, shared, logp_ref, pg.KL_K1, adv_one=True)
    assert np.abs(g).max() < 1e-14


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("estimator", [pg.KL_K1, pg.KL_K2])
@pytest.mark.parametrize("distance", [0.05, 1.0])
def test_k1_in_reward_and_k2_as_loss_follow_the_kl_gradient(estimator, shared, distance):
    """k1 in the reward and k2 as a sequence loss: E[update] = -beta grad KL(pi || pi_ref),
    near and far from pi_ref, with grad KL from finite differences of the exact KL."""
    logp_ref, theta, u, U = tiny_policy(1, shared, distance)
    got = expected_update(theta, u, U, shared, logp_ref, estimator)
    want = -BETA * finite_difference(kl_forward(logp_ref), theta, u, U, shared)
    assert cosine(got, want) >= 0.99
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def occupancy_weighted_reverse_kl_grad(theta, u, U, shared, logp_ref):
    """grad of sum_x (1/P) sum_{t,s} mu_pi(x,t,s) KL(pi_ref(.|s) || pi(.|s)) with the
    occupancy mu_pi held fixed: d/d theta[s] = mu_pi(s) (pi(.|s) - pi_ref(.|s)); u and U[x]
    collect the rows that use them."""
    logp = table(theta, u, U)
    mu = occupancy(logp)
    gt = mu[..., None] * (np.exp(logp) - np.exp(logp_ref)) / P_
    gu = gt.sum(axis=(0, 1, 2))
    gU = gt.sum(axis=(1, 2))
    return flat(gt, gu, gU, shared)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("distance", [0.05, 1.0])
def test_k3_as_loss_is_the_reverse_kl_weighted_by_the_policys_occupancy(shared, distance):
    """On-policy, per-token k3 weights each state's grad KL(pi_ref(.|s) || pi(.|s)) by pi's
    occupancy mu_pi, where grad KL(pi_ref || pi) of the response distribution weights it by
    mu_ref. The identity holds exactly; the finite-difference check confirms the analytic
    form; far from pi_ref the two weightings differ measurably."""
    logp_ref, theta, u, U = tiny_policy(2, shared, distance)
    got = expected_update(theta, u, U, shared, logp_ref, pg.KL_K3)
    want = -BETA * occupancy_weighted_reverse_kl_grad(theta, u, U, shared, logp_ref)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)

    mu = occupancy(table(theta, u, U))

    def frozen(th, uu, UU):
        lq = table(th, uu, UU)
        row_kl = (np.exp(logp_ref) * (logp_ref - lq)).sum(axis=-1)
        return float((mu * row_kl).sum() / P_)

    fd = -BETA * finite_difference(frozen, theta, u, U, shared)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())
    reverse = -BETA * finite_difference(kl_reverse(logp_ref), theta, u, U, shared)
    if distance >= 1.0:  # not the gradient of the reverse KL of the sequences
        assert np.abs(got - reverse).max() > 1e-3 * np.abs(reverse).max()


# --- The kernel against a plain re-implementation of its steps ------------------------------


def walk(acts):
    """(t, prev, a) along a list of actions."""
    prev = 0
    for t, a in enumerate(acts):
        yield t, prev, a
        prev = a


def log_ratio(x, acts, logp, logp_ref):
    """L(y) = sum_t log pi(y_t | s_t) - log pi_ref(y_t | s_t)."""
    return sum(logp[x, t, p, a] - logp_ref[x, t, p, a] for t, p, a in walk(acts))


def reference_steps(
    s,
    algo,
    estimator,
    shared,
    n_steps,
    rng,
    k=3,
    lr=0.5,
    kl_target=0.5,
    affine=None,
    whiten=False,
    std_norm=True,
    chi2=0.0,
):
    """``n_steps`` of the step written out in NumPy from the formulas (whole tables, no row
    reuse), reading the generator as the kernel does; returns the final theta, u, U and the
    history. Same settings as :func:`kernel_steps`; ``affine = (c, d)`` maps the proxy to
    c r + d[x], ``whiten`` normalizes it over each batch, ``std_norm`` False is Dr. GRPO,
    ``chi2`` the occupancy chi^2 coefficient (its gradient from :mod:`simrl.occupancy`,
    checked against finite differences in test_occupancy.py)."""
    ref, rm = s.ref, s.rm
    P, T, V = ref.shape
    A = V + 1
    theta, u, U = ref.logits.copy(), np.zeros(A), np.zeros((P, A))
    logp_ref = ref.logp()
    clipped_ratio = algo in (pg.ALGO_PPO, pg.ALGO_GRPO)
    bp, epochs, clip, decay = P, 3 if clipped_ratio else 1, 0.2, 0.9
    reg = OccupancyChi2.of(ref)
    n = bp * k
    state = [0.05, math.nan]
    hist = np.zeros((n_steps, 3))
    perm = np.arange(P)
    for step in range(n_steps):
        beta = state[0]
        for i in range(bp):
            j = i + int(rng.integers(0, P - i))
            perm[i], perm[j] = perm[j], perm[i]
        old = table(theta, u, U)
        xs = np.repeat(perm[:bp], k)
        tokens, lengths, acts = np.zeros((n, T), np.int64), np.zeros(n, np.int64), []
        for i, x in enumerate(xs):
            prev, seq = 0, []
            for t in range(T):
                cdf = np.cumsum(np.exp(old[x, t, prev]))
                a = int((cdf[:-1] <= rng.random()).sum())
                seq.append(a)
                if a == 0:
                    break
                tokens[i, t], prev = a, a
            lengths[i] = sum(1 for a in seq if a != 0)
            acts.append(seq)

        r = rm.score(xs, tokens, lengths)
        if affine is not None:
            r = affine[0] * r + affine[1][xs]
        hist_r = r.mean()
        if whiten:
            r = (r - r.mean()) / (r.std() + 1e-8)
        k1 = np.array([log_ratio(xs[i], acts[i], old, logp_ref) for i in range(n)])
        R = r - beta * k1 if estimator == pg.KL_K1 else r
        hist[step] = hist_r, k1.mean(), beta
        if algo == pg.ALGO_REINFORCE:
            if math.isnan(state[1]):
                state[1] = R.mean()
            adv = R - state[1]
            state[1] = decay * state[1] + (1 - decay) * R.mean()
        elif algo == pg.ALGO_GRPO:  # Shao et al. 2024; Dr. GRPO (Liu et al. 2025) without SD
            G = R.reshape(bp, k)
            adv = G - G.mean(axis=1, keepdims=True)
            if std_norm:
                adv = adv / (G.std(axis=1, ddof=1, keepdims=True) + 1e-4)
            adv = adv.ravel()
        else:
            G = R.reshape(bp, k)
            adv = (G - (G.sum(axis=1, keepdims=True) - G) / (k - 1)).ravel()
        if algo == pg.ALGO_PPO:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        if chi2 > 0:  # -lr lambda grad chi^2 at the parameters the samples came from
            _, g = reg.value_and_grad(theta + u + U[:, None, None, :])
            theta -= lr * chi2 * g
            if shared:
                gu, gU = shared_logit_grads(g)
                u -= lr * chi2 * gu
                U -= lr * chi2 * gU
        for epoch in range(epochs):
            cur = old if epoch == 0 else table(theta, u, U)
            for i in range(n):
                x, big_l = xs[i], log_ratio(xs[i], acts[i], cur, logp_ref)
                # GRPO: the response's per-token objective averaged over its actions
                w = 1.0 / len(acts[i]) if algo == pg.ALGO_GRPO and std_norm else 1.0
                for t, prev, a in walk(acts[i]):
                    rho = math.exp(cur[x, t, prev, a] - old[x, t, prev, a])
                    c = adv[i] * rho
                    if clipped_ratio and rho * adv[i] > np.clip(rho, 1 - clip, 1 + clip) * adv[i]:
                        c = 0.0  # the clipped branch of the min: no gradient
                    if estimator == pg.KL_K2:  # d/dtheta beta/2 L^2 = beta L grad log pi
                        c -= beta * big_l
                    if estimator == pg.KL_K3:  # d/dtheta beta k3 = beta (1 - pi_ref/pi) grad log pi
                        c -= beta * (1 - math.exp(logp_ref[x, t, prev, a] - cur[x, t, prev, a]))
                    d = lr / n * w * c * (np.eye(A)[a] - np.exp(cur[x, t, prev]))
                    theta[x, t, prev] += d
                    if shared:
                        u += d
                        U[x] += d
        err = min(max(k1.mean() / kl_target - 1.0, -0.2), 0.2)
        state[0] = beta * (1.0 + err * n / 100.0)
    return theta, u, U, hist


def kernel_steps(
    s,
    algo,
    estimator,
    shared,
    n_steps,
    rng,
    k=3,
    lr=0.5,
    kl_target=0.5,
    affine=None,
    whiten=False,
    std_norm=True,
    chi2=0.0,
    theta=None,
):
    ref = s.ref
    P, _T, V = ref.shape
    theta = ref.logits.copy() if theta is None else theta.copy()
    u, U = np.zeros(V + 1), np.zeros((P, V + 1))
    hist, state = np.zeros((n_steps, 3)), np.array([0.05, np.nan])
    target = Target.proxy(s.rm)
    if affine is not None:
        target = target.affine(*affine)
    ok = pg.policy_steps(
        theta, u, U, shared, ref.logp(), target.source, target.rm, target.gold, target.mul,
        target.add, whiten, algo, estimator, kl_target, 100.0, k, P, lr, 3, 0.2, True, 0.9,
        std_norm, chi2, chi2_reference(ref, chi2), n_steps, rng, hist, state,
    )  # fmt: skip
    assert ok
    return theta, u, U, hist


ALGOS = {
    "reinforce": (pg.ALGO_REINFORCE, True),
    "rloo": (pg.ALGO_RLOO, True),
    "ppo": (pg.ALGO_PPO, True),
    "grpo": (pg.ALGO_GRPO, True),
    "dr_grpo": (pg.ALGO_GRPO, False),
}


@functools.lru_cache(maxsize=1)
def tiny_world():
    return build(tiny_config())


@pytest.mark.parametrize("norm", ["raw", "affine", "affine+batch"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("estimator", [pg.KL_K1, pg.KL_K2, pg.KL_K3])
@pytest.mark.parametrize("name", list(ALGOS))
def test_policy_steps_match_a_plain_reimplementation(name, estimator, shared, norm):
    """The kernel (one row per distinct state, sample_coefs, add_score, its advantage and
    clipping logic, GRPO's group normalization and per-response token mean, the adaptive
    beta, the reward's affine map and batch whitening) against the formulas written out,
    6 steps."""
    s = tiny_world()
    algo, std_norm = ALGOS[name]
    opts = {
        "affine": None if norm == "raw" else (1.7, np.array([0.3, -2.0, 5.0])),
        "whiten": norm == "affine+batch",
        "std_norm": std_norm,
    }
    got = kernel_steps(s, algo, estimator, shared, 6, np.random.default_rng(5), **opts)
    want = reference_steps(s, algo, estimator, shared, 6, np.random.default_rng(5), **opts)
    assert not np.allclose(got[0], s.ref.logits)  # the policy moved
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("name", ["reinforce", "rloo", "ppo", "grpo", "dr_grpo"])
def test_policy_steps_with_occupancy_chi2_match_a_plain_reimplementation(name, shared):
    """With policy.occupancy_chi2 = lambda every step also takes -lr lambda grad chi^2 at the
    parameters its samples were drawn from, before the first pass (whose rows are those)."""
    s = tiny_world()
    algo, std_norm = ALGOS[name]
    opts = {"std_norm": std_norm, "chi2": 2.0, "estimator": pg.KL_K3}
    got = kernel_steps(s, algo, shared=shared, n_steps=6, rng=np.random.default_rng(6), **opts)
    want = reference_steps(s, algo, shared=shared, n_steps=6, rng=np.random.default_rng(6), **opts)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


COLD_RUN = textwrap.dedent(
    """
    import dataclasses, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import tiny_config
    from simrl.experiment import build
    from simrl.kernels import occupancy
    from simrl.optimize import Target, optimize
    cfg = tiny_config(policy={{"steps": 2, "eval_every": 2}})
    s = build(cfg)
    for coef in (0.0, 1.0):
        pc = dataclasses.replace(cfg.policy, occupancy_chi2=coef)
        optimize(s.ref, Target.proxy(s.rm), pc, np.random.default_rng(0), lambda *_: None)
        print(len(occupancy.chi2_step.signatures))
    """
)


@pytest.mark.slow
def test_a_run_without_chi2_does_not_compile_it(tmp_path):
    """Without the occupancy chi^2 the kernel gets ``d_ref = None`` and Numba prunes the
    chi^2 step before typing, so a cold start does not compile it (about 4 s); with it the
    step is compiled. A fresh process with an empty Numba cache, so nothing is loaded."""
    code = COLD_RUN.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", "1"]


# --- Reward normalization on reference responses -------------------------------------------


@functools.lru_cache(maxsize=1)
def tiny_setup():
    cfg = tiny_config(policy={"steps": 30, "eval_every": 10, "lr": 0.2})
    return cfg, build(cfg)


def trajectory(target, norm=True):
    """Exact KL at each checkpoint, the per-step history and the final logits of a run on
    ``target`` (normalized on reference responses first, unless ``norm`` is False)."""
    cfg, s = tiny_setup()
    if norm:
        target = normalized(target, s.ref, cfg.policy.reward_norm_samples, np.random.default_rng(1))
    kls = []
    final, hist = optimize(
        s.ref,
        target,
        cfg.policy,
        np.random.default_rng(2),
        lambda _, pol: kls.append(pol.kl(s.ref)),
    )
    return [np.array(kls), hist.reward, hist.logratio, final.logits]


@given(
    st.floats(1e-3, 1e3),
    st.lists(st.floats(-100.0, 100.0), min_size=3, max_size=3),
)
def test_ref_normalized_runs_ignore_the_proxys_scale_and_per_prompt_offsets(c, d):
    """r -> c r + d(x) (c > 0) changes nothing in a run with reward_norm = ref: the per-prompt
    offset is what Bradley-Terry leaves undetermined, the scale what a loss chooses."""
    base = trajectory(Target.proxy(tiny_setup()[1].rm))
    moved = trajectory(Target.proxy(tiny_setup()[1].rm).affine(c, np.array(d)))
    for a, b in zip(moved, base, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_without_normalization_the_proxys_scale_is_a_step_size():
    """The same map moves an unnormalized run: the invariance above is the normalization's."""
    rm = tiny_setup()[1].rm
    base = trajectory(Target.proxy(rm), norm=False)
    scaled = trajectory(Target.proxy(rm).affine(3.0, np.zeros(3)), norm=False)
    assert np.abs(scaled[0][-1] - base[0][-1]).max() > 1e-3


def test_normalized_reward_has_per_prompt_mean_0_and_pooled_sd_1_on_fresh_reference_samples():
    _, s = tiny_setup()
    target = normalized(Target.proxy(s.rm), s.ref, 4096, np.random.default_rng(3))
    P = s.ref.shape[0]
    prompts = np.repeat(np.arange(P), 20_000)
    tok, ln = s.ref.sample(prompts, np.random.default_rng(4))
    r = target.rewards(prompts, tok, ln).reshape(P, -1)
    sd = np.sqrt(((r - r.mean(axis=1, keepdims=True)) ** 2).mean())
    assert np.abs(r.mean(axis=1)).max() < 0.05  # SE of each mean about 0.016 + 0.007
    assert abs(sd - 1.0) < 0.03
    raw = s.rm.score(prompts, tok, ln).reshape(P, -1)
    assert np.abs(raw.mean(axis=1)).max() > 0.1 or abs(raw.std() - 1.0) > 0.1  # it did work


def test_reward_batch_matches_py_func_and_the_scorers():
    _, s = tiny_setup()
    prompts = np.arange(200, dtype=np.int64) % 3
    tok, ln = s.ref.sample(prompts, np.random.default_rng(5))
    for target, want in (
        (Target.proxy(s.rm), s.rm.score(prompts, tok, ln)),
        (Target.gold_itself(s.gold, s.rm), s.gold.rewards(prompts, tok, ln)),
    ):
        args = (target.source, prompts, tok, ln, target.rm, target.gold)
        np.testing.assert_allclose(reward_batch(*args), want, rtol=1e-12)
        np.testing.assert_array_equal(reward_batch(*args), reward_batch.py_func(*args))


def cosine_table(seeds=range(5), distances=(0.05, 0.3, 1.0, 2.0)) -> None:
    """Print the cosine of each penalty's exact expected update with -grad KL(pi || pi_ref)
    and with -grad KL(pi_ref || pi) (mean [min, max] over seeds) and k3's norm ratio to the
    forward KL's gradient: the figures of docs/methods.md (``python tests/test_pg.py``)."""
    print(
        "| shared | distance | estimator | cos with −∇KL(π‖π_ref) | cos with −∇KL(π_ref‖π) "
        "| ‖E update‖ / β‖∇KL(π‖π_ref)‖ |"
    )
    print("|---|---|---|---|---|---|")
    for shared in (False, True):
        for d in distances:
            for est, name in ((pg.KL_K1, "k1"), (pg.KL_K2, "k2"), (pg.KL_K3, "k3")):
                cf, cr, nr = [], [], []
                for seed in seeds:
                    logp_ref, theta, u, U = tiny_policy(100 + seed, shared, d)
                    got = expected_update(theta, u, U, shared, logp_ref, est)
                    fwd = -finite_difference(kl_forward(logp_ref), theta, u, U, shared)
                    rev = -finite_difference(kl_reverse(logp_ref), theta, u, U, shared)
                    cf.append(cosine(got, fwd))
                    cr.append(cosine(got, rev))
                    nr.append(np.linalg.norm(got) / (BETA * np.linalg.norm(fwd)))

                def fmt(v):
                    return f"{np.mean(v):.3f} [{min(v):.3f}, {max(v):.3f}]"

                print(f"| {shared} | {d} | {name} | {fmt(cf)} | {fmt(cr)} | {fmt(nr)} |")


if __name__ == "__main__":
    cosine_table()
