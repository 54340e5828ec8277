"""The preflight (issue 22, findings 3, 4, 10, 11, 12): every path a run writes is checked before
any work; a clash, a missing folder, a folder where a file goes, an existing file without
--overwrite, a symbolic link loop is a usage error (exit 2), a folder the file system refuses exit 1;
one line saying what to change; inputs unchanged, nothing written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import rasterio

from tests.cli.test_cli import assert_one_line_error, run
from tests.conftest import make_pair

FAST = ("-m", "mtf-glp-hpm", "-q")
ZS = ("-m", "zeroshot", "--iterations", "0", "--weights", "none", "--device", "cpu", "-q")


def _sums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (what a refused run must leave as it was)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path, Path]:
    pan, ms, _ = make_pair(tmp_path, size=64)
    return pan, ms, tmp_path / "o.tif"


def _refused(tmp_path: Path, args: list, match: str, code: int = 2) -> None:
    """Run ``args``; one line matching ``match``, exit ``code``, every file under tmp_path unchanged
    and no new one (no OUT, no side output, no temporary file)."""
    before = _sums(tmp_path)
    assert_one_line_error(run(*args), match, code=code)
    assert _sums(tmp_path) == before


# -- finding 3: side outputs pointed at inputs or at OUT -------------------------------------------
@pytest.mark.parametrize(
    "option, onto, extra, match",
    [
        ("--report", "ms", FAST, "--report {ms} is also an input, the MS {ms}: choose another --report path"),
        ("--preview", "ms", FAST, "--preview {ms} is also an input, the MS {ms}"),
        ("--save-model", "pan", ZS, "--save-model {pan} is also an input, the PAN {pan}"),  # before the fit
        ("--report", "out", FAST, "--report {out} is also the output {out}: give each its own path"),
        ("--preview", "out", FAST, "--preview {out} is also the output {out}"),
    ],
)
def test_side_output_onto_an_input_or_out_is_refused(tmp_path, scene, option, onto, extra, match):
    pan, ms, out = scene
    paths = {"pan": pan, "ms": ms, "out": out}
    _refused(tmp_path, ["fuse", pan, ms, out, *extra, option, paths[onto]], match.format(**paths))
    assert not out.exists()


def test_out_through_a_hard_link_to_the_pan_is_refused(tmp_path, scene):
    pan, ms, _ = scene
    link = tmp_path / "link.tif"
    os.link(pan, link)
    _refused(
        tmp_path,
        ["fuse", pan, ms, link, *FAST, "--overwrite"],
        f"output {link} is also an input, the PAN {pan}, through a hard link",
    )


def test_report_through_a_symbolic_link_to_the_ms_is_refused(tmp_path, scene):
    pan, ms, out = scene
    link = tmp_path / "r.json"
    link.symlink_to(ms)
    msg = f"--report {link} is also an input, the MS {ms}, through a symbolic link"
    _refused(tmp_path, ["fuse", pan, ms, out, *FAST, "--report", link, "--overwrite"], msg)


def test_two_side_outputs_on_one_file_are_refused(tmp_path, scene):
    pan, ms, out = scene
    png = tmp_path / "p.png"
    msg = f"--report {png} is also the --preview {png}: give each its own path"
    _refused(tmp_path, ["fuse", pan, ms, out, *FAST, "--preview", png, "--report", png], msg)


# -- finding 10: side outputs in a missing folder fail before the fusion ---------------------------
@pytest.mark.parametrize("option, extra", [("--report", FAST), ("--preview", FAST), ("--save-model", ZS)])
def test_side_output_in_a_missing_folder_fails_before_out_is_written(tmp_path, scene, option, extra):
    pan, ms, out = scene
    side = tmp_path / "missing" / "side"
    msg = f"{option} {side}: directory {side.parent} does not exist: create it first or choose another {option} path"
    _refused(tmp_path, ["fuse", pan, ms, out, *extra, option, side], msg)
    assert not out.exists()


# -- finding 12: --report onto an existing file ----------------------------------------------------
def test_existing_report_is_replaced_only_with_overwrite(tmp_path, scene):
    pan, ms, out = scene
    rep = tmp_path / "r.json"
    rep.write_text('{"earlier": "run"}')
    _refused(tmp_path, ["fuse", pan, ms, out, *FAST, "--report", rep], f"--report {rep} exists: pass --overwrite")
    assert run("fuse", pan, ms, out, *FAST, "--report", rep, "--overwrite").exit_code == 0
    assert json.loads(rep.read_text())["method"] == "mtf-glp-hpm"


# -- finding 11: what to change instead of a raw errno ---------------------------------------------
def test_out_in_a_symbolic_link_loop_says_so(tmp_path, scene):
    pan, ms, _ = scene
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    out = tmp_path / "a" / "o.tif"
    _refused(tmp_path, ["fuse", pan, ms, out, *FAST], f"output {out}: a symbolic link loop in the path: remove or fix")


@pytest.fixture
def read_only(tmpfs):
    """A folder on a read-only file system (a tmpfs remounted read-only; root only)."""
    return tmpfs("1m", read_only=True)


def test_out_in_a_read_only_folder_says_so(tmp_path, scene, read_only):
    pan, ms, _ = scene
    out = read_only / "o.tif"
    msg = f"cannot write output {out}: {read_only} is on a read-only file system: choose a folder on a writable one"
    _refused(tmp_path, ["fuse", pan, ms, out, *FAST], msg, code=1)


def test_read_only_outdir_is_refused_before_any_scene(tmp_path, read_only):
    make_pair(tmp_path, size=64)
    (tmp_path / "m.csv").write_text("pan,ms\npan.tif,ms.tif\n")
    log = tmp_path / "log.jsonl"
    msg = f"cannot write OUTDIR {read_only}: {read_only} is on a read-only file system"
    _refused(tmp_path, ["batch", tmp_path / "m.csv", read_only, *FAST, "--log", log], msg, code=1)
    assert not log.exists()  # no scene ran, none was logged


#: Runs a command as user 'nobody' (util-linux; root only).
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_a_folder_without_write_permission_says_so():
    """A real process as an unprivileged user (root writes anywhere): exit 1, what to change."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="pansharpen-preflight-", dir="/tmp"))  # pytest's are root-only
    try:
        base.chmod(0o755)
        pan, ms, _ = make_pair(base, size=64)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        cmd = [*AS_NOBODY, sys.executable, "-m", "pansharpen_cli.cli", "fuse", pan, ms, locked / "o.tif", *FAST]
        env = {**os.environ, "HOME": str(base), "MPLCONFIGDIR": str(base)}
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=base)
        assert res.returncode == 1, res.stderr
        assert res.stderr.strip() == (
            f"error: cannot write output {locked / 'o.tif'}: no permission to write in {locked}: "
            "change its permissions or choose another folder"
        )
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(base)


