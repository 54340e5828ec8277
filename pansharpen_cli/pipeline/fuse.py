"""``fuse``: stream a PAN/MS pair through a method tile by tile into a GeoTIFF on the PAN grid.

A statistics pass over a spread sample of tiles, the method's preparation (for methods that adapt
to the scene: the training region read, the starting weights loaded, the fit), then per tile:
read (with halo) -> fill nodata -> upsample -> fuse -> crop -> convert -> write. Memory depends on
the tile size, not on the scene size. Progress goes through the callback; nothing here prints or
picks a device.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__, methods
from ..base.errors import UsageError
from ..base.progress import Progress, no_progress
from ..base.sensors import Radiometry, get_sensor, parse_gains_text
from ..base.tiling import Tile, plan_tiles
from ..io.creation import check_creation_options
from ..io.overviews import Overviews, overview_levels, parse_overviews
from ..io.raster import SUPPORTED_DTYPES, open_raster, read_masked
from ..io.reader import PairReader
from ..io.writer import Footprint, OutputSpec, OutputWriter, check_output_fits
from ..methods.base import Fuser, SceneInputs, StartWeights
from ..methods.stats import SceneStats
from ..physics.degradation import upsample
from .common import check_scene, in_gdal_env, output_nodata, radiometry, scene_stats, training_data
from .preflight import check_fuse
from .preview import preview_1to1
from .tiles import fuse_tiles, placed

if TYPE_CHECKING:
    import torch

    from ..methods.zeroshot.config import ZeroShotConfig

log = logging.getLogger(__name__)

#: Default tile side in MS pixels (256 * ratio PAN pixels: a multiple of the 256-pixel output block).
DEFAULT_TILE = 256
#: Largest preview side, in PAN pixels (a central crop of larger scenes).
PREVIEW_SIZE = 768
#: The tag every fused output carries (written at commit: a file with it is complete; batch skips it).
METHOD_TAG = "PANSHARPEN_METHOD"


@dataclass
class FuseOptions:
    """Options of :func:`fuse` (the CLI's flags).

    Attributes:
        method: a name of :func:`pansharpen_cli.methods.names`.
        sensor, gains: the MTF model (``--sensor``, ``--gains``).
        ratio, pan_band: force the ratio; the band of a multiband PAN.
        dtype, fmt, creation_options, overwrite: the output file.
        tile: processing tile side in MS pixels.
        workers: threads fusing tiles for methods whose Fuser allows it (the classical ones).
        zeroshot: settings of the zero-shot method (None: its defaults).
        weights: starting weights of methods that adapt: ``default``, ``none`` or a path.
        device: the torch device chosen by the caller (None: CPU).
        save_model, preview: optional extra outputs.
        preview_scale, preview_size: a 1:1 preview (each PAN pixel ``preview_scale`` PNG pixels a
            side) of ``preview_size`` PAN pixels a side; None: the fitted quicklook of ``PREVIEW_SIZE``.
        assume_aligned: fuse a pair where only one file is georeferenced by array geometry.
        overviews: overviews in the output: ``auto``, factors such as ``(2, 4, 8)``, or None
            (``--overviews``; :mod:`~pansharpen_cli.io.overviews`).
    """

    method: str = methods.DEFAULT_METHOD
    sensor: str | None = None
    gains: str | None = None
    ratio: int | None = None
    pan_band: int | None = None
    dtype: str | None = None
    fmt: str = "GTiff"
    creation_options: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False
    tile: int = DEFAULT_TILE
    workers: int = 2
    zeroshot: ZeroShotConfig | None = None
    weights: str = "default"
    device: torch.device | None = None
    save_model: Path | None = None
    preview: Path | None = None
    preview_scale: int | None = None
    preview_size: int = 256
    assume_aligned: bool = False
    overviews: Overviews = None

    def settings_for(self, method: str) -> Any:
        """The settings object for ``method``, made from the given zero-shot settings by the
        method's ``from_fit_config`` (None: the method's defaults)."""
        spec = methods.get(method)
        if self.zeroshot is None or spec.from_fit_config is None:
            return None
        return spec.from_fit_config(self.zeroshot)


@dataclass
class FuseResult:
    """What a fusion did (returned by ``pansharpen_cli.fuse``).

    Attributes:
        output: the file written.
        method: the method that ran.
        ratio: the integer PAN/MS ratio used.
        width, height, bands: the output's size (width x height, as GDAL gives it) and band count.
        seconds: the time of each stage (``statistics``, ``train`` for methods that adapt, ``fuse``:
            the tile loop, ``write``: flush, read-back and rename, ``total``).
        warnings: what the user should know (also logged as warnings).
        notes: what was done (logged at INFO: the command's ``-v``).
        report: the method's facts for the JSON report (losses, iterations run, timings ...).
    """

    output: Path
    method: str
    ratio: int
    width: int
    height: int
    bands: int
    seconds: dict[str, float]
    warnings: list[str]
    notes: list[str]
    report: dict = field(default_factory=dict)


def _preview(path: Path, reader: PairReader, fused_path: Path, method: str) -> None:
    """Quicklook of a central crop: upsampled MS, the written fusion, PAN."""
    from ..io.quicklook import preview_fusion

    g, r = reader.grid, reader.grid.ratio
    h, w = min(g.ms_height, PREVIEW_SIZE // r), min(g.ms_width, PREVIEW_SIZE // r)
    row, col = (g.ms_height - h) // 2, (g.ms_width - w) // 2
    d = reader.read_tile(Tile(row, col, h, w, 0))
    with open_raster(fused_path, "fused") as ds:
        fused = read_masked(ds, row * r, col * r, h * r, w * r)
    pan = np.where(d["pan_valid"], d["pan"], np.nan)
    preview_fusion(path, pan, upsample(d["ms"], r), fused, method, reader.band_descriptions())


def _tags(method: str, rad: Radiometry, reader: PairReader, extra: dict[str, Any]) -> dict[str, str]:
    """The output's PANSHARPEN_* tags."""
    params = {
        "method": method,
        "sensor": rad.sensor,
        "sensor_source": rad.source,
        "ms_gains": list(rad.ms_gains),
        "pan_gain": rad.pan_gain,
        "ratio": reader.grid.ratio,
        "ms_resampled": reader.grid.resample,
        **extra,
    }
    pan_name, ms_names = reader.source_names()
    return {
        METHOD_TAG: method,
        "PANSHARPEN_SENSOR": rad.sensor,
        "PANSHARPEN_SENSOR_SOURCE": rad.source,
        "PANSHARPEN_RATIO": str(reader.grid.ratio),
        "PANSHARPEN_MS_GAINS": ",".join(f"{g:g}" for g in rad.ms_gains),
        "PANSHARPEN_PAN_GAIN": f"{rad.pan_gain:g}",
        "PANSHARPEN_PARAMETERS": json.dumps(params, sort_keys=True, default=str),
        "PANSHARPEN_VERSION": __version__,
        "PANSHARPEN_PAN": pan_name,
        "PANSHARPEN_MS": ",".join(ms_names),
        **({"PANSHARPEN_THREADS": str(extra["threads"])} if "threads" in extra else {}),
    }


@dataclass
class _Run:
    """One fuse call in progress: the scene's facts as they are worked out."""

    opts: FuseOptions
    reader: PairReader
    rad: Radiometry
    out_dtype: str
    nodata: float | None
    warnings: list[str]
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    overviews: tuple[int, ...] = ()


def _check_options(opts: FuseOptions) -> methods.MethodSpec:
    """The method's spec, after checking the options that need no file (before any is read).

    Raises:
        UsageError: an unknown sensor or dtype, gains that do not parse, a tile below 16, creation
            options the output driver does not know.
        OptionError: an unknown method.
    """
    spec = methods.get(opts.method)
    if opts.tile < 16:
        raise UsageError(f"--tile {opts.tile} is too small: expected at least 16 MS pixels")
    if opts.sensor is not None:
        get_sensor(opts.sensor)
    if opts.gains is not None:
        parse_gains_text(opts.gains)
    if opts.dtype is not None and opts.dtype not in SUPPORTED_DTYPES:
        raise UsageError(f"--dtype {opts.dtype}: expected one of {', '.join(SUPPORTED_DTYPES)}")
    check_creation_options(opts.fmt, opts.creation_options)
    parse_overviews(opts.overviews)
    return spec


def _start(opts: FuseOptions, reader: PairReader, paths: tuple[str | Path, Sequence[str | Path]]) -> _Run:
    """Gains (``--sensor``, else the delivery's sensor), output dtype and nodata; log what will be done."""
    g = reader.grid
    rad = radiometry(opts.sensor, opts.gains, reader.n_bands, *paths, ratio=reader.grid.ratio)
    out_dtype = opts.dtype or reader.ms_dtype
    nodata, nd_warns = output_nodata(reader, out_dtype)
    warns = [*g.warnings, *rad.warnings, *nd_warns, *check_scene(reader, opts.method, out_dtype)]
    for w in warns:
        log.warning(w)
    for n in g.notes:
        log.info(n)
    log.info(
        "fusing %d bands at ratio %d (measured %.4f x %.4f) with %s; output %dx%d %s",
        reader.n_bands,
        g.ratio,
        *g.measured_ratio,
        opts.method,
        g.width,
        g.height,
        out_dtype,
    )
    run = _Run(opts, reader, rad, out_dtype, nodata, warns, list(g.notes))
    run.overviews = overview_levels(parse_overviews(opts.overviews), g.width, g.height)
    return run


def _start_weights(opts: FuseOptions, config: Any) -> StartWeights:
    """The weights ``--weights`` names, loaded and verified (for the config's architecture; the
    shipped prior of the preset's network for ``default``)."""
    from ..priors.weights import load_weights, shipped_name

    spec = methods.get(opts.method)
    default = shipped_name(getattr(config, "net_arch", None), spec.default_weights)
    loaded = load_weights(opts.weights, arch=getattr(config, "arch", None), default=default)
    if loaded is None:
        return StartWeights(opts.weights)
    return StartWeights(opts.weights, loaded.state_dict, loaded.manifest)


def _prepare(run: _Run, spec: methods.MethodSpec, stats: SceneStats, progress: Progress) -> Fuser:
    """The method's Fuser: for methods that adapt, with the training region and weights."""
    t0 = time.perf_counter()
    opts, g = run.opts, run.reader.grid
    config = opts.settings_for(spec.name)
    if config is None and spec.default_config is not None:
        config = spec.default_config()
    inputs = SceneInputs(g.ratio, run.rad.ms_gains, run.rad.pan_gain, stats, config, progress=progress)
    if spec.adapts:
        inputs.weights = _start_weights(opts, config)
        inputs.training = training_data(run.reader, stats)
        inputs.device = opts.device
    fuser = spec.prepare(inputs)
    inputs.training = None
    if spec.adapts:
        run.seconds["train"] = time.perf_counter() - t0
    for w in fuser.warnings:
        log.warning(w)
    for n in fuser.notes:
        log.info(n)
    run.warnings += fuser.warnings
    run.notes += fuser.notes
    if opts.save_model is not None and fuser.save_model is not None:
        fuser.save_model(opts.save_model)
    return fuser


def _output_spec(run: _Run, out: Path, fuser: Fuser) -> OutputSpec:
    """Grid, dtype, metadata and creation options of the output."""
    r, g, opts = run.reader, run.reader.grid, run.opts
    return OutputSpec(
        path=out,
        width=g.width,
        height=g.height,
        count=r.n_bands,
        dtype=run.out_dtype,
        crs=g.crs,
        transform=g.transform if g.georeferenced else None,
        gcps=g.gcps,
        nodata=run.nodata,
        fmt=opts.fmt,
        creation_options=opts.creation_options,
        descriptions=r.band_descriptions(),
        colorinterp=r.band_colorinterp(),
        scaling=r.band_scaling(),
        tags=_tags(opts.method, run.rad, r, fuser.tags),
        area_or_point=r.area_or_point(),
        overviews=run.overviews,
    )


def _write(run: _Run, out: Path, fuser: Fuser, stats: SceneStats, progress: Progress) -> None:
    """The tile loop into the atomic writer (stage ``fuse``), then its commit (stage ``write``:
    flush, the COG copy, the read-back, the rename), each timed in ``run.seconds``."""
    g = run.reader.grid
    tiles = plan_tiles(g.ms_height, g.ms_width, run.opts.tile, fuser.halo)
    t0 = time.perf_counter()
    # torch methods: one tile after the other in this thread (torch's own threads fill the cores;
    # overlapping their reads and writes measured no faster, bench/zeroshot_speed.py)
    workers = max(1, run.opts.workers) if fuser.parallel else 0
    with OutputWriter(_output_spec(run, out, fuser)) as writer:
        fuse_tiles(
            run.reader,
            tiles,
            placed(fuser, g.ratio),
            stats,
            writer,
            run.out_dtype,
            run.nodata,
            progress,
            workers=workers,
        )
        run.seconds["fuse"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        progress("write", 0, 1, {})
        writer.commit()
        progress("write", 1, 1, {})
    run.seconds["write"] = time.perf_counter() - t1


@in_gdal_env
def fuse(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    out_path: str | Path,
    options: FuseOptions | None = None,
    progress: Progress = no_progress,
) -> FuseResult:
    """Fuse a PAN/MS pair into a GeoTIFF on the PAN grid.

    Args:
        pan_path: PAN raster: a local file or a GDAL path (``/vsizip/a.zip/pan.tif``,
            ``zip://a.zip!pan.tif``, ``/vsicurl/https://...``, ``s3://...``; a string).
        ms_paths: one multiband MS raster or several rasters in band order (the same).
        out_path: output GeoTIFF (a local file, written atomically).
        options: :class:`FuseOptions`.
        progress: callback ``(task, completed, total, info)``.

    Raises:
        InputError, InputFileError, OutputError, OptionError, WeightsError: see their messages.
    """
    opts = options or FuseOptions()
    spec = _check_options(opts)
    t_start = time.perf_counter()
    out = check_fuse(pan_path, ms_paths, out_path, opts)  # OUT, --preview, --save-model: before any read
    read = {"pan_band": opts.pan_band, "ratio": opts.ratio, "assume_aligned": opts.assume_aligned}
    with PairReader(pan_path, ms_paths, **read) as reader:
        run = _start(opts, reader, (pan_path, ms_paths))
        g = reader.grid
        fits = Footprint(g.width, g.height, reader.n_bands, run.out_dtype, opts.fmt, opts.creation_options)
        fits.overviews = bool(run.overviews)
        check_output_fits(out, fits)  # stale temps removed, the disk's space checked: before the work
        t0 = time.perf_counter()
        tiles = plan_tiles(g.ms_height, g.ms_width, opts.tile, 0)
        stats = scene_stats(reader, run.rad, tiles, progress, workers=opts.workers)
        run.seconds["statistics"] = time.perf_counter() - t0
        fuser = _prepare(run, spec, stats, progress)
        _write(run, out, fuser, stats, progress)
        if opts.preview is not None and opts.preview_scale is not None:
            preview_1to1(opts.preview, reader, out, opts.method, opts.preview_scale, opts.preview_size)
        elif opts.preview is not None:
            _preview(opts.preview, reader, out, opts.method)
    run.seconds["total"] = time.perf_counter() - t_start
    return FuseResult(
        out,
        opts.method,
        g.ratio,
        g.width,
        g.height,
        reader.n_bands,
        run.seconds,
        run.warnings,
        run.notes,
        {"sensor": {"name": run.rad.sensor, "source": run.rad.source}, **fuser.report},
    )
