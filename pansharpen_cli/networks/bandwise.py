"""Band-agnostic residual CNN: every MS band is processed by the same weights.

Per band ``b`` the input is ``[ms_b, pan, mean_c ms_c, pan - ms_b]`` (normalised units), folded into
the batch dimension as (N*C, 4, H, W). After every residual block a cross-band summary (the mean of
the features over the bands, through a 1x1 conv) is added back to every band, so bands exchange
information without tying the weights to a band count. The last conv is zero-initialised: an
untrained network returns ``ms_up``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register


class _Block(nn.Module):
    def __init__(self, features: int, cross_band: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.mix = nn.Conv2d(features, features, 1) if cross_band else None

    def forward(self, h: torch.Tensor, n: int, c: int) -> torch.Tensor:
        h = h + self.conv2(self.act(self.conv1(h)))
        if self.mix is not None:
            f, hh, ww = h.shape[1:]
            summary = self.mix(h.view(n, c, f, hh, ww).mean(1))  # (N, F, H, W)
            h = (h.view(n, c, f, hh, ww) + summary.unsqueeze(1)).view(n * c, f, hh, ww)
        return h


@register("bandwise-resnet")
class BandwiseResNet(nn.Module):
    """Shared-weight per-band residual CNN (3x3 convs, ReLU) with cross-band mixing.

    Args:
        features: channels of the hidden layers.
        blocks: residual blocks (two 3x3 convs each).
        cross_band: add a 1x1-conv of the band-mean of the features after every block.

    Receptive field (radius, fine pixels): ``2 + 2 * blocks`` (8 with the defaults).
    """

    arch = "bandwise-resnet"
    in_per_band = 4

    def __init__(self, features: int = 16, blocks: int = 3, cross_band: bool = True) -> None:
        super().__init__()
        if features < 1 or blocks < 0:
            raise ValueError(f"expected features >= 1 and blocks >= 0, got {features}, {blocks}")
        self.config = {"features": int(features), "blocks": int(blocks), "cross_band": bool(cross_band)}
        self.receptive_field = 2 + 2 * int(blocks)
        self.head = nn.Conv2d(self.in_per_band, features, 3, padding=1)
        self.blocks = nn.ModuleList(_Block(features, cross_band) for _ in range(blocks))
        self.act = nn.ReLU(inplace=True)
        self.tail = nn.Conv2d(features, 1, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, pan: torch.Tensor, ms_up: torch.Tensor) -> torch.Tensor:
        """Fuse.

        Args:
            pan: (N, 1, H, W) normalised PAN.
            ms_up: (N, C, H, W) normalised upsampled MS, any C >= 1.

        Returns:
            (N, C, H, W): ``ms_up`` plus the predicted detail.
        """
        if pan.ndim != 4 or ms_up.ndim != 4 or pan.shape[1] != 1:
            raise ValueError(
                f"expected pan (N, 1, H, W) and ms_up (N, C, H, W), got {tuple(pan.shape)}, {tuple(ms_up.shape)}"
            )
        if pan.shape[0] != ms_up.shape[0] or pan.shape[-2:] != ms_up.shape[-2:]:
            raise ValueError(f"expected matching N, H, W, got {tuple(pan.shape)} and {tuple(ms_up.shape)}")
        n, c, h, w = ms_up.shape
        pan_b = pan.expand(n, c, h, w)
        mean = ms_up.mean(1, keepdim=True).expand(n, c, h, w)
        x = torch.stack([ms_up, pan_b, mean, pan_b - ms_up], dim=2).reshape(n * c, self.in_per_band, h, w)
        z = self.act(self.head(x))
        for blk in self.blocks:
            z = blk(z, n, c)
        detail = self.tail(self.act(z)).view(n, c, h, w)
        return ms_up + detail
