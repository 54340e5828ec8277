"""The sensor of a delivery, recognised from its metadata: which preset ``--sensor`` would name.

Two sources, in this order, for each input file:

- the Landsat MTL beside a band file (:mod:`.mtl`): ``SPACECRAFT_ID`` (``LANDSAT_8``);
- GDAL's ``IMAGERY`` metadata domain (``SATELLITEID``), which GDAL fills from the vendor's sidecar
  files: Maxar/DigitalGlobe ``.IMD`` (and ``.TIL`` tiles), Pleiades/SPOT DIMAP ``DIM_*.XML`` beside
  ``IMG_*_R1C1`` images, GeoEye/IKONOS, Landsat Collection 1, ...; and, for a DIMAP document opened
  itself, its ``MISSION`` and ``MISSION_INDEX``.

The PAN and the MS must agree: two deliveries of different satellites are refused (pass
``--sensor`` to fuse them anyway). A satellite without a preset gives the generic gains and a
warning that names it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import InputError
from ..base.sensors import GENERIC_MS_GAIN, GENERIC_PAN_GAIN
from .mtl import find_mtl, read_mtl, spacecraft
from .raster import open_raster

__all__ = ["Detected", "detect_each", "detect_sensor", "preset_for"]

log = logging.getLogger(__name__)

#: Satellite ids as the metadata spell them (upper case, letters and digits only) -> preset name.
SATELLITE_PRESETS: dict[str, str] = {
    **dict.fromkeys(("WV02", "WORLDVIEW2"), "wv2"),
    **dict.fromkeys(("WV03", "WORLDVIEW3"), "wv3"),
    **dict.fromkeys(("WV04", "WORLDVIEW4"), "wv4"),
    **dict.fromkeys(("GE01", "GEOEYE1"), "ge1"),
    **dict.fromkeys(("QB02", "QB", "QUICKBIRD", "QUICKBIRD2"), "qb"),
    **dict.fromkeys(("IK02", "IKONOS", "IKONOS2"), "ikonos"),
    **dict.fromkeys(("PHR1A", "PHR1B", "PLEIADES1A", "PLEIADES1B"), "pleiades"),
    "SPOT6": "spot6",
    "SPOT7": "spot7",
    **dict.fromkeys(("LANDSAT7", "LE07"), "landsat7"),
    **dict.fromkeys(("LANDSAT8", "LC08"), "landsat8"),
    **dict.fromkeys(("LANDSAT9", "LC09"), "landsat9"),
    **dict.fromkeys(("GF2", "GAOFEN2"), "gf2"),
}


#: Suffixes of image files (the other files GDAL lists for a dataset are its metadata).
_IMAGES = (".tif", ".tiff", ".jp2", ".ntf")


def _key(satellite: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", satellite.upper())


def preset_for(satellite: str) -> str | None:
    """The preset name of a satellite id as metadata spell it (``WV03``, ``PHR 1A``, ``LANDSAT_8``),
    or None when no preset fits (WorldView-1, Landsat 5, Pleiades Neo, ...)."""
    return SATELLITE_PRESETS.get(_key(satellite))


@dataclass(frozen=True)
class Detected:
    """A sensor recognised from a delivery.

    Attributes:
        sensor: the preset's name (``generic`` when the satellite has none).
        source: where it was read: ``the IMAGERY metadata of pan.tif``, ``LC08_..._MTL.txt``.
        detail: the key and value read: ``SATELLITEID=WV03``.
        satellite: the satellite id as read.
        file: the input file it was read for.
        metadata: the metadata file(s) read (``pan.IMD``, ``LC08_..._MTL.txt``).
        warning: what the user should know (a satellite without a preset), or None.
    """

    sensor: str
    source: str
    detail: str
    satellite: str
    file: str
    metadata: str
    warning: str | None = None

    def describe(self) -> str:
        """One line: ``sensor wv3 from the IMAGERY metadata of pan.tif (SATELLITEID=WV03)``."""
        return f"sensor {self.sensor} from {self.source} ({self.detail})"

    @property
    def origin(self) -> str:
        """Where it came from, with the key: ``the IMAGERY metadata of pan.tif (SATELLITEID=WV03)``."""
        return f"{self.source} ({self.detail})"


def _detected(satellite: str, source: str, detail: str, file: str, metadata: str) -> Detected:
    preset = preset_for(satellite)
    if preset is not None:
        return Detected(preset, source, detail, satellite, file, metadata)
    warning = (
        f"satellite {satellite!r} ({detail} in {metadata}) has no sensor preset: using generic MTF gains "
        f"({GENERIC_MS_GAIN:g} MS, {GENERIC_PAN_GAIN:g} PAN); pass --sensor or --gains (`pansharpen "
        "sensors` lists the presets)"
    )
    return Detected("generic", source, detail, satellite, file, metadata, warning)


def _from_mtl(path: str | os.PathLike) -> Detected | None:
    mtl = find_mtl(path)
    if mtl is None:
        return None
    try:
        found = spacecraft(read_mtl(mtl))
    except (OSError, ValueError) as exc:
        log.warning("cannot read the Landsat metadata %s (%s): the sensor is not taken from it", mtl, exc)
        return None
    if found is None:
        return None
    sat, instrument = found
    detail = f"SPACECRAFT_ID={sat}" + (f", SENSOR_ID={instrument}" if instrument else "")
    return _detected(sat, mtl.name, detail, str(path), mtl.name)


def _from_imagery(path: str | os.PathLike, role: str) -> Detected | None:
    with open_raster(path, role) as ds:
        imagery = ds.tags(ns="IMAGERY")
        if ds.driver == "DIMAP" and not imagery.get("SATELLITEID"):
            tags = ds.tags()
            if tags.get("MISSION"):
                sat = f"{tags['MISSION']} {tags.get('MISSION_INDEX', '')}".strip()
                detail = f"MISSION={tags['MISSION']}, MISSION_INDEX={tags.get('MISSION_INDEX', '')}"
                name = Path(ds.name).name
                return _detected(sat, f"the DIMAP document {name}", detail, str(path), name)
        sidecars = [Path(f).name for f in ds.files[1:] if Path(f).suffix.lower() not in _IMAGES]
    sat = imagery.get("SATELLITEID", "").strip()
    if not sat:
        return None
    source = f"the IMAGERY metadata of {Path(path).name}"
    return _detected(sat, source, f"SATELLITEID={sat}", str(path), ", ".join(sidecars) or Path(path).name)


def detect_one(path: str | os.PathLike, role: str = "input") -> Detected | None:
    """The sensor of one raster's delivery (its MTL, else GDAL's IMAGERY domain), or None."""
    return _from_mtl(path) or _from_imagery(path, role)


def detect_each(pan_path: str | os.PathLike, ms_paths: Sequence[str | os.PathLike]) -> list[Detected]:
    """What each input's delivery says (the PAN first), for the files whose sensor is recognised."""
    found = [detect_one(pan_path, "PAN"), *(detect_one(p, "MS") for p in ms_paths)]
    return [d for d in found if d is not None]


def _same(a: Detected, b: Detected) -> bool:
    return a.sensor == b.sensor and (a.sensor != "generic" or _key(a.satellite) == _key(b.satellite))


def detect_sensor(pan_path: str | os.PathLike, ms_paths: Sequence[str | os.PathLike]) -> Detected | None:
    """The sensor of a PAN/MS delivery, or None when no input's metadata names one.

    Each file is looked at (:func:`detect_one`); one recognised file is enough (the PAN's answer is
    returned when both have one).

    Raises:
        InputError: the PAN's and an MS file's metadata name different satellites.
    """
    found = detect_each(pan_path, ms_paths)
    for d in found[1:]:
        if not _same(found[0], d):
            a, b = found[0], d
            raise InputError(
                f"{Path(a.file).name} is {a.satellite} ({a.detail} in {a.metadata}) but "
                f"{Path(b.file).name} is {b.satellite} ({b.detail} in {b.metadata}): the inputs come from "
                "different deliveries; pass --sensor NAME (or --gains) to fuse them anyway"
            )
    return found[0] if found else None
