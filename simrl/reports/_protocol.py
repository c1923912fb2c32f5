"""The reporting protocol every experiment page follows (DESIGN.md section 5): per arm,
mean ± SE and median [IQR] with n; paired effects against a named baseline at the end and at
matched sqrt(KL) budgets, summarized over worlds (:mod:`simrl.effects`); per-world effects as
a column and a figure; the runs that ended saturated; and ``effects.json`` for
docs/findings.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simrl import effects as fx
from simrl.reports._common import BUDGETS, Run, gold_at, md_table
from simrl.reports._figures import effects_figure, frontier_figure
from simrl.stats import mean_se, median_iqr


@dataclass(frozen=True)
class Metric:
    """A number per run: ``key`` names it in effects.json, ``get`` reads it (None: missing)."""

    key: str
    label: str
    get: Callable[[Run], float | None]
    digits: int = 3


def summary_metric(key: str, label: str, digits: int = 3) -> Metric:
    """The summary value ``key`` (None when absent: runs made before the field existed)."""
    return Metric(key, label, lambda r: fx.metric_value(r, key), digits)


def gold_at_metric(d: float) -> Metric:
    """Gold at sqrt(KL) = d (:func:`gold_at`)."""
    return Metric(f"gold_at_sqrt_kl={d:g}", f"gold at √KL={d:g}", lambda r: gold_at(r, d))


#: Gold at the end of the run and at every matched budget.
GOLD_END_AND_MATCHED = (
    summary_metric("final_gold", "final gold"),
    *(gold_at_metric(d) for d in BUDGETS),
)


@dataclass(frozen=True)
class Comparison:
    """Arms against a baseline arm on some metrics.

    ``baseline`` None: one-sample, each run's metric is already the difference (e.g. the
    optimized policy's length minus the reference's) and is summarized over worlds as is.
    ``predicted``: (direction, margin) a paper predicts for arm - baseline
    (:func:`simrl.effects.verdict`), by metric key for every arm or by ``(arm, metric key)``
    for one arm; such rows get a verdict.
    """

    name: str
    baseline: str | None
    arms: Sequence[str]
    metrics: Sequence[Metric]
    predicted: Mapping[str | tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    def prediction(self, arm: str, key: str) -> tuple[int | None, float]:
        """The (direction, margin) predicted for ``arm`` on metric ``key``; (None, 0) if none."""
        return self.predicted.get((arm, key), self.predicted.get(key, (None, 0.0)))


def _cell_mean(values: list[float | None], total: int, digits: int) -> str:
    m, se, n = mean_se(values)
    if n == 0:
        return "n/a"
    cell = f"{m:.{digits}f} ± {se:.{digits}f}" if n > 1 else f"{m:.{digits}f}"
    return cell + (f" (n={n})" if n != total else "")


def _cell_median(values: list[float | None], total: int, digits: int) -> str:
    med, q1, q3, n = median_iqr(values)
    if n == 0:
        return "n/a"
    cell = f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"
    return cell + (f" (n={n})" if n != total else "")


def arm_tables(groups: Mapping[str, list[Run]], metrics: Sequence[Metric], what: str) -> str:
    """Two tables, rows = arms: mean ± SE over runs, then median [first, third quartile];
    a cell's n is shown where some runs have no value (e.g. never reached a budget)."""
    head = [what, "runs", "worlds", *(m.label for m in metrics)]
    out = []
    for cell, title in ((_cell_mean, "mean ± SE over runs"), (_cell_median, "median [IQR]")):
        rows = [
            [
                g,
                len(rs),
                len({fx.world_of(r) for r in rs}),
                *(cell([m.get(r) for r in rs], len(rs), m.digits) for m in metrics),
            ]
            for g, rs in groups.items()
        ]
        out += [f"Per {what}, {title}:", "", md_table(head, rows), ""]
    return "\n".join(out)


def compare(
    runs: list[Run], arm_of: Callable[[Run], str], comp: Comparison, n_boot: int | None = None
) -> list[dict[str, Any]]:
    """The effects of a comparison as effects.json entries (one per arm and metric)."""
    n_boot = fx.N_BOOT if n_boot is None else n_boot
    entries = []
    for arm in comp.arms:
        for m in comp.metrics:
            if comp.baseline is None:
                values: dict[int, list[float]] = {}
                dropped = 0
                for r in runs:
                    if arm_of(r) == arm:
                        v = m.get(r)
                        if v is None:
                            dropped += 1
                        else:
                            values.setdefault(fx.world_of(r), []).append(v)
                e = fx.world_effect(values, dropped, n_boot)
            else:
                e = fx.paired_effect(runs, arm_of, arm, comp.baseline, m.get, n_boot)
            direction, margin = comp.prediction(arm, m.key)
            entries.append(
                {
                    "comparison": comp.name,
                    "arm": arm,
                    "baseline": comp.baseline,
                    "metric": m.key,
                    "label": m.label,
                    "digits": m.digits,
                    **e.to_dict(),
                    "direction": direction,
                    "margin": margin if direction is not None else None,
                    "verdict": None if direction is None else fx.verdict(e, direction, margin),
                }
            )
    return entries


