"""Full resolution as users see it: MTF-GLP-HPM against the default zero-shot fusion on every scene.

    python bench/fullres.py [--data ../shared/data] [--out bench/out/fullres] [--scenes a,b]
                            [--variants zs,zs-ms] [--max-pan 1280] [--threads 2]
                            [--pictures bench/results/fullres]

Each scene of --data (bench/scenes.py, the window of bench/quality.py) is fused at full resolution
by MTF-GLP-HPM (the classical yardstick) and by the zero-shot variants: ``zs`` (the default, whose
output lines up with the PAN) and ``zs-ms`` (``align="ms"``: the MS's geometry). For each fusion:

* the plain full-resolution indexes (DESIGN.md section 5: D_lambda_K, D_rho, HQNR, R_Q2n) and the
  co-registered ones (pansharpen_cli/metrics/coreg.py: the fused image's global shift to the MS
  removed before D_lambda_K and R-Q2n, its shift to the PAN before D_rho), which judge a fusion
  aligned with either image fairly on a misregistered pair;
* ``align_pan_px``: where the fused image's high-pass sits relative to the PAN's, in PAN pixels
  (phase correlation of the PAN against the least-squares combination of the fused bands, on the
  PAN grid, :func:`pansharpen_cli.physics.registration.estimate_shift`'s ``measured``), and the
  registration shift the zero-shot fit removed;
* ``D_rho_covered``: the co-registered D_rho over the bands the PAN covers (band centre within the
  PAN's spectral range, tables below; every band where scene.json does not name them), since a band
  the PAN does not see (NIR under a visible PAN, SWIR) should get no PAN detail, which D_rho, a mean
  over all bands, counts against it; and the co-registered D_rho of every band;
* ``rr_D_rho_covered``: what D_rho says of the truth under the reduced-resolution protocol (the
  reference MS against the reduced PAN, over the covered bands) beside HPM's fusion of that pair:
  on every scene the truth's is far above HPM's, so HPM injects more PAN detail than the scenes
  have, and a D_rho at most HPM's asks for that much too (docs/quality.md);
* the issue-24 criterion per scene: the default's D_rho over the covered bands and its D_lambda_K
  at most HPM's (co-registered versions, equal to the plain ones where nothing is misregistered).

With --pictures, one PNG per scene: two 256x256-PAN-pixel places at 1:1 (the centre and the
window of most PAN detail in an inner band), each a row of PAN, upsampled MS, MTF-GLP-HPM and the
zero-shot default, the colour panels under one common stretch (the upsampled MS's 2-98 percentiles).
Prints a JSON document and a markdown table; writes both under --out.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.quality import DEFAULT_DATA, code_version, fit_zeroshot  # noqa: E402
from bench.scenes import MAX_PAN, central_window, crop_multiple, discover, load_scene  # noqa: E402
from pansharpen_cli.base.nodata import upscale_mask  # noqa: E402
from pansharpen_cli.methods.base import MIN_FIT_MS_SIDE  # noqa: E402
from pansharpen_cli.methods.classical import fuse_image  # noqa: E402
from pansharpen_cli.metrics.coreg import coregistered_indexes  # noqa: E402
from pansharpen_cli.physics.degradation import upsample  # noqa: E402

CLASSICAL = "mtf-glp-hpm"
#: The PAN's spectral range (nm) of the sensors of the shared data (the makers' specifications).
PAN_RANGE = {
    "qb": (450, 900),
    "ikonos": (450, 900),
    "ge1": (450, 800),
    "wv2": (450, 800),
    "wv3": (450, 800),
    "pleiades": (470, 830),
    "spot6": (450, 745),
    "landsat7": (520, 900),
    "landsat8": (500, 680),
    "eo1-ali": (480, 690),
}
#: Band centres (nm) by the band names of scene.json.
BAND_CENTRE = {
    "uv": 443, "coastal": 427, "blue": 482, "green": 555, "yellow": 605, "red": 655, "rededge": 725,
    "nir": 835, "nir1": 835, "nir2": 950, "swir1": 1650, "swir2": 2215,
}
KEYS = ("D_lambda_K", "D_lambda_K_coreg", "D_rho", "D_rho_coreg", "HQNR", "R_Q2n", "R_Q2n_coreg")
CROP = 256


def covered_bands(sc) -> list[int] | None:
    """The bands whose centre lies in the PAN's range (None: unknown, every band counts)."""
    from bench.scenes import band_names, sensor_preset

    meta = json.loads((sc.folder / "scene.json").read_text())
    names = band_names(meta.get("bands"))
    sensor = sensor_preset(meta.get("sensor")) or str(meta.get("sensor") or "").split(" ")[0].lower()
    if sensor not in PAN_RANGE or not names or any(n not in BAND_CENTRE for n in names):
        return None
    low, high = PAN_RANGE[sensor]
    return [i for i, n in enumerate(names) if low <= BAND_CENTRE[n] <= high]


