"""`info` readable at 80 columns and in a pipe; sizes as width x height wherever a person reads them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import Affine
from rich.console import Console
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from pansharpen_cli.physics.degradation import mtf_degrade
from tests.conftest import smooth_scene, write_tif

runner = CliRunner()
WIDTH, HEIGHT = 128, 96  # PAN pixels: wide, so that width x height and rows x columns differ


@pytest.fixture
def wide_pair(tmp_path) -> tuple[Path, Path]:
    """A 128 x 96 (width x height) PAN and its 4-band MS at ratio 4, in a folder with a long name
    (the full paths are over 80 characters)."""
    d = tmp_path / ("a_folder_with_a_rather_long_name_" * 3)
    d.mkdir()
    ref, pan = smooth_scene(4, WIDTH)
    pan, ref = pan[:, :HEIGHT], ref[:, :HEIGHT]
    ms = mtf_degrade(ref, [0.3] * 4, 4)
    t = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
    p = write_tif(d / "pan.tif", np.rint(pan), t, dtype="uint16")
    m = write_tif(d / "ms.tif", np.rint(ms), t @ Affine.scale(4), dtype="uint16")
    return p, m


def test_info_in_a_pipe_at_80_columns_elides_nothing(wide_pair):
    pan, ms = wide_pair
    assert len(str(pan)) > 80
    env = {**os.environ, "COLUMNS": "80"}
    cmd = [sys.executable, "-m", "pansharpen_cli.cli", "info", str(pan), str(ms)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "…" not in text and "\x1b" not in text  # no cell cut short, no terminal escapes in a pipe
    lines = text.splitlines()
    assert f"  file        {pan}" in lines and f"  file        {ms}" in lines  # each path whole, on one line
    assert text.count("EPSG:32633") == 3  # PAN, MS and the output's georeferencing
    assert f"  size        {WIDTH}x{HEIGHT} pixels (width x height), 1 band" in lines
    assert f"  size        {WIDTH // 4}x{HEIGHT // 4} pixels (width x height), 4 bands" in lines
    assert f"  output          {WIDTH}x{HEIGHT} PAN pixels (width x height), 4 bands" in lines
    assert lines[0] == "Inputs" and "What fuse would do" in lines


def test_info_on_an_80_column_terminal_folds_long_values_instead_of_cutting_them(wide_pair, monkeypatch):
    from pansharpen_cli.cli import inspect

    pan, ms = wide_pair
    buf = io.StringIO()
    term = Console(file=buf, width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(inspect, "out", term)
    res = runner.invoke(app, ["info", str(pan), str(ms)])
    assert res.exit_code == 0, res.output
    text = buf.getvalue()
    assert "…" not in text and max(len(ln) for ln in text.splitlines()) <= 80
    joined = "".join(ln.strip() for ln in text.splitlines())  # the folded path, put back together
    assert str(pan) in joined and str(ms) in joined and "EPSG:32633" in text


def test_info_json_and_the_report_name_width_and_height(wide_pair, tmp_path):
    pan, ms = wide_pair
    res = runner.invoke(app, ["info", str(pan), str(ms), "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)["fuse"]
    assert (plan["output_width"], plan["output_height"]) == (WIDTH, HEIGHT) and "output_size" not in plan
    out, rep = tmp_path / "o.tif", tmp_path / "r.json"
    args = ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "--sensor", "generic", "--report", str(rep)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"({WIDTH}x{HEIGHT}x4, mtf-glp-hpm)" in res.output
    doc = json.loads(rep.read_text())
    assert (doc["width"], doc["height"], doc["bands"]) == (WIDTH, HEIGHT, 4) and "size" not in doc


def test_the_footprint_note_says_width_x_height(tmp_path):
    """A PAN wider than the MS covers: the note names columns first and the PAN's size width x height."""
    ref, pan = smooth_scene(4, WIDTH)
    t = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
    p = write_tif(tmp_path / "pan.tif", np.rint(pan[:, :HEIGHT]), t, dtype="uint16")
    ms = mtf_degrade(ref[:, :HEIGHT, : WIDTH - 32], [0.3] * 4, 4)  # the MS covers 96 of the 128 columns
    m = write_tif(tmp_path / "ms.tif", np.rint(ms), t @ Affine.scale(4), dtype="uint16")
    res = runner.invoke(app, ["info", str(p), str(m), "--json"])
    assert res.exit_code == 0, res.output
    notes = json.loads(res.output)["fuse"]["notes"]
    assert f"PAN columns 0..95, rows 0..95 of {WIDTH}x{HEIGHT} (width x height)" in " ".join(notes), notes
