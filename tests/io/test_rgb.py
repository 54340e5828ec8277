"""The display product's reads: the decimated sample (from the overviews when the file has them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine

from pansharpen_cli.io.rgb import read_sample
from tests.conftest import write_tif


def _file(path: Path, overviews: bool) -> np.ndarray:
    a = np.arange(4 * 300 * 500, dtype="float32").reshape(4, 300, 500) % 997 + 1
    a[:, :10, :] = 0
    write_tif(path, a, Affine(2, 0, 500000, 0, -2, 4000000), dtype="uint16", nodata=0)
    if overviews:
        with rasterio.open(path, "r+") as ds:
            ds.build_overviews([2, 4], Resampling.nearest)
    return a


def test_sample_takes_every_step_th_pixel_with_its_validity(tmp_path: Path) -> None:
    a = _file(tmp_path / "f.tif", overviews=False)
    with rasterio.open(tmp_path / "f.tif") as ds:
        values, valid = read_sample(ds, [3, 2, 1], side=100)  # step 5
    np.testing.assert_array_equal(values, a[[2, 1, 0], ::5, ::5])
    assert values.shape == (3, 60, 100) and not valid[:2].any() and valid[2:].all()


def test_sample_reads_the_coarsest_overview_fine_enough(tmp_path: Path) -> None:
    _file(tmp_path / "f.tif", overviews=True)
    with rasterio.open(tmp_path / "f.tif", overview_level=1) as ov:  # factor 4
        expected = ov.read([1, 2, 3])[:, ::2, ::2]
    with rasterio.open(tmp_path / "f.tif") as ds:
        values, valid = read_sample(ds, [1, 2, 3], side=60)  # step 9: overview 4, then every 2nd
    np.testing.assert_array_equal(values, expected)
    assert valid.shape == expected.shape[1:]
