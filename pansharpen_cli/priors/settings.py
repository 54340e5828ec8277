"""Settings of the simulated-data generator (:class:`SimSettings`).

Every random draw of :mod:`pansharpen_cli.priors.simulate` and of the scene-statistics jitter of
:mod:`pansharpen_cli.priors.batches` is parameterised here; the settings are recorded in the
manifest of the weights they trained (``generator``), so a prior can be made again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..base.errors import OptionError

__all__ = ["SimSettings"]


@dataclass(frozen=True)
class SimSettings:
    """Settings of the simulated-data generator (all random draws are uniform unless said).

    Attributes:
        crop: side of the reference/PAN crop in fine pixels (rounded down to a multiple of the ratio).
        ratios: PAN/MS ratios to draw from.
        bands: (min, max) number of reference/MS bands, inclusive.
        zoom: range of the downscaling factor applied to the source window before cropping (<= 1:
            denser detail per pixel; clamped so the window fits the image).
        dirichlet_alpha: concentration of the Dirichlet weights mixing image channels into bands
            (small: bands close to single channels; large: bands close to the channel mean).
        p_raw_bands: probability of using a random subset of the image's own channels as bands
            (when it has enough), keeping real spectra.
        gain: range of the per-band gain (colour jitter).
        gamma: range of the per-band gamma exponent (colour jitter).
        p_sharpen: probability of a high-pass emphasis (unsharp mask) of the reference.
        sharpen_amount: range of the unsharp-mask amount.
        sharpen_sigma: range of the unsharp-mask Gaussian sigma, fine pixels.
        mtf_gain: range of the per-band Nyquist gain of the MS MTF.
        p_shift: probability that the MS (and the reference, which keeps the MS geometry) is
            shifted against the PAN, as real pairs stay misregistered after ``fuse`` has measured
            and removed their global shift (:mod:`registration`) ...
        max_shift: ... by up to this fraction of an MS pixel along each axis (the residual).
        p_pan_mtf: probability that the PAN is blurred by its own MTF against the reference ...
        pan_mtf: ... with a Nyquist gain (at the MS's Nyquist) in this range. Off by default:
            always on with (0.35, 1) it lifted the prior alone at ratios 2 and 3 but lowered it at
            ratio 4, and a quarter-budget adaptation from it did worse (docs/priors.md).
        pan_min_fraction: the PAN mixes a random subset of at least this fraction of the bands.
        p_pan_hidden: probability that part of the PAN is a band the MS does not have ...
        pan_hidden: ... with a weight in this range (the rest is the mix of MS bands) ...
        pan_hidden_foreign: ... made, with this probability, from another window of the image (detail
            the MS does not share), else from the same window through its own spectral mix, jitter
            and sharpening (a PAN response the MS bands do not span). Real PANs are far less
            predictable from their MS than a pure mix: the D_rho of the reduced-resolution
            reference against its PAN is 0.12 to 0.73 (mean 0.43) on the shared scenes, a pure mix
            gives a mean of 0.18 (median 0.13), the defaults 0.45 (``bench/sim_stats.py``).
        p_foreign: probability that a band outside the PAN's subset is mixed (30-100%) with a band
            made from another window of the image: detail the PAN does not predict.
        p_invert: probability that a band outside the PAN's subset is inverted (max - band): detail
            anti-correlated with the PAN (vegetation in NIR against a visible PAN).
        pan_noise: range of the PAN's Gaussian noise standard deviation (reference units).
        ms_noise: range of the MS's Gaussian noise standard deviation (reference units).
        min_valid: a crop is re-drawn (up to 20 times) until this fraction of its pixels is valid
            (images with nodata) ...
        min_std: ... and its standard deviation (all channels, [0, 1] units) is at least this
            (flat crops would blow up the per-band normalisation).
        cache_mb: memory for loaded source images (least recently used are dropped).
        scene_scale: after the per-sample normalisation, the sample is scaled by a factor drawn
            log-uniformly from this range (each band by that factor times 0.8 to 1.25) ...
        scene_offset: ... and offset by up to this much (the bands by the PAN's offset plus up to
            half of it): ``fuse`` normalises by the whole scene's statistics, under which a crop has
            less than unit spread and a mean away from 0, and the prior must see crops like that.
    """

    crop: int = 64
    ratios: tuple[int, ...] = (2, 3, 4)
    bands: tuple[int, int] = (3, 8)
    zoom: tuple[float, float] = (0.5, 1.0)
    dirichlet_alpha: float = 0.6
    p_raw_bands: float = 0.3
    gain: tuple[float, float] = (0.6, 1.0)
    gamma: tuple[float, float] = (0.7, 1.4)
    p_sharpen: float = 0.5
    sharpen_amount: tuple[float, float] = (0.2, 1.2)
    sharpen_sigma: tuple[float, float] = (0.7, 2.0)
    mtf_gain: tuple[float, float] = (0.15, 0.45)
    p_shift: float = 0.5
    max_shift: float = 0.1
    pan_min_fraction: float = 0.5
    p_pan_mtf: float = 0.0
    pan_mtf: tuple[float, float] = (0.35, 0.99)
    p_pan_hidden: float = 1.0
    pan_hidden: tuple[float, float] = (0.15, 0.8)
    pan_hidden_foreign: float = 1.0
    p_foreign: float = 0.25
    p_invert: float = 0.1
    pan_noise: tuple[float, float] = (0.0, 0.01)
    ms_noise: tuple[float, float] = (0.0, 0.01)
    min_valid: float = 0.95
    min_std: float = 0.03
    cache_mb: int = 512
    scene_scale: tuple[float, float] = (0.25, 1.0)
    scene_offset: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratios", tuple(int(r) for r in self.ratios))
        object.__setattr__(self, "bands", tuple(int(b) for b in self.bands))
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        if not self.ratios or min(self.ratios) < 2:
            raise OptionError(f"expected ratios >= 2, got {self.ratios}")
        lo, hi = self.bands
        if not 1 <= lo <= hi:
            raise OptionError(f"expected a band range (min, max) with 1 <= min <= max, got {self.bands}")
        if self.crop < 2 * max(self.ratios):
            raise OptionError(
                f"expected crop >= {2 * max(self.ratios)} (twice the largest ratio), got {self.crop}"
            )
        g0, g1 = self.mtf_gain
        if not 0.0 < g0 <= g1 < 1.0:
            raise OptionError(f"expected MTF gains within (0, 1), got {self.mtf_gain}")
        if not (0.0 <= self.p_foreign and 0.0 <= self.p_invert and self.p_foreign + self.p_invert <= 1.0):
            raise OptionError(
                f"expected p_foreign, p_invert >= 0 with a sum <= 1, got {self.p_foreign}, {self.p_invert}"
            )
        z0, z1 = self.zoom
        if not 0.0 < z0 <= z1 <= 1.0:
            raise OptionError(f"expected a zoom range within (0, 1], got {self.zoom}")
        p0, p1 = self.pan_mtf
        if not (0.0 <= self.p_pan_mtf <= 1.0 and 0.0 < p0 <= p1 < 1.0):
            raise OptionError(
                f"expected p_pan_mtf in [0, 1] and PAN MTF gains within (0, 1), got {self.p_pan_mtf}, {self.pan_mtf}"
            )
        h0, h1 = self.pan_hidden
        if not (
            0.0 <= self.p_pan_hidden <= 1.0
            and 0.0 <= h0 <= h1 <= 1.0
            and 0.0 <= self.pan_hidden_foreign <= 1.0
        ):
            raise OptionError(
                "expected p_pan_hidden and pan_hidden_foreign in [0, 1] and a PAN hidden weight range within "
                f"[0, 1], got {self.p_pan_hidden}, {self.pan_hidden_foreign}, {self.pan_hidden}"
            )
        k0, k1 = self.scene_scale
        if not (0.0 < k0 <= k1 and self.scene_offset >= 0.0):
            raise OptionError(
                f"expected 0 < scene_scale min <= max and scene_offset >= 0, got {self.scene_scale}, {self.scene_offset}"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
