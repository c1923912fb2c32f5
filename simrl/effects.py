"""Effects across worlds: paired comparisons of arms against a baseline arm, with worlds as
the sampling unit and run seeds nested in worlds, and the verdict on a predicted effect.
Statistics computed within each world (correlations, slopes) are in :mod:`simrl.stats`.

A run lives in a *world* (``config.world.seed``: the gold reward and the reference policy)
and has a *run seed* (``config.seed``: data, fit, optimization, evaluation). The arms of an
experiment share both, so the run of an arm and the run of the baseline with the same
(world, seed) form a pair and their difference cancels everything the two share.

The protocol (docs: DESIGN.md section 5, "Statistics a referee accepts"):

1. per pair, ``d = metric(arm run) - metric(baseline run)``; a pair with a missing value
   (``None``: e.g. a run that never reached a KL budget) or without a partner is dropped, and
   the number of pairs used and dropped is reported;
2. per world, the world's effect is the mean of its ``d`` over seeds;
3. across worlds: the mean of the per-world effects ± its standard error over worlds, how
   many worlds agree in sign with that mean, a two-stage bootstrap 95% interval
   (:func:`two_stage_bootstrap`) and a Wilcoxon signed-rank p over the per-world effects.

Every world counts once, however many of its pairs survive: the claim is about worlds (a
world is one draw of the environment; its seeds are repeated measurements of it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Run = dict[str, Any]
Metric = str | Callable[[Run], float | None]

N_BOOT = 2000  # bootstrap resamples of every interval
CONFIDENCE = 0.95
MIN_WORLDS = 4  # fewest worlds for a verdict: below, a percentile interval is not worth one


def world_of(run: Run) -> int:
    """The world of a run: ``config.world.seed``."""
    return run["config"]["world"]["seed"]


def seed_of(run: Run) -> int:
    """The run seed: ``config.seed``."""
    return run["config"]["seed"]


def metric_value(run: Run, metric: Metric) -> float | None:
    """A summary value (``metric`` a key) or ``metric(run)``; None when missing or not
    finite."""
    v = run["summary"].get(metric) if isinstance(metric, str) else metric(run)
    if v is None or isinstance(v, bool) or not math.isfinite(v):
        return None
    return float(v)


@dataclass(frozen=True)
class Effect:
    """An effect summarized over worlds.

    Attributes:
        mean: Mean of the per-world effects.
        se: Standard error of that mean over worlds (sample SD / sqrt(worlds); NaN for one).
        low: Lower end of the two-stage bootstrap percentile interval.
        high: Upper end of it.
        p: Two-sided Wilcoxon signed-rank p over the per-world effects (NaN below 2 worlds).
        agree: Worlds whose effect has the sign of ``mean`` (0 if ``mean`` is 0).
        n_worlds: Worlds with at least one usable pair (or run).
        n_pairs: Pairs (or runs) used, over all worlds.
        dropped: Pairs left out for a missing value or a missing partner.
        per_world: World -> that world's effect, worlds as strings (JSON keys).
    """

    mean: float
    se: float
    low: float
    high: float
    p: float
    agree: int
    n_worlds: int
    n_pairs: int
    dropped: int
    per_world: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return {k: clean(x) for k, x in v.items()} if isinstance(v, dict) else v

        return {k: clean(v) for k, v in asdict(self).items()}


def two_stage_bootstrap(
    groups: Sequence[tuple[np.ndarray, ...]],
    stat: Callable[..., np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap distribution of the mean over worlds of a per-world statistic, resampling
    worlds with replacement and then, independently for every drawn world, its units (seeds,
    or runs) with replacement (Davison & Hinkley 1997, section 3.8).

    Resampling both stages over-states the within-world part of the variance a little (it is
    counted once by the spread of the worlds and once more by the second stage), which makes
    the interval slightly conservative; with few worlds that offsets the percentile
    interval's known under-coverage (tests/test_stats.py measures the coverage).

    Args:
        groups: Per world, a tuple of equal-length 1-D arrays (its units).
        stat: ``stat(*arrays)`` for arrays of shape ``(B, S, n)`` returns the statistic of
            each resampled world, shape ``(B, S)`` (vectorized over the leading axes).
        n_boot: Resamples B.
        seed: Seed of the resampling (intervals are deterministic).

    Returns:
        ``(n_boot,)`` resampled means over worlds; NaN where a resampled world's statistic
        is undefined (e.g. a correlation of constant values).
    """
    rng = np.random.default_rng(seed)
    w = len(groups)
    if w == 0:
        return np.full(n_boot, np.nan)
    pick = rng.integers(0, w, size=(n_boot, w))  # which world fills each of the w slots
    per = np.empty((w, n_boot, w))
    for i, arrays in enumerate(groups):
        pos = rng.integers(0, len(arrays[0]), size=(n_boot, w, len(arrays[0])))
        per[i] = stat(*(np.asarray(a, float)[pos] for a in arrays))
    return per[pick, np.arange(n_boot)[:, None], np.arange(w)[None, :]].mean(axis=1)


