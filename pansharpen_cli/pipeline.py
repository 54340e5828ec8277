"""The only place that joins raster I/O with the numerical code.

``fuse`` streams a PAN/MS pair through a method tile by tile: a statistics pass over a spread
sample of tiles, then read (with halo) -> fill nodata -> upsample -> fuse -> crop -> convert ->
write. Memory depends on the tile size, not on the scene size.

Progress is reported through a callback ``progress(task, completed, total, info)``; nothing here
prints or picks a device.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .baselines import HALO, METHODS, SceneStats, StatsAccumulator, fuse_block
from .degradation import UPSAMPLE_HALO, mtf_degrade, upsample
from .errors import InputError, OptionError
from .io import (
    SUPPORTED_DTYPES,
    OutputSpec,
    OutputWriter,
    PairReader,
    check_output_path,
    dtype_range,
    gdal_env,
    to_dtype,
)
from .sensors import Sensor, get_sensor, parse_gains
from .tiling import Tile, plan_tiles, spread_sample

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, dict], None]

ALL_METHODS = ("zeroshot", *METHODS)
#: Default tile side in MS pixels (256 * ratio PAN pixels: a multiple of the 256-pixel output block).
DEFAULT_TILE = 256
#: Tiles used for the statistics pass, spread over the scene.
STATS_TILES = 64


def _noop(task: str, completed: int, total: int, info: dict) -> None:
    return None


def _in_gdal_env(func):
    """Run a pipeline entry point inside the tool's GDAL configuration (bounded cache)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with gdal_env():
            return func(*args, **kwargs)

    return wrapper


@dataclass
class Radiometry:
    """Band gains of the MTF model for a scene."""

    sensor: str
    ms_gains: tuple[float, ...]
    pan_gain: float
    warnings: list[str] = field(default_factory=list)


def resolve_gains(sensor: str | None, gains: str | None, n_bands: int) -> Radiometry:
    """Gains from ``--sensor`` and ``--gains`` (gains win; unknown sensor is an error, none is generic)."""
    warns: list[str] = []
    if sensor is None:
        preset: Sensor = get_sensor("generic")
        if gains is None:
            warns.append(
                "no --sensor given: using generic MTF gains (0.3 MS, 0.15 PAN); pass --sensor or --gains "
                "for better results"
            )
    else:
        preset = get_sensor(sensor)
    ms_gains = preset.gains_for(n_bands)
    pan_gain = preset.pan_gain
    if gains is not None:
        ms_gains, pg = parse_gains(gains, n_bands)
        if pg is not None:
            pan_gain = pg
    return Radiometry(preset.name, tuple(float(g) for g in ms_gains), float(pan_gain), warns)


def output_nodata(reader: PairReader, dtype: str) -> tuple[float | None, list[str]]:
    """Nodata value of the output: the MS's, else the PAN's, else NaN for float outputs."""
    warns: list[str] = []
    nd = reader.ms_nodata if reader.ms_nodata is not None else reader.pan_nodata
    is_float = np.issubdtype(np.dtype(dtype), np.floating)
    if nd is None:
        return (float("nan") if is_float else None), warns
    if is_float or math.isnan(nd):
        return (float(nd) if is_float else None), warns
    lo, hi = dtype_range(dtype)
    if not (lo <= nd <= hi) or nd != int(nd):
        new = lo
        warns.append(f"nodata {nd} does not fit {dtype}: using {new:g} as nodata in the output")
        return new, warns
    return float(nd), warns


@dataclass
class FuseOptions:
    """Options of :func:`fuse` (the CLI's flags)."""

    method: str = "zeroshot"
    sensor: str | None = None
    gains: str | None = None
    ratio: int | None = None
    pan_band: int | None = None
    dtype: str | None = None
    fmt: str = "GTiff"
    creation_options: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False
    tile: int = DEFAULT_TILE
    workers: int = 2  # threads fusing tiles for the classical methods (zero-shot: torch's own threads)
    # zero-shot
    zeroshot: Any = None  # zeroshot.ZeroShotConfig; None = defaults
    weights: str = "default"
    device: Any = None  # torch.device chosen by the caller; None = CPU
    save_model: Path | None = None
    preview: Path | None = None


