"""Direct alignment: DPO, IPO, SLiC and chiPO on the tabular (plus shared) logits.

The policy is fitted to preference pairs with no reward model: offline on the same pairs
the proxy is fitted to (the chosen and rejected responses with their prompts), or online
(``policy.dpo_online``), where every step draws fresh pairs from the current policy and a
proxy labels them. Losses and gradients: :mod:`simrl.kernels.direct`.

Optimizer: plain mini-batch SGD on the logits, ``dpo_lr`` times the gradient of the batch's
mean loss, for ``dpo_epochs`` passes over the pairs in a fresh random order each pass (full
batches only). SGD rather than Adam so that a logit moves in proportion to how much
preference data passes through its state, as in the policy-gradient optimizers of this
package: Adam's per-coordinate normalization would give a state seen in one pair the same
step as a state seen in every pair, an artifact of the tabular parameterization.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simrl.config import PolicyConfig
from simrl.data import PreferencePairs
from simrl.errors import DivergenceError
from simrl.kernels import direct as kd
from simrl.kernels.softmax import log_softmax_table
from simrl.policy import TabularPolicy, compose_logits, shared_logit_grads

LOSSES = {
    "dpo": kd.LOSS_DPO,
    "ipo": kd.LOSS_IPO,
    "slic": kd.LOSS_SLIC,
    "chipo": kd.LOSS_CHIPO,
}

ProxyScore = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``score(prompts, tokens, lengths) -> rewards``, e.g. :meth:`ProxyRM.score`."""


@dataclass(frozen=True)
class DirectHistory:
    """Per-step training statistics on the step's batch: mean loss, mean implicit reward
    margin r(y_w) - r(y_l), and the fraction of pairs with a positive margin."""

    loss: np.ndarray
    margin: np.ndarray
    accuracy: np.ndarray


def clip_bound(cfg: PolicyConfig) -> float:
    """chiPO's clip on the implicit reward margin, 2 R_max; inf for the other losses."""
    return 2.0 * cfg.chipo_rmax if cfg.optimizer == "chipo" else np.inf


def implicit_rewards(
    policy: TabularPolicy,
    ref: TabularPolicy,
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    kind: str,
    beta: float,
) -> np.ndarray:
    """The policy's implicit reward of each response: beta log pi/pi_ref for DPO, IPO and
    SLiC (Rafailov et al. 2023, section 5), beta phi(pi/pi_ref) with phi(z) = z + log z for
    chiPO (Huang et al. 2024), from the log-ratio so that it cannot underflow."""
    ratio = policy.sequence_logprobs(prompts, tokens, lengths) - ref.sequence_logprobs(
        prompts, tokens, lengths
    )
    if kind == "chipo":
        with np.errstate(over="ignore"):
            return beta * (np.exp(ratio) + ratio)
    return beta * ratio


def implicit_accuracy(
    policy: TabularPolicy, ref: TabularPolicy, pairs: PreferencePairs, kind: str, beta: float
) -> float:
    """Fraction of pairs whose chosen response has the higher implicit reward (ties 1/2)."""
    rw = implicit_rewards(policy, ref, pairs.prompts, pairs.chosen, pairs.chosen_len, kind, beta)
    rl = implicit_rewards(
        policy, ref, pairs.prompts, pairs.rejected, pairs.rejected_len, kind, beta
    )
    return float(np.mean((rw > rl) + 0.5 * (rw == rl)))


def label_by_proxy(
    policy: TabularPolicy,
    prompts: np.ndarray,
    proxy_score: ProxyScore,
    rng: np.random.Generator,
) -> PreferencePairs:
    """Two fresh responses per prompt from ``policy``; the first is chosen with the proxy's
    Bradley-Terry probability sigma(r1 - r2) (sampled, not the sign: with sign labels the
    DPO optimum pushes every margin to infinity, Azar et al. 2023 section 4.2; sampled labels
    keep it at beta log pi/pi_ref = r_proxy + c(x), the KL-regularized optimum)."""
    cdf = policy.cdf()
    t1, l1 = policy.sample(prompts, rng, cdf)
    t2, l2 = policy.sample(prompts, rng, cdf)
    d = proxy_score(prompts, t1, l1) - proxy_score(prompts, t2, l2)
    first = rng.random(prompts.shape[0]) < 0.5 * (1.0 + np.tanh(0.5 * d))  # sigma(d)
    pick = first[:, None]
    return PreferencePairs(
        prompts=prompts,
        chosen=np.where(pick, t1, t2),
        chosen_len=np.where(first, l1, l2),
        rejected=np.where(pick, t2, t1),
        rejected_len=np.where(first, l2, l1),
    )