def test_no_permission_message_where_access_says_no(tmp_path, monkeypatch):
    """The same message wherever access() refuses (the real process above needs root and setpriv)."""
    from pansharpen_cli.base.errors import OutputError
    from pansharpen_cli.io.paths import check_output_path

    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(OutputError, match=f"no permission to write in {tmp_path}: change its permissions"):
        check_output_path(tmp_path / "o.tif", [], overwrite=False)


# -- batch: the log, OUTDIR, rows --------------------------------------------------------------------
@pytest.fixture
def listed(tmp_path: Path) -> Path:
    """Two scenes and a manifest of them in tmp_path."""
    make_pair(tmp_path, size=64)
    make_pair(tmp_path, size=64, name="2", seed=1)
    m = tmp_path / "m.csv"
    m.write_text("pan,ms\npan.tif,ms.tif\npan2.tif,ms2.tif\n")
    return m


@pytest.mark.parametrize(
    "log, match",
    [
        ("m.csv", "--log {t}/m.csv is also an input, the manifest {t}/m.csv: choose another --log path"),
        ("ms2.tif", "--log {t}/ms2.tif is also an input, m.csv:3's MS {t}/ms2.tif"),
        ("out/pan.tif", "--log {t}/out/pan.tif is also m.csv:2's output {t}/out/pan.tif"),
    ],
)
def test_log_onto_the_manifest_an_input_or_an_output_is_refused(tmp_path, listed, log, match):
    (tmp_path / "out").mkdir()
    args = ["batch", listed, tmp_path / "out", *FAST, "--log", tmp_path / log]
    _refused(tmp_path, args, match.format(t=tmp_path))
    assert list((tmp_path / "out").iterdir()) == []


