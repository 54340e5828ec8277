"""The fuse options, defined once in pipeline/params.py: the command line has the same names,
defaults and bounds, so the Python API and the CLI cannot drift apart."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from pansharpen_cli.base.errors import UsageError
from pansharpen_cli.cli import app
from pansharpen_cli.cli import fuse as fuse_cmd
from pansharpen_cli.pipeline import params

CLI_ONLY = ("pan", "ms_and_out", "quiet", "verbose")


def _cli_parameters() -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(fuse_cmd.fuse).parameters.items() if n not in CLI_ONLY}


def test_the_command_has_the_options_in_the_same_order_with_the_same_defaults():
    cli = _cli_parameters()
    assert tuple(cli) == params.NAMES
    defaults = params.FuseParams()
    for name, p in cli.items():
        assert getattr(p.default, "value", p.default) == getattr(defaults, name), name


def _bad_values(low: float, high: float | None, above: bool, integer: bool) -> list[float]:
    step = 1 if integer else 0.5
    return [low if above else low - step, *([high + step] if high is not None else [])]


@pytest.mark.parametrize("name", list(params.BOUNDS))
def test_the_command_and_the_api_refuse_the_same_values(tmp_path, name):
    low, high, above = params.BOUNDS[name]
    integer = name in params._INTEGERS
    flag = "--" + name.replace("_", "-")
    missing = [str(tmp_path / n) for n in ("pan.tif", "ms.tif", "out.tif")]
    for bad in _bad_values(low, high, above, integer):
        bad = int(bad) if integer else bad
        res = CliRunner().invoke(app, ["fuse", *missing, "-m", "exp", flag, str(bad)])
        assert res.exit_code == 2 and flag in res.output, (bad, res.output)
        with pytest.raises(UsageError, match=f"option {name}="):
            params.check(params.FuseParams(method="exp", **{name: bad}))
    good = low + (1 if integer else 0.5) * above
    good = int(good) if integer else good
    res = CliRunner().invoke(app, ["fuse", *missing, "-m", "exp", flag, str(good)])
    assert res.exit_code == 1 and "not found" in res.output, res.output  # past the options: the files
    params.check(params.FuseParams(method="exp", **{name: good}))


def test_batch_rows_build_their_options_through_the_same_code():
    # batch's namespace has no report/save_model/preview, its row's method may be a plain string
    ns = {**vars(params.FuseParams(method="exp", tile=64)), "creation": {"COMPRESS": "LZW"}}
    del ns["report"], ns["preview"]
    opts = fuse_cmd.fuse_options(SimpleNamespace(**ns))
    assert (opts.method, opts.tile, opts.creation_options, opts.preview) == (
        "exp",
        64,
        {"COMPRESS": "LZW"},
        None,
    )
    assert opts.zeroshot is None and opts.device is None


def test_zeroshot_budget_from_iterations_and_warmup():
    cfg = params.zeroshot_config(params.FuseParams(iterations=0))
    assert (cfg.iterations, cfg.warmup, cfg.patience) == (0, 0, 0)
    cfg = params.zeroshot_config(params.FuseParams(iterations=10, warmup=3, arch="Bandwise-Lite", p_full=0.5))
    assert (cfg.iterations, cfg.warmup, cfg.arch, cfg.p_full) == (10, 3, "bandwise-lite", 0.5)


@pytest.mark.parametrize(
    "co, expected",
    [
        (None, {}),
        ({"compress": " zstd "}, {"COMPRESS": "zstd"}),
        (["compress=zstd", "ZSTD_LEVEL=9"], {"COMPRESS": "zstd", "ZSTD_LEVEL": "9"}),
        ("BIGTIFF=YES", {"BIGTIFF": "YES"}),
    ],
)
def test_creation_options_from_a_dict_or_key_value_strings(co, expected):
    assert params.creation_options(co) == expected
