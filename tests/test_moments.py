"""Exact gold moments and policy entropy: against every response of tiny worlds, against
Monte Carlo on optimized policies, and against the kernels' Python references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import random_logits
from hypothesis import given
from hypothesis import strategies as st

from simrl.config import Config, GoldConfig, WorldConfig
from simrl.experiment import build
from simrl.kernels.gold import gold_rewards
from simrl.kernels.kl import policy_entropy
from simrl.kernels.moments import gold_expectation, gold_moments
from simrl.optimize import Target, optimize
from simrl.policy import TabularPolicy, enumerate_responses
from simrl.world import Gold

seeds = st.integers(0, 2**32 - 1)


def random_gold(rng: np.random.Generator, P: int, V: int) -> tuple:
    """A gold spec with every branch of ``gold_one`` in play: token values of both signs and
    exact zeros (w > 0 concave, w <= 0 linear), saturations small enough that the concave
    terms turn down within a response, any length and repetition weights."""
    values = np.zeros((P, V + 1))
    values[:, 1:] = rng.choice([-1.0, 0.0, 1.0], (P, V)) * rng.exponential(1.0, (P, V))
    bigram = rng.standard_normal((V + 1, V + 1))
    saturation = rng.uniform(0.3, 3.0, V + 1)
    return (
        values,
        bigram,
        saturation,
        float(rng.normal()),
        float(rng.uniform(0.5, 6.0)),
        float(rng.exponential()),
    )


def enumerated(policy: TabularPolicy, gold: tuple):
    """Per prompt, over every response y: (probabilities, gold, length)."""
    P, T, V = policy.shape
    tokens, lengths = enumerate_responses(V, T)
    out = []
    for x in range(P):
        prompts = np.full(lengths.size, x, np.int64)
        p = np.exp(policy.sequence_logprobs(prompts, tokens, lengths))
        assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
        r = gold_rewards(prompts, tokens, lengths, *gold)
        out.append((p, r, lengths))
    return out


@given(seeds, st.integers(1, 3), st.integers(1, 4), st.integers(2, 3))
def test_gold_moments_match_enumeration(seed, P, T, V):
    rng = np.random.default_rng(seed)
    policy = TabularPolicy(random_logits(rng, P, T, V))
    gold = random_gold(rng, P, V)
    mean = gold_expectation(policy.logp(), gold)
    both = gold_moments(policy.logp(), gold)
    for x, (p, r, _) in enumerate(enumerated(policy, gold)):
        assert mean[x] == pytest.approx(p @ r, rel=1e-10, abs=1e-10)
        assert both[x, 0] == pytest.approx(p @ r, rel=1e-10, abs=1e-10)
        assert both[x, 1] == pytest.approx(p @ (r * r), rel=1e-10, abs=1e-10)


@given(seeds, st.integers(1, 4), st.integers(2, 3))
def test_entropy_matches_enumeration(seed, T, V):
    policy = TabularPolicy(random_logits(np.random.default_rng(seed), 2, T, V))
    ent, per_token = policy.entropy(), policy.entropy_per_token()
    gold = random_gold(np.random.default_rng(0), 2, V)
    for x, (p, _, lengths) in enumerate(enumerated(policy, gold)):
        h = -(p @ np.log(p))
        actions = lengths + (lengths < T)  # EOS is an action unless the cap ends y
        assert ent[x] == pytest.approx(h, rel=1e-10)
        assert per_token[x] == pytest.approx(h / (p @ actions), rel=1e-10)


def test_entropy_of_a_deterministic_policy_is_zero_and_of_a_uniform_one_is_known():
    T, V = 3, 4
    sure = np.full((1, T, V + 1, V + 1), -np.inf)
    sure[..., 2] = 0.0  # always token 2: one response, no uncertainty
    assert TabularPolicy(sure).entropy()[0] == 0.0
    uniform = TabularPolicy(np.zeros((1, T, V + 1, V + 1)))
    # every decision is uniform over V + 1 actions, except after T tokens (no decision)
    actions = policy_entropy(uniform.logp())[1][0]
    assert uniform.entropy_per_token()[0] == pytest.approx(math.log(V + 1), rel=1e-12)
    assert actions == pytest.approx(sum((V / (V + 1)) ** t for t in range(T)), rel=1e-12)


@given(seeds)
def test_kernels_agree_with_their_python_reference(seed):
    rng = np.random.default_rng(seed)
    logp = TabularPolicy(random_logits(rng, 2, 4, 3)).logp()
    gold = random_gold(rng, 2, 3)
    np.testing.assert_allclose(
        gold_expectation(logp, gold), gold_expectation.py_func(logp, gold), rtol=1e-12
    )
    np.testing.assert_allclose(
        gold_moments(logp, gold), gold_moments.py_func(logp, gold), rtol=1e-12
    )
    for a, b in zip(policy_entropy(logp), policy_entropy.py_func(logp), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_gold_expected_matches_its_definition_on_the_default_world():
    """Gold.expected and Gold.moments read the world's real gold (its spec), not a copy."""
    cfg = Config(world=WorldConfig(n_prompts=2, vocab_size=3, max_len=4, ref_len=2.0))
    gold = Gold.from_config(cfg.world, GoldConfig(polite_tokens=1))
    policy = TabularPolicy(random_logits(np.random.default_rng(3), 2, 4, 3))
    mean, second = gold.moments(policy)
    for x, (p, r, _) in enumerate(enumerated(policy, gold.spec())):
        assert gold.expected(policy)[x] == pytest.approx(p @ r, rel=1e-10)
        assert mean[x] == pytest.approx(p @ r, rel=1e-10)
        assert second[x] == pytest.approx(p @ (r * r), rel=1e-10)


