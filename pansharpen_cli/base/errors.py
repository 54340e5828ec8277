"""Typed errors. Each says what was wrong and what to change.

Every error subclasses :class:`PansharpenError` and the matching builtin, so library users can
catch either. The CLI turns them into one line on stderr and exit code 1 (2 for :class:`UsageError`).
"""

from __future__ import annotations


class PansharpenError(Exception):
    """Base class of every error the tool raises on purpose."""


class InputError(PansharpenError, ValueError):
    """An input raster or a pair of rasters cannot be fused as given."""


class InputFileError(PansharpenError, FileNotFoundError):
    """An input file is missing or cannot be opened as a raster."""


class OutputError(PansharpenError, OSError):
    """The output cannot be written where asked (exists, directory missing, equals an input)."""


class OptionError(PansharpenError, ValueError):
    """An option value is invalid (unknown sensor, gains of the wrong length, ...)."""


class WeightsError(PansharpenError, ValueError):
    """A weights file is missing, corrupted or does not match the network."""


class DeviceError(PansharpenError, RuntimeError):
    """The requested compute device is not available."""


class UsageError(OptionError):
    """An option value that is wrong whatever the input files (bad syntax, an unknown name): the CLI
    exits with 2, as for any other usage error."""


class ManifestError(UsageError):
    """A batch's scene list cannot be used (unknown or missing column, unparseable row, two rows with
    one output): refused before anything runs, a usage error (exit code 2)."""


class OutputPathError(UsageError, OutputError):
    """An output path that cannot be used as given (it is an input or another output, its folder is
    missing, it names a folder, it exists without ``--overwrite``, a symbolic link loop): found by the
    preflight before anything runs, a usage error (exit code 2) and an :class:`OutputError`."""
