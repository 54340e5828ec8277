"""A small pool of spawned worker processes that survives its workers.

concurrent.futures' ProcessPoolExecutor breaks as a whole when one worker dies (every pending
task fails with BrokenProcessPool). Here each worker has its own pipe and runs one task at a time,
so the pool knows which task a dead worker was on: that task alone is reported (``on_death``,
which may put it back), a new worker takes the dead one's place, the others go on.

Workers end with the process that started them: on Linux the parent-death signal (SIGKILL, set
with ``prctl``), elsewhere (and as a fallback) a thread that watches the parent's PID.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

#: prctl's option that sets the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
#: Seconds between two looks of the fallback watch at the parent's PID.
WATCH_EVERY = 1.0


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (its parent) ends: the parent-death signal on Linux and
    a watch thread everywhere (it also covers a parent that died before the signal was set)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="watch-parent").start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_EVERY)
    os._exit(1)  # the parent is gone: nobody takes this worker's results


def _worker_main(conn: Connection, parent_pid: int, init: Callable, initargs: tuple, work: Callable) -> None:
    """A worker: set up once, then ``work(*task)`` for each task sent, its result sent back."""
    die_with_parent(parent_pid)
    init(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, task = msg
        try:
            conn.send((key, True, work(*task)))
        except Exception as exc:  # noqa: BLE001 - reported to the pool, the worker goes on
            conn.send((key, False, f"{type(exc).__name__}: {exc}"))


def death_message(exitcode: int | None) -> str:
    """Why a worker process ended, and what to change."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        how = f"killed by {name} (signal {-exitcode})"
        if -exitcode == signal.SIGKILL:
            how += ", likely out of memory: use fewer --jobs or a smaller --tile"
        return f"the worker process died ({how})"
    return f"the worker process died (exit code {exitcode})"


@dataclass
class _Slot:
    """One worker place: its process, the pool's end of its pipe, the task it runs (or None)."""

    index: int
    proc: Any = None
    conn: Connection | None = None
    key: Any = None


@dataclass
class PoolCalls:
    """What the pool calls in the parent.

    Attributes:
        task: the arguments of ``work`` for a key (called each time the key is handed out).
        result: a key's result came back.
        death: the worker on a key died (its message); True puts the key back in the queue.
        initargs: the ``init`` arguments of the worker in a slot (its index).
    """

    task: Callable[[Any], tuple]
    result: Callable[[Any, Any], None]
    death: Callable[[Any, str], bool]
    initargs: Callable[[int], tuple]


class WorkerPool:
    """``jobs`` spawned workers running ``work`` on keys, one task per worker at a time."""

    def __init__(self, ctx: Any, jobs: int, init: Callable, work: Callable, calls: PoolCalls) -> None:
        self.ctx, self.init, self.work, self.calls = ctx, init, work, calls
        self.slots = [_Slot(i) for i in range(jobs)]

    def _start(self, slot: _Slot) -> None:
        if slot.conn is not None:
            slot.conn.close()
        parent, child = self.ctx.Pipe()
        args = (child, os.getpid(), self.init, self.calls.initargs(slot.index), self.work)
        slot.proc = self.ctx.Process(target=_worker_main, args=args, daemon=True)
        slot.proc.start()
        child.close()
        slot.conn, slot.key = parent, None

    def _assign(self, queue: deque) -> None:
        for slot in self.slots:
            if slot.key is None and queue:
                if slot.proc is None or not slot.proc.is_alive():
                    self._start(slot)
                key = queue.popleft()
                try:
                    slot.conn.send((key, self.calls.task(key)))
                except OSError:  # died between the look and the send
                    queue.appendleft(key)
                    self._start(slot)
                    continue
                slot.key = key

    def _died(self, slot: _Slot, queue: deque) -> None:
        slot.proc.join()
        key, slot.key = slot.key, None
        if self.calls.death(key, death_message(slot.proc.exitcode)):
            queue.appendleft(key)
        self._start(slot)

    def _poll(self, queue: deque, timeout: float) -> None:
        """Wait for a result or a death among the busy workers and take it."""
        busy = [s for s in self.slots if s.key is not None]
        ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout))
        for slot in busy:
            if slot.conn in ready:
                try:
                    key, ok, value = slot.conn.recv()
                except (EOFError, OSError):  # died while sending
                    self._died(slot, queue)
                    continue
                slot.key = None
                self.calls.result(key, value if ok else RuntimeError(value))
            elif slot.proc.sentinel in ready:
                self._died(slot, queue)

    def run(self, keys: Sequence[Any]) -> None:
        """Run every key (and those ``death`` puts back) to its result or death."""
        queue = deque(keys)
        while queue or any(s.key is not None for s in self.slots):
            self._assign(queue)
            self._poll(queue, 1.0)

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the running tasks (their results dropped)."""
        end = time.monotonic() + timeout
        while any(s.key is not None for s in self.slots) and time.monotonic() < end:
            busy = [s for s in self.slots if s.key is not None]
            ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], 0.5))
            for slot in busy:
                if slot.conn in ready or slot.proc.sentinel in ready:
                    slot.key = None

    def close(self) -> None:
        """Tell the workers to end, wait a little, then kill those still there."""
        for slot in self.slots:
            if slot.conn is not None:
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
        for slot in self.slots:
            if slot.proc is not None:
                slot.proc.join(5.0)
                if slot.proc.is_alive():
                    slot.proc.kill()
                    slot.proc.join()
            if slot.conn is not None:
                slot.conn.close()
