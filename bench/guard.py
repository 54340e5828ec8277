"""The per-scene quality guard and the share of the best classical method's error that a variant removes.

    python bench/guard.py                       # fresh run of `zs` on every recorded scene, compare
    python bench/guard.py --fresh RUN.json      # compare a finished bench/quality.py run
    python bench/guard.py --record RUN.json     # re-record the baseline from a run (on purpose only)

The guard fails (exit 1, one line per scene) when any scene's reduced-resolution Q2n of the default
zero-shot fusion (``zs``) is worse than the recorded table by more than ``TOLERANCE`` (0.003): per scene,
not the mean. A recorded scene missing from the fresh run fails too. On a scene with nodata the Q2n
judged is ``Q2n_valid`` (the 32x32 blocks that hold no nodata: what ``fuse`` writes as data) where it
has any such block (:func:`judged_q2n`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

BASELINE = HERE / "results" / "quality_baseline.json"
TOLERANCE = 0.003
GUARDED = "zs"  # the default zero-shot fusion
from pansharpen_cli.methods.classical import CLASSICAL  # noqa: E402  (the yardstick, DESIGN.md section 5)


def share_removed(q2n: float, q2n_best_classical: float) -> float:
    """``1 - (1 - Q2n) / (1 - Q2n_best_classical)``: the share of the best classical error removed."""
    return 1.0 - (1.0 - q2n) / (1.0 - q2n_best_classical)


def best_classical(rr: dict[str, dict], judged: bool = False) -> tuple[str, float]:
    """The classical method with the highest Q2n in one scene's reduced-resolution indexes
    (``judged``: the Q2n the guard judges, :func:`judged_q2n`)."""
    q = judged_q2n if judged else (lambda v: v["Q2n"])
    name = max((m for m in rr if m in CLASSICAL), key=lambda m: q(rr[m]))
    return name, q(rr[name])


def judged_q2n(indexes: dict) -> float:
    """The Q2n the guard judges of one method's reduced-resolution indexes: ``Q2n_valid`` on a scene
    with nodata that has a whole valid block (the nodata is written as nodata, its fill is not the
    product; the plain Q2n counts it), else the plain ``Q2n``."""
    q = indexes.get("Q2n_valid")
    return indexes["Q2n"] if q is None else q


def baseline_from(run: dict, variant: str = GUARDED) -> dict:
    """The recorded table of a bench run: per scene the guarded variant's Q2n (and what it was run on)."""
    scenes = {}
    for name, res in run["scenes"].items():
        bc, bq = best_classical(res["rr"], judged=True)
        zs = res["rr"][variant]
        scenes[name] = {
            "Q2n": round(judged_q2n(zs), 6),
            "index": "Q2n" if zs.get("Q2n_valid") is None else "Q2n_valid",
            "best_classical": bc,
            "best_classical_Q2n": round(bq, 6),
            "size": res["size"],
            "window": res.get("window"),
        }
    return {
        "variant": variant,
        "tolerance": TOLERANCE,
        "code": run.get("code"),
        "prior": run.get("prior"),
        "max_pan": run.get("max_pan"),
        "threads": run.get("threads"),
        "scenes": scenes,
    }


@dataclass(frozen=True)
class Row:
    scene: str
    recorded: float
    fresh: float | None
    ok: bool

    def line(self) -> str:
        if self.fresh is None:
            return f"FAIL {self.scene}: recorded Q2n {self.recorded:.4f}, missing from the fresh run"
        d = self.fresh - self.recorded
        tag = "ok  " if self.ok else "FAIL"
        return f"{tag} {self.scene}: Q2n {self.fresh:.4f} against recorded {self.recorded:.4f} ({d:+.4f})"


def compare(baseline: dict, fresh: dict[str, float], tolerance: float = TOLERANCE) -> list[Row]:
    """One row per recorded scene; a row fails when the fresh Q2n is lower by more than ``tolerance``."""
    rows = []
    for scene, rec in baseline["scenes"].items():
        q = fresh.get(scene)
        rows.append(Row(scene, rec["Q2n"], q, q is not None and rec["Q2n"] - q <= tolerance))
    return rows


def fresh_scores(run: dict, variant: str = GUARDED) -> dict[str, float]:
    return {n: judged_q2n(r["rr"][variant]) for n, r in run["scenes"].items() if variant in r["rr"]}


def run_bench(baseline: dict, data: str | None, out: Path) -> dict:
    """A fresh bench run of the guarded variant on the recorded scenes (reduced resolution only)."""
    cmd = [sys.executable, str(HERE / "quality.py"), "--out", str(out), "--no-fr"]
    cmd += ["--variants", baseline["variant"], "--scenes", ",".join(baseline["scenes"])]
    for key in ("max_pan", "threads"):  # the recorded run's settings: the same figures to float noise
        if baseline.get(key):
            cmd += ["--" + key.replace("_", "-"), str(baseline[key])]
    if data:
        cmd += ["--data", data]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "quality.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--fresh", type=Path, help="a bench/quality.py JSON to compare (default: run the bench)")
    ap.add_argument("--record", type=Path, help="write the baseline from this bench/quality.py JSON and stop")
    ap.add_argument("--data", help="the shared data folder (bench/quality.py's --data)")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = ap.parse_args(argv)
    if args.record:
        doc = baseline_from(json.loads(args.record.read_text()))
        args.baseline.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"recorded {len(doc['scenes'])} scenes into {args.baseline}")
        return 0
    baseline = json.loads(args.baseline.read_text())
    if args.fresh:
        run = json.loads(args.fresh.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run = run_bench(baseline, args.data, Path(tmp))
            except subprocess.CalledProcessError as e:
                print(f"error: the bench run failed (exit {e.returncode}): see above", file=sys.stderr)
                return 2
    rows = compare(baseline, fresh_scores(run, baseline["variant"]), args.tolerance)
    for row in rows:
        print(row.line())
    failed = [r for r in rows if not r.ok]
    print(
        f"{len(failed)} of {len(rows)} scenes worse than recorded by more than {args.tolerance} Q2n"
        if failed
        else f"all {len(rows)} scenes within {args.tolerance} Q2n of the recorded table"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
