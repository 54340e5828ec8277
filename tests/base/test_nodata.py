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
