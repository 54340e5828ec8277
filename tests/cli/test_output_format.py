"""Issue 25: the output's format follows its extension (a GeoTIFF name, or none: --of decides;
another format's refused before any work with the --of hint), and --overviews builds overviews in
the GeoTIFF (and the COG) without changing its values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from pansharpen_cli.base.errors import UsageError
from pansharpen_cli.io.formats import check_output_format
from pansharpen_cli.io.overviews import overview_levels, parse_overviews
from pansharpen_cli.io.space import Footprint
from tests.cli.test_cli import run
from tests.cli.test_preflight import _refused
from tests.conftest import make_pair

FAST = ("-m", "mtf-glp-hpm", "-q")


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    pan, ms, _ = make_pair(tmp_path, size=128)
    return pan, ms


@pytest.mark.parametrize(
    "name, driver",
    [("out.png", "PNG"), ("out.jpg", "JPEG"), ("out.img", "HFA"), ("out.nc", "netCDF"), ("OUT.JP2", "JP2OpenJPEG")],
)
def test_another_formats_extension_is_refused_before_any_work(tmp_path, scene, name, driver):
    pan, ms = scene
    out = tmp_path / name
    tif = out.with_suffix(".tif")
    _refused(
        tmp_path,
        ["fuse", *FAST, pan, ms, out],
        f"error: output {out}: the name says a {driver} file, but this tool writes GeoTIFF (--of GTiff or "
        f"COG, here GTiff): name it {tif}, or convert it afterwards: gdal_translate -of {driver} {tif} {out}",
    )


def test_an_archive_extension_is_refused(tmp_path, scene):
    out = tmp_path / "out.tif.gz"
    want = f"output {out}: the name says a .gz archive"
    _refused(tmp_path, ["fuse", *FAST, *scene, out, "--of", "COG"], want)


@pytest.mark.parametrize(
    "name, of", [("out.tif", "GTiff"), ("out.TIFF", "COG"), ("out", "GTiff"), ("scene.v1", "COG")]
)
def test_a_geotiff_name_or_none_is_written_with_the_of_driver(tmp_path, scene, name, of):
    out = tmp_path / name
    res = run("fuse", *FAST, *scene, out, "--of", of)
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.driver == "GTiff" and ds.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm"
        assert (ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG") == (of == "COG")


def test_a_manifest_out_cell_with_another_format_is_refused(tmp_path, scene):
    pan, ms = scene
    (tmp_path / "m.csv").write_text(f"pan,ms,out\n{pan},{ms},a.tif\n{pan},{ms},b.jpg\n")
    od = tmp_path / "od"
    want = f"error: m.csv:3: output {od / 'b.jpg'}: the name says a JPEG file"
    _refused(tmp_path, ["batch", *FAST, tmp_path / "m.csv", od], want)


def test_check_output_format_directly():
    check_output_format("output", Path("a.tif"), "GTiff")
    check_output_format("output", Path("a"), "GTiff")
    with pytest.raises(UsageError, match="name it a.tif"):
        check_output_format("output", Path("a.png"), "COG")


# -- --overviews -------------------------------------------------------------------------------
def test_parse_and_levels():
    assert parse_overviews("auto") == "auto"
    assert parse_overviews("none") is None and parse_overviews(None) is None
    assert parse_overviews("8, 2,4,2") == (2, 4, 8) and parse_overviews([4, 2]) == (2, 4)
    for bad in ("1,2", "2,x", ","):
        with pytest.raises(UsageError, match="expected auto, none or factors like 2,4,8"):
            parse_overviews(bad)
    assert overview_levels("auto", 255, 4000) == ()
    assert overview_levels("auto", 256, 300) == (2,)
    assert overview_levels("auto", 1024, 2048) == (2, 4, 8)
    assert overview_levels((2, 3), 10, 10) == (2, 3)


def test_the_space_estimate_counts_the_overviews():
    plain = Footprint(4096, 4096, 4, "uint16")
    with_ovr = Footprint(4096, 4096, 4, "uint16", overviews=True)
    assert with_ovr.bytes_needed() == pytest.approx(plain.bytes_needed() * 4 / 3, rel=1e-6)
    cog = Footprint(4096, 4096, 4, "uint16", "COG")
    assert Footprint(4096, 4096, 4, "uint16", "COG", overviews=True).bytes_needed() > cog.bytes_needed() * 0.9


@pytest.mark.parametrize("of", ["GTiff", "COG"])
def test_overviews_in_the_output_and_the_same_values(tmp_path, scene, of):
    plain, ovr = tmp_path / "plain.tif", tmp_path / "ovr.tif"
    assert run("fuse", *FAST, *scene, plain, "--of", of).exit_code == 0
    res = run("fuse", *FAST, *scene, ovr, "--of", of, "--overviews", "2,4")
    assert res.exit_code == 0, res.output
    with rasterio.open(plain) as a, rasterio.open(ovr) as b:
        assert b.overviews(1) == [2, 4]
        assert np.array_equal(a.read(), b.read())
        assert (a.profile["blockxsize"], a.compression) == (b.profile["blockxsize"], b.compression)
        assert b.tags(ns="rio_overview") == {"resampling": "average"}  # the COG copy keeps it too
        assert a.tags(ns="rio_overview") == {}  # the COG driver's own overviews: not ours to tag
        if of == "GTiff":  # a COG has overviews of its own without the option
            assert a.overviews(1) == []
        half = b.read(1, out_shape=(b.height // 2, b.width // 2))  # from the overview
        full = a.read(1).astype(float)
        expect = full.reshape(b.height // 2, 2, b.width // 2, 2).mean(axis=(1, 3))
        assert np.abs(half - expect).max() <= 1  # average of each 2x2 block (rounded)


def test_overviews_add_about_a_third_not_dead_space(tmp_path):
    """Built with a block cache that holds them (the tool's GDAL cache is tiny): no block written twice."""
    pan, ms, _ = make_pair(tmp_path, size=1024, bands=2)
    plain, ovr = tmp_path / "plain.tif", tmp_path / "ovr.tif"
    assert run("fuse", *FAST, pan, ms, plain).exit_code == 0
    assert run("fuse", *FAST, pan, ms, ovr, "--overviews", "auto").exit_code == 0
    with rasterio.open(ovr) as ds:
        assert ds.overviews(1) == [2, 4, 8]
    assert ovr.stat().st_size < 1.45 * plain.stat().st_size  # 1.38; 1.59 with blocks written twice


def test_auto_on_an_image_under_256_pixels_builds_none(tmp_path, scene):
    out = tmp_path / "o.tif"
    assert run("fuse", *FAST, *scene, out, "--overviews", "auto").exit_code == 0
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == []


def test_a_bad_overviews_value_is_a_usage_error(tmp_path, scene):
    res = run("fuse", *FAST, *scene, tmp_path / "o.tif", "--overviews", "1,2")
    assert res.exit_code == 2 and "--overviews" in res.output and "factors like 2,4,8" in res.output
    assert not (tmp_path / "o.tif").exists()


def test_batch_takes_overviews(tmp_path, scene):
    pan, ms = scene
    (tmp_path / "m.csv").write_text(f"pan,ms\n{pan},{ms}\n")
    res = run("batch", *FAST, tmp_path / "m.csv", tmp_path / "od", "--overviews", "2")
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "od" / "pan.tif") as ds:
        assert ds.overviews(1) == [2]
    rec = json.loads((tmp_path / "od" / "pansharpen-batch.jsonl").read_text().splitlines()[-1])
    assert rec["status"] == "done"


