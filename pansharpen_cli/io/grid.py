"""The fusion grid of a PAN/MS pair, worked out from their geotransforms.

Geometry: the output is on the PAN grid over the common footprint, trimmed to whole MS pixels. The
"working MS grid" has pixels of exactly ``ratio`` PAN pixels aligned with the PAN. When the MS grid
already is that grid (integer ratio, origin on a PAN pixel corner) the MS is read as is; otherwise
(ratio 0.498 m / 2.0 m, half-pixel offsets such as Landsat's pixel-is-point PAN/MS pair) it is
resampled onto it by GDAL's warper (cubic), which ``-v`` reports.

Files without georeferencing are aligned by array geometry: the MS is taken to cover exactly the
PAN's extent, and the output has no CRS. A pair where only one file is georeferenced is refused
(its georeferencing would be lost or guessed) unless ``assume_aligned``: then it is aligned by array
geometry too, and the output has the PAN's georeferencing when the PAN has one.

Ground control points are not a geotransform: a file georeferenced by GCPs only is refused (fusing
it would drop them; ``gdalwarp -order 1`` or ``-tps`` puts it on a geotransform) unless
``assume_aligned``: then the pair is aligned by array geometry and the output carries the PAN's
GCPs (or, for a PAN without any georeferencing, the MS's, moved onto the PAN grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import rasterio
from rasterio.control import GroundControlPoint
from rasterio.transform import Affine

from ..base.errors import InputError
from .raster import gcp_only, is_georeferenced

__all__ = ["GRID_TOLERANCE", "RATIO_TOLERANCE", "FusionGrid", "compute_grid"]

#: Largest misfit (in PAN pixels, accumulated over the scene) accepted as "the same grid".
GRID_TOLERANCE = 0.01
#: Largest relative difference between the axes' ratios, or between a forced ``--ratio`` and the
#: ratio the geotransforms give, accepted without a word (refused beyond it; a forced ratio off the
#: array sizes' ratio is warned about).
RATIO_TOLERANCE = 0.05


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
        gcps: ground control points of the output and their CRS, for a pair aligned by array geometry
            whose PAN (or MS) is georeferenced by GCPs only (None: none).
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
    gcps: tuple[list[GroundControlPoint], rasterio.crs.CRS | None] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        """Rows of the output (fusion) grid."""
        return self.ms_height * self.ratio

    @property
    def width(self) -> int:
        """Columns of the output (fusion) grid."""
        return self.ms_width * self.ratio

    def coarse_transform(self, factor: int) -> Affine:
        """Geotransform of a grid ``factor`` times coarser than the working MS grid (same origin).

        Args:
            factor: integer coarsening factor (the ratio, for a Wald-protocol MS).

        Returns:
            ``ms_transform @ Affine.scale(factor)``.
        """
        return self.ms_transform @ Affine.scale(factor)


@dataclass
class _Window:
    """Where the fused region lies: in the PAN (offsets) and on the working MS grid."""

    col_off: int
    row_off: int
    ms_width: int
    ms_height: int
    ms_col_off: int
    ms_row_off: int


def _near_int(x: float, tol: float) -> bool:
    return abs(x - round(x)) <= tol


def _check_georeferencing(pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader) -> None:
    """Refuse a pair in different CRSs or with a rotated geotransform.

    Raises:
        InputError: naming the file and the GDAL command that fixes it.
    """
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


def _refuse_gcp_only(pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader) -> None:
    """Refuse a file georeferenced by ground control points only (fusing it would drop them).

    Raises:
        InputError: naming the file, the gdalwarp commands that give it a geotransform, and
            --assume-aligned.
    """
    for ds, role in ((pan, "PAN"), (ms, "MS")):
        points = gcp_only(ds)
        if points:
            raise InputError(
                f"{role} {ds.name} is georeferenced by {len(points)} ground control points only (no "
                "geotransform), which fusing would drop: warp it onto a geotransform first (gdalwarp -order 1 "
                f"IN OUT for an affine fit, -tps for a non-linear one), or pass --assume-aligned to fuse by "
                f"array geometry (the output then has {_kept(pan, ms, is_georeferenced(pan))})"
            )


def _kept(pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader, pan_geo: bool = False) -> str:
    """What georeferencing an output aligned by array geometry has, in words."""
    if pan_geo:
        return "the PAN's georeferencing"
    for ds, role, where in ((pan, "PAN", ""), (ms, "MS", ", moved onto the PAN grid")):
        if points := gcp_only(ds):
            return f"the {role}'s {len(points)} ground control points{where}"
    return "none"


def _output_gcps(
    pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader, pan_t: Affine, ms_t: Affine, win: _Window
) -> tuple[list[GroundControlPoint], rasterio.crs.CRS | None] | None:
    """The ground control points of an output aligned by array geometry on a PAN without a
    geotransform: the PAN's, else the MS's moved onto the PAN grid; in output pixels (None: none)."""
    for ds, to_pan in ((pan, Affine.identity()), (ms, ~pan_t @ ms_t)):
        if points := gcp_only(ds):
            moved = []
            for p in points:
                col, row = to_pan @ (p.col, p.row)
                moved.append(
                    GroundControlPoint(row - win.row_off, col - win.col_off, p.x, p.y, p.z, p.id, p.info)
                )
            return moved, ds.gcps[1]
    return None


def _transforms(
    pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader, warns: list[str], assume_aligned: bool
) -> tuple[Affine, Affine, bool]:
    """The PAN and MS geotransforms to align by, and whether the output is georeferenced.

    Without georeferencing in either file the pair is aligned by array geometry (the MS spans the
    PAN's extent), with a warning appended to ``warns``; with it in only one, only when
    ``assume_aligned``.

    Raises:
        InputError: only one file is georeferenced and not ``assume_aligned``, naming the other.
    """
    pan_geo, ms_geo = is_georeferenced(pan), is_georeferenced(ms)
    if not assume_aligned:
        _refuse_gcp_only(pan, ms)
    if pan_geo and ms_geo:
        _check_georeferencing(pan, ms)
        return pan.transform, ms.transform, True
    if pan_geo or ms_geo:
        (bare, bare_role), other = ((ms, "MS"), "PAN") if pan_geo else ((pan, "PAN"), "MS")
        if not assume_aligned:
            raise InputError(
                f"{bare_role} {bare.name} has no georeferencing (no CRS, no geotransform) but the {other} "
                f"has: give it one (gdal_edit.py -a_srs -a_ullr), or pass --assume-aligned to fuse "
                "by array geometry"
            )
        warns.append(
            f"the {bare_role} has no georeferencing: aligning PAN and MS by array geometry; the output has "
            f"{_kept(pan, ms, pan_geo)}"
        )
    else:
        warns.append(f"no georeferencing in PAN or MS: aligning by array geometry; the output has {_kept(pan, ms)}")
    pan_t = pan.transform if pan_geo else Affine.identity()
    ms_t = pan_t @ Affine.scale(pan.width / ms.width, pan.height / ms.height)
    return pan_t, ms_t, pan_geo


def _check_axes(pan_t: Affine, ms_t: Affine, rx: float, ry: float) -> None:
    """Refuse opposite axis directions and MS pixels finer than the PAN's.

    Raises:
        InputError: with what to check.
    """
    if (ms_t.a > 0) != (pan_t.a > 0) or (ms_t.e > 0) != (pan_t.e > 0):
        raise InputError("PAN and MS geotransforms have opposite axis directions: warp one of them first")
    if min(rx, ry) < 1.0:
        raise InputError(
            f"MS pixels are finer than PAN pixels (ratio {rx:.3f} x {ry:.3f}): check the order, "
            "PAN comes first (pansharpen fuse PAN MS OUT)"
        )


def _fusion_ratio(rx: float, ry: float, ratio: int | None, warns: list[str], georef: bool) -> int:
    """The integer ratio: measured (rounded mean of the axes) or the forced ``ratio``.

    Raises:
        InputError: a measured ratio below 1.5, a measured one whose axes differ by more than
            :data:`RATIO_TOLERANCE`, a forced one below 2, or (``georef``: measured from both
            files' geotransforms) a forced one more than that off the measure.
    """
    if ratio is None:
        if min(rx, ry) < 1.5:
            raise InputError(
                f"PAN/MS ratio {rx:.3f} x {ry:.3f} is below 1.5: these are not a PAN and an MS "
                "(or pass --ratio)"
            )
        r = int(round((rx + ry) / 2))
        if abs(rx - ry) > RATIO_TOLERANCE * r:  # non-square MS pixels (in PAN pixels)
            where = "geotransforms" if georef else "array sizes"
            raise InputError(
                f"the PAN/MS ratio differs by axis ({rx:.4f} x {ry:.4f}, from the {where}): one ratio "
                "cannot fit both; resample the MS to square pixels first (gdalwarp -tr XRES YRES)"
            )
        return r
    if ratio < 2:
        raise InputError(f"--ratio {ratio} is below 2: expected an integer ratio of at least 2")
    r = int(ratio)
    if abs(rx - r) > RATIO_TOLERANCE * r or abs(ry - r) > RATIO_TOLERANCE * r:
        if georef:
            raise InputError(
                f"--ratio {r} disagrees with the geotransforms, which give a ratio of {rx:.4f} x {ry:.4f}: "
                "drop --ratio, or fix the geotransforms (gdal_edit.py -a_ullr)"
            )
        warns.append(f"--ratio {r} differs from the array sizes' ratio {rx:.4f} x {ry:.4f}")
    return r


def _is_exact(ms: rasterio.io.DatasetReader, rx: float, ry: float, r: int, fx: float, fy: float) -> bool:
    """Whether the native MS grid is the working grid (within :data:`GRID_TOLERANCE` PAN pixels)."""
    return (
        abs(rx - r) * ms.width <= GRID_TOLERANCE
        and abs(ry - r) * ms.height <= GRID_TOLERANCE
        and _near_int(fx, GRID_TOLERANCE)
        and _near_int(fy, GRID_TOLERANCE)
    )


def _exact_window(
    pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader, r: int, fx: float, fy: float
) -> _Window:
    """Native MS pixels whose PAN blocks lie inside the PAN (MS origin at PAN pixel ``fx, fy``)."""
    fxi, fyi = int(round(fx)), int(round(fy))
    c0_ms = max(0, math.ceil(-fxi / r))
    r0_ms = max(0, math.ceil(-fyi / r))
    c1_ms = min(ms.width, (pan.width - fxi) // r)
    r1_ms = min(ms.height, (pan.height - fyi) // r)
    return _Window(
        col_off=fxi + r * c0_ms,
        row_off=fyi + r * r0_ms,
        ms_width=c1_ms - c0_ms,
        ms_height=r1_ms - r0_ms,
        ms_col_off=c0_ms,
        ms_row_off=r0_ms,
    )


def _resampled_window(
    pan: rasterio.io.DatasetReader,
    ms: rasterio.io.DatasetReader,
    rx: float,
    ry: float,
    r: int,
    fx: float,
    fy: float,
) -> _Window:
    """Intersection of the footprints in PAN pixel coordinates, then whole working MS pixels in it."""
    a_x, b_x = max(0.0, fx), min(float(pan.width), fx + rx * ms.width)
    a_y, b_y = max(0.0, fy), min(float(pan.height), fy + ry * ms.height)
    col_off = max(0, math.ceil(a_x - GRID_TOLERANCE))
    row_off = max(0, math.ceil(a_y - GRID_TOLERANCE))
    return _Window(
        col_off=col_off,
        row_off=row_off,
        ms_width=int(math.floor((b_x - col_off + GRID_TOLERANCE) / r)),
        ms_height=int(math.floor((b_y - row_off + GRID_TOLERANCE) / r)),
        ms_col_off=0,
        ms_row_off=0,
    )


def _footprint_note(pan: rasterio.io.DatasetReader, win: _Window, r: int) -> str | None:
    """A note when the output covers less than the whole PAN, else None."""
    if win.ms_width * r < pan.width or win.ms_height * r < pan.height:
        last_row, last_col = win.row_off + win.ms_height * r - 1, win.col_off + win.ms_width * r - 1
        return (
            f"output covers the common footprint: PAN columns {win.col_off}..{last_col}, "
            f"rows {win.row_off}..{last_row} of {pan.width}x{pan.height} (width x height)"
        )
    return None


def _window(
    pan: rasterio.io.DatasetReader, ms: rasterio.io.DatasetReader, pan_t: Affine, ms_t: Affine, r: int, notes
) -> tuple[bool, _Window]:
    """Whether the native MS grid is the working grid, and the fused region; a note on resampling."""
    rx, ry = abs(ms_t.a / pan_t.a), abs(ms_t.e / pan_t.e)
    fx, fy = ~pan_t @ (ms_t.c, ms_t.f)  # MS origin in PAN pixel coordinates
    if _is_exact(ms, rx, ry, r, fx, fy):
        return True, _exact_window(pan, ms, r, fx, fy)
    notes.append(
        f"MS grid ({rx:.4f} x {ry:.4f} PAN pixels, origin at PAN pixel {fx:.3f}, {fy:.3f}) is not "
        f"aligned with a ratio-{r} grid on the PAN: resampling the MS onto it (cubic)"
    )
    return False, _resampled_window(pan, ms, rx, ry, r, fx, fy)


def _check_overlap(win: _Window) -> None:
    """Refuse a fusion grid of fewer than 2 MS pixels: no overlap, or one pixel (no spread: no
    statistics to fuse by)."""
    if win.ms_width < 1 or win.ms_height < 1:
        raise InputError(
            "PAN and MS footprints do not overlap (or overlap by less than one MS pixel): "
            "check that they are the same scene"
        )
    if win.ms_width * win.ms_height < 2:
        raise InputError(
            "PAN and MS share only one MS pixel (on the fusion grid): fusing needs at least 2; "
            "check the files' extents"
        )


def compute_grid(
    pan: rasterio.io.DatasetReader,
    ms: rasterio.io.DatasetReader,
    ratio: int | None = None,
    assume_aligned: bool = False,
) -> FusionGrid:
    """Work out the fusion grid of a PAN and an MS dataset from their geotransforms.

    Args:
        pan: the opened PAN dataset.
        ms: the opened MS dataset (the first one, for band files).
        ratio: force the integer ratio instead of measuring it.
        assume_aligned: align a pair where only one file is georeferenced by array geometry.

    Returns:
        The :class:`FusionGrid`, with notes and warnings for the user.

    Raises:
        InputError: different CRSs, rotated grids, georeferencing in only one file, no overlap (or
            one MS pixel), MS not coarser than PAN, ratio < 1.5, non-square MS pixels, a forced
            ratio the geotransforms disagree with.
    """
    notes: list[str] = []
    warns: list[str] = []
    pan_t, ms_t, georef = _transforms(pan, ms, warns, assume_aligned)
    rx, ry = abs(ms_t.a / pan_t.a), abs(ms_t.e / pan_t.e)
    _check_axes(pan_t, ms_t, rx, ry)
    both_geo = is_georeferenced(pan) and is_georeferenced(ms)
    r = _fusion_ratio(rx, ry, ratio, warns, both_geo)
    if ratio is not None and not both_geo:  # array geometry: a forced ratio is the MS pixel's size
        ms_t = pan_t @ Affine.scale(r)
    exact, win = _window(pan, ms, pan_t, ms_t, r, notes)
    _check_overlap(win)
    out_t = pan_t @ Affine.translation(win.col_off, win.row_off)
    notes += [n for n in (_footprint_note(pan, win, r),) if n]
    return FusionGrid(
        ratio=r,
        measured_ratio=(rx, ry),
        row_off=win.row_off,
        col_off=win.col_off,
        ms_height=win.ms_height,
        ms_width=win.ms_width,
        ms_row_off=win.ms_row_off,
        ms_col_off=win.ms_col_off,
        # Array geometry is always aligned by construction: nothing to resample without georeferencing.
        resample=not exact and georef,
        georeferenced=georef,
        transform=out_t,
        ms_transform=out_t @ Affine.scale(r),
        crs=pan.crs if georef else None,
        gcps=None if georef else _output_gcps(pan, ms, pan_t, ms_t, win),
        notes=notes,
        warnings=warns,
    )
