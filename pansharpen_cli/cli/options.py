"""The command-line options, each defined once (``Annotated`` aliases the commands reuse), and
their parsing into library objects."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import methods
from ..methods.presets import DEFAULT_PRESET, PRESETS

#: ``--method`` choices, built from the method registry (the one method list).
Method = Enum("Method", {n.replace("-", "_"): n for n in methods.names()}, type=str)
DEFAULT_METHOD = Method(methods.DEFAULT_METHOD)


#: ``--preset`` choices (methods/presets.py, the one list).
Preset = Enum("Preset", {n: n for n in PRESETS}, type=str)


class OutFormat(str, Enum):
    GTiff = "GTiff"
    COG = "COG"


DEFAULT_PRESET_OPT = Preset(DEFAULT_PRESET)
ZS_PANEL = "Zero-shot tuning (defaults are the measured all-scene choice)"

# -- shared by several commands ----------------------------------------------------------------
SensorOpt = Annotated[
    str | None,
    typer.Option(
        "--sensor", "-s", help="Sensor preset for the MTF gains (see `pansharpen sensors`); default generic."
    ),
]
GainsOpt = Annotated[
    str | None,
    typer.Option(help="Your own Nyquist gains: 'G' or 'G1,G2,...' for the MS bands, optionally ';GPAN'."),
]
RatioOpt = Annotated[
    int | None, typer.Option(min=2, help="Force the integer PAN/MS ratio instead of measuring it.")
]
PanBandOpt = Annotated[
    int | None, typer.Option("--pan-band", min=1, help="Band of the PAN file to use when it has several.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, only errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Explain what is done (grids, resampling).")
]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed (same seed, same device, same output).")]

# -- fuse ----------------------------------------------------------------------------------------
MethodOpt = Annotated[Method, typer.Option("--method", "-m", help="Fusion method.")]
DtypeOpt = Annotated[
    str | None, typer.Option(help="Output data type (default: the MS's). Integers are rounded and clipped.")
]
FormatOpt = Annotated[OutFormat, typer.Option("--of", help="Output format.")]
CreationOpt = Annotated[
    list[str] | None, typer.Option("--co", help="GDAL creation option KEY=VALUE (repeatable).")
]
TileOpt = Annotated[int, typer.Option(min=16, help="Processing tile side in MS pixels.")]
WeightsOpt = Annotated[
    str, typer.Option(help="zeroshot: prior weights: default (shipped), none (random init) or a .pt path.")
]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (zeroshot, pretrain).")]
IterationsOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="zeroshot: exactly this many adaptation iterations, stated for 8 bands (fewer bands get up "
        "to 2x), no early stopping; 0: pretrained inference only.",
    ),
]
PresetOpt = Annotated[
    Preset,
    typer.Option(
        help="zeroshot budget: fast (a quarter of the steps), default, best (twice the steps, no early "
        "stopping); the README gives their measured quality and time.",
    ),
]
AmpOpt = Annotated[
    bool, typer.Option("--amp/--no-amp", help="zeroshot: bf16 autocast on CUDA (ignored on the CPU).")
]
ArchOpt = Annotated[
    str | None,
    typer.Option(
        help="zeroshot: network architecture (default: the prior's, else bandwise-resnet); "
        "another than the prior's needs --weights none or a matching .pt.",
        rich_help_panel=ZS_PANEL,
    ),
]
WarmupOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="zeroshot: stage I warm-up steps, stated for 8 bands (default 60).",
        rich_help_panel=ZS_PANEL,
    ),
]
PFullOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="zeroshot: probability of a full-resolution step in stage II (default 0.7).",
        rich_help_panel=ZS_PANEL,
    ),
]
LrRrOpt = Annotated[
    float | None,
    typer.Option(
        min=1e-9,
        help="zeroshot: learning rate of reduced-resolution steps (default 1e-3).",
        rich_help_panel=ZS_PANEL,
    ),
]
LrFrOpt = Annotated[
    float | None,
    typer.Option(
        min=1e-9,
        help="zeroshot: learning rate of full-resolution steps (default 5e-4).",
        rich_help_panel=ZS_PANEL,
    ),
]
CropOpt = Annotated[
    int | None,
    typer.Option(
        min=8, help="zeroshot: training crop side in PAN pixels (default 64).", rich_help_panel=ZS_PANEL
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option(min=1, help="zeroshot: crops per training step (default 4).", rich_help_panel=ZS_PANEL),
]
WSpectralOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="zeroshot: weight of the full-resolution spectral loss (default 1).",
        rich_help_panel=ZS_PANEL,
    ),
]
WSpatialOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="zeroshot: weight of the full-resolution spatial loss through the spectral response (default 0.3).",
        rich_help_panel=ZS_PANEL,
    ),
]
WCorrOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="zeroshot: weight of the full-resolution local-correlation loss (default 1).",
        rich_help_panel=ZS_PANEL,
    ),
]
RegisterOpt = Annotated[
    bool | None,
    typer.Option(
        "--register/--no-register",
        help="zeroshot: measure the residual MS-PAN shift and move the PAN onto the MS by it "
        "(default on; the report and the output's tags give the shift).",
        rich_help_panel=ZS_PANEL,
    ),
]
ReportOpt = Annotated[Path | None, typer.Option(help="zeroshot: write a JSON report of the run here.")]
SaveModelOpt = Annotated[Path | None, typer.Option(help="zeroshot: save the adapted weights here (.pt).")]
PreviewOpt = Annotated[
    Path | None, typer.Option(help="Write a PNG quicklook: upsampled MS, fusion, PAN side by side.")
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


def split_last(paths: list[Path], last: str) -> tuple[list[Path], Path]:
    """``MS... LAST`` positional arguments: (the MS files, the last path).

    Raises:
        typer.BadParameter: fewer than two paths.
    """
    if len(paths) < 2:
        raise typer.BadParameter(f"expected PAN MS [MS ...] {last}", param_hint=f"MS... {last}")
    return list(paths[:-1]), paths[-1]
