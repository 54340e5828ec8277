"""Batches of triplets, their per-sample normalisation and the scene-statistics jitter."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest
import torch

from pansharpen_cli import priors
from pansharpen_cli.base.errors import OptionError
from tests.priors.conftest import synthetic_images as _images


def test_batched_groups_equal_shapes() -> None:
    it = priors.iter_triplets(_images(), seed=2, crop=24, ratios=(2, 4), bands=(3, 4))
    for b in islice(priors.batched(it, 3), 4):
        n, c, h, w = b.reference.shape
        assert n == 3 and b.pan.shape == (3, 1, h, w) and b.ms.shape == (3, c, h // b.ratio, w // b.ratio)
        assert b.pan.dtype == torch.float32
    with pytest.raises(OptionError, match="batch >= 1"):
        next(priors.batched(it, 0))


def test_normalise_is_per_sample_pan_and_per_band_ms() -> None:
    sampler = priors.TripletSampler(_images(), priors.SimSettings(crop=24))
    b = priors.batch_for_step(sampler, seed=0, step=3, batch=3)
    pan_n, ms_n, ref_n, mean, std = priors.normalise(b)
    assert mean.shape == std.shape == (3, b.ms.shape[1], 1, 1)
    torch.testing.assert_close(pan_n.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ms_n.mean(dim=(2, 3)), torch.zeros(ms_n.shape[:2]), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        ms_n.std(dim=(2, 3), unbiased=False), torch.ones(ms_n.shape[:2]), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(ref_n * std + mean, b.reference, atol=1e-5, rtol=1e-5)


def test_batch_for_step_is_a_function_of_seed_and_step() -> None:
    sampler = priors.TripletSampler(_images(), priors.SimSettings(crop=24))
    a, b = (priors.batch_for_step(sampler, 4, 9, 2) for _ in range(2))
    torch.testing.assert_close(a.reference, b.reference, atol=0, rtol=0)
    c = priors.batch_for_step(sampler, 4, 10, 2)
    assert c.reference.shape != a.reference.shape or not torch.equal(c.reference, a.reference)


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
