"""``pansharpen batch [MANIFEST] OUTDIR``: many scenes with ``fuse``'s options, resumable, on local
worker processes or a Dask cluster.

The command takes every option of ``fuse`` (its parameters are read from ``fuse``'s signature, so
the two cannot drift apart) except the per-scene extra outputs, plus its own (cli/options.py).
A bad scene list is a usage error (exit 2, nothing run); exit 1 when any scene failed or the log
cannot be written (the run stops there; rerun to go on).
"""

from __future__ import annotations

import inspect
import signal
import time
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .. import methods
from . import fuse as fuse_cmd
from .app import Command, Terminated, app, err, errors, progress_bars, setup_logging
from .options import (
    JobsOpt,
    LogOpt,
    Method,
    MsPatternOpt,
    PairsOpt,
    RetriesOpt,
    SchedulerOpt,
    parse_co,
)

if TYPE_CHECKING:
    import torch

    from ..pipeline.batch import BatchOptions, Record, Scene
    from ..pipeline.manifest import Row

#: ``fuse`` parameters batch does not take: the scene's paths and its per-scene extra outputs.
FUSE_ONLY = ("pan", "ms_and_out", "report", "save_model", "preview", "preview_scale", "preview_size")
#: The log's name in OUTDIR when --log is not given.
DEFAULT_LOG = "pansharpen-batch.jsonl"
#: What Ctrl-C leaves: finished outputs, no partial file; the same command goes on.
INTERRUPTED = "[red]interrupted[/red]: finished outputs are kept, no partial file; rerun the command to go on"
#: Failed scenes listed under the summary table (the log has them all).
MAX_LISTED = 10


def _own(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="[MANIFEST] OUTDIR",
            help="The manifest (CSV with a header pan,ms[,out,sensor,gains,method,iterations], or "
            "JSON lines), then the output folder; only OUTDIR with --pairs.",
        ),
    ],
    pairs: PairsOpt = None,
    ms_pattern: MsPatternOpt = "{stem}_MS.tif",
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    log_path: LogOpt = None,
    retries: RetriesOpt = 0,
) -> None:
    """The parameters of batch's own (the rest are fuse's)."""


def _check_paths(a: SimpleNamespace) -> None:
    """MANIFEST OUTDIR, or only OUTDIR with --pairs.

    Raises:
        typer.BadParameter: another count of paths.
    """
    if len(a.paths) != (1 if a.pairs else 2):
        usage = "only OUTDIR with --pairs" if a.pairs else "MANIFEST OUTDIR (or --pairs GLOB OUTDIR)"
        raise typer.BadParameter(
            f"expected {usage}, got {len(a.paths)} path(s)", param_hint="MANIFEST OUTDIR"
        )


def _rows(a: SimpleNamespace) -> tuple[list[Row], Path]:
    """The scene list and OUTDIR from the positional paths and --pairs."""
    from ..pipeline.manifest import pair_files, read_manifest
    from ..io.paths import local_output

    outdir = local_output("OUTDIR", a.paths[-1])
    if a.pairs:
        return pair_files(a.pairs, a.ms_pattern, outdir), outdir
    return read_manifest(a.paths[0], outdir), outdir


def _device(a: SimpleNamespace) -> torch.device:
    """The device for methods that adapt; for a remote cluster ``cuda`` is the workers' business."""
    import torch

    from ..base.device import resolve_device

    remote = a.scheduler not in (None, "local")
    if remote and a.device.strip().lower().startswith("cuda"):
        return torch.device(a.device.strip().lower())
    return resolve_device(a.device)


def _scene(row: Row, a: SimpleNamespace, device: torch.device | None) -> Scene:
    """The row with its fuse options: the command line's, the row's cells over them."""
    from ..pipeline.batch import Scene

    ns = SimpleNamespace(**{**vars(a), **row.overrides})
    ns.method = Method(ns.method) if isinstance(ns.method, str) else ns.method
    return Scene(row, fuse_cmd.fuse_options(ns, device))


def _options(a: SimpleNamespace, outdir: Path, device: torch.device | None) -> BatchOptions:
    """Executor, workers (one per GPU by default on CUDA), retries, log."""
    from ..pipeline.batch import BatchOptions

    cuda = device is not None and device.type == "cuda"
    jobs = a.jobs
    devices: list = []
    if cuda and a.scheduler is None:
        import torch

        n_gpu = torch.cuda.device_count()
        jobs = jobs or (n_gpu if device.index is None else 1)
        if device.index is None and jobs > 1:
            devices = [torch.device("cuda", i % n_gpu) for i in range(jobs)]
    return BatchOptions(a.overwrite, a.retries, jobs or 1, a.scheduler, None, devices, _log_path(a, outdir))


