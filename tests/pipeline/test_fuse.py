"""Zero-shot through the pipeline and the CLI (tiny scenes, fast settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import Affine
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from pansharpen_cli.methods.zeroshot import ZeroShotConfig
from pansharpen_cli.pipeline.fuse import FuseOptions, fuse
from tests.conftest import make_pair, write_tif

runner = CliRunner()
FAST = dict(iterations=12, warmup=8, batch=2, crop=32, response_steps=20, eval_every=6, patience=0, reference_pixels=0)


def opts(**kw) -> FuseOptions:
    zs = ZeroShotConfig(**{**FAST, **kw.pop("zs", {})})
    return FuseOptions(
        method="zeroshot", zeroshot=zs, weights=kw.pop("weights", "none"), device=torch.device("cpu"), **kw
    )


def test_tiled_equals_whole_image_and_same_seed_same_output(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="float32")
    a, b, c = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
    fuse(pan, [ms], a, opts(tile=16))  # 2x2 tiles with halos
    fuse(pan, [ms], b, opts(tile=1000))  # one tile
    fuse(pan, [ms], c, opts(tile=16))  # same seed again
    with rasterio.open(a) as ra, rasterio.open(b) as rb, rasterio.open(c) as rc:
        np.testing.assert_allclose(ra.read(), rb.read(), rtol=1e-4, atol=1e-2)
        np.testing.assert_array_equal(ra.read(), rc.read())
        assert ra.tags()["PANSHARPEN_METHOD"] == "zeroshot"


def test_nodata_border_gives_nodata_and_no_colour_cast(tmp_path):
    pan, ms, ref = make_pair(tmp_path, size=128, dtype="uint16")
    with rasterio.open(ms) as m:
        a = m.read()
        a[:, :, :4] = 0  # a 4-MS-pixel nodata strip on the left
        msn = write_tif(tmp_path / "msn.tif", a, m.transform, nodata=0)
    out = tmp_path / "o.tif"
    fuse(pan, [msn], out, opts())
    with rasterio.open(out) as o:
        d = o.read().astype(float)
        assert o.nodata == 0
    assert (d[:, :, :16] == 0).all()  # nodata under the strip
    inner = d[:, :, 16:]
    assert (inner > 0).all()
    # No colour cast next to the border: band means just right of the strip match the reference's.
    near = inner[:, :, :8].mean(axis=(1, 2))
    truth = ref[:, :, 16:24].mean(axis=(1, 2))
    np.testing.assert_allclose(near, truth, rtol=0.05)


def test_cli_zeroshot_with_the_shipped_prior_and_report(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=96)
    out, rep, model = tmp_path / "o.tif", tmp_path / "r.json", tmp_path / "m.pt"
    res = runner.invoke(
        app,
        [
            "fuse",
            str(pan),
            str(ms),
            str(out),
            "-m",
            "zeroshot",
            "--iterations",
            "0",
            "--device",
            "cpu",
            "--report",
            str(rep),
            "--save-model",
            str(model),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(rep.read_text())
    assert r["method"] == "zeroshot" and r["weights"] == "default" and r["device"] == "cpu"
    assert {"seconds", "settings", "receptive_field"} <= set(r["zeroshot"])
    assert model.stat().st_size > 0
    with rasterio.open(out) as o:
        assert o.count == 4 and o.dtypes[0] == "uint16"
        params = json.loads(o.tags()["PANSHARPEN_PARAMETERS"])
        assert params["method"] == "zeroshot" and params["iterations"] == 0


def test_bad_weights_and_devices_are_clear_errors(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not weights")
    for extra, match in (
        (["--weights", str(bad)], "weights"),
        (["--device", "cuda:7"], "--device"),
        (["--device", "tpu"], "--device"),
    ):
        if extra[1].startswith("cuda") and torch.cuda.device_count() > 7:
            continue
        res = runner.invoke(
            app,
            [
                "fuse",
                str(pan),
                str(ms),
                str(tmp_path / "o.tif"),
                "-m",
                "zeroshot",
                "--iterations",
                "0",
                *extra,
            ],
        )
        assert res.exit_code == 1 and match in res.output and "Traceback" not in res.output, res.output
        assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("bands", [3, 8])
def test_band_counts_with_the_same_prior(tmp_path, bands):
    pan, ms, _ = make_pair(tmp_path, size=64, bands=bands)
    out = tmp_path / "o.tif"
    fuse(pan, [ms], out, opts(weights="default", zs={"iterations": 0, "warmup": 0}))
    with rasterio.open(out) as o:
        assert o.count == bands


def test_pretrain_cli_writes_weights_that_fuse(tmp_path):
    img = tmp_path / "imgs"
    img.mkdir()
    rng = np.random.default_rng(0)
    write_tif(img / "a.tif", (rng.random((4, 96, 96)) * 1000).astype("uint16"), None, crs=None)
    w = tmp_path / "w.pt"
    res = runner.invoke(
        app,
        [
            "pretrain",
            str(img),
            "skimage:camera",
            "--out",
            str(w),
            "--steps",
            "2",
            "--batch",
            "2",
            "--crop",
            "32",
            "--device",
            "cpu",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads(w.with_suffix(".json").read_text())
    assert manifest["arch"] == "bandwise-resnet" and manifest["sha256"]  # the default network
    pan, ms, _ = make_pair(tmp_path, size=64)
    fuse(pan, [ms], tmp_path / "o.tif", opts(weights=str(w), zs={"iterations": 0, "warmup": 0}))
    # --arch: a prior for another network (bandwise-lite: --preset fast's), which fuse then builds
    small = ["skimage:camera", "--steps", "1", "--batch", "1", "--crop", "32", "--device", "cpu", "-q"]
    res = runner.invoke(app, ["pretrain", *small, "--out", str(tmp_path / "lite.pt"), "--arch", "Bandwise-Lite"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "lite.json").read_text())["arch"] == "bandwise-lite"
    out = tmp_path / "lite.tif"
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "--weights", str(tmp_path / "lite.pt"),
                              "--iterations", "0", "--sensor", "generic", "-q"])
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as o:
        assert json.loads(o.tags()["PANSHARPEN_PARAMETERS"])["arch"] == "bandwise-lite"
    for bad, says in ((["--arch", "no-such-net"], "expected a network architecture among"),
                      (["--arch", "bandwise-lite", "--method", "crossdiff"], "--method crossdiff trains the crossdiff")):
        res = runner.invoke(app, ["pretrain", *small, "--out", str(tmp_path / "bad.pt"), *bad])
        assert res.exit_code != 0 and says in res.output and not (tmp_path / "bad.pt").exists(), res.output


def test_large_scenes_train_on_a_mosaic_spread_over_the_scene(tmp_path, monkeypatch):
    import pansharpen_cli.pipeline.common as runner_mod

    monkeypatch.setattr(runner_mod, "MAX_TRAIN_PIXELS", 64 * 64)
    monkeypatch.setattr(runner_mod, "MOSAIC_WINDOW", 8)  # 8 MS pixels = 32 PAN pixels per window
    pan, ms, _ = make_pair(tmp_path, size=128)
    from pansharpen_cli.base.sensors import resolve_gains
    from pansharpen_cli.base.tiling import plan_tiles
    from pansharpen_cli.io.reader import PairReader
    from pansharpen_cli.pipeline.common import scene_stats

    with PairReader(pan, [ms]) as reader:
        stats = scene_stats(reader, resolve_gains(None, None, 4), plan_tiles(32, 32, 256, 0))
        t = runner_mod.training_data(reader, stats)
        p, m, valid, info = t.pan, t.ms, t.valid, t.info
        whole = reader.read_all()
    assert "mosaic of 2x2 windows" in info["region"]
    assert p.shape == (1, 64, 64) and m.shape == (4, 16, 16) and valid.all()
    # The windows come from all over the scene: the first is the top-left tile, the last the bottom-right.
    np.testing.assert_array_equal(p[:, :32, :32], whole["pan"][:, :32, :32])
    np.testing.assert_array_equal(p[:, 32:, 32:], whole["pan"][:, 96:, 96:])
    out = tmp_path / "o.tif"
    res = fuse(pan, [ms], out, opts())
    assert "mosaic" in res.report["training_region"]["region"]


def test_cli_zeroshot_tuning_options_reach_the_run(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    out, rep = tmp_path / "o.tif", tmp_path / "r.json"
    args = ["fuse", str(pan), str(ms), str(out), "--weights", "none", "--device", "cpu", "-q"]
    tuning = ["--iterations", "4", "--warmup", "2", "--p-full", "0.5", "--lr-rr", "2e-3", "--lr-fr", "1e-4"]
    tuning += ["--crop", "32", "--batch", "2", "--w-spectral", "0.5", "--w-spatial", "0", "--w-corr", "2"]
    tuning += ["--no-register"]
    res = runner.invoke(app, [*args, *tuning, "--arch", "bandwise-resnet", "--report", str(rep)])
    assert res.exit_code == 0, res.output
    r = json.loads(rep.read_text())["zeroshot"]
    st = r["settings"]
    assert (st["iterations"], st["warmup"], st["p_full"], st["crop"], st["batch"]) == (4, 2, 0.5, 32, 2)
    assert (st["lr_rr"], st["lr_fr"], st["w_spectral"], st["w_spatial"], st["w_corr"]) == (
        2e-3,
        1e-4,
        0.5,
        0,
        2,
    )
    assert st["register"] is False and r["registration"] is None and r["shift_pan_pixels"] == [0.0, 0.0]
    assert r["steps"] == {"warmup": 4, "train": 8, "train_run": 8, "stopped_early": False}  # 4 bands: 2x; --iterations: exact
    assert len(r["detail_gains"]) == 4 and all(np.isfinite(r["detail_gains"]))
    with rasterio.open(out) as o:
        assert o.count == 4
    for bad, hint in ((["--arch", "no-such-net"], "--arch"), (["--p-full", "1.5"], "--p-full")):
        res = runner.invoke(app, [*args, "--overwrite", *bad])
        assert res.exit_code == 2 and hint in res.output and "Traceback" not in res.output, res.output


@pytest.mark.parametrize("align", [None, "ms"])
def test_misregistered_pair_is_registered_reported_and_tagged(tmp_path, align):
    """MS content offset from the PAN by (2, -1.2) PAN pixels under aligned geotransforms."""
    from tests.physics.test_registration import _misregistered

    pan_a, ms_a, _ = _misregistered((2.0, -1.2), size=128)
    t = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
    pan = write_tif(tmp_path / "pan.tif", pan_a, t, dtype="float32")
    ms = write_tif(tmp_path / "ms.tif", ms_a, t @ Affine.scale(4), dtype="float32")
    out, rep, model = tmp_path / "o.tif", tmp_path / "r.json", tmp_path / "m.pt"
    args = ["fuse", str(pan), str(ms), str(out), "--weights", "none", "--device", "cpu", "-q"]
    args += ["--iterations", "2", "--warmup", "2", "--crop", "32", "--report", str(rep), "--save-model", str(model)]
    res = runner.invoke(app, args + ([] if align is None else ["--align", align]))
    assert res.exit_code == 0, res.output
    doc = json.loads(rep.read_text())
    reg = doc["zeroshot"]["registration"]
    assert reg["applied"] and np.allclose(reg["shift_pan_pixels"], (2.0, -1.2), atol=0.25)
    want = align or "pan"  # the default: the output lines up with the PAN
    assert doc["zeroshot"]["align"] == want
    said = [w for w in doc["warnings"] if "misregistered by" in w]  # over half a PAN pixel
    assert said and ("the MS was moved onto the PAN" if want == "pan" else "the PAN was moved onto the MS") in said[0]
    with rasterio.open(out) as o:
        params = json.loads(o.tags()["PANSHARPEN_PARAMETERS"])
        assert np.allclose(params["registration_shift_pan_pixels"], reg["shift_pan_pixels"], atol=1e-3)
        assert params["align"] == want
        assert o.transform == t  # the output stays on the PAN grid
        fused = o.read()
    # the saved model keeps the alignment and fuses the same
    from pansharpen_cli.methods.zeroshot import ZeroShotModel

    back = ZeroShotModel.load(model, torch.device("cpu"))
    assert back.align == want and back.shift == tuple(doc["zeroshot"]["shift_pan_pixels"])
    inner = (slice(None), slice(32, -32), slice(32, -32))  # the pipeline's scene border differs
    np.testing.assert_allclose(back.predict_coarse(pan_a, ms_a)[inner], fused[inner], rtol=1e-4, atol=1e-3)


def test_align_is_checked(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "--align", "both"])
    assert res.exit_code == 2 and "--align" in res.output and not (tmp_path / "o.tif").exists()


def test_cli_presets_set_the_budget_and_iterations_force_it(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=96)
    base = ["fuse", str(pan), str(ms), "-m", "zeroshot", "--device", "cpu", "-q", "--crop", "32", "--batch", "1"]

    def settings(*extra: str) -> dict:
        out, rep = tmp_path / f"o{len(extra)}.tif", tmp_path / f"r{len(extra)}.json"
        res = runner.invoke(app, [*base[:3], str(out), *base[3:], "--report", str(rep), "--overwrite", *extra])
        assert res.exit_code == 0, res.output
        with rasterio.open(out) as o:
            assert o.count == 4 and o.read().any()
        return json.loads(rep.read_text())["zeroshot"]

    d = ZeroShotConfig()
    fast = settings("--preset", "fast")
    st = fast["settings"]
    assert (st["warmup"], st["iterations"], st["patience"]) == (round(d.warmup / 4), round(d.iterations / 4), 1)
    assert st["reference_pixels"] == 512 * 512 and d.reference_pixels == 0  # only fast shrinks small scenes
    assert fast["steps"]["train"] < 2 * st["iterations"]  # 4 bands: 2x, times sqrt(96^2 / 512^2)
    forced = settings("--preset", "best", "--iterations", "3", "--warmup", "1")["settings"]
    assert (forced["iterations"], forced["warmup"], forced["patience"], forced["reference_pixels"]) == (3, 1, 0, 0)
    res = runner.invoke(app, [*base[:3], str(tmp_path / "x.tif"), *base[3:], "--preset", "turbo"])
    assert res.exit_code == 2 and "turbo" in res.output and not (tmp_path / "x.tif").exists()


def test_best_preset_fuses_with_the_larger_network_and_its_prior_unless_the_weights_say_otherwise(tmp_path):
    from pansharpen_cli.priors.weights import default_weights_path

    pan, ms, _ = make_pair(tmp_path, size=96)

    def tags(name: str, *extra: str) -> dict:
        out = tmp_path / f"{name}.tif"
        args = ["fuse", str(pan), str(ms), str(out), "--device", "cpu", "-q", "--iterations", "0", *extra]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        with rasterio.open(out) as o:
            assert o.count == 4 and o.read().any()
            return json.loads(o.tags()["PANSHARPEN_PARAMETERS"])

    best = tags("best", "--preset", "best")
    assert best["arch"] == "bandwise-resnet-wide" and best["weights"] == "default (prior-resnet-wide)"
    assert best["tta"] == 4
    default = tags("default")
    assert default["arch"] == "bandwise-resnet" and default["weights"] == "default (prior-resnet)"
    assert default["tta"] == 1 and default["augment"] == 1 and best["augment"] == 4
    fast = tags("fast", "--preset", "fast")
    assert fast["arch"] == "bandwise-lite" and fast["weights"] == "default (prior)" and fast["augment"] == 1
    # a weights file of the user's keeps its own network under any preset
    lite = tags("mine", "--preset", "best", "--weights", str(default_weights_path("prior.pt")))
    assert lite["arch"] == "bandwise-lite"
    res = runner.invoke(
        app,
        ["fuse", str(pan), str(ms), str(tmp_path / "x.tif"), "--device", "cpu", "-q", "--arch", "bandwise-resnet",
         "--weights", str(default_weights_path("prior.pt"))],
    )  # an explicit --arch that the file does not fit: a one-line error
    assert res.exit_code != 0 and "bandwise" in res.output and not (tmp_path / "x.tif").exists()


def test_default_on_a_scene_too_small_to_hold_windows_out_tags_the_flips_it_used(tmp_path):
    """A 128^2 scene's reduced-resolution pair (32^2) holds no window out: the default fits on
    flipped crops and fuses over 4 flips, and the output's tags say so; ``fast`` keeps 1."""
    pan, ms, _ = make_pair(tmp_path, size=128)

    def tags(name: str, *extra: str) -> dict:
        out = tmp_path / f"{name}.tif"
        args = ["fuse", str(pan), str(ms), str(out), "--device", "cpu", "-q"]
        res = runner.invoke(app, [*args, "--iterations", "2", "--warmup", "1", *extra])
        assert res.exit_code == 0, res.output
        with rasterio.open(out) as o:
            assert o.count == 4 and o.read().any()
            return json.loads(o.tags()["PANSHARPEN_PARAMETERS"])

    default = tags("default")
    assert (default["tta"], default["augment"], default["iterations_requested"]) == (4, 4, 2)
    fast = tags("fast", "--preset", "fast")
    assert (fast["tta"], fast["augment"]) == (1, 1)


