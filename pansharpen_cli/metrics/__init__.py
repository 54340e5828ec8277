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
  back with :func:`pansharpen_cli.physics.degradation.upsample`.
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

Modules: :mod:`.reference` (Q2n, Q, SAM, ERGAS, SCC, PSNR) and :mod:`.full_resolution` (the QNR
family, D_rho, R-Q2n) hold the indexes and their accumulators; :mod:`.coreg` the co-registered
full-resolution indexes (the global fused-to-MS and fused-to-PAN shifts removed first); :mod:`.blocks` the distinct-block
moments and finalisers (Q2n, UIQI); :mod:`.windows` the sliding-window and pixel-wise partial sums and
the PAN low-pass; :mod:`.checks` the argument and streaming-window checks.
"""

from .blocks import BLOCK
from .coreg import (
    COREG_KEYS,
    Coregistration,
    CoregisteredAccumulator,
    coregistered_indexes,
    estimate_coregistration,
)
from .full_resolution import (
    FULL_RESOLUTION_KEYS,
    FullResolutionAccumulator,
    d_lambda,
    d_lambda_k,
    d_rho,
    d_s,
    full_resolution_indexes,
    hqnr,
    q_blocks,
    qnr,
    r_q2n,
)
from .reference import (
    REFERENCE_KEYS,
    ReferenceAccumulator,
    ergas,
    psnr,
    q2n,
    q_index,
    reference_indexes,
    sam,
    scc,
)
from .windows import pan_lowpass

__all__ = [
    "BLOCK",
    "COREG_KEYS",
    "Coregistration",
    "CoregisteredAccumulator",
    "FULL_RESOLUTION_KEYS",
    "FullResolutionAccumulator",
    "REFERENCE_KEYS",
    "ReferenceAccumulator",
    "coregistered_indexes",
    "d_lambda",
    "d_lambda_k",
    "d_rho",
    "d_s",
    "ergas",
    "estimate_coregistration",
    "full_resolution_indexes",
    "hqnr",
    "pan_lowpass",
    "psnr",
    "q2n",
    "q_blocks",
    "q_index",
    "qnr",
    "r_q2n",
    "reference_indexes",
    "sam",
    "scc",
]
