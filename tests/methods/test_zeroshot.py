"""Zero-shot optimisation on tiny synthetic scenes (fast settings)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pansharpen_cli.methods import zeroshot
from pansharpen_cli.physics.degradation import mtf_degrade, upsample

RATIO = 4
GAINS = [0.3, 0.3, 0.3, 0.3]
PAN_GAIN = 0.15
CPU = torch.device("cpu")


def _smooth_field(rng: np.random.Generator, bands: int, size: int) -> np.ndarray:
    """Random multiband field with structure at several scales, values > 0."""
    from scipy import ndimage

    out = np.zeros((bands, size, size))
    base = [ndimage.gaussian_filter(rng.normal(size=(size, size)), s, mode="wrap") for s in (1.0, 3.0)]
    for b in range(bands):
        w = rng.uniform(0.5, 1.5, size=2)
        out[b] = 10 + 40 * (w[0] * base[0] / base[0].std() + w[1] * base[1] / base[1].std())
        out[b] += 5 * ndimage.gaussian_filter(rng.normal(size=(size, size)), 2.0)
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def scene() -> dict:
    """A 128x128 fine image, its 4-band MS and PAN; the tool sees the degraded pair (Wald)."""
    rng = np.random.default_rng(0)
    hr = _smooth_field(rng, 4, 128)
    weights = np.array([0.1, 0.3, 0.4, 0.2], np.float32)
    pan = np.tensordot(weights, hr, axes=1)[None]  # (1, 128, 128)
    ms = mtf_degrade(hr, GAINS, RATIO)  # (4, 32, 32): reference of the RR protocol
    # The tool input: PAN at 128 px, MS at 32 px (the reduced-resolution pair of a 512 px scene,
    # as wald_pair would make it); the reference is the 128 px MS.
    return {"pan": pan.astype(np.float32), "ms": ms, "ref": hr}


def _cfg(**kw) -> zeroshot.ZeroShotConfig:
    base = dict(warmup=30, iterations=40, crop=32, batch=2, response_steps=30, eval_every=20, tile=48)
    base.update(patience=0, reference_pixels=0)  # exact step counts (early stopping and scaling: own tests)
    base.update(kw)
    return zeroshot.ZeroShotConfig(**base)


@pytest.fixture(scope="module")
def fitted(scene: dict) -> tuple[zeroshot.ZeroShotModel, list]:
    calls: list = []
    model = zeroshot.fit(
        scene["pan"],
        scene["ms"],
        RATIO,
        GAINS,
        PAN_GAIN,
        config=_cfg(),
        device=CPU,
        progress=lambda stage, k, n, losses: calls.append((stage, k, n, dict(losses))),
    )
    return model, calls


def test_config_defaults_and_checks() -> None:
    cfg = zeroshot.ZeroShotConfig()
    assert cfg.iterations > 0 and 0 <= cfg.p_full <= 1 and cfg.lr_rr == 1e-3 and cfg.lr_fr == 5e-4
    with pytest.raises(ValueError, match="p_full"):
        zeroshot.ZeroShotConfig(p_full=1.5)
    for bad in ({"corr_target": "pan"}, {"select_fr": -1.0}, {"align": "both"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            zeroshot.ZeroShotConfig(**bad)


def test_fit_reports_progress_and_losses_fall(fitted) -> None:
    model, calls = fitted
    stages = {c[0] for c in calls}
    assert {"response", "warmup", "train"} <= stages
    rr = [c[3]["rr"] for c in calls if c[0] == "warmup" and c[1] > 0]
    assert np.mean(rr[-10:]) < np.mean(rr[:5])
    rep = model.report()
    assert rep["spectral_response"]["kind"] in ("linear", "mlp")
    assert set(rep["seconds"]) >= {"response_s", "warmup_s", "train_s", "total_s"}
    assert rep["receptive_field"] == model.receptive_field > 0


def test_beats_upsampled_ms_under_rr_protocol(scene: dict, fitted) -> None:
    model, _ = fitted
    ms_up = upsample(scene["ms"], RATIO)
    fused = model.predict_image(scene["pan"], ms_up)
    assert fused.shape == ms_up.shape and fused.dtype == np.float32
    ref = scene["ref"]
    err_fused = np.sqrt(((fused - ref) ** 2).mean())
    err_up = np.sqrt(((ms_up - ref) ** 2).mean())
    assert err_fused < 0.9 * err_up


def test_tiled_equals_whole_image(scene: dict, fitted) -> None:
    model, _ = fitted
    ms_up = upsample(scene["ms"], RATIO)
    whole = model.predict_image(scene["pan"], ms_up, tile=10_000)
    tiled = model.predict_image(scene["pan"], ms_up, tile=40)
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=1e-5)
    # away from the border the tiles equal a single unpadded pass
    rf = model.receptive_field
    single = model.predict(scene["pan"], ms_up)
    np.testing.assert_allclose(tiled[:, rf:-rf, rf:-rf], single[:, rf:-rf, rf:-rf], atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("margin", [2, 12])  # narrower and wider than the receptive field
def test_margin_is_context_only(scene: dict, fitted, margin: int) -> None:
    """With a margin (a pipeline tile's halo) the network runs on the inside only, and the inside
    is what the whole image gives; the margin itself is left 0."""
    model, _ = fitted
    ms_up = upsample(scene["ms"], RATIO)
    whole = model.predict_image(scene["pan"], ms_up)
    inner = (..., slice(margin, -margin), slice(margin, -margin))
    for tile in (10_000, 15):
        got = model.predict_image(scene["pan"], ms_up, tile=tile, margin=margin)
        np.testing.assert_allclose(got[inner], whole[inner], atol=1e-4, rtol=1e-5)
        rim = np.ones(got.shape[1:], bool)
        rim[margin:-margin, margin:-margin] = False
        assert not got[:, rim].any()


def test_coarse_ms_upsampled_in_torch_equals_the_reference(scene: dict, fitted) -> None:
    """predict_coarse (the MS upsampled in torch, what fuse uses) gives predict_image on the numpy
    reference upsampling, to float precision, with and without a margin."""
    model, _ = fitted
    ref = model.predict_image(scene["pan"], upsample(scene["ms"], RATIO))
    np.testing.assert_allclose(model.predict_coarse(scene["pan"], scene["ms"]), ref, atol=1e-3, rtol=1e-5)
    got = model.predict_coarse(scene["pan"], scene["ms"], tile=17, margin=8)
    np.testing.assert_allclose(got[:, 8:-8, 8:-8], ref[:, 8:-8, 8:-8], atol=1e-3, rtol=1e-5)
    with pytest.raises(ValueError, match="expected ms shaped"):
        model.predict_coarse(scene["pan"], scene["ms"][:, :-1])


def test_same_seed_same_output(scene: dict) -> None:
    cfg = _cfg(warmup=5, iterations=6, response_steps=5, eval_every=3)
    ms_up = upsample(scene["ms"], RATIO)
    a = zeroshot.fit(scene["pan"], scene["ms"], RATIO, GAINS, PAN_GAIN, config=cfg, device=CPU)
    b = zeroshot.fit(scene["pan"], scene["ms"], RATIO, GAINS, PAN_GAIN, config=cfg, device=CPU)
    np.testing.assert_array_equal(a.predict(scene["pan"], ms_up), b.predict(scene["pan"], ms_up))


def test_nodata_border_trains_and_stays_finite(scene: dict) -> None:
    pan, ms = scene["pan"].copy(), scene["ms"].copy()
    valid = np.ones(pan.shape[1:], bool)
    valid[:, :24] = False  # a 24-px nodata strip on the left (6 MS pixels)
    pan[:, ~valid] = pan[:, valid].mean()
    ms[:, :, :6] = ms[:, :, 6:].mean(axis=(1, 2), keepdims=True)
    cfg = _cfg(warmup=10, iterations=10, response_steps=10, eval_every=5)
    model = zeroshot.fit(pan, ms, RATIO, GAINS, PAN_GAIN, valid=valid, config=cfg, device=CPU)
    fused = model.predict_image(pan, upsample(ms, RATIO))
    assert np.isfinite(fused).all()


def test_init_state_and_save_load(tmp_path, scene: dict, fitted) -> None:
    model, _ = fitted
    cfg = _cfg(warmup=0, iterations=0, response_steps=2)
    again = zeroshot.fit(
        scene["pan"],
        scene["ms"],
        RATIO,
        GAINS,
        PAN_GAIN,
        config=cfg,
        device=CPU,
        init_state=model.state_dict(),
    )
    ms_up = upsample(scene["ms"][:, :8, :8], RATIO)
    pan = scene["pan"][:, :32, :32]
    np.testing.assert_allclose(again.predict(pan, ms_up), model.predict(pan, ms_up), atol=1e-5)
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = zeroshot.ZeroShotModel.load(path, CPU)
    np.testing.assert_allclose(loaded.predict(pan, ms_up), model.predict(pan, ms_up), atol=1e-6)


def test_a_good_prior_is_kept_when_adaptation_does_not_beat_it(scene: dict, fitted) -> None:
    """The hold-out selection considers the pretrained start itself: a start already fitted to the
    scene, 'adapted' with a learning rate far too high, comes back unchanged."""
    model, _ = fitted
    again = zeroshot.fit(
        scene["pan"],
        scene["ms"],
        RATIO,
        GAINS,
        PAN_GAIN,
        config=_cfg(warmup=4, iterations=4, eval_every=2, lr_rr=0.5, lr_fr=0.5, response_steps=2, crop=8),
        device=CPU,
        init_state=model.state_dict(),
    )
    hold = again.report()["holdout"]
    assert hold["windows"] >= 1 and hold["history"][0][0] == -8  # 4 warm-up steps, doubled for 4 bands
    assert hold["best_step"] == -8
    ms_up = upsample(scene["ms"][:, :8, :8], RATIO)
    pan = scene["pan"][:, :32, :32]
    np.testing.assert_allclose(again.predict(pan, ms_up), model.predict(pan, ms_up), atol=1e-5)


def test_bad_shapes_raise(scene: dict) -> None:
    with pytest.raises(ValueError, match="expected pan shaped"):
        zeroshot.fit(scene["pan"][:, :100], scene["ms"], RATIO, GAINS, PAN_GAIN, config=_cfg(), device=CPU)
    with pytest.raises(ValueError, match="gains"):
        zeroshot.fit(scene["pan"], scene["ms"], RATIO, GAINS[:3], PAN_GAIN, config=_cfg(), device=CPU)


def test_adam_updates_as_torch_adam() -> None:
    """The fits' Adam (methods/zeroshot/adam.py) gives torch.optim.Adam's parameters to the bit,
    also when a parameter misses a step's gradient."""
    from pansharpen_cli.methods.zeroshot.adam import Adam

    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.Conv2d(4, 2, 1))
    ref = copy.deepcopy(ours)
    opt_ours, opt_ref = Adam(ours.parameters(), lr=1e-2), torch.optim.Adam(ref.parameters(), lr=1e-2)
    for k in range(12):
        x = torch.randn(2, 3, 9, 9)
        for net, opt in ((ours, opt_ours), (ref, opt_ref)):
            if k == 5:  # a step with the last conv's gradients missing
                net[2].weight.requires_grad_(False)
            loss = net(x).square().mean()
            opt.zero_grad()
            loss.backward()
            if isinstance(opt, Adam):
                opt.lr = 1e-2 if k % 2 else 3e-3
            else:
                opt.param_groups[0]["lr"] = 1e-2 if k % 2 else 3e-3
            opt.step()
            net[2].weight.requires_grad_(True)
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_fit_without_steps_builds_no_trainer_and_the_same_gains(scene: dict) -> None:
    """``--iterations 0``: no training pairs and no trainer (no hold-out windows, no steps), the
    detail gains and the shift as a fit with steps has them, and a fusion from the start weights."""
    from pansharpen_cli.methods.zeroshot.scene import prepare_scene

    args = (scene["pan"], scene["ms"], RATIO, GAINS, PAN_GAIN)
    idle = zeroshot.fit(*args, config=_cfg(warmup=0, iterations=0), device=CPU)
    rep = idle.report()
    assert rep["holdout"]["windows"] == 0 and rep["steps"]["train_run"] == 0
    assert rep["seconds"]["warmup_s"] == rep["seconds"]["train_s"] == 0.0
    valid = np.ones(scene["pan"].shape[1:], bool)
    full = prepare_scene(scene["pan"], scene["ms"], valid, RATIO, GAINS, PAN_GAIN, _cfg(), CPU)
    only = prepare_scene(scene["pan"], scene["ms"], valid, RATIO, GAINS, PAN_GAIN, _cfg(), CPU, pairs=False)
    assert only.detail_fr is None and only.pan_rr is None
    torch.testing.assert_close(only.gains_t, full.gains_t)
    np.testing.assert_allclose(idle.detail_gains, full.gains_t[0].numpy(), rtol=1e-6)
    assert idle.shift == full.shift
    # the same fit through the trainer (a no-op pre-adaptation hook keeps it): the same fusion
    through = zeroshot.fit(*args, config=_cfg(warmup=0, iterations=0), device=CPU, pre_adapt=lambda *a: {})
    assert through.report()["pre_adapt"] == {}  # the hook ran: the full path was taken
    ms_up = upsample(scene["ms"], RATIO)
    np.testing.assert_array_equal(idle.predict_image(scene["pan"], ms_up), through.predict_image(scene["pan"], ms_up))


