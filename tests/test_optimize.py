"""The dispatcher on ``policy.optimizer``: every optimizer reachable from a config, a sweep
spec and the Python API, with the family's curve; the configurations it refuses."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from conftest import run_spec, tiny_config

from simrl import store
from simrl.build import build
from simrl.config import OPTIMIZER_FAMILIES, ConfigError, PolicyConfig
from simrl.direct import DirectHistory, implicit_accuracy
from simrl.experiment import run
from simrl.optimize import History, Target, optimize


@functools.lru_cache(maxsize=1)
def tiny_setup():
    return build(tiny_config())


def test_every_optimizer_choice_has_a_family():
    choices = PolicyConfig.__dataclass_fields__["optimizer"].metadata["choices"]
    assert set(choices) == set(OPTIMIZER_FAMILIES)


@pytest.mark.parametrize("optimizer", ["reinforce", "rloo", "ppo", "grpo", "dpo", "chipo"])
def test_optimize_dispatches_on_the_optimizer(optimizer):
    """Policy gradient returns its History, direct alignment its DirectHistory; both call back
    at step 0 and at the end and move the policy."""
    s = tiny_setup()
    cfg = tiny_config(policy={"optimizer": optimizer, "dpo_epochs": 2}).policy
    steps = []
    pol, hist = optimize(
        s.ref,
        Target.proxy(s.rm),
        cfg,
        np.random.default_rng(0),
        lambda step, _p: steps.append(step),
        s.train.pairs,
    )
    direct = cfg.family == "direct"
    assert isinstance(hist, DirectHistory if direct else History)
    last = 2 * (len(s.train.pairs) // cfg.dpo_batch_size) if direct else cfg.steps
    assert steps[0] == 0 and steps[-1] == last
    assert pol.kl(s.ref).mean() > 1e-3


def test_optimize_refuses_best_of_n_and_direct_without_pairs():
    s = tiny_setup()
    for opt, msg in (("bon", "best_of_n"), ("dpo", "preference pairs")):
        cfg = tiny_config(policy={"optimizer": opt}).policy
        with pytest.raises(ValueError, match=msg):
            optimize(s.ref, Target.proxy(s.rm), cfg, np.random.default_rng(0), lambda *_: None)


def test_kl_estimator_auto_is_grpos_k3_and_k1_elsewhere():
    assert tiny_config(policy={"optimizer": "grpo"}).policy.kl_estimator_used == "k3"
    assert tiny_config(policy={"optimizer": "rloo"}).policy.kl_estimator_used == "k1"
    cfg = tiny_config(policy={"optimizer": "grpo", "kl_estimator": "k1"})
    assert cfg.policy.kl_estimator_used == "k1"
    # auto stays in the config, so switching the optimizer later switches the estimator
    assert cfg.replace(**{"policy.kl_estimator": "auto"}).policy.kl_estimator_used == "k3"
    assert tiny_config().replace(**{"policy.optimizer": "grpo"}).policy.kl_estimator_used == "k3"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"policy": {"optimizer": "grpo", "rloo_k": 1}}, "policy.rloo_k"),
        ({"policy": {"optimizer": "dpo"}, "eval": {"ndr": True}}, "eval.ndr"),
        ({"policy": {"optimizer": "ipo", "reward": "gold"}}, "policy.reward"),
        ({"policy": {"optimizer": "chipo", "occupancy_chi2": 0.5}}, "policy.occupancy_chi2"),
    ],
)
def test_meaningless_combinations_are_refused_before_any_work(changes, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as err:
        tiny_config(**changes)
    assert "\n" not in str(err.value)


def test_a_direct_run_has_the_normal_curve_and_the_implicit_accuracy():
    """dpo through run(): checkpoints every dpo_eval_every SGD steps with exact KL and gold;
    implicit_acc on the held-out pairs at each (1/2 at pi_ref: every margin is 0), in the
    summary too; the final point's accuracy is the final policy's."""
    cfg = tiny_config(policy={"optimizer": "dpo", "dpo_epochs": 2, "dpo_eval_every": 2})
    res = run(cfg)
    per_epoch = cfg.data.n_pairs // cfg.policy.dpo_batch_size
    steps = [q["step"] for q in res.curve]
    assert steps == [*range(0, 2 * per_epoch, 2), 2 * per_epoch]
    acc = [q["implicit_acc"] for q in res.curve]
    assert acc[0] == 0.5 and res.summary["implicit_acc"] == acc
    assert res.summary["final_implicit_acc"] == acc[-1] and acc[-1] > 0.55
    assert res.curve[0]["kl"] == 0.0 and res.curve[-1]["kl"] > 0.0
    assert res.summary["kl_kind"] == "exact" and "gold_at_sqrt_kl" in res.summary
    assert res.curve[-1]["occupancy_chi2"] == pytest.approx(res.summary["final_occupancy_chi2"])
    s = build(cfg)  # the same setup the run built (same seed)
    pol_acc = implicit_accuracy(s.ref, s.ref, s.test.pairs, "dpo", cfg.policy.beta)
    assert pol_acc == 0.5


def test_a_sweep_over_every_family_runs_and_stores(tmp_path):
    """A spec grid over optimizers runs every family end to end (as ``simrl sweep`` does) and
    the store keeps each run, with the direct runs' accuracy series in the summary."""
    runs = run_spec(
        {
            "base": {
                **{k: v for k, v in tiny_config().to_dict().items() if k != "seed"},
                "policy": {**tiny_config().to_dict()["policy"], "bon_n_max": 8, "bon_samples": 64},
            },
            "grid": [{"policy.optimizer": ["rloo", "grpo", "bon", "dpo", "chipo"]}],
        }
    )
    assert [r["config"]["policy"]["optimizer"] for r in runs] == [
        "rloo",
        "grpo",
        "bon",
        "dpo",
        "chipo",
    ]
    conn = store.open_store(tmp_path / "s.db")
    for r in runs:
        store.write_run(conn, r)
    stored = {r["config"]["policy"]["optimizer"]: r for r in store.read_runs(conn)}
    conn.close()
    for opt in ("dpo", "chipo"):
        acc = stored[opt]["summary"]["implicit_acc"]
        assert len(acc) == len(runs[3]["curve"]) and acc[0] == 0.5
    assert "implicit_acc" not in stored["grpo"]["summary"]
    assert json.dumps(stored["bon"]["summary"])  # plain JSON
