"""Disk space: what an output will need, what the file system has, the one "no space" error.

The writer checks the free space before it creates its temporary file, and the pipeline calls
:func:`check_free_space` as soon as it knows the grid (before the statistics pass and any fit), so
a disk that cannot hold the output is found before the work, not after it.

The estimate (:meth:`Footprint.bytes_needed`) is a lower bound of the peak use, so that a run
that would fit is never refused:

- uncompressed: the tiles as libtiff writes them (edge tiles padded to full blocks), plus the tile
  index and the header: within a few kB of the file;
- compressed: :data:`LOSSLESS_FRACTION` (1/10) of that for lossless codecs, :data:`LOSSY_FRACTION`
  (1/50) for lossy ones: imagery rarely compresses better (a scene of mostly nodata may; its write
  is then still checked, and a full disk is still caught and reported);
- overviews (``--overviews``): a third more (factors 2, 4, 8 ...: 1/4 + 1/16 + ... of the image);
- COG: the temporary tiled GeoTIFF (DEFLATE), GDAL's temporary overview file (1/3) and the COG
  copy with its overviews (4/3) are on disk together before the temporary GeoTIFF is removed
  (with ``--overviews`` they are in the temporary GeoTIFF, 4/3 of it, and GDAL makes no file of
  its own).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..base.errors import OutputError

__all__ = ["Footprint", "check_free_space", "free_bytes", "megabytes", "no_space_error"]

#: Lower bound of compressed / raw size assumed for lossless codecs (DEFLATE, LZW, ZSTD, ...).
LOSSLESS_FRACTION = 1 / 10
#: Lower bound of compressed / raw size assumed for lossy codecs.
LOSSY_FRACTION = 1 / 50
_LOSSY = ("JPEG", "WEBP", "JXL", "LERC")
#: Header, tags and slack of one file, in bytes.
_HEADER = 64 * 1024
_OFF = ("NO", "FALSE", "OFF", "0")


def megabytes(n: float, up: bool = False) -> str:
    """Bytes as MB (2^20), rounded up (a need) or down (what is free): one decimal below 10."""
    v = n / 2**20
    if v >= 10:
        return str(math.ceil(v) if up else math.floor(v))
    return f"{(math.ceil(v * 10) if up else math.floor(v * 10)) / 10:.1f}"


def free_bytes(path: Path) -> int:
    """Bytes free to this user in the folder of ``path`` (0 when it cannot be asked)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def no_space_error(path: Path, need: int | None = None, free: int | None = None) -> OutputError:
    """``cannot write OUT: no space left on device ([needs about X MB, ]N MB free)``."""
    free = free_bytes(path) if free is None else free
    needs = f"needs about {megabytes(need, True)} MB, " if need else ""
    free_mb = megabytes(free, False)
    return OutputError(f"cannot write {path}: no space left on device ({needs}{free_mb} MB free)")


@dataclass
class Footprint:
    """What decides an output's size: grid, bands, dtype, format and creation options.

    Attributes:
        width, height, count, dtype: the raster.
        fmt: "GTiff" or "COG".
        creation_options: the ``--co`` options (over the writer's defaults: DEFLATE, tiled).
        block: the GeoTIFF tile side when BLOCKXSIZE/BLOCKYSIZE are not given.
        overviews: overviews are built (``--overviews``): a third more.
    """

    width: int
    height: int
    count: int
    dtype: str
    fmt: str = "GTiff"
    creation_options: dict[str, str] = field(default_factory=dict)
    block: int = 256
    overviews: bool = False

    def _opt(self, key: str, default: str) -> str:
        opts = {k.upper(): str(v) for k, v in self.creation_options.items()}
        return opts.get(key, default).upper()

    def _raw(self, bx: int, by: int) -> int:
        """Bytes of the pixels in ``bx`` x ``by`` blocks, edge blocks padded, plus header and index."""
        nx, ny = -(-self.width // bx), -(-self.height // by)
        item = np.dtype(self.dtype).itemsize
        return nx * bx * ny * by * self.count * item + 16 * nx * ny * self.count + _HEADER

    def _side(self, key: str, default: int) -> int:
        try:
            return max(1, int(self._opt(key, str(default))))
        except ValueError:  # checked by io.creation; a library caller's typo is GDAL's to refuse
            return default

    def _gtiff(self, compress: str) -> int:
        if self._opt("TILED", "YES") in _OFF:  # strips: rows of the full width
            raw = self._raw(self.width, 1)
        else:
            bx = self._side("BLOCKXSIZE", self.block)
            raw = self._raw(bx, self._side("BLOCKYSIZE", self.block))
        return int(raw * _fraction(compress))

    def bytes_needed(self) -> int:
        """A lower bound of the disk the output takes at its peak (module docstring)."""
        pyramid = 4 / 3 if self.overviews else 1.0
        if self.fmt.upper() != "COG":
            return int(self._gtiff(self._opt("COMPRESS", "DEFLATE")) * pyramid)
        tmp = self._raw(self.block, self.block) * LOSSLESS_FRACTION * pyramid
        side = self._side("BLOCKSIZE", max(128, self.block * 2))
        cog = self._raw(side, side) * _fraction(self._opt("COMPRESS", "DEFLATE"))
        return int(tmp + cog * 4 / 3 + (0 if self.overviews else cog / 3))


def _fraction(compress: str) -> float:
    if compress == "NONE":
        return 1.0
    return LOSSY_FRACTION if compress.startswith(_LOSSY) else LOSSLESS_FRACTION


def check_free_space(path: str | os.PathLike, footprint: Footprint) -> int:
    """Refuse an output the file system of its folder cannot hold.

    Returns:
        The bytes the output needs (the estimate).

    Raises:
        OutputError: ``cannot write OUT: no space left on device (needs about X MB, N MB free)``.
    """
    p = Path(path)
    need = footprint.bytes_needed()
    free = free_bytes(p)
    if free < need:
        raise no_space_error(p, need, free)
    return need
