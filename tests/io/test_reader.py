"""Windowed reads of one file (filled, masked), PairReader's names and dtypes, summaries."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from pansharpen_cli.base.errors import InputError
from pansharpen_cli.io.raster import read_filled, read_masked
from pansharpen_cli.io.reader import PairReader, summarize
from tests.conftest import make_pair, write_tif

T = Affine(1, 0, 0, 0, -1, 0)


@pytest.fixture
def nodata_tif(tmp_path):
    """3 bands, 6x8, values row*10+col (+100 per band), nodata -9 at known places, NaN and inf."""
    base = np.arange(6)[:, None] * 10 + np.arange(8)[None, :]
    arr = np.stack([base + 100 * b for b in range(3)]).astype(np.float32)
    arr[0, 1, 2] = -9  # nodata in band 0 only
    arr[1, :, :4] = -9  # band 1: left half nodata
    arr[2, 4, 5] = np.nan
    arr[2, 5, 6] = np.inf
    return write_tif(tmp_path / "nd.tif", arr, T, nodata=-9), arr


def expected_filled(win: np.ndarray) -> np.ndarray:
    bad = (win == -9) | ~np.isfinite(win)
    out = win.astype(np.float64).copy()
    for b in range(out.shape[0]):
        ok = out[b][~bad[b]]
        out[b][bad[b]] = ok.mean() if ok.size else 0.0
    return out


def test_read_filled_replaces_nodata_and_non_finite_by_window_band_means(nodata_tif):
    path, arr = nodata_tif
    with rasterio.open(path) as ds:
        got, valid = read_filled(ds, 1, 2, 4, 5)  # row, col, height, width
    assert got.dtype == np.float64 and got.shape == (3, 4, 5)
    win = arr[:, 1:5, 2:7]
    np.testing.assert_array_equal(valid, ~((win == -9) | ~np.isfinite(win)).any(0))  # valid in every band
    assert not valid.all() and valid.any()
    np.testing.assert_allclose(got, expected_filled(arr[:, 1:5, 2:7]), rtol=0, atol=1e-9)
    assert np.isfinite(got).all()
    # The band-0 hole (row 1, col 2) is the first pixel of the window.
    ok = np.delete(arr[0, 1:5, 2:7].ravel(), 0)
    assert got[0, 0, 0] == pytest.approx(ok.mean())


def test_read_filled_band_without_valid_pixels_is_zero(nodata_tif):
    path, arr = nodata_tif
    with rasterio.open(path) as ds:
        got, valid = read_filled(ds, 0, 0, 6, 3)
    assert (got[1] == 0).all() and not valid.any()  # band 1 is all nodata in columns 0..3
    np.testing.assert_array_equal(got[2], arr[2, :, :3])


def test_read_filled_without_invalid_pixels_is_the_data(nodata_tif):
    path, arr = nodata_tif
    with rasterio.open(path) as ds:
        got, valid = read_filled(ds, 2, 4, 2, 3)
    np.testing.assert_array_equal(got, arr[:, 2:4, 4:7].astype(np.float64))
    assert valid.shape == (2, 3) and valid.all()


def test_read_masked_has_nan_where_nodata(nodata_tif):
    path, arr = nodata_tif
    with rasterio.open(path) as ds:
        got = read_masked(ds, 0, 1, 6, 7)
    assert got.dtype == np.float64 and got.shape == (3, 6, 7)
    win = arr[:, :, 1:8]
    nodata = win == -9
    assert np.isnan(got[nodata]).all()
    assert np.isnan(got[2, 4, 4])  # NaN stays NaN
    assert got[2, 5, 5] == np.inf  # only the dataset mask is applied: inf stays
    keep = ~nodata & np.isfinite(win)
    np.testing.assert_array_equal(got[keep], win[keep])


def test_read_masked_without_nodata(tmp_path):
    arr = np.arange(24, dtype=np.uint16).reshape(1, 4, 6)
    path = write_tif(tmp_path / "u.tif", arr, T)
    with rasterio.open(path) as ds:
        got = read_masked(ds, 1, 1, 2, 3)
    np.testing.assert_array_equal(got, arr[:, 1:3, 1:4].astype(np.float64))


def test_source_names_and_dtypes_of_a_single_ms_file(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=32, ratio=4, dtype="uint16")
    with PairReader(pan, [ms]) as r:
        assert r.source_names() == ("pan.tif", ["ms.tif"])
        assert (r.pan_dtype, r.ms_dtype) == ("uint16", "uint16")
        assert r.pan_band == 1 and r.n_bands == 4


def test_source_names_of_band_files_in_order(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=32, ratio=4, dtype="uint16")
    with rasterio.open(ms) as ds:
        bands, t = ds.read(), ds.transform
    sub = tmp_path / "bands"
    sub.mkdir()
    files = [
        write_tif(sub / "b3.tif", bands[2:3], t),
        write_tif(sub / "b1.tif", bands[0:1], t),
        write_tif(sub / "b24.tif", bands[[1, 3]], t),
    ]
    with PairReader(pan, files) as r:
        assert r.source_names() == ("pan.tif", ["b3.tif", "b1.tif", "b24.tif"])
        assert r.n_bands == 4
        assert r.band_descriptions()[:2] == ["b3", "b1"]  # single-band files are named after the file
        np.testing.assert_array_equal(r.read_all()["ms"], bands[[2, 0, 1, 3]].astype(np.float32))


def test_the_same_ms_file_twice_is_named_twice_in_band_order(tmp_path):
    # each MS argument is opened on its own: the tags name every file given, as before the layout change
    pan, ms, _ = make_pair(tmp_path, size=32, ratio=4)
    with PairReader(pan, [ms, ms]) as r:
        assert r.source_names() == ("pan.tif", ["ms.tif", "ms.tif"])
        assert r.n_bands == 8


def test_pan_dtype_is_the_pan_files(tmp_path):
    _, ms, _ = make_pair(tmp_path, size=32, ratio=4, dtype="uint16")
    pan2 = np.random.default_rng(0).uniform(1, 100, (2, 32, 32)).astype(np.float32)
    pan = write_tif(tmp_path / "pan2.tif", pan2, Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0))
    with pytest.raises(InputError, match="--pan-band"):
        PairReader(pan, [ms])
    with PairReader(pan, [ms], pan_band=2) as r:
        assert (r.pan_dtype, r.ms_dtype) == ("float32", "uint16")
        np.testing.assert_array_equal(r.read_all()["pan"][0], pan2[1])
        assert r.source_names()[0] == "pan2.tif"


def test_summarize(nodata_tif):
    path, arr = nodata_tif
    s = summarize(path)
    assert (s.width, s.height, s.count, s.dtype, s.nodata) == (8, 6, 3, "float32", -9)
    ok = arr[(arr != -9) & np.isfinite(arr)]
    assert s.value_range == (float(ok.min()), float(ok.max()))
    assert summarize(path, value_range=False).value_range is None
