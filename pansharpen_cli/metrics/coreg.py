"""Co-registered full-resolution indexes: the global fused-to-MS and fused-to-PAN shifts removed
before comparing (as the Scarpa-Ciotola full-resolution tool does for R-Q2n and the spectral index).

The indexes themselves are those of :mod:`.full_resolution` (DESIGN.md section 5); what this module
adds is one global, sub-pixel translation per comparison, measured once and then applied to every tile:

- ``shift_ms_pixels`` (dy, dx), in MS pixels: where the fused image's content sits relative to the MS
  (positive: down, right). Measured on the MS grid between the fused image degraded like R-Q2n does
  (MTF low-pass and decimation, :func:`pansharpen_cli.physics.degradation.mtf_degrade`; the mean of
  its bands) and the MS (least-squares combination of its bands), by the phase correlation of their
  high-passes (:func:`pansharpen_cli.physics.registration.estimate_shift`, 1/100 pixel, kept only when
  it raises their high-pass correlation and is within 1 MS pixel).
- ``shift_pan_pixels`` (dy, dx), in PAN pixels: where the fused image's content sits relative to the
  PAN, measured the same way on the PAN grid between the PAN and the fused bands (within one MS pixel).
- ``D_lambda_K_coreg``: D_lambda_K with the fused image's MTF low-pass moved by ``-ratio *
  shift_ms_pixels`` on the PAN grid (onto the upsampled MS) before Q2n.
- ``R_Q2n_coreg``: R-Q2n with the degraded fused image moved by ``-shift_ms_pixels`` on the MS grid.
- ``D_rho_coreg``: D_rho with the PAN moved by ``shift_pan_pixels`` (onto the fused image).

The moves are Keys cubic resampling (:func:`pansharpen_cli.physics.registration.shift_t`, mirrored
borders). With a zero shift the co-registered value is the plain one, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..base.nodata import block_all
from ..physics.degradation import kernel_half_width, mtf_degrade, mtf_filter, upsample
from .blocks import BLOCK, q2n_blocks
from .checks import as3d, as_pan, check_gains, check_ratio, core_of
from .full_resolution import FullResolutionAccumulator
from .windows import drho_sums

#: The keys :class:`CoregisteredAccumulator` adds to the full-resolution ones, in this order.
COREG_KEYS = ("D_lambda_K_coreg", "R_Q2n_coreg", "D_rho_coreg", "shift_ms_pixels", "shift_pan_pixels")


@dataclass(frozen=True)
class Coregistration:
    """The global shifts of a fused image (see the module's docstring for the signs).

    Attributes:
        ms: (dy, dx) of the fused image relative to the MS, in MS pixels.
        pan: (dy, dx) of the fused image relative to the PAN, in PAN pixels.
        notes: why a measured shift was not used (beyond one MS pixel), for the user.
    """

    ms: tuple[float, float] = (0.0, 0.0)
    pan: tuple[float, float] = (0.0, 0.0)
    notes: tuple[str, ...] = field(default=())

    def halo(self, ratio: int) -> int:
        """PAN pixels of context a tile needs for the co-registered indexes (and the plain ones)."""
        r = int(ratio)
        ms_move = r * (int(math.ceil(max(abs(v) for v in self.ms))) + 2)
        pan_move = int(math.ceil(max(abs(v) for v in self.pan))) + 2 + r + 1
        return kernel_half_width(r) + max(ms_move, pan_move, r)


def _shift(x: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``x`` (B, H, W) moved by (dy, dx) pixels (Keys cubic); ``x`` itself for a zero shift."""
    if dy == 0 and dx == 0:
        return x
    import torch

    from ..physics.registration import shift_t

    return shift_t(torch.from_numpy(np.ascontiguousarray(x, np.float64)), dy, dx).numpy()


def _measure(moving: np.ndarray, fixed: np.ndarray, valid: np.ndarray | None, max_shift: float):
    """estimate_shift of a single-band ``moving`` (1, h, w) against ``fixed`` (B, h, w)."""
    import torch

    from ..physics.registration import estimate_shift

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, np.float64))[None]

    v = None if valid is None else t(np.asarray(valid, np.float64)[None])
    return estimate_shift(t(moving), t(fixed), v, max_shift)


def _note(reg, what: str, unit: str) -> list[str]:
    if not reg.reason.startswith("measured shift beyond"):
        return []
    dy, dx = reg.measured
    return [
        f"the fused image looks offset from the {what} by ({dy:.2f}, {dx:.2f}) {unit} pixels, more "
        "than the co-registered indexes correct (one MS pixel): they are the plain ones"
    ]


def estimate_coregistration(
    pan: np.ndarray,
    ms: np.ndarray,
    fused: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    ms_valid: np.ndarray | None = None,
) -> Coregistration:
    """Measure the fused image's global shifts relative to the MS and to the PAN.

    Args:
        pan: (1, H, W) PAN, H and W multiples of ratio.
        ms: (B, H/r, W/r) native MS over the same footprint.
        fused: (B, H, W) fused image.
        ratio: integer ratio.
        ms_gains: B Nyquist gains of the MS bands.
        ms_valid: (H/r, W/r) bool mask of valid MS pixels, or None.

    Returns:
        A :class:`Coregistration` (zero shifts where none is found).
    """
    pan, ms, fused = as_pan("pan", pan), as3d("ms", ms), as3d("fused", fused)
    r = check_ratio(ratio)
    gains = check_gains(ms_gains, fused.shape[0])
    fused_lr = mtf_degrade(fused, gains, r).mean(axis=0, keepdims=True)
    reg_ms = _measure(fused_lr, ms, ms_valid, 1.0)
    valid_up = None if ms_valid is None else np.kron(ms_valid, np.ones((r, r), bool))
    reg_pan = _measure(pan, fused, valid_up, float(r))
    return Coregistration(
        ms=(-reg_ms.shift[0] + 0.0, -reg_ms.shift[1] + 0.0),
        pan=(reg_pan.shift[0] + 0.0, reg_pan.shift[1] + 0.0),
        notes=tuple(_note(reg_ms, "MS", "MS") + _note(reg_pan, "PAN", "PAN")),
    )


