"""Options that could silently misplace or mislabel the output: georeferencing in only one input
(--assume-aligned), a forced --ratio against the geotransforms, creation options GDAL would ignore."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from typer.testing import CliRunner

from pansharpen_cli.base.errors import UsageError
from pansharpen_cli.cli import app
from pansharpen_cli.io.creation import check_creation_options, creation_option_list
from tests.conftest import make_pair, write_tif

runner = CliRunner()


def fuse(*args) -> tuple[int, list[str]]:
    res = runner.invoke(app, ["fuse", *map(str, args), "-m", "exp", "--sensor", "generic", "-q"])
    assert "Traceback" not in res.output
    return res.exit_code, res.output.strip().splitlines()


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _strip_georeferencing(tmp_path, src, name):
    with rasterio.open(src) as d:
        return write_tif(tmp_path / name, d.read(), None)


@pytest.mark.parametrize("bare", ["MS", "PAN"])
def test_georeferencing_in_one_input_only_is_refused(tmp_path, bare):
    pan, ms, _ = make_pair(tmp_path, size=64)
    if bare == "MS":
        ms = _strip_georeferencing(tmp_path, ms, "bare.tif")
    else:
        pan = _strip_georeferencing(tmp_path, pan, "bare.tif")
    before = listing(tmp_path)
    code, lines = fuse(pan, ms, tmp_path / "out.tif")
    other = "PAN" if bare == "MS" else "MS"
    assert code == 1 and lines == [
        f"error: {bare} {tmp_path / 'bare.tif'} has no georeferencing (no CRS, no geotransform) but the "
        f"{other} has: give it one (gdal_edit.py -a_srs -a_ullr), or pass --assume-aligned to fuse by "
        "array geometry"
    ]
    assert listing(tmp_path) == before


def test_assume_aligned_fuses_by_array_geometry_and_keeps_the_pans_georeferencing(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    bare = _strip_georeferencing(tmp_path, ms, "bare.tif")
    ref, out = tmp_path / "ref.tif", tmp_path / "out.tif"
    assert fuse(pan, ms, ref)[0] == 0
    res = runner.invoke(app, ["fuse", str(pan), str(bare), str(out), "-m", "exp", "--assume-aligned"])
    assert res.exit_code == 0 and "the MS has no georeferencing: aligning PAN and MS by array" in res.output
    with rasterio.open(out) as o, rasterio.open(ref) as r, rasterio.open(pan) as p:
        assert (o.crs, o.transform, o.shape) == (p.crs, p.transform, p.shape)
        np.testing.assert_array_equal(o.read(), r.read())  # the MS did span the PAN's extent


def test_without_any_georeferencing_the_pair_is_still_fused(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=60, ratio=3, georef=False)
    code, lines = fuse(pan, ms, tmp_path / "o.tif", "--ratio", "3")
    assert code == 0 and lines == []


@pytest.mark.parametrize("ratio", ["2", "5", "100"])
def test_a_forced_ratio_the_geotransforms_disagree_with_is_refused(tmp_path, ratio):
    pan, ms, _ = make_pair(tmp_path, size=64, ratio=4)
    before = listing(tmp_path)
    code, lines = fuse(pan, ms, tmp_path / "out.tif", "--ratio", ratio)
    assert code == 1 and lines == [
        f"error: --ratio {ratio} disagrees with the geotransforms, which give a ratio of 4.0000 x 4.0000: "
        "drop --ratio, or fix the geotransforms (gdal_edit.py -a_ullr)"
    ]
    assert listing(tmp_path) == before


def test_a_forced_ratio_within_the_tolerance_is_used(tmp_path):
    # 0.498125 m PAN pixels under 2 m MS pixels: 4.015, within 5 % of 4.
    pan = write_tif(
        tmp_path / "pan.tif", np.ones((1, 320, 320), np.uint16), Affine(0.498125, 0, 1000, 0, -0.498125, 2000)
    )
    ms = write_tif(tmp_path / "ms.tif", np.ones((2, 80, 80), np.uint16), Affine(2.0, 0, 1000, 0, -2.0, 2000))
    code, lines = fuse(pan, ms, tmp_path / "out.tif", "--ratio", "4")
    assert code == 0 and lines == []
    with rasterio.open(tmp_path / "out.tif") as o:
        assert o.tags()["PANSHARPEN_RATIO"] == "4" and o.res == (0.498125, 0.498125)


def test_a_forced_ratio_without_georeferencing_overrides_the_array_sizes(tmp_path):
    pan = write_tif(tmp_path / "pan.tif", np.ones((1, 64, 64), np.uint16), None)
    ms = write_tif(tmp_path / "ms.tif", np.ones((2, 15, 15), np.uint16), None)  # 64/15 = 4.27
    res = runner.invoke(
        app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "-m", "exp", "--ratio", "4"]
    )
    assert res.exit_code == 0 and "--ratio 4 differs from the array sizes' ratio 4.2667" in res.output
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.shape == (60, 60)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--co", "BADKEY=1"],
            "--co BADKEY=1: the GTiff driver has no creation option BADKEY; the valid "
            "ones are listed by `gdalinfo --format GTiff` or https://gdal.org/drivers/raster/gtiff.html",
        ),
        (
            ["--co", "compres=LZW"],
            "--co COMPRES=LZW: the GTiff driver has no creation option COMPRES (did you mean COMPRESS?)",
        ),
        (["--co", "COMPRESS=ZTSD"], "--co COMPRESS=ZTSD: expected COMPRESS to be one of NONE, LZW,"),
        (["--of", "COG", "--co", "TILED=YES"], "--co TILED=YES: the COG driver has no creation option TILED"),
    ],
)
def test_unknown_creation_options_are_usage_errors(tmp_path, args, message):
    pan, ms, _ = make_pair(tmp_path, size=64)
    before = listing(tmp_path)
    code, lines = fuse(pan, ms, tmp_path / "out.tif", *args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: " + message), lines
    assert listing(tmp_path) == before


def test_creation_options_come_from_the_drivers_list(tmp_path):
    gtiff, cog = creation_option_list("GTiff"), creation_option_list("COG")
    assert {"COMPRESS", "PREDICTOR", "BIGTIFF", "TILED", "BLOCKXSIZE"} <= set(gtiff)
    assert "DEFLATE" in gtiff["COMPRESS"] and gtiff["PREDICTOR"] == ()  # an int: any value
    assert "BLOCKSIZE" in cog and "TILED" not in cog
    check_creation_options("GTiff", {"compress": "zstd", "ZSTD_LEVEL": "9", "tiled": "yes"})
    with pytest.raises(UsageError, match="no creation option NOPE"):
        check_creation_options("COG", {"NOPE": "1"})
    pan, ms, _ = make_pair(tmp_path, size=64)
    assert fuse(pan, ms, tmp_path / "z.tif", "--co", "compress=zstd", "--co", "ZSTD_LEVEL=9")[0] == 0
    with rasterio.open(tmp_path / "z.tif") as o:
        assert o.compression.name == "zstd"


@pytest.mark.parametrize("command", ["info", "simulate", "evaluate"])
def test_the_other_commands_refuse_it_too_and_take_assume_aligned(tmp_path, command):
    pan, ms, _ = make_pair(tmp_path, size=128)
    bare = _strip_georeferencing(tmp_path, ms, "bare.tif")
    fused = tmp_path / "fused.tif"
    assert fuse(pan, ms, fused)[0] == 0
    last = {"info": [], "simulate": [tmp_path / "sim"], "evaluate": [fused]}[command]
    args = [command, str(pan), str(bare), *map(str, last)]
    res = runner.invoke(app, args)
    # info describes the inputs first (a table on stdout), then says why fuse would refuse them
    said = res.output if command != "info" else res.output.splitlines()[-1]
    assert res.exit_code == 1 and said.startswith(f"error: MS {bare} has no georeferencing"), res.output
    assert command != "info" or "Inputs" in res.output
    assert not (tmp_path / "sim").exists()
    res = runner.invoke(
        app, [*args, "--assume-aligned", "-q"] if command != "info" else [*args, "--assume-aligned"]
    )
    assert res.exit_code == 0, res.output
    if command == "simulate":
        with rasterio.open(tmp_path / "sim" / "ms.tif") as m, rasterio.open(pan) as p:
            assert m.crs == p.crs and m.res == (p.res[0] * 16, p.res[1] * 16)
