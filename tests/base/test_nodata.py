"""Validity masks and nodata filling (base.nodata), the one definition every part uses."""

from __future__ import annotations

import numpy as np
import pytest

from pansharpen_cli.base.nodata import (
    block_all,
    fill_invalid,
    joint_valid,
    masked_stats,
    upscale_mask,
    valid_mask,
    within_reach,
)


def test_valid_mask_nodata_nan_and_inf() -> None:
    a = np.array([[[1.0, 0.0, np.nan, 4.0]], [[1.0, 2.0, 3.0, np.inf]]])
    assert valid_mask(a, 0.0).tolist() == [[True, False, False, False]]
    assert valid_mask(a, None).tolist() == [[True, True, False, False]]
    ints = np.array([[[0, 5, 7]]], dtype=np.uint16)
    assert valid_mask(ints, 0).tolist() == [[False, True, True]]


def test_block_all_and_upscale_mask_are_the_ms_grid_geometry() -> None:
    v = np.ones((8, 9), bool)
    v[1, 5] = False  # in coarse pixel (0, 1) at ratio 4
    b = block_all(v, 4)
    assert b.shape == (2, 2) and b.tolist() == [[True, False], [True, True]]  # the 9th column is dropped
    up = upscale_mask(b, 4)
    assert up.shape == (8, 8) and not up[:4, 4:].any() and up[:4, :4].all()
    pan_v = np.ones((8, 8), bool)
    pan_v[7, 0] = False
    j = joint_valid(pan_v, b, 4)
    assert not j[7, 0] and not j[0, 4] and j[0, 0] and j.sum() == 64 - 16 - 1


def test_fill_invalid_by_given_or_own_means() -> None:
    a = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    valid = np.array([[True, False], [True, True]])
    own = fill_invalid(a, valid)
    assert own[0, 0, 1] == pytest.approx(5 / 3) and own[1, 0, 1] == pytest.approx(17 / 3)
    given = fill_invalid(a, valid, np.array([-1.0, -2.0]))
    assert given[:, 0, 1].tolist() == [-1.0, -2.0] and a[0, 0, 1] == 1  # the input is not modified
    assert fill_invalid(a, np.ones((2, 2), bool)) is a


def test_masked_stats_population_std_and_flat_guard() -> None:
    x = np.array([[1.0, 3.0], [100.0, 5.0]])
    m = np.array([[True, True], [False, False]])
    assert masked_stats(x, m) == (2.0, 1.0)
    assert masked_stats(np.full((2, 2), 7.0), np.ones((2, 2), bool)) == (7.0, 1.0)  # std 0 -> 1
    assert masked_stats(x, np.zeros((2, 2), bool))[0] == x.mean()  # empty mask: the whole array


def test_fill_within_reach_is_the_gaussian_weighted_mean_of_the_valid_pixels() -> None:
    a = np.zeros((1, 5, 20), np.float32)
    a[0, :, :4] = np.arange(4, dtype=np.float32) + 10.0  # columns 0..3 valid: 10, 11, 12, 13
    valid = np.zeros((5, 20), bool)
    valid[:, :4] = True
    f = fill_invalid(a, valid, np.array([-1.0]), reach=8)  # a Gaussian of 1 pixel
    assert (f[0, :, :4] == a[0, :, :4]).all()  # valid pixels untouched
    for col in (4, 6):  # the valid columns weighted by their distance (every row alike)
        w = np.exp(-0.5 * (col - np.arange(4)) ** 2)
        assert f[0, 2, col] == pytest.approx((w * (np.arange(4) + 10.0)).sum() / w.sum())
    assert f[0, 2, 4] == pytest.approx(12.79, abs=0.01)  # mostly the nearest column's 13
    assert f[0, 0, 11] == pytest.approx(13.0, abs=1e-3)  # 8 pixels from column 3: still near
    assert (f[0, :, 12:] == -1.0).all()  # beyond the reach: the band value
    assert fill_invalid(a, valid, np.array([-1.0]))[0, 2, 4] == -1.0  # reach 0: band values only


def test_fill_of_a_tile_read_with_reach_more_halo_equals_the_whole_images() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 40, 40)).astype(np.float32)
    valid = rng.random((40, 40)) > 0.3
    valid[:, 17:27] = False  # a stripe wider than twice the reach
    whole = fill_invalid(a, valid, np.array([5.0, 6.0]), reach=4)
    part = fill_invalid(a[:, 6:34, 8:36], valid[6:34, 8:36], np.array([5.0, 6.0]), reach=4)
    np.testing.assert_allclose(part[:, 4:-4, 4:-4], whole[:, 10:30, 12:32], rtol=1e-6)
    assert (whole[:, 10:30, 21:23] == np.array([5.0, 6.0])[:, None, None]).all()  # stripe centre: far


def test_within_reach_is_the_data_and_the_nodata_filled_from_it() -> None:
    valid = np.zeros((3, 12), bool)
    valid[:, 0] = True
    near = within_reach(valid, 4)
    assert near[:, :5].all() and not near[:, 5:].any()  # 4 pixels from column 0, no farther
    assert within_reach(valid, 0).tolist() == valid.tolist()
    filled = fill_invalid(np.ones((1, 3, 12)), valid, np.array([7.0]), reach=4)
    assert (filled[0][near] == 1.0).all() and (filled[0][~near] == 7.0).all()
