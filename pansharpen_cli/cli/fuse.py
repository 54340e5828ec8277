"""``pansharpen fuse PAN MS... OUT``: parse the options, build the configs, call the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated

import typer

from .. import methods
from .app import Command, app, err, errors, log, progress_bars, setup_logging
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
    OverwriteOpt,
    PanBandOpt,
    PFullOpt,
    PresetOpt,
    PreviewOpt,
    QuietOpt,
    RatioOpt,
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

    from ..methods.zeroshot.config import ZeroShotConfig
    from ..pipeline.fuse import FuseOptions, FuseResult


def _check_arch(arch: str | None) -> None:
    if arch is None:
        return
    from .. import networks

    if arch.lower() not in networks.available():
        raise typer.BadParameter(
            f"expected one of {', '.join(networks.available())}, got {arch!r}", param_hint="--arch"
        )


#: The zero-shot fields the command line may set directly (None: the preset's value).
TUNED = ("p_full", "lr_rr", "lr_fr", "crop", "batch", "w_spectral", "w_spatial", "w_corr", "register")


def zeroshot_config(a: SimpleNamespace) -> ZeroShotConfig:
    """The zero-shot settings from the parsed command line ``a`` (options left out keep the
    preset's values).

    ``--iterations`` forces an exact budget: no scaling to the scene's size and no early stopping;
    it scales the warm-up with it (it keeps its share of the budget; 0 means pure pretrained
    inference) unless ``--warmup`` is given too.
    """
    from ..methods.zeroshot.config import preset_config

    tuned = {k: getattr(a, k) for k in TUNED if getattr(a, k) is not None}
    cfg = preset_config(a.preset.value, seed=a.seed, amp=a.amp, **tuned)
    if a.arch is not None:
        cfg.arch = a.arch.lower()
    if a.iterations is not None:
        cfg.warmup = round(cfg.warmup * a.iterations / max(cfg.iterations, 1))
        cfg.iterations = a.iterations
        cfg.patience, cfg.reference_pixels = 0, 0
    if a.warmup is not None:
        cfg.warmup = a.warmup
    return cfg


def _write_report(path: Path, res: FuseResult) -> None:
    payload = {
        "output": str(res.output),
        "method": res.method,
        "ratio": res.ratio,
        "width": res.width,  # pixels, as GDAL's "Size is width, height"
        "height": res.height,
        "bands": res.bands,
        "seconds": res.seconds,
        "warnings": res.warnings,
        "notes": res.notes,
        **res.report,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))


def fuse_options(a: SimpleNamespace, device: torch.device | None = None) -> FuseOptions:
    """The pipeline's options from the parsed command line ``a`` (``fuse``'s parameters; ``batch``
    builds each row's from its own); for methods that adapt, the zero-shot config and the device
    (``device``, else resolved from ``--device``)."""
    return _with_fit(_file_options(a), a, device)


def _file_options(a: SimpleNamespace) -> FuseOptions:
    """The options that need no device: the method, the radiometry, the files (what the
    preflight looks at)."""
    from ..pipeline.fuse import FuseOptions

    opts = FuseOptions(
        a.method.value,
        a.sensor,
        a.gains,
        a.ratio,
        a.pan_band,
        a.dtype,
        a.of.value,
        a.creation,
        a.overwrite,
        a.tile,
    )
    opts.weights, opts.save_model, opts.preview = a.weights, a.save_model, a.preview
    opts.assume_aligned = a.assume_aligned
    return opts


def _with_fit(opts: FuseOptions, a: SimpleNamespace, device: torch.device | None) -> FuseOptions:
    """``opts`` with, for methods that adapt, the zero-shot config and the device."""
    from ..base.device import resolve_device

    if methods.get(a.method.value).adapts:
        opts.zeroshot = zeroshot_config(a)
        opts.device = device if device is not None else resolve_device(a.device)
        log.info("device: %s", opts.device)
    return opts


def _run(pan: Path, ms: list[Path], out_path: Path, a: SimpleNamespace) -> FuseResult:
    """Check every path the run writes (the preflight, --report too: before torch is imported and
    before any file is read), then fuse with the options of the parsed command line ``a``."""
    from ..pipeline.fuse import fuse as run_fuse
    from ..pipeline.preflight import check_fuse

    opts = _file_options(a)
    check_fuse(pan, ms, out_path, opts, a.report)
    opts = _with_fit(opts, a, None)
    with progress_bars(a.quiet) as cb:
        return run_fuse(pan, ms, out_path, opts, progress=cb)


@app.command(cls=Command)
def fuse(
    pan: Annotated[
        Path, typer.Argument(metavar="PAN", help="PAN raster (one band, or choose with --pan-band).")
    ],
    ms_and_out: Annotated[
        list[Path],
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
    tile: TileOpt = 256,
    weights: WeightsOpt = "default",
    device: DeviceOpt = "auto",
    preset: PresetOpt = DEFAULT_PRESET_OPT,
    iterations: IterationsOpt = None,
    seed: SeedOpt = 0,
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
    report: ReportOpt = None,
    save_model: SaveModelOpt = None,
    preview: PreviewOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fuse PAN and MS into a pansharpened GeoTIFF on the PAN grid.

    Like gdal_pansharpen: MS is one multiband file or several single-band files in band order.
    """
    args = SimpleNamespace(**locals())
    setup_logging(quiet, verbose)
    ms, out_path = split_last(ms_and_out, "OUT")
    args.creation = parse_co(co)
    _check_arch(arch)
    with errors(verbose):
        res = _run(pan, ms, out_path, args)
        if report is not None:
            _write_report(report, res)
        if not quiet:
            done = f"wrote {res.output} ({res.width}x{res.height}x{res.bands}, {res.method})"
            err.print(f"{done} in {res.seconds['total']:.1f} s", highlight=False)
