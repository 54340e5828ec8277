"""Quick reduced-resolution evaluation of zeroshot vs MTF-GLP-HPM / GSA on the real scenes.

Usage: python rr_eval.py [scene ...] [--set key=value ...] [--threads N]
Metrics (quick, not the project's metrics.py): mean per-band Q over 32x32 blocks, ERGAS, SAM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import rasterio
import torch

from pansharpen_cli.methods import classical as baselines
from pansharpen_cli.methods import zeroshot
from pansharpen_cli.physics.degradation import upsample, wald_pair

D = "/work/shared/data"
L8 = (0.55, 0.55, 0.55, 0.53)
SCENES = {
    "landsat7": ("landsat7-fusebox/pan1.tif", "landsat7-fusebox/ms1.tif", 2, None, 0.40),
    "landsat8": ("landsat8-oli/pan.tif", "landsat8-oli/ms.tif", 2, L8, 0.40),
    "osman": ("osman-4band/pan.tif", "osman-4band/ms.tif", 4, None, 0.15),
    "qb": ("qb-toulouse/pan.tif", "qb-toulouse/ms.tif", 4, (0.34, 0.32, 0.30, 0.22), 0.15),
    "wv3": (
        "wv3-cristianics/pan.tif",
        "wv3-cristianics/ms.tif",
        4,
        (0.325, 0.355, 0.360, 0.350, 0.365, 0.360, 0.335, 0.315),
        0.14,
    ),
    "eo1": ("eo1-ali/pan.tif", "eo1-ali/ms.tif", 3, None, 0.15),
}


def load(name):
    pf, mf, r, g, pg = SCENES[name]
    with rasterio.open(f"{D}/{pf}") as f:
        pan = f.read().astype(np.float32)
    with rasterio.open(f"{D}/{mf}") as f:
        ms = f.read().astype(np.float32)
    b = ms.shape[0]
    if g is None:
        g = (0.55,) * b if r == 2 else (0.3,) * b
    hm = (min(ms.shape[1], pan.shape[1] // r) // r) * r
    wm = (min(ms.shape[2], pan.shape[2] // r) // r) * r
    ms = ms[:, :hm, :wm]
    pan = pan[:, : hm * r, : wm * r]
    return pan, ms, r, list(g), pg


def q_index(a, b, block=32):
    """Mean per-band UIQI over distinct blocks (skips blocks with any zero reference variance)."""
    qs = []
    B, H, W = a.shape
    for k in range(B):
        vals = []
        for i in range(0, H - block + 1, block):
            for j in range(0, W - block + 1, block):
                x = a[k, i : i + block, j : j + block].astype(np.float64).ravel()
                y = b[k, i : i + block, j : j + block].astype(np.float64).ravel()
                mx, my = x.mean(), y.mean()
                vx, vy = x.var(ddof=1), y.var(ddof=1)
                cxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
                den = (vx + vy) * (mx * mx + my * my)
                if den > 0:
                    vals.append(4 * cxy * mx * my / den)
        qs.append(np.mean(vals))
    return float(np.mean(qs))


def ergas(fused, ref, r):
    rmse = np.sqrt(((fused.astype(np.float64) - ref) ** 2).mean(axis=(1, 2)))
    mu = ref.astype(np.float64).mean(axis=(1, 2))
    return float(100 / r * np.sqrt(np.mean((rmse / mu) ** 2)))


def sam(fused, ref):
    f = fused.astype(np.float64).reshape(fused.shape[0], -1)
    g = ref.astype(np.float64).reshape(ref.shape[0], -1)
    num = (f * g).sum(0)
    den = np.linalg.norm(f, axis=0) * np.linalg.norm(g, axis=0)
    ok = den > 0
    return float(np.degrees(np.arccos(np.clip(num[ok] / den[ok], -1, 1))).mean())


def metrics(fused, ref, r):
    try:
        from pansharpen_cli.metrics import q2n

        q2 = round(float(q2n(ref, fused)), 4)
    except Exception as e:  # metrics.py is another engineer's work in progress
        q2 = str(e)[:40]
    return {
        "Q2n": q2,
        "Q": round(q_index(fused, ref), 4),
        "ERGAS": round(ergas(fused, ref, r), 3),
        "SAM": round(sam(fused, ref), 3),
    }


def run(name, cfg, verbose=False):
    pan, ms, r, g, pg = load(name)
    valid_ms = (ms != 0).all(0) if name == "wv3" else np.ones(ms.shape[1:], bool)
    if name == "wv3":
        for k in range(ms.shape[0]):
            ms[k][~valid_ms] = ms[k][valid_ms].mean()
        pv = pan[0] != 0
        pan[0][~pv] = pan[0][pv].mean()
    pan_rr, ms_rr = wald_pair(pan, ms, r, g, pg)
    valid_rr = np.kron(valid_ms[::r, ::r] & valid_ms[r - 1 :: r, r - 1 :: r], np.ones((r, r), bool))
    out = {}
    for m in ("mtf-glp-hpm", "gsa"):
        f = baselines.fuse_image(m, pan_rr, ms_rr, r, g, pg)
        out[m] = metrics(f, ms, r)
    out["exp"] = metrics(upsample(ms_rr, r), ms, r)
    t = time.time()
    model = zeroshot.fit(pan_rr, ms_rr, r, g, pg, valid=valid_rr, config=cfg, device=torch.device("cpu"))
    t_fit = time.time() - t
    f = model.predict_image(pan_rr, upsample(ms_rr, r))
    out["zeroshot"] = metrics(f, ms, r)
    rep = model.report()
    out["zs_info"] = {
        "fit_s": round(t_fit, 1),
        "resp": rep["spectral_response"]["kind"],
        "best_step": rep["holdout"]["best_step"],
        "hist": [(s, round(v, 4) if v else v) for s, v in rep["holdout"]["history"]],
    }
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("scenes", nargs="*")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    kw = {}
    for s in a.set:
        k, v = s.split("=", 1)
        kw[k] = json.loads(v)
    cfg = zeroshot.ZeroShotConfig(**kw)
    for name in a.scenes or list(SCENES):
        res = run(name, cfg)
        print(name, json.dumps(res), flush=True)
        sys.stdout.flush()
