import math

import numpy as np
import pytest

from pansharpen_cli.physics import degradation as dg
from pansharpen_cli.physics.degradation import (
    mtf_degrade,
    mtf_filter,
    mtf_sigma,
    mtf_taps,
    upsample,
    wald_pair,
)


@pytest.mark.parametrize("ratio", [2, 3, 4])
def test_decimation_samples_the_centre_of_coarse_pixels(ratio):
    # A linear ramp is unchanged by a symmetric low-pass, so the samples read off their positions.
    ramp = np.tile(np.arange(40 * ratio, dtype=float), (40 * ratio, 1))[None]
    d = mtf_degrade(ramp, [0.3], ratio)
    i = np.arange(12, 28)
    np.testing.assert_allclose(d[0, 20, 12:28], ratio * i + (ratio - 1) / 2, atol=1e-3)


@pytest.mark.parametrize("ratio", [2, 3, 4])
def test_upsampling_uses_the_same_geometry(ratio):
    coarse = np.tile(np.arange(40, dtype=float), (40, 1))[None]
    up = upsample(coarse, ratio)
    k = np.arange(10 * ratio, 30 * ratio)
    np.testing.assert_allclose(up[0, 20, k], (k - (ratio - 1) / 2) / ratio, atol=1e-5)
    # degrade(upsample(x)) of a ramp gives the ramp back: no slip between the two.
    back = mtf_degrade(up, [0.3], ratio)
    np.testing.assert_allclose(back[0, 20, 12:28], np.arange(12, 28), atol=1e-3)


def test_mtf_gain_at_nyquist():
    ratio, gain = 4, 0.3
    assert mtf_sigma(gain, ratio) == pytest.approx(1.976, abs=1e-3)
    taps = mtf_taps(gain, ratio)
    assert taps.sum() == pytest.approx(1.0)
    n = np.arange(taps.size) - taps.size // 2
    response = abs(np.sum(taps * np.exp(-2j * np.pi * n * (0.5 / ratio))))
    assert response == pytest.approx(gain, abs=0.01)


def test_filters_preserve_constants_and_shapes():
    x = np.full((3, 64, 48), 7.0)
    assert np.allclose(mtf_filter(x, [0.3, 0.2, 0.4], 4), 7.0, atol=1e-4)
    d = mtf_degrade(x, [0.3, 0.2, 0.4], 4)
    assert d.shape == (3, 16, 12) and np.allclose(d, 7.0, atol=1e-4)
    assert upsample(d, 4).shape == (3, 64, 48)
    pr, mr = wald_pair(np.ones((1, 64, 64)), np.ones((3, 16, 16)), 4, [0.3] * 3, 0.15)
    assert pr.shape == (1, 16, 16) and mr.shape == (3, 4, 4)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="expected a Nyquist gain"):
        mtf_sigma(1.5, 4)
    with pytest.raises(ValueError, match="expected 2 gains"):
        mtf_filter(np.ones((2, 8, 8)), [0.3], 4)


def test_detail_gains_tell_covered_from_uncovered_bands():
    import torch

    from pansharpen_cli.physics.torch_ops import detail_gains

    g = torch.Generator().manual_seed(0)
    pan = torch.randn(1, 1, 40, 40, generator=g)
    other = torch.randn(1, 1, 40, 40, generator=g)
    ms = torch.cat([pan, 0.5 * pan + 3.0, other, -pan, torch.zeros_like(pan)], 1)
    gains = detail_gains(pan, ms)[0]
    assert gains.shape == (5,)
    assert abs(gains[0] - 1) < 1e-5 and abs(gains[1] - 0.5) < 1e-5 and abs(gains[3] + 1) < 1e-5
    assert abs(gains[2]) < 0.15 and gains[4] == 0
    valid = torch.ones(1, 1, 40, 40)
    valid[..., :20, :] = 0
    ms2 = ms.clone()
    ms2[:, 0, :20] = 100.0 * torch.randn(20, 40, generator=g)  # garbage where invalid is ignored
    assert abs(detail_gains(pan, ms2, valid)[0, 0] - 1) < 1e-5
    assert torch.equal(detail_gains(torch.zeros_like(pan), ms), torch.zeros(1, 5))


@pytest.mark.parametrize("ratio", [2, 3, 4])
def test_pan_detail_is_exact_inside_its_halo(ratio):
    import torch

    from pansharpen_cli.physics.torch_ops import detail_halo, pan_detail_t

    r = ratio
    n = 24 * r
    pan = torch.randn(1, 1, n, n, generator=torch.Generator().manual_seed(ratio), dtype=torch.float64)
    gains = [0.3, 0.25, 0.3]
    whole = pan_detail_t(pan, gains, r)
    assert whole.shape == (1, 3, n, n)
    # constants carry no detail
    torch.testing.assert_close(pan_detail_t(torch.full_like(pan, 7.0), gains, r), torch.zeros_like(whole))
    h = -(-detail_halo(r) // r) * r  # halo rounded up to whole MS pixels
    a, b = h, n - h  # interior
    if b - a >= r:
        part = pan_detail_t(pan[..., a - h : b + h, a - h : b + h], gains, r)
        torch.testing.assert_close(part[..., h:-h, h:-h], whole[..., a:b, a:b])
    with pytest.raises(ValueError, match="multiples of the ratio"):
        pan_detail_t(pan[..., :-1, :], gains, r)


def _plain_degrade(img, gain, r):
    """The direct form of mtf_degrade (one strided multiply-add per tap): the blocked one must
    give the same bits."""
    half, o = dg.kernel_half_width(r), dg.decimate_offset(r)
    h, w, pad = img.shape[1] // r, img.shape[2] // r, half + 1
    taps = dg.mtf_taps(gain, r, shifted=(r % 2 == 0))
    x = np.pad(np.asarray(img[0], np.float64)[: h * r, : w * r], pad, mode="symmetric")
    rows = np.zeros((h, x.shape[1]))
    for j, t in enumerate(taps):
        rows += t * x[pad + o - half + j : pad + o - half + j + r * h : r]
    cols = np.zeros((h, w))
    for j, t in enumerate(taps):
        cols += t * rows[:, pad + o - half + j : pad + o - half + j + r * w : r]
    return cols.astype(np.float32)[None]


def _plain_upsample_axis(x, r, axis):
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(3, 3)], mode="symmetric")
    out = np.empty(x.shape[:-1] + (n * r,))
    for p in range(r):
        d = (p - (r - 1) / 2) / r
        base = math.floor(d)
        acc = 0.0
        for j in range(-1, 3):
            acc = acc + float(dg.keys_kernel(np.array(d - base - j))) * xp[..., 3 + base + j : 3 + base + j + n]
        out[..., p::r] = acc
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize(("shape", "ratio"), [((3, 70, 45), 4), ((1, 37, 51), 3), ((2, 20, 30), 2), ((1, 5, 9), 5)])
def test_blocked_filters_give_the_bits_of_the_direct_sums(shape, ratio):
    rng = np.random.default_rng(3)
    ms = (rng.random(shape) * 2000 - 100).astype(np.float32)
    want = _plain_upsample_axis(_plain_upsample_axis(ms.astype(np.float64), ratio, 1), ratio, 2).astype(np.float32)
    assert np.array_equal(dg.upsample(ms, ratio).view(np.uint32), want.view(np.uint32))
    pan = (rng.random((1, shape[1] * ratio, shape[2] * ratio)) * 2000).astype(np.float32)
    got = dg.mtf_degrade(pan, [0.3], ratio)
    assert np.array_equal(got.view(np.uint32), _plain_degrade(pan, 0.3, ratio).view(np.uint32))