def _striped_with_a_ramp(tmp_path, pan, ms, ref):
    """The pair (and its reference) with a ramp across the columns added (structure at a larger
    scale than an MS pixel, where a band mean is far from the data near a gap) and nodata (0) in
    the MS in 2-MS-pixel stripes every 8 columns, as Landsat-7 SLC-off."""
    ramp = 4.0 * np.arange(ref.shape[2], dtype=np.float32)
    with rasterio.open(pan) as p:
        pan2 = write_tif(tmp_path / "pan_ramp.tif", p.read() + ramp, p.transform, nodata=None)
    with rasterio.open(ms) as m:
        a = m.read() + ramp.reshape(-1, 4).mean(axis=1)  # the ramp on the MS grid
        for c in range(3, a.shape[2], 8):
            a[:, :, c : c + 2] = 0
        ms2 = write_tif(tmp_path / "ms_striped.tif", a, m.transform, nodata=0)
    return pan2, ms2, ref + ramp


def test_nodata_stripes_filled_from_the_data_near_them_tiled_as_whole(tmp_path, monkeypatch):
    """Nodata is filled by a local mean of the data near it before the fusion's filters read across
    its edge: next to the stripes the fusion is closer to the truth than with the band means, and
    tiles fuse it as the whole image does."""
    from pansharpen_cli.pipeline import tiles

    pan, ms, ref = _striped_with_a_ramp(tmp_path, *make_pair(tmp_path, size=128, dtype="float32"))
    a, b, c = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
    fuse(pan, [ms], a, FuseOptions(method="mtf-glp-hpm", tile=16))
    fuse(pan, [ms], b, FuseOptions(method="mtf-glp-hpm", tile=1000))
    monkeypatch.setattr(tiles, "FILL_REACH", 0)  # the band means (what fuse did before)
    fuse(pan, [ms], c, FuseOptions(method="mtf-glp-hpm", tile=1000))
    with rasterio.open(a) as ra, rasterio.open(b) as rb, rasterio.open(c) as rc:
        fa, fb, fc = ra.read(), rb.read(), rc.read()
        assert ra.nodata == 0
    np.testing.assert_allclose(fa, fb, rtol=1e-5, atol=1e-3)
    valid = (fb != 0).all(axis=0)
    assert 0.6 < valid.mean() < 0.8  # 2 of every 8 MS columns are nodata, written as nodata
    err_local = np.abs(fb - ref)[:, valid].mean()
    err_means = np.abs(fc - ref)[:, valid].mean()
    assert err_local < 0.9 * err_means  # measured: 15.5 against 19.0


