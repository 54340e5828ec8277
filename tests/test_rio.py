"""``rio pansharpen``: the plugin declared in pyproject.toml loads, its help runs under rasterio's
``rio`` (a real process), and it fuses like ``pansharpen fuse``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click
import numpy as np
import pytest
import rasterio
import tomllib
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
RIO = Path(sys.executable).parent / "rio"


def _declared() -> str:
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    return eps["rasterio.rio_plugins"]["pansharpen"]


def test_pyproject_declares_the_plugin_and_it_loads():
    target = _declared()
    assert target == "pansharpen_cli.rio:pansharpen"
    module, _, name = target.partition(":")
    cmd = getattr(importlib.import_module(module), name)
    assert isinstance(cmd, click.Command) and cmd.name == "pansharpen"


def _rio_group() -> click.Group:
    from pansharpen_cli.rio import pansharpen

    group = click.Group("rio")
    group.add_command(pansharpen)
    return group


def test_help_and_usage_errors_under_a_click_group():
    runner = CliRunner()
    res = runner.invoke(_rio_group(), ["pansharpen", "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert "Usage: rio pansharpen [OPTIONS] PAN MS... OUT" in res.output and "--method" in res.output
    res = runner.invoke(_rio_group(), ["pansharpen", "pan.tif"])
    assert res.exit_code == 2
    assert res.output == "error: missing argument 'MS... OUT' (see 'rio pansharpen --help')\n"


def _env(tmp_path: Path) -> dict[str, str]:
    """The environment of a real ``rio``: this checkout first; when the installed metadata lacks the
    plugin (an editable install of another checkout), a dist-info declaring it as pyproject does."""
    paths = [str(ROOT)]
    if not any(ep.name == "pansharpen" for ep in entry_points(group="rasterio.rio_plugins")):
        dist = tmp_path / "site" / "pansharpen_rio_plugin-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pansharpen-rio-plugin\nVersion: 0\n")
        (dist / "entry_points.txt").write_text(f"[rasterio.rio_plugins]\npansharpen = {_declared()}\n")
        paths.append(str(dist.parent))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "COLUMNS": "100"}


@pytest.mark.skipif(not RIO.exists(), reason="rasterio's rio command is not installed beside python")
def test_rio_pansharpen_help_and_a_fusion_in_a_real_process(tmp_path, pair):
    env = _env(tmp_path)
    res = subprocess.run([RIO, "pansharpen", "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Usage: rio pansharpen [OPTIONS] PAN MS... OUT" in res.stdout
    pan, ms, _ = pair
    out = tmp_path / "out.tif"
    res = subprocess.run(
        [RIO, "pansharpen", pan, ms, out, "-m", "mtf-glp-hpm"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert f"wrote {out} (128x128x4, mtf-glp-hpm)" in " ".join(res.stderr.split())
    from pansharpen_cli import fuse

    fuse(pan, ms, tmp_path / "api.tif", method="mtf-glp-hpm")
    with rasterio.open(out) as a, rasterio.open(tmp_path / "api.tif") as b:
        assert a.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm" and a.tags() == b.tags()
        assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
        assert np.array_equal(a.read(), b.read())
