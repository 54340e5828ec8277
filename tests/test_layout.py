"""The package's shape (docs/architecture.md): sizes of modules and functions, every package
listed in pyproject.toml, the shipped weights where the wheel takes them from."""

from __future__ import annotations

import ast
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pansharpen_cli"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_450_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_no_function_over_60_lines() -> None:
    long = {}
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(ROOT)}:{node.lineno} {node.name}"] = n
    assert not long, long


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found | {"pansharpen_cli.weights"} == listed


def test_shipped_weights_at_the_top_level_and_found_through_the_package() -> None:
    import importlib.resources

    assert (ROOT / "weights" / "prior.pt").is_file() and (ROOT / "weights" / "prior.json").is_file()
    assert not (PACKAGE / "weights").exists()
    found = importlib.resources.files("pansharpen_cli.weights") / "prior.pt"
    assert found.is_file() and Path(str(found)).resolve() == (ROOT / "weights" / "prior.pt").resolve()
