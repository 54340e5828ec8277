"""Full-resolution indexes (DESIGN.md section 5) on small synthetic smooth random fields, whole-image
and streamed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pansharpen_cli import metrics as M
from tests.metrics.scenes import GAINS, RATIO, fr_scene, smooth, tiles


def test_d_lambda_is_zero_for_the_upsampled_ms():
    _, _, ms_up, fused = fr_scene(64)
    assert M.d_lambda(ms_up, ms_up.copy()) == 0.0
    assert M.d_lambda(ms_up, fused) > 0.0


def test_d_s_is_zero_when_bands_are_the_pan_and_its_low_pass():
    pan, _, _, _ = fr_scene(64)
    pan_l = M.pan_lowpass(pan, RATIO)
    fused = np.repeat(pan, 3, axis=0)
    ms_up = np.repeat(pan_l, 3, axis=0)
    assert M.d_s(pan, ms_up, fused, RATIO) == pytest.approx(0.0, abs=1e-12)


def test_pan_lowpass_keeps_a_ramp_and_blurs_detail():
    ramp = np.tile(np.arange(96, dtype=float), (96, 1))[None] * 3.0 + 10.0
    low = M.pan_lowpass(ramp, RATIO)
    np.testing.assert_allclose(low[0, 20:76, 20:76], ramp[0, 20:76, 20:76], atol=1e-3)
    noise = np.random.default_rng(0).standard_normal((1, 96, 96))
    assert M.pan_lowpass(noise, RATIO).std() < 0.5 * noise.std()


def test_d_rho_is_zero_for_bands_proportional_to_pan_and_large_for_noise():
    pan = 200.0 + 50.0 * smooth((1, 96, 96), 2.0, 3)
    gains = np.array([0.5, 1.0, 2.0])[:, None, None]
    assert M.d_rho(pan, gains * pan, RATIO) == pytest.approx(0.0, abs=1e-9)
    affine = M.d_rho(pan, gains * pan + 30.0, RATIO)  # offsets only matter at the zero-padded border
    assert 0.0 < affine < 0.05
    noise = 200.0 + np.random.default_rng(4).normal(0, 10, (3, 96, 96))
    assert M.d_rho(pan, noise, RATIO) > 0.5


def test_full_resolution_aggregate_matches_the_single_functions():
    pan, ms, ms_up, fused = fr_scene(96, seed=5)
    d = M.full_resolution_indexes(pan, ms, fused, RATIO, GAINS)
    assert list(d) == ["D_lambda", "D_s", "QNR", "D_lambda_K", "HQNR", "D_rho", "R_Q2n"]
    assert all(type(v) is float for v in d.values())
    expected = {
        "D_lambda": M.d_lambda(ms_up, fused),
        "D_s": M.d_s(pan, ms_up, fused, RATIO),
        "QNR": M.qnr(pan, ms_up, fused, RATIO),
        "D_lambda_K": M.d_lambda_k(ms_up, fused, GAINS, RATIO),
        "HQNR": M.hqnr(pan, ms_up, fused, GAINS, RATIO),
        "D_rho": M.d_rho(pan, fused, RATIO),
        "R_Q2n": M.r_q2n(ms, fused, GAINS, RATIO),
    }
    for k, v in expected.items():
        assert d[k] == pytest.approx(v, abs=1e-10), k
    assert d["QNR"] == pytest.approx((1 - d["D_lambda"]) * (1 - d["D_s"]))
    assert d["HQNR"] == pytest.approx((1 - d["D_lambda_K"]) * (1 - d["D_s"]))
    assert 0.8 < d["HQNR"] < 1.0 and 0.9 < d["R_Q2n"] < 1.0


# ---------------------------------------------------------------------------------- streaming
@pytest.mark.parametrize(
    ("size", "row_cuts", "col_cuts"), [((128, 128), [64], [64]), ((96, 136), [40], [68])]
)
def test_full_resolution_accumulator_equals_the_whole_image(size, row_cuts, col_cuts):
    pan, ms, ms_up, fused = fr_scene(max(size), seed=9)
    pan, ms_up, fused = (
        pan[:, : size[0], : size[1]],
        ms_up[:, : size[0], : size[1]],
        fused[:, : size[0], : size[1]],
    )
    ms = ms[:, : size[0] // RATIO, : size[1] // RATIO]
    whole = M.full_resolution_indexes(pan, ms, fused, RATIO, GAINS, ms_up=ms_up)
    acc = M.FullResolutionAccumulator(RATIO, GAINS, size)
    for origin, win, core in tiles(size, row_cuts, col_cuts, acc.halo):
        ms_win = (
            slice(None),
            slice(win[1].start // RATIO, win[1].stop // RATIO),
            slice(win[2].start // RATIO, win[2].stop // RATIO),
        )
        acc.update(pan[win], ms_up[win], fused[win], ms[ms_win], origin, core)
    tiled = acc.result()
    for k in whole:
        assert tiled[k] == pytest.approx(whole[k], abs=1e-9), k


def test_full_resolution_accumulator_rejects_short_halos():
    fr = M.FullResolutionAccumulator(RATIO, GAINS, (64, 64))
    pan, ms, ms_up, fused4 = fr_scene(64)
    with pytest.raises(ValueError, match="halo"):
        fr.update(pan[:, :32], ms_up[:, :32], fused4[:, :32], ms[:, :8], (0, 0), (0, 0, 32, 64))


# ---------------------------------------------------------------------------------- masked (nodata)
def _fr_masked(pan, ms, ms_up, fused, valid, cuts=((), ()), coreg=None):
    shape = fused.shape[1:]
    acc = (
        M.FullResolutionAccumulator(RATIO, GAINS, shape, masked=True)
        if coreg is None
        else M.CoregisteredAccumulator(RATIO, GAINS, shape, coreg, masked=True)
    )
    for origin, win, core in tiles(shape, cuts[0], cuts[1], acc.halo):
        ms_win = (slice(None), slice(win[1].start // RATIO, win[1].stop // RATIO),
                  slice(win[2].start // RATIO, win[2].stop // RATIO))
        acc.update(pan[win], ms_up[win], fused[win], ms[ms_win], origin, core, valid=valid[win[1:]])
    return acc.result()


def test_masked_full_resolution_with_every_pixel_valid_equals_the_plain_indexes():
    pan, ms, ms_up, fused = fr_scene(128, seed=11)
    plain = M.full_resolution_indexes(pan, ms, fused, RATIO, GAINS, ms_up=ms_up)
    got = _fr_masked(pan, ms, ms_up, fused, np.ones((128, 128), bool), ((64,), (64,)))
    for k in plain:
        assert got[k] == pytest.approx(plain[k], abs=1e-12), k


def test_masked_full_resolution_never_reads_nodata_and_streams_like_the_whole_image():
    """Junk where nodata is (as a fill would put there) changes no index; tiles give the whole
    image's figures; the unmasked indexes of the same junk differ."""
    pan, ms, ms_up, fused = fr_scene(256, seed=12)
    valid = np.ones((256, 256), bool)
    valid[:, 220:] = False  # a nodata collar on the right, as a delivery's
    valid[200:210, 10:40] = False  # and a hole (R_Q2n's MS block (0, 0) stays clean)
    jp, jm, jf = pan.copy(), ms_up.copy(), fused.copy()
    jp[:, ~valid], jm[:, ~valid], jf[:, ~valid] = 0.0, 7000.0, 1e4
    coarse = ~valid[::RATIO, ::RATIO]
    jms = ms.copy()
    jms[:, coarse] = -50.0
    clean = _fr_masked(pan, ms, ms_up, fused, valid)
    junk = _fr_masked(jp, jms, jm, jf, valid)
    tiled = _fr_masked(jp, jms, jm, jf, valid, ((64, 128), (96,)))
    assert all(math.isfinite(v) for v in clean.values())
    plain = M.full_resolution_indexes(jp, jms, jf, RATIO, GAINS, ms_up=jm)
    for k in clean:
        assert junk[k] == pytest.approx(clean[k], abs=1e-9), k
        assert tiled[k] == pytest.approx(junk[k], abs=1e-9), k
    assert abs(plain["D_lambda_K"] - junk["D_lambda_K"]) > 0.01 and abs(plain["D_rho"] - junk["D_rho"]) > 0.01
    # co-registered indexes too: a moved fusion, its nodata moved with it, junk there read by no index
    coreg = M.Coregistration(ms=(0.2, -0.1), pan=(0.5, 0.3))
    a = _fr_masked(pan, ms, ms_up, fused, valid, coreg=coreg)
    b = _fr_masked(jp, jms, jm, jf, valid, ((96,), (64,)), coreg=coreg)
    for k in ("D_lambda_K_coreg", "R_Q2n_coreg", "D_rho_coreg"):
        assert b[k] == pytest.approx(a[k], abs=1e-9), k


def test_masked_full_resolution_with_no_clean_block_gives_nan():
    pan, ms, ms_up, fused = fr_scene(64, seed=13)
    valid = np.ones((64, 64), bool)
    valid[32, 32] = False  # eroded by the halo, it leaves no whole clean 32x32 block
    got = _fr_masked(pan, ms, ms_up, fused, valid)
    assert math.isnan(got["D_lambda_K"]) and math.isnan(got["R_Q2n"]) and math.isfinite(got["D_rho"])