def _wilcoxon(effects: np.ndarray) -> float:
    from scipy import stats

    if effects.size < 2:
        return float("nan")
    if not np.any(effects != 0):
        return 1.0
    return float(stats.wilcoxon(effects).pvalue)


def summarize_worlds(
    per_world: Mapping[Hashable, float],
    boot: np.ndarray,
    n_pairs: int,
    dropped: int = 0,
    confidence: float = CONFIDENCE,
) -> Effect:
    """An :class:`Effect` from per-world effects and the bootstrap distribution of their
    mean. The interval is NaN when fewer than half the resamples are defined."""
    e = np.array(list(per_world.values()), float)
    if e.size == 0:
        nan = float("nan")
        return Effect(nan, nan, nan, nan, nan, 0, 0, 0, dropped, {})
    mean = float(e.mean())
    se = float(e.std(ddof=1) / math.sqrt(e.size)) if e.size > 1 else float("nan")
    ok = boot[np.isfinite(boot)]
    a = (1 - confidence) / 2
    low, high = np.quantile(ok, [a, 1 - a]) if 2 * ok.size >= boot.size else (np.nan, np.nan)
    agree = int(np.sum(np.sign(e) == np.sign(mean))) if mean != 0 else 0
    return Effect(
        mean=mean,
        se=se,
        low=float(low),
        high=float(high),
        p=_wilcoxon(e),
        agree=agree,
        n_worlds=int(e.size),
        n_pairs=n_pairs,
        dropped=dropped,
        per_world={str(k): float(v) for k, v in per_world.items()},
    )


