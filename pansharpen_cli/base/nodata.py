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


#: How far from valid data, in MS pixels, nodata is filled by a local mean of the valid pixels
#: around it rather than by the band's mean (:func:`fill_invalid`): farther than every filter of
#: the fusion reads across the edge of the data (the MTF low-pass, 5 MS pixels at ratio 4, and a
#: network's receptive field, 2), so the data's own filters meet no artificial step at its edge.
FILL_REACH = 8


def fill_invalid(
    arr: np.ndarray, valid: np.ndarray, means: np.ndarray | None = None, reach: int = 0
) -> np.ndarray:
    """Replace invalid pixels of every band: within ``reach`` pixels of valid data by a local mean
    of the valid pixels around it, farther (every invalid pixel when ``reach`` is 0) by a band value.

    The local mean is a normalised convolution: the valid pixels of the ``(2 reach + 1)^2`` window
    weighted by a Gaussian of ``reach / 8`` pixels (1 MS pixel at :data:`FILL_REACH`), so the fill
    continues the data next to it (a gap in a dark field is filled dark, a bright one bright; a
    narrow gap takes the values on its two sides) and the filters that read across the edge of
    the data see no step. It reads only that window: a tile read with ``reach`` more halo fills its
    pixels as the whole image would.

    Args:
        arr: (B, H, W) array.
        valid: (H, W) bool mask.
        means: (B,) values to fill with (the scene's band means); None: the mean of each band's
            valid pixels in ``arr`` itself (0 where a band has none).
        reach: the local mean's radius in pixels (0: band values only).

    Returns:
        ``arr`` itself when every pixel is valid, else a filled copy.
    """
    if valid.all():
        return arr
    out = arr.copy()
    near = local = None
    if reach > 0:
        near, local = _local_means(arr, valid, int(reach))
    for b in range(arr.shape[0]):
        if means is not None:
            m = means[b]
        else:
            v = arr[b][valid]
            m = float(v.mean()) if v.size else 0.0
        out[b][~valid] = m
        if local is not None:
            out[b][near] = local[b][near]
    return out


def _local_means(arr: np.ndarray, valid: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(the invalid pixels with a valid one within ``reach``, (B, H, W) Gaussian-weighted means of
    the valid pixels around every pixel) in float64; see :func:`fill_invalid`."""
    from scipy import ndimage

    d = np.arange(-reach, reach + 1, dtype=np.float64)
    gauss = np.exp(-0.5 * (d / (reach / FILL_REACH)) ** 2)  # 1e-14 at the reach: float64 keeps it

    def window_sum(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
        y = ndimage.correlate1d(x, taps, axis=-2, mode="constant", cval=0.0)
        return ndimage.correlate1d(y, taps, axis=-1, mode="constant", cval=0.0)

    v = valid.astype(np.float64)
    near = ~valid & within_reach(valid, reach)
    weight = window_sum(v, gauss)
    sums = window_sum(np.where(valid, np.asarray(arr, np.float64), 0.0), gauss)
    return near, sums / np.where(weight > 0, weight, 1.0)


def within_reach(valid: np.ndarray, reach: int) -> np.ndarray:
    """(H, W) bool: True where a valid pixel lies within ``reach`` pixels along both axes (the
    ``(2 reach + 1)^2`` window): the data and the nodata that :func:`fill_invalid` fills from it."""
    from scipy import ndimage

    if reach <= 0 or valid.all():
        return valid.copy()
    return ndimage.maximum_filter(valid.astype(np.uint8), size=2 * int(reach) + 1, mode="constant") > 0


def masked_stats(x: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(mean, std) of ``x`` over ``mask`` (all of ``x`` when the mask is empty), in float64; the
    population std, replaced by 1 where it is (nearly) 0 so that normalising by it is safe."""
    v = x[mask] if mask.any() else x.ravel()
    m = float(v.mean(dtype=np.float64))
    s = float(v.std(dtype=np.float64))
    return m, (s if s > 1e-12 else 1.0)
