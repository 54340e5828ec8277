"""The process settings of base/runtime.py."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

from pansharpen_cli.base.runtime import keep_freed_memory


def test_keep_freed_memory_is_set_once_and_says_whether_it_was() -> None:
    first = keep_freed_memory()
    assert keep_freed_memory() is first
    glibc = sys.platform.startswith("linux") and "libc.so" in (ctypes.util.find_library("c") or "")
    if glibc:
        assert first is True


def test_the_cli_makes_the_setting_in_its_process() -> None:
    """`pansharpen` calls it before any command: a fresh process reports it made."""
    code = (
        "from pansharpen_cli.base import runtime\n"
        "from pansharpen_cli.cli.app import app\n"
        "try:\n    app(['sensors', '--json'], standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "print('set', runtime.keep_freed_memory.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "set 1"
