"""A checked write: every error GDAL or libtiff reports while a file is written fails the write.

libtiff's write failures do not always reach the caller: a failed ``write()`` while GDAL flushes
its block cache at close is reported as a GDAL message and a line of libtiff's own on stderr, and
the close returns as if it had worked (a truncated file, exit 0). :func:`checked` collects, for the
block it guards and the thread that runs it,

- GDAL's messages (rasterio logs them on its ``rasterio._env`` / ``rasterio._err`` loggers: a
  warning, or at INFO "GDAL signalled an error"), held back from the log, and
- libtiff's own lines on file descriptor 2 (``_tiffWriteProc: No space left on device.``), held
  back from stderr,

and raises one :class:`OutputError` when there are any, or when the block raises.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import rasterio

from ..base.errors import OutputError, PansharpenError
from .space import free_bytes, no_space_error

__all__ = ["FULL_DISK_BYTES", "Held", "checked", "silenced"]

#: Free space (bytes) below which a failed write is put down to a full disk.
FULL_DISK_BYTES = 1 << 20

_STDERR_HELD = threading.Lock()
#: How libtiff starts the lines it writes to stderr itself (``_tiffWriteProc: ...``).
_LIBTIFF_LINE = re.compile(r"^_?tiff\w*:", re.IGNORECASE)
#: What starts a message before its text: ``_tiffWriteProc: ``, ``6:``, ``CPLE_NotSupported in ``.
_PREFIX = re.compile(r"^(?:\d+:|_?\w+:(?!\S)|\w+:(?=\S))?\s*(?:CPLE_\w+ in )?")
_GDAL_LOGGERS = ("rasterio._env", "rasterio._err")
_GDAL_FAILURE = re.compile(r"GDAL signalled an error: err_no=\d+, msg=(['\"])(?P<msg>.*)\1$", re.DOTALL)


@dataclass
class Held:
    """What one checked block collected: libtiff's stderr lines and GDAL's messages."""

    native: list[str] = field(default_factory=list)
    gdal: list[str] = field(default_factory=list)

    def cause(self) -> str | None:
        """The first message as a clause (``file too large``), without its function or error
        number prefix; None when there is none."""
        for line in (*self.native, *self.gdal):
            text = _PREFIX.sub("", line.strip()).rstrip(".") or line.strip()
            return text[:1].lower() + text[1:] if text[1:2].islower() else text
        return None

    def says_full(self) -> bool:
        return any("No space left" in m for m in (*self.native, *self.gdal))


@contextmanager
def _native_stderr(held: list[str]) -> Iterator[None]:
    """Hold back libtiff's own lines on file descriptor 2 while the block runs.

    libtiff reports a failed ``write()`` on stderr itself, past GDAL's error handler, sometimes in a
    later call than the one that fails. Its lines are appended to ``held``; anything else written to
    stderr meanwhile (a progress bar) is passed on when the block ends. File descriptor 2 belongs to
    the process: while one thread holds it back, writes in other threads run without.
    """
    if not _STDERR_HELD.acquire(blocking=False):
        yield
        return
    buf = None
    try:
        buf = tempfile.TemporaryFile()
        saved = os.dup(2)
    except OSError:  # no stderr, or no room to hold it back in: write without
        if buf is not None:
            buf.close()
        _STDERR_HELD.release()
        yield
        return
    with buf:
        sys.stderr.flush()
        os.dup2(buf.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _STDERR_HELD.release()
            buf.seek(0)
            for line in buf.read().decode(errors="replace").splitlines(keepends=True):
                if _LIBTIFF_LINE.match(line):
                    held.append(line.strip())
                else:
                    os.write(2, line.encode())


class _GdalMessages(logging.Filter):
    """On rasterio's GDAL loggers: the messages of threads in a checked block go to their list (and
    nowhere else); other records pass as the loggers' own levels would let them."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.threads: dict[int, list[str]] = {}
        self.levels: dict[str, int] = {}  # the loggers' effective levels before the first capture
        self.own: dict[str, int] = {}  # ... and their own, restored after the last

    def filter(self, record: logging.LogRecord) -> bool:
        held = self.threads.get(record.thread)
        if held is not None and record.levelno >= logging.INFO:
            msg = record.getMessage()
            m = _GDAL_FAILURE.match(msg)
            if m or record.levelno >= logging.WARNING:
                held.append(m["msg"] if m else msg)
                return False
        base = self.levels.get(record.name)
        return base is None or record.levelno >= base

    @contextmanager
    def capture(self, held: list[str]) -> Iterator[None]:
        tid = threading.get_ident()
        with self.lock:
            if not self.threads:  # let rasterio's INFO records reach this filter
                for lg in map(logging.getLogger, _GDAL_LOGGERS):
                    self.levels[lg.name] = lg.getEffectiveLevel()
                    self.own[lg.name] = lg.level
                    lg.addFilter(self)
                    lg.setLevel(min(logging.INFO, self.levels[lg.name]))
            self.threads[tid] = held
        try:
            yield
        finally:
            with self.lock:
                del self.threads[tid]
                if not self.threads:
                    for lg in map(logging.getLogger, _GDAL_LOGGERS):
                        lg.removeFilter(self)
                        lg.setLevel(self.own[lg.name])
                    self.levels.clear()


_GDAL = _GdalMessages()


def write_error(path: Path, exc: BaseException | None, held: Held, need: int | None = None) -> OutputError:
    """The one error of a failed write: a full disk, else the cause GDAL or libtiff gives."""
    free = free_bytes(path)
    full = getattr(exc, "errno", None) == errno.ENOSPC or held.says_full()
    if full or free < max(FULL_DISK_BYTES, need or 0):
        return no_space_error(path, None, free)  # the estimate, a lower bound, was not enough
    cause = held.cause()
    if cause is None:
        cause = str(exc.__cause__ or exc).splitlines()[0] if exc is not None else "unknown failure"
    return OutputError(f"cannot write {path}: {cause}")


@contextmanager
def checked(
    path: Path, on_failure: Callable[[], None] | None = None, need: int | None = None
) -> Iterator[None]:
    """Run a write to ``path``: an exception, a GDAL message or a libtiff line becomes one
    :class:`OutputError` naming ``path``, raised after ``on_failure()`` (the cleanup: the free space
    it reports is then the disk's, without the temporary file); ``need``: the bytes the output
    needs at least (free space below it means a full disk)."""
    held, failure = Held(), None
    try:
        with _native_stderr(held.native), _GDAL.capture(held.gdal):
            yield
    except PansharpenError:
        raise
    except (rasterio.errors.RasterioError, OSError) as exc:
        failure = exc
    if failure is None and not held.native and not held.gdal:
        return
    if on_failure is not None:
        on_failure()
    raise write_error(path, failure, held, need) from None


@contextmanager
def silenced() -> Iterator[None]:
    """Drop what GDAL and libtiff say while the block runs (closing a temporary file that is being
    removed after a failure: libtiff repeats its failure)."""
    with _native_stderr([]), _GDAL.capture([]):
        yield
