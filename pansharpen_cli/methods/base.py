"""The contract between the pipeline and a fusion method: arrays in, a :class:`Fuser` out.

The pipeline reads the scene (statistics pass, and for methods that adapt to it a training
region), loads the weights a method starts from, and hands all of it over as
:class:`SceneInputs`. A method's ``prepare`` turns them into a :class:`Fuser`: the function that
fuses one tile (with its halo), the halo it needs, and what to report and tag. Methods never read
files, never print and never pick a device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base.progress import Progress, no_progress
from .stats import SceneStats

if TYPE_CHECKING:
    import torch

#: Fuse one tile: ``(pan (1, H, W), ms (B, H/r, W/r), ms_up (B, H, W)) -> (B, H, W) float32``, raw
#: units, nodata already filled; the arrays include the halo. Only the core (the arrays less the
#: :attr:`Fuser.halo`) of the result is used: a method may leave the halo's pixels unset (0).
#: ``ms_up`` is None for a Fuser that is not :attr:`Fuser.upsampled`.
BlockFn = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
#: A positional fuser's tile function: the arrays, then the PAN-grid ``(row, column)`` of their first
#: pixel (halo included; negative in the symmetric padding of the scene's top and left edges).
PlacedBlockFn = Callable[[np.ndarray, np.ndarray, np.ndarray | None, tuple[int, int]], np.ndarray]
#: The smallest MS side, in ratios, of the methods that fit on the scene's reduced-resolution pair
#: (the MS decimated by the ratio: it needs 2 pixels a side).
MIN_FIT_MS_SIDE = 2


@dataclass
class TrainingData:
    """The region of the scene a method adapts to, nodata filled by the scene means.

    Attributes:
        pan: (1, H, W) float32 PAN, raw units.
        ms: (B, H/r, W/r) float32 MS, raw units.
        valid: (H, W) bool, True where PAN and MS both hold data.
        info: how the region was chosen (for the report).
    """

    pan: np.ndarray
    ms: np.ndarray
    valid: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class StartWeights:
    """The weights a learned method starts from, as loaded (and verified) by the pipeline.

    Attributes:
        spec: what the user asked for (``default``, ``none`` or a path).
        state_dict: the network's state dict, or None for ``none`` (random init).
        manifest: the weights' manifest (``arch``, ``config``, ``name`` ...), or None.
    """

    spec: str = "none"
    state_dict: dict[str, torch.Tensor] | None = None
    manifest: dict[str, Any] | None = None


@dataclass
class SceneInputs:
    """Everything a method may use to prepare the fusion of one scene.

    Attributes:
        ratio: integer PAN/MS ratio.
        ms_gains: Nyquist MTF gains of the MS bands.
        pan_gain: Nyquist MTF gain of the PAN.
        stats: scene statistics (:class:`SceneStats`).
        config: the method's settings object (e.g. ``ZeroShotConfig``), None for its defaults.
        training: the training region, for methods whose spec says ``adapts``.
        weights: the starting weights, for methods whose spec says ``adapts``.
        device: the torch device chosen by the caller (None: CPU).
        progress: the progress callback.
    """

    ratio: int
    ms_gains: tuple[float, ...]
    pan_gain: float
    stats: SceneStats
    config: Any = None
    training: TrainingData | None = None
    weights: StartWeights | None = None
    device: torch.device | None = None
    progress: Progress = no_progress


@dataclass
class Fuser:
    """A prepared fusion, applied by the pipeline tile by tile.

    Attributes:
        fuse: the tile function (:data:`BlockFn`; :data:`PlacedBlockFn` when ``positional``).
        halo: context each tile needs on every side, in MS pixels.
        parallel: whether tiles may be fused by several threads at once (numpy code that releases
            the GIL; torch methods use torch's own threads instead).
        report: JSON-ready facts for ``--report``.
        tags: extra entries of the output's ``PANSHARPEN_PARAMETERS`` tag.
        notes: what the user may like to know (``-v``).
        warnings: what the user should know.
        save_model: writes the adapted model to a path (``--save-model``); None for methods
            without one.
        positional: ``fuse`` takes the tile's origin (a method whose result depends on where a
            pixel is, like CrossDiff's seeded noise, and still must not depend on the tiling).
        upsampled: ``fuse`` is given the MS upsampled by the pipeline (:func:`degradation.upsample`);
            False: it is given None there and upsamples the MS itself (the torch methods, on their
            device).
    """

    fuse: BlockFn
    halo: int
    parallel: bool = False
    report: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    save_model: Callable[[Path], None] | None = None
    positional: bool = False
    upsampled: bool = True
