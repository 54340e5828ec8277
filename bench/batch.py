"""Batch throughput: scenes per minute of `pansharpen batch` against a shell loop of `pansharpen fuse`.

    python bench/batch.py [--data ../shared/data] [--scenes 50] [--size 256] [--jobs 2]
                          [--methods mtf-glp-hpm,zeroshot] [--json out.json]

The scenes are crops (``--size`` PAN pixels, spread over the scene, overlapping when there are many)
of the Landsat-8 OLI pair in the shared data, written with their georeferencing to bench/out/batch/.
For each method (zero-shot runs with ``--iterations 0``, pretrained inference, on the CPU) three runs
fuse every crop, each timed as a whole by the wall clock: a shell loop with one `pansharpen fuse`
process per scene, `pansharpen batch` in one process (``--jobs 1``) and with ``--jobs N`` worker
processes. All runs overwrite, so none skips. Prints a JSON document and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
SCENE, SENSOR = "landsat8-oli", "landsat8"


def crop_scenes(data: Path, folder: Path, n: int, size: int) -> list[tuple[Path, Path]]:
    """``n`` PAN/MS crops of the Landsat-8 pair (PAN ``size`` pixels, MS ``size / ratio``) on an even
    grid over the scene, with the crops' own geotransforms."""
    import rasterio
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    with rasterio.open(data / SCENE / "pan.tif") as pan, rasterio.open(data / SCENE / "ms.tif") as ms:
        r = round(pan.width / ms.width)
        side = size // r
        cols = max(1, round((n * ms.width / ms.height) ** 0.5))
        rows = -(-n // cols)
        for k in range(n):
            i, j = divmod(k, cols)
            mr = (ms.height - side) * i // max(rows - 1, 1)
            mc = (ms.width - side) * j // max(cols - 1, 1)
            out = []
            for src, win, name in (
                (pan, Window(mc * r, mr * r, side * r, side * r), f"s{k:03d}_PAN.tif"),
                (ms, Window(mc, mr, side, side), f"s{k:03d}_MS.tif"),
            ):
                prof = src.profile | {"width": win.width, "height": win.height}
                prof |= {"transform": src.window_transform(win), "tiled": False}
                with rasterio.open(folder / name, "w", **prof) as dst:
                    dst.write(src.read(window=win))
                    dst.update_tags(**src.tags())
                out.append(folder / name)
            pairs.append((out[0], out[1]))
    return pairs


def timed(cmd: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    tail = proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr.strip() else ""
    return {"seconds": round(secs, 2), "rc": proc.returncode, "stderr": tail}


def method_args(method: str) -> list[str]:
    extra = ["--iterations", "0", "--device", "cpu"] if method == "zeroshot" else []
    return ["-m", method, "-s", SENSOR, "-q", "--overwrite", *extra]


def loop_script(exe: str, pairs: list[tuple[Path, Path]], out: Path, args: list[str]) -> list[str]:
    """A shell loop: one `pansharpen fuse` process per scene."""
    lines = [f"mkdir -p {shlex.quote(str(out))}"]
    for pan, ms in pairs:
        dst = out / pan.name
        lines.append(
            f"{exe} fuse {shlex.quote(str(pan))} {shlex.quote(str(ms))} {shlex.quote(str(dst))} {shlex.join(args)}"
        )
    return ["bash", "-c", "set -e\n" + "\n".join(lines)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--scenes", type=int, default=50)
    ap.add_argument("--size", type=int, default=256, help="crop side in PAN pixels")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--methods", default="mtf-glp-hpm,zeroshot")
    ap.add_argument("--work", type=Path, default=HERE / "out" / "batch")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()
    exe = shutil.which("pansharpen") or f"{sys.executable} -m pansharpen_cli.cli"
    pairs = crop_scenes(args.data, args.work / "scenes", args.scenes, args.size)
    manifest = args.work / "scenes.csv"
    manifest.write_text("pan,ms\n" + "".join(f"scenes/{p.name},scenes/{m.name}\n" for p, m in pairs))
    runs = []
    for method in args.methods.split(","):
        margs = method_args(method)
        cases = [("fuse loop", loop_script(exe, pairs, args.work / f"loop-{method}", margs))]
        for jobs in (1, args.jobs):
            out = args.work / f"batch{jobs}-{method}"
            cmd = [*exe.split(), "batch", str(manifest), str(out), "--jobs", str(jobs), *margs]
            cases.append((f"batch --jobs {jobs}", cmd))
        for name, cmd in cases:
            res = timed(cmd)
            rate = 60 * len(pairs) / res["seconds"] if res["rc"] == 0 else None
            runs.append(
                {"method": method, "run": name, "scenes": len(pairs), **res, "scenes_per_minute": rate}
            )
            print(json.dumps(runs[-1]), file=sys.stderr)
    doc = {"cpu_count": os.cpu_count(), "scene": SCENE, "size": args.size, "jobs": args.jobs, "runs": runs}
    print(json.dumps(doc, indent=1))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    print(
        "\n| method | run | scenes | seconds | scenes/min | x loop | rc |\n|---|---|---:|---:|---:|---:|---|"
    )
    for r in runs:
        base = next(b for b in runs if b["method"] == r["method"] and b["run"] == "fuse loop")
        rate = "-" if r["scenes_per_minute"] is None else f"{r['scenes_per_minute']:.1f}"
        speed = f"{base['seconds'] / r['seconds']:.2f}" if r["rc"] == 0 and base["rc"] == 0 else "-"
        print(
            f"| {r['method']} | {r['run']} | {r['scenes']} | {r['seconds']:.1f} | {rate} | {speed} | {r['rc']} {r['stderr']} |"
        )


if __name__ == "__main__":
    main()
