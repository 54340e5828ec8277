"""Argument checks shared by the indexes: array shapes, the ratio, the gains, and the tile windows
of the accumulators' streaming contract (see :mod:`pansharpen_cli.metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# --------------------------------------------------------------------------------------------- arrays
def as3d(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as an array shaped (bands, rows, cols); ``name`` is for the error message."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ValueError(f"expected {name} shaped (bands, rows, cols), got shape {arr.shape}")
    return arr


def as_pan(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as a single-band array: (rows, cols) or (1, rows, cols) -> (1, rows, cols)."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] != 1:
        raise ValueError(f"expected {name} shaped (1, rows, cols), got shape {arr.shape}")
    return arr


def same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape (``names`` for the message)."""
    if a.shape != b.shape:
        raise ValueError(f"expected {names} with the same shape, got {a.shape} and {b.shape}")


def check_ratio(ratio: int) -> int:
    """``ratio`` as an ``int`` >= 1 (an integral float is accepted)."""
    r = int(ratio)
    if r != ratio or r < 1:
        raise ValueError(f"expected an integer ratio >= 1, got {ratio}")
    return r


def check_gains(gains: Sequence[float], bands: int) -> tuple[float, ...]:
    """The MS Nyquist gains as floats, exactly one per band."""
    g = tuple(float(v) for v in gains)
    if len(g) != bands:
        raise ValueError(f"expected {bands} MS gains (one per band), got {len(g)}")
    return g


# ---------------------------------------------------------------------------------------- streaming
def check_window(
    shape: tuple[int, int],
    origin: tuple[int, int],
    extent: tuple[int, int],
    core: tuple[int, int, int, int],
    halo: tuple[int, int, int, int],
) -> None:
    """Check that an array window holds its core plus the halo, clipped at the image border.

    Args:
        shape: (H, W) of the whole image.
        origin: (row, col) of the window's top-left pixel in the image.
        extent: (h, w) of the window.
        core: (row, col, height, width) image pixels the tile contributes.
        halo: pixels needed around the core (top, left, bottom, right).

    Raises:
        ValueError: the window leaves the image, misses the core, or holds too small a halo.
    """
    hh, ww = shape
    o_r, o_c = origin
    e_r, e_c = extent
    cr, cc, ch, cw = core
    if o_r < 0 or o_c < 0 or o_r + e_r > hh or o_c + e_c > ww:
        raise ValueError(
            f"expected the arrays inside the {hh}x{ww} image, got origin {origin} and extent {extent}"
        )
    if ch <= 0 or cw <= 0 or cr < o_r or cc < o_c or cr + ch > o_r + e_r or cc + cw > o_c + e_c:
        raise ValueError(f"expected the core {core} inside the arrays at {origin} of extent {extent}")
    need = (
        min(halo[0], cr),
        min(halo[1], cc),
        min(halo[2], hh - cr - ch),
        min(halo[3], ww - cc - cw),
    )
    have = (cr - o_r, cc - o_c, o_r + e_r - cr - ch, o_c + e_c - cc - cw)
    if any(h < n for h, n in zip(have, need, strict=True)):
        raise ValueError(
            f"expected a halo of at least {need} pixels (top, left, bottom, right) around the core "
            f"{core}, got {have}"
        )


def core_of(
    origin: tuple[int, int], extent: tuple[int, int], core: Sequence[int] | None
) -> tuple[int, int, int, int]:
    """The core (row, col, height, width) of an update: the whole window (``origin``, ``extent``) if
    ``core`` is None, else ``core`` as four ints."""
    if core is None:
        return (int(origin[0]), int(origin[1]), int(extent[0]), int(extent[1]))
    if len(core) != 4:
        raise ValueError(f"expected core as (row, col, height, width), got {core}")
    cr, cc, ch, cw = (int(v) for v in core)
    return cr, cc, ch, cw
