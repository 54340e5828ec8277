"""Validity masks and nodata filling, defined once for every part of the tool.

Masks are (rows, cols) bool arrays, True where a pixel holds data. The MS grid is ``ratio`` times
coarser than the PAN grid: MS pixel ``(i, j)`` covers PAN pixels ``ratio*i .. ratio*i + ratio - 1``.
"""

from __future__ import annotations

import math

import numpy as np


def valid_mask(arr: np.ndarray, nodata: float | None) -> np.ndarray:
    """(B, H, W) -> (H, W) bool: every band finite and not equal to ``nodata``."""
    ok = np.isfinite(arr).all(axis=0)
    if nodata is not None and not math.isnan(nodata):
        if np.issubdtype(arr.dtype, np.floating):
            ok &= ~np.isclose(arr, nodata, rtol=1e-6, atol=0).any(axis=0)
        else:
            ok &= (arr != nodata).all(axis=0)
    return ok


def block_all(valid: np.ndarray, ratio: int) -> np.ndarray:
    """(H, W) fine mask -> (H // ratio, W // ratio): True where every fine pixel of the block is valid.

    A remainder of rows or columns that does not fill a block is dropped.
    """
    r = int(ratio)
    h, w = valid.shape[0] // r, valid.shape[1] // r
    return valid[: h * r, : w * r].reshape(h, r, w, r).all(axis=(1, 3))


def upscale_mask(valid: np.ndarray, ratio: int) -> np.ndarray:
    """(h, w) coarse mask -> (h * ratio, w * ratio): each coarse pixel repeated over its block."""
    r = int(ratio)
    return np.repeat(np.repeat(valid, r, 0), r, 1)


def joint_valid(pan_valid: np.ndarray, ms_valid: np.ndarray, ratio: int) -> np.ndarray:
    """(H, W) mask of the pixels where both the PAN and the (coarse, (H/r, W/r)) MS hold data."""
    return pan_valid & upscale_mask(ms_valid, ratio)


def fill_invalid(arr: np.ndarray, valid: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
    """Replace invalid pixels of every band by a band value.

    Args:
        arr: (B, H, W) array.
        valid: (H, W) bool mask.
        means: (B,) values to fill with (the scene's band means); None: the mean of each band's
            valid pixels in ``arr`` itself (0 where a band has none).

    Returns:
        ``arr`` itself when every pixel is valid, else a filled copy.
    """
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


def masked_stats(x: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(mean, std) of ``x`` over ``mask`` (all of ``x`` when the mask is empty), in float64; the
    population std, replaced by 1 where it is (nearly) 0 so that normalising by it is safe."""
    v = x[mask] if mask.any() else x.ravel()
    m = float(v.mean(dtype=np.float64))
    s = float(v.std(dtype=np.float64))
    return m, (s if s > 1e-12 else 1.0)
