"""GDAL creation options (``--co KEY=VALUE``) checked against the output driver's own list.

GDAL only warns about an unknown creation option and then ignores it, so ``--co COMPRES=LZW`` would
silently write a DEFLATE file. The driver publishes what it accepts as XML (the driver metadata item
``DMD_CREATIONOPTIONLIST``, what ``gdalinfo --format GTiff`` prints); rasterio does not expose driver
metadata, so it is read through GDAL's C API from the library rasterio itself loaded.
"""

from __future__ import annotations

import ctypes
import difflib
import functools
import logging
import xml.etree.ElementTree as ET

import rasterio

from ..base.errors import UsageError

__all__ = ["check_creation_options", "creation_option_list"]

log = logging.getLogger(__name__)


def _driver_xml(driver: str) -> str | None:
    """The driver's ``DMD_CREATIONOPTIONLIST`` XML, or None where GDAL's C API cannot be reached."""
    try:
        import rasterio._base as gdal_module

        lib = ctypes.CDLL(gdal_module.__file__)  # its symbol lookup reaches the GDAL it links
        get_driver = lib.GDALGetDriverByName
        get_driver.restype, get_driver.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        get_item = lib.GDALGetMetadataItem
        get_item.restype = ctypes.c_char_p
        get_item.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    except (OSError, AttributeError, ImportError):
        log.debug("GDAL's driver metadata is not reachable: creation options not checked", exc_info=True)
        return None
    with rasterio.Env():  # drivers registered
        handle = get_driver(driver.encode())
        text = get_item(handle, b"DMD_CREATIONOPTIONLIST", None) if handle else None
    return text.decode() if text else None


@functools.cache
def creation_option_list(driver: str) -> dict[str, tuple[str, ...]] | None:
    """The creation options of a GDAL driver: upper-case name -> the values it allows (empty: any).

    Returns:
        None where the list cannot be read (then nothing is checked).
    """
    text = _driver_xml(driver)
    if text is None:
        return None
    options: dict[str, tuple[str, ...]] = {}
    for opt in ET.fromstring(text).iter("Option"):
        values = tuple(v.text.strip().upper() for v in opt.iter("Value") if v.text)
        selects = opt.get("type", "") == "string-select"
        for attr in ("name", "alias", "deprecated_alias"):
            if opt.get(attr):
                options[opt.get(attr).strip().upper()] = values if selects else ()
    return options


def check_creation_options(driver: str, options: dict[str, str]) -> None:
    """Refuse creation options the driver does not know, and values outside an option's choices.

    Args:
        driver: "GTiff" or "COG".
        options: KEY -> VALUE as given with ``--co``.

    Raises:
        UsageError: naming the option, a close match, and where the valid ones are listed.
    """
    known = creation_option_list(driver)
    if not known:
        return
    where = f"`gdalinfo --format {driver}` or https://gdal.org/drivers/raster/{driver.lower()}.html"
    for key, value in options.items():
        k = key.upper()
        if k not in known:
            close = difflib.get_close_matches(k, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(
                f"--co {key}={value}: the {driver} driver has no creation option {k}{hint}; "
                f"the valid ones are listed by {where}"
            )
        if known[k] and value.upper() not in known[k]:
            raise UsageError(
                f"--co {key}={value}: expected {k} to be one of {', '.join(known[k])} for {driver}"
            )
