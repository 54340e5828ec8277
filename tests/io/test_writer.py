"""Output dtype conversion (rounding, clipping, nodata collisions), the atomic writer, output checks."""

import math
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine

from pansharpen_cli.base.errors import OutputError
from pansharpen_cli.io.writer import (
    OutputSpec,
    OutputWriter,
    check_output_path,
    default_creation_options,
    dtype_range,
    to_dtype,
)

TRANSFORM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
CRS = "EPSG:32633"


def arr3(values) -> np.ndarray:
    """(1, 1, n) float array from a list."""
    return np.array(values, dtype=np.float64)[None, None, :]


# -- to_dtype -----------------------------------------------------------------------------------
def test_dtype_range():
    assert dtype_range("uint8") == (0.0, 255.0)
    assert dtype_range("int16") == (-32768.0, 32767.0)
    lo, hi = dtype_range("float32")
    assert hi == pytest.approx(3.4028234663852886e38) and lo == -hi


def test_integers_are_rounded_half_to_even_and_clipped():
    out = to_dtype(arr3([0.4, 0.6, 1.5, 2.5, -3.0, 70000.0]), "uint16", None, None)
    assert out.dtype == np.uint16
    assert out.ravel().tolist() == [0, 1, 2, 2, 0, 65535]
    out = to_dtype(arr3([-40000.0, 40000.0, -1.5]), "int16", None, None)
    assert out.ravel().tolist() == [-32768, 32767, -2]


def test_integer_data_never_reads_as_nodata_at_the_bottom():
    # 0.2 and -5 would round/clip to 0 == nodata: they become 1; NaN in a valid pixel too.
    out = to_dtype(arr3([0.2, -5.0, np.nan, 7.0]), "uint16", 0.0, None)
    assert out.ravel().tolist() == [1, 1, 1, 7]


def test_integer_data_never_reads_as_nodata_at_the_top():
    out = to_dtype(arr3([300.0, 255.0, 254.6, 3.0]), "uint8", 255.0, None)
    assert out.ravel().tolist() == [254, 254, 254, 3]


def test_invalid_pixels_get_nodata_in_every_band():
    arr = np.full((2, 2, 2), 10.0)
    valid = np.array([[True, False], [True, True]])
    out = to_dtype(arr, "int16", -32768.0, valid)
    assert (out[:, 0, 1] == -32768).all()
    assert (out[:, valid] == 10).all()


def test_float_data_equal_to_nodata_moves_to_the_next_float_up():
    out = to_dtype(arr3([0.0, 1.0, -1.0]), "float32", 0.0, None)
    assert out.dtype == np.float32
    assert out[0, 0, 0] == np.nextafter(np.float32(0), np.float32(np.inf)) and out[0, 0, 0] > 0
    assert out.ravel().tolist()[1:] == [1.0, -1.0]


def test_float_invalid_pixels_are_nodata_or_nan():
    arr = np.ones((1, 1, 3))
    valid = np.array([[True, False, True]])
    assert to_dtype(arr, "float32", -9999.0, valid).ravel().tolist() == [1.0, -9999.0, 1.0]
    no_nodata = to_dtype(arr, "float64", None, valid).ravel()
    assert no_nodata[0] == 1 and math.isnan(no_nodata[1])
    nan_nodata = to_dtype(arr, "float32", float("nan"), valid).ravel()
    assert math.isnan(nan_nodata[1]) and nan_nodata[2] == 1


def test_integer_output_without_nodata_leaves_invalid_pixels_as_data():
    arr = np.full((1, 1, 2), 5.0)
    out = to_dtype(arr, "uint8", None, np.array([[True, False]]))
    assert out.ravel().tolist() == [5, 5]


# -- OutputWriter -------------------------------------------------------------------------------
def spec_for(path, **kw) -> OutputSpec:
    base = dict(
        path=path,
        width=40,
        height=30,
        count=2,
        dtype="uint16",
        crs=rasterio.crs.CRS.from_string(CRS),
        transform=TRANSFORM,
        nodata=0.0,
        block=16,
    )
    base.update(kw)
    return OutputSpec(**base)


def data(count=2, h=30, w=40) -> np.ndarray:
    return (np.arange(count * h * w, dtype=np.uint16).reshape(count, h, w) % 1000) + 1


