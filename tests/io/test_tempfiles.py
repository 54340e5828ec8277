"""Temporary output names: short whatever the output's, and stale ones recognised and removed."""

import os
import subprocess
import sys
import time

from pansharpen_cli.io import tempfiles
from pansharpen_cli.io.tempfiles import STALE_AGE, forget_temp, new_temp, remove_stale_temps


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp(out, host=None, pid=None, suffix="tmp"):
    name = f".ps-{tempfiles._key(out)}-{host or tempfiles._HOST}-{pid or os.getpid()}-beef.{suffix}"
    p = out.with_name(name)
    p.write_bytes(b"x")
    return p


def test_temp_names_are_short_and_beside_the_output(tmp_path):
    out = tmp_path / ("a" * 251 + ".tif")
    tmp = new_temp(out)
    forget_temp(tmp)
    assert tmp.parent == tmp_path and tmp.name.startswith(".ps-") and tmp.suffix == ".tmp"
    assert len(tmp.name) <= 45 and len(tmp.with_suffix(".cog").name + ".ovr.tmp") <= 60


def test_the_temps_of_a_dead_writer_are_removed_and_others_kept(tmp_path):
    out = tmp_path / "out.tif"
    dead = [_temp(out, pid=_dead_pid()), _temp(out, pid=_dead_pid(), suffix="cog.ovr.tmp")]
    alive = _temp(out, pid=os.getppid())  # a live process, older than the file
    other_host = _temp(out, host="ffff", pid=_dead_pid())
    other_output = _temp(tmp_path / "other.tif", pid=_dead_pid())
    assert sorted(remove_stale_temps(out)) == sorted(dead)
    assert all(p.exists() for p in (alive, other_host, other_output))


def test_old_temps_of_another_host_and_of_earlier_versions_are_removed(tmp_path):
    out = tmp_path / "out.tif"
    other_host = _temp(out, host="ffff", pid=1)
    legacy = tmp_path / ".out.tif.1a2b3c4d.tmp.tif"
    legacy.write_bytes(b"x")
    young_legacy = tmp_path / ".out.tif.5e6f7a8b.tmp.tif"
    young_legacy.write_bytes(b"x")
    old = time.time() - STALE_AGE - 60
    for p in (other_host, legacy):
        os.utime(p, (old, old))
    assert sorted(remove_stale_temps(out)) == sorted([other_host, legacy])
    assert young_legacy.exists()


def test_this_process_keeps_the_temps_its_writers_hold(tmp_path):
    out = tmp_path / "out.tif"
    held = new_temp(out)
    held.write_bytes(b"x")
    orphan = _temp(out)  # this PID, but no writer holds it (an earlier process with this PID)
    assert remove_stale_temps(out) == [orphan]
    forget_temp(held)
    assert remove_stale_temps(out) == [held]
