"""Best-of-n from the reference policy: the optimizer that selects instead of updating.

For n = 1, 2, 4, ... the curve point is the expected gold, proxy and length of the response
that scores highest by ``select`` (the proxy, or the gold for the reference curve) among n
reference responses, estimated without bias from N >= n scored samples per prompt
(:func:`simrl.analysis.bon_estimate`). Its KL is the analytic bound log n - (n - 1)/n
(Stiennon et al. 2020; Beirami et al. 2024 show it is an upper bound) and, in worlds small
enough to enumerate, the exact KL of the best-of-n distribution. The samples are drawn and
scored by the :class:`simrl.evaluate.Evaluator`, which also normalizes them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from simrl.analysis import bon_estimate, bon_exact_kl, bon_kl_bound
from simrl.policy import enumerate_responses, n_responses

if TYPE_CHECKING:
    from simrl.evaluate import Evaluator


def bon_curve(
    ev: Evaluator, n_max: int, n_samples: int, select: str = "proxy", exact_max: int = 0
) -> list[dict]:
    """Best-of-n from the reference policy at n = 1, 2, 4, ... <= n_max.

    Draws ``n_samples`` reference responses per prompt with ``ev``, selects by ``select``
    (the proxy, or the gold for the reference curve) and averages gold, proxy and length
    with the unbiased estimator, normalized by ``ev.norm``. ``kl`` is the analytic bound;
    ``kl_exact`` the exact KL of the best-of-n distribution when every prompt has at most
    ``exact_max`` possible responses (else None).
    """
    P, T, V = ev.ref.shape
    g, p, lens = (a.reshape(n_samples, P).T for a in ev.sample(ev.ref, n_samples * P))
    by = p if select == "proxy" else g
    enumerable = exact_max > 0 and n_responses(V, T) <= exact_max
    if enumerable:
        tokens, lengths = enumerate_responses(V, T)
        per_prompt = []
        for x in range(P):
            xs = np.full(lengths.shape[0], x)
            scores = (
                ev.rm.score(xs, tokens, lengths)
                if select == "proxy"
                else ev.gold.rewards(xs, tokens, lengths)
            )
            per_prompt.append((ev.ref.sequence_logprobs(xs, tokens, lengths), scores))
    nm, out = ev.norm, []
    n = 1
    while n <= n_max:
        gm, gse = bon_estimate(by, g, n)
        pm, pse = bon_estimate(by, p, n)
        lm, _ = bon_estimate(by, lens, n)
        kl = float(bon_kl_bound(n))
        kl_exact = (
            float(np.mean([bon_exact_kl(lp, sc, n) for lp, sc in per_prompt]))
            if enumerable
            else None
        )
        out.append(
            {
                "step": n,
                "kl": kl,
                "sqrt_kl": math.sqrt(kl),
                "kl_exact": kl_exact,
                "proxy": (pm - nm.proxy_mean) / nm.proxy_std,
                "proxy_se": pse / nm.proxy_std,
                "gold": (gm - nm.gold_mean) / nm.gold_std,
                "gold_se": gse / nm.gold_std,
                "length": lm,
                "n_samples": n_samples * P,
            }
        )
        n *= 2
    return out
