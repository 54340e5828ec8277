"""CrossDiff: the network's noise and tiling, the pretext pretraining, the per-scene fit (tiny
synthetic scenes, fast settings)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.methods.crossdiff import CrossDiffConfig, from_zeroshot
from pansharpen_cli.methods.crossdiff.adapt import pretext_adapter
from pansharpen_cli.methods.zeroshot import ZeroShotConfig, fit
from pansharpen_cli.networks.diffusion import alpha_bar, positional_noise
from pansharpen_cli.physics.degradation import mtf_degrade, upsample
from pansharpen_cli.priors import PretrainConfig
from pansharpen_cli.priors.crossdiff import pretrain_pretext
from tests.conftest import smooth_scene

RATIO = 4
PAN_GAIN = 0.15


def _cfg(**kw) -> CrossDiffConfig:
    base = dict(warmup=10, iterations=20, crop=32, batch=2, response_steps=20, eval_every=10, tile=64)
    base.update(patience=0, reference_pixels=0)
    base.update(kw)
    return CrossDiffConfig(**base)


def _scene(bands: int, size: int = 96, seed: int = 0) -> dict:
    ref, pan = smooth_scene(bands, size, seed)
    ms = mtf_degrade(ref, [0.3] * bands, RATIO).astype(np.float32)
    return {"pan": pan, "ms": ms, "ref": ref, "gains": [0.3] * bands}


def _fit(s: dict, cfg: CrossDiffConfig, init=None):
    return fit(s["pan"], s["ms"], RATIO, s["gains"], PAN_GAIN, config=cfg, init_state=init,
               pre_adapt=pretext_adapter(cfg))


def _fuse(model, s: dict, **kw) -> np.ndarray:
    return model.predict_image(s["pan"], upsample(s["ms"], RATIO), **kw)


def test_the_cosine_schedule_falls_from_one_and_is_small_at_its_end():
    ab = alpha_bar()
    assert ab.shape == (1001,) and ab[0] == 1.0
    assert torch.all(ab[1:] < ab[:-1])
    assert 0.98 < float(ab[50]) < 1.0 and float(ab[-1]) < 1e-4


def test_positional_noise_depends_on_the_global_position_only():
    dev = torch.device("cpu")
    whole = positional_noise(1, [0, 3], 64, 80, (-8, 5), seed=7, device=dev)
    part = positional_noise(1, [3], 20, 30, (-8 + 11, 5 + 17), seed=7, device=dev)
    assert torch.equal(part[0, 0], whole[0, 1, 11:31, 17:47])
    assert not torch.equal(whole[0, 0], whole[0, 1])  # channels differ
    other = positional_noise(1, [0], 64, 80, (-8, 5), seed=8, device=dev)
    assert not torch.equal(other[0, 0], whole[0, 0])  # seeds differ
    big = positional_noise(1, [1], 256, 256, (0, 0), seed=0, device=dev)
    assert abs(float(big.mean())) < 0.02 and abs(float(big.std()) - 1) < 0.02


def test_the_network_is_tile_invariant_within_its_receptive_field():
    torch.manual_seed(0)
    net = networks.build("crossdiff").eval()
    for p in net.head.tail.parameters():  # a non-zero head, so the features matter
        torch.nn.init.normal_(p, std=0.1)
    n, c, size = 1, 3, 128
    pan, ms, det = torch.randn(n, 1, size, size), torch.randn(n, c, size, size), torch.randn(n, c, size, size)
    g = torch.rand(n, c)
    rf = net.receptive_field
    with torch.no_grad():
        whole = net(pan, ms, det, g, origin=(5, 7))
        r0, r1 = 50, 75
        win = (..., slice(r0 - rf, r1 + rf), slice(r0 - rf, r1 + rf))
        tile = net(pan[win], ms[win], det[win], g, origin=(5 + r0 - rf, 7 + r0 - rf))
    assert torch.allclose(tile[..., rf:-rf, rf:-rf], whole[..., r0:r1, r0:r1], atol=1e-5)


def test_the_pretext_loss_falls():
    rng = np.random.default_rng(0)
    images = [smooth_scene(3, 160, seed=k)[0] for k in range(2)]
    cfg = PretrainConfig(arch="crossdiff", steps=60, batch=4, crop=32, lr=3e-3, seed=rng.integers(1 << 30))
    res = pretrain_pretext(images, cfg)
    loss = np.array([a + b for _, a, b in res["losses"]])
    assert loss.shape == (60,)
    assert loss[-15:].mean() < 0.75 * loss[:15].mean(), (loss[:15].mean(), loss[-15:].mean())
    net = networks.build("crossdiff")
    net.load_state_dict(res["state_dict"])  # the whole network's state dict


@pytest.fixture(scope="module")
def four() -> dict:
    return _scene(4)


@pytest.fixture(scope="module")
def fitted(four: dict):
    torch.manual_seed(1)
    init = networks.build("crossdiff").state_dict()
    init = {k: v.clone() for k, v in init.items()}
    model = _fit(four, _cfg(), init)
    return model, init


def test_the_pretext_networks_stay_frozen_and_the_head_learns(fitted):
    model, init = fitted
    after = model.net.state_dict()
    pretext = [k for k in after if k.startswith(("ms2pan.", "pan2ms."))]
    head = [k for k in after if k.startswith("head.")]
    assert pretext and head
    assert all(torch.equal(after[k], init[k]) for k in pretext)
    assert any(not torch.equal(after[k], init[k]) for k in head)
    assert all(not p.requires_grad for m in model.net.pretext_modules() for p in m.parameters())


def test_the_head_beats_the_upsampled_ms(fitted, four):
    model, _ = fitted
    out = _fuse(model, four)
    ref, exp = four["ref"], upsample(four["ms"], RATIO)
    core = (slice(None), slice(8, -8), slice(8, -8))
    err_out = np.abs(out - ref)[core].mean()
    err_exp = np.abs(exp - ref)[core].mean()
    assert err_out < 0.8 * err_exp, (err_out, err_exp)


def test_the_same_seed_gives_the_same_output_and_another_seed_another(four):
    a = _fuse(_fit(four, _cfg(seed=3)), four)
    b = _fuse(_fit(four, _cfg(seed=3)), four)
    c = _fuse(_fit(four, _cfg(seed=4)), four)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_tiled_inference_equals_whole_image_inference(fitted, four):
    model, _ = fitted
    whole = _fuse(model, four, tile=1024)
    tiled = _fuse(model, four, tile=40)
    assert np.abs(whole - tiled).max() < 1e-3 * np.abs(whole).max()


@pytest.mark.parametrize("bands", [3, 8])
def test_any_band_count_with_the_same_weights(bands, fitted):
    _, init = fitted
    s = _scene(bands, size=72, seed=bands)
    model = _fit(s, _cfg(warmup=4, iterations=6), init)
    out = _fuse(model, s)
    assert out.shape == (bands, 72, 72) and np.isfinite(out).all()


def test_the_pretext_adaptation_moves_only_the_pretext_networks(four):
    torch.manual_seed(2)
    init = {k: v.clone() for k, v in networks.build("crossdiff").state_dict().items()}
    model = _fit(four, _cfg(warmup=0, iterations=0, pretext_steps=5), init)
    after = model.net.state_dict()
    assert any(not torch.equal(after[k], init[k]) for k in after if k.startswith("pan2ms."))
    assert all(torch.equal(after[k], init[k]) for k in after if k.startswith("head."))
    rep = model.report()["pre_adapt"]
    assert rep["steps"] == 5 and np.isfinite(rep["loss_last"])
    assert all(not p.requires_grad for m in model.net.pretext_modules() for p in m.parameters())


def test_crossdiff_settings_come_from_the_zero_shot_ones():
    cfg = from_zeroshot(ZeroShotConfig(iterations=7, seed=5, arch="bandwise-resnet", augment=4))
    assert isinstance(cfg, CrossDiffConfig)
    assert (cfg.arch, cfg.iterations, cfg.seed, cfg.net_kwargs) == ("crossdiff", 7, 5, {})
    assert cfg.augment == 1  # --preset best's flipped crops are not CrossDiff's (not measured there)
    with pytest.raises(ValueError, match="crossdiff"):
        CrossDiffConfig(arch="bandwise-lite")
    with pytest.raises(ValueError, match="pretext"):
        CrossDiffConfig(pretext_steps=-1)


def test_cached_features_give_the_fusion_of_the_whole_image(monkeypatch):
    from pansharpen_cli.methods.zeroshot import features
    from pansharpen_cli.methods.zeroshot.features import feature_maps

    monkeypatch.setattr(features, "_BAND", 24)  # computed in bands of rows, as for a large scene

    torch.manual_seed(3)
    net = networks.build("crossdiff").eval()
    for p in net.head.tail.parameters():
        torch.nn.init.normal_(p, std=0.1)
    pan, ms, det, g = torch.randn(1, 1, 96, 80), torch.randn(1, 3, 96, 80), torch.randn(1, 3, 96, 80), torch.rand(1, 3)
    with torch.no_grad():
        whole = net(pan, ms, det, g, origin=(0, 0))
        maps = feature_maps(net, pan, ms)
        assert maps.dtype == torch.float16 and maps.shape == (1, 4 * 16, 96, 80)
        cached = net(pan, ms, det, g, feats=maps)
    assert torch.allclose(cached, whole, atol=2e-2)
    assert feature_maps(net, pan, ms, limit=1000) is None  # too big for the limit: not cached


def test_a_saved_crossdiff_model_fuses_as_the_fitted_one(fitted, four, tmp_path):
    from pansharpen_cli.methods.zeroshot import ZeroShotModel

    model, _ = fitted
    model.save(tmp_path / "m.pt")
    again = ZeroShotModel.load(tmp_path / "m.pt", torch.device("cpu"))
    assert int(again.net.noise_seed) == int(model.net.noise_seed)
    assert np.array_equal(_fuse(again, four), _fuse(model, four))


@pytest.mark.parametrize("levels", [2, 3])
def test_the_unet_reaches_exactly_as_far_as_its_stated_field(levels):
    from pansharpen_cli.networks.diffusion import PretextUNet

    torch.manual_seed(levels)
    u = PretextUNet(1, [4] * levels).eval()
    size, c0, reach = 96, 48, 0
    x, cond, t = torch.randn(1, 1, size, size), torch.randn(1, 1, size, size), torch.full((1,), 50)
    with torch.no_grad():
        base = torch.cat(u(x, cond, t)[1], 1)
        for dy in range(u.multiple):
            for dx in range(u.multiple):
                x2 = x.clone()
                x2[..., c0 + dy, c0 + dx] += 5
                d = (torch.cat(u(x2, cond, t)[1], 1) - base).abs().amax(dim=(0, 1)) > 0
                ys, xs = torch.nonzero(d, as_tuple=True)
                reach = max(reach, (ys - c0 - dy).abs().max().item(), (xs - c0 - dx).abs().max().item())
    assert reach == u.feature_field
