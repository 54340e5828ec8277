"""Writing rasters: output-path checks, conversion to the output dtype, an atomic tiled writer.

:class:`OutputWriter` writes a tiled, compressed GeoTIFF by windows into a temporary file in the
destination directory and renames it over the destination only on :meth:`OutputWriter.commit`, so
an error or Ctrl-C never leaves a partial output. A COG is built as a tiled GeoTIFF first and
copied by GDAL's COG driver (overviews, layout) at commit. Overviews asked for (``--overviews``)
are built in the temporary file at commit, before the rename (a COG copy keeps them).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.transform import Affine
from rasterio.windows import Window

from ..base.errors import OutputError
from .checked import checked, silenced
from .creation import check_dtype_options
from .overviews import build_overviews
from .paths import check_output_path  # noqa: F401 - moved to io/paths.py, kept importable here
from .space import Footprint, check_free_space
from .tempfiles import forget_temp, new_temp, remove_stale_temps, temps_of

__all__ = [
    "Footprint",
    "OutputSpec",
    "OutputWriter",
    "check_output_fits",
    "check_output_path",
    "default_creation_options",
    "dtype_range",
    "to_dtype",
]

log = logging.getLogger(__name__)

#: Creation options that set the tiling; rasterio takes them as profile keys of their own.
_TILING_KEYS = ("TILED", "BLOCKXSIZE", "BLOCKYSIZE")


def check_output_fits(out: Path, fits: Footprint) -> list[Path]:
    """Before the work, once the output's grid is known: remove the temporary files of ``out`` that
    crashed runs left (:func:`.tempfiles.remove_stale_temps`; they take space too), refuse creation
    options the dtype cannot have, and refuse an output the disk cannot hold.

    Returns:
        The stale temporary files removed.

    Raises:
        UsageError: a creation option wrong for the dtype.
        OutputError: ``cannot write OUT: no space left on device (needs about X MB, N MB free)``.
    """
    removed = remove_stale_temps(out)
    opts = _effective(fits.creation_options, fits.dtype)
    check_dtype_options(fits.fmt, opts, fits.dtype, fits.count)
    check_free_space(out, fits)
    return removed


def dtype_range(dtype: str) -> tuple[float, float]:
    """Representable (min, max) of a numpy dtype name."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    info = np.finfo(dtype)
    return float(info.min), float(info.max)


def to_dtype(arr: np.ndarray, dtype: str, nodata: float | None, valid: np.ndarray | None) -> np.ndarray:
    """Convert fused float values to the output dtype: round and clip integers, keep nodata as nodata.

    Args:
        arr: (B, H, W) float array.
        dtype: output dtype name.
        nodata: output nodata value (None: no nodata).
        valid: (H, W) bool, False where the output is nodata; None means all valid.

    Returns:
        (B, H, W) array of ``dtype``. Valid pixels of integer outputs that would round to the nodata
        value at either end of the range are moved one step away from it (floats: to the next
        representable value up), so data never reads as nodata. Invalid pixels are ``nodata`` (NaN
        for a float output without one). NaN in a valid pixel of an integer output becomes the bottom
        of the usable range.
    """
    out_dt = np.dtype(dtype)
    lo, hi = dtype_range(dtype)
    if np.issubdtype(out_dt, np.integer):
        if nodata is not None and nodata == lo:
            lo += 1
        elif nodata is not None and nodata == hi:
            hi -= 1
        # rint, then clip with NaN taken to ``lo`` (fmax ignores a NaN): the same values as
        # clip(rint(nan_to_num(arr, nan=lo))), in place, in three passes
        res = np.rint(arr)
        np.fmax(res, lo, out=res)
        np.fmin(res, hi, out=res)
        res = res.astype(out_dt)
    else:
        res = arr.astype(out_dt)
        if nodata is not None and not math.isnan(nodata):
            # Valid data equal to the nodata value (a clipped 0, say) moves to the next float up.
            hit = res == nodata
            if hit.any():
                res[hit] = np.nextafter(out_dt.type(nodata), out_dt.type(np.inf))
    if valid is not None and nodata is not None:
        res[:, ~valid] = nodata
    elif valid is not None and np.issubdtype(out_dt, np.floating):
        res[:, ~valid] = np.nan
    return res


