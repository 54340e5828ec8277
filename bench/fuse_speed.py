"""Speed and peak memory of `pansharpen fuse` per method and scene, beside gdal_pansharpen.

    python bench/fuse_speed.py [--data ../shared/data] [--large] [--methods exp,gsa,...] [--json out.json]

Each run is a separate process, measured with GNU time (wall seconds, peak resident memory). Scenes:
every pair in the shared data folder, and with ``--large`` a synthetic 20000x20000 PAN with a
5000x5000x4 MS (uint16, written block by block, ~1 GB on disk) to show that memory does not grow with
the scene. gdal_pansharpen (Debian's gdal-bin) runs on the same inputs when it is installed.
Prints a table and a JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"

SCENES = {
    "eo1-ali": ("pan.tif", ["ms.tif"], None),
    "landsat7-fusebox": ("pan1.tif", ["ms1.tif"], "landsat7"),
    "landsat8-oli": ("pan.tif", ["ms.tif"], "landsat8"),
    "osman-4band": ("pan.tif", ["ms.tif"], None),
    "qb-toulouse": ("pan.tif", ["ms.tif"], "qb"),
    "wv3-cristianics": ("pan.tif", ["ms.tif"], "wv3"),
}


def timed(cmd: list[str]) -> dict:
    """Run a command under GNU time; return seconds, peak RSS (MiB) and the exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], capture_output=True, text=True)
        txt = Path(tf.name).read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", txt)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt)
    secs = None
    if wall:
        h = int(wall.group(1) or 0)
        secs = h * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return {
        "seconds": secs,
        "peak_mib": int(rss.group(1)) / 1024 if rss else None,
        "rc": proc.returncode,
        "stderr": proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr.strip() else "",
    }


def make_large(folder: Path, pan_size: int = 20000, ratio: int = 4, bands: int = 4) -> tuple[Path, Path]:
    """Write a synthetic large pair block by block (smooth random texture, uint16)."""
    import rasterio
    from rasterio.transform import Affine
    from rasterio.windows import Window
    from scipy import ndimage

    pan_p, ms_p = folder / "large_pan.tif", folder / "large_ms.tif"
    if pan_p.exists() and ms_p.exists():
        return pan_p, ms_p
    ms_size = pan_size // ratio
    rng = np.random.default_rng(0)
    t = Affine(0.5, 0, 500000, 0, -0.5, 4000000)
    common = dict(
        driver="GTiff", crs="EPSG:32633", tiled=True, blockxsize=512, blockysize=512, compress="deflate"
    )
    block = 1000  # MS pixels per side per write
    with (
        rasterio.open(
            pan_p, "w", width=pan_size, height=pan_size, count=1, dtype="uint16", transform=t, **common
        ) as pan,
        rasterio.open(
            ms_p,
            "w",
            width=ms_size,
            height=ms_size,
            count=bands,
            dtype="uint16",
            transform=t @ Affine.scale(ratio),
            **common,
        ) as ms,
    ):
        for r0 in range(0, ms_size, block):
            for c0 in range(0, ms_size, block):
                h, w = min(block, ms_size - r0), min(block, ms_size - c0)
                base = ndimage.gaussian_filter(rng.standard_normal((h * ratio, w * ratio)), 4) * 2000 + 1000
                base = np.clip(base, 50, 4000)
                p = base + rng.normal(0, 10, base.shape)
                pan.write(
                    np.clip(p, 1, 65535).astype("uint16")[None],
                    window=Window(c0 * ratio, r0 * ratio, w * ratio, h * ratio),
                )
                low = base.reshape(h, ratio, w, ratio).mean(axis=(1, 3))
                m = np.stack([low * (0.8 + 0.1 * b) for b in range(bands)])
                ms.write(np.clip(m, 1, 65535).astype("uint16"), window=Window(c0, r0, w, h))
    return pan_p, ms_p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--methods", default="exp,brovey,gsa,mtf-glp-hpm")
    ap.add_argument("--large", action="store_true", help="also the synthetic 20000x20000 scene")
    ap.add_argument("--large-methods", default="gsa,mtf-glp-hpm")
    ap.add_argument("--work", type=Path, default=HERE / "out")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("pansharpen") or f"{sys.executable} -m pansharpen_cli.cli"
    gdal = shutil.which("gdal_pansharpen.py") or shutil.which("gdal_pansharpen")
    runs: list[dict] = []
    cases: list[tuple[str, Path, list[Path], str | None, list[str]]] = []
    for name, (pan, ms, sensor) in SCENES.items():
        d = args.data / name
        if (d / pan).exists():
            cases.append((name, d / pan, [d / m for m in ms], sensor, args.methods.split(",")))
    if args.large:
        pan, ms = make_large(args.work)
        cases.append(("synthetic-20000", pan, [ms], None, args.large_methods.split(",")))
    for name, pan, ms, sensor, methods in cases:
        for method in methods:
            out = args.work / f"{name}_{method}.tif"
            cmd = [*exe.split(), "fuse", str(pan), *map(str, ms), str(out), "-m", method, "-q", "--overwrite"]
            if sensor:
                cmd += ["--sensor", sensor]
            res = timed(cmd)
            runs.append({"scene": name, "tool": "pansharpen", "method": method, **res})
            print(json.dumps(runs[-1]), file=sys.stderr)
            out.unlink(missing_ok=True)
        if gdal:
            out = args.work / f"{name}_gdal.tif"
            cmd = [
                gdal,
                str(pan),
                *map(str, ms),
                str(out),
                "-of",
                "GTiff",
                "-co",
                "TILED=YES",
                "-co",
                "COMPRESS=DEFLATE",
                "-q",
            ]
            res = timed(cmd)
            runs.append({"scene": name, "tool": "gdal_pansharpen", "method": "weighted brovey", **res})
            print(json.dumps(runs[-1]), file=sys.stderr)
            out.unlink(missing_ok=True)
    doc = {"cpu_count": os.cpu_count(), "runs": runs}
    print(json.dumps(doc, indent=1))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    print("\n| scene | tool | method | seconds | peak MiB | rc |\n|---|---|---|---:|---:|---|")
    for r in runs:
        s = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
        m = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        print(f"| {r['scene']} | {r['tool']} | {r['method']} | {s} | {m} | {r['rc']} {r['stderr']} |")


if __name__ == "__main__":
    main()
