"""``batch``'s shared files: the JSON-lines log and the per-output claim files.

The log is appended one whole line per record: one ``os.write`` of the encoded line on an
``O_APPEND`` descriptor, under an exclusive ``flock`` (two runs may share a log), then ``fsync``.
A write that fails or comes up short (a full disk) is cut back to where it started and stops the
run with :class:`LogWriteError`. On open, a torn last line (a run killed, or a disk filled, in the
middle of a line) is repaired: a last line that is valid JSON but lacks its newline is
terminated; one that is not valid JSON is cut off (it is a part of a record that never made it:
its scene is recorded again by the rerun). The file therefore stays valid JSON lines.

A claim file (``.pansharpen-<hash>.claim`` beside the output: short, whatever the output's name)
is created with ``O_CREAT | O_EXCL`` just before a scene is fused and removed after; it holds the
fusing process's PID, host and start time. A claim held by a live process (on this host: the PID
is there, not a zombie, and started before the claim; on another host: unless older than
:data:`CLAIM_MAX_AGE`) means "being fused elsewhere"; a stale one (its process gone) is taken
over. Two runs that find the same stale claim at the same instant may both take it over (a
window of microseconds, only after a crash); live runs never fuse one output twice.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base.errors import OutputError
from ..base.processes import still_running
from ..io.space import free_bytes, megabytes

try:  # POSIX; elsewhere the log relies on O_APPEND alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: A claim from another host is honoured for this long (seconds), then taken as stale.
CLAIM_MAX_AGE = 24 * 3600
#: A claim file still empty (its writer between create and write) counts as held for this long.
CLAIM_WRITE_GRACE = 60


class LogWriteError(OutputError):
    """The batch log cannot be written (a full disk, a read-only file system): the run stops."""


def _locked(fd: int) -> Any:
    """An exclusive flock on ``fd`` for a ``with`` block (nothing where flock does not exist)."""

    class _Lock:
        def __enter__(self) -> None:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)

        def __exit__(self, *exc: Any) -> None:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    return _Lock()


def _torn_tail(data: bytes) -> int | None:
    """Where the file should end for its last line to be whole (None: it is)."""
    if not data or data.endswith(b"\n"):
        return None
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:].decode("utf-8"))
    except ValueError:
        return start  # a part of a record: cut it off
    return -1  # a whole record without its newline: terminate it


class BatchLog:
    """The JSON-lines log of a batch run, opened for appending (its torn tail repaired)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._error(exc) from None
        try:
            with _locked(self.fd):
                self._repair()
        except OSError as exc:
            os.close(self.fd)
            raise self._error(exc) from None

    def _repair(self) -> None:
        size = os.fstat(self.fd).st_size
        tail = os.pread(self.fd, min(size, 1 << 20), max(0, size - (1 << 20)))
        cut = _torn_tail(tail)
        if cut is None:
            return
        if cut == -1:
            self._write_all(b"\n")
        else:
            os.ftruncate(self.fd, size - len(tail) + cut)
            os.fsync(self.fd)

    def _error(self, exc: OSError) -> LogWriteError:
        what = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            free = megabytes(free_bytes(self.path))
            return LogWriteError(
                f"cannot write the log {self.path}: {what} ({free} MB free): free some space or "
                "pass --log on another disk, then rerun the command to go on (finished scenes are kept)"
            )
        return LogWriteError(
            f"cannot write the log {self.path}: {what}: pass --log with a writable file, then rerun "
            "the command to go on (finished scenes are kept)"
        )

    def _write_all(self, data: bytes) -> None:
        """One write of ``data`` at the end, then fsync; a short write raises ENOSPC."""
        if os.write(self.fd, data) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(self.fd)

    def append(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line, whole or not at all.

        Raises:
            LogWriteError: the line could not be written (what to change in the message).
        """
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        try:
            with _locked(self.fd):
                start = os.fstat(self.fd).st_size
                try:
                    self._write_all(line)
                except OSError:
                    os.ftruncate(self.fd, start)  # no part of the line stays behind
                    raise
        except OSError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        os.close(self.fd)


# -- claims -----------------------------------------------------------------------------------------
HOST = socket.gethostname()


def claim_path(out: Path) -> Path:
    """The claim file of output ``out``: beside it, a short name whatever the output's."""
    digest = hashlib.sha1(out.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return out.with_name(f".pansharpen-{digest}.claim")


@dataclass
class Claim:
    """A claim file: who holds it and since when (``token`` tells this holder's own apart)."""

    path: Path
    pid: int
    host: str
    start: float
    token: str

    def holder(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.start))
        return f"PID {self.pid}@{self.host} since {since}"

    def live(self) -> bool:
        """The holder is (or may be) still fusing."""
        if self.pid <= 0:  # a claim file not written yet (or garbled): held while young
            return time.time() - self.start < CLAIM_WRITE_GRACE
        if self.host == HOST:
            return still_running(self.pid, self.start)
        return time.time() - self.start < CLAIM_MAX_AGE


def read_claim(path: Path) -> Claim | None:
    """The claim at ``path`` (None: none); an unreadable one counts as held while it is young."""
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        d = json.loads(text)
        return Claim(path, int(d["pid"]), str(d["host"]), float(d["start"]), str(d["token"]))
    except (ValueError, KeyError, TypeError):
        return Claim(path, 0, "unknown host", mtime, "")


def _create(path: Path) -> Claim | None:
    """Create the claim file (None: it exists)."""
    claim = Claim(path, os.getpid(), HOST, time.time(), uuid.uuid4().hex)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None
    try:
        body = {"pid": claim.pid, "host": claim.host, "start": claim.start, "token": claim.token}
        os.write(fd, json.dumps(body).encode())
    finally:
        os.close(fd)
    return claim


def take_claim(out: Path) -> tuple[Claim | None, Claim | None]:
    """Claim output ``out`` for this process.

    Returns:
        (this process's claim, None), or (None, the live claim of another process).
    """
    path = claim_path(out)
    for _ in range(3):
        mine = _create(path)
        if mine is not None:
            return mine, None
        other = read_claim(path)
        if other is None:
            continue  # released meanwhile
        if other.live():
            return None, other
        path.unlink(missing_ok=True)  # stale: its process is gone
    return None, read_claim(path)


def remove_stale_claim(out: Path) -> bool:
    """Remove the claim file of ``out`` when its holder is gone (a run killed after the output was
    renamed into place, before the claim was released): what a resumed run that skips the finished
    scene leaves behind otherwise. A live claim stays. Returns whether one was removed (False too
    when the folder cannot be read or written: the skip does not fail for it)."""
    try:
        claim = read_claim(claim_path(out))
        if claim is None or claim.live():
            return False
        claim.path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def release_claim(claim: Claim) -> None:
    """Remove the claim file, when it is still this holder's."""
    current = read_claim(claim.path)
    if current is not None and current.token == claim.token:
        claim.path.unlink(missing_ok=True)
