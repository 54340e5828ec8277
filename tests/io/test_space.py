"""The output size estimate (a lower bound, exact-ish uncompressed) and the free-space check."""

import numpy as np
import pytest
import rasterio

from pansharpen_cli.base.errors import OutputError
from pansharpen_cli.io.space import Footprint, check_free_space
from pansharpen_cli.io.writer import OutputSpec, OutputWriter


def _write(path, fmt="GTiff", co=None, dtype="uint16", size=(300, 200)):
    h, w = size
    spec = OutputSpec(path, w, h, 3, dtype, None, None, None, fmt=fmt, creation_options=co or {})
    arr = np.random.default_rng(0).integers(0, 2000, (3, h, w)).astype(dtype)
    with OutputWriter(spec) as wr:
        wr.write(arr, 0, 0)
        wr.commit()
    return spec.footprint().bytes_needed(), path.stat().st_size


def test_uncompressed_estimate_is_the_file_within_a_header(tmp_path):
    need, size = _write(tmp_path / "o.tif", co={"COMPRESS": "NONE"})
    assert size - 8192 <= need <= size + 128 * 1024  # padded tiles: 2 x 1 blocks of 256
    assert Footprint(200, 300, 3, "uint16", creation_options={"COMPRESS": "NONE"}).bytes_needed() == need


@pytest.mark.parametrize("fmt", ["GTiff", "COG"])
def test_compressed_estimate_is_below_the_file(tmp_path, fmt):
    need, size = _write(tmp_path / "o.tif", fmt=fmt)
    peak = 2 * size if fmt == "COG" else size  # a COG: the temporary GeoTIFF and the copy at once
    assert 0 < need < peak


def test_too_little_space_is_one_error_with_both_figures(tmp_path, monkeypatch):
    usage = type("usage", (), {"free": 3 * 2**20})
    monkeypatch.setattr("pansharpen_cli.io.space.shutil.disk_usage", lambda p: usage)
    big = Footprint(4096, 4096, 4, "uint16", creation_options={"COMPRESS": "NONE"})
    with pytest.raises(OutputError) as e:
        check_free_space(tmp_path / "o.tif", big)
    msg = "no space left on device (needs about 129 MB, 3.0 MB free)"
    assert str(e.value) == f"cannot write {tmp_path / 'o.tif'}: {msg}"
    assert check_free_space(tmp_path / "o.tif", Footprint(64, 64, 1, "uint8")) > 0


def test_the_written_file_is_read_back_before_the_rename(tmp_path, monkeypatch):
    from pansharpen_cli.io import writer

    seen = []
    verify = writer.verify_written
    monkeypatch.setattr(writer, "verify_written", lambda p, s: (seen.append(p.name), verify(p, s)))
    _write(tmp_path / "o.tif", fmt="COG")
    assert len(seen) == 1 and seen[0].endswith(".cog")
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
