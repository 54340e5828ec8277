"""Reduced-resolution indexes (DESIGN.md section 5) on small synthetic smooth random fields, whole-image
and streamed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from pansharpen_cli import metrics as M
from tests.metrics.scenes import RATIO, scene, smooth, tiles


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


# ---------------------------------------------------------------------------------- streaming
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


def test_reference_accumulator_rejects_missing_tiles_and_short_halos():
    ref, fused = scene(2, 64)
    acc = M.ReferenceAccumulator(RATIO, (64, 64))
    acc.update(ref[:, :63], fused[:, :63], (0, 0), (0, 0, 32, 64))
    with pytest.raises(ValueError, match="covering"):
        acc.result()
    with pytest.raises(ValueError, match="halo"):
        acc.update(ref[:, 32:], fused[:, 32:], (32, 0), (32, 0, 32, 64))  # no top row for SCC


# ------------------------------------------------------------------------------ masked (nodata)
def _masked(ref, fused, valid, cuts=((), ())):
    acc = M.ReferenceAccumulator(RATIO, ref.shape[1:], masked=True)
    for origin, win, core in tiles(ref.shape[1:], cuts[0], cuts[1], acc.halo):
        acc.update(ref[win], fused[win], origin, core, valid=valid[win[1:]])
    return acc.result()


def test_masked_accumulator_with_every_pixel_valid_equals_the_plain_indexes():
    ref, fused = scene(4, 96, seed=3)
    plain = M.reference_indexes(ref, fused, RATIO)
    masked = _masked(ref, fused, np.ones(ref.shape[1:], bool), ((40,), (50,)))
    for k in plain:
        assert masked[k] == pytest.approx(plain[k], rel=1e-12, abs=1e-12), k


def test_masked_accumulator_judges_only_the_valid_pixels_blocks_and_windows():
    ref, fused = scene(4, 96, seed=4)
    valid = np.ones((96, 96), bool)
    valid[10:20, 70:90] = False  # nodata inside block (0, 2) only
    valid[:, 95] = False  # and the last column: every block of column 2 holds nodata
    junk_ref, junk_fused = ref.copy(), fused.copy()
    junk_ref[:, ~valid], junk_fused[:, ~valid] = 0.0, 1e6  # what nodata reads as: never judged
    got = _masked(junk_ref, junk_fused, valid, ((33,), (47,)))
    # Q2n: the mean of the whole valid 32x32 blocks of the grid, each scored on its own
    blocks = [(i, j) for i in (0, 32, 64) for j in (0, 32, 64) if valid[i : i + 32, j : j + 32].all()]
    assert len(blocks) == 6  # columns 0 and 1
    cut = [(ref[:, i : i + 32, j : j + 32], fused[:, i : i + 32, j : j + 32]) for i, j in blocks]
    want_q2n = np.mean([M.q2n(a, b) for a, b in cut])
    assert got["Q2n"] == pytest.approx(want_q2n, abs=1e-12)
    # SAM, ERGAS, PSNR: over the valid pixels
    r1, f1 = ref[:, valid][:, None], fused[:, valid][:, None]
    assert got["SAM"] == pytest.approx(M.sam(r1, f1), rel=1e-12)
    assert got["ERGAS"] == pytest.approx(M.ergas(r1, f1, RATIO), rel=1e-12)
    assert got["PSNR"] == pytest.approx(M.psnr(r1, f1), rel=1e-12)
    # Q: the mean over the sliding windows wholly valid, whatever the junk
    other = _masked(ref, fused, valid)
    # (1e-9: the running sums of the sliding Q lose a little to the junk values)
    assert got["Q"] == pytest.approx(other["Q"], abs=1e-9)
    assert got["SCC"] == pytest.approx(other["SCC"], abs=1e-12)
    plain = M.reference_indexes(ref, fused, RATIO)
    assert got["Q"] != pytest.approx(plain["Q"], abs=1e-9)  # fewer windows: another mean


def test_masked_accumulator_without_a_whole_valid_block_gives_nan_q2n_and_q():
    ref, fused = scene(3, 64, seed=5)
    valid = np.ones((64, 64), bool)
    valid[::16, ::16] = False  # one nodata pixel in every 32x32 block and window
    got = _masked(ref, fused, valid)
    assert math.isnan(got["Q2n"]) and math.isnan(got["Q"])
    assert math.isfinite(got["SAM"]) and math.isfinite(got["ERGAS"])
    with pytest.raises(ValueError, match="masked=False"):
        M.ReferenceAccumulator(RATIO, (64, 64)).update(ref, fused, valid=valid)


def test_masked_q_and_scc_match_a_direct_computation_over_the_valid_windows_and_pixels():
    ref, fused = scene(2, 64, seed=6)
    valid = np.ones((64, 64), bool)
    valid[40:44, 5:9] = False
    got = _masked(ref, fused, valid, ((30,), (20,)))
    n, qs = 32 * 32, []
    for b in range(2):
        for i in range(33):
            for j in range(33):
                if valid[i : i + 32, j : j + 32].all():
                    x, y = ref[b, i : i + 32, j : j + 32], fused[b, i : i + 32, j : j + 32]
                    c = np.cov(x.ravel(), y.ravel())  # (n - 1) normalised, as the index
                    mx, my = x.mean(), y.mean()
                    qs.append(4 * c[0, 1] * mx * my / ((c[0, 0] + c[1, 1]) * (mx * mx + my * my)))
    assert len(qs) == 2 * (33 * 33 - 24 * 9)  # the windows over rows 40-43 start at rows 9-32, cols 0-8
    assert got["Q"] == pytest.approx(np.mean(qs), abs=1e-10)
    sx = np.array([[1.0], [2.0], [1.0]]) @ np.array([[1.0, 0.0, -1.0]])  # Sobel
    # the index's SCC: the image cropped by 1 pixel, Sobel with zero padding (DESIGN.md section 5)
    def sobel(band):
        return np.hypot(*(ndimage.convolve(band[1:-1, 1:-1], k, mode="constant") for k in (sx, sx.T)))

    mag = [np.stack([sobel(band) for band in im]) for im in (ref, fused)]
    keep = ndimage.minimum_filter(valid, 3, mode="nearest")[1:-1, 1:-1]  # 3x3 neighbourhood valid
    a, f = mag[0][:, keep], mag[1][:, keep]
    assert got["SCC"] == pytest.approx((a * f).sum() / np.sqrt((a * a).sum() * (f * f).sum()), abs=1e-12)
