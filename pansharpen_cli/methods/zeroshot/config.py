"""Settings of the zero-shot fit (:class:`ZeroShotConfig`) and the step budget per band count."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ... import networks
from ..presets import ALIGN, PRESETS
from .tta import COUNTS as TTA_COUNTS


@dataclass
class ZeroShotConfig:
    """Settings of the per-scene optimisation. Defaults are the measured all-scene choice.

    Attributes:
        arch: network architecture name (:func:`networks.available`); None: the starting weights'
            (``--weights``), else ``default_arch`` (:attr:`net_arch`).
        default_arch: the network of the preset (``PRESETS``' ``arch``) when neither ``arch`` nor
            the starting weights name one; None: :data:`networks.DEFAULT_ARCH`.
        net_kwargs: constructor arguments of the network (empty: its defaults).
        iterations: stage II steps.
        warmup: stage I reduced-resolution steps.
        p_full: probability that a stage II step is a full-resolution one.
        lr_rr: Adam learning rate of reduced-resolution steps.
        lr_fr: Adam learning rate of full-resolution steps.
        crop: crop side in fine pixels of the scale being trained (RR pair or full scale).
        batch: crops per step.
        w_spectral: weight of the full-resolution spectral loss (L1, MTF-degraded output vs MS).
        w_spatial: weight of the full-resolution spatial loss (L1, spectral response of the output
            vs PAN).
        seed: seeds the network init, crop sampling and hold-out choice.
        amp: autocast (bf16) on CUDA for training and inference; ignored on CPU.
        tile: inference tile side in fine pixels (without the halo): 256, the fastest on the CPU
            for both networks (core Mpx/s of the forward pass at 192/256/384/512: bandwise-resnet
            0.71/0.73/0.65/0.54, bandwise-lite 2.80/2.94/2.58/2.46, ``bench/network_speed.py``)
            and a quarter of 512's activation memory; the output does not depend on it (to float
            noise: 1 DN on 6e-8 of the values of a 2560^2 x 8 uint16 fusion).
        holdout: fraction of the reduced-resolution pair held out to pick the best network state
            among the stage II checkpoints, the state after the warm-up and, when starting from a
            prior, the prior itself (report ``best_step`` < 0); 0 disables: the last state is kept.
        eval_every: stage II steps between hold-out evaluations.
        max_invalid: crops with a larger fraction of invalid pixels are skipped.
        response_hidden: hidden units of the per-pixel MLP spectral response.
        response_steps: Adam steps used to fit that MLP.
        w_corr: weight of the full-resolution local-correlation loss (after lambda-PNN): where the local
            correlation of an output band with the PAN falls below that of the upsampled MS band with
            the low-passed PAN (what the data says the band can reach), the shortfall is penalised;
            bands the PAN does not see (NIR, SWIR) have a low target and feel no pull.
        corr_target: "ms": the local-correlation loss's target is the upsampled MS band's
            correlation with the low-passed PAN (above); "hpm": the larger of it and MTF-GLP-HPM's
            band's correlation with the PAN (an experiment of issue 24: more detail at full
            resolution, at a reduced-resolution cost; docs/quality.md).
        select_fr: weight, in the hold-out score that picks the network state, of the
            local-correlation shortfall on fixed full-resolution crops (0: the reduced-resolution
            L1 alone, which on most scenes keeps the state after the warm-up, before any
            full-resolution step; an experiment of issue 24, see docs/quality.md).
        corr_extra: the local-correlation windows are ``2 * ceil(ratio / 2) + corr_extra`` PAN
            pixels a side (``corr_extra`` 0: the window of the D_rho index).
        reference_bands: band count for which ``warmup`` and ``iterations`` are stated; scenes with
            fewer bands get proportionally more steps (at most 2x), see :func:`scaled_steps`.
        register: measure the residual shift between the MS and the PAN
            (:func:`registration.estimate_shift`) and remove it; the report gives the shift.
        align: which image the fused image lines up with when ``register`` removes a shift:
            ``"pan"`` (for inference the upsampled MS, and the PAN's low-pass that the detail is
            taken against, are moved onto the PAN) or ``"ms"`` (the PAN is moved onto the MS: the
            MS's geometry, that of the reduced-resolution reference). The fit is the same for both
            (in the MS's geometry: the network is convolutional, it learns the same fusion).
        patience: early stopping: stage II ends after this many hold-out evaluations in a row
            without a better score (the best state is kept either way); 0 runs every step.
        reference_pixels: scenes (PAN pixels of the training region) smaller than this get fewer
            steps, by the square root of the area ratio (at most 4x fewer), see :func:`scaled_steps`;
            0 (the default; ``--preset fast`` sets 512^2) disables the scaling.
        tta: test-time augmentation at inference: the output averaged over this many of the
            square's flips and transposes (1, 2, 4 or 8; :mod:`.tta`), that many forward passes;
            1 (the default) is the plain pass, ``--preset best`` sets 4 (the flips). Networks
            with positional noise (crossdiff) always make one pass.
        augment: training-time augmentation: every training crop (reduced- and full-resolution)
            is moved by a random one of this many of the square's symmetries (1: none; 4: the
            flips; 8: with the transposes), the same for all of its inputs; ``--preset best`` sets
            4 (measured: docs/methods.md).
        small_flips: ``augment`` and ``tta`` of at least this many symmetries for a fit (with
            steps) that holds no window out: its reduced-resolution pair too small for any
            (:func:`.sampling.holdout_windows`; under about 143^2 PAN pixels of 64^2 crops), or
            ``holdout`` 0. Such a fit runs its whole budget anyway (nothing stops it early), so
            flipped crops cost it no time, and they keep it from over-fitting its few crops; its
            inference is small too. 1: no change; the default preset sets 4 (measured:
            docs/methods.md). The report's settings and the output's tags give the values used;
            ``--iterations 0`` (no fit) keeps ``tta``.
    """

    arch: str | None = None
    default_arch: str | None = None
    net_kwargs: dict[str, Any] = field(default_factory=dict)
    iterations: int = 200
    warmup: int = 60
    p_full: float = 0.7
    lr_rr: float = 1e-3
    lr_fr: float = 5e-4
    crop: int = 64
    batch: int = 4
    w_spectral: float = 1.0
    w_spatial: float = 0.3
    seed: int = 0
    amp: bool = False
    tile: int = 256
    holdout: float = 0.1
    eval_every: int = 50
    max_invalid: float = 0.1
    response_hidden: int = 16
    response_steps: int = 200
    reference_bands: int = 8
    w_corr: float = 1.0
    corr_extra: int = 0
    corr_target: str = "ms"
    select_fr: float = 0.0
    register: bool = True
    align: str = "pan"
    patience: int = 2
    reference_pixels: int = 0
    tta: int = 1
    augment: int = 1
    small_flips: int = 1

    def __post_init__(self) -> None:
        counts = ", ".join(map(str, TTA_COUNTS))
        checks = [
            (self.iterations >= 0, "iterations >= 0", self.iterations),
            (self.warmup >= 0, "warmup >= 0", self.warmup),
            (0.0 <= self.p_full <= 1.0, "p_full in [0, 1]", self.p_full),
            (self.crop >= 8, "crop >= 8", self.crop),
            (self.batch >= 1, "batch >= 1", self.batch),
            (self.tile >= 8, "tile >= 8", self.tile),
            (0.0 <= self.holdout < 0.5, "holdout in [0, 0.5)", self.holdout),
            (self.eval_every >= 1, "eval_every >= 1", self.eval_every),
            (0.0 <= self.max_invalid < 1.0, "max_invalid in [0, 1)", self.max_invalid),
            (self.corr_extra >= 0, "corr_extra >= 0", self.corr_extra),
            (self.patience >= 0, "patience >= 0", self.patience),
            (self.reference_pixels >= 0, "reference_pixels >= 0", self.reference_pixels),
            (self.align in ALIGN, f"align one of {', '.join(ALIGN)}", self.align),
            (self.corr_target in ("ms", "hpm"), "corr_target 'ms' or 'hpm'", self.corr_target),
            (self.select_fr >= 0, "select_fr >= 0", self.select_fr),
            (self.tta in TTA_COUNTS, f"tta one of {counts}", self.tta),
            (self.augment in TTA_COUNTS, f"augment one of {counts}", self.augment),
            (self.small_flips in TTA_COUNTS, f"small_flips one of {counts}", self.small_flips),
        ]
        for ok, what, got in checks:
            if not ok:
                raise ValueError(f"expected {what}, got {got}")

    @property
    def net_arch(self) -> str:
        """The architecture the fit builds: ``arch``, else the preset's, else the default (the
        weights' arch, when there are weights, is set into ``arch`` before the fit)."""
        return self.arch or self.default_arch or networks.DEFAULT_ARCH


def scaled_steps(cfg: ZeroShotConfig, bands: int, pixels: int = 0) -> tuple[int, int]:
    """(warm-up, stage II) steps for a scene of ``bands`` bands and ``pixels`` PAN pixels.

    ``warmup`` and ``iterations`` are a compute budget stated for ``reference_bands`` (8) bands: a
    step costs more with more bands (the per-band path of the network), so a scene with fewer bands
    gets proportionally more steps, at most twice as many, for about the same time. Measured on the
    shared scenes: 4-band scenes gain 0.002-0.005 Q2n from it.

    A scene smaller than ``reference_pixels`` gets ``sqrt(pixels / reference_pixels)`` of that
    budget (at least a quarter): its reduced-resolution pair is a few crops wide, more steps only
    revisit the same pixels (and the hold-out score picks an early state anyway).
    """
    f = min(2.0, max(1.0, cfg.reference_bands / max(1, bands)))
    if cfg.reference_pixels and 0 < pixels < cfg.reference_pixels:
        f *= max(0.25, (pixels / cfg.reference_pixels) ** 0.5)
    return int(round(cfg.warmup * f)), int(round(cfg.iterations * f))


def preset_config(name: str, **kwargs: Any) -> ZeroShotConfig:
    """The :class:`ZeroShotConfig` of a preset (``kwargs`` override its fields).

    Raises:
        ValueError: unknown preset name.
    """
    if name not in PRESETS:
        raise ValueError(f"expected a preset among {', '.join(PRESETS)}, got {name!r}")
    p, base = PRESETS[name], ZeroShotConfig()
    fields = {
        "warmup": int(round(base.warmup * p["steps"])),
        "iterations": int(round(base.iterations * p["steps"])),
        "patience": int(p["patience"]),
        "reference_pixels": int(p["reference_pixels"]),
        "default_arch": str(p["arch"]),
        "tta": int(p["tta"]),
        "augment": int(p["augment"]),
        "small_flips": int(p["small_flips"]),
    }
    return ZeroShotConfig(**{**fields, **kwargs})


def with_small_flips(cfg: ZeroShotConfig) -> ZeroShotConfig:
    """``cfg`` for a fit that holds no window out: ``augment`` and ``tta`` raised to at least
    ``small_flips`` (``cfg`` itself when that changes nothing)."""
    n = cfg.small_flips
    if n <= min(cfg.augment, cfg.tta):
        return cfg
    return replace(cfg, augment=max(cfg.augment, n), tta=max(cfg.tta, n))