def world_effect(
    values: Mapping[Hashable, Sequence[float]],
    dropped: int = 0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Effect:
    """The effect across worlds of per-unit values grouped by world (paired differences, or
    any per-run quantity whose expected value is the effect, e.g. ``final - ref``).

    The Wilcoxon signed-rank test is over the per-world effects, not over all pairs: seeds
    of one world share its gold and reference policy, so their differences are not
    independent, and pooling them would count one world's idiosyncrasy as many
    observations (pseudo-replication). The per-world effects are independent by
    construction. With W worlds the smallest two-sided p is 2 / 2^W (0.0078 for 8 worlds);
    scipy uses the exact distribution up to 50 worlds without zeros or ties, else the
    normal approximation.

    Args:
        values: World -> the values of its units; worlds with no value are left out.
        dropped: Units already left out (reported in the effect).
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed.
    """
    kept = {k: np.asarray(v, float) for k, v in values.items() if len(v) > 0}
    boot = two_stage_bootstrap(
        [(v,) for v in kept.values()], lambda x: x.mean(axis=-1), n_boot, seed
    )
    return summarize_worlds(
        {k: float(v.mean()) for k, v in kept.items()},
        boot,
        sum(v.size for v in kept.values()),
        dropped,
    )


def paired_values(
    runs: list[Run],
    arm_of: Callable[[Run], str],
    arm: str,
    baseline: str,
    metric: Metric,
) -> tuple[dict[int, list[float]], int]:
    """Per world, the differences ``metric(arm) - metric(baseline)`` of the pairs with the
    same (world, seed), and how many pairs were dropped (a missing value or partner).

    Raises:
        ValueError: an arm has two runs of one (world, seed) (its label is ambiguous).
    """

    def index(label: str) -> dict[tuple[int, int], Run]:
        out: dict[tuple[int, int], Run] = {}
        for r in runs:
            if arm_of(r) == label:
                key = (world_of(r), seed_of(r))
                if key in out:
                    raise ValueError(f"arm {label!r} has two runs of (world, seed) = {key}")
                out[key] = r
        return out

    a, b = index(arm), index(baseline)
    diffs: dict[int, list[float]] = {}
    dropped = 0
    for key in sorted(a.keys() | b.keys()):
        x = metric_value(a[key], metric) if key in a else None
        y = metric_value(b[key], metric) if key in b else None
        if x is None or y is None:
            dropped += 1
            continue
        diffs.setdefault(key[0], []).append(x - y)
    return diffs, dropped


def paired_effect(
    runs: list[Run],
    arm_of: Callable[[Run], str],
    arm: str,
    baseline: str,
    metric: Metric,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Effect:
    """The effect of ``arm`` against ``baseline`` on ``metric`` across worlds (see the
    module docstring and :func:`world_effect`)."""
    diffs, dropped = paired_values(runs, arm_of, arm, baseline, metric)
    return world_effect(diffs, dropped, n_boot, seed)


#: The verdicts, from best to worst agreement with a paper.
VERDICTS = ("reproduced", "partly", "not reproduced", "reversed")


def verdict(effect: Effect, direction: int, margin: float = 0.0) -> str:
    """The verdict on a predicted effect from its 95% interval across worlds.

    ``direction`` is the sign the paper predicts for ``arm - baseline``:

    - +1 or -1: "reproduced" where the interval excludes ``direction * margin`` on that
      side (with ``margin = 0``: excludes 0), "reversed" where it excludes 0 on the other
      side, else "not reproduced" (the data cannot tell). A margin is for statistics that
      cannot be negative, such as a run's peak minus its final gold: their interval
      excludes 0 whenever any run dips at all, so a claimed drop must exceed the margin;
    - 0 (the paper predicts no effect): "reproduced" where the interval lies inside
      ``(-margin, margin)``, else "not reproduced" (an effect the paper says is absent, or
      an interval too wide to tell; the effect and its interval beside the verdict say
      which). A claim of no effect has no direction to reverse.

    "n/a" with fewer than ``MIN_WORLDS`` worlds (a percentile interval over 2 or 3 worlds
    covers far below its nominal rate) or an undefined interval.
    """
    lo, hi = effect.low, effect.high
    if effect.n_worlds < MIN_WORLDS or not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    if direction == 0:
        return "reproduced" if -margin < lo and hi < margin else "not reproduced"
    if (direction > 0 and lo > margin) or (direction < 0 and hi < -margin):
        return "reproduced"
    if (direction > 0 and hi < 0) or (direction < 0 and lo > 0):
        return "reversed"
    return "not reproduced"


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a finding checked at several points (e.g. at the end and at matched
    sqrt(KL) budgets), ignoring points without data ("n/a"):

    - "reproduced": reproduced at every point;
    - "partly": reproduced at some point but not at all (whatever the others say);
    - "reversed": reproduced nowhere and reversed somewhere;
    - "not reproduced": every point undecided;
    - "n/a": no point has data.
    """
    v = [x for x in verdicts if x != "n/a"]
    if not v:
        return "n/a"
    if all(x == "reproduced" for x in v):
        return "reproduced"
    if "reproduced" in v:
        return "partly"
    return "reversed" if "reversed" in v else "not reproduced"
