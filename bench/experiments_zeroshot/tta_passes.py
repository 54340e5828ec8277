"""Experiment (issue 23): test-time augmentation and seed ensembles over the default's fits.

Per scene of the development bench (reduced resolution, as bench/quality.py): one fit of the
default (bandwise-resnet from weights/prior-resnet.pt, seed 0), its fusion plain and averaged over
the first 2, 4 and 8 symmetries of the square (the order of pansharpen_cli/methods/zeroshot/tta.py:
identity, left-right, up-down, both, then the transposes); a second fit (seed 1) and the mean of
the two fusions (plain and with 8 passes). Prints one JSON line per scene, then writes them all.

    python bench/experiments_zeroshot/tta_passes.py [SCENE,SCENE,...] [OUT.json]

Made bench/results/ladder/runs/tta_passes.json (2 torch threads, the 2-core machine; the runs that
produced it were in two parts, the scenes after qb-toulouse named on the command line). Those runs
averaged the passes with an inline copy of the same transforms, in the same order, before
pansharpen_cli/methods/zeroshot/tta.py existed; the script now uses that module's hook (the
``tta`` setting of the fitted model): the same figures up to float noise.
"""
import json, sys, time
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np, torch
from bench.quality import fit_zeroshot, move_back
from bench.scenes import MAX_PAN, central_window, crop_multiple, discover, load_scene
from pansharpen_cli.physics.degradation import wald_pair
from pansharpen_cli.metrics.reference import reference_indexes
from pansharpen_cli.methods.zeroshot.config import ZeroShotConfig
from pansharpen_cli.methods.base import StartWeights
from pansharpen_cli.methods.zeroshot.method import config_for_weights
from pansharpen_cli.priors.weights import load_weights

torch.set_num_threads(2)
dev = torch.device("cpu")

def with_passes(model, k):
    """The fitted model, its inference averaged over ``k`` symmetries (the shipped ``tta`` hook)."""
    model.config = replace(model.config, tta=k)  # a copy: the config the fits share stays as it is
    return model

def predict(model, pan, ms):
    f = model.predict_coarse(pan, ms)
    if model.align == "pan" and model.shift != (0.0, 0.0):
        f = move_back(f, model.shift)
    return f

w = load_weights("default", arch="bandwise-resnet", default="prior-resnet.pt")
base = config_for_weights(ZeroShotConfig(arch="bandwise-resnet"), StartWeights("default", w.state_dict, w.manifest))
scenes = discover(Path(__file__).resolve().parents[3] / "shared" / "data")
chosen = sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] else list(scenes)
chosen = [n for n in chosen if n != "spot67-otbtf"]  # too small for the protocol (bench/quality.py skips it)
out = {}
for name in chosen:
    sc = scenes[name]
    pan, ms, r, rad, mask = load_scene(sc, with_mask=True)
    pan, ms = crop_multiple(pan, ms, r, r)
    pan, ms, _ = central_window(pan, ms, r, MAX_PAN)
    pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
    res = {}
    fused = {}
    t0 = time.perf_counter()
    m0 = fit_zeroshot(pan_rr, ms_rr, r, rad, base, w.state_dict, dev)
    res["t_fit"] = time.perf_counter() - t0
    fused["plain"] = predict(m0, pan_rr, ms_rr)
    for k in (2, 4, 8):
        fused[f"tta{k}"] = predict(with_passes(m0, k), pan_rr, ms_rr)
    m1 = fit_zeroshot(pan_rr, ms_rr, r, rad, replace(base, seed=1), w.state_dict, dev)
    f1 = predict(m1, pan_rr, ms_rr)
    fused["seed1"] = f1
    fused["ens2"] = (fused["plain"] + f1) / 2
    fused["ens2tta8"] = (fused["tta8"] + predict(with_passes(m1, 8), pan_rr, ms_rr)) / 2
    for k, f in fused.items():
        res[k] = reference_indexes(ms, f, r)["Q2n"]
    out[name] = res
    print(name, json.dumps({k: round(v, 4) for k, v in res.items()}), flush=True)
json.dump(out, open(sys.argv[2] if len(sys.argv) > 2 else "tta_passes.json", "w"), indent=1)
