"""The evaluation's section: what each checkpoint measures and how precisely."""

from __future__ import annotations

from dataclasses import dataclass

from simrl.config.fields import Checked, option


@dataclass(frozen=True)
class EvalConfig(Checked):
    """Evaluation of each checkpoint: exact gold, KL, length and entropy; Monte Carlo proxy."""

    section = "eval"

    se_target: float = option(
        0.01,
        "Unused: the gold curve is now exact (gold_se = 0); kept so that configs and stored "
        "runs that set it still load. The proxy's target is eval.proxy_se_target.",
        range=(1e-6, 10.0),
    )
    proxy_se_target: float = option(
        0.02,
        "Draw proxy samples until the standard error of the normalized proxy mean is at most "
        "this. 0.02 reference SDs is under 1% of the default run's proxy gain (about 3.4) and "
        "thinner than a plotted line, at a tenth of the samples a 0.01 gold target needed.",
        range=(1e-6, 10.0),
    )
    min_samples: int = option(
        1024,
        "Proxy samples per checkpoint before checking the standard error (64 per prompt at "
        "the default 16 prompts, enough for a stable per-prompt variance estimate).",
        range=(2, 100_000_000),
    )
    max_samples: int = option(
        262144, "Cap on proxy samples per checkpoint.", range=(2, 100_000_000)
    )
    norm_samples: int = option(
        65536,
        "Reference samples used to normalize the proxy (mean 0, std 1 under pi_ref; the "
        "gold's reference mean and std are exact). 65536 puts the normalization's error near "
        "0.003 in the mean and 0.2% in the std, well under eval.proxy_se_target.",
        range=(2, 100_000_000),
    )
    diagnostics: bool = option(
        True,
        "Report proxy diagnostics: hidden-norm dispersion, effective rank, reward scale, "
        "and accuracy / Kendall tau in the four robustness scenarios.",
    )
    kendall_k: int = option(4, "Responses per prompt for per-prompt Kendall tau.", range=(2, 64))
    ndr: bool = option(
        False,
        "Also optimize the gold with the same optimizer and report the normalized drop "
        "NDR = gold(proxy run) / gold(gold run) at the final checkpoint.",
    )
    sqrt_kl_budgets: tuple[float, ...] = option(
        (1.0, 2.0, 3.0, 4.0),
        "sqrt(KL) budgets at which the summary reports gold interpolated along the curve "
        "(gold_at_sqrt_kl), so arms are compared at matched distance from the reference.",
        range=(1e-6, 1e6),
    )
    saturation_entropy_ratio: float = option(
        0.5,
        "A run is 'saturated' when the final policy's entropy per token is below this "
        "fraction of the reference policy's: most states are then near-deterministic and KL "
        "grows by sharpening, a regime Gao et al.'s forms were not fitted to.",
        range=(0.0, 1.0),
    )
