"""Issue 25: inputs GDAL opens that are not plain files (/vsizip/, zip://, /vsicurl/, https://) go
straight to rasterio; every command that reads rasters takes them; a missing one is named as given;
outputs stay local files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import RasterioIOError

from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_preflight import _refused
from tests.conftest import make_pair
from tests.rangeserver import range_server

FAST = ("-m", "mtf-glp-hpm", "-q")


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path, Path]:
    """pan.tif and ms.tif in a folder of their own, and scene.zip holding both."""
    src = tmp_path / "src"
    src.mkdir()
    pan, ms, _ = make_pair(src, size=128)
    archive = tmp_path / "scene.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(pan, "pan.tif")
        z.write(ms, "ms.tif")
    return pan, ms, archive


@pytest.fixture
def served(scene, monkeypatch) -> str:
    """The scene's folder over HTTP on 127.0.0.1 (byte ranges), GDAL set up for it; the base URL."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    with range_server(scene[0].parent) as url:
        try:  # rasterio's wheels ship GDAL with curl; a build without it cannot run these
            with rasterio.open(f"/vsicurl/{url}/pan.tif"):
                pass
        except RasterioIOError as exc:
            pytest.skip(f"this GDAL cannot read /vsicurl/ from a local server: {exc}")
        yield url


def _fuse(pan: str | Path, ms: str | Path, out: Path, *extra: str) -> rasterio.DatasetReader:
    res = run("fuse", *FAST, *extra, pan, ms, out)
    assert res.exit_code == 0, res.output
    return out


def _same_raster(a: Path, b: Path) -> None:
    """Same grid, dtype, nodata and values."""
    with rasterio.open(a) as x, rasterio.open(b) as y:
        grid = (x.width, x.height, x.count, x.dtypes, x.nodata)
        assert grid == (y.width, y.height, y.count, y.dtypes, y.nodata)
        assert x.crs == y.crs and x.transform == y.transform
        assert np.array_equal(x.read(), y.read())
        assert x.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm"


@pytest.mark.parametrize("form", ["/vsizip/{zip}/{name}", "zip://{zip}!{name}"])
def test_a_zipped_scene_fuses_as_the_local_files(tmp_path, scene, form):
    pan, ms, archive = scene
    local = _fuse(pan, ms, tmp_path / "local.tif")
    names = [form.format(zip=archive, name=n) for n in ("pan.tif", "ms.tif")]
    _same_raster(_fuse(*names, tmp_path / "zipped.tif"), local)


def test_a_relative_vsizip_path_and_a_relative_zip_uri(tmp_path, scene, monkeypatch):
    pan, ms, archive = scene
    monkeypatch.chdir(tmp_path)
    local = _fuse(pan, ms, tmp_path / "local.tif")
    _same_raster(_fuse("/vsizip/scene.zip/pan.tif", "zip://scene.zip!ms.tif", tmp_path / "rel.tif"), local)


@pytest.mark.parametrize("form", ["/vsicurl/{url}/{name}", "{url}/{name}"])
def test_a_scene_over_http_fuses_as_the_local_files(tmp_path, scene, served, form):
    pan, ms, _ = scene
    local = _fuse(pan, ms, tmp_path / "local.tif")
    names = [form.format(url=served, name=n) for n in ("pan.tif", "ms.tif")]
    _same_raster(_fuse(*names, tmp_path / "http.tif"), local)


@pytest.mark.parametrize(
    "given, match",
    [
        ("{tmp}/nope.tif", "error: PAN file not found: {tmp}/nope.tif"),
        (
            "/vsizip/{zip}/nope.tif",
            "error: cannot open PAN /vsizip/{zip}/nope.tif (GDAL: no such file): a GDAL path needs the right prefix",
        ),
        ("zip://{zip}!nope.tif", "error: cannot open PAN zip://{zip}!nope.tif (GDAL: no such file)"),
        (
            "/vsizip/{tmp}/missing.zip/pan.tif",
            "error: cannot open PAN /vsizip/{tmp}/missing.zip/pan.tif (GDAL: no such file)",
        ),
    ],
)
def test_a_missing_input_is_named_as_given(tmp_path, scene, given, match):
    pan, ms, archive = scene
    fill = {"tmp": tmp_path, "zip": archive}
    out = tmp_path / "o.tif"
    res = run("fuse", *FAST, given.format(**fill), ms, out)
    assert_one_line_error(res, match.format(**fill), code=1)
    assert not out.exists()


