"""The method list, defined once: the CLI builds its ``--method`` choices from it and the pipeline
dispatches through it.

A :class:`MethodSpec` names a method, says in one line what it is, whether it adapts to the scene
(then the pipeline reads a training region, loads the starting weights and passes a device) and how
to prepare its :class:`~pansharpen_cli.methods.base.Fuser`. Preparing imports the method's module
only when it runs, so listing the methods (``pansharpen --help``) stays fast (no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..base.errors import OptionError
from .base import MIN_FIT_MS_SIDE, Fuser, SceneInputs


@dataclass(frozen=True)
class MethodSpec:
    """One fusion method.

    Attributes:
        name: the ``--method`` value.
        summary: one line for help texts.
        adapts: it learns from the scene: the pipeline gives it a training region, starting
            weights (``--weights``) and a device.
        prepare: ``SceneInputs -> Fuser``.
        default_config: makes the method's default settings object (None: it has none).
        from_fit_config: makes the method's settings from the zero-shot settings the command line
            built (``--preset``, ``--iterations``, ``--seed`` ...); None: the method takes none.
        default_weights: the shipped weights file ``--weights default`` names (the zero-shot
            method's ``prior.pt`` stands for the prior of the network it builds,
            :func:`pansharpen_cli.priors.weights.shipped_name`).
        min_ms_side: the smallest MS side the method takes, in ratios (0: any size).
    """

    name: str
    summary: str
    adapts: bool
    prepare: Callable[[SceneInputs], Fuser]
    default_config: Callable[[], Any] | None = None
    from_fit_config: Callable[[Any], Any] | None = None
    default_weights: str = "prior.pt"
    min_ms_side: int = 0


def _classical(method: str, inputs: SceneInputs) -> Fuser:
    from .classical import prepare

    return prepare(method, inputs)


def _zeroshot(inputs: SceneInputs) -> Fuser:
    from .zeroshot.method import prepare

    return prepare(inputs)


def _zeroshot_config() -> Any:
    from .zeroshot.config import ZeroShotConfig

    return ZeroShotConfig()


def _same(cfg: Any) -> Any:
    return cfg


def _crossdiff(inputs: SceneInputs) -> Fuser:
    from .crossdiff.method import prepare

    return prepare(inputs)


def _crossdiff_config() -> Any:
    from .crossdiff.config import CrossDiffConfig

    return CrossDiffConfig()


def _crossdiff_from(cfg: Any) -> Any:
    from .crossdiff.config import from_zeroshot

    return from_zeroshot(cfg)


_SPECS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "zeroshot",
        "per-scene adapted network from the shipped prior (default)",
        True,
        _zeroshot,
        _zeroshot_config,
        _same,
        min_ms_side=MIN_FIT_MS_SIDE,
    ),
    MethodSpec(
        "crossdiff",
        "frozen cross-predictive diffusion features and a per-scene trained fusion head",
        True,
        _crossdiff,
        _crossdiff_config,
        _crossdiff_from,
        "crossdiff.pt",
        MIN_FIT_MS_SIDE,
    ),
    MethodSpec("exp", "upsampled MS (no sharpening), the reference point", False, partial(_classical, "exp")),
    MethodSpec("brovey", "Brovey transform (ratio of intensities)", False, partial(_classical, "brovey")),
    MethodSpec("gsa", "Gram-Schmidt adaptive (regression intensity)", False, partial(_classical, "gsa")),
    MethodSpec(
        "mtf-glp-hpm", "MTF-matched GLP, high-pass modulation", False, partial(_classical, "mtf-glp-hpm")
    ),
)

#: The default ``--method``.
DEFAULT_METHOD = "zeroshot"


def names() -> tuple[str, ...]:
    """Every method name, in display order."""
    return tuple(s.name for s in _SPECS)


def get(name: str) -> MethodSpec:
    """The spec of ``name``.

    Raises:
        OptionError: unknown name; the message lists the known ones.
    """
    for s in _SPECS:
        if s.name == name:
            return s
    raise OptionError(f"unknown method {name!r}: expected one of {', '.join(names())}")
