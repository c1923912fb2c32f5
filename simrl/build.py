"""World, gold, reference policy, preference data and the fitted proxy of a config: what a
run has before optimization starts, and what the Gymnasium environment stands on.

Seeds: the world (gold and reference policy) comes from ``world.seed``; everything random in
a run (prompt split, data, proxy initialization and fitting, optimization, evaluation) comes
from independent streams spawned from ``seed`` by ``numpy.random.SeedSequence``, so the same
config gives bit-identical numbers in any process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from simrl.config import Config
from simrl.data import LabelledSplit, make_pairs, split_prompts
from simrl.policy import TabularPolicy, reference_policy
from simrl.pretrain import pretrain
from simrl.reward_model import FitResult, ProxyRM
from simrl.world import Gold

# Appending a stream keeps the earlier ones unchanged (SeedSequence children by index).
STREAMS = (
    "split",
    "data",
    "rm_init",
    "rm_fit",
    "optimize",
    "eval",
    "diagnostics",
    "ndr",
    "ndr_eval",
    "reward_norm",
    "rm_pretrain",
)


def rngs(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per phase of a run."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}


@dataclass
class Setup:
    """A world with its fitted proxy: everything a run has before optimization starts.

    ``gold`` is here for evaluation only; optimizers receive ``ref`` and ``rm``.
    """

    ref: TabularPolicy
    gold: Gold
    rm: ProxyRM
    fit: FitResult
    train: LabelledSplit
    test: LabelledSplit
    heldout: LabelledSplit | None
    train_prompts: np.ndarray
    heldout_prompts: np.ndarray
    timing: dict[str, float]

    def accuracies(self) -> dict[str, float | None]:
        """Proxy label accuracy on train pairs, fresh in-domain pairs and held-out prompts,
        beside the best accuracy any scorer can reach on the in-domain pairs."""
        held = self.heldout
        return {
            "rm_train_acc": self.rm.accuracy(self.train.pairs),
            "rm_test_acc": self.rm.accuracy(self.test.pairs),
            "rm_heldout_acc": self.rm.accuracy(held.pairs) if held is not None else None,
            "rm_bayes_acc": self.test.bayes_accuracy,
        }


def build(cfg: Config, r: dict[str, np.random.Generator] | None = None) -> Setup:
    """World, gold, reference policy, preference data and the fitted proxy of a config.

    Args:
        cfg: A validated config.
        r: Generators from :func:`rngs` (default: ``rngs(cfg.seed)``); ``build`` uses the
            ``split``, ``data``, ``rm_init``, ``rm_fit`` and ``rm_pretrain`` streams.

    Raises:
        DivergenceError: the proxy fit produced a non-finite number.
    """
    r = rngs(cfg.seed) if r is None else r
    t0 = time.perf_counter()
    ref = reference_policy(cfg.world, cfg.gold.polite_tokens)
    gold = Gold.from_config(cfg.world, cfg.gold)
    train_x, held_x = split_prompts(
        cfg.world.n_prompts, cfg.data.heldout_prompt_fraction, r["split"]
    )
    train = make_pairs(ref, gold, cfg.data, train_x, cfg.data.n_pairs, r["data"])
    test = make_pairs(ref, gold, cfg.data, train_x, cfg.data.n_test_pairs, r["data"])
    held = (
        make_pairs(ref, gold, cfg.data, held_x, cfg.data.n_test_pairs, r["data"])
        if held_x.size
        else None
    )
    t1 = time.perf_counter()
    rm = ProxyRM.init(cfg.world, cfg.rm, r["rm_init"])
    pre = {}
    if cfg.rm.pretrain == "related":  # the network first learns a related gold's pairs
        pre = pretrain(cfg, ref, gold, train_x, rm, r["rm_pretrain"])
    fit = rm.fit(train.pairs, cfg.rm, r["rm_fit"])
    fit.stats.update(pre)
    timing = {"data": t1 - t0, "rm_fit": time.perf_counter() - t1}
    return Setup(ref, gold, rm, fit, train, test, held, train_x, held_x, timing)
