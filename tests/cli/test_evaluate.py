"""simulate, evaluate and the preview through the CLI."""

import json

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from pansharpen_cli.metrics import COREG_KEYS, FULL_RESOLUTION_KEYS, REFERENCE_KEYS
from tests.conftest import make_pair, write_tif

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def simulated(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=256, ratio=4, ms_offset=(4, 8))
    out = tmp_path / "sim"
    res = run("simulate", pan, ms, out, "-q")
    assert res.exit_code == 0, res.output
    return pan, ms, out


def test_simulate_writes_the_reduced_resolution_pair_on_the_coarser_grids(simulated):
    pan, ms, out = simulated
    with (
        rasterio.open(pan) as p,
        rasterio.open(ms) as m,
        rasterio.open(out / "pan.tif") as sp,
        rasterio.open(out / "ms.tif") as sm,
        rasterio.open(out / "reference.tif") as ref,
    ):
        # PAN degraded to the MS pixel size; MS to ratio times coarser; reference = MS on its own grid.
        assert sp.res == m.res and sm.res == (m.res[0] * 4, m.res[1] * 4) and ref.res == m.res
        assert sp.crs == p.crs == sm.crs == ref.crs
        assert (
            (sp.transform.c, sp.transform.f)
            == (m.transform.c, m.transform.f)
            == (ref.transform.c, ref.transform.f)
        )
        assert (sp.width, sp.height) == (ref.width, ref.height) == (sm.width * 4, sm.height * 4)
        assert sm.count == ref.count == 4 and sm.dtypes[0] == "uint16"
        # the reference is the MS itself (over the common footprint)
        np.testing.assert_array_equal(ref.read(), m.read()[:, : ref.height, : ref.width])


