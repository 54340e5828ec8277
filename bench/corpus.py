"""Rebuild the pretraining corpus: fetch every source of ``bench/corpus/sources.json``, check it, tile it.

Each source is a file in a public GitHub repository at a fixed commit, with its sha256, size and
licence. For each one, this script

1. gets the file: from a local mirror folder (``--mirror``, laid out as ``OWNER+NAME/repo``, a bare
   git directory read with ``git show COMMIT:PATH``) or, with ``--online``, from
   ``https://raw.githubusercontent.com/OWNER/NAME/COMMIT/PATH``;
2. refuses a Git LFS pointer (the repository stores the image elsewhere) and a file whose sha256
   differs from the list (the error names the file and both digests);
3. cuts it into ``--tile`` x ``--tile`` GeoTIFF tiles (georeferencing kept), skipping tiles that are
   mostly nodata or nearly constant;
4. records every tile (source, licence, sha256) in ``OUT/corpus.json``, written after each source.

It is idempotent and resumable: a source already tiled with the same checksum and settings, whose
tiles are all present with their recorded sha256, is skipped. Usage (from the repository root)::

    python bench/corpus.py --out /work/corpus --mirror /work/.mirror
    python bench/corpus.py --out corpus --online            # from GitHub
    python bench/pretrain.py --corpus /work/corpus ...       # train on it

The images are not committed; only the list of sources is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "bench" / "corpus" / "sources.json"
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
CORPUS_FORMAT = 1


class CorpusError(Exception):
    """A source cannot be used: missing, an LFS pointer, a checksum mismatch, unreadable."""


@dataclass(frozen=True)
class TileSettings:
    """How sources are cut.

    Attributes:
        tile: tile side in pixels (edge remainders smaller than a tile are dropped).
        min_valid: a tile is kept when at least this fraction of its pixels is valid (not nodata).
        min_std: ... and the standard deviation of its valid pixels is at least this fraction of
            the source's 0.5-99.5 percentile range (nearly constant tiles are dropped) ...
        max_flat: ... and at most this fraction of them lies within that distance of the tile's
            per-band median in every band (a tile that is mostly one flat value is dropped).
    """

    tile: int = 256
    min_valid: float = 0.9
    min_std: float = 0.02
    max_flat: float = 0.5


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_sources(path: Path) -> list[dict[str, Any]]:
    """The entries of a sources list, checked for the fields the build needs.

    Raises:
        CorpusError: the file is not a sources list, or an entry lacks a field or repeats an id.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(f"{path}: expected a JSON object with a 'sources' list")
    seen: set[str] = set()
    for e in entries:
        needed = ("id", "kind", "repo", "commit", "path", "sha256", "size", "licence")
        missing = [k for k in needed if k not in e]
        if missing:
            raise CorpusError(f"{path}: source {e.get('id', e)!r} lacks {', '.join(missing)}")
        if e["id"] in seen:
            raise CorpusError(f"{path}: source id {e['id']!r} appears twice")
        seen.add(e["id"])
    return entries


def fetch_bytes(entry: dict[str, Any], mirror: Path | None, online: bool) -> bytes:
    """The source file's bytes, from the mirror or GitHub; LFS pointers are refused.

    Raises:
        CorpusError: not in the mirror and not online, a download failure, or an LFS pointer.
    """
    where = f"{entry['repo']}@{entry['commit'][:12]}:{entry['path']}"
    data = None
    if mirror is not None:
        git_dir = mirror / entry["repo"].replace("/", "+") / "repo"
        if git_dir.is_dir():
            res = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"{entry['commit']}:{entry['path']}"],
                capture_output=True,
            )
            if res.returncode == 0:
                data = res.stdout
    if data is None and online:
        url = RAW_URL.format(**entry)
        try:
            with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 (fixed https host)
                data = r.read()
        except OSError as exc:
            raise CorpusError(f"{entry['id']}: could not download {url}: {exc}") from exc
    if data is None:
        hint = f"mirror {entry['repo']} under {mirror}" if mirror else "give --mirror DIR or --online"
        raise CorpusError(f"{entry['id']}: {where} is not available here ({hint})")
    if data.startswith(LFS_MAGIC):
        raise CorpusError(
            f"{entry['id']}: {where} is a Git LFS pointer ({len(data)} bytes), not the image: "
            "the repository keeps the file in LFS storage; fetch it from there or drop the source"
        )
    return data


def verify(entry: dict[str, Any], data: bytes) -> str:
    """Check the bytes against the listed sha256 (and size); returns the digest.

    Raises:
        CorpusError: the digest differs (the message names the file and both digests).
    """
    got = sha256(data)
    if got != entry["sha256"]:
        raise CorpusError(
            f"{entry['id']}: sha256 mismatch for {entry['repo']}@{entry['commit'][:12]}:{entry['path']}: "
            f"expected {entry['sha256']}, got {got} ({len(data)} bytes, listed {entry['size']}); "
            "the file is not the one listed: check the commit, or update bench/corpus/sources.json "
            "after checking the new file's licence"
        )
    return got


