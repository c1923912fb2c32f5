"""Proxy diagnostics: the centered hidden-norm dispersion and the other policy's world."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config
from hypothesis import given
from hypothesis import strategies as st

from simrl.diagnostics import hidden_norm_stats, ood_world
from simrl.policy import reference_policy


@given(st.integers(0, 2**32 - 1), st.floats(3.0, 20.0))
def test_a_shared_offset_vector_moves_the_raw_cv_but_not_the_centered_one(seed, size):
    """BT stores a drifting reward offset as a constant vector in h: the statistic the BSR
    comparison needs must not see it."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(400, 8))
    u = rng.normal(size=8)
    shift = size * u / np.linalg.norm(u)  # at least as long as a typical ||h|| (~2.8)
    plain, shifted = hidden_norm_stats(h), hidden_norm_stats(h + shift)
    assert shifted["hnorm_centered_cv"] == pytest.approx(plain["hnorm_centered_cv"], rel=1e-9)
    assert shifted["hnorm_cv"] != pytest.approx(plain["hnorm_cv"], rel=1e-2)


def test_centered_cv_of_states_on_a_sphere_around_any_centre_is_zero():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(300, 5))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u -= u.mean(axis=0)  # the centre of the sample, not of the sphere: near zero spread
    stats = hidden_norm_stats(u + 7.0)
    assert stats["hnorm_centered_cv"] < 0.1 < 1.0


@pytest.mark.parametrize("world_seed", [0, 1, 2, 7])
def test_the_other_policy_is_never_the_reference_policy(world_seed):
    for ood_seed in (0, 1, world_seed):
        cfg = tiny_config(world={"seed": world_seed}, data={"ood_policy_seed": ood_seed})
        other = ood_world(cfg)
        assert other.seed != cfg.world.seed
        ref = reference_policy(cfg.world, 1).logits
        assert not np.allclose(reference_policy(other, 1).logits, ref)
    a = ood_world(tiny_config(world={"seed": 3}))
    b = ood_world(tiny_config(world={"seed": 4}))
    assert a.seed != b.seed  # each world has its own other policy
