"""Reduced- and full-resolution quality indexes (DESIGN.md section 5).

Arrays are (bands, rows, cols) everywhere; any real dtype is accepted and computed in float64. Every
index is available as a whole-image function and, for images that do not fit in memory, through an
accumulator fed one tile at a time (:class:`ReferenceAccumulator`, :class:`FullResolutionAccumulator`).
The whole-image aggregates :func:`reference_indexes` and :func:`full_resolution_indexes` are the
accumulators fed a single tile, so tiled and whole-image results agree to rounding.

Conventions (the reference toolbox of Vivone et al. and the Scarpa-Ciotola full-resolution tool):

- Q2n: 32x32 distinct blocks, the image mirrored (half-sample symmetric, like the toolbox) at its end
  to a multiple of 32; in each block every band of both images is normalised by the reference block's
  mean ``m`` and standard deviation ``s`` (N-1): ``x -> (x - m)/s + 1``; bands zero-padded to a power
  of two (the padded components become the constant 1 in both images, as in the toolbox); the modulus
  of the hypercomplex quality index ``2|cov(x, y)| / (var x + var y) * 2|E x||E y| / (|E x|^2 + |E y|^2)``
  with ``cov(x, y) = E[x conj(y)] - E[x] conj(E[y])`` and the toolbox's Cayley-Dickson product
  (``onion_mult.m``: ``(a, b)(c, d) = (ac - conj(d) b, conj(a) conj(d) + c conj(b))``; its result is
  the standard Cayley-Dickson product up to a fixed isometry of the components, so the modulus, hence
  Q4/Q8, is the same as with textbook quaternions/octonions); mean over blocks.
  Where a reference block band is constant (``s <= 1e-10 |m|``) it is only shifted (``s := 1``); the
  toolbox divides by ``eps`` there. Where both normalised images have zero variance the block value is
  the mean-bias term alone (as in the toolbox). Values are not quantised to uint16 (the toolbox is).
- Q: the universal image quality index of each band over every 32x32 sliding window inside the image
  (no padding), averaged over windows, then over bands. Degenerate windows follow Wang's ``img_qi.m``:
  both variances zero gives ``2 mx my / (mx^2 + my^2)`` (1 if both means are 0); both means zero
  with some variance gives 1. A variance counts as zero below ``1e-12`` times the square of the
  largest deviation in the tile (box sums come from running sums).
- QNR family (:func:`q_blocks`): the same index over 32x32 distinct blocks, mirrored at the end like
  Q2n; a block variance counts as zero where ``std <= 1e-10 |mean|``. D_lambda, D_s, QNR, HQNR with
  exponents 1; PAN_L is the PAN downscaled by the ratio with an antialiased Keys (a = -0.5) bicubic
  kernel (MATLAB ``imresize(pan, 1/ratio)``, pixel-is-area centres, mirrored borders) and upsampled
  back with :func:`pansharpen_cli.degradation.upsample`.
- D_rho: window of side ``L = 2*ceil(ratio/2)`` covering rows and columns ``i - L/2 + 1 .. i + L/2``
  (the placement of the Scarpa-Ciotola ``xcorr``); each image is centred by its own window mean at
  each pixel, both with zero padding outside the image; ``rho = S_fp / sqrt(S_ff S_pp)`` of the
  windowed sums of centred products; ``rho = 0`` where either windowed energy is zero (below
  ``L^2 (1e-10 |window mean|)^2``), as the reference code's ``eps`` guards give; the mean of
  ``1 - clip(rho, -1, 1)`` over pixels and bands.
- SAM: degrees, pixels where either spectral vector is zero are skipped; computed as
  ``2 atan2(|u - v|, |u + v|)`` of the unit vectors (exactly 0 for identical images).
- ERGAS: ``100/ratio * sqrt(mean_b (RMSE_b^2 / mean_b^2))``, ``mean_b`` the reference band mean.
- SCC: 1-pixel border cropped, Sobel gradient magnitudes with zero padding, one correlation over all
  bands jointly. PSNR: ``10 log10(range^2 / MSE)`` with the MSE over all bands and pixels and the
  range ``max - min`` of the whole reference (``inf`` for identical images).

Streaming contract (both accumulators): the image shape is given at construction; each
:meth:`update` receives arrays covering a window of the image (``origin`` = its top-left pixel)
that contains the tile's own pixels (``core``) plus a halo of at least ``acc.halo`` pixels on every
side, clipped at the image border. The cores of all updates must partition the image (any sizes and
alignment: blocks split between tiles are merged from their moments). The accumulator does all the
halo-dependent work (MTF filtering, PAN_L, sliding windows, gradients) itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache, partial

import numpy as np
from scipy import ndimage

from .degradation import decimate_offset, kernel_half_width, keys_kernel, mtf_degrade, mtf_filter, upsample

#: Block (window) side of every block-based index.
BLOCK = 32

#: A block standard deviation at or below this fraction of the block mean counts as zero.
_REL_STD_TOL = 1e-10
#: A sliding-window variance at or below this fraction of the tile's squared range counts as zero.
_REL_VAR_TOL_SLIDING = 1e-12
#: Rows of blocks processed at once (bounds temporary memory).
_CHUNK_BLOCK_ROWS = 4
#: Owned windows per side processed at once by the sliding Q (bounds memory and running-sum error).
_SLIDING_TILE = 256

REFERENCE_KEYS = ("Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR")
FULL_RESOLUTION_KEYS = ("D_lambda", "D_s", "QNR", "D_lambda_K", "HQNR", "D_rho", "R_Q2n")


# --------------------------------------------------------------------------------------------- checks
def _as3d(name: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ValueError(f"expected {name} shaped (bands, rows, cols), got shape {arr.shape}")
    return arr


def _as_pan(name: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] != 1:
        raise ValueError(f"expected {name} shaped (1, rows, cols), got shape {arr.shape}")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"expected {names} with the same shape, got {a.shape} and {b.shape}")


def _check_ratio(ratio: int) -> int:
    r = int(ratio)
    if r != ratio or r < 1:
        raise ValueError(f"expected an integer ratio >= 1, got {ratio}")
    return r


def _check_gains(gains: Sequence[float], bands: int) -> tuple[float, ...]:
    g = tuple(float(v) for v in gains)
    if len(g) != bands:
        raise ValueError(f"expected {bands} MS gains (one per band), got {len(g)}")
    return g


# ----------------------------------------------------------------------------- hypercomplex algebra
def _conj(x: np.ndarray) -> np.ndarray:
    """Hypercomplex conjugate along the last axis (negate every component but the real one)."""
    out = -x
    out[..., 0] = x[..., 0]
    return out


def _onion_mult(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The toolbox's recursive Cayley-Dickson product, components on the last axis (length 2^k).

    With ``x = (a, b)`` and ``y = (c, d)`` split in halves:
    ``xy = (ac - conj(d) b, conj(a) conj(d) + c conj(b))`` (``onion_mult.m``).
    """
    n = x.shape[-1]
    if n == 1:
        return x * y
    h = n // 2
    a, b, c, d = x[..., :h], x[..., h:], y[..., :h], y[..., h:]
    first = _onion_mult(a, c) - _onion_mult(_conj(d), b)
    second = _onion_mult(_conj(a), _conj(d)) + _onion_mult(c, _conj(b))
    return np.concatenate([first, second], axis=-1)