@dataclass
class FuseResult:
    """What :func:`fuse` did."""

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


def scene_stats(
    reader: PairReader, radiometry: Radiometry, tiles: list[Tile], progress: Progress = _noop
) -> SceneStats:
    """Statistics pass over a spread sample of tiles (cores only; PAN low-passed with its MTF)."""
    r = reader.grid.ratio
    sample = spread_sample(tiles, STATS_TILES)
    acc = StatsAccumulator(reader.n_bands)
    for i, t in enumerate(sample):
        halo = 6  # coarse pixels: the PAN MTF kernel needs 5
        d = reader.read_tile(Tile(t.row, t.col, t.height, t.width, halo))
        pan = _fill(d["pan"], d["pan_valid"], None)
        low = mtf_degrade(pan, [radiometry.pan_gain], r)[:, halo:-halo, halo:-halo]
        core = (slice(None), slice(halo, halo + t.height), slice(halo, halo + t.width))
        fcore = (slice(None), slice(halo * r, (halo + t.height) * r), slice(halo * r, (halo + t.width) * r))
        acc.update(d["pan"][fcore], d["pan_valid"][fcore[1:]], d["ms"][core], d["ms_valid"][core[1:]], low)
        progress("statistics", i + 1, len(sample), {})
    try:
        return acc.result()
    except ValueError:
        raise InputError(
            "PAN and MS have no valid pixels in common (everything is nodata in one of them)"
        ) from None


def _fill(arr: np.ndarray, valid: np.ndarray, means: np.ndarray | None) -> np.ndarray:
    """Replace invalid pixels by the band means (of the scene if given, else of this array)."""
    if valid.all():
        return arr
    out = arr.copy()
    for b in range(arr.shape[0]):
        if means is not None:
            m = means[b]
        else:
            v = arr[b][valid]
            m = float(v.mean()) if v.size else 0.0
        out[b][~valid] = m
    return out


BlockFuser = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _classical_fuser(method: str, ratio: int, stats: SceneStats, radiometry: Radiometry) -> BlockFuser:
    def run(pan: np.ndarray, ms: np.ndarray, ms_up: np.ndarray) -> np.ndarray:
        return fuse_block(method, pan, ms, ms_up, ratio, stats, radiometry.ms_gains)

    return run


def _fuse_one(
    t: Tile,
    d: dict[str, np.ndarray],
    fuser: BlockFuser,
    stats: SceneStats,
    r: int,
    out_dtype: str,
    nodata: float | None,
) -> np.ndarray:
    """Fill, upsample, fuse, crop the halo and convert one tile read by :meth:`PairReader.read_tile`."""
    pan = _fill(d["pan"], d["pan_valid"], np.array([stats.pan_mean]))
    ms = _fill(d["ms"], d["ms_valid"], stats.ms_mean)
    fused = fuser(pan, ms, upsample(ms, r))
    h0 = t.halo * r
    hh, ww = t.height * r, t.width * r
    core = fused[:, h0 : h0 + hh, h0 : h0 + ww]
    if stats.ms_min >= 0:
        core = np.maximum(core, 0)  # a non-negative MS stays non-negative (cubic/ratio overshoots)
    valid = d["pan_valid"][h0 : h0 + hh, h0 : h0 + ww] & np.repeat(
        np.repeat(d["ms_valid"][t.halo : t.halo + t.height, t.halo : t.halo + t.width], r, 0), r, 1
    )
    return to_dtype(core, out_dtype, nodata, None if valid.all() else valid)


