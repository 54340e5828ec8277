"""``pansharpen visual FUSED OUT``: the 8-bit RGB display product, through the CLI, reopened with
rasterio: a COG (tiled, overviews, GDAL's COG layout), JPEG/YCbCr by default, georeferencing as the
input's, the stretch's percentiles mapped to 1 and 255, nodata masked, band roles from the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import CRS, DATA

WV8 = ["Coastal Blue", "Blue", "Green", "Yellow", "Red", "Red Edge", "NIR1", "NIR2"]
TRANSFORM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def fused_file(
    path: Path,
    *,
    bands: int = 4,
    size: tuple[int, int] = (200, 300),
    descriptions: list[str] | None = None,
    sensor: str | None = None,
    nodata: float | None = None,
    seed: int = 0,
) -> Path:
    """A fused-like uint16 GeoTIFF (height, width) = ``size``, values about 100..3000."""
    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(0, 1, w)[None, None, :] * np.linspace(0.5, 1, h)[None, :, None]
    a = 100 + 2500 * ramp * rng.uniform(0.5, 1.0, (bands, 1, 1)) + rng.normal(0, 40, (bands, h, w))
    a = np.clip(a, 1, None).astype("uint16")
    if nodata is not None:
        a[:, :40, :60] = nodata
    profile = dict(driver="GTiff", width=w, height=h, count=bands, dtype="uint16", crs=CRS, transform=TRANSFORM)
    with rasterio.open(path, "w", nodata=nodata, **profile) as ds:
        ds.write(a)
        ds.update_tags(PANSHARPEN_METHOD="mtf-glp-hpm", AREA_OR_POINT="Point")
        if sensor:
            ds.update_tags(PANSHARPEN_SENSOR=sensor)
        for i, d in enumerate(descriptions or [], start=1):
            ds.set_band_description(i, d)
    return path


def test_default_is_a_jpeg_ycbcr_cog_with_overviews_and_the_inputs_georeferencing(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", bands=8, size=(700, 1100), descriptions=WV8)
    before, out = sha(fused), tmp_path / "visual.tif"
    res = run("visual", fused, out, "-q")
    assert res.exit_code == 0, res.output
    assert sha(fused) == before
    with rasterio.open(out) as ds, rasterio.open(fused) as src:
        p = ds.profile
        assert (ds.count, ds.dtypes) == (3, ("uint8",) * 3)
        assert p["tiled"] and p["compress"] == "jpeg" and p["photometric"] == "ycbcr"
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.tags(ns="IMAGE_STRUCTURE")["JPEG_QUALITY"] == "90"
        assert ds.overviews(1) == [2, 4]  # halved until one 512-pixel tile holds it
        assert (ds.crs, ds.transform, ds.width, ds.height) == (src.crs, src.transform, src.width, src.height)
        tags = ds.tags()
        assert tags["AREA_OR_POINT"] == "Point"
        assert tags["PANSHARPEN_VISUAL_BANDS"] == "5,3,2"
        assert tags["PANSHARPEN_VISUAL_BANDS_FROM"] == "the band descriptions"
        assert tags["PANSHARPEN_METHOD"] == "mtf-glp-hpm"
        assert tags["PANSHARPEN_PRODUCT"] == "visual (8-bit RGB display product)"  # as docs/visual.md says
        assert tags["PANSHARPEN_VISUAL_STRETCH"].startswith("percentile 2,98 -> 1..255, gamma 1: band 5 ")
        assert [c.name for c in ds.colorinterp] == ["red", "green", "blue"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.tif", "visual.tif"]  # no temporary left


def _expected(values: np.ndarray, valid: np.ndarray, lo: float, hi: float, gamma: float = 1.0) -> np.ndarray:
    v = np.clip((values.astype(np.float64) - lo) / (hi - lo), 0, 1) ** (1 / gamma)
    return np.where(valid, np.rint(v * 254) + 1, 0).astype(np.uint8)


def test_percentile_stretch_maps_the_percentiles_to_1_and_255_and_masks_nodata(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", descriptions=["blue", "green", "red", "nir"], nodata=0)
    out = tmp_path / "v.tif"
    res = run("visual", fused, out, "--compress", "deflate", "--percentiles", "5,95", "--gamma", "1.5", "-q")
    assert res.exit_code == 0, res.output
    with rasterio.open(fused) as src:
        a = src.read([3, 2, 1])
        valid = src.dataset_mask() > 0
    with rasterio.open(out) as ds:
        rgb, mask = ds.read(), ds.read_masks(1)
        assert ds.profile["compress"] == "deflate" and ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        stretch = ds.tags()["PANSHARPEN_VISUAL_STRETCH"]
    np.testing.assert_array_equal(mask, np.where(valid, 255, 0))
    assert not valid[:40, :60].any() and valid.sum() == 200 * 300 - 40 * 60
    for k in range(3):
        lo, hi = np.percentile(a[k][valid], [5, 95])
        assert f"band {3 - k} {lo:.6g}..{hi:.6g}" in stretch
        np.testing.assert_array_equal(rgb[k], _expected(a[k], valid, lo, hi, 1.5))
    assert rgb[:, valid].min() == 1 and rgb[:, valid].max() == 255  # valid pixels never 0


def test_dra_one_common_stretch_keeps_grey_grey(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", bands=3, descriptions=["red", "green", "blue"])
    with rasterio.open(fused, "r+") as ds:
        a = ds.read()
        a[:, 10, 10] = 1500  # a grey pixel
        ds.write(a)
    out = tmp_path / "v.tif"
    assert run("visual", fused, out, "--stretch", "dra", "--compress", "lzw", "-q").exit_code == 0
    lo, hi = np.percentile(a.reshape(-1), [2, 98])
    with rasterio.open(out) as ds:
        rgb = ds.read()
        assert ds.tags()["PANSHARPEN_VISUAL_STRETCH"].startswith("dra 2,98")
        assert ds.profile["compress"] == "lzw"
    np.testing.assert_array_equal(rgb, _expected(a, np.ones(a.shape[1:], bool), lo, hi))
    assert len(set(rgb[:, 10, 10])) == 1


def test_alpha_with_webp(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", sensor="qb", nodata=0)
    out = tmp_path / "v.tif"
    res = run("visual", fused, out, "--nodata-as", "alpha", "--compress", "webp", "--quality", "75", "-q")
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.count == 4 and ds.colorinterp[3].name == "alpha" and ds.profile["compress"] == "webp"
        alpha = ds.read(4)
        assert ds.tags()["PANSHARPEN_VISUAL_BANDS"] == "3,2,1"
        assert ds.tags(ns="IMAGE_STRUCTURE")["WEBP_LEVEL"] == "75"
    assert (alpha[:40, :60] == 0).all() and (alpha[40:] == 255).all() and (alpha[:, 60:] == 255).all()


@pytest.mark.parametrize(
    ("sensor", "bands", "expected"),
    [("wv3", 8, "5,3,2"), ("WorldView-2", 8, "5,3,2"), ("wv3", 4, "3,2,1"), ("landsat8", 7, "4,3,2")],
)
def test_band_roles_from_the_sensor_tag(tmp_path: Path, sensor: str, bands: int, expected: str) -> None:
    fused = fused_file(tmp_path / "fused.tif", bands=bands, size=(64, 64), sensor=sensor)
    out = tmp_path / "v.tif"
    res = run("visual", fused, out)
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["PANSHARPEN_VISUAL_BANDS"] == expected
    assert f"bands {expected} from the sensor" in " ".join(res.output.split())


def test_a_real_fusion_gets_its_roles_from_the_sensor_fuse_tagged(tmp_path: Path) -> None:
    fused, out = tmp_path / "fused.tif", tmp_path / "v.tif"
    pan, ms = DATA / "landsat8_pan.tif", DATA / "landsat8_ms.tif"
    assert run("fuse", pan, ms, fused, "-m", "mtf-glp-hpm", "-s", "landsat8", "-q").exit_code == 0
    res = run("visual", fused, out, "-q")
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds, rasterio.open(fused) as src:
        assert ds.tags()["PANSHARPEN_VISUAL_BANDS"] == "3,2,1"
        assert (ds.transform, ds.crs, ds.tags()["AREA_OR_POINT"]) == (src.transform, src.crs, "Point")


def test_no_roles_is_refused_and_bands_overrides(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", size=(64, 64), sensor="generic")
    out = tmp_path / "v.tif"
    res = run("visual", fused, out)
    assert res.exit_code == 1
    assert "pass --bands R,G,B (1-based, GDAL order)" in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["fused.tif"]
    res = run("visual", fused, out, "--bands", "1,2,3", "-q")
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["PANSHARPEN_VISUAL_BANDS"] == "1,2,3"
        assert ds.tags()["PANSHARPEN_VISUAL_BANDS_FROM"] == "--bands"
    res = run("visual", fused, tmp_path / "w.tif", "--bands", "5,2,1")
    assert res.exit_code == 1 and "the file has 4 bands" in res.output


def test_overwrite_and_output_equal_to_input_are_refused(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", size=(64, 64), sensor="qb")
    out = tmp_path / "v.tif"
    out.write_bytes(b"keep")
    res = run("visual", fused, out)
    assert res.exit_code == 2 and "pass --overwrite" in res.output and out.read_bytes() == b"keep"
    before = sha(fused)
    res = run("visual", fused, fused, "--overwrite")
    assert res.exit_code == 2 and "is also an input" in res.output and sha(fused) == before
    assert run("visual", fused, out, "--overwrite", "-q").exit_code == 0
    with rasterio.open(out) as ds:
        assert ds.count == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodata-as", "alpha"], "JPEG cannot carry an alpha band"),
        (["--compress", "deflate", "--quality", "80"], "--quality applies to jpeg and webp"),
        (["--percentiles", "98,2"], "expected LOW,HIGH"),
        (["--bands", "3,2"], "expected three band numbers"),
        (["--gamma", "0"], "expected a value above 0"),
    ],
)
def test_usage_errors_exit_2_before_anything(tmp_path: Path, args: list[str], message: str) -> None:
    fused = fused_file(tmp_path / "fused.tif", size=(32, 32), sensor="qb")
    res = run("visual", fused, tmp_path / "v.tif", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.tif"]


def test_a_non_tif_output_name_is_refused(tmp_path: Path) -> None:
    fused = fused_file(tmp_path / "fused.tif", size=(32, 32), sensor="qb")
    res = run("visual", fused, tmp_path / "v.png")
    assert res.exit_code == 2 and "name it *.tif" in res.output


@pytest.mark.parametrize("bands, example", [(1, "--bands 1,1,1 for a grey product"), (2, "e.g. --bands 2,1,1")])
def test_one_or_two_bands_ask_for_bands_that_exist(tmp_path: Path, bands: int, example: str) -> None:
    """Audit 2, D11a: a 1-band file described "red" was told no band names a colour and to pass
    --bands 3,2,1, a band it does not have."""
    fused = fused_file(tmp_path / "f.tif", bands=bands, descriptions=["red", "nir"][:bands])
    res = run("visual", fused, tmp_path / "v.tif")
    assert res.exit_code == 1 and " ".join(res.output.split()) == (
        f"error: cannot make red, green and blue of {bands} band{'s' if bands > 1 else ''} by itself: pass "
        f"--bands R,G,B (1-based, a band may repeat), {example}"
    )
    res = run("visual", fused, tmp_path / "v.tif", "--bands", "1,1,1", "-q")
    assert res.exit_code == 0, res.output
