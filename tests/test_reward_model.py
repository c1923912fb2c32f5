"""The proxy reward model: it can learn the gold, and a blow-up is reported, never NaN."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config

from simrl.build import build
from simrl.config import load
from simrl.errors import DivergenceError


def gold_order_agreement(setup) -> float:
    p = setup.test.pairs
    g = setup.gold
    gw = g.rewards(p.prompts, p.chosen, p.chosen_len)
    gl = g.rewards(p.prompts, p.rejected, p.rejected_len)
    rw, rl = setup.rm.pair_scores(p)
    return float(np.mean(np.sign(rw - rl) == np.sign(gw - gl)))


CLEAN = [
    "gold.label_noise=0",
    "data.heldout_prompt_fraction=0",
    "data.n_test_pairs=4000",
    "rm.epochs=5",
]


def test_well_specified_proxy_with_plenty_of_clean_data_ranks_like_the_gold():
    s = build(load(None, [*CLEAN, "data.n_pairs=20000"]))
    acc = s.accuracies()
    assert acc["rm_test_acc"] >= acc["rm_bayes_acc"] - 0.02
    assert acc["rm_train_acc"] - acc["rm_test_acc"] < 0.03  # not memorizing
    assert gold_order_agreement(s) >= 0.9


def test_little_data_gives_a_worse_proxy():
    """The same check fails for a proxy fitted on 100 pairs (so the check above can fail)."""
    small = build(load(None, [*CLEAN, "data.n_pairs=100", "rm.epochs=30"]))
    acc = small.accuracies()
    assert acc["rm_test_acc"] < acc["rm_bayes_acc"] - 0.05
    assert gold_order_agreement(small) < 0.85


def test_label_noise_lowers_the_best_possible_accuracy():
    clean = build(tiny_config(gold={"label_noise": 0.0}))
    noisy = build(tiny_config(gold={"label_noise": 0.3}))
    assert noisy.test.bayes_accuracy < clean.test.bayes_accuracy
    hard = build(tiny_config(gold={"label_noise": 0.0, "hard_labels": True}))
    p, g = hard.test.pairs, hard.gold
    tied = g.rewards(p.prompts, p.chosen, p.chosen_len) == g.rewards(
        p.prompts, p.rejected, p.rejected_len
    )
    assert hard.test.bayes_accuracy == pytest.approx(1.0 - 0.5 * tied.mean())  # ties: 1/2


def test_divergent_fit_raises_a_clear_error():
    with pytest.raises(DivergenceError, match=r"rm\.lr"):
        build(tiny_config(rm={"optimizer": "sgd", "lr": 90.0, "bsr_lambda": 1e5, "epochs": 20}))


def test_fit_history_records_the_loss_and_rewards_of_the_pairs_it_trains_on():
    """One full batch of every pair and a step too small to move the weights: each epoch's
    record must be the BT loss and the reward mean and spread of the model as scored
    independently on the training pairs."""
    cfg = tiny_config(rm={"epochs": 3, "lr": 1e-9, "batch_size": 300})
    s = build(cfg)
    assert s.fit.loss.shape == (1, 3)  # (members, epochs)
    p = s.train.pairs
    rw = s.rm.score(p.prompts, p.chosen, p.chosen_len)
    rl = s.rm.score(p.prompts, p.rejected, p.rejected_len)
    r = np.concatenate([rw, rl])
    np.testing.assert_allclose(s.fit.loss[0], np.logaddexp(0.0, -(rw - rl)).mean(), rtol=1e-6)
    np.testing.assert_allclose(s.fit.reward_mean[0], r.mean(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s.fit.reward_std[0], r.std(), rtol=1e-6)
