"""Network speed: the default fusion network's forward pass per sub-tile size, and a training step.

    python bench/network_speed.py [--arch NAME] [--bands 8] [--sizes 128,256,512] [--threads 0] [--no-heap] [--json out.json]

The forward pass of the shipped prior's network (``bandwise-lite``) on a sub-tile of ``size`` core
pixels plus its receptive field on every side, in inference mode, as tiled inference runs it: core
megapixels per second. The training step is the zero-shot fit's reduced-resolution step shape
(4 crops of 64x64, forward, backward and an Adam update). By default the process keeps glibc's freed
heap as the CLI does (``pansharpen_cli.base.runtime``); ``--no-heap`` measures without it. Prints a
JSON document and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

from pansharpen_cli import networks  # noqa: E402
from pansharpen_cli.base.runtime import keep_freed_memory  # noqa: E402
from pansharpen_cli.methods.zeroshot.adam import Adam  # noqa: E402


def _seconds(fn, runs: int) -> float:
    fn()
    fn()
    t0 = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - t0) / runs


def _inputs(bands: int, side: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(1, 1, side, side, generator=g),
        torch.randn(1, bands, side, side, generator=g),
        torch.randn(1, bands, side, side, generator=g),
        torch.rand(1, bands, generator=g),
    )


def forward_rates(net: torch.nn.Module, bands: int, sizes: list[int]) -> list[dict]:
    rows = []
    for core in sizes:
        args = _inputs(bands, core + 2 * net.receptive_field)
        with torch.inference_mode():
            s = _seconds(lambda a=args: net(*a), max(3, int(12 * (256 / core) ** 2)))
        rows.append({"core": core, "seconds": s, "core_mpx_per_s": core * core / s / 1e6})
    return rows


def train_step(net: torch.nn.Module, bands: int) -> float:
    p, x, d, g = _inputs(bands, 64)
    p, x, d, g = (t.expand(4, *t.shape[1:]).contiguous() for t in (p, x, d, g))
    opt = Adam([q for q in net.parameters() if q.requires_grad], lr=1e-3)

    def step() -> None:
        loss = (net(p, x, d, g) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    net.train()
    return _seconds(step, 30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bands", type=int, default=8)
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--no-heap", action="store_true", help="without the CLI's allocator settings")
    ap.add_argument("--arch", default=None, help="network (default: the default network)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    heap = False if args.no_heap else keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    net = networks.build(args.arch or networks.DEFAULT_ARCH).eval()
    doc = {
        "arch": net.arch,
        "bands": args.bands,
        "threads": torch.get_num_threads(),
        "heap_kept": heap,
        "forward": forward_rates(net, args.bands, [int(v) for v in args.sizes.split(",")]),
        "train_step_seconds": train_step(net, args.bands),
    }
    print(json.dumps(doc, indent=1))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    print(f"\n{net.arch}, {args.bands} bands, {doc['threads']} threads, heap kept: {heap}\n")
    print("| core side | forward ms | core Mpx/s |\n|---:|---:|---:|")
    for r in doc["forward"]:
        print(f"| {r['core']} | {r['seconds'] * 1000:.1f} | {r['core_mpx_per_s']:.2f} |")
    print(f"\ntraining step (4 x 64x64 crops): {doc['train_step_seconds'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
