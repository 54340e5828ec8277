"""The CLI's progress drawers: plain log lines when stderr is not a terminal."""

from __future__ import annotations

import importlib
import io

from pansharpen_cli.cli.app import PlainLines, progress_bars

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
