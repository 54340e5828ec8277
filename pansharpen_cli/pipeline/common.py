"""What the pipeline's entry points share: the GDAL configuration, the radiometry (``--sensor``, else
the sensor recognised from the delivery), the checks of an opened scene made before any work (a
scene too small for the method, an output dtype that would clip the MS's values), the statistics pass, the output's nodata value and the training region read for methods
that adapt to the scene."""

from __future__ import annotations

import functools
import logging
import math
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import methods
from ..base.errors import InputError, OptionError
from ..base.nodata import FILL_REACH, block_all, fill_invalid, joint_valid
from ..base.progress import Progress, no_progress
from ..base.sensors import Radiometry, resolve_gains
from ..base.tiling import Tile, plan_tiles, spread_sample
from ..io.delivery import detect_sensor
from ..io.raster import gdal_env
from ..io.reader import PairReader
from ..io.writer import dtype_range
from ..methods.base import TrainingData
from ..methods.stats import SceneStats, StatsAccumulator, TileMoments, tile_moments
from ..physics.degradation import mtf_degrade

log = logging.getLogger(__name__)

#: Tiles used for the statistics pass, spread over the scene.
STATS_TILES = 64
#: Largest training region read whole, in PAN pixels (about 64 MB of float32 PAN + MS).
MAX_TRAIN_PIXELS = 2048 * 2048
#: Side of the windows of the training mosaic of larger scenes, in MS pixels.
MOSAIC_WINDOW = 128


