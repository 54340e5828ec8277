"""Where the fit's crops come from: random crops of the whole scene that skip mostly-invalid
ones, and the held-out reduced-resolution windows that pick the best network state."""

from __future__ import annotations

import numpy as np


class Sampler:
    """Random crops of a (C, H, W) set of aligned arrays, skipping mostly-invalid ones."""

    def __init__(self, h: int, w: int, size: int, valid: np.ndarray, max_invalid: float, step: int) -> None:
        self.size = size
        self.step = step  # positions are multiples of ``step``
        self.h, self.w = h, w
        self.valid = valid
        # integral image of invalid pixels for O(1) crop checks
        inv = (~valid).astype(np.int64)
        self.ii = np.pad(inv.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        self.max_bad = max_invalid * size * size

    def bad(self, r: int, c: int) -> int:
        s, ii = self.size, self.ii
        return int(ii[r + s, c + s] - ii[r, c + s] - ii[r + s, c] + ii[r, c])

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        nr = (self.h - self.size) // self.step + 1
        nc = (self.w - self.size) // self.step + 1
        best = None
        for _ in range(50):
            r = int(rng.integers(nr)) * self.step
            c = int(rng.integers(nc)) * self.step
            b = self.bad(r, c)
            if b <= self.max_bad:
                return r, c
            if best is None or b < best[0]:
                best = (b, r, c)
        return best[1], best[2]


def crop_size(crop: int, h: int, w: int, r: int) -> int:
    """Crop side: ``crop`` clipped to the image, rounded down to a multiple of ``r`` (at least ``r``)."""
    s = min(crop, h, w)
    return max(r, (s // r) * r)


def holdout_windows(
    valid: np.ndarray, size: int, fraction: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Held-out windows of the reduced-resolution pair: a random ``fraction`` of the cells of a
    grid of ``size`` x ``size`` windows that are more than half valid, at most a third of them
    (two thirds stay for training); sorted (row, col) corners. Empty when ``fraction`` is 0 or the
    pair holds too few cells (no random draw is made then)."""
    h, w = valid.shape
    if fraction <= 0:
        return []
    n_hold = int(round(fraction * h * w / (size * size)))
    grid_r = list(range(0, h - size + 1, size))
    grid_c = list(range(0, w - size + 1, size))
    cells = [(i, j) for i in grid_r for j in grid_c if valid[i : i + size, j : j + size].mean() > 0.5]
    n_hold = min(n_hold, len(cells) // 3)
    if n_hold < 1:
        return []
    pick = rng.permutation(len(cells))[:n_hold]
    return [cells[k] for k in sorted(pick)]
