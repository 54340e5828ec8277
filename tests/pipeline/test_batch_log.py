"""batch's JSON-lines log (whole lines, a torn tail repaired, a failed write cut back) and the
per-output claim files (taken, held, stale ones taken over)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pansharpen_cli.pipeline import batchlog
from pansharpen_cli.pipeline.batchlog import BatchLog, LogWriteError, claim_path, release_claim, take_claim

REC = {"row": "m.csv:2", "status": "done", "out": "/x/out.tif"}


def _lines(path: Path) -> list[dict]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(ln) for ln in text.splitlines()]


@pytest.mark.parametrize(
    "tail, kept",
    [
        ('{"row": "m.csv:3", "sta', 1),  # a part of a record: cut off
        ('{"row": "m.csv:3"}', 2),  # a whole record without its newline: terminated
        ("", 1),
    ],
)
def test_a_torn_last_line_is_repaired_on_open(tmp_path, tail, kept):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(REC) + "\n" + tail)
    b = BatchLog(log)
    b.append({**REC, "row": "m.csv:4"})
    b.close()
    recs = _lines(log)
    assert len(recs) == kept + 1 and recs[0] == REC and recs[-1]["row"] == "m.csv:4"


def test_a_short_write_is_cut_back_and_says_what_to_change(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    b = BatchLog(log)
    b.append(REC)
    real = os.write

    def half(fd, data):
        return real(fd, data[: len(data) // 2])  # a full disk: part of the line, then no more

    monkeypatch.setattr(batchlog.os, "write", half)
    full = r"no space left on device \(.* MB free\): free some space or pass --log on another disk"
    with pytest.raises(LogWriteError, match=full):
        b.append({**REC, "row": "m.csv:3"})
    monkeypatch.setattr(batchlog.os, "write", real)
    b.append({**REC, "row": "m.csv:4"})
    b.close()
    assert [r["row"] for r in _lines(log)] == ["m.csv:2", "m.csv:4"]


def test_a_log_that_cannot_be_opened_is_a_log_write_error(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(LogWriteError, match="pass --log with a writable file"):
        BatchLog(tmp_path / "dir.jsonl")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write_claim(out: Path, **kw) -> Path:
    body = {"pid": os.getpid(), "host": batchlog.HOST, "start": time.time(), "token": "other", **kw}
    path = claim_path(out)
    path.write_text(json.dumps(body))
    return path


def test_a_claim_is_taken_once_and_released(tmp_path):
    out = tmp_path / ("x" * 250 + ".tif")  # a long name: the claim's stays short
    mine, other = take_claim(out)
    assert mine is not None and other is None and mine.path.exists() and len(mine.path.name) < 40
    again, held = take_claim(out)
    assert again is None and held.pid == os.getpid() and f"PID {os.getpid()}@{batchlog.HOST}" in held.holder()
    release_claim(mine)
    assert not mine.path.exists()


def _zombie() -> subprocess.Popen:
    """A child that has exited and is not reaped yet (a container's init may never reap one)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        time.sleep(0.02)
    return child


@pytest.mark.parametrize(
    "fields, held",
    [
        ({}, True),  # a live process on this host
        ({"pid": "dead"}, False),  # its process is gone: stale
        ({"pid": "zombie"}, False),
        ({"start": time.time() - 3 * 3600}, False),  # its PID now a later process's: stale
        ({"host": "elsewhere"}, True),  # another host, recent
        ({"host": "elsewhere", "start": time.time() - batchlog.CLAIM_MAX_AGE - 1}, False),
    ],
)
def test_a_claim_is_honoured_while_its_holder_lives(tmp_path, fields, held):
    out, zombie = tmp_path / "o.tif", None
    if fields.get("pid") == "dead":
        fields["pid"] = _dead_pid()
    elif fields.get("pid") == "zombie":
        zombie = _zombie()
        fields["pid"] = zombie.pid
    path = _write_claim(out, **fields)
    mine, other = take_claim(out)
    if zombie is not None:
        zombie.wait()
    assert (mine is None) == held and (other is not None) == held
    if not held:
        assert json.loads(path.read_text())["pid"] == os.getpid()  # taken over
        release_claim(mine)
    else:
        release_claim(other.__class__(path, 1, "x", 0.0, "not-the-holder"))  # not ours: stays
        assert path.exists()


def test_an_empty_claim_is_held_while_young(tmp_path):
    out = tmp_path / "o.tif"
    path = claim_path(out)
    path.write_text("")
    assert take_claim(out)[0] is None
    old = time.time() - batchlog.CLAIM_WRITE_GRACE - 1
    os.utime(path, (old, old))
    mine, _ = take_claim(out)
    assert mine is not None