def _log_path(a: SimpleNamespace, outdir: Path) -> Path:
    """--log, else OUTDIR/pansharpen-batch.jsonl."""
    return a.log_path if a.log_path is not None else outdir / DEFAULT_LOG


def _summary(records: list[Record], seconds: float, log_path: Path | None) -> None:
    """A table of the statuses, then the failed scenes (the first few) and where the log is."""
    table = Table(title="pansharpen batch", title_justify="left")
    for col in ("status", "scenes", "seconds"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for status in ("done", "skipped", "failed"):
        recs = [r for r in records if r["status"] == status]
        table.add_row(status, str(len(recs)), f"{sum(r['seconds'] for r in recs):.1f}")
    done = sum(r["status"] == "done" for r in records)
    err.print(table)
    rate = 60 * done / max(seconds, 1e-9)
    err.print(
        f"{len(records)} scenes in {seconds:.1f} s: {done} fused ({rate:.1f} a minute)", highlight=False
    )
    failed = [r for r in records if r["status"] == "failed"]
    for r in failed[:MAX_LISTED]:
        err.print(
            f"[red]failed[/red] {escape(r['row'])}: {escape(r['error'])}", highlight=False, soft_wrap=True
        )
    if len(failed) > MAX_LISTED:
        err.print(f"... and {len(failed) - MAX_LISTED} more failed", highlight=False)
    busy = [r for r in records if r.get("reason")]
    if busy:
        err.print(
            f"{len(busy)} skipped: being fused by another run ({escape(busy[0]['reason'])}); "
            "rerun the command once it ends to pick up any it leaves",
            highlight=False,
            soft_wrap=True,
        )
    other = [r for r in records if r.get("note")]
    if other:
        err.print(
            f"[yellow]{len(other)} skipped[/yellow] as fused earlier with another method "
            f"({escape(other[0]['note'])})",
            highlight=False,
            soft_wrap=True,
        )
    if log_path is not None:
        err.print(f"log: {escape(str(log_path))}", highlight=False)


def _batch(a: SimpleNamespace) -> int:
    """Read and check the list (exit 2 when bad), run it, draw the summary; the exit code."""
    from ..pipeline.batch import run_batch
    from ..pipeline.preflight import check_batch

    rows, outdir = _rows(a)  # a ManifestError is a usage error: exit 2, nothing run
    # OUTDIR, every output's folder, the log: usable and not an input, before any scene
    check_batch(rows, outdir, _log_path(a, outdir), None if a.pairs else Path(a.paths[0]), a.of.value)
    adapts = any(methods.get(r.overrides.get("method", a.method.value)).adapts for r in rows)
    device = _device(a) if adapts else None
    scenes = [_scene(r, a, device) for r in rows]
    opts = _options(a, outdir, device)
    t0 = time.perf_counter()
    try:
        with progress_bars(a.quiet) as cb:
            records = run_batch(scenes, opts, cb)
    except (KeyboardInterrupt, Terminated) as exc:
        err.print(INTERRUPTED, highlight=False)
        return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
    if not a.quiet:
        _summary(records, time.perf_counter() - t0, opts.log)
    return 1 if any(r["status"] == "failed" for r in records) else 0


def batch(**kw: Any) -> None:
    """Fuse many PAN/MS pairs with fuse's options: resumable, one bad scene never stops the run.

    A manifest's sensor, gains, method, iterations cells override the options for their row.
    Finished outputs are skipped unless --overwrite, and so are outputs another run is fusing (a
    claim file beside each output while it is fused); every scene's record goes to the JSON-lines
    log as it finishes. Exit 0 when every scene is done or skipped, 1 when any failed or the log
    cannot be written, 2 for a bad manifest.
    """
    a = SimpleNamespace(**kw, save_model=None, preview=None)
    setup_logging(a.quiet or not a.verbose, a.verbose)  # scene warnings go to the log
    a.creation = parse_co(a.co)
    fuse_cmd._check_arch(a.arch)
    _check_paths(a)
    with errors(a.verbose):
        code = _batch(a)
    raise typer.Exit(code)


def _signature() -> tuple[inspect.Signature, dict[str, Any]]:
    """batch's own parameters, then fuse's (less FUSE_ONLY), with their resolved annotations."""
    params, hints = [], {}
    for func, skip in ((_own, ()), (fuse_cmd.fuse, FUSE_ONLY)):
        func_hints = typing.get_type_hints(func, include_extras=True)
        for p in inspect.signature(func).parameters.values():
            if p.name not in skip:
                params.append(p.replace(annotation=func_hints[p.name], kind=inspect.Parameter.KEYWORD_ONLY))
                hints[p.name] = func_hints[p.name]
    return inspect.Signature(params), hints


batch.__signature__, batch.__annotations__ = _signature()
app.command(cls=Command)(batch)
