"""run_scene and run_batch without the CLI: records, the log, Ctrl-C, threads per worker."""

from __future__ import annotations

import json
import threading

import pytest

from pansharpen_cli.pipeline import batch
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
