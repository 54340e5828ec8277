"""CrossDiff's pretraining: stage 1 trains the two pretext UNets by cross-prediction (denoising the
PAN given the MS, each MS band given the PAN) on simulated triplets; stage 2 is :func:`pretrain` of
the ``crossdiff`` network from that state, which trains only the fusion head (the UNets frozen).

The simulated triplets, normalisation and scene-statistics jitter are the priors generator's
(:mod:`.simulate`, :mod:`.batches`); every step's batch and noise are functions of
``(seed, step)``. Stage 1 writes no checkpoints (it is the cheaper stage); ``--resume`` applies to
stage 2.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..base.errors import OptionError
from ..base.progress import Progress, no_progress
from ..physics.torch_ops import upsample_t
from .batches import batch_for_step, normalise, scene_jitter
from .simulate import Source, TripletSampler
from .train import PretrainConfig, _build_net, _lr_at, pretrain, step_seed
from .weights import torch_device

__all__ = ["CROSSDIFF_ARCH", "pretrain_crossdiff", "pretrain_pretext"]

#: The network CrossDiff trains.
CROSSDIFF_ARCH = "crossdiff"


def _check(cfg: PretrainConfig) -> None:
    if cfg.arch != CROSSDIFF_ARCH:
        raise OptionError(f"expected the {CROSSDIFF_ARCH!r} architecture for CrossDiff pretraining, got {cfg.arch!r}")


def _pretext_step(
    net: torch.nn.Module, opt: torch.optim.Optimizer, sampler: TripletSampler, cfg: PretrainConfig, step: int,
    dev: torch.device,
) -> tuple[float, float, float]:
    """One Adam step of the summed cross-prediction losses; returns (ms2pan, pan2ms, lr)."""
    b = batch_for_step(sampler, cfg.seed, step, cfg.batch)
    pan_n, ms_n, ref_n, _, _ = normalise(b)
    pan_n, ms_n, ref_n = scene_jitter(pan_n, ms_n, ref_n, sampler.settings, np.random.default_rng((cfg.seed, step, 7)))
    pan_n, ms_n, ref_n = pan_n.to(dev), ms_n.to(dev), ref_n.to(dev)
    net.reseed(step_seed(cfg.seed, step), dev)
    with torch.no_grad():
        ms_up = upsample_t(ms_n, b.ratio)
    lr = _lr_at(cfg.lr, step, cfg.steps, cfg.cosine)
    for g in opt.param_groups:
        g["lr"] = lr
    lp, lm = net.pretext_loss(pan_n, ms_up, ref_n)
    opt.zero_grad(set_to_none=True)
    (lp + lm).backward()
    opt.step()
    return float(lp.detach()), float(lm.detach()), lr


def pretrain_pretext(
    sources: list[Source | np.ndarray],
    config: PretrainConfig,
    *,
    device: torch.device | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Stage 1: train the pretext UNets of a ``crossdiff`` network (its head untouched).

    Args:
        sources: training images (as for :func:`pretrain`).
        config: ``arch`` must be ``crossdiff``; ``steps``, ``batch``, ``lr``, ``seed`` and the
            generator's settings are used.
        device: where to train; None: the CPU.
        progress: ``progress("pretext", 0, steps, {})`` at the start, then
            ``progress("pretext", step, steps, info)`` after every step, ``info`` holding
            ``loss`` (the sum), ``ms2pan``, ``pan2ms``, ``lr`` and ``seconds``.

    Returns:
        dict with ``state_dict`` (the whole network, CPU), ``losses`` (list of ``(step, ms2pan,
        pan2ms)``), ``seconds`` and ``manifest`` (the stage's facts).

    Raises:
        OptionError: another architecture, invalid sources or settings.
    """
    cfg = config
    _check(cfg)
    sampler = TripletSampler(sources, cfg.sim_settings())
    dev = torch_device(device)
    net = _build_net(cfg).to(dev)
    net.freeze_pretext(False)
    net.train()
    params = [p for m in net.pretext_modules() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    losses: list[tuple[int, float, float]] = []
    t0 = time.perf_counter()
    progress("pretext", 0, cfg.steps, {})
    for step in range(cfg.steps):
        lp, lm, lr = _pretext_step(net, opt, sampler, cfg, step, dev)
        losses.append((step + 1, lp, lm))
        info = {"loss": lp + lm, "ms2pan": lp, "pan2ms": lm, "lr": lr, "seconds": time.perf_counter() - t0}
        progress("pretext", step + 1, cfg.steps, info)
    net.freeze_pretext(True)
    seconds = time.perf_counter() - t0
    return {
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "losses": losses,
        "seconds": seconds,
        "manifest": _pretext_manifest(cfg, losses, seconds),
    }


def _pretext_manifest(cfg: PretrainConfig, losses: list[tuple[int, float, float]], seconds: float) -> dict:
    head, tail = losses[: min(len(losses), 50)], losses[-min(len(losses), 50) :]

    def mean(rows: list, k: int) -> float | None:
        return float(np.mean([r[k] for r in rows])) if rows else None

    return {
        "steps": int(cfg.steps),
        "batch": int(cfg.batch),
        "lr": float(cfg.lr),
        "seed": int(cfg.seed),
        "loss": "MSE on the noise (DDPM, cosine schedule, T = 1000, steps uniform), ms2pan + pan2ms",
        "seconds": round(seconds, 1),
        "ms2pan_first_50": mean(head, 1),
        "pan2ms_first_50": mean(head, 2),
        "ms2pan_last_50": mean(tail, 1),
        "pan2ms_last_50": mean(tail, 2),
    }


def pretrain_crossdiff(
    sources: list[Source | np.ndarray],
    config: PretrainConfig,
    pretext_steps: int,
    *,
    device: torch.device | None = None,
    resume: Any = None,
    checkpoint: Any = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Both stages: ``pretext_steps`` steps of :func:`pretrain_pretext` (skipped when resuming:
    the checkpoint holds their result), then ``config.steps`` steps of the head (:func:`pretrain`).

    Returns:
        :func:`pretrain`'s result, its manifest with a ``pretext`` entry (stage 1's facts).
    """
    _check(config)
    if pretext_steps < 0:
        raise OptionError(f"expected pretext steps >= 0, got {pretext_steps}")
    stage1: dict[str, Any] = {"state_dict": None, "manifest": {"steps": 0, "note": "resumed"}}
    if resume is None:
        stage1 = pretrain_pretext(sources, replace(config, steps=pretext_steps), device=device, progress=progress)
    res = pretrain(
        sources, config, device=device, resume=resume, checkpoint=checkpoint, progress=progress,
        init_state=stage1["state_dict"],
    )
    res["manifest"]["pretext"] = stage1["manifest"]
    res["manifest"]["training"]["loss"] = (
        "stage 2, the fusion head (pretext UNets frozen): L1 on the reference, normalised per sample"
    )
    return res