def _valid_mask(a: np.ndarray, nodata: float | None) -> np.ndarray:
    valid = np.ones(a.shape[1:], dtype=bool)
    if nodata is not None:
        bad = np.isnan(a) if np.isnan(nodata) else a == nodata
        valid &= ~bad.all(axis=0)
    if np.issubdtype(a.dtype, np.floating):
        valid &= np.isfinite(a).all(axis=0)
    return valid


def _kept(a: np.ndarray, valid: np.ndarray, spread: float, st: TileSettings) -> str | None:
    """None when the tile is kept, else why not ('nodata' or 'constant')."""
    if valid.mean() < st.min_valid:
        return "nodata"
    x = a[:, valid].astype(np.float64)
    if float(x.std()) < st.min_std * spread:
        return "constant"
    near = (np.abs(x - np.median(x, axis=1, keepdims=True)) <= st.min_std * spread).all(axis=0)
    if near.mean() > st.max_flat:
        return "constant"  # mostly one flat value (a black frame, a saturated area)
    return None


def tile_source(entry: dict[str, Any], data: bytes, dest: Path, st: TileSettings) -> tuple[list[dict], dict]:
    """Cut one source into GeoTIFF tiles under ``dest``.

    Returns:
        (tile records, ``file`` the name in ``dest``; counts of the tiles skipped, by reason).

    Raises:
        CorpusError: the file cannot be read as a raster or picture.
    """
    dest.mkdir(parents=True, exist_ok=True)
    tiles: list[dict] = []
    skipped = {"nodata": 0, "constant": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            mf = MemoryFile(data)
            ds = mf.open()
        except rasterio.errors.RasterioError as exc:
            raise CorpusError(f"{entry['id']}: cannot read {entry['path']} as an image: {exc}") from exc
        with mf, ds:
            a = ds.read()
            valid = _valid_mask(a, ds.nodata)
            lo, hi = np.percentile(a[:, valid], [0.5, 99.5]) if valid.any() else (0.0, 0.0)
            georef = ds.crs is not None and not ds.transform.is_identity
            for i in range(0, ds.height - st.tile + 1, st.tile):
                for j in range(0, ds.width - st.tile + 1, st.tile):
                    win = Window(j, i, st.tile, st.tile)
                    t, v = a[:, i : i + st.tile, j : j + st.tile], valid[i : i + st.tile, j : j + st.tile]
                    why = _kept(t, v, float(hi - lo), st)
                    if why:
                        skipped[why] += 1
                        continue
                    profile = {
                        "driver": "GTiff",
                        "width": st.tile,
                        "height": st.tile,
                        "count": ds.count,
                        "dtype": ds.dtypes[0],
                        "nodata": ds.nodata,
                        "compress": "deflate",
                        "crs": ds.crs if georef else None,
                        "transform": ds.window_transform(win) if georef else rasterio.Affine.identity(),
                    }
                    p = dest / f"r{i:05d}_c{j:05d}.tif"
                    with rasterio.open(p, "w", **profile) as out:
                        out.write(t)
                        out.update_tags(CORPUS_SOURCE=entry["id"], LICENCE=entry["licence"]["name"])
                    tiles.append(
                        {
                            "file": p.name,
                            "source": entry["id"],
                            "window": [i, j, st.tile, st.tile],
                            "sha256": sha256(p.read_bytes()),
                        }
                    )
    return tiles, skipped


def _manifest_path(out: Path) -> Path:
    return out / "corpus.json"


def read_corpus(out: Path) -> dict[str, Any]:
    """The corpus manifest at ``out`` (an empty one when there is none yet)."""
    p = _manifest_path(out)
    if p.is_file():
        return json.loads(p.read_text(encoding="utf-8"))
    return {"format": CORPUS_FORMAT, "sources": [], "tiles": []}


def _write_corpus(out: Path, doc: dict[str, Any]) -> None:
    p = _manifest_path(out)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def _up_to_date(out: Path, doc: dict[str, Any], entry: dict[str, Any], st: TileSettings) -> bool:
    """Whether ``entry`` is already tiled with its checksum and these settings, every tile intact."""
    row = next((s for s in doc["sources"] if s["id"] == entry["id"]), None)
    if row is None or row.get("sha256") != entry["sha256"] or row.get("settings") != asdict(st):
        return False
    for t in doc["tiles"]:
        if t["source"] == entry["id"]:
            p = out / t["file"]
            if not p.is_file() or sha256(p.read_bytes()) != t["sha256"]:
                return False
    return True


def _source_row(entry: dict[str, Any], n: int, skipped: dict, st: TileSettings) -> dict[str, Any]:
    keys = ("id", "kind", "repo", "commit", "path", "sha256", "size", "licence", "sensor", "bands", "pixels")
    return {**{k: entry.get(k) for k in keys}, "tiles": n, "skipped": skipped, "settings": asdict(st)}


def build(
    out: Path,
    entries: list[dict[str, Any]],
    *,
    mirror: Path | None = None,
    online: bool = False,
    settings: TileSettings | None = None,
    log=None,
) -> dict[str, Any]:
    """Build or update the corpus at ``out``; returns its manifest (also written to ``out/corpus.json``).

    Raises:
        CorpusError: a source that cannot be fetched, is an LFS pointer or fails its checksum (the
            sources tiled before it stay recorded: a rerun resumes).
    """
    st = settings or TileSettings()
    out.mkdir(parents=True, exist_ok=True)
    doc = read_corpus(out)
    say = log or (lambda msg: None)
    for entry in entries:
        if _up_to_date(out, doc, entry, st):
            say(f"{entry['id']}: up to date, skipped")
            continue
        data = fetch_bytes(entry, mirror, online)
        verify(entry, data)
        final = out / "tiles" / entry["id"]
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry['id']}.", dir=final.parent))  # renamed when complete
        try:
            tiles, skipped = tile_source(entry, data, tmp, st)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for t in tiles:
            t["file"] = f"tiles/{entry['id']}/{t['file']}"
        doc["sources"] = [s for s in doc["sources"] if s["id"] != entry["id"]]
        doc["tiles"] = [t for t in doc["tiles"] if t["source"] != entry["id"]]
        doc["sources"].append(_source_row(entry, len(tiles), skipped, st))
        doc["tiles"].extend({**t, "licence": entry["licence"]["name"]} for t in tiles)
        _write_corpus(out, doc)
        n_nodata, n_const = skipped["nodata"], skipped["constant"]
        say(f"{entry['id']}: {len(tiles)} tiles (skipped {n_nodata} nodata, {n_const} constant)")
    return doc


