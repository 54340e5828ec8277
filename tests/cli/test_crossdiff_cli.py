"""``fuse -m crossdiff`` and ``pretrain --method crossdiff`` end to end, outputs reopened."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from pansharpen_cli.priors.weights import default_weights_path
from tests.cli.test_cli import assert_one_line_error, run
from tests.conftest import make_pair, with_nodata_strip

FAST = ("--iterations", "6", "--warmup", "3", "--crop", "32", "--batch", "2", "-q")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """Tiny CrossDiff weights made by the pretrain command (both stages)."""
    d = tmp_path_factory.mktemp("cdw")
    out = d / "cd.pt"
    res = run("pretrain", "skimage:astronaut", "--out", out, "--method", "crossdiff", "--steps", "3",
              "--pretext-steps", "3", "--batch", "2", "--crop", "32", "--log", d / "log.tsv", "-q")
    assert res.exit_code == 0, res.output
    man = json.loads(out.with_suffix(".json").read_text())
    assert man["arch"] == "crossdiff" and man["pretext"]["steps"] == 3 and man["training"]["steps"] == 3
    assert len((d / "log.tsv").read_text().strip().splitlines()) == 1 + 3  # header + the head's steps
    return str(out)


def test_fuse_crossdiff_writes_the_pan_grid_and_tiling_does_not_change_it(tmp_path, weights):
    pan, ms, ref = make_pair(tmp_path, bands=4, size=128)
    outs = []
    for tile in (16, 256):
        out = tmp_path / f"cd{tile}.tif"
        res = run("fuse", pan, ms, out, "-m", "crossdiff", "--weights", weights, "--tile", tile,
                  "--report", tmp_path / f"r{tile}.json", *FAST)
        assert res.exit_code == 0, res.output
        outs.append(out)
    with rasterio.open(outs[0]) as a, rasterio.open(outs[1]) as b, rasterio.open(pan) as p:
        assert a.transform == p.transform and a.crs == p.crs and a.count == 4 and a.dtypes[0] == "uint16"
        tags = json.loads(a.tags()["PANSHARPEN_PARAMETERS"])
        assert a.tags()["PANSHARPEN_METHOD"] == "crossdiff" and tags["arch"] == "crossdiff"
        x, y = a.read().astype(float), b.read().astype(float)
    assert np.abs(x - y).max() <= 1  # uint16 rounding of float noise at most
    rep = json.loads((tmp_path / "r16.json").read_text())
    assert rep["method"] == "crossdiff" and rep["crossdiff"]["arch"] == "crossdiff"
    err_fused = np.abs(x - ref).mean()
    with rasterio.open(ms) as m:
        from pansharpen_cli.physics.degradation import upsample

        err_exp = np.abs(upsample(m.read().astype(np.float32), 4) - ref).mean()
    assert err_fused < err_exp


def test_fuse_crossdiff_refuses_weights_of_another_network(tmp_path):
    pan, ms, _ = make_pair(tmp_path, bands=3, size=64)
    res = run("fuse", pan, ms, tmp_path / "o.tif", "-m", "crossdiff", "--weights", default_weights_path(), *FAST)
    assert_one_line_error(res, "crossdiff")


def test_the_shipped_crossdiff_weights_load_and_name_their_training():
    from pansharpen_cli.priors import load_weights

    w = load_weights("default", arch="crossdiff", default="crossdiff.pt")
    assert w is not None and w.manifest["verified"] and w.arch == "crossdiff"
    assert w.manifest["pretext"]["steps"] > 0 and w.manifest["training"]["steps"] > 0


def test_fuse_crossdiff_keeps_nodata_where_the_ms_has_none(tmp_path, weights):
    pan, ms, _ = make_pair(tmp_path, bands=3, size=96, dtype="float32")
    msn = with_nodata_strip(ms, tmp_path / "ms_nd.tif", 4)
    out = tmp_path / "nd.tif"
    res = run("fuse", pan, msn, out, "-m", "crossdiff", "--weights", weights, "--sensor", "generic", *FAST)
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as o:
        d = o.read()
        assert o.nodata == 0 and o.count == 3 and o.dtypes[0] == "float32"
    assert (d[:, :, : 4 * 4] == 0).all() and (d[:, :, 4 * 4 :] != 0).all() and np.isfinite(d).all()
