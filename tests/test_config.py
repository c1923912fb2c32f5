"""Config: defaults validate, bad values fail with one line naming the field, the reference
page cannot go stale."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simrl.config import SECTIONS, Config, ConfigError, from_dict, load, reference_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_defaults_validate_and_round_trip():
    cfg = Config()
    assert from_dict(cfg.to_dict()) == cfg


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().world.n_prompts = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("world.vocab_size=-3", "world.vocab_size = -3: must be an integer in [2, 255]"),
        ("world.n_prompts=2.5", "world.n_prompts = 2.5: must be an integer"),
        ("gold.label_noise=1.5", "gold.label_noise = 1.5: must be a number in [0, 1]"),
        ("gold.label_noise=nan", "gold.label_noise = nan: must be a number in [0, 1]"),
        ("gold.tau=-1", "gold.tau = -1"),
        ("gold.hard_labels=1", "gold.hard_labels = 1: must be true or false"),
        ("rm.loss=mse", "rm.loss = 'mse': must be one of 'bt'"),
        ("rm.nope=1", "rm.nope: unknown field"),
        ("nope.x=1", "nope: unknown field"),
        ("data.temperatures=[]", "data.temperatures = []: must be a non-empty"),
        ("data.temperatures=[1.0, -2.0]", "data.temperatures = [1.0, -2.0]"),
        ("policy.batch_prompts=99", "policy.batch_prompts = 99: must be at most"),
        ("world.ref_len=50", "world.ref_len = 50.0: must be at most world.max_len"),
        ("policy.bon_samples=10", "policy.bon_samples = 10: must be at least"),
        ("seed=-1", "seed = -1"),
        ("novalue", "expected section.key=value"),
    ],
)
def test_bad_values_name_the_field(override, needle):
    with pytest.raises(ConfigError) as err:
        load(None, [override])
    msg = str(err.value)
    assert needle in msg
    assert "\n" not in msg


def test_overrides_parse_toml_and_bare_words():
    cfg = load(
        None,
        [
            "policy.optimizer=bon",
            "rm.lr=0.5",
            "data.temperatures=[0.5, 2]",
            "gold.hard_labels=true",
        ],
    )
    assert cfg.policy.optimizer == "bon"
    assert cfg.rm.lr == 0.5
    assert cfg.data.temperatures == (0.5, 2.0)
    assert cfg.gold.hard_labels is True


def test_int_is_accepted_for_float_fields_and_stored_as_float():
    cfg = load(None, ["rm.lr=1"])
    assert isinstance(cfg.rm.lr, float)


def test_toml_file_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("seed = 7\n[world]\nn_prompts = 8\n[policy]\nkl_coef = 0.1\n")
    cfg = load(f, ["policy.kl_coef=0.2"])
    assert (cfg.seed, cfg.world.n_prompts, cfg.policy.kl_coef) == (7, 8, 0.2)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[world\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad)


def test_replace_validates():
    cfg = Config().replace(**{"world.n_prompts": 4, "policy.batch_prompts": 4})
    assert cfg.world.n_prompts == 4
    with pytest.raises(ConfigError):
        Config().replace(**{"world.n_prompts": 0})


def test_every_field_has_help_and_constraints():
    for cls in (Config, *SECTIONS.values()):
        for f in dataclasses.fields(cls):
            if f.name in SECTIONS:
                continue
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} lacks help"


def test_configuration_reference_is_current():
    page = (DOCS / "configuration.md").read_text()
    assert reference_markdown() in page, (
        "docs/configuration.md is stale: regenerate the table with "
        "python -c 'import simrl.config as c; print(c.reference_markdown())'"
    )
