"""Options a method does not read: zero-shot options with a classical method."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pansharpen_cli.base.errors import UsageError
from pansharpen_cli.cli import app
from pansharpen_cli.pipeline import params

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_save_model_with_a_classical_method_is_a_usage_error(tmp_path, pair):
    pan, ms, _ = pair
    out, model = tmp_path / "o.tif", tmp_path / "m.pt"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--save-model", model)
    assert res.exit_code == 2, res.output
    assert "--save-model: method mtf-glp-hpm adapts no network" in res.output
    assert not out.exists() and not model.exists()


def test_zero_shot_options_with_a_classical_method_are_named_in_a_warning(tmp_path, pair):
    pan, ms, _ = pair
    res = run("fuse", pan, ms, tmp_path / "o.tif", "-m", "gsa", "--preset", "best", "--iterations", "5",
              "--align", "ms", "--weights", "none")
    assert res.exit_code == 0, res.output
    assert "--weights, --preset, --iterations, --align: no effect with -m gsa" in res.output
    plain = run("fuse", pan, ms, tmp_path / "o2.tif", "-m", "gsa")
    assert plain.exit_code == 0 and "no effect" not in plain.output


def test_the_python_api_refuses_the_same(tmp_path):
    p = params.from_keywords("fuse", {"method": "exp", "save_model": str(tmp_path / "m.pt")})
    with pytest.raises(UsageError, match="adapts no network"):
        params.file_options(p)
    zs = params.from_keywords("fuse", {"method": "zeroshot", "save_model": str(tmp_path / "m.pt")})
    assert params.file_options(zs).save_model == tmp_path / "m.pt"
