"""io/gdalpaths.py: telling GDAL paths from local files, and what they read (issue 25)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pansharpen_cli.io.gdalpaths import (
    absolute_input,
    as_input,
    gdal_name,
    input_stem,
    is_gdal_path,
    local_file,
)


@pytest.mark.parametrize(
    "p",
    [
        "/vsizip/a.zip/pan.tif",
        "/vsicurl/http://h/pan.tif",
        "/vsis3/bucket/key.tif",
        "zip://a.zip!pan.tif",
        "zip+https://h/a.zip!pan.tif",
        "https://h/pan.tif?sig=1",
        "s3://bucket/key.tif",
        'NETCDF:"f.nc":var',
        "HDF5:f.h5://grp/ds",
    ],
)
def test_gdal_paths(p):
    assert is_gdal_path(p) and as_input(p) == p and isinstance(as_input(p), str)


@pytest.mark.parametrize(
    "p", ["pan.tif", "./a/pan.tif", "/data/vsizip/pan.tif", "skimage:camera", "ab:c.tif", "file:x"]
)
def test_local_paths(p):
    assert not is_gdal_path(p) and as_input(p) == Path(p)


def test_a_driver_prefix_that_names_an_existing_file_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("AB:c.tif").write_bytes(b"x")
    assert not is_gdal_path("AB:c.tif") and is_gdal_path("AB:d.tif")


@pytest.mark.parametrize(
    "given, name",
    [
        ("zip://a.zip!pan.tif", "/vsizip/a.zip/pan.tif"),
        ("zip:///data/a.zip!/sub/pan.tif", "/vsizip//data/a.zip/sub/pan.tif"),
        ("tar://a.tar!pan.tif", "/vsitar/a.tar/pan.tif"),
        ("gzip://pan.tif.gz", "/vsigzip/pan.tif.gz"),
        ("https://h:8080/p/pan.tif", "/vsicurl/https://h:8080/p/pan.tif"),
        ("s3://b/k.tif", "/vsis3/b/k.tif"),
        ("zip+https://h/a.zip!pan.tif", "/vsizip/vsicurl/https://h/a.zip/pan.tif"),
        ("zip+s3://b/a.zip!pan.tif", "/vsizip/vsis3/b/a.zip/pan.tif"),
        ("/vsicurl/http://h/pan.tif", "/vsicurl/http://h/pan.tif"),
        ("pan.tif", "pan.tif"),
    ],
)
def test_gdal_name(given, name):
    assert gdal_name(given) == name


def test_local_file_and_absolute_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.zip").write_bytes(b"PK")
    assert local_file("/vsizip/d/a.zip/x/pan.tif") == Path("d/a.zip")
    assert local_file("zip://d/a.zip!pan.tif") == Path("d/a.zip")
    assert local_file(f"/vsizip/{tmp_path}/d/a.zip/pan.tif") == tmp_path / "d" / "a.zip"
    assert local_file("/vsizip/missing.zip/pan.tif") is None
    assert local_file("/vsizip/vsicurl/https://h/d/a.zip/pan.tif") is None
    assert local_file("/vsicurl/https://h/pan.tif") is None
    assert absolute_input("/vsizip/d/a.zip/pan.tif") == f"/vsizip/{tmp_path}/d/a.zip/pan.tif"
    assert absolute_input("zip://d/a.zip!pan.tif") == f"/vsizip/{tmp_path}/d/a.zip/pan.tif"
    assert absolute_input("/vsicurl/https://h/pan.tif") == "/vsicurl/https://h/pan.tif"
    assert absolute_input("pan.tif") == tmp_path / "pan.tif"


@pytest.mark.parametrize(
    "p, stem",
    [("zip://a.zip!pan.tif", "pan"), ("/vsicurl/https://h/x/pan.tif?sig=a.b", "pan"), ("d/pan.tif", "pan")],
)
def test_input_stem(p, stem):
    assert input_stem(p) == stem


def test_a_training_image_in_a_zip(tmp_path):
    """pretrain's images go through the same opener: a /vsizip/ member reads as the file."""
    import zipfile

    import numpy as np

    from pansharpen_cli.base.errors import InputFileError
    from pansharpen_cli.io.sources import resolve_sources
    from tests.conftest import write_tif

    img = write_tif(tmp_path / "img.tif", np.arange(2 * 40 * 50, dtype="uint16").reshape(2, 40, 50))
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as z:
        z.write(img, "img.tif")
    zipped, local = resolve_sources([f"/vsizip/{tmp_path}/imgs.zip/img.tif", img])
    assert zipped.name == f"/vsizip/{tmp_path}/imgs.zip/img.tif"
    assert np.array_equal(zipped.load()[0], local.load()[0])
    (missing,) = resolve_sources([f"/vsizip/{tmp_path}/imgs.zip/nope.tif"])
    with pytest.raises(InputFileError, match="cannot open training image /vsizip/.*nope.tif"):
        missing.load()
