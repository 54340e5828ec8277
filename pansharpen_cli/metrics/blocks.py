"""Distinct-block indexes: the hypercomplex algebra of Q2n, the per-block finalisers (UIQI, Q2n) and
:class:`BlockMoments`, which accumulates block moments over tiles of any size and alignment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, partial

import numpy as np

#: Block (window) side of every block-based index.
BLOCK = 32

#: A block standard deviation at or below this fraction of the block mean counts as zero.
REL_STD_TOL = 1e-10
#: Rows of blocks processed at once (bounds temporary memory).
_CHUNK_BLOCK_ROWS = 4


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
def uiqi(
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


def pair_q(n: np.ndarray, mean: np.ndarray, com: np.ndarray, pairs: np.ndarray) -> np.ndarray:
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
    za = np.sqrt(np.maximum(va, 0.0)) <= REL_STD_TOL * np.abs(ma)
    zb = np.sqrt(np.maximum(vb, 0.0)) <= REL_STD_TOL * np.abs(mb)
    return uiqi(ma, mb, va, vb, cab, za, zb)


def q2n_blocks(n: np.ndarray, mean: np.ndarray, com: np.ndarray, nbands: int) -> np.ndarray:
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
    s = np.where(sx <= REL_STD_TOL * np.abs(mx), 1.0, sx)
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


def masked_blocks(n: np.ndarray, mean: np.ndarray, com: np.ndarray, finalize: Finalizer) -> np.ndarray:
    """``finalize`` of the moments of a stack whose last image is 1 at nodata (0 elsewhere): its
    values and one more column, each block's weight for a ``weighted`` :class:`BlockMoments` (a
    block holding any nodata weighs 0, its values set to 0)."""
    k = mean.shape[1] - 1
    whole = mean[:, k] <= 0.0
    vals = finalize(n, mean[:, :k], com[:, :k, :k])
    return np.column_stack([np.where(whole[:, None], vals, 0.0), whole.astype(np.float64)])


def q2n_blocks_masked(n: np.ndarray, mean: np.ndarray, com: np.ndarray, nbands: int) -> np.ndarray:
    """:func:`q2n_blocks` of ``[reference bands, fused bands, nodata]`` moments (:func:`masked_blocks`):
    (nb, 2) block values and weights."""
    return masked_blocks(n, mean, com, partial(q2n_blocks, nbands=nbands))


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


#: (counts (nb,), means (nb, k), co-moments (nb, k, k)) -> (nb, nvalues) values of each block.
Finalizer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class BlockMoments:
    """Per-block means and co-moments of a stack of images on a grid of distinct blocks.

    The image is mirrored at its end to a multiple of the block size. Pixels may arrive in tiles of
    any size and alignment; a block split between tiles is merged from its partial moments (Chan et
    al.), and each complete block is turned into values by ``finalize`` and summed. ``weighted``:
    the finaliser gives one more column, each block's weight, and the result is the weighted mean
    (a block of weight 0, one that holds nodata, is left out).
    """

    def __init__(
        self, shape: tuple[int, int], block: int, finalize: Finalizer, nvalues: int, weighted: bool = False
    ) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.block = int(block)
        self.padded = tuple(-(-s // self.block) * self.block for s in self.shape)
        self.finalize = finalize
        self.weighted = weighted  # the finaliser's last column is each block's weight (0: left out)
        self.total = np.zeros(nvalues)
        self.count = 0  # blocks counted (weighted: the sum of the 0/1 weights)
        self.blocks = 0  # weighted: complete blocks seen, also those left out
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
        if self.weighted:
            w = vals[:, -1]
            self.total += (vals[:, :-1] * w[:, None]).sum(axis=0)
            self.count += int(w.sum())
            self.blocks += vals.shape[0]
            return
        self.total += vals.sum(axis=0)
        self.count += vals.shape[0]

    def result(self) -> np.ndarray:
        """Mean over blocks of each value, shape (nvalues,); weighted: the weighted mean, NaN where
        every block weighs 0."""
        if self.weighted and not self.pending and self.blocks and self.count == 0:
            return np.full(self.total.shape, np.nan)
        if self.pending or self.count == 0:
            raise ValueError(
                f"expected tiles covering the whole {self.shape[0]}x{self.shape[1]} image, got "
                f"{len(self.pending)} incomplete and {self.count} complete blocks"
            )
        return self.total / self.count


def pairs_array(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Image index pairs for :func:`pair_q` as an (npairs, 2) ``intp`` array (also when empty)."""
    return np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
