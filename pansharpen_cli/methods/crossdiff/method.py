"""CrossDiff behind the pipeline's contract: the zero-shot fit (stages, losses, hold-out selection,
registration, tiled inference) of the ``crossdiff`` network from the shipped pretext UNets and head,
with the optional pretext adaptation before it."""

from __future__ import annotations

from dataclasses import replace

from ..base import Fuser, SceneInputs
from ..zeroshot.method import prepare as prepare_fit
from .adapt import pretext_adapter
from .config import CrossDiffConfig

_RANDOM = (
    "CrossDiff without pretrained pretext UNets (--weights none): their features are those of random "
    "networks; use the shipped weights (--weights default) for the method as published"
)


def prepare(inputs: SceneInputs) -> Fuser:
    """Fit the CrossDiff head on ``inputs.training`` (the config a :class:`CrossDiffConfig`).

    Raises:
        ValueError: no training region, or a config for another network.
    """
    cfg = inputs.config or CrossDiffConfig()
    if not isinstance(cfg, CrossDiffConfig):
        raise ValueError(f"expected a CrossDiffConfig, got {type(cfg).__name__}")
    fuser = prepare_fit(replace(inputs, config=cfg), name="crossdiff", pre_adapt=pretext_adapter(cfg))
    if inputs.weights is None or inputs.weights.state_dict is None:
        fuser.warnings.append(_RANDOM)
    fuser.tags["pretext_steps"] = cfg.pretext_steps
    return fuser
