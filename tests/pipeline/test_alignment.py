"""The default output lines up with the PAN on the misregistered real scenes (issue 24): crops of the
QuickBird, EO-1 ALI and Landsat-7 pairs (tests/data/make_crops.py), whose MS sits 0.4 to 1.6 PAN
pixels off the PAN. The offset of the fused image's high-pass from the PAN's is measured by phase
correlation on the PAN grid; ``--align ms`` keeps the MS's geometry, and the shift it records
moves the default output onto that geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from pansharpen_cli.api import fuse
from pansharpen_cli.physics.registration import estimate_shift

DATA = Path(__file__).resolve().parents[1] / "data"
#: crop -> its sensor preset (the crops carry no georeferencing or delivery metadata)
SCENES = {"qb": "qb", "eo1": "generic", "landsat7": "landsat7"}
#: the issue's bound, PAN pixels
TOLERANCE = 0.25
FAST = {"iterations": 40, "warmup": 12}  # alignment does not depend on the budget: keep it short


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, np.float64))[None]


def offset_to_pan(pan: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """(dy, dx) PAN pixels that move the PAN.s high-pass onto that of the least-squares combination of
    the fused bands (phase correlation, 1/100 pixel): 0 when the fused image lines up with the PAN."""
    return np.asarray(estimate_shift(_t(pan), _t(fused), max_shift=4.0).measured)


def _fused(tmp_path: Path, name: str, **options) -> tuple[np.ndarray, np.ndarray, dict]:
    out = tmp_path / f"{name}-{options.get('align', 'default')}.tif"
    fuse(DATA / f"{name}_pan.tif", DATA / f"{name}_ms.tif", out, sensor=SCENES[name], **FAST, **options)
    with rasterio.open(out) as ds, rasterio.open(DATA / f"{name}_pan.tif") as p:
        params = json.loads(ds.tags()["PANSHARPEN_PARAMETERS"])
        return p.read().astype(np.float64), ds.read().astype(np.float64), params


@pytest.mark.parametrize("name", list(SCENES))
def test_the_default_output_lines_up_with_the_pan(tmp_path: Path, name: str) -> None:
    pan, fused, params = _fused(tmp_path, name)
    shift = np.asarray(params["registration_shift_pan_pixels"])
    assert params["align"] == "pan" and np.abs(shift).max() > 0.35  # a misregistered pair
    offset = offset_to_pan(pan, fused)
    assert np.abs(offset).max() <= TOLERANCE, (name, offset, shift)


def test_align_ms_keeps_the_ms_geometry_and_the_recorded_shift_moves_the_output_there(tmp_path) -> None:
    from pansharpen_cli.physics.registration import shift_t

    pan, on_pan, params = _fused(tmp_path, "qb")
    _, on_ms, params_ms = _fused(tmp_path, "qb", align="ms")
    shift = np.asarray(params["registration_shift_pan_pixels"])
    assert params_ms["align"] == "ms" and params_ms["registration_shift_pan_pixels"] == params[
        "registration_shift_pan_pixels"
    ]
    # the MS's geometry: the output sits where the MS is, the recorded shift away from the PAN
    np.testing.assert_allclose(offset_to_pan(pan, on_ms), shift, atol=TOLERANCE)
    # moved by the recorded shift, the default output has that geometry too
    moved = shift_t(torch.from_numpy(on_pan), *shift).numpy()
    np.testing.assert_allclose(offset_to_pan(pan, moved), shift, atol=TOLERANCE)
