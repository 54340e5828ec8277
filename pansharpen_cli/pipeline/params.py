"""A ``fuse`` run as a person asks for it: the options of ``pansharpen fuse`` and of the Python API
(``pansharpen_cli.fuse`` and ``fuse_arrays``), defined once with their defaults and bounds, checked,
and turned into the pipeline's :class:`~pansharpen_cli.pipeline.fuse.FuseOptions`; the preflight
and the ``--report`` file they share.

The command line takes its defaults from :class:`FuseParams` (and a test holds every other default
of its signature to it); the Python API takes the same names as keywords. Nothing here imports torch
or rasterio at import time: the CLI imports this module for its ``--help``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import methods
from ..base.errors import UsageError
from ..base.progress import Progress, no_progress
from ..methods.presets import ALIGN, DEFAULT_PRESET, PRESETS

if TYPE_CHECKING:
    import torch

    from ..methods.zeroshot.config import ZeroShotConfig
    from .fuse import FuseOptions, FuseResult

log = logging.getLogger(__name__)

#: Output formats (``--of``).
FORMATS = ("GTiff", "COG")
#: The zero-shot fields that may be set directly (None: the preset's value).
TUNED = (
    "p_full", "lr_rr", "lr_fr", "crop", "batch", "w_spectral", "w_spatial", "w_corr", "register", "align"
)


@dataclass
class FuseParams:
    """The options of one ``fuse`` run, by the names of the CLI's flags (``--pan-band``: ``pan_band``)
    and with its defaults. ``pansharpen fuse --help`` says what each does.

    Attributes:
        method, sensor, gains, ratio, pan_band, assume_aligned: the method and the radiometry.
        dtype, of, co, overwrite, tile: the output file (``co``: a dict, or ``KEY=VALUE`` strings).
        weights, device, preset, iterations, seed, amp, arch, warmup: methods that adapt.
        p_full, lr_rr, lr_fr, crop, batch, w_spectral, w_spatial, w_corr, register, align: zero-shot
            tuning (``align``: "pan" or "ms", the image the output lines up with).
        report, save_model, preview: the extra files a run writes.
        preview_scale, preview_size: ``preview`` at 1:1 (each PAN pixel ``preview_scale`` PNG pixels
            a side), a central crop of ``preview_size`` PAN pixels a side; None: the fitted quicklook.
        overviews: overviews in the output: ``"auto"``, factors such as ``(2, 4, 8)`` or ``"2,4,8"``,
            ``"none"`` or None.
    """

    method: str = methods.DEFAULT_METHOD
    sensor: str | None = None
    gains: str | None = None
    ratio: int | None = None
    pan_band: int | None = None
    assume_aligned: bool = False
    dtype: str | None = None
    of: str = "GTiff"
    co: Mapping[str, Any] | Sequence[str] | None = None
    overwrite: bool = False
    tile: int = 256
    weights: str = "default"
    device: str = "auto"
    preset: str = DEFAULT_PRESET
    iterations: int | None = None
    seed: int = 0
    amp: bool = False
    arch: str | None = None
    warmup: int | None = None
    p_full: float | None = None
    lr_rr: float | None = None
    lr_fr: float | None = None
    crop: int | None = None
    batch: int | None = None
    w_spectral: float | None = None
    w_spatial: float | None = None
    w_corr: float | None = None
    register: bool | None = None
    align: str | None = None
    report: str | Path | None = None
    save_model: str | Path | None = None
    preview: str | Path | None = None
    preview_scale: int | None = None
    preview_size: int = 256
    overviews: str | Sequence[int] | None = None


#: The names of the options, in the order of ``pansharpen fuse --help``.
NAMES: tuple[str, ...] = tuple(f.name for f in fields(FuseParams))
_DEFAULTS: dict[str, Any] = {f.name: getattr(FuseParams, f.name) for f in fields(FuseParams)}

#: Numeric bounds: (lowest, highest, whether the lowest is excluded); None: no bound. The CLI's
#: typer options carry the same (a test compares them).
BOUNDS: dict[str, tuple[float, float | None, bool]] = {
    "ratio": (2, None, False),
    "pan_band": (1, None, False),
    "tile": (16, None, False),
    "iterations": (0, None, False),
    "warmup": (0, None, False),
    "crop": (8, None, False),
    "batch": (1, None, False),
    "p_full": (0.0, 1.0, False),
    "lr_rr": (0.0, None, True),
    "lr_fr": (0.0, None, True),
    "w_spectral": (0.0, None, False),
    "w_spatial": (0.0, None, False),
    "w_corr": (0.0, None, False),
    "preview_scale": (1, 8, False),
    "preview_size": (16, None, False),
}
_INTEGERS = (
    "ratio",
    "pan_band",
    "tile",
    "iterations",
    "warmup",
    "crop",
    "batch",
    "seed",
    "preview_scale",
    "preview_size",
)
_FLAGS = ("assume_aligned", "overwrite", "amp", "register")
_CHOICES = {"of": FORMATS, "preset": tuple(PRESETS), "align": ALIGN}


def from_keywords(func: str, options: Mapping[str, Any], allowed: Sequence[str] = NAMES) -> FuseParams:
    """:class:`FuseParams` from a Python caller's keywords, checked (:func:`check`).

    Raises:
        TypeError: a keyword that is not an option of ``func``, listing the valid ones.
        UsageError: a value of the wrong type or out of bounds.
    """
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise TypeError(f"{func}() got unknown option(s) {names}: valid options are {', '.join(allowed)}")
    params = FuseParams(**options)
    check(params)
    return params


def from_namespace(values: Mapping[str, Any]) -> FuseParams:
    """:class:`FuseParams` from the CLI's parsed parameters (enum members as their values; ``co`` as
    parsed into ``creation``); names it lacks keep their defaults."""
    got = {k: getattr(values[k], "value", values[k]) for k in NAMES if k in values}
    if "creation" in values:
        got["co"] = values["creation"]
    return FuseParams(**got)


def _bad(name: str, value: Any, want: str) -> UsageError:
    return UsageError(f"option {name}={value!r}: expected {want}")


def _check_value(name: str, value: Any) -> None:
    """One option's type and bounds."""
    if name in _FLAGS and not isinstance(value, bool):
        raise _bad(name, value, "True or False")
    if name in _INTEGERS and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(name, value, "an integer")
    if name in BOUNDS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(name, value, "a number")
        low, high, above = BOUNDS[name]
        too_low = value <= low if above else value < low
        if too_low or (high is not None and value > high):
            want = f"above {low:g}" if above else f"at least {low:g}"
            raise _bad(name, value, want if high is None else f"from {low:g} to {high:g}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise _bad(name, value, f"one of {', '.join(_CHOICES[name])}")


def check(p: FuseParams) -> None:
    """Check the values the CLI's parser checks (types, bounds, choices, ``co`` items, the method and
    the architecture); the pipeline checks the rest (sensor, gains, dtype, creation options).

    Raises:
        UsageError: naming the option and what it takes.
    """
    for name in NAMES:
        value = getattr(p, name)
        if value is not None:
            _check_value(name, value)
    if p.method not in methods.names():
        raise _bad("method", p.method, f"one of {', '.join(methods.names())}")
    creation_options(p.co)
    if p.arch is not None:
        from .. import networks

        if p.arch.lower() not in networks.available():
            raise _bad("arch", p.arch, f"one of {', '.join(networks.available())}")


def creation_options(co: Mapping[str, Any] | Sequence[str] | None) -> dict[str, str]:
    """GDAL creation options as a dict with upper-case keys, from a dict or ``KEY=VALUE`` strings.

    Raises:
        UsageError: an item without ``=`` or without a key.
    """
    if co is None:
        return {}
    if isinstance(co, Mapping):
        return {str(k).strip().upper(): str(v).strip() for k, v in co.items()}
    if isinstance(co, str):
        co = [co]
    out: dict[str, str] = {}
    for item in co:
        key, sep, val = str(item).partition("=")
        if not sep or not key.strip():
            raise _bad("co", item, "KEY=VALUE")
        out[key.strip().upper()] = val.strip()
    return out


def zeroshot_config(p: FuseParams) -> ZeroShotConfig:
    """The zero-shot settings (options left out keep the preset's values).

    ``iterations`` forces an exact budget: no scaling to the scene's size and no early stopping; it
    scales the warm-up with it (it keeps its share of the budget; 0 means pure pretrained inference)
    unless ``warmup`` is given too.
    """
    from ..methods.zeroshot.config import preset_config

    tuned = {k: getattr(p, k) for k in TUNED if getattr(p, k) is not None}
    cfg = preset_config(p.preset, seed=p.seed, amp=p.amp, **tuned)
    if p.arch is not None:
        cfg.arch = p.arch.lower()
    if p.iterations is not None:
        cfg.warmup = round(cfg.warmup * p.iterations / max(cfg.iterations, 1))
        cfg.iterations = p.iterations
        cfg.patience, cfg.reference_pixels = 0, 0
    if p.warmup is not None:
        cfg.warmup = p.warmup
    return cfg


def _path(p: str | Path | None) -> Path | None:
    return None if p is None else Path(p)


#: The options only a method that adapts a network reads (``zeroshot``, ``crossdiff``).
ADAPT_ONLY = ("weights", "device", "preset", "iterations", "seed", "amp", "arch", "warmup", *TUNED)


def _check_adapt_only(p: FuseParams) -> None:
    """A method that adapts nothing (the classical ones) reads none of :data:`ADAPT_ONLY`: a warning
    names those given; ``save_model``, a file it would never write, is refused.

    Raises:
        UsageError: ``save_model`` with such a method.
    """
    if methods.get(p.method).adapts:
        return
    if p.save_model is not None:
        raise UsageError(
            f"--save-model: method {p.method} adapts no network, so there is no model to save: drop "
            "--save-model, or fuse with -m zeroshot"
        )
    given = ["--" + n.replace("_", "-") for n in ADAPT_ONLY if getattr(p, n) != _DEFAULTS[n]]
    if given:
        log.warning(
            "%s: no effect with -m %s, which adapts no network (they set the zero-shot fit)",
            ", ".join(given),
            p.method,
        )


def file_options(p: FuseParams) -> FuseOptions:
    """The options that need no device: the method, the radiometry, the files (what the preflight
    looks at). Options that the method does not read are warned about (:func:`_check_adapt_only`).

    Raises:
        UsageError: ``save_model`` with a method that adapts no network.
    """
    from .fuse import FuseOptions

    _check_adapt_only(p)

    opts = FuseOptions(
        p.method,
        p.sensor,
        p.gains,
        p.ratio,
        p.pan_band,
        p.dtype,
        p.of,
        creation_options(p.co),
        p.overwrite,
        p.tile,
    )
    opts.weights, opts.save_model, opts.preview = p.weights, _path(p.save_model), _path(p.preview)
    opts.preview_scale, opts.preview_size = p.preview_scale, p.preview_size
    opts.assume_aligned = p.assume_aligned
    opts.overviews = p.overviews
    return opts


def with_fit(opts: FuseOptions, p: FuseParams, device: torch.device | None = None) -> FuseOptions:
    """``opts`` with, for methods that adapt, the zero-shot config and the device (``device``, else
    resolved from ``p.device``: ``auto`` is CUDA when present, else the CPU)."""
    from ..base.device import resolve_device

    if methods.get(p.method).adapts:
        opts.zeroshot = zeroshot_config(p)
        opts.device = device if device is not None else resolve_device(p.device)
        log.info("device: %s", opts.device)
    return opts


def fuse_options(p: FuseParams, device: torch.device | None = None) -> FuseOptions:
    """The pipeline's options of ``p`` (for methods that adapt: the zero-shot config, the device)."""
    return with_fit(file_options(p), p, device)


def preflight(pan: str | Path, ms: Sequence[str | Path], out: str | Path, p: FuseParams) -> FuseOptions:
    """``fuse``'s preflight (every path the run writes, ``report`` too: before torch is imported and
    before any file is read), then the options with the zero-shot config and the device.

    Raises:
        OutputPathError, OutputError, DeviceError, OptionError: see their messages.
    """
    from .preflight import check_fuse

    opts = file_options(p)
    check_fuse(pan, ms, out, opts, _path(p.report))
    return with_fit(opts, p)


def run(
    pan: str | Path,
    ms: Sequence[str | Path],
    out: str | Path,
    p: FuseParams,
    progress: Progress = no_progress,
) -> FuseResult:
    """:func:`preflight`, the fusion, then the ``report`` file when asked for.

    Raises:
        InputError, InputFileError, OutputError, OptionError, WeightsError, DeviceError: see their
            messages.
    """
    from .fuse import fuse

    opts = preflight(pan, ms, out, p)
    res = fuse(pan, ms, out, opts, progress=progress)
    if p.report is not None:
        write_report(p.report, res)
    return res


def write_report(path: str | Path, res: FuseResult) -> None:
    """The JSON report of a run (``--report``): the output, method, ratio, size, timings, warnings,
    notes and the method's own report."""
    payload = {
        "output": str(res.output),
        "method": res.method,
        "ratio": res.ratio,
        "width": res.width,  # pixels, as GDAL's "Size is width, height"
        "height": res.height,
        "bands": res.bands,
        "seconds": res.seconds,
        "warnings": res.warnings,
        "notes": res.notes,
        **res.report,
    }
    Path(path).write_text(json.dumps(payload, indent=2, default=str))
