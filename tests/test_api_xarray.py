"""``fuse_arrays`` with xarray DataArrays (the ``xarray`` extra: xarray and rioxarray); skipped where
they are not installed."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pansharpen_cli import fuse, fuse_arrays

xr = pytest.importorskip("xarray")
rioxarray = pytest.importorskip("rioxarray")


def test_georeferenced_dataarrays_in_a_dataarray_on_the_pan_grid_out(tmp_path, pair):
    pan, ms, _ = pair
    p, m = rioxarray.open_rasterio(pan), rioxarray.open_rasterio(ms)
    m = m.assign_coords(band=["blue", "green", "red", "nir"])
    got = fuse_arrays(p, m, method="mtf-glp-hpm", sensor="wv3", dtype="float32")
    assert isinstance(got, xr.DataArray) and got.dims == ("band", "y", "x")
    assert np.array_equal(got.x, p.x) and np.array_equal(got.y, p.y)
    assert list(got.band.values) == ["blue", "green", "red", "nir"]
    assert got.rio.crs == p.rio.crs and got.rio.transform() == p.rio.transform()
    assert got.attrs["PANSHARPEN_METHOD"] == "mtf-glp-hpm" and np.isnan(got.rio.nodata)
    fuse(pan, ms, tmp_path / "f.tif", method="mtf-glp-hpm", sensor="wv3", dtype="float32")
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert got.values.tobytes() == ds.read().tobytes()


def test_dataarrays_without_georeferencing_and_mixed_inputs(pair):
    pan, ms, _ = pair
    with rasterio.open(pan) as a, rasterio.open(ms) as b:
        p, m = a.read(1), b.read()
    plain = fuse_arrays(p, m, method="exp")
    da = fuse_arrays(xr.DataArray(p, dims=("y", "x")), m, method="exp")
    assert isinstance(da, xr.DataArray) and da.shape == (4, 128, 128) and np.array_equal(da.values, plain)
    geo = rioxarray.open_rasterio(pan)  # a grid on one side only: aligned by array geometry
    mixed = fuse_arrays(geo, m, method="exp")
    assert np.array_equal(mixed.values, plain) and np.array_equal(mixed.x, geo.x)
