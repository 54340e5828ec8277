"""Full-resolution indexes (no reference): the QNR family (D_lambda, D_s, QNR, D_lambda_K, HQNR),
D_rho and R-Q2n, whole-image and streamed (:class:`FullResolutionAccumulator`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np
from scipy import ndimage

from ..base.nodata import block_all
from ..physics.degradation import kernel_half_width, mtf_degrade, mtf_filter, upsample
from .blocks import BLOCK, BlockMoments, masked_blocks, pair_q, pairs_array, q2n_blocks
from .checks import as3d, as_pan, check_gains, check_ratio, check_window, core_of, same_shape
from .reference import q2n
from .windows import drho_sums, pan_lowpass

FULL_RESOLUTION_KEYS = ("D_lambda", "D_s", "QNR", "D_lambda_K", "HQNR", "D_rho", "R_Q2n")


# ------------------------------------------------------------------------------------ indexes
def q_blocks(a: np.ndarray, b: np.ndarray, block: int = BLOCK) -> float:
    """Universal image quality index of two single-band images averaged over distinct blocks.

    Args:
        a: (H, W) or (1, H, W) image.
        b: same shape as ``a``.
        block: block side (32); the image is mirrored at its end to a multiple of it.

    Returns:
        Mean block value in [-1, 1].
    """
    a, b = as_pan("a", a), as_pan("b", b)
    same_shape(a, b, "a and b")
    acc = BlockMoments(a.shape[1:], block, partial(pair_q, pairs=pairs_array([(0, 1)])), 1)
    acc.add([a, b], 0, 0)
    return float(acc.result()[0])


def _band_pairs(bands: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(bands) for j in range(i + 1, bands)]


def d_lambda(ms_up: np.ndarray, fused: np.ndarray, block: int = BLOCK) -> float:
    """Spectral distortion D_lambda: mean over band pairs i < j of ``|Q(F_i, F_j) - Q(M_i, M_j)|``.

    Args:
        ms_up: (B, H, W) MS upsampled to the PAN grid.
        fused: (B, H, W) fused image.
        block: block side of Q (:func:`q_blocks`).

    Returns:
        D_lambda in [0, 2] (0 for fused == ms_up; NaN for one band, which has no pair to compare).
    """
    ms_up, fused = as3d("ms_up", ms_up), as3d("fused", fused)
    same_shape(ms_up, fused, "ms_up and fused")
    bands = fused.shape[0]
    pairs = _band_pairs(bands)
    if not pairs:
        return math.nan
    idx = pairs + [(bands + i, bands + j) for i, j in pairs]
    acc = BlockMoments(fused.shape[1:], block, partial(pair_q, pairs=pairs_array(idx)), len(idx))
    acc.add([fused, ms_up], 0, 0)
    q = acc.result()
    return float(np.mean(np.abs(q[: len(pairs)] - q[len(pairs) :])))


def d_s(pan: np.ndarray, ms_up: np.ndarray, fused: np.ndarray, ratio: int, block: int = BLOCK) -> float:
    """Spatial distortion D_s: mean over bands of ``|Q(F_i, PAN) - Q(M_i, PAN_L)|``.

    Args:
        pan: (1, H, W) PAN, H and W multiples of ratio.
        ms_up: (B, H, W) MS upsampled to the PAN grid.
        fused: (B, H, W) fused image.
        ratio: integer ratio.
        block: block side of Q (:func:`q_blocks`).

    Returns:
        D_s in [0, 2].
    """
    pan, ms_up, fused = as_pan("pan", pan), as3d("ms_up", ms_up), as3d("fused", fused)
    same_shape(ms_up, fused, "ms_up and fused")
    if pan.shape[1:] != fused.shape[1:]:
        raise ValueError(f"expected pan and fused on the same grid, got {pan.shape} and {fused.shape}")
    bands = fused.shape[0]
    idx = [(i, 2 * bands) for i in range(bands)] + [(bands + i, 2 * bands + 1) for i in range(bands)]
    acc = BlockMoments(fused.shape[1:], block, partial(pair_q, pairs=pairs_array(idx)), len(idx))
    acc.add([fused, ms_up, pan, pan_lowpass(pan, ratio)], 0, 0)
    q = acc.result()
    return float(np.mean(np.abs(q[:bands] - q[bands:])))


def qnr(pan: np.ndarray, ms_up: np.ndarray, fused: np.ndarray, ratio: int, block: int = BLOCK) -> float:
    """QNR = (1 - D_lambda)(1 - D_s); shapes as in :func:`d_s`."""
    return (1.0 - d_lambda(ms_up, fused, block)) * (1.0 - d_s(pan, ms_up, fused, ratio, block))


def d_lambda_k(
    ms_up: np.ndarray, fused: np.ndarray, ms_gains: Sequence[float], ratio: int, block: int = BLOCK
) -> float:
    """Khan's spectral distortion: ``1 - Q2n(ms_up, MTF-filtered fused)`` at PAN scale.

    Args:
        ms_up: (B, H, W) MS upsampled to the PAN grid.
        fused: (B, H, W) fused image.
        ms_gains: B Nyquist gains of the MS bands.
        ratio: integer ratio.
        block: Q2n block side.

    Returns:
        D_lambda_K in [0, 1].
    """
    ms_up, fused = as3d("ms_up", ms_up), as3d("fused", fused)
    same_shape(ms_up, fused, "ms_up and fused")
    gains = check_gains(ms_gains, fused.shape[0])
    return 1.0 - q2n(ms_up, mtf_filter(fused, gains, check_ratio(ratio)), block)


def hqnr(
    pan: np.ndarray,
    ms_up: np.ndarray,
    fused: np.ndarray,
    ms_gains: Sequence[float],
    ratio: int,
    block: int = BLOCK,
) -> float:
    """HQNR = (1 - D_lambda_K)(1 - D_s); shapes as in :func:`d_s`."""
    return (1.0 - d_lambda_k(ms_up, fused, ms_gains, ratio, block)) * (
        1.0 - d_s(pan, ms_up, fused, ratio, block)
    )


def d_rho(pan: np.ndarray, fused: np.ndarray, ratio: int) -> float:
    """D_rho: mean over pixels and bands of ``1 - clip(rho, -1, 1)``, rho the local correlation with PAN.

    Args:
        pan: (1, H, W) PAN.
        fused: (B, H, W) fused image.
        ratio: integer ratio (window side ``2*ceil(ratio/2)``).

    Returns:
        D_rho in [0, 2] (0 for bands proportional to the PAN).
    """
    pan, fused = as_pan("pan", pan), as3d("fused", fused)
    if pan.shape[1:] != fused.shape[1:]:
        raise ValueError(f"expected pan and fused on the same grid, got {pan.shape} and {fused.shape}")
    total, count = drho_sums(pan, fused, check_ratio(ratio), slice(None), slice(None))
    return total / count


def r_q2n(
    ms: np.ndarray, fused: np.ndarray, ms_gains: Sequence[float], ratio: int, block: int = BLOCK
) -> float:
    """R-Q2n: Q2n of the MS against the fused image MTF-filtered and decimated to the MS grid.

    Args:
        ms: (B, H/r, W/r) native MS.
        fused: (B, H, W) fused image, H and W multiples of ratio.
        ms_gains: B Nyquist gains.
        ratio: integer ratio.
        block: Q2n block side (on the MS grid).

    Returns:
        R-Q2n in [0, 1].
    """
    ms, fused = as3d("ms", ms), as3d("fused", fused)
    gains = check_gains(ms_gains, fused.shape[0])
    r = check_ratio(ratio)
    return q2n(ms, mtf_degrade(fused, gains, r), block)


# ------------------------------------------------------------------------------------ streaming
class FullResolutionAccumulator:
    """Full-resolution (no reference) indexes accumulated over tiles.

    Feed tiles with :meth:`update`; :meth:`result` gives the same dict as
    :func:`full_resolution_indexes` on the whole image. Each update needs ``halo`` (= 6 * ratio)
    PAN pixels around its core on every side, clipped at the image border, for the MTF filter,
    PAN_L and D_rho; the window origin and size, and the core, must be multiples of the ratio.

    Args:
        ratio: integer ratio between the PAN and MS grids.
        ms_gains: Nyquist gains of the MS bands (MTF of D_lambda_K and R-Q2n).
        shape: (H, W) of the whole PAN grid, multiples of ratio.
        block: block side of Q and Q2n (32).
        masked: every update gives ``valid`` (where the data is); the indexes judge only the
            pixels and blocks that their filters read as data (:meth:`clean`), NaN where none is.
    """

    def __init__(
        self,
        ratio: int,
        ms_gains: Sequence[float],
        shape: tuple[int, int],
        block: int = BLOCK,
        masked: bool = False,
    ) -> None:
        self.ratio = check_ratio(ratio)
        self.gains = tuple(float(g) for g in ms_gains)
        self.shape = (int(shape[0]), int(shape[1]))
        if self.shape[0] % self.ratio or self.shape[1] % self.ratio:
            raise ValueError(
                f"expected a PAN shape that is a multiple of the ratio {ratio}, got {self.shape}"
            )
        self.block = int(block)
        self.halo = kernel_half_width(self.ratio) + self.ratio
        self.masked = masked
        bands = len(self.gains)
        self.bands = bands
        pairs = _band_pairs(bands)
        self._npairs = len(pairs)
        idx = (
            pairs
            + [(bands + i, bands + j) for i, j in pairs]
            + [(i, 2 * bands) for i in range(bands)]
            + [(bands + i, 2 * bands + 1) for i in range(bands)]
        )
        self._qnr = self._moments(self.shape, partial(pair_q, pairs=pairs_array(idx)), len(idx))
        self._khan = self._moments(self.shape, partial(q2n_blocks, nbands=bands), 1)
        self.ms_shape = (self.shape[0] // self.ratio, self.shape[1] // self.ratio)
        self._rq2n = self._moments(self.ms_shape, partial(q2n_blocks, nbands=bands), 1)
        self._drho = [0.0, 0]
        self._npix = 0
        self._clean: np.ndarray | None = None  # the last core's clean pixels (masked)
        self._extra: tuple[list, list] = ([], [])  # and its nodata images (PAN grid, MS grid)

    def _moments(self, shape: tuple[int, int], finalize, nvalues: int) -> BlockMoments:
        """Block moments of one index; masked: the stacks end with a nodata image (weighted)."""
        if self.masked:
            finalize = partial(masked_blocks, finalize=finalize)
        return BlockMoments(shape, self.block, finalize, nvalues, weighted=self.masked)

    def _nodata(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The nodata images of the last core on the PAN and MS grids ([] unmasked)."""
        if self._clean is None:
            return [], []
        clean_ms = block_all(self._clean, self.ratio)
        return [(~self._clean)[None].astype(np.float64)], [(~clean_ms)[None].astype(np.float64)]

    def _checked(self, pan, ms_up, fused, ms, origin, core):
        """The update's arrays as 3-D arrays, and its core, checked against the contract."""
        r = self.ratio
        pan = as_pan("pan", pan)
        ms_up, fused, ms = as3d("ms_up", ms_up), as3d("fused", fused), as3d("ms", ms)
        same_shape(ms_up, fused, "ms_up and fused")
        bands, h, w = fused.shape
        if bands != self.bands:
            raise ValueError(f"expected {self.bands} bands (one per gain), got {bands}")
        if pan.shape[1:] != (h, w):
            raise ValueError(f"expected pan on the grid of fused {(h, w)}, got {pan.shape[1:]}")
        if ms.shape != (bands, h // r, w // r) or h % r or w % r:
            raise ValueError(
                f"expected ms shaped {(bands, h // r, w // r)} for a window {(h, w)} multiple of the ratio "
                f"{r}, got {ms.shape}"
            )
        if origin[0] % r or origin[1] % r:
            raise ValueError(f"expected a window origin multiple of the ratio {r}, got {origin}")
        core = core_of(origin, (h, w), core)
        if any(v % r for v in core):
            raise ValueError(f"expected a core multiple of the ratio {r}, got {core}")
        check_window(self.shape, origin, (h, w), core, (self.halo,) * 4)
        return pan, ms_up, fused, ms, core

    def update(
        self,
        pan: np.ndarray,
        ms_up: np.ndarray,
        fused: np.ndarray,
        ms: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        core: tuple[int, int, int, int] | None = None,
        valid: np.ndarray | None = None,
    ) -> None:
        """Add one tile.

        Args:
            pan: (1, h, w) PAN over the window whose top-left PAN pixel is ``origin``.
            ms_up: (B, h, w) MS upsampled to the PAN grid over the same window.
            fused: (B, h, w) fused image over the same window.
            ms: (B, h/r, w/r) native MS over the same footprint (top-left MS pixel ``origin / r``).
            origin: (row, col) of the window on the PAN grid, multiples of the ratio.
            core: (row, col, height, width) PAN pixels this tile contributes, multiples of the ratio;
                default the window. The window must hold the core plus ``halo`` (clipped).
            valid: (h, w) bool, where the PAN, the MS (on the PAN grid) and the fused image all hold
                data (a ``masked`` accumulator; None: everywhere). Only the pixels whose every
                filter reads data count: ``valid`` eroded by ``halo`` (:meth:`clean`).
        """
        r = self.ratio
        pan, ms_up, fused, ms, core = self._checked(pan, ms_up, fused, ms, origin, core)
        cr, cc, ch, cw = core
        lr, lc = cr - origin[0], cc - origin[1]
        rows, cols = slice(lr, lr + ch), slice(lc, lc + cw)
        clean = self.clean(valid, fused.shape[1:])
        self._clean = None if clean is None else clean[rows, cols]
        self._extra = self._nodata()
        extra, extra_ms = self._extra
        pan_l = pan_lowpass(pan, r)[:, rows, cols]
        self._qnr.add([fused[:, rows, cols], ms_up[:, rows, cols], pan[:, rows, cols], pan_l, *extra], cr, cc)
        f_lp = mtf_filter(fused, self.gains, r)[:, rows, cols]
        self._khan.add([ms_up[:, rows, cols], f_lp, *extra], cr, cc)
        ms_sl = (slice(None), slice(lr // r, (lr + ch) // r), slice(lc // r, (lc + cw) // r))
        f_deg = mtf_degrade(fused, self.gains, r)[ms_sl]
        self._rq2n.add([ms[ms_sl], f_deg, *extra_ms], cr // r, cc // r)
        total, count = drho_sums(pan, fused, r, rows, cols, self._clean)
        self._drho[0] += total
        self._drho[1] += count
        self._npix += ch * cw

    def clean(self, valid: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
        """The window's pixels that every filter of the indexes reads as data: ``valid`` eroded by
        ``halo`` (the image border is not nodata); None unmasked."""
        if not self.masked:
            if valid is not None:
                raise ValueError("expected no valid mask: this accumulator was made with masked=False")
            return None
        if valid is None or np.all(valid):
            return np.ones(shape, bool)
        if np.shape(valid) != tuple(shape):
            raise ValueError(f"expected valid shaped {tuple(shape)} (the window), got {np.shape(valid)}")
        return ndimage.minimum_filter(np.asarray(valid, dtype=bool), 2 * self.halo + 1, mode="nearest")

    def result(self) -> dict[str, float]:
        """Indexes of the whole image: ``D_lambda, D_s, QNR, D_lambda_K, HQNR, D_rho, R_Q2n``."""
        if self._npix != self.shape[0] * self.shape[1]:
            raise ValueError(
                f"expected tiles covering the {self.shape[0]}x{self.shape[1]} image, got {self._npix} pixels"
            )
        q = self._qnr.result()
        npairs, bands = self._npairs, self.bands
        dl = float(np.mean(np.abs(q[:npairs] - q[npairs : 2 * npairs]))) if npairs else math.nan  # one band
        qs = q[2 * npairs :]
        ds = float(np.mean(np.abs(qs[:bands] - qs[bands:])))
        dlk = 1.0 - float(self._khan.result()[0])
        return {
            "D_lambda": dl,
            "D_s": ds,
            "QNR": (1.0 - dl) * (1.0 - ds),
            "D_lambda_K": dlk,
            "HQNR": (1.0 - dlk) * (1.0 - ds),
            "D_rho": self._drho[0] / self._drho[1] if self._drho[1] else math.nan,
            "R_Q2n": float(self._rq2n.result()[0]),
        }


# ------------------------------------------------------------------------------------ aggregate
def full_resolution_indexes(
    pan: np.ndarray,
    ms: np.ndarray,
    fused: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    ms_up: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> dict[str, float]:
    """All full-resolution (no reference) indexes of a fused image.

    Args:
        pan: (1, H, W) PAN, H and W multiples of ratio.
        ms: (B, H/r, W/r) native MS.
        fused: (B, H, W) fused image.
        ratio: integer ratio.
        ms_gains: B Nyquist gains of the MS bands.
        ms_up: (B, H, W) MS on the PAN grid; default :func:`pansharpen_cli.physics.degradation.upsample`.
        valid: (H, W) bool, where the PAN, the MS and the fused image hold data; None: everywhere
            (:meth:`FullResolutionAccumulator.update`).

    Returns:
        ``{"D_lambda", "D_s", "QNR", "D_lambda_K", "HQNR", "D_rho", "R_Q2n"}`` as Python floats.
    """
    pan, ms, fused = as_pan("pan", pan), as3d("ms", ms), as3d("fused", fused)
    r = check_ratio(ratio)
    gains = check_gains(ms_gains, fused.shape[0])
    if ms_up is None:
        ms_up = upsample(ms, r)
    acc = FullResolutionAccumulator(r, gains, fused.shape[1:], masked=valid is not None)
    acc.update(pan, ms_up, fused, ms, valid=valid)
    return acc.result()
