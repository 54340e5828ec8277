"""Reduced-resolution indexes (with a reference): Q2n, Q, SAM, ERGAS, SCC, PSNR, whole-image and
streamed (:class:`ReferenceAccumulator`).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from .blocks import BLOCK, BlockMoments, q2n_blocks, q2n_blocks_masked
from .checks import as3d, check_window, core_of, same_shape
from .windows import SLIDING_TILE, sam_sums, scc_sums, sliding_q_sums, whole_windows

REFERENCE_KEYS = ("Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR")


# ------------------------------------------------------------------------------------ indexes
def q2n(ref: np.ndarray, fused: np.ndarray, block: int = BLOCK) -> float:
    """Q2n (Q4, Q8, ... hypercomplex quality index) over distinct blocks.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.
        block: block side (32).

    Returns:
        Mean block value in [0, 1] (1 for identical images).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    bands = ref.shape[0]
    acc = BlockMoments(ref.shape[1:], block, partial(q2n_blocks, nbands=bands), 1)
    acc.add([ref, fused], 0, 0)
    return float(acc.result()[0])


def q_index(ref: np.ndarray, fused: np.ndarray, block: int = BLOCK) -> float:
    """Mean per-band universal image quality index over every ``block x block`` sliding window.

    Args:
        ref: (B, H, W) reference, H and W >= block.
        fused: (B, H, W) image under test.
        block: window side (32).

    Returns:
        Mean over windows, then over bands (1 for identical images).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    hh, ww = ref.shape[1:]
    if hh < block or ww < block:
        raise ValueError(f"expected images at least {block}x{block} for Q, got {hh}x{ww}")
    nr_all, nc_all = hh - block + 1, ww - block + 1
    sums = np.zeros(ref.shape[0])
    for r0 in range(0, nr_all, SLIDING_TILE):
        nr = min(SLIDING_TILE, nr_all - r0)
        for c0 in range(0, nc_all, SLIDING_TILE):
            nc = min(SLIDING_TILE, nc_all - c0)
            sl = (slice(None), slice(r0, r0 + nr + block - 1), slice(c0, c0 + nc + block - 1))
            sums += sliding_q_sums(ref[sl], fused[sl], nr, nc, block)
    return float(np.mean(sums / (nr_all * nc_all)))


def sam(ref: np.ndarray, fused: np.ndarray) -> float:
    """Mean spectral angle in degrees over pixels where neither spectral vector is zero.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.

    Returns:
        Degrees in [0, 180] (0 if no pixel is valid; NaN for one band, whose "spectra" are scalars).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    if ref.shape[0] == 1:
        return math.nan
    total, count = sam_sums(ref, fused)
    return math.degrees(total / count) if count else 0.0


def ergas(ref: np.ndarray, fused: np.ndarray, ratio: float) -> float:
    """ERGAS: ``100/ratio * sqrt(mean_b (RMSE_b^2 / mean_b^2))``, ``mean_b`` the reference band mean.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.
        ratio: resolution ratio between PAN and MS.

    Returns:
        ERGAS (0 for identical images).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    r = np.asarray(ref, dtype=np.float64)
    err = r - np.asarray(fused, dtype=np.float64)
    mse = (err * err).mean(axis=(1, 2))
    means = r.mean(axis=(1, 2))
    return float(100.0 / ratio * np.sqrt(np.mean(mse / means**2)))


def scc(ref: np.ndarray, fused: np.ndarray) -> float:
    """Spatial correlation coefficient of Sobel gradient magnitudes (1-pixel border cropped).

    Args:
        ref: (B, H, W) reference, H and W >= 3.
        fused: (B, H, W) image under test.

    Returns:
        Correlation over all bands jointly, in [0, 1] (1 for identical images).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    hh, ww = ref.shape[1:]
    s = scc_sums(ref, fused, (0, 0), (0, 0, hh, ww), (hh, ww))
    return float(s[0] / math.sqrt(s[1] * s[2])) if s[1] > 0 and s[2] > 0 else 0.0


