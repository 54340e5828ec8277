"""The square's symmetries: test-time augmentation (the network's output averaged over flips and
transposes of its input) and the moves of the training crops (:func:`symmetry`, ``augment``).

A convolutional network is not equivariant to the eight symmetries of the square (the dihedral
group D4): a fitted one fuses a flipped scene a little differently. Averaging the ``count`` first
of them (1: the plain pass; 2: and the left-right flip; 4: all flips; 8: with the transposes),
each undone on the output, is an ensemble for the price of ``count`` forward passes and no
training. The per-band detail gains are per band, not per pixel, and pass unchanged. Measured on
the development bench (docs/methods.md): over a fit on unmoved crops it adds Q2n on most scenes and
costs a Landsat-7 SLC-off scene, whose gaps run one way; over a fit on flipped crops (``--preset
best``) the 4 flips add Q2n on every scene.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: The values the ``tta`` setting may take.
COUNTS = (1, 2, 4, 8)

_Op = Callable[[torch.Tensor], torch.Tensor]


def _flip(dims: tuple[int, ...]) -> _Op:
    return (lambda t: t.flip(dims)) if dims else (lambda t: t)


def _transforms(count: int) -> list[tuple[_Op, _Op]]:
    """(forward, inverse) pairs of the first ``count`` symmetries."""
    flips = [_flip(d) for d in ((), (-1,), (-2,), (-1, -2))]
    pairs = [(f, f) for f in flips]  # a flip is its own inverse
    for f in flips:  # transpose then flip; undone by the flip then the transpose
        pairs.append((lambda t, f=f: f(t.transpose(-1, -2)), lambda t, f=f: f(t).transpose(-1, -2)))
    return pairs[:count]


_SYMMETRIES = tuple(fwd for fwd, _ in _transforms(8))


def symmetry(k: int) -> _Op:
    """The ``k``-th symmetry of the square (0: identity; 1-3 the flips; 4-7 with a transpose), the
    order :func:`dihedral_mean` uses."""
    if not 0 <= k < 8:
        raise ValueError(f"expected a symmetry index in [0, 8), got {k}")
    return _SYMMETRIES[k]


def dihedral_mean(net: Callable[..., torch.Tensor], count: int, *images: torch.Tensor, **kwargs) -> torch.Tensor:
    """``net(*images, **kwargs)`` averaged over the first ``count`` symmetries (:data:`COUNTS`).

    ``images`` are (N, C, H, W) tensors moved together; a trailing (N, C) tensor (the gains) is
    passed as it is. ``count`` 1 is the plain call.
    """
    if count not in COUNTS:
        raise ValueError(f"expected a test-time augmentation count among {COUNTS}, got {count}")
    if count == 1:
        return net(*images, **kwargs)
    total = None
    for fwd, inv in _transforms(count):
        moved = [fwd(t).contiguous() if t.dim() == 4 else t for t in images]
        y = inv(net(*moved, **kwargs))
        total = y if total is None else total.add_(y)
    return total.div_(count)
