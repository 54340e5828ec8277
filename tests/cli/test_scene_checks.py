"""Checks of a scene before any work, and what `info` says about a pair fuse refuses (issue 22): a
scene too small for zero-shot names the MS file and the method that works; an output dtype that
cannot hold the MS's values is warned about with the share clipped; a complex MS is refused, and
`info` describes it without Python warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import DATA, make_pair, write_tif

runner = CliRunner()


def crop(src: Path, dst: Path, size: int) -> Path:
    with rasterio.open(src) as d:
        win = rasterio.windows.Window(0, 0, size, size)
        return write_tif(dst, d.read(window=win), d.window_transform(win), crs=d.crs.to_string())


def test_a_5x5_ms_is_refused_for_zeroshot_naming_the_file_and_the_classical_methods(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=20)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "--iterations", "0", "-q"])
    assert res.exit_code == 1 and res.output.strip().splitlines() == [
        f"error: MS {ms} is too small for -m zeroshot: it needs at least 8x8 MS pixels at ratio 4, the scene "
        "has 5x5 pixels: use a classical method (-m mtf-glp-hpm), which works on scenes this small"
    ]
    assert not out.exists()
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "-q"])
    assert res.exit_code == 0 and out.exists(), res.output


def test_the_size_given_is_the_fusion_grids_when_the_footprint_trims_it(tmp_path):
    """The issue's "got 4x4" for a 5x5 MS: a real 0.498 m / 2 m pair whose grids do not line up keeps
    4x4 whole working MS pixels in the PAN's footprint; the message now gives both sizes."""
    pan, ms = crop(DATA / "osman_pan.tif", tmp_path / "p.tif", 20), crop(DATA / "osman_ms.tif", tmp_path / "m.tif", 5)
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "-m", "crossdiff", "-q"])
    assert res.exit_code == 1 and res.output.startswith(
        f"error: MS {ms} is too small for -m crossdiff: it needs at least 8x8 MS pixels at ratio 4, the scene "
        "has 5x5 pixels, of which 4x4 lie on the fusion grid (the PAN/MS common footprint in whole MS pixels"
    ), res.output


def _eleven_bit(tmp_path: Path) -> tuple[Path, Path]:
    pan, ms, _ = make_pair(tmp_path, size=64)
    for f in (pan, ms):
        with rasterio.open(f) as d:
            a, t = d.read().astype(np.float64), d.transform
        write_tif(f, np.rint((a - a.min()) / (a.max() - a.min()) * 2047), t, dtype="uint16")
    return pan, ms


def test_a_dtype_that_clips_the_data_is_warned_about_with_the_share_and_the_fix(tmp_path):
    pan, ms = _eleven_bit(tmp_path)
    out, ref = tmp_path / "out.tif", tmp_path / "ref.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "--dtype", "uint8"])
    assert res.exit_code == 0, res.output
    warning = next(line for line in res.output.splitlines() if "--dtype uint8" in line)
    assert warning.startswith("WARNING: --dtype uint8 holds 0..255 but the MS (uint16) has values 0..2047: about ")
    assert warning.endswith(
        "% of the output's values will be clipped (estimated from a sample of the scene); use --dtype uint16 "
        "or float32, or rescale the inputs first (gdal_translate -scale)"
    )
    said = float(warning.split("about ")[1].split("%")[0])
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(ref), "-m", "mtf-glp-hpm", "--dtype", "float32"])
    assert res.exit_code == 0 and "clipped" not in res.output, res.output
    with rasterio.open(ref) as r:
        clipped = 100 * float((r.read() > 255.5).mean())
    assert abs(said - clipped) < 5, (said, clipped)  # the estimate is the MS's share, the fusion's is close


def test_the_clip_warning_is_in_batchs_scene_record(tmp_path):
    pan, ms = _eleven_bit(tmp_path)
    manifest = tmp_path / "scenes.csv"
    manifest.write_text(f"pan,ms\n{pan},{ms}\n")
    log = tmp_path / "log.jsonl"
    res = runner.invoke(
        app, ["batch", str(manifest), str(tmp_path / "out"), "-m", "exp", "--dtype", "uint8", "--log", str(log), "-q"]
    )
    assert res.exit_code == 0, res.output
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["status"] == "done" and any("will be clipped" in w for w in record["warnings"]), record


