"""``rio pansharpen``: the ``fuse`` command as a plugin of rasterio's ``rio`` command line.

Declared in pyproject.toml's ``rasterio.rio_plugins`` entry points (rasterio's convention for
plugins), so installing the package adds it to ``rio``. ``rio pansharpen PAN MS... OUT [OPTIONS]``
is ``pansharpen fuse`` under another name: the same options, messages (usage errors in one line)
and exit codes, because the arguments are handed to the ``pansharpen`` app itself with the
command registered there under the name ``pansharpen``.
"""

from __future__ import annotations

from typing import Any

import click
import typer.main

from .cli import app

#: The name under rio.
NAME = "pansharpen"


def _group() -> click.Group:
    """The app's click group with only ``fuse``, under the name ``pansharpen``."""
    full = typer.main.get_command(app)
    fuse = full.commands["fuse"]  # type: ignore[attr-defined]
    return type(full)(name="rio", commands={NAME: fuse}, add_help_option=False)


class _Plugin(click.Command):
    """Hands every argument to the app's own ``main`` (its error and exit-code handling)."""

    def invoke(self, ctx: click.Context) -> Any:
        prog = ctx.parent.command_path if ctx.parent is not None else "rio"
        return _group().main([NAME, *ctx.params["args"]], prog_name=prog)


pansharpen = _Plugin(
    NAME,
    params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    help="Pansharpen a PAN/MS pair (pansharpen fuse; see 'rio pansharpen --help').",
    short_help="Pansharpen a PAN/MS pair (pansharpen fuse).",
)
