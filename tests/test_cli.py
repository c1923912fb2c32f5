"""The command line: JSON output, the table, the figure, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simrl.cli import main

TINY = [
    "--set",
    "world.n_prompts=3",
    "--set",
    "world.vocab_size=3",
    "--set",
    "world.max_len=4",
    "--set",
    "world.ref_len=2",
    "--set",
    "gold.polite_tokens=1",
    "--set",
    "policy.steps=20",
    "--set",
    "policy.eval_every=10",
    "--set",
    "policy.batch_prompts=3",
    "--set",
    "eval.min_samples=256",
    "--set",
    "eval.max_samples=512",
    "--set",
    "eval.norm_samples=2048",
    "--set",
    "data.n_pairs=200",
]


def test_run_json_prints_one_object_and_writes_files(tmp_path, capsys):
    assert main(["run", *TINY, "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"config", "curve", "summary", "timing"}
    assert [p["step"] for p in out["curve"]] == [0, 10, 20]
    assert out["config"]["world"]["n_prompts"] == 3
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    strict = json.loads((tmp_path / "run.json").read_text(), parse_constant=pytest.fail)
    assert strict["curve"] == out["curve"]  # strict JSON: no bare NaN or Infinity
    assert not list(tmp_path.glob("*.tmp*"))


def test_run_prints_a_table(tmp_path, capsys):
    assert main(["run", *TINY, "--out", str(tmp_path), "--no-plot"]) == 0
    text = capsys.readouterr().out
    assert "sqrt_kl" in text and "gold peak" in text and "proxy accuracy" in text
    assert not (tmp_path / "curve.png").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "world.vocab_size=-3"],
        ["--set", "gold.label_noise=nan"],
        ["--set", "rm.nope=1"],
        ["--config", "/nonexistent.toml"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "simrl.cli", "run", *args, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simrl: error: ")
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_help_does_not_import_the_heavy_stack():
    """Numba, matplotlib and the kernels load only when a command needs them (registering
    the Gymnasium ids at import needs gymnasium, hence NumPy, and nothing more)."""
    code = (
        "import sys; from simrl.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'matplotlib') "
        "or m.startswith('simrl.kernels')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
