"""The CLI's progress drawers: plain log lines when stderr is not a terminal."""

from __future__ import annotations

import importlib
import io
import json
import re
import subprocess
import sys

import rasterio

from pansharpen_cli.cli.app import PlainLines, progress_bars
from tests.conftest import make_pair

cli_app = importlib.import_module("pansharpen_cli.cli.app")  # the module (the package exports the Typer app as `app`)


def test_plain_lines_one_line_per_completed_stage():
    buf = io.StringIO()
    draw = PlainLines(stream=buf, every=1e9)
    for k in range(1, 11):
        draw("warmup", k, 10, {"rr": 0.5 / k})
    for k in range(1, 4):
        draw("train", k, 3, {})
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("warmup: 10/10, rr=0.05, ")
    assert lines[0].endswith(" s")
    assert lines[1].startswith("train: 3/3, ")
    assert "\x1b" not in buf.getvalue()  # no terminal escapes in a log


def test_plain_lines_report_long_stages_periodically():
    buf = io.StringIO()
    draw = PlainLines(stream=buf, every=0.0)
    for k in range(1, 4):
        draw("fuse", k, 3, {})
    assert [ln.split(",")[0] for ln in buf.getvalue().splitlines()] == ["fuse: 1/3", "fuse: 2/3", "fuse: 3/3"]


def test_progress_bars_picks_plain_lines_off_a_terminal(monkeypatch):
    monkeypatch.setattr(type(cli_app.err), "is_terminal", property(lambda self: False))
    with progress_bars(quiet=False) as draw:
        assert isinstance(draw, PlainLines)
    with progress_bars(quiet=True) as draw:
        assert not isinstance(draw, PlainLines)


def test_plain_lines_time_a_stage_from_its_opening_call(monkeypatch):
    """A one-step stage: its time runs from the opening (task, 0, total) call, not from its one and
    last step; the same stage run again (the next scene) starts its clock anew."""
    clock = iter([10.0, 14.5, 20.0, 21.0])
    monkeypatch.setattr(cli_app.time, "monotonic", lambda: next(clock))
    buf = io.StringIO()
    draw = PlainLines(stream=buf, every=1e9)
    draw("response", 0, 1, {})
    draw("response", 1, 1, {})
    draw("response", 0, 1, {})
    draw("response", 1, 1, {})
    assert buf.getvalue().splitlines() == ["response: 1/1, 4.5 s", "response: 1/1, 1.0 s"]


def _stage_seconds(stderr: str) -> dict[str, tuple[str, float]]:
    """``{stage: ("done/total", seconds)}`` from the plain progress lines."""
    found = {}
    for line in stderr.splitlines():
        m = re.match(r"^(\w+): (\d+/\d+)(?:, .*)?, ([\d.]+) s$", line)
        if m:
            found[m.group(1)] = (m.group(2), float(m.group(3)))
    return found


def test_a_real_run_logs_each_stage_with_its_time_and_the_steps_run(tmp_path):
    """zero-shot on a small pair, stderr a pipe: every stage line's time is the report's for that
    stage; the tags and the report record the steps really run (4 bands: twice the 8-band budget)."""
    pan, ms, _ = make_pair(tmp_path, size=64)
    out, rep = tmp_path / "o.tif", tmp_path / "r.json"
    args = [str(pan), str(ms), str(out), "--weights", "none", "--device", "cpu", "--report", str(rep)]
    args += ["--iterations", "3", "--warmup", "1", "--crop", "32", "--batch", "1"]
    res = subprocess.run(
        [sys.executable, "-m", "pansharpen_cli.cli", "fuse", *args], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    lines = _stage_seconds(res.stderr)
    assert {k: v[0] for k, v in lines.items()} == {
        "statistics": "1/1", "response": "1/1", "warmup": "2/2", "train": "6/6", "fuse": "1/1", "write": "1/1"
    }
    doc = json.loads(rep.read_text())
    zs = doc["zeroshot"]["seconds"]
    report = {"response": zs["response_s"], "warmup": zs["warmup_s"], "train": zs["train_s"]}
    report |= {"statistics": doc["seconds"]["statistics"], "fuse": doc["seconds"]["fuse"]}
    for stage, seconds in report.items():
        assert abs(lines[stage][1] - seconds) <= 0.3 + 0.1 * seconds, (stage, lines[stage], seconds)
    assert doc["zeroshot"]["steps"] == {"warmup": 2, "train": 6, "train_run": 6, "stopped_early": False}
    with rasterio.open(out) as o:
        params = json.loads(o.tags()["PANSHARPEN_PARAMETERS"])
    assert (params["iterations"], params["warmup"], params["iterations_planned"]) == (6, 2, 6)
    assert (params["iterations_requested"], params["warmup_requested"], params["stopped_early"]) == (3, 1, False)
