"""The zero-shot method behind the pipeline's contract: fit on the training region the pipeline
read, from the weights it loaded, and return a tiled :class:`~pansharpen_cli.methods.base.Fuser`
whose halo covers the network's receptive field, the PAN detail and the cubic upsampling."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...base.nodata import within_reach
from ...physics.degradation import UPSAMPLE_HALO
from ...physics.registration import describe
from ..base import Fuser, SceneInputs, StartWeights
from .config import ZeroShotConfig
from .fit import PreAdapt, fit
from .model import ZeroShotModel


def config_for_weights(cfg: ZeroShotConfig, weights: StartWeights | None) -> ZeroShotConfig:
    """The config whose network is the one the weights belong to (their arch and settings); without
    weights, the one ``cfg`` names (its default when it names none)."""
    if weights is None or weights.manifest is None or weights.state_dict is None:
        return replace(cfg, arch=cfg.net_arch)
    man = weights.manifest
    return replace(cfg, arch=man["arch"], net_kwargs=dict(man["config"]))


def unverified(weights: StartWeights) -> str | None:
    """The warning for starting weights loaded without a manifest (None: verified, or no weights)."""
    man = weights.manifest
    if man is None or man.get("verified", True):
        return None
    path = Path(man.get("path", weights.spec))
    return (
        f"weights file {str(path)!r} has no manifest ({path.with_suffix('.json').name}): loaded unverified, "
        f"without a sha256 check or a record of how it was made (architecture {man['arch']!r} read from the "
        "file); make one by saving it with pansharpen_cli.priors.save_weights, as `pansharpen pretrain` does"
    )


def _tags(
    cfg: ZeroShotConfig, model: ZeroShotModel, weights: StartWeights, report: dict[str, Any], name: str
) -> dict[str, Any]:
    """The entries of the output's PANSHARPEN_PARAMETERS tag; ``threads`` (torch's, which the
    result depends on: same seed, device and threads, same output) also as PANSHARPEN_THREADS.

    ``iterations`` and ``warmup`` are the steps really run; ``*_requested`` the configured budget
    (``--iterations``, ``--warmup`` or the preset's, stated for 8 bands); ``iterations_planned``
    that budget scaled to the scene's bands and size, which early stopping may cut short."""
    man = weights.manifest
    steps = report[name]["steps"]
    tags: dict[str, Any] = {
        "weights": weights.spec if man is None else f"{weights.spec} ({man.get('name', 'prior')})",
        "iterations": steps["train_run"],
        "warmup": steps["warmup"],
        "iterations_requested": cfg.iterations,
        "iterations_planned": steps["train"],
        "warmup_requested": cfg.warmup,
        "stopped_early": steps["stopped_early"],
        "seed": cfg.seed,
        "arch": cfg.net_arch,
        "device": report["device"],
        "threads": report["threads"],
        "register": cfg.register,
        # as used: a fit that held no window out raised both to ``small_flips`` (the default: 4)
        "tta": model.config.tta,  # forward passes averaged over the square's symmetries (--preset best: 4)
        "augment": model.config.augment,  # training crops moved by one of this many symmetries
    }
    if cfg.register:
        # rows, columns, in PAN pixels: the residual shift that moves the PAN onto the MS; with
        # align "pan" the MS was moved by minus it (moving the output by it gives the MS's geometry)
        tags["registration_shift_pan_pixels"] = [round(v, 3) for v in model.shift]
        tags["align"] = model.align
    return tags


def _fuser(model: ZeroShotModel, ratio: int, report: dict[str, Any], tags: dict[str, Any]) -> Fuser:
    """The fitted model as the pipeline's Fuser: it upsamples the MS itself (in torch) and runs
    the network on each tile's core only (the halo feeds the PAN detail)."""
    halo = int(math.ceil(model.halo / ratio)) + UPSAMPLE_HALO
    margin = halo * ratio  # the tile's halo, fine pixels: the pipeline keeps only the core

    def run(pan: np.ndarray, ms: np.ndarray, ms_up: None, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        # sub-tiles of the core, shrunk on CUDA out-of-memory
        return model.predict_coarse(pan, ms, origin=origin, margin=margin)

    positional = bool(getattr(model.net, "positional", False))
    return Fuser(
        fuse=run,
        halo=halo,
        report=report,
        tags=tags,
        save_model=model.save,
        positional=positional,
        upsampled=False,
    )


#: How far beyond the data, in MS pixels, the fit learns from the nodata filled from it
#: (:func:`learnable`): as far as a network reads across the edge of the data (its receptive field,
#: 8 PAN pixels, is 2 MS pixels at ratio 4), past the registration's erosion of the mask.
LEARN_REACH = 2


def learnable(valid: np.ndarray, ratio: int) -> np.ndarray:
    """The (H, W) pixels the fit learns from: the data and the nodata within :data:`LEARN_REACH`
    MS pixels of it (filled from the data, :func:`pansharpen_cli.base.nodata.fill_invalid`), so
    the data next to a gap trains in the context it is fused in, filled nodata in the network's
    view, even where the registration erodes the mask; the nodata farther teaches nothing
    (docs/methods.md, "Nodata")."""
    return within_reach(valid, LEARN_REACH * ratio)


def prepare(inputs: SceneInputs, name: str = "zeroshot", pre_adapt: PreAdapt | None = None) -> Fuser:
    """Fit the zero-shot model on ``inputs.training`` and wrap it as a Fuser.

    Args:
        inputs: the scene; ``inputs.config`` a :class:`ZeroShotConfig` (or a subclass).
        name: the method's name (the report's key for the fit).
        pre_adapt: passed to :func:`fit` (CrossDiff adapts its pretext UNets there).

    Raises:
        ValueError: no training region given (the pipeline gives one to methods that adapt).
    """
    import torch

    if inputs.training is None:
        raise ValueError(f"expected a training region for the {name} method, got none")
    device = inputs.device or torch.device("cpu")
    weights = inputs.weights or StartWeights()
    cfg = config_for_weights(inputs.config or ZeroShotConfig(), weights)
    t = inputs.training
    model = fit(
        t.pan,
        t.ms,
        inputs.ratio,
        inputs.ms_gains,
        inputs.pan_gain,
        valid=None if t.valid.all() else learnable(t.valid, inputs.ratio),
        config=cfg,
        device=device,
        init_state=weights.state_dict,
        progress=inputs.progress,
        pre_adapt=pre_adapt,
    )
    report = {
        name: model.report(),
        "training_region": t.info,
        "weights": weights.spec,
        "weights_manifest": weights.manifest,
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    fuser = _fuser(model, inputs.ratio, report, _tags(cfg, model, weights, report, name))
    fuser.warnings += [w for w in (unverified(weights),) if w]
    said = describe(report[name].get("registration"), model.align)
    if said is not None:
        (fuser.warnings if said[1] else fuser.notes).append(said[0])
    return fuser
