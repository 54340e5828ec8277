"""MS band files that differ in nodata value and data type (audit 2, D2): each file's nodata marks its
own band, and the output's type holds every file's values. Before, only the first file's nodata and
dtype were read: another file's nodata block was fused as data and a float band rounded to uint16.
And the MS's GDAL scale, offset and unit, kept by fuse and simulate (D3)."""

from __future__ import annotations

import numpy as np
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair, write_tif

runner = CliRunner()


def _band_files(tmp_path):
    """PAN and 4 band files: uint16 without nodata, float32, int16 with nodata -1 over an 8x8 block of
    MS pixels, uint8 with nodata 0 (none of its pixels 0)."""
    pan, ms, _ = make_pair(tmp_path, size=128)
    with rasterio.open(ms) as d:
        a, t = d.read().astype(np.float64), d.transform
    b3 = np.rint(a[2]).astype(np.int16)
    b3[:8, :8] = -1
    files = [
        write_tif(tmp_path / "b1.tif", np.rint(a[0])[None], t, dtype="uint16"),
        write_tif(tmp_path / "b2.tif", (a[1] / 7.0)[None], t, dtype="float32"),
        write_tif(tmp_path / "b3.tif", b3[None], t, dtype="int16", nodata=-1),
        write_tif(tmp_path / "b4.tif", np.clip(np.rint(a[3] / 8), 1, 255)[None], t, dtype="uint8", nodata=0),
    ]
    return pan, files


def test_each_band_files_nodata_marks_its_band_and_the_type_holds_them_all(tmp_path):
    pan, files = _band_files(tmp_path)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), *map(str, files), str(out), "-m", "mtf-glp-hpm"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert (
        "the MS band files have different data types (uint16, float32, int16, uint8): the output is float32, "
        "which holds them all, unless --dtype says otherwise" in text
    )
    with rasterio.open(out) as d:
        a, nd = d.read(), d.nodata
        assert d.dtypes == ("float32",) * 4 and nd == -1  # the first band file's nodata that has one
    hole = (a == nd).all(axis=0)
    assert hole[:32, :32].all()  # the int16 file's 8x8 nodata block, on the PAN grid (ratio 4)
    assert not (a[:, 40:, 40:] == nd).any()
    assert hole.sum() < 48 * 48  # the hole does not spread far (the halo of the fusion's filters)
    fused_b2 = a[1, 40:, 40:]
    assert fused_b2.max() < 400 and not np.allclose(fused_b2, np.rint(fused_b2))  # the float band's fractions


def test_with_a_uint16_dtype_the_nodata_block_stays_nodata(tmp_path):
    pan, files = _band_files(tmp_path)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), *map(str, files), str(out), "-m", "mtf-glp-hpm", "--dtype", "uint16"])
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as d:
        a, nd = d.read(), d.nodata
    assert nd == 0  # the int16 file's -1 does not fit uint16: the type's lowest value, as for one file
    assert (a[:, :32, :32] == 0).all() and (a[:, 40:, 40:] > 0).all()


def _scaled(path, scale, offset, unit):
    with rasterio.open(path, "r+") as d:
        d.scales = [scale] * d.count
        d.offsets = [offset] * d.count
        d.units = [unit] * d.count


def test_the_ms_scale_offset_and_unit_are_kept_by_fuse_and_simulate(tmp_path):
    """Audit 2, D3: a reflectance product's scale 0.0001 and offset -0.1 were dropped, so a reader that
    applies them got reflectance from the MS and raw counts from the fused file."""
    pan, ms, _ = make_pair(tmp_path, size=128)
    _scaled(ms, 0.0001, -0.1, "reflectance")
    _scaled(pan, 0.0002, -0.2, "reflectance")
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "-q"])
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as d:
        assert d.scales == (0.0001,) * 4 and d.offsets == (-0.1,) * 4 and d.units == ("reflectance",) * 4
    sim = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", str(pan), str(ms), str(sim), "-q"])
    assert res.exit_code == 0, res.output
    for name, want in (("ms.tif", (0.0001, -0.1)), ("reference.tif", (0.0001, -0.1)), ("pan.tif", (0.0002, -0.2))):
        with rasterio.open(sim / name) as d:
            assert (d.scales[0], d.offsets[0], d.units[0]) == (*want, "reflectance"), name


def test_an_ms_without_scaling_writes_none(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128)
    out = tmp_path / "out.tif"
    assert runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "exp", "-q"]).exit_code == 0
    with rasterio.open(out) as d:
        assert d.scales == (1.0,) * 4 and d.offsets == (0.0,) * 4 and d.units == (None,) * 4
