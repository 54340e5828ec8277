"""The Python API: fuse files or in-memory arrays from a script or a notebook, with the options,
defaults and checks of ``pansharpen fuse``.

Sits at the top with the command line (both call :mod:`pansharpen_cli.pipeline.params`, where the
options are defined once). ``import pansharpen_cli`` stays light: the package reaches this module
only when one of its names is first used. docs/python-api.md is the user's guide.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base.errors import (
    DeviceError,
    InputError,
    InputFileError,
    ManifestError,
    OptionError,
    OutputError,
    OutputPathError,
    PansharpenError,
    UsageError,
    WeightsError,
)
from .base.progress import Progress, no_progress
from .io.arrays import RasterArray
from .methods import DEFAULT_METHOD
from .pipeline import arrays as _arrays
from .pipeline import params as _params
from .pipeline.fuse import FuseResult

if TYPE_CHECKING:
    import xarray

__all__ = [
    "ARRAY_OPTIONS",
    "OPTIONS",
    "DeviceError",
    "FuseResult",
    "InputError",
    "InputFileError",
    "ManifestError",
    "OptionError",
    "OutputError",
    "OutputPathError",
    "PansharpenError",
    "UsageError",
    "WeightsError",
    "fuse",
    "fuse_arrays",
]

#: The option names :func:`fuse` takes (those of ``pansharpen fuse``: ``--pan-band`` is ``pan_band``).
OPTIONS: tuple[str, ...] = _params.NAMES
#: The option names :func:`fuse_arrays` takes: those of :func:`fuse` less the ones about input and
#: output files (``of``, ``co``, ``pan_band``, ``assume_aligned``, ``overviews``).
ARRAY_OPTIONS: tuple[str, ...] = tuple(
    n for n in OPTIONS if n not in ("of", "co", "pan_band", "assume_aligned", "overviews")
)

PathLike = str | os.PathLike


def fuse(
    pan: PathLike,
    ms: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> FuseResult:
    """Fuse a PAN and an MS raster file into a pansharpened GeoTIFF on the PAN grid.

    The same run as ``pansharpen fuse PAN MS... OUT`` with the same options and defaults: the
    output (values and tags) is the command's.

    Args:
        pan: the PAN raster file.
        ms: the MS raster file, or a list of single-band files in band order.
        out: the output file (written atomically: complete, or not at all).
        progress: called as ``progress(task, completed, total, info)`` as the stages go on
            (``"statistics"``, ``"warmup"``, ``"train"``, ``"fuse"`` ...); None: no progress.
        **options: the options of ``pansharpen fuse`` by name (``method="mtf-glp-hpm"``,
            ``sensor="wv3"``, ``pan_band=1``, ``co={"COMPRESS": "ZSTD"}``, ``iterations=0``,
            ``report="run.json"`` ...); :data:`OPTIONS` lists them.

    Returns:
        What was done: the output path, method, ratio, size, seconds per stage, warnings, notes and
        the method's report.

    Raises:
        TypeError: an option name that ``fuse`` does not take (the message lists the valid ones).
        UsageError: an option value that is wrong whatever the files (type, range, unknown name),
            or an output path that cannot be used (:class:`OutputPathError`).
        InputFileError: an input missing or not a raster.
        InputError: a pair that cannot be fused as given.
        OutputError: the output cannot be written (no space, a folder that refuses it).
        OptionError: an option that does not fit the files (gains for another band count ...).
        WeightsError: a ``weights`` file missing, damaged or for another network.
        DeviceError: ``device="cuda"`` without a GPU.
    """
    p = _params.from_keywords("fuse", options)
    ms_list = [ms] if isinstance(ms, (str, os.PathLike)) else list(ms)
    return _params.run(pan, ms_list, out, p, progress or no_progress)


def fuse_arrays(
    pan: np.ndarray | xarray.DataArray,
    ms: np.ndarray | xarray.DataArray,
    ratio: int | None = None,
    method: str = DEFAULT_METHOD,
    sensor: str | None = None,
    *,
    nodata: float | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> np.ndarray | xarray.DataArray:
    """Fuse in-memory PAN and MS arrays; any method, the zero-shot ones included.

    The arrays go through the same pipeline as files (written to a temporary folder, fused, read
    back), so the result equals :func:`fuse` on the same data written as files.

    Args:
        pan: (H, W) or (1, H, W) array; or an ``xarray.DataArray`` (with rioxarray's ``.rio``
            georeferencing when it has one).
        ms: (B, h, w) array (or (h, w): one band) with H = h * ratio and W = w * ratio exactly;
            or an ``xarray.DataArray``.
        ratio: the PAN/MS ratio (None: H / h).
        method: the fusion method (``pansharpen fuse --help`` lists them).
        sensor: the sensor preset for the MTF gains (None: generic gains).
        nodata: the value of missing pixels in both arrays (None: none; NaN in a float array is
            missing too).
        progress: called as ``progress(task, completed, total, info)``; None: no progress.
        **options: further options of ``pansharpen fuse`` (``dtype``, ``gains``, ``iterations``,
            ``seed``, ``device``, ``weights``, ``tile`` ...); :data:`ARRAY_OPTIONS` lists them.

    Returns:
        The fused (B, H, W) array in ``dtype`` if given, else in the MS's dtype (integers rounded
        and clipped, as the command line writes them; ``dtype="float32"`` keeps the fractions).
        Missing pixels hold ``nodata`` (NaN in a float result). A ``DataArray`` when ``pan`` or
        ``ms`` is one: the PAN's ``y``/``x`` coordinates (its CRS with rioxarray), the MS's
        ``band`` coordinate and the ``PANSHARPEN_*`` tags as attributes.

    Raises:
        TypeError: an option name that ``fuse_arrays`` does not take.
        InputError: shapes that are not an exact ratio apart (the message says how to crop), a
            PAN with several bands, a dtype a GeoTIFF cannot hold, ``nodata`` that does not fit.
        UsageError: an option value that is wrong (type, range, unknown name).
        WeightsError, DeviceError, OptionError: as for :func:`fuse`.
    """
    given = {"ratio": ratio, "method": method, "sensor": sensor, **options}
    p = _params.from_keywords("fuse_arrays", given, ARRAY_OPTIONS)
    pr, mr = _raster(pan), _raster(ms)
    if (pr.transform is None) != (mr.transform is None):  # one grid only: align by array geometry
        pr.transform = pr.crs = mr.transform = mr.crs = None
    out = _arrays.fuse_arrays(pr, mr, p, nodata, progress or no_progress)
    if _is_dataarray(pan) or _is_dataarray(ms):
        return _to_dataarray(out, pan, ms)
    return out.data


def _is_dataarray(a: Any) -> bool:
    """Whether ``a`` is an ``xarray.DataArray`` (without importing xarray)."""
    return any(c.__name__ == "DataArray" and c.__module__.startswith("xarray") for c in type(a).__mro__)


def _raster(a: Any) -> RasterArray:
    """An array, or a DataArray with its grid and nodata from rioxarray's ``.rio`` when present."""
    if not _is_dataarray(a):
        return RasterArray(np.asarray(a))
    rio = _rio(a)
    if rio is None:
        return RasterArray(np.asarray(a.values))
    a = a.transpose(..., rio.y_dim, rio.x_dim)
    transform, crs = rio.transform(), rio.crs
    georef = crs is not None or not transform.is_identity
    return RasterArray(
        np.asarray(a.values),
        transform if georef else None,
        crs.to_wkt() if crs is not None else None,
        rio.nodata,
    )


