"""Frozen features computed once per scene, for networks that have them (CrossDiff's pretext UNets):
the steps then cut their crops from the cached maps instead of running the frozen networks on every
crop. The maps are computed as at inference (eval mode, positional noise, the scene's origin), so
the head trains on exactly the features it will see when fusing.

A network opts in with ``feature_maps(pan, ms_up, origin) -> (N, F, H, W)`` and a ``feats=`` argument
of its forward. The full-resolution maps are kept (as float16) only when they fit
:data:`CACHE_BYTES`; otherwise full-resolution steps compute their features crop by crop.
"""

from __future__ import annotations

import torch

#: Largest full-resolution feature cache kept (bytes, float16): 512 MiB, a 1280^2 x 8-band region.
CACHE_BYTES = 1 << 29

#: Rows of the image computed per pass (bounds the peak memory of building the cache).
_BAND = 128


def has_features(net: torch.nn.Module) -> bool:
    return callable(getattr(net, "feature_maps", None))


@torch.no_grad()
def feature_maps(net: torch.nn.Module, pan: torch.Tensor, ms_up: torch.Tensor, limit: int | None = None):
    """The network's frozen features of a whole (1, ., H, W) pair, float16, computed in bands of
    rows with a halo of the network's receptive field; None when they would exceed ``limit`` bytes."""
    h, w = pan.shape[-2:]
    was = net.training
    net.eval()
    try:
        first = net.feature_maps(pan[..., :1, :1], ms_up[..., :1, :1], (0, 0))
        if limit is not None and first.shape[1] * h * w * 2 > limit:
            return None
        out = torch.empty((1, first.shape[1], h, w), dtype=torch.float16, device=pan.device)
        m = int(net.receptive_field)
        for r0 in range(0, h, _BAND):
            r1 = min(h, r0 + _BAND)
            a, b = max(0, r0 - m), min(h, r1 + m)
            f = net.feature_maps(pan[..., a:b, :], ms_up[..., a:b, :], (a, 0))
            out[..., r0:r1, :] = f[..., r0 - a : r1 - a, :].to(torch.float16)
        return out
    finally:
        net.train(was)
