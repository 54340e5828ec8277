"""The quality bench's Q2n on valid blocks (scenes with nodata) and its table."""

from __future__ import annotations

import numpy as np
import pytest

from bench.quality import pixel_indexes_valid, q2n_valid
from bench.quality_tables import valid_pixel_table, valid_table
from pansharpen_cli.metrics.reference import ergas, q2n, sam


def test_q2n_valid_judges_only_whole_valid_blocks():
    rng = np.random.default_rng(0)
    ref = rng.normal(100, 10, (4, 64, 96)).astype(np.float32)
    fused = ref.copy()
    fused[:, 40:, :] = 7.0  # garbage where the data is invalid (rows 40 on: blocks of row 32 and below)
    valid = np.ones((64, 96), bool)
    valid[40:, :] = False
    assert q2n_valid(ref, fused, valid) == pytest.approx(1.0)  # the three top blocks are exact
    assert q2n(ref, fused) < 0.9  # the plain index counts the garbage
    noisy = ref + rng.normal(0, 5, ref.shape).astype(np.float32)
    top = q2n_valid(ref, noisy, valid)
    assert top == pytest.approx(q2n(ref[:, :32], noisy[:, :32]), abs=1e-6)  # the same blocks as Q2n's
    assert q2n_valid(ref, fused, np.zeros((64, 96), bool)) is None


def test_valid_table_lists_the_scenes_with_nodata_and_their_share():
    rr_valid = {"exp": {"Q2n": 0.5, "Q2n_valid": 0.8}, "mtf-glp-hpm": {"Q2n": 0.6, "Q2n_valid": 0.9},
                "zs": {"Q2n": 0.55, "Q2n_valid": 0.95}}
    rr_full = {"exp": {"Q2n": 0.8}, "mtf-glp-hpm": {"Q2n": 0.9}, "zs": {"Q2n": 0.95}}
    lines = valid_table({"gappy": {"rr": rr_valid}, "whole": {"rr": rr_full}})
    rows = [ln for ln in lines if ln.startswith("| gappy") or ln.startswith("| whole")]
    assert rows == ["| gappy | 0.8000 | 0.9000 | 0.9500 / 50.0% |"]
    assert valid_table({"whole": {"rr": rr_full}}) == []


def test_ergas_and_sam_over_the_valid_pixels_ignore_the_rest_and_are_tabled():
    rng = np.random.default_rng(1)
    ref = rng.normal(100, 10, (3, 20, 20)).astype(np.float32)
    fused = ref + rng.normal(0, 2, ref.shape).astype(np.float32)
    valid = np.ones((20, 20), bool)
    valid[:, ::3] = False  # stripes: no whole block, the pixels still count
    garbage = fused.copy()
    garbage[:, ~valid] = 0.0
    got = pixel_indexes_valid(ref, garbage, valid, 4)
    a, b = ref[:, valid][:, None, :], fused[:, valid][:, None, :]
    assert got == {"ERGAS_valid": pytest.approx(ergas(a, b, 4)), "SAM_valid": pytest.approx(sam(a, b))}
    assert got["ERGAS_valid"] < ergas(ref, garbage, 4) / 5  # the plain index counts the zeros
    rr = {"exp": {"Q2n": 0.5, "ERGAS_valid": 3.0, "SAM_valid": 1.5}, "zs": {"Q2n": 0.6, **got}}
    lines = valid_pixel_table({"striped": {"rr": rr}, "whole": {"rr": {"zs": {"Q2n": 0.9}}}})
    assert [ln for ln in lines if ln.startswith("| ")][1:] == [
        f"| striped | 3.000 / 1.500 | {got['ERGAS_valid']:.3f} / {got['SAM_valid']:.3f} |"
    ]
