"""Loss terms of the zero-shot fit: masked L1 and the local correlation of lambda-PNN."""

from __future__ import annotations

import torch


def local_corr(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Local correlation of every band of ``a`` (N, C, H, W) with ``b`` (N, 1, H, W) over k x k
    windows (valid positions only): (N, C, H-k+1, W-k+1)."""
    pool = torch.nn.functional.avg_pool2d
    ma, mb = pool(a, k, 1), pool(b, k, 1)
    cov = pool(a * b, k, 1) - ma * mb
    va = (pool(a * a, k, 1) - ma * ma).clamp_min(1e-6)
    vb = (pool(b * b, k, 1) - mb * mb).clamp_min(1e-6)
    return cov / torch.sqrt(va * vb)


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean absolute difference over the pixels where ``mask`` (broadcast to ``a``) is 1."""
    d = (a - b).abs()
    if mask is None:
        return d.mean()
    mask = mask.expand_as(d)
    return (d * mask).sum() / mask.sum().clamp_min(1.0)


def inner(m: torch.Tensor, k: int) -> torch.Tensor:
    """A copy of the mask ``m`` (..., H, W) with a border of ``k`` pixels set to 0 (the MTF of a
    cropped image is wrong there: the spectral loss ignores it)."""
    m = m.clone()
    m[..., :k, :] = 0
    m[..., -k:, :] = 0
    m[..., :, :k] = 0
    m[..., :, -k:] = 0
    return m
