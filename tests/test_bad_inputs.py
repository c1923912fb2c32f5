"""Bad input, as a careless user gives it, to every command and to the Python and Gym APIs.

Each command-line case must exit non-zero with one line on stderr naming the field or the
path (a malformed flag may have argparse's usage line before it), print no traceback, and
leave the file tree exactly as it was: nothing created, changed or deleted.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SPEC_BASE

from simrl import store
from simrl.cli import main, to_json
from simrl.config import Config, ConfigError, RMConfig, WorldConfig, load
from simrl.executors import cluster

TINY = TINY_SPEC_BASE  # the world of conftest.tiny_config
SCALING = 'report = "scaling"\n' + TINY + "[grid]\nseed = [0]\n"
BIG = "9" * 400  # a 400-digit number
ZERO_GOLD = [f"gold.{k}=0" for k in ("global_scale", "prompt_scale", "coherence_scale")] + [
    f"gold.{k}=0" for k in ("length_weight", "repeat_penalty", "polite_value")
]


# ---- fixtures a case can ask for ------------------------------------------------------------


def spec(grid: str = "[grid]\nseed = [0]\n", name: str = "spec.toml") -> Callable[[Path], None]:
    return lambda d: (d / name).write_text(TINY + grid)


def raw(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def text(name: str, content: str) -> Callable[[Path], None]:
    return lambda d: (d / name).write_text(content)


def mkdir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir(parents=True)


def fake_result(seed: int) -> dict:
    curve = [
        {
            "step": s,
            "kl": s / 10,
            "sqrt_kl": math.sqrt(s / 10),
            "proxy": s,
            "proxy_se": 0.1,
            "gold": -s,
            "gold_se": 0.1,
            "length": 3.0,
            "n_samples": 8,
        }
        for s in range(3)
    ]
    return {
        "id": f"run{seed}",
        "config": Config(seed=seed).to_dict(),
        "status": "ok",
        "error": None,
        "curve": curve,
        "summary": {"peak_gold": 0.0},
        "timing": {"wall": 0.1},
    }


def a_store(name: str = "r.sqlite", n: int = 1) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        conn = store.open_store(d / name)
        for seed in range(n):
            store.write_run(conn, fake_result(seed))
        store.close_store(conn)

    return make


def header_only(name: str = "r.sqlite") -> Callable[[Path], None]:
    """An SQLite file with simrl's header fields and no tables."""

    def make(d: Path) -> None:
        conn = sqlite3.connect(d / name)
        conn.execute(f"PRAGMA application_id = {store.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION}")
        conn.close()

    return make


def corrupt(name: str = "r.sqlite") -> Callable[[Path], None]:
    """A simrl store whose pages after the header are overwritten."""

    def make(d: Path) -> None:
        a_store(name)(d)
        data = bytearray((d / name).read_bytes())
        data[100:] = b"\xa5" * (len(data) - 100)
        (d / name).write_bytes(bytes(data))

    return make


def old_store(name: str = "r.sqlite") -> Callable[[Path], None]:
    def make(d: Path) -> None:
        a_store(name)(d)
        conn = sqlite3.connect(d / name)
        conn.execute("PRAGMA user_version = 2")
        conn.close()

    return make


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


# ---- the table ------------------------------------------------------------------------------


