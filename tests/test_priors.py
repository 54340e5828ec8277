"""Pretrained priors: the simulated-data generator, pretraining, weights files and their checks."""

from __future__ import annotations

import json
import warnings
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.errors import NotGeoreferencedWarning

from pansharpen_cli import networks, priors
from pansharpen_cli.degradation import mtf_degrade
from pansharpen_cli.errors import InputFileError, OptionError, WeightsError


def _images() -> list[np.ndarray]:
    """Two small synthetic images: an RGB-like (3, 96, 96) and a grey (96, 110) one."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :110]
    grey = np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.3 * rng.standard_normal((96, 110))
    rgb = np.stack([np.roll(grey, k, axis=1)[:, :96] * (1 + 0.2 * k) for k in range(3)])
    return [rgb.astype(np.float32), grey.astype(np.float32)]


def _tif(path: Path, arr: np.ndarray, nodata: float | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=arr.shape[2],
            height=arr.shape[1],
            count=arr.shape[0],
            dtype=arr.dtype.name,
            nodata=nodata,
        ) as ds:
            ds.write(arr)
    return path


# -- generator ---------------------------------------------------------------------------------------


def test_triplet_shapes_bands_ratios_ranges() -> None:
    it = priors.iter_triplets(_images(), seed=1, crop=36, ratios=(2, 3, 4), bands=(3, 8))
    seen_r, seen_c = set(), set()
    for t in islice(it, 60):
        r = t.ratio
        c = t.reference.shape[0]
        size = (36 // r) * r
        assert t.pan.shape == (1, size, size)
        assert t.reference.shape == (c, size, size)
        assert t.ms.shape == (c, size // r, size // r)
        assert 3 <= c <= 8
        assert all(a.dtype == np.float32 for a in t)
        assert np.isfinite(t.pan).all() and np.isfinite(t.ms).all()
        assert t.reference.min() >= 0.0 and t.reference.max() <= 1.5
        assert -0.1 < t.pan.mean() < 1.2 and -0.1 < t.ms.mean() < 1.2
        seen_r.add(r)
        seen_c.add(c)
    assert seen_r == {2, 3, 4}
    assert len(seen_c) >= 4


def test_triplet_ms_is_mtf_degraded_reference() -> None:
    # no noise: the MS is the reference's MTF-degraded version (up to the crop margin's context)
    sampler = priors.TripletSampler(_images(), priors.SimSettings(crop=32, ms_noise=(0.0, 0.0)))
    t = sampler.sample(np.random.default_rng(3), bands=4, ratio=4)
    low = mtf_degrade(t.reference, [0.3] * 4, 4)
    # interior coarse pixels agree to the order of the MTF-gain spread, far better than a shuffle
    err = np.abs(low - t.ms)[:, 2:-2, 2:-2].mean()
    assert err < 0.5 * np.abs(low - t.ms[:, ::-1, ::-1])[:, 2:-2, 2:-2].mean() + 1e-6


def test_generator_makes_bands_the_pan_does_not_predict() -> None:
    """p_foreign / p_invert: some bands get detail unrelated or opposite to the PAN's, so the
    detail gains the network sees span ~0 and negative values, not only ~1."""
    import torch

    from pansharpen_cli.torch_ops import detail_gains, mtf_degrade_t

    def gains_of(**kw) -> np.ndarray:
        out = []
        for t in islice(
            priors.iter_triplets(_images(), seed=3, crop=48, ratios=(2,), bands=(6, 6), **kw), 40
        ):
            p = torch.as_tensor(t.pan)[None]
            m = torch.as_tensor(t.ms)[None]
            p = (p - p.mean()) / p.std()
            m = (m - m.mean((-2, -1), keepdim=True)) / m.std((-2, -1), keepdim=True)
            out.append(detail_gains(mtf_degrade_t(p, [0.15], 2), m)[0].numpy())
        return np.concatenate(out)

    coupled = gains_of(p_foreign=0.0, p_invert=0.0)
    mixed = gains_of(p_foreign=0.5, p_invert=0.3)
    assert (mixed < 0).mean() > (coupled < 0).mean() + 0.05
    assert (np.abs(mixed) < 0.3).mean() > (np.abs(coupled) < 0.3).mean()
    with pytest.raises(OptionError, match="p_foreign, p_invert"):
        priors.SimSettings(p_foreign=0.8, p_invert=0.5)


def test_triplets_reproducible_from_seed() -> None:
    a = list(islice(priors.iter_triplets(_images(), seed=7, crop=24), 5))
    b = list(islice(priors.iter_triplets(_images(), seed=7, crop=24), 5))
    c = list(islice(priors.iter_triplets(_images(), seed=8, crop=24), 5))
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)
    assert any(
        x.pan.shape != z.pan.shape or not np.array_equal(x.pan, z.pan) for x, z in zip(a, c, strict=True)
    )


def test_batched_groups_equal_shapes() -> None:
    it = priors.iter_triplets(_images(), seed=2, crop=24, ratios=(2, 4), bands=(3, 4))
    for b in islice(priors.batched(it, 3), 4):
        n, c, h, w = b.reference.shape
        assert n == 3 and b.pan.shape == (3, 1, h, w) and b.ms.shape == (3, c, h // b.ratio, w // b.ratio)
        assert b.pan.dtype == torch.float32


def test_sources_files_and_nodata(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.random((5, 80, 80)) * 2000 + 100).astype(np.uint16)
    arr[:, :10, :] = 0  # nodata stripe
    tif = _tif(tmp_path / "ms.tif", arr, nodata=0)
    import skimage.io

    png = tmp_path / "rgb.png"
    skimage.io.imsave(png, (rng.random((64, 70, 3)) * 255).astype(np.uint8), check_contrast=False)
    srcs = priors.resolve_sources([tif, str(png)])
    img, valid = srcs[0].load()
    assert img.shape == (5, 80, 80) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    assert valid is not None and not valid[:10].any() and valid[10:].all()
    img2, _ = srcs[1].load()
    assert img2.shape == (3, 64, 70)
    t = next(priors.iter_triplets(srcs, seed=0, crop=32, ratios=(4,)))
    assert t.pan.shape == (1, 32, 32)


def test_sources_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="expected an existing"):
        priors.resolve_sources([tmp_path / "missing.tif"])
    with pytest.raises(OptionError, match="at least one"):
        priors.resolve_sources([])
    with pytest.raises(OptionError, match="at least 64x64"):
        next(priors.iter_triplets([np.zeros((3, 40, 40), np.float32)], seed=0, crop=64))
    with pytest.raises(OptionError, match="ratios"):
        priors.SimSettings(ratios=(1,))


# -- pretraining and weights files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("prior")
    calls: list[tuple[int, int, float]] = []
    res = priors.pretrain(
        _images(),
        config={"features": 8, "blocks": 1},
        steps=4,
        batch=2,
        crop=24,
        ratios=(2, 4),
        seed=0,
        progress=lambda s, n, loss: calls.append((s, n, loss)),
        log=d / "log.tsv",
        checkpoint=d / "ck.pt",
        checkpoint_every=2,
    )
    assert [c[0] for c in calls] == [1, 2, 3, 4] and all(np.isfinite(c[2]) for c in calls)
    assert len((d / "log.tsv").read_text().splitlines()) == 5
    man = priors.save_weights(d / "w.pt", res["net"], res["manifest"])
    return d / "w.pt", {"res": res, "manifest": man, "dir": d}


def test_pretrain_writes_loadable_weights(trained) -> None:
    path, info = trained
    man = json.loads(path.with_suffix(".json").read_text())
    assert man["sha256"] == priors.sha256_file(path) and man["benchmark"] is None
    assert man["arch"] == networks.DEFAULT_ARCH and man["training"]["steps"] == 4
    assert man["bands"] == [3, 8] and man["ratios"] == [2, 4] and "generator" in man
    w = priors.load_weights(path)
    assert w is not None and w.manifest["verified"]
    state, manifest = w
    net = networks.build(manifest["arch"], **manifest["config"])
    net.load_state_dict(state, strict=True)
    pan, ms_up = torch.randn(1, 1, 16, 16), torch.randn(1, 5, 16, 16)
    assert net(pan, ms_up).shape == (1, 5, 16, 16)
    net2, _ = priors.load_network(path)
    torch.testing.assert_close(net2(pan, ms_up), net.eval()(pan, ms_up))


def test_pretrain_resume_is_exact(trained) -> None:
    _, info = trained
    d, full = info["dir"], info["res"]
    # the checkpoint of step 2 continued to step 4 gives the same network as the uninterrupted run
    part = priors.pretrain(
        _images(),
        config={"features": 8, "blocks": 1},
        steps=4,
        batch=2,
        crop=24,
        ratios=(2, 4),
        seed=0,
        checkpoint=d / "ck2.pt",
        max_seconds=0.0,
    )
    assert part["steps_done"] == 1
    rest = priors.pretrain(
        _images(),
        config={"features": 8, "blocks": 1},
        steps=4,
        batch=2,
        crop=24,
        ratios=(2, 4),
        seed=0,
        resume=d / "ck2.pt",
    )
    assert rest["steps_done"] == 4 and len(rest["losses"]) == 4
    for k, v in full["state_dict"].items():
        torch.testing.assert_close(rest["state_dict"][k], v)
    with pytest.raises(OptionError, match="settings of checkpoint"):
        priors.pretrain(
            _images(),
            config={"features": 8, "blocks": 1},
            steps=4,
            batch=2,
            crop=24,
            ratios=(2, 4),
            seed=1,
            resume=d / "ck2.pt",
        )


def test_none_gives_none() -> None:
    assert priors.load_weights("none") is None
    assert priors.load_weights("NONE") is None
    assert priors.load_weights(None) is None
    assert priors.load_network("none") is None


def test_corrupted_file_fails_checksum(trained, tmp_path: Path) -> None:
    path, _ = trained
    bad = tmp_path / "w.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "w.json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(WeightsError, match="corrupted.*sha256.*--weights none"):
        priors.load_weights(bad)


def test_missing_file_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no such file"):
        priors.load_weights(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a readable torch weights file"):
        priors.load_weights(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": {}}, other)
    with pytest.raises(WeightsError, match="arch, config and state_dict"):
        priors.load_weights(other)


def test_unknown_arch(trained, tmp_path: Path) -> None:
    path, _ = trained
    obj = torch.load(path, weights_only=True)
    obj["arch"] = "no-such-net"
    p = tmp_path / "u.pt"
    torch.save(obj, p)  # no manifest: allowed for a user file
    with pytest.raises(WeightsError, match="'no-such-net'.*does not know.*--weights none"):
        priors.load_weights(p)
    with pytest.raises(WeightsError, match="was asked for"):
        priors.load_weights(path, arch="some-other-arch")


def test_state_dict_mismatch(trained, tmp_path: Path) -> None:
    path, _ = trained
    obj = torch.load(path, weights_only=True)
    obj["config"] = dict(obj["config"], features=obj["config"]["features"] + 4)  # shapes no longer fit
    p = tmp_path / "m.pt"
    torch.save(obj, p)
    with pytest.raises(WeightsError, match="does not fit network"):
        priors.load_weights(p)
    obj = torch.load(path, weights_only=True)
    obj["state_dict"].pop(next(iter(obj["state_dict"])))
    torch.save(obj, p)
    with pytest.raises(WeightsError, match="does not fit network.*pansharpen pretrain"):
        priors.load_weights(p)


def test_manifest_problems(trained, tmp_path: Path) -> None:
    path, _ = trained
    p = tmp_path / "w.pt"
    p.write_bytes(path.read_bytes())
    (tmp_path / "w.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        priors.load_weights(p)
    (tmp_path / "w.json").write_text(json.dumps({"arch": "bandwise-resnet"}))
    with pytest.raises(WeightsError, match="no sha256"):
        priors.load_weights(p)


def test_default_weights_load_or_explain() -> None:
    if not priors.DEFAULT_WEIGHTS.is_file():
        with pytest.raises(WeightsError, match="missing from this installation"):
            priors.load_weights("default")
        return
    w = priors.load_weights("default")
    assert w is not None and w.manifest["verified"]
    net = networks.build(w.arch, **w.config)
    net.load_state_dict(w.state_dict)


def test_generator_misregisters_the_ms_and_its_reference_against_the_pan() -> None:
    def mean_corr(**kw) -> float:
        out = []
        # the PAN a pure mix of the reference bands, so that only the shift decorrelates them
        opts = dict(
            crop=48,
            ratios=(2,),
            bands=(4, 4),
            p_foreign=0.0,
            p_invert=0.0,
            pan_noise=(0.0, 0.0),
            p_pan_hidden=0.0,
        )
        for t in islice(priors.iter_triplets(_images(), seed=5, **opts, **kw), 20):
            a, b = t.pan[0].ravel(), t.reference.mean(0).ravel()
            out.append(np.corrcoef(a, b)[0, 1])
        return float(np.mean(out))

    aligned = mean_corr(p_shift=0.0)
    shifted = mean_corr(p_shift=1.0, max_shift=0.5)
    assert aligned > 0.95 and shifted < aligned - 0.02


def test_scene_jitter_moves_the_statistics_and_keeps_the_reference_the_ms() -> None:
    sim = priors.SimSettings()
    g = torch.Generator().manual_seed(0)
    pan, ms, ref = (torch.randn(s, generator=g) for s in ((6, 1, 32, 32), (6, 4, 8, 8), (6, 4, 32, 32)))
    a = priors.scene_jitter(pan, ms, ref, sim, np.random.default_rng(3))
    b = priors.scene_jitter(pan, ms, ref, sim, np.random.default_rng(3))
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)  # reproducible from the seed
    p2, m2, r2 = a
    k = p2.std(dim=(1, 2, 3)) / pan.std(dim=(1, 2, 3))
    lo, hi = sim.scene_scale
    assert ((k > lo * 0.99) & (k < hi * 1.01)).all() and k.min() < 0.8  # spread below 1 as in a scene
    assert p2.mean(dim=(1, 2, 3)).abs().max() > 0.1  # means away from 0
    # one affine map per sample and band takes the MS to its jittered self and the reference to its own
    scale = (m2[..., 0, 0] - m2[..., 0, 1]) / (ms[..., 0, 0] - ms[..., 0, 1])
    off = m2[..., 0, 0] - scale * ms[..., 0, 0]
    torch.testing.assert_close(r2, ref * scale[..., None, None] + off[..., None, None], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [
        {"pan_mtf": (0.5, 1.2)},
        {"p_pan_mtf": 2.0},
        {"scene_scale": (0.0, 1.0)},
        {"scene_offset": -1.0},
        {"p_pan_hidden": 1.5},
        {"pan_hidden": (0.6, 0.2)},
        {"pan_hidden_foreign": -0.1},
    ],
)
def test_bad_generator_settings_are_clear_errors(bad) -> None:
    with pytest.raises(OptionError, match="expected"):
        priors.SimSettings(**bad)


def test_pan_blur_makes_the_pan_less_sharp_than_its_reference_mix() -> None:
    from scipy import ndimage

    def hp_energy(**kw) -> float:
        sampler = priors.TripletSampler(_images(), priors.SimSettings(crop=32, p_shift=0.0, **kw))
        t = sampler.sample(np.random.default_rng(5), bands=4, ratio=4)  # the same crop and PAN mix
        p = t.pan[0] - ndimage.uniform_filter(t.pan[0], 3, mode="reflect")
        return float((p**2).mean())

    assert hp_energy(p_pan_mtf=1.0, pan_mtf=(0.2, 0.21)) < 0.5 * hp_energy()


def test_pan_hidden_band_makes_the_reference_less_predictable_from_the_pan() -> None:
    from pansharpen_cli.metrics import d_rho

    def mean_drho(**kw) -> float:
        opts = dict(crop=48, ratios=(2,), bands=(4, 4), p_shift=0.0, pan_noise=(0.0, 0.0), **kw)
        ts = list(islice(priors.iter_triplets(_images(), seed=3, **opts), 12))
        for t in ts:
            assert t.pan.shape == (1, 48, 48) and np.isfinite(t.pan).all()
        return float(np.mean([d_rho(t.pan, t.reference, 2) for t in ts]))

    pure = mean_drho(p_pan_hidden=0.0)
    hidden = mean_drho(p_pan_hidden=1.0, pan_hidden=(0.5, 0.6), pan_hidden_foreign=1.0)
    assert hidden > pure + 0.05
    # the hidden band is blended into the PAN of the same crop: with weight 0 the PAN is the pure mix
    opts = dict(crop=48, p_shift=0.0, pan_noise=(0.0, 0.0))
    a = next(priors.iter_triplets(_images(), seed=4, **opts, p_pan_hidden=0.0))
    b = next(priors.iter_triplets(_images(), seed=4, **opts, p_pan_hidden=1.0, pan_hidden=(0.0, 0.0)))
    np.testing.assert_allclose(a.pan, b.pan, atol=1e-6)
