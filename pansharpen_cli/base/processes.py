"""Is a process still there? For files that name their writer (temporary outputs, batch claims):
a PID that is gone, a zombie, or a PID reused by a later process all mean "the writer is gone"."""

from __future__ import annotations

import os
from pathlib import Path


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None if it is gone or a zombie, or
    ``-inf`` where /proc cannot tell (not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(ln for ln in Path("/proc/stat").read_text().splitlines() if ln.startswith("btime"))
    except FileNotFoundError:
        return None if Path("/proc/self").exists() else _signal_probe(pid)
    except (OSError, StopIteration):
        return _signal_probe(pid)
    fields = stat.rpartition(")")[2].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped
        return None
    return int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _signal_probe(pid: int) -> float | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:  # exists, someone else's
        pass
    return float("-inf")


def still_running(pid: int, since: float) -> bool:
    """True when process ``pid`` is alive and started before ``since`` (not a reused PID)."""
    started = process_start_time(pid)
    return started is not None and started <= since + 1
