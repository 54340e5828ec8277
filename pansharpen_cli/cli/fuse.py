"""``pansharpen fuse PAN MS... OUT``: parse the options, build the configs, call the pipeline."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated

import typer

from ..pipeline.params import FuseParams
from .app import Command, app, err, errors, progress_bars, setup_logging
from .options import (
    DEFAULT_METHOD,
    DEFAULT_PRESET_OPT,
    AlignedOpt,
    AmpOpt,
    ArchOpt,
    BatchOpt,
    CreationOpt,
    CropOpt,
    DeviceOpt,
    DtypeOpt,
    FormatOpt,
    GainsOpt,
    IterationsOpt,
    LrFrOpt,
    LrRrOpt,
    MethodOpt,
    OutFormat,
    OverviewsOpt,
    OverwriteOpt,
    PanBandOpt,
    PFullOpt,
    PresetOpt,
    PreviewOpt,
    PreviewScaleOpt,
    PreviewSizeOpt,
    QuietOpt,
    RatioOpt,
    AlignOpt,
    RegisterOpt,
    ReportOpt,
    SaveModelOpt,
    SeedOpt,
    SensorOpt,
    TileOpt,
    VerboseOpt,
    WarmupOpt,
    WCorrOpt,
    WeightsOpt,
    WSpatialOpt,
    WSpectralOpt,
    parse_co,
    split_last,
)

if TYPE_CHECKING:
    import torch

    from ..pipeline.fuse import FuseOptions, FuseResult


def _check_arch(arch: str | None) -> None:
    if arch is None:
        return
    from .. import networks

    if arch.lower() not in networks.available():
        raise typer.BadParameter(
            f"expected one of {', '.join(networks.available())}, got {arch!r}", param_hint="--arch"
        )


def fuse_options(a: SimpleNamespace, device: torch.device | None = None) -> FuseOptions:
    """The pipeline's options from the parsed command line ``a`` (``fuse``'s parameters; ``batch``
    builds each row's from its own); for methods that adapt, the zero-shot config and the device
    (``device``, else resolved from ``--device``)."""
    from ..pipeline import params

    return params.fuse_options(params.from_namespace(vars(a)), device)


def _run(pan: str, ms: list[str], out: str, a: SimpleNamespace) -> FuseResult:
    """Check every path the run writes (the preflight, --report too: before torch is imported and
    before any file is read), fuse with the options of the parsed command line ``a``, write the
    --report, say what was written (unless --quiet).

    The paths are as given (a GDAL input such as ``/vsicurl/https://...`` keeps its ``//``)."""
    from ..pipeline import params
    from ..pipeline.fuse import fuse as run_fuse

    opts = params.preflight(pan, ms, out, params.from_namespace(vars(a)))
    with progress_bars(a.quiet) as cb:
        res = run_fuse(pan, ms, out, opts, progress=cb)
    if a.report is not None:
        params.write_report(a.report, res)
    if not a.quiet:
        done = f"wrote {res.output} ({res.width}x{res.height}x{res.bands}, {res.method})"
        err.print(f"{done} in {res.seconds['total']:.1f} s", highlight=False)
    return res


@app.command(cls=Command)
def fuse(
    pan: Annotated[
        str, typer.Argument(metavar="PAN", help="PAN raster (one band, or choose with --pan-band).")
    ],
    ms_and_out: Annotated[
        list[str],
        typer.Argument(metavar="MS... OUT", help="MS raster(s) in band order, then the output path."),
    ],
    method: MethodOpt = DEFAULT_METHOD,
    sensor: SensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    assume_aligned: AlignedOpt = False,
    dtype: DtypeOpt = None,
    of: FormatOpt = OutFormat.GTiff,
    co: CreationOpt = None,
    overwrite: OverwriteOpt = False,
    tile: TileOpt = FuseParams.tile,
    weights: WeightsOpt = FuseParams.weights,
    device: DeviceOpt = FuseParams.device,
    preset: PresetOpt = DEFAULT_PRESET_OPT,
    iterations: IterationsOpt = None,
    seed: SeedOpt = FuseParams.seed,
    amp: AmpOpt = False,
    arch: ArchOpt = None,
    warmup: WarmupOpt = None,
    p_full: PFullOpt = None,
    lr_rr: LrRrOpt = None,
    lr_fr: LrFrOpt = None,
    crop: CropOpt = None,
    batch: BatchOpt = None,
    w_spectral: WSpectralOpt = None,
    w_spatial: WSpatialOpt = None,
    w_corr: WCorrOpt = None,
    register: RegisterOpt = None,
    align: AlignOpt = None,
    report: ReportOpt = None,
    save_model: SaveModelOpt = None,
    preview: PreviewOpt = None,
    preview_scale: PreviewScaleOpt = None,
    preview_size: PreviewSizeOpt = FuseParams.preview_size,
    overviews: OverviewsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fuse PAN and MS into a pansharpened GeoTIFF on the PAN grid.

    Like gdal_pansharpen: MS is one multiband file or several single-band files in band order.
    Inputs may be GDAL paths: /vsizip/a.zip/pan.tif, zip://a.zip!pan.tif, /vsicurl/https://..., s3://...
    """
    args = SimpleNamespace(**locals())
    setup_logging(quiet, verbose)
    ms, out = split_last(ms_and_out, "OUT")
    args.creation = parse_co(co)
    _check_arch(arch)
    with errors(verbose):
        _run(pan, ms, out, args)
