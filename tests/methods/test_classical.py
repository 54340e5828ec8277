import numpy as np
import pytest
import rasterio

from pansharpen_cli.methods import classical, stats
from pansharpen_cli.methods.classical import CLASSICAL as METHODS
from pansharpen_cli.methods.classical import fuse_image
from pansharpen_cli.physics.degradation import mtf_degrade
from pansharpen_cli.pipeline.fuse import FuseOptions, fuse
from tests.conftest import make_pair, smooth_scene, write_tif


@pytest.mark.parametrize("seed", [0, 1])
def test_mtf_glp_hpm_degraded_back_gives_the_ms(seed):
    ref, pan = smooth_scene(4, 256, seed)
    gains = [0.3, 0.25, 0.35, 0.3]
    ms = mtf_degrade(ref, gains, 4)
    err = {}
    for m in METHODS:
        fused = fuse_image(m, pan, ms, 4, gains, 0.15)
        back = mtf_degrade(fused, gains, 4)
        err[m] = np.sqrt(((back - ms) ** 2).mean()) / ms.std()
    # The injected detail is high-pass with respect to the sensor's MTF, so blurring and decimating
    # the fusion with that MTF gives the MS back to within a few percent of its spread...
    assert err["mtf-glp-hpm"] < 0.08, err
    # ...far closer than methods that ignore the MTF (and than the upsampled MS, blurred twice).
    assert all(err["mtf-glp-hpm"] < err[m] / 3 for m in ("exp", "brovey", "gsa")), err


def test_gsa_recovers_the_spectral_response():
    ref, pan = smooth_scene(5, 128, 3)
    ms = mtf_degrade(ref, [0.3] * 5, 4)
    acc = stats.StatsAccumulator(5)
    acc.update(pan, np.ones(pan.shape[1:], bool), ms, np.ones(ms.shape[1:], bool), mtf_degrade(pan, [0.3], 4))
    w = classical.gsa_weights(acc.result())
    fit = np.tensordot(w, ms - ms.mean(axis=(1, 2), keepdims=True), axes=1)
    target = mtf_degrade(pan, [0.3], 4)[0]
    target = target - target.mean()
    assert np.corrcoef(fit.ravel(), target.ravel())[0, 1] > 0.99


def test_a_failure_mid_write_leaves_no_output(tmp_path, monkeypatch):
    pan, ms, _ = make_pair(tmp_path, size=128)
    calls = {"n": 0}
    real = classical.fuse_block

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr("pansharpen_cli.methods.classical.fuse_block", flaky)
    out = tmp_path / "out.tif"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(KeyboardInterrupt):
        fuse(pan, [ms], out, FuseOptions(method="gsa", tile=16))
    assert calls["n"] >= 3  # tiles in flight in the thread pool may have started too
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no OUT, no temporary file


@pytest.mark.parametrize("method", METHODS)
def test_multiplicative_methods_warn_about_radiometry_that_is_not_positive(tmp_path, method):
    """Zero-mean data (as normalised by some sources) makes a ratio of intensities divide by about 0:
    Brovey and MTF-GLP-HPM say so in the result's warnings; the additive methods and EXP do not."""
    pan, ms, _ = make_pair(tmp_path, size=64, dtype="float32")
    res = fuse(pan, [ms], tmp_path / "pos.tif", FuseOptions(method=method, sensor="generic"))
    assert not [w for w in res.warnings if "positive radiometry" in w]
    centred = []
    for src in (pan, ms):
        with rasterio.open(src) as s:
            a = s.read()
            centred.append(write_tif(tmp_path / f"c_{src.name}", a - a.mean(), s.transform))
    res = fuse(*centred[:1], centred[1:], tmp_path / "c.tif", FuseOptions(method=method, sensor="generic"))
    warned = [w for w in res.warnings if "positive radiometry" in w]
    assert bool(warned) == (method in classical.MULTIPLICATIVE), res.warnings
    assert not warned or f"-m {method} multiplies" in warned[0]