def fuse_tiles(
    reader: PairReader,
    tiles: list[Tile],
    fuser: BlockFuser,
    stats: SceneStats,
    writer: OutputWriter | None,
    out_dtype: str,
    nodata: float | None,
    progress: Progress = _noop,
    collect: bool = False,
    workers: int = 1,
) -> np.ndarray | None:
    """Run ``fuser`` over the tiles and write (and/or collect) the converted result.

    Reads and writes happen in the calling thread (GDAL handles are not shared between threads);
    with ``workers`` > 1 the fusion of up to ``workers`` tiles runs in a thread pool (numpy and
    scipy release the GIL), so memory stays bounded by ``2 * workers`` tiles.

    Returns:
        the whole output array when ``collect`` (tests), else None.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    g = reader.grid
    r = g.ratio
    full = np.empty((reader.n_bands, g.height, g.width), out_dtype) if collect else None
    done = 0

    def emit(t: Tile, out: np.ndarray) -> None:
        nonlocal done
        row, col, hh, ww = t.core_fine(r)
        if writer is not None:
            writer.write(out, row, col)
        if full is not None:
            full[:, row : row + hh, col : col + ww] = out
        done += 1
        progress("fuse", done, len(tiles), {})

    if workers <= 1:
        for t in tiles:
            emit(t, _fuse_one(t, reader.read_tile(t), fuser, stats, r, out_dtype, nodata))
        return full
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for t in tiles:
            d = reader.read_tile(t)
            pending.append((t, pool.submit(_fuse_one, t, d, fuser, stats, r, out_dtype, nodata)))
            while len(pending) >= workers:
                tt, fut = pending.popleft()
                emit(tt, fut.result())
        while pending:
            tt, fut = pending.popleft()
            emit(tt, fut.result())
    return full


#: Largest preview side, in PAN pixels (a central crop of larger scenes).
PREVIEW_SIZE = 768


def _preview(path: Path, reader: PairReader, fused_path: Path, method: str) -> None:
    """Quicklook of a central crop: upsampled MS, the written fusion, PAN."""
    import rasterio
    from rasterio.windows import Window

    from .quicklook import preview_fusion

    g, r = reader.grid, reader.grid.ratio
    h, w = min(g.ms_height, PREVIEW_SIZE // r), min(g.ms_width, PREVIEW_SIZE // r)
    row, col = (g.ms_height - h) // 2, (g.ms_width - w) // 2
    d = reader.read_tile(Tile(row, col, h, w, 0))
    with rasterio.open(fused_path) as ds:
        fused = (
            ds.read(window=Window(col * r, row * r, w * r, h * r), masked=True)
            .astype(np.float64)
            .filled(np.nan)
        )
    pan = np.where(d["pan_valid"], d["pan"], np.nan)
    preview_fusion(path, pan, upsample(d["ms"], r), fused, method, reader.band_descriptions())


def _tags(method: str, rad: Radiometry, reader: PairReader, extra: dict[str, Any]) -> dict[str, str]:
    params = {
        "method": method,
        "sensor": rad.sensor,
        "ms_gains": list(rad.ms_gains),
        "pan_gain": rad.pan_gain,
        "ratio": reader.grid.ratio,
        "ms_resampled": reader.grid.resample,
        **extra,
    }
    return {
        "PANSHARPEN_METHOD": method,
        "PANSHARPEN_SENSOR": rad.sensor,
        "PANSHARPEN_RATIO": str(reader.grid.ratio),
        "PANSHARPEN_MS_GAINS": ",".join(f"{g:g}" for g in rad.ms_gains),
        "PANSHARPEN_PAN_GAIN": f"{rad.pan_gain:g}",
        "PANSHARPEN_PARAMETERS": json.dumps(params, sort_keys=True, default=str),
        "PANSHARPEN_VERSION": __version__,
        "PANSHARPEN_PAN": Path(reader.pan.name).name,
        "PANSHARPEN_MS": ",".join(
            Path(ds.name).name for ds in {id(d): d for d, _ in reader.ms_sources}.values()
        ),
    }


@_in_gdal_env
def fuse(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    out_path: str | Path,
    options: FuseOptions | None = None,
    progress: Progress = _noop,
) -> FuseResult:
    """Fuse a PAN/MS pair into a GeoTIFF on the PAN grid.

    Args:
        pan_path: PAN raster.
        ms_paths: one multiband MS raster or several rasters in band order.
        out_path: output GeoTIFF (written atomically).
        options: :class:`FuseOptions`.
        progress: callback ``(task, completed, total, info)``.

    Raises:
        InputError, InputFileError, OutputError, OptionError, WeightsError: see their messages.
    """
    opts = options or FuseOptions()
    if opts.method not in ALL_METHODS:
        raise OptionError(f"unknown method {opts.method!r}: expected one of {', '.join(ALL_METHODS)}")
    if opts.tile < 16:
        raise OptionError(f"--tile {opts.tile} is too small: expected at least 16 MS pixels")
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    out = check_output_path(out_path, [pan_path, *ms_paths], opts.overwrite)
    with PairReader(pan_path, ms_paths, pan_band=opts.pan_band, ratio=opts.ratio) as reader:
        g = reader.grid
        rad = resolve_gains(opts.sensor, opts.gains, reader.n_bands)
        warns = [*g.warnings, *rad.warnings]
        out_dtype = opts.dtype or reader.ms_dtype
        if out_dtype not in SUPPORTED_DTYPES:
            raise OptionError(f"--dtype {out_dtype}: expected one of {', '.join(SUPPORTED_DTYPES)}")
        nodata, nd_warns = output_nodata(reader, out_dtype)
        warns += nd_warns
        for w in warns:
            log.warning(w)
        for n in g.notes:
            log.info(n)
        notes = list(g.notes)
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
        stat_tiles = plan_tiles(g.ms_height, g.ms_width, opts.tile, 0)
        t0 = time.perf_counter()
        stats = scene_stats(reader, rad, stat_tiles, progress)
        seconds["statistics"] = time.perf_counter() - t0
        report: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if opts.method == "zeroshot":
            from .registration import describe as describe_registration
            from .zeroshot_runner import prepare_zeroshot

            t0 = time.perf_counter()
            fuser, halo, report, extra = prepare_zeroshot(reader, rad, stats, opts, progress)
            seconds["train"] = time.perf_counter() - t0
            said = describe_registration(report["zeroshot"].get("registration"))
            if said is not None:
                (warns if said[1] else notes).append(said[0])
                log.log(logging.WARNING if said[1] else logging.INFO, said[0])
        else:
            fuser, halo = _classical_fuser(opts.method, g.ratio, stats, rad), HALO
        tiles = plan_tiles(g.ms_height, g.ms_width, opts.tile, halo)
        spec = OutputSpec(
            path=out,
            width=g.width,
            height=g.height,
            count=reader.n_bands,
            dtype=out_dtype,
            crs=g.crs,
            transform=g.transform if g.georeferenced else None,
            nodata=nodata,
            fmt=opts.fmt,
            creation_options=opts.creation_options,
            descriptions=reader.band_descriptions(),
            colorinterp=reader.band_colorinterp(),
            tags=_tags(opts.method, rad, reader, extra),
            area_or_point=reader.area_or_point(),
        )
        t0 = time.perf_counter()
        with OutputWriter(spec) as writer:
            workers = 1 if opts.method == "zeroshot" else max(1, opts.workers)
            fuse_tiles(reader, tiles, fuser, stats, writer, out_dtype, nodata, progress, workers=workers)
            writer.commit()
        seconds["fuse"] = time.perf_counter() - t0
        if opts.preview is not None:
            _preview(opts.preview, reader, out, opts.method)
    seconds["total"] = time.perf_counter() - t_start
    return FuseResult(
        output=out,
        method=opts.method,
        ratio=g.ratio,
        width=g.width,
        height=g.height,
        bands=reader.n_bands,
        seconds=seconds,
        warnings=warns,
        notes=notes,
        report=report,
    )


# ---------------------------------------------------------------------------------------------
# Reduced-resolution simulation (Wald protocol)


@dataclass
class SimulateResult:
    pan: Path
    ms: Path
    reference: Path
    ratio: int
    ms_gains: tuple[float, ...]
    pan_gain: float
    warnings: list[str]


@_in_gdal_env
def simulate(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    sensor: str | None = None,
    gains: str | None = None,
    ratio: int | None = None,
    pan_band: int | None = None,
    overwrite: bool = False,
    tile: int = 128,
    progress: Progress = _noop,
) -> SimulateResult:
    """Write the reduced-resolution pair ``pan.tif``, ``ms.tif`` and ``reference.tif`` into ``out_dir``.

    PAN and MS are degraded by their MTFs and decimated by the ratio; the reference is the MS on the
    working grid. All three are georeferenced on the coarser grids (when the inputs are) and keep the
    input dtypes (rounded and clipped). Processed by tiles.
    """
    od = Path(out_dir)
    if not od.exists():
        od.mkdir(parents=True)
    paths = {k: od / f"{k}.tif" for k in ("pan", "ms", "reference")}
    for p in paths.values():
        check_output_path(p, [pan_path, *ms_paths], overwrite)
    with PairReader(pan_path, ms_paths, pan_band=pan_band, ratio=ratio) as reader:
        g = reader.grid
        r = g.ratio
        rad = resolve_gains(sensor, gains, reader.n_bands)
        h2, w2 = g.ms_height // r, g.ms_width // r
        if h2 < 8 or w2 < 8:
            raise InputError(
                f"the MS ({g.ms_height}x{g.ms_width}) is too small to simulate at ratio {r}: need at least "
                f"{8 * r}x{8 * r} MS pixels"
            )
        from rasterio.transform import Affine

        georef = g.georeferenced
        t_ms = g.ms_transform if georef else None
        t_rr = (g.ms_transform @ Affine.scale(r)) if georef else None
        nd, _ = output_nodata(reader, reader.ms_dtype)
        pan_dtype = reader.pan.dtypes[reader.pan_band - 1]
        pan_nd = reader.pan_nodata
        tags = {
            "PANSHARPEN_SIMULATED": "reduced-resolution (Wald protocol)",
            "PANSHARPEN_RATIO": str(r),
            "PANSHARPEN_MS_GAINS": ",".join(f"{x:g}" for x in rad.ms_gains),
            "PANSHARPEN_PAN_GAIN": f"{rad.pan_gain:g}",
            "PANSHARPEN_VERSION": __version__,
        }
        desc = reader.band_descriptions()
        ci = reader.band_colorinterp()

        def spec(path, w, h, count, dtype, transform, nodata, d=(), c=()):
            return OutputSpec(
                path=path,
                width=w,
                height=h,
                count=count,
                dtype=dtype,
                crs=g.crs if georef else None,
                transform=transform,
                nodata=nodata,
                descriptions=d,
                colorinterp=c,
                tags=tags,
            )

        specs = {
            "pan": spec(paths["pan"], w2 * r, h2 * r, 1, pan_dtype, t_ms, pan_nd),
            "ms": spec(paths["ms"], w2, h2, reader.n_bands, reader.ms_dtype, t_rr, nd, desc, ci),
            "reference": spec(
                paths["reference"], w2 * r, h2 * r, reader.n_bands, reader.ms_dtype, t_ms, nd, desc, ci
            ),
        }
        tiles = plan_tiles(h2, w2, tile, 0)
        halo = 6 * r  # MS pixels: both MTF kernels fit
        writers = {k: OutputWriter(s) for k, s in specs.items()}
        try:
            for i, t in enumerate(tiles):
                d = reader.read_tile(Tile(t.row * r, t.col * r, t.height * r, t.width * r, halo))
                pan = _fill(d["pan"], d["pan_valid"], None)
                ms = _fill(d["ms"], d["ms_valid"], None)
                pan_rr = mtf_degrade(pan, [rad.pan_gain], r)[:, halo:-halo, halo:-halo]
                ms_rr = mtf_degrade(ms, rad.ms_gains, r)[:, halo // r : -halo // r, halo // r : -halo // r]
                ref = d["ms"][:, halo:-halo, halo:-halo]
                v_ms = d["ms_valid"][halo:-halo, halo:-halo]
                v_rr = v_ms.reshape(t.height, r, t.width, r).all(axis=(1, 3))
                pv = d["pan_valid"][halo * r : -halo * r, halo * r : -halo * r]
                pv_rr = pv.reshape(t.height * r, r, t.width * r, r).all(axis=(1, 3))
                writers["pan"].write(to_dtype(pan_rr, pan_dtype, pan_nd, pv_rr), t.row * r, t.col * r)
                writers["ms"].write(to_dtype(ms_rr, reader.ms_dtype, nd, v_rr), t.row, t.col)
                writers["reference"].write(to_dtype(ref, reader.ms_dtype, nd, v_ms), t.row * r, t.col * r)
                progress("simulate", i + 1, len(tiles), {})
            for w in writers.values():
                w.commit()
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
    return SimulateResult(
        paths["pan"], paths["ms"], paths["reference"], r, rad.ms_gains, rad.pan_gain, rad.warnings
    )


# ---------------------------------------------------------------------------------------------
# Quality indexes of a fused file


@_in_gdal_env
def evaluate(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    fused_path: str | Path,
    *,
    reference: str | Path | None = None,
    sensor: str | None = None,
    gains: str | None = None,
    ratio: int | None = None,
    pan_band: int | None = None,
    tile: int = 128,
    progress: Progress = _noop,
) -> dict[str, float]:
    """Quality indexes of a fused raster, streamed by tiles.

    Without ``reference``: the full-resolution indexes (D_lambda, D_s, QNR, D_lambda_K, HQNR, D_rho,
    R_Q2n) of FUSED against the PAN and MS. With ``reference`` (a raster on FUSED's grid, e.g. the
    ``reference.tif`` of :func:`simulate`): Q2n, Q, SAM, ERGAS, SCC, PSNR of FUSED against it.
    Nodata pixels are filled with the band means before the indexes are computed.

    Raises:
        InputError: FUSED (or the reference) is not on the fusion grid of the pair.
    """
    from .io import _open
    from .metrics import FullResolutionAccumulator, ReferenceAccumulator

    fused_ds = _open(fused_path, "fused")
    ref_ds = _open(reference, "reference") if reference is not None else None
    try:
        if ref_ds is not None:
            if (ref_ds.width, ref_ds.height, ref_ds.count) != (
                fused_ds.width,
                fused_ds.height,
                fused_ds.count,
            ):
                raise InputError(
                    f"reference {reference} is {ref_ds.width}x{ref_ds.height}x{ref_ds.count} but the fused "
                    f"image is {fused_ds.width}x{fused_ds.height}x{fused_ds.count}: they must share the grid"
                )
            with PairReader(pan_path, ms_paths, pan_band=pan_band, ratio=ratio) as reader:
                r = ratio or reader.grid.ratio
            return _evaluate_reference(fused_ds, ref_ds, r, tile, progress, ReferenceAccumulator)
        with PairReader(pan_path, ms_paths, pan_band=pan_band, ratio=ratio) as reader:
            g = reader.grid
            if (fused_ds.height, fused_ds.width, fused_ds.count) != (g.height, g.width, reader.n_bands):
                raise InputError(
                    f"fused image {fused_path} is {fused_ds.width}x{fused_ds.height}x{fused_ds.count} but the "
                    f"pair fuses to {g.width}x{g.height}x{reader.n_bands}: evaluate the output of "
                    "`pansharpen fuse` of this pair"
                )
            if g.georeferenced and not fused_ds.transform.almost_equals(
                g.transform, precision=1e-6 * abs(g.transform.a)
            ):
                raise InputError(
                    f"fused image {fused_path} is not on the PAN grid of the fused region "
                    f"({tuple(fused_ds.transform)[:6]} vs {tuple(g.transform)[:6]})"
                )
            rad = resolve_gains(sensor, gains, reader.n_bands)
            for w in rad.warnings:
                log.warning(w)
            tiles = plan_tiles(g.ms_height, g.ms_width, tile, 0)
            stats = scene_stats(reader, rad, tiles)
            return _evaluate_full(reader, fused_ds, rad, stats, tiles, progress, FullResolutionAccumulator)
    finally:
        fused_ds.close()
        if ref_ds is not None:
            ref_ds.close()


def _read_filled(ds, window) -> np.ndarray:
    a = ds.read(window=window, masked=True).astype(np.float64)
    a = np.ma.masked_invalid(a)
    if a.mask is np.ma.nomask or not a.mask.any():
        return np.asarray(a.filled(0.0) if np.ma.isMaskedArray(a) else a)
    means = a.mean(axis=(1, 2)).filled(0.0)
    return np.where(a.mask, means[:, None, None], a.data)


def _evaluate_reference(fused_ds, ref_ds, ratio, tile, progress, acc_cls) -> dict[str, float]:
    from rasterio.windows import Window

    h, w = fused_ds.height, fused_ds.width
    acc = acc_cls(ratio, (h, w))
    step = max(tile * 4, 64)
    tiles = plan_tiles(h, w, step, 0)
    for i, t in enumerate(tiles):
        r0, r1 = max(0, t.row - acc.halo), min(h, t.row + t.height + acc.halo)
        c0, c1 = max(0, t.col - acc.halo), min(w, t.col + t.width + acc.halo)
        win = Window(c0, r0, c1 - c0, r1 - r0)
        acc.update(
            _read_filled(ref_ds, win),
            _read_filled(fused_ds, win),
            origin=(r0, c0),
            core=(t.row, t.col, t.height, t.width),
        )
        progress("evaluate", i + 1, len(tiles), {})
    return acc.result()


def _evaluate_full(reader, fused_ds, rad, stats, tiles, progress, acc_cls) -> dict[str, float]:
    from rasterio.windows import Window

    g, r = reader.grid, reader.grid.ratio
    acc = acc_cls(r, rad.ms_gains, (g.height, g.width))
    hm = -(-acc.halo // r)  # halo in MS pixels
    extra = UPSAMPLE_HALO
    pan_mean = np.array([stats.pan_mean])
    for i, t in enumerate(tiles):
        e = hm + extra
        d = reader.read_tile(Tile(t.row, t.col, t.height, t.width, e))
        a0, a1 = max(0, t.row - hm), min(g.ms_height, t.row + t.height + hm)
        b0, b1 = max(0, t.col - hm), min(g.ms_width, t.col + t.width + hm)
        ra, rb = a0 - (t.row - e), a1 - (t.row - e)
        ca, cb = b0 - (t.col - e), b1 - (t.col - e)
        ms_full = _fill(d["ms"], d["ms_valid"], stats.ms_mean)
        ms_up = upsample(ms_full, r)[:, ra * r : rb * r, ca * r : cb * r]
        ms = ms_full[:, ra:rb, ca:cb]
        pan = _fill(d["pan"], d["pan_valid"], pan_mean)[:, ra * r : rb * r, ca * r : cb * r]
        fused = _read_filled(fused_ds, Window(b0 * r, a0 * r, (b1 - b0) * r, (a1 - a0) * r))
        acc.update(
            pan,
            ms_up,
            fused,
            ms,
            origin=(a0 * r, b0 * r),
            core=(t.row * r, t.col * r, t.height * r, t.width * r),
        )
        progress("evaluate", i + 1, len(tiles), {})
    return acc.result()
