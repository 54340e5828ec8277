"""The quality-against-time table of bench/ladder.py, on synthetic bench runs."""

from __future__ import annotations

import json

import pytest

from bench.ladder import main, point


def run_doc(q: dict[str, float], variant: str, secs: float) -> dict:
    scenes = {}
    for name, v in q.items():
        rr = {"exp": {"Q2n": 0.8}, "mtf-glp-hpm": {"Q2n": 0.9}, variant: {"Q2n": v}}
        scenes[name] = {"rr": rr, "seconds": {f"rr:{variant}": secs}}
    return {"scenes": scenes}


def test_point_summarises_share_time_and_the_guard():
    table = {"a": {"Q2n": 0.95}, "b": {"Q2n": 0.92}}
    p = point(run_doc({"a": 0.96, "b": 0.91}, "zs", 4.0), "zs", table)
    assert p["scenes"]["a"]["share"] == pytest.approx(0.6)  # 1 - 0.04 / 0.1
    assert p["scenes"]["b"]["share"] == pytest.approx(0.1)
    assert p["mean_share"] == pytest.approx(0.35) and p["min_share"] == pytest.approx(0.1)
    assert p["median_seconds"] == 4.0 and p["total_seconds"] == 8.0
    assert p["worst_vs_table"] == pytest.approx(-0.01) and p["within_tolerance"] == 1
    with pytest.raises(SystemExit, match="zs-best"):
        point(run_doc({"a": 0.96}, "zs", 1.0), "zs-best", table)


def test_main_writes_one_table_of_every_point(tmp_path):
    (tmp_path / "base.json").write_text(json.dumps({"scenes": {"a": {"Q2n": 0.95}}}))
    (tmp_path / "r1.json").write_text(json.dumps(run_doc({"a": 0.96}, "zs", 2.0)))
    (tmp_path / "r2.json").write_text(json.dumps(run_doc({"a": 0.97}, "zs-best", 9.0)))
    out = tmp_path / "out"
    args = ["--out", str(out), "--baseline", str(tmp_path / "base.json")]
    assert main([*args, f"small={tmp_path / 'r1.json'}:zs", f"large={tmp_path / 'r2.json'}:zs-best"]) == 0
    md = (out / "ladder.md").read_text()
    assert "| small | 0.9600 | 60.0% |" in md and "| large | 0.9700 | 70.0% |" in md
    assert "| a | 0.9600 / 60.0% | 0.9700 / 70.0% |" in md
    assert set(json.loads((out / "ladder.json").read_text())["points"]) == {"small", "large"}
    with pytest.raises(SystemExit):
        main([*args, "no-variant"])
