"""Quicklook PNGs: true-colour panels side by side with one common stretch, and index charts.

Analysts look before they read: every panel of a figure uses the stretch of the upsampled MS (2-98
percentiles per band), so colour differences between panels are real differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "gray_rgb",
    "panels_figure",
    "pixel_grid",
    "preview_fusion",
    "rgb_bands",
    "stretch_limits",
    "to_bytes",
    "to_rgb",
]

#: Words in band descriptions that identify the true-colour bands.
_COLOUR_WORDS = {"red": ("red", "b4", "r"), "green": ("green", "b3", "g"), "blue": ("blue", "b2", "b")}


def rgb_bands(n_bands: int, descriptions: Sequence[str | None] = ()) -> tuple[int, int, int]:
    """Indices of the red, green and blue bands.

    From the band descriptions when they name red/green/blue; otherwise by band count, for the usual
    layouts: 3 bands R,G,B; 4 bands B,G,R,NIR (QuickBird, IKONOS, GeoEye, Pleiades, Landsat B2-B5);
    8 bands WorldView (coastal, blue, green, yellow, red, red edge, NIR1, NIR2); other counts: the
    first three bands reversed (B,G,R order is the most common).
    """
    found: dict[str, int] = {}
    for i, d in enumerate(descriptions):
        if not d:
            continue
        low = d.strip().lower()
        for colour, words in _COLOUR_WORDS.items():
            if colour not in found and (low == colour or low.startswith(colour) or low in words[1:2]):
                found[colour] = i
    if len(found) == 3:
        return found["red"], found["green"], found["blue"]
    if n_bands == 3:
        return 0, 1, 2
    if n_bands == 8:
        return 4, 2, 1
    if n_bands >= 3:
        return 2, 1, 0
    return 0, 0, 0


def stretch_limits(img: np.ndarray, bands: Sequence[int], low: float = 2, high: float = 98) -> np.ndarray:
    """Per-band (low, high) percentiles of the finite values: (3, 2)."""
    lim = []
    for b in bands:
        v = img[b][np.isfinite(img[b])]
        lim.append(np.percentile(v, [low, high]) if v.size else (0.0, 1.0))
    return np.array(lim, dtype=np.float64)


def to_rgb(img: np.ndarray, bands: Sequence[int], limits: np.ndarray) -> np.ndarray:
    """(B, H, W) -> (H, W, 3) float in [0, 1] with the given stretch."""
    out = np.empty(img.shape[1:] + (3,), np.float64)
    for k, b in enumerate(bands):
        lo, hi = limits[k]
        out[..., k] = (img[b] - lo) / max(hi - lo, 1e-12)
    return np.clip(np.nan_to_num(out), 0, 1)


def _gray(pan: np.ndarray) -> np.ndarray:
    v = pan[0][np.isfinite(pan[0])]
    lo, hi = np.percentile(v, [2, 98]) if v.size else (0, 1)
    return np.clip(np.nan_to_num((pan[0] - lo) / max(hi - lo, 1e-12)), 0, 1)


def _index_keys(indexes: Mapping[str, Mapping[str, float]] | None) -> list[str]:
    """The indexes every method has, in the order of the first method's."""
    if not indexes:
        return []
    return [k for k in next(iter(indexes.values())) if all(k in v for v in indexes.values())]


