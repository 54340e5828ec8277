"""The one progress-callback type of the library.

Every long-running function takes ``progress(task, completed, total, info)``: ``task`` names the
stage in full (``"statistics"``, ``"warmup"``, ``"train"``, ``"fuse"``, ``"pretrain"`` ...),
``completed`` of ``total`` steps are done and ``info`` holds figures worth showing (losses, ...).
A stage opens with a call ``(task, 0, total, {})`` when its work starts (a drawer times the stage
from there, not from its first finished step) and its last call has ``completed == total``: the
steps really run (a stage that stops early reports ``(task, n, n, info)`` at its stop).
The library never prints: the CLI draws these calls with rich.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int, dict], None]


def no_progress(task: str, completed: int, total: int, info: dict) -> None:
    """The default callback: ignore the call."""
    return None
