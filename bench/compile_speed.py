"""Does ``torch.compile`` pay on the CPU? The default network's forward on one tile, eager against
compiled (inductor), one thread.

    python bench/compile_speed.py [--arch bandwise-lite] [--bands 8] [--size 512] [--threads 1]

Prints a JSON document (compile seconds, eager and compiled seconds per forward, max difference).
Measured 2026-12-03 (2-core machine, one thread, the other core busy): bandwise-lite, 512^2 x 8
bands: eager 0.343 s, compiled 0.407 s after 20.6 s of compilation, identical output; not kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _time(f, k: int = 3) -> float:
    f()
    t = time.perf_counter()
    for _ in range(k):
        f()
    return (time.perf_counter() - t) / k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default=None)
    ap.add_argument("--bands", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from pansharpen_cli import networks

    torch.set_num_threads(args.threads)
    net = networks.build(args.arch or networks.DEFAULT_ARCH).eval()
    c, s = args.bands, args.size
    x = (torch.randn(1, 1, s, s), torch.randn(1, c, s, s), torch.randn(1, c, s, s), torch.rand(1, c))
    with torch.inference_mode():
        eager = _time(lambda: net(*x))
        t0 = time.perf_counter()
        cnet = torch.compile(net, dynamic=False)
        y = cnet(*x)
        compile_s = time.perf_counter() - t0
        compiled = _time(lambda: cnet(*x))
        diff = float((y - net(*x)).abs().max())
    print(json.dumps({"arch": net.arch, "bands": c, "size": s, "threads": args.threads, "eager_s": eager,
                      "compile_s": compile_s, "compiled_s": compiled, "max_abs_diff": diff}, indent=1))


if __name__ == "__main__":
    main()
