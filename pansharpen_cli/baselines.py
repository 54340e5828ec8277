"""Classical pansharpening methods with one signature: EXP, Brovey, GSA, MTF-GLP-HPM.

Each method is split into a global part (parameters from scene statistics, computed once by a
streamed pass, see :class:`SceneStats`) and a local part (:func:`fuse_block`) applied to tiles, so
block-wise fusion equals whole-image fusion.

Arrays: pan (1, H, W), ms (B, H/r, W/r), ms_up (B, H, W), float32/float64, raw units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .degradation import mtf_degrade, upsample

METHODS = ("exp", "brovey", "gsa", "mtf-glp-hpm")

#: Halo (coarse pixels) the local parts need: MTF kernel (5 coarse pixels) + cubic upsampling (3).
HALO = 8
#: Ratios of intensities are computed with both terms floored at this fraction of the band mean.
_FLOOR = 0.02


class StatsAccumulator:
    """Streamed first and second moments of [MS bands, low-passed PAN] at MS scale, and of the PAN.

    Feed it tiles (cores only, no halo) with :meth:`update`; :meth:`result` gives :class:`SceneStats`.
    """

    def __init__(self, n_bands: int) -> None:
        k = n_bands + 1
        self.n = 0
        self.s = np.zeros(k)
        self.ss = np.zeros((k, k))
        self.pn = 0
        self.ps = 0.0
        self.pss = 0.0
        self.ms_min = np.inf
        self.n_bands = n_bands

    def update(
        self,
        pan: np.ndarray,
        pan_valid: np.ndarray,
        ms: np.ndarray,
        ms_valid: np.ndarray,
        pan_low: np.ndarray,
    ) -> None:
        """Add one tile.

        Args:
            pan: (1, H, W) PAN; pan_valid: (H, W) bool.
            ms: (B, h, w) MS; ms_valid: (h, w) bool (h = H / ratio).
            pan_low: (1, h, w) PAN low-passed by its MTF and decimated to the MS grid.
        """
        r = pan.shape[1] // ms.shape[1]
        pv_low = pan_valid.reshape(ms.shape[1], r, ms.shape[2], r).all(axis=(1, 3))
        v = ms_valid & pv_low
        x = np.concatenate([ms[:, v], pan_low[:, v]]).astype(np.float64)  # (B+1, n)
        self.n += x.shape[1]
        self.s += x.sum(axis=1)
        self.ss += x @ x.T
        if x.shape[1]:
            self.ms_min = min(self.ms_min, float(x[:-1].min()))
        p = pan[0][pan_valid].astype(np.float64)
        self.pn += p.size
        self.ps += p.sum()
        self.pss += (p * p).sum()

    def result(self) -> SceneStats:
        if self.n < 2 or self.pn < 2:
            raise ValueError("no valid pixels: PAN and MS have no valid data in common")
        mean = self.s / self.n
        cov = (self.ss - self.n * np.outer(mean, mean)) / (self.n - 1)
        pm = self.ps / self.pn
        pvar = max((self.pss - self.pn * pm * pm) / (self.pn - 1), 0.0)
        return SceneStats(
            mean=mean, cov=cov, pan_mean=pm, pan_std=float(np.sqrt(pvar)), count=self.n, ms_min=self.ms_min
        )


@dataclass(frozen=True)
class SceneStats:
    """Scene statistics: ``mean``/``cov`` of [MS bands..., PAN_low] at MS scale; PAN mean/std at PAN
    scale; the smallest valid MS value (of the sampled tiles)."""

    mean: np.ndarray
    cov: np.ndarray
    pan_mean: float
    pan_std: float
    count: int
    ms_min: float = -np.inf

    @property
    def n_bands(self) -> int:
        return self.mean.size - 1

    @property
    def ms_mean(self) -> np.ndarray:
        return self.mean[:-1]

    @property
    def ms_std(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diag(self.cov)[:-1], 0.0))

    @property
    def pan_low_std(self) -> float:
        return float(np.sqrt(max(self.cov[-1, -1], 0.0)))


def _eps(stats: SceneStats) -> float:
    return 1e-6 * max(float(np.abs(stats.ms_mean).max()), float(stats.ms_std.max()), 1e-12)


def gsa_weights(stats: SceneStats) -> np.ndarray:
    """GSA regression of the low-passed PAN on the MS bands (means removed): (B,) weights."""
    c = stats.cov
    b = stats.n_bands
    cmm = c[:b, :b] + 1e-9 * np.trace(c[:b, :b]) / b * np.eye(b)
    return np.linalg.solve(cmm, c[:b, b])


def fuse_block(
    method: str,
    pan: np.ndarray,
    ms: np.ndarray,
    ms_up: np.ndarray,
    ratio: int,
    stats: SceneStats,
    ms_gains: Sequence[float],
) -> np.ndarray:
    """Fuse one block (with its halo) by a classical method.

    Args:
        method: one of :data:`METHODS`.
        pan: (1, H, W) PAN; nodata already filled.
        ms: (B, H/r, W/r) MS on the working grid.
        ms_up: (B, H, W) ``degradation.upsample(ms, ratio)``.
        ratio: integer ratio.
        stats: scene statistics (the same for every block).
        ms_gains: B Nyquist gains of the MS bands (MTF-GLP-HPM).

    Returns:
        (B, H, W) float32 fused block.
    """
    pan = pan.astype(np.float64)
    ms_up64 = ms_up.astype(np.float64)
    eps = _eps(stats)
    if method == "exp":
        return ms_up.astype(np.float32)
    if method == "brovey":
        b = stats.n_bands
        mi = float(stats.ms_mean.mean())
        si = float(np.sqrt(max(stats.cov[:b, :b].sum() / b**2, 0.0)))
        p = (pan[0] - stats.pan_mean) * (si / max(stats.pan_std, eps)) + mi
        i = ms_up64.mean(axis=0)
        floor = max(_FLOOR * abs(mi), eps)
        gain = np.maximum(p, floor) / np.maximum(i, floor)
        return (ms_up64 * gain).astype(np.float32)
    if method == "gsa":
        w = gsa_weights(stats)
        cmm = stats.cov[:-1, :-1]
        var_i = float(w @ cmm @ w)
        si = np.sqrt(max(var_i, 0.0))
        g = (cmm @ w) / max(var_i, eps * eps)
        i = np.tensordot(w, ms_up64 - stats.ms_mean[:, None, None], axes=1)
        p = (pan[0] - stats.pan_mean) * (si / max(stats.pan_std, eps))
        return (ms_up64 + g[:, None, None] * (p - i)[None]).astype(np.float32)
    if method == "mtf-glp-hpm":
        out = np.empty_like(ms_up64, dtype=np.float32)
        cache: dict[float, np.ndarray] = {}
        s_pl = max(stats.pan_low_std, eps)
        for k, gk in enumerate(ms_gains):
            if gk not in cache:
                cache[gk] = upsample(mtf_degrade(pan, [gk], ratio), ratio)[0].astype(np.float64)
            a = stats.ms_std[k] / s_pl
            pk = a * (pan[0] - stats.pan_mean) + stats.ms_mean[k]
            plp = a * (cache[gk] - stats.pan_mean) + stats.ms_mean[k]
            # The equalised PAN is affine in the PAN, so dark targets can make it (and its low-pass)
            # near zero or negative; floor both at a small fraction of the band level.
            floor = max(_FLOOR * abs(float(stats.ms_mean[k])), eps)
            out[k] = ms_up64[k] * (np.maximum(pk, floor) / np.maximum(plp, floor))
        return out
    raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")


def fuse_image(
    method: str,
    pan: np.ndarray,
    ms: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    pan_gain: float,
    stats: SceneStats | None = None,
) -> np.ndarray:
    """Whole-image fusion of in-memory arrays (tests, benchmarks, the Wald protocol).

    Args:
        pan: (1, H, W); ms: (B, H/r, W/r); no nodata.

    Returns:
        (B, H, W) float32.
    """
    if stats is None:
        acc = StatsAccumulator(ms.shape[0])
        acc.update(
            pan,
            np.ones(pan.shape[1:], bool),
            ms,
            np.ones(ms.shape[1:], bool),
            mtf_degrade(pan, [pan_gain], ratio),
        )
        stats = acc.result()
    return fuse_block(method, pan, ms, upsample(ms, ratio), ratio, stats, ms_gains)
