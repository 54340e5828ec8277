"""The numerics of the 8-bit display product (``pansharpen visual``): which bands are red, green
and blue, and the stretch from the fused values to 8 bits.

Band roles come, in this order, from ``--bands``, the bands' descriptions (``red``, ``Green``,
``blue (450-510 nm)``: not ``red edge``, ``coastal blue`` or ``NIR``), their colour interpretation
(GDAL's red/green/blue), and the sensor's band layout (:data:`SENSOR_LAYOUTS`). Band numbers are
1-based, in GDAL's order.

The stretch (:class:`Stretch`) maps the low percentile of the valid values to 1 and the high one to
255, linearly, with an optional gamma; 0 is left for nodata so that a valid pixel never reads as 0:

- ``percentile``: each band's own percentiles (the default; colours balanced band by band);
- ``dra``: dynamic-range adjustment with one common stretch: the percentiles of the three bands'
  valid values pooled together, the same low and high for all three, so the bands keep their
  relative brightness (a grey roof stays grey).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..base.errors import OptionError, UsageError
from ..base.sensors import get_sensor

__all__ = [
    "CODECS",
    "COLOURS",
    "DEFAULT_PERCENTILES",
    "DEFAULT_QUALITY",
    "LOSSY",
    "NODATA_AS",
    "STRETCHES",
    "SENSOR_LAYOUTS",
    "BandRoles",
    "Stretch",
    "apply_stretch",
    "band_roles",
    "parse_bands",
    "parse_percentiles",
    "roles_from_names",
    "roles_from_sensor",
    "stretch_limits",
]

COLOURS = ("red", "green", "blue")
#: The product's choices (the CLI's and the pipeline's one list): stretches, where nodata goes,
#: codecs (their GDAL names in upper case; the lossy ones take a quality, default 90).
STRETCHES = ("percentile", "dra")
NODATA_AS = ("mask", "alpha")
CODECS = ("jpeg", "webp", "deflate", "lzw")
LOSSY = ("jpeg", "webp")
DEFAULT_QUALITY = 90
#: Default ``--percentiles``: the low and high percentiles mapped to 1 and 255.
DEFAULT_PERCENTILES = (2.0, 98.0)
#: Words that make a description something else than the visible colour it names.
_NOT_VISIBLE = {"edge", "rededge", "coastal", "nir", "infrared", "ir", "deep", "swir"}
_LETTERS = {"r": "red", "g": "green", "b": "blue"}

_BGRN = (3, 2, 1)  # blue, green, red, NIR (QuickBird, IKONOS, GeoEye-1, WorldView 4-band, Gaofen-2)
#: Red, green, blue band numbers by sensor preset (base/sensors.py names) and MS band count, for
#: the band orders deliveries come in (the order the presets' gains are given in).
SENSOR_LAYOUTS: dict[str, dict[int, tuple[int, int, int]]] = {
    # 8 bands: coastal, blue, green, yellow, red, red edge, NIR1, NIR2; 4 bands: blue, green, red, NIR1
    "wv2": {8: (5, 3, 2), 4: _BGRN},
    "wv3": {8: (5, 3, 2), 4: _BGRN},
    "wv4": {4: _BGRN},
    "qb": {4: _BGRN},
    "ikonos": {4: _BGRN},
    "ge1": {4: _BGRN},
    "gf2": {4: _BGRN},
    # Landsat: the 30 m bands from blue on (ETM+ B1-B4, OLI B2-B5: blue, green, red, NIR), or OLI's
    # B1-B7 (coastal first) and ETM+'s six (B1-B5, B7)
    "landsat7": {4: _BGRN, 6: _BGRN},
    "landsat8": {4: _BGRN, 7: (4, 3, 2)},
    "landsat9": {4: _BGRN, 7: (4, 3, 2)},
}


@dataclass(frozen=True)
class BandRoles:
    """The red, green and blue bands (1-based) and where they came from (for messages and tags)."""

    bands: tuple[int, int, int]
    source: str


def _colour_of(name: str | None) -> str | None:
    """The visible colour a band description or colour interpretation names, if exactly one."""
    if not name:
        return None
    low = name.strip().lower()
    if low in _LETTERS:
        return _LETTERS[low]
    words = set(re.findall(r"[a-z]+", low))
    hits = [c for c in COLOURS if c in words]
    return hits[0] if len(hits) == 1 and not words & _NOT_VISIBLE else None


def roles_from_names(names: Sequence[str | None]) -> tuple[int, int, int] | None:
    """Red, green, blue (1-based) when exactly one band names each colour, else None."""
    found: dict[str, list[int]] = {c: [] for c in COLOURS}
    for i, name in enumerate(names, start=1):
        colour = _colour_of(name)
        if colour:
            found[colour].append(i)
    if all(len(v) == 1 for v in found.values()):
        return found["red"][0], found["green"][0], found["blue"][0]
    return None


def roles_from_sensor(sensor: str | None, count: int) -> tuple[int, int, int] | None:
    """Red, green, blue (1-based) of a sensor preset's MS of ``count`` bands, else None."""
    if not sensor:
        return None
    try:
        name = get_sensor(sensor).name
    except UsageError:
        return None
    return SENSOR_LAYOUTS.get(name, {}).get(count)


