"""What the command line prints: a run's curve and summary as a table, and strict JSON."""

from __future__ import annotations

import json
import math
from typing import Any


def format_table(result) -> str:
    """The curve and summary as aligned text."""
    head = (
        f"{'step':>6} {'kl':>8} {'sqrt_kl':>8} {'proxy':>8} {'±se':>6} {'gold':>8} {'±se':>6} "
        f"{'length':>7}"
    )
    lines = [head, "-" * len(head)]
    for p in result.curve:
        lines.append(
            f"{p['step']:>6d} {p['kl']:>8.3f} {p['sqrt_kl']:>8.3f} "
            f"{p['proxy']:>8.3f} {p['proxy_se']:>6.3f} {p['gold']:>8.3f} {p['gold_se']:>6.3f} "
            f"{p['length']:>7.2f}"
        )
    s = result.summary
    if all(p["gold_se"] == 0.0 for p in result.curve):
        lines += ["(gold and length are exact expectations; the proxy is a Monte Carlo mean)"]
    held = "n/a" if s["rm_heldout_acc"] is None else f"{s['rm_heldout_acc']:.3f}"
    lines += [
        "",
        f"gold peak {s['peak_gold']:.3f} at sqrt_kl {s['peak_sqrt_kl']:.3f} (step "
        f"{s['peak_step']}); final gold {s['final_gold']:.3f}, final proxy "
        f"{s['final_proxy']:.3f}; over-optimization {s['overoptimization']:.3f}",
        f"proxy accuracy: train {s['rm_train_acc']:.3f}, test {s['rm_test_acc']:.3f}, "
        f"held-out prompts {held} (best possible {s['rm_bayes_acc']:.3f})",
        "timing: " + ", ".join(f"{k} {v:.2f}s" for k, v in result.timing.items()),
    ]
    return "\n".join(lines)


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None, so its JSON is valid (``null``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(obj: Any, indent: int | None = None) -> str:
    """Strict JSON (no bare NaN or Infinity: non-finite numbers become ``null``)."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)
