"""One preflight per command: every path the run will write, checked before any file is read.

Each function lists what its command writes (:class:`~pansharpen_cli.io.paths.Target`) and reads,
and hands them to :func:`~pansharpen_cli.io.paths.check_writes`: distinct from every input and from
each other, not a folder, replaced only with ``--overwrite``, in a folder that exists (batch's and
simulate's OUTDIR: one that can be created) and can be written to. A failure is one line saying
what to change: :class:`OutputPathError` (a usage error, exit 2) or :class:`OutputError` (a folder
the file system refuses, exit 1), raised before any work.

Inputs may be GDAL paths (``/vsizip/...``, ``https://...``), kept as strings: the local archive one
reads counts as the input, a remote one cannot be a written path. Outputs must be local paths, and a
raster output's name must say GeoTIFF (``out.png`` is refused): see :mod:`~pansharpen_cli.io.paths`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import methods
from ..io.paths import (
    Files,
    Folders,
    Named,
    Target,
    check_fd,
    check_folder_target,
    check_target,
    check_writes,
    conflict,
    local_output,
)

if TYPE_CHECKING:
    from .fuse import FuseOptions
    from .manifest import Row

#: ``--weights`` values that are not files.
WEIGHT_KEYWORDS = ("default", "none")
#: What simulate writes into its OUTDIR.
SIMULATED = ("pan", "ms", "reference")


def pair_inputs(pan: str | Path, ms: Sequence[str | Path]) -> list[Named]:
    """The PAN and MS files, named for messages (a GDAL path kept as its string)."""
    return [("the PAN", pan), *(("the MS", m) for m in ms)]


def fuse_targets(out: Path, opts: FuseOptions, report: Path | None = None) -> list[Target]:
    """What ``fuse`` writes: OUT (a GeoTIFF), ``--preview``, ``--save-model`` (methods that adapt),
    ``--report``."""
    ow = opts.overwrite
    targets = [Target("output", Path(out), ow, fmt=opts.fmt)]
    if opts.preview is not None:
        targets.append(Target("--preview", Path(opts.preview), ow, example="preview.png"))
    if opts.save_model is not None and methods.get(opts.method).adapts:
        targets.append(Target("--save-model", Path(opts.save_model), ow, example="model.pt"))
    if report is not None:
        targets.append(Target("--report", Path(report), ow, example="report.json"))
    return targets


def check_fuse(
    pan: str | Path, ms: Sequence[str | Path], out: str | Path, opts: FuseOptions, report: Path | None = None
) -> Path:
    """``fuse``'s preflight (the starting ``--weights`` file counts as an input).

    Returns:
        OUT as a Path.

    Raises:
        OutputPathError, OutputError: see the module's docstring.
    """
    inputs = pair_inputs(pan, ms)
    if str(opts.weights).strip().lower() not in WEIGHT_KEYWORDS:
        inputs.append(("the --weights file", opts.weights))
    out = local_output("output", out)
    check_writes(fuse_targets(out, opts, report), inputs)
    return out


def check_simulate(
    pan: str | Path, ms: Sequence[str | Path], outdir: str | Path, overwrite: bool
) -> dict[str, Path]:
    """``simulate``'s preflight: OUTDIR a folder (created when missing), its three files new or
    ``--overwrite``.

    Returns:
        The three outputs by name (``pan``, ``ms``, ``reference``).
    """
    od = local_output("OUTDIR", outdir)
    folders = Folders()
    check_folder_target("OUTDIR", od, folders)
    paths = {k: od / f"{k}.tif" for k in SIMULATED}
    targets = [Target("output", p, overwrite, create=True, option="OUTDIR") for p in paths.values()]
    check_writes(targets, pair_inputs(pan, ms), folders)
    return paths


def check_evaluate(inputs: Sequence[str | Path | None], stdout: int | None) -> None:
    """``evaluate`` writes only to the standard output: refuse one appended to an input (``>> ms.tif``)."""
    if stdout is not None:
        check_fd(stdout, "the standard output", [("the input", p) for p in inputs if p is not None])


def check_pretrain(
    images: Sequence[Path],
    out: str | Path,
    overwrite: bool,
    *,
    checkpoint: str | Path | None = None,
    log: str | Path | None = None,
    resume: str | Path | None = None,
) -> Path:
    """``pretrain``'s preflight: the weights file and its ``.json`` manifest, the checkpoints and the
    loss log, distinct from the training images, the resumed checkpoint (which ``--checkpoint`` may
    name: it is rewritten by the run) and each other.

    Returns:
        The weights file as a Path.
    """
    out = Path(out)
    targets = [
        Target("--out", out, overwrite, example="prior.pt"),
        Target("--out's manifest", out.with_suffix(".json"), None, example="prior.json"),
    ]
    if checkpoint is not None:
        targets.append(Target("--checkpoint", Path(checkpoint), None, example="checkpoint.pt"))
    if log is not None:
        targets.append(Target("--log", Path(log), None, example="loss.tsv"))
    inputs: list[Named] = [("a training image", Path(p)) for p in images]
    if resume is not None and not _same(resume, checkpoint):  # checkpoints may go on in the resumed file
        inputs.append(("the --resume checkpoint", Path(resume)))
    check_writes(targets, inputs)
    return out


def _same(a: str | Path, b: str | Path | None) -> bool:
    if b is None:
        return False
    files = Files()
    files.add("", Path(a))
    return files.match("--checkpoint", Path(b)) is not None


def check_batch(
    rows: Sequence[Row],
    outdir: str | Path,
    log: Path | None,
    manifest: Path | None = None,
    fmt: str = "GTiff",
) -> None:
    """``batch``'s preflight, after the manifest's own checks (no row writes another's input, see
    :func:`~pansharpen_cli.pipeline.manifest.read_manifest`): OUTDIR a folder (created when missing)
    that can be written to, every row's output named as a GeoTIFF (``fmt``: ``--of``), not a folder
    and its folder usable, the log (appended to) not the manifest, an input or an output.

    Raises:
        OutputPathError, OutputError: see the module's docstring.
    """
    folders = Folders()
    check_folder_target("OUTDIR", local_output("OUTDIR", outdir), folders)
    for r in rows:
        check_target(Target("output", r.out, None, create=True, where=f"{r.line}: ", fmt=fmt), folders)
    if log is None:
        return
    ins, outs = Files(), Files()
    if manifest is not None:
        ins.add("the manifest", Path(manifest))
    for r in rows:
        for label, p in pair_inputs(r.pan, r.ms):
            ins.add(f"{r.line}'s {label[4:]}", p)
        outs.add(f"{r.line}'s output", r.out)
    t = Target("--log", Path(log), None, create=True, example="pansharpen-batch.jsonl")
    err = conflict(t, ins, outs)
    if err is not None:
        raise err
    check_target(t, folders)


def check_visual(fused: str | Path, out: str | Path, overwrite: bool) -> Path:
    """``visual``'s preflight: OUT not FUSED, new or ``--overwrite``, in a folder that can be written.

    Returns:
        OUT as a Path.
    """
    check_writes([Target("output", Path(out), overwrite, example="visual.tif")], [("FUSED", Path(fused))])
    return Path(out)