def test_abort_on_error_leaves_no_file(tmp_path):
    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError):
        with OutputWriter(spec_for(out)) as w:
            assert not w.tmp.exists()  # created at the first write, inside the with block
            w.write(data()[:, :16, :16], 0, 0)
            assert w.tmp.exists() and w.tmp.parent == tmp_path
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_abort_keeps_an_existing_destination(tmp_path):
    out = tmp_path / "out.tif"
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with OutputWriter(spec_for(out)) as w:
            w.write(data(), 0, 0)
            raise KeyboardInterrupt
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]


def test_nothing_is_published_before_commit(tmp_path):
    out = tmp_path / "out.tif"
    w = OutputWriter(spec_for(out))
    w.write(data(), 0, 0)
    assert not out.exists()
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_commit_writes_data_and_metadata(tmp_path):
    out = tmp_path / "out.tif"
    arr = data()
    spec = spec_for(
        out,
        descriptions=["red", None],
        tags={"PANSHARPEN_METHOD": "gsa", "PANSHARPEN_RATIO": "4"},
        area_or_point="Point",
    )
    with OutputWriter(spec) as w:
        w.write(arr[:, :16, :], 0, 0)  # by windows, in two strips
        w.write(arr[:, 16:, :], 16, 0)
        w.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]
    with rasterio.open(out) as ds:
        assert (ds.count, ds.height, ds.width, ds.dtypes[0]) == (2, 30, 40, "uint16")
        assert ds.nodata == 0
        assert ds.crs == rasterio.crs.CRS.from_string(CRS) and ds.transform == TRANSFORM
        tags = ds.tags()
        assert tags["PANSHARPEN_METHOD"] == "gsa" and tags["PANSHARPEN_RATIO"] == "4"
        assert tags["AREA_OR_POINT"] == "Point"
        assert ds.descriptions == ("red", None)
        assert ds.block_shapes[0] == (16, 16)
        assert ds.compression.name.upper() == "DEFLATE"
        np.testing.assert_array_equal(ds.read(), arr)


def test_commit_float_without_georeferencing(tmp_path):
    out = tmp_path / "f.tif"
    arr = np.random.default_rng(0).random((1, 30, 40)).astype(np.float32)
    with OutputWriter(spec_for(out, count=1, dtype="float32", crs=None, transform=None, nodata=None)) as w:
        w.write(arr, 0, 0)
        w.commit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(out) as ds:
            assert ds.crs is None and ds.nodata is None
            np.testing.assert_array_equal(ds.read(), arr)


def test_cog_output(tmp_path):
    out = tmp_path / "c.tif"
    with OutputWriter(spec_for(out, fmt="COG", tags={"K": "v"})) as w:
        w.write(data(), 0, 0)
        w.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["c.tif"]
    with rasterio.open(out) as ds:
        assert ds.tags()["K"] == "v" and ds.nodata == 0
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        np.testing.assert_array_equal(ds.read(), data())


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(OutputError, match="--of PNG"):
        OutputWriter(spec_for(tmp_path / "x.tif", fmt="PNG"))
    assert list(tmp_path.iterdir()) == []


def test_default_creation_options_predictor():
    assert default_creation_options("float32")["PREDICTOR"] == "3"
    assert default_creation_options("uint16")["PREDICTOR"] == "2"


# -- check_output_path --------------------------------------------------------------------------
def test_check_output_path(tmp_path):
    inp = tmp_path / "in.tif"
    inp.write_bytes(b"x")
    assert check_output_path(tmp_path / "new.tif", [inp], overwrite=False) == tmp_path / "new.tif"
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "o.tif", [inp], overwrite=False)
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path, [inp], overwrite=True)
    with pytest.raises(OutputError, match="also an input"):
        check_output_path(inp, [inp], overwrite=True)
    with pytest.raises(OutputError, match="--overwrite"):
        check_output_path(inp, [], overwrite=False)
    assert check_output_path(inp, [], overwrite=True) == inp


def test_writers_in_threads_leave_stderr_where_it_was(tmp_path):
    # Each write holds back libtiff's stderr lines (file descriptor 2, shared by the process):
    # writers in several threads at once must not leave it pointing at one another's buffer.
    import os
    from concurrent.futures import ThreadPoolExecutor

    before = os.fstat(2)

    def one(i: int) -> None:
        with OutputWriter(spec_for(tmp_path / f"t{i}.tif")) as w:
            for row in range(0, 30, 2):
                w.write(data()[:, row : row + 2, :], row, 0)
            w.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(8)))
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    for i in range(8):
        with rasterio.open(tmp_path / f"t{i}.tif") as ds:
            np.testing.assert_array_equal(ds.read(), data())
