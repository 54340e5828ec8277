"""The command line's own text: usage errors in one line (exit 2), the usage line GDAL users expect,
flags shown as flags, and a help that reads at 80 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pansharpen_cli.base.sensors import get_sensor
from pansharpen_cli.cli import app
from tests.conftest import make_pair

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = ["fuse", "batch", "info", "sensors", "simulate", "evaluate", "pretrain"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--tile", "0"],
            "error: invalid value for '--tile': Input should be greater than or equal to 16 "
            "(see 'pansharpen fuse --help')",
        ),
        (
            ["--gains", "0.3,abc"],
            "error: --gains '0.3,abc': expected comma-separated numbers like 0.3,0.3,0.3,0.25;0.15",
        ),
        (["--gains", "0.3;1.5"], "error: --gains value 1.5 is outside (0, 1): Nyquist gains are fractions"),
        (["--sensor", "hubble"], "error: unknown sensor 'hubble': expected one of qb,"),
        (["--dtype", "int8"], "error: --dtype int8: expected one of uint8, uint16, int16"),
        (["-m", "magic"], "error: invalid value for '--method' / '-m': Value error, 'magic' is not one of"),
        (["--co", "NOEQUALS"], "error: invalid value for --co: expected KEY=VALUE, got 'NOEQUALS'"),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_write_nothing(tmp_path, args, message):
    pan, ms, _ = make_pair(tmp_path, size=64)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "out.tif"), "-m", "exp", *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_arguments_are_one_line_too():
    res = runner.invoke(app, ["fuse", "pan.tif"])
    assert res.exit_code == 2
    assert res.output == "error: missing argument 'MS... OUT' (see 'pansharpen fuse --help')\n"


def _help(*args: str, columns: int = 80) -> str:
    res = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns), "TERMINAL_WIDTH": None})
    assert res.exit_code == 0, res.output
    return res.output


def test_fuse_usage_reads_like_gdal():
    out = _help("fuse")
    assert "Usage: pansharpen fuse [OPTIONS] PAN MS... OUT" in out
    assert "{" not in out.splitlines()[1]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_flags_are_not_shown_as_taking_a_value(command):
    out = _help(*command)
    assert "<bool>" not in out
    flags = {"--help": "Show this"}
    if command == ["fuse"]:
        flags.update({"--overwrite": "Replace", "--quiet": "No progress", "--amp": "zeroshot: bf16"})
    for flag, text in flags.items():
        (line,) = [ln for ln in out.splitlines() if re.match(rf"│[ *]+{flag} ", ln)]
        assert re.search(rf"{flag}\s+(-\w\s+)?{text}", line), line  # straight to the description


def _help_columns(out: str) -> list[tuple[int, str]]:
    """(width of the description column, first option) of every options panel of a rich help."""
    panels, current = [], None
    for ln in out.splitlines():
        if ln.startswith("╭─") and "Arguments" not in ln:
            current = []
        elif ln.startswith("╰") and current is not None:
            panels.append(current)
            current = None
        elif current is not None:
            current.append(ln)
    widths = []
    for rows in panels:
        # A row's description is its last run of text after two spaces or more; the column starts
        # where the leftmost of them does (continuation lines hold description text only).
        inner = [r[1:-1] for r in rows if r.strip("│ ")]
        starts = [m.start(1) for r in inner if (m := re.search(r"(?:^|\s{2,})(\S(?:\S| (?! ))*)\s*$", r))]
        widths.append((len(inner[0]) - min(starts), inner[0].split()[0]))
    return widths


@pytest.mark.parametrize("command", COMMANDS)
def test_help_at_80_columns_keeps_a_wide_description_column(command):
    out = _help(command)
    assert max(len(ln) for ln in out.splitlines()) <= 80
    for width, first in _help_columns(out):
        assert width >= 30, (command, first, width, out)


def test_fuse_help_descriptions_are_not_squeezed():
    out = _help("fuse")
    (tile,) = [ln for ln in out.splitlines() if "│ --tile" in ln]
    assert "Processing tile side in MS pixels." in tile  # one line, not a 20-character column
    (co,) = [ln for ln in out.splitlines() if "│ --co " in ln]
    assert "KEY=VALUE" in co


def test_quick_start_names_the_sensor_or_explains_the_warning():
    text = README.read_text()
    quick = text[text.index("## Quick start") : text.index("## Commands")]
    (cmd,) = [ln for ln in quick.splitlines() if "pansharpen fuse" in ln]
    sensor = re.search(r"--sensor (\S+)", cmd)
    assert sensor, cmd
    assert get_sensor(sensor.group(1)).name == sensor.group(1)
    assert "sensor is not known" in quick
