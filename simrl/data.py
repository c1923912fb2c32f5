"""Preference datasets: responses from the reference policy (or a mix), gold-labelled pairs.

Prompts are split once per run into training prompts (whose pairs fit the proxy) and
held-out prompts (never seen by the proxy), so accuracy can be measured in-domain and on
unseen prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrl.config import DataConfig
from simrl.policy import TabularPolicy
from simrl.world import Gold


@dataclass(frozen=True)
class PreferencePairs:
    """Labelled pairs: for pair i, ``chosen`` was preferred to ``rejected`` for ``prompts[i]``.

    This is all the proxy ever sees of the gold.
    """

    prompts: np.ndarray
    chosen: np.ndarray
    chosen_len: np.ndarray
    rejected: np.ndarray
    rejected_len: np.ndarray

    def __len__(self) -> int:
        return int(self.prompts.shape[0])


@dataclass(frozen=True)
class LabelledSplit:
    """Pairs plus the evaluation-only best achievable label accuracy on them."""

    pairs: PreferencePairs
    bayes_accuracy: float


def split_prompts(
    n_prompts: int, heldout_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random split of prompt ids into ``(train, heldout)``, each sorted."""
    perm = rng.permutation(n_prompts)
    n_held = round(heldout_fraction * n_prompts)
    return np.sort(perm[n_held:]), np.sort(perm[:n_held])


def sample_mixture(
    ref: TabularPolicy,
    temperatures: tuple[float, ...],
    prompts: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One response per prompt, each from ``ref`` at a temperature drawn from the list."""
    which = rng.integers(0, len(temperatures), size=prompts.shape[0])
    _P, T, _ = ref.shape
    tokens = np.zeros((prompts.shape[0], T), np.int64)
    lengths = np.zeros(prompts.shape[0], np.int64)
    for j, temp in enumerate(temperatures):
        sel = np.flatnonzero(which == j)
        if sel.size:
            tok, ln = ref.tempered(temp).sample(prompts[sel], rng)
            tokens[sel], lengths[sel] = tok, ln
    return tokens, lengths


def make_pairs(
    ref: TabularPolicy,
    gold: Gold,
    cfg: DataConfig,
    prompt_ids: np.ndarray,
    n_pairs: int,
    rng: np.random.Generator,
) -> LabelledSplit:
    """Draw ``n_pairs`` pairs of independent responses and label them by the gold preference.

    Prompts are drawn uniformly from ``prompt_ids``; labels follow
    P(y1 > y2) = (1 - eps) sigma((r*1 - r*2) / tau) + eps (1 - sigma(...)).
    """
    prompts = rng.choice(np.asarray(prompt_ids, np.int64), size=n_pairs)
    t1, l1 = sample_mixture(ref, cfg.temperatures, prompts, rng)
    t2, l2 = sample_mixture(ref, cfg.temperatures, prompts, rng)
    r1, r2 = gold.rewards(prompts, t1, l1), gold.rewards(prompts, t2, l2)
    first = gold.label(r1, r2, rng)
    pick = first[:, None]
    pairs = PreferencePairs(
        prompts=prompts,
        chosen=np.where(pick, t1, t2),
        chosen_len=np.where(first, l1, l2),
        rejected=np.where(pick, t2, t1),
        rejected_len=np.where(first, l2, l1),
    )
    return LabelledSplit(pairs=pairs, bayes_accuracy=gold.bayes_accuracy(r1, r2))
