"""One scene of ``batch``: what it runs with (:class:`Scene`, :class:`BatchOptions`) and
:func:`run_scene`, which every executor calls, so they cannot differ: a finished output (complete,
with the tool's tags) is skipped unless ``overwrite``, an output another process is fusing (its
claim file, :mod:`.batchlog`) is skipped, the temporary files an earlier, killed run left for an
output are removed (by fuse, or here when the output is finished), a failure is retried ``retries`` times and then recorded,
never raised.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.errors import InputFileError, PansharpenError
from ..base.progress import Progress, no_progress
from ..io.raster import open_raster
from ..io.tempfiles import remove_stale_temps
from .batchlog import release_claim, remove_stale_claim, take_claim
from .fuse import METHOD_TAG, FuseOptions, fuse
from .manifest import Row

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: What a scene can end as.
STATUSES = ("done", "skipped", "failed")
Record = dict[str, Any]


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


def finished_method(path: Path) -> str | None:
    """The method of ``path`` when it is a complete output of the tool (outputs are renamed into
    place only once written, with their tags; a file without them is someone else's), else None."""
    if not path.is_file():
        return None
    try:
        with open_raster(path, "output") as ds:
            return ds.tags().get(METHOD_TAG)
    except InputFileError:
        return None


def is_finished(path: Path) -> bool:
    """True when ``path`` is a complete output of the tool (:func:`finished_method`)."""
    return finished_method(path) is not None


def _skipped(scene: Scene, t0: float, had: str) -> Record:
    """The record of a scene whose output is finished: the method it was fused with (``had``, the
    file's tag), and a note when this run asks for another."""
    extra: dict[str, Any] = {"method": had}
    if had != scene.options.method:
        extra["note"] = (
            f"fused earlier with -m {had}, this run asks for -m {scene.options.method}: pass --overwrite "
            "to fuse it again"
        )
    return record(scene, "skipped", time.perf_counter() - t0, **extra)


def message(exc: BaseException) -> str:
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


def record(scene: Scene, status: str, seconds: float, **extra: Any) -> Record:
    r = scene.row
    rec = {"pan": str(r.pan), "ms": [str(m) for m in r.ms], "out": str(r.out), "row": r.line}
    rec.update(status=status, method=scene.options.method, seconds=round(seconds, 3), error=None)
    rec.update(extra)
    return rec


def run_scene(scene: Scene, options: BatchOptions, progress: Progress = no_progress) -> Record:
    """Fuse one scene as ``pansharpen fuse`` would, under its claim; never raises (except Ctrl-C,
    which may also come from ``progress``: the writer then removes the partial output).

    Returns:
        its record: ``pan``, ``ms``, ``out``, ``row``, ``status`` (done, skipped or failed),
        ``method``, ``seconds``, ``error`` (the message, or None), for done scenes ``attempts``,
        ``figures`` (fuse's quality figures), ``stages`` (seconds per stage), ``warnings``, for
        a scene another process is fusing ``reason`` (``being fused by PID N@HOST since ...``), and
        for a finished one the method its file was fused with (``method``) and, when this run asks
        for another, a ``note`` saying so.
    """
    t0 = time.perf_counter()
    out = scene.row.out
    if not options.overwrite and (had := finished_method(out)) is not None:
        remove_stale_temps(out)  # a fused scene's are removed by fuse itself
        remove_stale_claim(out)  # left by a run killed between the rename and the release
        return _skipped(scene, t0, had)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        mine, other = take_claim(out)
    except OSError as exc:
        why = os.strerror(exc.errno).lower() if exc.errno else message(exc)
        error = f"cannot write in {out.parent}: {why}: pick a writable OUTDIR (or manifest out)"
        return record(scene, "failed", time.perf_counter() - t0, error=error, attempts=0)
    if mine is None:
        holder = other.holder() if other is not None else "another process"
        reason = f"being fused by {holder} (its claim: {other.path if other else out})"
        return record(scene, "skipped", time.perf_counter() - t0, reason=reason)
    try:
        if not options.overwrite and (had := finished_method(out)) is not None:  # by another run just now
            return _skipped(scene, t0, had)
        return _attempts(scene, options, progress, t0)
    finally:
        release_claim(mine)


def _attempts(scene: Scene, options: BatchOptions, progress: Progress, t0: float) -> Record:
    """Fuse the scene, up to ``retries`` more times after a failure; its record."""
    row = scene.row
    opts = replace(scene.options, overwrite=options.overwrite)
    error = ""
    for attempt in range(1, options.retries + 2):
        try:
            res = fuse(row.pan, row.ms, row.out, opts, progress=progress)
        except Exception as exc:  # noqa: BLE001 - a failing scene is recorded, the run goes on
            error = message(exc)
            log.debug("%s: attempt %d failed", row.line, attempt, exc_info=True)
            continue
        seconds = time.perf_counter() - t0
        figs, stages = _figures(res.report), {k: round(v, 3) for k, v in res.seconds.items()}
        return record(
            scene, "done", seconds, attempts=attempt, figures=figs, stages=stages, warnings=res.warnings
        )
    return record(scene, "failed", time.perf_counter() - t0, error=error, attempts=options.retries + 1)