def _image_panels(fig, spec, panels, pan, bands: Sequence[int], limits: np.ndarray) -> None:
    """One true-colour panel per entry of ``panels`` (stretch ``limits``), then the grey PAN."""
    n = len(panels) + (pan is not None)
    top = spec.subgridspec(1, n)
    for i, (name, img) in enumerate(panels.items()):
        ax = fig.add_subplot(top[0, i])
        ax.imshow(to_rgb(img, bands, limits), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if pan is not None:
        ax = fig.add_subplot(top[0, n - 1])
        ax.imshow(_gray(pan), cmap="gray", interpolation="nearest")
        ax.set_title("PAN", fontsize=9)
        ax.axis("off")


def _index_charts(fig, spec, indexes: Mapping[str, Mapping[str, float]], keys: list[str], cols: int) -> None:
    """One bar chart per index in ``keys`` (a bar per method), ``cols`` charts a row."""
    import matplotlib.pyplot as plt

    names = list(indexes)
    nrow = int(np.ceil(len(keys) / cols))
    bottom = spec.subgridspec(nrow, cols)
    colours = plt.cm.tab10(np.arange(len(names)) % 10)
    for j, key in enumerate(keys):
        ax = fig.add_subplot(bottom[j // cols, j % cols])
        ax.bar(range(len(names)), [indexes[m][key] for m in names], color=colours)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=6)
        ax.set_title(key, fontsize=8)
        ax.tick_params(axis="y", labelsize=6)


def panels_figure(
    path: str | Path,
    panels: Mapping[str, np.ndarray],
    pan: np.ndarray | None,
    reference_key: str,
    bands: Sequence[int],
    title: str = "",
    indexes: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Write a PNG: one true-colour panel per entry (common stretch from ``reference_key``), then
    the PAN, and optionally a bar chart of indexes per method below.

    Args:
        path: the PNG to write.
        panels: name -> (B, H, W) image, all the same shape.
        pan: (1, H, W) PAN or None.
        reference_key: the panel whose stretch every panel uses (the upsampled MS).
        bands: the (red, green, blue) band indices.
        title: the figure's title ("" for none).
        indexes: optional {method: {index: value}} for the chart.

    Returns:
        ``path`` as a Path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limits = stretch_limits(panels[reference_key], bands)
    n = len(panels) + (pan is not None)
    keys = _index_keys(indexes)
    cols = max(1, min(len(keys), 7))
    nrow = int(np.ceil(len(keys) / cols)) if keys else 0
    fig = plt.figure(figsize=(max(3.0 * n, 2.0 * cols), 3.4 + 2.4 * nrow + 0.4), dpi=110)
    outer = fig.add_gridspec(2 if nrow else 1, 1, height_ratios=[3.4, 2.4 * nrow] if nrow else [1])
    _image_panels(fig, outer[0], panels, pan, bands, limits)
    if nrow and indexes:
        _index_charts(fig, outer[1], indexes, keys, cols)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p)
    plt.close(fig)
    return p


#: The 1:1 preview's layout, in PNG pixels: the gap between panels and the title band above them.
PANEL_GAP = 8
TITLE_BAND = 16
_DPI = 64  # a power of two: the figure's size in inches times the dpi is exactly the pixel size


def to_bytes(rgb: np.ndarray, scale: int = 1) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (H*scale, W*scale, 3) uint8: ``round(255 * value)``, each pixel a
    ``scale`` x ``scale`` square (no other resampling)."""
    out = np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)


def preview_fusion(
    path: str | Path,
    pan: np.ndarray,
    ms_up: np.ndarray,
    fused: np.ndarray,
    method: str,
    descriptions: Sequence[str | None] = (),
    scale: int | None = None,
) -> Path:
    """Side-by-side quicklook of one fusion: upsampled MS, the fusion, PAN (arrays (B, H, W)).

    ``scale`` None: a figure (:func:`panels_figure`) that fits the panels in about 1000 pixels.
    ``scale`` N: pixel-exact, each PAN pixel drawn as N x N PNG pixels (no other resampling), panels
    ``PANEL_GAP`` apart under a ``TITLE_BAND``-pixel band of titles; the PNG is
    ``3 * W * N + 2 * PANEL_GAP`` by ``H * N + TITLE_BAND``, 8 bits by :func:`to_bytes`.
    Either way the MS and the fusion share the stretch of the MS (:func:`stretch_limits`), the PAN
    has its own (2-98 percentiles).
    """
    bands = rgb_bands(ms_up.shape[0], descriptions)
    if scale is None:
        title = Path(path).stem
        return panels_figure(path, {"upsampled MS": ms_up, method: fused}, pan, "upsampled MS", bands, title)
    return _pixel_panels(path, pan, ms_up, fused, method, bands, scale)


def _pixel_panels(path, pan, ms_up, fused, method: str, bands: Sequence[int], scale: int) -> Path:
    """The pixel-exact quicklook of :func:`preview_fusion`."""
    limits = stretch_limits(ms_up, bands)
    panels = {
        "upsampled MS": to_rgb(ms_up, bands, limits),
        method: to_rgb(fused, bands, limits),
        "PAN": gray_rgb(pan),
    }
    return pixel_grid(path, [panels], scale)


def gray_rgb(pan: np.ndarray) -> np.ndarray:
    """A (1, H, W) PAN as an (H, W, 3) grey picture in [0, 1] (2-98 percentile stretch)."""
    return np.repeat(_gray(pan)[..., None], 3, axis=-1)


def pixel_grid(path: str | Path, rows: Sequence[Mapping[str, np.ndarray]], scale: int = 1) -> Path:
    """A pixel-exact PNG of rows of titled panels ((H, W, 3) pictures in [0, 1], all one size), each
    pixel drawn as ``scale`` x ``scale`` PNG pixels (:func:`to_bytes`), panels ``PANEL_GAP`` apart,
    each row under a ``TITLE_BAND``-pixel band of its titles."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    first = next(iter(rows[0].values()))
    h, w = first.shape[0] * scale, first.shape[1] * scale
    n = max(len(r) for r in rows)
    width, height = n * w + (n - 1) * PANEL_GAP, len(rows) * (h + TITLE_BAND)
    canvas = np.full((height, width, 3), 255, np.uint8)
    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    for k, panels in enumerate(rows):
        y0 = k * (h + TITLE_BAND)
        for i, (name, rgb) in enumerate(panels.items()):
            x0 = i * (w + PANEL_GAP)
            canvas[y0 + TITLE_BAND : y0 + TITLE_BAND + h, x0 : x0 + w] = to_bytes(rgb, scale)
            fig.text((x0 + 2) / width, 1 - (y0 + 2) / height, name, fontsize=9, va="top", ha="left")
    fig.figimage(canvas, 0, 0, origin="upper")
    p = Path(path)
    fig.savefig(p, dpi=_DPI, format="png")
    return p
