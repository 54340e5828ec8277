"""Classical pansharpening methods with one signature: EXP, Brovey, GSA, MTF-GLP-HPM.

Each method is split into a global part (parameters from scene statistics, computed once by a
streamed pass, see :class:`~pansharpen_cli.methods.stats.SceneStats`) and a local part
(:func:`fuse_block`) applied to tiles, so block-wise fusion equals whole-image fusion.

Arrays: pan (1, H, W), ms (B, H/r, W/r), ms_up (B, H, W), float32/float64, raw units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..physics.degradation import mtf_degrade, upsample
from .base import Fuser, SceneInputs
from .stats import SceneStats, StatsAccumulator

#: Halo (coarse pixels) the local parts need: MTF kernel (5 coarse pixels) + cubic upsampling (3).
HALO = 8
#: Ratios of intensities are computed with both terms floored at this fraction of the band mean.
_FLOOR = 0.02


def _eps(stats: SceneStats) -> float:
    return 1e-6 * max(float(np.abs(stats.ms_mean).max()), float(stats.ms_std.max()), 1e-12)


def gsa_weights(stats: SceneStats) -> np.ndarray:
    """GSA regression of the low-passed PAN on the MS bands (means removed): (B,) weights."""
    c = stats.cov
    b = stats.n_bands
    cmm = c[:b, :b] + 1e-9 * np.trace(c[:b, :b]) / b * np.eye(b)
    return np.linalg.solve(cmm, c[:b, b])


def _exp(pan, ms_up, ratio, stats, gains, eps) -> np.ndarray:
    return ms_up.astype(np.float32)


def _brovey(pan, ms_up, ratio, stats, gains, eps) -> np.ndarray:
    b = stats.n_bands
    ms_up64 = ms_up.astype(np.float64)
    mi = float(stats.ms_mean.mean())
    si = float(np.sqrt(max(stats.cov[:b, :b].sum() / b**2, 0.0)))
    p = (pan[0].astype(np.float64) - stats.pan_mean) * (si / max(stats.pan_std, eps)) + mi
    i = ms_up64.mean(axis=0)
    floor = max(_FLOOR * abs(mi), eps)
    gain = np.maximum(p, floor) / np.maximum(i, floor)
    return (ms_up64 * gain).astype(np.float32)


def _gsa(pan, ms_up, ratio, stats, gains, eps) -> np.ndarray:
    ms_up64 = ms_up.astype(np.float64)
    w = gsa_weights(stats)
    cmm = stats.cov[:-1, :-1]
    var_i = float(w @ cmm @ w)
    si = np.sqrt(max(var_i, 0.0))
    g = (cmm @ w) / max(var_i, eps * eps)
    i = np.tensordot(w, ms_up64 - stats.ms_mean[:, None, None], axes=1)
    p = (pan[0].astype(np.float64) - stats.pan_mean) * (si / max(stats.pan_std, eps))
    return (ms_up64 + g[:, None, None] * (p - i)[None]).astype(np.float32)


#: Pixels per block of MTF-GLP-HPM's per-pixel part: its float64 temporaries stay in the CPU cache.
_BLOCK_PIXELS = 16384


def _mtf_glp_hpm(pan, ms_up, ratio, stats, gains, eps) -> np.ndarray:
    """``ms_up * max(P_k, floor) / max(P_k_low, floor)`` in float64, where ``P_k`` is the PAN
    equalised to band k and ``P_k_low`` its MTF-GLP low-pass (one low-pass per distinct gain); the
    per-pixel part by blocks of rows, in place."""
    out = np.empty(ms_up.shape, dtype=np.float32)
    lows = {gk: upsample(mtf_degrade(pan, [gk], ratio), ratio)[0] for gk in dict.fromkeys(gains)}
    s_pl = max(stats.pan_low_std, eps)
    a = [stats.ms_std[k] / s_pl for k in range(len(gains))]
    # The equalised PAN is affine in the PAN, so dark targets can make it (and its low-pass)
    # near zero or negative; floor both at a small fraction of the band level.
    floors = [max(_FLOOR * abs(float(m)), eps) for m in stats.ms_mean]
    h, w = ms_up.shape[1:]
    step = max(1, _BLOCK_PIXELS // max(w, 1))
    for i0 in range(0, h, step):
        rows = slice(i0, min(h, i0 + step))
        d = pan[0, rows].astype(np.float64) - stats.pan_mean
        dl = {gk: low[rows].astype(np.float64) - stats.pan_mean for gk, low in lows.items()}
        pk, plp = np.empty_like(d), np.empty_like(d)
        for k, gk in enumerate(gains):
            np.multiply(a[k], d, out=pk)
            pk += stats.ms_mean[k]
            np.maximum(pk, floors[k], out=pk)
            np.multiply(a[k], dl[gk], out=plp)
            plp += stats.ms_mean[k]
            np.maximum(plp, floors[k], out=plp)
            np.divide(pk, plp, out=pk)
            np.multiply(ms_up[k, rows], pk, out=pk)
            out[k, rows] = pk
    return out


_LOCAL: dict[str, Callable[..., np.ndarray]] = {
    "exp": _exp,
    "brovey": _brovey,
    "gsa": _gsa,
    "mtf-glp-hpm": _mtf_glp_hpm,
}
#: The classical methods, in display order.
CLASSICAL = tuple(_LOCAL)


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
        method: one of :data:`CLASSICAL`.
        pan: (1, H, W) PAN; nodata already filled.
        ms: (B, H/r, W/r) MS on the working grid.
        ms_up: (B, H, W) ``degradation.upsample(ms, ratio)``.
        ratio: integer ratio.
        stats: scene statistics (the same for every block).
        ms_gains: B Nyquist gains of the MS bands (MTF-GLP-HPM).

    Returns:
        (B, H, W) float32 fused block.
    """
    local = _LOCAL.get(method)
    if local is None:
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(CLASSICAL)}")
    return local(pan, ms_up, ratio, stats, ms_gains, _eps(stats))


#: The methods that multiply the MS by a ratio of intensities: they need positive radiometry.
MULTIPLICATIVE = ("brovey", "mtf-glp-hpm")


def positivity_warning(method: str, stats: SceneStats) -> str | None:
    """A warning when a multiplicative method meets an MS that is not positive radiometry (a
    negative value, or a band whose mean is not above 0, in the sampled statistics): its ratios of
    intensities then divide by values near 0 and the output is not to be trusted."""
    if method not in MULTIPLICATIVE:
        return None
    if stats.ms_min >= 0 and float(stats.ms_mean.min()) > 0:
        return None
    return (
        f"-m {method} multiplies by ratios of intensities, which need positive radiometry, but the MS "
        f"holds values down to {stats.ms_min:g} (band means {float(stats.ms_mean.min()):g} and up): the "
        "output may be far out of range; use -m gsa or -m zeroshot, or fuse radiance or DN"
    )


def prepare(method: str, inputs: SceneInputs) -> Fuser:
    """The :class:`~pansharpen_cli.methods.base.Fuser` of a classical method for one scene."""
    ratio, stats, gains = inputs.ratio, inputs.stats, inputs.ms_gains

    def run(pan: np.ndarray, ms: np.ndarray, ms_up: np.ndarray) -> np.ndarray:
        return fuse_block(method, pan, ms, ms_up, ratio, stats, gains)

    warning = positivity_warning(method, stats)
    return Fuser(fuse=run, halo=HALO, parallel=True, warnings=[warning] if warning else [])


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