def parse_bands(text: str) -> tuple[int, int, int]:
    """``--bands R,G,B``: three 1-based band numbers.

    Raises:
        UsageError: not three positive integers.
    """
    try:
        bands = tuple(int(v) for v in text.split(","))
    except ValueError:
        bands = ()
    if len(bands) != 3 or min(bands) < 1:
        raise UsageError(f"--bands {text!r}: expected three band numbers R,G,B from 1 (GDAL order), like 5,3,2")
    return bands  # type: ignore[return-value]


def band_roles(
    count: int,
    given: str | None = None,
    descriptions: Sequence[str | None] = (),
    colours: Sequence[str | None] = (),
    sensor: str | None = None,
) -> BandRoles:
    """The red, green and blue bands of a file of ``count`` bands (module docstring's order).

    Raises:
        UsageError: ``given`` does not parse.
        OptionError: ``given`` names a band the file does not have; no roles could be found (the
            message asks for ``--bands``).
    """
    if given is not None:
        bands = parse_bands(given)
        if max(bands) > count:
            raise OptionError(f"--bands {given}: the file has {count} bands (1 to {count})")
        return BandRoles(bands, "--bands")
    for found, source in (
        (roles_from_names(descriptions), "the band descriptions"),
        (roles_from_names(colours), "the colour interpretation"),
        (roles_from_sensor(sensor, count), f"the sensor ({sensor}, {count} bands)"),
    ):
        if found is not None:
            return BandRoles(found, source)
    if not sensor:
        why = "no sensor tag"
    elif sensor == "generic":
        why = "sensor generic: fused without --sensor"
    else:
        why = f"no band layout known for sensor {sensor} with {count} bands"
    if count < 3:  # a grey product, or the file's bands as red, green and blue as the user chooses
        example = "--bands 1,1,1 for a grey product" if count == 1 else "e.g. --bands 2,1,1"
        raise OptionError(
            f"cannot make red, green and blue of {count} band{'s' if count > 1 else ''} by itself: pass "
            f"--bands R,G,B (1-based, a band may repeat), {example}"
        )
    raise OptionError(
        f"cannot tell which of the {count} bands are red, green and blue (not exactly one band named "
        f"each colour in the band descriptions or colour interpretation, {why}): pass --bands R,G,B "
        "(1-based, GDAL order), e.g. --bands 3,2,1 for blue, green, red, NIR"
    )


def parse_percentiles(text: str) -> tuple[float, float]:
    """``--percentiles LOW,HIGH``: 0 <= LOW < HIGH <= 100.

    Raises:
        UsageError: not two numbers in that order and range.
    """
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low, high = -1.0, -1.0
    if not 0 <= low < high <= 100:
        raise UsageError(f"--percentiles {text!r}: expected LOW,HIGH with 0 <= LOW < HIGH <= 100, like 2,98")
    return low, high


@dataclass(frozen=True)
class Stretch:
    """How the three bands become 8 bits.

    Attributes:
        method: ``percentile`` (per band) or ``dra`` (one common stretch).
        low, high: the percentiles mapped to 1 and 255.
        gamma: applied after the linear stretch: ``v ** (1 / gamma)`` of the 0..1 value (above 1
            brightens the dark tones, 1 leaves them).
    """

    method: str = "percentile"
    low: float = DEFAULT_PERCENTILES[0]
    high: float = DEFAULT_PERCENTILES[1]
    gamma: float = 1.0

    def describe(self, limits: np.ndarray, bands: Sequence[int]) -> str:
        """The tag text: method, percentiles, gamma, and each band's values mapped to 1 and 255."""
        per = "; ".join(f"band {b} {lo:.6g}..{hi:.6g}" for b, (lo, hi) in zip(bands, limits, strict=True))
        return f"{self.method} {self.low:g},{self.high:g} -> 1..255, gamma {self.gamma:g}: {per}"


def stretch_limits(sample: np.ndarray, valid: np.ndarray, stretch: Stretch) -> np.ndarray:
    """The values mapped to 1 and 255, per band: (3, 2) float64.

    Args:
        sample: (3, h, w) values of the red, green and blue bands.
        valid: (h, w) bool, the pixels to count.

    Raises:
        ValueError: no valid pixel (the caller names the file).
    """
    values = sample[:, valid].astype(np.float64)
    if values.shape[1] == 0:
        raise ValueError("no valid pixel in the sample")
    q = (stretch.low, stretch.high)
    if stretch.method == "dra":
        lim = np.tile(np.percentile(values, q), (3, 1))
    else:
        lim = np.stack([np.percentile(v, q) for v in values])
    flat = lim[:, 1] <= lim[:, 0]  # a constant band: its value maps to 1
    lim[flat, 1] = lim[flat, 0] + 1.0
    return lim


def apply_stretch(arr: np.ndarray, valid: np.ndarray, limits: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """(3, h, w) values -> (3, h, w) uint8: ``limits[:, 0]`` -> 1, ``limits[:, 1]`` -> 255, clipped,
    gamma applied between; invalid pixels 0."""
    lo, hi = limits[:, 0, None, None], limits[:, 1, None, None]
    v = (np.asarray(arr, np.float64) - lo) / (hi - lo)
    v[:, ~valid] = 0.0  # NaN and nodata values out of the way of the cast
    np.clip(v, 0.0, 1.0, out=v)
    if gamma != 1.0:
        np.power(v, 1.0 / gamma, out=v)
    out = (np.rint(v * 254.0) + 1.0).astype(np.uint8)
    out[:, ~valid] = 0
    return out