@dataclass
class OutputSpec:
    """What to write: grid, dtype, bands, metadata and creation options.

    Attributes:
        path: the destination file.
        width, height, count, dtype: raster size, band count and dtype name.
        crs, transform: georeferencing (None: none).
        gcps: ground control points and their CRS, for an output without a geotransform (None: none).
        nodata: nodata value (None: none).
        fmt: "GTiff" or "COG".
        creation_options: GDAL creation options, over :func:`default_creation_options`.
        descriptions: band descriptions (empty ones are skipped).
        colorinterp: colour interpretation per band (used when there is one per band).
        scaling: (scale, offset, unit) per band, GDAL's band metadata (used when there is one per
            band and one of them is not (1, 0, none)).
        tags: dataset metadata.
        area_or_point: "Point" sets the AREA_OR_POINT=Point tag.
        block: tile side in pixels.
        overviews: the overview factors to build (:mod:`.overviews`; empty: none).
    """

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    crs: rasterio.crs.CRS | None
    transform: Affine | None
    nodata: float | None
    fmt: str = "GTiff"
    creation_options: dict[str, str] = field(default_factory=dict)
    descriptions: Sequence[str | None] = ()
    colorinterp: Sequence[ColorInterp] = ()
    scaling: Sequence[tuple[float, float, str | None]] = ()
    tags: dict[str, str] = field(default_factory=dict)
    area_or_point: str = "Area"
    block: int = 256
    gcps: tuple[list, rasterio.crs.CRS | None] | None = None
    overviews: tuple[int, ...] = ()

    def footprint(self) -> Footprint:
        """What decides the file's size (:mod:`.space`)."""
        return Footprint(
            self.width,
            self.height,
            self.count,
            self.dtype,
            self.fmt,
            dict(self.creation_options),
            self.block,
            bool(self.overviews),
        )


def default_creation_options(dtype: str) -> dict[str, str]:
    """Tiled, DEFLATE-compressed at level 1, with the predictor that suits the dtype, BIGTIFF when
    needed. Level 1 rather than GDAL's 6: measured on a 4096^2 x 4 uint16 fusion, 3% larger files
    (71 against 69 MB) written 2.3x faster (1.75 against 3.95 s); ``--co ZLEVEL=6`` restores it."""
    pred = "3" if np.issubdtype(np.dtype(dtype), np.floating) else "2"
    return {"COMPRESS": "DEFLATE", "ZLEVEL": "1", "PREDICTOR": pred, "BIGTIFF": "IF_SAFER", "NUM_THREADS": "ALL_CPUS"}


def _effective(user: dict[str, str], dtype: str) -> dict[str, str]:
    """The user's ``--co`` over :func:`default_creation_options`; an NBITS that GDAL's horizontal
    predictor cannot take (11 for 11-bit WorldView data) drops the default predictor (a GeoTIFF's:
    NBITS like that is refused for a COG, :func:`.creation.check_dtype_options`)."""
    opts = default_creation_options(dtype)
    opts.update({k.upper(): v for k, v in user.items()})
    keys = {k.upper() for k in user}
    if "PREDICTOR" not in keys and str(opts.get("NBITS", "8")) not in ("8", "16", "32", "64"):
        opts["PREDICTOR"] = "1"
    return opts


def _gtiff_profile(spec: OutputSpec, opts: dict[str, str]) -> dict[str, Any]:
    """The rasterio profile of the tiled GeoTIFF for ``spec`` with creation options ``opts``."""
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": spec.width,
        "height": spec.height,
        "count": spec.count,
        "dtype": spec.dtype,
        "nodata": spec.nodata,
        "tiled": True,
        "blockxsize": spec.block,
        "blockysize": spec.block,
        **{k.lower(): v for k, v in opts.items() if k not in _TILING_KEYS},
    }
    for k in _TILING_KEYS:
        if k in opts:
            profile[k.lower()] = opts[k]
    if spec.crs is not None:
        profile["crs"] = spec.crs
    if spec.transform is not None:
        profile["transform"] = spec.transform
    elif spec.gcps is not None:
        profile["gcps"], profile["crs"] = spec.gcps
    return profile


