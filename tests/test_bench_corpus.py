"""bench/corpus.py: sources checked, tiled and listed from a mirror; mismatches and LFS pointers refused;
reruns skip; bench/pretrain.py trains on the corpus and lists each source once in the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from bench.corpus import CorpusError, TileSettings, build, corpus_sources, load_sources, main

COMMIT_FILE = "img/scene.tif"
LICENCE = {"name": "CC0 1.0 (test)", "stated_in": "this test"}


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    res = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return res.stdout.strip()


def _scene(path: Path) -> None:
    """A 4-band 300x400 uint16 GeoTIFF (3 x 2 tiles of 128): one tile nodata, one constant."""
    rng = np.random.default_rng(0)
    a = rng.integers(100, 4000, size=(4, 300, 400)).astype(np.uint16)
    a[:, :128, :128] = 0  # nodata tile
    a[:, 128:256, 256:384] = 777  # constant tile
    path.parent.mkdir(parents=True, exist_ok=True)
    prof = {"driver": "GTiff", "width": 400, "height": 300, "count": 4, "dtype": "uint16", "nodata": 0}
    with rasterio.open(path, "w", crs="EPSG:32633", transform=from_origin(500000, 4e6, 2.0, 2.0), **prof) as ds:
        ds.write(a)


@pytest.fixture()
def mirror(tmp_path: Path) -> tuple[Path, dict]:
    """A mirror folder laid out as the fetch tool does (OWNER+NAME/repo, bare) and the source entry."""
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "-q", cwd=work)
    _scene(work / COMMIT_FILE)
    (work / "lfs.tif").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n")
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "data", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work)
    m = tmp_path / "mirror"
    (m / "someone+data").mkdir(parents=True)
    _git("clone", "-q", "--bare", str(work), str(m / "someone+data" / "repo"), cwd=tmp_path)
    data = (work / COMMIT_FILE).read_bytes()
    entry = {
        "id": "fake-scene",
        "kind": "remote-sensing",
        "repo": "someone/data",
        "commit": commit,
        "path": COMMIT_FILE,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "licence": LICENCE,
        "bands": ["blue", "green", "red", "nir"],
    }
    return m, entry


def _sources_file(tmp_path: Path, *entries: dict) -> Path:
    p = tmp_path / "sources.json"
    p.write_text(json.dumps({"format": 1, "sources": list(entries)}))
    return p


def test_source_checked_tiled_and_listed(tmp_path, mirror):
    m, entry = mirror
    out = tmp_path / "corpus"
    doc = build(out, [entry], mirror=m, settings=TileSettings(tile=128))
    assert doc == json.loads((out / "corpus.json").read_text())
    (row,) = doc["sources"]
    assert (row["id"], row["tiles"], row["skipped"]) == ("fake-scene", 4, {"nodata": 1, "constant": 1})
    assert row["licence"] == LICENCE and row["sha256"] == entry["sha256"]
    assert len(doc["tiles"]) == 4
    for t in doc["tiles"]:
        p = out / t["file"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == t["sha256"]
        assert (t["source"], t["licence"]) == ("fake-scene", LICENCE["name"])
        with rasterio.open(p) as ds:
            assert (ds.count, ds.width, ds.height, ds.nodata) == (4, 128, 128, 0)
            assert ds.crs.to_epsg() == 32633
            i, j = t["window"][:2]
            assert ds.transform.c == 500000 + 2.0 * j and ds.transform.f == 4e6 - 2.0 * i
            assert ds.tags()["CORPUS_SOURCE"] == "fake-scene"
    assert sorted(p.name for p in (out / "tiles" / "fake-scene").iterdir()) == sorted(
        Path(t["file"]).name for t in doc["tiles"]
    )  # nothing else there (no partial folders either)
    assert [p.name for p in (out / "tiles").iterdir()] == ["fake-scene"]


def test_checksum_mismatch_refused_with_both_digests(tmp_path, mirror, capsys):
    m, entry = mirror
    bad = {**entry, "sha256": "0" * 64}
    out = tmp_path / "corpus"
    sources = _sources_file(tmp_path, bad)
    rc = main(["--out", str(out), "--mirror", str(m), "--sources", str(sources), "--tile", "128"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"error: fake-scene: sha256 mismatch for someone/data@{entry['commit'][:12]}:{COMMIT_FILE}" in err
    assert f"expected {'0' * 64}, got {entry['sha256']}" in err
    assert not (out / "tiles" / "fake-scene").exists()


def test_lfs_pointer_and_missing_source_refused(tmp_path, mirror):
    m, entry = mirror
    with pytest.raises(CorpusError, match=r"fake-lfs: someone/data@\w+:lfs.tif is a Git LFS pointer"):
        build(tmp_path / "c", [{**entry, "id": "fake-lfs", "path": "lfs.tif"}], mirror=m)
    missing = r"other/repo@\w+:img/scene.tif is not available here \(mirror other/repo under"
    with pytest.raises(CorpusError, match=missing):
        build(tmp_path / "c", [{**entry, "repo": "other/repo"}], mirror=m)


def test_rerun_skips_and_a_damaged_tile_is_redone(tmp_path, mirror):
    m, entry = mirror
    out = tmp_path / "corpus"
    st = TileSettings(tile=128)
    first = build(out, [entry], mirror=m, settings=st)
    mtimes = {t["file"]: (out / t["file"]).stat().st_mtime_ns for t in first["tiles"]}
    said: list[str] = []
    again = build(out, [entry], mirror=m, settings=st, log=said.append)
    assert said == ["fake-scene: up to date, skipped"] and again == first
    assert {f: (out / f).stat().st_mtime_ns for f in mtimes} == mtimes
    (out / first["tiles"][0]["file"]).write_bytes(b"damaged")
    said.clear()
    third = build(out, [entry], mirror=m, settings=st, log=said.append)
    assert said[0].startswith("fake-scene: 4 tiles") and third["tiles"] == first["tiles"]


def test_sources_list_of_the_repository_is_complete():
    entries = load_sources(Path(__file__).resolve().parents[1] / "bench" / "corpus" / "sources.json")
    assert len(entries) >= 30
    for e in entries:
        assert len(e["sha256"]) == 64 and len(e["commit"]) == 40
        assert e["licence"]["name"] and e["licence"]["stated_in"]
        assert e["kind"] in ("remote-sensing", "natural")


def test_pretrain_on_the_corpus_lists_each_source_once(tmp_path, mirror):
    import bench.pretrain as pretrain

    m, entry = mirror
    out = tmp_path / "corpus"
    build(out, [entry], mirror=m, settings=TileSettings(tile=128))
    tiles = corpus_sources(out)
    assert len(tiles) == 4 and len({id(r) for r in tiles.values()}) == 1
    stem = tmp_path / "p"
    args = ["--steps", "2", "--batch", "2", "--no-scenes", "--corpus", str(out), "--out", str(stem)]
    args += ["--checkpoint", str(tmp_path / "p.ckpt"), "--log", str(tmp_path / "p.tsv")]
    assert pretrain.main(args) == 0
    images = json.loads(stem.with_suffix(".json").read_text())["training"]["images"]
    corpus_rows = [r for r in images if r["name"].startswith("corpus:")]
    assert corpus_rows == [
        {
            "name": f"corpus:fake-scene (someone/data@{entry['commit'][:12]}:{COMMIT_FILE})",
            "licence": LICENCE["name"],
            "kind": "remote-sensing",
            "tiles": 4,
        }
    ]
    assert len(images) == 12  # the 11 scikit-image samples and the one corpus source


def test_pretrain_refuses_a_folder_without_corpus(tmp_path, capsys):
    import bench.pretrain as pretrain

    with pytest.raises(SystemExit) as exc:
        pretrain.main(["--steps", "1", "--no-scenes", "--corpus", str(tmp_path), "--out", str(tmp_path / "p")])
    assert exc.value.code == 2
    assert f"expected a corpus built by bench/corpus.py in {tmp_path} (no corpus.json there)" in capsys.readouterr().err
