"""Temporary output names: short, tied to their output, and recognisable as stale after a crash.

The writer writes ``.ps-<key>-<host>-<pid>-<rand>.tmp`` beside the output (``.cog`` for the COG
copy; GDAL may add ``.ovr.tmp`` while it builds overviews), where ``key`` is 12 hex digits of the
SHA-256 of the output's name, ``host`` 4 hex digits of the host name's and ``pid`` the writing
process. The name is at most ~45 characters whatever the output's (an output name of 255
characters, the longest legal, still works), and :func:`remove_stale_temps` can tell the temps of
one output from others' and whether their writer is gone:

- written on this host: stale when that process is gone (or a zombie, or started after the temp's
  last change: its PID reused), or, for this very process, when no writer of it holds the name;
- written on another host (a shared file system): left alone unless older than :data:`STALE_AGE`;
- the names of earlier versions (``.OUT.1a2b3c4d.tmp.tif``): stale when older than :data:`STALE_AGE`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path

from ..base.processes import still_running

__all__ = ["STALE_AGE", "forget_temp", "new_temp", "remove_stale_temps", "temps_of"]

log = logging.getLogger(__name__)

#: Seconds after which a temp whose writer cannot be asked (another host) counts as stale.
STALE_AGE = 24 * 3600

_TEMP = re.compile(r"^\.ps-(?P<key>[0-9a-f]{12})-(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-[0-9a-f]{4}\.")
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]
_LIVE: set[str] = set()  # the temps this process's writers hold (as _base gives them)
_LIVE_LOCK = threading.Lock()


def _key(out: Path) -> str:
    return hashlib.sha256(out.name.encode()).hexdigest()[:12]


def _base(name: str) -> str:
    """``ps-<key>-<host>-<pid>-<rand>`` of a temp's name, whatever its suffixes."""
    return name.split(".")[1]


def new_temp(out: Path) -> Path:
    """A fresh temporary name beside ``out`` (``.tmp``; its COG copy: ``.with_suffix(".cog")``),
    held as live until :func:`forget_temp`."""
    tmp = out.with_name(f".ps-{_key(out)}-{_HOST}-{os.getpid()}-{secrets.token_hex(2)}.tmp")
    with _LIVE_LOCK:
        _LIVE.add(_base(tmp.name))
    return tmp


def forget_temp(tmp: Path) -> None:
    """The writer of ``tmp`` is done with it (committed or aborted)."""
    with _LIVE_LOCK:
        _LIVE.discard(_base(tmp.name))


def temps_of(tmp: Path) -> list[Path]:
    """``tmp`` and the files named after it (its ``.cog`` copy, GDAL's ``.cog.ovr.tmp``) that exist."""
    return sorted(tmp.parent.glob(f".{_base(tmp.name)}.*"))


def _is_stale(p: Path, m: re.Match | None, now: float) -> bool:
    try:
        mtime = p.stat().st_mtime
    except FileNotFoundError:
        return False
    if now - mtime > STALE_AGE:
        return True
    if m is None or m["host"] != _HOST:
        return False
    pid = int(m["pid"])
    if pid == os.getpid():
        with _LIVE_LOCK:
            return _base(p.name) not in _LIVE
    return not still_running(pid, mtime)  # gone, a zombie, or its PID reused since


def remove_stale_temps(out: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``out`` left by writers that are gone (module docstring).

    Returns:
        The files removed.
    """
    out = Path(out)
    folder = out.parent if str(out.parent) else Path(".")
    key, legacy = _key(out), re.compile(re.escape(f".{out.name}.") + r"[0-9a-f]{8}\.tmp\.tif")
    removed, now = [], time.time()
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith((".ps-", f".{out.name}."))]
    except OSError:
        return []
    for name in names:
        m = _TEMP.match(name)
        if (m is None or m["key"] != key) and not legacy.match(name):
            continue
        p = folder / name
        if _is_stale(p, m, now):
            try:
                p.unlink()
            except FileNotFoundError:
                continue
            removed.append(p)
            log.info("removed %s, a temporary file left by an earlier run", p)
    return removed