def psnr(ref: np.ndarray, fused: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB, MSE over all bands and pixels.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.
        data_range: peak value; default ``max(ref) - min(ref)``.

    Returns:
        dB (``inf`` for identical images).
    """
    ref, fused = as3d("ref", ref), as3d("fused", fused)
    same_shape(ref, fused, "ref and fused")
    r = np.asarray(ref, dtype=np.float64)
    mse = float(np.mean((r - np.asarray(fused, dtype=np.float64)) ** 2))
    rng = float(r.max() - r.min()) if data_range is None else float(data_range)
    return _psnr_from(mse, rng)


def _psnr_from(mse: float, rng: float) -> float:
    if mse == 0:
        return math.inf
    if rng <= 0:
        return -math.inf
    return 10.0 * math.log10(rng * rng / mse)


# ------------------------------------------------------------------------------------ streaming
class ReferenceAccumulator:
    """Reduced-resolution indexes (with reference) accumulated over tiles.

    Feed tiles with :meth:`update`; :meth:`result` gives the same dict as :func:`reference_indexes`
    on the whole image. Each update needs ``halo`` (= block - 1) pixels around its core on the
    bottom and right (windows of Q starting in the core) and 1 on the top and left (SCC), clipped at
    the image border.

    Args:
        ratio: resolution ratio (for ERGAS).
        shape: (H, W) of the whole reference image, both >= block.
        block: block / window side (32).
        masked: updates give ``valid``; the indexes judge only the valid pixels, and the blocks and
            windows that hold no invalid one (NaN where there is none).
    """

    def __init__(
        self, ratio: float, shape: tuple[int, int], block: int = BLOCK, masked: bool = False
    ) -> None:
        self.ratio = float(ratio)
        self.shape = (int(shape[0]), int(shape[1]))
        self.block = int(block)
        if self.shape[0] < self.block or self.shape[1] < self.block:
            raise ValueError(f"expected images at least {block}x{block}, got {self.shape}")
        self.halo = self.block - 1
        self.masked = masked
        self._bands: int | None = None
        self._q2n: BlockMoments | None = None
        self._q_sum = 0.0
        self._q_count = 0
        self._sam = [0.0, 0]
        self._sse = 0.0
        self._sum_ref = 0.0
        self._npix = 0
        self._nvalid = 0
        self._min, self._max = math.inf, -math.inf
        self._scc = np.zeros(3)

    @property
    def judged_pixels(self) -> int:
        """Pixels judged so far (a ``masked`` accumulator: the valid ones)."""
        return self._nvalid

    def _start(self, bands: int) -> None:
        if self._bands is None:
            self._bands = bands
            fin = partial(q2n_blocks_masked if self.masked else q2n_blocks, nbands=bands)
            self._q2n = BlockMoments(self.shape, self.block, fin, 1, weighted=self.masked)
            self._sse = np.zeros(bands)
            self._sum_ref = np.zeros(bands)
        elif bands != self._bands:
            raise ValueError(f"expected {self._bands} bands in every tile, got {bands}")

    def update(
        self,
        reference: np.ndarray,
        fused: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        core: tuple[int, int, int, int] | None = None,
        valid: np.ndarray | None = None,
    ) -> None:
        """Add one tile.

        Args:
            reference: (B, h, w) reference over the window whose top-left image pixel is ``origin``.
            fused: (B, h, w) image under test over the same window.
            origin: (row, col) of the window in the image.
            core: (row, col, height, width) image pixels this tile contributes; default the window.
                The window must hold the core plus the halo (see the class docstring).
            valid: (h, w) bool, the pixels to judge (a ``masked`` accumulator; None: all of them).
                Their values elsewhere must be finite; they are not read.
        """
        reference, fused = as3d("reference", reference), as3d("fused", fused)
        same_shape(reference, fused, "reference and fused")
        bands, h, w = reference.shape
        if valid is not None and not self.masked:
            raise ValueError("expected no valid mask: this accumulator was made with masked=False")
        if self.masked:
            valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, dtype=bool)
            same_shape(reference[0], valid, "reference and valid")
        self._start(bands)
        core = core_of(origin, (h, w), core)
        b = self.block
        check_window(self.shape, origin, (h, w), core, (1, 1, b - 1, b - 1))
        cr, cc, ch, cw = core
        lr, lc = cr - origin[0], cc - origin[1]
        sl = (slice(None), slice(lr, lr + ch), slice(lc, lc + cw))
        ref_c = np.asarray(reference[sl], dtype=np.float64)
        fus_c = np.asarray(fused[sl], dtype=np.float64)
        val_c = None if valid is None else valid[sl[1:]]
        assert self._q2n is not None
        extra = [] if val_c is None else [(~val_c)[None].astype(np.float64)]
        self._q2n.add([ref_c, fus_c, *extra], cr, cc)
        self._add_windows(reference, fused, valid, (lr, lc), core)
        self._add_pixels(ref_c, fus_c, val_c)
        self._scc += scc_sums(reference, fused, origin, core, self.shape, valid)

    def _add_windows(self, reference, fused, valid, local: tuple[int, int], core) -> None:
        """The sliding Q's windows whose top-left corner is in the core (whole valid ones only)."""
        b, (hh, ww), (lr, lc) = self.block, self.shape, local
        cr, cc, ch, cw = core
        nr = max(0, min(cr + ch, hh - b + 1) - cr)
        nc = max(0, min(cc + cw, ww - b + 1) - cc)
        for r0 in range(0, nr, SLIDING_TILE):
            nr_t = min(SLIDING_TILE, nr - r0)
            for c0 in range(0, nc, SLIDING_TILE):
                nc_t = min(SLIDING_TILE, nc - c0)
                rows = slice(lr + r0, lr + r0 + nr_t + b - 1)
                cols = slice(lc + c0, lc + c0 + nc_t + b - 1)
                weight = None if valid is None else whole_windows(valid[rows, cols], nr_t, nc_t, b)
                win = (slice(None), rows, cols)
                self._q_sum = self._q_sum + sliding_q_sums(reference[win], fused[win], nr_t, nc_t, b, weight)
                self._q_count += nr_t * nc_t if weight is None else int(weight.sum())

    def _add_pixels(self, ref_c: np.ndarray, fus_c: np.ndarray, val_c: np.ndarray | None) -> None:
        """SAM, ERGAS and PSNR sums over the core's (valid) pixels."""
        self._npix += ref_c.shape[1] * ref_c.shape[2]
        angle, count = sam_sums(ref_c, fus_c, val_c)
        self._sam[0] += angle
        self._sam[1] += count
        if val_c is not None:
            ref_c, fus_c = ref_c[:, val_c][:, None], fus_c[:, val_c][:, None]  # (B, 1, N): the valid pixels
        if ref_c.size == 0:
            return
        err = ref_c - fus_c
        self._sse += (err * err).sum(axis=(1, 2))
        self._sum_ref += ref_c.sum(axis=(1, 2))
        self._nvalid += ref_c[0].size
        self._min = min(self._min, float(ref_c.min()))
        self._max = max(self._max, float(ref_c.max()))

    def result(self) -> dict[str, float]:
        """The indexes of the whole image: keys ``Q2n, Q, SAM, ERGAS, SCC, PSNR`` (Python floats).
        A ``masked`` accumulator judges the valid pixels, the whole valid blocks (Q2n) and windows
        (Q): NaN for an index with none of them."""
        if self._q2n is None or self._npix != self.shape[0] * self.shape[1]:
            raise ValueError(
                f"expected tiles covering the {self.shape[0]}x{self.shape[1]} image, got {self._npix} pixels"
            )
        n = self._nvalid
        q_value = float(np.mean(np.asarray(self._q_sum) / self._q_count)) if self._q_count else math.nan
        sam_value = math.degrees(self._sam[0] / self._sam[1]) if self._sam[1] else 0.0
        sam_value = math.nan if self._bands == 1 else sam_value  # a scalar has no angle
        with np.errstate(divide="ignore", invalid="ignore"):
            mse_b, mean_b = self._sse / n, self._sum_ref / n
            ergas_value = float(100.0 / self.ratio * np.sqrt(np.mean(mse_b / mean_b**2)))
        s = self._scc
        scc_value = float(s[0] / math.sqrt(s[1] * s[2])) if s[1] > 0 and s[2] > 0 else 0.0
        mse = float(self._sse.sum() / (n * self._bands)) if n else math.nan
        psnr_value = _psnr_from(mse, self._max - self._min) if n else math.nan
        return {
            "Q2n": float(self._q2n.result()[0]),
            "Q": q_value,
            "SAM": float(sam_value),
            "ERGAS": ergas_value if n else math.nan,
            "SCC": scc_value,
            "PSNR": float(psnr_value),
        }


# ------------------------------------------------------------------------------------ aggregate
def reference_indexes(reference: np.ndarray, fused: np.ndarray, ratio: float) -> dict[str, float]:
    """All reduced-resolution indexes of a fused image against its reference.

    Args:
        reference: (B, H, W) reference (the original MS in the Wald protocol), H, W >= 32.
        fused: (B, H, W) fused image.
        ratio: resolution ratio (ERGAS).

    Returns:
        ``{"Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR"}`` as Python floats.
    """
    reference, fused = as3d("reference", reference), as3d("fused", fused)
    same_shape(reference, fused, "reference and fused")
    acc = ReferenceAccumulator(ratio, reference.shape[1:])
    acc.update(reference, fused)
    return acc.result()
