"""A full disk, for real: a small tmpfs mounted as the output folder (root only; skipped otherwise).

Each case: exit 1, one line ``error: cannot write OUT: no space left on device (...)``, no libtiff
line on stderr, nothing left in the folder (no temp, no partial output; an --overwrite target kept
as it was), the inputs unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from tests.conftest import make_pair, write_tif


FREE = r"[\d.]+ MB free"


def _full(out: Path, need: str = "") -> str:
    """The one line of a full disk, as a pattern."""
    return rf"error: cannot write {re.escape(str(out))}: no space left on device \({need}{FREE}\)\n"


def _sha(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _noise_pair(folder: Path, size: int = 512) -> tuple[Path, Path]:
    """A PAN/MS pair of noise: its fusion hardly compresses (DEFLATE keeps ~ its raw 2 MB)."""
    rng = np.random.default_rng(0)
    pt = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
    mt = Affine(2.0, 0, 500000.0, 0, -2.0, 4000000.0)
    pan = write_tif(folder / "npan.tif", rng.integers(1, 4000, (1, size, size)), pt, dtype="uint16")
    ms = write_tif(folder / "nms.tif", rng.integers(1, 4000, (4, size // 4, size // 4)), mt, dtype="uint16")
    return pan, ms


def _fuse(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a child process (libtiff's own stderr lines would show there)."""
    script = "import sys; from pansharpen_cli.cli import app; sys.argv[0] = 'pansharpen'; app()"
    cmd = [sys.executable, "-c", script, "fuse", *map(str, args), "-m", "mtf-glp-hpm", "-q"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_an_uncompressed_output_too_big_is_refused_before_the_work(tmp_path, tmpfs, monkeypatch):
    from typer.testing import CliRunner

    from pansharpen_cli.cli import app

    pan, ms, _ = make_pair(tmp_path, size=256)
    before = _sha(pan, ms)
    disk = tmpfs("256k")  # the output: 256 x 256 x 4 uint16, 512 kB uncompressed
    out = disk / "out.tif"

    def no_statistics(*a, **kw):
        raise AssertionError("the statistics pass ran before the space check")

    monkeypatch.setattr("pansharpen_cli.pipeline.fuse.scene_stats", no_statistics)
    args = ["fuse", str(pan), str(ms), str(out), "-m", "mtf-glp-hpm", "-q", "--co", "COMPRESS=NONE"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    assert re.fullmatch(_full(out, r"needs about 0\.6 MB, "), res.output), res.output
    assert list(disk.iterdir()) == []
    assert _sha(pan, ms) == before


def test_a_write_that_fills_the_disk_fails_with_one_line_and_leaves_nothing(tmp_path, tmpfs):
    pan, ms = _noise_pair(tmp_path)
    before = _sha(pan, ms)
    disk = tmpfs("1m")  # the estimate (a lower bound) passes; the write runs out of space
    out = disk / "out.tif"
    res = _fuse(pan, ms, out)
    assert res.returncode == 1, res.stderr
    assert re.fullmatch(_full(out), res.stderr)
    assert "tiff" not in res.stderr.lower() and res.stdout == ""
    assert list(disk.iterdir()) == []
    assert _sha(pan, ms) == before


def test_overwrite_on_a_full_disk_keeps_the_old_output(tmp_path, tmpfs):
    pan, ms = _noise_pair(tmp_path)
    disk = tmpfs("3m")
    out = disk / "out.tif"
    assert _fuse(pan, ms, out).returncode == 0  # a good output, about 2.1 MB: 0.9 MB left
    good = _sha(out)
    with rasterio.open(out) as ds:
        assert ds.tags()["PANSHARPEN_METHOD"] == "mtf-glp-hpm"
    res = _fuse(pan, ms, out, "--overwrite", "--co", "ZLEVEL=9")
    assert res.returncode == 1, res.stderr
    assert re.fullmatch(_full(out), res.stderr)
    assert [p.name for p in disk.iterdir()] == ["out.tif"] and _sha(out) == good


def test_a_cog_that_does_not_fit_leaves_nothing(tmp_path, tmpfs):
    pan, ms = _noise_pair(tmp_path, size=256)
    disk = tmpfs("700k")  # the temporary GeoTIFF fits (~530 kB); the COG copy beside it does not
    out = disk / "out.tif"
    res = _fuse(pan, ms, out, "--of", "COG")
    assert res.returncode == 1, res.stderr
    assert re.fullmatch(_full(out), res.stderr)
    assert list(disk.iterdir()) == []


def test_a_failure_at_close_is_caught_without_the_space_check(tmp_path, tmpfs, monkeypatch):
    # GDAL keeps tiles in its cache and writes them at close, where libtiff's failure does not
    # raise: the writer must see it anyway (here with the up-front check disabled).
    from pansharpen_cli.base.errors import OutputError
    from pansharpen_cli.io.writer import OutputSpec, OutputWriter

    monkeypatch.setattr("pansharpen_cli.io.writer.check_free_space", lambda *a: 0)
    disk = tmpfs("256k")
    out = disk / "out.tif"
    spec = OutputSpec(out, 256, 256, 4, "uint16", None, None, None, creation_options={"COMPRESS": "NONE"})
    with pytest.raises(OutputError, match=r"no space left on device \([\d.]+ MB free\)$"):
        with OutputWriter(spec) as w:
            w.write(np.ones((4, 256, 256), "uint16"), 0, 0)
            w.commit()
    assert list(disk.iterdir()) == []


def _batch(manifest: Path, outdir: Path) -> subprocess.CompletedProcess:
    script = "import sys; from pansharpen_cli.cli import app; sys.argv[0] = 'pansharpen'; app()"
    cmd = [sys.executable, "-c", script, "batch", str(manifest), str(outdir), "-m", "mtf-glp-hpm", "-q"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _tagged(path: Path) -> bool:
    with rasterio.open(path) as ds:
        ds.read(ds.count, window=((ds.height - 1, ds.height), (ds.width - 1, ds.width)))
        return ds.tags().get("PANSHARPEN_METHOD") == "mtf-glp-hpm"


def test_batch_onto_a_full_disk_logs_only_complete_outputs_and_a_rerun_goes_on(tmp_path, tmpfs):
    pans = []
    for i in range(4):  # about 2 MB of output each, barely compressible
        (tmp_path / f"s{i}").mkdir()
        pan, ms = _noise_pair(tmp_path / f"s{i}")
        pans.append((pan.rename(pan.with_name(f"pan{i}.tif")), ms))
    manifest = tmp_path / "m.csv"
    manifest.write_text("pan,ms\n" + "".join(f"{p},{m}\n" for p, m in pans))
    before = _sha(*(f for pair in pans for f in pair), manifest)
    disk = tmpfs("5m")  # room for two outputs
    res = _batch(manifest, disk)
    assert res.returncode == 1, res.stderr
    recs = [json.loads(ln) for ln in (disk / "pansharpen-batch.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in recs) == ["done", "done", "failed", "failed"]
    for r in recs:
        if r["status"] == "failed":
            full = rf"cannot write {re.escape(r['out'])}: no space left on device \({FREE}\)"
            assert re.fullmatch(full, r["error"]), r["error"]
    # nothing in OUTDIR but the log and complete, tagged outputs of the scenes logged done
    files = sorted(p.name for p in disk.iterdir())
    done = sorted(Path(r["out"]).name for r in recs if r["status"] == "done")
    assert files == sorted([*done, "pansharpen-batch.jsonl"])
    assert all(_tagged(disk / n) for n in done)
    subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
    res = _batch(manifest, disk)  # with room again, the same command fuses the rest
    assert res.returncode == 0, res.stderr
    lines = (disk / "pansharpen-batch.jsonl").read_text().splitlines()
    assert [json.loads(ln)["status"] for ln in lines[4:]].count("done") == 2
    outs = [Path(json.loads(ln)["out"]) for ln in lines[4:]]
    assert len(set(outs)) == 4 and all(_tagged(o) for o in outs)
    assert _sha(*(f for pair in pans for f in pair), manifest) == before
