"""Faults during a run: signals while the output is being written, a full disk, a write that fails
in libtiff. Each leaves one line on stderr, the documented exit code, and nothing in the folder."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import rasterio
from rasterio.errors import RasterioIOError
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair

runner = CliRunner()
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and resource limits")

# Run the CLI in a child process whose tile writes are slowed down, so that a signal surely comes
# while the temporary output exists. SIGINT is given Python's handler explicitly: a child of a
# background job inherits it ignored.
SLOW_WRITES = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pansharpen_cli.io.writer import OutputWriter
    write = OutputWriter.write
    def slow(self, *a):
        write(self, *a)
        time.sleep(0.2)
    OutputWriter.write = slow
    from pansharpen_cli.cli import app
    sys.argv = ["pansharpen", *sys.argv[1:]]
    app()
    """
)

# A child whose files may not grow past 20 kB: libtiff's write() fails (EFBIG) as on a full disk.
SMALL_FILES = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
    from pansharpen_cli.cli import app
    sys.argv = ["pansharpen", *sys.argv[1:]]
    app()
    """
)


def _default_signals() -> None:
    """In the child before exec: the signals under test at their defaults, whatever the test runner
    inherited (a suite started under nohup ignores SIGHUP, and ignored signals survive exec)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _child(script: str, args: list, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", script, *map(str, args)]
    kw.setdefault("preexec_fn", _default_signals)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, **kw)


def _wait_for_temp(folder: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not list(folder.glob(".ps-*.tmp")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "no temporary output appeared"
        time.sleep(0.02)


SIGNALS = [
    ("SIGINT", "interrupted: no output written"),
    ("SIGTERM", "interrupted by SIGTERM: no output written"),
    ("SIGHUP", "interrupted by SIGHUP: no output written"),
]


@pytest.mark.parametrize("name, message", SIGNALS)
def test_a_signal_while_writing_leaves_nothing_and_exits_128_plus_n(tmp_path, name, message):
    pan, ms, _ = make_pair(tmp_path, size=256, dtype="float32")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _child(SLOW_WRITES, ["fuse", pan, ms, tmp_path / "out.tif", "-m", "exp", "--tile", "16", "-q"])
    _wait_for_temp(tmp_path, proc)
    sig = getattr(signal, name)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines() == [message]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_signal_started_ignored_stays_ignored(tmp_path):
    # nohup: SIGHUP ignored from the start; closing the terminal must not stop the run.
    pan, ms, _ = make_pair(tmp_path, size=128, dtype="float32")
    nohup = SLOW_WRITES.replace(
        "import signal, sys, time", "import signal, sys, time\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)"
    )
    out = tmp_path / "out.tif"
    proc = _child(nohup, ["fuse", pan, ms, out, "-m", "exp", "--tile", "16", "-q"])
    _wait_for_temp(tmp_path, proc)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == ""
    with rasterio.open(out) as o, rasterio.open(pan) as p:
        assert o.shape == p.shape and o.transform == p.transform


def test_a_failed_libtiff_write_is_one_line_without_libtiff_lines(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=256, dtype="float32")
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.tif"
    proc = _child(SMALL_FILES, ["fuse", pan, ms, out, "-m", "exp", "-q", "--co", "COMPRESS=NONE"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert err.splitlines() == [f"error: cannot write {out}: file too large"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _failing_write(monkeypatch, exc: BaseException, native: bytes = b"") -> None:
    def write(self, *a, **kw):
        if native:
            os.write(2, native)  # as libtiff does, past Python's sys.stderr
        raise exc

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", write)


@pytest.mark.parametrize(
    "exc, native",
    [
        (OSError(errno.ENOSPC, "No space left on device"), b""),
        (RasterioIOError("Write failed. See previous exception for details."), b""),
        (RasterioIOError("Write failed."), b"_tiffWriteProc: No space left on device.\n"),
    ],
    ids=["ENOSPC", "free space gone", "libtiff says so"],
)
def test_disk_full_is_one_line_and_no_partial_file(tmp_path, monkeypatch, capfd, exc, native):
    pan, ms, _ = make_pair(tmp_path, size=64)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.tif"
    _failing_write(monkeypatch, exc, native)
    if "previous exception" in str(exc):  # GDAL says nothing: the free space tells
        monkeypatch.setattr("pansharpen_cli.io.checked.free_bytes", lambda p: 0)
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "exp", "-q"])
    assert res.exit_code == 1
    full = rf"error: cannot write {re.escape(str(out))}: no space left on device \([\d.]+ MB free\)\n"
    assert re.fullmatch(full, res.output)
    assert "_tiffWriteProc" not in capfd.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_unexpected_error_is_a_sentence_without_the_class_name(tmp_path, monkeypatch):
    pan, ms, _ = make_pair(tmp_path, size=64)

    def broken(*a, **kw):
        raise ValueError("expected an MS of at least 4x4 pixels")

    monkeypatch.setattr("pansharpen_cli.pipeline.fuse.fuse", broken)
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(tmp_path / "o.tif"), "-q"])
    assert res.exit_code == 1
    assert res.output == (
        "error: unexpected failure (expected an MS of at least 4x4 pixels): rerun with -v for details\n"
    )


def test_a_rerun_after_kill_9_during_the_write_leaves_only_the_output(tmp_path):
    # kill -9 (the OOM killer) leaves the temporary file; the next run of that output removes it.
    pan, ms, _ = make_pair(tmp_path, size=256, dtype="float32")
    out = tmp_path / "out.tif"
    proc = _child(SLOW_WRITES, ["fuse", pan, ms, out, "-m", "exp", "--tile", "16", "-q"])
    _wait_for_temp(tmp_path, proc)
    other = tmp_path / ".ps-0123456789ab-0000-1-abcd.tmp"  # another output's temp: left alone
    other.write_bytes(b"x")
    proc.kill()
    proc.wait(timeout=60)
    assert len(list(tmp_path.glob(".ps-*.tmp"))) == 2 and not out.exists()
    res = runner.invoke(app, ["fuse", str(pan), str(ms), str(out), "-m", "exp", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, "ms.tif", "out.tif", "pan.tif"])
    with rasterio.open(out) as ds:
        assert ds.tags()["PANSHARPEN_METHOD"] == "exp"


def test_an_output_name_of_250_characters_is_written(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=64)
    for fmt in ("GTiff", "COG"):
        out = tmp_path / (fmt[0] * 246 + ".tif")
        args = ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "-q", "--of", fmt]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        with rasterio.open(out) as ds:
            assert ds.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm"
    assert sorted(len(p.name) for p in tmp_path.iterdir()) == [6, 7, 250, 250]


