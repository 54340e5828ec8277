"""Pure window arithmetic: tile plans, halos, the MS window of a PAN window, padding.

Everything here works in integer pixel offsets on two grids that are exactly aligned: the fusion
grid at PAN resolution and the working MS grid, ``ratio`` times coarser, whose pixel ``(i, j)``
covers fusion pixels ``ratio*i .. ratio*i + ratio - 1``. The raster layer (io.py) is responsible
for making the MS obey that grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    """One processing tile.

    Attributes:
        row, col: offset of the tile's core on the MS grid (coarse pixels).
        height, width: size of the core on the MS grid (coarse pixels).
        halo: context added on every side (coarse pixels), clipped at the scene edge and replaced by
            symmetric padding there.
    """

    row: int
    col: int
    height: int
    width: int
    halo: int

    def core_fine(self, ratio: int) -> tuple[int, int, int, int]:
        """(row, col, height, width) of the core on the fusion (PAN) grid."""
        return self.row * ratio, self.col * ratio, self.height * ratio, self.width * ratio


def plan_tiles(ms_height: int, ms_width: int, tile: int, halo: int) -> list[Tile]:
    """Cover an MS grid of ``ms_height`` x ``ms_width`` by tiles of at most ``tile`` coarse pixels.

    Args:
        ms_height, ms_width: size of the working MS grid (>= 1).
        tile: tile side in coarse pixels (>= 1).
        halo: halo in coarse pixels (>= 0).

    Returns:
        Tiles in row-major order; their cores partition the grid exactly.
    """
    if ms_height < 1 or ms_width < 1:
        raise ValueError(f"expected a non-empty grid, got {ms_width}x{ms_height} (width x height)")
    if tile < 1 or halo < 0:
        raise ValueError(f"expected tile >= 1 and halo >= 0, got tile={tile}, halo={halo}")
    return [
        Tile(r, c, min(tile, ms_height - r), min(tile, ms_width - c), halo)
        for r in range(0, ms_height, tile)
        for c in range(0, ms_width, tile)
    ]


def clipped_extent(start: int, size: int, halo: int, limit: int) -> tuple[int, int, int, int]:
    """Extend ``[start, start + size)`` by ``halo`` on both sides and clip it to ``[0, limit)``.

    Returns:
        (read_start, read_stop, pad_before, pad_after): what to read, and how much symmetric
        padding restores the full halo on each side.
    """
    lo, hi = start - halo, start + size + halo
    rlo, rhi = max(lo, 0), min(hi, limit)
    return rlo, rhi, rlo - lo, hi - rhi


def pad_symmetric(arr: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Pad the last two axes symmetrically (edge pixel repeated, like MATLAB ``symmetric``).

    Args:
        arr: (..., H, W) array.
        pads: (top, bottom, left, right).

    Pads larger than the array are handled by repeated mirroring.
    """
    top, bottom, left, right = pads
    if not any(pads):
        return arr
    width = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(arr, width, mode="symmetric")


def spread_sample(tiles: list[Tile], n: int) -> list[Tile]:
    """At most ``n`` tiles evenly spread over the list (deterministic), for statistics passes."""
    if n >= len(tiles):
        return list(tiles)
    idx = np.linspace(0, len(tiles) - 1, n).round().astype(int)
    return [tiles[i] for i in sorted(set(idx.tolist()))]
