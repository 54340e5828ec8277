"""The ``pansharpen`` command line: one module per command group, all on one Typer app.

Commands are thin: parse, build a config, call the pipeline, draw progress, exit codes.
"""

from . import batch, fuse, inspect, quality, train, visual  # noqa: F401  (registers the commands)
from .app import app

__all__ = ["app"]
