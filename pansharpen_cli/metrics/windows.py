"""Partial sums of the window- and pixel-based indexes (sliding Q, SAM, SCC, D_rho) and the PAN
low-pass of D_s; each accumulator adds them up over its tiles.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..physics.degradation import decimate_offset, keys_kernel, upsample
from .blocks import REL_STD_TOL, uiqi
from .checks import as_pan, check_ratio

#: A sliding-window variance at or below this fraction of the tile's squared range counts as zero.
_REL_VAR_TOL_SLIDING = 1e-12
#: Owned windows per side processed at once by the sliding Q (bounds memory and running-sum error).
SLIDING_TILE = 256


# ------------------------------------------------------------------------------- sliding-window Q
def _box_sums(a: np.ndarray, b: int) -> np.ndarray:
    """Sums over every b x b window fully inside the last two axes (running sums, float64)."""
    c = np.cumsum(a, axis=-1)
    r = np.empty(a.shape[:-1] + (a.shape[-1] - b + 1,))
    r[..., 0] = c[..., b - 1]
    r[..., 1:] = c[..., b:] - c[..., :-b]
    c = np.cumsum(r, axis=-2)
    out = np.empty(r.shape[:-2] + (r.shape[-2] - b + 1, r.shape[-1]))
    out[..., 0, :] = c[..., b - 1, :]
    out[..., 1:, :] = c[..., b:, :] - c[..., :-b, :]
    return out


def whole_windows(valid: np.ndarray, nr: int, nc: int, b: int) -> np.ndarray:
    """(nr, nc) bool: the b x b windows, top-left corner in [0, nr) x [0, nc), whose pixels are all
    valid (``valid`` (>= nr + b - 1, >= nc + b - 1) bool)."""
    bad = (~np.asarray(valid[: nr + b - 1, : nc + b - 1], dtype=bool)).astype(np.float64)
    return _box_sums(bad, b) < 0.5


def sliding_q_sums(
    x: np.ndarray, y: np.ndarray, nr: int, nc: int, b: int, weight: np.ndarray | None = None
) -> np.ndarray:
    """Per-band sum of the UIQI over the windows with top-left corner in [0, nr) x [0, nc).

    Args:
        x, y: (B, >= nr + b - 1, >= nc + b - 1) reference and test.
        weight: (nr, nc) bool, the windows to count (:func:`whole_windows`); None: every one.

    Returns:
        (B,) float64 sums (the number of windows is nr * nc, or ``weight.sum()``).
    """
    n = b * b
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        xb = np.asarray(x[i, : nr + b - 1, : nc + b - 1], dtype=np.float64)
        yb = np.asarray(y[i, : nr + b - 1, : nc + b - 1], dtype=np.float64)
        shift = float(xb.mean())
        xs, ys = xb - shift, yb - shift
        sx, sy, sxx, syy, sxy = _box_sums(np.stack([xs, ys, xs * xs, ys * ys, xs * ys]), b)
        vx = (sxx - sx * sx / n) / (n - 1)
        vy = (syy - sy * sy / n) / (n - 1)
        cxy = (sxy - sx * sy / n) / (n - 1)
        tol = _REL_VAR_TOL_SLIDING * max(float(np.abs(xs).max()), float(np.abs(ys).max())) ** 2
        q = uiqi(sx / n + shift, sy / n + shift, vx, vy, cxy, vx <= tol, vy <= tol)
        out[i] = q.sum() if weight is None else np.where(weight, q, 0.0).sum()
    return out


# ------------------------------------------------------------------------------- pixel-wise sums
def sam_sums(ref: np.ndarray, fused: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    """Sum of spectral angles (radians) over pixels where neither vector is zero (and ``mask``, an
    (H, W) bool, is True), and their count."""
    r = np.asarray(ref, dtype=np.float64)
    f = np.asarray(fused, dtype=np.float64)
    nr = np.sqrt((r * r).sum(0))
    nf = np.sqrt((f * f).sum(0))
    valid = (nr > 0) & (nf > 0)
    if mask is not None:
        valid &= mask
    u = r * np.divide(1.0, nr, out=np.zeros_like(nr), where=valid)
    v = f * np.divide(1.0, nf, out=np.zeros_like(nf), where=valid)
    ang = 2.0 * np.arctan2(np.sqrt(((u - v) ** 2).sum(0)), np.sqrt(((u + v) ** 2).sum(0)))
    return float(ang[valid].sum()), int(valid.sum())


def _sobel_magnitude(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of each band, zero padding; (C, h, w) -> (C, h, w) float64."""
    p = np.pad(np.asarray(img, dtype=np.float64), ((0, 0), (1, 1), (1, 1)))
    rows = p[:, :, :-2] + 2.0 * p[:, :, 1:-1] + p[:, :, 2:]  # [1, 2, 1] along columns
    gy = rows[:, :-2, :] - rows[:, 2:, :]
    cols = p[:, :-2, :] + 2.0 * p[:, 1:-1, :] + p[:, 2:, :]  # [1, 2, 1] along rows
    gx = cols[:, :, :-2] - cols[:, :, 2:]
    return np.sqrt(gx * gx + gy * gy)


