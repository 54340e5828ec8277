"""Synthetic scenes shared by the metrics tests: smooth random fields, full-resolution quadruples
and tile grids."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pansharpen_cli.physics.degradation import mtf_degrade, upsample

RATIO = 4
GAINS = [0.3, 0.32, 0.28, 0.25]


def smooth(shape: tuple[int, ...], sigma: float = 2.0, seed: int = 0) -> np.ndarray:
    """Gaussian-filtered white noise, unit standard deviation, filtered along the last two axes."""
    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.standard_normal(shape), [0] * (len(shape) - 2) + [sigma, sigma])
    return f / f.std()


def scene(bands: int = 4, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(reference, fused) pair of positive images, fused = reference + smaller smooth error."""
    ref = 400.0 + 80.0 * smooth((bands, size, size), 2.0, seed)
    fused = ref + 15.0 * smooth((bands, size, size), 1.0, seed + 100) + 4.0
    return ref, fused


def fr_scene(size: int = 128, seed: int = 0):
    ref = 400.0 + 80.0 * smooth((4, size, size), 2.0, seed)
    pan = ref.mean(0, keepdims=True) + 3.0 * smooth((1, size, size), 0.7, seed + 1)
    ms = mtf_degrade(ref, GAINS, RATIO)
    ms_up = upsample(ms, RATIO)
    fused = ref + 10.0 * smooth((4, size, size), 1.0, seed + 2)
    return pan, ms, ms_up, fused


def tiles(shape, row_cuts, col_cuts, halo):
    """(origin, window slices, core) for a grid of cores with a halo clipped at the image border."""
    hh, ww = shape
    rb, cb = [0, *row_cuts, hh], [0, *col_cuts, ww]
    for i in range(len(rb) - 1):
        for j in range(len(cb) - 1):
            core = (rb[i], cb[j], rb[i + 1] - rb[i], cb[j + 1] - cb[j])
            r0, r1 = max(core[0] - halo, 0), min(core[0] + core[2] + halo, hh)
            c0, c1 = max(core[1] - halo, 0), min(core[1] + core[3] + halo, ww)
            yield (r0, c0), (slice(None), slice(r0, r1), slice(c0, c1)), core