def test_the_full_resolution_selection_knobs_act(scene: dict) -> None:
    """``corr_target="hpm"`` targets at least the upsampled MS's correlation; ``select_fr`` adds the
    full-resolution shortfall to the hold-out score (both off by default: issue 24's measurements)."""
    from pansharpen_cli import networks
    from pansharpen_cli.methods.zeroshot.fit import prepare_scene
    from pansharpen_cli.methods.zeroshot.trainer import Trainer

    base = _cfg()
    assert base.corr_target == "ms" and base.select_fr == 0.0
    scored = {}
    small = dict(crop=16, holdout=0.3)  # hold-out windows on this small scene
    for name, cfg in (("off", _cfg(**small)), ("hpm", _cfg(**small, corr_target="hpm", select_fr=1.0))):
        valid = np.ones(scene["pan"].shape[1:], bool)
        s = prepare_scene(scene["pan"], scene["ms"], valid, RATIO, GAINS, PAN_GAIN, cfg, CPU)
        tr = Trainer(networks.build(cfg.net_arch), None, s, cfg, np.random.default_rng(0), CPU)
        assert tr.hold  # hold-out windows to score
        p, x, d, target = tr._fr_windows()
        scored[name] = (tr.holdout_loss(), tr._rr_holdout(), tr._fr_shortfall(), target)
    off, hpm = scored["off"], scored["hpm"]
    assert off[0] == off[1]  # the hold-out score is the reduced-resolution L1 alone
    assert hpm[0] == pytest.approx(hpm[1] + hpm[2]) and hpm[2] > 0
    assert (hpm[3] >= off[3] - 1e-6).all() and (hpm[3] > off[3] + 0.05).any()
