"""Settings of CrossDiff's per-scene fit: the zero-shot settings (budget, losses, presets, seed) with
the ``crossdiff`` network, plus the optional adaptation of the pretext UNets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..zeroshot.config import ZeroShotConfig

#: The network CrossDiff fits.
ARCH = "crossdiff"


@dataclass
class CrossDiffConfig(ZeroShotConfig):
    """:class:`~pansharpen_cli.methods.zeroshot.config.ZeroShotConfig` for the ``crossdiff`` network.

    Attributes:
        pretext_steps: Adam steps adapting both pretext UNets (their denoising losses) to the scene's
            reduced-resolution pair before the head is trained; 0 (the default) keeps the pretrained
            UNets as they are.
        pretext_lr: learning rate of those steps.
    """

    arch: str = ARCH
    pretext_steps: int = 0
    pretext_lr: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch != ARCH:
            raise ValueError(f"expected the {ARCH!r} network for CrossDiff, got {self.arch!r}")
        if self.pretext_steps < 0 or self.pretext_lr <= 0:
            raise ValueError(
                f"expected pretext_steps >= 0 and pretext_lr > 0, got {self.pretext_steps}, {self.pretext_lr}"
            )


def from_zeroshot(cfg: ZeroShotConfig) -> CrossDiffConfig:
    """The CrossDiff settings with the budget, losses and seed of ``cfg`` (its network replaced;
    without flipped training crops, ``augment`` and ``small_flips`` 1: measured for the zero-shot
    networks only)."""
    fields = asdict(cfg)
    fields.update(arch=ARCH, net_kwargs={}, augment=1, small_flips=1)
    return CrossDiffConfig(**fields)
