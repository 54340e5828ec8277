"""The simulated-data generator: triplet shapes and ranges, its physics, reproducibility, sources."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from pansharpen_cli import priors
from pansharpen_cli.base.errors import OptionError
from pansharpen_cli.physics.degradation import mtf_degrade
from pansharpen_cli.priors.simulate import load_scaled
from tests.priors.conftest import synthetic_images as _images


class _Raw:
    """A duck-typed source (``.name``, ``.load()``) of raw, integer pixels with a nodata stripe."""

    def __init__(self) -> None:
        rng = np.random.default_rng(1)
        self.name = "raw-uint16"
        self.arr = (rng.random((4, 80, 80)) * 3000 + 200).astype(np.uint16)
        self.valid = np.ones((80, 80), bool)
        self.valid[:8] = False

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return self.arr, self.valid


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

    from pansharpen_cli.physics.torch_ops import detail_gains, mtf_degrade_t

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


@pytest.mark.parametrize(
    "bad",
    [
        {"ratios": (1,)},
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


def test_images_smaller_than_the_crop_are_refused() -> None:
    with pytest.raises(OptionError, match="at least 64x64"):
        next(priors.iter_triplets([np.zeros((3, 40, 40), np.float32)], seed=0, crop=64))


# -- sources: objects with .name and .load(), or arrays; never paths ---------------------------------


@pytest.mark.parametrize("spec", ["skimage:camera", "some/image.tif", Path("some/image.tif")])
def test_paths_and_names_are_refused_with_the_way_to_resolve_them(spec) -> None:
    with pytest.raises(OptionError, match=r"priors read no files.*io\.sources\.resolve_sources"):
        priors.TripletSampler([_images()[0], spec])
    with pytest.raises(OptionError, match="resolve_sources"):
        priors.TripletSampler(spec)


def test_other_objects_and_no_sources_are_refused() -> None:
    with pytest.raises(OptionError, match=r"\.name and \.load\(\)"):
        priors.TripletSampler([object()])
    with pytest.raises(OptionError, match="at least one"):
        priors.TripletSampler([])


def test_arrays_are_named_by_position_and_shape() -> None:
    imgs = _images()
    assert priors.TripletSampler(imgs).names == ["array0[3, 96, 96]", "array1[96, 110]"]


def test_raw_sources_are_scaled_here_by_their_percentiles() -> None:
    src = _Raw()
    img, valid = load_scaled(src)
    assert img.shape == (4, 80, 80) and img.dtype == np.float32
    assert img.min() == 0.0 and img.max() == 1.0  # clipped at the 0.5 / 99.5 percentiles
    good = src.arr[:, src.valid].astype(np.float32)
    lo, hi = np.percentile(good.ravel(), priors.SCALE_PERCENTILES)
    np.testing.assert_allclose(
        img[:, 20, 30], np.clip((src.arr[:, 20, 30] - lo) / (hi - lo), 0, 1), rtol=1e-5
    )
    assert valid is not None and not valid[:8].any() and valid[8:].all()
    np.testing.assert_allclose(img[:, 0, 0], np.median(img[:, valid], axis=1), atol=1e-6)  # nodata: medians
    # a duck-typed source feeds the sampler like an array does
    t = priors.TripletSampler([src], priors.SimSettings(crop=32)).sample(np.random.default_rng(0))
    assert t.pan.shape[-1] == t.ms.shape[-1] * t.ratio and np.isfinite(t.pan).all()


def test_badly_shaped_sources_are_clear_errors() -> None:
    class Bad:
        name = "bad"

        def __init__(self, arr, valid=None):
            self.arr, self.valid = arr, valid

        def load(self):
            return self.arr, self.valid

    with pytest.raises(OptionError, match="2-D or \\(bands, rows, cols\\) image for bad"):
        load_scaled(Bad(np.zeros((2, 3, 4, 5))))
    with pytest.raises(OptionError, match="valid mask of shape"):
        load_scaled(Bad(np.zeros((2, 30, 40)), np.ones((30, 41), bool)))
    with pytest.raises(OptionError, match="all nodata"):
        load_scaled(Bad(np.zeros((2, 30, 40)), np.zeros((30, 40), bool)))