@pytest.mark.parametrize(
    "fmt, co, message",
    [
        ("COG", "BLOCKSIZE=17", "expected BLOCKSIZE to be a multiple of 16 from 128 to 8192 for COG"),
        ("COG", "BLOCKSIZE=200", "tile sides must be multiples of 16 (try BLOCKSIZE=192)"),
        ("GTiff", "BLOCKXSIZE=17", "tile sides must be multiples of 16 (try BLOCKXSIZE=16)"),
        ("GTiff", "ZLEVEL=fast", "expected an integer for ZLEVEL"),
        ("GTiff", "ZLEVEL=13", "expected ZLEVEL to be from 1 to 12 for GTiff"),
        (
            "GTiff",
            "PREDICTOR=3",
            "the floating-point predictor needs a float output, this one is uint16: "
            "use PREDICTOR=2 or --dtype float32",
        ),
    ],
)
def test_creation_options_are_refused_before_the_work(tmp_path, monkeypatch, fmt, co, message):
    pan, ms, _ = make_pair(tmp_path, size=64)
    before = sorted(p.name for p in tmp_path.iterdir())

    def no_statistics(*a, **kw):
        raise AssertionError("the statistics pass ran before the options were checked")

    monkeypatch.setattr("pansharpen_cli.pipeline.fuse.scene_stats", no_statistics)
    out = tmp_path / "out.tif"
    args = ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "-q", "--of", fmt, "--co", co]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert res.output == f"error: --co {co}: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
