"""The world's sections: the token world and its reference policy, the gold, the data."""

from __future__ import annotations

from dataclasses import dataclass

from simrl.config.fields import Checked, option


@dataclass(frozen=True)
class WorldConfig(Checked):
    """The token world: prompts, vocabulary, length cap and the reference ("SFT") policy."""

    section = "world"

    seed: int = option(
        0,
        "Seed of the world itself (gold weights and reference policy); "
        "kept apart from the run seed so seeds vary the data, not the world.",
        range=(0, 2**63 - 1),
    )
    n_prompts: int = option(16, "Number of prompts x (drawn uniformly).", range=(1, 4096))
    vocab_size: int = option(10, "Number of content tokens V (token 0 is EOS).", range=(2, 255))
    max_len: int = option(
        12, "Length cap T: a response has at most T content tokens.", range=(1, 128)
    )
    ref_len: float = option(
        5.0,
        "Typical response length of the reference policy (where its EOS hazard crosses 1/2).",
        range=(0.5, 128.0),
    )
    ref_eos_slope: float = option(
        1.0, "Slope of the reference EOS logit in the position t.", range=(0.0, 10.0)
    )
    ref_token_scale: float = option(
        1.0,
        "Spread of the reference policy's token logits (0 = uniform over content tokens).",
        range=(0.0, 10.0),
    )
    ref_coherence: float = option(
        1.0,
        "How strongly the reference policy follows the gold's "
        "coherence table B (its bigram logits are "
        "ref_coherence B + noise).",
        range=(-10.0, 10.0),
    )
    ref_polite_logit: float = option(
        -1.0,
        "Logit added by the reference policy to the polite "
        "tokens (negative: it uses them sparingly).",
        range=(-20.0, 20.0),
    )
    ref_repeat_logit: float = option(
        -1.5,
        "Logit added by the reference policy to repeating the previous token.",
        range=(-20.0, 20.0),
    )


@dataclass(frozen=True)
class GoldConfig(Checked):
    """The hidden gold reward r*(x, y) and how preferences are drawn from it."""

    section = "gold"

    global_scale: float = option(
        0.5, "Spread of token values shared by every prompt.", range=(0.0, 100.0)
    )
    prompt_scale: float = option(1.0, "Spread of prompt-specific token values.", range=(0.0, 100.0))
    saturation: float = option(
        2.0,
        "Count at which a valued token's contribution peaks (concave term c - c^2/(2 kappa)).",
        range=(0.1, 1000.0),
    )
    polite_tokens: int = option(
        2,
        "Number of polite tokens (tokens 1..k): valuable once, harmful in excess.",
        range=(0, 255),
    )
    polite_value: float = option(
        1.5, "Gold value added to each polite token for every prompt.", range=(0.0, 100.0)
    )
    polite_saturation: float = option(
        1.0, "Count at which a polite token's value peaks.", range=(0.1, 1000.0)
    )
    coherence_scale: float = option(
        0.5, "Spread of the bigram (word-order) values B[prev, v].", range=(0.0, 100.0)
    )
    length_weight: float = option(0.4, "Weight of the concave length term.", range=(0.0, 100.0))
    length_opt: float = option(
        6.0, "Length at which the gold length term peaks.", range=(0.1, 1000.0)
    )
    repeat_penalty: float = option(
        0.5, "Gold penalty per immediate repetition y_t = y_(t-1).", range=(0.0, 100.0)
    )
    tau: float = option(
        1.0, "Temperature of gold preferences P(y1 > y2) = sigma((r1 - r2)/tau).", range=(1e-6, 1e6)
    )
    hard_labels: bool = option(
        False, "Label by the sign of r1 - r2 (ties at random) instead of sampling from sigma."
    )
    label_noise: float = option(
        0.1, "Probability epsilon that a label is flipped.", range=(0.0, 1.0)
    )


@dataclass(frozen=True)
class DataConfig(Checked):
    """Preference data for the proxy: who writes the responses, how many pairs, splits."""

    section = "data"

    n_pairs: int = option(2000, "Training preference pairs.", range=(1, 10_000_000))
    n_test_pairs: int = option(
        2000,
        "Fresh pairs per evaluation split (in-domain and held-out prompts).",
        range=(1, 10_000_000),
    )
    heldout_prompt_fraction: float = option(
        0.25, "Fraction of prompts kept out of the training pairs.", range=(0.0, 0.9)
    )
    ood_policy_seed: int = option(
        1,
        "Seed of the other reference policy whose responses form the response-OOD and "
        "mutual-OOD evaluation sets; combined with world.seed into that policy's world "
        "seed, which never equals world.seed.",
        range=(0, 2**63 - 1),
    )
    temperatures: tuple[float, ...] = option(
        (1.0,),
        "Mix of policies writing the responses: "
        "each response comes from the reference "
        "policy at a temperature drawn uniformly "
        "from this list.",
        range=(0.05, 20.0),
    )
