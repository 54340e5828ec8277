"""Reading a PAN/MS pair tile by tile on the fusion grid, and the summaries ``pansharpen info`` shows.

:class:`PairReader` opens and checks the PAN and one multiband MS file (or several band files on
one grid), works out the :class:`~pansharpen_cli.io.grid.FusionGrid`, and reads tiles with halos:
the halo is read from the scene where it exists and mirrored (symmetric padding) beyond the scene
edge. When the MS is not on the working grid it is read through a GDAL warped VRT (cubic).
Everything it returns is numpy: float32 arrays with (rows, cols) validity masks, the nodata
values, dtypes, band names and file names, so that callers never touch a rasterio dataset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.vrt import WarpedVRT

from ..base.errors import InputError
from ..base.nodata import valid_mask
from ..base.tiling import Tile, clipped_extent, pad_symmetric
from .gdalpaths import gdal_name, is_gdal_path
from .grid import compute_grid
from .raster import alpha_bands, check_dtype, has_mask, is_complex, is_georeferenced, open_raster, read_window

__all__ = ["PairReader", "RasterSummary", "summarize"]


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
    mask: str | None = None  # "alpha band N" or "mask band": nodata marked besides (or instead of) a value


def _value_range(ds: rasterio.io.DatasetReader) -> tuple[float, float] | None:
    """(min, max) of the valid finite values of a decimated read (at most ~1M pixels per band);
    None for a complex raster (no order: the tool does not fuse it, :func:`check_dtype`)."""
    if is_complex(ds.dtypes[0]):
        return None
    step = max(1, int(math.ceil(math.sqrt(ds.width * ds.height / 1e6))))
    data = read_window(
        ds,
        "input",
        None,
        out_shape=(ds.count, max(1, ds.height // step), max(1, ds.width // step)),
        resampling=Resampling.nearest,
        masked=True,
    )
    data = np.ma.masked_invalid(data.astype(np.float64))
    if data.count():
        return float(data.min()), float(data.max())
    return None


def summarize(path: str | os.PathLike, role: str = "input", value_range: bool = True) -> RasterSummary:
    """Describe a raster.

    Args:
        path: the raster file.
        role: how errors name it ("PAN", "MS", ...).
        value_range: also compute the value range, from a decimated read (at most ~1M pixels per band).

    Raises:
        InputFileError: the file cannot be opened as a raster.
    """
    with open_raster(path, role) as ds:
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
            value_range=_value_range(ds) if value_range else None,
            mask=_mask_text(ds),
        )


def _mask_text(ds: rasterio.io.DatasetReader) -> str | None:
    """How the dataset marks nodata besides a nodata value: its alpha band, or a mask; None."""
    if not has_mask(ds):
        return None
    alpha = alpha_bands(ds)
    return f"alpha band {alpha[0]}" if alpha else "mask band"


def _same_input(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two inputs are one file: resolved local paths, GDAL paths by their GDAL names."""
    if is_gdal_path(a) or is_gdal_path(b):
        return gdal_name(a) == gdal_name(b)
    return Path(a).resolve() == Path(b).resolve()


