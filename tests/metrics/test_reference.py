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