@dataclass
class Case:
    """``argv`` with ``{d}`` for the case's directory, what to make there first, the text
    the error line must contain, and environment variables for the run."""

    argv: str
    needle: str
    make: list[Callable[[Path], None]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    usage: bool = False  # argparse's usage line may come first


def sets(*items: str) -> str:
    return " ".join(f"--set {i}" for i in items)


RUN = "run --out {d}/out --no-plot "
SWEEP = "sweep {d}/spec.toml --db {d}/r.sqlite --no-progress "
SCHED = "sweep {d}/spec.toml --db {d}/r.sqlite --no-progress --scheduler "

CASES: dict[str, Case] = {
    # run: values
    "run/negative-int": Case(RUN + sets("world.vocab_size=-3"), "world.vocab_size = -3"),
    "run/nan": Case(RUN + sets("gold.label_noise=nan"), "gold.label_noise = nan"),
    "run/inf": Case(RUN + sets("rm.lr=inf"), "rm.lr = inf"),
    "run/unknown-field": Case(RUN + sets("rm.nope=1"), "rm.nope: unknown field"),
    "run/unknown-section": Case(RUN + sets("nope.x=1"), "nope: unknown field"),
    "run/no-equals": Case(RUN + sets("novalue"), "'novalue': expected section.key=value"),
    "run/section-as-value": Case(RUN + sets("rm=3"), "rm: must be a table"),
    "run/value-as-section": Case(RUN + sets("rm.lr.x=1"), "rm.lr = {'x': 1}"),
    "run/string-for-number": Case(RUN + sets("policy.kl_coef=a"), "policy.kl_coef = 'a'"),
    "run/bool-for-int": Case(RUN + sets("rm.hidden=true"), "rm.hidden = True"),
    "run/float-for-int": Case(RUN + sets("world.n_prompts=2.5"), "world.n_prompts = 2.5"),
    "run/bad-choice": Case(RUN + sets("policy.optimizer=sac"), "policy.optimizer = 'sac'"),
    "run/empty-list": Case(RUN + sets("data.temperatures=[]"), "data.temperatures = []"),
    "run/int-for-bool": Case(RUN + sets("gold.hard_labels=1"), "gold.hard_labels = 1"),
    "run/400-digit-float": Case(RUN + sets(f"rm.lr={BIG}"), "rm.lr = 999"),
    "run/400-digit-int": Case(RUN + sets(f"seed={BIG}"), "seed = 999"),
    "run/negative-seed": Case(RUN + sets("seed=-1"), "seed = -1"),
    "run/cross-batch": Case(RUN + sets("policy.batch_prompts=99"), "policy.batch_prompts = 99"),
    "run/cross-ref-len": Case(RUN + sets("world.ref_len=50"), "world.ref_len = 50.0"),
    "run/cross-bon": Case(RUN + sets("policy.bon_samples=10"), "policy.bon_samples = 10"),
    "run/zero-init": Case(RUN + sets("rm.init_scale=0"), "rm.init_scale = 0.0"),
    "run/constant-gold": Case(RUN + sets(*ZERO_GOLD), "gold: global_scale"),
    "run/huge-world": Case(
        RUN + sets("world.n_prompts=4096", "world.max_len=128", "world.vocab_size=255"),
        "config too large",
    ),
    "run/huge-eval": Case(
        RUN + sets("eval.min_samples=100000000", "eval.max_samples=100000000"),
        "config too large",
    ),
    "run/huge-data": Case(RUN + sets("data.n_pairs=10000000"), "config too large"),
    "run/bad-limit-env": Case(RUN, "SIMRL_MAX_RUN_GIB = 'lots'", env={"SIMRL_MAX_RUN_GIB": "lots"}),
    # run: files
    "run/config-missing": Case(RUN + "--config {d}/none.toml", "none.toml: no such file"),
    "run/config-binary": Case(
        RUN + "--config {d}/c.toml", "c.toml: not UTF-8", [raw("c.toml", b"\xff\xfe\x00x=1")]
    ),
    "run/config-latin1": Case(
        RUN + "--config {d}/c.toml", "c.toml: not UTF-8", [raw("c.toml", b"# caf\xe9\n")]
    ),
    "run/config-dir": Case(RUN + "--config {d}/c", "c: is a directory", [mkdir("c")]),
    "run/config-not-toml": Case(
        RUN + "--config {d}/c.toml", "c.toml: not valid TOML", [text("c.toml", "[world\n")]
    ),
    "run/config-unknown-key": Case(
        RUN + "--config {d}/c.toml", "colour: unknown field", [text("c.toml", "colour = 1\n")]
    ),
    "run/config-section-value": Case(
        RUN + "--config {d}/c.toml", "world: must be a table", [text("c.toml", "world = 3\n")]
    ),
    "run/out-is-file": Case(
        "run --no-plot --out {d}/o", "--out {d}/o: exists and is not a directory", [text("o", "")]
    ),
    "run/out-under-file": Case(
        "run --no-plot --out {d}/o/sub",
        "--out {d}/o/sub: {d}/o is not a directory",
        [text("o", "")],
    ),
    "run/run-json-is-dir": Case(
        "run --no-plot --out {d}/o", "{d}/o/run.json is in the way", [mkdir("o/run.json")]
    ),
    "run/curve-png-is-dir": Case(
        "run --out {d}/o", "{d}/o/curve.png is in the way", [mkdir("o/curve.png")]
    ),
    "run/unknown-flag": Case(RUN + "--bogus", "unrecognized arguments: --bogus", usage=True),
    # sweep: specs
    "sweep/spec-missing": Case(SWEEP, "spec.toml: no such file"),
    "sweep/spec-binary": Case(SWEEP, "spec.toml: not UTF-8", [raw("spec.toml", b"\x80\x81")]),
    "sweep/spec-dir": Case(SWEEP, "spec.toml: is a directory", [mkdir("spec.toml")]),
    "sweep/spec-not-toml": Case(SWEEP, "not valid TOML", [text("spec.toml", "[grid\n")]),
    "sweep/unknown-spec-key": Case(SWEEP, "grids: unknown spec key", [spec("[grids]\nseed=[0]\n")]),
    "sweep/empty-axis": Case(SWEEP, "grid.seed: empty axis", [spec("[grid]\nseed = []\n")]),
    "sweep/axis-not-list": Case(SWEEP, "grid.seed = 3", [spec("[grid]\nseed = 3\n")]),
    "sweep/axis-unknown": Case(SWEEP, "rm.nope: unknown field", [spec("[grid]\n'rm.nope'=[1]\n")]),
    "sweep/axis-bad-value": Case(SWEEP, "rm.lr = 'fast'", [spec("[grid]\n'rm.lr'=['fast']\n")]),
    "sweep/base-missing": Case(
        SWEEP, "base = ", [text("spec.toml", 'base = "nope.toml"\n[grid]\nseed=[0]\n')]
    ),
    "sweep/base-binary": Case(
        SWEEP,
        "b.toml: not UTF-8",
        [text("spec.toml", 'base = "b.toml"\n[grid]\nseed=[0]\n'), raw("b.toml", b"\xfe\xff")],
    ),
    "sweep/base-dir": Case(
        SWEEP,
        "b.toml: is a directory",
        [text("spec.toml", 'base = "b.toml"\n[grid]\nseed=[0]\n'), mkdir("b.toml")],
    ),
    "sweep/million-grid": Case(
        SWEEP,
        "1,000,000 runs, more than the 100,000",
        [
            spec(
                "[grid]\nseed = "
                + str(list(range(1000)))
                + "\n'rm.hidden' = "
                + str(list(range(1, 1001)))
                + "\n"
            )
        ],
    ),
    "sweep/billion-random": Case(
        SWEEP,
        "1,000,000,000 runs",
        [spec("[random]\nn = 1000000000\n'rm.lr' = {loguniform = [1e-4, 1e-1]}\n")],
    ),
    "sweep/random-n-zero": Case(
        SWEEP, "random.n = 0", [spec("[random]\nn = 0\n'rm.lr' = {uniform = [0.1, 0.2]}\n")]
    ),
    "sweep/random-bad-dist": Case(
        SWEEP, "random.rm.lr", [spec("[random]\nn = 2\n'rm.lr' = {normal = [0, 1]}\n")]
    ),
    # sweep: stores and flags
    "sweep/db-dir-missing": Case(
        "sweep {d}/spec.toml --db {d}/no/r.sqlite", "r.sqlite: no such directory", [spec()]
    ),
    "sweep/db-text": Case(SWEEP, "r.sqlite: not a simrl database", [spec(), text("r.sqlite", "x")]),
    "sweep/db-dir": Case(SWEEP, "r.sqlite: not a simrl database", [spec(), mkdir("r.sqlite")]),
    "sweep/db-header-only": Case(SWEEP, "r.sqlite: not a simrl database", [spec(), header_only()]),
    "sweep/db-corrupt": Case(SWEEP, "r.sqlite", [spec(), corrupt()]),
    "sweep/db-old-schema": Case(
        SWEEP, "r.sqlite: written with store schema", [spec(), old_store()]
    ),
    "sweep/db-dangling-link": Case(
        SWEEP,
        "r.sqlite: a symbolic link to a missing file",
        [spec(), lambda d: (d / "r.sqlite").symlink_to(d / "victim")],
    ),
    "sweep/workers-0": Case(SWEEP + "--workers 0", "--workers 0: must be at least 1", [spec()]),
    "sweep/workers-1000": Case(SWEEP + "--workers 1000", "--workers 1000: at most", [spec()]),
    "sweep/workers-1e20": Case(SWEEP + "--workers 1e20", "--workers: invalid int", usage=True),
    "sweep/workers-20-digits": Case(
        SWEEP + "--workers " + "1" + "0" * 20, "--workers 1000", [spec()]
    ),
    "sweep/workers-and-scheduler": Case(
        SWEEP + "--workers 2 --scheduler tcp://h:1", "--workers and --scheduler", [spec()]
    ),
    "sweep/scheduler-not-url": Case(SCHED + "notaurl", "--scheduler 'notaurl'", [spec()]),
    "sweep/scheduler-port-99999": Case(
        SCHED + "tcp://127.0.0.1:99999", "--scheduler 'tcp://127.0.0.1:99999'", [spec()]
    ),
    "sweep/scheduler-closed-port": Case(
        SCHED + "tcp://127.0.0.1:{closed}", "--scheduler tcp://127.0.0.1:", [spec()]
    ),
    "sweep/scheduler-silent": Case(
        SCHED + "tcp://127.0.0.1:{silent}", "--scheduler tcp://127.0.0.1:", [spec()]
    ),
    # export
    "export/out-is-the-store": Case(
        "export {d}/r.sqlite --out {d}/r.sqlite", "is the input", [a_store()]
    ),
    "export/out-is-the-wal": Case(
        "export {d}/r.sqlite --out {d}/r.sqlite-wal", "is the input", [a_store()]
    ),
    "export/out-is-dir": Case(
        "export {d}/r.sqlite --out {d}/x", "--out {d}/x: is a directory", [a_store(), mkdir("x")]
    ),
    "export/out-dir-missing": Case(
        "export {d}/r.sqlite --out {d}/no/x.csv", "no such directory", [a_store()]
    ),
    "export/out-under-file": Case(
        "export {d}/r.sqlite --out {d}/f/x.csv", "x.csv", [a_store(), text("f", "")]
    ),
    "export/db-missing": Case("export {d}/r.sqlite --out {d}/x.csv", "r.sqlite: no such file"),
    "export/db-corrupt": Case("export {d}/r.sqlite --out {d}/x.csv", "r.sqlite", [corrupt()]),
    "export/db-header-only": Case(
        "export {d}/r.sqlite --out {d}/x.csv", "r.sqlite: not a simrl database", [header_only()]
    ),
    "export/db-is-a-spec": Case(
        "export {d}/spec.toml --out {d}/x.csv", "spec.toml: not a simrl database", [spec()]
    ),
    "export/bad-format": Case(
        "export {d}/r.sqlite --format xlsx --out {d}/x", "--format: invalid choice", usage=True
    ),
    # plot
    "plot/out-is-file": Case(
        "plot {d}/r.sqlite --out {d}/f",
        "--out {d}/f: exists and is not",
        [a_store(), text("f", "")],
    ),
    "plot/curves-png-is-dir": Case(
        "plot {d}/r.sqlite --out {d}/o",
        "curves.png is in the way",
        [a_store(), mkdir("o/curves.png")],
    ),
    "plot/unknown-by": Case("plot {d}/r.sqlite --out {d}/o --by rm.nope", "rm.nope", [a_store()]),
    "plot/db-missing": Case("plot {d}/r.sqlite --out {d}/o", "r.sqlite: no such file"),
    "plot/db-corrupt": Case("plot {d}/r.sqlite --out {d}/o", "r.sqlite", [corrupt()]),
    "plot/no-runs": Case("plot {d}/r.sqlite --out {d}/o", "no successful runs", [a_store(n=0)]),
    # experiment
    "experiment/no-report": Case("experiment {d}/spec.toml --out {d}/o", "needs report", [spec()]),
    "experiment/unknown-report": Case(
        "experiment {d}/spec.toml --out {d}/o",
        "report = 'nope'",
        [text("spec.toml", 'report = "nope"\n' + TINY + "[grid]\nseed = [0]\n")],
    ),
    "experiment/out-is-file": Case(
        "experiment {d}/spec.toml --out {d}/f",
        "--out {d}/f: exists and is not",
        [text("spec.toml", SCALING), text("f", "")],
    ),
    "experiment/report-md-is-dir": Case(
        "experiment {d}/spec.toml --out {d}/o",
        "report.md is in the way",
        [text("spec.toml", SCALING), mkdir("o/report.md")],
    ),
    "experiment/store-is-foreign": Case(
        "experiment {d}/spec.toml --out {d}/o",
        "runs.sqlite: not a simrl database",
        [text("spec.toml", SCALING), mkdir("o"), text("o/runs.sqlite", "id,status\n")],
    ),
    "experiment/spec-binary": Case(
        "experiment {d}/spec.toml --out {d}/o", "spec.toml: not UTF-8", [raw("spec.toml", b"\xff")]
    ),
}


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, and for files the size, mtime and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p)] = ("link", os.readlink(p))
            elif p.is_dir():
                out[str(p)] = ("dir",)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[str(p)] = ("file", st.st_size, st.st_mtime_ns, digest)
    return out


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_touches_nothing(
    name, tmp_path, capsys, monkeypatch, silent_server
):
    case = CASES[name]
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2.0)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    for make in case.make:
        make(tmp_path)
    before = tree(tmp_path)
    values = {"d": str(tmp_path), "closed": str(closed_port()), "silent": str(silent_server)}

    def fill(s: str) -> str:
        for k, v in values.items():
            s = s.replace("{" + k + "}", v)
        return s

    argv = [fill(a) for a in case.argv.split()]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code not in (0, None), err
    assert "Traceback" not in err
    assert err.endswith("\n") and lines, err
    if case.usage:
        usage, last = lines[:-1], lines[-1]
        assert usage[0].startswith("usage: simrl"), err
        assert all(u.startswith(" ") for u in usage[1:]), err  # the usage line, wrapped
        assert last.startswith("simrl") and ": error: " in last, err
    else:
        assert len(lines) == 1 and lines[0].startswith("simrl: error: "), err
    assert fill(case.needle) in lines[-1], err
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--config", "{d}"],
        ["sweep", "{d}/spec.toml", "--db", "{d}/r.sqlite", "--scheduler", "notaurl"],
        ["export", "{d}/r.sqlite", "--out", "{d}/r.sqlite"],
    ],
)
def test_the_real_command_line(tmp_path, argv):
    """The same, through the console entry point in a fresh interpreter."""
    spec()(tmp_path)
    a_store()(tmp_path)
    before = tree(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "simrl.cli", *(a.format(d=tmp_path) for a in argv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("simrl: error: ") and proc.stderr.count("\n") == 1
    assert tree(tmp_path) == before


# ---- the Python and Gym APIs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: Config(seed=-1), "seed = -1"),
        (lambda: WorldConfig(n_prompts=0), "world.n_prompts = 0"),
        (lambda: RMConfig(lr="a"), "rm.lr = 'a'"),
        (lambda: Config(rm={"lr": 0.1}), "rm = {'lr': 0.1}: must be a RMConfig"),
        (lambda: Config(world=WorldConfig(max_len=2)), "world.ref_len = 5.0"),
    ],
)
def test_config_dataclasses_validate_when_built_directly(build, needle):
    with pytest.raises(ConfigError) as err:
        build()
    assert needle in str(err.value) and "\n" not in str(err.value)


