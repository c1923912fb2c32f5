"""docs/findings.md: the table regenerates from given effects.json files, with the verdict
rule applied per metric and combined, and `simrl findings` parses and writes it."""

from __future__ import annotations

import json

import pytest

from simrl.cli import build_parser, main
from simrl.reports._findings import FINDINGS, findings_markdown


def entry(arm: str, metric: str, low: float, high: float, n_worlds: int = 8) -> dict:
    mean = (low + high) / 2
    return {
        "comparison": "c",
        "arm": arm,
        "baseline": "BT",
        "metric": metric,
        "label": metric,
        "digits": 3,
        "mean": mean,
        "se": 0.01,
        "low": low,
        "high": high,
        "p": 0.01,
        "agree": n_worlds,
        "n_worlds": n_worlds,
        "n_pairs": 10 * n_worlds,
        "dropped": 0,
        "per_world": {},
        "direction": None,
        "margin": None,
        "verdict": None,
    }


@pytest.fixture
def docs(tmp_path):
    bsr = [
        entry("BSR 0.001", "rm_tau_mutual_ood", 0.01, 0.03),
        entry("BSR 0.001", "rm_tau_prompt_ood", 0.01, 0.03),
        entry("BSR 0.001", "rm_tau_response_ood", 0.01, 0.03),
        entry("BSR 0.001", "rm_acc_in_domain", -0.02, 0.005),  # wider than the ±0.01 margin
        entry("BSR 0.001", "final_gold", 0.1, 0.5),  # reproduced at the end ...
        entry("BSR 0.001", "gold_at_sqrt_kl=1", -0.05, 0.04),  # ... not at matched KL
        entry("BSR 0.001", "gold_at_sqrt_kl=2", -0.05, 0.04),
        entry("BT-centered", "rm_hnorm_centered_cv", -0.1, -0.05),  # another arm: ignored
    ]
    kl = [entry("kl_coef=0.3", f"gold_at_sqrt_kl={d}", 0.2, 0.4) for d in (1, 2, 3, 4)]
    reg = [entry("centering 0.01, 30 epochs", "abs_last_reward_mean", -5.0, -1.0, n_worlds=3)]
    for page, effects in (("bsr", bsr), ("kl_penalty", kl), ("regularization", reg)):
        (tmp_path / page).mkdir()
        (tmp_path / page / "effects.json").write_text(
            json.dumps({"page": page, "unit": "world", "effects": effects})
        )
    return tmp_path


def row(text: str, claim: str) -> list[str]:
    (line,) = [x for x in text.splitlines() if x.startswith("| ") and claim in x]
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_table_from_effects(docs):
    text = findings_markdown(docs)
    rows = [x for x in text.splitlines() if x.startswith("| ")]
    assert len(rows) == 1 + len(FINDINGS)  # the header and a row per finding
    assert row(text, "BSR ranks better out of domain")[5] == "reproduced"
    assert row(text, "BSR keeps in-domain accuracy")[5] == "not reproduced"
    gold = row(text, "keeps more gold than against BT")
    assert gold[5] == "partly"  # reproduced at the end, not at matched sqrt(KL)
    assert "gold_at_sqrt_kl=3: n/a" in gold[4]
    assert row(text, "hidden-state norms are excessively")[5] == "n/a"  # not in effects.json
    # an effect where the paper claims none: not reproduced (no direction to reverse)
    assert row(text, "acts like early stopping")[5] == "not reproduced"
    assert row(text, "keeps the reward scores from drifting")[5] == "n/a"  # 3 worlds
    verbosity = row(text, "writes longer responses")
    assert (
        verbosity[3] == "page not run yet"
        and verbosity[6] == "[verbosity](experiments/verbosity.md)"
    )


def test_cli_regenerates_the_page(docs, tmp_path, capsys):
    out = tmp_path / "findings.md"
    assert main(["findings", "--docs", str(docs), "--out", str(out)]) == 0
    assert out.read_text() == findings_markdown(docs)
    capsys.readouterr()
    args = build_parser().parse_args(["findings"])
    assert (args.docs, args.out) == ("docs/experiments", "docs/findings.md")
    assert main(["findings", "--docs", str(tmp_path / "nowhere")]) == 2
    assert "--docs" in capsys.readouterr().err
