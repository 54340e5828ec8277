"""Quality against time for the zero-shot networks and budgets: one table from bench/quality.py runs.

    python bench/ladder.py [--out bench/results/ladder] LABEL=RUN.json:VARIANT ...

Each point is one variant of one ``bench/quality.py`` run (reduced resolution, every scene): for
example ``"lite default=q_lite/quality.json:zs"`` or ``"resnet best=q_best/quality.json:zs-best"``.
Per point: the mean Q2n, the mean and the lowest share of the best classical method's error removed
(``bench/guard.py``'s ``share_removed``), the median and total fit-and-fuse seconds per scene (the
bench's ``rr:VARIANT`` timings; compare points timed on the same quiet machine only), the worst
difference to the guard's recorded table and the scenes within its tolerance. Then the Q2n and share
of every point per scene. The Q2n is the one the guard judges (``judged_q2n``: on a scene with nodata,
its whole valid blocks, against the best classical method there). Writes ``ladder.md`` and
``ladder.json`` under --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.guard import BASELINE, TOLERANCE, best_classical, judged_q2n, share_removed  # noqa: E402


def point(run: dict, variant: str, table: dict) -> dict:
    """One variant of one run: per scene Q2n, share and seconds, and their summary."""
    scenes = {}
    for name, res in run["scenes"].items():
        if variant not in res["rr"]:
            continue
        q = judged_q2n(res["rr"][variant])  # a scene with nodata on its valid blocks, as the guard
        ref = table.get(name, {}).get("Q2n")
        scenes[name] = {
            "Q2n": q,
            "share": share_removed(q, best_classical(res["rr"], judged=True)[1]),
            "seconds": res["seconds"].get(f"rr:{variant}"),
            "vs_table": None if ref is None else q - ref,
        }
    if not scenes:
        raise SystemExit(f"no scene of that run has the variant {variant!r}")
    vals = list(scenes.values())
    secs = [v["seconds"] for v in vals if v["seconds"] is not None]
    diffs = [v["vs_table"] for v in vals if v["vs_table"] is not None]
    return {
        "scenes": scenes,
        "mean_Q2n": statistics.fmean(v["Q2n"] for v in vals),
        "mean_share": statistics.fmean(v["share"] for v in vals),
        "min_share": min(v["share"] for v in vals),
        "median_seconds": statistics.median(secs) if secs else None,
        "total_seconds": sum(secs) if secs else None,
        "worst_vs_table": min(diffs) if diffs else None,
        "within_tolerance": sum(d >= -TOLERANCE for d in diffs),
    }


def markdown(points: dict[str, dict]) -> str:
    """The summary table, then Q2n / share per scene and point."""
    head = "| point | mean Q2n | mean share | lowest share | median s / scene | total s | worst vs table | within 0.003 |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, p in points.items():
        sec = "n/a" if p["median_seconds"] is None else f"{p['median_seconds']:.1f} | {p['total_seconds']:.0f}"
        worst = "n/a" if p["worst_vs_table"] is None else f"{p['worst_vs_table']:+.4f}"
        lines.append(
            f"| {label} | {p['mean_Q2n']:.4f} | {100 * p['mean_share']:.1f}% | {100 * p['min_share']:.1f}% "
            f"| {sec} | {worst} | {p['within_tolerance']}/{len(p['scenes'])} |"
        )
    names = list(next(iter(points.values()))["scenes"])
    lines += ["", "| scene | " + " | ".join(points) + " |", "|---|" + "---:|" * len(points)]
    for n in names:
        cells = [
            f"{p['scenes'][n]['Q2n']:.4f} / {100 * p['scenes'][n]['share']:.1f}%" if n in p["scenes"] else "n/a"
            for p in points.values()
        ]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("points", nargs="+", metavar="LABEL=RUN.json:VARIANT")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "ladder")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help="the guard's recorded table")
    args = ap.parse_args(argv)
    table = json.loads(args.baseline.read_text())["scenes"]
    points = {}
    for spec in args.points:
        label, sep, rest = spec.partition("=")
        path, sep2, variant = rest.rpartition(":")
        if not (sep and sep2 and label and variant):
            ap.error(f"expected LABEL=RUN.json:VARIANT, got {spec!r}")
        points[label] = point(json.loads(Path(path).read_text()), variant, table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ladder.json").write_text(json.dumps({"command": " ".join(sys.argv), "points": points}, indent=1))
    md = markdown(points)
    (args.out / "ladder.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
