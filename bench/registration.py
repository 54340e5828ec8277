"""What the registration of the zero-shot method measures and what it changes, on every shared scene.

For each scene: the MS-PAN shift measured at full resolution (PAN pixels) and on the reduced-resolution
pair (converted to full-resolution PAN pixels: the two should agree, as they measure one ground
offset), and the untrained zero-shot network (MTF-GLP with the scene's detail gains, no learning, so
only the geometry differs) fused three ways:

* ``off``: ``register=False``, the PAN as given (edges in the PAN's place, colours in the MS's);
* ``ms``: registered, the default (the PAN moved onto the MS: the fused image has the MS's geometry);
* ``pan``: registered, then the fused image moved back onto the PAN by the opposite shift.

Reduced resolution: Q2n against the reference. Full resolution: D_lambda_K and D_rho, which measure
the fused image against the MS (spectral) and against the PAN as given (spatial). Prints JSON and a
markdown table. Usage::

    python bench/registration.py [--scenes a,b] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from quality import DEFAULT_DATA, SCENES, crop_multiple, load_scene  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--scenes", default=",".join(SCENES))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from pansharpen_cli.methods.zeroshot import ZeroShotConfig, fit
    from pansharpen_cli.metrics import d_lambda_k, d_rho, q2n
    from pansharpen_cli.physics.degradation import upsample, wald_pair
    from pansharpen_cli.physics.registration import shift_t

    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    on, off = ZeroShotConfig(iterations=0, warmup=0), ZeroShotConfig(iterations=0, warmup=0, register=False)

    def fused(pan, ms, r, rad, cfg):
        m = fit(pan, ms, r, rad.ms_gains, rad.pan_gain, config=cfg, device=cpu)
        f = m.predict_image(pan, upsample(ms, r))
        back = shift_t(torch.as_tensor(f)[None], -m.shift[0], -m.shift[1])[0].numpy()
        return m, f, back

    out: dict[str, dict] = {}
    for scene in args.scenes.split(","):
        folder, pan_f, ms_f, sensor, _ = SCENES[scene]
        if not (args.data / folder / pan_f).exists():
            print(f"skip {scene}: not found", file=sys.stderr)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pan, ms, r, rad = load_scene(args.data / folder, pan_f, ms_f, sensor)
        pan, ms = crop_multiple(pan, ms, r, r)
        pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
        m_rr, f_rr, b_rr = fused(pan_rr, ms_rr, r, rad, on)
        _, u_rr, _ = fused(pan_rr, ms_rr, r, rad, off)
        m_fr, f_fr, b_fr = fused(pan, ms, r, rad, on)
        _, u_fr, _ = fused(pan, ms, r, rad, off)
        mu = upsample(ms, r)
        res = {
            "ratio": r,
            "shift_fr_pan_pixels": [round(v, 3) for v in m_fr.shift],
            "shift_rr_in_fr_pan_pixels": [round(v * r, 3) for v in m_rr.shift],
            "registration_fr": m_fr.report()["registration"],
        }
        for name, a, b in (("off", u_rr, u_fr), ("ms", f_rr, f_fr), ("pan", b_rr, b_fr)):
            res[name] = {
                "rr_Q2n": q2n(ms, a),
                "fr_D_lambda_K": d_lambda_k(mu, b, rad.ms_gains, r),
                "fr_D_rho": d_rho(pan, b, r),
            }
        out[scene] = res
        print(f"{scene}: shift {res['shift_fr_pan_pixels']} PAN px", file=sys.stderr)
    print(json.dumps(out, indent=1))
    lines = [
        "| scene | shift FR (PAN px) | shift RR x ratio | RR Q2n off / ms / pan | FR D_lambda_K off / ms / pan "
        "| FR D_rho off / ms / pan |",
        "|---|---|---|---|---|---|",
    ]
    for scene, res in out.items():
        cells = [
            " / ".join(f"{res[g][k]:.4f}" for g in ("off", "ms", "pan"))
            for k in ("rr_Q2n", "fr_D_lambda_K", "fr_D_rho")
        ]
        fr = ", ".join(f"{v:.2f}" for v in res["shift_fr_pan_pixels"])
        rr = ", ".join(f"{v:.2f}" for v in res["shift_rr_in_fr_pan_pixels"])
        lines.append(f"| {scene} | {fr} | {rr} | " + " | ".join(cells) + " |")
    if out:
        means = [
            " / ".join(f"{np.mean([res[g][k] for res in out.values()]):.4f}" for g in ("off", "ms", "pan"))
            for k in ("rr_Q2n", "fr_D_lambda_K", "fr_D_rho")
        ]
        lines.append("| **mean** | | | " + " | ".join(means) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
