"""Residual MS-PAN misregistration: estimate a global sub-pixel shift and resample by it.

The pipeline aligns the MS to the PAN through their geotransforms; what is left is the error of
those geotransforms (or, without georeferencing, of the assumption that both grids share their
corners). Real pairs keep up to a PAN pixel or more of it, and detail injected from a PAN that is
offset from the MS puts the edges in one place and their colours in another: a fusion of such a
pair scores far below what the same method gets on a registered pair.

:func:`estimate_shift` measures the shift on the MS grid, by phase correlation of the high-pass of
the PAN (taken to the MS grid through the MS's MTF) against that of the PAN synthesised from the MS
bands (least squares with bias), refined to 1/100 MS pixel; the shift is kept only when it raises
the high-pass correlation of the two. :func:`shift_t` resamples an image by a sub-pixel shift with
the Keys cubic kernel of the MS upsampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .degradation import keys_kernel
from .torch_ops import symmetric_pad

__all__ = ["MS_KERNEL", "Registration", "estimate_shift", "shift_t", "shift_halo", "describe"]

#: Largest shift accepted, in MS pixels: beyond it the geotransforms, not a residual, are wrong.
MAX_SHIFT_MS = 1.0
#: Sub-pixel refinement of the phase correlation (1/100 MS pixel).
UPSAMPLE_FACTOR = 100


#: Half-width, in samples, of the Lanczos kernel of :func:`shift_t` with ``kernel="lanczos"``.
LANCZOS_A = 4
#: The kernel that moves the upsampled MS and the PAN's low-pass onto the PAN (``--align pan``):
#: both are smooth on the PAN grid, which a windowed sinc moves with about 0.6 of the Keys kernel's
#: error (tests/physics/test_registration.py); landsat7-fusebox-1 under the reduced-resolution
#: protocol: Q2n 0.9227 against 0.9213 with the Keys kernel.
MS_KERNEL = "lanczos"


def shift_halo(dy: float, dx: float, kernel: str = "keys") -> int:
    """Radius, in pixels, of the dependence of :func:`shift_t` on its input (a bound)."""
    return int(math.ceil(max(abs(dy), abs(dx)))) + (LANCZOS_A if kernel == "lanczos" else 2)


def _weights(f: float, kernel: str) -> list[float]:
    """The taps at distances ``j - a + f`` (``j`` = 0 .. 2a - 1) from the sample wanted; Lanczos
    taps normalised to sum 1 (a constant image stays constant)."""
    if kernel == "keys":
        return [float(keys_kernel(np.array(abs(j - 2 + f)))) for j in range(4)]
    a = LANCZOS_A
    w = [float(np.sinc(j - a + f) * np.sinc((j - a + f) / a)) for j in range(2 * a)]
    total = sum(w)
    return [v / total for v in w]


def _shift_axis(x: torch.Tensor, d: float, dim: int, kernel: str) -> torch.Tensor:
    n = x.shape[dim]
    if d == 0:
        return x
    k = math.floor(d)
    weights = _weights(d - k, kernel)  # the sample at i - d lies d - k before index i - k
    a = len(weights) // 2
    pad = shift_halo(d, 0, kernel)
    xp = symmetric_pad(x, pad, pad, 0, 0) if dim == -1 else symmetric_pad(x, 0, 0, pad, pad)
    out = None
    for j, wgt in enumerate(weights):
        if wgt == 0.0:
            continue
        term = wgt * xp.narrow(dim, pad - k - a + j, n)
        out = term if out is None else out + term
    return out


def shift_t(x: torch.Tensor, dy: float, dx: float, kernel: str = "keys") -> torch.Tensor:
    """Move the content of ``x`` by (dy, dx) pixels: ``out[i, j] = x(i - dy, j - dx)``.

    Separable interpolation, half-sample symmetric borders; exact inside a tile with a halo of
    :func:`shift_halo` pixels. ``kernel`` "keys": Keys cubic (a = -0.5, the MS upsampling's; exact
    for integer shifts and for linear images); "lanczos": windowed sinc of :data:`LANCZOS_A` lobes,
    which keeps what the Keys kernel blurs near the Nyquist frequency (a half-pixel move of an
    image with detail up to its Nyquist frequency, such as an MS on its own grid).

    Args:
        x: (..., H, W) float tensor.
        dy, dx: shift along rows and columns, in pixels (positive: down and right).
        kernel: "keys" or "lanczos".

    Returns:
        Tensor shaped like ``x``.
    """
    if kernel not in ("keys", "lanczos"):
        raise ValueError(f"expected kernel 'keys' or 'lanczos', got {kernel!r}")
    return _shift_axis(_shift_axis(x, float(dy), -2, kernel), float(dx), -1, kernel)


@dataclass(frozen=True)
class Registration:
    """What :func:`estimate_shift` found, on the MS grid.

    Attributes:
        measured: (dy, dx) in MS pixels, the shift the phase correlation found, applied or not.
        corr_before: high-pass correlation of PAN and synthesised PAN as given.
        corr_after: the same after moving the PAN by ``measured``.
        applied: whether ``shift`` is the measured one.
        reason: why it was not applied (empty when applied).
    """

    measured: tuple[float, float]
    corr_before: float
    corr_after: float
    applied: bool
    reason: str = ""

    @property
    def shift(self) -> tuple[float, float]:
        """(dy, dx) in MS pixels that move the PAN onto the MS: ``measured`` when applied, else 0."""
        return self.measured if self.applied else (0.0, 0.0)

    def as_dict(self, ratio: int = 1) -> dict:
        """JSON-ready, with the shift also in PAN pixels for ``ratio``."""
        return {
            "shift_ms_pixels": list(self.shift),
            "shift_pan_pixels": [v * ratio for v in self.shift],
            "measured_ms_pixels": list(self.measured),
            "highpass_corr_before": self.corr_before,
            "highpass_corr_after": self.corr_after,
            "applied": self.applied,
            "reason": self.reason,
        }


def _highpass(x: torch.Tensor) -> torch.Tensor:
    return x - F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, 1)


def _corr(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> float:
    num = float((a * b * w).sum())
    den = math.sqrt(float((a * a * w).sum()) * float((b * b * w).sum()))
    return num / den if den > 0 else 0.0


def estimate_shift(
    pan_lr: torch.Tensor,
    ms: torch.Tensor,
    valid: torch.Tensor | None = None,
    max_shift: float = MAX_SHIFT_MS,
) -> Registration:
    """Global shift that moves the PAN onto the MS, measured on the MS grid.

    Args:
        pan_lr: (1, 1, h, w) PAN taken to the MS grid through the MS bands' MTF.
        ms: (1, B, h, w) MS (any units: a least-squares fit with bias maps it to the PAN).
        valid: (1, 1, h, w) 0/1 mask of valid MS pixels, or None.
        max_shift: largest shift accepted, in MS pixels.

    Returns:
        A :class:`Registration`; its ``shift`` is (0, 0) unless the measured shift is within
        ``max_shift`` and raises the high-pass correlation.
    """
    from skimage.registration import phase_cross_correlation

    h, w = ms.shape[-2:]
    zero = (0.0, 0.0)
    if h < 16 or w < 16:
        return Registration(zero, 0.0, 0.0, False, "image smaller than 16x16 MS pixels")
    p = pan_lr.detach().double().cpu()[0, 0]  # small (the MS grid), so on the CPU in float64
    m = ms.detach().double().cpu()[0]
    v = torch.ones_like(p) if valid is None else valid.detach().double().cpu()[0, 0]
    # erode the mask by the high-pass window (and the largest shift), so no value reads nodata
    rad = 2 + int(math.ceil(max_shift))
    v = -F.max_pool2d(-F.pad(v[None, None], (rad,) * 4, value=0.0), 2 * rad + 1, 1)[0, 0]
    sel = v > 0.5
    if int(sel.sum()) < 256:
        return Registration(zero, 0.0, 0.0, False, "fewer than 256 valid MS pixels")
    a = torch.cat([m[:, sel].T, torch.ones(int(sel.sum()), 1, dtype=m.dtype)], 1)
    coef = torch.linalg.lstsq(a, p[sel][:, None]).solution[:, 0]
    synth = torch.einsum("b,bhw->hw", coef[:-1], m) + coef[-1]
    hs = _highpass(synth[None, None])[0, 0] * v
    hp = _highpass(p[None, None])[0, 0] * v
    measured, _, _ = phase_cross_correlation(
        hs.numpy(), hp.numpy(), upsample_factor=UPSAMPLE_FACTOR, normalization=None
    )
    dy, dx = (round(float(s), 4) for s in measured)
    before = _corr(hs, hp, v)
    moved = _highpass(shift_t(p[None, None], dy, dx))[0, 0] * v
    after = _corr(hs, moved, v)
    if max(abs(dy), abs(dx)) > max_shift:
        reason = f"measured shift beyond {max_shift:g} MS pixel: check the geotransforms"
        return Registration((dy, dx), before, after, False, reason)
    if after <= before:
        return Registration((dy, dx), before, after, False, "the shift does not raise the correlation")
    return Registration((dy, dx), before, after, True)


#: Applied shifts larger than this, in PAN pixels, are reported as warnings (notes below it).
WARN_PAN_PIXELS = 0.5


def describe(reg: dict | None, align: str = "pan") -> tuple[str, bool] | None:
    """One line for the user about a registration (``Registration.as_dict``) removed by moving the
    MS onto the PAN (``align`` "pan") or the PAN onto the MS ("ms"): (text, is_warning), or None
    when there is nothing to say (not measured, or a shift under 0.05 PAN pixel)."""
    if not reg:
        return None
    if reg["applied"]:
        dy, dx = reg["shift_pan_pixels"]
        if max(abs(dy), abs(dx)) < 0.05:
            return None
        big = max(abs(dy), abs(dx)) > WARN_PAN_PIXELS
        moved = (
            "the MS was moved onto the PAN before fusion, so the output lines up with the PAN "
            "(--align ms moves the PAN onto the MS instead"
            if align == "pan"
            else "the PAN was moved onto the MS before fusion, so the output keeps the MS's geometry "
            "(--align pan moves the MS onto the PAN instead"
        )
        return (
            f"MS and PAN were misregistered by ({dy:.2f}, {dx:.2f}) PAN pixels (rows, columns); "
            f"{moved}; --no-register moves neither)",
            big,
        )
    if reg["reason"].startswith("measured shift beyond"):
        dy, dx = reg["measured_ms_pixels"]
        return (
            f"MS and PAN look offset by ({dy:.2f}, {dx:.2f}) MS pixels, more than the residual that "
            "fuse corrects; not corrected: check the geotransforms (or --ratio)",
            True,
        )
    return None
