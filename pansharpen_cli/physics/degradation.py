"""The degradation model shared by methods, losses and metrics (DESIGN.md section 3).

Geometry (pixel-is-area): coarse pixel ``i`` covers fine pixels ``r*i .. r*i + r - 1``; its centre is
at fine coordinate ``r*i + (r - 1)/2``. Decimation samples the low-passed image at those centres
(for an even ratio, between two fine pixels, by a kernel sampled at half-pixel offsets); upsampling
interpolates with the same geometry, so degrade-then-upsample never slips.

All functions take float arrays shaped (bands, rows, cols) and return float32 unless said otherwise.
Borders are mirrored (half-sample symmetric, like MATLAB's ``symmetric``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

#: Kaiser window shape parameter (MATLAB's ``kaiser(N)`` default).
KAISER_BETA = 0.5


def mtf_sigma(gain: float, ratio: int) -> float:
    """Standard deviation, in fine pixels, of the Gaussian whose response at the coarse Nyquist
    frequency is ``gain``: ``ratio * sqrt(-2 ln gain) / pi`` (about 2.0 for 0.3 at ratio 4)."""
    if not 0.0 < gain < 1.0:
        raise ValueError(f"expected a Nyquist gain in (0, 1), got {gain}")
    return ratio * math.sqrt(-2.0 * math.log(gain)) / math.pi


def kernel_half_width(ratio: int) -> int:
    """Half width of the MTF kernel in fine pixels (20 at ratio 4, like the toolbox's 41 taps)."""
    return 5 * int(ratio)


def mtf_taps(gain: float, ratio: int, *, shifted: bool = False) -> np.ndarray:
    """1-D separable MTF kernel: a Gaussian (see :func:`mtf_sigma`) windowed by a Kaiser window.

    Args:
        gain: Nyquist gain in (0, 1).
        ratio: integer resolution ratio >= 2.
        shifted: sample the kernel at half-pixel offsets (``m + 0.5``), 2*half taps, for decimation
            to the centre of coarse pixels at even ratios.

    Returns:
        float64 taps summing to 1: ``2*half + 1`` of them centred, or ``2*half`` if shifted.
    """
    half = kernel_half_width(ratio)
    sigma = mtf_sigma(gain, ratio)
    if shifted:
        x = np.arange(-half, half) + 0.5
        win = np.kaiser(2 * half, KAISER_BETA)
    else:
        x = np.arange(-half, half + 1).astype(np.float64)
        win = np.kaiser(2 * half + 1, KAISER_BETA)
    taps = np.exp(-0.5 * (x / sigma) ** 2) * win
    return taps / taps.sum()


def _check_bands(img: np.ndarray, gains: Sequence[float]) -> None:
    if img.ndim != 3:
        raise ValueError(f"expected an array shaped (bands, rows, cols), got shape {img.shape}")
    if len(gains) != img.shape[0]:
        raise ValueError(f"expected {img.shape[0]} gains (one per band), got {len(gains)}")


def _separable(band: np.ndarray, taps: np.ndarray) -> np.ndarray:
    out = ndimage.correlate1d(band, taps, axis=0, mode="reflect")
    return ndimage.correlate1d(out, taps, axis=1, mode="reflect")


def mtf_filter(img: np.ndarray, gains: Sequence[float], ratio: int) -> np.ndarray:
    """Low-pass every band by its MTF at the fine scale (no decimation).

    Args:
        img: (B, H, W) float array.
        gains: B Nyquist gains.
        ratio: resolution ratio the gains refer to.

    Returns:
        (B, H, W) float32.
    """
    _check_bands(img, gains)
    img = np.asarray(img, dtype=np.float64)
    out = np.empty(img.shape, np.float32)
    for b, g in enumerate(gains):
        out[b] = _separable(img[b], mtf_taps(g, ratio))
    return out


def decimate_offset(ratio: int) -> int:
    """Index, in a run of ``ratio`` fine pixels, at which the (shift-)filtered image is sampled."""
    return int(ratio) // 2


def mtf_degrade(img: np.ndarray, gains: Sequence[float], ratio: int) -> np.ndarray:
    """MTF low-pass and decimate to the coarse grid, sampling the centre of each coarse pixel.

    Only the kept samples are computed (strided correlation), so the cost is about 1/ratio of a
    full-resolution filter.

    Args:
        img: (B, H, W) float array; H and W should be multiples of ``ratio`` (a remainder is dropped).
        gains: B Nyquist gains.
        ratio: integer ratio >= 2.

    Returns:
        (B, H // ratio, W // ratio) float32.
    """
    _check_bands(img, gains)
    r = int(ratio)
    h, w = img.shape[1] // r, img.shape[2] // r
    o = decimate_offset(r)
    half = kernel_half_width(r)
    # Sample n (fine index) sees fine pixels n - half .. n + half (centred) or n - half .. n + half - 1
    # (shifted); pad symmetrically by half (+1 spare) on every side.
    pad = half + 1
    out = np.empty((img.shape[0], h, w), np.float32)
    for b, g in enumerate(gains):
        taps = mtf_taps(g, r, shifted=(r % 2 == 0))
        x = np.pad(np.asarray(img[b], np.float64)[: h * r, : w * r], pad, mode="symmetric")
        rows = np.zeros((h, x.shape[1]), np.float64)
        for j, t in enumerate(taps):
            s = pad + o - half + j
            rows += t * x[s : s + r * h : r]
        cols = np.zeros((h, w), np.float64)
        for j, t in enumerate(taps):
            s = pad + o - half + j
            cols += t * rows[:, s : s + r * w : r]
        out[b] = cols
    return out


def keys_kernel(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys cubic convolution kernel (a = -0.5), used by upsampling and by the metrics' bicubic PAN_L."""
    t = np.abs(t)
    return np.where(
        t <= 1,
        (a + 2) * t**3 - (a + 3) * t**2 + 1,
        np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0),
    )


def _upsample_axis(x: np.ndarray, ratio: int, axis: int) -> np.ndarray:
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    pad = 3
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="symmetric")
    out = np.empty(x.shape[:-1] + (n * ratio,), np.float64)
    for p in range(ratio):
        d = (p - (ratio - 1) / 2) / ratio  # coarse coordinate offset of this phase, in (-0.5, 0.5)
        base = math.floor(d)
        t = d - base
        acc = 0.0
        for j in range(-1, 3):
            w = float(keys_kernel(np.array(t - j)))
            s = pad + base + j
            acc = acc + w * xp[..., s : s + n]
        out[..., p::ratio] = acc
    return np.moveaxis(out, -1, axis)


