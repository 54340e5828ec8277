"""Fusion grid from the geotransforms: alignment, offsets, non-exact ratios, array geometry, errors."""

import re

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from pansharpen_cli.base.errors import InputError
from pansharpen_cli.io.grid import compute_grid
from pansharpen_cli.io.reader import PairReader
from tests.conftest import make_pair, write_tif


def grid_of(pan, ms, **kw):
    with rasterio.open(pan) as p, rasterio.open(ms) as m:
        return compute_grid(p, m, **kw)


def test_aligned_pair_is_read_as_is(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64, ratio=4)
    g = grid_of(pan, ms)
    assert (g.ratio, g.resample, g.row_off, g.col_off, g.ms_height, g.ms_width) == (4, False, 0, 0, 16, 16)
    with rasterio.open(pan) as p:
        assert g.transform == p.transform


def test_integer_offset_crops_to_the_common_footprint(tmp_path):
    # MS starts 2 PAN pixels right and 1 below (like the WorldView-3 sample).
    pan, ms, _ = make_pair(tmp_path, size=64, ratio=4, ms_offset=(2, 1))
    g = grid_of(pan, ms)
    assert not g.resample
    assert (g.row_off, g.col_off) == (1, 2)
    assert (g.ms_height, g.ms_width) == (15, 15)  # the last MS row/col runs past the PAN
    with rasterio.open(pan) as p, rasterio.open(ms) as m:
        assert g.transform.c == pytest.approx(m.transform.c) and g.transform.f == pytest.approx(m.transform.f)
        assert g.transform.a == p.transform.a


def test_half_pixel_offset_is_resampled(tmp_path):
    # Landsat's pixel-is-point pair: MS pixel centres on every other PAN pixel centre.
    pan, ms, _ = make_pair(tmp_path, size=64, ratio=2, ms_offset=(0.5, 0.5))
    g = grid_of(pan, ms)
    assert g.resample and (g.row_off, g.col_off) == (1, 1) and g.ratio == 2
    assert any("resampling" in n for n in g.notes)
    with PairReader(pan, [ms]) as r:
        m, v = r.read_ms(0, 0, g.ms_height, g.ms_width)
        assert m.shape == (4, g.ms_height, g.ms_width) and v.all()


def test_non_exact_ratio(tmp_path):
    ref = np.ones((1, 80, 80), np.uint16)
    pan = write_tif(
        tmp_path / "pan.tif", np.ones((1, 320, 320), np.uint16), Affine(0.498125, 0, 1000, 0, -0.500625, 2000)
    )
    ms = write_tif(tmp_path / "ms.tif", ref, Affine(2.0, 0, 1000, 0, -2.0, 2000))
    g = grid_of(pan, ms)
    assert g.ratio == 4 and g.resample
    assert g.measured_ratio[0] == pytest.approx(2.0 / 0.498125)
    assert g.ms_transform.a == pytest.approx(4 * 0.498125)


def test_array_geometry_without_georeferencing(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=60, ratio=3, georef=False)
    g = grid_of(pan, ms)
    assert (g.ratio, g.georeferenced, g.resample, g.crs) == (3, False, False, None)
    assert any("georeferencing" in w for w in g.warnings)


@pytest.mark.parametrize(
    "case, match",
    [
        ("crs", "different CRSs"),
        ("apart", "do not overlap"),
        ("finer", "finer than PAN"),
        ("ratio1", "below 1.5"),
        ("rotated", "rotated"),
        ("anisotropic", "differs by axis (4.0000 x 2.0000, from the geotransforms)"),
        ("anisotropic-arrays", "differs by axis (4.0000 x 2.0000, from the array sizes)"),
        ("one pixel", "share only one MS pixel"),
    ],
)
def test_bad_pairs(tmp_path, case, match):
    a = np.ones((1, 64, 64), np.uint16)
    b = np.ones((1, 16, 16), np.uint16)
    pt = Affine(1, 0, 0, 0, -1, 0)
    mt = Affine(4, 0, 0, 0, -4, 0)
    crs = "EPSG:32633"
    if case == "crs":
        crs = "EPSG:32634"
    elif case == "apart":
        mt = Affine(4, 0, 10000, 0, -4, 0)
    elif case == "finer":
        b = np.ones((1, 256, 256), np.uint16)
        mt = Affine(0.25, 0, 0, 0, -0.25, 0)
    elif case == "ratio1":
        b = np.ones((1, 50, 50), np.uint16)
        mt = Affine(1.2, 0, 0, 0, -1.2, 0)
    elif case == "rotated":
        mt = Affine(4, 0.5, 0, 0.5, -4, 0)
    elif case == "one pixel":  # the MS's corner pixel is the only one over the PAN
        mt = Affine(4, 0, 60, 0, -4, -60)
    elif case.startswith("anisotropic"):  # MS pixels of 4 x 2 PAN pixels: one ratio cannot fit both
        b = np.ones((1, 32, 16), np.uint16)
        mt = Affine(4, 0, 0, 0, -2, 0)
        if case.endswith("arrays"):
            pt = mt = None
    pan = write_tif(tmp_path / "pan.tif", a, pt)
    ms = write_tif(tmp_path / "ms.tif", b, mt, crs=crs)
    with pytest.raises(InputError, match=re.escape(match)):
        grid_of(pan, ms)


def test_coarse_transform_is_the_working_ms_grid_scaled(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64, ratio=4, ms_offset=(2, 1))
    g = grid_of(pan, ms)
    t = g.coarse_transform(4)
    assert t == g.ms_transform @ Affine.scale(4)
    assert (t.c, t.f) == (g.ms_transform.c, g.ms_transform.f)  # same origin
    assert (t.a, t.e) == (g.transform.a * 16, g.transform.e * 16)
    assert g.coarse_transform(1) == g.ms_transform
