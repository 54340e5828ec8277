"""Zero-shot pansharpening: optimise a small band-agnostic network on the scene itself.

No I/O, no printing, no device choice: the caller passes arrays, a :class:`ZeroShotConfig` and a
``torch.device``, and gets a :class:`ZeroShotModel` that fuses tiles (DESIGN.md section 4).

Stage I
    1. Normalise: per-band MS mean/std and PAN mean/std over valid pixels. Register: measure the
       residual MS-PAN shift (:mod:`registration`) and move the PAN onto the MS by it, for the
       fit and for inference (the fused image keeps the MS's geometry, as the reduced-resolution
       reference does; ``register=False`` leaves the PAN as it is).
    2. Spectral response PAN ~ f(MS) at MS scale (PAN MTF-degraded to the MS grid): a linear fit
       with bias and a tiny per-pixel MLP; the one with the lower error on held-out pixels is kept.
    3. Warm-up on the reduced-resolution (Wald) pair: PAN and MS degraded by the ratio with their
       MTFs, the degraded MS upsampled; the network learns to give back the original MS (L1).
Stage II
    Each iteration is, with probability ``p_full``, a full-resolution step (spectral: the MTF-degraded
    output vs the MS; spatial: the spectral response of the output vs the PAN), else a
    reduced-resolution step. Held-out reduced-resolution windows are scored every ``eval_every``
    steps and the best network state is kept (the reduced-resolution pair is small: over-fitting
    is real).

All crops are sampled from the whole scene; crops with too much invalid (nodata) area are skipped and
invalid pixels do not enter the losses.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import networks
from .degradation import UPSAMPLE_HALO
from .registration import Registration, estimate_shift, shift_halo, shift_t
from .torch_ops import detail_halo, detail_inputs, mtf_degrade_t, pan_detail_t, symmetric_pad, upsample_t

__all__ = ["ZeroShotConfig", "ZeroShotModel", "SpectralResponse", "fit"]

ProgressFn = Callable[[str, int, int, dict[str, float]], None]


@dataclass
class ZeroShotConfig:
    """Settings of the per-scene optimisation. Defaults are the measured all-scene choice.

    Attributes:
        arch: network architecture name (:func:`networks.available`).
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
        tile: inference tile side in fine pixels (without the halo).
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
        corr_extra: the local-correlation windows are ``2 * ceil(ratio / 2) + corr_extra`` PAN
            pixels a side (``corr_extra`` 0: the window of the D_rho index).
        reference_bands: band count for which ``warmup`` and ``iterations`` are stated; scenes with
            fewer bands get proportionally more steps (at most 2x), see :func:`scaled_steps`.
        register: measure the residual shift between the MS and the PAN and move the PAN onto the
            MS by it (:func:`registration.estimate_shift`); the report gives the shift.
    """

    arch: str = networks.DEFAULT_ARCH
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
    tile: int = 512
    holdout: float = 0.1
    eval_every: int = 50
    max_invalid: float = 0.1
    response_hidden: int = 16
    response_steps: int = 200
    reference_bands: int = 8
    w_corr: float = 1.0
    corr_extra: int = 0
    register: bool = True

    def __post_init__(self) -> None:
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
        ]
        for ok, what, got in checks:
            if not ok:
                raise ValueError(f"expected {what}, got {got}")


def scaled_steps(cfg: ZeroShotConfig, bands: int) -> tuple[int, int]:
    """(warm-up, stage II) steps for a scene of ``bands`` bands.

    ``warmup`` and ``iterations`` are a compute budget stated for ``reference_bands`` (8) bands: a
    step costs about proportionally to the band count (the network is applied band by band), so a
    scene with fewer bands gets proportionally more steps, at most twice as many, for about the same
    time. Measured on the shared scenes: 4-band scenes gain 0.002-0.005 Q2n from it.
    """
    f = min(2.0, max(1.0, cfg.reference_bands / max(1, bands)))
    return int(round(cfg.warmup * f)), int(round(cfg.iterations * f))


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


@dataclass
class _Norm:
    ms_mean: np.ndarray  # (B,)
    ms_std: np.ndarray  # (B,)
    pan_mean: float
    pan_std: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "ms_mean": self.ms_mean.tolist(),
            "ms_std": self.ms_std.tolist(),
            "pan_mean": self.pan_mean,
            "pan_std": self.pan_std,
        }


def _autocast(device: torch.device, amp: bool):
    enabled = bool(amp) and device.type == "cuda"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


class ZeroShotModel:
    """A network fitted to one scene, with its normalisation, detail gains and spectral response.

    Attributes:
        net: the network (eval mode) on ``device``.
        receptive_field: radius, in fine pixels, of the network's dependence on its inputs.
        halo: radius, in fine pixels, of the whole fusion's dependence on the PAN and upsampled MS
            (the network's receptive field plus that of the PAN detail): what tiled inference needs.
        ratio: the PAN/MS ratio it was fitted for.
        ms_gains: the MS bands' Nyquist MTF gains (they define the PAN detail each band gets).
        detail_gains: (B,) float32 per-band detail gains measured on the scene.
        shift: (dy, dx) in fine pixels by which the PAN is moved onto the MS before fusion.
    """

    def __init__(
        self,
        net: nn.Module,
        norm: _Norm,
        ratio: int,
        config: ZeroShotConfig,
        device: torch.device,
        ms_gains: Sequence[float],
        detail_gains: Sequence[float],
        response: SpectralResponse | None = None,
        report: dict[str, Any] | None = None,
        shift: Sequence[float] = (0.0, 0.0),
    ) -> None:
        self.net = net.to(device).eval()
        self.norm = norm
        b = len(norm.ms_mean)
        self.ms_gains = [float(g) for g in ms_gains]
        self.detail_gains = np.asarray(detail_gains, np.float32).reshape(-1)
        if len(self.ms_gains) != b or self.detail_gains.shape != (b,):
            raise ValueError(
                f"expected {b} MS gains and {b} detail gains, got {len(self.ms_gains)} and {self.detail_gains.size}"
            )
        self.ratio = int(ratio)
        self.config = config
        self.device = device
        self.response = response
        self._report = report or {}
        self.receptive_field = int(net.receptive_field)
        self.shift = (float(shift[0]), float(shift[1]))
        self.halo = self.receptive_field + detail_halo(self.ratio)
        if self.shift != (0.0, 0.0):
            self.halo += shift_halo(*self.shift)
        self._m = torch.as_tensor(norm.ms_mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self._s = torch.as_tensor(norm.ms_std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self._g = torch.as_tensor(self.detail_gains, device=device)[None]

    # -- inference -------------------------------------------------------------------------------
    def _check_pair(self, pan: np.ndarray, ms_up: np.ndarray) -> None:
        b = len(self.norm.ms_mean)
        if pan.ndim != 3 or pan.shape[0] != 1:
            raise ValueError(f"expected pan shaped (1, h, w), got {pan.shape}")
        if ms_up.ndim != 3 or ms_up.shape[0] != b or ms_up.shape[1:] != pan.shape[1:]:
            raise ValueError(
                f"expected ms_up shaped ({b}, {pan.shape[1]}, {pan.shape[2]}), got {ms_up.shape}"
            )

    def _normalised(self, pan: np.ndarray, ms_up: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.norm
        p = torch.as_tensor(np.asarray(pan, np.float32), device=self.device)[None]
        x = torch.as_tensor(np.asarray(ms_up, np.float32), device=self.device)[None]
        p = (p - n.pan_mean) / n.pan_std
        if self.shift != (0.0, 0.0):
            p = shift_t(p, *self.shift)
        return p, (x - self._m) / self._s

    def _detail(self, pan_n: torch.Tensor) -> torch.Tensor:
        """Per-band PAN detail of a normalised (1, 1, h, w) PAN, h and w padded (symmetrically, at the
        bottom and right) to multiples of the ratio and cropped back: (1, B, h, w)."""
        r = self.ratio
        h, w = pan_n.shape[-2:]
        ph, pw = -h % r, -w % r
        padded = symmetric_pad(pan_n, 0, pw, 0, ph) if ph or pw else pan_n
        return pan_detail_t(padded, self.ms_gains, r)[..., :h, :w]

    @torch.no_grad()
    def predict(self, pan: np.ndarray, ms_up: np.ndarray) -> np.ndarray:
        """Fuse one tile in one pass (its border is the border: give it a halo of :attr:`halo`, or
        use :meth:`predict_image`).

        Args:
            pan: (1, h, w) float PAN, raw units.
            ms_up: (B, h, w) float MS upsampled to the PAN grid, raw units.

        Returns:
            (B, h, w) float32 fused, raw units.
        """
        self._check_pair(pan, ms_up)
        p, x = self._normalised(pan, ms_up)
        return self._run(p, x, self._detail(p))

    def _run(self, p: torch.Tensor, x: torch.Tensor, d: torch.Tensor) -> np.ndarray:
        with _autocast(self.device, self.config.amp):
            y = self.net(p, x, d, self._g)
        y = y.float() * self._s + self._m
        return y[0].cpu().numpy().astype(np.float32, copy=False)

    def predict_image(self, pan: np.ndarray, ms_up: np.ndarray, tile: int | None = None) -> np.ndarray:
        """Fuse a whole image: the PAN detail over the whole image, then the network by tiles with
        halos of its receptive field (symmetric outer border).

        The result does not depend on the tile size (to float precision). On CUDA out-of-memory
        the tile is halved and retried.

        Args:
            pan: (1, H, W) float PAN, raw units.
            ms_up: (B, H, W) float upsampled MS, raw units.
            tile: tile side in fine pixels without the halo (default ``config.tile``).

        Returns:
            (B, H, W) float32 fused, raw units.
        """
        self._check_pair(pan, ms_up)
        tile = int(tile or self.config.tile)
        while True:
            try:
                return self._predict_tiled(pan, ms_up, tile)
            except torch.cuda.OutOfMemoryError:
                if tile <= 32:
                    raise
                torch.cuda.empty_cache()
                tile //= 2

    @torch.no_grad()
    def _predict_tiled(self, pan: np.ndarray, ms_up: np.ndarray, tile: int) -> np.ndarray:
        halo = self.receptive_field
        _, h, w = pan.shape
        p, x = self._normalised(pan, ms_up)
        d = self._detail(p)
        p, x, d = (symmetric_pad(t, halo, halo, halo, halo) for t in (p, x, d))
        out = np.empty(ms_up.shape, np.float32)
        for r0 in range(0, h, tile):
            r1 = min(r0 + tile, h)
            for c0 in range(0, w, tile):
                c1 = min(c0 + tile, w)
                win = (..., slice(r0, r1 + 2 * halo), slice(c0, c1 + 2 * halo))
                y = self._run(p[win], x[win], d[win])
                out[:, r0:r1, c0:c1] = y[:, halo : halo + r1 - r0, halo : halo + c1 - c0]
        return out

    # -- bookkeeping -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Per-stage seconds, final losses, spectral response, settings (JSON-serialisable)."""
        rep = copy.deepcopy(self._report)
        rep["settings"] = asdict(self.config)
        rep["arch"] = self.net.arch
        rep["net_config"] = dict(self.net.config)
        rep["receptive_field"] = self.receptive_field
        rep["parameters"] = int(sum(p.numel() for p in self.net.parameters()))
        rep["normalisation"] = self.norm.as_dict()
        rep["detail_gains"] = [float(v) for v in self.detail_gains]
        rep["ms_gains"] = list(self.ms_gains)
        rep["shift_pan_pixels"] = list(self.shift)
        return rep

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The network's state dict (on CPU)."""
        return {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}

    def save(self, path: str | Path) -> None:
        """Write ``{arch, config, state_dict, normalisation, ms_gains, detail_gains, ratio,
        zeroshot_config}`` with torch.save."""
        torch.save(
            {
                "arch": self.net.arch,
                "config": dict(self.net.config),
                "state_dict": self.state_dict(),
                "normalisation": self.norm.as_dict(),
                "ms_gains": list(self.ms_gains),
                "detail_gains": [float(v) for v in self.detail_gains],
                "ratio": self.ratio,
                "shift": list(self.shift),
                "zeroshot_config": asdict(self.config),
            },
            str(path),
        )

    @classmethod
    def load(cls, path: str | Path, device: torch.device) -> ZeroShotModel:
        """Rebuild a model written by :meth:`save` (no spectral response)."""
        d = torch.load(str(path), map_location="cpu", weights_only=True)
        net = networks.build(d["arch"], **d["config"])
        net.load_state_dict(d["state_dict"])
        nd = d["normalisation"]
        norm = _Norm(
            np.asarray(nd["ms_mean"], np.float64),
            np.asarray(nd["ms_std"], np.float64),
            float(nd["pan_mean"]),
            float(nd["pan_std"]),
        )
        return cls(
            net,
            norm,
            d["ratio"],
            ZeroShotConfig(**d["zeroshot_config"]),
            device,
            ms_gains=d["ms_gains"],
            detail_gains=d["detail_gains"],
            shift=d.get("shift", (0.0, 0.0)),
        )


# ---------------------------------------------------------------------------------------------------
# fitting


def _local_corr(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Local correlation of every band of ``a`` (N, C, H, W) with ``b`` (N, 1, H, W) over k x k
    windows (valid positions only): (N, C, H-k+1, W-k+1)."""
    pool = torch.nn.functional.avg_pool2d
    ma, mb = pool(a, k, 1), pool(b, k, 1)
    cov = pool(a * b, k, 1) - ma * mb
    va = (pool(a * a, k, 1) - ma * ma).clamp_min(1e-6)
    vb = (pool(b * b, k, 1) - mb * mb).clamp_min(1e-6)
    return cov / torch.sqrt(va * vb)


def _masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    d = (a - b).abs()
    if mask is None:
        return d.mean()
    mask = mask.expand_as(d)
    return (d * mask).sum() / mask.sum().clamp_min(1.0)


def _block_all(valid: np.ndarray, r: int) -> np.ndarray:
    h, w = valid.shape[0] // r, valid.shape[1] // r
    return valid[: h * r, : w * r].reshape(h, r, w, r).all(axis=(1, 3))


def _stats(x: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    v = x[mask] if mask.any() else x.ravel()
    m = float(v.mean(dtype=np.float64))
    s = float(v.std(dtype=np.float64))
    return m, (s if s > 1e-12 else 1.0)


def _fit_response(
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
        opt = torch.optim.Adam(mlp.parameters(), lr=1e-2)
        xt4, yt4 = xt.T[None, :, :, None], yt[None, None, :, None]
        for _ in range(cfg.response_steps):
            loss = F.mse_loss(mlp(xt4), yt4)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            err_mlp = float(F.mse_loss(mlp(xh.T[None, :, :, None]), yh[None, None, :, None]))
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


class _Sampler:
    """Random crops of a (C, H, W) set of aligned arrays, skipping mostly-invalid ones."""

    def __init__(self, h: int, w: int, size: int, valid: np.ndarray, max_invalid: float, step: int) -> None:
        self.size = size
        self.step = step  # positions are multiples of ``step``
        self.h, self.w = h, w
        self.valid = valid
        # integral image of invalid pixels for O(1) crop checks
        inv = (~valid).astype(np.int64)
        self.ii = np.pad(inv.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        self.max_bad = max_invalid * size * size

    def bad(self, r: int, c: int) -> int:
        s, ii = self.size, self.ii
        return int(ii[r + s, c + s] - ii[r, c + s] - ii[r + s, c] + ii[r, c])

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        nr = (self.h - self.size) // self.step + 1
        nc = (self.w - self.size) // self.step + 1
        best = None
        for _ in range(50):
            r = int(rng.integers(nr)) * self.step
            c = int(rng.integers(nc)) * self.step
            b = self.bad(r, c)
            if b <= self.max_bad:
                return r, c
            if best is None or b < best[0]:
                best = (b, r, c)
        return best[1], best[2]


def _crop_size(crop: int, h: int, w: int, r: int) -> int:
    s = min(crop, h, w)
    return max(r, (s // r) * r)


def fit(
    pan: np.ndarray,
    ms: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    pan_gain: float,
    *,
    valid: np.ndarray | None = None,
    config: ZeroShotConfig | None = None,
    device: torch.device | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
    progress: ProgressFn | None = None,
) -> ZeroShotModel:
    """Optimise a fusion network on one scene.

    Args:
        pan: (1, H, W) float PAN, raw units; H, W multiples of ``ratio``.
        ms: (B, H/ratio, W/ratio) float MS, raw units (nodata already filled, e.g. band means).
        ratio: integer PAN/MS ratio >= 2.
        ms_gains: B Nyquist MTF gains of the MS bands.
        pan_gain: Nyquist MTF gain of the PAN.
        valid: (H, W) bool, True where PAN and MS hold data (None: all valid).
        config: settings (default :class:`ZeroShotConfig`).
        device: torch device to train on (default CPU).
        init_state: state dict of a pretrained network of ``config.arch`` to start from.
        progress: ``progress(stage, step, total, losses)`` called after every step; stages are
            ``"response"``, ``"warmup"`` and ``"train"``.

    Returns:
        A :class:`ZeroShotModel` on ``device``, in eval mode.

    Raises:
        ValueError: shapes, ratio or gains inconsistent.
    """
    cfg = config or ZeroShotConfig()
    dev = device or torch.device("cpu")
    r = int(ratio)
    pan = np.asarray(pan, np.float32)
    ms = np.asarray(ms, np.float32)
    if r < 2:
        raise ValueError(f"expected ratio >= 2, got {ratio}")
    if pan.ndim != 3 or pan.shape[0] != 1:
        raise ValueError(f"expected pan shaped (1, H, W), got {pan.shape}")
    if ms.ndim != 3:
        raise ValueError(f"expected ms shaped (B, h, w), got {ms.shape}")
    b, hm, wm = ms.shape
    if pan.shape[1] != hm * r or pan.shape[2] != wm * r:
        raise ValueError(
            f"expected pan shaped (1, {hm * r}, {wm * r}) for ms {ms.shape} at ratio {r}, got {pan.shape}"
        )
    if len(ms_gains) != b:
        raise ValueError(f"expected {b} MS gains, got {len(ms_gains)}")
    if valid is None:
        valid = np.ones(pan.shape[1:], bool)
    valid = np.asarray(valid, bool)
    if valid.shape != pan.shape[1:]:
        raise ValueError(f"expected valid shaped {pan.shape[1:]}, got {valid.shape}")
    if hm < 2 * r or wm < 2 * r:
        raise ValueError(f"expected an MS of at least {2 * r}x{2 * r} pixels, got {hm}x{wm}")

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    valid_ms = _block_all(valid, r)  # (hm, wm)

    # -- normalisation --------------------------------------------------------------------------
    pm, ps = _stats(pan[0], valid)
    mm, ms_s = zip(*(_stats(ms[i], valid_ms) for i in range(b)), strict=True)
    norm = _Norm(np.asarray(mm, np.float64), np.asarray(ms_s, np.float64), pm, ps)
    pan_n = torch.as_tensor((pan - pm) / ps, dtype=torch.float32, device=dev)[None]  # (1,1,H,W)
    ms_n = torch.as_tensor(
        (ms - norm.ms_mean[:, None, None]) / norm.ms_std[:, None, None], dtype=torch.float32, device=dev
    )[None]  # (1,B,hm,wm)
    gains = [float(g) for g in ms_gains]

    # -- registration: move the PAN onto the MS by the residual shift -------------------------------
    registration: Registration | None = None
    shift = (0.0, 0.0)
    if cfg.register:
        with torch.no_grad():
            registration = estimate_shift(
                mtf_degrade_t(pan_n, [float(np.mean(gains))], r),
                ms_n,
                torch.as_tensor(valid_ms, dtype=torch.float32, device=dev)[None, None],
            )
        shift = (registration.shift[0] * r, registration.shift[1] * r)
        if registration.applied:
            with torch.no_grad():
                pan_n = shift_t(pan_n, *shift)
            if not valid.all():  # the moved PAN reads its neighbours: erode the mask by that reach
                k = shift_halo(*shift)
                inv = torch.as_tensor(~valid, dtype=torch.float32)[None, None]
                valid = F.max_pool2d(F.pad(inv, (k,) * 4), 2 * k + 1, 1)[0, 0].numpy() < 0.5
                valid_ms = _block_all(valid, r)

    # -- reduced-resolution pair, spectral response ---------------------------------------------
    with torch.no_grad():
        pan_lr = mtf_degrade_t(pan_n, [float(pan_gain)], r)  # (1,1,hm,wm): PAN at MS scale = RR PAN
        hr, wr = hm // r, wm // r
        ms_rr = mtf_degrade_t(ms_n[..., : hr * r, : wr * r], gains, r)
        ms_rr_up = upsample_t(ms_rr, r)  # (1,B,hr*r,wr*r)
    pan_rr = pan_lr[..., : hr * r, : wr * r]
    ms_ref = ms_n[..., : hr * r, : wr * r]
    # the network's per-band inputs: the scene's detail gains (one for every step and tile) and the
    # PAN detail of the full-resolution and reduced-resolution PANs
    valid_ms_t = torch.as_tensor(valid_ms, dtype=torch.float32, device=dev)[None, None]
    with torch.no_grad():
        detail_fr, gains_t = detail_inputs(pan_n, ms_n, gains, r, valid_ms_t)  # (1,B,H,W), (1,B)
        detail_rr = pan_detail_t(pan_rr, gains, r)  # (1, B, hr*r, wr*r)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        response, resp_info = _fit_response(ms_n, pan_lr, valid_ms, cfg, rng)
        net = networks.build(cfg.arch, **cfg.net_kwargs)
    if init_state is not None:
        net.load_state_dict(init_state)
    net.to(dev).train()
    if progress:
        progress("response", 1, 1, {"holdout_mse": min(v for k, v in resp_info.items() if k.endswith("mse"))})
    times["response_s"] = time.perf_counter() - t0

    # -- samplers and hold-out --------------------------------------------------------------------
    rr_valid = valid_ms[: hr * r, : wr * r].copy()
    c_rr = _crop_size(cfg.crop, hr * r, wr * r, 1)
    train_mask_rr = rr_valid.copy()
    hold_windows: list[tuple[int, int]] = []
    if cfg.holdout > 0:
        n_hold = int(round(cfg.holdout * (hr * r) * (wr * r) / (c_rr * c_rr)))
        grid_r = list(range(0, hr * r - c_rr + 1, c_rr))
        grid_c = list(range(0, wr * r - c_rr + 1, c_rr))
        cells = [(i, j) for i in grid_r for j in grid_c if rr_valid[i : i + c_rr, j : j + c_rr].mean() > 0.5]
        # keep at least two thirds of the cells for training
        n_hold = min(n_hold, len(cells) // 3)
        if n_hold >= 1:
            pick = rng.permutation(len(cells))[:n_hold]
            hold_windows = [cells[k] for k in sorted(pick)]
            for i, j in hold_windows:
                train_mask_rr[i : i + c_rr, j : j + c_rr] = False
    samp_rr = _Sampler(hr * r, wr * r, c_rr, train_mask_rr, cfg.max_invalid, 1)
    mask_rr_t = torch.as_tensor(train_mask_rr, dtype=torch.float32, device=dev)[None, None]
    valid_rr_t = torch.as_tensor(rr_valid, dtype=torch.float32, device=dev)[None, None]

    c_fr = _crop_size(cfg.crop, pan.shape[1], pan.shape[2], r)
    samp_fr = _Sampler(pan.shape[1], pan.shape[2], c_fr, valid, cfg.max_invalid, r)
    halo = UPSAMPLE_HALO
    ms_pad = symmetric_pad(ms_n, halo, halo, halo, halo)
    valid_t = torch.as_tensor(valid, dtype=torch.float32, device=dev)[None, None]

    def rr_batch():
        pos = [samp_rr.sample(rng) for _ in range(cfg.batch)]
        s = c_rr

        def cut(t):
            return torch.cat([t[..., i : i + s, j : j + s] for i, j in pos])

        return cut(pan_rr), cut(ms_rr_up), cut(detail_rr), cut(ms_ref), cut(mask_rr_t)

    def fr_batch():
        pos = [samp_fr.sample(rng) for _ in range(cfg.batch)]
        s, sm = c_fr, c_fr // r
        pans, ups, dets, mss, vm, vf = [], [], [], [], [], []
        for i, j in pos:
            im, jm = i // r, j // r
            pans.append(pan_n[..., i : i + s, j : j + s])
            dets.append(detail_fr[..., i : i + s, j : j + s])
            win = ms_pad[..., im : im + sm + 2 * halo, jm : jm + sm + 2 * halo]
            ups.append(upsample_t(win, r)[..., halo * r : halo * r + s, halo * r : halo * r + s])
            mss.append(ms_n[..., im : im + sm, jm : jm + sm])
            vm.append(valid_ms_t[..., im : im + sm, jm : jm + sm])
            vf.append(valid_t[..., i : i + s, j : j + s])
        return tuple(torch.cat(t) for t in (pans, ups, dets, mss, vm, vf))

    # spectral-loss mask: ignore one coarse pixel at the crop border (MTF of a cropped image)
    def inner(m: torch.Tensor, k: int) -> torch.Tensor:
        m = m.clone()
        m[..., :k, :] = 0
        m[..., -k:, :] = 0
        m[..., :, :k] = 0
        m[..., :, -k:] = 0
        return m

    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_rr)
    corr_win = 2 * math.ceil(r / 2) + cfg.corr_extra

    def set_lr(lr: float) -> None:
        for g in opt.param_groups:
            g["lr"] = lr

    def step_rr() -> dict[str, float]:
        p, x, d, y, m = rr_batch()
        set_lr(cfg.lr_rr)
        with _autocast(dev, cfg.amp):
            out = net(p, x, d, gains_t.expand(p.shape[0], -1))
        loss = _masked_l1(out.float(), y, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"rr": loss.item()}

    def step_fr() -> dict[str, float]:
        p, x, d, y, vm, vf = fr_batch()
        set_lr(cfg.lr_fr)
        with _autocast(dev, cfg.amp):
            out = net(p, x, d, gains_t.expand(p.shape[0], -1))
        out = out.float()
        spec = _masked_l1(mtf_degrade_t(out, gains, r), y, inner(vm, 1))
        spat = _masked_l1(response(out), p, vf)
        loss = cfg.w_spectral * spec + cfg.w_spatial * spat
        losses = {"spectral": spec.item(), "spatial": spat.item()}
        if cfg.w_corr > 0:
            with torch.no_grad():
                p_lp = upsample_t(mtf_degrade_t(p, [pan_gain], r), r)
                target = _local_corr(x, p_lp, corr_win)
            corr = torch.relu(target - _local_corr(out, p, corr_win)).mean()
            loss = loss + cfg.w_corr * corr
            losses["corr"] = corr.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"fr": loss.item(), **losses}

    @torch.no_grad()
    def holdout_loss() -> float:
        if not hold_windows:
            return float("nan")
        net.eval()
        tot = 0.0
        s, m = c_rr, net.receptive_field
        for i, j in hold_windows:
            i0, j0 = max(0, i - m), max(0, j - m)
            i1, j1 = min(hr * r, i + s + m), min(wr * r, j + s + m)
            with _autocast(dev, cfg.amp):
                win = (..., slice(i0, i1), slice(j0, j1))
                out = net(pan_rr[win], ms_rr_up[win], detail_rr[win], gains_t).float()
            out = out[..., i - i0 : i - i0 + s, j - j0 : j - j0 + s]
            tot += float(
                _masked_l1(out, ms_ref[..., i : i + s, j : j + s], valid_rr_t[..., i : i + s, j : j + s])
            )
        net.train()
        return tot / len(hold_windows)

    # -- stage I warm-up ----------------------------------------------------------------------------
    t1 = time.perf_counter()
    last: dict[str, float] = {}
    warmup_steps, train_steps = scaled_steps(cfg, b)
    # a pretrained start is a candidate too: adaptation keeps it when it never does better
    prior_loss = holdout_loss() if init_state is not None else float("nan")
    prior_state = copy.deepcopy(net.state_dict()) if hold_windows and init_state is not None else None
    for k in range(warmup_steps):
        last.update(step_rr())
        if progress:
            progress("warmup", k + 1, warmup_steps, dict(last))
    times["warmup_s"] = time.perf_counter() - t1

    # -- stage II -----------------------------------------------------------------------------------
    t2 = time.perf_counter()
    best_loss = holdout_loss()
    best_state = copy.deepcopy(net.state_dict()) if hold_windows else None
    best_step = 0
    history: list[tuple[int, float]] = [(0, best_loss)]
    if prior_state is not None:
        history.insert(0, (-warmup_steps, prior_loss))
        if prior_loss < best_loss:
            best_loss, best_step, best_state = prior_loss, -warmup_steps, prior_state
    for k in range(train_steps):
        if cfg.p_full > 0 and rng.random() < cfg.p_full:
            last.update(step_fr())
        else:
            last.update(step_rr())
        if hold_windows and ((k + 1) % cfg.eval_every == 0 or k + 1 == train_steps):
            hl = holdout_loss()
            history.append((k + 1, hl))
            last["holdout"] = hl
            if hl < best_loss:
                best_loss, best_step = hl, k + 1
                best_state = copy.deepcopy(net.state_dict())
        if progress:
            progress("train", k + 1, train_steps, dict(last))
    if best_state is not None:
        net.load_state_dict(best_state)
    times["train_s"] = time.perf_counter() - t2
    times["total_s"] = time.perf_counter() - t0

    report = {
        "seconds": times,
        "final_losses": {k: v for k, v in last.items() if not (isinstance(v, float) and math.isnan(v))},
        "spectral_response": resp_info,
        "detail_gains": [float(v) for v in gains_t[0]],
        "holdout": {
            "windows": len(hold_windows),
            "best_step": best_step,
            "best_loss": None if math.isnan(best_loss) else best_loss,
            "history": [(s, None if math.isnan(v) else v) for s, v in history],
        },
        "ratio": r,
        "bands": b,
        "steps": {"warmup": warmup_steps, "train": train_steps},
        "device": str(dev),
        "pretrained": init_state is not None,
        "registration": None if registration is None else registration.as_dict(r),
    }
    return ZeroShotModel(
        net,
        norm,
        r,
        cfg,
        dev,
        ms_gains=gains,
        detail_gains=gains_t[0].cpu().numpy(),
        response=response,
        report=report,
        shift=shift,
    )
