"""Mean variance across ensemble members on reference responses and on the responses of the
policy optimized against the uncertainty-weighted ensemble, with and without centering.

Usage: ``python examples/ensemble_variance.py`` (about 15 seconds). Quoted in
``docs/methods.md``.
"""

from __future__ import annotations

import numpy as np

from simrl.build import build, rngs
from simrl.config import load
from simrl.optimize import Target, optimize


def member_variance(setup, policy, n: int = 8000) -> float:
    """Mean over responses of the variance of the members' rewards."""
    prompts = np.arange(n) % setup.ref.shape[0]
    tokens, lengths = policy.sample(prompts, np.random.default_rng(0))
    rewards, _ = setup.rm.member_scores(prompts, tokens, lengths)
    return float(rewards.var(axis=0).mean())


def main() -> None:
    print(f"{'members':<28}{'var on pi_ref':>15}{'var on final':>14}{'final length':>14}")
    for label, extra in [
        ("BT", []),
        ("BT + centering 0.01", ["rm.center_rewards_coefficient=0.01"]),
    ]:
        cfg = load(None, ["rm.ensemble_size=4", "rm.ensemble_mode=uwo", *extra])
        r = rngs(cfg.seed)
        setup = build(cfg, r)
        final, _ = optimize(
            setup.ref, Target.proxy(setup.rm), cfg.policy, r["optimize"], lambda *_: None
        )
        length = float(final.expected_length().mean())
        print(
            f"{label:<28}{member_variance(setup, setup.ref):>15.3f}"
            f"{member_variance(setup, final):>14.3f}{length:>14.1f}"
        )


if __name__ == "__main__":
    main()
