"""Throwaway probe: the default fit and MTF-GLP-HPM when the tool is given other MTF gains than the
scene's preset, on the reduced-resolution pair made with the preset's gains (what a user who does not
pass ``--sensor``, on a file without metadata, gets).

    PYTHONPATH=. python bench/experiments_zeroshot/gains.py OUT.json SPEC [scenes=a,b]

SPEC: ``generic`` (the tool's generic gains, 0.3 MS, 0.15 PAN), ``est`` (one MS gain estimated from
the pair by :func:`estimate_gain`, PAN 0.15) or a number (that MS gain, PAN 0.15). 2 torch threads;
the scenes of ../shared/data cut as bench/quality.py cuts them; judged as the guard judges.
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import uniform_filter  # noqa: E402

from bench.quality import fit_zeroshot, move_back, q2n_valid  # noqa: E402
from bench.scenes import MAX_PAN, central_window, crop_multiple, discover, load_scene  # noqa: E402
from pansharpen_cli.base.sensors import resolve_gains  # noqa: E402
from pansharpen_cli.methods.base import StartWeights  # noqa: E402
from pansharpen_cli.methods.classical import fuse_image  # noqa: E402
from pansharpen_cli.methods.zeroshot.config import preset_config  # noqa: E402
from pansharpen_cli.methods.zeroshot.method import config_for_weights  # noqa: E402
from pansharpen_cli.metrics import reference_indexes  # noqa: E402
from pansharpen_cli.physics.degradation import mtf_degrade, wald_pair  # noqa: E402
from pansharpen_cli.priors.weights import load_weights, shipped_name  # noqa: E402

GRID = np.round(np.arange(0.10, 0.81, 0.05), 3)


def _hp(x, k=3):
    return x - uniform_filter(x, size=(1, k, k), mode="reflect")


def estimate_gain(pan, ms, r, mask=None):
    """The MS Nyquist gain whose MTF, applied to the PAN and decimated, best explains the MS's high
    pass (R^2 of a least-squares fit on all bands; parabolic peak on a 0.05 grid)."""
    m = np.ones(ms.shape[1:], bool) if mask is None else mask.copy()
    m[:2, :] = m[-2:, :] = False
    m[:, :2] = m[:, -2:] = False
    x = np.concatenate([_hp(ms.astype(np.float64))[:, m].T, np.ones((m.sum(), 1))], 1)
    r2 = []
    for g in GRID:
        y = _hp(mtf_degrade(pan.astype(np.float64), [g], r))[0][m]
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        r2.append(1 - (y - x @ w).var() / y.var())
    i = int(np.argmax(r2))
    if 0 < i < len(GRID) - 1:
        a, b, c = r2[i - 1], r2[i], r2[i + 1]
        den = a - 2 * b + c
        return float(GRID[i] + (0.5 * (a - c) / den if den else 0.0) * (GRID[1] - GRID[0]))
    return float(GRID[i])


def judged(ms, fused, mask, r):
    q = reference_indexes(ms, fused, r)["Q2n"]
    if not mask.all():
        qv = q2n_valid(ms, fused, mask[0])
        q = q if qv is None else qv
    return q


def main():
    torch.set_num_threads(2)
    out, spec = sys.argv[1], sys.argv[2]
    sc_arg = [a for a in sys.argv[3:] if a.startswith("scenes=")]
    cfg = preset_config("default")
    w = load_weights("default", arch=cfg.arch, default=shipped_name(cfg.net_arch))
    cfg = config_for_weights(cfg, StartWeights("default", w.state_dict, w.manifest))
    scenes = discover(ROOT.parent / "shared" / "data")
    chosen = sc_arg[0].split("=", 1)[1].split(",") if sc_arg else list(scenes)
    base = json.load(open(ROOT / "bench" / "results" / "quality_baseline.json"))["scenes"]
    res = {}
    for name in [n for n in chosen if n in base]:
        pan, ms, r, rad, mask = load_scene(scenes[name], with_mask=True)
        _, mask = crop_multiple(pan, mask[None], r, r)
        pan, ms = crop_multiple(pan, ms, r, r)
        _, mask, _ = central_window(pan, mask, r, MAX_PAN)
        pan, ms, _ = central_window(pan, ms, r, MAX_PAN)
        pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)  # the preset's gains
        if spec == "generic":
            tool = resolve_gains("generic", None, ms.shape[0])
        else:
            mrr = mask[0].reshape(mask.shape[1] // r, r, mask.shape[2] // r, r).all(axis=(1, 3))
            g = estimate_gain(pan_rr, ms_rr, r, mrr) if spec == "est" else float(spec)
            tool = replace(rad, ms_gains=tuple([g] * ms.shape[0]), pan_gain=0.15)
        t0 = time.perf_counter()
        model = fit_zeroshot(pan_rr, ms_rr, r, tool, cfg, w.state_dict, torch.device("cpu"), mask[0])
        fused = model.predict_coarse(pan_rr, ms_rr)
        secs = time.perf_counter() - t0
        if model.align == "pan" and model.shift != (0.0, 0.0):
            fused = move_back(fused, model.shift)
        q = judged(ms, fused, mask, r)
        hpm = judged(ms, fuse_image("mtf-glp-hpm", pan_rr, ms_rr, r, tool.ms_gains, tool.pan_gain), mask, r)
        b = base[name]
        res[name] = dict(Q2n=q, hpm=hpm, table=b["Q2n"], best_classical=b["best_classical_Q2n"],
                         share=1 - (1 - q) / (1 - b["best_classical_Q2n"]), preset_gains=list(rad.ms_gains),
                         preset_pan_gain=rad.pan_gain, tool_gains=list(tool.ms_gains), secs=secs)
        print(f"{name:26s} zs {q:.4f} ({q - b['Q2n']:+.4f} vs table) hpm {hpm:.4f} {secs:.0f} s", flush=True)
        json.dump(res, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
