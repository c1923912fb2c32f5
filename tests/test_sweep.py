"""Sweeps: spec expansion and run ids, resume after SIGKILL and Ctrl-C, bit-identical results
in process, in worker processes and on a Dask cluster, failures stored, bad input refused
with nothing written, export and plots."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_SPEC_BASE, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from simrl import store
from simrl.cli import main
from simrl.config import Config, ConfigError
from simrl.executors import MAX_CHUNK, chunks
from simrl.sweep import SCHEMA_VERSION, canonical_json, expand, load_spec, run_id

TINY_BASE = TINY_SPEC_BASE  # the world of conftest.tiny_config


def write_spec(tmp_path: Path, grid: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(TINY_BASE + grid)
    return path


def sweep(spec: Path, db: Path, *args: str) -> int:
    return main(["sweep", str(spec), "--db", str(db), "--no-progress", *args])


def snapshot(db: Path) -> tuple[list, list]:
    """Everything deterministic in a store: runs (without times and versions) and curves."""
    conn = sqlite3.connect(db)
    cols = "id, config, seed, status, error, summary, " + ", ".join(store.SUMMARY_COLUMNS)
    runs = conn.execute(f"SELECT {cols} FROM runs ORDER BY id").fetchall()
    curve = conn.execute("SELECT * FROM curve ORDER BY run_id, step").fetchall()
    conn.close()
    return runs, curve


def check_store(db: Path, n_runs: int, n_points: int) -> None:
    """Integrity, every run once, whole curves only."""
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ids = [r[0] for r in conn.execute("SELECT id FROM runs")]
    assert len(ids) == len(set(ids)) == n_runs
    per_run = dict(conn.execute("SELECT run_id, COUNT(*) FROM curve GROUP BY run_id"))
    assert set(per_run) == set(ids) and set(per_run.values()) == {n_points}
    conn.close()


# ---- expansion and ids -------------------------------------------------------------------


def test_base_is_the_tiny_world(tmp_path):
    runs = load_spec(write_spec(tmp_path, "[grid]\nseed = [7]\n"))
    assert [r.config for r in runs] == [tiny_config().replace(seed=7)]


axes = st.fixed_dictionaries(
    {
        "seed": st.lists(st.integers(0, 2**40), min_size=1, max_size=3, unique=True),
        "rm.lr": st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=2, unique=True),
        "rm.loss": st.lists(st.sampled_from(["bt", "hinge", "dr"]), min_size=1, unique=True),
    }
)


@settings(max_examples=15)
@given(axes=axes)
def test_grid_size_is_the_product_and_ids_are_distinct(axes):
    runs = expand({"grid": axes})
    assert len(runs) == math.prod(len(v) for v in axes.values())
    assert len({r.id for r in runs}) == len(runs)
    assert len({r.config for r in runs}) == len(runs)
    assert all(r.config.rm.loss == r.point["rm.loss"] for r in runs)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**63 - 1), lr=st.floats(1e-9, 100.0))
def test_ids_depend_on_the_config_only(seed, lr):
    cfg = Config().replace(**{"seed": seed, "rm.lr": lr})
    again = Config(seed=seed).replace(**{"rm.lr": lr})
    assert run_id(cfg) == run_id(again)
    text = f"simrl-run/{SCHEMA_VERSION}\n{canonical_json(cfg)}"
    assert run_id(cfg) == hashlib.sha256(text.encode()).hexdigest()
    assert run_id(cfg) != run_id(cfg.replace(seed=(seed + 1) % 2**63))


def test_ids_are_the_same_in_another_process():
    code = (
        "from simrl.config import Config\nfrom simrl.sweep import run_id\nprint(run_id(Config()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == run_id(Config())


def test_union_of_grids_and_random_draws():
    spec = {
        "grid": [{"seed": [0, 1]}, {"seed": [0, 1], "rm": {"bsr_lambda": [0.1, 0.2]}}],
        "random": {
            "n": 3,
            "seed": 5,
            "policy.kl_coef": {"loguniform": [1e-3, 1e-1]},
            "rm.hidden": {"uniform": [2, 9]},
            "rm.loss": {"choice": ["bt", "hinge"]},
        },
    }
    runs = expand(spec)
    assert len(runs) == (2 + 4) * 3
    assert expand(spec) == runs  # draws are reproducible
    for r in runs:
        assert 1e-3 <= r.config.policy.kl_coef <= 1e-1
        assert isinstance(r.point["rm.hidden"], int) and 2 <= r.point["rm.hidden"] <= 9
    other = expand({**spec, "random": {**spec["random"], "seed": 6}})
    assert {r.id for r in other} != {r.id for r in runs}


@settings(max_examples=40)
@given(n=st.integers(0, 300), slots=st.integers(1, 16))
def test_chunks_cover_every_run_once_and_shrink(n, slots):
    items = [(str(i), {}) for i in range(n)]
    parts = chunks(items, slots)
    assert [it for c in parts for it in c] == items
    sizes = [len(c) for c in parts]
    assert all(1 <= k <= MAX_CHUNK for k in sizes) and sizes == sorted(sizes, reverse=True)
    assert not sizes or sizes[-1] == 1


# ---- store --------------------------------------------------------------------------------


def fake_result(rid: str, seed: int, n_points: int) -> dict:
    curve = [{"step": s, "kl": s / 10, "sqrt_kl": math.sqrt(s / 10), "proxy": s + 0.5,
              "proxy_se": 0.1, "gold": -s / 3, "gold_se": 0.1, "length": 3.0,
              "n_samples": 8} for s in range(n_points)]  # fmt: skip
    return {"id": rid, "config": {"seed": seed}, "status": "ok", "error": None,
            "curve": curve, "summary": {"peak_gold": 0.1 * seed, "fit_r2": math.nan},
            "timing": {"wall": 0.1}}  # fmt: skip


@settings(max_examples=25)
@given(writes=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4)), max_size=20))
def test_writes_are_idempotent(tmp_path_factory, writes):
    db = tmp_path_factory.mktemp("store") / "s.sqlite"
    conn = store.open_store(db)
    last: dict[str, int] = {}
    for seed, n in writes:
        store.write_run(conn, fake_result(f"run{seed}", seed, n))
        last[f"run{seed}"] = n
    assert store.stored_ids(conn) == set(last)
    curves = store.read_curves(conn)
    assert {k: len(v) for k, v in curves.items()} == last
    assert all(math.isnan(r["summary"]["fit_r2"]) for r in store.read_runs(conn))
    store.close_store(conn)
    assert not Path(str(db) + "-wal").exists()


# ---- running sweeps -----------------------------------------------------------------------


def test_sweep_then_resume_runs_nothing_twice(tmp_path, capsys):
    spec = write_spec(tmp_path, "[grid]\nseed = [0, 1]\n'rm.bsr_lambda' = [0.0, 0.01]\n")
    db = tmp_path / "r.sqlite"
    assert sweep(spec, db, "--dry-run") == 0
    assert "4 runs in the sweep: 0 stored, 4 to run" in capsys.readouterr().out
    assert not db.exists()
    assert sweep(spec, db, "--workers", "1") == 0
    first = snapshot(db)
    check_store(db, 4, 3)
    assert sweep(spec, db, "--workers", "1") == 0
    assert "4 were stored, ran 0" in capsys.readouterr().out
    assert snapshot(db) == first
    assert sweep(spec, db, "--dry-run") == 0
    assert "4 stored, 0 to run" in capsys.readouterr().out


def test_failures_are_stored_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    import simrl.experiment
    from simrl.errors import DivergenceError

    real = simrl.experiment.run

    def flaky(cfg):
        if cfg.seed == 1:
            raise DivergenceError("proxy fit: non-finite loss")
        if cfg.seed == 2:
            raise ValueError("boom")
        return real(cfg)

    monkeypatch.setattr(simrl.experiment, "run", flaky)
    spec = write_spec(tmp_path, "[grid]\nseed = [0, 1, 2, 3]\n")
    db = tmp_path / "r.sqlite"
    assert sweep(spec, db, "--workers", "1") == 0
    assert "(2 ok, 1 failed, 1 diverged)" in capsys.readouterr().out
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT seed, status || ': ' || error FROM runs WHERE error NOT NULL"))
    assert rows == {1: "diverged: proxy fit: non-finite loss", 2: "failed: ValueError: boom"}
    assert conn.execute("SELECT COUNT(*) FROM curve").fetchone() == (6,)
    conn.close()
    monkeypatch.setattr(simrl.experiment, "run", real)
    assert sweep(spec, db, "--workers", "1", "--retry-failed") == 0
    assert "ran 2 (2 ok" in capsys.readouterr().out
    check_store(db, 4, 3)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigkill_at_any_moment_then_resume(tmp_path, workers):
    spec = write_spec(tmp_path, "[grid]\nseed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
                                "'rm.bsr_lambda' = [0.0, 0.001, 0.01, 0.1]\n")  # fmt: skip
    db = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "simrl.cli", "sweep", str(spec), "--db", str(db)]
    cmd += ["--workers", workers, "--no-progress"]
    for at_least in (1, 15):  # kill twice, early and later, then finish
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                n = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                n = 0
            if n >= at_least:
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        assert stored < 40, "the sweep finished before it was killed"
        assert conn.execute("SELECT COUNT(*) FROM curve").fetchone()[0] == 3 * stored
        conn.close()
    assert subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode == 0
    check_store(db, 40, 3)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_keeps_finished_runs_and_exits_130(tmp_path, workers):
    spec = write_spec(tmp_path, "[grid]\nseed = " + str(list(range(60))) + "\n")
    db = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "simrl.cli", "sweep", str(spec), "--db", str(db)]
    cmd += ["--workers", workers, "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, text=True)
    while not db.exists() and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the foreground group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.startswith("simrl: interrupted:") and err.count("\n") == 1
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM curve").fetchone()[0] == 3 * stored
    conn.close()
    assert subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode == 0
    check_store(db, 60, 3)


def test_bit_identical_in_process_workers_and_dask(tmp_path):
    spec = write_spec(tmp_path, "[grid]\nseed = [0, 1, 2]\n'rm.loss' = ['bt', 'hinge']\n")
    assert sweep(spec, tmp_path / "serial.sqlite", "--workers", "1") == 0
    assert sweep(spec, tmp_path / "pool.sqlite", "--workers", "2") == 0
    serial = snapshot(tmp_path / "serial.sqlite")
    assert len(serial[0]) == 6 and all(r[3] == "ok" for r in serial[0])
    assert snapshot(tmp_path / "pool.sqlite") == serial
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        db = tmp_path / "dask.sqlite"
        assert sweep(spec, db, "--scheduler", cluster.scheduler_address) == 0
    assert snapshot(db) == serial


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        ("[grid]\n'rm.nope' = [1]\n", "rm.nope: unknown field"),
        ("[grid]\n", "grid: empty grid"),
        ("[grid]\nseed = []\n", "grid.seed: empty axis"),
        ("[grid]\nseed = 3\n", "grid.seed = 3: must be a list"),
        ("[grid]\n'rm.lr' = ['fast']\n", "rm.lr = 'fast': must be a number"),
        ("[grid]\n'gold.label_noise' = [0.5, 2.0]\n", "gold.label_noise = 2.0: must be a num"),
        ("[grid]\n'policy.batch_prompts' = [9]\n", "policy.batch_prompts = 9: must be at most"),
        ("[grids]\nseed = [0]\n", "grids: unknown spec key"),
        ("[random]\nn = 2\n'rm.lr' = {normal = [0, 1]}\n", "random.rm.lr"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_bad_spec_exits_2_and_writes_nothing(tmp_path, capsys, grid, needle):
    db = tmp_path / "r.sqlite"
    assert sweep(write_spec(tmp_path, grid), db) == 2
    err = capsys.readouterr().err
    assert err.startswith("simrl: error: ") and needle in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "spec.toml"]


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id TEXT)")
    conn.commit()
    conn.close()


def _old_schema(path: Path) -> None:
    store.close_store(store.open_store(path))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_text("runs,status\n"), "not a simrl database (not an SQLite file)"),
        (lambda p: p.write_bytes(b""), "not a simrl database"),
        (_foreign_sqlite, "not a simrl database (SQLite, but not written by simrl)"),
        (_old_schema, "written with store schema version 99"),
        (lambda p: p.mkdir(), "not a simrl database (not a file)"),
    ],
)
@pytest.mark.parametrize("command", ["sweep", "dry-run", "export", "plot"])
def test_bad_database_exits_2_and_is_not_touched(tmp_path, capsys, make, needle, command):
    db = tmp_path / "r.sqlite"
    make(db)
    before, files = db.is_file() and db.read_bytes(), sorted(tmp_path.iterdir())
    spec = write_spec(tmp_path, "[grid]\nseed = [0]\n")
    argv = {
        "sweep": ["sweep", str(spec), "--db", str(db)],
        "dry-run": ["sweep", str(spec), "--db", str(db), "--dry-run"],
        "export": ["export", str(db), "--out", str(tmp_path / "x.csv")],
        "plot": ["plot", str(db), "--out", str(tmp_path / "figs")],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("simrl: error: ") and needle in err and err.count("\n") == 1
    assert (db.is_file() and db.read_bytes()) == before
    assert sorted(tmp_path.iterdir()) == sorted([*files, spec])


def test_bad_workers_and_missing_pyarrow(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path, "[grid]\nseed = [0]\n")
    assert sweep(spec, tmp_path / "r.sqlite", "--workers", "0") == 2
    assert "--workers 0: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "r.sqlite").exists()
    assert sweep(spec, tmp_path / "r.sqlite", "--workers", "1") == 0
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "r.parquet"
    assert main(["export", str(tmp_path / "r.sqlite"), "--format", "parquet", "--out", str(out)])
    assert capsys.readouterr().err == (
        "simrl: error: --format parquet needs pyarrow: pip install 'simrl[parquet]'\n"
    )
    assert not out.exists()


# ---- export and plots ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    spec = write_spec(tmp, "[grid]\nseed = [0, 1, 2]\n'rm.bsr_lambda' = [0.0, 0.01]\n")
    assert sweep(spec, tmp / "r.sqlite", "--workers", "1") == 0
    return tmp / "r.sqlite"


def _parse(cell: str):
    if cell == "":
        return None
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        return float(cell) if cell in ("nan", "inf", "-inf") else cell


def test_export_csv_round_trip(stored, tmp_path):
    out = tmp_path / "runs.csv"
    assert main(["export", str(stored), "--format", "csv", "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    conn = store.open_store(stored, readonly=True)
    runs = {r["id"]: r for r in store.read_runs(conn)}
    conn.close()
    assert len(rows) == len(runs) == 6
    for row in rows:
        run = runs[row["id"]]
        assert row["status"] == "ok"
        expected = {**dict(store.flatten(run["config"])), **dict(store.flatten(run["summary"]))}
        for key, value in expected.items():
            got = _parse(row[key])
            assert got == value or (math.isnan(value) and math.isnan(got)), key
    assert list(rows[0])[:2] == ["id", "status"] and "rm.bsr_lambda" in rows[0]


def test_export_parquet(stored, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "runs.parquet"
    assert main(["export", str(stored), "--format", "parquet", "--out", str(out)]) == 0
    t = pq.read_table(out)
    assert t.num_rows == 6 and "peak_gold" in t.column_names and "policy.kl_coef" in t.column_names


@pytest.mark.parametrize("extra", [[], ["--by", "rm.bsr_lambda", "--x", "seed"]])
def test_plot_writes_both_figures(stored, tmp_path, capsys, extra):
    out = tmp_path / "figs"
    assert main(["plot", str(stored), "--out", str(out), *extra]) == 0
    for name in ("curves.png", "summary.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "grouped by rm.bsr_lambda" in capsys.readouterr().out
    assert not list(out.glob("*.tmp*"))


def test_plot_unknown_field(stored, tmp_path, capsys):
    assert main(["plot", str(stored), "--out", str(tmp_path), "--by", "rm.nope"]) == 2
    assert "rm.nope: unknown config field" in capsys.readouterr().err


def test_config_error_type():
    with pytest.raises(ConfigError, match="nothing to sweep"):
        expand({"base": {}})


# ---- concurrent sweeps, claims, safe files ------------------------------------------------


def test_two_sweeps_on_one_new_store_split_the_work(tmp_path):
    """Two real processes start on a store that does not exist yet: one store is created
    whole, every run is stored once, and each process ran only the runs it claimed."""
    spec = write_spec(tmp_path, "[grid]\nseed = " + str(list(range(40))) + "\n")
    db = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "simrl.cli", "sweep", str(spec), "--db", str(db)]
    cmd += ["--workers", "1", "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ran = [int(out.split("ran ")[1].split()[0]) for out, _ in outs]
    assert sum(ran) == 40, outs  # nothing run twice, nothing left out
    assert min(ran) > 0, outs  # both worked
    check_store(db, 40, 3)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite", "spec.toml"]


def test_the_last_writer_to_close_leaves_rollback_mode_and_none_waits(tmp_path):
    """A writer that closes while another has the store open leaves it in WAL mode without
    waiting for the other (SQLite's busy timeout is 30 s); the last to close switches the
    file back to rollback mode and SQLite removes its -wal and -shm files."""
    db = tmp_path / "s.sqlite"
    a, b = store.open_store(db), store.open_store(db)
    t0 = time.perf_counter()
    store.close_store(a)
    assert time.perf_counter() - t0 < 5.0
    assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL: b still has it open
    store.close_store(b)
    assert db.read_bytes()[18:20] == b"\x01\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


def test_concurrent_creation_makes_one_whole_store(tmp_path):
    db = tmp_path / "new.sqlite"
    code = "import sys; from simrl import store; store.close_store(store.open_store(sys.argv[1]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE)
             for _ in range(6)]  # fmt: skip
    assert [p.wait(timeout=120) for p in procs] == [0] * 6, [p.stderr.read() for p in procs]
    assert store.check_file(db, write=True)
    assert db.read_bytes()[18:20] == b"\x01\x01"  # the last writer left rollback mode
    conn = store.open_store(db, readonly=True)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    # no temporary file is left; writers that overlapped may leave SQLite's own -wal and
    # -shm beside the store (about 1 run in 10 here), which it ignores in rollback mode
    sidecars = {"new.sqlite-wal", "new.sqlite-shm"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in sidecars) == ["new.sqlite"]


def test_claims_of_a_dead_sweep_are_taken_over_and_live_ones_respected(tmp_path):
    conn = store.open_store(tmp_path / "r.sqlite")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = __import__("socket").gethostname()
    conn.execute("INSERT INTO sweeps VALUES ('dead', ?, ?, 0)", (host, dead.pid))
    conn.execute("INSERT INTO sweeps VALUES ('live', ?, ?, 0)", (host, os.getpid()))
    conn.executemany("INSERT INTO claims VALUES (?, ?)", [("a", "dead"), ("b", "live")])
    store.write_run(conn, fake_result("c", 0, 1))
    claims = store.Claims(conn, ["a", "b", "c", "d"])
    assert claims.take(10) == ["a", "d"]  # b is running elsewhere, c is stored
    assert claims.skipped == 2
    assert store.live_claims(conn) == {"a": claims.owner, "b": "live", "d": claims.owner}
    claims.release()
    assert store.live_claims(conn) == {"b": "live"}
    store.close_store(conn)


def test_negative_zero_is_the_same_run():
    a = Config().replace(**{"rm.bsr_lambda": 0.0, "data.temperatures": [1.0]})
    b = Config().replace(**{"rm.bsr_lambda": -0.0, "data.temperatures": [1]})
    assert run_id(a) == run_id(b) and canonical_json(a) == canonical_json(b)
    assert math.copysign(1.0, b.rm.bsr_lambda) == 1.0


def test_writes_replace_a_planted_link_not_its_target(tmp_path, stored):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "x.csv"
    out.symlink_to(victim)
    assert main(["export", str(stored), "--out", str(out)]) == 0
    assert victim.read_text() == "precious"
    assert out.is_file() and not out.is_symlink() and out.read_text().startswith("id,status")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt", "x.csv"]


def test_a_store_with_nothing_to_run_is_only_read(tmp_path, stored, capsys, monkeypatch):
    """A read-only store: a sweep with nothing left to run reads it and writes nothing; one
    with work refuses in one line before anything runs."""
    spec = write_spec(tmp_path, "[grid]\nseed = [0, 1, 2]\n'rm.bsr_lambda' = [0.0, 0.01]\n")
    db = tmp_path / "r.sqlite"
    db.write_bytes(stored.read_bytes())
    db.chmod(0o444)
    before = db.stat().st_mtime_ns, db.read_bytes()
    monkeypatch.setattr(os, "access", lambda p, mode: not mode & os.W_OK)  # as for non-root
    assert sweep(spec, db) == 0
    assert "6 were stored, ran 0" in capsys.readouterr().out
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite", "spec.toml"]
    more = write_spec(tmp_path, "[grid]\nseed = [7]\n", "more.toml")
    assert sweep(more, db) == 2
    assert (
        capsys.readouterr().err
        == f"simrl: error: {db}: read-only (the store and its directory must be writable)\n"
    )
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before


def test_old_stores_can_be_exported_but_not_swept(tmp_path, stored, capsys):
    db = tmp_path / "old.sqlite"
    db.write_bytes(stored.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    assert main(["export", str(db), "--out", str(tmp_path / "x.csv")]) == 0
    spec = write_spec(tmp_path, "[grid]\nseed = [5]\n")
    assert sweep(spec, db) == 2
    assert "schema version 2; this simrl writes version" in capsys.readouterr().err
