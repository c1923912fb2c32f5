"""WARM (Ramé et al. 2024): members fine-tuned from one shared initialization, their weights
averaged into a single proxy."""

from __future__ import annotations

import numpy as np
from conftest import tiny_config

from simrl.experiment import build
from simrl.reward_model import ProxyRM


def with_params(rm: ProxyRM, params: np.ndarray, mode: str) -> ProxyRM:
    return ProxyRM(
        rm.n_prompts,
        rm.vocab_size,
        rm.max_len,
        rm.hidden,
        rm.prompt_features,
        rm.bigram_features,
        params,
        mode,
    )


def test_warm_of_one_member_is_the_single_model():
    single = build(tiny_config()).rm
    warm = build(tiny_config(rm={"ensemble_mode": "warm"})).rm
    np.testing.assert_array_equal(warm.params, single.params)


def test_warm_proxy_is_the_network_with_the_mean_weights():
    s = build(tiny_config(rm={"ensemble_size": 3, "ensemble_mode": "warm", "epochs": 20}))
    rm, p = s.rm, s.test.pairs
    assert rm.n_members == 1 and rm.members.shape[0] == 3
    np.testing.assert_allclose(rm.params[0], rm.members.mean(axis=0), rtol=1e-15)
    assert np.ptp(rm.members, axis=0).max() > 1e-2  # different data orders: members differ
    averaged = with_params(rm, rm.members.mean(axis=0, keepdims=True), "mean")
    outputs = with_params(rm, rm.members, "mean")  # the mean of the members' rewards
    r = rm.score(p.prompts, p.chosen, p.chosen_len)
    np.testing.assert_allclose(r, averaged.score(p.prompts, p.chosen, p.chosen_len), atol=1e-12)
    gap = np.abs(r - outputs.score(p.prompts, p.chosen, p.chosen_len)).max()
    assert gap > 1e-3  # tanh is not linear: averaging weights is not averaging outputs


def test_warm_members_start_from_one_initialization():
    """At a negligible learning rate the fitted members stay at their initialization: equal
    for WARM, apart for an ordinary ensemble; bootstrap resamples do not change that."""
    rm_cfg = {"ensemble_size": 3, "lr": 1e-9}
    for extra in ({}, {"ensemble_bootstrap": True}):
        warm = build(tiny_config(rm={**rm_cfg, **extra, "ensemble_mode": "warm"})).rm
        assert np.ptp(warm.members, axis=0).max() < 1e-6
    plain = build(tiny_config(rm=rm_cfg)).rm
    assert np.ptp(plain.params, axis=0).max() > 0.1
