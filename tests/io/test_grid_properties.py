"""Property test of the fusion grid over random small pairs: origin offsets (whole and fractional PAN
pixels, either sign), pixel sizes, ratios 2 to 4, pixel-is-point files, nodata masks in either input.

What io/grid.py documents: the output is on the PAN grid (its pixel size, an origin a whole number
of PAN pixels from the PAN's) over the common footprint of PAN and MS trimmed to whole MS pixels,
none of which is left out; and fusing loses no valid pixel: an output pixel is valid exactly where
the PAN pixel and the MS pixel over it are.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine

from pansharpen_cli.base.errors import InputError
from pansharpen_cli.io.grid import GRID_TOLERANCE, compute_grid
from pansharpen_cli.pipeline.fuse import FuseOptions, fuse
from tests.conftest import write_tif

NODATA = 0


@st.composite
def pairs(draw):
    r = draw(st.integers(2, 4))
    pan_w, pan_h = draw(st.integers(4, 12)) * r, draw(st.integers(4, 12)) * r
    whole = draw(st.booleans())
    if whole:  # the MS grid is the working grid: read as is
        ox, oy = draw(st.integers(-2 * r, 2 * r)), draw(st.integers(-2 * r, 2 * r))
        stretch = 1.0
    else:  # fractional origin or a not quite integer ratio: resampled onto the working grid
        ox, oy = draw(st.sampled_from([0.5, -0.5, 1.25, 2.75])), draw(st.sampled_from([0.0, 0.5, -1.5]))
        stretch = draw(st.sampled_from([1.0, 1.004, 0.997]))
    ms_w = draw(st.integers(2, pan_w // r + 2))
    ms_h = draw(st.integers(2, pan_h // r + 2))
    return {
        "r": r,
        "pan_shape": (pan_h, pan_w),
        "ms_shape": (ms_h, ms_w),
        "offset": (ox, oy),
        "whole": whole,
        "stretch": stretch,
        "res": draw(st.sampled_from([0.5, 1.0, 2.5, 15.0])),
        "point": draw(st.booleans()),
        "pan_holes": draw(st.integers(0, 3)),
        "ms_holes": draw(st.integers(0, 2)),
        "seed": draw(st.integers(0, 2**16)),
    }


def _write(folder: Path, p: dict) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(p["seed"])
    (ph, pw), (mh, mw), r, res = p["pan_shape"], p["ms_shape"], p["r"], p["res"]
    pan = rng.uniform(100, 1000, (1, ph, pw)).astype(np.float32)
    ms = rng.uniform(100, 1000, (3, mh, mw)).astype(np.float32)
    for _ in range(p["pan_holes"]):
        y, x = rng.integers(0, ph), rng.integers(0, pw)
        pan[:, y : y + 3, x : x + 2] = NODATA
    for _ in range(p["ms_holes"]):
        ms[:, rng.integers(0, mh), rng.integers(0, mw)] = NODATA
    pt = Affine(res, 0, 300000.0, 0, -res, 5000000.0)
    ox, oy = p["offset"]
    ms_res = res * r * p["stretch"]
    mt = Affine(ms_res, 0, pt.c + ox * res, 0, -ms_res, pt.f - oy * res)
    tags = {"AREA_OR_POINT": "Point"} if p["point"] else None
    a = write_tif(folder / "pan.tif", pan, pt, nodata=NODATA, tags=tags)
    b = write_tif(folder / "ms.tif", ms, mt, nodata=NODATA, tags=tags)
    return a, b, pan[0] != NODATA, (ms != NODATA).all(axis=0)


def _check_grid(g, pan_ds, ms_ds, p) -> None:
    r, pt, mt = g.ratio, pan_ds.transform, ms_ds.transform
    assert r == p["r"] and (g.height, g.width) == (g.ms_height * r, g.ms_width * r)
    # On the PAN grid: its pixel size, an origin a whole number of PAN pixels in.
    assert g.transform == pt @ Affine.translation(g.col_off, g.row_off)
    assert g.col_off >= 0 and g.row_off >= 0
    assert g.col_off + g.width <= pan_ds.width and g.row_off + g.height <= pan_ds.height
    # Inside the MS footprint, in PAN pixels (the MS's edges from the PAN's origin).
    x0, y0 = ~pt @ (mt.c, mt.f)
    x1, y1 = ~pt @ (mt @ (ms_ds.width, ms_ds.height))
    tol = GRID_TOLERANCE
    assert x0 - tol <= g.col_off and g.col_off + g.width <= x1 + tol
    assert y0 - tol <= g.row_off and g.row_off + g.height <= y1 + tol
    # No whole MS pixel of the common footprint left out: one more on any side leaves it.
    lo_x, hi_x, lo_y, hi_y = max(0, x0), min(pan_ds.width, x1), max(0, y0), min(pan_ds.height, y1)
    assert g.col_off - r < lo_x - tol and g.col_off + g.width + r > hi_x + tol
    assert g.row_off - r < lo_y - tol and g.row_off + g.height + r > hi_y + tol
    if p["whole"]:  # native MS pixels, exactly: they start on the MS's own pixel edges
        assert (g.col_off - x0) % r == 0 and (g.row_off - y0) % r == 0 and not g.resample


def _check_output(out: Path, g, pan_valid: np.ndarray, ms_valid: np.ndarray, p) -> None:
    r = g.ratio
    with rasterio.open(out) as o:
        assert (o.height, o.width) == (g.height, g.width) and o.transform == g.transform
        assert o.tags().get("AREA_OR_POINT", "Area") == ("Point" if p["point"] else "Area")
        data = o.read()
    valid = (data != NODATA).all(axis=0)
    assert np.isfinite(data[:, valid]).all()
    rows, cols = slice(g.row_off, g.row_off + g.height), slice(g.col_off, g.col_off + g.width)
    if p["whole"]:  # the MS pixel over each output pixel is known exactly
        ms_win = ms_valid[g.ms_row_off : g.ms_row_off + g.ms_height, g.ms_col_off : g.ms_col_off + g.ms_width]
        expected = pan_valid[rows, cols] & np.kron(ms_win, np.ones((r, r), bool))
        np.testing.assert_array_equal(valid, expected)
    else:  # resampled: at least every pixel valid in the PAN whose MS neighbourhood is all valid
        assert not (valid & ~pan_valid[rows, cols]).any()
        if ms_valid.all():
            np.testing.assert_array_equal(valid, pan_valid[rows, cols])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,  # derandomized: nothing to replay, no .hypothesis folder
)
@given(pairs())
def test_output_grid_is_the_documented_one_and_no_valid_pixel_is_lost(p):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        pan, ms, pan_valid, ms_valid = _write(folder, p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(pan) as a, rasterio.open(ms) as b:
                try:
                    g = compute_grid(a, b)
                except InputError as exc:  # refused only when less than two MS pixels are shared
                    if "share only one MS pixel" in str(exc):
                        event("refused: one MS pixel shared")
                        return
                    assert "do not overlap" in str(exc)
                    (x0, y0), (x1, y1) = (
                        ~a.transform @ (b.transform.c, b.transform.f),
                        ~a.transform @ (b.transform @ (b.width, b.height)),
                    )
                    shared = min(min(a.width, x1) - max(0, x0), min(a.height, y1) - max(0, y0))
                    assert shared < p["r"] * (1 + 0.01) + GRID_TOLERANCE
                    event("refused: less than one MS pixel shared")
                    return
                _check_grid(g, a, b, p)
        if not (pan_valid.any() and ms_valid.any()):
            return
        out = folder / "out.tif"
        try:
            fuse(pan, [ms], out, FuseOptions(method="exp", sensor="generic", tile=16))
        except InputError as exc:  # every pixel of the fused region is nodata in one input
            assert "in common (the rest is nodata in one of them)" in str(exc)
            return
        _check_output(out, g, pan_valid, ms_valid, p)
        event("fused, MS read as is" if p["whole"] else "fused, MS resampled")
