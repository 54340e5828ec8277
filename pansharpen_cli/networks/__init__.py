"""Fusion networks and their registry.

Every network maps ``(pan (N, 1, H, W), ms_up (N, C, H, W), detail (N, C, H, W) or None, gains (N, C)
or None) -> fused (N, C, H, W)`` on normalised inputs, is residual on ``ms_up`` and band-agnostic (the
same weights for any C); ``detail`` and ``gains`` are the per-band PAN detail and detail gains of the
scene (:func:`pansharpen_cli.torch_ops.detail_inputs`), which a network may use or ignore. Each
instance has:

- ``arch``: its registry name;
- ``receptive_field``: the exact radius, in fine pixels, of the output's dependence on the inputs
  (zero "same" padding inside): tiles with a halo >= this equal whole-image inference;
- ``config``: the constructor kwargs, so ``build(net.arch, **net.config)`` rebuilds it.

Use :func:`build` to make one, :func:`available` to list names, :func:`register` to add one.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

#: Name of the default architecture: the network of the default ``--preset`` (methods/presets.py says
#: the same; a test holds them equal), of ``pansharpen pretrain`` and of settings that name none.
DEFAULT_ARCH = "bandwise-resnet"

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a network class to the registry under ``name`` (lower case)."""

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        key = name.lower()
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"network architecture {name!r} is already registered")
        _REGISTRY[key] = cls
        cls.arch = key
        return cls

    return deco


def available() -> list[str]:
    """Sorted names of the registered architectures."""
    return sorted(_REGISTRY)


def build(arch: str = DEFAULT_ARCH, **kwargs) -> nn.Module:
    """Instantiate a registered network.

    Args:
        arch: registry name (case-insensitive), see :func:`available`.
        **kwargs: constructor arguments (a network's ``config`` dict).

    Raises:
        ValueError: unknown ``arch``.
    """
    key = arch.lower()
    if key not in _REGISTRY:
        raise ValueError(f"expected a network architecture among {available()}, got {arch!r}")
    return _REGISTRY[key](**kwargs)


from . import bandwise as _bandwise  # noqa: E402,F401  (registers the built-in networks)
from . import crossdiff as _crossdiff  # noqa: E402,F401
from . import lite as _lite  # noqa: E402,F401

__all__ = ["DEFAULT_ARCH", "available", "build", "register"]
