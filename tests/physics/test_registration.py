"""Residual MS-PAN misregistration: sub-pixel shift, its estimate, and its use by the zero-shot fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from pansharpen_cli.methods import zeroshot
from pansharpen_cli.physics.degradation import mtf_degrade, upsample
from pansharpen_cli.physics.registration import MS_KERNEL, describe, estimate_shift, shift_halo, shift_t
from pansharpen_cli.physics.torch_ops import mtf_degrade_t, upsample_t

RATIO = 4
GAINS = [0.3, 0.3, 0.3, 0.3]
CPU = torch.device("cpu")


@pytest.mark.parametrize("kernel", ["keys", "lanczos"])
def test_shift_integer_and_linear_exact_and_tile_local(kernel) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 40, 50, generator=g, dtype=torch.float64)
    y = shift_t(x, 2, -3, kernel)
    torch.testing.assert_close(y[..., 5:-5, 5:-5], torch.roll(x, (2, -3), (-2, -1))[..., 5:-5, 5:-5])
    rows = torch.arange(40.0, dtype=torch.float64).view(40, 1)
    cols = torch.arange(50.0, dtype=torch.float64).view(1, 50)
    ramp = (0.7 * rows + 0.3 * cols).expand(1, 1, 40, 50)
    moved = shift_t(ramp, 0.37, -1.6, kernel)  # reproduces a linear image (Lanczos: to 0.02 px)
    tol = 1e-7 if kernel == "keys" else 0.02
    want = ramp - 0.7 * 0.37 + 0.3 * 1.6
    torch.testing.assert_close(moved[..., 6:-6, 6:-6], want[..., 6:-6, 6:-6], atol=tol, rtol=0)
    # a tile with a halo of shift_halo gives the whole image's values in its core
    k = shift_halo(0.37, -1.6, kernel)
    whole = shift_t(x, 0.37, -1.6, kernel)
    part = shift_t(x[..., 10 - k : 30 + k, 12 - k : 40 + k], 0.37, -1.6, kernel)[..., k:-k, k:-k]
    torch.testing.assert_close(part, whole[..., 10:30, 12:40])


def test_the_ms_kernel_moves_a_smooth_image_there_and_back_closer_than_keys() -> None:
    """An upsampled MS (smooth on the PAN grid) moved there and back: the Lanczos kernel
    (MS_KERNEL, that of ``--align pan``) loses at most 0.6 of what the Keys kernel loses."""
    g = torch.Generator().manual_seed(0)
    x = upsample_t(torch.randn(1, 2, 40, 40, generator=g, dtype=torch.float64), RATIO)
    c = slice(16, -16)
    err = {
        k: float(((shift_t(shift_t(x, 1.37, -0.6, k), -1.37, 0.6, k) - x)[..., c, c] ** 2).mean())
        for k in ("keys", MS_KERNEL)
    }
    assert MS_KERNEL == "lanczos" and err["lanczos"] < 0.6**2 * err["keys"]


def _misregistered(shift: tuple[float, float], size: int = 256, seed: int = 0, field: bool = False):
    """Fine 4-band field, its PAN, and the MS made from the field moved by ``shift`` fine pixels:
    (PAN, MS, the field in the MS's geometry[, the field in the PAN's geometry when ``field``])."""
    rng = np.random.default_rng(seed)
    base = [ndimage.gaussian_filter(rng.normal(size=(size, size)), s, mode="wrap") for s in (1.5, 4.0)]
    hr = np.stack(
        [
            20 + 30 * (w0 * base[0] / base[0].std() + w1 * base[1] / base[1].std())
            for w0, w1 in rng.uniform(0.5, 1.5, (4, 2))
        ]
    )
    pan = np.tensordot(np.array([0.1, 0.3, 0.4, 0.2]), hr, axes=1)[None]
    moved = ndimage.shift(hr, (0, *shift), order=3, mode="wrap")  # the MS's geometry
    ms = mtf_degrade(moved, GAINS, RATIO)
    out = pan.astype(np.float32), ms.astype(np.float32), moved.astype(np.float32)
    return (*out, hr.astype(np.float32)) if field else out


@pytest.mark.parametrize("shift", [(2.0, -1.2), (0.0, 0.0), (-0.6, 3.0)])
def test_estimate_recovers_the_shift(shift) -> None:
    pan, ms, _ = _misregistered(shift)
    p = mtf_degrade_t(torch.as_tensor(pan)[None], [0.3], RATIO)
    reg = estimate_shift(p, torch.as_tensor(ms)[None])
    got = np.array(reg.measured) * RATIO  # fine pixels
    np.testing.assert_allclose(got, shift, atol=0.1)
    if shift != (0.0, 0.0):
        assert reg.applied and reg.corr_after > reg.corr_before
        text, warn = describe(reg.as_dict(RATIO))
        assert "misregistered" in text and warn  # over half a PAN pixel: a warning


def test_a_shift_beyond_one_ms_pixel_is_not_applied_and_warned() -> None:
    pan, ms, _ = _misregistered((6.0, 0.0))  # 1.5 MS pixels
    p = mtf_degrade_t(torch.as_tensor(pan)[None], [0.3], RATIO)
    reg = estimate_shift(p, torch.as_tensor(ms)[None])
    assert not reg.applied and reg.shift == (0.0, 0.0)
    assert abs(reg.measured[0] - 1.5) < 0.05
    text, warn = describe(reg.as_dict(RATIO))
    assert warn and "check the geotransforms" in text


@pytest.mark.parametrize("align", ["pan", "ms"])
def test_fit_registers_and_fuses_better_on_the_chosen_geometry_tiles_unchanged(align) -> None:
    shift = (2.0, -1.2)
    pan, ms, in_ms, in_pan = _misregistered(shift, size=128, field=True)
    truth = in_pan if align == "pan" else in_ms  # the output lines up with the PAN, or the MS
    cfg = dict(warmup=4, iterations=4, crop=32, batch=2, response_steps=10, eval_every=2, patience=0)
    cfg_on = zeroshot.ZeroShotConfig(align=align, **cfg)
    on = zeroshot.fit(pan, ms, RATIO, GAINS, 0.15, config=cfg_on, device=CPU)
    off = zeroshot.fit(
        pan, ms, RATIO, GAINS, 0.15, config=zeroshot.ZeroShotConfig(register=False, **cfg), device=CPU
    )
    np.testing.assert_allclose(on.shift, shift, atol=0.25)  # a 32x32 MS: coarser than on 64x64
    assert off.shift == (0.0, 0.0) and on.halo >= off.halo + shift_halo(*on.shift)
    assert on.report()["registration"]["applied"] and off.report()["registration"] is None
    assert on.report()["align"] == align
    # the MS on its own grid, as the pipeline gives it (moved there, then upsampled), by tiles
    fused_on, fused_off = on.predict_coarse(pan, ms), off.predict_coarse(pan, ms)
    c = slice(8, -8)  # the truth wraps around, the tool mirrors: compare the inside
    err_on = np.sqrt(((fused_on - truth)[:, c, c] ** 2).mean())
    err_off = np.sqrt(((fused_off - truth)[:, c, c] ** 2).mean())
    assert err_on < 0.8 * err_off
    np.testing.assert_allclose(on.predict_coarse(pan, ms, tile=24), fused_on, atol=1e-4, rtol=1e-5)
    # an upsampled MS (moved on the fine grid) fuses about as well
    fine = on.predict_image(pan, upsample(ms, RATIO))
    assert np.sqrt(((fine - truth)[:, c, c] ** 2).mean()) < 0.8 * err_off


def test_fit_registers_a_scene_with_a_nodata_strip() -> None:
    pan, ms, _ = _misregistered((2.0, -1.2), size=128)
    valid = np.ones(pan.shape[1:], bool)
    valid[:, :24] = False  # 6 MS pixels of nodata on the left, filled as the pipeline fills them
    pan[:, ~valid] = pan[:, valid].mean()
    ms[:, :, :6] = ms[:, :, 6:].mean(axis=(1, 2), keepdims=True)
    cfg = zeroshot.ZeroShotConfig(warmup=4, iterations=4, crop=32, batch=2, response_steps=10, eval_every=2, patience=0)
    model = zeroshot.fit(pan, ms, RATIO, GAINS, 0.15, valid=valid, config=cfg, device=CPU)
    assert model.report()["registration"]["applied"]
    np.testing.assert_allclose(model.shift, (2.0, -1.2), atol=0.3)
    assert np.isfinite(model.predict_image(pan, upsample(ms, RATIO))).all()
