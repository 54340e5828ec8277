"""`pansharpen batch` end to end: outputs reopened with rasterio, the log read back, executors compared."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair

runner = CliRunner()
GOOD = 3


def run(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """Tiny scenes in scenes/, a manifest of them (one row with its own method, one zero-shot row
    with 4 iterations) and one broken row (a PAN that is not a raster)."""
    root = tmp_path_factory.mktemp("archive")
    (root / "scenes").mkdir()
    rows = ["pan,ms,out,sensor,method,iterations"]
    for i in range(GOOD):
        p, m, _ = make_pair(root / "scenes", size=64, seed=i, name=str(i))
        method, its = {1: ("gsa", ""), 2: ("zeroshot", "4")}.get(i, ("", ""))
        rows.append(f"scenes/{p.name},scenes/{m.name},,generic,{method},{its}")
    (root / "scenes" / "broken.tif").write_text("not a raster")
    rows.append("scenes/broken.tif,scenes/ms0.tif,,,,")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def _records(log: Path) -> list[dict]:
    return [json.loads(ln) for ln in log.read_text().splitlines()]


def _tifs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tif"))}


def test_good_scenes_written_broken_one_logged_rerun_skips(archive, tmp_path):
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    res = run("batch", archive / "manifest.csv", out, "-m", "mtf-glp-hpm", "--log", log, "-q")
    assert res.exit_code == 1, res.output
    recs = _records(log)
    assert sorted(r["status"] for r in recs) == ["done"] * GOOD + ["failed"]
    (bad,) = [r for r in recs if r["status"] == "failed"]
    assert (
        bad["row"] == "manifest.csv:5" and "cannot open PAN" in bad["error"] and "broken.tif" in bad["error"]
    )
    assert sorted(p.name for p in out.iterdir()) == ["pan0.tif", "pan1.tif", "pan2.tif"]  # no partial file
    methods = {}
    for i in range(GOOD):
        with rasterio.open(out / f"pan{i}.tif") as o, rasterio.open(archive / "scenes" / f"pan{i}.tif") as p:
            assert (o.crs, o.transform, o.width, o.height, o.count) == (p.crs, p.transform, 64, 64, 4)
            methods[i] = o.tags()["PANSHARPEN_METHOD"]
    assert methods == {0: "mtf-glp-hpm", 1: "gsa", 2: "zeroshot"}  # a cell overrides the option
    zs = next(r for r in recs if r["method"] == "zeroshot")
    figs = zs["figures"]
    assert (
        np.isfinite([figs["rr"], figs["fr"], figs["response_mse"]]).all()
        and len(figs["shift_pan_pixels"]) == 2
    )
    # The same path as `fuse`: the same file.
    single = tmp_path / "single.tif"
    pan, ms = archive / "scenes" / "pan0.tif", archive / "scenes" / "ms0.tif"
    assert run("fuse", pan, ms, single, "-m", "mtf-glp-hpm", "-s", "generic", "-q").exit_code == 0
    with rasterio.open(single) as a, rasterio.open(out / "pan0.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert a.tags() == b.tags()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tif")}
    res = run("batch", archive / "manifest.csv", out, "-m", "mtf-glp-hpm", "--log", log, "-q")
    assert res.exit_code == 1, res.output
    again = _records(log)[len(recs) :]
    assert sorted(r["status"] for r in again) == ["failed"] + ["skipped"] * GOOD
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tif")} == before


def test_summary_table_retries_and_overwrite(archive, tmp_path):
    out = tmp_path / "out"
    res = run("batch", archive / "manifest.csv", out, "-m", "mtf-glp-hpm", "--retries", "2")
    assert res.exit_code == 1
    assert "done" in res.output and "failed manifest.csv:5: cannot open PAN" in res.output.replace("\n", " ")
    recs = _records(out / "pansharpen-batch.jsonl")  # the default log
    assert [r["attempts"] for r in recs if r["status"] == "failed"] == [3]
    res = run("batch", archive / "manifest.csv", out, "-m", "mtf-glp-hpm", "--overwrite", "-q")
    assert [r["status"] for r in _records(out / "pansharpen-batch.jsonl")[len(recs) :]].count("done") == GOOD


def test_all_done_or_skipped_exits_0_and_a_foreign_file_is_not_skipped(tmp_path):
    p, m, _ = make_pair(tmp_path, size=64)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pan.tif").write_text("someone else's file")
    (tmp_path / "m.jsonl").write_text(json.dumps({"pan": "pan.tif", "ms": "ms.tif"}) + "\n")
    res = run("batch", tmp_path / "m.jsonl", tmp_path / "out", "-m", "mtf-glp-hpm", "-q")
    assert res.exit_code == 1
    (rec,) = _records(tmp_path / "out" / "pansharpen-batch.jsonl")
    assert rec["status"] == "failed" and "pass --overwrite" in rec["error"]
    res = run("batch", tmp_path / "m.jsonl", tmp_path / "out", "-m", "mtf-glp-hpm", "-q", "--overwrite")
    assert res.exit_code == 0, res.output
    res = run("batch", tmp_path / "m.jsonl", tmp_path / "out", "-m", "mtf-glp-hpm", "-q")
    assert (
        res.exit_code == 0
        and _records(tmp_path / "out" / "pansharpen-batch.jsonl")[-1]["status"] == "skipped"
    )


def test_pairs_rule_without_a_manifest(tmp_path):
    for s in ("a", "b"):
        p, m, _ = make_pair(tmp_path, size=64, name=s)
        p.rename(tmp_path / f"{s}_PAN.tif")
        m.rename(tmp_path / f"{s}_MS.tif")
    out = tmp_path / "out"
    res = run(
        "batch", out, "--pairs", tmp_path / "*_PAN.tif", "--ms-pattern", "{stem}_MS.tif", "-m", "gsa", "-q"
    )
    assert res.exit_code == 0, res.output
    assert sorted(_tifs(out)) == ["a_PAN.tif", "b_PAN.tif"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("pan,out\np.tif,o.tif\n", "missing column 'ms'"),
        ("pan,ms,out\na.tif,m.tif,o.tif\nb.tif,m2.tif,o.tif\n", "is also the output of m.csv:2"),
        ('pan,ms\n"p.tif,m.tif\n', "m.csv:2: empty 'ms'"),  # an unclosed quote
    ],
)
def test_bad_manifest_exits_2_and_runs_nothing(tmp_path, text, match):
    make_pair(tmp_path, size=64)
    (tmp_path / "m.csv").write_text(text)
    res = run("batch", tmp_path / "m.csv", tmp_path / "out", "-m", "mtf-glp-hpm")
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and match in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_wrong_count_of_paths_is_a_usage_error(tmp_path):
    assert run("batch", tmp_path / "out").exit_code == 2
    assert (
        run("batch", tmp_path / "m.csv", tmp_path / "out", "--pairs", tmp_path / "*_PAN.tif").exit_code == 2
    )


def test_scheduler_without_dask_is_a_clear_error(archive, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    res = run(
        "batch", archive / "manifest.csv", tmp_path / "out", "-m", "mtf-glp-hpm", "--scheduler", "local"
    )
    assert (
        res.exit_code == 1
        and "needs Dask's distributed package: pip install distributed" in res.output.replace("\n", " ")
    )


def _local_cluster_run(manifest: Path, out: Path) -> subprocess.CompletedProcess:
    """``batch --scheduler local`` in its own process while port 8787 is taken (here by a bare
    listening socket, as by another cluster's dashboard): Dask's scheduler would warn
    ``UserWarning: Port 8787 is already in use`` on stderr."""
    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:  # taken already: the case under test anyway
        pass
    cmd = [sys.executable, "-m", "pansharpen_cli.cli", "batch", str(manifest), str(out), "-m", "mtf-glp-hpm"]
    try:
        return subprocess.run([*cmd, "--jobs", "2", "--scheduler", "local"], capture_output=True, text=True, timeout=180)
    finally:
        holder.close()


def test_jobs_and_local_cluster_give_bit_identical_files(archive, tmp_path):
    pytest.importorskip("distributed")
    a, b, c = tmp_path / "serial", tmp_path / "jobs", tmp_path / "dask"
    args = ("batch", archive / "manifest.csv")
    assert run(*args, a, "-m", "mtf-glp-hpm", "-q").exit_code == 1
    assert run(*args, b, "-m", "mtf-glp-hpm", "--jobs", "2", "-q").exit_code == 1
    res = _local_cluster_run(archive / "manifest.csv", c)
    assert res.returncode == 1, res.stderr  # the broken row
    assert "Warning" not in res.stderr and "8787" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    tb, tc = _tifs(b), _tifs(c)
    assert len(tb) == GOOD and tb == tc
    ta = _tifs(a)
    assert ta["pan0.tif"] == tb["pan0.tif"] and ta["pan1.tif"] == tb["pan1.tif"]  # the classical ones
    for folder in (b, c):
        (bad,) = [r for r in _records(folder / "pansharpen-batch.jsonl") if r["status"] == "failed"]
        assert "cannot open PAN" in bad["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_dask_scheduler_and_worker(archive, tmp_path, monkeypatch):
    """A worker in another folder than the client's, a relative OUTDIR: the outputs land in the
    client's OUTDIR (every path is made absolute before the scenes go to Dask)."""
    pytest.importorskip("distributed")
    dask_cmd = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask_cmd is None:
        pytest.skip("the dask command is not installed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    port = address.rsplit(":", 1)[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    sched = subprocess.Popen(
        [dask_cmd, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], **quiet
    )
    worker = None
    try:
        time.sleep(1.0)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        worker = subprocess.Popen(
            [dask_cmd, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            cwd=elsewhere,
            **quiet,
        )
        out = tmp_path / "cluster"
        monkeypatch.chdir(tmp_path)
        args = ("-m", "mtf-glp-hpm", "--scheduler", address, "-q")
        res = run("batch", archive / "manifest.csv", "cluster", *args)
        assert res.exit_code == 1, res.output
        recs = _records(out / "pansharpen-batch.jsonl")
        assert sorted(r["status"] for r in recs) == ["done"] * GOOD + ["failed"]
        assert all(r["out"].startswith(str(out) + os.sep) for r in recs)
        assert not [p for p in elsewhere.rglob("*.tif")]
        local = tmp_path / "local"
        assert run("batch", archive / "manifest.csv", local, "-m", "mtf-glp-hpm", "-q").exit_code == 1
        tc, tl = _tifs(out), _tifs(local)
        assert tc["pan0.tif"] == tl["pan0.tif"] and tc["pan1.tif"] == tl["pan1.tif"]
        assert len(tc) == GOOD
    finally:
        for p in (worker, sched):
            if p is not None:
                _stop(p)


def test_one_worker_per_gpu_by_default_on_cuda(monkeypatch, tmp_path):
    import importlib

    import torch

    cli_batch = importlib.import_module("pansharpen_cli.cli.batch")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    a = SimpleNamespace(overwrite=False, retries=0, jobs=None, scheduler=None, log_path=None)
    o = cli_batch._options(a, tmp_path, torch.device("cuda"))
    assert o.jobs == 2 and o.devices == [torch.device("cuda", 0), torch.device("cuda", 1)]
    assert o.log == tmp_path / "pansharpen-batch.jsonl"
    o = cli_batch._options(a, tmp_path, torch.device("cuda", 1))  # one GPU named: one worker on it
    assert o.jobs == 1 and o.devices == []
    a.jobs = 4
    assert cli_batch._options(a, tmp_path, torch.device("cuda")).devices == [
        torch.device("cuda", i % 2) for i in range(4)
    ]
    assert cli_batch._options(a, tmp_path, torch.device("cpu")).devices == []


N_LONG = 6


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_workers_leave_no_partial_file_and_a_rerun_goes_on(tmp_path, signum):
    for i in range(N_LONG):
        make_pair(tmp_path, size=256, seed=i, name=str(i))
    (tmp_path / "m.csv").write_text("pan,ms\n" + "".join(f"pan{i}.tif,ms{i}.tif\n" for i in range(N_LONG)))
    out = tmp_path / "out"
    exe = shutil.which("pansharpen", path=str(Path(sys.executable).parent)) or shutil.which("pansharpen")
    cmd = [exe, "batch", str(tmp_path / "m.csv"), str(out)]
    cmd += ["--iterations", "20", "--jobs", "2", "-q"]
    reset = signal.signal(signal.SIGINT, signal.SIG_DFL)  # the child must not start with SIGINT ignored
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, reset)
    t0 = time.monotonic()
    log = out / "pansharpen-batch.jsonl"
    while not (log.exists() and log.read_text()) and time.monotonic() - t0 < 300 and proc.poll() is None:
        time.sleep(0.1)  # the first scene done: the others are running or queued
    os.killpg(proc.pid, signum)  # as Ctrl-C (or a kill) reaches the whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, stderr
    assert "interrupted: finished outputs are kept" in stderr
    assert not list(out.glob(".*tmp*"))
    finished = sorted(p.name for p in out.glob("*.tif"))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    recs = _records(log)[-N_LONG:]
    assert sorted(r["out"].rsplit("/", 1)[1] for r in recs if r["status"] == "skipped") == finished
    assert len(finished) < N_LONG and sorted(p.name for p in out.glob("*.tif")) == [
        f"pan{i}.tif" for i in range(N_LONG)
    ]


def test_batch_runs_crossdiff_with_the_shipped_weights(tmp_path):
    for s in ("a", "b"):
        p, m, _ = make_pair(tmp_path, size=64, name=s, bands=3)
        p.rename(tmp_path / f"{s}_PAN.tif")
        m.rename(tmp_path / f"{s}_MS.tif")
    out = tmp_path / "out"
    res = run("batch", out, "--pairs", tmp_path / "*_PAN.tif", "--ms-pattern", "{stem}_MS.tif", "-m", "crossdiff",
              "--iterations", "3", "--sensor", "generic", "-q")
    assert res.exit_code == 0, res.output
    for name in ("a_PAN.tif", "b_PAN.tif"):
        with rasterio.open(out / name) as o:
            assert o.count == 3 and o.tags()["PANSHARPEN_METHOD"] == "crossdiff"
            assert json.loads(o.tags()["PANSHARPEN_PARAMETERS"])["weights"].startswith("default")


def test_a_rerun_with_another_method_says_what_the_skipped_files_were_fused_with(tmp_path):
    """Audit 2: a finished output is skipped whatever it was fused with, and the log recorded the
    rerun's method for it; it now records the file's, with a note, and the summary says so."""
    p, m, _ = make_pair(tmp_path, size=64)
    (tmp_path / "m.jsonl").write_text(json.dumps({"pan": "pan.tif", "ms": "ms.tif"}) + "\n")
    out = tmp_path / "out"
    assert run("batch", tmp_path / "m.jsonl", out, "-m", "exp", "-q").exit_code == 0
    res = run("batch", tmp_path / "m.jsonl", out, "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    rec = _records(out / "pansharpen-batch.jsonl")[-1]
    assert rec["status"] == "skipped" and rec["method"] == "exp"
    assert rec["note"] == "fused earlier with -m exp, this run asks for -m mtf-glp-hpm: pass --overwrite to fuse it again"
    assert "1 skipped as fused earlier with another method (fused earlier with -m exp" in " ".join(res.output.split())
    res = run("batch", tmp_path / "m.jsonl", out, "-m", "exp", "-q")
    rec = _records(out / "pansharpen-batch.jsonl")[-1]
    assert rec["status"] == "skipped" and rec["method"] == "exp" and "note" not in rec
