"""What the pipeline's entry points share: the GDAL configuration, the statistics pass, the
output's nodata value and the training region read for methods that adapt to the scene."""

from __future__ import annotations

import functools
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..base.errors import InputError
from ..base.nodata import block_all, fill_invalid, joint_valid
from ..base.progress import Progress, no_progress
from ..base.sensors import Radiometry
from ..base.tiling import Tile, plan_tiles, spread_sample
from ..io.raster import gdal_env
from ..io.reader import PairReader
from ..io.writer import dtype_range
from ..methods.base import TrainingData
from ..methods.stats import SceneStats, StatsAccumulator, TileMoments, tile_moments
from ..physics.degradation import mtf_degrade

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
        raise InputError(
            "PAN and MS have no valid pixels in common (everything is nodata in one of them)"
        ) from None


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
    """PAN (1, H, W), MS (B, H/r, W/r) with nodata filled by the scene means, and the validity at
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
    pan = fill_invalid(pan, valid, np.array([stats.pan_mean]))
    ms = fill_invalid(ms, ms_valid, stats.ms_mean)
    return TrainingData(pan, ms, valid, info)