def test_a_missing_file_on_the_server(tmp_path, scene, served):
    out = tmp_path / "o.tif"
    res = run("fuse", *FAST, f"/vsicurl/{served}/nope.tif", scene[1], out)
    assert_one_line_error(res, f"cannot open PAN /vsicurl/{served}/nope.tif (GDAL: HTTP response code: 404)")
    assert "network access" in res.output and not out.exists()


def test_info_evaluate_simulate_read_gdal_paths(tmp_path, scene):
    pan, ms, archive = scene
    zpan, zms = f"/vsizip/{archive}/pan.tif", f"zip://{archive}!ms.tif"
    res = run("info", zpan, zms, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["fuse"]["fusable"]
    fused = _fuse(pan, ms, tmp_path / "fused.tif")
    with zipfile.ZipFile(tmp_path / "fused.zip", "w") as z:
        z.write(fused, "fused.tif")
    local = run("evaluate", pan, ms, fused, "--json")
    zipped = run("evaluate", zpan, zms, f"/vsizip/{tmp_path}/fused.zip/fused.tif", "--json")
    assert local.exit_code == zipped.exit_code == 0, zipped.output
    assert json.loads(local.output) == json.loads(zipped.output)
    res = run("simulate", zpan, zms, tmp_path / "sim", "-q")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == ["ms.tif", "pan.tif", "reference.tif"]


def test_batch_keeps_a_gdal_path_cell_as_given(tmp_path, scene):
    """A manifest in another folder: local cells are relative to it, a /vsizip/ cell is not joined."""
    pan, ms, archive = scene
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "m.csv").write_text(f"pan,ms,out\n/vsizip/{archive}/pan.tif,../src/ms.tif,a.tif\n")
    res = run("batch", *FAST, lists / "m.csv", tmp_path / "outdir")
    assert res.exit_code == 0, res.output
    _same_raster(tmp_path / "outdir" / "a.tif", _fuse(pan, ms, tmp_path / "local.tif"))
    rec = json.loads((tmp_path / "outdir" / "pansharpen-batch.jsonl").read_text().splitlines()[-1])
    assert rec["status"] == "done" and rec["pan"] == f"/vsizip/{archive}/pan.tif"


def test_batch_default_output_named_after_the_member(tmp_path, scene, monkeypatch):
    pan, ms, archive = scene
    monkeypatch.chdir(tmp_path)
    Path("m.csv").write_text("pan,ms\nzip://scene.zip!pan.tif,zip://scene.zip!ms.tif\n")
    res = run("batch", *FAST, "m.csv", "outdir")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "outdir" / "pan.tif").is_file()


@pytest.mark.parametrize(
    "out", ["/vsis3/bucket/out.tif", "s3://bucket/out.tif", "/vsizip/{tmp}/o.zip/o.tif"]
)
def test_a_gdal_path_as_output_is_refused(tmp_path, scene, out):
    pan, ms, _ = scene
    out = out.format(tmp=tmp_path)
    _refused(tmp_path, ["fuse", *FAST, pan, ms, out], f"error: output {out}: outputs are written to local files")


def test_batch_refuses_a_gdal_outdir_and_out_cell(tmp_path, scene):
    pan, ms, _ = scene
    (tmp_path / "m.csv").write_text(f"pan,ms,out\n{pan},{ms},/vsis3/b/o.tif\n")
    m = tmp_path / "m.csv"
    _refused(
        tmp_path,
        ["batch", *FAST, m, "s3://bucket/outdir"],
        "error: OUTDIR s3://bucket/outdir: outputs are written to local files",
    )
    _refused(tmp_path, ["batch", *FAST, m, tmp_path / "od"], "error: m.csv:2: output /vsis3/b/o.tif: outputs are")


def test_an_output_onto_the_archive_an_input_reads_is_refused(tmp_path, scene):
    """The archive behind /vsizip/ is an input like any file: an output may not replace it."""
    _, _, archive = scene
    bare = archive.with_suffix("")  # no extension: a GeoTIFF name as far as the format goes
    archive.rename(bare)
    args = ["fuse", *FAST, f"/vsizip/{bare}/pan.tif", f"/vsizip/{bare}/ms.tif", bare, "--overwrite"]
    want = f"error: output {bare} is also an input, the PAN's archive {bare}: choose another output path"
    _refused(tmp_path, args, want)