def band_d_rho(pan: np.ndarray, fused: np.ndarray, r: int, idx: dict, gains, valid=None) -> list[float]:
    """D_rho of each band, the PAN moved by the co-registered D_rho's move (``idx``'s
    ``shift_pan_pixels``) first; ``valid`` (None: all): over the pixels the masked co-registered
    D_rho judges (``clean`` of its accumulator), as ``pansharpen evaluate`` judges nodata."""
    import torch

    from pansharpen_cli.metrics import CoregisteredAccumulator, Coregistration
    from pansharpen_cli.metrics.windows import drho_sums
    from pansharpen_cli.physics.registration import shift_t

    pan_shift = tuple(idx["shift_pan_pixels"])
    if pan_shift != (0.0, 0.0):
        pan = shift_t(torch.from_numpy(np.asarray(pan, np.float64)), *pan_shift).numpy()
    clean = None
    if valid is not None:
        coreg = Coregistration(ms=tuple(idx["shift_ms_pixels"]), pan=pan_shift)
        clean = CoregisteredAccumulator(r, gains, valid.shape, coreg, masked=True).clean(valid, valid.shape)
    every = slice(None)
    sums = [drho_sums(pan, fused[b : b + 1], r, every, every, clean) for b in range(fused.shape[0])]
    return [round(t / n, 5) for t, n in sums]


def truth_d_rho(pan: np.ndarray, ms: np.ndarray, r: int, rad, bands) -> dict | None:
    """What D_rho says of the truth, under the reduced-resolution (Wald) protocol: the D_rho over
    ``bands`` (None: all) of the reference MS against the reduced PAN, beside MTF-GLP-HPM's fusion of
    the reduced pair; None when the reduced MS would be under 16 pixels a side. Far above HPM's, it
    says that a fusion as faithful as the scene allows keeps less PAN detail than HPM injects."""
    from pansharpen_cli.metrics import d_rho
    from pansharpen_cli.physics.degradation import wald_pair

    if min(ms.shape[1:]) < 16 * r:
        return None
    pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
    hpm = fuse_image(CLASSICAL, pan_rr, ms_rr, r, rad.ms_gains, rad.pan_gain)
    bands = range(ms.shape[0]) if bands is None else bands
    return {
        name: round(float(np.mean([d_rho(pan_rr, img[b : b + 1], r) for b in bands])), 5)
        for name, img in (("reference", ms), (CLASSICAL, hpm))
    }


def high_pass_offset(pan: np.ndarray, fused: np.ndarray) -> list[float]:
    """(dy, dx) PAN pixels that move the PAN onto the fused image's high-pass (phase correlation of
    the PAN against the least-squares combination of the fused bands, on the PAN grid): 0 when the
    fused image lines up with the PAN."""
    import torch

    from pansharpen_cli.physics.registration import estimate_shift

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, np.float64))[None]

    reg = estimate_shift(t(pan), t(fused), max_shift=4.0)
    return [round(float(v), 3) for v in reg.measured]


