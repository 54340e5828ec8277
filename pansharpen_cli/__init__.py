"""pansharpen: zero-shot deep pansharpening of georeferenced PAN/MS pairs.

The Python API (docs/python-api.md)::

    from pansharpen_cli import fuse, fuse_arrays, FuseResult

Its names are imported on first use (module ``__getattr__``), so ``import pansharpen_cli`` and the
command line's ``--help`` do not import torch or rasterio.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

# The library never prints: without this, Python's last-resort handler would write the tool's
# warnings to stderr in a program that has not configured logging (the command line sets its own).
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: The API's names, from :mod:`pansharpen_cli.api` when first used.
_API = (
    "fuse",
    "fuse_arrays",
    "FuseResult",
    "OPTIONS",
    "ARRAY_OPTIONS",
    "PansharpenError",
    "InputError",
    "InputFileError",
    "OutputError",
    "OutputPathError",
    "OptionError",
    "UsageError",
    "ManifestError",
    "WeightsError",
    "DeviceError",
)

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(".api", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
