"""The quality bench's share-of-error formula and its per-scene guard, on synthetic tables."""

from __future__ import annotations

import json

import pytest

from bench.guard import baseline_from, best_classical, compare, fresh_scores, main, share_removed


def run_doc(zs: dict[str, float]) -> dict:
    """A bench/quality.py JSON with the classical methods and ``zs`` per scene."""
    scenes = {}
    for i, (name, q) in enumerate(zs.items()):
        rr = {m: {"Q2n": q} for m, q in (("exp", 0.8), ("brovey", 0.7), ("gsa", 0.85 + i / 100))}
        rr["mtf-glp-hpm"] = {"Q2n": 0.84}
        rr["zs"] = {"Q2n": q}
        scenes[name] = {"rr": rr, "size": [64, 64], "ratio": 4, "bands": 4, "sensor": "qb", "window": None}
    return {"code": {"commit": "abc", "dirty": False}, "prior": "p", "max_pan": 1280, "scenes": scenes}


def test_share_removed_formula():
    assert share_removed(0.95, 0.90) == pytest.approx(0.5)
    assert share_removed(0.90, 0.90) == pytest.approx(0.0)
    assert share_removed(1.0, 0.8) == pytest.approx(1.0)
    assert share_removed(0.85, 0.90) == pytest.approx(-0.5)  # worse than the best classical: negative


def test_best_classical_ignores_variants():
    rr = {"exp": {"Q2n": 0.8}, "gsa": {"Q2n": 0.86}, "zs": {"Q2n": 0.99}, "zs-best": {"Q2n": 0.995}}
    assert best_classical(rr) == ("gsa", 0.86)


def test_one_scene_worse_by_0004_fails_though_the_mean_improves():
    baseline = baseline_from(run_doc({"a": 0.90, "b": 0.90, "c": 0.90}))
    fresh = {"a": 0.896, "b": 0.95, "c": 0.95}  # mean up by 0.032, a down by 0.004
    rows = compare(baseline, fresh)
    assert [(r.scene, r.ok) for r in rows] == [("a", False), ("b", True), ("c", True)]
    assert rows[0].line().startswith("FAIL a: Q2n 0.8960 against recorded 0.9000 (-0.0040)")


def test_within_tolerance_passes_and_missing_scene_fails():
    baseline = baseline_from(run_doc({"a": 0.90, "b": 0.90}))
    rows = compare(baseline, {"a": 0.8971})  # 0.0029 worse: within 0.003; b not run
    assert [(r.scene, r.ok) for r in rows] == [("a", True), ("b", False)]
    assert "missing from the fresh run" in rows[1].line()


def test_record_then_guard_exit_codes(tmp_path, capsys):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(run_doc({"a": 0.90, "b": 0.91})))
    base = tmp_path / "baseline.json"
    assert main(["--record", str(run), "--baseline", str(base)]) == 0
    recorded = json.loads(base.read_text())
    assert recorded["code"]["commit"] == "abc" and recorded["scenes"]["b"]["best_classical"] == "gsa"
    assert main(["--fresh", str(run), "--baseline", str(base)]) == 0
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(run_doc({"a": 0.96, "b": 0.906})))
    capsys.readouterr()
    assert main(["--fresh", str(worse), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok   a:") and out[1].startswith("FAIL b:")
    assert out[2].startswith("1 of 2 scenes")


def test_scene_json_parsing(tmp_path):
    from bench.scenes import band_names, folder_scenes, rgb_from_names, sensor_preset

    texts = ("wv3 (probably; 0.3 m)", "spot6/7 (1.5 m)", "unknown 0.5 m", None)
    assert [sensor_preset(t) for t in texts] == ["wv3", "spot6", None, None]
    assert rgb_from_names(band_names("1p (uv), 1 (blue), 2 (green), 3 (red)")) == (3, 2, 1)
    assert rgb_from_names(band_names("blue,green,red,nir (B2-B5)")) == (2, 1, 0)
    for f in ("pan1.tif", "ms1.tif", "pan2.tif", "ms2.tif", "ms_on_pan_grid.tif"):
        (tmp_path / f).write_bytes(b"")
    meta = {"sensor": "qb", "bands": ["red", "green", "blue", "nir"]}
    (tmp_path / "scene.json").write_text(json.dumps(meta))
    scenes = folder_scenes(tmp_path)
    assert [(s.name, s.pan, s.ms, s.sensor, s.rgb) for s in scenes] == [
        (f"{tmp_path.name}-1", "pan1.tif", ("ms1.tif",), "qb", (0, 1, 2)),
        (f"{tmp_path.name}-2", "pan2.tif", ("ms2.tif",), "qb", (0, 1, 2)),
    ]


def test_fresh_run_uses_the_recorded_settings(tmp_path, monkeypatch):
    import bench.guard as guard

    doc = run_doc({"a": 0.9})
    doc["threads"] = 2
    baseline = baseline_from(doc)
    seen = {}

    def fake_run(cmd, check, stdout):
        seen["cmd"] = cmd
        (tmp_path / "quality.json").write_text(json.dumps(doc))

    monkeypatch.setattr(guard.subprocess, "run", fake_run)
    assert guard.run_bench(baseline, "/data", tmp_path)["scenes"]["a"]["rr"]["zs"]["Q2n"] == 0.9
    cmd = " ".join(seen["cmd"])
    assert "--variants zs --scenes a --max-pan 1280 --threads 2 --data /data" in cmd and "--no-fr" in cmd


def test_a_scene_with_nodata_is_judged_on_its_valid_blocks():
    doc = run_doc({"a": 0.90, "b": 0.90})
    doc["scenes"]["b"]["rr"]["zs"] |= {"Q2n_valid": 0.80}  # b has nodata: 0.80 where fuse writes data
    doc["scenes"]["a"]["rr"]["zs"] |= {"Q2n_valid": None}  # nodata, but no whole valid block
    baseline = baseline_from(doc)
    assert baseline["scenes"]["b"]["Q2n"] == 0.80 and baseline["scenes"]["a"]["Q2n"] == 0.90
    assert [baseline["scenes"][n]["index"] for n in "ab"] == ["Q2n", "Q2n_valid"]
    fresh = run_doc({"a": 0.90, "b": 0.50})  # the plain Q2n of b collapses (its filled nodata) ...
    fresh["scenes"]["b"]["rr"]["zs"] |= {"Q2n_valid": 0.799}  # ... its valid blocks do not
    assert [r.ok for r in compare(baseline, fresh_scores(fresh))] == [True, True]
    fresh["scenes"]["b"]["rr"]["zs"] |= {"Q2n_valid": 0.79}
    assert [r.ok for r in compare(baseline, fresh_scores(fresh))] == [True, False]
