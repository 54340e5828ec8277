"""The cases GDAL's pansharpening guards against, one table, each with its exit code and message.

GDAL's own suite rarely checks what a refusal says; here every case asserts the exit code, the text
of the one stderr line, and that nothing was left in the folder (no output, no temporary file). The
cases that are fused (nodata, a dtype mismatch, huge or infinite values) check the output instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair, write_tif

runner = CliRunner()


def _pair(tmp: Path) -> tuple[Path, Path, dict]:
    pan, ms, _ = make_pair(tmp, size=64, dtype="float32")
    with rasterio.open(pan) as p, rasterio.open(ms) as m:
        arrays = {"P": p.read(), "PT": p.transform, "M": m.read(), "MT": m.transform}
    return pan, ms, arrays


def _band_files(tmp: Path, a: dict, second_shape: tuple[int, int], second_t: Affine) -> list[Path]:
    first = write_tif(tmp / "B1.tif", a["M"][:1], a["MT"])
    other = np.resize(a["M"][1], second_shape)[None]
    return [first, write_tif(tmp / "B2.tif", other, second_t)]


def _build(tmp: Path, case: str) -> list:
    """The command line (after ``fuse``) of one case; files written into ``tmp``."""
    pan, ms, a = _pair(tmp)
    P, PT, M, MT = a["P"], a["PT"], a["M"], a["MT"]
    out = tmp / "out.tif"
    if case == "multiband PAN":
        return [write_tif(tmp / "pan4.tif", np.concatenate([P] * 4), PT), ms, out]
    if case == "PAN band out of range":
        return [pan, ms, out, "--pan-band", "3"]
    if case == "missing input":
        return [tmp / "nope.tif", ms, out]
    if case in ("not a raster", "zero-byte input", "unreadable input"):
        bad = tmp / "bad.tif"
        bad.write_bytes({"not a raster": b"II*\0garbage", "zero-byte input": b""}.get(case, pan.read_bytes()))
        if case == "unreadable input":
            bad.chmod(0)
        return [bad, ms, out]
    if case == "input is a directory":
        (tmp / "dir.tif").mkdir()
        return [tmp / "dir.tif", ms, out]
    if case == "truncated input":
        data = pan.read_bytes()
        (tmp / "cut.tif").write_bytes(data[: len(data) // 2])
        return [tmp / "cut.tif", ms, out]
    if case == "band files of different sizes":
        return [pan, *_band_files(tmp, a, (8, 8), MT), out]
    if case == "band files with different geotransforms":
        return [pan, *_band_files(tmp, a, M.shape[1:], MT @ Affine.translation(1, 0)), out]
    if case == "MS without geotransform":
        return [pan, write_tif(tmp / "msng.tif", M, None), out]
    if case == "PAN without geotransform":
        return [write_tif(tmp / "panng.tif", P, None), ms, out]
    if case == "CRS mismatch":
        return [pan, write_tif(tmp / "ms4326.tif", M, MT, crs="EPSG:32634"), out]
    if case == "rotated geotransform":
        return [pan, write_tif(tmp / "rot.tif", M, MT @ Affine.rotation(10)), out]
    if case == "disjoint footprints":
        return [pan, write_tif(tmp / "far.tif", M, MT @ Affine.translation(1000, 0)), out]
    if case == "barely overlapping footprints":
        return [pan, write_tif(tmp / "edge.tif", M, MT @ Affine.translation(15.5, 0)), out]
    if case == "everything nodata":
        return [pan, write_tif(tmp / "ms0.tif", np.zeros_like(M), MT, nodata=0), out]
    if case == "complex data type":
        return [pan, write_tif(tmp / "c.tif", M.astype(np.complex64), MT), out]
    if case == "nodata in the PAN":
        P[:, :8, :] = -9999
        return [write_tif(tmp / "pnd.tif", P, PT, nodata=-9999), ms, out]
    if case == "nodata in the MS":
        M[:, :2, :] = 0
        return [pan, write_tif(tmp / "mnd.tif", M, MT, nodata=0), out]
    if case == "dtype mismatch (uint16 PAN, float32 MS)":
        return [write_tif(tmp / "p16.tif", np.rint(P), PT, dtype="uint16"), ms, out]
    if case == "values of 1e30":
        P[:, :8, :8], M[:, :2, :2] = 1e30, 1e30
        return [write_tif(tmp / "p30.tif", P, PT), write_tif(tmp / "m30.tif", M, MT), out]
    if case == "infinite values":
        P[:, :8, :8], M[:, 4:6, 4:6] = np.inf, -np.inf
        return [write_tif(tmp / "pinf.tif", P, PT), write_tif(tmp / "minf.tif", M, MT), out]
    raise AssertionError(case)


REFUSED = [
    ("multiband PAN", "PAN {tmp}/pan4.tif has 4 bands: pass --pan-band N to say which one is the PAN"),
    ("PAN band out of range", "--pan-band 3 is out of range: {tmp}/pan.tif has 1 band(s)"),
    ("missing input", "PAN file not found: {tmp}/nope.tif"),
    ("not a raster", "cannot open PAN {tmp}/bad.tif as a raster:"),
    ("zero-byte input", "cannot open PAN {tmp}/bad.tif as a raster: '{tmp}/bad.tif' not recognized"),
    ("unreadable input", "cannot open PAN {tmp}/bad.tif as a raster:"),
    ("input is a directory", "PAN path is a directory, expected a raster file: {tmp}/dir.tif"),
    ("truncated input", "cannot read PAN {tmp}/cut.tif (rows 0..63, cols 0..63): the file looks damaged"),
    ("band files of different sizes", "MS file {tmp}/B2.tif is not on the same grid as {tmp}/B1.tif"),
    ("band files with different geotransforms", "MS file {tmp}/B2.tif is not on the same grid as"),
    ("MS without geotransform", "MS {tmp}/msng.tif has no georeferencing (no CRS, no geotransform) but"),
    ("PAN without geotransform", "PAN {tmp}/panng.tif has no georeferencing (no CRS, no geotransform)"),
    ("CRS mismatch", "PAN and MS have different CRSs (EPSG:32633 vs EPSG:32634): reproject the MS"),
    ("rotated geotransform", "MS {tmp}/rot.tif has a rotated geotransform: warp it north-up first"),
    ("disjoint footprints", "PAN and MS footprints do not overlap (or overlap by less than one MS pixel)"),
    ("barely overlapping footprints", "PAN and MS footprints do not overlap (or overlap by less than one"),
    ("everything nodata", "PAN and MS have no valid pixels in common (the rest is nodata in one of them)"),
    ("complex data type", "MS {tmp}/c.tif has a complex data type (complex64), which cannot be pansharpened"),
]
FUSED = ["nodata in the PAN", "nodata in the MS", "dtype mismatch (uint16 PAN, float32 MS)"]
FUSED += ["values of 1e30", "infinite values"]


@pytest.mark.parametrize("case, message", REFUSED, ids=[c for c, _ in REFUSED])
def test_refused_with_one_line_exit_1_and_nothing_left(tmp_path, case, message):
    if case == "unreadable input" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    args = _build(tmp_path, case)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = runner.invoke(app, ["fuse", *map(str, args), "-m", "mtf-glp-hpm", "-q"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    assert lines[0].startswith("error: " + message.format(tmp=tmp_path)), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("case", FUSED)
def test_fused_onto_the_pan_grid_with_valid_pixels_finite(tmp_path, case):
    args = _build(tmp_path, case)
    res = runner.invoke(app, ["fuse", *map(str, args), "-m", "mtf-glp-hpm", "--sensor", "generic", "-q"])
    assert res.exit_code == 0 and res.output == "", res.output
    with rasterio.open(args[0]) as p, rasterio.open(args[-1]) as o:
        assert (o.transform, o.crs, o.shape) == (p.transform, p.crs, p.shape)
        data = o.read(masked=True)
        pan = p.read(1)
    # Pixels the PAN or the MS does not have are nodata in every band; the others are finite.
    valid = ~np.ma.getmaskarray(data).any(axis=0)
    assert np.isfinite(data.data[:, valid]).all()
    if case == "nodata in the PAN":
        assert o.nodata == -9999 and not valid[:8].any() and valid[8:].all()
    if case == "nodata in the MS":
        assert o.nodata == 0 and not valid[:8].any() and valid[8:].all()
    if case == "infinite values":
        assert not valid[~np.isfinite(pan)].any() and not valid[16:24, 16:24].any()
        assert valid.sum() == 64 * 64 - 64 - 64
    if case in ("dtype mismatch (uint16 PAN, float32 MS)", "values of 1e30"):
        assert valid.all() and o.dtypes[0] == "float32"
