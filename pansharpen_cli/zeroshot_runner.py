"""Glue between the raster pipeline and the zero-shot optimisation.

Reads the training data (the whole fused region when it is small, otherwise a mosaic of windows
spread over the scene, so memory stays bounded), loads the prior weights, runs
:func:`zeroshot.fit`, and returns a block fuser for the tile loop whose halo covers the network's
receptive field plus the cubic upsampling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .baselines import SceneStats
from .degradation import UPSAMPLE_HALO
from .io import PairReader
from .tiling import Tile, plan_tiles, spread_sample

#: Largest training region read whole, in PAN pixels (about 64 MB of float32 PAN + MS).
MAX_TRAIN_PIXELS = 2048 * 2048
#: Side of the windows of the training mosaic of larger scenes, in MS pixels.
MOSAIC_WINDOW = 128


def training_data(reader: PairReader, stats: SceneStats) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """PAN (1, H, W), MS (B, H/r, W/r) with nodata filled by the scene means, and the validity at
    PAN scale (H, W): the whole fused region, or for large scenes a square mosaic of windows of
    :data:`MOSAIC_WINDOW` MS pixels spread evenly over the scene (deterministic)."""
    g, r = reader.grid, reader.grid.ratio
    if g.height * g.width <= MAX_TRAIN_PIXELS:
        d = reader.read_all()
        info = {"region": "whole scene", "pixels": g.height * g.width}
        parts = [d]
        k = 1
    else:
        w = MOSAIC_WINDOW
        k = max(1, int(math.sqrt(MAX_TRAIN_PIXELS) // (w * r)))
        tiles = plan_tiles(g.ms_height, g.ms_width, w, 0)
        full = [t for t in tiles if t.height == w and t.width == w] or tiles
        chosen = spread_sample(full, k * k)
        k = int(math.sqrt(len(chosen)))
        chosen = chosen[: k * k]
        parts = [reader.read_tile(Tile(t.row, t.col, t.height, t.width, 0)) for t in chosen]
        info = {
            "region": f"mosaic of {k}x{k} windows of {w} MS pixels spread over the scene",
            "pixels": sum(p["pan"].size for p in parts),
        }
    rows_pan, rows_ms, rows_valid = [], [], []
    for i in range(k):
        row = parts[i * k : (i + 1) * k]
        rows_pan.append(np.concatenate([p["pan"] for p in row], axis=2))
        rows_ms.append(np.concatenate([p["ms"] for p in row], axis=2))
        rows_valid.append(
            np.concatenate(
                [p["pan_valid"] & np.repeat(np.repeat(p["ms_valid"], r, 0), r, 1) for p in row], axis=1
            )
        )
    pan = np.concatenate(rows_pan, axis=1)
    ms = np.concatenate(rows_ms, axis=1)
    valid = np.concatenate(rows_valid, axis=0)
    ms_valid = valid.reshape(ms.shape[1], r, ms.shape[2], r).all(axis=(1, 3))
    from .pipeline import _fill  # the pipeline's nodata filling (pipeline imports this module lazily)

    pan = _fill(pan, valid, np.array([stats.pan_mean]))
    ms = _fill(ms, ms_valid, stats.ms_mean)
    return pan, ms, valid, info


def load_prior(spec: str, cfg: Any) -> tuple[Any, dict | None, dict | None]:
    """The prior named by ``--weights``: (config for that network, state dict, manifest).

    ``none`` gives (cfg, None, None); otherwise the config takes the file's architecture and network
    settings, so the network built by :func:`zeroshot.fit` is the one the weights belong to.
    """
    from dataclasses import replace

    from .priors import load_weights

    res = load_weights(spec, arch=cfg.arch)
    if res is None:
        return cfg, None, None
    return replace(cfg, arch=res.arch, net_kwargs=dict(res.config)), res.state_dict, res.manifest


def prepare_zeroshot(
    reader: PairReader, rad: Any, stats: SceneStats, opts: Any, progress: Any
) -> tuple[Any, int, dict, dict]:
    """Fit the zero-shot model on the scene; return (block fuser, halo in MS pixels, report, tags)."""
    import torch

    from .zeroshot import ZeroShotConfig, fit

    device = opts.device or torch.device("cpu")
    cfg, state, manifest = load_prior(opts.weights, opts.zeroshot or ZeroShotConfig())
    pan, ms, valid, region = training_data(reader, stats)
    model = fit(
        pan,
        ms,
        reader.grid.ratio,
        rad.ms_gains,
        rad.pan_gain,
        valid=None if valid.all() else valid,
        config=cfg,
        device=device,
        init_state=state,
        progress=progress,
    )
    del pan, ms, valid
    if opts.save_model is not None:
        model.save(opts.save_model)
    r = reader.grid.ratio
    halo = int(math.ceil(model.halo / r)) + UPSAMPLE_HALO

    def fuser(pan: np.ndarray, ms: np.ndarray, ms_up: np.ndarray) -> np.ndarray:
        return model.predict_image(pan, ms_up)  # sub-tiles, and shrinks them on CUDA out-of-memory

    weights_name = opts.weights if manifest is None else f"{opts.weights} ({manifest.get('name', 'prior')})"
    report = {
        "zeroshot": model.report(),
        "training_region": region,
        "weights": opts.weights,
        "weights_manifest": manifest,
        "device": str(device),
    }
    tags = {
        "weights": weights_name,
        "iterations": cfg.iterations,
        "warmup": cfg.warmup,
        "seed": cfg.seed,
        "arch": cfg.arch,
        "device": str(device),
        "register": cfg.register,
    }
    if cfg.register:  # rows, columns, in PAN pixels: how far the PAN was moved onto the MS
        tags["registration_shift_pan_pixels"] = [round(v, 3) for v in model.shift]
    return fuser, halo, report, tags
