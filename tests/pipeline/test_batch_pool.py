"""The worker pool: a worker that dies fails (or gives back for a retry) only its own task, a new
worker takes its place, the others go on; the executor's retry accounting."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from pansharpen_cli.pipeline import executors
from pansharpen_cli.pipeline.batch import BatchOptions
from pansharpen_cli.pipeline.workerpool import PoolCalls, WorkerPool, death_message
from tests.pipeline.test_batch import _scene


def _init(marker: str) -> None:
    os.environ["POOL_MARKER"] = marker


def _work(key: int) -> tuple[int, int]:
    """Key 1 kills its worker the first time (as the OOM killer would); the others return."""
    marker = Path(os.environ["POOL_MARKER"])
    if key == 1 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if key == 3:
        raise ValueError("a task that raises")
    return key, os.getpid()


def _run(tmp_path: Path, retry: bool) -> tuple[dict, dict]:
    results, deaths = {}, {}

    def death(key, why):
        deaths[key] = why
        return retry

    calls = PoolCalls(lambda k: (k,), results.__setitem__, death, lambda slot: (str(tmp_path / "died"),))
    pool = WorkerPool(multiprocessing.get_context("spawn"), 2, _init, _work, calls)
    try:
        pool.run(range(6))
    finally:
        pool.close()
    assert all(not s.proc.is_alive() for s in pool.slots)
    return results, deaths


def test_a_dead_worker_fails_only_its_task_and_is_replaced(tmp_path):
    results, deaths = _run(tmp_path, retry=False)
    assert deaths == {1: "the worker process died (killed by SIGKILL (signal 9), likely out of memory: "
                         "use fewer --jobs or a smaller --tile)"}
    assert sorted(results) == [0, 2, 3, 4, 5] and isinstance(results[3], RuntimeError)
    assert "ValueError: a task that raises" in str(results[3])


def test_a_task_given_back_is_run_again_by_a_new_worker(tmp_path):
    results, deaths = _run(tmp_path, retry=True)
    assert list(deaths) == [1] and sorted(results) == list(range(6)) and results[1][0] == 1


def test_death_messages():
    assert death_message(-signal.SIGTERM) == "the worker process died (killed by SIGTERM (signal 15))"
    assert death_message(3) == "the worker process died (exit code 3)"


def test_retries_count_the_deaths(tmp_path):
    scenes = [_scene(tmp_path, "a")]
    taken = []
    calls = executors._pool_calls(scenes, BatchOptions(retries=1, jobs=2), lambda s, r: taken.append(r), None)
    assert calls.task(0)[1].retries == 1
    assert calls.death(0, "the worker process died (killed by SIGKILL (signal 9))") is True
    assert calls.task(0)[1].retries == 0  # one attempt spent by the death
    calls.result(0, {"status": "done", "attempts": 1})
    assert taken[-1]["attempts"] == 2
    assert calls.death(0, "died again") is False
    assert (taken[-1]["status"], taken[-1]["error"], taken[-1]["attempts"]) == ("failed", "died again", 2)
