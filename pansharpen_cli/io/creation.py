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
import math
import xml.etree.ElementTree as ET

import numpy as np
import rasterio

from ..base.errors import UsageError

__all__ = ["check_creation_options", "check_dtype_options", "creation_option_list"]

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
def _option_types(driver: str) -> dict[str, tuple[str, tuple[str, ...]]] | None:
    """Upper-case name (aliases too) -> (the XML's type, the values a select allows)."""
    text = _driver_xml(driver)
    if text is None:
        return None
    options: dict[str, tuple[str, tuple[str, ...]]] = {}
    for opt in ET.fromstring(text).iter("Option"):
        values = tuple(v.text.strip().upper() for v in opt.iter("Value") if v.text)
        kind = opt.get("type", "")
        for attr in ("name", "alias", "deprecated_alias"):
            if opt.get(attr):
                options[opt.get(attr).strip().upper()] = (kind, values if kind == "string-select" else ())
    return options


def creation_option_list(driver: str) -> dict[str, tuple[str, ...]] | None:
    """The creation options of a GDAL driver: upper-case name -> the values it allows (empty: any).

    Returns:
        None where the list cannot be read (then nothing is checked).
    """
    types = _option_types(driver)
    return None if types is None else {k: v for k, (_, v) in types.items()}


#: (least, most) of the numeric options checked here; the block sides are also multiples of 16.
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "GTIFF": {
        "BLOCKXSIZE": (16, 8192),
        "BLOCKYSIZE": (16, 8192),
        "ZLEVEL": (1, 12),
        "ZSTD_LEVEL": (1, 22),
        "LZMA_PRESET": (0, 9),
        "JPEG_QUALITY": (1, 100),
        "WEBP_LEVEL": (1, 100),
        "PREDICTOR": (1, 3),
        "NBITS": (1, 32),
    },
    "COG": {"BLOCKSIZE": (128, 8192), "QUALITY": (1, 100), "OVERVIEW_QUALITY": (1, 100), "LEVEL": (0, 22)},
}
#: COG's LEVEL by codec.
_LEVELS = {"DEFLATE": (1, 12), "LERC_DEFLATE": (1, 12), "ZSTD": (1, 22), "LERC_ZSTD": (1, 22), "LZMA": (0, 9)}
_BLOCKS = ("BLOCKXSIZE", "BLOCKYSIZE", "BLOCKSIZE")
_BOOLEANS = ("YES", "NO", "TRUE", "FALSE", "ON", "OFF", "1", "0")


def _check_value(driver: str, key: str, value: str, kind: str, options: dict[str, str]) -> None:
    """A value of the right type, in its range; block sides multiples of 16."""
    k, v = key.upper(), value.strip()
    bad = f"--co {key}={value}"
    if kind == "boolean" and v.upper() not in _BOOLEANS:
        raise UsageError(f"{bad}: expected {k}=YES or {k}=NO")
    if kind not in ("int", "float") and k not in RANGES.get(driver.upper(), {}):
        return
    try:
        number = int(v) if kind == "int" else float(v)
    except ValueError:
        raise UsageError(f"{bad}: expected {'an integer' if kind == 'int' else 'a number'} for {k}") from None
    lo, hi = RANGES.get(driver.upper(), {}).get(k, (-math.inf, math.inf))
    if k == "LEVEL":
        lo, hi = _LEVELS.get(options.get("COMPRESS", "DEFLATE").upper(), (lo, hi))
    strips = k == "BLOCKYSIZE" and options.get("TILED", "YES").upper() in ("NO", "FALSE", "OFF", "0")
    if strips:  # rows per strip: any count
        lo = 1
    if not lo <= number <= hi:
        what = "a multiple of 16 " if k in _BLOCKS and not strips else ""
        raise UsageError(f"{bad}: expected {k} to be {what}from {lo:g} to {hi:g} for {driver}")
    if k in _BLOCKS and not strips and number % 16:
        near = max(lo, round(number / 16) * 16)
        raise UsageError(f"{bad}: tile sides must be multiples of 16 (try {k}={near:g})")


