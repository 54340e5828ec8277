"""``batch``: many scenes through :func:`~pansharpen_cli.pipeline.fuse.fuse`, resumable, one bad
scene never stopping the run, in this process, in local worker processes or on a Dask cluster.

The pieces: :mod:`.scene` (one scene: :func:`run_scene`, which every executor calls, so they
cannot differ), :mod:`.executors` (in-process, worker processes, Dask), :mod:`.workerpool` (the
worker processes), :mod:`.batchlog` (the JSON-lines log, the per-output claim files). Here:
:func:`run_batch`, which makes every path absolute (Dask workers run in other folders), opens the
log (its torn tail repaired) and appends each record as it comes in.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..base.progress import Progress, no_progress
from ..io.gdalpaths import absolute_input
from .batchlog import BatchLog, LogWriteError
from .executors import STOP_WAIT, _dask, _processes, _serial, _StopCheck
from .scene import STATUSES, BatchOptions, Record, Scene, is_finished, run_scene

__all__ = [
    "STATUSES",
    "STOP_WAIT",
    "BatchOptions",
    "LogWriteError",
    "Record",
    "Scene",
    "_StopCheck",
    "absolute",
    "is_finished",
    "run_batch",
    "run_scene",
]


def _abs(path: Path) -> Path:
    return Path(os.path.abspath(path))


def absolute(scene: Scene) -> Scene:
    """The scene with every path absolute (PAN, MS, output, a weights file), as seen from here."""
    r = scene.row
    row = replace(r, pan=absolute_input(r.pan), ms=[absolute_input(m) for m in r.ms], out=_abs(r.out))
    opts = scene.options
    if opts.weights.strip().lower() not in ("default", "none"):
        opts = replace(opts, weights=str(_abs(Path(opts.weights))))
    return Scene(row, opts)


def run_batch(
    scenes: Sequence[Scene], options: BatchOptions, progress: Progress = no_progress
) -> list[Record]:
    """Run every scene with the executor ``options`` choose; each record goes to the log as it comes.

    Progress: ``("scenes", finished, total, {"done": .., "skipped": .., "failed": ..})``.

    Returns:
        the records in the scenes' order, paths absolute.

    Raises:
        OptionError: a scheduler without Dask installed, or one that cannot be reached.
        LogWriteError: the log cannot be written (a full disk): the run stops, finished outputs stay.
    """
    scenes = [absolute(s) for s in scenes]
    records: dict[int, Record] = {}
    index = {id(s): i for i, s in enumerate(scenes)}
    counts: Counter = Counter()
    log = BatchLog(_abs(options.log)) if options.log is not None else None
    progress("scenes", 0, len(scenes), {k: 0 for k in STATUSES})

    def take(scene: Scene, rec: Record) -> None:
        if log is not None:
            log.append(rec)
        records[index[id(scene)]] = rec
        counts[rec["status"]] += 1
        progress("scenes", len(records), len(scenes), {k: counts[k] for k in STATUSES})

    executor = _dask if options.scheduler else _processes if options.jobs > 1 else _serial
    try:
        executor(scenes, options, take)
    finally:
        if log is not None:
            log.close()
    return [records[i] for i in sorted(records)]
