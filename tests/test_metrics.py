"""Tests of the quality indexes (DESIGN.md section 5) on small synthetic smooth random fields."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from pansharpen_cli import metrics as M
from pansharpen_cli.degradation import mtf_degrade, upsample


def smooth(shape: tuple[int, ...], sigma: float = 2.0, seed: int = 0) -> np.ndarray:
    """Gaussian-filtered white noise, unit standard deviation, filtered along the last two axes."""
    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.standard_normal(shape), [0] * (len(shape) - 2) + [sigma, sigma])
    return f / f.std()


def scene(bands: int = 4, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(reference, fused) pair of positive images, fused = reference + smaller smooth error."""
    ref = 400.0 + 80.0 * smooth((bands, size, size), 2.0, seed)
    fused = ref + 15.0 * smooth((bands, size, size), 1.0, seed + 100) + 4.0
    return ref, fused


# ------------------------------------------------------------------------------ explicit algebra
def hamilton(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton quaternion product, components (1, i, j, k) on the first axis, written out."""
    a1, b1, c1, d1 = p
    a2, b2, c2, d2 = q
    return np.stack(
        [
            a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
            a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
            a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
            a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
        ]
    )


def qconj(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[:1], -q[1:]])


def octonion(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Octonion product as pairs of quaternions: (p, q)(r, s) = (p r - s* q, s p + q r*)."""
    p, q, r, s = x[:4], x[4:], y[:4], y[4:]
    return np.concatenate([hamilton(p, r) - hamilton(qconj(s), q), hamilton(s, p) + hamilton(q, qconj(r))])


def hypercomplex_q_block(ref: np.ndarray, fused: np.ndarray, mult) -> float:
    """Q2n of one block straight from the definition, with the given product (4 or 8 components)."""
    n_comp = 4 if mult is hamilton else 8
    bands = ref.shape[0]
    n = ref[0].size
    m = ref.reshape(bands, -1).mean(1)[:, None, None]
    s = ref.reshape(bands, -1).std(1, ddof=1)[:, None, None]
    x = np.ones((n_comp,) + ref.shape[1:])
    y = np.ones((n_comp,) + ref.shape[1:])
    x[:bands] = (ref - m) / s + 1.0
    y[:bands] = (fused - m) / s + 1.0
    yc = np.concatenate([y[:1], -y[1:]])
    mx, myc = x.mean((1, 2)), yc.mean((1, 2))
    cov = n / (n - 1) * (mult(x, yc).mean((1, 2)) - mult(mx, myc))
    var_x = n / (n - 1) * ((x**2).sum(0).mean() - (mx**2).sum())
    var_y = n / (n - 1) * ((y**2).sum(0).mean() - (myc**2).sum())
    mod_mx, mod_my = np.linalg.norm(mx), np.linalg.norm(myc)
    return float(2 * np.linalg.norm(cov) / (var_x + var_y) * 2 * mod_mx * mod_my / (mod_mx**2 + mod_my**2))


@pytest.mark.parametrize(("bands", "mult"), [(4, hamilton), (3, hamilton), (8, octonion), (6, octonion)])
def test_q2n_matches_explicit_quaternion_and_octonion_arithmetic(bands, mult):
    ref = 300.0 + 50.0 * smooth((bands, 32, 32), 2.0, 7) + np.arange(bands)[:, None, None] * 20
    rng = np.random.default_rng(8)
    fused = ref * rng.uniform(0.8, 1.2, (bands, 1, 1)) + 20.0 * smooth((bands, 32, 32), 1.0, 9)
    expected = hypercomplex_q_block(ref, fused, mult)
    assert 0.1 < expected < 0.99
    assert M.q2n(ref, fused) == pytest.approx(expected, abs=1e-10)


def test_q2n_is_the_mean_over_mirrored_blocks():
    ref, fused = scene(4, 64, seed=3)
    blocks = [
        hypercomplex_q_block(ref[:, i : i + 32, j : j + 32], fused[:, i : i + 32, j : j + 32], hamilton)
        for i in (0, 32)
        for j in (0, 32)
    ]
    assert M.q2n(ref, fused) == pytest.approx(np.mean(blocks), abs=1e-10)
    # 40 rows: the second block row is rows 32..39 mirrored (39, 38, ...) up to 64 rows.
    r40, f40 = ref[:, :40], fused[:, :40]
    rp = np.pad(r40, ((0, 0), (0, 24), (0, 0)), mode="symmetric")
    fp = np.pad(f40, ((0, 0), (0, 24), (0, 0)), mode="symmetric")
    assert M.q2n(r40, f40) == pytest.approx(M.q2n(rp, fp), abs=1e-12)


# ------------------------------------------------------------------------------ reference indexes
def test_identical_images_give_ideal_values():
    ref, _ = scene(4, 64)
    d = M.reference_indexes(ref, ref.copy(), 4)
    assert set(d) == {"Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR"}
    assert all(type(v) is float for v in d.values())
    assert d["Q2n"] == pytest.approx(1.0, abs=1e-12)
    assert d["Q"] == pytest.approx(1.0, abs=1e-12)
    assert d["SAM"] == 0.0
    assert d["ERGAS"] == 0.0
    assert d["SCC"] == pytest.approx(1.0, abs=1e-12)
    assert d["PSNR"] == math.inf
    assert M.psnr(ref, ref) == math.inf


def test_common_positive_gain_leaves_sam_zero_and_q2n_invariant():
    ref, fused = scene(4, 64, seed=1)
    assert M.sam(ref, 1.7 * ref) == pytest.approx(0.0, abs=1e-6)
    assert M.q2n(2.5 * ref, 2.5 * fused) == pytest.approx(M.q2n(ref, fused), abs=1e-12)
    assert M.q2n(ref, fused) < 1.0


@pytest.mark.parametrize(("gain", "offset"), [(1.3, 0.0), (0.7, 25.0), (1.0, -60.0)])
def test_gain_and_offset_lower_q_as_the_formula_says(gain, offset):
    # One 32x32 window (and block): y = a x + b gives Q = 2a/(1+a^2) * 2 mx my/(mx^2+my^2).
    x = 200.0 + 30.0 * smooth((1, 32, 32), 2.0, 5)
    y = gain * x + offset
    mx, my = x.mean(), y.mean()
    expected = 2 * gain / (1 + gain**2) * 2 * mx * my / (mx**2 + my**2)
    assert expected < 1.0
    assert M.q_index(x, y) == pytest.approx(expected, abs=1e-10)
    assert M.q_blocks(x[0], y[0]) == pytest.approx(expected, abs=1e-10)


def test_q_is_the_mean_over_sliding_windows():
    ref, fused = scene(2, 40, seed=4)
    vals = []
    for b in range(2):
        per_band = []
        for i in range(9):
            for j in range(9):
                x = ref[b, i : i + 32, j : j + 32].ravel()
                y = fused[b, i : i + 32, j : j + 32].ravel()
                c = np.cov(x, y)
                per_band.append(
                    4
                    * c[0, 1]
                    * x.mean()
                    * y.mean()
                    / ((c[0, 0] + c[1, 1]) * (x.mean() ** 2 + y.mean() ** 2))
                )
        vals.append(np.mean(per_band))
    assert M.q_index(ref, fused) == pytest.approx(np.mean(vals), abs=1e-10)


def test_band_permutation_lowers_q2n_and_raises_sam():
    ref, fused = scene(4, 64, seed=2)
    perm = fused[[2, 0, 3, 1]]
    assert M.q2n(ref, perm) < M.q2n(ref, fused) - 0.2
    assert M.sam(ref, perm) > M.sam(ref, fused) + 1.0


def test_shift_lowers_q2n_and_scc_monotonically():
    field = 400.0 + 100.0 * smooth((4, 140, 140), 1.5, 11)
    ref = field[:, 6:134, 6:134]
    q, s = [], []
    for shift in range(4):
        moved = field[:, 6 + shift : 134 + shift, 6:134]
        q.append(M.q2n(ref, moved))
        s.append(M.scc(ref, moved))
    assert q[0] == pytest.approx(1.0) and s[0] == pytest.approx(1.0)
    assert all(np.diff(q) < 0) and all(np.diff(s) < 0)


def test_ergas_of_a_constant_relative_error():
    ref, _ = scene(4, 48, seed=6)
    e = 0.03
    fused = ref + e * ref.mean(axis=(1, 2), keepdims=True)  # RMSE_b = e * mean_b on every band
    assert M.ergas(ref, fused, 4) == pytest.approx(100 / 4 * e, rel=1e-10)


def test_psnr_of_a_constant_error():
    ref, _ = scene(3, 40, seed=6)
    rng = float(ref.max() - ref.min())
    assert M.psnr(ref, ref + 2.0) == pytest.approx(10 * math.log10(rng**2 / 4.0), rel=1e-12)
    assert M.psnr(ref, ref + 2.0, data_range=255) == pytest.approx(10 * math.log10(255**2 / 4.0), rel=1e-12)


def test_scc_matches_scipy_sobel_on_the_cropped_image():
    ref, fused = scene(3, 40, seed=12)

    def mag(img):
        out = []
        for band in img[:, 1:-1, 1:-1]:  # 2-D per band: ndimage.sobel smooths along every other axis
            out.append(
                np.hypot(ndimage.sobel(band, 0, mode="constant"), ndimage.sobel(band, 1, mode="constant"))
            )
        return np.stack(out)

    a, b = mag(fused), mag(ref)
    expected = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    assert M.scc(ref, fused) == pytest.approx(expected, abs=1e-12)


def test_sam_skips_zero_vectors_and_constant_blocks_stay_finite():
    ref, fused = scene(3, 32, seed=13)
    ref[:, :4, :4] = 0.0
    fused[:, :4, :4] = 0.0
    valid = M.sam(ref[:, 4:, 4:], fused[:, 4:, 4:])
    assert math.isfinite(M.sam(ref, fused))
    ref[1] = 250.0  # a constant reference band: Q2n's normalisation only shifts it
    assert 0.0 < M.q2n(ref, fused) < 1.0
    assert valid > 0


# ---------------------------------------------------------------------------- full resolution
RATIO = 4
GAINS = [0.3, 0.32, 0.28, 0.25]


def fr_scene(size: int = 128, seed: int = 0):
    ref = 400.0 + 80.0 * smooth((4, size, size), 2.0, seed)
    pan = ref.mean(0, keepdims=True) + 3.0 * smooth((1, size, size), 0.7, seed + 1)
    ms = mtf_degrade(ref, GAINS, RATIO)
    ms_up = upsample(ms, RATIO)
    fused = ref + 10.0 * smooth((4, size, size), 1.0, seed + 2)
    return pan, ms, ms_up, fused


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
def tiles(shape, row_cuts, col_cuts, halo):
    """(origin, window slices, core) for a grid of cores with a halo clipped at the image border."""
    hh, ww = shape
    rb, cb = [0, *row_cuts, hh], [0, *col_cuts, ww]
    for i in range(len(rb) - 1):
        for j in range(len(cb) - 1):
            core = (rb[i], cb[j], rb[i + 1] - rb[i], cb[j + 1] - cb[j])
            r0, r1 = max(core[0] - halo, 0), min(core[0] + core[2] + halo, hh)
            c0, c1 = max(core[1] - halo, 0), min(core[1] + core[3] + halo, ww)
            yield (r0, c0), (slice(None), slice(r0, r1), slice(c0, c1)), core


@pytest.mark.parametrize(
    ("shape", "row_cuts", "col_cuts"),
    [((64, 96), [32], [64]), ((70, 90), [36], [40]), ((70, 90), [64], [8, 88])],
)
def test_reference_accumulator_equals_the_whole_image(shape, row_cuts, col_cuts):
    # Aligned 2x2 tiles, unaligned tiles with a mirrored partial last block, and a last tile
    # thinner than the mirrored band (whose copies come from the previous tile).
    ref = 400.0 + 80.0 * smooth((3, *shape), 2.0, 21)
    fused = ref + 12.0 * smooth((3, *shape), 1.0, 22) - 3.0
    whole = M.reference_indexes(ref, fused, RATIO)
    single = {
        "Q2n": M.q2n(ref, fused),
        "Q": M.q_index(ref, fused),
        "SAM": M.sam(ref, fused),
        "ERGAS": M.ergas(ref, fused, RATIO),
        "SCC": M.scc(ref, fused),
        "PSNR": M.psnr(ref, fused),
    }
    acc = M.ReferenceAccumulator(RATIO, shape)
    for origin, win, core in tiles(shape, row_cuts, col_cuts, acc.halo):
        acc.update(ref[win], fused[win], origin, core)
    tiled = acc.result()
    assert list(tiled) == list(whole)
    for k in whole:
        assert whole[k] == pytest.approx(single[k], abs=1e-9), k
        assert tiled[k] == pytest.approx(whole[k], abs=1e-9), k


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


def test_accumulators_reject_missing_tiles_and_short_halos():
    ref, fused = scene(2, 64)
    acc = M.ReferenceAccumulator(RATIO, (64, 64))
    acc.update(ref[:, :63], fused[:, :63], (0, 0), (0, 0, 32, 64))
    with pytest.raises(ValueError, match="covering"):
        acc.result()
    with pytest.raises(ValueError, match="halo"):
        acc.update(ref[:, 32:], fused[:, 32:], (32, 0), (32, 0, 32, 64))  # no top row for SCC
    fr = M.FullResolutionAccumulator(RATIO, GAINS, (64, 64))
    pan, ms, ms_up, fused4 = fr_scene(64)
    with pytest.raises(ValueError, match="halo"):
        fr.update(pan[:, :32], ms_up[:, :32], fused4[:, :32], ms[:, :8], (0, 0), (0, 0, 32, 64))
