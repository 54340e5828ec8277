"""``--preview`` at 1:1 (``--preview-scale``): a central crop of ``--preview-size`` PAN pixels a
side, the fusion and the PAN as written (no resampling), the MS upsampled as the fusion sees it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base.tiling import Tile
from ..io.quicklook import preview_fusion
from ..io.raster import open_raster, read_masked
from ..io.reader import PairReader
from ..physics.degradation import UPSAMPLE_HALO, upsample


def crop_origin(reader: PairReader, size: int) -> tuple[int, int, int, int]:
    """The central crop of at most ``size`` x ``size`` PAN pixels: (row, col, height, width) on the
    PAN grid, its origin on the MS grid (a multiple of the ratio)."""
    g, r = reader.grid, reader.grid.ratio
    hp, wp = min(size, g.height), min(size, g.width)
    hm, wm = -(-hp // r), -(-wp // r)
    return (g.ms_height - hm) // 2 * r, (g.ms_width - wm) // 2 * r, hp, wp


def preview_1to1(
    path: Path, reader: PairReader, fused_path: Path, method: str, scale: int, size: int
) -> None:
    """Write the 1:1 quicklook of the central crop (upsampled MS, the written fusion, PAN; nodata
    drawn black): :func:`pansharpen_cli.io.quicklook.preview_fusion` at ``scale``."""
    r = reader.grid.ratio
    row, col, hp, wp = crop_origin(reader, size)
    d = reader.read_tile(Tile(row // r, col // r, -(-hp // r), -(-wp // r), UPSAMPLE_HALO))
    e = UPSAMPLE_HALO * r  # the MS upsampled with its neighbours, then cut to the crop
    ms_up = upsample(d["ms"], r)[:, e : e + hp, e : e + wp]
    pan = np.where(d["pan_valid"], d["pan"], np.nan)[:, e : e + hp, e : e + wp]
    with open_raster(fused_path, "fused") as ds:
        fused = read_masked(ds, row, col, hp, wp)
    preview_fusion(path, pan, ms_up, fused, method, reader.band_descriptions(), scale)