def _tiny_env_config() -> dict:
    return {
        "world": {"n_prompts": 3, "vocab_size": 3, "max_len": 4, "ref_len": 2.0},
        "gold": {"polite_tokens": 1},
        "data": {"n_pairs": 200, "n_test_pairs": 200},
        "rm": {"hidden": 4, "epochs": 2},
    }


@pytest.mark.parametrize("vector", [False, True])
def test_gym_accepts_a_config_dict(vector):
    gym = pytest.importorskip("gymnasium")
    import simrl  # noqa: F401  (registers the environment)

    kwargs = {"config": _tiny_env_config()}
    if vector:
        env = gym.make_vec(
            "simrl/TokenRLHF-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs
        )
        assert env.single_action_space.n == 4
    else:
        env = gym.make("simrl/TokenRLHF-v0", **kwargs)
        assert env.unwrapped.model.n_prompts == 3
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"config": {"world": {"n_prompts": 0}}}, "world.n_prompts = 0"),
        ({"config": {"nope": {}}}, "nope: unknown field"),
        ({"config": "default"}, "config = 'default'"),
        ({"reward": "proxy_kl", "kl_coef": "a"}, "kl_coef = 'a'"),
        ({"reward": "proxy_kl", "kl_coef": float("nan")}, "kl_coef = nan"),
        ({"reward": "proxy_kl", "kl_coef": True}, "kl_coef = True"),
    ],
)
def test_gym_refuses_bad_arguments_naming_them(kwargs, needle):
    gym = pytest.importorskip("gymnasium")
    import simrl  # noqa: F401

    with pytest.raises(ValueError) as err:
        gym.make("simrl/TokenRLHF-v0", **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_run_json_is_strict_json():
    assert to_json({"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}}) == (
        '{"a": null, "b": [null, 1.5], "c": {"d": null}}'
    )


def test_a_failed_fit_is_diverged_not_ok(tiny):
    """A fit whose loss ends far above its start, or worse than chance on its own training
    pairs, raises DivergenceError (stored as diverged) although every number is finite."""
    from simrl.errors import DivergenceError
    from simrl.experiment import build

    setup = build(tiny)
    rm, pairs = setup.rm, setup.train.pairs
    good = np.array([[0.7, 0.6, 0.55]])
    rm._check_fit(good, pairs, tiny.rm)  # a healthy fit passes
    with pytest.raises(DivergenceError, match=r"loss rose from 0\.7 to 1\.1e"):
        rm._check_fit(np.array([[0.7, 5.0, 1.1e38]]), pairs, tiny.rm)
    n_w = rm.n_features * rm.hidden + rm.hidden  # flip the output layer: r -> -r
    rm.params[:, n_w:] *= -1.0
    assert rm.accuracy(pairs) < 0.4
    with pytest.raises(DivergenceError, match="worse than chance"):
        rm._check_fit(good, pairs, tiny.rm)


def test_size_estimate_grows_with_the_world_and_names_the_limit(monkeypatch):
    from simrl.config import GIB, estimate_bytes

    small = Config()
    wider = small.replace(**{"world.vocab_size": 40})
    assert estimate_bytes(wider) > estimate_bytes(small)
    monkeypatch.setenv("SIMRL_MAX_RUN_GIB", str(estimate_bytes(small) / GIB / 2))
    with pytest.raises(ConfigError, match=r"needs about 0\.\d GiB .* the limit is 0\.\d GiB"):
        Config()
    monkeypatch.setenv("SIMRL_MAX_RUN_GIB", "1000")
    Config().replace(**{"data.n_pairs": 10_000_000})  # allowed on a bigger machine


def test_config_overrides_apply_in_order():
    cfg = load(None, ["rm.lr=0.5", "rm={hidden=4}", "rm.epochs=2"])
    assert (cfg.rm.lr, cfg.rm.hidden, cfg.rm.epochs) == (0.5, 4, 2)