class OutputWriter:
    """Write a raster by windows into a temporary file, renamed over the destination on commit.

    Use as a context manager: leaving the block with an exception (or Ctrl-C, SIGTERM) removes the
    temporary file (created at the first write) and leaves no partial output. Call :meth:`commit`
    inside the block to publish the file. Every write, the close and the COG copy are checked
    (:func:`.checked.checked`): an error or warning of GDAL or libtiff fails the write, removes the
    temporary file(s) and raises one :class:`OutputError`; an existing destination is kept.

    Args:
        spec: what to write.

    Raises:
        OutputError: an unknown format; at the first write, too little free space for the output
            or the temporary file cannot be created.
    """

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec
        self.tmp = new_temp(spec.path)  # short: an output name of 255 characters still works
        self._need = spec.footprint().bytes_needed()
        self._cog_tmp: Path | None = None
        opts = _effective(spec.creation_options, spec.dtype)
        fmt = spec.fmt.upper()
        if fmt not in ("GTIFF", "COG"):
            raise OutputError(f"--of {spec.fmt}: expected GTiff or COG")
        if fmt == "COG":
            # Build a tiled GTiff first, then let GDAL's COG driver copy it (overviews, layout).
            self._cog_opts = opts
            opts = dict(default_creation_options(spec.dtype))
        self._profile = _gtiff_profile(spec, opts)
        self._ds: rasterio.io.DatasetWriter | None = None
        self.fmt = fmt

    @property
    def ds(self) -> rasterio.io.DatasetWriter:
        """The temporary file, created on first use: inside the ``with`` block, so that a signal
        arriving while it is created still finds :meth:`abort` on the way out.

        Raises:
            OutputError: too little free space; the temporary file cannot be created.
        """
        if self._ds is None:
            check_free_space(self.spec.path, self.spec.footprint())
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    self._ds = rasterio.open(self.tmp, "w", **self._profile)
            except (RasterioIOError, rasterio.errors.RasterioError, OSError) as exc:
                raise OutputError(f"cannot create {self.spec.path}: {str(exc).splitlines()[0]}") from None
        return self._ds

    def _checked(self) -> checked:
        return checked(self.spec.path, self.abort, self._need)

    def write(self, arr: np.ndarray, row: int, col: int) -> None:
        """Write (B, h, w) at (row, col) of the output.

        Raises:
            OutputError: the write failed (``cannot write OUT: no space left on device (...)``).
        """
        with self._checked():
            self.ds.write(arr, window=Window(col, row, arr.shape[2], arr.shape[1]))

    def write_mask(self, valid: np.ndarray, row: int, col: int) -> None:
        """Write (h, w) validity (True: valid) at (row, col) into the file's internal mask (GDAL's
        per-dataset mask, which the COG copy keeps).

        Raises:
            OutputError: as :meth:`write`.
        """
        mask = np.where(valid, np.uint8(255), np.uint8(0))
        with self._checked(), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            self.ds.write_mask(mask, window=Window(col, row, mask.shape[1], mask.shape[0]))

    def _finish_metadata(self) -> None:
        s = self.spec
        tags = dict(s.tags)
        if s.area_or_point.lower() == "point":
            tags["AREA_OR_POINT"] = "Point"
        self.ds.update_tags(**tags)
        for i, d in enumerate(s.descriptions, start=1):
            if d:
                self.ds.set_band_description(i, d)
        if len(s.scaling) == s.count and any(x != (1.0, 0.0, None) for x in s.scaling):
            self.ds.scales = [x[0] for x in s.scaling]
            self.ds.offsets = [x[1] for x in s.scaling]
            self.ds.units = [x[2] or "" for x in s.scaling]
        if len(s.colorinterp) == s.count:
            try:
                self.ds.colorinterp = list(s.colorinterp)
            except Exception:  # noqa: BLE001 - GDAL refuses some combinations; keep its default
                log.debug("colour interpretation not carried over", exc_info=True)

    def _cog_copy(self) -> Path:
        from rasterio.shutil import copy as rio_copy

        self._cog_tmp = self.tmp.with_suffix(".cog")
        opts = {k: v for k, v in self._cog_opts.items() if k not in _TILING_KEYS}
        if "ZLEVEL" in opts:  # the COG driver calls GTiff's DEFLATE ZLEVEL "LEVEL"
            opts.setdefault("LEVEL", opts.pop("ZLEVEL"))
        opts.setdefault("BLOCKSIZE", str(max(128, self.spec.block * 2)))  # the COG driver's least
        opts.setdefault("COPY_SRC_MDD", "YES")  # every metadata domain (rio_overview), not the default only
        rio_copy(self.tmp, self._cog_tmp, driver="COG", **opts)
        self.tmp.unlink()
        return self._cog_tmp

    def commit(self) -> None:
        """Write the metadata, (build the overviews,) close, (COG: copy, which keeps them), flush to
        disk, read the file back, and move it over the destination.

        Raises:
            OutputError: the overviews, flushing, the COG copy, the read-back or the rename failed.
        """
        self._finish_metadata()
        with self._checked():
            if self.spec.overviews:
                build_overviews(self.ds, self.spec.overviews)
            self.ds.close()
            final_tmp = self._cog_copy() if self.fmt == "COG" else self.tmp
            verify_written(final_tmp, self.spec)
            os.replace(final_tmp, self.spec.path)
        forget_temp(self.tmp)
        _fsync_dir(self.spec.path)

    def abort(self) -> None:
        """Close and remove the temporary file(s); the destination is left untouched."""
        try:
            if self._ds is not None and not self._ds.closed:
                with silenced():  # closing flushes: libtiff repeats its failure
                    self._ds.close()
        except (RasterioIOError, rasterio.errors.RasterioError, OSError):
            log.debug("closing the temporary output failed", exc_info=True)
        finally:
            for p in temps_of(self.tmp):
                p.unlink(missing_ok=True)
            forget_temp(self.tmp)

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def verify_written(path: Path, spec: OutputSpec) -> None:
    """Flush ``path`` to disk, then read it back: its header (size, bands, dtype, tags) and its
    last block, where a truncated file fails.

    Raises:
        OutputError: the file does not read back as written; GDAL's own errors raise (and are
            reported) through the :func:`.checked.checked` block around the call.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            shape = (ds.width, ds.height, ds.count, ds.dtypes[0])
            tags = ds.tags()
            expected = (spec.width, spec.height, spec.count, spec.dtype)
            if shape != expected or any(k not in tags for k in spec.tags):
                raise OutputError(f"cannot write {spec.path}: the written file does not read back as written")
            bh, bw = ds.block_shapes[0]
            row, col = (ds.height - 1) // bh * bh, (ds.width - 1) // bw * bw
            ds.read(window=Window(col, row, ds.width - col, ds.height - row))


def _fsync_dir(path: Path) -> None:
    """Make the rename to ``path`` durable (POSIX: fsync of its folder); skipped where refused."""
    try:
        fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("the output folder cannot be synced", exc_info=True)
    finally:
        os.close(fd)
