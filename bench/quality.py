"""Quality benchmark: every scene, every method, reduced- and full-resolution indexes, in one run.

    python bench/quality.py [--data ../shared/data] [--out bench/out/quality] [--variants ...]
                            [--scenes a,b] [--max-pan 1280] [--threads 2] [--no-fr]

Every scene of every folder of --data (bench/scenes.py: files and scene.json, larger scenes cut to a
central window of --max-pan PAN pixels), read through the tool's own PairReader, so the MS is on the
PAN-aligned working grid. The per-scene guard on these figures is bench/guard.py. For each scene:

* reduced resolution (Wald protocol): PAN and MS degraded by their MTFs and decimated by the ratio,
  fused by every method, compared with the original MS: Q2n, Q, SAM, ERGAS, SCC, PSNR; and the
  no-reference D_rho of every fusion and of the reference itself against the reduced PAN (what that
  index says of the truth: a fusion far below it injects more PAN detail than the scene has);
* full resolution: the original pair fused by every method: D_lambda, D_s, QNR, D_lambda_K, HQNR,
  D_rho, R_Q2n;
* a PNG with true-colour quicklooks (upsampled MS, each method, PAN; one common stretch) and a chart
  of the indexes.

Methods: the classical baselines and zero-shot variants: ``zs`` (what ``fuse`` runs by default:
the default preset's network from its shipped prior), ``zs-fast`` and ``zs-best`` (the ``--preset``
budgets, networks and test-time augmentation: ``zs-fast`` is bandwise-lite from its own prior,
``zs-best`` the default's network fitted with ``augment`` 4 and fused with ``tta`` 4), ``zs-q`` (prior, a quarter of the iterations), ``zs-0`` (prior, no adaptation), ``zs-rand`` (random
init, default settings); ``cd``, ``cd-0``, ``cd-pt``: CrossDiff (see :func:`crossdiff_variant`); on request ``zs-glp`` (the untrained network, i.e. MTF-GLP with the
scene's per-band detail gains: the classical base the network corrects). Prints a JSON document and markdown tables (per scene and averages).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.scenes import MAX_PAN, central_window, crop_multiple, discover, load_scene  # noqa: E402
from bench.quality_tables import tables  # noqa: E402
from pansharpen_cli.base.nodata import upscale_mask  # noqa: E402
from pansharpen_cli.io.quicklook import panels_figure, rgb_bands  # noqa: E402
from pansharpen_cli.methods.base import MIN_FIT_MS_SIDE  # noqa: E402
from pansharpen_cli.methods.classical import CLASSICAL as METHODS  # noqa: E402
from pansharpen_cli.methods.classical import fuse_image  # noqa: E402
from pansharpen_cli.metrics import d_rho, full_resolution_indexes, reference_indexes  # noqa: E402
from pansharpen_cli.physics.degradation import upsample, wald_pair  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data"

VARIANTS = ("zs", "zs-q", "zs-0", "zs-rand")
HIGHER = {"Q2n", "Q", "SCC", "PSNR", "QNR", "HQNR", "R_Q2n"}


_CROSSDIFF: dict = {}
_PRESET_PRIORS: dict = {}  # network -> its shipped prior, loaded once


def crossdiff_variant(name: str, base_cfg):
    """``cd`` (CrossDiff from its shipped weights, default settings), ``cd-0`` (its pretrained head,
    no adaptation), ``cd-pt`` (with 20 steps of pretext adaptation)."""
    from pansharpen_cli.methods.base import StartWeights
    from pansharpen_cli.methods.crossdiff import from_zeroshot
    from pansharpen_cli.methods.zeroshot.method import config_for_weights
    from pansharpen_cli.priors.weights import load_weights

    if not _CROSSDIFF:
        w = load_weights("default", arch="crossdiff", default="crossdiff.pt")
        _CROSSDIFF.update(state=w.state_dict, manifest=w.manifest)
    base = from_zeroshot(replace(base_cfg, arch="crossdiff", net_kwargs={}))
    cfg = config_for_weights(base, StartWeights("default", _CROSSDIFF["state"], _CROSSDIFF["manifest"]))
    if name == "cd-0":
        cfg = replace(cfg, iterations=0, warmup=0)
    if name == "cd-pt":
        cfg = replace(cfg, pretext_steps=20)
    return cfg, _CROSSDIFF["state"]


def zeroshot_variant(name: str, base_cfg, prior):
    if name.startswith("cd"):
        return crossdiff_variant(name, base_cfg)
    if name == "zs":
        return base_cfg, prior
    if name in ("zs-fast", "zs-best"):  # the --preset budgets, networks and tta, other fields as given
        from pansharpen_cli.methods.zeroshot.config import preset_config

        p = preset_config(name[3:])
        budget = dict(warmup=p.warmup, iterations=p.iterations, patience=p.patience)
        flips = dict(tta=p.tta, augment=p.augment, small_flips=p.small_flips)
        cfg = replace(base_cfg, reference_pixels=p.reference_pixels, **flips, **budget)
        return preset_network(cfg, p.net_arch, prior)
    if name == "zs-q":
        return replace(base_cfg, iterations=base_cfg.iterations // 4, warmup=base_cfg.warmup // 4), prior
    if name == "zs-0":
        return replace(base_cfg, iterations=0, warmup=0), prior
    if name == "zs-rand":
        return base_cfg, None
    if name == "zs-glp":  # the untrained network: MTF-GLP with the scene's detail gains (classical)
        return replace(base_cfg, iterations=0, warmup=0), None
    raise ValueError(name)


def preset_network(cfg, arch: str, prior):
    """A preset's network and its shipped prior (``--preset best``: bandwise-resnet), when it is not
    the network of ``cfg`` (the ``--weights`` prior's, kept otherwise)."""
    if arch == cfg.net_arch:
        return cfg, prior
    from pansharpen_cli.priors.weights import load_weights, shipped_name

    if arch not in _PRESET_PRIORS:
        _PRESET_PRIORS[arch] = load_weights("default", arch=arch, default=shipped_name(arch))
    w = _PRESET_PRIORS[arch]
    return replace(cfg, arch=arch, net_kwargs=dict(w.config)), w.state_dict


def fit_zeroshot(pan, ms, r, rad, cfg, prior, device, valid=None):
    """The fitted model of a variant's config (CrossDiff's pretext hook when it is one). ``valid``:
    the (H, W) mask of the PAN grid where the data is valid, from which the fit learns as in
    ``fuse`` (:func:`learnable`; None or all True: no nodata)."""
    from pansharpen_cli.methods.crossdiff import CrossDiffConfig
    from pansharpen_cli.methods.crossdiff.adapt import pretext_adapter
    from pansharpen_cli.methods.zeroshot import fit
    from pansharpen_cli.methods.zeroshot.method import learnable

    hook = pretext_adapter(cfg) if isinstance(cfg, CrossDiffConfig) else None
    valid = None if valid is None or valid.all() else learnable(valid, r)
    return fit(
        pan, ms, r, rad.ms_gains, rad.pan_gain, valid=valid, config=cfg, device=device, init_state=prior,
        pre_adapt=hook,
    )


def run_zeroshot(pan, ms, r, rad, cfg, prior, device, back: bool = False, valid=None):
    """Fit and fuse as ``fuse`` does (the MS on its own grid, :meth:`predict_coarse`): (fused,
    seconds). ``back``: a fusion aligned with the PAN (``align`` "pan", the default) is moved back
    onto the MS's geometry by the shift it recorded, so it is compared with a reference that has the
    MS's geometry (the reduced-resolution protocol's) for what it is, not for the misregistration it
    removed. ``valid``: as for :func:`fit_zeroshot`."""
    t0 = time.perf_counter()
    model = fit_zeroshot(pan, ms, r, rad, cfg, prior, device, valid)
    fused = model.predict_coarse(pan, ms)
    secs = time.perf_counter() - t0
    if back and model.align == "pan" and model.shift != (0.0, 0.0):
        fused = move_back(fused, model.shift)
    return fused, secs


def move_back(fused: np.ndarray, shift) -> np.ndarray:
    """A PAN-aligned fusion moved by the registration shift it recorded (PAN pixels, the one that
    moves the PAN onto the MS): the MS's geometry. Keys cubic, the kernel ``--align ms`` moves the
    PAN with and the co-registered indexes move images with."""
    import torch

    from pansharpen_cli.physics.registration import shift_t

    moved = shift_t(torch.from_numpy(np.asarray(fused, np.float64)), *shift)
    return moved.numpy().astype(np.float32)


def pixel_indexes_valid(ref: np.ndarray, fused: np.ndarray, valid: np.ndarray, r: int) -> dict[str, float]:
    """ERGAS and SAM over the valid pixels only (both are means over pixels, so they need no whole
    block; a scene whose nodata runs in stripes, as Landsat-7 SLC-off, has no whole Q2n block)."""
    from pansharpen_cli.metrics.reference import ergas, sam

    a, b = ref[:, valid][:, None, :], fused[:, valid][:, None, :]  # (B, 1, N): the valid pixels
    return {"ERGAS_valid": ergas(a, b, r), "SAM_valid": sam(a, b)}


def q2n_valid(ref: np.ndarray, fused: np.ndarray, valid: np.ndarray, block: int = 32) -> float | None:
    """Q2n over the distinct ``block`` x ``block`` blocks (the Q2n grid, from the top left) whose
    pixels are all valid: a scene with nodata judged where ``fuse`` writes data (the filled nodata
    is constant, so a block of it says nothing of a fusion); None when no block is whole."""
    from pansharpen_cli.metrics.reference import q2n

    vals = [
        q2n(ref[:, i : i + block, j : j + block], fused[:, i : i + block, j : j + block], block)
        for i in range(0, ref.shape[1] - block + 1, block)
        for j in range(0, ref.shape[2] - block + 1, block)
        if valid[i : i + block, j : j + block].all()
    ]
    return float(np.mean(vals)) if vals else None


def code_version() -> dict:
    """The commit the bench ran at, the tree ids of the fusion code and of the shipped weights (equal
    trees: same code, whatever the commit), and whether they had uncommitted changes."""
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=HERE.parent, capture_output=True, text=True).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "pansharpen_cli_tree": git("rev-parse", "HEAD:pansharpen_cli"),
        "weights_tree": git("rev-parse", "HEAD:weights"),
        "dirty": bool(git("status", "--porcelain", "--", "pansharpen_cli", "weights")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "quality")
    ap.add_argument("--scenes", default="", help="comma-separated names (default: every scene of --data)")
    ap.add_argument(
        "--max-pan", type=int, default=MAX_PAN, help="cut larger scenes to a central window of this many px"
    )
    ap.add_argument("--variants", default=",".join(VARIANTS), help="zero-shot variants (empty: none)")
    ap.add_argument("--fr-variants", default="zs", help="zero-shot variants also run at full resolution")
    ap.add_argument("--no-fr", action="store_true", help="skip the full-resolution part")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--weights", default="default", help="prior of the zs variants: default (shipped) or a .pt"
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a ZeroShotConfig field (experiments; the defaults are what ships)",
    )
    args = ap.parse_args()
    import torch

    from pansharpen_cli.methods.base import StartWeights
    from pansharpen_cli.methods.zeroshot.config import preset_config
    from pansharpen_cli.methods.zeroshot.method import config_for_weights
    from pansharpen_cli.priors.weights import load_weights, shipped_name

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    base_cfg = preset_config("default", seed=args.seed, **overrides)  # what `fuse` runs by default
    variants = [v for v in args.variants.split(",") if v]
    prior = None
    prior_name = None
    if any(v.startswith("zs") and v != "zs-rand" for v in variants):
        loaded = load_weights(args.weights, arch=base_cfg.arch, default=shipped_name(base_cfg.net_arch))
        manifest = loaded.manifest if loaded is not None else None
        prior = loaded.state_dict if loaded is not None else None
        base_cfg = config_for_weights(base_cfg, StartWeights(args.weights, prior, manifest))
        prior_name = (manifest or {}).get("name", "default")
    results: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    if not args.data.is_dir():
        sys.exit(f"error: no data folder {args.data}: pass --data with the shared data (../shared/data)")
    scenes = discover(args.data)
    chosen = [n for n in args.scenes.split(",") if n] or list(scenes)
    unknown = [n for n in chosen if n not in scenes]
    if unknown:
        sys.exit(f"unknown scene(s) {', '.join(unknown)}: {args.data} has {', '.join(scenes)}")
    t_start = time.perf_counter()
    code = code_version()
    for scene in chosen:
        sc = scenes[scene]
        pan, ms, r, rad, mask = load_scene(sc, with_mask=True)
        _, mask = crop_multiple(pan, mask[None], r, r)  # the same cuts as the MS (one "band")
        pan, ms = crop_multiple(pan, ms, r, r)
        _, mask, _ = central_window(pan, mask, r, args.max_pan)
        pan, ms, window = central_window(pan, ms, r, args.max_pan)
        need = MIN_FIT_MS_SIDE * r * r  # the reduced-resolution MS must be fit-able (MIN_FIT_MS_SIDE * r)
        if variants and min(ms.shape[1:]) < need:
            skipped[scene] = (
                f"MS {ms.shape[2]}x{ms.shape[1]} on the working grid: the reduced-resolution protocol "
                f"needs at least {need}x{need} at ratio {r} for the zero-shot fit"
            )
            print(f"skip {scene}: {skipped[scene]}", file=sys.stderr)
            continue
        res: dict[str, dict] = {
            "ratio": r,
            "bands": int(ms.shape[0]),
            "size": list(pan.shape[1:]),
            "window": window,
            "sensor": rad.sensor,
            "files": [sc.pan, *sc.ms],
            "rr": {},
            "fr": {},
            "seconds": {},
        }
        # Reduced resolution.
        pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
        rr_out: dict[str, np.ndarray] = {}
        for m in METHODS:
            t0 = time.perf_counter()
            rr_out[m] = fuse_image(m, pan_rr, ms_rr, r, rad.ms_gains, rad.pan_gain)
            res["seconds"][f"rr:{m}"] = time.perf_counter() - t0
        for v in variants:
            cfg, pr = zeroshot_variant(v, base_cfg, prior)
            rr_out[v], secs = run_zeroshot(pan_rr, ms_rr, r, rad, cfg, pr, device, back=True, valid=mask[0])
            res["seconds"][f"rr:{v}"] = secs
            print(f"{scene} rr {v}: {secs:.1f} s", file=sys.stderr)
        for m, f in rr_out.items():
            res["rr"][m] = reference_indexes(ms, f, r)
            res["rr"][m]["D_rho"] = d_rho(pan_rr, f, r)
            if not mask.all():  # nodata: what `fuse` writes as nodata is not judged
                res["rr"][m]["Q2n_valid"] = q2n_valid(ms, f, mask[0])
                res["rr"][m] |= pixel_indexes_valid(ms, f, mask[0], r)
        # what the full-resolution D_rho index says of the truth itself (the reference MS against
        # the reduced PAN): a fusion with a much lower D_rho injects more PAN than the scene has
        res["rr_reference_D_rho"] = d_rho(pan_rr, ms, r)
        # Full resolution.
        fr_valid = upscale_mask(mask[0], r)  # the PAN grid's mask, as `fuse` gives the fit
        fr_out: dict[str, np.ndarray] = {}
        if not args.no_fr:
            for m in METHODS:
                fr_out[m] = fuse_image(m, pan, ms, r, rad.ms_gains, rad.pan_gain)
            for v in [v for v in args.fr_variants.split(",") if v in variants]:
                cfg, pr = zeroshot_variant(v, base_cfg, prior)
                fr_out[v], secs = run_zeroshot(pan, ms, r, rad, cfg, pr, device, valid=fr_valid)
                res["seconds"][f"fr:{v}"] = secs
                print(f"{scene} fr {v}: {secs:.1f} s", file=sys.stderr)
            ms_up = upsample(ms, r)
            for m, f in fr_out.items():
                res["fr"][m] = full_resolution_indexes(pan, ms, f, r, rad.ms_gains, ms_up=ms_up)
        # Picture: the RR fusions (where a reference exists) with the reference, plus the charts.
        rgb = sc.rgb
        bands = rgb if rgb and max(rgb) < ms.shape[0] else rgb_bands(ms.shape[0])
        panels = {"upsampled MS (RR)": upsample(ms_rr, r)}
        panels.update({m: f for m, f in rr_out.items()})
        panels["reference"] = ms
        chart = {
            m: {k: v for k, v in res["rr"][m].items() if k in ("Q2n", "SAM", "ERGAS", "SCC")} for m in rr_out
        }
        if res["fr"]:
            for m in chart:
                if m in res["fr"]:
                    chart[m].update({k: res["fr"][m][k] for k in ("D_lambda_K", "D_rho", "HQNR")})
                else:
                    chart[m].update({k: float("nan") for k in ("D_lambda_K", "D_rho", "HQNR")})
        panels_figure(
            args.out / f"{scene}.png",
            panels,
            pan_rr,
            "upsampled MS (RR)",
            bands,
            title=f"{scene}: reduced-resolution protocol (ratio {r})",
            indexes=chart,
        )
        results[scene] = res
        (args.out / "quality.json").write_text(json.dumps({"prior": prior_name, "scenes": results}, indent=1))
    doc = {
        "code": code,  # taken at the start: the tree the run imported
        "command": " ".join(sys.argv),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "max_pan": args.max_pan,
        "threads": torch.get_num_threads(),  # the zero-shot fit's float sums (and early stop) depend on it
        "prior": prior_name,
        "settings": {
            k: getattr(base_cfg, k) for k in ("iterations", "warmup", "p_full", "crop", "batch", "arch")
        },
        "scenes": results,
        "skipped": skipped,
    }
    print(json.dumps(doc, indent=1))
    print(tables(results, skipped))
    (args.out / "quality.json").write_text(json.dumps(doc, indent=1))
    (args.out / "quality.md").write_text(tables(results, skipped))


if __name__ == "__main__":
    main()