@cache
def _onion_table(p: int) -> np.ndarray:
    """Structure constants ``T[k, i, j]``: ``(x y)_k = sum_ij T[k, i, j] x_i y_j``; shape (p, p, p)."""
    e = np.eye(p)
    prod = _onion_mult(np.repeat(e[:, None, :], p, axis=1), np.repeat(e[None, :, :], p, axis=0))
    table = np.ascontiguousarray(prod.transpose(2, 0, 1))
    table.setflags(write=False)
    return table


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


# ----------------------------------------------------------------------------- per-block finalisers
def _uiqi(
    ma: np.ndarray,
    mb: np.ndarray,
    va: np.ndarray,
    vb: np.ndarray,
    cab: np.ndarray,
    za: np.ndarray,
    zb: np.ndarray,
) -> np.ndarray:
    """Universal image quality index from means, variances, covariance and zero-variance masks.

    ``4 cab ma mb / ((va + vb)(ma^2 + mb^2))`` with the degenerate cases of Wang's ``img_qi.m``.
    """
    va = np.where(za, 0.0, np.maximum(va, 0.0))
    vb = np.where(zb, 0.0, np.maximum(vb, 0.0))
    cab = np.where(za | zb, 0.0, cab)
    den1 = va + vb
    den2 = ma * ma + mb * mb
    both = za & zb
    den = den1 * den2
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(both & (den2 > 0), 2.0 * ma * mb / np.where(den2 > 0, den2, 1.0), 1.0)
        q = np.where(~both & (den > 0), 4.0 * cab * ma * mb / np.where(den > 0, den, 1.0), q)
    return q


