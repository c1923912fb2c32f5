"""simrl/TokenRLHF-v0: Gymnasium compliance, determinism, the vector kernel against the
single environment and against its own ``.py_func``, bad actions, and a learning agent."""

from __future__ import annotations

import ast
import doctest
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

from simrl.build import build
from simrl.config import Config
from simrl.envs import (
    TOKEN_RLHF_ID,
    InvalidActionError,
    TokenRLHFEnv,
    TokenRLHFVectorEnv,
    token_rlhf,
)
from simrl.envs import _kernels as kern

ROOT = Path(__file__).resolve().parents[1]
# A small world: P = 3 prompts, V = 4 content tokens, cap T = 5; fitted in milliseconds.
SMALL = {
    "world.n_prompts": 3,
    "world.vocab_size": 4,
    "world.max_len": 5,
    "world.ref_len": 2.0,
    "gold.polite_tokens": 1,
    "data.n_pairs": 200,
    "data.n_test_pairs": 50,
    "rm.hidden": 4,
    "rm.epochs": 3,
}
V, T, P = 4, 5, 3


def make(**kwargs) -> gym.Env:
    return gym.make(TOKEN_RLHF_ID, overrides=SMALL, **kwargs)


def make_vec(num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(
        TOKEN_RLHF_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        overrides=SMALL,
        **kwargs,
    )


def rollout(env: gym.Env, actions: list[int], seed: int) -> list:
    """Every (obs, reward, terminated, truncated, info) of a run, resetting at episode ends."""
    out = [env.reset(seed=seed)]
    for a in actions:
        step = env.step(a)
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


# Registration and construction


def test_import_registers_without_loading_numba():
    code = (
        "import sys, simrl, gymnasium; "
        f"assert {TOKEN_RLHF_ID!r} in gymnasium.registry; "
        "assert 'numba' not in sys.modules and 'simrl.envs.token_rlhf' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_make_and_make_vec_give_the_native_classes():
    env = make()
    assert isinstance(env.unwrapped, TokenRLHFEnv)
    envs = make_vec(3)
    assert isinstance(envs, TokenRLHFVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_observation_space == env.observation_space
    assert envs.observation_space["tokens"].shape == (3, T)
    assert env.action_space == gym.spaces.Discrete(V + 1)


def test_fitted_setup_and_parts_are_accepted():
    cfg = Config().replace(**SMALL)
    setup = build(cfg)
    a = TokenRLHFEnv(setup=setup)
    b = TokenRLHFEnv(rm=setup.rm, ref=setup.ref, gold=setup.gold)
    c = TokenRLHFEnv(config=cfg)
    for env in (a, b, c):
        np.testing.assert_array_equal(env.model.rm.params, setup.rm.params)
        np.testing.assert_array_equal(env.model.logp_ref, setup.ref.logp())


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"reward": "nope"}, "reward = 'nope': must be one of proxy, gold, proxy_kl"),
        ({"reward": "gold", "kl_coef": 0.1}, "kl_coef applies only to reward='proxy_kl'"),
        ({"reward": "proxy_kl", "kl_coef": -1.0}, "kl_coef = -1.0"),
        ({"config": Config(), "setup": object()}, "either config/overrides or a fitted"),
        ({"rm": object()}, "needs all of rm, ref and gold"),
        ({"render_mode": "human"}, "render_mode = 'human'"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, needle):
    if not {"config", "setup", "rm"} & set(kwargs):
        kwargs = {**kwargs, "overrides": SMALL}
    with pytest.raises(ValueError) as err:
        TokenRLHFEnv(**kwargs)
    assert needle in str(err.value)


def test_fewer_prompts_than_policy_batch_is_a_valid_env():
    env = gym.make(TOKEN_RLHF_ID, overrides={"world.n_prompts": 4, "data.n_pairs": 100})
    assert env.observation_space["prompt"].n == 4


# Gymnasium compliance


@pytest.mark.parametrize("reward", ["proxy", "gold", "proxy_kl"])
def test_check_env_passes_without_warnings(reward):
    env = make(reward=reward, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_docstring_examples_run():
    result = doctest.testmod(token_rlhf, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_render_ansi_shows_the_response():
    env = make(render_mode="ansi")
    env.reset(seed=0, options={"prompt": 1})
    env.step(2)
    env.step(3)
    assert env.render() == "x=1: 2 3"
    env.step(0)
    assert env.render() == "x=1: 2 3 <eos>"


def test_seeded_rollouts_are_identical_single():
    actions = np.random.default_rng(3).integers(0, V + 1, size=80).tolist()
    a, b = rollout(make(), actions, seed=7), rollout(make(), actions, seed=7)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert gym.utils.env_checker.data_equivalence(x, y, exact=True)
    c = rollout(make(), actions, seed=8)  # another seed draws other prompts
    assert [int(s[0]["prompt"]) for s in a] != [int(s[0]["prompt"]) for s in c]


def test_seeded_rollouts_are_identical_vector():
    actions = np.random.default_rng(3).integers(0, V + 1, size=(40, 6))
    runs = []
    for _ in range(2):
        envs = make_vec(6)
        runs.append([envs.reset(seed=11), *(envs.step(a) for a in actions)])
    for x, y in zip(*runs, strict=True):
        assert gym.utils.env_checker.data_equivalence(x, y, exact=True)


def test_observations_never_share_memory_single():
    env = make()
    obs, _ = env.reset(seed=0)
    nxt, *_ = env.step(1)
    assert not np.shares_memory(obs["tokens"], nxt["tokens"])
    nxt["tokens"][:] = 3  # mutating a returned observation changes nothing inside
    later, *_ = env.step(2)
    np.testing.assert_array_equal(later["tokens"], [1, 2, 0, 0, 0])
    np.testing.assert_array_equal(obs["tokens"], 0)


def test_observations_and_outputs_never_share_memory_vector():
    envs = make_vec(4)
    first = envs.reset(seed=0)[0]
    steps = [envs.step(np.full(4, 1)), envs.step(np.full(4, 2))]
    (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) = steps
    for key in o1:
        assert not np.shares_memory(o1[key], o2[key])
        assert not np.shares_memory(first[key], o1[key])
    for a, b in [(r1, r2), (t1, t2), (u1, u2), *((i1[k], i2[k]) for k in i1)]:
        assert not np.shares_memory(a, b)
    o2["tokens"][:] = 4
    o2["position"][:] = 0
    o3 = envs.step(np.full(4, 3))[0]
    np.testing.assert_array_equal(o3["tokens"][:, :3], [[1, 2, 3]] * 4)
    np.testing.assert_array_equal(o3["position"], 3)


# Episodes, rewards and info against the core world


@settings(deadline=None)
@given(
    actions=st.lists(st.integers(0, V), min_size=T, max_size=T),
    prompt=st.integers(0, P - 1),
    reward=st.sampled_from(["proxy", "gold", "proxy_kl"]),
)
def test_any_action_sequence_ends_exactly_at_eos_or_cap(actions, prompt, reward):
    env = _small_env(reward)
    obs, info = env.reset(options={"prompt": prompt})
    assert info == {}
    assert (int(obs["position"]), int(obs["prev_token"])) == (0, 0)
    eos = actions.index(0) if 0 in actions else None
    expected_len = T if eos is None else eos
    total, ref_lp = 0.0, 0.0
    for i, a in enumerate(actions):
        obs, r, terminated, truncated, info = env.step(a)
        total += r
        ref_lp += info["ref_logprob"]
        assert not truncated
        assert terminated == (i == (T - 1 if eos is None else eos))
        if terminated:
            break
        assert set(info) == {"ref_logprob"}
        assert int(obs["position"]) == i + 1 and int(obs["prev_token"]) == a
    assert info["length"] == expected_len == int(obs["position"]) <= T
    y = np.array(actions[:expected_len] + [0] * (T - expected_len))
    np.testing.assert_array_equal(obs["tokens"], y)
    m = env.model  # every number agrees with the core world's own functions
    x, row, L = np.array([prompt]), y[None, :], np.array([expected_len])
    assert info["gold"] == m.gold.rewards(x, row, L)[0]
    assert info["proxy"] == m.rm.score(x, row, L)[0]
    assert ref_lp == pytest.approx(m.ref.sequence_logprobs(x, row, L)[0], abs=1e-12)
    end = {"proxy": info["proxy"], "gold": info["gold"], "proxy_kl": info["proxy"]}[reward]
    assert total == pytest.approx(end + m.kl_coef * ref_lp, abs=1e-12)


_ENVS: dict[str, TokenRLHFEnv] = {}


def _small_env(reward: str) -> TokenRLHFEnv:
    if reward not in _ENVS:
        _ENVS[reward] = TokenRLHFEnv(overrides=SMALL, reward=reward)
    return _ENVS[reward]


def test_proxy_kl_uses_the_config_beta():
    env = TokenRLHFEnv(overrides={**SMALL, "policy.kl_coef": 0.3}, reward="proxy_kl")
    env.reset(seed=0)
    _, r, _, _, info = env.step(1)
    assert r == pytest.approx(0.3 * info["ref_logprob"]) and r < 0.0
    assert TokenRLHFEnv(overrides=SMALL).model.kl_coef == 0.0


def test_reset_draws_every_prompt_uniformly():
    env = make()
    env.reset(seed=0)
    counts = np.bincount([int(env.reset()[0]["prompt"]) for _ in range(3000)], minlength=P)
    assert counts.shape == (P,)
    assert np.all(np.abs(counts / 3000 - 1 / P) < 0.04)
    drawn = np.zeros(30_000, np.int64)
    kern.draw_prompts(np.random.default_rng(0), 7, drawn)
    assert np.all(np.abs(np.bincount(drawn, minlength=7) / drawn.size - 1 / 7) < 0.01)


# The vector environment


@pytest.mark.parametrize("reward", ["proxy", "gold", "proxy_kl"])
def test_vector_env_agrees_with_single_envs(reward):
    """N single envs stepped by hand with the vector env's actions, started on its prompts."""
    N, n_steps = 5, 60
    envs = make_vec(N, reward=reward)
    singles = [TokenRLHFEnv(overrides=SMALL, reward=reward) for _ in range(N)]
    actions = np.random.default_rng(1).integers(0, V + 1, size=(n_steps, N))
    obs, _ = envs.reset(seed=2)
    for i, env in enumerate(singles):
        env.reset(options={"prompt": int(obs["prompt"][i])})
    stepped = np.ones(N, bool)  # after reset() every sub-environment acts
    n_ended = 0
    for a in actions:
        obs, rew, term, trunc, info = envs.step(a)
        assert not trunc.any()
        np.testing.assert_array_equal(info["_ref_logprob"], stepped)
        for i in np.flatnonzero(~stepped):  # autoreset: a new episode, the action ignored
            assert (rew[i], term[i]) == (0.0, False)
            o, _ = singles[i].reset(options={"prompt": int(obs["prompt"][i])})
            for key in o:
                np.testing.assert_array_equal(o[key], obs[key][i])
        for i in np.flatnonzero(stepped):
            o, r, te, tr, inf = singles[i].step(int(a[i]))
            assert (r, te, tr) == (rew[i], term[i], False)
            assert inf["ref_logprob"] == info["ref_logprob"][i]
            assert info["_gold"][i] == te == info["_proxy"][i] == info["_length"][i]
            if te:
                assert (inf["gold"], inf["proxy"]) == (info["gold"][i], info["proxy"][i])
                assert inf["length"] == info["length"][i]
                n_ended += 1
            for key in o:
                np.testing.assert_array_equal(o[key], obs[key][i])
        stepped = ~term  # a sub-environment that ended only resets on the next step
    assert n_ended >= 2 * N  # sub-environments went through several episodes


def test_next_step_autoreset():
    envs = make_vec(2)
    envs.reset(seed=0)
    _, r, term, _, info = envs.step(np.array([0, 1]))  # env 0 says EOS at once
    assert term.tolist() == [True, False] and info["_gold"].tolist() == [True, False]
    assert info["length"][0] == 0 and r[1] == 0.0 and info["gold"][1] == 0.0
    obs, r, term, _, info = envs.step(np.array([3, 2]))  # env 0 resets; its action is ignored
    assert info["_ref_logprob"].tolist() == [False, True]
    assert r[0] == 0.0 and not term[0] and info["ref_logprob"][0] == 0.0
    assert obs["position"].tolist() == [0, 2] and obs["tokens"][0].tolist() == [0] * T
    assert obs["prev_token"].tolist() == [0, 2]


def _kernel_args(envs: TokenRLHFVectorEnv, actions: np.ndarray, rng: np.random.Generator):
    """Copies of the state, fresh outputs and the model, in ``step_envs`` order."""
    m, N = envs.model, envs.num_envs
    state = [x.copy() for x in (envs._prompt, envs._pos, envs._prev, envs._tokens, envs._done)]
    scratch = [x.copy() for x in envs._scratch]
    outs = [np.zeros(N, np.int64) for _ in range(3)] + [np.zeros((N, T), np.int64)]
    outs += [np.zeros(N), np.zeros(N, bool), np.zeros(N), np.zeros(N, bool)]
    outs += [np.zeros(N), np.zeros(N), np.zeros(N, np.int64)]
    model = [m.logp_ref, envs._rm_spec, envs._gold_spec, m.mode, m.kl_coef, rng]
    return [actions, *state, *model, *scratch, *outs]


@pytest.mark.parametrize("reward", ["proxy", "gold", "proxy_kl"])
def test_kernel_matches_its_python_reference(reward):
    envs = make_vec(7, reward=reward).unwrapped
    envs.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(12):
        actions = rng.integers(0, V + 1, size=7)
        seed = int(rng.integers(2**32))
        fast = _kernel_args(envs, actions, np.random.default_rng(seed))
        slow = _kernel_args(envs, actions, np.random.default_rng(seed))
        assert kern.step_envs(*fast) == kern.step_envs.py_func(*slow) == -1
        for a, b in zip(fast, slow, strict=True):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
        envs.step(actions)  # move on to new states


# Bad actions


@pytest.mark.parametrize("action", [-1, V + 1, 1.5, 2.0, True, "1", None, np.array([1, 2])])
def test_bad_single_actions_name_the_range(action):
    env = make()
    env.reset(seed=0)
    with pytest.raises(InvalidActionError) as err:
        env.step(action)
    assert isinstance(err.value, ValueError) and isinstance(err.value, InvalidAction)
    assert f"[0, {V}]" in str(err.value)


def test_numpy_integer_actions_are_accepted():
    env = make()
    env.reset(seed=0)
    for a in (np.int64(1), np.uint8(2), np.array(3)):
        obs, *_ = env.step(a)
    np.testing.assert_array_equal(obs["tokens"][:3], [1, 2, 3])


@pytest.mark.parametrize(
    "actions",
    [
        np.array([0, 1, V + 1]),
        np.array([-1, 0, 0]),
        np.array([1.5, 1, 1]),
        np.zeros((3, 1)),
        [1, 2],
    ],
)
def test_bad_vector_actions_name_the_range_and_change_nothing(actions):
    envs = make_vec(3)
    envs.reset(seed=0)
    before = envs.unwrapped._tokens.copy(), envs.unwrapped._pos.copy()
    with pytest.raises(InvalidActionError) as err:
        envs.step(actions)
    assert isinstance(err.value, ValueError) and f"[0, {V}]" in str(err.value)
    np.testing.assert_array_equal(envs.unwrapped._tokens, before[0])
    np.testing.assert_array_equal(envs.unwrapped._pos, before[1])


def test_step_before_reset_is_refused():
    with pytest.raises(gym.error.ResetNeeded):
        make_vec(2).step(np.zeros(2, np.int64))
    env = TokenRLHFEnv(overrides=SMALL)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)


# The example agent


def test_reinforce_example_raises_the_proxy_and_with_it_the_gold():
    """The example learns from the env's proxy reward alone; the gold it logs from ``info``
    must rise with it early on (a logged gold that is not the responses' gold, or a policy
    update that does not follow the reward, would not)."""
    example = runpy.run_path(str(ROOT / "examples" / "reinforce_tokenrlhf.py"), run_name="example")
    history = example["main"](example["Args"](iterations=200, log_every=1000))
    proxy, gold = np.array(history["proxy"]), np.array(history["gold"])
    assert proxy[-20:].mean() > proxy[:20].mean() + 2.0
    assert gold[-20:].mean() > gold[:20].mean() + 0.3
    assert np.corrcoef(proxy, gold)[0, 1] > 0.5


@pytest.mark.parametrize("mode", ["mean", "min"])
def test_vector_env_scores_an_ensemble_proxy_like_the_core(mode):
    overrides = {**SMALL, "rm.ensemble_size": 3, "rm.ensemble_mode": mode}
    envs = gym.make_vec(
        TOKEN_RLHF_ID, num_envs=8, vectorization_mode="vector_entry_point", overrides=overrides
    )
    obs, _ = envs.reset(seed=0)
    rm = envs.unwrapped.model.rm
    assert rm.n_members == 3
    for _ in range(T):
        prompts, tokens = obs["prompt"], obs["tokens"]
        obs, _, term, _, info = envs.step(np.full(8, 2))
    assert term.all()
    expected = rm.score(prompts, obs["tokens"], info["length"])
    np.testing.assert_allclose(info["proxy"], expected, rtol=1e-12, atol=1e-12)
    assert not np.array_equal(tokens, obs["tokens"])


def test_the_environment_stands_on_the_domain_not_on_the_experiment_runner():
    """The env needs a world, its data and a fitted proxy (simrl.build), never the optimizers,
    evaluation or the run orchestration."""
    code = (
        "import sys, gymnasium as gym, simrl;"
        "gym.make('simrl/TokenRLHF-v0', overrides={'rm.epochs': 1, 'data.n_pairs': 64});"
        "print(sorted(m for m in sys.modules if m.startswith('simrl')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(out.stdout.strip()))
    assert "simrl.build" in loaded
    assert not loaded & {"simrl.experiment", "simrl.optimize", "simrl.evaluate"}
