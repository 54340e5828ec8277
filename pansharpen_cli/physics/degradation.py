"""The degradation model shared by methods, losses and metrics (DESIGN.md section 3).

Geometry (pixel-is-area): coarse pixel ``i`` covers fine pixels ``r*i .. r*i + r - 1``; its centre is
at fine coordinate ``r*i + (r - 1)/2``. Decimation samples the low-passed image at those centres
(for an even ratio, between two fine pixels, by a kernel sampled at half-pixel offsets); upsampling
interpolates with the same geometry, so degrade-then-upsample never slips.

All functions take float arrays shaped (bands, rows, cols) and return float32 unless said otherwise.
Borders are mirrored (half-sample symmetric, like MATLAB's ``symmetric``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

#: Kaiser window shape parameter (MATLAB's ``kaiser(N)`` default).
KAISER_BETA = 0.5
#: Halo, in coarse pixels, that :func:`upsample` needs to be exact inside a tile.
UPSAMPLE_HALO = 3
#: Elements per block of the filtering passes (256 KB of float64): their temporaries stay in cache.
_BLOCK = 32768


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
        out[b] = _decimate_cols(_decimate_rows(x, taps, r, h, pad + o - half), taps, r, w, pad + o - half)
    return out


def _tap_sum(srcs, taps: np.ndarray, acc: np.ndarray, tmp: np.ndarray) -> None:
    """``acc = 0 + t0 * src0 + t1 * src1 + ...`` in place, in that order (the reference's sums)."""
    for j, t in enumerate(taps):
        if j == 0:
            np.multiply(srcs(0), t, out=acc)
            acc += 0.0
        else:
            np.multiply(srcs(j), t, out=tmp)
            acc += tmp


def _decimate_rows(x: np.ndarray, taps: np.ndarray, r: int, h: int, s0: int) -> np.ndarray:
    """Row ``i`` of the result: ``sum_j taps[j] * x[s0 + j + r * i]``, by blocks of rows (cache)."""
    rows = np.empty((h, x.shape[1]), np.float64)
    step = max(1, _BLOCK // (2 * x.shape[1]))
    for i0 in range(0, h, step):
        i1 = min(h, i0 + step)
        acc = rows[i0:i1]
        tmp = np.empty_like(acc)
        s = s0 + r * i0
        _tap_sum(lambda j, s=s, n=i1 - i0: x[s + j : s + j + r * n : r], taps, acc, tmp)
    return rows


def _decimate_cols(rows: np.ndarray, taps: np.ndarray, r: int, w: int, s0: int) -> np.ndarray:
    """Column ``i`` of the result: ``sum_j taps[j] * rows[:, s0 + j + r * i]``; the columns are
    split by phase first (contiguous reads), then summed by blocks of rows."""
    phases = [np.ascontiguousarray(rows[:, q::r]) for q in range(r)]
    h = rows.shape[0]
    out = np.empty((h, w), np.float64)
    step = max(1, _BLOCK // max(w, 1))
    for i0 in range(0, h, step):
        i1 = min(h, i0 + step)
        acc = out[i0:i1]
        tmp = np.empty_like(acc)

        def src(j: int, i0=i0, i1=i1) -> np.ndarray:
            q, k = divmod(s0 + j, r)
            return phases[k][i0:i1, q : q + w]

        _tap_sum(src, taps, acc, tmp)
    return out


def keys_kernel(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys cubic convolution kernel (a = -0.5), used by upsampling and by the metrics' bicubic PAN_L."""
    t = np.abs(t)
    return np.where(
        t <= 1,
        (a + 2) * t**3 - (a + 3) * t**2 + 1,
        np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0),
    )


@functools.lru_cache(maxsize=32)
def keys_phase_taps(ratio: int) -> tuple[tuple[int, tuple[float, float, float, float]], ...]:
    """Per fine phase ``p`` of :func:`upsample`: the first of the four coarse samples it reads
    (an offset from the coarse pixel) and their Keys weights, computed once per ratio."""
    out = []
    for p in range(int(ratio)):
        d = (p - (ratio - 1) / 2) / ratio  # coarse coordinate offset of this phase, in (-0.5, 0.5)
        base = math.floor(d)
        t = d - base
        w = tuple(float(keys_kernel(np.array(t - j))) for j in range(-1, 3))
        out.append((base - 1, w))
    return tuple(out)


def _keys_phase(xp: np.ndarray, start: int, n: int, weights, acc: np.ndarray, tmp: np.ndarray) -> None:
    """``acc = 0 + w0 * x[start] + w1 * x[start+1] + ...`` (slices of ``n`` along the last axis
    of ``xp``), in place, in the reference's order of operations (the same result to the bit)."""
    for j, wt in enumerate(weights):
        src = xp[..., start + j : start + j + n]
        if j == 0:
            np.multiply(src, wt, out=acc)
            acc += 0.0  # the reference sum starts at 0.0 (a -0.0 product becomes +0.0)
        else:
            np.multiply(src, wt, out=tmp)
            acc += tmp


def _upsample_rows(x: np.ndarray, ratio: int) -> np.ndarray:
    """Keys-cubic upsampling along axis 1 of (B, n, w): (B, n * ratio, w) float64, by blocks of
    coarse rows (each phase a run of whole rows)."""
    b, n, w = x.shape
    pad = UPSAMPLE_HALO
    xp = np.pad(np.asarray(x, np.float64), [(0, 0), (pad, pad), (0, 0)], mode="symmetric")
    xt = np.moveaxis(xp, 1, 2)  # the summed axis last, as _keys_phase reads it (a view)
    out = np.empty((b, n, ratio, w), np.float64)
    step = max(1, _BLOCK // max(w, 1))
    for k in range(b):
        for i0 in range(0, n, step):
            i1 = min(n, i0 + step)
            tmp = np.empty((w, i1 - i0), np.float64)
            for p, (first, weights) in enumerate(keys_phase_taps(ratio)):
                acc = np.moveaxis(out[k, i0:i1, p, :], 0, 1)
                _keys_phase(xt[k], pad + first + i0, i1 - i0, weights, acc, tmp)
    return out.reshape(b, n * ratio, w)


def _upsample_cols(x: np.ndarray, ratio: int) -> np.ndarray:
    """Keys-cubic upsampling along axis 2 of (B, h, n) float64: (B, h, n * ratio) float32, by
    blocks of rows (each phase summed contiguously, then interleaved and rounded to float32)."""
    b, h, n = x.shape
    pad = UPSAMPLE_HALO
    out = np.empty((b, h, n, ratio), np.float32)
    step = max(1, _BLOCK // max(n, 1))
    for k in range(b):
        for i0 in range(0, h, step):
            i1 = min(h, i0 + step)
            xp = np.pad(x[k, i0:i1], [(0, 0), (pad, pad)], mode="symmetric")
            acc = np.empty((i1 - i0, n), np.float64)
            tmp = np.empty_like(acc)
            for p, (first, weights) in enumerate(keys_phase_taps(ratio)):
                _keys_phase(xp, pad + first, n, weights, acc, tmp)
                out[k, i0:i1, :, p] = acc
    return out.reshape(b, h, n * ratio)


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
    return _upsample_cols(_upsample_rows(ms, r), r)


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