@pytest.mark.parametrize(
    "co, extra, match",
    [
        (["COMPRESS=WEBP"], ["--dtype", "uint8"], "--co COMPRESS=WEBP: GDAL's WEBP holds 3 or 4 bands, the output has 5"),
        (["COMPRESS=JPEG"], ["--dtype", "uint8"], "--co COMPRESS=JPEG: JPEG holds at most 4 bands a pixel, the "
         "output has 5: add --co INTERLEAVE=BAND"),
        (["COMPRESS=JPEG", "PHOTOMETRIC=YCBCR"], ["--dtype", "uint8"], "--co PHOTOMETRIC=YCBCR needs 3 bands, the "
         "output has 5"),
        (["NBITS=11", "PREDICTOR=2"], [], "--co NBITS=11 with PREDICTOR=2: GDAL's horizontal predictor needs 8, 16, "
         "32 or 64 bits a sample"),
        # GDAL's COG copy of an NBITS=11 file failed in 1 of 20 runs ("pixels clipped to fit 11 bit domain"
        # from values under 1400): refused rather than left to chance
        (["NBITS=11"], ["--of", "COG"], "--co NBITS=11 with --of COG: GDAL's COG copy of such a file fails now and "
         "then here"),
    ],
)
def test_creation_options_the_band_count_or_nbits_cannot_take_are_refused_before_any_work(tmp_path, co, extra, match):
    """Audit 2, D4: GDAL refused them at the first write, after the whole fit, naming the temporary file."""
    pan, ms, _ = make_pair(tmp_path, size=128, bands=5)
    args = ["fuse", "--iterations", "0", "-q", pan, ms, tmp_path / "out.tif", *extra]
    for c in co:
        args += ["--co", c]
    _refused(tmp_path, args, f"error: {match}")


def test_nbits_11_drops_the_default_predictor_and_jpeg_of_5_bands_is_written_band_interleaved(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128, bands=5)
    out = tmp_path / "nbits.tif"
    assert run("fuse", *FAST, pan, ms, out, "--co", "NBITS=11").exit_code == 0  # uint16 data under 2048
    with rasterio.open(out) as d:
        assert d.tags(1, ns="IMAGE_STRUCTURE")["NBITS"] == "11" and "PREDICTOR" not in d.tags(ns="IMAGE_STRUCTURE")
    out = tmp_path / "jpeg.tif"
    res = run("fuse", *FAST, pan, ms, out, "--dtype", "uint8", "--co", "COMPRESS=JPEG", "--co", "INTERLEAVE=BAND")
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as d:
        assert d.count == 5 and d.compression.name == "jpeg" and d.interleaving.name == "band"


@pytest.mark.parametrize(
    "name, what, ext",
    [("out.tif.ovr", "external overviews", ".ovr"), ("out.tif.aux.xml", "auxiliary metadata", ".aux.xml"),
     ("out.tif.msk", "external mask", ".msk")],
)
def test_a_gdal_sidecar_name_is_refused(tmp_path, scene, name, what, ext):
    """Audit 2, D11f: out.tif.ovr was written as a GeoTIFF that GDAL then reads as out.tif's overviews;
    out.tif.aux.xml was refused as "a PDS4 file"."""
    pan, ms = scene
    out = tmp_path / name
    _refused(
        tmp_path,
        ["fuse", *FAST, pan, ms, out],
        f"error: output {out}: the name is GDAL's for the {what} of out.tif ({ext}), which GDAL reads with "
        "out.tif: name the output something that ends in .tif",
    )
