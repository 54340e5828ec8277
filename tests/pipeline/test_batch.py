"""run_scene and run_batch without the CLI: records, the log, Ctrl-C, threads per worker."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pansharpen_cli.pipeline import batch, executors
from pansharpen_cli.pipeline.batchlog import claim_path, release_claim, take_claim
from pansharpen_cli.pipeline.batch import BatchOptions, Scene, run_batch, run_scene
from pansharpen_cli.pipeline.fuse import FuseOptions
from pansharpen_cli.pipeline.manifest import Row
from tests.conftest import make_pair


def _scene(tmp_path, name: str = "") -> Scene:
    pan, ms, _ = make_pair(tmp_path, size=64, name=name)
    row = Row(f"m.csv:{name or 1}", pan, [ms], tmp_path / "out" / f"f{name}.tif")
    return Scene(row, FuseOptions(method="mtf-glp-hpm", sensor="generic"))


def test_ctrl_c_from_progress_leaves_no_partial_output(tmp_path):
    scene = _scene(tmp_path)

    def interrupt(task, completed, total, info):
        if task == "fuse":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_scene(scene, BatchOptions(), interrupt)
    assert list((tmp_path / "out").iterdir()) == []
    assert run_scene(scene, BatchOptions())["status"] == "done"
    assert run_scene(scene, BatchOptions())["status"] == "skipped"


def test_stop_check_raises_once_the_flag_is_set():
    flag = threading.Event()
    check = batch._StopCheck(flag, every=0.0)
    check("fuse", 1, 2, {})
    flag.set()
    with pytest.raises(KeyboardInterrupt):
        check("fuse", 2, 2, {})


def test_run_batch_records_in_order_log_and_progress(tmp_path):
    scenes = [_scene(tmp_path, "a"), _scene(tmp_path, "b")]
    scenes[1].row.ms = [tmp_path / "nowhere.tif"]
    calls = []
    log = tmp_path / "logs" / "run.jsonl"
    recs = run_batch(scenes, BatchOptions(log=log), lambda *a: calls.append(a))
    assert [r["status"] for r in recs] == ["done", "failed"]
    assert "MS file not found" in recs[1]["error"] and recs[1]["attempts"] == 1
    assert [json.loads(ln) for ln in log.read_text().splitlines()] == recs
    assert calls[0] == ("scenes", 0, 2, {"done": 0, "skipped": 0, "failed": 0})
    assert calls[-1] == ("scenes", 2, 2, {"done": 1, "skipped": 0, "failed": 1})


def test_threads_per_worker_share_the_cores(monkeypatch):
    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert [BatchOptions(jobs=j).worker_threads() for j in (1, 2, 3, 16)] == [8, 4, 2, 1]
    assert BatchOptions(jobs=2, threads=3).worker_threads() == 3


def test_paths_are_made_absolute_before_the_scenes_leave(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scene = _scene(tmp_path)
    opts = replace(scene.options, weights="w/../my.pt")
    rel = Scene(Row("m.csv:1", Path("pan.tif"), [Path("ms.tif")], Path("out/f.tif")), opts)
    a = batch.absolute(rel)
    assert (a.row.pan, a.row.ms) == (tmp_path / "pan.tif", [tmp_path / "ms.tif"])
    assert a.row.out == tmp_path / "out" / "f.tif"
    assert a.options.weights == str(tmp_path / "my.pt") and batch.absolute(scene).options.weights == "default"


def test_a_worker_that_cannot_see_an_input_says_the_workers_need_the_same_file_system(tmp_path):
    scene = _scene(tmp_path)
    assert executors.unseen_inputs(scene) is None
    scene.row.ms = [tmp_path / "only-on-the-client.tif"]
    msg = executors.unseen_inputs(scene)
    missing = tmp_path / "only-on-the-client.tif"
    assert f"cannot see MS {missing}: the workers need the same file system as the client" in msg


def test_a_scene_another_process_is_fusing_is_skipped_with_the_reason(tmp_path):
    scene = _scene(tmp_path)
    scene.row.out.parent.mkdir()
    mine, _ = take_claim(scene.row.out)  # as another run would, just before fusing it
    rec = run_scene(scene, BatchOptions())
    assert rec["status"] == "skipped" and rec["reason"].startswith(f"being fused by PID {os.getpid()}@")
    assert not scene.row.out.exists()
    release_claim(mine)
    assert run_scene(scene, BatchOptions())["status"] == "done" and not claim_path(scene.row.out).exists()


def test_a_finished_scene_skipped_on_resume_loses_its_stale_temps(tmp_path):
    import subprocess

    from pansharpen_cli.io import tempfiles

    scene = _scene(tmp_path)
    assert run_scene(scene, BatchOptions())["status"] == "done"
    gone = subprocess.Popen(["true"])
    gone.wait()  # a PID that has just ended: the writer of the temp below was killed
    out = scene.row.out
    stale = out.with_name(f".ps-{tempfiles._key(out)}-{tempfiles._HOST}-{gone.pid}-beef.tmp")
    stale.write_bytes(b"\0" * 1024)
    other = out.with_name(f".ps-{'0' * 12}-{tempfiles._HOST}-{gone.pid}-beef.tmp")  # another output's
    other.write_bytes(b"")
    assert run_scene(scene, BatchOptions())["status"] == "skipped"
    assert not stale.exists() and other.exists()


def test_a_finished_scene_skipped_on_resume_loses_a_stale_claim_not_a_live_one(tmp_path):
    import subprocess
    import time

    from pansharpen_cli.pipeline import batchlog

    scene = _scene(tmp_path)
    assert run_scene(scene, BatchOptions())["status"] == "done"
    path = claim_path(scene.row.out)
    gone = subprocess.Popen(["true"])
    gone.wait()  # the run was killed after renaming the output into place, before releasing its claim
    body = {"pid": gone.pid, "host": batchlog.HOST, "start": time.time(), "token": "killed"}
    path.write_text(json.dumps(body))
    assert run_scene(scene, BatchOptions())["status"] == "skipped" and not path.exists()
    body.update(pid=os.getpid(), token="live")  # a live holder (another run overwriting it): kept
    path.write_text(json.dumps(body))
    assert run_scene(scene, BatchOptions())["status"] == "skipped" and path.exists()


def test_a_file_the_client_cannot_see_either_is_left_to_fail_as_not_found(tmp_path):
    """Audit 2, D6: with --scheduler a missing file was blamed on the workers' file system."""
    scene = _scene(tmp_path)
    missing = tmp_path / "missing_MS.tif"
    scene.row.ms = [missing]
    seen = executors.client_seen(scene)
    assert str(scene.row.pan) in seen and str(missing) not in seen
    assert executors.unseen_inputs(scene, seen) is None  # run_scene then says "MS file not found"
    rec = run_scene(scene, BatchOptions())
    assert rec["status"] == "failed" and "not found" in rec["error"], rec
    (tmp_path / "elsewhere").mkdir()
    gone = tmp_path / "elsewhere" / "ms.tif"
    gone.touch()
    scene.row.ms = [gone]
    seen = executors.client_seen(scene)  # the client sees it; the worker does not (gone from its view)
    gone.unlink()
    assert f"cannot see MS {gone}: the workers need" in executors.unseen_inputs(scene, seen)
