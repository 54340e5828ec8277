"""The CLI end to end: CliRunner runs, outputs reopened with rasterio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import DATA, make_pair, with_nodata_strip, write_tif

runner = CliRunner()
CLASSICAL = ["exp", "brovey", "gsa", "mtf-glp-hpm"]


def run(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(res, match: str, code: int = 1) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert match in res.output.replace("\n", " "), res.output


@pytest.mark.parametrize("method", CLASSICAL)
def test_fuse_writes_a_georeferenced_geotiff_on_the_pan_grid(tmp_path, pair, method):
    pan, ms, ref = pair
    out = tmp_path / "out.tif"
    res = run("fuse", pan, ms, out, "-m", method, "--sensor", "generic", "-q")
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as o, rasterio.open(pan) as p, rasterio.open(ms) as m:
        assert o.crs == p.crs and o.transform == p.transform and o.res == p.res
        assert (o.width, o.height, o.count, o.dtypes[0]) == (p.width, p.height, m.count, m.dtypes[0])
        assert o.profile["tiled"] and o.compression.name == "deflate"
        tags = o.tags()
        assert tags["PANSHARPEN_METHOD"] == method and tags["PANSHARPEN_SENSOR"] == "generic"
        assert tags["PANSHARPEN_RATIO"] == "4" and "PANSHARPEN_VERSION" in tags
        data = o.read().astype(float)
    # The fusion is close to the true high-resolution MS (it is a fusion, not noise).
    rel = np.abs(data - ref).mean() / ref.mean()
    assert rel < 0.15, rel


def test_sharpening_methods_beat_plain_upsampling(tmp_path, pair):
    pan, ms, ref = pair
    err = {}
    for method in CLASSICAL:
        out = tmp_path / f"{method}.tif"
        assert run("fuse", pan, ms, out, "-m", method, "-q").exit_code == 0
        with rasterio.open(out) as o:
            err[method] = np.sqrt(((o.read().astype(float) - ref) ** 2).mean())
    assert err["mtf-glp-hpm"] < err["exp"] and err["gsa"] < err["exp"], err


def test_multi_file_ms_equals_multiband_ms(tmp_path, pair):
    pan, ms, _ = pair
    with rasterio.open(ms) as m:
        files = []
        for b in range(1, m.count + 1):
            files.append(write_tif(tmp_path / f"B{b}.tif", m.read(b)[None], m.transform, dtype=m.dtypes[0]))
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    assert run("fuse", pan, ms, a, "-m", "gsa", "-q").exit_code == 0
    assert run("fuse", pan, *files, b, "-m", "gsa", "-q").exit_code == 0
    with rasterio.open(a) as oa, rasterio.open(b) as ob:
        np.testing.assert_array_equal(oa.read(), ob.read())
        assert ob.descriptions == ("B1", "B2", "B3", "B4")  # band files name their bands


@pytest.mark.parametrize("method", CLASSICAL)
def test_blockwise_fusion_equals_whole_image_fusion(tmp_path, method):
    pan, ms, _ = make_pair(tmp_path, size=192, ratio=4, dtype="float32")
    small, big = tmp_path / "small.tif", tmp_path / "big.tif"
    assert run("fuse", pan, ms, small, "-m", method, "--tile", "16", "-q").exit_code == 0  # 3x3 tiles
    assert run("fuse", pan, ms, big, "-m", method, "--tile", "1000", "-q").exit_code == 0  # one tile
    with rasterio.open(small) as a, rasterio.open(big) as b:
        np.testing.assert_allclose(a.read(), b.read(), rtol=1e-5, atol=1e-3)


def test_overwrite(tmp_path, pair):
    pan, ms, _ = pair
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    assert_one_line_error(run("fuse", pan, ms, out, "-m", "exp"), "--overwrite", code=2)  # a usage error
    assert out.read_bytes() == b"precious"
    assert run("fuse", pan, ms, out, "-m", "exp", "--overwrite", "-q").exit_code == 0
    with rasterio.open(out) as o:
        assert o.count == 4


def test_pixel_is_point_grid_is_honoured(tmp_path):
    # Real Landsat-8 crop: PAN and MS are pixel-is-point with MS centres on every other PAN centre.
    pan, ms = DATA / "landsat8_pan.tif", DATA / "landsat8_ms.tif"
    out = tmp_path / "l8.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--sensor", "landsat8", "-v")
    assert res.exit_code == 0, res.output
    assert "resampling the MS" in res.output
    with rasterio.open(out) as o, rasterio.open(pan) as p:
        assert o.tags()["AREA_OR_POINT"] == "Point"
        assert o.res == p.res and o.crs == p.crs
        # Output pixels sit on PAN pixels: the origin is a whole number of PAN pixels from the PAN's.
        col, row = ~p.transform @ (o.transform.c, o.transform.f)
        assert col == pytest.approx(round(col), abs=1e-6) and row == pytest.approx(round(row), abs=1e-6)
        assert (o.width, o.height) == (158, 158)


def test_non_exact_ratio_real_pair(tmp_path):
    pan, ms = DATA / "osman_pan.tif", DATA / "osman_ms.tif"
    out = tmp_path / "o.tif"
    res = run("fuse", pan, ms, out, "-m", "gsa", "-v")
    assert res.exit_code == 0 and "not aligned" in res.output, res.output
    with rasterio.open(out) as o, rasterio.open(pan) as p:
        assert o.transform == p.transform and o.dtypes[0] == "uint16" and o.count == 4


def test_float_scene_with_nodata_and_offset_origins(tmp_path):
    # Like the WorldView-3 sample: float32 radiance, 8 bands, nodata = 0, MS origin 2 PAN pixels
    # right and 1 below the PAN's.
    pan, ms, _ = make_pair(tmp_path, bands=8, size=132, dtype="float32", ms_offset=(2, 1))
    msn = with_nodata_strip(ms, tmp_path / "ms_nd.tif", 5)
    out = tmp_path / "w.tif"
    assert run("fuse", pan, msn, out, "-m", "mtf-glp-hpm", "--sensor", "wv3", "-q").exit_code == 0
    with rasterio.open(out) as o, rasterio.open(msn) as m:
        assert o.nodata == 0 and o.dtypes[0] == "float32" and o.count == 8
        assert (o.transform.c, o.transform.f) == pytest.approx((m.transform.c, m.transform.f))
        d = o.read()
        assert (d[:, :, : 5 * 4] == 0).all()  # nodata where the MS had nodata
        assert (d[:, :, 5 * 4 :] != 0).all() and np.isfinite(d).all()


def test_no_georeferencing_falls_back_with_a_warning(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=60, ratio=3, georef=False, dtype="int16")
    out = tmp_path / "o.tif"
    res = run("fuse", pan, ms, out, "-m", "brovey")
    assert res.exit_code == 0 and "no georeferencing" in res.output
    with rasterio.open(out) as o:
        assert o.crs is None and o.transform == Affine.identity() and o.dtypes[0] == "int16"
        assert (o.width, o.height) == (60, 60)


def test_output_options(tmp_path, pair):
    pan, ms, _ = pair
    cog, lzw, u8 = tmp_path / "c.tif", tmp_path / "l.tif", tmp_path / "u8.tif"
    assert run("fuse", pan, ms, cog, "-m", "exp", "--of", "COG", "-q").exit_code == 0
    with rasterio.open(cog) as o:
        assert o.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert run("fuse", pan, ms, lzw, "-m", "exp", "--co", "COMPRESS=LZW", "-q").exit_code == 0
    with rasterio.open(lzw) as o:
        assert o.compression.name == "lzw"
    assert run("fuse", pan, ms, u8, "-m", "exp", "--dtype", "uint8", "-q").exit_code == 0
    with rasterio.open(u8) as o:
        d = o.read()
        assert o.dtypes[0] == "uint8" and d.max() == 255  # values of ~400 DN are clipped, not wrapped


def test_info_and_sensors(tmp_path, pair):
    pan, ms, _ = pair
    res = run("info", pan, ms, "--json")
    assert res.exit_code == 0
    d = json.loads(res.output)
    assert d["fuse"]["ratio"] == 4 and (d["fuse"]["output_width"], d["fuse"]["output_height"]) == (128, 128)
    assert [f["role"] for f in d["files"]] == ["PAN", "MS"] and d["files"][1]["count"] == 4
    res = run("sensors", "--json")
    assert res.exit_code == 0, res.output
    rows = {s["name"]: s for s in json.loads(res.output)}
    assert {"wv3", "qb", "landsat8", "generic"} <= set(rows)
    assert rows["wv3"]["ms_gains"] == [0.325, 0.355, 0.36, 0.35, 0.365, 0.36, 0.335, 0.315]
    assert rows["wv3"]["pan_gain"] == 0.14 and rows["landsat8"]["ratio"] == 2
    assert "quickbird" in rows["qb"]["aliases"]
    res = run("sensors")
    assert res.exit_code == 0 and "WorldView-3" in res.output and "0.325" in res.output


# -- bad input: one line, exit 1, no output ------------------------------------------------------


def _bad(tmp_path: Path, case: str):
    pan, ms, _ = make_pair(tmp_path, size=64)
    out = tmp_path / "out.tif"
    args: list = [pan, ms, out]
    if case == "missing":
        args = [tmp_path / "nope.tif", ms, out]
    elif case == "not-a-raster":
        bad = tmp_path / "bad.tif"
        bad.write_text("not a raster")
        args = [bad, ms, out]
    elif case == "multiband-pan":
        args = [ms, ms, out]
    elif case == "crs":
        with rasterio.open(ms) as m:
            other = write_tif(tmp_path / "ms2.tif", m.read(), m.transform, crs="EPSG:4326")
        args = [pan, other, out]
    elif case == "no-overlap":
        with rasterio.open(ms) as m:
            far = write_tif(tmp_path / "far.tif", m.read(), m.transform @ Affine.translation(1000, 0))
        args = [pan, far, out]
    elif case == "ms-finer":
        with rasterio.open(ms) as m:
            coarse = write_tif(tmp_path / "coarse.tif", m.read(1)[None], m.transform)
        args = [coarse, pan, out]
    elif case == "dtype":
        with rasterio.open(ms) as m:
            c = write_tif(tmp_path / "c.tif", m.read().astype(np.complex64), m.transform)
        args = [pan, c, out]
    elif case == "outdir":
        args = [pan, ms, tmp_path / "missing" / "out.tif"]
    elif case == "out-is-input":
        args = [pan, ms, ms]
    return args, out


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "not found"),
        ("not-a-raster", "cannot open"),
        ("multiband-pan", "--pan-band"),
        ("crs", "different CRSs"),
        ("no-overlap", "do not overlap"),
        ("ms-finer", "finer than PAN"),
        ("dtype", "data type"),
        ("outdir", "does not exist: create it first"),
        ("out-is-input", "also an input"),
    ],
)
def test_bad_input_gives_one_line_and_no_output(tmp_path, case, match):
    args, out = _bad(tmp_path, case)
    before = {p.name for p in tmp_path.iterdir()}
    res = run("fuse", *args, "-m", "exp", "-q")
    assert_one_line_error(res, match, code=2 if case in ("outdir", "out-is-input") else 1)  # the preflight's
    assert not out.exists() or case == "out-is-input"
    assert {p.name for p in tmp_path.iterdir()} == before  # no temporary file left either


def test_ratio_below_1_5(tmp_path):
    a = write_tif(tmp_path / "p.tif", np.ones((1, 60, 60), np.uint16), Affine(1, 0, 0, 0, -1, 0))
    b = write_tif(tmp_path / "m.tif", np.ones((2, 50, 50), np.uint16), Affine(1.2, 0, 0, 0, -1.2, 0))
    assert_one_line_error(run("fuse", a, b, tmp_path / "o.tif", "-m", "exp"), "below 1.5")


def test_usage_errors_exit_2(tmp_path, pair):
    pan, ms, _ = pair
    assert run("fuse", pan, ms, tmp_path / "o.tif", "-m", "magic").exit_code == 2
    assert run("fuse", pan).exit_code == 2
    assert run("fuse", pan, ms, tmp_path / "o.tif", "--co", "NOEQUALS").exit_code == 2
    res = run("fuse", pan, ms, tmp_path / "o.tif", "--sensor", "hubble", "-m", "exp")
    assert_one_line_error(res, "unknown sensor", code=2)


def test_pan_band_selects_a_band(tmp_path, pair):
    pan, ms, _ = pair
    out = tmp_path / "o.tif"
    assert run("fuse", ms, ms, out, "-m", "exp", "--pan-band", "2", "-q").exit_code == 1  # MS not coarser
    with rasterio.open(pan) as p:
        two = write_tif(tmp_path / "p2.tif", np.concatenate([p.read(), p.read()]), p.transform)
    assert run("fuse", two, ms, out, "-m", "exp", "--pan-band", "2", "-q").exit_code == 0


def test_nan_in_float_input_is_nodata(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64, dtype="float32")
    with rasterio.open(pan) as p:
        a = p.read()
        a[:, 10:20, 10:20] = np.nan  # a NaN hole in the PAN, no nodata value declared
        pn = write_tif(tmp_path / "pn.tif", a, p.transform)
    out = tmp_path / "o.tif"
    assert run("fuse", pn, ms, out, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    with rasterio.open(out) as o:
        d = o.read()
        assert np.isnan(o.nodata)
    assert np.isnan(d[:, 10:20, 10:20]).all()
    assert np.isfinite(d[:, 20:, :]).all() and np.isfinite(d[:, :10, :]).all()


def test_bad_dtype_option(tmp_path, pair):
    pan, ms, _ = pair
    assert_one_line_error(
        run("fuse", pan, ms, tmp_path / "o.tif", "-m", "exp", "--dtype", "complex64"), "--dtype", code=2
    )
    assert not (tmp_path / "o.tif").exists()


def test_an_error_message_keeps_its_bracketed_text(tmp_path):
    # rich markup must not eat "[...]" in messages (a file name, an option list)
    missing = tmp_path / "pan[abc].tif"
    res = run("fuse", missing, tmp_path / "ms.tif", tmp_path / "o.tif", "-m", "exp", "-q")
    assert_one_line_error(res, "pan[abc].tif")