def optimize_direct(
    ref: TabularPolicy,
    pairs: PreferencePairs,
    cfg: PolicyConfig,
    rng: np.random.Generator,
    on_checkpoint: Callable[[int, TabularPolicy], None],
    proxy_score: ProxyScore | None = None,
) -> tuple[TabularPolicy, DirectHistory]:
    """Fit a copy of ``ref`` to preference pairs with the loss ``cfg.optimizer``.

    Runs ``dpo_epochs * (len(pairs) // B)`` SGD steps with B = min(dpo_batch_size,
    len(pairs)). Offline, step i uses the i-th batch of a fresh permutation of ``pairs``
    each epoch. Online (``cfg.dpo_online``), each step instead draws B prompts from
    ``pairs.prompts`` and labels two fresh responses of the current policy per prompt with
    ``proxy_score`` (:func:`label_by_proxy`), so both modes see the same number of labels.

    ``on_checkpoint(step, policy)`` is called at step 0, every ``cfg.dpo_eval_every`` SGD
    steps and at the last step (:func:`simrl.optimize.optimize` dispatches here).

    Raises:
        ValueError: online without a ``proxy_score``.
        DivergenceError: the loss or a logit became non-finite.
    """
    if cfg.dpo_online and proxy_score is None:
        raise ValueError("policy.dpo_online = true needs a proxy_score to label pairs")
    kind, beta, clip = LOSSES[cfg.optimizer], cfg.beta, clip_bound(cfg)
    P, _, V = ref.shape
    theta = np.array(ref.logits, dtype=np.float64, copy=True)
    u, U = np.zeros(V + 1), np.zeros((P, V + 1))
    N = len(pairs)
    B = min(cfg.dpo_batch_size, N)
    per_epoch = N // B
    steps = cfg.dpo_epochs * per_epoch
    weights = np.full(B, 1.0 / B)
    margins = np.zeros(B)
    hist = np.zeros((steps, 3))
    ref_w = ref.sequence_logprobs(pairs.prompts, pairs.chosen, pairs.chosen_len)
    ref_l = ref.sequence_logprobs(pairs.prompts, pairs.rejected, pairs.rejected_len)

    def current() -> TabularPolicy:
        return TabularPolicy(compose_logits(theta, u, U))

    on_checkpoint(0, current())
    order = np.arange(N)
    for step in range(steps):
        if cfg.dpo_online:
            batch = label_by_proxy(current(), rng.choice(pairs.prompts, B), proxy_score, rng)
            bw = ref.sequence_logprobs(batch.prompts, batch.chosen, batch.chosen_len)
            bl = ref.sequence_logprobs(batch.prompts, batch.rejected, batch.rejected_len)
        else:
            if step % per_epoch == 0:
                order = rng.permutation(N)
            sel = order[(step % per_epoch) * B : (step % per_epoch + 1) * B]
            batch = PreferencePairs(
                pairs.prompts[sel],
                pairs.chosen[sel],
                pairs.chosen_len[sel],
                pairs.rejected[sel],
                pairs.rejected_len[sel],
            )
            bw, bl = ref_w[sel], ref_l[sel]
        logits = compose_logits(theta, u, U)
        g = np.zeros_like(logits)
        loss = kd.pairs_loss_grad(
            log_softmax_table(logits),
            batch.prompts,
            batch.chosen,
            batch.chosen_len,
            bw,
            batch.rejected,
            batch.rejected_len,
            bl,
            weights,
            kind,
            beta,
            clip,
            g,
            margins,
        )
        theta -= cfg.dpo_lr * g
        if cfg.shared_logits:
            gu, gU = shared_logit_grads(g)
            u -= cfg.dpo_lr * gu
            U -= cfg.dpo_lr * gU
        if not (
            np.isfinite(loss)
            and np.isfinite(theta).all()
            and np.isfinite(U).all()
            and np.isfinite(u).all()
        ):
            raise DivergenceError(
                f"direct alignment ({cfg.optimizer}) diverged at step {step} (non-finite "
                f"loss or logits); lower policy.dpo_lr = {cfg.dpo_lr}"
            )
        hist[step] = loss, margins.mean(), np.mean((margins > 0) + 0.5 * (margins == 0))
        if (step + 1) % cfg.dpo_eval_every == 0 or step + 1 == steps:
            on_checkpoint(step + 1, current())
    return current(), DirectHistory(hist[:, 0], hist[:, 1], hist[:, 2])
