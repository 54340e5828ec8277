"""Reading a raster for the display product (``pansharpen visual``): what it says about itself
(size, georeferencing, band descriptions and colours, tags) and three bands with their validity,
by windows or as a decimated sample of the whole image (GDAL answers that from the overviews when
the file has them)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning

from .raster import gcp_only, is_georeferenced, read_window

__all__ = ["RasterFacts", "facts", "read_rgb", "read_sample", "rgb_colorinterp"]

#: The decimated sample's longer side, in pixels (about a million pixels per band at most).
SAMPLE_SIDE = 1024


@dataclass
class RasterFacts:
    """What a raster says about itself.

    Attributes:
        width, height, count, dtype: the raster.
        crs, transform, gcps: its georeferencing (transform None for a file without one; gcps
            (points, crs) for a file georeferenced by ground control points only).
        area_or_point: ``Area`` or ``Point``.
        descriptions: one per band (None where empty).
        colours: each band's colour interpretation in lower case (``red``, ``gray``, ...).
        tags: the dataset's metadata.
        overviews: the overview factors of band 1.
    """

    width: int
    height: int
    count: int
    dtype: str
    crs: Any
    transform: Any
    area_or_point: str
    descriptions: list[str | None]
    colours: list[str | None]
    tags: dict[str, str] = field(default_factory=dict)
    gcps: tuple[list, Any] | None = None
    overviews: list[int] = field(default_factory=list)


def facts(ds: rasterio.io.DatasetReader) -> RasterFacts:
    """The :class:`RasterFacts` of an opened dataset."""
    tags = ds.tags()
    georef = is_georeferenced(ds)
    points = gcp_only(ds)
    return RasterFacts(
        width=ds.width,
        height=ds.height,
        count=ds.count,
        dtype=ds.dtypes[0],
        crs=ds.crs,
        transform=ds.transform if georef else None,
        area_or_point=tags.get("AREA_OR_POINT", "Area"),
        descriptions=[d or None for d in ds.descriptions],
        colours=[c.name.lower() for c in ds.colorinterp],
        tags=tags,
        gcps=(points, ds.gcps[1]) if points else None,
        overviews=list(ds.overviews(1)),
    )


def _with_validity(a: np.ma.MaskedArray) -> tuple[np.ndarray, np.ndarray]:
    """(values float64, valid): a pixel is valid where every band is valid and finite."""
    values = np.asarray(a.data, dtype=np.float64)
    valid = np.isfinite(values).all(axis=0)
    if a.mask is not np.ma.nomask:
        valid &= ~np.asarray(a.mask).any(axis=0)
    return values, valid


def read_rgb(
    ds: rasterio.io.DatasetReader, bands: Sequence[int], window: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Three bands (1-based) of a window (row, col, height, width).

    Returns:
        ((3, h, w) float64, (h, w) bool valid: every band's mask valid and finite).

    Raises:
        InputFileError: the read failed (a damaged file).
    """
    a = read_window(ds, "FUSED", window, indexes=list(bands), masked=True)
    return _with_validity(a)


def _sample_source(ds: rasterio.io.DatasetReader, step: int) -> tuple[rasterio.io.DatasetReader, int]:
    """The coarsest overview whose factor is at most ``step``, opened (or ``ds`` itself when none
    is), and the step left to take in it."""
    factors = [f for f in ds.overviews(1) if f <= step]
    if not factors:
        return ds, step
    level = ds.overviews(1).index(max(factors))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(ds.name, overview_level=level), max(1, step // max(factors))


def read_sample(
    ds: rasterio.io.DatasetReader, bands: Sequence[int], side: int = SAMPLE_SIDE
) -> tuple[np.ndarray, np.ndarray]:
    """Three bands (1-based) of the whole image, every ``step``-th pixel of every ``step``-th row
    (actual values, no averages), ``step`` making the longer side at most ``side`` pixels; read from
    the coarsest overview that is still fine enough when the file has overviews.

    Strips of whole tiles are read and decimated one after the other (GDAL's own decimated read of
    a tiled, compressed file measured 150x slower than reading it whole).

    Returns:
        As :func:`read_rgb`.
    """
    src, step = _sample_source(ds, math.ceil(max(ds.width, ds.height) / side))
    try:
        bh = src.block_shapes[0][0]
        strip = max(bh, 256 // bh * bh)
        parts = []
        for row in range(0, src.height, strip):
            h = min(strip, src.height - row)
            a = read_window(src, "FUSED", (row, 0, h, src.width), indexes=list(bands), masked=True)
            parts.append(a[:, (-row) % step :: step, ::step])
        return _with_validity(np.ma.concatenate(parts, axis=1))
    finally:
        if src is not ds:
            src.close()


def rgb_colorinterp(alpha: bool) -> list[ColorInterp]:
    """Red, green, blue (and alpha): the colour interpretation of the display product's bands."""
    return [ColorInterp.red, ColorInterp.green, ColorInterp.blue] + ([ColorInterp.alpha] if alpha else [])
