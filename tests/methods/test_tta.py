"""Test-time augmentation (``tta``): every symmetry is undone on the output, the mean over the eight
is equivariant, the setting is checked, and ``--preset best`` uses it through the fitted model."""

from __future__ import annotations

import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.methods.zeroshot.config import ZeroShotConfig, preset_config
from pansharpen_cli.methods.zeroshot.tta import COUNTS, dihedral_mean


def _inputs(h: int = 13, w: int = 11) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    return (torch.randn(1, 1, h, w, generator=g), torch.randn(1, 3, h, w, generator=g),
            torch.randn(1, 3, h, w, generator=g), torch.rand(1, 3, generator=g))


@pytest.mark.parametrize("count", COUNTS)
def test_each_symmetry_is_undone(count: int) -> None:
    p, x, d, g = _inputs()
    seen = []

    def net(p_, x_, d_, g_):  # returns its MS input: the mean of the undone outputs is the MS itself
        seen.append(tuple(x_.shape[-2:]))
        assert torch.equal(g_, g)  # per-band gains pass unchanged
        return x_ + 0.0

    torch.testing.assert_close(dihedral_mean(net, count, p, x, d, g), x, rtol=0, atol=1e-6)
    assert len(seen) == count and ((11, 13) in seen) == (count == 8)  # the transposes, only at 8


def test_the_mean_over_eight_is_equivariant() -> None:
    """A fitted network is not equivariant; its mean over the eight symmetries is."""
    net = networks.build("bandwise-resnet")
    with torch.no_grad():
        for q in net.parameters():
            q.normal_(0, 0.2)
    net.eval()
    p, x, d, g = _inputs(12, 12)
    with torch.no_grad():
        plain = net(p, x, d, g)
        assert not torch.allclose(net(*(t.flip(-1) for t in (p, x, d)), g).flip(-1), plain, atol=1e-4)
        y = dihedral_mean(net, 8, p, x, d, g)
        for move in (lambda t: t.flip(-1), lambda t: t.transpose(-1, -2), lambda t: t.rot90(1, (-2, -1))):
            torch.testing.assert_close(dihedral_mean(net, 8, *(move(t) for t in (p, x, d)), g), move(y))


def test_the_setting_is_checked_and_best_sets_it() -> None:
    with pytest.raises(ValueError, match="tta one of 1, 2, 4, 8"):
        ZeroShotConfig(tta=3)
    with pytest.raises(ValueError, match="expected a test-time augmentation count"):
        dihedral_mean(lambda *a: a[1], 5, *_inputs())
    assert (preset_config("fast").tta, preset_config("default").tta, preset_config("best").tta) == (1, 1, 4)


def test_the_fitted_model_averages_its_passes() -> None:
    """``tta`` 8 in the fitted model: the mean of the plain model's fusions of the eight moved
    scenes, each moved back (the PAN detail, a symmetric low-pass, moves with the scene)."""
    import numpy as np

    from pansharpen_cli.methods import zeroshot
    from pansharpen_cli.physics.degradation import upsample

    rng = np.random.default_rng(0)
    pan = rng.random((1, 48, 48)).astype(np.float32) * 100
    ms = rng.random((3, 12, 12)).astype(np.float32) * 100
    cfg = ZeroShotConfig(iterations=0, warmup=0, register=False, response_steps=0)
    model = zeroshot.fit(pan, ms, 4, [0.3] * 3, 0.15, config=cfg, device=torch.device("cpu"))
    with torch.no_grad():
        for q in model.net.parameters():
            q.normal_(0, 0.2, generator=torch.Generator().manual_seed(2))
    ms_up = upsample(ms, 4).astype(np.float32)
    moves = [(lambda a, k=k, t=t: np.rot90(a.swapaxes(-1, -2) if t else a, k, (-2, -1)).copy(),
              lambda a, k=k, t=t: (lambda b: b.swapaxes(-1, -2) if t else b)(np.rot90(a, -k, (-2, -1))).copy())
             for t in (0, 1) for k in range(4)]
    plain = [back(model.predict(move(pan), move(ms_up))) for move, back in moves]
    model.config.tta = 8
    mean, scale = np.mean(plain, axis=0), float(np.abs(plain[0]).mean())
    torch.testing.assert_close(torch.from_numpy(model.predict(pan, ms_up)), torch.from_numpy(mean),
                               rtol=1e-5, atol=1e-5 * scale)  # float noise of the random weights' large outputs
    assert np.abs(plain[0] - mean).max() > scale  # the passes differ far beyond that
