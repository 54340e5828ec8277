"""Zero-shot speed: a 1280x1280 PAN with a 320x320x8 MS fused end to end with the default settings.

    python bench/zeroshot_speed.py [--size 1280] [--bands 8] [--device cpu] [--weights default] [--runs 1]
                                   [--extra "--iterations 0"] [--json out.json]

Runs `pansharpen fuse -m zeroshot --report` (``--method crossdiff``: CrossDiff) as a separate process (wall clock, as a user sees it) and
reads the per-stage seconds from the report; the inference throughput is the output megapixels over
the seconds of the tile loop (read, upsample, network, write); ``--extra`` passes further `fuse`
options (``--iterations 0``: the prior alone; ``--preset fast``). The network's multiply-accumulates
per output pixel (counted over its convolutions) are printed beside. Prints a JSON document and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.conftest import make_pair  # noqa: E402


def make_scene(folder: Path, size: int, bands: int, ratio: int = 4) -> tuple[Path, Path]:
    """The test suite's synthetic scene (tests/conftest.py ``make_pair``), uint16 at 0.3 m."""
    pan, ms, _ = make_pair(folder, bands=bands, size=size, ratio=ratio, dtype="uint16", pan_res=0.3)
    return pan, ms


def macs_per_pixel(arch: str, config: dict, bands: int, side: int = 64) -> float:
    """Multiply-accumulates of the network's convolutions per output pixel, for ``bands`` bands."""
    import torch

    from pansharpen_cli import networks

    net, total = networks.build(arch, **config).eval(), [0]

    def count(mod, inp, out) -> None:
        total[0] += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(1, 1, side, side), torch.zeros(1, bands, side, side))
    for h in hooks:
        h.remove()
    return total[0] / (side * side)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--bands", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--weights", default="default")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--method", default="zeroshot", choices=("zeroshot", "crossdiff"))
    ap.add_argument("--extra", default="", help="further fuse options, e.g. '--iterations 0'")
    args = ap.parse_args()
    exe = shutil.which("pansharpen") or f"{sys.executable} -m pansharpen_cli.cli"
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pan, ms = make_scene(tmp, args.size, args.bands)
        for i in range(args.runs):
            out, rep = tmp / f"out{i}.tif", tmp / f"rep{i}.json"
            cmd = [
                *exe.split(),
                "fuse",
                str(pan),
                str(ms),
                str(out),
                "-m",
                args.method,
                "--sensor",
                "wv3",
                "--device",
                args.device,
                "--weights",
                args.weights,
                "--report",
                str(rep),
                "-q",
                *args.extra.split(),
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(proc.returncode)
            report = json.loads(rep.read_text())
            zs = report.get(args.method, {})
            mp = args.size * args.size / 1e6
            runs.append(
                {
                    "wall_seconds": wall,
                    "seconds": report["seconds"],
                    "stage_seconds": zs.get("seconds", {}),
                    "inference_mp_per_s": mp / report["seconds"]["fuse"],
                    "output_megapixels": mp,
                    "device": report.get("device"),
                }
            )
    zs = report.get(args.method, {})
    doc = {
        "method": args.method,
        "scene": f"{args.size}x{args.size} PAN, {args.size // 4}x{args.size // 4}x{args.bands} MS, uint16",
        "extra": args.extra,
        "arch": zs.get("arch"),
        "macs_per_pixel": macs_per_pixel(zs["arch"], zs["net_config"], args.bands) if zs else None,
        "steps": zs.get("steps"),
        "weights": args.weights,
        "cpu_count": os.cpu_count(),
        "torch_threads": None,
        "runs": runs,
    }
    try:
        import torch

        doc["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    print(json.dumps(doc, indent=1))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    print(
        "\n| run | wall s | statistics | train | of which: "
        + " / ".join(runs[0]["stage_seconds"])
        + " | fuse (inference) | MP/s |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    for i, r in enumerate(runs):
        st = " / ".join(f"{v:.1f}" for v in r["stage_seconds"].values())
        s = r["seconds"]
        print(
            f"| {i} | {r['wall_seconds']:.1f} | {s['statistics']:.2f} | {s.get('train', 0):.1f} | {st} | "
            f"{s['fuse']:.2f} | {r['inference_mp_per_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
