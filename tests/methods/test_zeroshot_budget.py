"""The zero-shot step budget: presets, scaling to the scene's size, early stopping, and no
spectral-response fit when nothing adapts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.methods import zeroshot
from pansharpen_cli.methods.presets import DEFAULT_PRESET, PRESETS
from pansharpen_cli.methods.zeroshot.config import preset_config, scaled_steps
from pansharpen_cli.physics.degradation import mtf_degrade

CPU = torch.device("cpu")
GAINS = [0.3, 0.3, 0.3]


def test_presets_scale_the_default_budget() -> None:
    base = zeroshot.ZeroShotConfig()
    default = preset_config(DEFAULT_PRESET)
    assert (default.warmup, default.iterations, default.patience) == (base.warmup, base.iterations, base.patience)
    fast, best = preset_config("fast"), preset_config("best")
    assert fast.iterations == round(base.iterations * PRESETS["fast"]["steps"]) < base.iterations
    assert (best.iterations, best.patience) == (base.iterations, base.patience)  # the larger network instead
    assert fast.reference_pixels == 512 * 512 and default.reference_pixels == best.reference_pixels == 0
    assert preset_config("fast", seed=3, p_full=0.2).seed == 3  # overrides win over the preset
    with pytest.raises(ValueError, match="expected a preset among fast, default, best"):
        preset_config("turbo")


def test_presets_name_their_network_and_each_has_a_shipped_prior() -> None:
    from pansharpen_cli.priors.weights import SHIPPED_PRIORS, load_weights, shipped_name

    nets = {name: preset_config(name).net_arch for name in PRESETS}
    assert nets == {"fast": "bandwise-lite", "default": "bandwise-resnet", "best": "bandwise-resnet-wide"}
    assert nets[DEFAULT_PRESET] == networks.DEFAULT_ARCH  # one default network
    assert preset_config("best", arch="bandwise-lite").net_arch == "bandwise-lite"  # --arch wins
    for arch in set(nets.values()):
        w = load_weights("default", arch=arch, default=shipped_name(arch))  # verified against its sha256
        assert w.arch == arch and w.manifest["verified"] and w.manifest["file"] == SHIPPED_PRIORS[arch]
    assert shipped_name("bandwise-resnet", "crossdiff.pt") == "crossdiff.pt"  # a method's own file stays
    assert shipped_name(None) == "prior-resnet.pt"  # the default network's
    assert shipped_name("bandwise-lite") == "prior.pt"
    assert shipped_name("bandwise-resnet-wide") == "prior-resnet-wide.pt"


def test_budget_scales_with_bands_and_small_scenes() -> None:
    cfg = zeroshot.ZeroShotConfig(warmup=60, iterations=200, reference_pixels=512 * 512)
    assert scaled_steps(cfg, 8, 2048 * 2048) == (60, 200)  # large scene: the stated budget
    assert scaled_steps(cfg, 4, 2048 * 2048) == (120, 400)  # 4 bands: twice
    assert scaled_steps(cfg, 8, 256 * 256) == (30, 100)  # a quarter of the area: half the steps
    assert scaled_steps(cfg, 8, 16 * 16) == (15, 50)  # never under a quarter
    off = zeroshot.ZeroShotConfig(warmup=60, iterations=200, reference_pixels=0)
    assert scaled_steps(off, 8, 256 * 256) == (60, 200)


def _scene(size: int = 96, ratio: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    from scipy import ndimage

    hr = np.stack([ndimage.gaussian_filter(rng.normal(size=(size, size)), 2.0) * 30 + 100 for _ in GAINS])
    pan = hr.mean(0, keepdims=True).astype(np.float32)
    return pan, mtf_degrade(hr, GAINS, ratio).astype(np.float32)


def test_early_stopping_ends_stage_two_and_keeps_the_best_state() -> None:
    pan, ms = _scene(256)
    # a huge learning rate makes every stage II step worse than the warm-up state: stop after 2 evals
    cfg = zeroshot.ZeroShotConfig(
        warmup=2, iterations=60, eval_every=5, patience=2, lr_rr=1.0, lr_fr=1.0, crop=16, batch=2,
        response_steps=5, reference_pixels=0, holdout=0.3,
    )
    calls: list = []
    model = zeroshot.fit(pan, ms, 4, GAINS, 0.15, config=cfg, device=CPU, progress=lambda *a: calls.append(a))
    rep = model.report()
    steps, hold = rep["steps"], rep["holdout"]
    assert steps["stopped_early"] and steps["train"] == 120 and steps["train_run"] < 120  # 3 bands: 2x
    evals = [(st, v) for st, v in hold["history"] if st > 0]
    after = [v for st, v in evals if st > max(hold["best_step"], 0)]
    # it stopped exactly when `patience` evaluations in a row did not beat the best
    assert len(after) == 2 and min(after) >= hold["best_loss"] and evals[-1][0] == steps["train_run"]
    # the progress shows the stage complete at the steps really run, the plan in its figures
    n = steps["train_run"]
    assert calls[-1][:3] == ("train", n, n) and calls[-1][3]["early_stop"] == f"{n}/120"
    # every stage opens with (stage, 0, planned steps) when it starts
    assert [c[:3] for c in calls if c[1] == 0] == [("response", 0, 1), ("warmup", 0, 4), ("train", 0, 120)]
    never = zeroshot.fit(pan, ms, 4, GAINS, 0.15, config=cfg.__class__(**{**cfg.__dict__, "patience": 0}), device=CPU)
    assert never.report()["steps"]["train_run"] == 120


def test_no_adaptation_skips_the_spectral_response() -> None:
    pan, ms = _scene()
    cfg = zeroshot.ZeroShotConfig(warmup=0, iterations=0)
    model = zeroshot.fit(pan, ms, 4, GAINS, 0.15, config=cfg, device=CPU)
    rep = model.report()
    assert rep["spectral_response"]["kind"].startswith("none") and model.response is None
    assert rep["steps"]["train_run"] == 0
    fused = model.predict_image(pan, np.repeat(np.repeat(ms, 4, 1), 4, 2))
    assert fused.shape == (3, 96, 96) and np.isfinite(fused).all()
