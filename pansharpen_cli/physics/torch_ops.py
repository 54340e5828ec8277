"""Torch versions of the degradation model (:mod:`pansharpen_cli.degradation`), differentiable.

They match the numpy reference to float32 precision: the same separable MTF taps, the same
half-sample symmetric borders (scipy ``reflect`` / MATLAB ``symmetric``: the edge pixel is repeated),
the same decimation phase and the same Keys-cubic upsampling geometry.

Tensors are (N, C, H, W) float; gains are one Nyquist gain per channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .degradation import UPSAMPLE_HALO, decimate_offset, kernel_half_width, keys_phase_taps, mtf_taps

__all__ = [
    "symmetric_pad",
    "mtf_filter_t",
    "mtf_degrade_t",
    "upsample_t",
    "mtf_taps_t",
    "pan_detail_t",
    "detail_halo",
    "detail_gains",
    "detail_inputs",
    "scene_gains",
]


def _sym_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension of ``range(n)`` (any pad width)."""
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def symmetric_pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Pad the last two dims half-sample symmetrically (edge pixel repeated), any widths.

    Args:
        x: (..., H, W) tensor.
        left, right, top, bottom: pad widths >= 0 (may exceed the image size: mirrored repeatedly).

    Returns:
        (..., H + top + bottom, W + left + right) tensor.
    """
    h, w = x.shape[-2], x.shape[-1]
    if top or bottom:
        x = _pad_dim(x, -2, h, top, bottom)
    if left or right:
        x = _pad_dim(x, -1, w, left, right)
    return x


def _pad_dim(x: torch.Tensor, dim: int, n: int, before: int, after: int) -> torch.Tensor:
    """Symmetric extension along ``dim``: flipped edge slices and a concatenation when the pads fit
    in the image (a copy, several times faster than a gather on large tensors), else a gather."""
    if before > n or after > n:
        return x.index_select(dim, _sym_index(n, before, after, x.device))
    parts = [x.narrow(dim, 0, before).flip(dim)] if before else []
    parts.append(x)
    if after:
        parts.append(x.narrow(dim, n - after, after).flip(dim))
    return torch.cat(parts, dim)


def mtf_taps_t(
    gains: Sequence[float], ratio: int, *, shifted: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """(C, L) tensor of the 1-D MTF taps of each channel (see :func:`degradation.mtf_taps`)."""
    taps = _taps_table(tuple(float(g) for g in gains), int(ratio), bool(shifted))
    return torch.tensor(taps, dtype=dtype, device=device)  # a copy: the table is shared


@lru_cache(maxsize=64)
def _taps_table(gains: tuple[float, ...], ratio: int, shifted: bool) -> np.ndarray:
    """The taps of :func:`mtf_taps_t`, computed once per (gains, ratio, shift): every training step
    degrades with the same few kernels."""
    taps = np.stack([mtf_taps(g, ratio, shifted=shifted) for g in gains])
    taps.flags.writeable = False
    return taps


def _check(x: torch.Tensor, gains: Sequence[float]) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected a tensor shaped (N, C, H, W), got shape {tuple(x.shape)}")
    if len(gains) != x.shape[1]:
        raise ValueError(f"expected {x.shape[1]} gains (one per channel), got {len(gains)}")


def _separable_t(
    x: torch.Tensor, taps: torch.Tensor, pad_lo: int, pad_hi: int, step: int = 1, offset: int = 0
) -> torch.Tensor:
    """Correlate every channel of ``x`` with its taps along rows then columns (scipy convention),
    keeping every ``step``-th output from ``offset`` on in both directions (the decimation done
    by the convolutions' stride: only the kept outputs are computed)."""
    c = x.shape[1]
    n_taps = taps.shape[1]
    x = symmetric_pad(x, pad_lo, pad_hi, pad_lo, pad_hi)[..., offset:, offset:]
    x = F.conv2d(x, taps.view(c, 1, n_taps, 1), stride=(step, 1), groups=c)
    return F.conv2d(x, taps.view(c, 1, 1, n_taps), stride=(1, step), groups=c)


def mtf_filter_t(x: torch.Tensor, gains: Sequence[float], ratio: int) -> torch.Tensor:
    """Low-pass every channel by its MTF at the fine scale (no decimation).

    Args:
        x: (N, C, H, W) float tensor.
        gains: C Nyquist gains.
        ratio: resolution ratio the gains refer to.

    Returns:
        (N, C, H, W) tensor, same dtype as ``x``.
    """
    _check(x, gains)
    half = kernel_half_width(int(ratio))
    taps = mtf_taps_t(gains, ratio, shifted=False, dtype=x.dtype, device=x.device)
    return _separable_t(x, taps, half, half)


def mtf_degrade_t(x: torch.Tensor, gains: Sequence[float], ratio: int) -> torch.Tensor:
    """MTF low-pass and decimate to the coarse grid (centre of each coarse pixel).

    Args:
        x: (N, C, H, W) float tensor; H, W multiples of ``ratio`` (a remainder is dropped).
        gains: C Nyquist gains.
        ratio: integer ratio >= 2.

    Returns:
        (N, C, H // ratio, W // ratio) tensor.
    """
    _check(x, gains)
    r = int(ratio)
    half = kernel_half_width(r)
    h, w = x.shape[-2] // r, x.shape[-1] // r
    o = decimate_offset(r)
    # even ratios: 2*half taps at offsets -half .. half-1 (scipy centre index = half)
    even = r % 2 == 0
    taps = mtf_taps_t(gains, r, shifted=even, dtype=x.dtype, device=x.device)
    f = _separable_t(x, taps, half, half - 1 if even else half, step=r, offset=o)
    return f[..., :h, :w]


def _upsample_axis_t(x: torch.Tensor, ratio: int, dim: int) -> torch.Tensor:
    """Keys-cubic upsampling along ``dim`` (-1 or -2) of an already padded-by-3 tensor."""
    pad = UPSAMPLE_HALO
    n = x.shape[dim] - 2 * pad
    phases = []
    for first, weights in keys_phase_taps(ratio):
        acc = None
        for j, wgt in enumerate(weights):
            term = wgt * x.narrow(dim, pad + first + j, n)
            acc = term if acc is None else acc + term
        phases.append(acc)
    if dim == -1:
        out = torch.stack(phases, dim=-1)  # (..., H, n, r)
        return out.reshape(*out.shape[:-2], n * ratio)
    out = torch.stack(phases, dim=-2)  # (..., n, r, W)
    return out.reshape(*out.shape[:-3], n * ratio, out.shape[-1])


def upsample_t(x: torch.Tensor, ratio: int) -> torch.Tensor:
    """Keys-cubic (a = -0.5) upsampling with the geometry of :func:`degradation.upsample`.

    Fine pixel ``k`` sits at coarse coordinate ``(k - (ratio - 1)/2) / ratio``; borders are
    half-sample symmetric. Exact inside a tile given a halo of ``UPSAMPLE_HALO`` coarse pixels.

    Args:
        x: (N, C, h, w) float tensor.
        ratio: integer ratio >= 1.

    Returns:
        (N, C, h * ratio, w * ratio) tensor.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a tensor shaped (N, C, H, W), got shape {tuple(x.shape)}")
    r = int(ratio)
    if r == 1:
        return x
    pad = UPSAMPLE_HALO
    xp = symmetric_pad(x, pad, pad, pad, pad)
    out = _upsample_axis_t(xp, r, -2)  # rows upsampled, columns still padded
    return _upsample_axis_t(out, r, -1)


def detail_gains(
    pan_lr: torch.Tensor, ms: torch.Tensor, valid: torch.Tensor | None = None, limit: float = 2.0
) -> torch.Tensor:
    """Per-band detail-injection gains: the regression of each MS band's high-pass on the PAN's.

    Both images are on the MS grid: the PAN already MTF-degraded to it, preferably with each band's
    own MTF (one PAN channel per band), so that band and PAN are compared through the same blur, as
    the detail of :func:`pan_detail_t` is made; then a band that is ``a`` times the PAN has gain
    ``a`` at any scale. The high-pass is the image minus its 3x3 mean (replicated border); the gain
    of band ``b`` is ``sum(hp(ms_b) * hp(pan)) / sum(hp(pan)^2)`` over the valid pixels whose 3x3
    neighbourhood is valid (one pixel of border left out), clipped to ``[-limit, limit]``. In
    normalised units it is about 1 for a band that the PAN covers and about 0 for a band whose
    detail the PAN does not predict (NIR or SWIR under a visible PAN): what a classical
    regression-gain detail injection would use, here a per-band input of the network so that shared
    weights can treat the bands differently.

    Args:
        pan_lr: (N, 1, h, w) PAN at MS scale, or (N, C, h, w): the PAN degraded with each band's
            MTF (normalised units).
        ms: (N, C, h, w) MS (normalised units).
        valid: (N or 1, 1, h, w) 0/1 mask of valid MS pixels, or None (all valid).
        limit: clip bound of the gains.

    Returns:
        (N, C) float32 gains (0 where the PAN has no high-pass energy).
    """
    if (
        pan_lr.ndim != 4
        or ms.ndim != 4
        or pan_lr.shape[1] not in (1, ms.shape[1])
        or pan_lr.shape[-2:] != ms.shape[-2:]
    ):
        raise ValueError(
            "expected pan_lr (N, 1 or C, h, w) and ms (N, C, h, w) on one grid, "
            f"got {tuple(pan_lr.shape)}, {tuple(ms.shape)}"
        )

    def hp(x: torch.Tensor) -> torch.Tensor:
        return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)

    p, m = hp(pan_lr.float()), hp(ms.float())
    if valid is None:
        w = torch.ones_like(p)
    else:  # eroded by the 3x3 neighbourhood, so no high-pass value reads an invalid pixel
        v = valid.float().expand_as(p)
        w = -F.max_pool2d(-F.pad(v, (1, 1, 1, 1), mode="replicate"), 3, 1)
    if w.shape[-1] > 2 and w.shape[-2] > 2:
        w[..., 0, :] = 0
        w[..., -1, :] = 0
        w[..., :, 0] = 0
        w[..., :, -1] = 0
    num = (m * p * w).sum((-2, -1))  # (N, C)
    den = (p * p * w).sum((-2, -1))  # (N, 1 or C)
    g = torch.where(den > 1e-12, num / den.clamp_min(1e-12), torch.zeros_like(num))
    return g.clamp(-limit, limit)


def detail_halo(ratio: int) -> int:
    """Radius, in fine pixels, of the dependence of :func:`pan_detail_t` on its input (a bound)."""
    r = int(ratio)
    return kernel_half_width(r) + r * (UPSAMPLE_HALO + 1)


def pan_detail_t(pan: torch.Tensor, gains: Sequence[float], ratio: int) -> torch.Tensor:
    """The PAN detail each MS band lacks: PAN minus its MTF-GLP low-pass with the band's gain.

    ``detail_b = pan - upsample(mtf_degrade(pan, g_b))``, the detail that MTF-GLP methods inject
    (DESIGN.md section 3 geometry: the same decimation phase and Keys-cubic upsampling as the MS).
    Exact inside a tile with a halo of :func:`detail_halo` fine pixels.

    Args:
        pan: (N, 1, H, W) float tensor; H, W multiples of ``ratio``.
        gains: C Nyquist gains (one per MS band).
        ratio: integer ratio >= 2.

    Returns:
        (N, C, H, W) tensor.
    """
    if pan.ndim != 4 or pan.shape[1] != 1:
        raise ValueError(f"expected pan shaped (N, 1, H, W), got {tuple(pan.shape)}")
    r = int(ratio)
    if pan.shape[-2] % r or pan.shape[-1] % r:
        raise ValueError(f"expected pan sides multiples of the ratio {r}, got {tuple(pan.shape[-2:])}")
    gains = [float(g) for g in gains]
    uniq = sorted(set(gains))
    low = upsample_t(mtf_degrade_t(pan.expand(-1, len(uniq), -1, -1), uniq, r), r)
    idx = torch.as_tensor([uniq.index(g) for g in gains], device=pan.device)
    return pan - low.index_select(1, idx)


def detail_inputs(
    pan: torch.Tensor,
    ms: torch.Tensor,
    ms_gains: Sequence[float],
    ratio: int,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-band inputs of the fusion networks for one (PAN, MS) pair, made one way everywhere
    (the zero-shot fit and pretraining), so a prior sees what ``fuse`` gives it.

    Args:
        pan: (N, 1, H, W) normalised PAN; H, W multiples of ``ratio``.
        ms: (N, C, H / ratio, W / ratio) normalised MS.
        ms_gains: C Nyquist gains of the MS bands.
        ratio: integer ratio >= 2.
        valid: (N or 1, 1, H / ratio, W / ratio) 0/1 mask of valid MS pixels, or None.

    Returns:
        ``(detail (N, C, H, W), gains (N, C))``: :func:`pan_detail_t` and :func:`detail_gains`, the
        latter with the PAN taken to the MS grid through each band's own MTF.
    """
    return pan_detail_t(pan, ms_gains, ratio), scene_gains(pan, ms, ms_gains, ratio, valid)


def scene_gains(
    pan: torch.Tensor,
    ms: torch.Tensor,
    ms_gains: Sequence[float],
    ratio: int,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """The gains half of :func:`detail_inputs` (same arguments): :func:`detail_gains` with the PAN
    taken to the MS grid through each band's own MTF, (N, C)."""
    pan_lr = mtf_degrade_t(pan.expand(-1, ms.shape[1], -1, -1), ms_gains, ratio)
    return detail_gains(pan_lr, ms, valid)