def corpus_sources(out: Path) -> dict[str, dict[str, Any]]:
    """The tiles of a built corpus, for training: ``{tile path: its source's manifest row}``.

    The row (``name``, ``licence``, ``kind``, ``tiles``) is shared by the tiles of one source, so a
    manifest lists each source once with its tile count, never thousands of tiles.

    Raises:
        CorpusError: no ``corpus.json`` in ``out``, or it lists no tiles, or a tile is missing.
    """
    p = _manifest_path(out)
    if not p.is_file():
        raise CorpusError(f"expected a corpus built by bench/corpus.py in {out} (no corpus.json there)")
    doc = read_corpus(out)
    if not doc["tiles"]:
        raise CorpusError(f"the corpus in {out} has no tiles: rebuild it with bench/corpus.py")
    rows = {
        s["id"]: {
            "name": f"corpus:{s['id']} ({s['repo']}@{s['commit'][:12]}:{s['path']})",
            "licence": s["licence"]["name"],
            "kind": s["kind"],
            "tiles": s["tiles"],
        }
        for s in doc["sources"]
    }
    tiles = {}
    for t in doc["tiles"]:
        path = out / t["file"]
        if not path.is_file():
            raise CorpusError(f"corpus tile {path} is missing: rerun bench/corpus.py --out {out}")
        tiles[str(path)] = rows[t["source"]]
    return tiles


def manifest_images(
    used: list[str], names: dict[str, str], licences: dict[str, Any], corpus: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The manifest's ``training.images``: one row per image, and one per corpus source (not per tile)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s in used:
        row = corpus.get(s)
        if row is None:
            rows.append({"name": names.get(s, s), "licence": licences.get(s)})
        elif row["name"] not in seen:
            seen.add(row["name"])
            rows.append(dict(row))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="corpus folder (tiles/, corpus.json)")
    ap.add_argument("--sources", default=str(SOURCES), help="default: bench/corpus/sources.json")
    ap.add_argument("--mirror", default=None, help="folder of OWNER+NAME/repo bare git mirrors")
    ap.add_argument("--online", action="store_true", help="download what the mirror lacks from GitHub")
    ap.add_argument("--tile", type=int, default=TileSettings.tile)
    ap.add_argument("--min-valid", type=float, default=TileSettings.min_valid)
    ap.add_argument("--min-std", type=float, default=TileSettings.min_std)
    ap.add_argument("--max-flat", type=float, default=TileSettings.max_flat)
    args = ap.parse_args(argv)
    if args.tile < 64:
        ap.error(f"expected --tile of at least 64 pixels (the pretraining crop), got {args.tile}")
    t0 = time.perf_counter()
    try:
        doc = build(
            Path(args.out),
            load_sources(Path(args.sources)),
            mirror=Path(args.mirror) if args.mirror else None,
            online=args.online,
            settings=TileSettings(args.tile, args.min_valid, args.min_std, args.max_flat),
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = sum((Path(args.out) / t["file"]).stat().st_size for t in doc["tiles"])
    print(
        f"{len(doc['tiles'])} tiles from {len(doc['sources'])} sources, {size / 2**20:.1f} MiB, "
        f"in {time.perf_counter() - t0:.1f} s -> {Path(args.out) / 'corpus.json'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