def test_a_dtype_that_holds_the_data_says_nothing(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)  # uint16 values about 1..1300
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "-m", "exp", "--dtype", "int16"])
    assert res.exit_code == 0 and "clipped" not in res.output, res.output


@pytest.fixture
def complex_pair(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    with rasterio.open(ms) as m:
        cms = write_tif(tmp_path / "c.tif", m.read().astype(np.complex64), m.transform)
    return pan, cms


def test_info_on_a_complex_ms_prints_no_python_warning_and_reports_it_not_fusable(complex_pair):
    pan, cms = complex_pair
    cmd = [sys.executable, "-W", "error", "-m", "pansharpen_cli.cli", "info", str(pan), str(cms)]
    env = {**os.environ, "COLUMNS": "200"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 1 and "Warning" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: MS {cms} has a complex data type (complex64), which cannot be pansharpened: make a real image "
        "first (its amplitude, or its real part with gdal_translate -ot Float32)"
    ]
    assert "complex64" in res.stdout and "c.tif" in res.stdout  # the inputs table is still shown
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120, env=env)
    payload = json.loads(res.stdout)
    assert res.returncode == 1 and payload["fuse"]["fusable"] is False
    assert payload["fuse"]["reason"].startswith(f"MS {cms} has a complex data type")
    assert payload["files"][1]["dtype"] == "complex64" and payload["files"][1]["value_range"] is None


def test_fuse_refuses_a_complex_ms(tmp_path, complex_pair):
    pan, cms = complex_pair
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(cms), str(out), "-m", "exp"])
    assert res.exit_code == 1 and res.output.startswith(f"error: MS {cms} has a complex data type (complex64)")
    assert not out.exists()


def _float_pair(tmp_path: Path, top: float) -> tuple[Path, Path]:
    """A float64 pair whose values run 0..``top`` (reflectance: 0..0.4)."""
    pan, ms, _ = make_pair(tmp_path, size=64)
    for f in (pan, ms):
        with rasterio.open(f) as d:
            a, t = d.read().astype(np.float64), d.transform
        write_tif(f, (a - a.min()) / (a.max() - a.min()) * top, t, dtype="float64")
    return pan, ms


def test_reflectance_to_an_integer_dtype_is_refused_before_any_work(tmp_path):
    """Audit 2, D1: reflectance 0..0.37 written as uint16 came out all 1 (0 and 1 after rounding, 0
    then moved off the nodata value), exit 0 and no word of it."""
    pan, ms = _float_pair(tmp_path, 0.37)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "--dtype", "uint16", "-q"])
    assert res.exit_code == 1 and not out.exists(), res.output
    assert res.output.strip() == (
        "error: --dtype uint16 rounds to whole numbers but the MS (float64) has values 0..0.37 (a sample of the "
        "scene): the output would keep 1 level: keep a floating-point output (--dtype float32) or rescale the "
        "inputs first (gdal_translate -scale)"
    )


def test_a_float_ms_spanning_few_levels_is_warned_about(tmp_path):
    pan, ms = _float_pair(tmp_path, 100.0)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "--dtype", "uint8"])
    assert res.exit_code == 0 and out.exists(), res.output
    text = " ".join(res.output.split())
    assert (
        "WARNING: --dtype uint8 rounds to whole numbers but the MS (float64) has values 0..100 (a sample of the "
        "scene): the output would keep 101 levels; keep a floating-point output (--dtype float32) or rescale "
        "the inputs first (gdal_translate -scale)" in text
    )
    with rasterio.open(out) as d:
        assert d.dtypes[0] == "uint8" and len(np.unique(d.read())) > 50


def test_a_float_ms_of_many_levels_to_an_integer_dtype_says_nothing(tmp_path):
    pan, ms = _float_pair(tmp_path, 2047.0)
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "-m", "exp", "--dtype", "uint16"])
    assert res.exit_code == 0 and "would keep" not in res.output and "clipped" not in res.output, res.output
