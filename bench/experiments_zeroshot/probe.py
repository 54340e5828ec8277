"""Throwaway probe: the reduced-resolution Q2n of the default fit with overrides, per scene, with the
fit's hold-out history (best step, steps run), against the guard's recorded table.

    PYTHONPATH=. python bench/experiments_zeroshot/probe.py OUT.json [FIELD=JSON ...] [scenes=a,b]

(2 torch threads; the scenes of ../shared/data cut as bench/quality.py cuts them.)
"""
import json, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import numpy as np, torch
from bench.scenes import central_window, crop_multiple, discover, load_scene, MAX_PAN
from bench.quality import fit_zeroshot, move_back, q2n_valid
from pansharpen_cli.metrics import reference_indexes
from pansharpen_cli.physics.degradation import wald_pair
from pansharpen_cli.methods.zeroshot.config import preset_config
from pansharpen_cli.methods.base import StartWeights
from pansharpen_cli.methods.zeroshot.method import config_for_weights
from pansharpen_cli.priors.weights import load_weights, shipped_name

torch.set_num_threads(2)
args = sys.argv[1:]
out = args[0]
sets = [a for a in args[1:] if "=" in a and not a.startswith("scenes=")]
sc_arg = [a for a in args[1:] if a.startswith("scenes=")]
weights = "default"
ov = {}
for s in sets:
    k, v = s.split("=", 1)
    if k == "weights":
        weights = v
    else:
        ov[k] = json.loads(v)
cfg = preset_config("default", **ov)
w = load_weights(weights, arch=cfg.arch, default=shipped_name(cfg.net_arch))
state = w.state_dict if w is not None else None  # weights=none: a random start
cfg = config_for_weights(cfg, StartWeights(weights, state, w.manifest if w is not None else None))
scenes = discover(ROOT.parent / "shared" / "data")
chosen = sc_arg[0].split("=",1)[1].split(",") if sc_arg else list(scenes)
res = {}
base = json.load(open(ROOT / "bench" / "results" / "quality_baseline.json"))
for name in chosen:
    sc = scenes[name]
    pan, ms, r, rad, mask = load_scene(sc, with_mask=True)
    _, mask = crop_multiple(pan, mask[None], r, r)
    pan, ms = crop_multiple(pan, ms, r, r)
    _, mask, _ = central_window(pan, mask, r, MAX_PAN)
    pan, ms, window = central_window(pan, ms, r, MAX_PAN)
    if min(ms.shape[1:]) < 2 * r * r:
        continue
    pan_rr, ms_rr = wald_pair(pan, ms, r, rad.ms_gains, rad.pan_gain)
    t0 = time.perf_counter()
    model = fit_zeroshot(pan_rr, ms_rr, r, rad, cfg, state, torch.device("cpu"), mask[0])
    fused = model.predict_coarse(pan_rr, ms_rr)
    secs = time.perf_counter() - t0
    if model.align == "pan" and model.shift != (0.0, 0.0):
        fused = move_back(fused, model.shift)
    q = reference_indexes(ms, fused, r)["Q2n"]
    if not mask.all():  # judged as the guard judges: on the whole valid blocks where there are some
        qv = q2n_valid(ms, fused, mask[0])
        q = q if qv is None else qv
    hpm = base["scenes"][name]["best_classical_Q2n"]
    rep = model.report()
    res[name] = dict(Q2n=q, table=base["scenes"][name]["Q2n"], hpm=hpm, share=1-(1-q)/(1-hpm), secs=secs, best=rep["holdout"]["best_step"],
                     hist=rep["holdout"]["history"], steps=rep["steps"])
    print(f"{name:26s} {q:.4f} share {res[name]['share']*100:5.1f}% vs table {q-res[name]['table']:+.4f} best {rep['holdout']['best_step']:4d} run {rep['steps']['train_run']:3d} {secs:5.1f}s", flush=True)
    json.dump(res, open(out, "w"), indent=1)
qs = [v["Q2n"] for v in res.values()]
sh = [v["share"] for v in res.values()]
print(f"mean {np.mean(qs):.4f} share {np.mean(sh)*100:.1f}%")