def _rio(a: Any) -> Any:
    """rioxarray's accessor of a DataArray with x/y dimensions, else None."""
    try:
        rio = a.rio
        rio.x_dim  # noqa: B018 - raises when the dimensions are not spatial
        return rio
    except Exception:  # noqa: BLE001 - no rioxarray, or no spatial dimensions
        return None


def _to_dataarray(out: RasterArray, pan: Any, ms: Any) -> xarray.DataArray:
    """The fused raster as a DataArray: the PAN's y/x coordinates when on its grid, else from the
    output's geotransform; the MS's band coordinate; tags as attributes; CRS with rioxarray."""
    import xarray as xr

    b, h, w = out.data.shape
    coords: dict[str, Any] = {"band": np.arange(1, b + 1)}
    if _is_dataarray(ms) and "band" in ms.coords and ms.coords["band"].size == b:
        coords["band"] = ms.coords["band"].values
    dims = ("band", "y", "x")
    spatial = _spatial_coords(pan, h, w)
    if spatial is not None:
        dims, yx = ("band", *spatial[0]), spatial[1]
        coords.update(yx)
    elif out.transform is not None:
        t = out.transform
        coords["x"] = t.c + t.a * (np.arange(w) + 0.5)
        coords["y"] = t.f + t.e * (np.arange(h) + 0.5)
    da = xr.DataArray(out.data, dims=dims, coords=coords, attrs=dict(out.tags))
    if out.crs is not None and _rio(da) is not None:
        da = da.rio.write_crs(out.crs)
    if out.nodata is not None and _rio(da) is not None:
        da = da.rio.write_nodata(out.nodata)
    return da


def _spatial_coords(pan: Any, h: int, w: int) -> tuple[tuple[str, str], dict[str, Any]] | None:
    """The PAN DataArray's (y, x) dimension names and coordinates when it is (h, w), else None."""
    if not _is_dataarray(pan) or pan.ndim not in (2, 3):
        return None
    y, x = pan.dims[-2:]
    if (pan.sizes[y], pan.sizes[x]) != (h, w):
        return None
    return (y, x), {d: pan.coords[d].values for d in (y, x) if d in pan.coords}
