"""Scene statistics: the global part of every method, from a streamed pass over sampled tiles.

:class:`StatsAccumulator` gathers the first and second moments of [MS bands, low-passed PAN] at MS
scale and of the PAN at PAN scale, tile by tile; :class:`SceneStats` is what the methods are
parameterised by (and what the pipeline fills nodata with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base.nodata import block_all


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
        """Add one tile (see :func:`tile_moments` for the arguments)."""
        self.add(tile_moments(pan, pan_valid, ms, ms_valid, pan_low))

    def add(self, m: TileMoments) -> None:
        """Add the moments of one tile (tiles may be computed in any thread, added in tile order:
        the sums are then the same whatever the threads)."""
        self.n += m.n
        self.s += m.s
        self.ss += m.ss
        if m.ms_min is not None:
            self.ms_min = min(self.ms_min, m.ms_min)
        self.pn += m.pn
        self.ps += m.ps
        self.pss += m.pss

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


@dataclass(frozen=True)
class TileMoments:
    """Sums over the valid pixels of one tile: at MS scale ``n``, ``s`` (B+1,), ``ss`` (B+1, B+1)
    and the smallest MS value (None: no valid pixel); at PAN scale ``pn``, ``ps``, ``pss``."""

    n: int
    s: np.ndarray
    ss: np.ndarray
    ms_min: float | None
    pn: int
    ps: float
    pss: float


def tile_moments(
    pan: np.ndarray, pan_valid: np.ndarray, ms: np.ndarray, ms_valid: np.ndarray, pan_low: np.ndarray
) -> TileMoments:
    """The moments of one tile (cores only, no halo).

    Args:
        pan: (1, H, W) PAN; pan_valid: (H, W) bool.
        ms: (B, h, w) MS; ms_valid: (h, w) bool (h = H / ratio).
        pan_low: (1, h, w) PAN low-passed by its MTF and decimated to the MS grid.
    """
    r = pan.shape[1] // ms.shape[1]
    pv_low = block_all(pan_valid, r)
    v = ms_valid & pv_low
    x = np.concatenate([ms[:, v], pan_low[:, v]]).astype(np.float64)  # (B+1, n)
    p = pan[0][pan_valid].astype(np.float64)
    return TileMoments(
        n=x.shape[1],
        s=x.sum(axis=1),
        ss=x @ x.T,
        ms_min=float(x[:-1].min()) if x.shape[1] else None,
        pn=p.size,
        ps=p.sum(),
        pss=(p * p).sum(),
    )
