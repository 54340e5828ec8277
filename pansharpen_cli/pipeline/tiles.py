"""The tile loop of ``fuse``: read (with halo) -> fill nodata -> upsample -> fuse -> crop ->
convert -> write, with the fusion of several tiles overlapping the reads and writes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from ..base.nodata import FILL_REACH, fill_invalid, upscale_mask
from ..base.progress import Progress, no_progress
from ..base.tiling import Tile
from ..io.reader import PairReader
from ..io.writer import OutputWriter, to_dtype
from ..methods.base import Fuser, PlacedBlockFn
from ..methods.stats import SceneStats
from ..physics.degradation import upsample

#: What the tile loop calls: ``(pan, ms, origin) -> fused`` (see :func:`placed`).
TileFn = Callable[[np.ndarray, np.ndarray, tuple[int, int]], np.ndarray]


def _fuse_one(
    t: Tile,
    d: dict[str, np.ndarray],
    fuse: TileFn,
    stats: SceneStats,
    r: int,
    out_dtype: str,
    nodata: float | None,
) -> np.ndarray:
    """Fill, fuse (:func:`placed` upsamples the MS for fusers that want it), crop the halo and
    convert one tile ``t`` read by :meth:`PairReader.read_tile` with :data:`FILL_REACH` more halo
    (:func:`_read_tile`): the fill of the fusion's halo reads that far; the fusion gets ``t.halo``."""
    k, kf = FILL_REACH, FILL_REACH * r
    pan = fill_invalid(d["pan"], d["pan_valid"], np.array([stats.pan_mean]), kf)
    ms = fill_invalid(d["ms"], d["ms_valid"], stats.ms_mean, k)
    pan = pan[:, kf : pan.shape[1] - kf, kf : pan.shape[2] - kf]
    ms = ms[:, k : ms.shape[1] - k, k : ms.shape[2] - k]
    fused = fuse(pan, ms, ((t.row - t.halo) * r, (t.col - t.halo) * r))
    h0 = t.halo * r
    hh, ww = t.height * r, t.width * r
    core = fused[:, h0 : h0 + hh, h0 : h0 + ww]
    if stats.ms_min >= 0:
        core = np.maximum(core, 0)  # a non-negative MS stays non-negative (cubic/ratio overshoots)
    m0, f0 = t.halo + k, h0 + kf
    ms_valid = d["ms_valid"][m0 : m0 + t.height, m0 : m0 + t.width]
    valid = d["pan_valid"][f0 : f0 + hh, f0 : f0 + ww] & upscale_mask(ms_valid, r)
    return to_dtype(core, out_dtype, nodata, None if valid.all() else valid)


def fuse_tiles(
    reader: PairReader,
    tiles: list[Tile],
    fuse: TileFn,
    stats: SceneStats,
    writer: OutputWriter | None,
    out_dtype: str,
    nodata: float | None,
    progress: Progress = no_progress,
    collect: bool = False,
    workers: int = 1,
) -> np.ndarray | None:
    """Run ``fuse`` over the tiles and write (and/or collect) the converted result; ``fuse`` is
    given, after the arrays, the PAN-grid (row, column) of their first pixel (halo included).

    Reads and writes happen in the calling thread (GDAL handles are not shared between threads);
    the fusion of up to ``workers`` tiles runs in a thread pool (numpy, scipy and torch release the
    GIL), and the next tile is read while they run, so reading, decoding, encoding and writing
    overlap the fusion; memory stays bounded by ``2 * workers + 1`` tiles. ``workers`` 0 runs
    everything in the calling thread, one tile after the other.

    Returns:
        the whole output array when ``collect`` (tests), else None.
    """
    g, r = reader.grid, reader.grid.ratio
    full = np.empty((reader.n_bands, g.height, g.width), out_dtype) if collect else None
    done = 0
    progress("fuse", 0, len(tiles), {})

    def emit(t: Tile, out: np.ndarray) -> None:
        nonlocal done
        row, col, hh, ww = t.core_fine(r)
        if writer is not None:
            writer.write(out, row, col)
        if full is not None:
            full[:, row : row + hh, col : col + ww] = out
        done += 1
        progress("fuse", done, len(tiles), {})

    if workers <= 0:
        for t in tiles:
            emit(t, _fuse_one(t, _read_tile(reader, t), fuse, stats, r, out_dtype, nodata))
        return full
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for t in tiles:
                d = _read_tile(reader, t)
                pending.append((t, pool.submit(_fuse_one, t, d, fuse, stats, r, out_dtype, nodata)))
                while len(pending) > workers:  # one tile read ahead of the fusing ones
                    emit(*_result(pending.popleft()))
            while pending:
                emit(*_result(pending.popleft()))
        except BaseException:  # an error or Ctrl-C: the queued tiles dropped, not fused first
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return full


def _read_tile(reader: PairReader, t: Tile) -> dict[str, np.ndarray]:
    """Tile ``t`` read with :data:`FILL_REACH` MS pixels more halo than the fusion's."""
    return reader.read_tile(replace(t, halo=t.halo + FILL_REACH))


def placed(fuser: Fuser, ratio: int) -> TileFn:
    """The fuser's tile function of the PAN, the MS and the tile's origin: the MS upsampled for
    fusers that want it, the origin passed to positional fusers."""
    fn: PlacedBlockFn = (
        fuser.fuse if fuser.positional else (lambda pan, ms, up, origin: fuser.fuse(pan, ms, up))
    )

    def fuse(pan: np.ndarray, ms: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        return fn(pan, ms, upsample(ms, ratio) if fuser.upsampled else None, origin)

    return fuse


def _result(item: tuple[Tile, Any]) -> tuple[Tile, np.ndarray]:
    return item[0], item[1].result()