def _pair_q(n: np.ndarray, mean: np.ndarray, com: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Block UIQI of image pairs from block moments.

    Args:
        n: (nb,) pixel counts; mean: (nb, k) means; com: (nb, k, k) centred co-moments.
        pairs: (npairs, 2) indexes into the k images.

    Returns:
        (nb, npairs) float64.
    """
    if pairs.size == 0:
        return np.zeros((mean.shape[0], 0))
    a, b = pairs[:, 0], pairs[:, 1]
    dof = np.maximum(n - 1, 1).astype(np.float64)[:, None]
    ma, mb = mean[:, a], mean[:, b]
    va = com[:, a, a] / dof
    vb = com[:, b, b] / dof
    cab = com[:, a, b] / dof
    za = np.sqrt(np.maximum(va, 0.0)) <= _REL_STD_TOL * np.abs(ma)
    zb = np.sqrt(np.maximum(vb, 0.0)) <= _REL_STD_TOL * np.abs(mb)
    return _uiqi(ma, mb, va, vb, cab, za, zb)


def _q2n_blocks(n: np.ndarray, mean: np.ndarray, com: np.ndarray, nbands: int) -> np.ndarray:
    """Q2n of each block from the moments of ``[reference bands, fused bands]``.

    Args:
        n: (nb,) pixel counts; mean: (nb, 2B) means; com: (nb, 2B, 2B) centred co-moments.
        nbands: B.

    Returns:
        (nb, 1) float64 block values.
    """
    nb, bands = mean.shape[0], nbands
    p = _next_pow2(bands)
    cov = com / np.maximum(n - 1, 1).astype(np.float64)[:, None, None]
    mx, my = mean[:, :bands], mean[:, bands:]
    diag = np.diagonal(cov, axis1=1, axis2=2)
    vx, vy = np.maximum(diag[:, :bands], 0.0), np.maximum(diag[:, bands:], 0.0)
    sx = np.sqrt(vx)
    s = np.where(sx <= _REL_STD_TOL * np.abs(mx), 1.0, sx)
    # Normalised images: x' = (x - m)/s + 1, y' = (y - m)/s + 1 (m, s of the reference block).
    cxy = np.zeros((nb, p, p))
    cxy[:, :bands, :bands] = cov[:, :bands, bands:] / (s[:, :, None] * s[:, None, :])
    var_sum = (vx / s**2).sum(1) + (vy / s**2).sum(1)
    my_n = np.ones((nb, p))
    my_n[:, :bands] = (my - mx) / s + 1.0
    # cov(x, y) = E[x conj(y)] - E[x] conj(E[y]) = sum_ij T[k, i, j] cov(x_i, conj(y)_j).
    sign = -np.ones(p)
    sign[0] = 1.0
    hyper = np.einsum("kij,nij->nk", _onion_table(p) * sign[None, None, :], cxy)
    mod_x2 = float(p)  # every normalised reference component has mean 1
    mod_y2 = (my_n**2).sum(1)
    mean_bias = 2.0 * np.sqrt(mod_x2 * mod_y2) / (mod_x2 + mod_y2)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(
            var_sum > 1e-12,
            np.linalg.norm(hyper, axis=1) * mean_bias * 2.0 / np.where(var_sum > 1e-12, var_sum, 1.0),
            mean_bias,
        )
    return q[:, None]


# ------------------------------------------------------------------------------ block accumulation
def _reflect(v: np.ndarray, n: int) -> np.ndarray:
    """Half-sample symmetric source index of virtual index ``v`` on an axis of length ``n``."""
    m = np.mod(v, 2 * n)
    return np.where(m < n, m, 2 * n - 1 - m)


def _runs(start: int, length: int, n: int, npad: int) -> list[tuple[int, np.ndarray]]:
    """Virtual runs fed by source pixels ``start .. start+length-1`` of an axis of length ``n``.

    The axis is extended by mirroring to ``npad``. Returns (virtual start, source indexes relative to
    ``start``) for the pixels themselves and for each contiguous run of their mirrored copies; within
    a run the source indexes step by +1 or -1.
    """
    runs = [(start, np.arange(length))]
    if npad > n:
        v = np.arange(n, npad)
        src = _reflect(v, n)
        sel = (src >= start) & (src < start + length)
        v, src = v[sel], src[sel] - start
        i = 0
        while i < v.size:
            j, step = i + 1, 0
            while j < v.size and v[j] == v[j - 1] + 1:
                d = int(src[j] - src[j - 1])
                if abs(d) != 1 or (step and d != step):
                    break
                step, j = d, j + 1
            runs.append((int(v[i]), src[i:j]))
            i = j
    return runs


def _as_slice(idx: np.ndarray) -> slice:
    first, last = int(idx[0]), int(idx[-1])
    if idx.size == 1 or last > first:
        return slice(first, last + 1)
    return slice(first, last - 1 if last > 0 else None, -1)


def _parts(v0: int, length: int, b: int) -> list[tuple[int, int, int, int]]:
    """Split a virtual run at block boundaries: (offset, length, number of blocks, block length)."""
    head = min(length, (-v0) % b)
    mid = ((length - head) // b) * b
    tail = length - head - mid
    parts = []
    if head:
        parts.append((0, head, 1, head))
    if mid:
        parts.append((head, mid, mid // b, b))
    if tail:
        parts.append((head + mid, tail, 1, tail))
    return parts


Finalizer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class _BlockMoments:
    """Per-block means and co-moments of a stack of images on a grid of distinct blocks.

    The image is mirrored at its end to a multiple of the block size. Pixels may arrive in tiles of
    any size and alignment; a block split between tiles is merged from its partial moments (Chan et
    al.), and each complete block is turned into values by ``finalize`` and summed.
    """

    def __init__(self, shape: tuple[int, int], block: int, finalize: Finalizer, nvalues: int) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.block = int(block)
        self.padded = tuple(-(-s // self.block) * self.block for s in self.shape)
        self.finalize = finalize
        self.total = np.zeros(nvalues)
        self.count = 0
        self.pending: dict[tuple[int, int], tuple[int, np.ndarray, np.ndarray]] = {}

    def add(self, arrays: Sequence[np.ndarray], row: int, col: int) -> None:
        """Add a tile: ``arrays`` are (k_i, h, w) images whose pixel [0, 0] is image pixel (row, col)."""
        h, w = arrays[0].shape[-2:]
        for vr, sr in _runs(row, h, self.shape[0], self.padded[0]):
            for vc, sc in _runs(col, w, self.shape[1], self.padded[1]):
                self._add_rect(arrays, vr, sr, vc, sc)

    def _add_rect(
        self, arrays: Sequence[np.ndarray], vr: int, sr: np.ndarray, vc: int, sc: np.ndarray
    ) -> None:
        b = self.block
        cparts = _parts(vc, sc.size, b)
        for roff, _rlen, nbr, bh in _parts(vr, sr.size, b):
            for k0 in range(0, nbr, _CHUNK_BLOCK_ROWS):
                nk = min(_CHUNK_BLOCK_ROWS, nbr - k0)
                rsl = _as_slice(sr[roff + k0 * bh : roff + (k0 + nk) * bh])
                for coff, clen, nbc, bw in cparts:
                    csl = _as_slice(sc[coff : coff + clen])
                    sub = np.concatenate([np.asarray(a[:, rsl, csl], dtype=np.float64) for a in arrays])
                    k = sub.shape[0]
                    blocks = sub.reshape(k, nk, bh, nbc, bw).transpose(1, 3, 0, 2, 4)
                    blocks = blocks.reshape(nk * nbc, k, bh * bw)
                    mean = blocks.mean(axis=-1)
                    cen = blocks - mean[..., None]
                    com = cen @ cen.transpose(0, 2, 1)
                    npx = bh * bw
                    if npx == b * b:
                        self._finish(np.full(nk * nbc, npx), mean, com)
                        continue
                    br0 = (vr + roff) // b + k0
                    bc0 = (vc + coff) // b
                    for i in range(nk * nbc):
                        self._merge((br0 + i // nbc, bc0 + i % nbc), npx, mean[i], com[i])

    def _merge(self, key: tuple[int, int], nb_: int, mb: np.ndarray, cb: np.ndarray) -> None:
        if key in self.pending:
            na, ma, ca = self.pending.pop(key)
            n = na + nb_
            d = mb - ma
            mean = ma + d * (nb_ / n)
            com = ca + cb + np.outer(d, d) * (na * nb_ / n)
        else:
            n, mean, com = nb_, mb, cb
        if n == self.block * self.block:
            self._finish(np.array([n]), mean[None], com[None])
        else:
            self.pending[key] = (n, mean, com)

    def _finish(self, n: np.ndarray, mean: np.ndarray, com: np.ndarray) -> None:
        vals = self.finalize(n, mean, com)
        self.total += vals.sum(axis=0)
        self.count += vals.shape[0]

    def result(self) -> np.ndarray:
        """Mean over blocks of each value, shape (nvalues,)."""
        if self.pending or self.count == 0:
            raise ValueError(
                f"expected tiles covering the whole {self.shape[0]}x{self.shape[1]} image, got "
                f"{len(self.pending)} incomplete and {self.count} complete blocks"
            )
        return self.total / self.count


def _pairs_array(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    return np.asarray(pairs, dtype=np.intp).reshape(-1, 2)


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


def _sliding_q_sums(x: np.ndarray, y: np.ndarray, nr: int, nc: int, b: int) -> np.ndarray:
    """Per-band sum of the UIQI over the windows with top-left corner in [0, nr) x [0, nc).

    Args:
        x, y: (B, >= nr + b - 1, >= nc + b - 1) reference and test.

    Returns:
        (B,) float64 sums (the number of windows is nr * nc).
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
        q = _uiqi(sx / n + shift, sy / n + shift, vx, vy, cxy, vx <= tol, vy <= tol)
        out[i] = q.sum()
    return out


# ------------------------------------------------------------------------------- pixel-wise sums
def _sam_sums(ref: np.ndarray, fused: np.ndarray) -> tuple[float, int]:
    """Sum of spectral angles (radians) over pixels where neither vector is zero, and their count."""
    r = np.asarray(ref, dtype=np.float64)
    f = np.asarray(fused, dtype=np.float64)
    nr = np.sqrt((r * r).sum(0))
    nf = np.sqrt((f * f).sum(0))
    valid = (nr > 0) & (nf > 0)
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


def _scc_sums(
    ref: np.ndarray,
    fused: np.ndarray,
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    shape: tuple[int, int],
) -> np.ndarray:
    """SCC partial sums [sum ab, sum a^2, sum b^2] over the core pixels of the cropped image.

    ``ref``/``fused`` cover the image from ``origin`` and contain the core plus 1 pixel (clipped).
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


def _drho_sums(pan: np.ndarray, fused: np.ndarray, ratio: int, rows: slice, cols: slice) -> tuple[float, int]:
    """Sum of ``1 - clip(rho, -1, 1)`` over the [rows, cols] pixels of every band, and the count.

    ``pan`` (1, h, w) and ``fused`` (B, h, w) cover the core plus ``2*ceil(ratio/2)`` pixels (clipped
    at the image border, where the zero padding applies).
    """
    side = _drho_window(ratio)
    n = float(side * side)
    p = np.asarray(pan[0], dtype=np.float64)
    mp = _window_sums(p, side) / n
    pc = p - mp
    spp = _window_sums(pc * pc, side)[rows, cols]
    zp = spp <= n * (_REL_STD_TOL * mp[rows, cols]) ** 2
    total, count = 0.0, 0
    for band in range(fused.shape[0]):
        f = np.asarray(fused[band], dtype=np.float64)
        mf = _window_sums(f, side) / n
        fc = f - mf
        sff = _window_sums(fc * fc, side)[rows, cols]
        sfp = _window_sums(fc * pc, side)[rows, cols]
        zero = zp | (sff <= n * (_REL_STD_TOL * mf[rows, cols]) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(zero, 0.0, sfp / np.sqrt(np.where(zero, 1.0, sff * spp)))
        total += float((1.0 - np.clip(rho, -1.0, 1.0)).sum())
        count += rho.size
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
        (1, H, W) float32, on the PAN grid (:func:`pansharpen_cli.degradation.upsample` geometry).
    """
    pan = _as_pan("pan", pan)
    r = _check_ratio(ratio)
    if pan.shape[1] % r or pan.shape[2] % r:
        raise ValueError(f"expected PAN rows and cols multiples of the ratio {r}, got {pan.shape[1:]}")
    return upsample(_bicubic_decimate(pan, r), r)


# ------------------------------------------------------------------------- reduced resolution
def q2n(ref: np.ndarray, fused: np.ndarray, block: int = BLOCK) -> float:
    """Q2n (Q4, Q8, ... hypercomplex quality index) over distinct blocks.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.
        block: block side (32).

    Returns:
        Mean block value in [0, 1] (1 for identical images).
    """
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
    bands = ref.shape[0]
    acc = _BlockMoments(ref.shape[1:], block, partial(_q2n_blocks, nbands=bands), 1)
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
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
    hh, ww = ref.shape[1:]
    if hh < block or ww < block:
        raise ValueError(f"expected images at least {block}x{block} for Q, got {hh}x{ww}")
    nr_all, nc_all = hh - block + 1, ww - block + 1
    sums = np.zeros(ref.shape[0])
    for r0 in range(0, nr_all, _SLIDING_TILE):
        nr = min(_SLIDING_TILE, nr_all - r0)
        for c0 in range(0, nc_all, _SLIDING_TILE):
            nc = min(_SLIDING_TILE, nc_all - c0)
            sl = (slice(None), slice(r0, r0 + nr + block - 1), slice(c0, c0 + nc + block - 1))
            sums += _sliding_q_sums(ref[sl], fused[sl], nr, nc, block)
    return float(np.mean(sums / (nr_all * nc_all)))


def q_blocks(a: np.ndarray, b: np.ndarray, block: int = BLOCK) -> float:
    """Universal image quality index of two single-band images averaged over distinct blocks.

    Args:
        a: (H, W) or (1, H, W) image.
        b: same shape as ``a``.
        block: block side (32); the image is mirrored at its end to a multiple of it.

    Returns:
        Mean block value in [-1, 1].
    """
    a, b = _as_pan("a", a), _as_pan("b", b)
    _same_shape(a, b, "a and b")
    acc = _BlockMoments(a.shape[1:], block, partial(_pair_q, pairs=_pairs_array([(0, 1)])), 1)
    acc.add([a, b], 0, 0)
    return float(acc.result()[0])


def sam(ref: np.ndarray, fused: np.ndarray) -> float:
    """Mean spectral angle in degrees over pixels where neither spectral vector is zero.

    Args:
        ref: (B, H, W) reference.
        fused: (B, H, W) image under test.

    Returns:
        Degrees in [0, 180] (0 if no pixel is valid).
    """
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
    total, count = _sam_sums(ref, fused)
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
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
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
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
    hh, ww = ref.shape[1:]
    s = _scc_sums(ref, fused, (0, 0), (0, 0, hh, ww), (hh, ww))
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
    ref, fused = _as3d("ref", ref), _as3d("fused", fused)
    _same_shape(ref, fused, "ref and fused")
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


# ------------------------------------------------------------------------- full resolution
def _band_pairs(bands: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(bands) for j in range(i + 1, bands)]


def d_lambda(ms_up: np.ndarray, fused: np.ndarray, block: int = BLOCK) -> float:
    """Spectral distortion D_lambda: mean over band pairs i < j of ``|Q(F_i, F_j) - Q(M_i, M_j)|``.

    Args:
        ms_up: (B, H, W) MS upsampled to the PAN grid.
        fused: (B, H, W) fused image.
        block: block side of Q (:func:`q_blocks`).

    Returns:
        D_lambda in [0, 2] (0 for one band or fused == ms_up).
    """
    ms_up, fused = _as3d("ms_up", ms_up), _as3d("fused", fused)
    _same_shape(ms_up, fused, "ms_up and fused")
    bands = fused.shape[0]
    pairs = _band_pairs(bands)
    if not pairs:
        return 0.0
    idx = pairs + [(bands + i, bands + j) for i, j in pairs]
    acc = _BlockMoments(fused.shape[1:], block, partial(_pair_q, pairs=_pairs_array(idx)), len(idx))
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
    pan, ms_up, fused = _as_pan("pan", pan), _as3d("ms_up", ms_up), _as3d("fused", fused)
    _same_shape(ms_up, fused, "ms_up and fused")
    if pan.shape[1:] != fused.shape[1:]:
        raise ValueError(f"expected pan and fused on the same grid, got {pan.shape} and {fused.shape}")
    bands = fused.shape[0]
    idx = [(i, 2 * bands) for i in range(bands)] + [(bands + i, 2 * bands + 1) for i in range(bands)]
    acc = _BlockMoments(fused.shape[1:], block, partial(_pair_q, pairs=_pairs_array(idx)), len(idx))
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
    ms_up, fused = _as3d("ms_up", ms_up), _as3d("fused", fused)
    _same_shape(ms_up, fused, "ms_up and fused")
    gains = _check_gains(ms_gains, fused.shape[0])
    return 1.0 - q2n(ms_up, mtf_filter(fused, gains, _check_ratio(ratio)), block)


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
    pan, fused = _as_pan("pan", pan), _as3d("fused", fused)
    if pan.shape[1:] != fused.shape[1:]:
        raise ValueError(f"expected pan and fused on the same grid, got {pan.shape} and {fused.shape}")
    total, count = _drho_sums(pan, fused, _check_ratio(ratio), slice(None), slice(None))
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
    ms, fused = _as3d("ms", ms), _as3d("fused", fused)
    gains = _check_gains(ms_gains, fused.shape[0])
    r = _check_ratio(ratio)
    return q2n(ms, mtf_degrade(fused, gains, r), block)


# ------------------------------------------------------------------------------------ streaming
def _check_window(
    shape: tuple[int, int],
    origin: tuple[int, int],
    extent: tuple[int, int],
    core: tuple[int, int, int, int],
    halo: tuple[int, int, int, int],
) -> None:
    """Check that an array window holds its core plus the halo (top, left, bottom, right), clipped."""
    hh, ww = shape
    o_r, o_c = origin
    e_r, e_c = extent
    cr, cc, ch, cw = core
    if o_r < 0 or o_c < 0 or o_r + e_r > hh or o_c + e_c > ww:
        raise ValueError(
            f"expected the arrays inside the {hh}x{ww} image, got origin {origin} and extent {extent}"
        )
    if ch <= 0 or cw <= 0 or cr < o_r or cc < o_c or cr + ch > o_r + e_r or cc + cw > o_c + e_c:
        raise ValueError(f"expected the core {core} inside the arrays at {origin} of extent {extent}")
    need = (
        min(halo[0], cr),
        min(halo[1], cc),
        min(halo[2], hh - cr - ch),
        min(halo[3], ww - cc - cw),
    )
    have = (cr - o_r, cc - o_c, o_r + e_r - cr - ch, o_c + e_c - cc - cw)
    if any(h < n for h, n in zip(have, need, strict=True)):
        raise ValueError(
            f"expected a halo of at least {need} pixels (top, left, bottom, right) around the core "
            f"{core}, got {have}"
        )


def _core_of(
    origin: tuple[int, int], extent: tuple[int, int], core: Sequence[int] | None
) -> tuple[int, int, int, int]:
    if core is None:
        return (int(origin[0]), int(origin[1]), int(extent[0]), int(extent[1]))
    if len(core) != 4:
        raise ValueError(f"expected core as (row, col, height, width), got {core}")
    cr, cc, ch, cw = (int(v) for v in core)
    return cr, cc, ch, cw


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
    """

    def __init__(self, ratio: float, shape: tuple[int, int], block: int = BLOCK) -> None:
        self.ratio = float(ratio)
        self.shape = (int(shape[0]), int(shape[1]))
        self.block = int(block)
        if self.shape[0] < self.block or self.shape[1] < self.block:
            raise ValueError(f"expected images at least {block}x{block}, got {self.shape}")
        self.halo = self.block - 1
        self._bands: int | None = None
        self._q2n: _BlockMoments | None = None
        self._q_sum = 0.0
        self._q_count = 0
        self._sam = [0.0, 0]
        self._sse = 0.0
        self._sum_ref = 0.0
        self._npix = 0
        self._min, self._max = math.inf, -math.inf
        self._scc = np.zeros(3)

    def update(
        self,
        reference: np.ndarray,
        fused: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        core: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Add one tile.

        Args:
            reference: (B, h, w) reference over the window whose top-left image pixel is ``origin``.
            fused: (B, h, w) image under test over the same window.
            origin: (row, col) of the window in the image.
            core: (row, col, height, width) image pixels this tile contributes; default the window.
                The window must hold the core plus the halo (see the class docstring).
        """
        reference, fused = _as3d("reference", reference), _as3d("fused", fused)
        _same_shape(reference, fused, "reference and fused")
        bands, h, w = reference.shape
        if self._bands is None:
            self._bands = bands
            self._q2n = _BlockMoments(self.shape, self.block, partial(_q2n_blocks, nbands=bands), 1)
            self._sse = np.zeros(bands)
            self._sum_ref = np.zeros(bands)
        elif bands != self._bands:
            raise ValueError(f"expected {self._bands} bands in every tile, got {bands}")
        core = _core_of(origin, (h, w), core)
        b = self.block
        _check_window(self.shape, origin, (h, w), core, (1, 1, b - 1, b - 1))
        hh, ww = self.shape
        cr, cc, ch, cw = core
        lr, lc = cr - origin[0], cc - origin[1]
        sl = (slice(None), slice(lr, lr + ch), slice(lc, lc + cw))
        ref_c = np.asarray(reference[sl], dtype=np.float64)
        fus_c = np.asarray(fused[sl], dtype=np.float64)
        assert self._q2n is not None
        self._q2n.add([ref_c, fus_c], cr, cc)
        nr = max(0, min(cr + ch, hh - b + 1) - cr)
        nc = max(0, min(cc + cw, ww - b + 1) - cc)
        for r0 in range(0, nr, _SLIDING_TILE):
            nr_t = min(_SLIDING_TILE, nr - r0)
            for c0 in range(0, nc, _SLIDING_TILE):
                nc_t = min(_SLIDING_TILE, nc - c0)
                win = (
                    slice(None),
                    slice(lr + r0, lr + r0 + nr_t + b - 1),
                    slice(lc + c0, lc + c0 + nc_t + b - 1),
                )
                self._q_sum = self._q_sum + _sliding_q_sums(reference[win], fused[win], nr_t, nc_t, b)
        self._q_count += nr * nc
        angle, valid = _sam_sums(ref_c, fus_c)
        self._sam[0] += angle
        self._sam[1] += valid
        err = ref_c - fus_c
        self._sse += (err * err).sum(axis=(1, 2))
        self._sum_ref += ref_c.sum(axis=(1, 2))
        self._npix += ch * cw
        self._min = min(self._min, float(ref_c.min()))
        self._max = max(self._max, float(ref_c.max()))
        self._scc += _scc_sums(reference, fused, origin, core, self.shape)

    def result(self) -> dict[str, float]:
        """The indexes of the whole image: keys ``Q2n, Q, SAM, ERGAS, SCC, PSNR`` (Python floats)."""
        if self._q2n is None or self._npix != self.shape[0] * self.shape[1]:
            raise ValueError(
                f"expected tiles covering the {self.shape[0]}x{self.shape[1]} image, got {self._npix} pixels"
            )
        q2n_value = float(self._q2n.result()[0])
        q_value = float(np.mean(np.asarray(self._q_sum) / self._q_count))
        sam_value = math.degrees(self._sam[0] / self._sam[1]) if self._sam[1] else 0.0
        mse_b = self._sse / self._npix
        mean_b = self._sum_ref / self._npix
        ergas_value = float(100.0 / self.ratio * np.sqrt(np.mean(mse_b / mean_b**2)))
        s = self._scc
        scc_value = float(s[0] / math.sqrt(s[1] * s[2])) if s[1] > 0 and s[2] > 0 else 0.0
        psnr_value = _psnr_from(float(self._sse.sum() / (self._npix * self._bands)), self._max - self._min)
        return {
            "Q2n": q2n_value,
            "Q": q_value,
            "SAM": float(sam_value),
            "ERGAS": ergas_value,
            "SCC": scc_value,
            "PSNR": float(psnr_value),
        }


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
    """

    def __init__(
        self, ratio: int, ms_gains: Sequence[float], shape: tuple[int, int], block: int = BLOCK
    ) -> None:
        self.ratio = _check_ratio(ratio)
        self.gains = tuple(float(g) for g in ms_gains)
        self.shape = (int(shape[0]), int(shape[1]))
        if self.shape[0] % self.ratio or self.shape[1] % self.ratio:
            raise ValueError(
                f"expected a PAN shape that is a multiple of the ratio {ratio}, got {self.shape}"
            )
        self.block = int(block)
        self.halo = kernel_half_width(self.ratio) + self.ratio
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
        q2n_fin = partial(_q2n_blocks, nbands=bands)
        self._qnr = _BlockMoments(self.shape, block, partial(_pair_q, pairs=_pairs_array(idx)), len(idx))
        self._khan = _BlockMoments(self.shape, block, q2n_fin, 1)
        ms_shape = (self.shape[0] // self.ratio, self.shape[1] // self.ratio)
        self._rq2n = _BlockMoments(ms_shape, block, q2n_fin, 1)
        self._drho = [0.0, 0]
        self._npix = 0

    def update(
        self,
        pan: np.ndarray,
        ms_up: np.ndarray,
        fused: np.ndarray,
        ms: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        core: tuple[int, int, int, int] | None = None,
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
        """
        r = self.ratio
        pan = _as_pan("pan", pan)
        ms_up, fused, ms = _as3d("ms_up", ms_up), _as3d("fused", fused), _as3d("ms", ms)
        _same_shape(ms_up, fused, "ms_up and fused")
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
        core = _core_of(origin, (h, w), core)
        if any(v % r for v in core):
            raise ValueError(f"expected a core multiple of the ratio {r}, got {core}")
        _check_window(self.shape, origin, (h, w), core, (self.halo,) * 4)
        cr, cc, ch, cw = core
        lr, lc = cr - origin[0], cc - origin[1]
        rows, cols = slice(lr, lr + ch), slice(lc, lc + cw)
        f_core = fused[:, rows, cols]
        m_core = ms_up[:, rows, cols]
        p_core = pan[:, rows, cols]
        pan_l = pan_lowpass(pan, r)[:, rows, cols]
        self._qnr.add([f_core, m_core, p_core, pan_l], cr, cc)
        f_lp = mtf_filter(fused, self.gains, r)[:, rows, cols]
        self._khan.add([m_core, f_lp], cr, cc)
        ms_sl = (slice(None), slice(lr // r, (lr + ch) // r), slice(lc // r, (lc + cw) // r))
        f_deg = mtf_degrade(fused, self.gains, r)[ms_sl]
        self._rq2n.add([ms[ms_sl], f_deg], cr // r, cc // r)
        total, count = _drho_sums(pan, fused, r, rows, cols)
        self._drho[0] += total
        self._drho[1] += count
        self._npix += ch * cw

    def result(self) -> dict[str, float]:
        """Indexes of the whole image: ``D_lambda, D_s, QNR, D_lambda_K, HQNR, D_rho, R_Q2n``."""
        if self._npix != self.shape[0] * self.shape[1]:
            raise ValueError(
                f"expected tiles covering the {self.shape[0]}x{self.shape[1]} image, got {self._npix} pixels"
            )
        q = self._qnr.result()
        npairs, bands = self._npairs, self.bands
        dl = float(np.mean(np.abs(q[:npairs] - q[npairs : 2 * npairs]))) if npairs else 0.0
        qs = q[2 * npairs :]
        ds = float(np.mean(np.abs(qs[:bands] - qs[bands:])))
        dlk = 1.0 - float(self._khan.result()[0])
        return {
            "D_lambda": dl,
            "D_s": ds,
            "QNR": (1.0 - dl) * (1.0 - ds),
            "D_lambda_K": dlk,
            "HQNR": (1.0 - dlk) * (1.0 - ds),
            "D_rho": self._drho[0] / self._drho[1],
            "R_Q2n": float(self._rq2n.result()[0]),
        }


# ------------------------------------------------------------------------------------ aggregates
def reference_indexes(reference: np.ndarray, fused: np.ndarray, ratio: float) -> dict[str, float]:
    """All reduced-resolution indexes of a fused image against its reference.

    Args:
        reference: (B, H, W) reference (the original MS in the Wald protocol), H, W >= 32.
        fused: (B, H, W) fused image.
        ratio: resolution ratio (ERGAS).

    Returns:
        ``{"Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR"}`` as Python floats.
    """
    reference, fused = _as3d("reference", reference), _as3d("fused", fused)
    _same_shape(reference, fused, "reference and fused")
    acc = ReferenceAccumulator(ratio, reference.shape[1:])
    acc.update(reference, fused)
    return acc.result()


def full_resolution_indexes(
    pan: np.ndarray,
    ms: np.ndarray,
    fused: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    ms_up: np.ndarray | None = None,
) -> dict[str, float]:
    """All full-resolution (no reference) indexes of a fused image.

    Args:
        pan: (1, H, W) PAN, H and W multiples of ratio.
        ms: (B, H/r, W/r) native MS.
        fused: (B, H, W) fused image.
        ratio: integer ratio.
        ms_gains: B Nyquist gains of the MS bands.
        ms_up: (B, H, W) MS on the PAN grid; default :func:`pansharpen_cli.degradation.upsample`.

    Returns:
        ``{"D_lambda", "D_s", "QNR", "D_lambda_K", "HQNR", "D_rho", "R_Q2n"}`` as Python floats.
    """
    pan, ms, fused = _as_pan("pan", pan), _as3d("ms", ms), _as3d("fused", fused)
    r = _check_ratio(ratio)
    gains = _check_gains(ms_gains, fused.shape[0])
    if ms_up is None:
        ms_up = upsample(ms, r)
    acc = FullResolutionAccumulator(r, gains, fused.shape[1:])
    acc.update(pan, ms_up, fused, ms)
    return acc.result()
