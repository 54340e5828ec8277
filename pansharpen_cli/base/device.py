"""The one place that turns a user's ``--device`` word into a ``torch.device``.

Only the CLI (and the benchmarks, which stand in for a user) call it: library code is handed a
device and never picks one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DeviceError, OptionError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present else CPU; ``cpu``; ``cuda`` / ``cuda:N`` (checked).

    Raises:
        DeviceError: CUDA asked for but absent, or an index beyond the GPUs present.
        OptionError: not one of those words.
    """
    import torch

    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise OptionError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0..)"
            )
        return dev
    raise OptionError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
