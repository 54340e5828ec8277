"""Landsat MTL metadata files: found beside a band file and read (Collection 1 and 2, text and JSON).

A Landsat scene is delivered as one GeoTIFF per band, ``<scene id>_B8.TIF`` (Collection 2 level 2:
``<scene id>_SR_B2.TIF``), beside ``<scene id>_MTL.txt`` (Collection 2 also ``_MTL.json``). The text
file is ODL: ``GROUP = NAME`` ... ``END_GROUP = NAME`` blocks of ``KEY = VALUE`` lines, ``END`` at the
end. Collection 1 holds the spacecraft in ``L1_METADATA_FILE`` / ``PRODUCT_METADATA``, Collection 2 in
``LANDSAT_METADATA_FILE`` / ``IMAGE_ATTRIBUTES``; GDAL's own reader knows only the first, so the file
is read here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["find_mtl", "read_mtl", "spacecraft"]

#: The suffixes of an MTL file, lower-cased.
_SUFFIXES = ("_mtl.txt", "_mtl.json")


def find_mtl(raster: str | os.PathLike) -> Path | None:
    """The MTL file of the scene a band file belongs to, in the same folder, or None.

    The MTL's scene id (its name before ``_MTL``) must begin the raster's name, followed by ``_``
    (``LC08_L1TP_..._T1_B8.TIF`` -> ``LC08_L1TP_..._T1_MTL.txt``); the longest such id wins, text
    before JSON. Only files on a local file system are looked at (not ``/vsi...`` paths).
    """
    p = Path(raster)
    stem = p.name.lower()
    try:
        names = os.listdir(p.parent) if p.is_file() else []
    except OSError:
        return None
    found: list[tuple[int, int, str]] = []
    for name in names:
        low = name.lower()
        for rank, suffix in enumerate(_SUFFIXES):
            scene = low[: -len(suffix)]
            if low.endswith(suffix) and scene and stem.startswith(scene + "_"):
                found.append((len(scene), -rank, name))
    return p.parent / max(found)[2] if found else None


def _odl(text: str) -> dict[str, str]:
    """An ODL text as a flat dict: ``GROUP.SUBGROUP.KEY`` -> the value, quotes removed."""
    flat: dict[str, str] = {}
    groups: list[str] = []
    for line in text.splitlines():
        key, sep, value = (s.strip() for s in line.partition("="))
        if not sep:
            continue
        if key == "GROUP":
            groups.append(value)
        elif key == "END_GROUP":
            if groups:
                groups.pop()
        else:
            flat[".".join([*groups, key])] = value.strip('"')
    return flat


def _flatten(obj: object, prefix: str = "") -> dict[str, str]:
    """A JSON MTL (nested objects) as the same flat dict as :func:`_odl`."""
    if not isinstance(obj, dict):
        return {prefix: str(obj)}
    flat: dict[str, str] = {}
    for k, v in obj.items():
        flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return flat


def read_mtl(path: str | os.PathLike) -> dict[str, str]:
    """The keys of an MTL file (``.txt`` ODL or ``.json``) as ``GROUP.SUBGROUP.KEY`` -> value.

    Raises:
        OSError: the file cannot be read. ValueError: a JSON MTL that does not parse.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if str(path).lower().endswith(".json"):
        return _flatten(json.loads(text))
    return _odl(text)


def spacecraft(meta: dict[str, str]) -> tuple[str, str] | None:
    """(SPACECRAFT_ID, SENSOR_ID) of an MTL's keys, wherever the collection puts them; None without."""
    found = {k.rsplit(".", 1)[-1]: v for k, v in meta.items() if k.endswith(("SPACECRAFT_ID", "SENSOR_ID"))}
    if not found.get("SPACECRAFT_ID"):
        return None
    return found["SPACECRAFT_ID"], found.get("SENSOR_ID", "")
