"""The proxy reward model's section: its architecture, loss and fit."""

from __future__ import annotations

from dataclasses import dataclass

from simrl.config.fields import Checked, option


@dataclass(frozen=True)
class RMConfig(Checked):
    """The proxy reward model r_phi = w . tanh(W f(x, y) + c) + b and how it is fitted."""

    section = "rm"

    hidden: int = option(32, "Width of the tanh hidden layer.", range=(1, 4096))
    prompt_features: bool = option(
        True,
        "Include prompt-specific token counts among the features (needed to represent the gold).",
    )
    bigram_features: bool = option(
        True,
        "Include bigram counts among the features (word order; most bigrams are rare in the data).",
    )
    loss: str = option(
        "bt",
        "Pairwise loss: bt -log sigma(d); margin -log sigma(d - m); hinge relu(m - d); "
        "logitnorm -log sigma(d / sqrt(r_w^2 + r_l^2)); dr -log sigma(d) - log sigma(r_w) "
        "- log sigma(-r_l); d = r_w - r_l.",
        choices=("bt", "margin", "hinge", "logitnorm", "dr"),
    )
    margin: float = option(1.0, "Margin m of the margin and hinge losses.", range=(0.0, 1e6))
    label_smoothing: float = option(
        0.0,
        "Label smoothing a of the logistic losses: -(1-a) log sigma(z) - a log sigma(-z).",
        range=(0.0, 0.499),
    )
    weight_decay: float = option(
        0.0, "Decoupled weight decay on W and w (AdamW; L2 shrinkage for SGD).", range=(0.0, 1e6)
    )
    center_rewards_coefficient: float = option(
        0.0, "Per-pair centering: + c mean (r_w + r_l)^2 (TRL's name).", range=(0.0, 1e6)
    )
    bsr_lambda: float = option(
        0.0,
        "Batch-wise sum-to-zero: + lambda B (mean of the 2B rewards)^2 per mini-batch.",
        range=(0.0, 1e6),
    )
    ensemble_size: int = option(
        1,
        "Members k of a proxy ensemble (different initializations; warm: one shared).",
        range=(1, 64),
    )
    ensemble_bootstrap: bool = option(
        False, "Fit each member on its own bootstrap resample of the pairs."
    )
    ensemble_mode: str = option(
        "mean",
        "How members combine: mean, min (worst case), uwo (mean - lambda var), or warm "
        "(fine-tuned from one shared initialization, then their weights averaged into one "
        "network; Rame et al. 2024).",
        choices=("mean", "min", "uwo", "warm"),
    )
    ensemble_lambda: float = option(
        1.0, "Variance weight lambda of the uwo ensemble.", range=(0.0, 1e6)
    )
    optimizer: str = option("adam", "Optimizer over mini-batches.", choices=("adam", "sgd"))
    lr: float = option(0.01, "Learning rate.", range=(1e-9, 100.0))
    batch_size: int = option(64, "Pairs per mini-batch.", range=(1, 1_000_000))
    epochs: int = option(30, "Passes over the training pairs.", range=(1, 100_000))
    init_scale: float = option(0.1, "Standard deviation of the initial weights.", range=(0.0, 10.0))
    features: str = option(
        "sufficient",
        "What the proxy reads: sufficient (the gold's statistics: token, prompt x token and "
        "bigram counts, length, repeats) or embedding (learned token embeddings summed over "
        "the response plus a learned prompt embedding; prompt_features and bigram_features "
        "then do not apply).",
        choices=("sufficient", "embedding"),
    )
    activation: str = option(
        "tanh",
        "Hidden-layer activation: tanh (bounded), relu, gelu (z Phi(z)) or identity.",
        choices=("tanh", "relu", "gelu", "identity"),
    )
    depth: int = option(
        1,
        "Hidden layers of width hidden (2: the representation differs from the first layer's).",
        range=(1, 2),
    )
    head_norm: str = option(
        "none",
        "Norm of the hidden state before the linear head: none, or rmsnorm "
        "(h = g * a / sqrt(mean(a^2) + 1e-6) with a learned gain g, as in LLM reward heads).",
        choices=("none", "rmsnorm"),
    )
    track_dispersion: bool = option(
        False,
        "After each epoch, record the CV of ||h - mean h|| over the responses of the first "
        "256 training pairs (rm_history.hnorm_centered_cv); off by default because it adds "
        "about a tenth to a default fit.",
    )
    pretrain: str = option(
        "none",
        "Fit the network first with Bradley-Terry on pairs labelled by a related gold "
        "(related), then put a fresh head on it and fine-tune with rm.loss; or none.",
        choices=("none", "related"),
    )
    pretrain_gold_mix: float = option(
        0.5,
        "rho: the related gold is rho z(this gold) + sqrt(1 - rho^2) z(another world's gold, "
        "orthogonalized), on within-prompt standardized scores, so its within-prompt "
        "correlation with this world's gold is rho.",
        range=(0.0, 1.0),
    )
    pretrain_pairs: int = option(
        8000, "Pretraining pairs (training prompts, reference responses).", range=(2, 10_000_000)
    )
    pretrain_epochs: int = option(10, "Passes over the pretraining pairs.", range=(1, 100_000))