def places(pan: np.ndarray, side: int = CROP) -> list[tuple[int, int]]:
    """Two (row, col) corners of side x side windows: the centre, and the window of most PAN
    high-pass energy on a grid of candidates at least half a window from the centre."""
    from scipy import ndimage

    h, w = pan.shape[1:]
    side = min(side, h, w)
    centre = ((h - side) // 2, (w - side) // 2)
    p = pan[0].astype(np.float64)
    energy = (p - ndimage.uniform_filter(p, 5)) ** 2
    best, where = -1.0, centre
    for r0 in range(0, h - side + 1, max(1, side // 4)):
        for c0 in range(0, w - side + 1, max(1, side // 4)):
            if abs(r0 - centre[0]) < side // 2 and abs(c0 - centre[1]) < side // 2:
                continue  # at least half a window away from the centre
            e = float(energy[r0 : r0 + side, c0 : c0 + side].mean())
            if e > best:
                best, where = e, (r0, c0)
    return [centre, where] if where != centre else [centre]


def picture(path: Path, pan, ms_up, fusions: dict[str, np.ndarray], bands) -> None:
    """The per-scene PNG: a row per place of PAN, upsampled MS, then each fusion (1:1)."""
    from pansharpen_cli.io.quicklook import gray_rgb, pixel_grid, stretch_limits, to_rgb

    limits = stretch_limits(ms_up, bands)
    rows = []
    for r0, c0 in places(pan):
        side = min(CROP, pan.shape[1], pan.shape[2])
        win = (slice(None), slice(r0, r0 + side), slice(c0, c0 + side))
        row = {f"PAN ({r0},{c0})": gray_rgb(pan[win]), "upsampled MS": to_rgb(ms_up[win], bands, limits)}
        row.update({name: to_rgb(f[win], bands, limits) for name, f in fusions.items()})
        rows.append(row)
    pixel_grid(path, rows)


def verdict(res: dict, variant: str = "zs") -> dict:
    """Issue 24's criterion for one scene: the variant's co-registered D_rho over the bands the PAN
    covers and its co-registered D_lambda_K at most the classical method's; None where the index
    judges nothing (NaN: nodata everywhere it would judge, as on Landsat-7 SLC-off stripes)."""
    z, c = res["fr"][variant], res["fr"][CLASSICAL]

    def at_most(k: str) -> bool | None:
        a, b = z[k], c[k]
        return None if math.isnan(a) or math.isnan(b) else a <= b

    return {"D_rho": at_most("D_rho_covered"), "D_lambda_K": at_most("D_lambda_K_coreg")}


def table(results: dict) -> str:
    """Markdown: per scene, HPM and each variant's co-registered D_rho and D_lambda_K (plain in
    brackets where they differ), the high-pass offset to the PAN, the criterion."""
    variants = [v for v in next(iter(results.values()))["fr"] if v != CLASSICAL]
    head = ["scene", "covered bands", "shift removed (PAN px)"]
    for m in (CLASSICAL, *variants):
        head += [f"{m} D_rho covered", f"{m} D_rho all", f"{m} D_lambda_K", f"{m} offset to PAN"]
    head += ["reduced resolution: truth / HPM D_rho covered", "zs <= HPM (D_rho, D_lambda_K)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(d: dict, k: str) -> str:
        c, p = d[f"{k}_coreg"], d[k]
        if math.isnan(c):
            return "n/a"
        return f"{c:.4f}" if abs(c - p) < 5e-5 else f"{c:.4f} ({p:.4f})"

    for name, res in results.items():
        cover = res["covered_bands"]
        row = [name, "all" if cover is None else ",".join(str(b + 1) for b in cover)]
        row.append("{:+.2f}, {:+.2f}".format(*res.get("registration_pan_px", [0.0, 0.0])))
        for m in (CLASSICAL, *variants):
            d = res["fr"][m]
            row += [f"{d['D_rho_covered']:.4f}", cell(d, "D_rho"), cell(d, "D_lambda_K")]
            row.append("{:+.2f}, {:+.2f}".format(*d["align_pan_px"]))
        t = res.get("rr_D_rho_covered")
        row.append("n/a" if t is None else f"{t['reference']:.4f} / {t[CLASSICAL]:.4f}")
        v = res["verdict"]
        marks = ("n/a" if v[k] is None else "yes" if v[k] else "NO" for k in ("D_rho", "D_lambda_K"))
        row.append(", ".join(marks))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def scene_result(sc, args, variants, base_cfg, prior, device) -> dict | None:
    """One scene's fusions, indexes, offsets and (with --pictures) its PNG; None when too small."""
    from bench.quality import zeroshot_variant

    pan, ms, r, rad, mask = load_scene(sc, with_mask=True)
    _, mask = crop_multiple(pan, mask[None], r, r)  # the same cuts as the MS (one "band")
    pan, ms = crop_multiple(pan, ms, r, r)
    _, mask, _ = central_window(pan, mask, r, args.max_pan)
    pan, ms, window = central_window(pan, ms, r, args.max_pan)
    valid = upscale_mask(mask[0], r)  # the PAN grid's, as `fuse` gives the fit
    if min(ms.shape[1:]) < MIN_FIT_MS_SIDE * r:
        return None
    fused = {CLASSICAL: fuse_image(CLASSICAL, pan, ms, r, rad.ms_gains, rad.pan_gain)}
    res: dict = {"ratio": r, "size": list(pan.shape[1:]), "window": window, "fr": {}, "seconds": {}}
    for v in variants:
        name, align = ("zs", "ms") if v == "zs-ms" else (v, "pan")
        cfg, pr = zeroshot_variant(name, replace(base_cfg, align=align), prior)
        t0 = time.perf_counter()
        model = fit_zeroshot(pan, ms, r, rad, cfg, pr, device, valid)
        fused[v] = model.predict_coarse(pan, ms)
        res["seconds"][v] = round(time.perf_counter() - t0, 2)
        if v == "zs":
            res["registration_pan_px"] = [round(float(x), 3) for x in model.shift]
    ms_up = upsample(ms, r)
    cover = covered_bands(sc)
    res["covered_bands"] = cover
    res["rr_D_rho_covered"] = truth_d_rho(pan, ms, r, rad, cover)
    judged = None if valid.all() else valid  # nodata is judged as `evaluate` judges it: never
    for m, f in fused.items():
        idx = coregistered_indexes(pan, ms, f, r, rad.ms_gains, ms_up=ms_up, valid=judged)
        per_band = band_d_rho(pan, f, r, idx, rad.ms_gains, judged)
        bands = cover if cover is not None else range(len(per_band))
        res["fr"][m] = {k: idx[k] for k in KEYS} | {
            "align_pan_px": high_pass_offset(pan, f),
            "D_rho_bands_coreg": per_band,
            "D_rho_covered": float(np.mean([per_band[b] for b in bands])),
        }
    res["verdict"] = verdict(res)
    if args.pictures:
        from pansharpen_cli.io.quicklook import rgb_bands

        bands = sc.rgb if sc.rgb and max(sc.rgb) < ms.shape[0] else rgb_bands(ms.shape[0])
        shown = {CLASSICAL: fused[CLASSICAL], "zero-shot (default)": fused["zs"]}
        picture(args.pictures / f"{sc.name}.png", pan, ms_up, shown, bands)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "fullres")
    ap.add_argument("--scenes", default="", help="comma-separated names (default: every scene of --data)")
    ap.add_argument("--variants", default="zs,zs-ms", help="zero-shot variants (zs: the default; zs-ms)")
    ap.add_argument("--max-pan", type=int, default=MAX_PAN)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (0: torch default)")
    ap.add_argument("--pictures", type=Path, default=None, help="write a 1:1 PNG per scene here")
    ap.add_argument(
        "--set", action="append", default=[], metavar="FIELD=JSON", help="override a ZeroShotConfig field"
    )
    args = ap.parse_args()
    import torch

    from pansharpen_cli.methods.base import StartWeights
    from pansharpen_cli.methods.zeroshot.config import preset_config
    from pansharpen_cli.methods.zeroshot.method import config_for_weights
    from pansharpen_cli.priors.weights import load_weights, shipped_name

    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    if "zs" not in variants:
        sys.exit("--variants must include zs (the default the criterion judges)")
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = preset_config("default", **overrides)  # what `fuse` runs by default
    loaded = load_weights("default", arch=cfg.arch, default=shipped_name(cfg.net_arch))
    start = StartWeights("default", loaded.state_dict, loaded.manifest)
    base_cfg = config_for_weights(cfg, start)
    for d in (args.out, args.pictures):
        if d is not None:
            d.mkdir(parents=True, exist_ok=True)
    scenes = discover(args.data)
    chosen = [n for n in args.scenes.split(",") if n] or list(scenes)
    results, skipped, t0 = {}, [], time.perf_counter()
    for name in chosen:
        res = scene_result(scenes[name], args, variants, base_cfg, loaded.state_dict, torch.device("cpu"))
        if res is None:
            skipped.append(name)
            continue
        results[name] = res
        print(f"{name}: {json.dumps(res['verdict'])}", file=sys.stderr)
    doc = {
        "code": code_version(),
        "command": " ".join(sys.argv),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "scenes": results,
        "skipped": skipped,
    }
    (args.out / "fullres.json").write_text(json.dumps(doc, indent=1))
    (args.out / "fullres.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
