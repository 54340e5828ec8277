"""Stage I preparation of one scene: normalisation, registration, and the tensors the steps cut
their crops from (the full-resolution pair and the reduced-resolution, Wald-protocol, pair)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...base.nodata import block_all, masked_stats
from ...physics.registration import Registration, estimate_shift, shift_halo, shift_t
from ...physics.torch_ops import detail_inputs, mtf_degrade_t, pan_detail_t, scene_gains, upsample_t
from .config import ZeroShotConfig
from .model import Normalisation


@dataclass
class Scene:
    """The normalised scene on the training device.

    Attributes:
        ratio, gains, pan_gain: the degradation model (MS gains as a list of floats).
        norm: the normalisation (raw units -> network units).
        pan_n: (1, 1, H, W) normalised PAN, moved onto the MS by the registration shift.
        ms_n: (1, B, H/r, W/r) normalised MS.
        valid, valid_ms: (H, W) and (H/r, W/r) bool masks (eroded by the shift's reach).
        registration: what the registration found (None when off); shift: (dy, dx) PAN pixels.
        pan_lr: (1, 1, H/r, W/r) the PAN MTF-degraded to the MS grid (the reduced-resolution PAN).
        rr_h, rr_w: size of the reduced-resolution pair (fine pixels of that pair).
        pan_rr, ms_rr_up, detail_rr, ms_ref: the reduced-resolution PAN, upsampled degraded MS,
            per-band PAN detail and the reference (the MS), each (1, C, rr_h, rr_w).
        detail_fr: (1, B, H, W) per-band PAN detail at full resolution; gains_t: (1, B) detail gains.
        valid_ms_t: (1, 1, H/r, W/r) float mask.
    """

    ratio: int
    gains: list[float]
    pan_gain: float
    norm: Normalisation
    pan_n: torch.Tensor
    ms_n: torch.Tensor
    valid: np.ndarray
    valid_ms: np.ndarray
    registration: Registration | None
    shift: tuple[float, float]
    pan_lr: torch.Tensor = None
    rr_h: int = 0
    rr_w: int = 0
    pan_rr: torch.Tensor = None
    ms_rr_up: torch.Tensor = None
    detail_rr: torch.Tensor = None
    ms_ref: torch.Tensor = None
    detail_fr: torch.Tensor = None
    gains_t: torch.Tensor = None
    valid_ms_t: torch.Tensor = None


def _normalise(
    pan: np.ndarray, ms: np.ndarray, valid: np.ndarray, valid_ms: np.ndarray, dev: torch.device
) -> tuple[Normalisation, torch.Tensor, torch.Tensor]:
    """Scene statistics over the valid pixels, and the normalised PAN and MS tensors."""
    b = ms.shape[0]
    pm, ps = masked_stats(pan[0], valid)
    mm, ms_s = zip(*(masked_stats(ms[i], valid_ms) for i in range(b)), strict=True)
    norm = Normalisation(np.asarray(mm, np.float64), np.asarray(ms_s, np.float64), pm, ps)
    pan_n = torch.as_tensor((pan - pm) / ps, dtype=torch.float32, device=dev)[None]  # (1,1,H,W)
    ms_n = torch.as_tensor(
        (ms - norm.ms_mean[:, None, None]) / norm.ms_std[:, None, None], dtype=torch.float32, device=dev
    )[None]  # (1,B,hm,wm)
    return norm, pan_n, ms_n


def _register(scene: Scene, dev: torch.device) -> None:
    """Measure the residual MS-PAN shift and move the PAN onto the MS by it (in place)."""
    r = scene.ratio
    with torch.no_grad():
        reg = estimate_shift(
            mtf_degrade_t(scene.pan_n, [float(np.mean(scene.gains))], r),
            scene.ms_n,
            torch.as_tensor(scene.valid_ms, dtype=torch.float32, device=dev)[None, None],
        )
    scene.registration = reg
    scene.shift = (reg.shift[0] * r, reg.shift[1] * r)
    if not reg.applied:
        return
    with torch.no_grad():
        scene.pan_n = shift_t(scene.pan_n, *scene.shift)
    if not scene.valid.all():  # the moved PAN reads its neighbours: erode the mask by that reach
        k = shift_halo(*scene.shift)
        inv = torch.as_tensor(~scene.valid, dtype=torch.float32)[None, None]
        scene.valid = F.max_pool2d(F.pad(inv, (k,) * 4), 2 * k + 1, 1)[0, 0].numpy() < 0.5
        scene.valid_ms = block_all(scene.valid, r)


def _pairs(scene: Scene, dev: torch.device) -> None:
    """The reduced-resolution pair and the per-band network inputs of both scales (in place)."""
    r, gains = scene.ratio, scene.gains
    hm, wm = scene.ms_n.shape[-2:]
    with torch.no_grad():
        scene.pan_lr = mtf_degrade_t(scene.pan_n, [float(scene.pan_gain)], r)  # PAN at MS scale
        hr, wr = hm // r, wm // r
        ms_rr = mtf_degrade_t(scene.ms_n[..., : hr * r, : wr * r], gains, r)
        scene.ms_rr_up = upsample_t(ms_rr, r)  # (1,B,hr*r,wr*r)
    scene.rr_h, scene.rr_w = hr * r, wr * r
    scene.pan_rr = scene.pan_lr[..., : hr * r, : wr * r]
    scene.ms_ref = scene.ms_n[..., : hr * r, : wr * r]
    # the network's per-band inputs: the scene's detail gains (one for every step and tile) and the
    # PAN detail of the full-resolution and reduced-resolution PANs
    scene.valid_ms_t = torch.as_tensor(scene.valid_ms, dtype=torch.float32, device=dev)[None, None]
    with torch.no_grad():
        scene.detail_fr, scene.gains_t = detail_inputs(scene.pan_n, scene.ms_n, gains, r, scene.valid_ms_t)
        scene.detail_rr = pan_detail_t(scene.pan_rr, gains, r)


def _gains_only(scene: Scene, dev: torch.device) -> None:
    """The detail gains without the training pairs (in place): what fusing with no adaptation
    steps needs of the scene."""
    scene.valid_ms_t = torch.as_tensor(scene.valid_ms, dtype=torch.float32, device=dev)[None, None]
    with torch.no_grad():
        scene.gains_t = scene_gains(scene.pan_n, scene.ms_n, scene.gains, scene.ratio, scene.valid_ms_t)


def prepare_scene(
    pan: np.ndarray,
    ms: np.ndarray,
    valid: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    pan_gain: float,
    cfg: ZeroShotConfig,
    dev: torch.device,
    pairs: bool = True,
) -> Scene:
    """Normalise, register (``cfg.register``) and build both training pairs of one scene.

    Args:
        pan: (1, H, W) float32 PAN; ms: (B, H/r, W/r) float32 MS; valid: (H, W) bool.
        ratio, ms_gains, pan_gain: the degradation model.
        cfg: the fit's settings; dev: the training device.
        pairs: build the training pairs; False: only the detail gains (``gains_t``, the same
            values as :func:`detail_inputs` gives), for a fit without steps.
    """
    valid_ms = block_all(valid, ratio)
    norm, pan_n, ms_n = _normalise(pan, ms, valid, valid_ms, dev)
    gains = [float(g) for g in ms_gains]
    scene = Scene(int(ratio), gains, float(pan_gain), norm, pan_n, ms_n, valid, valid_ms, None, (0.0, 0.0))
    if cfg.register:
        _register(scene, dev)
    if pairs:
        _pairs(scene, dev)
    else:
        _gains_only(scene, dev)
    return scene