def upsample(ms: np.ndarray, ratio: int) -> np.ndarray:
    """Interpolate an MS image onto the fine grid by cubic convolution (Keys, a = -0.5).

    Fine pixel ``k`` sits at coarse coordinate ``(k - (ratio - 1)/2) / ratio``, the geometry of
    :func:`mtf_degrade`; linear ramps are reproduced exactly away from the borders.

    Args:
        ms: (B, h, w) float array.
        ratio: integer ratio >= 1.

    Returns:
        (B, h * ratio, w * ratio) float32.
    """
    if ms.ndim != 3:
        raise ValueError(f"expected an array shaped (bands, rows, cols), got shape {ms.shape}")
    r = int(ratio)
    if r == 1:
        return np.asarray(ms, np.float32)
    out = _upsample_axis(np.asarray(ms, np.float64), r, 1)
    return _upsample_axis(out, r, 2).astype(np.float32)


#: Halo, in coarse pixels, that :func:`upsample` needs to be exact inside a tile.
UPSAMPLE_HALO = 3


def wald_pair(
    pan: np.ndarray,
    ms: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    pan_gain: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-resolution (Wald protocol) pair: PAN and MS degraded by their MTFs and decimated.

    Args:
        pan: (1, H, W) PAN; H, W multiples of ratio**2 keep the grids exact.
        ms: (B, H / ratio, W / ratio) MS, the reference of the reduced-resolution fusion.
        ratio: integer ratio.
        ms_gains: B Nyquist gains of the MS bands.
        pan_gain: Nyquist gain of the PAN.

    Returns:
        (pan_rr (1, H/r, W/r), ms_rr (B, H/r^2, W/r^2)), float32.
    """
    return mtf_degrade(pan, [pan_gain], ratio), mtf_degrade(ms, ms_gains, ratio)
