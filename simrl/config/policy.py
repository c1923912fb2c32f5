"""The policy optimizer's section, and which family runs each optimizer."""

from __future__ import annotations

from dataclasses import dataclass

from simrl.config.fields import INF, Checked, option


@dataclass(frozen=True)
class PolicyConfig(Checked):
    """How the policy is optimized (against the proxy, or the gold for reference runs)."""

    section = "policy"

    optimizer: str = option(
        "rloo",
        "Policy gradient: reinforce (moving-average baseline), rloo (leave-one-out "
        "baseline), ppo (clipped ratio, several epochs per batch), grpo (group-normalized "
        "advantages, clipped ratio, per-response token mean; Dr. GRPO with grpo_std_norm = "
        "false); best-of-n: bon (from the reference policy); or a direct alignment loss on "
        "the preference pairs: dpo, ipo, slic or chipo.",
        choices=("reinforce", "rloo", "ppo", "grpo", "bon", "dpo", "ipo", "slic", "chipo"),
    )
    reward: str = option(
        "proxy",
        "What is optimized: the proxy, or the gold itself (the best achievable curve).",
        choices=("proxy", "gold"),
    )
    steps: int = option(
        2000,
        "Policy-gradient steps (direct alignment runs dpo_epochs passes over the pairs instead).",
        range=(1, 10_000_000),
    )
    eval_every: int = option(
        100,
        "Policy-gradient steps between curve checkpoints (direct alignment: dpo_eval_every).",
        range=(1, 10_000_000),
    )
    lr: float = option(0.01, "Learning rate on the logits (plain SGD).", range=(1e-9, 1e6))
    shared_logits: bool = option(
        True,
        "Add per-token and per-(prompt, token) logits shared by "
        "all positions to the table, so a preference learnt in "
        "one state carries to others as in a language model.",
    )
    rloo_k: int = option(
        4,
        "Responses per prompt per step, the group size G of grpo (at least 2 for rloo, ppo "
        "and grpo, whose baselines need another response).",
        range=(1, 4096),
    )
    batch_prompts: int = option(
        0,
        "Prompts per step, drawn without replacement; 0 = every prompt.",
        range=(0, 4096),
    )
    reward_norm: str = option(
        "ref",
        "How the optimized reward is normalized: none; ref (once, before optimization: "
        "(r - m(x)) / s with the per-prompt mean m(x) and the pooled within-prompt SD s on "
        "reference responses); batch (to mean 0, SD 1 over each batch's rewards, before "
        "the KL penalty).",
        choices=("none", "ref", "batch"),
    )
    reward_norm_samples: int = option(
        1024,
        "Reference responses per prompt that measure m(x) and s for reward_norm = ref.",
        range=(2, 10_000_000),
    )
    kl_coef: float = option(
        0.02,
        "beta of the KL penalty (initial value if kl_target > 0).",
        range=(0.0, 1e6),
    )
    kl_estimator: str = option(
        "auto",
        "How the KL penalty enters the update, with L(y) = sum_t log(pi/pi_ref)(y_t|s_t) and "
        "r = pi_ref/pi: k1 in the reward (r_phi - beta L(y), score function); k2 as the "
        "sequence loss beta L(y)^2/2; k3 as the per-token loss beta sum_t (r - 1 - log r) "
        "(GRPO); losses differentiated through pi. auto: k3 for grpo (as Shao et al. 2024), "
        "k1 for the other policy-gradient optimizers.",
        choices=("auto", "k1", "k2", "k3"),
    )
    kl_target: float = option(
        0.0,
        "Adaptive KL controller target (nats per response; Ziegler et al. 2019); 0 = fixed "
        "kl_coef.",
        range=(0.0, 1e6),
    )
    kl_horizon: float = option(
        10000.0, "Horizon of the adaptive KL controller (samples).", range=(1.0, 1e12)
    )
    ppo_epochs: int = option(4, "PPO and GRPO: passes over each batch.", range=(1, 1000))
    ppo_clip: float = option(
        0.2, "PPO and GRPO: clip range epsilon of the ratio.", range=(1e-6, 10.0)
    )
    ppo_norm_adv: bool = option(
        True,
        "PPO: normalize advantages to mean 0, std 1 per batch (step size independent "
        "of the reward scale); GRPO normalizes per group instead.",
    )
    grpo_std_norm: bool = option(
        True,
        "GRPO: A = (r - mean r)/(std r + 1e-4) over each prompt's group (sample SD) and each "
        "response's per-token objective averaged over its tokens (Shao et al. 2024); false: "
        "Dr. GRPO, A = r - mean r and summed over tokens (Liu et al. 2025).",
    )
    baseline_decay: float = option(
        0.9, "REINFORCE: decay of the moving-average baseline.", range=(0.0, 0.9999)
    )
    beta: float = option(
        0.1,
        "Direct alignment: beta of DPO, SLiC and chiPO (the loss sees beta h), and IPO's "
        "regularization tau (Azar et al. 2023), as each paper defines it.",
        range=(1e-6, 1e6),
    )
    dpo_epochs: int = option(
        4,
        "Direct alignment: passes over the preference pairs (online: the same number of "
        "steps, each on fresh pairs).",
        range=(1, 100_000),
    )
    dpo_batch_size: int = option(64, "Direct alignment: pairs per SGD step.", range=(1, 1_000_000))
    dpo_eval_every: int = option(
        4,
        "Direct alignment: SGD steps between curve checkpoints (4 epochs of 2000 pairs at "
        "batch 64 are 124 steps: 32 checkpoints, 8 in the first epoch).",
        range=(1, 10_000_000),
    )
    dpo_lr: float = option(
        10.0,
        "Direct alignment: SGD learning rate on the logits for the mean loss of a batch. "
        "At the reference policy a pair's loss has slope beta/2 in its log-ratio for dpo, "
        "beta for slic and chipo, 1/beta for ipo: scale dpo_lr by about beta^2/2 for ipo.",
        range=(1e-9, 1e6),
    )
    dpo_online: bool = option(
        False,
        "Direct alignment: each step draws fresh pairs from the current policy, labelled "
        "by the proxy's Bradley-Terry probability sigma(r1 - r2), instead of the fixed "
        "preference pairs.",
    )
    chipo_rmax: float = option(
        4.0,
        "chiPO: reward bound R_max; the implicit-reward margin is clipped to "
        "[-2 R_max, 2 R_max] (Huang et al. 2024, Algorithm 1); inf = no clipping.",
        range=(1e-6, INF),
    )
    occupancy_chi2: float = option(
        0.0,
        "Coefficient lambda of the exact chi^2 divergence between the state-action "
        "occupancy measures of the policy and the reference subtracted from the objective "
        "(Laidlaw et al. 2025), descended with its exact gradient at every policy-gradient "
        "step; 0 = off.",
        range=(0.0, 1e6),
    )
    bon_n_max: int = option(
        1024, "Best-of-n: largest n (curve at n = 1, 2, 4, ...).", range=(1, 1_000_000)
    )
    bon_samples: int = option(
        4096,
        "Best-of-n: scored reference samples N per prompt for the "
        "unbiased estimator (N >= bon_n_max).",
        range=(1, 10_000_000),
    )
    bon_exact_max: int = option(
        200_000,
        "Best-of-n: compute the exact KL of the best-of-n distribution when a prompt has at "
        "most this many possible responses.",
        range=(0, 10_000_000),
    )

    @property
    def family(self) -> str:
        """The optimizer's family: "policy_gradient", "direct" or "best_of_n"."""
        return OPTIMIZER_FAMILIES[self.optimizer]

    @property
    def kl_estimator_used(self) -> str:
        """``kl_estimator`` with ``auto`` resolved: k3 for grpo, k1 otherwise."""
        if self.kl_estimator != "auto":
            return self.kl_estimator
        return "k3" if self.optimizer == "grpo" else "k1"


#: Which module runs each ``policy.optimizer`` (:mod:`simrl.optimize` dispatches on it).
OPTIMIZER_FAMILIES = {
    **dict.fromkeys(("reinforce", "rloo", "ppo", "grpo"), "policy_gradient"),
    **dict.fromkeys(("dpo", "ipo", "slic", "chipo"), "direct"),
    "bon": "best_of_n",
}