def check_dtype_options(driver: str, options: dict[str, str], dtype: str, count: int | None = None) -> None:
    """Refuse creation options the output's dtype or band ``count`` cannot have: the floating-point
    predictor for an integer output, JPEG or WEBP for anything but 8 bits (JPEG: 12 with NBITS=12),
    an NBITS that is not 8/16/32/64 with the horizontal predictor or in a COG, WEBP for other than 3 or 4
    bands, JPEG for more than 4 (a GeoTIFF: unless INTERLEAVE=BAND), YCbCr for other than 3: all
    known before any pixel is read (GDAL would refuse them at the first write).

    Raises:
        UsageError: naming the option and what to use instead.
    """
    opts = {k.upper(): str(v).upper() for k, v in options.items()}
    is_float = np.issubdtype(np.dtype(dtype), np.floating)
    if opts.get("PREDICTOR") in ("3", "FLOATING_POINT") and not is_float:
        raise UsageError(
            f"--co PREDICTOR={opts['PREDICTOR']}: the floating-point predictor needs a float output, "
            f"this one is {dtype}: use PREDICTOR={'2' if driver.upper() == 'GTIFF' else 'YES'} "
            "or --dtype float32"
        )
    codec = opts.get("COMPRESS", "")
    if codec in ("JPEG", "WEBP") and dtype != "uint8" and not (codec == "JPEG" and opts.get("NBITS") == "12"):
        raise UsageError(
            f"--co COMPRESS={codec}: needs an 8-bit output, this one is {dtype}: add --dtype uint8"
        )
    odd_bits = opts.get("NBITS", "8") not in ("8", "16", "32", "64")
    if odd_bits and driver.upper() == "COG":
        raise UsageError(
            f"--co NBITS={opts['NBITS']} with --of COG: GDAL's COG copy of such a file fails now and then "
            "here (\"pixels clipped to fit the bit domain\", from values inside it): write --of GTiff with "
            "NBITS, or a COG without it"
        )
    horizontal = opts.get("PREDICTOR") in ("2", "YES", "STANDARD")
    if horizontal and odd_bits:
        raise UsageError(
            f"--co NBITS={opts['NBITS']} with PREDICTOR={opts['PREDICTOR']}: GDAL's horizontal predictor "
            "needs 8, 16, 32 or 64 bits a sample: drop PREDICTOR (or set PREDICTOR=1)"
        )
    if count is not None:
        _check_band_count(driver, opts, count)


def _check_band_count(driver: str, opts: dict[str, str], count: int) -> None:
    """The band counts of GDAL's WEBP, JPEG and YCbCr (see :func:`check_dtype_options`)."""
    codec = opts.get("COMPRESS", "")
    band = driver.upper() == "GTIFF" and opts.get("INTERLEAVE") == "BAND"
    if opts.get("PHOTOMETRIC") == "YCBCR" and count != 3:
        raise UsageError(f"--co PHOTOMETRIC=YCBCR needs 3 bands, the output has {count}: drop it "
                         "(`pansharpen visual` makes a 3-band YCbCr JPEG product)")
    if codec == "WEBP" and count not in (3, 4):
        raise UsageError(f"--co COMPRESS=WEBP: GDAL's WEBP holds 3 or 4 bands, the output has {count}: "
                         "use COMPRESS=ZSTD, DEFLATE or LZW (or `pansharpen visual` for an RGB product)")
    if codec == "JPEG" and count > 4 and not band:
        fix = "add --co INTERLEAVE=BAND" if driver.upper() == "GTIFF" else "use COMPRESS=ZSTD or DEFLATE"
        raise UsageError(f"--co COMPRESS=JPEG: JPEG holds at most 4 bands a pixel, the output has {count}: "
                         f"{fix}")


def check_creation_options(driver: str, options: dict[str, str]) -> None:
    """Refuse creation options the driver does not know, values outside an option's choices, values
    of the wrong type or out of range (:data:`RANGES`), and tile sides that are not multiples of 16.

    Args:
        driver: "GTiff" or "COG".
        options: KEY -> VALUE as given with ``--co``.

    Raises:
        UsageError: naming the option, a close match, and where the valid ones are listed.
    """
    types = _option_types(driver)
    if not types:
        return
    known = {k: v for k, (_, v) in types.items()}
    upper = {k.upper(): str(v) for k, v in options.items()}
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
        _check_value(driver, key, str(value), types[k][0], upper)
