"""The optional per-scene adaptation of CrossDiff's pretext UNets: a few denoising steps on crops of
the scene's reduced-resolution pair (``ms2pan`` denoises the degraded PAN given the degraded,
upsampled MS; ``pan2ms`` each MS band given the degraded PAN), before the head is trained on their
(again frozen) features."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ...base.progress import Progress
from ..zeroshot.adam import Adam
from ..zeroshot.fit import PreAdapt
from ..zeroshot.sampling import crop_size
from ..zeroshot.scene import Scene
from .config import CrossDiffConfig


def _crops(scene: Scene, c: int, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """``n`` random c x c crops of the reduced-resolution PAN, upsampled MS and reference."""
    pos = [(int(rng.integers(0, scene.rr_h - c + 1)), int(rng.integers(0, scene.rr_w - c + 1))) for _ in range(n)]

    def cut(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t[..., i : i + c, j : j + c] for i, j in pos])

    return cut(scene.pan_rr), cut(scene.ms_rr_up), cut(scene.ms_ref)


def pretext_adapter(cfg: CrossDiffConfig) -> PreAdapt | None:
    """The :func:`~pansharpen_cli.methods.zeroshot.fit.fit` hook that adapts the pretext UNets for
    ``cfg.pretext_steps`` steps (None when 0)."""
    if cfg.pretext_steps == 0:
        return None

    def adapt(net: torch.nn.Module, scene: Scene, rng: np.random.Generator, progress: Progress) -> dict[str, Any]:
        t0 = time.perf_counter()
        c = crop_size(cfg.crop, scene.rr_h, scene.rr_w, 1)
        net.freeze_pretext(False)
        net.train()
        params = [p for m in net.pretext_modules() for p in m.parameters()]
        opt = Adam(params, lr=cfg.pretext_lr)
        losses = []
        progress("pretext", 0, cfg.pretext_steps, {})
        for k in range(cfg.pretext_steps):
            lp, lm = net.pretext_loss(*_crops(scene, c, cfg.batch, rng))
            opt.zero_grad()
            (lp + lm).backward()
            opt.step()
            losses.append(float(lp.detach() + lm.detach()))
            progress("pretext", k + 1, cfg.pretext_steps, {"pretext": losses[-1]})
        net.freeze_pretext(True)
        net.train()
        return {"steps": cfg.pretext_steps, "loss_first": losses[0], "loss_last": losses[-1],
                "seconds": time.perf_counter() - t0}

    return adapt
