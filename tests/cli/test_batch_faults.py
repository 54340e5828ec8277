"""`pansharpen batch` against its own processes dying, a full disk under its log, a second run on
the same OUTDIR: real processes, real signals, a real (tmpfs) full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import rasterio

from tests.conftest import make_pair

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals, tmpfs")

# The CLI with slowed tile writes (SLOW seconds each), as a file: spawned workers run it again as
# their __mp_main__, so they are slowed too.
SLOW = textwrap.dedent(
    """
    import os, time
    from pansharpen_cli.io.writer import OutputWriter
    _write = OutputWriter.write
    def _slow(self, *a):
        _write(self, *a)
        time.sleep(float(os.environ.get("SLOW", "0")))
    OutputWriter.write = _slow
    if __name__ == "__main__":
        import sys
        from pansharpen_cli.cli import app
        sys.argv = ["pansharpen", *sys.argv[1:]]
        app()
    """
)
N = 4


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    """N tiny scenes and a manifest of them in tmp_path; the slowed CLI at tmp_path/slow.py."""
    for i in range(N):
        make_pair(tmp_path, size=64, seed=i, name=str(i))
    (tmp_path / "m.csv").write_text("pan,ms\n" + "".join(f"pan{i}.tif,ms{i}.tif\n" for i in range(N)))
    (tmp_path / "slow.py").write_text(SLOW)
    return tmp_path


def _cli(root: Path, *args, slow: float = 0.0, log: Path | None = None) -> list[str]:
    cmd = [sys.executable, str(root / "slow.py"), "batch", str(root / "m.csv"), str(root / "out")]
    cmd += ["-m", "mtf-glp-hpm", "--tile", "16", "-q", *map(str, args)]
    return cmd + (["--log", str(log)] if log else [])


def _start(cmd: list[str], slow: float) -> subprocess.Popen:
    env = {**os.environ, "SLOW": str(slow), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _records(log: Path) -> list[dict]:
    text = log.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(ln) for ln in text.splitlines()]


def _workers(pid: int) -> list[int]:
    """The spawned worker processes of ``pid`` (its children running multiprocessing's spawn_main)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return [k for k in kids if b"spawn_main" in _read(f"/proc/{k}/cmdline")]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def _open_files(pid: int) -> list[str]:
    found = []
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            found.append(os.readlink(fd))
        except OSError:
            continue
    return found


def _writing(pid: int) -> str | None:
    """The PAN of the scene ``pid`` is writing the output of (its temporary file open), if any."""
    names = [Path(f).name for f in _open_files(pid)]
    if not any(n.startswith(".") and (n.endswith(".tmp") or n.endswith(".tmp.tif")) for n in names):
        return None
    return next((n for n in names if n.startswith("pan") and n.endswith(".tif")), None)


def _busy_worker(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str]:
    """A worker of ``proc`` writing an output, and the PAN of that scene."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        for w in _workers(proc.pid):
            if (pan := _writing(w)) is not None:
                return w, pan
        time.sleep(0.05)
    raise AssertionError("no worker started writing")


def _complete_outputs(out: Path) -> list[str]:
    """The outputs in OUTDIR, each a complete, tagged raster; nothing else there but the log (no
    temporary file, no claim)."""
    names = sorted(p.name for p in out.iterdir() if p.name != "pansharpen-batch.jsonl")
    for n in names:
        with rasterio.open(out / n) as ds:
            assert "PANSHARPEN_METHOD" in ds.tags() and ds.read().shape == (4, 64, 64)
    return names


def test_a_killed_worker_fails_only_its_scene_and_the_run_goes_on(scenes):
    proc = _start(_cli(scenes, "--jobs", "2"), slow=0.5)
    worker, pan = _busy_worker(proc)
    os.kill(worker, signal.SIGKILL)  # as the OOM killer does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    recs = _records(scenes / "out" / "pansharpen-batch.jsonl")
    (failed,) = [r for r in recs if r["status"] == "failed"]
    assert Path(failed["pan"]).name == pan  # the scene that worker was on
    assert failed["error"] == (
        "the worker process died (killed by SIGKILL (signal 9), likely out of memory: "
        "use fewer --jobs or a smaller --tile)"
    )
    assert sorted(r["status"] for r in recs) == ["done"] * (N - 1) + ["failed"]
    res = subprocess.run(_cli(scenes, "--jobs", "2"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    again = _records(scenes / "out" / "pansharpen-batch.jsonl")[N:]
    assert sorted(r["status"] for r in again) == ["done"] + ["skipped"] * (N - 1)
    assert _complete_outputs(scenes / "out") == [f"pan{i}.tif" for i in range(N)]


def test_workers_end_with_a_killed_batch_and_a_rerun_finishes(scenes):
    proc = _start(_cli(scenes, "--jobs", "2"), slow=0.5)
    log = scenes / "out" / "pansharpen-batch.jsonl"
    while not (log.exists() and log.read_text()):  # a scene done, the next ones running
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    _busy_worker(proc)
    workers = _workers(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.wait(30)  # not communicate(): surviving workers would hold its pipes open
    end = time.monotonic() + 5.0
    while any(_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "a worker outlived the batch process"
    before = _records(log)  # each scene finished before the kill is there
    assert before and all(r["status"] == "done" and Path(r["out"]).is_file() for r in before)
    res = subprocess.run(_cli(scenes, "--jobs", "2"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    recs = _records(log)[len(before) :]
    assert sorted(Path(r["out"]).name for r in recs) == [f"pan{i}.tif" for i in range(N)]
    assert {r["status"] for r in recs} <= {"done", "skipped"}
    skipped = {r["out"] for r in recs if r["status"] == "skipped"}
    assert {r["out"] for r in before} <= skipped  # (a scene renamed into place at the kill is too)
    assert _complete_outputs(scenes / "out") == [f"pan{i}.tif" for i in range(N)]


def test_two_runs_on_one_outdir_fuse_each_scene_once(scenes):
    runs = [_start(_cli(scenes), slow=0.6) for _ in range(2)]
    for p in runs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    recs = _records(scenes / "out" / "pansharpen-batch.jsonl")  # both runs append to it
    assert len(recs) == 2 * N
    done = sorted(Path(r["out"]).name for r in recs if r["status"] == "done")
    assert done == [f"pan{i}.tif" for i in range(N)]  # each scene fused exactly once
    busy = [r for r in recs if r.get("reason")]
    assert busy and all(r["status"] == "skipped" and "being fused by PID" in r["reason"] for r in busy)
    assert _complete_outputs(scenes / "out") == done


@pytest.fixture
def full_disk(tmpfs):
    """An 8 kB tmpfs (root only), unmounted after the test."""
    return tmpfs("8k")


def test_a_full_disk_under_the_log_stops_the_run_and_the_rerun_goes_on(scenes, full_disk):
    log = full_disk / "log.jsonl"
    old = json.dumps({"row": "old", "status": "done", "pad": "x" * 3800}) + "\n"
    log.write_text(old + '{"row": "torn", "sta')  # a line an earlier full disk cut
    (full_disk / "filler").write_bytes(b"\0" * 4096)  # the disk's other page
    res = subprocess.run(_cli(scenes, log=log), capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines() == [
        f"error: cannot write the log {log}: no space left on device (0.0 MB free): free some space or "
        "pass --log on another disk, then rerun the command to go on (finished scenes are kept)"
    ]
    assert log.read_text() == old  # the torn line cut off, no part of the new one
    kept = _complete_outputs(scenes / "out")
    (full_disk / "filler").unlink()
    res = subprocess.run(_cli(scenes, log=log), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    recs = _records(log)[1:]
    assert sorted(Path(r["out"]).name for r in recs if r["status"] == "skipped") == kept
    assert len(recs) == N and _complete_outputs(scenes / "out") == [f"pan{i}.tif" for i in range(N)]