def scc_sums(
    ref: np.ndarray,
    fused: np.ndarray,
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    shape: tuple[int, int],
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """SCC partial sums [sum ab, sum a^2, sum b^2] over the core pixels of the cropped image.

    ``ref``/``fused`` cover the image from ``origin`` and contain the core plus 1 pixel (clipped).
    ``valid`` ((H, W) bool over the same window, or None): only the core pixels whose 3 x 3
    neighbourhood (the Sobel filter's) is valid count.
    """
    hh, ww = shape
    cr, cc, ch, cw = core
    r0, r1 = max(cr - 1, 0), min(cr + ch + 1, hh)
    c0, c1 = max(cc - 1, 0), min(cc + cw + 1, ww)
    sl = (slice(None), slice(r0 - origin[0], r1 - origin[0]), slice(c0 - origin[1], c1 - origin[1]))
    out = np.zeros(3)
    mags = []
    for img in (ref, fused):
        e = np.array(img[sl], dtype=np.float64)
        # The 1-pixel image border is cropped: it reads as the zero padding of the cropped image.
        if r0 == 0:
            e[:, 0] = 0.0
        if r1 == hh:
            e[:, -1] = 0.0
        if c0 == 0:
            e[:, :, 0] = 0.0
        if c1 == ww:
            e[:, :, -1] = 0.0
        g = _sobel_magnitude(e)
        a0, a1 = max(cr, 1), min(cr + ch, hh - 1)
        b0, b1 = max(cc, 1), min(cc + cw, ww - 1)
        mags.append(g[:, a0 - r0 : max(a1, a0) - r0, b0 - c0 : max(b1, b0) - c0])
    a, b = mags
    if valid is not None:
        keep = ndimage.minimum_filter(np.asarray(valid[sl[1:]], dtype=bool), 3, mode="nearest")
        keep = keep[a0 - r0 : max(a1, a0) - r0, b0 - c0 : max(b1, b0) - c0]
        a, b = np.where(keep, a, 0.0), np.where(keep, b, 0.0)
    out[0], out[1], out[2] = (a * b).sum(), (a * a).sum(), (b * b).sum()
    return out


def _drho_window(ratio: int) -> int:
    return 2 * math.ceil(ratio / 2)


def _window_sums(a: np.ndarray, side: int) -> np.ndarray:
    """Sums over the ``side x side`` window of rows/cols ``i - side/2 + 1 .. i + side/2`` (side even).

    Zero padding outside the array; (..., h, w) -> (..., h, w) float64.
    """
    before, after = side // 2 - 1, side // 2
    pad = [(0, 0)] * (a.ndim - 2) + [(before, after), (0, 0)]
    p = np.pad(np.asarray(a, dtype=np.float64), pad)
    h = a.shape[-2]
    r = p[..., 0:h, :].copy()
    for k in range(1, side):
        r += p[..., k : k + h, :]
    pad = [(0, 0)] * (a.ndim - 2) + [(0, 0), (before, after)]
    p = np.pad(r, pad)
    w = a.shape[-1]
    out = p[..., 0:w].copy()
    for k in range(1, side):
        out += p[..., k : k + w]
    return out


def drho_sums(
    pan: np.ndarray, fused: np.ndarray, ratio: int, rows: slice, cols: slice, mask: np.ndarray | None = None
) -> tuple[float, int]:
    """Sum of ``1 - clip(rho, -1, 1)`` over the [rows, cols] pixels of every band, and the count.

    ``pan`` (1, h, w) and ``fused`` (B, h, w) cover the core plus ``2*ceil(ratio/2)`` pixels (clipped
    at the image border, where the zero padding applies). ``mask``: the [rows, cols] pixels to count
    (bool), None: all of them.
    """
    side = _drho_window(ratio)
    n = float(side * side)
    p = np.asarray(pan[0], dtype=np.float64)
    mp = _window_sums(p, side) / n
    pc = p - mp
    spp = _window_sums(pc * pc, side)[rows, cols]
    zp = spp <= n * (REL_STD_TOL * mp[rows, cols]) ** 2
    total, count = 0.0, 0
    for band in range(fused.shape[0]):
        f = np.asarray(fused[band], dtype=np.float64)
        mf = _window_sums(f, side) / n
        fc = f - mf
        sff = _window_sums(fc * fc, side)[rows, cols]
        sfp = _window_sums(fc * pc, side)[rows, cols]
        zero = zp | (sff <= n * (REL_STD_TOL * mf[rows, cols]) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(zero, 0.0, sfp / np.sqrt(np.where(zero, 1.0, sff * spp)))
        d = 1.0 - np.clip(rho, -1.0, 1.0)
        total += float(d.sum() if mask is None else d[mask].sum())
        count += rho.size if mask is None else int(mask.sum())
    return total, count


# ------------------------------------------------------------------------------------ PAN low-pass
def _bicubic_decimate(img: np.ndarray, ratio: int) -> np.ndarray:
    """Antialiased bicubic downscaling by ``ratio`` (MATLAB ``imresize(x, 1/ratio)``), pixel-is-area.

    Args:
        img: (C, H, W); H and W multiples of ratio (a remainder is dropped).

    Returns:
        (C, H // ratio, W // ratio) float64.
    """
    r = int(ratio)
    x = np.arange(-2 * r, 2 * r) + 0.5 if r % 2 == 0 else np.arange(-2 * r + 1, 2 * r).astype(np.float64)
    taps = keys_kernel(x / r)
    taps /= taps.sum()
    f = ndimage.correlate1d(np.asarray(img, dtype=np.float64), taps, axis=-2, mode="reflect")
    f = ndimage.correlate1d(f, taps, axis=-1, mode="reflect")
    o = decimate_offset(r)
    h, w = img.shape[-2] // r, img.shape[-1] // r
    return f[:, o : o + r * h : r, o : o + r * w : r]


def pan_lowpass(pan: np.ndarray, ratio: int) -> np.ndarray:
    """PAN_L of D_s: the PAN downscaled by ``ratio`` (antialiased bicubic) and upsampled back.

    Args:
        pan: (1, H, W) PAN; H and W multiples of ratio.
        ratio: integer ratio >= 2.

    Returns:
        (1, H, W) float32, on the PAN grid (:func:`pansharpen_cli.physics.degradation.upsample` geometry).
    """
    pan = as_pan("pan", pan)
    r = check_ratio(ratio)
    if pan.shape[1] % r or pan.shape[2] % r:
        raise ValueError(f"expected PAN rows and cols multiples of the ratio {r}, got {pan.shape[1:]}")
    return upsample(_bicubic_decimate(pan, r), r)