def test_log_that_is_a_folder_is_refused(tmp_path, listed):
    (tmp_path / "logs").mkdir()
    msg = f"--log {tmp_path}/logs is a directory: expected a file path like {tmp_path}/logs/pansharpen-batch.jsonl"
    _refused(tmp_path, ["batch", listed, tmp_path / "out", *FAST, "--log", tmp_path / "logs"], msg)
    assert not (tmp_path / "out").exists()


def test_outdir_that_is_a_file_is_refused(tmp_path, listed):
    f = tmp_path / "outfile"
    f.write_text("not a folder")
    msg = f"OUTDIR {f} is a file: expected a folder (a missing one is created): choose another OUTDIR"
    _refused(tmp_path, ["batch", listed, f, *FAST], msg)


def test_a_row_writing_another_rows_pan_is_refused_even_with_overwrite(tmp_path, listed):
    listed.write_text(f"pan,ms,out\npan.tif,ms.tif,{tmp_path}/pan2.tif\npan2.tif,ms2.tif,\n")
    msg = f"m.csv:2: output {tmp_path}/pan2.tif is m.csv:3's PAN ({tmp_path}/pan2.tif): give this row another 'out'"
    _refused(tmp_path, ["batch", listed, tmp_path / "out", *FAST, "--overwrite"], msg)
    assert not (tmp_path / "out").exists()


def test_pairs_whose_outputs_would_replace_their_pans_are_refused(tmp_path):
    """``--pairs 'DIR/*.tif'`` with OUTDIR the same folder: OUTDIR/<stem>.tif is the PAN itself."""
    for s in ("a", "b"):
        make_pair(tmp_path, size=64, name=s)
        (tmp_path / f"pan{s}.tif").rename(tmp_path / f"{s}_P.tif")
    msg = f"{tmp_path}/a_P.tif: output {tmp_path}/a_P.tif is its own PAN ({tmp_path}/a_P.tif): choose another OUTDIR"
    _refused(tmp_path, ["batch", tmp_path, *FAST, "--pairs", tmp_path / "*_P.tif", "--ms-pattern", "ms{stem}.tif"], msg)


# -- finding 12: simulate into an existing folder ----------------------------------------------------
def test_simulate_does_not_replace_an_earlier_pair_without_overwrite(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128)
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "reference.tif").write_text("an earlier reference")
    msg = f"output {sim}/reference.tif exists: pass --overwrite to replace it (or choose another OUTDIR)"
    _refused(tmp_path, ["simulate", pan, ms, sim, "-q"], msg)
    assert run("simulate", pan, ms, sim, "-q", "--overwrite").exit_code == 0
    with rasterio.open(sim / "reference.tif") as r:
        assert r.count == 4


def test_simulate_into_the_inputs_folder_is_refused_even_with_overwrite(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=128)
    msg = f"output {tmp_path}/pan.tif is also an input, the PAN {pan}: choose another OUTDIR"
    _refused(tmp_path, ["simulate", pan, ms, tmp_path, "-q", "--overwrite"], msg)


# -- evaluate: the standard output appended to an input --------------------------------------------
def test_evaluate_output_appended_to_the_fused_file_is_refused(tmp_path, scene):
    pan, ms, out = scene
    assert run("fuse", pan, ms, out, *FAST).exit_code == 0
    before = _sums(tmp_path)
    with open(out, "ab") as sink:
        cmd = [sys.executable, "-m", "pansharpen_cli.cli", "evaluate", pan, ms, out, "--json"]
        res = subprocess.run(cmd, stdout=sink, stderr=subprocess.PIPE, text=True)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == f"error: the standard output is the input {out}: redirect it to another file"
    assert _sums(tmp_path) == before


# -- pretrain: the log, the checkpoints, the weights -----------------------------------------------
@pytest.mark.parametrize("option", ["--log", "--checkpoint", "--out"])
def test_pretrain_outputs_onto_a_training_image_are_refused(tmp_path, scene, option):
    pan, _, _ = scene
    args = ["pretrain", pan, "--steps", "1", "--crop", "16", "--batch", "1", "--device", "cpu", "-q", "--overwrite"]
    if option != "--out":
        args += ["--out", tmp_path / "w.pt"]
    msg = f"{option} {pan} is also an input, a training image {pan}: choose another {option} path"
    _refused(tmp_path, [*args, option, pan], msg)
