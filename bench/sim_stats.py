"""How predictable from its PAN is the reference: simulated triplets against the real scenes.

    python bench/sim_stats.py [--samples 240] [--seed 1] [--set FIELD=JSON ...]

The statistic is the no-reference index D_rho of the reference MS against its PAN (DESIGN.md
section 5: one minus the local correlation, windows of ``2 * ceil(ratio / 2)``): 0 when every band
follows the PAN pixel by pixel, larger when the bands hold detail the PAN does not predict. For the
real scenes it is taken under the reduced-resolution protocol (the scene's MS against its PAN
degraded to the MS grid), as ``bench/quality.py`` reports it; for the generator, the simulated
reference against the simulated PAN, with the default settings or with ``--set`` overrides.
A prior learns how much PAN detail to trust from its training pairs, so this is what the generator
has to get right for the prior to transfer. Prints JSON and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pretrain import NOT_REDISTRIBUTABLE, SCENE_MS  # noqa: E402
from quality import DEFAULT_DATA, SCENES, crop_multiple, load_scene  # noqa: E402

from pansharpen_cli import priors  # noqa: E402
from pansharpen_cli.io.sources import SKIMAGE_SAMPLES, resolve_sources  # noqa: E402
from pansharpen_cli.metrics import d_rho  # noqa: E402
from pansharpen_cli.physics.degradation import wald_pair  # noqa: E402


def _summary(v: list[float]) -> dict[str, float]:
    a = np.asarray(v, np.float64)
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON")
    args = ap.parse_args()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}

    real: dict[str, float] = {}
    for scene, (folder, pan_f, ms_f, sensor, _) in SCENES.items():
        if not (args.data / folder / pan_f).exists():
            continue
        pan, ms, r, rad = load_scene(args.data / folder, pan_f, ms_f, sensor)
        pan, ms = crop_multiple(pan, ms, r, r)
        pan_rr, _ = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
        real[scene] = d_rho(pan_rr, ms, r)

    sources = [f"skimage:{n}" for n in SKIMAGE_SAMPLES]
    sources += [
        str(args.data / rel)
        for rel in SCENE_MS
        if rel.split("/")[0] not in NOT_REDISTRIBUTABLE and (args.data / rel).is_file()
    ]
    settings = priors.SimSettings(**overrides)
    sampler = priors.TripletSampler(resolve_sources(sources), settings)
    rng = np.random.default_rng(args.seed)
    by_ratio: dict[int, list[float]] = {r: [] for r in settings.ratios}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.samples):
            t = sampler.sample(rng)
            by_ratio[t.ratio].append(d_rho(t.pan, t.reference, t.ratio))
    sim = {str(r): _summary(v) for r, v in by_ratio.items() if v}
    sim["all"] = _summary([x for v in by_ratio.values() for x in v])
    doc = {"overrides": overrides, "real_reference_D_rho": real, "simulated_reference_D_rho": sim}
    if real:
        doc["real_summary"] = _summary(list(real.values()))
    print(json.dumps(doc, indent=1))
    print("\n| set | n | mean | median | p10 | p90 |\n|---|---:|---:|---:|---:|---:|")
    rows = [(f"simulated, ratio {k}" if k != "all" else "simulated, all", v) for k, v in sim.items()]
    if real:
        rows.append(
            ("real scenes (" + ", ".join(f"{k} {v:.2f}" for k, v in real.items()) + ")", doc["real_summary"])
        )
    for name, s in rows:
        print(
            f"| {name} | {s['n']} | {s['mean']:.3f} | {s['median']:.3f} | {s['p10']:.3f} | {s['p90']:.3f} |"
        )


if __name__ == "__main__":
    main()
