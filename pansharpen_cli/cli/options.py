"""The command-line options, each defined once (``Annotated`` aliases the commands reuse), and
their parsing into library objects."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import methods
from ..base.errors import UsageError
from ..io.overviews import Overviews, parse_overviews
from ..methods.presets import ALIGN, DEFAULT_PRESET, PRESETS

#: ``--method`` choices, built from the method registry (the one method list).
Method = Enum("Method", {n.replace("-", "_"): n for n in methods.names()}, type=str)
DEFAULT_METHOD = Method(methods.DEFAULT_METHOD)


#: ``--preset`` choices (methods/presets.py, the one list).
Preset = Enum("Preset", {n: n for n in PRESETS}, type=str)


class OutFormat(str, Enum):
    GTiff = "GTiff"
    COG = "COG"


#: The metavar of a plain flag: nothing (typer would show ``<bool>``, as if it took a value).
FLAG = ""


def _in_range(value: float | None, name: str, low: float, high: float | None) -> float | None:
    """A float option from ``low`` to ``high`` (both in; ``high`` None: above ``low``, which is out).

    The range is checked here rather than by typer's ``min``/``max``, which print it in the type
    column of the help and leave too little of the 80 columns to the descriptions.
    """
    ok = value is None or (low <= value <= high if high is not None else value > low)
    if not ok:
        want = f"from {low:g} to {high:g}" if high is not None else f"above {low:g}"
        raise typer.BadParameter(f"expected a value {want}, got {value:g}", param_hint=name)
    return value


DEFAULT_PRESET_OPT = Preset(DEFAULT_PRESET)

ZS_PANEL = "Zero-shot tuning (defaults are the measured all-scene choice)"

# -- shared by several commands ----------------------------------------------------------------
SensorOpt = Annotated[
    str | None,
    typer.Option(
        "--sensor",
        "-s",
        metavar="NAME",
        help="Sensor preset for the MTF gains (see `pansharpen sensors`); default: the sensor the delivery's "
        "metadata names, else generic (with a warning).",
    ),
]
EvalSensorOpt = Annotated[
    str | None,
    typer.Option(
        "--sensor",
        "-s",
        metavar="NAME",
        help="Sensor preset for the MTF gains (see `pansharpen sensors`); default: the sensor and gains of "
        "FUSED's PANSHARPEN_* tags, else the delivery's metadata, else generic.",
    ),
]
GainsOpt = Annotated[
    str | None,
    typer.Option(
        metavar="GAINS",
        help="Your own Nyquist gains: 'G' or 'G1,G2,...' for the MS bands, optionally ';GPAN'.",
    ),
]
RatioOpt = Annotated[
    int | None,
    typer.Option(min=2, metavar="N", help="Force the integer PAN/MS ratio instead of measuring it."),
]
PanBandOpt = Annotated[
    int | None,
    typer.Option("--pan-band", min=1, metavar="N", help="Band of the PAN file to use when it has several."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar=FLAG, help="No progress bars, only errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", metavar=FLAG, help="Explain what is done (grids, resampling).")
]
AlignedOpt = Annotated[
    bool,
    typer.Option(
        "--assume-aligned",
        metavar=FLAG,
        help="Fuse a pair where only one file is georeferenced by array geometry (the MS covers the "
        "PAN's extent); without it such a pair is refused.",
    ),
]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", metavar=FLAG, help="Replace an existing output.")]
JsonOpt = Annotated[
    bool, typer.Option("--json", metavar=FLAG, help="Print one JSON object instead of tables.")
]
SeedOpt = Annotated[
    int,
    typer.Option(
        metavar="N",
        help="Random seed: same seed, device and torch threads (the output's PANSHARPEN_THREADS tag; "
        "OMP_NUM_THREADS=N sets them), same output.",
    ),
]

# -- fuse ----------------------------------------------------------------------------------------
MethodOpt = Annotated[
    Method,
    typer.Option("--method", "-m", metavar="NAME", help=f"Fusion method: {', '.join(methods.names())}."),
]
DtypeOpt = Annotated[
    str | None,
    typer.Option(
        metavar="TYPE", help="Output data type (default: the MS's). Integers are rounded and clipped."
    ),
]
FormatOpt = Annotated[OutFormat, typer.Option("--of", metavar="GTiff|COG", help="Output format.")]
CreationOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--co",
        metavar="KEY=VALUE",
        help="GDAL creation option (repeatable); `gdalinfo --format GTiff` lists them.",
    ),
]
TileOpt = Annotated[int, typer.Option(min=16, metavar="N", help="Processing tile side in MS pixels.")]
WeightsOpt = Annotated[
    str,
    typer.Option(
        metavar="WEIGHTS",
        help="zeroshot: prior weights: default (shipped), none (random init) or a .pt path.",
    ),
]
DeviceOpt = Annotated[
    str, typer.Option(metavar="DEVICE", help="auto, cpu, cuda or cuda:N (zeroshot, pretrain).")
]
IterationsOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="N",
        help="zeroshot: exactly this many adaptation iterations, stated for 8 bands (fewer bands get up "
        "to 2x), no early stopping; 0: pretrained inference only.",
    ),
]
PresetOpt = Annotated[
    Preset,
    typer.Option(
        metavar="NAME",
        help="zeroshot budget and network: fast (the small bandwise-lite network, a quarter of the "
        "steps: archives on the CPU), default (bandwise-resnet, fitted on flipped crops and inferred "
        "over 4 flips where the scene is too small to hold windows out), best (the wider "
        "bandwise-resnet-wide, fitted on flipped training crops, inference averaged over 4 flips: "
        "about twice the time); docs/methods.md gives their measured quality and time.",
    ),
]
AmpOpt = Annotated[
    bool,
    typer.Option("--amp", metavar=FLAG, help="zeroshot: bf16 autocast on CUDA (ignored on the CPU)."),
]
ArchOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="zeroshot: network architecture (default: the --weights file's, else the preset's: "
        "bandwise-resnet, bandwise-lite for fast, bandwise-resnet-wide for best); --weights default "
        "loads that network's shipped "
        "prior, another file must match it.",
        rich_help_panel=ZS_PANEL,
    ),
]
WarmupOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="N",
        help="zeroshot: stage I warm-up steps, stated for 8 bands (default 60).",
        rich_help_panel=ZS_PANEL,
    ),
]
PFullOpt = Annotated[
    float | None,
    typer.Option(
        metavar="0..1",
        callback=lambda v: _in_range(v, "--p-full", 0.0, 1.0),
        help="zeroshot: probability of a full-resolution step in stage II (default 0.7).",
        rich_help_panel=ZS_PANEL,
    ),
]
LrRrOpt = Annotated[
    float | None,
    typer.Option(
        metavar="LR",
        callback=lambda v: _in_range(v, "--lr-rr", 0.0, None),
        help="zeroshot: learning rate of reduced-resolution steps (default 1e-3).",
        rich_help_panel=ZS_PANEL,
    ),
]
LrFrOpt = Annotated[
    float | None,
    typer.Option(
        metavar="LR",
        callback=lambda v: _in_range(v, "--lr-fr", 0.0, None),
        help="zeroshot: learning rate of full-resolution steps (default 5e-4).",
        rich_help_panel=ZS_PANEL,
    ),
]
CropOpt = Annotated[
    int | None,
    typer.Option(
        min=8,
        metavar="N",
        help="zeroshot: training crop side in PAN pixels (default 64).",
        rich_help_panel=ZS_PANEL,
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        min=1, metavar="N", help="zeroshot: crops per training step (default 4).", rich_help_panel=ZS_PANEL
    ),
]
WSpectralOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        metavar="W",
        help="zeroshot: weight of the full-resolution spectral loss (default 1).",
        rich_help_panel=ZS_PANEL,
    ),
]
WSpatialOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        metavar="W",
        help="zeroshot: weight of the full-resolution spatial loss through the spectral response (default 0.3).",
        rich_help_panel=ZS_PANEL,
    ),
]
WCorrOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        metavar="W",
        help="zeroshot: weight of the full-resolution local-correlation loss (default 1).",
        rich_help_panel=ZS_PANEL,
    ),
]
RegisterOpt = Annotated[
    bool | None,
    typer.Option(
        "--register/--no-register",
        metavar=FLAG,
        help="zeroshot: measure the residual MS-PAN shift and move the PAN onto the MS by it "
        "(default on; the report and the output's tags give the shift).",
        rich_help_panel=ZS_PANEL,
    ),
]
#: ``--align`` choices (methods/presets.py, the one list).
Align = Enum("Align", {n: n for n in ALIGN}, type=str)
AlignOpt = Annotated[
    Align | None,
    typer.Option(
        help="zeroshot: the image the output lines up with once the residual MS-PAN shift is removed: "
        "pan (the MS is moved onto the PAN; default) or ms (the PAN onto the MS: the MS's geometry).",
        rich_help_panel=ZS_PANEL,
    ),
]
ReportOpt = Annotated[
    Path | None, typer.Option(metavar="PATH", help="zeroshot: write a JSON report of the run here.")
]
SaveModelOpt = Annotated[
    Path | None, typer.Option(metavar="PATH", help="zeroshot: save the adapted weights here (.pt).")
]
PreviewOpt = Annotated[
    Path | None,
    typer.Option(metavar="PATH", help="Write a PNG quicklook: upsampled MS, fusion, PAN side by side."),
]
PreviewScaleOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=8,
        metavar="N",
        help="--preview at 1:1: each PAN pixel drawn as NxN PNG pixels (1: one PNG pixel), no "
        "resampling of the fusion or the PAN, a central crop of --preview-size PAN pixels "
        "(default: the scene's centre fitted in about 1000 pixels).",
    ),
]
PreviewSizeOpt = Annotated[
    int,
    typer.Option(min=16, metavar="PIXELS", help="Side of the --preview-scale crop, in PAN pixels."),
]


def _overviews(value: str | None) -> Overviews:
    try:
        return parse_overviews(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc).partition(": ")[2], param_hint="--overviews") from None


OverviewsOpt = Annotated[
    str | None,
    typer.Option(
        metavar="auto|2,4,8",
        callback=_overviews,
        help="Build overviews in the output (resampling average): auto (2, 4, 8 ... until the "
        "smallest side is under 256 pixels) or these factors. A COG has its own without it.",
    ),
]

# -- batch ---------------------------------------------------------------------------------------
BATCH_PANEL = "Batch"
PairsOpt = Annotated[
    str | None,
    typer.Option(
        metavar="GLOB",
        help="Instead of a manifest: the PAN files, a glob with one '*' like 'DIR/*_PAN.tif'.",
        rich_help_panel=BATCH_PANEL,
    ),
]
MsPatternOpt = Annotated[
    str,
    typer.Option(
        metavar="PATTERN",
        help="With --pairs: the MS file(s) beside each PAN; {stem} is what the '*' matched, "
        "several files separated by ';'.",
        rich_help_panel=BATCH_PANEL,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        metavar="N",
        help="Worker processes (with --scheduler local: the cluster's workers); default 1, "
        "on a CUDA machine one per GPU.",
        rich_help_panel=BATCH_PANEL,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on Dask: 'local' (a LocalCluster of --jobs workers) or a scheduler's address "
        "tcp://HOST:8786 (needs pip install 'pansharpen\\[dask]').",
        rich_help_panel=BATCH_PANEL,
    ),
]
LogOpt = Annotated[
    Path | None,
    typer.Option(
        "--log",
        metavar="PATH",
        help="JSON-lines log of the scenes, appended to (default OUTDIR/pansharpen-batch.jsonl).",
        rich_help_panel=BATCH_PANEL,
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(min=0, metavar="N", help="Further attempts of a failed scene.", rich_help_panel=BATCH_PANEL),
]


def parse_co(values: list[str] | None) -> dict[str, str]:
    """``--co KEY=VALUE`` options as a dict with upper-case keys.

    Raises:
        typer.BadParameter: an item without ``=`` or without a key.
    """
    opts: dict[str, str] = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint="--co")
        opts[key.strip().upper()] = val.strip()
    return opts


def split_last(paths: list[str], last: str) -> tuple[list[str], str]:
    """``MS... LAST`` positional arguments: (the MS files, the last path), as given (strings: a
    GDAL path such as ``/vsicurl/https://...`` keeps its ``//``).

    Raises:
        typer.BadParameter: fewer than two paths.
    """
    if len(paths) < 2:
        raise typer.BadParameter(f"expected PAN MS [MS ...] {last}", param_hint=f"MS... {last}")
    return list(paths[:-1]), paths[-1]
