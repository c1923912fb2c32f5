"""The exact population optimum of DPO and chiPO on a world small enough to enumerate.

Two prompts, V = 2 tokens, T = 2: seven responses per prompt. The population loss takes every
ordered pair (y1, y2) of responses with weight pi_ref(y1) pi_ref(y2), chosen = y1 with the
gold Bradley-Terry probability sigma((r*1 - r*2)/tau), no label noise. Per-state logits (no
sharing) make every response distribution representable, so the minimizer is the one the
papers derive: beta log pi/pi_ref = r*/tau + c(x) for DPO (Rafailov et al. 2023, section 4),
beta phi(pi/pi_ref) = r*/tau + c(x) for chiPO (Huang et al. 2024). It is found by L-BFGS on
the exact loss and gradient of :mod:`simrl.kernels.direct`.

Usage: ``python examples/direct_population.py`` (about ten seconds). Columns: exact
KL(pi || pi_ref) averaged over prompts, the probability of each prompt's most likely
response (the smaller of the two), and the spread over responses of the implicit reward
minus r*/tau (zero at the derived optimum). Quoted in
``docs/methods.md``; ``tests/test_direct.py`` runs :func:`population_optimum`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from simrl.config import from_dict
from simrl.direct import LOSSES
from simrl.kernels import direct as kd
from simrl.kernels.softmax import log_softmax_table
from simrl.policy import TabularPolicy, enumerate_responses, reference_policy
from simrl.world import Gold


def tiny_world(tau: float) -> tuple[TabularPolicy, Gold]:
    """The reference policy and gold of the enumerable world."""
    cfg = from_dict(
        {
            "world": {"n_prompts": 2, "vocab_size": 2, "max_len": 2, "ref_len": 1.0},
            "gold": {"polite_tokens": 1, "tau": tau},
        }
    )
    return reference_policy(cfg.world, 1), Gold.from_config(cfg.world, cfg.gold)


def population_optimum(kind: str, beta: float, tau: float) -> dict:
    """Minimize the exact population loss of ``kind`` (no clipping for chiPO).

    Returns:
        ``policy`` and ``ref``, and per prompt the log-ratio log pi/pi_ref, the gold r* and
        log pi of every response (``ratio``, ``gold``, ``logp``, each of shape (P, 7)).
    """
    ref, gold = tiny_world(tau)
    P = ref.shape[0]
    tokens, lengths = enumerate_responses(2, 2)
    n = len(lengths)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    i, j = i[i != j], j[i != j]
    xs, wins, losses, weights = [], [], [], []
    for x in range(P):
        px = np.full(n, x, np.int64)
        r = gold.rewards(px, tokens, lengths)
        p_ref = np.exp(ref.sequence_logprobs(px, tokens, lengths))
        xs.append(np.full(len(i), x, np.int64))
        wins.append(i)
        losses.append(j)
        weights.append(p_ref[i] * p_ref[j] / (1.0 + np.exp(-(r[i] - r[j]) / tau)) / P)
    x_, w_idx, l_idx, w_ = (np.concatenate(a) for a in (xs, wins, losses, weights))
    args = (
        x_,
        tokens[w_idx],
        lengths[w_idx],
        ref.sequence_logprobs(x_, tokens[w_idx], lengths[w_idx]),
    )
    args += (
        tokens[l_idx],
        lengths[l_idx],
        ref.sequence_logprobs(x_, tokens[l_idx], lengths[l_idx]),
    )
    margins = np.zeros(len(w_))
    shape = ref.logits.shape

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(shape)
        logp = log_softmax_table(flat.reshape(shape))
        loss = kd.pairs_loss_grad(logp, *args, w_, LOSSES[kind], beta, np.inf, g, margins)
        return loss, g.ravel()

    res = minimize(
        loss_and_grad,
        ref.logits.ravel().copy(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "ftol": 1e-16, "gtol": 1e-13},
    )
    policy = TabularPolicy(res.x.reshape(shape))
    out: dict = {"policy": policy, "ref": ref, "ratio": [], "gold": [], "logp": []}
    for x in range(P):
        px = np.full(n, x, np.int64)
        logp = policy.sequence_logprobs(px, tokens, lengths)
        out["ratio"].append(logp - ref.sequence_logprobs(px, tokens, lengths))
        out["gold"].append(gold.rewards(px, tokens, lengths))
        out["logp"].append(logp)
    return {k: np.array(v) if k in ("ratio", "gold", "logp") else v for k, v in out.items()}


def implicit_reward(kind: str, beta: float, ratio: np.ndarray) -> np.ndarray:
    """beta log pi/pi_ref (DPO), beta phi(pi/pi_ref) (chiPO)."""
    return beta * (np.exp(ratio) + ratio if kind == "chipo" else ratio)


def main() -> None:
    tau, betas = 0.5, [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    kl = {}
    print(
        f"{'beta':>6}{'KL dpo':>11}{'KL chipo':>11}{'ratio':>7}"
        f"{'top p dpo':>11}{'top p chipo':>13}{'resid dpo':>11}{'resid chipo':>13}"
    )
    for beta in betas:
        top, resid = [], []
        for kind in ("dpo", "chipo"):
            o = population_optimum(kind, beta, tau)
            kl[kind, beta] = float(o["policy"].kl(o["ref"]).mean())
            r = implicit_reward(kind, beta, o["ratio"]) - o["gold"] / tau
            live = np.exp(o["logp"]) > 1e-6  # responses with non-negligible probability
            resid.append(max(float(np.ptp(r[x][live[x]])) for x in range(len(r))))
            top.append(float(np.exp(o["logp"]).max(axis=1).min()))
        print(
            f"{beta:>6g}{kl['dpo', beta]:>11.3e}{kl['chipo', beta]:>11.3e}"
            f"{kl['chipo', beta] / kl['dpo', beta]:>7.3f}{top[0]:>11.3f}{top[1]:>13.3f}"
            f"{resid[0]:>11.1e}{resid[1]:>13.1e}"
        )
    big = [b for b in betas if b >= 8]
    for kind in ("dpo", "chipo"):
        slope = np.polyfit(np.log(big), np.log([kl[kind, b] for b in big]), 1)[0]
        print(f"{kind}: slope of log KL on log beta over beta = 8..64: {slope:.3f}")


if __name__ == "__main__":
    main()
