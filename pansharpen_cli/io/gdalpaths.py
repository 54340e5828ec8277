"""GDAL paths: inputs GDAL opens that are not plain local files (``/vsizip/...``, ``/vsicurl/...``,
``zip://a.zip!pan.tif``, ``https://...``, ``s3://...``, ``NETCDF:"f.nc":var``).

They are kept as the strings the user gave (a :class:`~pathlib.Path` would collapse the ``//`` of
``/vsicurl/http://``) and handed to rasterio as GDAL names (:func:`gdal_name`); whether one exists
is found by opening it. The preflight cannot resolve or stat them: :func:`local_file` gives the
local archive a ``/vsizip/``, ``/vsitar/`` or ``/vsigzip/`` path reads, so that no output replaces
it; other GDAL paths are remote and cannot be an output. Outputs are always local files (written to
a temporary file and renamed into place).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

__all__ = ["InputPath", "absolute_input", "as_input", "gdal_name", "input_stem", "is_gdal_path", "local_file"]

#: An input raster: a local path, or a GDAL path kept as its string.
InputPath = str | Path

#: URI schemes rasterio knows and their GDAL virtual file system (``s3`` -> ``/vsis3/``).
SCHEMES = {
    "ftp": "curl",
    "http": "curl",
    "https": "curl",
    "s3": "s3",
    "gs": "gs",
    "az": "az",
    "oss": "oss",
    "zip": "zip",
    "tar": "tar",
    "gzip": "gzip",
}
#: Schemes whose path names an archive and, after ``!``, a member of it.
ARCHIVES = ("zip", "tar", "gzip")
#: GDAL virtual file systems that read a local file (an archive) when not chained to another.
_LOCAL_WRAPPERS = ("vsizip", "vsitar", "vsigzip", "vsi7z", "vsirar")

_VSI = re.compile(r"^/vsi[a-z0-9_]+(/|$)")
_URI = re.compile(r"^([a-z0-9]+(?:\+[a-z0-9]+)*)://(.*)$", re.IGNORECASE | re.DOTALL)
#: A driver's connection string: ``NETCDF:"f.nc":var``, ``HDF5:f.h5://grp/ds``, ``GTIFF_DIR:2:f.tif``.
_DRIVER_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]+:")


def _scheme_chain(p: str) -> tuple[list[str], str] | None:
    """(the schemes, the rest) of a URI whose every scheme is in :data:`SCHEMES`, else None."""
    m = _URI.match(p)
    if m is None:
        return None
    schemes = m[1].lower().split("+")
    return (schemes, m[2]) if all(s in SCHEMES for s in schemes) else None


def is_gdal_path(p: str | os.PathLike) -> bool:
    """Whether ``p`` is a GDAL path rather than a local file: a ``/vsi...`` path, a URI of a scheme
    rasterio knows (``zip://``, ``https://``, ``s3://``, ``zip+https://`` ...), or a driver's
    connection string (``NETCDF:"f.nc":var``) that names no existing local file."""
    s = os.fspath(p)
    if _VSI.match(s) or _scheme_chain(s) is not None:
        return True
    return bool(_DRIVER_PREFIX.match(s)) and not os.path.lexists(s)


def as_input(p: str | os.PathLike) -> InputPath:
    """An input as the pipeline takes it: a GDAL path as its string, a local one as a Path."""
    s = os.fspath(p)
    return s if is_gdal_path(s) else Path(s)


def gdal_name(p: str | os.PathLike) -> str:
    """The name GDAL opens: URIs turned into ``/vsi`` paths (``zip://a.zip!pan.tif`` ->
    ``/vsizip/a.zip/pan.tif``, ``s3://b/k`` -> ``/vsis3/b/k``, ``https://h/x`` ->
    ``/vsicurl/https://h/x``, ``zip+https://h/a.zip!x`` -> ``/vsizip/vsicurl/https://h/a.zip/x``);
    anything else unchanged. (rasterio's own parser loses a relative archive's ``!member``.)"""
    s = os.fspath(p)
    chain = _scheme_chain(s)
    if chain is None:
        return s
    schemes, rest = chain
    member = ""
    if schemes[0] in ARCHIVES and "!" in rest:
        rest, member = rest.rsplit("!", 1)
        member = "/" + member.lstrip("/")
    last = schemes[-1]
    if SCHEMES[last] == "curl":
        rest = f"{last}://{rest}"
    prefix = "/".join(f"vsi{SCHEMES[sc]}" for sc in schemes)
    return f"/{prefix}/{rest}{member}"


def _archive(p: str | os.PathLike) -> tuple[str, str, str] | None:
    """(``/vsizip/``, the local archive as written, the member part) of a GDAL path reading a local
    archive; None for any other path or an archive that does not exist."""
    m = re.match(r"^(/vsi[a-z0-9_]+/)(.*)$", gdal_name(p), re.DOTALL)
    if m is None or m[1].strip("/") not in _LOCAL_WRAPPERS or m[2].startswith("vsi"):
        return None
    parts = m[2].split("/")
    for i in range(1, len(parts) + 1):
        candidate = "/".join(parts[:i])
        if candidate and os.path.isfile(candidate):
            return m[1], candidate, m[2][len(candidate) :]
    return None


def local_file(p: str | os.PathLike) -> Path | None:
    """The local file a GDAL path reads (the archive of ``/vsizip/a.zip/pan.tif``, of
    ``zip://a.zip!pan.tif``, the file of ``/vsigzip/pan.tif.gz``); None for a remote one, a driver's
    connection string, or an archive that does not exist."""
    found = _archive(p)
    return Path(found[1]) if found else None


def absolute_input(p: InputPath) -> InputPath:
    """An input that reads the same file from any folder: a local path made absolute, the archive of
    a GDAL path (``/vsizip/a.zip/pan.tif`` -> ``/vsizip//data/a.zip/pan.tif``); others as they are."""
    if not is_gdal_path(p):
        return Path(os.path.abspath(p))
    found = _archive(p)
    if found is None or os.path.isabs(found[1]):
        return p
    prefix, archive, member = found
    return f"{prefix}{os.path.abspath(archive)}{member}"


def input_stem(p: str | os.PathLike) -> str:
    """The file name without its extension of a local or GDAL input (``pan`` for
    ``/vsicurl/https://h/pan.tif?sig=...`` and ``zip://a.zip!pan.tif``)."""
    if not is_gdal_path(p):
        return Path(p).stem
    return PurePosixPath(gdal_name(p).split("?", 1)[0]).stem
