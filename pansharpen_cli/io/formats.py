"""The output's format from its name: this tool writes GeoTIFF (``--of GTiff`` or ``COG``).

An output named ``.tif`` / ``.tiff`` is written with ``--of``'s driver, and so is one without an
extension or with one GDAL does not know (``scene_v1.2``: the driver follows ``--of``, as in GDAL's
tools). An extension GDAL gives another driver (``.png``, ``.jpg``, ``.img``, ``.nc`` ...) or an
archive's (``.zip``, ``.gz`` ...) would name a file that is not what it says: refused before any
work, with the name to use and the ``gdal_translate`` command that converts afterwards.
"""

from __future__ import annotations

from pathlib import Path

from ..base.errors import UsageError

__all__ = ["GEOTIFF_SUFFIXES", "check_output_format"]

#: The extensions of the files this tool writes.
GEOTIFF_SUFFIXES = (".tif", ".tiff")
#: Archives GDAL reads through /vsizip/, /vsigzip/ ...: a GeoTIFF named so would not be one.
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")


def _driver_of(suffix: str) -> str | None:
    """The GDAL driver an extension (``.png``) belongs to, or None."""
    from rasterio.drivers import raster_driver_extensions  # here: the CLI's --help stays fast

    return raster_driver_extensions().get(suffix.lstrip(".").lower())


#: The names GDAL gives the sidecar files of a raster ``X``: ``X.ovr`` (external overviews),
#: ``X.aux.xml`` (auxiliary metadata), ``X.msk`` (external mask). GDAL opens them with ``X``.
SIDECARS = {".ovr": "external overviews", ".aux.xml": "auxiliary metadata", ".msk": "external mask"}


def _check_sidecar(named: str, path: Path) -> None:
    """Refuse an output named as a GDAL sidecar of another raster (``out.tif.ovr``)."""
    low = path.name.lower()
    for ext, what in SIDECARS.items():
        if low.endswith(ext) and len(low) > len(ext):
            raster = path.name[: -len(ext)]
            raise UsageError(
                f"{named}: the name is GDAL's for the {what} of {raster} ({ext}), which GDAL reads with "
                f"{raster}: name the output something that ends in .tif"
            )


def check_output_format(named: str, path: Path, fmt: str) -> None:
    """Refuse a raster output whose extension names another format than GeoTIFF.

    Args:
        named: how the message names the output (``output out.png``, ``m.csv:2: output x.png``).
        path: the output.
        fmt: the ``--of`` driver (GTiff or COG).

    Raises:
        UsageError: ``output out.png: the name says a PNG file, but this tool writes GeoTIFF (--of
            GTiff or COG): name it out.tif, or convert it afterwards: gdal_translate -of PNG out.tif
            out.png``.
    """
    _check_sidecar(named, path)
    suffix = path.suffix.lower()
    if not suffix or suffix in GEOTIFF_SUFFIXES:
        return
    driver = _driver_of(suffix)
    if driver is None and suffix not in ARCHIVE_SUFFIXES:
        return
    tif = path.with_suffix(".tif")
    what = f"a {driver} file" if driver else f"a {suffix} archive"
    then = f", or convert it afterwards: gdal_translate -of {driver} {tif} {path}" if driver else ""
    raise UsageError(
        f"{named}: the name says {what}, but this tool writes GeoTIFF (--of GTiff or COG, here {fmt}): "
        f"name it {tif}{then}"
    )