@pytest.fixture(scope="module")
def trained_policies():
    """Checkpoints of a short proxy optimization in the default world (far from pi_ref)."""
    cfg = Config().replace(**{"policy.steps": 800, "policy.eval_every": 400})
    setup = build(cfg)
    policies: list[TabularPolicy] = []
    optimize(
        setup.ref,
        Target.proxy(setup.rm),
        cfg.policy,
        np.random.default_rng(0),
        lambda _step, policy: policies.append(policy),
    )
    return setup, policies


def test_exact_gold_moments_match_monte_carlo_on_trained_policies(trained_policies):
    setup, policies = trained_policies
    rng = np.random.default_rng(1)
    P = setup.ref.shape[0]
    n = 8192  # per prompt
    for policy in policies[1:]:
        assert policy.kl(setup.ref).mean() > 2.0  # really moved
        mean, second = setup.gold.moments(policy)
        prompts = np.repeat(np.arange(P), n)
        tokens, lengths = policy.sample(prompts, rng)
        r = setup.gold.rewards(prompts, tokens, lengths).reshape(P, n)
        se = r.std(1) / math.sqrt(n)
        assert np.all(np.abs(r.mean(1) - mean) < 4.5 * se)  # P = 16 tests at once
        se2 = (r * r).std(1) / math.sqrt(n)
        assert np.all(np.abs((r * r).mean(1) - second) < 4.5 * se2)
        h = -policy.sequence_logprobs(prompts, tokens, lengths).reshape(P, n)
        assert np.all(np.abs(h.mean(1) - policy.entropy()) < 4.5 * h.std(1) / math.sqrt(n))


def test_evaluator_point_is_the_exact_normalized_gold(tiny):
    """Gold normalized by the reference mean and the SD pooled over prompts (as samples
    drawn with x uniform would give), computed over every response; pi_ref scores 0."""
    from simrl.evaluate import Evaluator

    setup = build(tiny)
    ev = Evaluator(setup.gold, setup.rm, setup.ref, tiny.eval, np.random.default_rng(0))
    ref_p = np.concatenate([p for p, _, _ in enumerated(setup.ref, setup.gold.spec())])
    ref_r = np.concatenate([r for _, r, _ in enumerated(setup.ref, setup.gold.spec())])
    P = setup.ref.shape[0]
    mean = ref_p @ ref_r / P
    sd = math.sqrt(ref_p @ (ref_r - mean) ** 2 / P)
    assert ev.norm.gold_mean == pytest.approx(mean, rel=1e-12)
    assert ev.norm.gold_std == pytest.approx(sd, rel=1e-12)
    start = ev.point(setup.ref, 0)
    assert start["gold"] == 0.0 and start["gold_se"] == 0.0
    policy = TabularPolicy(random_logits(np.random.default_rng(4), *setup.ref.logits.shape[:2], 3))
    point = ev.point(policy, 1)
    rows = enumerated(policy, setup.gold.spec())
    want = np.mean([p @ r for p, r, _ in rows])
    assert point["gold"] == pytest.approx((want - mean) / sd, rel=1e-10)
    assert point["entropy"] == pytest.approx(np.mean([-(p @ np.log(p)) for p, _, _ in rows]))
    assert point["length"] == pytest.approx(np.mean([p @ n for p, _, n in rows]), rel=1e-12)
    assert point["proxy_se"] <= tiny.eval.proxy_se_target or (
        point["n_samples"] == tiny.eval.max_samples
    )


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "world"), [(3, 7), (1, 4)])
def test_exact_gold_curve_matches_a_large_monte_carlo(seed, world):
    """Each checkpoint of a default run: the normalized exact gold against 10^6 samples
    (SE ~ 0.0008 reference SDs), in worlds other than the default one."""
    from simrl.evaluate import Evaluator, stratified_se
    from simrl.experiment import rngs
    from simrl.kernels.evaluate import sample_and_score

    cfg = Config().replace(**{"seed": seed, "world.seed": world, "policy.eval_every": 300})
    r = rngs(cfg.seed)
    setup = build(cfg, r)
    ev = Evaluator(setup.gold, setup.rm, setup.ref, cfg.eval, r["eval"])
    points: list[tuple[float, float]] = []
    rng = np.random.default_rng(seed)
    n = 1_000_000
    prompts = np.arange(n, dtype=np.int64) % setup.ref.shape[0]

    def check(step: int, policy: TabularPolicy) -> None:
        g, _, _ = sample_and_score(policy.cdf(), prompts, rng, setup.rm.spec(), setup.gold.spec())
        mc = (g.mean() - ev.norm.gold_mean) / ev.norm.gold_std
        se = stratified_se(g, prompts, setup.ref.shape[0]) / ev.norm.gold_std
        points.append((ev.point(policy, step)["gold"], mc, se))

    optimize(setup.ref, Target.proxy(setup.rm), cfg.policy, r["optimize"], check)
    z = np.array([(mc - exact) / se for exact, mc, se in points])
    assert np.all(np.abs(z) < 4.0)
    assert abs(z.mean()) < 3.0 / math.sqrt(z.size)
