"""Produce a shipped prior (``weights/prior-resnet.pt``, ``weights/prior.pt``; + ``.json``), reproducibly.

Trains a network (``--arch``; default ``networks.DEFAULT_ARCH``, bandwise-resnet) on simulated triplets
(:mod:`pansharpen_cli.priors`) made from the scikit-image sample images and the MS bands of the real
scenes in ``../shared/data`` (real spectra, read through :mod:`pansharpen_cli.io.sources`), on the CPU
(``--device cpu``, the default) with one thread, for a fixed number of steps (the result depends
only on the settings and the seed, not on the machine's speed).

Usage (from the repository root)::

    python bench/pretrain.py --arch bandwise-lite   # weights/prior.pt, about 20-25 min on one core
    python bench/pretrain.py --steps 50 --out /tmp/p   # a quick trial (the default network)

The shipped ``prior-resnet.pt`` was made with other options: its manifest's ``provenance`` gives
them. Re-run it whenever a network's architecture changes. A checkpoint is written every 100 steps
(``--checkpoint``); ``--resume`` continues an interrupted run to the same result.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pansharpen_cli import networks, priors  # noqa: E402
from pansharpen_cli.base.device import resolve_device  # noqa: E402
from pansharpen_cli.io.sources import SKIMAGE_SAMPLES, resolve_sources  # noqa: E402
from pansharpen_cli.pipeline.train import LossLog, only, tee  # noqa: E402
from pansharpen_cli.priors.weights import shipped_name  # noqa: E402

from bench.corpus import CorpusError, corpus_sources, manifest_images  # noqa: E402

#: MS files of the real scenes used as spectra (paths relative to the data folder).
SCENE_MS = (
    "eo1-ali/ms.tif",
    "landsat7-fusebox/ms1.tif",
    "landsat7-fusebox/ms2.tif",
    "landsat7-fusebox/ms3.tif",
    "landsat8-oli/ms.tif",
    "osman-4band/ms.tif",
    "qb-toulouse/ms.tif",
    "wv3-cristianics/ms.tif",
)

SKIMAGE_LICENCE = "public domain or CC0 (scikit-image sample; see its docstring in skimage.data)"


def _scene_licence(path: Path) -> str | None:
    meta = path.parent / "scene.json"
    if meta.is_file():
        d = json.loads(meta.read_text(encoding="utf-8"))
        return d.get("licence")
    return None


#: Shared scenes left out of the shipped prior: no licence (eo1-ali), GPL-3.0 (wv3-cristianics),
#: (c) DigitalGlobe imagery (qb-toulouse). The rest is public domain (Landsat) or MIT.
NOT_REDISTRIBUTABLE = ("eo1-ali", "wv3-cristianics", "qb-toulouse")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out",
        default=None,
        help="output stem (.pt/.json; default: the network's shipped file, weights/prior-resnet for "
        "bandwise-resnet, weights/prior for bandwise-lite, weights/crossdiff)",
    )
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="folder of the real scenes")
    ap.add_argument(
        "--exclude",
        nargs="*",
        default=list(NOT_REDISTRIBUTABLE),
        help="scene folders to leave out (default: those whose licence does not allow shipping derived "
        "weights under MIT: " + ", ".join(NOT_REDISTRIBUTABLE) + ")",
    )
    ap.add_argument("--no-scenes", action="store_true", help="scikit-image samples only")
    ap.add_argument(
        "--corpus",
        default=None,
        metavar="DIR",
        help="also train on the tiles of a corpus built by bench/corpus.py (DIR/corpus.json); the "
        "manifest records one row per corpus source with its licence and tile count",
    )
    ap.add_argument("--arch", default=None, help="network (default: the method's)")
    ap.add_argument(
        "--net-config",
        default=None,
        metavar="JSON",
        help="the network's constructor settings, e.g. '{\"features\": 32}' (default: its defaults)",
    )
    ap.add_argument(
        "--method",
        choices=("zeroshot", "crossdiff"),
        default="zeroshot",
        help="zeroshot: the shipped prior (weights/prior); crossdiff: the pretext UNets and the fusion head "
        "(weights/crossdiff; --pretext-steps of stage 1, then --steps of the head)",
    )
    ap.add_argument("--pretext-steps", type=int, default=1500, help="crossdiff stage 1 steps")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (the shipped prior: cpu)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint (default: bench/out/pretrain/NAME.ckpt)")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    ap.add_argument("--log", default=None, help="loss log TSV (default: bench/out/pretrain/NAME.log.tsv)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a generator setting (priors.SimSettings field; experiments, the defaults ship)",
    )
    args = ap.parse_args(argv)
    crossdiff = args.method == "crossdiff"
    args.arch = args.arch or ("crossdiff" if crossdiff else networks.DEFAULT_ARCH)
    shipped = "crossdiff.pt" if crossdiff else shipped_name(args.arch)
    args.out = args.out or str(ROOT / "weights" / Path(shipped).stem)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pt = out.with_suffix(".pt")
    work = ROOT / "bench" / "out" / "pretrain"  # git-ignored
    work.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoint) if args.checkpoint else work / f"{out.name}.ckpt"
    log_path = Path(args.log) if args.log else work / f"{out.name}.log.tsv"

    sources: list[str] = [f"skimage:{n}" for n in SKIMAGE_SAMPLES]
    licences = {s: SKIMAGE_LICENCE for s in sources}
    names: dict[str, str] = {}  # recorded names: scene files relative to the data folder
    if not args.no_scenes:
        data = Path(args.data)
        for rel in SCENE_MS:
            if rel.split("/")[0] in args.exclude:
                continue
            p = data / rel
            if not p.is_file():
                ap.error(f"expected the scene file {p} (use --data or --no-scenes)")
            sources.append(str(p))
            licences[str(p)] = _scene_licence(p)
            names[str(p)] = f"shared/data/{rel}"

    corpus_rows: dict[str, dict] = {}  # tile path -> its corpus source's manifest row
    if args.corpus:
        try:
            corpus_rows = corpus_sources(Path(args.corpus))
        except CorpusError as exc:
            ap.error(str(exc))
        sources.extend(corpus_rows)

    t0 = time.perf_counter()

    def progress(task: str, step: int, total: int, info: dict) -> None:
        if "loss" in info and (step % 25 == 0 or step == total):  # step 0 (the stage starts) has no loss
            el = time.perf_counter() - t0
            print(f"{task} {step}/{total}  loss {info['loss']:.4f}  {el:.0f} s", file=sys.stderr, flush=True)

    config = priors.PretrainConfig(
        arch=args.arch,
        steps=args.steps,
        batch=args.batch,
        crop=args.crop,
        lr=args.lr,
        seed=args.seed,
        settings=overrides or None,
        config=json.loads(args.net_config) if args.net_config else None,
    )
    with LossLog(log_path, resume=args.resume) as loss_log:
        common = {"device": device, "checkpoint": ckpt, "resume": ckpt if args.resume else None}
        if crossdiff:
            from pansharpen_cli.priors.crossdiff import pretrain_crossdiff

            both = tee(only("pretrain", loss_log), progress)  # the log: the head's steps
            res = pretrain_crossdiff(resolve_sources(sources), config, args.pretext_steps, progress=both, **common)
        else:
            res = priors.pretrain(resolve_sources(sources), config, progress=tee(loss_log, progress), **common)
    man = res["manifest"]
    losses = np.array(res["losses"], dtype=np.float64).reshape(-1, 3)
    curve = []
    for k in range(0, len(losses), 50):
        chunk = losses[k : k + 50]
        curve.append(
            [int(chunk[-1, 0]), round(float(chunk[:, 1].mean()), 4), round(float(chunk[:, 2].mean()), 4)]
        )
    man["training"]["loss_curve"] = {
        "columns": ["step", "mean_loss_last_50", "mean_identity_loss_last_50"],
        "rows": curve,
    }
    man["training"]["images"] = manifest_images(res["manifest"]["training"]["images"], names, licences, corpus_rows)
    man["training"]["command"] = " ".join(
        [
            "python",
            "bench/pretrain.py",
            *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        ]
    )
    man["training"]["normalisation"] = (
        "per sample: PAN by its mean/std, MS/upsampled MS/reference by the MS per-band mean/std"
    )
    man["description"] = (
        "CrossDiff: pretext UNets pretrained by cross-predictive diffusion (PAN from MS, MS from PAN) and a "
        "fusion head trained on their frozen features, on simulated PAN/MS/reference triplets (see "
        "docs/crossdiff.md)."
        if crossdiff
        else "Band-agnostic spatial-spectral prior for zero-shot pansharpening, pretrained on simulated "
        "PAN/MS/reference triplets (see pansharpen_cli/priors/ and docs/priors.md)."
    )
    man["licence"] = (
        "MIT (as pansharpen). Training images and their licences are listed in training.images; the "
        "weights contain no image data."
    )
    man["benchmark"] = None
    written = priors.save_weights(pt, res["net"], man)
    print(
        f"wrote {pt} ({written['bytes']} bytes, sha256 {written['sha256'][:12]}) and {priors.default_manifest_path(pt)}"
        f" in {res['seconds']:.0f} s; last-50 loss {man['training']['final_loss_mean_last_50']:.4f}"
        f" vs identity {man['training']['identity_loss_mean_last_50']:.4f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
