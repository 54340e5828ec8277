"""``batch``'s executors: in this process, in local worker processes (:mod:`.workerpool`: a
worker that dies fails, or retries, only its own scene) or on a Dask cluster. Each runs
:func:`~.scene.run_scene` on every scene and hands each record to ``take`` as it comes. Dask is
imported only when a scheduler is asked for.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from .. import methods
from ..base.errors import OptionError
from ..base.progress import no_progress
from ..base.runtime import keep_freed_memory
from ..io.gdalpaths import input_stem, is_gdal_path
from .scene import BatchOptions, Record, Scene, message, record, run_scene
from .workerpool import PoolCalls, WorkerPool

log = logging.getLogger(__name__)

#: Seconds a run waits on Ctrl-C (or a failed log write) for its running scenes to stop (a scene
#: stops at its next progress step).
STOP_WAIT = 60

# -- workers ------------------------------------------------------------------------------------
#: This process's worker settings (set once by the pool's initializer or the first Dask task).
_WORKER: dict[str, Any] = {}


class _StopCheck:
    """A progress callback that raises KeyboardInterrupt once the run's stop flag (a multiprocessing
    or Dask Event) is set, looked at most every ``every`` seconds: a worker's scene stops cleanly."""

    def __init__(self, flag: Any, every: float = 0.5) -> None:
        self.flag, self.every, self.last = flag, every, -float("inf")

    def __call__(self, task: str, completed: int, total: int, info: dict) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            if self.flag.is_set():
                raise KeyboardInterrupt


def _init_worker(threads: int, device: Any = None, stop: Any = None) -> None:
    """Set a worker process up once: the pipeline imported, its threads, its ``device`` (None: the
    scenes' own), the run's ``stop`` flag, the tool's log records kept out of the terminal (they
    are in the log). Torch is imported by the first scene that needs it (:func:`_torch_threads`)."""
    keep_freed_memory()
    logging.getLogger("pansharpen_cli").addHandler(logging.NullHandler())
    logging.getLogger("pansharpen_cli").propagate = False
    _WORKER.update(threads=threads, device=device, stop=stop, torch=False)


def _torch_threads() -> None:
    """Import torch (once per worker) and give it the worker's threads."""
    if not _WORKER["torch"]:
        import torch

        torch.set_num_threads(_WORKER["threads"])
        _WORKER["torch"] = True


def _init_pool_worker(threads: int, device: Any, stop: Any) -> None:
    """A pool process: Ctrl-C (and SIGTERM, SIGHUP) reach it through ``stop``, set by the main
    process, never halfway through a write or between two tasks."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    _init_worker(threads, device, stop)


def _local_inputs(scene: Scene) -> list[tuple[str, str]]:
    """(role, path) of the scene's inputs that are local files (a GDAL path is found by opening it:
    its scene fails with its own message)."""
    weights = scene.options.weights
    paths = [("PAN", scene.row.pan)] + [("MS", m) for m in scene.row.ms]
    if weights.strip().lower() not in ("default", "none"):
        paths.append(("weights", weights))
    return [(what, str(p)) for what, p in paths if not is_gdal_path(p)]


def client_seen(scene: Scene) -> frozenset[str]:
    """On the client: the scene's local inputs it can see (those a worker that cannot see them is
    told about; a file missing on the client too fails as not found)."""
    return frozenset(p for _, p in _local_inputs(scene) if os.path.exists(p))


def unseen_inputs(scene: Scene, seen: frozenset[str] | None = None) -> str | None:
    """On a Dask worker: the message for the scene's inputs this worker cannot see though the client
    sees them (``seen``: :func:`client_seen`; None: every input; None returned: all seen)."""
    missing = [
        f"{what} {p}"
        for what, p in _local_inputs(scene)
        if (seen is None or p in seen) and not os.path.exists(p)
    ]
    if not missing:
        return None
    return (
        f"the Dask worker on {socket.gethostname()} cannot see {', '.join(missing)}: the workers need "
        "the same file system as the client, at the same paths (mount it there, or run without --scheduler)"
    )


def _on_worker(
    scene: Scene, options: BatchOptions, stop_event: str | None = None, seen: frozenset[str] | None = None
) -> Record:
    """:func:`run_scene` in a worker: with the worker's threads (and device, when it has one),
    stopping when the run's stop flag is set (``stop_event``: the name of a Dask Event; ``seen``:
    the inputs the client sees, :func:`client_seen`)."""
    if "threads" not in _WORKER:  # a Dask worker: set up by its first task
        _init_worker(options.worker_threads())
    if stop_event and (unseen := unseen_inputs(scene, seen)):
        return record(scene, "failed", 0.0, error=unseen, attempts=1)
    opts = replace(scene.options, workers=_WORKER["threads"])
    if methods.get(opts.method).adapts:
        _torch_threads()
        if _WORKER["device"] is not None:
            opts.device = _WORKER["device"]
    flag = _distributed().Event(stop_event) if stop_event else _WORKER["stop"]
    progress = _StopCheck(flag) if flag is not None else no_progress
    try:
        return run_scene(replace(scene, options=opts), options, progress)
    except KeyboardInterrupt:  # the run is stopping; nobody logs this record
        return record(scene, "interrupted", 0.0)


# -- executors ------------------------------------------------------------------------------------
Take = Callable[[Scene, Record], None]


def _serial(scenes: Sequence[Scene], options: BatchOptions, take: Take) -> None:
    for s in scenes:
        take(s, run_scene(s, options))


def _pool_calls(scenes: Sequence[Scene], options: BatchOptions, take: Take, stop: Any) -> PoolCalls:
    """The pool's calls for the scenes: a scene whose worker died is retried while ``retries``
    allow (its later attempts with that many fewer retries), else recorded failed."""
    deaths = [0] * len(scenes)
    devices, threads = options.devices, options.worker_threads()

    def task(i: int) -> tuple:
        return scenes[i], replace(options, retries=options.retries - deaths[i])

    def result(i: int, rec: Any) -> None:
        if isinstance(rec, Exception):  # the worker could not run the scene at all
            rec = record(scenes[i], "failed", 0.0, error=f"worker process failed: {message(rec)}")
        elif deaths[i]:
            rec["attempts"] = rec.get("attempts", 1) + deaths[i]
        take(scenes[i], rec)

    def death(i: int, why: str) -> bool:
        deaths[i] += 1
        log.debug("%s: %s", scenes[i].row.line, why)
        if deaths[i] <= options.retries:
            return True
        take(scenes[i], record(scenes[i], "failed", 0.0, error=why, attempts=deaths[i]))
        return False

    def initargs(slot: int) -> tuple:
        return threads, devices[slot % len(devices)] if devices else None, stop

    return PoolCalls(task, result, death, initargs)


def _processes(scenes: Sequence[Scene], options: BatchOptions, take: Take) -> None:
    """``jobs`` spawned worker processes (safer with torch than fork), each set up once and ending
    with this process; a worker that dies fails (or retries) only its scene and is replaced. On
    Ctrl-C the running scenes stop at their next progress step and the queued ones do not start."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    calls = _pool_calls(scenes, options, take, stop)
    pool = WorkerPool(ctx, min(options.jobs, len(scenes)), _init_pool_worker, _on_worker, calls)
    try:
        pool.run(range(len(scenes)))
    except BaseException:  # Ctrl-C, a terminating signal the CLI raises, a log that cannot be written
        stop.set()
        pool.drain(STOP_WAIT)
        raise
    finally:
        pool.close()


