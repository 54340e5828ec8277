"""The display product's numerics: band roles from names and sensors, the stretch."""

from __future__ import annotations

import numpy as np
import pytest

from pansharpen_cli.base.errors import OptionError, UsageError
from pansharpen_cli.physics.display import (
    Stretch,
    apply_stretch,
    band_roles,
    parse_bands,
    parse_percentiles,
    roles_from_names,
    roles_from_sensor,
    stretch_limits,
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Coastal Blue", "Blue", "Green", "Yellow", "Red", "Red Edge", "NIR1", "NIR2"], (5, 3, 2)),
        (["red", "green", "blue"], (1, 2, 3)),
        (["B", "G", "R", "NIR"], (3, 2, 1)),
        (["Band 2 (blue, 450-510 nm)", "green band", "RED", "near infrared"], (3, 2, 1)),
        (["B2", "B3", "B4", "B5"], None),  # band names, not colours
        (["red", "red", "green", "blue"], None),  # two reds: ambiguous
        (["red edge", "green", "blue"], None),
        ([None, None, None], None),
    ],
)
def test_roles_from_names(names, expected) -> None:
    assert roles_from_names(names) == expected


def test_roles_from_sensor() -> None:
    assert roles_from_sensor("wv3", 8) == (5, 3, 2)
    assert roles_from_sensor("worldview-2", 4) == (3, 2, 1)
    assert roles_from_sensor("l8", 4) == (3, 2, 1)
    assert roles_from_sensor("wv3", 5) is None
    assert roles_from_sensor("generic", 4) is None
    assert roles_from_sensor("no-such-sensor", 4) is None
    assert roles_from_sensor(None, 4) is None


def test_band_roles_order_and_refusal() -> None:
    names = ["blue", "green", "red", "nir"]
    assert band_roles(4, "4,3,2", names, (), "qb").source == "--bands"
    assert band_roles(4, None, names, (), "wv3").bands == (3, 2, 1)
    got = band_roles(3, None, [None] * 3, ["red", "green", "blue"], None)
    assert (got.bands, got.source) == ((1, 2, 3), "the colour interpretation")
    with pytest.raises(OptionError, match="pass --bands R,G,B"):
        band_roles(4, None, [None] * 4, ["gray"] + ["undefined"] * 3, "generic")
    with pytest.raises(OptionError, match="the file has 4 bands"):
        band_roles(4, "5,3,2")


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "0,1,2", "1,2,3,4", ""])
def test_parse_bands_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="expected three band numbers"):
        parse_bands(text)


@pytest.mark.parametrize("text", ["98,2", "2", "-1,50", "2,101", "x,y", "2,2"])
def test_parse_percentiles_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="expected LOW,HIGH"):
        parse_percentiles(text)


def test_stretch_ends_and_nodata() -> None:
    rng = np.random.default_rng(0)
    arr = rng.uniform(0, 1000, (3, 50, 60))
    arr[:, 0, 0] = np.nan
    valid = np.isfinite(arr).all(0)
    lim = stretch_limits(arr, valid, Stretch())
    np.testing.assert_allclose(lim[0], np.percentile(arr[0][valid], [2, 98]))
    out = apply_stretch(arr, valid, lim)
    assert out.dtype == np.uint8 and out[:, 0, 0].tolist() == [0, 0, 0]
    assert out[:, valid].min() == 1 and out[:, valid].max() == 255
    assert (out[0][valid & (arr[0] <= lim[0, 0])] == 1).all()
    assert (out[0][valid & (arr[0] >= lim[0, 1])] == 255).all()


def test_dra_is_one_stretch_and_a_flat_band_does_not_divide_by_zero() -> None:
    arr = np.stack([np.full((10, 10), 5.0), np.arange(100.0).reshape(10, 10), np.full((10, 10), 50.0)])
    valid = np.ones((10, 10), bool)
    lim = stretch_limits(arr, valid, Stretch("dra"))
    assert (lim == lim[0]).all()
    np.testing.assert_allclose(lim[0], np.percentile(arr, [2, 98]))
    per_band = stretch_limits(arr, valid, Stretch())
    assert per_band[0].tolist() == [5.0, 6.0]  # constant: its value -> 1
    assert (apply_stretch(arr, valid, per_band)[0] == 1).all()


def test_gamma_brightens_midtones() -> None:
    arr = np.full((3, 2, 2), 50.0)
    lim = np.array([[0.0, 100.0]] * 3)
    valid = np.ones((2, 2), bool)
    assert apply_stretch(arr, valid, lim)[0, 0, 0] == 128
    assert apply_stretch(arr, valid, lim, gamma=2.0)[0, 0, 0] == round(254 * 0.5**0.5) + 1