class CoregisteredAccumulator(FullResolutionAccumulator):
    """:class:`FullResolutionAccumulator` plus the co-registered indexes of a known
    :class:`Coregistration` (``D_lambda_K_coreg``, ``R_Q2n_coreg``, ``D_rho_coreg`` and the shifts).

    Same streaming contract, with the larger ``halo`` of :meth:`Coregistration.halo`.
    """

    def __init__(
        self,
        ratio: int,
        ms_gains: Sequence[float],
        shape: tuple[int, int],
        coreg: Coregistration,
        block: int = BLOCK,
        masked: bool = False,
    ) -> None:
        super().__init__(ratio, ms_gains, shape, block, masked)
        self.coreg = coreg
        self.halo = max(self.halo, coreg.halo(self.ratio))  # the masked erosion reaches as far
        q2n_fin = partial(q2n_blocks, nbands=self.bands)
        self._khan_c = self._moments(self.shape, q2n_fin, 1)
        self._rq2n_c = self._moments(self.ms_shape, q2n_fin, 1)
        self._drho_c = [0.0, 0]

    def update(self, pan, ms_up, fused, ms, origin=(0, 0), core=None, valid=None) -> None:
        """Add one tile (arguments as :meth:`FullResolutionAccumulator.update`)."""
        super().update(pan, ms_up, fused, ms, origin, core, valid)
        r, (sy, sx), (py, px) = self.ratio, self.coreg.ms, self.coreg.pan
        pan, fused = as_pan("pan", pan), as3d("fused", fused)
        cr, cc, ch, cw = core_of(origin, fused.shape[1:], core)
        lr, lc = cr - origin[0], cc - origin[1]
        rows, cols = slice(lr, lr + ch), slice(lc, lc + cw)
        extra, extra_ms = self._extra  # the base update's, of this core
        if (sy, sx) != (0.0, 0.0):
            f_lp = _shift(mtf_filter(fused, self.gains, r), -sy * r, -sx * r)[:, rows, cols]
            self._khan_c.add([as3d("ms_up", ms_up)[:, rows, cols], f_lp, *extra], cr, cc)
            ms_sl = (slice(None), slice(lr // r, (lr + ch) // r), slice(lc // r, (lc + cw) // r))
            f_deg = _shift(mtf_degrade(fused, self.gains, r), -sy, -sx)[ms_sl]
            self._rq2n_c.add([as3d("ms", ms)[ms_sl], f_deg, *extra_ms], cr // r, cc // r)
        if (py, px) != (0.0, 0.0):
            total, count = drho_sums(_shift(pan, py, px), fused, r, rows, cols, self._clean)
            self._drho_c[0] += total
            self._drho_c[1] += count

    def result(self) -> dict:
        """The plain indexes, then :data:`COREG_KEYS` (shifts as [dy, dx] lists)."""
        res: dict = super().result()
        moved_ms = self.coreg.ms != (0.0, 0.0)
        res["D_lambda_K_coreg"] = 1.0 - float(self._khan_c.result()[0]) if moved_ms else res["D_lambda_K"]
        res["R_Q2n_coreg"] = float(self._rq2n_c.result()[0]) if moved_ms else res["R_Q2n"]
        moved_pan = self.coreg.pan != (0.0, 0.0)
        drho_c = self._drho_c[0] / self._drho_c[1] if self._drho_c[1] else math.nan
        res["D_rho_coreg"] = drho_c if moved_pan else res["D_rho"]
        res["shift_ms_pixels"] = list(self.coreg.ms)
        res["shift_pan_pixels"] = list(self.coreg.pan)
        return res


def coregistered_indexes(
    pan: np.ndarray,
    ms: np.ndarray,
    fused: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    ms_up: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> dict:
    """:func:`pansharpen_cli.metrics.full_resolution_indexes` plus :data:`COREG_KEYS`, the shifts
    measured on the whole image (arguments as there; ``valid``: the (H, W) bool mask of where the
    PAN, the MS and the fused image hold data, which the shifts' measurement and the indexes keep
    to, :meth:`FullResolutionAccumulator.update`)."""
    pan, ms, fused = as_pan("pan", pan), as3d("ms", ms), as3d("fused", fused)
    r = check_ratio(ratio)
    gains = check_gains(ms_gains, fused.shape[0])
    if ms_up is None:
        ms_up = upsample(ms, r)
    ms_valid = None if valid is None else block_all(np.asarray(valid, dtype=bool), r)
    coreg = estimate_coregistration(pan, ms, fused, r, gains, ms_valid)
    acc = CoregisteredAccumulator(r, gains, fused.shape[1:], coreg, masked=valid is not None)
    acc.update(pan, ms_up, fused, ms, valid=valid)
    return acc.result()
