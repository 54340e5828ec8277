"""Training-time augmentation (``augment``): every training crop is moved by one random symmetry
of the square, the same for all of its inputs (PAN, upsampled MS, detail, reference, masks; at full
resolution the coarse MS with the fine crops), only among the flips at 4; ``--preset best`` sets 4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.methods.zeroshot.config import ZeroShotConfig, preset_config
from pansharpen_cli.methods.zeroshot.scene import prepare_scene
from pansharpen_cli.methods.zeroshot.trainer import Trainer
from pansharpen_cli.methods.zeroshot.tta import _transforms, symmetry

CPU = torch.device("cpu")
RATIO = 4


def _trainer(augment: int, seed: int = 3) -> Trainer:
    rng = np.random.default_rng(0)
    pan = (rng.random((1, 128, 128)) * 100).astype(np.float32)
    ms = (rng.random((3, 32, 32)) * 100).astype(np.float32)
    cfg = ZeroShotConfig(crop=16, batch=6, response_steps=0, register=False, augment=augment)
    s = prepare_scene(pan, ms, np.ones((128, 128), bool), RATIO, [0.3] * 3, 0.15, cfg, CPU)
    return Trainer(networks.build("bandwise-lite"), None, s, cfg, np.random.default_rng(seed), CPU)


def _which(moved: torch.Tensor, plain: torch.Tensor) -> list[int]:
    """The symmetries (indices) that take ``plain`` to ``moved``."""
    return [k for k in range(8) if torch.equal(symmetry(k)(plain), moved)]


def test_symmetry_is_the_order_of_the_test_time_passes() -> None:
    t = torch.arange(12.0).view(1, 1, 3, 4)
    for k, (fwd, _) in enumerate(_transforms(8)):
        assert torch.equal(symmetry(k)(t), fwd(t))
    assert torch.equal(symmetry(0)(t), t) and torch.equal(symmetry(4)(t), t.transpose(-1, -2))
    with pytest.raises(ValueError, match=r"symmetry index in \[0, 8\)"):
        symmetry(8)


@pytest.mark.parametrize("augment", [4, 8])
@pytest.mark.parametrize("kind", ["rr_batch", "fr_batch"])
def test_each_crop_moves_as_a_whole_and_only_by_allowed_moves(kind: str, augment: int) -> None:
    """A fresh trainer cuts its first batch where the plain one (same seed) does; each of a crop's
    tensors (at full resolution the coarse MS and masks too) is moved by one and the same
    symmetry, never a transpose at 4; the batch's crops are not all moved alike."""
    plain, moved = getattr(_trainer(1), kind)(), getattr(_trainer(augment), kind)()
    tensors = [i for i, t in enumerate(plain) if t is not None]
    found = []
    for n in range(6):
        kinds = [set(_which(moved[i][n : n + 1], plain[i][n : n + 1])) for i in tensors]
        common = set.intersection(*kinds)
        assert len(common) == 1, "the crop's tensors were not moved by one and the same symmetry"
        found.append(common.pop())
    assert all(k < augment for k in found) and len(set(found)) >= 2


def test_moves_draw_nothing_when_off_and_presets_set_it() -> None:
    tr = _trainer(1)
    state = tr.rng.bit_generator.state
    tr._moves()
    assert tr.rng.bit_generator.state == state  # augment 1: the seeded results of before
    with pytest.raises(ValueError, match="augment one of 1, 2, 4, 8"):
        ZeroShotConfig(augment=3)
    assert [preset_config(p).augment for p in ("fast", "default", "best")] == [1, 1, 4]
