"""Sensor presets: Nyquist MTF gains of the MS bands and of the PAN, and the nominal ratio.

Gains from the pansharpening toolbox of Vivone et al. (see DESIGN.md section 3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .errors import OptionError, UsageError

log = logging.getLogger(__name__)

GENERIC_MS_GAIN = 0.3
GENERIC_PAN_GAIN = 0.15


@dataclass(frozen=True)
class Sensor:
    """A sensor preset.

    Attributes:
        name: canonical short name (``wv3``).
        long_name: human name.
        ratio: nominal PAN/MS resolution ratio.
        ms_gains: Nyquist gains of the MS bands, in band order; a single value applies to every band.
        pan_gain: Nyquist gain of the PAN.
        aliases: other accepted names.
    """

    name: str
    long_name: str
    ratio: int
    ms_gains: tuple[float, ...]
    pan_gain: float
    aliases: tuple[str, ...] = ()

    def gains_for(self, n_bands: int) -> tuple[float, ...]:
        """MS gains for ``n_bands`` bands.

        A preset with one gain repeats it; a preset with as many gains as bands uses them; otherwise
        the preset's mean gain is used for every band (with a log message), since band order and
        selection of the user's file are unknown.
        """
        if len(self.ms_gains) == 1:
            return self.ms_gains * n_bands
        if len(self.ms_gains) == n_bands:
            return self.ms_gains
        mean = sum(self.ms_gains) / len(self.ms_gains)
        log.info(
            "sensor %s has %d MS gains but the MS has %d bands: using the mean gain %.3f for all",
            self.name,
            len(self.ms_gains),
            n_bands,
            mean,
        )
        return (round(mean, 4),) * n_bands


_SENSORS: tuple[Sensor, ...] = (
    Sensor("qb", "QuickBird", 4, (0.34, 0.32, 0.30, 0.22), 0.15, ("quickbird",)),
    Sensor("ikonos", "IKONOS", 4, (0.26, 0.28, 0.29, 0.28), 0.17),
    Sensor("ge1", "GeoEye-1", 4, (0.23,), 0.16, ("geoeye1", "geoeye-1")),
    Sensor(
        "wv2",
        "WorldView-2",
        4,
        (0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.27),
        0.11,
        ("worldview2", "worldview-2"),
    ),
    Sensor(
        "wv3",
        "WorldView-3",
        4,
        (0.325, 0.355, 0.360, 0.350, 0.365, 0.360, 0.335, 0.315),
        0.14,
        ("worldview3", "worldview-3"),
    ),
    # WorldView-4 has the 4-band QuickBird/GeoEye-like layout; the toolbox has no own table.
    Sensor("wv4", "WorldView-4", 4, (0.23,), 0.16, ("worldview4", "worldview-4")),
    Sensor("pleiades", "Pleiades 1A/1B", 4, (0.3,), 0.15, ("phr",)),
    Sensor("spot6", "SPOT-6", 4, (0.33,), GENERIC_PAN_GAIN, ("spot-6",)),
    Sensor("spot7", "SPOT-7", 4, (0.33,), GENERIC_PAN_GAIN, ("spot-7",)),
    Sensor("landsat7", "Landsat-7 ETM+", 2, (0.55, 0.55, 0.55, 0.53), 0.40, ("l7", "etm")),
    Sensor("landsat8", "Landsat-8 OLI", 2, (0.55, 0.55, 0.55, 0.53), 0.40, ("l8", "oli")),
    Sensor("landsat9", "Landsat-9 OLI-2", 2, (0.55, 0.55, 0.55, 0.53), 0.40, ("l9",)),
    Sensor("gf2", "Gaofen-2", 4, (0.25, 0.21, 0.20, 0.15), GENERIC_PAN_GAIN, ("gaofen2", "gaofen-2")),
    Sensor("generic", "generic (unknown sensor)", 4, (GENERIC_MS_GAIN,), GENERIC_PAN_GAIN),
)

_REGISTRY: dict[str, Sensor] = {}
for _s in _SENSORS:
    for _n in (_s.name, *_s.aliases):
        _REGISTRY[_n.lower()] = _s


def list_sensors() -> tuple[Sensor, ...]:
    """All presets, in display order."""
    return _SENSORS


def get_sensor(name: str) -> Sensor:
    """Look a preset up by name or alias, case-insensitively.

    Raises:
        UsageError: the name is unknown; the message lists the known names.
    """
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        known = ", ".join(s.name for s in _SENSORS)
        raise UsageError(f"unknown sensor {name!r}: expected one of {known} (or pass --gains)") from None


def parse_gains_text(text: str) -> tuple[tuple[float, ...], float | None]:
    """The numbers of ``--gains``: comma-separated MS gains, optionally ``;PAN_GAIN`` at the end.

    Returns:
        (the MS gains as given, pan_gain or None).

    Raises:
        UsageError: not numbers, no MS gain, or a gain outside (0, 1).
    """
    ms_text, _, pan_text = text.partition(";")
    try:
        ms = tuple(float(v) for v in ms_text.split(",") if v.strip())
        pan = float(pan_text) if pan_text.strip() else None
    except ValueError:
        ms = ()
    if not ms:
        raise UsageError(f"--gains {text!r}: expected comma-separated numbers like 0.3,0.3,0.3,0.25;0.15")
    for g in (*ms, *((pan,) if pan is not None else ())):
        if not 0.0 < g < 1.0:
            raise UsageError(f"--gains value {g} is outside (0, 1): Nyquist gains are fractions like 0.3")
    return ms, pan


def parse_gains(text: str, n_bands: int) -> tuple[tuple[float, ...], float | None]:
    """Parse ``--gains`` (:func:`parse_gains_text`) for an MS of ``n_bands`` bands.

    ``"0.3"`` applies to every band; ``"0.3,0.3,0.3,0.25;0.15"`` gives 4 band gains and the PAN gain.

    Returns:
        (ms_gains with n_bands values, pan_gain or None).

    Raises:
        UsageError: not numbers, or outside (0, 1).
        OptionError: a count that is neither 1 nor n_bands.
    """
    ms, pan = parse_gains_text(text)
    if len(ms) == 1:
        ms = ms * n_bands
    if len(ms) != n_bands:
        raise OptionError(
            f"--gains has {len(ms)} MS values but the MS has {n_bands} bands: give 1 or {n_bands}"
        )
    return ms, pan


@dataclass
class Radiometry:
    """Band gains of the MTF model for a scene.

    Attributes:
        sensor: the preset's canonical name (``generic`` when none was given).
        ms_gains: one Nyquist gain per MS band.
        pan_gain: the PAN's Nyquist gain.
        warnings: what the user should know (no sensor given).
        source: where the sensor came from: ``--sensor``, ``none given`` or, set by the caller, the
            delivery's metadata or a fused file's tags.
    """

    sensor: str
    ms_gains: tuple[float, ...]
    pan_gain: float
    warnings: list[str] = field(default_factory=list)
    source: str = ""


def ratio_hint(ratio: int | None) -> str:
    """For the warning of a scene without a sensor: the presets whose nominal ratio is the scene's
    when that is not the generic preset's 4 (a ratio of 2 is Landsat's, whose MTF gains are far
    from the generic ones), or ""."""
    if ratio is None or ratio == get_sensor("generic").ratio:
        return ""
    same = [s for s in _SENSORS if s.ratio == ratio]
    if not same:
        return ""
    first = same[0]
    ms = sum(first.ms_gains) / len(first.ms_gains)
    return (
        f"; a ratio of {ratio} is that of {', '.join(s.name for s in same)} (MTF gains about {ms:.2f} MS, "
        f"{first.pan_gain:.2f} PAN): pass --sensor {first.name} or another of them if the scene comes from one"
    )


def resolve_gains(
    sensor: str | None, gains: str | None, n_bands: int, ratio: int | None = None
) -> Radiometry:
    """Gains from ``--sensor`` and ``--gains`` (gains win; unknown sensor is an error, none is generic).
    ``ratio``: the scene's, when known: the warning for no sensor names the presets of that ratio
    (:func:`ratio_hint`).

    Raises:
        OptionError: unknown sensor, or ``--gains`` that do not parse or do not fit the band count.
    """
    warns: list[str] = []
    if sensor is None:
        preset: Sensor = get_sensor("generic")
        if gains is None:
            warns.append(
                "no --sensor given: using generic MTF gains (0.3 MS, 0.15 PAN); pass --sensor or --gains "
                "for better results" + ratio_hint(ratio)
            )
    else:
        preset = get_sensor(sensor)
    ms_gains = preset.gains_for(n_bands)
    pan_gain = preset.pan_gain
    if gains is not None:
        ms_gains, pg = parse_gains(gains, n_bands)
        if pg is not None:
            pan_gain = pg
    source = "--sensor" if sensor is not None else "none given"
    return Radiometry(preset.name, tuple(float(g) for g in ms_gains), float(pan_gain), warns, source)
