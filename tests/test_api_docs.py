"""The examples of docs/python-api.md run as written (on a small scene named as they name it)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.conftest import make_pair

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_python_examples_run(tmp_path, monkeypatch, capsys):
    make_pair(tmp_path)  # pan.tif, ms.tif: 128 x 128 PAN, 4-band MS, ratio 4, uint16
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 6
    namespace: dict = {}
    for code in blocks:
        if "rioxarray" in code and importlib.util.find_spec("rioxarray") is None:
            continue  # the xarray extra (tests/test_api_xarray.py covers it where installed)
        code = code.replace("iterations=50", "iterations=1")  # a test's budget, the same code path
        exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own code
    out = capsys.readouterr().out
    assert "fused.tif 128 128 4 4" in out and "(4, 128, 128) uint16" in out
    assert "option tile=8: expected at least 16" in out


@pytest.mark.parametrize("name", ["fuse", "fuse_arrays"])
def test_every_public_function_documents_args_returns_raises(name):
    import pansharpen_cli

    doc = getattr(pansharpen_cli, name).__doc__
    assert all(f"\n    {s}:\n" in doc for s in ("Args", "Returns", "Raises")), doc
