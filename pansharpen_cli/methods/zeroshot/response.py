"""The MS-to-PAN spectral response of a scene (Degradation-Aware Modelling, stage I).

PAN ~ f(MS) per pixel at MS scale, in normalised units: a linear fit with bias (least squares) and
a tiny per-pixel MLP are fitted on 80% of the valid pixels and the one with the lower error on the
other 20% is kept, frozen, for the full-resolution spatial loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .adam import Adam
from .config import ZeroShotConfig


class SpectralResponse(nn.Module):
    """PAN from MS, per pixel, in normalised units: linear with bias, or a 1x1-conv MLP.

    Args:
        bands: number of MS bands.
        hidden: hidden units of the MLP; 0 makes the linear model.
    """

    def __init__(self, bands: int, hidden: int = 0) -> None:
        super().__init__()
        self.kind = "mlp" if hidden > 0 else "linear"
        if hidden > 0:
            self.net = nn.Sequential(nn.Conv2d(bands, hidden, 1), nn.Tanh(), nn.Conv2d(hidden, 1, 1))
        else:
            self.net = nn.Conv2d(bands, 1, 1)

    def forward(self, ms: torch.Tensor) -> torch.Tensor:
        """(N, B, H, W) -> (N, 1, H, W)."""
        return self.net(ms)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """The same map on a (P, B) table of pixels -> (P,): the 1x1 convs as matrix products
        (about twice as fast as the convs on a (1, B, P, 1) image, for the fit)."""
        layers = [m for m in self.net.modules() if isinstance(m, nn.Conv2d)]  # [net] when linear
        for k, conv in enumerate(layers):
            x = torch.addmm(conv.bias, x, conv.weight.flatten(1).T)
            if k + 1 < len(layers):
                x = torch.tanh(x)
        return x[:, 0]


def fit_response(
    ms_n: torch.Tensor,
    pan_lr: torch.Tensor,
    mask: np.ndarray,
    cfg: ZeroShotConfig,
    rng: np.random.Generator,
) -> tuple[SpectralResponse, dict[str, Any]]:
    """Fit linear and MLP responses on 80% of the valid MS pixels, keep the better on the rest."""
    b = ms_n.shape[1]
    x = ms_n[0].reshape(b, -1).T  # (P, B)
    y = pan_lr[0].reshape(-1)
    idx = np.flatnonzero(mask.ravel())
    if idx.size < 10:
        idx = np.arange(y.numel())
    idx = rng.permutation(idx)[:200_000]
    n_hold = max(1, idx.size // 5)
    hold = torch.as_tensor(idx[:n_hold], device=x.device)
    train = torch.as_tensor(idx[n_hold:], device=x.device)
    xt, yt, xh, yh = x[train], y[train], x[hold], y[hold]

    # linear with bias, least squares
    a = torch.cat([xt, torch.ones_like(xt[:, :1])], 1).double()
    sol = torch.linalg.lstsq(a.cpu(), yt.double().cpu()[:, None]).solution[:, 0].float().to(x.device)
    lin = SpectralResponse(b, 0).to(x.device)
    with torch.no_grad():
        lin.net.weight.copy_(sol[:b].view(1, b, 1, 1))
        lin.net.bias.copy_(sol[b:])
    info: dict[str, Any] = {}
    with torch.no_grad():
        err_lin = float(((xh @ sol[:b] + sol[b]) - yh).pow(2).mean())
    info["linear_holdout_mse"] = err_lin
    best, best_err = lin, err_lin
    if cfg.response_hidden > 0 and cfg.response_steps > 0:
        mlp = SpectralResponse(b, cfg.response_hidden).to(x.device)
        opt = Adam(mlp.parameters(), lr=1e-2)
        for _ in range(cfg.response_steps):
            loss = F.mse_loss(mlp.pixels(xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            err_mlp = float(F.mse_loss(mlp.pixels(xh), yh))
        info["mlp_holdout_mse"] = err_mlp
        if err_mlp < best_err:
            best, best_err = mlp, err_mlp
    best.eval()
    for p in best.parameters():
        p.requires_grad_(False)
    info["kind"] = best.kind
    if best.kind == "linear":
        info["weights"] = [float(v) for v in sol[:b]]
        info["bias"] = float(sol[b])
    return best, info
