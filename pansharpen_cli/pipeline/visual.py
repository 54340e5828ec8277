"""``visual``: the 8-bit RGB display product of a fused file (Maxar's "visual" product), a Cloud
Optimized GeoTIFF with overviews.

Band roles and the stretch are :mod:`pansharpen_cli.physics.display`'s. The stretch's statistics
come from a decimated sample of the whole image (its overviews when it has them); the image is then
stretched window by window into the atomic writer (memory bounded whatever the image's size).
Nodata stays nodata: an internal mask (default) or an alpha band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..base.errors import InputError, UsageError
from ..base.progress import Progress, no_progress
from ..base.tiling import plan_tiles
from ..io.raster import open_raster
from ..io.rgb import RasterFacts, facts, read_rgb, read_sample, rgb_colorinterp
from ..io.writer import OutputSpec, OutputWriter, check_output_fits
from ..physics.display import (
    CODECS,
    DEFAULT_QUALITY,
    LOSSY,
    NODATA_AS,
    STRETCHES,
    BandRoles,
    Stretch,
    apply_stretch,
    band_roles,
    stretch_limits,
)
from .common import in_gdal_env
from .preflight import check_visual

__all__ = ["VisualOptions", "VisualResult", "check_options", "visual"]

#: Window side of the stretch loop (pixels): 3 bands of float64, 25 MB.
WINDOW = 1024
#: The COG's tile side (GDAL's default for the COG driver); overviews halve down to one tile.
COG_BLOCK = 512
_SUFFIXES = (".tif", ".tiff")


@dataclass
class VisualOptions:
    """What ``visual`` does (defaults: the CLI's).

    Attributes:
        bands: ``R,G,B`` band numbers (1-based); None: from the file (descriptions, colours, sensor).
        stretch: the stretch (percentile 2,98 per band, gamma 1).
        nodata_as: ``mask`` (an internal mask) or ``alpha`` (a fourth band).
        compress: ``jpeg`` (YCbCr), ``webp``, ``deflate`` or ``lzw``.
        quality: JPEG/WEBP quality (None: 90); refused with a lossless codec.
        overwrite: replace an existing OUT.
    """

    bands: str | None = None
    stretch: Stretch = field(default_factory=Stretch)
    nodata_as: str = "mask"
    compress: str = "jpeg"
    quality: int | None = None
    overwrite: bool = False


@dataclass
class VisualResult:
    """What :func:`visual` wrote: OUT, the bands and where their roles came from, the stretch's
    values per band (mapped to 1 and 255), the tags written."""

    path: Path
    roles: BandRoles
    limits: list[tuple[float, float]]
    tags: dict[str, str]


def check_options(opts: VisualOptions, out: str | Path) -> None:
    """Options wrong whatever the file, before anything is read.

    Raises:
        UsageError: an unknown codec or nodata choice, alpha with JPEG, a quality with a lossless
            codec or out of 1..100, a gamma not above 0, OUT not named ``.tif``.
    """
    if opts.compress not in CODECS:
        raise UsageError(f"--compress {opts.compress}: expected one of {', '.join(CODECS)}")
    if opts.nodata_as not in NODATA_AS:
        raise UsageError(f"--nodata-as {opts.nodata_as}: expected one of {', '.join(NODATA_AS)}")
    if opts.nodata_as == "alpha" and opts.compress == "jpeg":
        raise UsageError(
            "--nodata-as alpha: JPEG cannot carry an alpha band in a COG: use --nodata-as mask "
            "(the default) or --compress webp, deflate or lzw"
        )
    if opts.quality is not None and opts.compress not in LOSSY:
        raise UsageError(f"--quality: {opts.compress} is lossless; --quality applies to jpeg and webp")
    if opts.quality is not None and not 1 <= opts.quality <= 100:
        raise UsageError(f"--quality {opts.quality}: expected 1 to 100")
    if not opts.stretch.gamma > 0:
        raise UsageError(f"--gamma {opts.stretch.gamma:g}: expected a value above 0, like 1.2")
    if opts.stretch.method not in STRETCHES:
        raise UsageError(f"--stretch {opts.stretch.method}: expected one of {', '.join(STRETCHES)}")
    if Path(out).suffix.lower() not in _SUFFIXES:
        raise UsageError(f"output {out}: visual writes a Cloud Optimized GeoTIFF: name it *.tif")


def _creation_options(opts: VisualOptions) -> dict[str, str]:
    """The COG driver's options: the codec (JPEG: YCbCr, which the COG driver picks for 3 bands),
    its quality for the image and the overviews, the tile side, overviews by averaging."""
    co = {"COMPRESS": opts.compress.upper(), "BLOCKSIZE": str(COG_BLOCK), "RESAMPLING": "AVERAGE"}
    if opts.compress in LOSSY:  # the overviews at the same quality (the COG driver's default: 75)
        co["QUALITY"] = co["OVERVIEW_QUALITY"] = str(opts.quality or DEFAULT_QUALITY)
    return co


def _tags(src: RasterFacts, roles: BandRoles, text: str, opts: VisualOptions) -> dict[str, str]:
    """The fused file's PANSHARPEN_* tags, then what visual did."""
    tags = {k: v for k, v in src.tags.items() if k.startswith("PANSHARPEN_")}
    tags.update(
        {
            "PANSHARPEN_PRODUCT": "visual (8-bit RGB display product)",
            "PANSHARPEN_VISUAL_BANDS": ",".join(map(str, roles.bands)),
            "PANSHARPEN_VISUAL_BANDS_FROM": roles.source,
            "PANSHARPEN_VISUAL_STRETCH": text,
            "PANSHARPEN_VISUAL_NODATA": opts.nodata_as,
            "PANSHARPEN_VERSION": __version__,
        }
    )
    return tags


def _spec(out: Path, src: RasterFacts, opts: VisualOptions, tags: dict[str, str]) -> OutputSpec:
    alpha = opts.nodata_as == "alpha"
    return OutputSpec(
        path=out,
        width=src.width,
        height=src.height,
        count=4 if alpha else 3,
        dtype="uint8",
        crs=src.crs,
        transform=src.transform,
        gcps=src.gcps,
        nodata=None,
        fmt="COG",
        creation_options=_creation_options(opts),
        descriptions=["red", "green", "blue"] + (["alpha"] if alpha else []),
        colorinterp=rgb_colorinterp(alpha),
        tags=tags,
        area_or_point=src.area_or_point,
    )


def _stretch_windows(ds, writer: OutputWriter, bands, limits, opts: VisualOptions, progress: Progress) -> None:
    """Read, stretch and write the image window by window (with its mask or alpha)."""
    tiles = plan_tiles(writer.spec.height, writer.spec.width, WINDOW, 0)
    for i, t in enumerate(tiles, start=1):
        values, valid = read_rgb(ds, bands, (t.row, t.col, t.height, t.width))
        rgb = apply_stretch(values, valid, limits, opts.stretch.gamma)
        if opts.nodata_as == "alpha":
            alpha = np.where(valid, np.uint8(255), np.uint8(0))[None]
            writer.write(np.concatenate([rgb, alpha]), t.row, t.col)
        else:
            writer.write(rgb, t.row, t.col)
            writer.write_mask(valid, t.row, t.col)
        progress("visual", i, len(tiles), {})


@in_gdal_env
def visual(
    fused_path: str | Path,
    out_path: str | Path,
    options: VisualOptions | None = None,
    progress: Progress = no_progress,
) -> VisualResult:
    """Write the 8-bit RGB display product of ``fused_path`` to ``out_path`` (a COG).

    Raises:
        UsageError: see :func:`check_options`; OUT is FUSED or exists without ``overwrite``.
        OptionError: no band roles (pass ``bands``), or ``bands`` beyond the file's count.
        InputError, InputFileError: FUSED cannot be read or has no valid pixel.
        OutputError: OUT cannot be written (space, GDAL errors).
    """
    opts = options or VisualOptions()
    check_options(opts, out_path)
    out = check_visual(fused_path, out_path, opts.overwrite)
    with open_raster(fused_path, "FUSED") as ds:
        src = facts(ds)
        roles = band_roles(src.count, opts.bands, src.descriptions, src.colours, src.tags.get("PANSHARPEN_SENSOR"))
        spec = _spec(out, src, opts, {})
        check_output_fits(out, spec.footprint())
        sample, valid = read_sample(ds, roles.bands)
        try:
            limits = stretch_limits(sample, valid, opts.stretch)
        except ValueError:
            raise InputError(f"FUSED {fused_path} has no valid pixel (all nodata): nothing to display") from None
        spec.tags = _tags(src, roles, opts.stretch.describe(limits, roles.bands), opts)
        with OutputWriter(spec) as writer:
            _stretch_windows(ds, writer, roles.bands, limits, opts, progress)
            writer.commit()
    return VisualResult(out, roles, [(float(lo), float(hi)) for lo, hi in limits], spec.tags)
