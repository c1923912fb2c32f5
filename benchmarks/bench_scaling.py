"""How the cost of a default ``simrl run`` grows with the size of the world and of the data.

Run ``python benchmarks/bench_scaling.py [--out benchmarks/scaling.png]``. Single thread
(``NUMBA_NUM_THREADS=1``). Starting from ``simrl.config.Config()``, one field at a time is
scaled by 1x, 2x, 5x and 10x (``--factors``), the others kept at their defaults:
``world.vocab_size`` V, ``world.max_len`` T, ``world.n_prompts`` P and ``data.n_pairs``
(no cross-field constraint binds: ``world.ref_len`` = 5 stays below every T). Each
configuration runs ``simrl.experiment.run`` end to end; the table gives the median seconds of
each phase it reports, and

* S = P T (V + 1)^2, the size of the policy's state-action table;
* N = responses drawn: preference data (2 per pair, training and test splits), the
  normalization sample, every checkpoint's evaluation sample and the RLOO samples (steps x
  prompts per step x k); the diagnostics phase's own samples are not counted;
* work = S x N, and total seconds / work in picoseconds.

S x N overstates the growth of the work (a sampled token touches one row of V + 1 entries,
not the table; the table is swept once per checkpoint), so cost / work falling with V, T
or P is expected; it is the measure asked for, kept for comparison between versions. The
runs are interleaved (every configuration once per repeat) after one untimed run of the
default configuration; the plot shows total seconds against the scale factor, log-log, one
line per dimension. ``--repeats 1`` takes about three minutes on a 2-core machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads

import argparse
import statistics
from pathlib import Path

import numpy as np
from _common import machine

from simrl.config import Config
from simrl.experiment import run

DIMENSIONS = {
    "V (world.vocab_size)": "world.vocab_size",
    "T (world.max_len)": "world.max_len",
    "P (world.n_prompts)": "world.n_prompts",
    "n_pairs (data.n_pairs)": "data.n_pairs",
}


def scaled(field: str, factor: int) -> Config:
    """The default config with one integer field multiplied by ``factor``."""
    base = Config()
    section, name = field.split(".")
    return base.replace(**{field: getattr(getattr(base, section), name) * factor})


def responses_drawn(cfg: Config, result: object) -> int:
    """N: responses sampled by data, normalization, checkpoints and RLOO."""
    w, d, p = cfg.world, cfg.data, cfg.policy
    data = 2 * (d.n_pairs + 2 * d.n_test_pairs)
    evals = cfg.eval.norm_samples + sum(int(pt["n_samples"]) for pt in result.curve)
    rl = p.steps * (p.batch_prompts or w.n_prompts) * p.rloo_k
    return data + evals + rl


def plot(rows: list[dict], factors: list[int], out: Path) -> None:
    """Log-log total seconds against the scale factor, one line per dimension."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for dim in DIMENSIONS:
        pts = sorted((r["factor"], r["total"]) for r in rows if r["dim"] in (dim, "default"))
        ax.plot([f for f, _ in pts], [s for _, s in pts], marker="o", label=dim)
    base = next(r["total"] for r in rows if r["dim"] == "default")
    f = np.array([1, max(factors)])
    ax.plot(f, base * f, "k:", lw=1, label="proportional")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(factors, [f"{x}x" for x in factors])
    ax.set_xlabel("scale factor from the default")
    ax.set_ylabel("seconds per simrl run (warm)")
    ax.set_title("Cost of a default run vs world and data size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run every configuration interleaved, print the table, write the plot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per configuration")
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 2, 5, 10])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/scaling.png"))
    args = ap.parse_args()
    factors = sorted(set(args.factors) | {1})

    cases: list[tuple[str, int, Config]] = [("default", 1, Config())]
    for dim, field in DIMENSIONS.items():
        cases += [(dim, f, scaled(field, f)) for f in factors if f != 1]
    run(Config())  # load (or compile) the kernels
    timings: dict[int, list[dict[str, float]]] = {i: [] for i in range(len(cases))}
    samples: dict[int, int] = {}
    for _ in range(args.repeats):
        for i, (_dim, _f, cfg) in enumerate(cases):
            res = run(cfg)
            timings[i].append(res.timing)
            samples[i] = responses_drawn(cfg, res)

    phases = list(timings[0][0])
    rows = []
    for i, (dim, f, cfg) in enumerate(cases):
        w = cfg.world
        S = w.n_prompts * w.max_len * (w.vocab_size + 1) ** 2
        row = {"dim": dim, "factor": f, "S": S, "N": samples[i]}
        for ph in phases:
            row[ph] = statistics.median(t.get(ph, float("nan")) for t in timings[i])
        rows.append(row)

    print(f"# cost of simrl run vs size, median of {args.repeats}; seconds per phase")
    print(f"# {machine()}")
    head = f"{'dimension':<24}{'x':>4}" + "".join(f"{ph[:9]:>10}" for ph in phases)
    print(head + f"{'S':>9}{'N':>10}{'work S*N':>11}{'ps/work':>9}")
    for r in rows:
        line = f"{r['dim']:<24}{r['factor']:>4}" + "".join(f"{r[ph]:>10.2f}" for ph in phases)
        work = r["S"] * r["N"]
        print(line + f"{r['S']:>9}{r['N']:>10}{work:>11.2e}{1e12 * r['total'] / work:>9.1f}")
    base = rows[0]["total"]
    print("growth of the total from 1x to the largest factor (proportional = factor):")
    for dim in DIMENSIONS:
        last = max((r for r in rows if r["dim"] == dim), key=lambda r: r["factor"])
        print(f"  {dim:<24}{last['factor']:>3}x -> {last['total'] / base:6.2f}x")
    plot(rows, factors, args.out)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
