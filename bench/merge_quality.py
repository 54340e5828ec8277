"""Merge the JSON outputs of `bench/quality.py` runs made side by side on parts of the scenes.

    python bench/merge_quality.py bench/out/f1/quality.json bench/out/f2/quality.json \
        [--out bench/out/quality_merged] [--manifest weights/prior.json --command "..."]

Prints (and writes to ``--out``) the merged markdown tables, in the scene order of `quality.py`.
With ``--manifest``, writes the reduced-resolution Q2n/ERGAS of every scene and variant into the
manifest's ``benchmark`` field (the sha256 covers the .pt file only, so the manifest stays valid).
All inputs must come from the same commit and prior: the script checks that they name one prior
(a run of prior-free variants only, such as ``--variants zs-rand``, names none and joins any). Runs
over the same scene join their columns (the first run's value is kept where both have one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from quality_tables import tables  # noqa: E402

SAME = ("code", "threads", "max_pan", "settings")  # run settings the parts must share

VARIANT_TEXT = {
    "zs": "prior, default settings",
    "zs-fast": "prior, --preset fast (a quarter of the steps, patience 1, fewer steps under 512^2 pixels)",
    "zs-best": "prior, --preset best (twice the steps, no early stopping)",
    "zs-q": "prior, a quarter of the warm-up and stage II steps",
    "zs-0": "prior, no adaptation (--iterations 0)",
    "zs-rand": "random init (--weights none), default settings",
    "zs-glp": "the untrained network (--weights none --iterations 0): MTF-GLP with the scene's detail gains",
}


def merge(paths: list[Path]) -> tuple[dict, str | None]:
    scenes: dict = {}
    priors = set()
    for p in paths:
        doc = json.loads(p.read_text(encoding="utf-8"))
        if doc.get("prior") is not None:  # a run of prior-free variants only (zs-rand) names none
            priors.add(doc["prior"])
        for name, res in doc["scenes"].items():
            if name not in scenes:
                scenes[name] = res
                continue
            # the same scene from another run (other variants): join the columns
            for part in ("rr", "fr", "seconds"):
                for k, v in res.get(part, {}).items():
                    scenes[name].setdefault(part, {}).setdefault(k, v)
    if len(priors) > 1:
        raise SystemExit(f"expected runs with one prior, got {sorted(map(str, priors))}")
    ordered = {k: scenes[k] for k in sorted(scenes)}  # the scene order of quality.py (folder, crop)
    return ordered, priors.pop() if priors else None


def run_facts(paths: list[Path]) -> dict:
    """The runs' shared settings (checked equal), skipped scenes and summed wall time."""
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    facts: dict = {k: docs[0].get(k) for k in SAME}
    for d in docs[1:]:
        differ = [k for k in SAME if d.get(k) != facts[k]]
        if differ:
            raise SystemExit(f"expected runs with the same {', '.join(differ)}: got different ones")
    facts["skipped"] = {k: v for d in docs for k, v in d.get("skipped", {}).items()}
    facts["wall_seconds"] = round(sum(d.get("wall_seconds", 0.0) for d in docs), 1)
    facts["commands"] = [d.get("command") for d in docs]
    return facts


def benchmark_entry(scenes: dict, command: str) -> dict:
    methods = sorted({m for r in scenes.values() for m in r["rr"]})
    per_scene = {
        s: {m: {"Q2n": round(v["Q2n"], 4), "ERGAS": round(v["ERGAS"], 3)} for m, v in r["rr"].items()}
        for s, r in scenes.items()
    }
    mean = {
        m: {
            "Q2n": round(float(np.mean([r["rr"][m]["Q2n"] for r in scenes.values() if m in r["rr"]])), 4),
            "ERGAS": round(float(np.mean([r["rr"][m]["ERGAS"] for r in scenes.values() if m in r["rr"]])), 3),
        }
        for m in methods
    }
    return {
        "protocol": "reduced resolution (Wald), every scene of ../shared/data (landsat7 as 3 crops)",
        "command": command,
        "variants": {k: v for k, v in VARIANT_TEXT.items() if k in methods},
        "mean": mean,
        "per_scene": per_scene,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", type=Path, help="quality.json files")
    ap.add_argument("--out", type=Path, default=None, help="folder for quality.json and quality.md")
    ap.add_argument("--manifest", type=Path, default=None, help="prior manifest to update")
    ap.add_argument(
        "--command", default="python bench/quality.py --threads 1 (scenes in two halves, side by side)"
    )
    args = ap.parse_args()
    scenes, prior = merge(args.inputs)
    md = tables(scenes, run_facts(args.inputs)["skipped"])
    print(md)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        doc = {**run_facts(args.inputs), "prior": prior, "scenes": scenes}
        (args.out / "quality.json").write_text(json.dumps(doc, indent=1))
        (args.out / "quality.md").write_text(md)
    if args.manifest is not None:
        man = json.loads(args.manifest.read_text(encoding="utf-8"))
        man["benchmark"] = benchmark_entry(scenes, args.command)
        args.manifest.write_text(json.dumps(man, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
