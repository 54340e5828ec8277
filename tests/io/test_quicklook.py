"""Quicklook PNGs: read the picture back and check what it shows, not only that it is a PNG."""

import numpy as np
import pytest

matplotlib_image = pytest.importorskip("matplotlib.image")

from pansharpen_cli.io.quicklook import panels_figure, preview_fusion, rgb_bands  # noqa: E402

N = 32


def ramp() -> np.ndarray:
    return np.tile(np.linspace(0.0, 100.0, N), (N, 1))


def images() -> dict[str, np.ndarray]:
    r, z = ramp(), np.zeros((N, N))
    return {
        "upsampled MS": np.stack([r, r, r]),  # grey: sets a non-degenerate stretch for every band
        "red": np.stack([r, z, z]),
        "green": np.stack([z, r, z]),
    }


def read_rgb(path) -> np.ndarray:
    img = matplotlib_image.imread(str(path))
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    return img[..., :3].astype(np.float64)


def strip(img: np.ndarray, i: int, n: int) -> np.ndarray:
    """The central part of the i-th of n equal column strips of the panel row, as (pixels, 3)."""
    h, w = img.shape[:2]
    x0, x1 = w * i // n, w * (i + 1) // n
    cx = slice(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4)
    cy = slice(int(h * 0.35), int(h * 0.75))
    return img[cy, cx].reshape(-1, 3)


def drawn(px: np.ndarray) -> np.ndarray:
    """Pixels that are not the white background."""
    return px[(px < 0.97).any(axis=1)]


def test_panels_show_their_colours_and_a_grey_pan(tmp_path):
    pan = (ramp().T * 3)[None]
    out = panels_figure(tmp_path / "q.png", images(), pan, "upsampled MS", (0, 1, 2), title="scene")
    assert out == tmp_path / "q.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = read_rgb(out)
    assert img.std() > 0.1  # not blank
    assert (img < 0.97).any(axis=2).mean() > 0.2  # a good part of the picture is drawn

    grey, red, green, pan_px = (drawn(strip(img, i, 4)) for i in range(4))
    for px in (grey, red, green, pan_px):
        assert len(px) > 500
    # The grey MS and the PAN are grey (R = G = B) with a spread of brightness.
    for px in (grey, pan_px):
        assert np.abs(px[:, 0] - px[:, 1]).max() < 0.02 and np.abs(px[:, 1] - px[:, 2]).max() < 0.02
        assert px[:, 0].std() > 0.1 and px[:, 0].max() - px[:, 0].min() > 0.5
    # The red panel is red-dominant, the green panel green-dominant.
    r, g, b = red.mean(axis=0)
    assert r > 0.4 and g < 0.05 and b < 0.05
    r, g, b = green.mean(axis=0)
    assert g > 0.4 and r < 0.05 and b < 0.05
    # Left to right: the ramp runs dark to bright in the red panel (the common stretch is kept).
    h, w = img.shape[:2]
    row = img[int(h * 0.55), w // 4 : w // 2, 0]
    drawn_cols = row[(img[int(h * 0.55), w // 4 : w // 2] < 0.97).any(axis=1)]
    assert drawn_cols[-5:].mean() > drawn_cols[:5].mean() + 0.5


def test_index_charts_add_coloured_bars(tmp_path):
    only = panels_figure(tmp_path / "a.png", images(), None, "upsampled MS", (0, 1, 2))
    indexes = {"gsa": {"Q": 0.9, "SAM": 2.0}, "brovey": {"Q": 0.7, "SAM": 3.0, "extra": 1.0}}
    charts = panels_figure(tmp_path / "b.png", images(), None, "upsampled MS", (0, 1, 2), indexes=indexes)
    a, b = read_rgb(only), read_rgb(charts)
    assert b.shape[0] > a.shape[0]  # a chart row below the panels
    bottom = b[int(b.shape[0] * 0.6) :].reshape(-1, 3)
    tab_blue = np.array([31, 119, 180]) / 255  # the first method's bar colour
    tab_orange = np.array([255, 127, 14]) / 255
    assert (np.abs(bottom - tab_blue).max(axis=1) < 0.02).sum() > 100
    assert (np.abs(bottom - tab_orange).max(axis=1) < 0.02).sum() > 100


def test_preview_fusion_picks_rgb_from_descriptions(tmp_path):
    # Bands are B, R, G by description: the "fused" panel has data only in the R band -> red.
    r, z = ramp(), np.zeros((N, N))
    ms_up = np.stack([r, r, r])
    fused = np.stack([z, r, z])
    descriptions = ["blue", "red", "green"]
    assert rgb_bands(3, descriptions) == (1, 2, 0)
    out = preview_fusion(tmp_path / "p.png", (r.T)[None], ms_up, fused, "gsa", descriptions)
    img = read_rgb(out)
    fused_px = drawn(strip(img, 1, 3))
    cr, cg, cb = fused_px.mean(axis=0)
    assert cr > 0.4 and cg < 0.05 and cb < 0.05
