"""The scene list's own preflight (issue 22, findings 4 and 12): a row never writes a row's input or
the manifest, a JSON list of MS files is taken element by element, a relative ``out`` is relative to
OUTDIR; and the other commands' preflight functions on their own."""

from __future__ import annotations

import json
import os

import pytest
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.base.errors import ManifestError, OutputPathError
from pansharpen_cli.cli import app
from pansharpen_cli.pipeline.manifest import read_manifest
from pansharpen_cli.pipeline.preflight import check_batch, check_pretrain
from tests.conftest import make_pair

runner = CliRunner()


def test_a_json_list_of_ms_files_is_taken_as_given_not_split_on_semicolons(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"pan": "p.tif", "ms": ["b;1.tif", " b2.tif "]}) + "\n")
    (row,) = read_manifest(m, tmp_path / "out")
    assert row.ms == [tmp_path / "b;1.tif", tmp_path / "b2.tif"]


def test_a_relative_out_is_relative_to_outdir(tmp_path):
    m = tmp_path / "lists" / "m.csv"
    m.parent.mkdir()
    m.write_text("pan,ms,out\np.tif,m.tif,fused/a.tif\n")
    (row,) = read_manifest(m, tmp_path / "out")
    assert row.pan == m.parent / "p.tif" and row.out == tmp_path / "out" / "fused" / "a.tif"


def test_batch_end_to_end_json_list_and_relative_out(tmp_path):
    """A band file with ';' in its name, a relative out: the scene is done, written in OUTDIR (a
    complete, tagged raster), nothing new beside the manifest, the log valid JSON lines."""
    arch = tmp_path / "archive"
    arch.mkdir()
    pan, ms, _ = make_pair(arch, size=64)
    ms.rename(arch / "m;s.tif")
    (arch / "m.jsonl").write_text(json.dumps({"pan": "pan.tif", "ms": ["m;s.tif"], "out": "f/x.tif"}) + "\n")
    before = sorted(p.name for p in arch.iterdir())
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", str(arch / "m.jsonl"), str(out), "-m", "mtf-glp-hpm", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in arch.iterdir()) == before
    with rasterio.open(out / "f" / "x.tif") as o:
        assert o.count == 4 and o.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm"
    (rec,) = [json.loads(ln) for ln in (out / "pansharpen-batch.jsonl").read_text().splitlines()]
    assert rec["status"] == "done" and rec["ms"] == [str(arch / "m;s.tif")]


def test_a_row_writing_another_rows_ms_through_a_hard_link_is_refused(tmp_path):
    (tmp_path / "m1.tif").write_bytes(b"ms")
    os.link(tmp_path / "m1.tif", tmp_path / "link.tif")
    m = tmp_path / "m.csv"
    m.write_text(f"pan,ms,out\np1.tif,m1.tif,\np2.tif,m2.tif,{tmp_path}/link.tif\n")
    with pytest.raises(ManifestError, match=r"m.csv:3: output .*link.tif is m.csv:2's MS \(.*m1.tif, through a hard link\)"):
        read_manifest(m, tmp_path / "out")


def test_a_row_writing_the_manifest_is_refused(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("pan,ms,out\np1.tif,m1.tif,../m.csv\n")
    with pytest.raises(ManifestError, match=r"m.csv:2: output .*m.csv is the manifest"):
        read_manifest(m, tmp_path / "out")


def test_the_default_log_in_outdir_passes_and_a_log_in_a_missing_folder_under_outdir_is_made(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("pan,ms\np.tif,m.tif\n")
    rows = read_manifest(m, tmp_path / "out")
    check_batch(rows, tmp_path / "out", tmp_path / "out" / "pansharpen-batch.jsonl", m)
    check_batch(rows, tmp_path / "out", tmp_path / "out" / "logs" / "b.jsonl", m)
    assert not (tmp_path / "out").exists()  # checked, not created: the run creates it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]  # no probe file left


def test_pretrain_may_go_on_checkpointing_into_the_resumed_file(tmp_path):
    ck = tmp_path / "ck.pt"
    ck.write_bytes(b"checkpoint")
    check_pretrain([], tmp_path / "w.pt", False, checkpoint=ck, resume=ck)
    with pytest.raises(OutputPathError, match="--log .*ck.pt is also an input, the --resume checkpoint"):
        check_pretrain([], tmp_path / "w.pt", False, log=ck, resume=ck)
    with pytest.raises(OutputPathError, match="--out's manifest .*w.json is also an input, a training image"):
        check_pretrain([tmp_path / "w.json"], tmp_path / "w.pt", False)