class PairReader:
    """An opened PAN/MS pair, read tile by tile on the fusion grid.

    Args:
        pan_path: PAN raster.
        ms_paths: one multiband MS raster, or several rasters whose bands are taken in order.
        pan_band: 1-based band of the PAN file to use (required when it has several bands).
        ratio: force the integer ratio instead of measuring it.
        assume_aligned: fuse a pair where only one file is georeferenced by array geometry.

    Attributes:
        grid: the :class:`~pansharpen_cli.io.grid.FusionGrid`.
        pan_band: the 1-based PAN band used.
        pan_dtype, ms_dtype: dtype names of the PAN band used and of the MS (one that holds every
            band file's values).
        pan_nodata, ms_nodata: nodata values (None: none; the MS's: the first band file's that has one,
            each file's own marking its bands).
        multi_file: whether the MS bands come from several files.

    Use as a context manager. All reads return float32 arrays and a validity mask.

    Raises:
        InputError, InputFileError: missing or unreadable files, unsupported dtypes, a bad
            ``pan_band``, band files on different grids, or a pair that cannot be aligned.
    """

    def __init__(
        self,
        pan_path: str | os.PathLike,
        ms_paths: Sequence[str | os.PathLike],
        *,
        pan_band: int | None = None,
        ratio: int | None = None,
        assume_aligned: bool = False,
    ) -> None:
        self._open: list[rasterio.io.DatasetReader] = []
        try:
            self._setup(pan_path, ms_paths, pan_band, ratio, assume_aligned)
        except BaseException:
            self.close()
            raise

    # -- opening ----------------------------------------------------------------------------
    def _setup(self, pan_path, ms_paths, pan_band, ratio, assume_aligned) -> None:
        if not ms_paths:
            raise InputError("no MS file given: expected PAN MS [MS ...] OUT")
        self._open_pan(pan_path, pan_band)
        self._open_ms(pan_path, ms_paths)
        self.multi_file = len(ms_paths) > 1
        self.grid = compute_grid(self.pan, self.ms, ratio, assume_aligned)
        self.pan_nodata = self.pan.nodata
        self.pan_dtype: str = self.pan.dtypes[self.pan_band - 1]
        self._ms_band_facts()
        # where a file's per-dataset mask or alpha band is read (None: it has none), once per file
        self._pan_masked = has_mask(self.pan)
        self._ms_mask_band = {d.name: _validity_band(d) for d in self._ms_datasets()}
        self._vrts: dict[str, WarpedVRT] = {}
        if self.grid.resample:
            self._open_warped()

    def _open_pan(self, pan_path, pan_band: int | None) -> None:
        """Open the PAN and choose its band (the only one, or ``pan_band``)."""
        self.pan = open_raster(pan_path, "PAN")
        self._open.append(self.pan)
        check_dtype(self.pan, "PAN")
        alpha = alpha_bands(self.pan)
        data = [b for b in range(1, self.pan.count + 1) if b not in alpha]
        if pan_band is None:
            if len(data) != 1:
                besides = " besides its alpha band" if alpha else ""
                raise InputError(
                    f"PAN {pan_path} has {len(data)} bands{besides}: "
                    "pass --pan-band N to say which one is the PAN"
                )
            pan_band = data[0]
        elif not 1 <= pan_band <= self.pan.count:
            raise InputError(
                f"--pan-band {pan_band} is out of range: {pan_path} has {self.pan.count} band(s)"
            )
        elif pan_band in alpha:
            raise InputError(f"--pan-band {pan_band} is the alpha band of {pan_path}: name a band of data")
        self.pan_band = pan_band

    def _open_ms(self, pan_path, ms_paths) -> None:
        """Open the MS file(s): every band of each, in order; band files must share one grid."""
        self.ms_sources: list[tuple[rasterio.io.DatasetReader, int]] = []
        first = None
        for p in ms_paths:
            if _same_input(p, pan_path):
                raise InputError(f"{p} is given as both PAN and MS")
            ds = open_raster(p, "MS")
            self._open.append(ds)
            check_dtype(ds, "MS")
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
            alpha = alpha_bands(ds)  # transparency, not a spectral band: it says where the data is
            bands = [b for b in range(1, ds.count + 1) if b not in alpha]
            if not bands:
                raise InputError(f"MS file {p} holds only an alpha band: expected spectral bands")
            self.ms_sources.extend((ds, b) for b in bands)
        self.ms = first

    def _ms_band_facts(self) -> None:
        """The MS's nodata value and dtype over its band files: each file's nodata marks its own bands
        (read_ms), the MS's is the first file's that has one; the dtype is one that holds every
        file's values (uint16 and float32 band files: float32), with a warning when they differ."""
        files = self._ms_datasets()
        values = [d.nodata for d in files if d.nodata is not None]
        self.ms_nodata = values[0] if values else None
        types = list(dict.fromkeys(d.dtypes[b - 1] for d, b in self.ms_sources))
        self.ms_dtype: str = np.result_type(*types).name
        if len(types) > 1:
            self.grid.warnings.append(
                f"the MS band files have different data types ({', '.join(types)}): the output is "
                f"{self.ms_dtype}, which holds them all, unless --dtype says otherwise"
            )

    def _ms_datasets(self) -> list[rasterio.io.DatasetReader]:
        """The distinct MS datasets, in band order."""
        return list({id(d): d for d, _ in self.ms_sources}.values())

    def _open_warped(self) -> None:
        """Warped VRTs that resample each MS file onto the working MS grid (cubic)."""
        for ds in self._ms_datasets():
            vrt = WarpedVRT(
                ds,
                crs=ds.crs,
                transform=self.grid.ms_transform,
                width=self.grid.ms_width,
                height=self.grid.ms_height,
                resampling=Resampling.cubic,
                src_nodata=ds.nodata,
                nodata=ds.nodata,
                add_alpha=self._ms_mask_band[ds.name] == ds.count + 1,  # a mask travels as an alpha band
            )
            self._vrts[ds.name] = vrt
            self._open.append(vrt)

    # -- metadata ---------------------------------------------------------------------------
    @property
    def n_bands(self) -> int:
        """Number of MS bands (over all MS files)."""
        return len(self.ms_sources)

    def unvalued_nodata(self) -> str | None:
        """Why the inputs may hold nodata that no integer nodata value names, or None: a mask or
        alpha band, a NaN nodata value, or a floating-point file without one (NaN counts as nodata)."""
        facts = [("PAN", self._pan_masked, self.pan_nodata, self.pan_dtype)]
        for d in self._ms_datasets():
            facts.append(("MS", self._ms_mask_band[d.name] is not None, d.nodata, d.dtypes[0]))
        for role, masked, nd, dtype in facts:
            if masked:
                return f"the {role} marks nodata with a mask or alpha band"
            if nd is not None and math.isnan(nd):
                return f"the {role}'s nodata value is NaN"
            if nd is None and np.issubdtype(np.dtype(dtype), np.floating):
                return f"the {role} is floating point with no nodata value (NaN counts as nodata)"
        return None

    def band_descriptions(self) -> list[str | None]:
        """MS band descriptions (a single-band file without one is named after the file)."""
        out = []
        for ds, b in self.ms_sources:
            d = ds.descriptions[b - 1]
            if not d and self.multi_file and ds.count == 1:
                d = Path(ds.name).stem
            out.append(d)
        return out

    def band_scaling(self) -> list[tuple[float, float, str | None]]:
        """GDAL's scale, offset and unit of each MS band (a reflectance product's 0.0001, -0.1): the
        fusion is in the MS's stored values, so its output keeps them."""
        return [
            (ds.scales[b - 1], ds.offsets[b - 1], ds.units[b - 1] or None) for ds, b in self.ms_sources
        ]

    def pan_scaling(self) -> tuple[float, float, str | None]:
        """GDAL's scale, offset and unit of the PAN band used."""
        b = self.pan_band - 1
        return self.pan.scales[b], self.pan.offsets[b], self.pan.units[b] or None

    def band_colorinterp(self) -> list[ColorInterp]:
        """Colour interpretation of each MS band."""
        return [ds.colorinterp[b - 1] for ds, b in self.ms_sources]

    def area_or_point(self) -> str:
        """The PAN's AREA_OR_POINT tag ("Area" when absent)."""
        return self.pan.tags().get("AREA_OR_POINT", "Area")

    def source_names(self) -> tuple[str, list[str]]:
        """File names (without directories) of the PAN and of the distinct MS files, in band order."""
        return Path(self.pan.name).name, [Path(ds.name).name for ds in self._ms_datasets()]

    # -- reads ------------------------------------------------------------------------------
    def read_pan(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Read a window of the fusion grid from the PAN (fusion-grid pixel offsets).

        Returns:
            (pan (1, height, width) float32, valid (height, width) bool).
        """
        g = self.grid
        win = (g.row_off + row, g.col_off + col, height, width)
        arr = read_window(self.pan, "PAN", win, self.pan_band)[None]
        valid = valid_mask(arr, self.pan_nodata)
        if self._pan_masked:  # an internal mask or an alpha band
            valid &= read_window(self.pan, "PAN", win, self.pan_band, masks=True) > 0
        return arr.astype(np.float32), valid

    def read_ms(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Read a window of the working MS grid (coarse pixel offsets).

        Returns:
            (ms (B, height, width) float32, valid (height, width) bool).
        """
        g = self.grid
        bands, valid = [], np.ones((height, width), bool)
        # the bands of one file in one read: a pixel-interleaved file decodes each block once
        for ds, idx in _runs(self.ms_sources):
            if g.resample:  # the window is on the working grid, read through the warped VRT
                src, win = self._vrts[ds.name], (row, col, height, width)
            else:
                src, win = ds, (g.ms_row_off + row, g.ms_col_off + col, height, width)
            bands.append(read_window(src, "MS", win, idx, name=ds.name))
            valid &= valid_mask(bands[-1], ds.nodata)  # each band file's own nodata value
            k = self._ms_mask_band[ds.name]
            if k is not None:  # the mask of the file itself, or the alpha band of its warped VRT
                own = src is ds
                valid &= read_window(src, "MS", win, idx[0] if own else k, name=ds.name, masks=own) > 0
        return np.concatenate(bands).astype(np.float32), valid

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
        """Close every dataset opened (best effort); safe to call twice."""
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


def _validity_band(ds: rasterio.io.DatasetReader) -> int | None:
    """The band of an MS file's warped VRT that holds its validity: its alpha band, or the alpha
    band the VRT adds for a per-dataset mask (the file's band count + 1); None: no mask."""
    if not has_mask(ds):
        return None
    alpha = alpha_bands(ds)
    return alpha[0] if alpha else ds.count + 1


def _runs(
    sources: list[tuple[rasterio.io.DatasetReader, int]],
) -> list[tuple[rasterio.io.DatasetReader, list[int]]]:
    """Consecutive (dataset, band) pairs of one dataset joined: [(dataset, [bands...]), ...]."""
    runs: list[tuple[rasterio.io.DatasetReader, list[int]]] = []
    for ds, b in sources:
        if runs and runs[-1][0] is ds:
            runs[-1][1].append(b)
        else:
            runs.append((ds, [b]))
    return runs
