"""Which network --weights FILE starts from, and what a file without a manifest is told (issue 22):
the file's architecture is used when --arch is not given, an --arch that disagrees is refused naming
both, a bare .pt loads with a warning that it is unverified; torch's thread count is recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import rasterio
import torch
from typer.testing import CliRunner

from pansharpen_cli import networks, priors
from pansharpen_cli.cli import app
from tests.conftest import make_pair

runner = CliRunner()
OTHER = "bandwise-lite"


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    """Weights of a network other than the default one, with their manifest."""
    assert OTHER != networks.DEFAULT_ARCH
    p = tmp_path_factory.mktemp("w") / "other.pt"
    torch.manual_seed(0)
    priors.save_weights(p, networks.build(OTHER), {"name": "other"})
    return p


def fuse(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    pan, ms, _ = make_pair(tmp_path, size=64)
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "--iterations", "0", "--sensor", "generic", *extra])
    return res.exit_code, res.output, out


def parameters(out: Path) -> dict:
    with rasterio.open(out) as o:
        return json.loads(o.tags()["PANSHARPEN_PARAMETERS"])


def test_the_weights_files_architecture_is_used_without_arch(tmp_path, other):
    code, output, out = fuse(tmp_path, "--weights", str(other), "-q")
    assert code == 0, output
    assert parameters(out)["arch"] == OTHER


def test_an_arch_that_disagrees_is_refused_naming_both(tmp_path, other):
    code, output, out = fuse(tmp_path, "--weights", str(other), "--arch", networks.DEFAULT_ARCH, "-q")
    assert code == 1 and output.strip().splitlines() == [
        f"error: weights file '{other}' is for network architecture '{OTHER}', but --arch "
        f"'{networks.DEFAULT_ARCH}' was given: drop --arch (the file's architecture is then used), use weights "
        f"made for '{networks.DEFAULT_ARCH}' (`pansharpen pretrain --arch {networks.DEFAULT_ARCH}`), or run "
        "with --weights none"
    ]
    assert not out.exists()


def test_an_arch_that_agrees_and_none_without_weights(tmp_path, other):
    code, output, out = fuse(tmp_path, "--weights", str(other), "--arch", OTHER, "-q")
    assert code == 0 and parameters(out)["arch"] == OTHER, output
    out.unlink()
    code, output, out = fuse(tmp_path, "--weights", "none", "-q")
    assert code == 0 and parameters(out)["arch"] == networks.DEFAULT_ARCH, output


def test_weights_without_a_manifest_load_with_a_warning(tmp_path, other):
    bare = tmp_path / "bare.pt"
    shutil.copy(other, bare)
    rep = tmp_path / "rep.json"
    code, output, out = fuse(tmp_path, "--weights", str(bare), "--report", str(rep))
    assert code == 0, output
    said = (
        f"WARNING: weights file '{bare}' has no manifest (bare.json): loaded unverified, without a sha256 "
        f"check or a record of how it was made (architecture '{OTHER}' read from the file); make one by "
        "saving it with pansharpen_cli.priors.save_weights, as `pansharpen pretrain` does"
    )
    assert said in output.replace("\n", " ") or said in output, output
    report = json.loads(rep.read_text())
    assert report["weights_manifest"]["verified"] is False and any("no manifest" in w for w in report["warnings"])
    # with its manifest: no warning
    out.unlink()
    code, output, out = fuse(tmp_path, "--weights", str(other))
    assert code == 0 and "manifest" not in output, output


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_count_is_in_the_tags_and_the_report(tmp_path, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rep = tmp_path / "rep.json"
        code, output, out = fuse(tmp_path, "--weights", "none", "--report", str(rep), "-q")
    finally:
        torch.set_num_threads(before)
    assert code == 0, output
    with rasterio.open(out) as o:
        assert o.tags()["PANSHARPEN_THREADS"] == str(threads)
    assert parameters(out)["threads"] == threads and json.loads(rep.read_text())["threads"] == threads


def test_classical_outputs_have_no_thread_tag(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    out = tmp_path / "out.tif"
    assert runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "exp", "-q"]).exit_code == 0
    with rasterio.open(out) as o:
        assert "PANSHARPEN_THREADS" not in o.tags()
