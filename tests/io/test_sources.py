"""Training-image sources: files, folders, scikit-image samples and arrays, read raw."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pansharpen_cli.base.errors import InputFileError, OptionError
from pansharpen_cli.io import sources
from pansharpen_cli.io.sources import ImageSource, read_training_raster, resolve_sources
from tests.conftest import write_tif


def _png(path: Path, shape: tuple[int, ...]) -> Path:
    import skimage.io

    rng = np.random.default_rng(0)
    skimage.io.imsave(path, (rng.random(shape) * 255).astype(np.uint8), check_contrast=False)
    return path


def test_files_are_read_raw_with_their_nodata(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.random((5, 80, 80)) * 2000 + 100).astype(np.uint16)
    arr[:, :10, :] = 0  # nodata stripe
    tif = write_tif(tmp_path / "ms.tif", arr, nodata=0)
    png = _png(tmp_path / "rgb.png", (64, 70, 3))
    srcs = resolve_sources([tif, str(png)])
    assert [s.name for s in srcs] == [str(tif), str(png)]
    img, valid = srcs[0].load()
    assert img.dtype == np.uint16 and img.shape == (5, 80, 80)
    np.testing.assert_array_equal(img, arr)  # raw: no scaling here
    assert valid is not None and not valid[:10].any() and valid[10:].all()
    img2, valid2 = srcs[1].load()
    assert img2.shape == (3, 64, 70) and img2.dtype == np.uint8 and valid2 is None


def test_float_rasters_mark_non_finite_pixels_invalid(tmp_path: Path) -> None:
    arr = np.ones((2, 20, 30), np.float32)
    arr[1, 3, 4] = np.nan
    a, valid = read_training_raster(write_tif(tmp_path / "f.tif", arr), 4096)
    assert valid is not None and not valid[3, 4] and valid.sum() == 20 * 30 - 1
    assert np.isfinite(a).all() and a[1, 3, 4] == 0


def test_large_rasters_are_read_through_their_central_window(tmp_path: Path, caplog) -> None:
    arr = np.arange(3 * 40 * 50, dtype=np.float32).reshape(3, 40, 50)
    with caplog.at_level(logging.WARNING, logger="pansharpen_cli.io.sources"):
        a, valid = read_training_raster(write_tif(tmp_path / "big.tif", arr), 32)
    assert a.shape == (3, 32, 32) and valid is None
    np.testing.assert_array_equal(a, arr[:, 4:36, 9:41])
    assert "central 32x32 window" in caplog.text


def test_skimage_samples_and_arrays() -> None:
    (coins,) = resolve_sources(["skimage:coins"])
    img, valid = coins.load()
    assert coins.name == "skimage:coins" and img.ndim == 3 and img.shape[0] == 1 and valid is None
    assert [s.name for s in resolve_sources(["skimage"])] == [f"skimage:{n}" for n in sources.SKIMAGE_SAMPLES]
    grey = np.zeros((30, 40), np.int16)
    a, b = resolve_sources([grey, np.zeros((2, 30, 40))])
    assert a.name == "array0[30, 40]" and b.name == "array1[2, 30, 40]"
    arr, _ = a.load()
    assert arr.shape == (1, 30, 40) and arr.dtype == np.int16  # 2-D -> one band, dtype kept
    src = ImageSource("mine", lambda: (np.ones((3, 8, 8)), np.ones((8, 8), bool)))
    assert resolve_sources([src]) == [src]
    assert src.load()[1] is None  # an all-valid mask comes back as None
    with pytest.raises(OptionError, match="scikit-image sample name"):
        resolve_sources(["skimage:no_such_sample"])[0].load()


def test_folders_expand_to_their_images(tmp_path: Path) -> None:
    write_tif(tmp_path / "b.tif", np.ones((2, 20, 20), np.uint16))
    _png(tmp_path / "a.png", (20, 20))
    (tmp_path / "notes.txt").write_text("not an image")
    assert [Path(s.name).name for s in resolve_sources([tmp_path])] == ["a.png", "b.tif"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="holds no images"):
        resolve_sources([empty])


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="expected an existing"):
        resolve_sources([tmp_path / "missing.tif"])
    with pytest.raises(OptionError, match="at least one"):
        resolve_sources([])
    with pytest.raises(OptionError, match="expected a path, 'skimage:NAME', an array or an ImageSource"):
        resolve_sources([3.5])
    with pytest.raises(OptionError, match=r"2-D or \(bands, rows, cols\) image for bad"):
        ImageSource("bad", lambda: (np.zeros((2, 3, 4, 5)), None)).load()
    (tmp_path / "junk.tif").write_bytes(b"not a raster")
    with pytest.raises(InputFileError, match="cannot open training image"):
        resolve_sources([tmp_path / "junk.tif"])[0].load()
