"""Arrays to and from plain GeoTIFFs: how ``fuse_arrays`` hands in-memory arrays to the file pipeline.

:func:`write_array` writes an array as an untiled, uncompressed GeoTIFF (a scratch input: fast to
write and to read), with a geotransform and CRS when given, else none (the pipeline then aligns the
pair by array geometry). :func:`read_array` reads a whole raster back with its grid and tags.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine

from .checked import checked
from .raster import is_georeferenced, open_raster, read_window

__all__ = ["RasterArray", "read_array", "write_array"]


@dataclass
class RasterArray:
    """A whole raster in memory.

    Attributes:
        data: (bands, height, width) array in the file's dtype.
        transform: the geotransform (None: not georeferenced).
        crs: the CRS as WKT (None: none).
        nodata: the nodata value (None: none).
        tags: the dataset's default-domain tags.
        descriptions: the band descriptions.
    """

    data: np.ndarray
    transform: Affine | None = None
    crs: str | None = None
    nodata: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    descriptions: tuple[str | None, ...] = ()


def write_array(path: str | os.PathLike, raster: RasterArray) -> None:
    """Write ``raster.data`` (bands, height, width) as a GeoTIFF (its dtype, nodata, grid, band
    descriptions): a checked write (:func:`.checked.checked`).

    Raises:
        OutputError: the write failed (a full disk: the message says so).
    """
    data = raster.data
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "nodata": raster.nodata,
    }
    if raster.transform is not None:
        profile["transform"] = raster.transform
    if raster.crs is not None:
        profile["crs"] = raster.crs
    with checked(Path(path), need=data.nbytes), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
            for i, d in enumerate(raster.descriptions, start=1):
                if d:
                    ds.set_band_description(i, d)


def read_array(path: str | os.PathLike, role: str = "fused") -> RasterArray:
    """Read every band of a raster with its grid, nodata, tags and band descriptions.

    Raises:
        InputFileError: missing or unreadable (``role`` names it).
    """
    with open_raster(path, role) as ds:
        data = read_window(ds, role, None)
        georef = is_georeferenced(ds)
        return RasterArray(
            data,
            ds.transform if georef else None,
            ds.crs.to_wkt() if ds.crs is not None else None,
            ds.nodata,
            ds.tags(),
            tuple(ds.descriptions),
        )