def _distributed() -> Any:
    """Dask's distributed package, imported only now (an optional extra)."""
    try:
        import distributed
    except ImportError:
        raise OptionError(
            "--scheduler needs Dask's distributed package: pip install distributed "
            "(the extra 'dask' of pansharpen)"
        ) from None
    return distributed


def _dask_client(options: BatchOptions, gpu: bool) -> Any:
    """A client of a new LocalCluster (``local``; its workers hold a GPU each when ``gpu``) or of
    the scheduler at ``options.scheduler``."""
    distributed = _distributed()
    if options.scheduler == "local":
        cluster = distributed.LocalCluster(
            n_workers=options.jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler serves HTTP routes even without a dashboard, on port 8787 by default:
            # a free port on the loopback instead, so that no "Port 8787 is already in use"
            # UserWarning reaches the user when another cluster holds it
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            resources={"GPU": 1} if gpu else None,
        )
        return distributed.Client(cluster), cluster
    try:
        client = distributed.Client(options.scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(
            f"--scheduler {options.scheduler}: cannot reach a Dask scheduler there ({message(exc)}); "
            "start one with `dask scheduler` or use --scheduler local"
        ) from None
    workers = client.scheduler_info().get("workers", {}).values()
    if gpu and workers and not any("GPU" in (w.get("resources") or {}) for w in workers):
        client.close()
        raise OptionError(
            f"--scheduler {options.scheduler}: no worker has the resource GPU the scenes ask for on CUDA: "
            "start the workers with `dask worker ... --resources GPU=1`, or pass --device cpu"
        )
    return client, None


def _wind_down(client: Any, stop: Any, pending: list) -> None:
    """Tell the tasks to stop and wait (up to STOP_WAIT s, while the cluster has workers) for them."""
    end = time.monotonic() + STOP_WAIT
    try:
        stop.set()
        while time.monotonic() < end and not all(f.done() for f in pending):
            if not client.scheduler_info().get("workers"):
                return  # the workers went too (Ctrl-C reached a LocalCluster's processes)
            time.sleep(0.5)
    except Exception:  # noqa: BLE001 - stopping anyway
        log.debug("Dask tasks not wound down", exc_info=True)


def _dask(scenes: Sequence[Scene], options: BatchOptions, take: Take) -> None:
    """Scenes as Dask tasks (retried by Dask too); CUDA scenes ask for the resource GPU=1. On Ctrl-C
    the tasks are told to stop (a Dask Event) and given time to remove their partial outputs."""
    distributed = _distributed()
    gpu = any(s.options.device is not None and s.options.device.type == "cuda" for s in scenes)
    client, cluster = _dask_client(options, gpu)
    tag = uuid.uuid4().hex[:8]
    stop = distributed.Event(f"pansharpen-stop-{tag}", client=client)
    futures, pending = {}, []
    try:
        for i, s in enumerate(scenes):
            key = f"pansharpen-{input_stem(s.row.pan)}-{i}-{tag}"
            resources = {"GPU": 1} if gpu else None
            f = client.submit(
                _on_worker, s, options, stop.name, client_seen(s), key=key, retries=options.retries,
                resources=resources,
            )
            futures[f.key] = s
            pending.append(f)
        for f in distributed.as_completed(pending):
            s = futures[f.key]
            try:
                rec = f.result()
            except Exception as exc:  # noqa: BLE001 - a lost task fails its scene, not the run
                rec = record(s, "failed", 0.0, error=f"Dask task failed: {message(exc)}")
            take(s, rec)
    except BaseException:  # Ctrl-C, or a terminating signal the CLI raises as an exception
        _wind_down(client, stop, pending)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


