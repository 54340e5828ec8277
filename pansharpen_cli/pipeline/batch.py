"""``batch``: many scenes through :func:`~pansharpen_cli.pipeline.fuse.fuse`, resumable, one bad
scene never stopping the run, in this process, in local worker processes or on a Dask cluster.

Every executor calls the one :func:`run_scene`, so they cannot differ: a finished output (complete,
with the tool's tags) is skipped unless ``overwrite``, a failure is retried ``retries`` times and
then recorded, never raised. Each record is appended to the JSON-lines log as it comes in. Dask is
imported only when a scheduler is asked for.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import methods
from ..base.errors import InputFileError, OptionError, PansharpenError
from ..base.progress import Progress, no_progress
from ..base.runtime import keep_freed_memory
from ..io.raster import open_raster
from .fuse import METHOD_TAG, FuseOptions, fuse
from .manifest import Row

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: What a scene can end as.
STATUSES = ("done", "skipped", "failed")
Record = dict[str, Any]
#: Seconds a Dask run waits on Ctrl-C for its tasks to stop (a task stops at its next progress step).
STOP_WAIT = 60


@dataclass
class Scene:
    """One row of the list with the fuse options it runs with (the command line's, its cells over them)."""

    row: Row
    options: FuseOptions


@dataclass
class BatchOptions:
    """How :func:`run_batch` runs the scenes.

    Attributes:
        overwrite: fuse again scenes whose output is finished (else they are skipped).
        retries: further attempts of a failed scene.
        jobs: worker processes (1 with no scheduler: in this process).
        scheduler: None (local processes), ``"local"`` (a Dask LocalCluster of ``jobs`` workers) or
            the address of a Dask scheduler (``tcp://HOST:8786``).
        threads: torch (and tile) threads per worker; None: the cores divided by ``jobs``.
        devices: the torch device of each local worker, handed out one per worker (empty: the
            scenes' own); Dask tasks ask for the resource ``GPU=1`` when the scenes' device is CUDA.
        log: the JSON-lines log, appended to (None: none).
    """

    overwrite: bool = False
    retries: int = 0
    jobs: int = 1
    scheduler: str | None = None
    threads: int | None = None
    devices: list[torch.device] = field(default_factory=list)
    log: Path | None = None

    def worker_threads(self) -> int:
        """Threads per worker: ``threads``, or the cores this process may use over ``jobs``."""
        if self.threads is not None:
            return max(1, self.threads)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // max(1, self.jobs))


def is_finished(path: Path) -> bool:
    """True when ``path`` is a complete output of the tool (outputs are renamed into place only
    once written, with their tags; a file without them is someone else's)."""
    if not path.is_file():
        return False
    try:
        with open_raster(path, "output") as ds:
            return METHOD_TAG in ds.tags()
    except InputFileError:
        return False


def _message(exc: BaseException) -> str:
    """One line saying what went wrong (the tool's errors as they are, others with their type)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, PansharpenError):
        return text
    if isinstance(exc, MemoryError):
        return "out of memory: use a smaller --tile or fewer --jobs"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """The quality figures of fuse's report (zero-shot): the fit's final and holdout losses, the
    spectral response's holdout error, the MS-PAN shift applied."""
    zs = report.get("zeroshot") or {}
    figs: dict[str, Any] = {k: v for k, v in (zs.get("final_losses") or {}).items() if isinstance(v, float)}
    if (best := (zs.get("holdout") or {}).get("best_loss")) is not None:
        figs["holdout_loss"] = best
    resp = zs.get("spectral_response") or {}
    if (mse := resp.get(f"{resp.get('kind')}_holdout_mse")) is not None:
        figs["response_mse"] = mse
    if (reg := zs.get("registration")) is not None:
        figs["shift_pan_pixels"] = reg.get("shift_pan_pixels")
    return figs


def _record(scene: Scene, status: str, seconds: float, **extra: Any) -> Record:
    r = scene.row
    rec = {"pan": str(r.pan), "ms": [str(m) for m in r.ms], "out": str(r.out), "row": r.line}
    rec.update(status=status, method=scene.options.method, seconds=round(seconds, 3), error=None)
    rec.update(extra)
    return rec


def run_scene(scene: Scene, options: BatchOptions, progress: Progress = no_progress) -> Record:
    """Fuse one scene as ``pansharpen fuse`` would; never raises (except Ctrl-C, which may also come
    from ``progress``: the writer then removes the partial output).

    Returns:
        its record: ``pan``, ``ms``, ``out``, ``row``, ``status`` (done, skipped or failed),
        ``method``, ``seconds``, ``error`` (the message, or None), and for done scenes ``attempts``,
        ``figures`` (fuse's quality figures), ``stages`` (seconds per stage), ``warnings``.
    """
    t0 = time.perf_counter()
    row = scene.row
    if not options.overwrite and is_finished(row.out):
        return _record(scene, "skipped", time.perf_counter() - t0)
    opts = replace(scene.options, overwrite=options.overwrite)
    error = ""
    for attempt in range(1, options.retries + 2):
        try:
            row.out.parent.mkdir(parents=True, exist_ok=True)
            res = fuse(row.pan, row.ms, row.out, opts, progress=progress)
        except Exception as exc:  # noqa: BLE001 - a failing scene is recorded, the run goes on
            error = _message(exc)
            log.debug("%s: attempt %d failed", row.line, attempt, exc_info=True)
            continue
        seconds = time.perf_counter() - t0
        figs, stages = _figures(res.report), {k: round(v, 3) for k, v in res.seconds.items()}
        return _record(
            scene, "done", seconds, attempts=attempt, figures=figs, stages=stages, warnings=res.warnings
        )
    return _record(scene, "failed", time.perf_counter() - t0, error=error, attempts=options.retries + 1)


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


def _init_worker(threads: int, devices: Any = None, stop: Any = None) -> None:
    """Set a worker process up once: the pipeline imported, its threads, its device (one of the
    queue ``devices``), the run's ``stop`` flag, the tool's log records kept out of the terminal
    (they are in the log). Torch is imported by the first scene that needs it (:func:`_torch_threads`)."""
    keep_freed_memory()
    logging.getLogger("pansharpen_cli").addHandler(logging.NullHandler())
    logging.getLogger("pansharpen_cli").propagate = False
    _WORKER.update(threads=threads, device=None, stop=stop, torch=False)
    if devices is not None:
        try:
            _WORKER["device"] = devices.get(timeout=1.0)
        except queue.Empty:  # more workers than devices: the scenes' own device
            pass


def _torch_threads() -> None:
    """Import torch (once per worker) and give it the worker's threads."""
    if not _WORKER["torch"]:
        import torch

        torch.set_num_threads(_WORKER["threads"])
        _WORKER["torch"] = True


def _init_pool_worker(threads: int, devices: Any, stop: Any) -> None:
    """A pool process: Ctrl-C (and SIGTERM, SIGHUP) reach it through ``stop``, set by the main
    process, never halfway through a write or between two tasks."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    _init_worker(threads, devices, stop)


def _on_worker(scene: Scene, options: BatchOptions, stop_event: str | None = None) -> Record:
    """:func:`run_scene` in a worker: with the worker's threads (and device, when it has one),
    stopping when the run's stop flag is set (``stop_event``: the name of a Dask Event)."""
    if "threads" not in _WORKER:  # a Dask worker: set up by its first task
        _init_worker(options.worker_threads())
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
        return _record(scene, "interrupted", 0.0)


# -- executors ------------------------------------------------------------------------------------
Take = Callable[[Scene, Record], None]


def _serial(scenes: Sequence[Scene], options: BatchOptions, take: Take) -> None:
    for s in scenes:
        take(s, run_scene(s, options))


def _processes(scenes: Sequence[Scene], options: BatchOptions, take: Take) -> None:
    """``jobs`` spawned worker processes (safer with torch than fork), each set up once; on Ctrl-C
    the running scenes stop at their next progress step and the queued ones do not start."""
    ctx = multiprocessing.get_context("spawn")
    devices = ctx.Queue() if options.devices else None
    for d in options.devices:
        devices.put(d)
    stop = ctx.Event()
    initargs = (options.worker_threads(), devices, stop)
    pool = ProcessPoolExecutor(options.jobs, mp_context=ctx, initializer=_init_pool_worker, initargs=initargs)
    try:
        futures = {pool.submit(_on_worker, s, options): s for s in scenes}
        for f in as_completed(futures):
            s = futures[f]
            try:
                rec = f.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died fails its scenes, not the run
                rec = _record(s, "failed", 0.0, error=f"worker process failed: {_message(exc)}")
            take(s, rec)
    except BaseException:  # Ctrl-C, or a terminating signal the CLI raises as an exception
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
            resources={"GPU": 1} if gpu else None,
        )
        return distributed.Client(cluster), cluster
    try:
        client = distributed.Client(options.scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(
            f"--scheduler {options.scheduler}: cannot reach a Dask scheduler there ({_message(exc)}); "
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
            key = f"pansharpen-{s.row.pan.stem}-{i}-{tag}"
            resources = {"GPU": 1} if gpu else None
            f = client.submit(
                _on_worker, s, options, stop.name, key=key, retries=options.retries, resources=resources
            )
            futures[f.key] = s
            pending.append(f)
        for f in distributed.as_completed(pending):
            s = futures[f.key]
            try:
                rec = f.result()
            except Exception as exc:  # noqa: BLE001 - a lost task fails its scene, not the run
                rec = _record(s, "failed", 0.0, error=f"Dask task failed: {_message(exc)}")
            take(s, rec)
    except BaseException:  # Ctrl-C, or a terminating signal the CLI raises as an exception
        _wind_down(client, stop, pending)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_batch(
    scenes: Sequence[Scene], options: BatchOptions, progress: Progress = no_progress
) -> list[Record]:
    """Run every scene with the executor ``options`` choose; each record goes to the log as it comes.

    Progress: ``("scenes", finished, total, {"done": .., "skipped": .., "failed": ..})``.

    Returns:
        the records in the scenes' order.

    Raises:
        OptionError: a scheduler without Dask installed, or one that cannot be reached.
    """
    records: dict[int, Record] = {}
    index = {id(s): i for i, s in enumerate(scenes)}
    counts: Counter = Counter()
    log_file = None
    if options.log is not None:
        options.log.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(options.log, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    progress("scenes", 0, len(scenes), {k: 0 for k in STATUSES})

    def take(scene: Scene, rec: Record) -> None:
        records[index[id(scene)]] = rec
        counts[rec["status"]] += 1
        if log_file is not None:
            log_file.write(json.dumps(rec, default=str) + "\n")
            log_file.flush()
        progress("scenes", len(records), len(scenes), {k: counts[k] for k in STATUSES})

    executor = _dask if options.scheduler else _processes if options.jobs > 1 else _serial
    try:
        executor(scenes, options, take)
    finally:
        if log_file is not None:
            log_file.close()
    return [records[i] for i in sorted(records)]
