"""The README and the documentation site hold together: the README's test command is what CI runs,
its links lead to pages that exist, and every page under docs/ is in the site's navigation
(`mkdocs build --strict`, run by .ci/run, checks the links inside the site)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _install_and_test(line: str) -> tuple[str, str]:
    """(the extras installed, the test command) of ``pip install -e ".[...]" && python -m pytest ...``."""
    m = re.search(r'pip install (?:-q )?-e "\.\[([^\]]*)\]" && (python -m pytest.*)$', line.strip())
    assert m, line
    return m.group(1), m.group(2)


def test_the_readme_test_command_is_the_one_ci_runs():
    (cmd,) = [ln for ln in README.splitlines() if "python -m pytest" in ln]
    (ci,) = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if "python -m pytest" in ln]
    assert _install_and_test(cmd) == _install_and_test(ci)


def test_the_readme_stays_short_and_its_links_exist():
    assert len(README) < 8000  # the reference lives in docs/
    links = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README)
    assert links and all((ROOT / link).exists() for link in links), links


def test_every_page_is_in_the_site_navigation():
    nav = re.findall(r"^\s*- [^:\n]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    pages = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert sorted(nav) == pages


def test_ci_builds_the_site_strictly_into_an_ignored_folder():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\S*\s*mkdocs build --strict .*--site-dir site\b", ci, flags=re.M), ci
    assert "site/" in (ROOT / ".gitignore").read_text().splitlines()
    assert '".[test,dask,docs]"' in ci  # the docs extra installed
