"""Training-time augmentation (``augment``): every training crop is moved by one random symmetry
of the square, the same for all of its inputs (PAN, upsampled MS, detail, reference, masks; at full
resolution the coarse MS with the fine crops), only among the flips at 4; ``--preset best`` sets 4,
and the default does (with ``tta`` 4) where the fit holds no window out (``small_flips``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.methods.zeroshot.config import ZeroShotConfig, preset_config
from pansharpen_cli.methods.zeroshot.fit import fit
from pansharpen_cli.methods.zeroshot.scene import prepare_scene
from pansharpen_cli.methods.zeroshot.trainer import Trainer
from pansharpen_cli.methods.zeroshot.tta import _transforms, symmetry

CPU = torch.device("cpu")
RATIO = 4


def _trainer(augment: int, seed: int = 3, side: int = 128, **kw) -> Trainer:
    rng = np.random.default_rng(0)
    pan = (rng.random((1, side, side)) * 100).astype(np.float32)
    ms = (rng.random((3, side // RATIO, side // RATIO)) * 100).astype(np.float32)
    cfg = ZeroShotConfig(crop=16, batch=6, response_steps=0, register=False, augment=augment, **kw)
    s = prepare_scene(pan, ms, np.ones((side, side), bool), RATIO, [0.3] * 3, 0.15, cfg, CPU)
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


def test_a_fit_that_holds_no_window_out_takes_the_small_flips() -> None:
    """The 32^2 reduced-resolution pair of a 128^2 scene holds no 16^2 window out (a tenth of it is
    not one window): ``small_flips`` raises ``augment`` and ``tta``, never lowers them; a pair
    large enough for hold-out windows keeps its settings; the presets: the default 4, fast 1."""
    small = _trainer(1, small_flips=4)
    assert not small.hold and (small.cfg.augment, small.cfg.tta) == (4, 4)
    state = small.rng.bit_generator.state
    small._moves()
    assert small.rng.bit_generator.state != state  # the moves are drawn
    assert _trainer(1).cfg.augment == 1  # small_flips 1 (the config's default): no change
    kept = _trainer(8, small_flips=4, tta=8)
    assert (kept.cfg.augment, kept.cfg.tta) == (8, 8)
    large = _trainer(1, side=512, small_flips=4)
    assert large.hold and (large.cfg.augment, large.cfg.tta) == (1, 1)
    assert [preset_config(p).small_flips for p in ("fast", "default", "best")] == [1, 4, 4]
    with pytest.raises(ValueError, match="small_flips one of 1, 2, 4, 8"):
        ZeroShotConfig(small_flips=3)


def test_the_fitted_model_and_its_report_carry_the_flips_used() -> None:
    rng = np.random.default_rng(1)
    pan = (rng.random((1, 128, 128)) * 100).astype(np.float32)
    ms = (rng.random((3, 32, 32)) * 100).astype(np.float32)
    cfg = ZeroShotConfig(crop=16, batch=2, warmup=1, iterations=2, response_steps=0, small_flips=4)
    model = fit(pan, ms, RATIO, [0.3] * 3, 0.15, config=cfg)
    assert (model.config.augment, model.config.tta) == (4, 4)
    rep = model.report()
    assert rep["holdout"]["windows"] == 0 and (rep["settings"]["augment"], rep["settings"]["tta"]) == (4, 4)
    assert cfg.augment == 1 and cfg.tta == 1  # the caller's config is not changed
