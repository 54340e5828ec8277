"""The full-resolution bench's reduced-resolution reading of D_rho (what the truth itself scores)."""

from __future__ import annotations

import numpy as np

from bench.fullres import truth_d_rho
from pansharpen_cli.base.sensors import resolve_gains
from pansharpen_cli.physics.degradation import mtf_degrade


def scene(predictable: bool, side: int = 256, r: int = 4):
    """A PAN of random texture and a 3-band MS: the PAN degraded to the MS grid (its detail follows
    the PAN) or, for ``predictable`` False, independent texture with the same statistics."""
    rng = np.random.default_rng(0)
    pan = rng.normal(100, 20, (1, side, side)).astype(np.float32)
    rad = resolve_gains("generic", None, 3)
    low = mtf_degrade(pan, [rad.pan_gain], r)[0]
    other = rng.normal(100, 20, (side // r, side // r)).astype(np.float32)
    ms = np.stack([low if predictable else other] * 3).astype(np.float32)
    return pan, ms, r, rad


def test_truth_d_rho_tells_a_predictable_scene_from_an_unpredictable_one():
    tight = truth_d_rho(*scene(True), None)
    loose = truth_d_rho(*scene(False), None)
    assert set(tight) == {"reference", "mtf-glp-hpm"}
    # a band that is the PAN degraded keeps the PAN's local structure; independent texture does not
    assert tight["reference"] < 0.5 < loose["reference"]
    # HPM puts the PAN's detail into every band whatever the truth: low either way
    assert loose["mtf-glp-hpm"] < 0.5 * loose["reference"]


def test_truth_d_rho_uses_the_given_bands_and_skips_small_scenes():
    pan, ms, r, rad = scene(False)
    ms[1] = mtf_degrade(pan, [rad.pan_gain], r)[0]  # only band 1 follows the PAN
    one = truth_d_rho(pan, ms, r, rad, [1])
    rest = truth_d_rho(pan, ms, r, rad, [0, 2])
    assert one["reference"] < rest["reference"]
    assert truth_d_rho(pan[:, :128, :128], ms[:, :32, :32], r, rad, None) is None


def test_band_d_rho_with_nodata_matches_the_masked_co_registered_d_rho():
    """The bench's per-band D_rho judges the pixels `evaluate` judges: their mean is the masked
    co-registered D_rho, and junk under the nodata changes neither."""
    from bench.fullres import band_d_rho
    from pansharpen_cli.metrics.coreg import coregistered_indexes
    from pansharpen_cli.physics.degradation import upsample

    pan, ms, r, rad = scene(True)
    fused = upsample(ms, r) + 0.3 * (pan - pan.mean())
    valid = np.ones(pan.shape[1:], bool)
    valid[:, 200:] = False
    idx = coregistered_indexes(pan, ms, fused, r, rad.ms_gains, valid=valid)
    per_band = band_d_rho(pan, fused, r, idx, rad.ms_gains, valid)
    assert abs(np.mean(per_band) - idx["D_rho_coreg"]) < 1e-5
    junk = fused.copy()
    junk[:, :, 200:] = 5000.0
    idx_j = coregistered_indexes(pan, ms, junk, r, rad.ms_gains, valid=valid)
    assert idx_j["D_rho_coreg"] == idx["D_rho_coreg"] and idx_j["D_lambda_K"] == idx["D_lambda_K"]
    assert band_d_rho(pan, junk, r, idx_j, rad.ms_gains, valid) == per_band
    plain = coregistered_indexes(pan, ms, junk, r, rad.ms_gains)
    assert abs(plain["D_rho_coreg"] - idx["D_rho_coreg"]) > 0.01
