"""The input contract every fusion network checks (see :mod:`pansharpen_cli.networks`)."""

from __future__ import annotations

import torch


def checked_inputs(
    pan: torch.Tensor, ms_up: torch.Tensor, detail: torch.Tensor | None, gains: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the shapes of the network's inputs; fill a missing detail (zeros) and gains (ones)."""
    if pan.ndim != 4 or ms_up.ndim != 4 or pan.shape[1] != 1:
        raise ValueError(
            f"expected pan (N, 1, H, W) and ms_up (N, C, H, W), got {tuple(pan.shape)}, {tuple(ms_up.shape)}"
        )
    if pan.shape[0] != ms_up.shape[0] or pan.shape[-2:] != ms_up.shape[-2:]:
        raise ValueError(f"expected matching N, H, W, got {tuple(pan.shape)} and {tuple(ms_up.shape)}")
    n, c = ms_up.shape[:2]
    detail = torch.zeros_like(ms_up) if detail is None else detail
    if detail.shape != ms_up.shape:
        raise ValueError(f"expected detail shaped {tuple(ms_up.shape)}, got {tuple(detail.shape)}")
    gains = ms_up.new_ones(n, c) if gains is None else gains
    if tuple(gains.shape) != (n, c):
        raise ValueError(f"expected gains shaped ({n}, {c}), got {tuple(gains.shape)}")
    return detail, gains
