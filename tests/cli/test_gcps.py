"""Georeferencing by ground control points only (no geotransform): refused with a gdalwarp hint, or
with --assume-aligned fused by array geometry with the GCPs carried into the output (issue 22)."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import CRS, make_pair, write_tif

runner = CliRunner()


def gcp_only(src: Path, dst: Path) -> Path:
    """A copy of ``src`` georeferenced by 4 corner GCPs (1 m per pixel) instead of its geotransform."""
    with rasterio.open(src) as s:
        a, h, w = s.read(), s.height, s.width
    x0, y0 = 500000.0, 4000000.0
    gcps = [
        GroundControlPoint(row, col, x0 + col, y0 - row, id=str(i))
        for i, (row, col) in enumerate(((0, 0), (0, w), (h, 0), (h, w)))
    ]
    with rasterio.open(
        dst, "w", driver="GTiff", width=w, height=h, count=a.shape[0], dtype=a.dtype, gcps=gcps, crs=CRS
    ) as o:
        o.write(a)
    return dst


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def read_gcps(p: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(p) as d:
            return d.gcps, d.crs, d.tags()


@pytest.fixture
def scene(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    with rasterio.open(ms) as m:
        bare = write_tif(tmp_path / "ms_bare.tif", m.read(), None)
    return {
        "pan": pan,
        "ms": ms,
        "ms_bare": bare,
        "pan_gcp": gcp_only(pan, tmp_path / "pan_gcp.tif"),
        "ms_gcp": gcp_only(ms, tmp_path / "ms_gcp.tif"),
    }


REFUSED = [
    ("pan_gcp", "ms", "PAN", "pan_gcp", "the PAN's 4 ground control points"),
    ("pan_gcp", "ms_bare", "PAN", "pan_gcp", "the PAN's 4 ground control points"),
    ("pan_gcp", "ms_gcp", "PAN", "pan_gcp", "the PAN's 4 ground control points"),
    ("pan", "ms_gcp", "MS", "ms_gcp", "the PAN's georeferencing"),
]


@pytest.mark.parametrize("pan, ms, role, name, kept", REFUSED, ids=[f"{p}+{m}" for p, m, *_ in REFUSED])
def test_gcp_only_is_refused_with_a_gdalwarp_hint_and_nothing_written(tmp_path, scene, pan, ms, role, name, kept):
    before = {p.name: sha(p) for p in tmp_path.iterdir()}
    res = runner.invoke(app, ["fuse", str(scene[pan]), str(scene[ms]), str(tmp_path / "out.tif"), "-m", "exp"])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1, res.output
    assert lines[0] == (
        f"error: {role} {scene[name]} is georeferenced by 4 ground control points only (no geotransform), "
        "which fusing would drop: warp it onto a geotransform first (gdalwarp -order 1 IN OUT for an affine "
        "fit, -tps for a non-linear one), or pass --assume-aligned to fuse by array geometry (the output "
        f"then has {kept})"
    )
    assert {p.name: sha(p) for p in tmp_path.iterdir()} == before  # inputs unchanged, nothing written


@pytest.mark.parametrize("ms", ["ms", "ms_bare", "ms_gcp"])
def test_assume_aligned_carries_the_pans_gcps(tmp_path, scene, ms):
    out = tmp_path / "out.tif"
    args = ["fuse", str(scene["pan_gcp"]), str(scene[ms]), str(out), "-m", "mtf-glp-hpm", "--assume-aligned"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "the output has the PAN's 4 ground control points" in res.output
    (points, gcp_crs), crs, tags = read_gcps(out)
    (want, want_crs), _, _ = read_gcps(scene["pan_gcp"])
    assert crs is None and gcp_crs == want_crs == rasterio.crs.CRS.from_string(CRS)
    assert [(p.row, p.col, p.x, p.y) for p in points] == [(p.row, p.col, p.x, p.y) for p in want]
    assert tags["PANSHARPEN_METHOD"] == "mtf-glp-hpm"


def test_a_bare_pan_gets_the_mss_gcps_moved_onto_its_grid(tmp_path, scene):
    with rasterio.open(scene["pan"]) as p:
        pan = write_tif(tmp_path / "pan_bare.tif", p.read(), None)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(scene["ms_gcp"]), str(out), "-m", "exp", "--assume-aligned"])
    assert res.exit_code == 0 and "the MS's 4 ground control points, moved onto the PAN grid" in res.output
    (points, _), _, _ = read_gcps(out)
    # MS pixel (row, col) is PAN pixel 4 * (row, col): 16x16 MS corners land on the 64x64 output's
    assert [(p.row, p.col) for p in points] == [(0, 0), (0, 64), (64, 0), (64, 64)]
    assert [(p.x, p.y) for p in points] == [(500000, 4000000), (500016, 4000000), (500000, 3999984), (500016, 3999984)]


def test_info_says_the_output_carries_gcps(scene):
    res = runner.invoke(app, ["info", str(scene["pan_gcp"]), str(scene["ms"]), "--assume-aligned", "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)["fuse"]
    assert plan["gcps"] == 4 and plan["georeferenced"] is False and plan["fusable"] is True
