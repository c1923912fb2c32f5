"""Pretraining on a related gold, trunk movement, and the representation diagnostics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import tiny_config

from simrl.build import build, rngs
from simrl.data import sample_mixture
from simrl.diagnostics import hidden_norm_stats, norm_reward_corr, rm_diagnostics
from simrl.policy import TabularPolicy
from simrl.pretrain import RelatedGold, pretrain, related_world, within_prompt_corr
from simrl.reward_model import PROBE_PAIRS, ProxyRM
from simrl.world import Gold

PRETRAINED = {
    "features": "embedding",
    "activation": "relu",
    "depth": 2,
    "head_norm": "rmsnorm",
    "pretrain": "related",
    "pretrain_pairs": 400,
    "pretrain_epochs": 2,
    # Wide enough that a depth-2 ReLU network is not dead for every input at its random
    # initialization (at the tiny world's width 4, one run seed in six started dead: a
    # constant proxy whose trunk cannot move, which is not what these tests are about).
    "hidden": 16,
}


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.9, 1.0])
def test_related_gold_has_the_stated_within_prompt_correlation(rho):
    """On the calibration sample the correlation is rho exactly and the within-prompt spread
    is this gold's; on fresh responses it is rho up to sampling error; rho = 1 is the gold
    itself (up to rounding)."""
    cfg = tiny_config(world={"n_prompts": 5, "vocab_size": 6, "max_len": 8, "ref_len": 4.0})
    s = build(cfg)
    other = Gold.from_config(related_world(cfg), cfg.gold)
    rng = np.random.default_rng(3)
    P = cfg.world.n_prompts
    x = rng.integers(0, P, 20_000)
    tok, ln = sample_mixture(s.ref, (1.0,), x, rng)
    mixed = RelatedGold.calibrate(s.gold, other, rho, x, tok, ln)
    a, m = s.gold.rewards(x, tok, ln), mixed.rewards(x, tok, ln)
    assert within_prompt_corr(x, m, a, P) == pytest.approx(rho, abs=1e-9)
    da = a - np.bincount(x, a, P)[x] / np.bincount(x, minlength=P)[x]
    dm = m - np.bincount(x, m, P)[x] / np.bincount(x, minlength=P)[x]
    assert dm.std() == pytest.approx(da.std(), rel=1e-9)
    if rho == 1.0:
        np.testing.assert_allclose(m, a, atol=1e-9)
    y = rng.integers(0, P, 20_000)
    t2, l2 = sample_mixture(s.ref, (1.0,), y, rng)
    fresh = within_prompt_corr(y, mixed.rewards(y, t2, l2), s.gold.rewards(y, t2, l2), P)
    assert fresh == pytest.approx(rho, abs=0.03)


def test_pretrained_trunk_is_shared_by_members_and_arms_with_fresh_heads():
    """The pretrained network does not depend on the fine-tuning loss (BT and BSR arms
    start from the same trunk); every member gets a copy of it and its own new head."""
    nets = []
    for extra in ({}, {"bsr_lambda": 0.5, "loss": "hinge"}):
        cfg = tiny_config(rm={**PRETRAINED, "ensemble_size": 2, **extra})
        s = build(cfg)  # for the world, reference policy and prompts
        r = rngs(cfg.seed)
        rm = ProxyRM.init(cfg.world, cfg.rm, r["rm_init"])
        before = rm.params.copy()
        stats = pretrain(cfg, s.ref, s.gold, s.train_prompts, rm, r["rm_pretrain"])
        nets.append(rm.params.copy())
        o_w, o_b = rm.layout()[4:6]
        np.testing.assert_array_equal(rm.params[0, :o_w], rm.params[1, :o_w])
        assert not np.array_equal(rm.params[0, o_w:o_b], rm.params[1, o_w:o_b])
        assert not np.array_equal(rm.params[0, :o_w], before[0, :o_w])
        assert (rm.params[:, o_b] == 0.0).all()
        assert np.isfinite(list(stats.values())).all()
    np.testing.assert_array_equal(nets[0], nets[1])


def test_trunk_change_is_zero_when_fine_tuning_cannot_move_and_large_when_it_can(monkeypatch):
    # A fresh head that cannot move ranks the pairs at random, possibly worse than chance,
    # which the fit's failure guard refuses; that guard is tested elsewhere, not here.
    monkeypatch.setattr(ProxyRM, "_check_fit", lambda *args: None)
    still = build(tiny_config(rm={**PRETRAINED, "lr": 1e-9}))
    monkeypatch.undo()
    moving = build(tiny_config(rm={**PRETRAINED, "lr": 0.05}))
    assert still.fit.summary()["rm_trunk_rel_change"] < 1e-6
    assert moving.fit.summary()["rm_trunk_rel_change"] > 0.01
    assert "rm_pretrain_gold_corr" in moving.fit.summary()


@pytest.mark.parametrize("rm_cfg", [{}, PRETRAINED])
def test_last_epoch_dispersion_is_the_fitted_models(rm_cfg):
    """The per-epoch snapshots end at the fitted parameters: the history's last entry is the
    dispersion the fitted proxy has on the probe responses; tracking changes no number."""
    s = build(tiny_config(rm={**rm_cfg, "track_dispersion": True}))
    untracked = build(tiny_config(rm=rm_cfg))
    np.testing.assert_array_equal(s.rm.params, untracked.rm.params)
    assert "hnorm_centered_cv" not in untracked.fit.history()
    p = s.train.pairs
    n = min(PROBE_PAIRS, len(p))
    x = np.concatenate([p.prompts[:n], p.prompts[:n]])
    tok = np.concatenate([p.chosen[:n], p.rejected[:n]])
    ln = np.concatenate([p.chosen_len[:n], p.rejected_len[:n]])
    h = s.rm.member_scores(x, tok, ln)[1][0]
    hist = s.fit.history()["hnorm_centered_cv"]
    assert np.shape(hist) == (1, 3)  # one member, tiny_config epochs
    assert hist[0][-1] == pytest.approx(hidden_norm_stats(h)["hnorm_centered_cv"], rel=1e-12)


def test_norm_reward_corr_ignores_the_reward_offset_and_reads_magnitude():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(500, 4))
    s = rng.uniform(0.5, 2.0, 500)
    hs = h / np.linalg.norm(h, axis=1, keepdims=True) * s[:, None]
    r = np.where(rng.random(500) < 0.5, -1.0, 1.0) * s  # |r - mean r| ~ ||h||, random sign
    r -= r.mean()
    assert norm_reward_corr(hs, r) > 0.95
    assert norm_reward_corr(hs, r + 7.0) == pytest.approx(norm_reward_corr(hs, r), rel=1e-12)
    assert np.isnan(norm_reward_corr(hs, np.zeros(500)))


def test_final_policy_diagnostics_leave_the_others_unchanged():
    """The final policy's responses are drawn after every other diagnostic's."""
    cfg = tiny_config(rm={"features": "embedding", "activation": "gelu"})
    s = build(cfg)
    other = TabularPolicy(s.ref.logits + np.random.default_rng(0).normal(size=s.ref.logits.shape))
    args = (cfg, s.ref, s.gold, s.rm, s.train_prompts, s.heldout_prompts)
    without = rm_diagnostics(*args, np.random.default_rng(4))
    with_final = rm_diagnostics(*args, np.random.default_rng(4), other)
    assert {k: v for k, v in with_final.items() if k in without} == without
    new = set(with_final) - set(without)
    assert new == {"rm_final_hnorm_centered_cv", "rm_final_hr_corr", "rm_final_erank"}
    assert "rm_response_ood_hnorm_centered_cv" in without


def test_related_world_differs_from_the_world():
    cfg = tiny_config()
    assert related_world(cfg).seed != cfg.world.seed
    assert dataclasses.replace(related_world(cfg), seed=cfg.world.seed) == cfg.world
