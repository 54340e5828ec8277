"""Pretrained spatial-spectral priors: simulated training data, pretraining, weights files.

After Cui, Liu and Zeng's pretrained priors for zero-shot pansharpening (DESIGN.md section 4, "the
same probe with a prior"): a band-agnostic network is trained once on simulated (PAN, MS, reference)
triplets made from ordinary images, then used as the starting point of the per-scene optimisation.

- :mod:`.settings`: :class:`SimSettings`, the generator's settings.
- :mod:`.simulate`: :class:`TripletSampler`, :func:`iter_triplets`: simulated triplets from source
  objects (``.name``, ``.load()``; see :func:`pansharpen_cli.io.sources.resolve_sources`) or arrays.
- :mod:`.batches`: :func:`batched`, :func:`normalise`, :func:`scene_jitter`.
- :mod:`.train`: :class:`PretrainConfig`, :func:`pretrain` (resumable checkpoints).
- :mod:`.weights`: :func:`save_weights`, :func:`load_weights`, :func:`load_network`, the shipped
  prior (:func:`default_weights_path`).

Priors read no raster or image files (the pipeline does, through :mod:`pansharpen_cli.io`), pick no
device (they are handed a ``torch.device``) and never print: progress goes through the one
:data:`~pansharpen_cli.base.progress.Progress` callback, logs through :mod:`logging`.
"""

from __future__ import annotations

from .batches import Batch, batch_for_step, batched, normalise, scene_jitter
from .settings import SimSettings
from .simulate import SCALE_PERCENTILES, Source, Triplet, TripletSampler, iter_triplets
from .train import PRETRAIN_MS_GAIN, PretrainConfig, pretrain
from .weights import (
    WEIGHTS_FORMAT,
    Weights,
    default_manifest_path,
    default_weights_path,
    load_network,
    load_weights,
    save_weights,
    sha256_file,
)

__all__ = [
    "PRETRAIN_MS_GAIN",
    "SCALE_PERCENTILES",
    "WEIGHTS_FORMAT",
    "Batch",
    "PretrainConfig",
    "SimSettings",
    "Source",
    "Triplet",
    "TripletSampler",
    "Weights",
    "batch_for_step",
    "batched",
    "default_manifest_path",
    "default_weights_path",
    "iter_triplets",
    "load_network",
    "load_weights",
    "normalise",
    "pretrain",
    "save_weights",
    "scene_jitter",
    "sha256_file",
]
