import numpy as np
import pytest

from pansharpen_cli.degradation import mtf_degrade, mtf_filter, mtf_sigma, mtf_taps, upsample, wald_pair


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
