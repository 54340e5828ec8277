"""Raster I/O: the only module that uses rasterio.

Opens and checks a PAN/MS pair, works out the fusion grid from the geotransforms, reads tiles with
halos (symmetric padding at the scene edge), and writes tiled GeoTIFF/COG atomically (a temporary
file in the destination directory, renamed at the end).

Geometry: the output is on the PAN grid over the common footprint, trimmed to whole MS pixels. The
"working MS grid" has pixels of exactly ``ratio`` PAN pixels aligned with the PAN. When the MS grid
already is that grid (integer ratio, origin on a PAN pixel corner) the MS is read as is; otherwise
(ratio 0.498 m / 2.0 m, half-pixel offsets such as Landsat's pixel-is-point PAN/MS pair) it is
resampled onto it by GDAL's warper (cubic), which ``-v`` reports.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from .errors import InputError, InputFileError, OutputError
from .tiling import Tile, clipped_extent, pad_symmetric

log = logging.getLogger(__name__)

#: GDAL block cache for our reads and writes (MB): bounded, so memory does not grow with the scene.
GDAL_CACHE_MB = 256


def gdal_env() -> rasterio.Env:
    """The GDAL configuration used by every command (bounded block cache, multithreaded DEFLATE)."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB, GDAL_NUM_THREADS="ALL_CPUS")


SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32", "float32", "float64")
#: Largest misfit (in PAN pixels, accumulated over the scene) accepted as "the same grid".
GRID_TOLERANCE = 0.01


