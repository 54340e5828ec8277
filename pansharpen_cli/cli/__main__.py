"""``python -m pansharpen_cli.cli``: the same as the ``pansharpen`` command."""

from . import app

app()
