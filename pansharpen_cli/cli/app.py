"""The Typer app and what every command shares: logging, errors as one line on stderr with an
exit code, and the rich progress drawer for the library's progress callback.

Exit codes: 0 success, 1 processing or input error, 2 usage error (each one line on stderr), 128 plus
the signal's number when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP; nothing is left behind).
Heavy modules (torch, the pipeline) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup

from .. import __version__
from ..base.errors import PansharpenError, UsageError
from ..base.progress import Progress, no_progress
from ..base.runtime import keep_freed_memory

#: Signals that end a run like Ctrl-C does: the output's temporary file is removed, exit 128 + N.
TERMINATING = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


class _FlagHelp:
    """``--help`` shown as the flag it is (typer would show it as taking a ``<bool>``)."""

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)  # type: ignore[misc]
        if opt is not None:
            opt.metavar = ""
        return opt


class Command(_FlagHelp, TyperCommand):
    """A command whose usage line reads like GDAL's: ``pansharpen fuse [OPTIONS] PAN MS... OUT``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if isinstance(p, TyperArgument):
                name = p.metavar or p.name.upper() + ("..." if p.nargs != 1 else "")
                pieces.append(name if p.required else f"[{name}]")
        return pieces


class Group(_FlagHelp, TyperGroup):
    """The app: usage errors as one line on stderr (``error: ...``), exit code 2."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, **extra: Any) -> Any:
        standalone = extra.pop("standalone_mode", True)
        keep_freed_memory()  # the process's allocator, once (base/runtime.py)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            err.print("[red]interrupted[/red]: no output written", highlight=False)
            sys.exit(130)
        except typer.TyperException as exc:  # click's usage errors
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()
            else:
                err.print(f"[red]error:[/red] {escape(usage_text(exc))}", highlight=False, soft_wrap=True)
            sys.exit(getattr(exc, "exit_code", 2))
        if not standalone:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def usage_text(exc: Any) -> str:
    """A usage error as one sentence: click's message, lower-case, and where the help is."""
    fmt = getattr(exc, "format_message", None)
    msg = " ".join((fmt() if fmt else str(exc)).split())
    msg = msg[:1].lower() + msg[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    return f"{msg} (see '{ctx.command_path} --help')" if ctx is not None else msg


app = typer.Typer(
    name="pansharpen",
    cls=Group,
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
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar="", help="Print the version and exit."
        ),
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


class Terminated(BaseException):
    """A terminating signal (SIGTERM, SIGHUP) raised like KeyboardInterrupt, so that every ``with``
    block on the way out (the output writer's removal of its temporary file) runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextmanager
def terminating_signals() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM and SIGHUP while the block runs (main thread only).

    A signal the process was started ignoring stays ignored: ``nohup pansharpen ...`` keeps running
    when its terminal closes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in TERMINATING if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, _terminate) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _fail(text: str, code: int) -> typer.Exit:
    try:
        err.print(text, highlight=False, soft_wrap=True)
    except OSError:  # stderr gone with the terminal (SIGHUP): the exit code still tells
        pass
    return typer.Exit(code)


@contextmanager
def errors(verbose: bool = False) -> Iterator[None]:
    """Turn the tool's errors into one line on stderr and an exit code (never a traceback): 1, 2 for
    a :class:`UsageError`, 128 + the signal when interrupted."""
    try:
        with terminating_signals():
            yield
    except typer.Exit:
        raise
    except PansharpenError as exc:
        raise _fail(f"[red]error:[/red] {escape(str(exc))}", 2 if isinstance(exc, UsageError) else 1) from None
    except KeyboardInterrupt:
        raise _fail("[red]interrupted[/red]: no output written", 128 + signal.SIGINT) from None
    except Terminated as exc:
        name = signal.Signals(exc.signum).name
        raise _fail(f"[red]interrupted[/red] by {name}: no output written", 128 + exc.signum) from None
    except MemoryError:
        raise _fail("[red]error:[/red] out of memory: use a smaller --tile", 1) from None
    except Exception as exc:  # noqa: BLE001 - the CLI promises no traceback
        if verbose:
            log.exception("unexpected error")
        first = str(exc).splitlines()[0] if str(exc) else "no message"
        raise _fail(f"[red]error:[/red] unexpected failure ({escape(first)}): rerun with -v for details", 1) from None


def _info_text(info: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())


class PlainLines:
    """Progress for logs (stderr not a terminal): one plain line per stage when it completes, and one
    every ``every`` seconds while a long stage runs: ``stage: done/total, figures, elapsed``.

    A stage's time runs from its opening call (``completed`` 0, see :mod:`~pansharpen_cli.base.progress`),
    else from its first call; a stage that completed and is called again (the next scene) starts anew.
    """

    def __init__(self, stream: Any = None, every: float = 30.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.start: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, task: str, completed: int, total: int, info: dict) -> None:
        now = time.monotonic()
        if completed == 0 or task not in self.start:
            self.start[task] = self.last[task] = now
            if completed == 0 and total > 0:  # the opening call: nothing done to show yet
                return
        done = completed >= total
        if not done and now - self.last[task] < self.every:
            return
        self.last[task] = now
        first = self.start.pop(task) if done else self.start[task]
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
            elif completed == 0:  # the stage starts again (the next scene): its clock too
                bars.reset(ids[task], total=total, info=text)
            bars.update(ids[task], completed=completed, total=total, info=text)

        yield draw