def in_gdal_env(func):
    """Run a pipeline entry point inside the tool's GDAL configuration (bounded cache)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with gdal_env():
            return func(*args, **kwargs)

    return wrapper


def radiometry(
    sensor: str | None,
    gains: str | None,
    n_bands: int,
    pan_path: str | os.PathLike,
    ms_paths: Sequence[str | os.PathLike],
    ratio: int | None = None,
) -> Radiometry:
    """The MTF gains of a scene: ``--sensor`` (and ``--gains``); without ``--sensor``, the sensor the
    delivery's metadata names (:func:`pansharpen_cli.io.delivery.detect_sensor`, logged), else the
    generic gains with a warning (which names the presets of the scene's ``ratio`` when it is not 4).

    Raises:
        OptionError: ``--sensor``/``--gains`` that do not fit. InputError: PAN and MS metadata that
            name different satellites.
    """
    found = detect_sensor(pan_path, ms_paths) if sensor is None else None
    if found is None:
        return resolve_gains(sensor, gains, n_bands, ratio)
    log.info(found.describe())
    rad = resolve_gains(found.sensor, gains, n_bands)
    rad.source = found.origin
    rad.warnings += [found.warning] if found.warning else []
    return rad


#: Halo of the statistics pass's tiles, in coarse pixels: the PAN MTF kernel needs 5.
_STATS_HALO = 6


def _tile_moments(d: dict[str, np.ndarray], t: Tile, r: int, pan_gain: float) -> TileMoments:
    """The moments of one tile read with a halo of :data:`_STATS_HALO` (PAN low-passed by its MTF)."""
    halo = _STATS_HALO
    pan = fill_invalid(d["pan"], d["pan_valid"], None)
    low = mtf_degrade(pan, [pan_gain], r)[:, halo:-halo, halo:-halo]
    core = (slice(None), slice(halo, halo + t.height), slice(halo, halo + t.width))
    fcore = (slice(None), slice(halo * r, (halo + t.height) * r), slice(halo * r, (halo + t.width) * r))
    return tile_moments(d["pan"][fcore], d["pan_valid"][fcore[1:]], d["ms"][core], d["ms_valid"][core[1:]], low)


def scene_stats(
    reader: PairReader,
    radiometry: Radiometry,
    tiles: list[Tile],
    progress: Progress = no_progress,
    workers: int = 1,
) -> SceneStats:
    """Statistics pass over a spread sample of tiles (cores only; PAN low-passed with its MTF).

    Tiles are read in the calling thread; with ``workers`` > 1 their moments are computed in a
    thread pool (at most ``workers`` tiles waiting) and added in tile order, so the result does not
    depend on ``workers``.

    Raises:
        InputError: PAN and MS share no valid pixel.
    """
    r = reader.grid.ratio
    sample = spread_sample(tiles, STATS_TILES)
    acc = StatsAccumulator(reader.n_bands)
    pending: deque = deque()
    n, done = max(1, workers), 0
    progress("statistics", 0, len(sample), {})
    with ThreadPoolExecutor(max_workers=n) as pool:
        for i, t in enumerate(sample):
            d = reader.read_tile(Tile(t.row, t.col, t.height, t.width, _STATS_HALO))
            pending.append(pool.submit(_tile_moments, d, t, r, radiometry.pan_gain))
            while len(pending) >= n or (pending and i + 1 == len(sample)):
                acc.add(pending.popleft().result())
                done += 1
                progress("statistics", done, len(sample), {})
    try:
        return acc.result()
    except ValueError:
        few = "no valid pixels" if acc.n == 0 else f"only {acc.n} valid MS pixel{'s' * (acc.n != 1)}"
        if acc.n >= 2:  # the MS has enough: the PAN's own valid pixels are too few
            few = f"only {acc.pn} valid PAN pixel{'s' * (acc.pn != 1)}"
        raise InputError(
            f"PAN and MS have {few} in common (the rest is nodata in one of them): the scene statistics "
            "need at least 2"
        ) from None


def output_nodata(reader: PairReader, dtype: str) -> tuple[float | None, list[str]]:
    """Nodata value of the output: the MS's, else the PAN's, else NaN for float outputs.

    An integer output of inputs whose nodata has no integer value (NaN, a mask or alpha band, a
    float file without a nodata value) takes the type's lowest value as its nodata, with a warning;
    so does one whose input nodata value does not fit the type. Nodata is never written as data.
    """
    warns: list[str] = []
    nd = reader.ms_nodata if reader.ms_nodata is not None else reader.pan_nodata
    is_float = np.issubdtype(np.dtype(dtype), np.floating)
    if is_float:
        return (float("nan") if nd is None else float(nd)), warns
    lo, hi = dtype_range(dtype)
    if nd is None or math.isnan(nd):
        why = reader.unvalued_nodata()
        if why is not None:
            warns.append(f"{why}: nodata is written as {lo:g}, the nodata value of the {dtype} output")
            return lo, warns
        return None, warns
    if not (lo <= nd <= hi) or nd != int(nd):
        new = lo
        warns.append(f"nodata {nd} does not fit {dtype}: using {new:g} as nodata in the output")
        return new, warns
    return float(nd), warns


#: MS windows read to estimate the share of values an integer output dtype would clip, and their side.
RANGE_SAMPLE_TILES = 16
RANGE_SAMPLE_SIDE = 256


#: Integer levels under which an integer output of a floating-point MS is refused (the fusion would
#: come out nearly constant), and under which it is warned about.
MIN_LEVELS, FEW_LEVELS = 16, 256


def check_scene(reader: PairReader, method: str, out_dtype: str) -> list[str]:
    """Refuse a scene too small for ``method``; the warnings about the output dtype.

    Raises:
        InputError: the fusion grid has fewer MS pixels a side than the method needs.
        OptionError: an integer ``out_dtype`` would round a floating-point MS to under
            :data:`MIN_LEVELS` levels.
    """
    check_size(reader, methods.get(method))
    return range_warnings(reader, out_dtype)


def check_size(reader: PairReader, spec: methods.MethodSpec) -> None:
    """Refuse a working MS grid smaller than ``spec.min_ms_side`` ratios a side, naming the MS file,
    its size, the grid's size when the common footprint makes it smaller, and the methods that work.

    Raises:
        InputError: the scene is too small for the method.
    """
    g = reader.grid
    need = spec.min_ms_side * g.ratio
    if min(g.ms_width, g.ms_height) >= need:
        return
    ms = reader.ms
    size = f"{ms.width}x{ms.height} pixels"
    if (g.ms_width, g.ms_height) != (ms.width, ms.height):
        size += (
            f", of which {g.ms_width}x{g.ms_height} lie on the fusion grid (the PAN/MS common footprint in "
            f"whole MS pixels aligned with the PAN)"
        )
    raise InputError(
        f"MS {ms.name} is too small for -m {spec.name}: it needs at least {need}x{need} MS pixels at ratio "
        f"{g.ratio}, the scene has {size}: use a classical method (-m mtf-glp-hpm), which works on scenes "
        "this small"
    )


def _sample_range(reader: PairReader, lo: float, hi: float) -> tuple[int, int, float, float]:
    """Over a sample of the MS (:data:`RANGE_SAMPLE_TILES` windows spread over it), the number of
    valid values, how many lie outside ``lo..hi`` after rounding, and their minimum and maximum."""
    g = reader.grid
    tiles = spread_sample(plan_tiles(g.ms_height, g.ms_width, RANGE_SAMPLE_SIDE, 0), RANGE_SAMPLE_TILES)
    total = outside = 0
    v_min, v_max = np.inf, -np.inf
    for t in tiles:
        arr, valid = reader.read_ms(t.row, t.col, t.height, t.width)
        values = arr[:, valid]
        if values.size:
            total += values.size
            outside += int(np.count_nonzero((values < lo - 0.5) | (values > hi + 0.5)))
            v_min, v_max = min(v_min, float(values.min())), max(v_max, float(values.max()))
    return total, outside, v_min, v_max


def range_warnings(reader: PairReader, out_dtype: str) -> list[str]:
    """Warnings when an integer ``out_dtype`` cannot hold the MS's values: the share of values of a
    sample of the scene that would be clipped, and, for a floating-point MS, the few whole-number
    levels its values span (reflectance 0..0.4 as uint16 rounds to 0 and 1). Empty when it holds
    them, or when the MS's own dtype fits in it (no read).

    Raises:
        OptionError: a floating-point MS whose values span fewer than :data:`MIN_LEVELS` levels of
            the integer type: the output would be nearly constant.
    """
    if not np.issubdtype(np.dtype(out_dtype), np.integer) or np.can_cast(reader.ms_dtype, out_dtype):
        return []
    lo, hi = dtype_range(out_dtype)
    total, outside, v_min, v_max = _sample_range(reader, lo, hi)
    rescale = "rescale the inputs first (gdal_translate -scale)"
    fix = f"use --dtype {_wider(reader.ms_dtype)} or float32, or {rescale}"
    warns = []
    if total and np.issubdtype(np.dtype(reader.ms_dtype), np.floating):
        levels = int(np.clip(np.rint(v_max), lo, hi) - np.clip(np.rint(v_min), lo, hi)) + 1
        what = (
            f"--dtype {out_dtype} rounds to whole numbers but the MS ({reader.ms_dtype}) has values "
            f"{v_min:g}..{v_max:g} (a sample of the scene): the output would keep {levels} level"
            f"{'s' if levels != 1 else ''}"
        )
        keep = f"keep a floating-point output (--dtype float32) or {rescale}"
        if levels < MIN_LEVELS:
            raise OptionError(f"{what}: {keep}")
        if levels < FEW_LEVELS:
            warns.append(f"{what}; {keep}")
    if outside:
        warns.append(
            f"--dtype {out_dtype} holds {lo:g}..{hi:g} but the MS ({reader.ms_dtype}) has values "
            f"{v_min:g}..{v_max:g}: about {100.0 * outside / total:.3g}% of the output's values will be "
            f"clipped (estimated from a sample of the scene); {fix}"
        )
    return warns


def _wider(ms_dtype: str) -> str:
    """The dtype to suggest: the MS's own when it is an integer type, else uint16."""
    return ms_dtype if np.issubdtype(np.dtype(ms_dtype), np.integer) else "uint16"


def _training_parts(reader: PairReader) -> tuple[list[dict[str, np.ndarray]], int, dict]:
    """The tiles of the training region: the whole scene (k = 1), or k x k mosaic windows."""
    g, r = reader.grid, reader.grid.ratio
    if g.height * g.width <= MAX_TRAIN_PIXELS:
        return [reader.read_all()], 1, {"region": "whole scene", "pixels": g.height * g.width}
    w = MOSAIC_WINDOW
    k = max(1, int(math.sqrt(MAX_TRAIN_PIXELS) // (w * r)))
    tiles = plan_tiles(g.ms_height, g.ms_width, w, 0)
    full = [t for t in tiles if t.height == w and t.width == w] or tiles
    chosen = spread_sample(full, k * k)
    k = int(math.sqrt(len(chosen)))
    chosen = chosen[: k * k]
    parts = [reader.read_tile(Tile(t.row, t.col, t.height, t.width, 0)) for t in chosen]
    info = {
        "region": f"mosaic of {k}x{k} windows of {w} MS pixels spread over the scene",
        "pixels": sum(p["pan"].size for p in parts),
    }
    return parts, k, info


def training_data(reader: PairReader, stats: SceneStats) -> TrainingData:
    """PAN (1, H, W), MS (B, H/r, W/r) with nodata filled as the tiles fill it (a local mean near
    the data, the scene means farther: :func:`fill_invalid`), and the validity at
    PAN scale (H, W): the whole fused region, or for large scenes a square mosaic of windows of
    :data:`MOSAIC_WINDOW` MS pixels spread evenly over the scene (deterministic)."""
    r = reader.grid.ratio
    parts, k, info = _training_parts(reader)
    rows_pan, rows_ms, rows_valid = [], [], []
    for i in range(k):
        row = parts[i * k : (i + 1) * k]
        rows_pan.append(np.concatenate([p["pan"] for p in row], axis=2))
        rows_ms.append(np.concatenate([p["ms"] for p in row], axis=2))
        rows_valid.append(
            np.concatenate([joint_valid(p["pan_valid"], p["ms_valid"], r) for p in row], axis=1)
        )
    pan = np.concatenate(rows_pan, axis=1)
    ms = np.concatenate(rows_ms, axis=1)
    valid = np.concatenate(rows_valid, axis=0)
    ms_valid = block_all(valid, r)
    pan = fill_invalid(pan, valid, np.array([stats.pan_mean]), FILL_REACH * r)
    ms = fill_invalid(ms, ms_valid, stats.ms_mean, FILL_REACH)
    return TrainingData(pan, ms, valid, info)