def test_evaluate_json_has_exactly_the_index_names_and_is_stable(simulated, tmp_path):
    _, _, out = simulated
    fused = tmp_path / "f.tif"
    assert run("fuse", out / "pan.tif", out / "ms.tif", fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    args = (
        "evaluate",
        out / "pan.tif",
        out / "ms.tif",
        fused,
        "--reference",
        out / "reference.tif",
        "--json",
    )
    a, b = run(*args), run(*args)
    assert a.exit_code == 0, a.output
    ra, rb = json.loads(a.output), json.loads(b.output)
    assert tuple(ra) == REFERENCE_KEYS and ra == rb
    assert 0.5 < ra["Q2n"] <= 1 and ra["ERGAS"] > 0 and ra["SAM"] > 0
    # Upsampled MS is worse than MTF-GLP-HPM against the reference.
    exp = tmp_path / "e.tif"
    assert run("fuse", out / "pan.tif", out / "ms.tif", exp, "-m", "exp", "-q").exit_code == 0
    re = json.loads(
        run(
            "evaluate", out / "pan.tif", out / "ms.tif", exp, "--reference", out / "reference.tif", "--json"
        ).output
    )
    assert re["Q2n"] < ra["Q2n"] and re["ERGAS"] > ra["ERGAS"]

    full = run("evaluate", out / "pan.tif", out / "ms.tif", fused, "--json")
    rf = json.loads(full.output)
    assert tuple(rf) == FULL_RESOLUTION_KEYS + COREG_KEYS
    assert rf["QNR"] == pytest.approx((1 - rf["D_lambda"]) * (1 - rf["D_s"]))
    assert rf["HQNR"] == pytest.approx((1 - rf["D_lambda_K"]) * (1 - rf["D_s"]))


def test_evaluate_prints_co_registered_indexes_beside_the_plain_ones(tmp_path):
    """A fused file that is the truth moved by (0.3, -0.2) MS pixels: evaluate measures the shift on
    its central window and, streamed by small tiles, gives the whole-image co-registered indexes."""
    import torch
    from rasterio.transform import Affine

    from pansharpen_cli.metrics import coregistered_indexes
    from pansharpen_cli.physics.degradation import mtf_degrade
    from pansharpen_cli.physics.registration import shift_t
    from pansharpen_cli.pipeline.quality import evaluate
    from tests.conftest import smooth_scene

    ref, pan = smooth_scene(4, 256, seed=3)
    ms = mtf_degrade(ref, [0.3] * 4, 4)
    fused = shift_t(torch.from_numpy(ref.astype(np.float64)), 1.2, -0.8).numpy().astype(np.float32)
    pt, mt = Affine(0.5, 0, 5e5, 0, -0.5, 4e6), Affine(2.0, 0, 5e5, 0, -2.0, 4e6)
    paths = [
        write_tif(tmp_path / n, a, t, dtype="float32")
        for n, a, t in (("pan.tif", pan, pt), ("ms.tif", ms, mt), ("fused.tif", fused, pt))
    ]
    res = run("evaluate", *paths, "--gains", "0.3", "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert tuple(got) == FULL_RESOLUTION_KEYS + COREG_KEYS
    np.testing.assert_allclose(got["shift_ms_pixels"], [0.3, -0.2], atol=0.05)
    assert got["D_lambda_K_coreg"] < got["D_lambda_K"] / 3 and got["D_rho_coreg"] < got["D_rho"] / 3
    whole = coregistered_indexes(pan, ms, fused, 4, [0.3] * 4)
    tiled = evaluate(*paths[:1], paths[1:2], paths[2], gains="0.3", tile=24)
    for k, v in whole.items():
        np.testing.assert_allclose(tiled[k], v, rtol=1e-6, atol=1e-9, err_msg=k)
    table = run("evaluate", *paths, "--gains", "0.3").output
    dy, dx = got["shift_ms_pixels"]
    assert "D_lambda_K_coreg" in table and f"{dy:+.2f}, {dx:+.2f}" in table and "fused vs MS, MS px" in table


def test_evaluate_refuses_a_fused_image_on_another_grid(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128)
    res = run("evaluate", pan, ms, ms, "--json")
    assert res.exit_code == 1 and "pair fuses to" in res.output and "Traceback" not in res.output


def test_evaluate_refuses_a_reference_of_another_place_and_a_fused_image_of_another_pair(simulated, tmp_path):
    """With --reference, FUSED must be on the pair's fusion grid and the reference on FUSED's: same
    size, CRS and geotransform (the pixels alone do not say where they are)."""
    pan, ms, out = simulated
    fused = tmp_path / "f.tif"
    assert run("fuse", out / "pan.tif", out / "ms.tif", fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    with rasterio.open(out / "reference.tif") as r:
        a, t = r.read(), r.transform
    moved = write_tif(tmp_path / "moved.tif", a, t * rasterio.Affine.translation(40, 0))
    other_crs = write_tif(tmp_path / "crs.tif", a, t, crs="EPSG:32634")
    for ref in (moved, other_crs):
        res = run("evaluate", out / "pan.tif", out / "ms.tif", fused, "--reference", ref, "--json")
        assert res.exit_code == 1 and "not on the fused image's grid" in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1
    full = tmp_path / "full.tif"  # the fusion of the full-resolution pair, not of the simulated one
    assert run("fuse", pan, ms, full, "-m", "exp", "-q").exit_code == 0
    res = run("evaluate", out / "pan.tif", out / "ms.tif", full, "--reference", full, "--json")
    assert res.exit_code == 1 and "pair fuses to" in res.output, res.output


def test_preview_png(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128)
    png = tmp_path / "q.png"
    assert run("fuse", pan, ms, tmp_path / "o.tif", "-m", "gsa", "--preview", png, "-q").exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(png)[..., :3].astype(float)  # (H, W, 3) in [0, 1]
    # three panels side by side: upsampled MS, the fusion, the PAN
    strips = np.array_split(img, 3, axis=1)
    content = [s[(s < 0.97).any(axis=-1)] for s in strips]  # pixels that are not the white background
    assert all(c.shape[0] > 0.2 * s.shape[0] * s.shape[1] for c, s in zip(content, strips, strict=True))
    colour = [float(np.abs(c - c.mean(axis=1, keepdims=True)).mean()) for c in content]
    assert colour[2] < 0.01 < colour[0] and colour[1] > 0.01  # the PAN is grey, MS and fusion in colour

    def detail(strip: np.ndarray) -> float:
        g = strip.mean(axis=-1)
        return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())

    assert detail(strips[1]) > 1.1 * detail(strips[0])  # the fusion is sharper than the upsampled MS


@pytest.mark.parametrize("scale", [1, 2])
def test_preview_at_one_to_one_shows_the_fused_pixels_as_written(tmp_path, scale):
    """--preview-scale: panels of --preview-size PAN pixels, each PAN pixel scale x scale PNG pixels;
    the fusion panel is the central crop of the written GeoTIFF through the common (affine) stretch."""
    from matplotlib.image import imread

    from pansharpen_cli.io.quicklook import PANEL_GAP, TITLE_BAND

    pan, ms, _ = make_pair(tmp_path, size=160, ratio=4)
    png, out, size = tmp_path / "q.png", tmp_path / "o.tif", 48
    args = ["fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--preview", png, "--preview-scale", scale]
    res = run(*args, "--preview-size", size, "-q")
    assert res.exit_code == 0, res.output
    img = np.rint(imread(png)[..., :3] * 255)
    side = size * scale
    assert img.shape[:2] == (side + TITLE_BAND, 3 * side + 2 * PANEL_GAP)
    assert (img[TITLE_BAND:, side : side + PANEL_GAP] == 255).all()  # the gaps are white
    panel = img[TITLE_BAND:, side + PANEL_GAP : 2 * side + PANEL_GAP]
    one = panel[::scale, ::scale]
    np.testing.assert_array_equal(np.repeat(np.repeat(one, scale, 0), scale, 1), panel)
    with rasterio.open(out) as ds:  # 160 PAN pixels, ratio 4: the crop starts at MS pixel 4
        fused = ds.read()[:, 56 : 56 + size, 56 : 56 + size].astype(float)
    for k, band in enumerate((2, 1, 0)):  # 4 bands: B, G, R, NIR
        v, f = one[..., k], fused[band]
        inside = (v > 0) & (v < 255)
        assert inside.mean() > 0.8
        a, b = np.polyfit(f[inside], v[inside], 1)  # the stretch is affine where it does not clip
        assert a > 0 and np.abs(a * f[inside] + b - v[inside]).max() <= 0.51


def _with_nodata(src, dst, rows, cols):
    """A copy of ``src`` with nodata 0, zero (nodata) over ``rows`` x ``cols``."""
    with rasterio.open(src) as ds:
        a, profile = ds.read(), ds.profile
    a[:, rows, cols] = 0
    profile.update(nodata=0)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(a)
    return a


def test_evaluate_with_a_reference_judges_only_where_both_hold_data(simulated, tmp_path):
    """Nodata in the reference and in FUSED: the indexes are those of the pixels and whole 32x32 blocks
    that hold data in both, not of a fill."""
    from pansharpen_cli import metrics as M

    _, _, out = simulated
    fused = tmp_path / "f.tif"
    assert run("fuse", out / "pan.tif", out / "ms.tif", fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    ref = _with_nodata(out / "reference.tif", tmp_path / "ref_nd.tif", slice(5, 20), slice(40, 60))
    fus = _with_nodata(fused, tmp_path / "f_nd.tif", slice(50, 64), slice(0, 64))
    res = run("evaluate", out / "pan.tif", out / "ms.tif", tmp_path / "f_nd.tif",
              "--reference", tmp_path / "ref_nd.tif", "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert ref.shape[1:] == (60, 60)  # the Q2n grid mirrors it to 64 x 64
    valid = np.ones((60, 60), bool)
    valid[5:20, 40:60] = valid[50:64, :] = False
    r, f = ref.astype(float), fus.astype(float)
    # whole valid blocks: only (0, 0); (0, 1) holds the reference's nodata, row 1 the fused image's
    assert got["Q2n"] == pytest.approx(M.q2n(r[:, :32, :32], f[:, :32, :32]), abs=1e-9)
    r1, f1 = r[:, valid][:, None], f[:, valid][:, None]
    assert got["SAM"] == pytest.approx(M.sam(r1, f1), rel=1e-9)
    assert got["ERGAS"] == pytest.approx(M.ergas(r1, f1, 4), rel=1e-9)
    assert got["PSNR"] == pytest.approx(M.psnr(r1, f1), rel=1e-9)
    # nodata in every block: no Q2n and no Q (JSON null), the table says n/a
    _with_nodata(fused, tmp_path / "f_holes.tif", slice(None, None, 16), slice(None, None, 16))
    holes_tif, reference = tmp_path / "f_holes.tif", out / "reference.tif"
    args = ("evaluate", out / "pan.tif", out / "ms.tif", holes_tif, "--reference", reference)
    holes = run(*args, "--json")
    assert holes.exit_code == 0, holes.output
    h = json.loads(holes.output)
    assert h["Q2n"] is None and h["Q"] is None and h["SAM"] > 0
    table = run(*args)
    assert table.exit_code == 0 and "n/a" in table.output


def test_evaluate_refuses_a_reference_with_no_data_where_fused_has_some(simulated, tmp_path):
    _, _, out = simulated
    fused = tmp_path / "f.tif"
    assert run("fuse", out / "pan.tif", out / "ms.tif", fused, "-m", "exp", "-q").exit_code == 0
    _with_nodata(out / "reference.tif", tmp_path / "empty.tif", slice(None), slice(None))
    res = run("evaluate", out / "pan.tif", out / "ms.tif", fused, "--reference", tmp_path / "empty.tif")
    assert res.exit_code == 1
    assert "no pixel is valid in both" in res.output and "Traceback" not in res.output


def test_evaluate_at_full_resolution_judges_only_where_fused_holds_data(tmp_path):
    """FUSED with a masked-out collar (an internal mask; the values under it are junk) is judged on
    the rest: about as the whole unmasked fusion, whatever the junk. The band-mean fill of before
    put a flat collar into every index (D_rho 0.21 and D_lambda_K 0.20 against 0.005 and 0.008)."""
    pan, ms, _ = make_pair(tmp_path, size=256, ratio=4)
    fused = tmp_path / "f.tif"
    assert run("fuse", pan, ms, fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    with rasterio.open(fused) as ds:
        data, profile = ds.read(), ds.profile
    outs = {"whole": json.loads(run("evaluate", pan, ms, fused, "--json").output)}
    for name, junk in (("a", 0), ("b", 9000)):
        d = data.copy()
        d[:, :, 200:] = junk
        path = tmp_path / f"{name}.tif"
        with rasterio.open(path, "w", **{**profile, "nodata": None}) as out:
            out.write(d)
            m = np.full(d.shape[1:], 255, np.uint8)
            m[:, 200:] = 0
            out.write_mask(m)
        res = run("evaluate", pan, ms, path, "--json")
        assert res.exit_code == 0, res.output
        outs[name] = json.loads(res.output)
    for k in FULL_RESOLUTION_KEYS:
        assert outs["a"][k] == pytest.approx(outs["b"][k], abs=1e-12), k
    whole, part = outs["whole"], outs["a"]
    assert part["D_lambda_K"] == pytest.approx(whole["D_lambda_K"], abs=0.002)
    assert part["D_rho"] == pytest.approx(whole["D_rho"], abs=0.002)
    assert part["HQNR"] == pytest.approx(whole["HQNR"], abs=0.01)


def test_evaluate_at_full_resolution_leaves_out_the_nodata_of_the_pan_and_ms(tmp_path):
    """A pair whose PAN and MS have a nodata (0) collar: `fuse` writes it as nodata, and `evaluate`
    judges the rest (the band-mean fill of before read the flat collar as distortion)."""
    pan, ms, _ = make_pair(tmp_path, size=256, ratio=4)
    for path, cut in ((pan, 200), (ms, 50)):
        with rasterio.open(path) as ds:
            a, profile = ds.read(), ds.profile
        a[:, :, cut:] = 0
        with rasterio.open(path, "w", **{**profile, "nodata": 0}) as out:
            out.write(a)
    fused = tmp_path / "f.tif"
    assert run("fuse", pan, ms, fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    with rasterio.open(fused) as ds:
        assert ds.nodata == 0 and (ds.read(1)[:, 200:] == 0).all()
    res = run("evaluate", pan, ms, fused, "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert all(v is not None for v in got.values())
    assert got["D_rho"] < 0.05 and got["D_lambda_K"] < 0.05  # the flat collar would read as ~1 and ~0.2


def test_a_one_band_ms_has_no_spectral_indexes(tmp_path):
    """Audit 2, D9: with one band D_lambda (band pairs) was reported as a perfect 0, raising QNR to
    1 - D_s, and SAM (an angle between spectra) as 0: both undefined, null in --json."""
    pan, ms, _ = make_pair(tmp_path, size=256, bands=1)
    sim, fused = tmp_path / "sim", tmp_path / "f.tif"
    assert run("simulate", pan, ms, sim, "-q").exit_code == 0
    assert run("fuse", sim / "pan.tif", sim / "ms.tif", fused, "-m", "mtf-glp-hpm", "-q").exit_code == 0
    res = run("evaluate", sim / "pan.tif", sim / "ms.tif", fused, "--json")
    assert res.exit_code == 0, res.output
    fr = json.loads(res.output)
    assert fr["D_lambda"] is None and fr["QNR"] is None
    assert 0 <= fr["D_s"] < 1 and 0 < fr["HQNR"] <= 1 and 0 <= fr["D_lambda_K"] < 1
    res = run("evaluate", sim / "pan.tif", sim / "ms.tif", fused, "--reference", sim / "reference.tif", "--json")
    assert res.exit_code == 0, res.output
    rr = json.loads(res.output)
    assert rr["SAM"] is None and 0 < rr["Q2n"] <= 1 and rr["ERGAS"] > 0
    table = run("evaluate", sim / "pan.tif", sim / "ms.tif", fused, "--reference", sim / "reference.tif")
    assert table.exit_code == 0 and "n/a" in table.output, table.output
