"""Opening single rasters, the GDAL environment, and windowed reads of one file.

Everything that touches a raster file goes through :mod:`pansharpen_cli.io`; this module holds
what the rest of it shares, and the windowed reads of one opened file that the pipeline needs
(:func:`read_filled`, :func:`read_masked`), so that it never calls rasterio itself. Windows are
given as (row, col, height, width) in the file's pixels.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.transform import Affine
from rasterio.windows import Window

from ..base.errors import InputError, InputFileError
from .gdalpaths import gdal_name, is_gdal_path

#: GDAL block cache for our reads and writes: bounded, so memory does not grow with the scene. Note:
#: rasterio hands an integer GDAL_CACHEMAX to GDAL as bytes, so this is 256 bytes, not MB (no cache);
#: measured on a 4096^2 x 4 MTF-GLP-HPM fusion, 256 MB gave no clear gain (2.87-3.03 s against
#: 3.00-3.08 s) for 30-40 MB more memory, so it is kept until a zero-shot measurement says otherwise.
GDAL_CACHE_MB = 256

__all__ = [
    "GDAL_CACHE_MB",
    "SUPPORTED_DTYPES",
    "alpha_bands",
    "check_dtype",
    "gcp_only",
    "gdal_env",
    "has_mask",
    "is_complex",
    "is_georeferenced",
    "open_raster",
    "read_filled",
    "read_masked",
    "read_window",
]

SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32", "float32", "float64")


def gdal_env() -> rasterio.Env:
    """The GDAL configuration used by every command (a bounded block cache).

    GDAL's threads are asked for per file instead: when decoding a compressed GeoTIFF (open option
    of :func:`open_raster`) and when encoding the output (the writer's creation options). Set for
    every file (``GDAL_NUM_THREADS``), a window of an uncompressed striped file took 40 ms to read
    instead of 2.4 ms.
    """
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def _open(p: str | Path) -> rasterio.io.DatasetReader:
    """``rasterio.open``; a compressed GeoTIFF reopened with GDAL's decoding threads."""
    ds = rasterio.open(p)
    if ds.driver == "GTiff" and ds.compression is not None:
        ds.close()
        ds = rasterio.open(p, NUM_THREADS="ALL_CPUS")
    return ds


def _check_local(given: str, role: str) -> None:
    """A local input exists and is a file (GDAL paths are checked by opening them).

    Raises:
        InputFileError: missing, or a directory; naming the path as given.
    """
    if not os.path.exists(given):
        raise InputFileError(f"{role} file not found: {given}")
    if os.path.isdir(given):
        raise InputFileError(f"{role} path is a directory, expected a raster file: {given}")


#: What a GDAL path needs, said when one cannot be opened.
GDAL_PATH_HINT = (
    "a GDAL path needs the right prefix (/vsizip/ or zip:// for a zip archive, /vsicurl/ or https:// "
    "for a URL, /vsis3/ or s3:// for S3) and, for a remote file, network access"
)


def _cannot_open(given: str, role: str, exc: RasterioIOError, gdal_path: bool) -> InputFileError:
    cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not gdal_path:
        return InputFileError(f"cannot open {role} {given} as a raster: {cause}")
    if "does not exist in the file system" in cause:
        cause = "no such file"
    return InputFileError(f"cannot open {role} {given} (GDAL: {cause}): {GDAL_PATH_HINT}")


def open_raster(path: str | os.PathLike, role: str) -> rasterio.io.DatasetReader:
    """Open a raster for reading; ``role`` ("PAN", "MS", "fused", ...) names it in errors.

    ``path`` is a local file or a GDAL path (``/vsizip/a.zip/pan.tif``, ``zip://a.zip!pan.tif``,
    ``/vsicurl/https://...``, ``s3://...``: :mod:`.gdalpaths`), which is found by opening it.

    Raises:
        InputFileError: missing, a directory, or not readable as a raster; naming the path as given.
    """
    given = os.fspath(path)
    gdal = is_gdal_path(given)
    if not gdal:
        _check_local(given, role)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _open(gdal_name(given) if gdal else Path(given))
    except RasterioIOError as exc:
        raise _cannot_open(given, role, exc, gdal) from None


def is_georeferenced(ds: rasterio.io.DatasetReader) -> bool:
    """True when the dataset has a CRS or a non-identity geotransform."""
    return ds.crs is not None or ds.transform != Affine.identity()


def gcp_only(ds: rasterio.io.DatasetReader) -> list[GroundControlPoint]:
    """The dataset's ground control points when they are its only georeferencing (no CRS, no
    geotransform), else an empty list."""
    return [] if is_georeferenced(ds) else list(ds.gcps[0])


def is_complex(dtype: str) -> bool:
    """Whether a rasterio dtype name is complex (``complex64``, ``complex_int16`` ...)."""
    return dtype.startswith("complex")


def check_dtype(ds: rasterio.io.DatasetReader, role: str) -> None:
    """Refuse data types the tool does not handle (complex, int8, ...).

    Raises:
        InputError: naming the file and how to convert it.
    """
    dt = ds.dtypes[0]
    if is_complex(dt):
        raise InputError(
            f"{role} {ds.name} has a complex data type ({dt}), which cannot be pansharpened: make a real image "
            "first (its amplitude, or its real part with gdal_translate -ot Float32)"
        )
    if dt not in SUPPORTED_DTYPES:
        raise InputError(
            f"{role} {ds.name} has data type {dt}: expected one of {', '.join(SUPPORTED_DTYPES)} "
            "(convert it with gdal_translate -ot Float32)"
        )


def alpha_bands(ds: rasterio.io.DatasetReader) -> list[int]:
    """The 1-based bands whose colour interpretation is alpha (GDAL's transparency band)."""
    return [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]


def has_mask(ds: rasterio.io.DatasetReader) -> bool:
    """Whether the dataset's validity is a per-dataset mask (an internal or ``.msk`` mask, or an
    alpha band) rather than, or beside, a nodata value: what GDAL and QGIS honour as nodata."""
    return any(MaskFlags.per_dataset in f for f in ds.mask_flag_enums)


def _window_text(window: tuple[int, int, int, int] | None) -> str:
    if window is None:
        return "the whole raster"
    row, col, height, width = window
    return f"rows {row}..{row + height - 1}, cols {col}..{col + width - 1}"


def read_window(
    src: rasterio.io.DatasetReader,
    role: str,
    window: tuple[int, int, int, int] | None,
    indexes: int | list[int] | None = None,
    name: str | None = None,
    masks: bool = False,
    **kw,
) -> np.ndarray:
    """``src.read`` of a window (row, col, height, width; None: all), for every read of an input.

    Args:
        src: an opened dataset (or a warped VRT of one).
        role, name: how the error names the file ("PAN", "MS"; the file, default ``src.name``).
        indexes, **kw: as for rasterio's ``read``.
        masks: read the bands' GDAL masks (``read_masks``: 0 nodata, 255 data) instead.

    Raises:
        InputFileError: the read failed: naming the file and the window, as a damaged file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            win = None if window is None else Window(window[1], window[0], window[3], window[2])
            return (src.read_masks if masks else src.read)(indexes, window=win, **kw)
    except RasterioIOError as exc:
        cause = str(exc.__cause__ or exc).splitlines()[0]
        raise InputFileError(
            f"cannot read {role} {name or src.name} ({_window_text(window)}): the file looks damaged "
            f"(truncated or corrupt; GDAL says: {cause}): check it with gdalinfo -checksum"
        ) from None


def read_filled(
    ds: rasterio.io.DatasetReader, row: int, col: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read a window of every band with its invalid pixels filled, and where it holds data.

    Nodata (the dataset's mask) and non-finite values are invalid; they are replaced by the mean of
    the band's valid pixels in the window (0 for a band with none).

    Args:
        ds: an opened dataset.
        row, col, height, width: the window, in the dataset's pixels.

    Returns:
        (B, height, width) float64 values, and the (height, width) bool mask of the pixels valid in
        every band.
    """
    a = read_window(ds, "input", (row, col, height, width), masked=True).astype(np.float64)
    a = np.ma.masked_invalid(a)
    if a.mask is np.ma.nomask or not a.mask.any():
        return np.asarray(a.filled(0.0) if np.ma.isMaskedArray(a) else a), np.ones((height, width), bool)
    means = a.mean(axis=(1, 2)).filled(0.0)
    return np.where(a.mask, means[:, None, None], a.data), ~a.mask.any(axis=0)


def read_masked(ds: rasterio.io.DatasetReader, row: int, col: int, height: int, width: int) -> np.ndarray:
    """Read a window of every band with NaN where the dataset's mask says nodata.

    Args:
        ds: an opened dataset.
        row, col, height, width: the window, in the dataset's pixels.

    Returns:
        (B, height, width) float64.
    """
    return read_window(ds, "input", (row, col, height, width), masked=True).astype(np.float64).filled(np.nan)
