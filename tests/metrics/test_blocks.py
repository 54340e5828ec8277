"""Distinct-block indexes: Q2n against explicit quaternion/octonion arithmetic, the mirrored blocks,
and the UIQI formula of the block and sliding Q."""

from __future__ import annotations

import numpy as np
import pytest

from pansharpen_cli import metrics as M
from tests.metrics.scenes import scene, smooth


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
