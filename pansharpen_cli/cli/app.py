"""The Typer app and what every command shares: logging, errors as one line on stderr with an
exit code, and the rich progress drawer for the library's progress callback.

Exit codes: 0 success, 1 processing or input error (one line on stderr), 2 usage error.
Heavy modules (torch, the pipeline) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from .. import __version__
from ..base.errors import PansharpenError
from ..base.progress import Progress, no_progress

app = typer.Typer(
    name="pansharpen",
    help="Pansharpen a PAN/MS GeoTIFF pair: zero-shot deep fusion or classical methods, georeferenced output.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()
log = logging.getLogger("pansharpen_cli")


def _version(value: bool) -> None:
    if value:
        out.print(f"pansharpen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Pansharpening for geospatial analysts."""


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Log records of the tool to stderr as ``LEVEL: message`` (-q: errors only, -v: info)."""
    level = logging.ERROR if quiet else (logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("pansharpen_cli")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@contextmanager
def errors(verbose: bool = False) -> Iterator[None]:
    """Turn the tool's errors into one line on stderr and exit code 1 (never a traceback)."""
    try:
        yield
    except typer.Exit:
        raise
    except PansharpenError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: no output written", highlight=False)
        raise typer.Exit(130) from None
    except MemoryError:
        err.print("[red]error:[/red] out of memory: use a smaller --tile", highlight=False)
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - the CLI promises no traceback
        if verbose:
            log.exception("unexpected error")
        first = str(exc).splitlines()[0] if str(exc) else ""
        err.print(
            f"[red]error:[/red] {type(exc).__name__}: {first} (rerun with -v for details)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def _info_text(info: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())


class PlainLines:
    """Progress for logs (stderr not a terminal): one plain line per stage when it completes, and one
    every ``every`` seconds while a long stage runs: ``stage: done/total, figures, elapsed``."""

    def __init__(self, stream: Any = None, every: float = 30.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.start: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, task: str, completed: int, total: int, info: dict) -> None:
        now = time.monotonic()
        first = self.start.setdefault(task, now)
        done = completed >= total
        if not done and now - self.last.get(task, first) < self.every:
            return
        self.last[task] = now
        text = _info_text(info)
        line = f"{task}: {completed}/{total}" + (f", {text}" if text else "") + f", {now - first:.1f} s"
        print(line, file=self.stream, flush=True)


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Progress]:
    """A progress callback: one rich bar per task on a terminal's stderr, plain lines
    (:class:`PlainLines`) when stderr is not a terminal, nothing when ``quiet``."""
    if quiet:
        yield no_progress
        return
    if not err.is_terminal:
        yield PlainLines()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Bars(*columns, console=err, transient=False) as bars:
        ids: dict[str, Any] = {}

        def draw(task: str, completed: int, total: int, info: dict) -> None:
            text = _info_text(info)
            if task not in ids:
                ids[task] = bars.add_task(task, total=total, info=text)
            bars.update(ids[task], completed=completed, total=total, info=text)

        yield draw