def _open(path: str | os.PathLike, role: str) -> rasterio.io.DatasetReader:
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{role} file not found: {p}")
    if p.is_dir():
        raise InputFileError(f"{role} path is a directory, expected a raster file: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(p)
    except RasterioIOError as exc:
        raise InputFileError(f"cannot open {role} {p} as a raster: {str(exc).splitlines()[0]}") from None


def is_georeferenced(ds: rasterio.io.DatasetReader) -> bool:
    """True when the dataset has a CRS or a non-identity geotransform."""
    return ds.crs is not None or ds.transform != Affine.identity()


def _check_dtype(ds: rasterio.io.DatasetReader, role: str) -> None:
    dt = ds.dtypes[0]
    if dt not in SUPPORTED_DTYPES:
        raise InputError(
            f"{role} {ds.name} has data type {dt}: expected one of {', '.join(SUPPORTED_DTYPES)} "
            "(convert it with gdal_translate -ot Float32)"
        )


@dataclass
class RasterSummary:
    """What ``pansharpen info`` shows about one file."""

    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs: str | None
    transform: tuple[float, ...]
    res: tuple[float, float]
    nodata: float | None
    area_or_point: str
    georeferenced: bool
    bounds: tuple[float, float, float, float]
    value_range: tuple[float, float] | None = None


def summarize(path: str | os.PathLike, role: str = "input", value_range: bool = True) -> RasterSummary:
    """Describe a raster; the value range comes from a decimated read (at most ~1M pixels per band)."""
    with _open(path, role) as ds:
        vr = None
        if value_range:
            step = max(1, int(math.ceil(math.sqrt(ds.width * ds.height / 1e6))))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                data = ds.read(
                    out_shape=(ds.count, max(1, ds.height // step), max(1, ds.width // step)),
                    resampling=Resampling.nearest,
                    masked=True,
                )
            data = np.ma.masked_invalid(data.astype(np.float64))
            if data.count():
                vr = (float(data.min()), float(data.max()))
        return RasterSummary(
            path=str(path),
            width=ds.width,
            height=ds.height,
            count=ds.count,
            dtype=ds.dtypes[0],
            crs=ds.crs.to_string() if ds.crs else None,
            transform=tuple(ds.transform)[:6],
            res=ds.res,
            nodata=ds.nodata,
            area_or_point=ds.tags().get("AREA_OR_POINT", "Area"),
            georeferenced=is_georeferenced(ds),
            bounds=tuple(ds.bounds),
            value_range=vr,
        )


@dataclass
class FusionGrid:
    """How a PAN/MS pair maps onto the output grid.

    Attributes:
        ratio: integer PAN/MS ratio used for fusion.
        measured_ratio: (x, y) ratio of the pixel sizes as read from the files.
        row_off, col_off: offset of the fused region in the PAN (PAN pixels).
        ms_height, ms_width: size of the working MS grid; the output is ratio times that.
        ms_row_off, ms_col_off: offset of the working grid in the native MS (native mode only).
        resample: whether the MS is resampled onto the working grid.
        georeferenced: whether the output gets a CRS and geotransform.
        transform: output geotransform (PAN grid, shifted to the fused region).
        ms_transform: geotransform of the working MS grid.
        crs: output CRS (may be None).
        notes: what will be done, for ``-v`` and ``info``.
        warnings: things the user should know (falls back, crops, non-exact ratios).
    """

    ratio: int
    measured_ratio: tuple[float, float]
    row_off: int
    col_off: int
    ms_height: int
    ms_width: int
    ms_row_off: int
    ms_col_off: int
    resample: bool
    georeferenced: bool
    transform: Affine
    ms_transform: Affine
    crs: rasterio.crs.CRS | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.ms_height * self.ratio

    @property
    def width(self) -> int:
        return self.ms_width * self.ratio


def _near_int(x: float, tol: float) -> bool:
    return abs(x - round(x)) <= tol


def compute_grid(
    pan: rasterio.io.DatasetReader,
    ms: rasterio.io.DatasetReader,
    ratio: int | None = None,
) -> FusionGrid:
    """Work out the fusion grid of a PAN and an MS dataset from their geotransforms.

    Raises:
        InputError: different CRSs, rotated grids, no overlap, MS not coarser than PAN, ratio < 1.5.
    """
    notes: list[str] = []
    warns: list[str] = []
    pan_geo, ms_geo = is_georeferenced(pan), is_georeferenced(ms)
    if pan_geo and ms_geo:
        if (pan.crs is None) != (ms.crs is None) or (pan.crs and ms.crs and pan.crs != ms.crs):
            raise InputError(
                f"PAN and MS have different CRSs ({pan.crs} vs {ms.crs}): reproject the MS to the "
                "PAN's CRS first (gdalwarp -t_srs)"
            )
        for ds, role in ((pan, "PAN"), (ms, "MS")):
            t = ds.transform
            if t.b != 0 or t.d != 0:
                raise InputError(
                    f"{role} {ds.name} has a rotated geotransform: warp it north-up first (gdalwarp)"
                )
        pan_t, ms_t = pan.transform, ms.transform
        georef = True
    else:
        if pan_geo or ms_geo:
            which = "MS" if pan_geo else "PAN"
            warns.append(f"the {which} has no georeferencing: aligning PAN and MS by array geometry")
        else:
            warns.append("no georeferencing in PAN or MS: aligning by array geometry; the output has none")
        pan_t = pan.transform if pan_geo else Affine.identity()
        ms_t = pan_t @ Affine.scale(pan.width / ms.width, pan.height / ms.height)
        georef = pan_geo
    rx = abs(ms_t.a / pan_t.a)
    ry = abs(ms_t.e / pan_t.e)
    if (ms_t.a > 0) != (pan_t.a > 0) or (ms_t.e > 0) != (pan_t.e > 0):
        raise InputError("PAN and MS geotransforms have opposite axis directions: warp one of them first")
    if min(rx, ry) < 1.0:
        raise InputError(
            f"MS pixels are finer than PAN pixels (ratio {rx:.3f} x {ry:.3f}): check the order, "
            "PAN comes first (pansharpen fuse PAN MS OUT)"
        )
    if ratio is None:
        if min(rx, ry) < 1.5:
            raise InputError(
                f"PAN/MS ratio {rx:.3f} x {ry:.3f} is below 1.5: these are not a PAN and an MS "
                "(or pass --ratio)"
            )
        r = int(round((rx + ry) / 2))
        if abs(rx - ry) > 0.05 * r:
            warns.append(f"PAN/MS ratio differs by axis ({rx:.4f} x {ry:.4f}); using {r}")
    else:
        if ratio < 2:
            raise InputError(f"--ratio {ratio} is below 2: expected an integer ratio of at least 2")
        r = int(ratio)
        if abs(rx - r) > 0.1 * r or abs(ry - r) > 0.1 * r:
            warns.append(f"--ratio {r} differs from the measured ratio {rx:.4f} x {ry:.4f}")
    # MS origin in PAN pixel coordinates.
    fx, fy = ~pan_t @ (ms_t.c, ms_t.f)
    exact = (
        abs(rx - r) * ms.width <= GRID_TOLERANCE
        and abs(ry - r) * ms.height <= GRID_TOLERANCE
        and _near_int(fx, GRID_TOLERANCE)
        and _near_int(fy, GRID_TOLERANCE)
    )
    if exact:
        fxi, fyi = int(round(fx)), int(round(fy))
        c0_ms = max(0, math.ceil(-fxi / r))
        r0_ms = max(0, math.ceil(-fyi / r))
        c1_ms = min(ms.width, (pan.width - fxi) // r)
        r1_ms = min(ms.height, (pan.height - fyi) // r)
        ms_w, ms_h = c1_ms - c0_ms, r1_ms - r0_ms
        col_off, row_off = fxi + r * c0_ms, fyi + r * r0_ms
        resample = False
    else:
        # Intersection in PAN pixel coordinates, then whole working MS pixels inside it.
        a_x, b_x = max(0.0, fx), min(float(pan.width), fx + rx * ms.width)
        a_y, b_y = max(0.0, fy), min(float(pan.height), fy + ry * ms.height)
        col_off = max(0, math.ceil(a_x - GRID_TOLERANCE))
        row_off = max(0, math.ceil(a_y - GRID_TOLERANCE))
        ms_w = int(math.floor((b_x - col_off + GRID_TOLERANCE) / r))
        ms_h = int(math.floor((b_y - row_off + GRID_TOLERANCE) / r))
        c0_ms = r0_ms = 0
        resample = True
        notes.append(
            f"MS grid ({rx:.4f} x {ry:.4f} PAN pixels, origin at PAN pixel {fx:.3f}, {fy:.3f}) is not "
            f"aligned with a ratio-{r} grid on the PAN: resampling the MS onto it (cubic)"
        )
    if ms_w < 1 or ms_h < 1:
        raise InputError(
            "PAN and MS footprints do not overlap (or overlap by less than one MS pixel): "
            "check that they are the same scene"
        )
    out_t = pan_t @ Affine.translation(col_off, row_off)
    ms_work_t = out_t @ Affine.scale(r)
    if ms_w * r < pan.width or ms_h * r < pan.height:
        notes.append(
            f"output covers the common footprint: PAN rows {row_off}..{row_off + ms_h * r - 1}, "
            f"cols {col_off}..{col_off + ms_w * r - 1} of {pan.height}x{pan.width}"
        )
    if not exact and not georef:
        resample = False  # array geometry is always aligned by construction
    return FusionGrid(
        ratio=r,
        measured_ratio=(rx, ry),
        row_off=row_off,
        col_off=col_off,
        ms_height=ms_h,
        ms_width=ms_w,
        ms_row_off=r0_ms,
        ms_col_off=c0_ms,
        resample=resample,
        georeferenced=georef,
        transform=out_t,
        ms_transform=ms_work_t,
        crs=pan.crs if georef else None,
        notes=notes,
        warnings=warns,
    )


def _valid_mask(arr: np.ndarray, nodata: float | None) -> np.ndarray:
    """(B, H, W) -> (H, W) bool: every band finite and not nodata."""
    ok = np.isfinite(arr).all(axis=0)
    if nodata is not None and not math.isnan(nodata):
        if np.issubdtype(arr.dtype, np.floating):
            ok &= ~np.isclose(arr, nodata, rtol=1e-6, atol=0).any(axis=0)
        else:
            ok &= (arr != nodata).all(axis=0)
    return ok


class PairReader:
    """An opened PAN/MS pair, read tile by tile on the fusion grid.

    Args:
        pan_path: PAN raster.
        ms_paths: one multiband MS raster, or several rasters whose bands are taken in order.
        pan_band: 1-based band of the PAN file to use (required when it has several bands).
        ratio: force the integer ratio instead of measuring it.

    Use as a context manager. All reads return float32 arrays and a validity mask.
    """

    def __init__(
        self,
        pan_path: str | os.PathLike,
        ms_paths: Sequence[str | os.PathLike],
        *,
        pan_band: int | None = None,
        ratio: int | None = None,
    ) -> None:
        self._open: list[rasterio.io.DatasetReader] = []
        try:
            self._setup(pan_path, ms_paths, pan_band, ratio)
        except BaseException:
            self.close()
            raise

    def _setup(self, pan_path, ms_paths, pan_band, ratio) -> None:
        if not ms_paths:
            raise InputError("no MS file given: expected PAN MS [MS ...] OUT")
        self.pan = _open(pan_path, "PAN")
        self._open.append(self.pan)
        _check_dtype(self.pan, "PAN")
        if pan_band is None:
            if self.pan.count != 1:
                raise InputError(
                    f"PAN {pan_path} has {self.pan.count} bands: pass --pan-band N to say which one is the PAN"
                )
            pan_band = 1
        elif not 1 <= pan_band <= self.pan.count:
            raise InputError(
                f"--pan-band {pan_band} is out of range: {pan_path} has {self.pan.count} band(s)"
            )
        self.pan_band = pan_band
        self.ms_sources: list[tuple[rasterio.io.DatasetReader, int]] = []
        first = None
        for p in ms_paths:
            if Path(p).resolve() == Path(pan_path).resolve():
                raise InputError(f"{p} is given as both PAN and MS")
            ds = _open(p, "MS")
            self._open.append(ds)
            _check_dtype(ds, "MS")
            if first is None:
                first = ds
            elif (ds.width, ds.height, ds.transform, ds.crs) != (
                first.width,
                first.height,
                first.transform,
                first.crs,
            ):
                raise InputError(
                    f"MS file {p} is not on the same grid as {first.name}: band files must share size, "
                    "CRS and geotransform"
                )
            for b in range(1, ds.count + 1):
                self.ms_sources.append((ds, b))
        self.ms = first
        self.multi_file = len(ms_paths) > 1
        self.grid = compute_grid(self.pan, self.ms, ratio)
        self.pan_nodata = self.pan.nodata
        self.ms_nodata = self.ms.nodata
        self.ms_dtype = self.ms.dtypes[0]
        self._vrts: dict[str, WarpedVRT] = {}
        if self.grid.resample:
            for ds in {id(d): d for d, _ in self.ms_sources}.values():
                vrt = WarpedVRT(
                    ds,
                    crs=ds.crs,
                    transform=self.grid.ms_transform,
                    width=self.grid.ms_width,
                    height=self.grid.ms_height,
                    resampling=Resampling.cubic,
                    src_nodata=ds.nodata,
                    nodata=ds.nodata,
                )
                self._vrts[ds.name] = vrt
                self._open.append(vrt)

    # -- metadata ---------------------------------------------------------------------------
    @property
    def n_bands(self) -> int:
        return len(self.ms_sources)

    def band_descriptions(self) -> list[str | None]:
        """MS band descriptions (a single-band file without one is named after the file)."""
        out = []
        for ds, b in self.ms_sources:
            d = ds.descriptions[b - 1]
            if not d and self.multi_file and ds.count == 1:
                d = Path(ds.name).stem
            out.append(d)
        return out

    def band_colorinterp(self) -> list[ColorInterp]:
        return [ds.colorinterp[b - 1] for ds, b in self.ms_sources]

    def area_or_point(self) -> str:
        return self.pan.tags().get("AREA_OR_POINT", "Area")

    # -- reads ------------------------------------------------------------------------------
    def read_pan(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Read a window of the fusion grid from the PAN (fusion-grid pixel offsets).

        Returns:
            (pan (1, height, width) float32, valid (height, width) bool).
        """
        g = self.grid
        win = Window(g.col_off + col, g.row_off + row, width, height)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            arr = self.pan.read(self.pan_band, window=win)[None]
        valid = _valid_mask(arr, self.pan_nodata)
        return arr.astype(np.float32), valid

    def read_ms(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Read a window of the working MS grid (coarse pixel offsets).

        Returns:
            (ms (B, height, width) float32, valid (height, width) bool).
        """
        g = self.grid
        bands = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for ds, b in self.ms_sources:
                if g.resample:
                    src = self._vrts[ds.name]
                    win = Window(col, row, width, height)
                else:
                    src = ds
                    win = Window(g.ms_col_off + col, g.ms_row_off + row, width, height)
                bands.append(src.read(b, window=win))
        arr = np.stack(bands)
        valid = _valid_mask(arr, self.ms_nodata)
        return arr.astype(np.float32), valid

    def read_tile(self, tile: Tile) -> dict[str, np.ndarray]:
        """Read a tile with its halo; beyond the scene edge the halo is mirrored.

        Returns:
            dict with ``pan`` (1, r*(h+2H), r*(w+2H)), ``pan_valid`` (same rows/cols) bool,
            ``ms`` (B, h+2H, w+2H), ``ms_valid`` bool, where H is the tile's halo.
        """
        g, r = self.grid, self.grid.ratio
        r0, r1, pt, pb = clipped_extent(tile.row, tile.height, tile.halo, g.ms_height)
        c0, c1, pl, pr = clipped_extent(tile.col, tile.width, tile.halo, g.ms_width)
        ms, msv = self.read_ms(r0, c0, r1 - r0, c1 - c0)
        pan, panv = self.read_pan(r0 * r, c0 * r, (r1 - r0) * r, (c1 - c0) * r)
        pads, fpads = (pt, pb, pl, pr), (pt * r, pb * r, pl * r, pr * r)
        return {
            "pan": pad_symmetric(pan, fpads),
            "pan_valid": pad_symmetric(panv, fpads),
            "ms": pad_symmetric(ms, pads),
            "ms_valid": pad_symmetric(msv, pads),
        }

    def read_all(self) -> dict[str, np.ndarray]:
        """The whole fused region (for small scenes and training): same keys as :meth:`read_tile`."""
        g = self.grid
        return self.read_tile(Tile(0, 0, g.ms_height, g.ms_width, 0))

    def close(self) -> None:
        for ds in reversed(self._open):
            try:
                ds.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._open = []

    def __enter__(self) -> PairReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_training_raster(path: str | os.PathLike, max_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a whole raster (its central ``max_side`` window if larger) as a training image.

    Returns:
        (array (B, H, W) in the file's dtype, valid (H, W) bool or None when every pixel is valid);
        nodata and non-finite values are invalid (and set to 0).

    Raises:
        InputFileError: the file cannot be read as a raster.
    """
    ds = _open(path, "training image")
    with ds:
        window = None
        if max(ds.height, ds.width) > max_side:
            hh, ww = min(ds.height, max_side), min(ds.width, max_side)
            window = Window((ds.width - ww) // 2, (ds.height - hh) // 2, ww, hh)
            log.warning(
                "training image %s is %dx%d pixels: using its central %dx%d window",
                path,
                ds.width,
                ds.height,
                ww,
                hh,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            a = ds.read(window=window)
        nodata = ds.nodata
    valid = None
    if nodata is not None:
        bad = np.isnan(a) if np.isnan(nodata) else a == nodata
        valid = ~bad.all(axis=0)
    if np.issubdtype(a.dtype, np.floating):
        fin = np.isfinite(a).all(axis=0)
        if not fin.all():
            valid = fin if valid is None else valid & fin
            a = np.where(np.isfinite(a), a, 0)
    return a, valid


# ---------------------------------------------------------------------------------------------
# Writing


def check_output_path(out: str | os.PathLike, inputs: Sequence[str | os.PathLike], overwrite: bool) -> Path:
    """Refuse an output in a missing directory, a directory, an input, or an existing file without
    ``overwrite``.

    Raises:
        OutputError: with the option to change.
    """
    p = Path(out)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"output directory does not exist: {parent} (create it first)")
    if p.is_dir():
        raise OutputError(f"output {p} is a directory: expected a file path like out.tif")
    for i in inputs:
        if p.resolve() == Path(i).resolve():
            raise OutputError(f"output {p} is also an input: choose another output path")
    if p.exists() and not overwrite:
        raise OutputError(f"output {p} exists: pass --overwrite to replace it")
    return p


def dtype_range(dtype: str) -> tuple[float, float]:
    """Representable range of a numpy dtype name."""
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

    Valid pixels of integer outputs that would round to the nodata value at the bottom of the range
    are moved one step away from it (floats: to the next representable value), so data never reads
    as nodata.
    """
    out_dt = np.dtype(dtype)
    lo, hi = dtype_range(dtype)
    if np.issubdtype(out_dt, np.integer):
        if nodata is not None and nodata == lo:
            lo += 1
        elif nodata is not None and nodata == hi:
            hi -= 1
        res = np.clip(np.rint(np.nan_to_num(arr, nan=lo)), lo, hi).astype(out_dt)
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
    """What to write: grid, dtype, bands, metadata and creation options."""

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
    tags: dict[str, str] = field(default_factory=dict)
    area_or_point: str = "Area"
    block: int = 256


def default_creation_options(dtype: str) -> dict[str, str]:
    """Tiled, DEFLATE-compressed, with the predictor that suits the dtype, BIGTIFF when needed."""
    pred = "3" if np.issubdtype(np.dtype(dtype), np.floating) else "2"
    return {"COMPRESS": "DEFLATE", "PREDICTOR": pred, "BIGTIFF": "IF_SAFER", "NUM_THREADS": "ALL_CPUS"}


class OutputWriter:
    """Write a raster by windows into a temporary file, renamed over the destination on commit.

    Use as a context manager: leaving the block with an exception (or Ctrl-C) removes the temporary
    file and leaves no partial output.
    """

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec
        self.tmp = spec.path.with_name(f".{spec.path.name}.{uuid.uuid4().hex[:8]}.tmp.tif")
        self._cog_tmp: Path | None = None
        opts = default_creation_options(spec.dtype)
        user = {k.upper(): v for k, v in spec.creation_options.items()}
        opts.update(user)
        fmt = spec.fmt.upper()
        if fmt not in ("GTIFF", "COG"):
            raise OutputError(f"--of {spec.fmt}: expected GTiff or COG")
        if fmt == "COG":
            # Build a tiled GTiff first, then let GDAL's COG driver copy it (overviews, layout).
            self._cog_opts = opts
            opts = {k: v for k, v in default_creation_options(spec.dtype).items()}
        profile = {
            "driver": "GTiff",
            "width": spec.width,
            "height": spec.height,
            "count": spec.count,
            "dtype": spec.dtype,
            "nodata": spec.nodata,
            "tiled": True,
            "blockxsize": spec.block,
            "blockysize": spec.block,
            **{k.lower(): v for k, v in opts.items() if k not in ("TILED", "BLOCKXSIZE", "BLOCKYSIZE")},
        }
        for k in ("TILED", "BLOCKXSIZE", "BLOCKYSIZE"):
            if k in opts:
                profile[k.lower()] = opts[k]
        if spec.crs is not None:
            profile["crs"] = spec.crs
        if spec.transform is not None:
            profile["transform"] = spec.transform
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self.ds = rasterio.open(self.tmp, "w", **profile)
        except (RasterioIOError, rasterio.errors.RasterioError, OSError) as exc:
            raise OutputError(f"cannot create {spec.path}: {str(exc).splitlines()[0]}") from None
        self.fmt = fmt

    def write(self, arr: np.ndarray, row: int, col: int) -> None:
        """Write (B, h, w) at (row, col) of the output."""
        self.ds.write(arr, window=Window(col, row, arr.shape[2], arr.shape[1]))

    def _finish_metadata(self) -> None:
        s = self.spec
        tags = dict(s.tags)
        if s.area_or_point.lower() == "point":
            tags["AREA_OR_POINT"] = "Point"
        self.ds.update_tags(**tags)
        for i, d in enumerate(s.descriptions, start=1):
            if d:
                self.ds.set_band_description(i, d)
        if len(s.colorinterp) == s.count:
            try:
                self.ds.colorinterp = list(s.colorinterp)
            except Exception:  # noqa: BLE001 - GDAL refuses some combinations; keep its default
                log.debug("colour interpretation not carried over", exc_info=True)

    def commit(self) -> None:
        """Close and move the temporary file over the destination."""
        self._finish_metadata()
        self.ds.close()
        final_tmp = self.tmp
        if self.fmt == "COG":
            from rasterio.shutil import copy as rio_copy

            self._cog_tmp = self.tmp.with_name(self.tmp.name + ".cog.tif")
            opts = {k: v for k, v in self._cog_opts.items() if k not in ("TILED", "BLOCKXSIZE", "BLOCKYSIZE")}
            opts.setdefault("BLOCKSIZE", str(self.spec.block * 2))
            rio_copy(self.tmp, self._cog_tmp, driver="COG", **opts)
            self.tmp.unlink()
            final_tmp = self._cog_tmp
        os.replace(final_tmp, self.spec.path)

    def abort(self) -> None:
        try:
            if not self.ds.closed:
                self.ds.close()
        finally:
            for p in (self.tmp, self._cog_tmp):
                if p is not None and p.exists():
                    p.unlink()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_array(spec: OutputSpec, arr: np.ndarray) -> None:
    """Write a whole (B, H, W) array (small outputs: simulate, reference) atomically."""
    with OutputWriter(spec) as w:
        w.write(arr, 0, 0)
        w.commit()