def test_the_fit_learns_from_the_data_and_the_nodata_filled_from_it(tmp_path, monkeypatch):
    """The zero-shot fit learns from the data and the nodata within LEARN_REACH MS pixels of it
    (a 2-pixel stripe: all of it), not from the nodata farther."""
    from pansharpen_cli.methods.zeroshot import method
    from pansharpen_cli.methods.zeroshot.method import LEARN_REACH

    seen = {}
    real_fit = method.fit

    def spy(*args, **kw):
        seen["valid"] = kw["valid"]
        return real_fit(*args, **kw)

    monkeypatch.setattr(method, "fit", spy)
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="uint16")  # MS 32x32 at ratio 4
    with rasterio.open(ms) as m:
        a = m.read()
        a[:, :, :14] = 0  # a wide nodata block on the left
        a[:, :, 20:22] = 0  # a narrow stripe in the data
        msn = write_tif(tmp_path / "msn.tif", a, m.transform, nodata=0)
    fuse(pan, [msn], tmp_path / "o.tif", opts())
    cols = seen["valid"].all(axis=0)  # (128,) PAN columns
    reach = 14 - LEARN_REACH  # MS columns of the block farther than the reach from the data
    assert not cols[: reach * 4].any() and cols[reach * 4 :].all()  # the stripe and the near block
