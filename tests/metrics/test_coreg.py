"""Co-registered full-resolution indexes: a fused image that is the MS-consistent truth moved by a
known sub-pixel amount is judged by the plain indexes as spectrally and spatially distorted; the
co-registered ones measure the shift and remove it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import metrics as M
from pansharpen_cli.physics.degradation import mtf_degrade, upsample
from pansharpen_cli.physics.registration import shift_t
from tests.conftest import smooth_scene
from tests.metrics.scenes import tiles

R = 4
G = [0.3, 0.32, 0.28, 0.25]


def _moved_truth(shift_ms: tuple[float, float], size: int = 256):
    """PAN, MS and a fused image: the truth (whose MTF-degraded version is the MS, and whose PAN is
    the PAN) moved by ``shift_ms`` MS pixels."""
    ref, pan = smooth_scene(4, size, seed=3)
    ms = mtf_degrade(ref, G, R)
    dy, dx = (v * R for v in shift_ms)
    fused = shift_t(torch.from_numpy(ref.astype(np.float64)), dy, dx).numpy()
    return pan, ms, fused


@pytest.mark.parametrize("shift", [(0.3, -0.2), (-0.45, 0.15)])
def test_a_shifted_truth_is_judged_fairly_once_co_registered(shift):
    pan, ms, fused = _moved_truth(shift)
    res = M.coregistered_indexes(pan, ms, fused, R, G)
    # the measured shifts: the fused content relative to the MS (MS px) and to the PAN (PAN px)
    np.testing.assert_allclose(res["shift_ms_pixels"], shift, atol=0.05)
    np.testing.assert_allclose(res["shift_pan_pixels"], [v * R for v in shift], atol=0.1)
    # the plain indexes blame the shift; the co-registered ones see the truth
    assert res["D_lambda_K_coreg"] < 0.02 and 3 * res["D_lambda_K_coreg"] < res["D_lambda_K"]
    assert res["R_Q2n_coreg"] > 0.98 > res["R_Q2n"]
    assert res["D_rho_coreg"] < 0.05 < 0.5 < res["D_rho"]
    # the plain ones are those of full_resolution_indexes
    plain = M.full_resolution_indexes(pan, ms, fused, R, G)
    assert {k: res[k] for k in M.FULL_RESOLUTION_KEYS} == plain
    assert tuple(res) == M.FULL_RESOLUTION_KEYS + M.COREG_KEYS


def test_an_unshifted_fusion_has_no_shift_and_equal_plain_and_co_registered_indexes():
    pan, ms, fused = _moved_truth((0.0, 0.0))
    res = M.coregistered_indexes(pan, ms, fused, R, G)
    np.testing.assert_allclose(res["shift_ms_pixels"], [0, 0], atol=0.02)
    np.testing.assert_allclose(res["shift_pan_pixels"], [0, 0], atol=0.05)
    for key in ("D_lambda_K", "R_Q2n", "D_rho"):
        assert res[f"{key}_coreg"] == pytest.approx(res[key], abs=1e-3)
    # an exactly zero shift leaves the values exactly as they are
    acc = M.CoregisteredAccumulator(R, G, fused.shape[1:], M.Coregistration())
    acc.update(pan, upsample(ms, R), fused, ms)
    exact = acc.result()
    assert [exact[f"{k}_coreg"] for k in ("D_lambda_K", "R_Q2n", "D_rho")] == [
        exact[k] for k in ("D_lambda_K", "R_Q2n", "D_rho")
    ]


def test_streamed_co_registered_indexes_match_the_whole_image():
    pan, ms, fused = _moved_truth((0.3, -0.2), size=192)
    ms_up = upsample(ms, R)
    coreg = M.estimate_coregistration(pan, ms, fused, R, G)
    whole = M.CoregisteredAccumulator(R, G, fused.shape[1:], coreg)
    whole.update(pan, ms_up, fused, ms)
    acc = M.CoregisteredAccumulator(R, G, fused.shape[1:], coreg)
    assert acc.halo >= coreg.halo(R) > M.FullResolutionAccumulator(R, G, fused.shape[1:]).halo - R
    for origin, sl, core in tiles(fused.shape[1:], [64, 128], [96], acc.halo):
        rows, cols = sl[1], sl[2]
        ms_sl = (slice(None), slice(rows.start // R, rows.stop // R), slice(cols.start // R, cols.stop // R))
        acc.update(pan[sl], ms_up[sl], fused[sl], ms[ms_sl], origin=origin, core=core)
    a, b = acc.result(), whole.result()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)