def _num(v: float | None, digits: int, sign: bool = True) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def effects_table(entries: list[dict[str, Any]]) -> str:
    """Markdown table of effects: mean of per-world effects ± SE over worlds, the bootstrap
    95% CI, Wilcoxon p over worlds, worlds agreeing in sign, pairs used (dropped), the
    per-world effects in world order, and the verdict where a paper predicts a direction."""
    predicted = any(e["direction"] is not None for e in entries)
    head = ["arm", "metric", "Δ (mean ± SE over worlds)", "95% CI", "Wilcoxon p"]
    head += ["worlds agreeing", "n (dropped)", "per world"]
    head += ["paper predicts", "verdict"] if predicted else []
    rows = []
    for e in entries:
        k = e["digits"]
        se = "" if e["se"] is None else f" ± {e['se']:.{k}f}"
        p = "n/a" if e["p"] is None else f"{e['p']:.3g}"
        per = " ".join(_num(v, k) for _, v in sorted(e["per_world"].items(), key=_world_key))
        row = [
            e["arm"],
            e["label"],
            _num(e["mean"], k) + (se if e["mean"] is not None else ""),
            f"[{_num(e['low'], k)}, {_num(e['high'], k)}]",
            p,
            f"{e['agree']}/{e['n_worlds']}",
            f"{e['n_pairs']} ({e['dropped']})",
            per or "n/a",
        ]
        if predicted:
            d = e["direction"]
            sign = "" if d is None else {1: "> 0", -1: "< 0"}.get(d, f"≈ 0 (±{e['margin']:g})")
            row += [sign, e["verdict"] or ""]
        rows.append(row)
    return md_table(head, rows)


def _world_key(kv: tuple[str, Any]) -> tuple[int, str]:
    k = kv[0]
    return (int(k), k) if k.lstrip("-").isdigit() else (0, k)


def effects_section(
    runs: list[Run], arm_of: Callable[[Run], str], comp: Comparison
) -> tuple[str, list[dict[str, Any]]]:
    """A heading, the effects table of ``comp`` and its entries."""
    entries = compare(runs, arm_of, comp)
    if comp.baseline is None:
        text = f"Effects, {comp.name} (each run against its own reference):"
    else:
        text = f"Paired effects, {comp.name}, against **{comp.baseline}**:"
    text += f"\n\n{effects_table(entries)}\n"
    return text, entries


PROTOCOL_NOTE = (
    "Δ is paired by (world, seed): per world the mean over seeds of arm − baseline, then the "
    "mean of those per-world effects ± SE over worlds; 95% CI: bootstrap resampling worlds, "
    "then seeds within each world (2000 resamples, seeded); Wilcoxon signed-rank p over the "
    "per-world effects (with W worlds it cannot go below 2/2^W: 0.0078 for 8, 0.125 for 4); "
    "'worlds agreeing': worlds whose effect has the sign of the mean; n: pairs used (runs, "
    "for an effect measured within each run), with those dropped for a missing value (a run "
    "that never reached the budget) in parentheses. √KL budgets: gold "
    "interpolated along each run's curve at sqrt(KL) = 1, 2, 3, 4. Verdicts need at least 4 "
    "worlds: 'reproduced' where the CI excludes 0 on the side the paper predicts (for a "
    "drop that cannot be negative, such as peak − final gold: excludes the 0.1 margin), "
    "'reversed' on the other side, else 'not reproduced'; for a predicted absence of effect "
    "(≈ 0 ± m), 'reproduced' where the CI lies inside ±m, else 'not reproduced' (the Δ and CI say "
    "whether an effect was found or the CI is too wide)."
)


def saturation_note(groups: Mapping[str, list[Run]]) -> str:
    """Which runs ended saturated (``summary["saturated"]``), per arm."""
    flagged = [r for rs in groups.values() for r in rs if "saturated" in r["summary"]]
    if not flagged:
        return (
            "Saturation: these runs predate the `saturated` summary flag, so which ones ended "
            "with a near-deterministic policy is not reported."
        )
    parts = []
    for g, rs in groups.items():
        sat = [r for r in rs if r["summary"].get("saturated")]
        where = ", ".join(f"w{fx.world_of(r)}/s{fx.seed_of(r)}" for r in sat[:6])
        more = ", …" if len(sat) > 6 else ""
        parts.append(f"{g} {len(sat)}/{len(rs)}" + (f" ({where}{more})" if sat else ""))
    return (
        "Runs that ended saturated (final per-token entropy under the threshold; "
        "world/seed): " + "; ".join(parts) + "."
    )


def write_effects(out: Path, page: str, entries: list[dict[str, Any]]) -> Path:
    """``out/effects.json``: the page's effects, read by ``simrl findings``."""
    payload = {
        "page": page,
        "unit": "world",
        "n_boot": fx.N_BOOT,
        "confidence": fx.CONFIDENCE,
        "effects": entries,
    }
    path = out / "effects.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def protocol_page(
    title: str,
    page: str,
    runs: list[Run],
    arm_of: Callable[[Run], str],
    groups: Mapping[str, list[Run]],
    table_metrics: Sequence[Metric],
    comparisons: Sequence[Comparison],
    out: Path,
    what: str = "arm",
    intro: Sequence[str] = (),
    frontier: bool = True,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The protocol part of a page: per-arm tables, the saturation note, every comparison's
    effects table, frontier.png (if ``frontier``) and effects.png; writes effects.json.

    Returns:
        The Markdown lines and the effects.json entries.
    """
    lines = [f"# {title}", "", *intro, arm_tables(groups, table_metrics, what)]
    lines += [saturation_note(groups), "", PROTOCOL_NOTE, ""]
    entries: list[dict[str, Any]] = []
    for c in comparisons:
        if c.arms and (c.baseline is None or c.baseline in groups):
            text, e = effects_section(runs, arm_of, c)
            lines.append(text)
            entries += e
    write_effects(out, page, entries)
    if frontier:
        frontier_figure(groups, out / "frontier.png")
        lines += ["![frontier](frontier.png)", ""]
    if effects_figure(entries, out / "effects.png", "effects across worlds"):
        lines += ["![effects](effects.png)", ""]
    return lines, entries
