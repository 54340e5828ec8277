"""Nodata that has no integer value: NaN, GDAL masks and alpha bands on the inputs, reopened with rasterio.

A mask or alpha band marks nodata as GDAL and QGIS read it, so ``fuse`` must treat it as it treats a
nodata value; and an integer output must name its nodata by a value, never write it as data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair, write_tif

runner = CliRunner()
HOLE = (slice(4, 12), slice(20, 28))  # MS pixels, (rows, cols)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def fused(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, list]:
    with rasterio.open(path) as o:
        return o.read(), o.profile, list(o.colorinterp)


def with_mask(src: Path, out: Path, valid: np.ndarray, junk: float | None = None) -> Path:
    """A copy of ``src`` with an internal per-dataset mask (0 where ``valid`` is False); the data
    under the mask replaced by ``junk`` when given (what lies under a mask must not matter)."""
    with rasterio.open(src) as s:
        a, prof = s.read(), s.profile.copy()
    if junk is not None:
        a[:, ~valid] = junk
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(out, "w", **prof) as d:
            d.write(a)
            d.write_mask(np.where(valid, 255, 0).astype(np.uint8))
    return out


def with_value(src: Path, out: Path, valid: np.ndarray, nodata: float) -> Path:
    """A copy of ``src`` whose invalid pixels are ``nodata``, declared as its nodata value."""
    with rasterio.open(src) as s:
        a, t = s.read(), s.transform
    a = a.astype(np.float64 if np.isnan(nodata) else a.dtype)
    a[:, ~valid] = nodata
    return write_tif(out, a, t, nodata=nodata)


def uint8_pair(tmp: Path, bands: int) -> tuple[Path, Path]:
    """A uint8 pair (values 1..255, so no data pixel is 0)."""
    pan, ms, _ = make_pair(tmp, size=128, bands=bands, dtype="float32", name="f")
    out = []
    for src, name in ((pan, "pan8.tif"), (ms, "ms8.tif")):
        with rasterio.open(src) as s:
            a = np.clip(np.rint(s.read() / 6), 1, 255)
            out.append(write_tif(tmp / name, a, s.transform, dtype="uint8"))
    return out[0], out[1]


def hole_mask(shape: tuple[int, int]) -> np.ndarray:
    valid = np.ones(shape, bool)
    valid[HOLE] = False
    return valid


def test_a_nan_nodata_ms_gives_an_integer_output_a_nodata_value(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="uint16")
    msn = with_value(ms, tmp_path / "msn.tif", hole_mask((32, 32)), np.nan)  # float64, nodata NaN
    out = tmp_path / "o.tif"
    res = run("fuse", pan, msn, out, "-m", "mtf-glp-hpm", "--dtype", "uint16")
    assert res.exit_code == 0, res.output
    assert "nodata value is NaN" in res.output and "written as 0" in res.output
    d, prof, _ = fused(out)
    assert prof["nodata"] == 0 and prof["dtype"] == "uint16"
    fine = (slice(4 * 4, 12 * 4), slice(20 * 4, 28 * 4))
    assert (d[:, fine[0], fine[1]] == 0).all()  # the hole is nodata, not the fill
    assert d[:, :8, :].min() >= 1  # data away from it is data, never the nodata value


def test_a_nan_hole_in_a_float_pan_is_nodata_in_an_integer_output(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="uint16")
    with rasterio.open(pan) as p:
        a, t = p.read().astype(np.float32), p.transform
    a[:, 40:60, :10] = np.nan  # no nodata value declared: NaN counts as nodata
    pn = write_tif(tmp_path / "pn.tif", a, t)
    out = tmp_path / "o.tif"
    assert run("fuse", pn, ms, out, "-m", "mtf-glp-hpm", "-q").exit_code == 0  # uint16, the MS's dtype
    d, prof, _ = fused(out)
    assert prof["nodata"] == 0
    assert (d[:, 40:60, :10] == 0).all() and d[:, :40, :].min() >= 1


def test_an_internal_mask_is_nodata_as_a_nodata_value_is(tmp_path):
    """The MS's internal mask, with junk under it, gives the fusion of the same pair whose masked
    pixels are declared nodata by value: to the bit, on every pixel."""
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="uint16")
    valid = hole_mask((32, 32))
    masked = with_mask(ms, tmp_path / "msm.tif", valid, junk=60000)
    valued = with_value(ms, tmp_path / "msv.tif", valid, 0)
    for src, out in ((masked, "om.tif"), (valued, "ov.tif")):
        res = run("fuse", pan, src, tmp_path / out, "-m", "mtf-glp-hpm", "-q")
        assert res.exit_code == 0, res.output
    dm, pm, _ = fused(tmp_path / "om.tif")
    dv, pv, _ = fused(tmp_path / "ov.tif")
    assert pm["nodata"] == pv["nodata"] == 0
    np.testing.assert_array_equal(dm, dv)
    assert (dm[:, 16:48, 80:112] == 0).all()
    info = json.loads(run("info", pan, masked, "--json").output)
    assert [f["mask"] for f in info["files"]] == [None, "mask band"]


def test_a_pan_mask_is_nodata(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="float32")
    valid = np.ones((128, 128), bool)
    valid[:, 100:] = False
    pm = with_mask(pan, tmp_path / "pm.tif", valid, junk=-1e6)
    out = tmp_path / "o.tif"
    assert run("fuse", pm, ms, out, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    d, prof, _ = fused(out)
    assert np.isnan(prof["nodata"])
    assert np.isnan(d[:, :, 100:]).all() and np.isfinite(d[:, :, :100]).all()
    assert np.nanmax(np.abs(d)) < 1e4  # the junk under the mask reached no pixel


def test_an_alpha_band_is_not_fused_and_marks_nodata(tmp_path):
    pan, ms = uint8_pair(tmp_path, 3)
    with rasterio.open(ms) as s:
        a, prof = s.read(), s.profile.copy()
    alpha = np.full((1, 32, 32), 255, np.uint8)
    alpha[0][HOLE] = 0
    prof.update(count=4, photometric="RGB", alpha="YES")
    rgba = tmp_path / "rgba.tif"
    with rasterio.open(rgba, "w", **prof) as d:
        d.write(np.concatenate([a, alpha]))
    valued = with_value(ms, tmp_path / "msv.tif", alpha[0] > 0, 0)
    res = run("fuse", pan, rgba, tmp_path / "oa.tif", "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    assert "alpha band" in res.output
    assert run("fuse", pan, valued, tmp_path / "ov.tif", "-m", "mtf-glp-hpm", "-q").exit_code == 0
    da, pa, ci = fused(tmp_path / "oa.tif")
    dv, pv, _ = fused(tmp_path / "ov.tif")
    assert pa["count"] == 3 and ColorInterp.alpha not in ci
    assert ci == [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    assert pa["nodata"] == pv["nodata"] == 0
    np.testing.assert_array_equal(da, dv)
    info = run("info", pan, rgba)
    assert info.exit_code == 0 and "alpha band 4 (read as nodata)" in info.output
    assert "output          128x128 PAN pixels (width x height), 3 bands" in info.output


def test_a_grey_and_alpha_pan_needs_no_pan_band(tmp_path):
    pan, ms = uint8_pair(tmp_path, 4)
    with rasterio.open(pan) as s:
        a, prof = s.read(), s.profile.copy()
    prof.update(count=2, alpha="YES")
    ga = tmp_path / "ga.tif"
    with rasterio.open(ga, "w", **prof) as d:
        d.write(np.concatenate([a, np.full_like(a, 255)]))
    assert run("fuse", ga, ms, tmp_path / "o.tif", "-m", "exp", "-q").exit_code == 0
    res = run("fuse", ga, ms, tmp_path / "o2.tif", "-m", "exp", "--pan-band", "2", "-q")
    assert res.exit_code == 1 and "alpha band" in res.output


def with_alpha(src: Path, out: Path, valid: np.ndarray) -> Path:
    """A uint8 RGBA copy of the first 3 bands of ``src`` (scaled to 1..255), alpha 0 where invalid."""
    with rasterio.open(src) as s:
        a, prof = s.read()[:3], s.profile.copy()
    a = np.clip(np.rint(a / a.max() * 254) + 1, 1, 255)
    prof.update(count=4, dtype="uint8", photometric="RGB", alpha="YES", nodata=None)
    with rasterio.open(out, "w", **prof) as d:
        d.write(np.concatenate([a, np.where(valid, 255, 0)[None]]).astype(np.uint8))
    return out


@pytest.mark.parametrize("how", ["mask", "value", "alpha"])
def test_a_mask_on_a_resampled_ms(tmp_path, how):
    """An MS read through a warped VRT (a ratio of 3.9) keeps its mask as nodata."""
    pan, ms, _ = make_pair(tmp_path, size=160, dtype="float32")
    with rasterio.open(ms) as s:
        a, t = s.read(), s.transform
    t = rasterio.Affine(t.a * 3.9 / 4, 0, t.c, 0, t.e * 3.9 / 4, t.f)  # 1.95 m MS pixels on 0.5 m PAN
    m39 = write_tif(tmp_path / "m39.tif", a[:, :40, :40], t)
    valid = np.ones((40, 40), bool)
    valid[:, 30:] = False
    src = {
        "mask": lambda: with_mask(m39, tmp_path / "m39m.tif", valid, junk=-1e6),
        "value": lambda: with_value(m39, tmp_path / "m39v.tif", valid, -1e6),
        "alpha": lambda: with_alpha(m39, tmp_path / "m39a.tif", valid),
    }[how]()
    out = tmp_path / "o.tif"
    res = run("fuse", pan, src, out, "-m", "mtf-glp-hpm", "-q")
    assert res.exit_code == 0, res.output
    d, prof, _ = fused(out)
    nodata = np.isnan(d) if how == "mask" else d == prof["nodata"]
    assert how != "mask" or np.isnan(prof["nodata"])
    assert how != "alpha" or (prof["nodata"] == 0 and prof["count"] == 3)  # uint8: its lowest value
    col = int(30 * 1.95 / 0.5)  # the mask's edge in PAN pixels
    assert nodata[:, :, col + 8 :].all()
    assert not nodata[:, :, : col - 8].any() and np.abs(d[~nodata]).max() < 1e4
