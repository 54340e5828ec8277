"""The bench's scenes: every folder of the shared data, read from its files and its ``scene.json``.

A folder holds one pair (``pan.tif`` with ``ms.tif``, or with band files ``B*.tif`` when there is no
``ms.tif``) or several crops (``pan1.tif`` with ``ms1.tif``, ...). ``scene.json`` gives the sensor (free
text whose first word names a preset of the tool, if any: ``wv3 (probably ...)`` -> ``wv3``,
``spot6/7`` -> ``spot6``; anything else -> generic gains) and the band names, from which the true-colour
bands of the quicklooks are taken. The ratio, the alignment (inexact ratios, differing extents, no
georeferencing) and nodata come from the tool's own reader, as in ``pansharpen fuse``.

A scene larger than ``max_pan`` PAN pixels on a side is cut to a fixed central window (aligned on the
MS grid, so deterministic), to keep the bench's cost bounded; the tables say so.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pansharpen_cli.base.nodata import FILL_REACH, fill_invalid
from pansharpen_cli.base.sensors import get_sensor, resolve_gains
from pansharpen_cli.io.reader import PairReader

ZERO_FILL = 0.01  # an untagged MS whose pixels are 0 in every band over more than this share: 0 is nodata
MAX_PAN = 1280  # PAN pixels on a side; every scene of the first 8-scene bench fits (landsat8-oli 1254x1207)


@dataclass(frozen=True)
class Scene:
    name: str
    folder: Path
    pan: str
    ms: tuple[str, ...]
    sensor: str | None
    rgb: tuple[int, int, int] | None
    licence: str = ""


def sensor_preset(text: str | None) -> str | None:
    """The tool's preset named by the first word of ``scene.json``'s sensor text, or None."""
    if not text:
        return None
    word = re.split(r"[\s(/,]+", text.strip().lower())[0]
    try:
        return get_sensor(word).name
    except Exception:  # not a preset of the tool: generic gains
        return None


def band_names(bands) -> list[str]:
    """Band names from ``scene.json`` (a list, or a comma-separated text like ``1 (blue), 2 (green)``):
    the word in brackets after a band number, else the first word (``nir (B2-B5)``: ``nir``)."""
    items = bands if isinstance(bands, list) else str(bands or "").split(",")
    names = []
    for item in items:
        inner = re.search(r"\(([^)]*)\)", item)
        first = item.split("(")[0].strip()
        word = inner.group(1) if inner and not first.isalpha() else item
        names.append(word.strip().split(" ")[0].lower() if word.strip() else "")
    return names


def rgb_from_names(names: list[str]) -> tuple[int, int, int] | None:
    if all(c in names for c in ("red", "green", "blue")):
        return (names.index("red"), names.index("green"), names.index("blue"))
    return None


def folder_scenes(folder: Path) -> list[Scene]:
    """The pairs of one data folder (several crops: ``name-1``, ``name-2``, ...)."""
    meta = json.loads((folder / "scene.json").read_text()) if (folder / "scene.json").exists() else {}
    sensor = sensor_preset(meta.get("sensor"))
    rgb = rgb_from_names(band_names(meta.get("bands")))
    lic = str(meta.get("licence", ""))
    out = []
    if (folder / "pan.tif").exists():
        if (folder / "ms.tif").exists():
            ms: tuple[str, ...] = ("ms.tif",)
        else:
            ms = tuple(sorted(p.name for p in folder.glob("B*.tif")))
        if ms:
            out.append(Scene(folder.name, folder, "pan.tif", ms, sensor, rgb, lic))
    numbered = (re.fullmatch(r"pan(\d+)\.tif", p.name) for p in folder.glob("pan*.tif"))
    crops = sorted((int(m.group(1)), m.group(0)) for m in numbered if m)
    for n, pan in crops:
        if (folder / f"ms{n}.tif").exists():
            out.append(Scene(f"{folder.name}-{n}", folder, pan, (f"ms{n}.tif",), sensor, rgb, lic))
    return out


def discover(data: Path) -> dict[str, Scene]:
    """Every scene of every folder of ``data``, by name, in folder order."""
    scenes: dict[str, Scene] = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        for s in folder_scenes(folder):
            scenes[s.name] = s
    return scenes


def load_scene(scene: Scene, with_mask: bool = False):
    """PAN, MS (on the PAN-aligned working grid), ratio and radiometry; nodata filled as `fuse` fills it.
    ``with_mask``: also the (h, w) bool mask of the MS pixels whose data (PAN and MS) is valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PairReader(scene.folder / scene.pan, [scene.folder / m for m in scene.ms]) as reader:
            d = reader.read_all()
            r = reader.grid.ratio
            rad = resolve_gains(scene.sensor, None, reader.n_bands)
    pan_a, ms_a = d["pan"].astype(np.float32), d["ms"].astype(np.float32)
    ms_valid = d["ms_valid"]
    zero = (ms_a == 0).all(axis=0)
    if zero.mean() > ZERO_FILL:  # untagged zero fill (wv2-sn6-rotterdam-2/3): nodata, as if tagged
        ms_valid = ms_valid & ~zero
    valid = d["pan_valid"] & np.repeat(np.repeat(ms_valid, r, 0), r, 1)
    msv = valid.reshape(ms_a.shape[1], r, ms_a.shape[2], r).all(axis=(1, 3))
    # fill nodata as the tool fills its training region (a local mean near the data, the band
    # means farther: pansharpen_cli.pipeline.common.training_data)
    ms_a = fill_invalid(ms_a, msv, None, FILL_REACH)
    pan_a = fill_invalid(pan_a, valid, None, FILL_REACH * r)
    return (pan_a, ms_a, r, rad, msv) if with_mask else (pan_a, ms_a, r, rad)


def crop_multiple(pan: np.ndarray, ms: np.ndarray, r: int, m: int):
    """Crop so that the MS sides are multiples of m (and the PAN follows)."""
    h, w = ms.shape[1] // m * m, ms.shape[2] // m * m
    return pan[:, : h * r, : w * r], ms[:, :h, :w]


def central_window(pan: np.ndarray, ms: np.ndarray, r: int, max_pan: int):
    """The central window of at most ``max_pan`` PAN pixels a side (MS-aligned); None if no cut."""
    h, w = ms.shape[1], ms.shape[2]
    ch, cw = min(h, max_pan // r), min(w, max_pan // r)
    if (ch, cw) == (h, w):
        return pan, ms, None
    y, x = (h - ch) // 2, (w - cw) // 2
    window = {"ms_rows": [y, y + ch], "ms_cols": [x, x + cw], "of_ms": [h, w]}
    return pan[:, y * r : (y + ch) * r, x * r : (x + cw) * r], ms[:, y : y + ch, x : x + cw], window
