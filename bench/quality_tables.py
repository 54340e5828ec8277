"""Markdown tables of a bench/quality.py run; from its JSON: ``python bench/quality_tables.py RUN.json``.

The first table is the regression bench's: per scene the best classical method (highest reduced-resolution
Q2n) and, for every zero-shot variant, its Q2n and the share of that method's error it removes
(:func:`bench.guard.share_removed`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.guard import best_classical, share_removed  # noqa: E402
from pansharpen_cli.methods.classical import CLASSICAL  # noqa: E402


def scene_label(name: str, res: dict) -> str:
    w = res.get("window")
    size = f"{res['size'][1]}x{res['size'][0]}"
    cut = f", central cut of {w['of_ms'][1] * res['ratio']}x{w['of_ms'][0] * res['ratio']}" if w else ""
    return f"{name} | {res['sensor']} | {res['ratio']} | {res['bands']} | {size}{cut}"


def share_table(results: dict) -> list[str]:
    variants: list[str] = []
    for res in results.values():
        variants += [m for m in res["rr"] if m not in CLASSICAL and m not in variants]
    lines = [
        "### Share of the best classical method's error removed (reduced resolution)\n",
        "`share = 1 - (1 - Q2n) / (1 - Q2n_best_classical)`; each cell: Q2n / share. Size: the PAN "
        "(width x height) the bench used.\n",
        "| scene | sensor | ratio | bands | PAN size | best classical (Q2n) | "
        + " | ".join(variants) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(variants),
    ]
    shares: dict[str, list[float]] = {v: [] for v in variants}
    for name, res in results.items():
        bc, bq = best_classical(res["rr"])
        cells = []
        for v in variants:
            if v not in res["rr"]:
                cells.append("-")
                continue
            q = res["rr"][v]["Q2n"]
            shares[v].append(share_removed(q, bq))
            cells.append(f"{q:.4f} / {shares[v][-1]:.1%}")
        lines.append(f"| {scene_label(name, res)} | {bc} ({bq:.4f}) | " + " | ".join(cells) + " |")
    for label, f in (("mean", np.mean), ("lowest", np.min)):
        cells = [f"{f(shares[v]):.1%}" if shares[v] else "-" for v in variants]
        lines.append(f"| **{label} share** | | | | | | " + " | ".join(cells) + " |")
    return lines


def _nodata_head(results: dict, key: str, title: str) -> tuple[dict, list[str], list[str]]:
    """The scenes whose indexes have ``key``, the methods, and the heading of their table."""
    rows = {n: r for n, r in results.items() if any(key in v for v in r["rr"].values())}
    if not rows:
        return rows, [], []
    methods = list(next(iter(rows.values()))["rr"])
    head = [f"\n### Scenes with nodata: {title}\n", "| scene | " + " | ".join(methods) + " |"]
    return rows, methods, head + ["|---|" + "---|" * len(methods)]


def valid_table(results: dict) -> list[str]:
    """The scenes with nodata, judged on their fully valid 32x32 blocks only (``Q2n_valid``): Q2n
    and share of every method there (the best classical method chosen on those blocks too)."""
    rows, methods, lines = _nodata_head(
        results,
        "Q2n_valid",
        "Q2n on the fully valid 32x32 blocks\n\nWhat `fuse` writes as nodata is not judged (bench/quality.py "
        "`q2n_valid`); each cell: Q2n / share of the best classical method's error on those blocks; n/a: no "
        "whole valid block.",
    )
    for name, res in rows.items():
        q = {m: v.get("Q2n_valid") for m, v in res["rr"].items()}
        classical = [q[m] for m in CLASSICAL if q.get(m) is not None]
        bq = max(classical) if classical else None
        lines.append(f"| {name} | " + " | ".join(_valid_cell(q.get(m), m, bq) for m in methods) + " |")
    return lines


def valid_pixel_table(results: dict) -> list[str]:
    """The scenes with nodata: ERGAS and SAM over their valid pixels (``ERGAS_valid``,
    ``SAM_valid``), which need no whole block (the SLC-off gaps cross every 32x32 one)."""
    rows, methods, lines = _nodata_head(results, "ERGAS_valid", "ERGAS / SAM (degrees) over the valid pixels")
    for name, res in rows.items():
        cells = [f"{v['ERGAS_valid']:.3f} / {v['SAM_valid']:.3f}" for v in res["rr"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _valid_cell(q: float | None, method: str, best: float | None) -> str:
    if q is None:
        return "n/a"
    if method in CLASSICAL or best is None:
        return f"{q:.4f}"
    return f"{q:.4f} / {share_removed(q, best):.1%}"


def tables(results: dict, skipped: dict[str, str] | None = None) -> str:
    lines = share_table(results) + valid_table(results) + valid_pixel_table(results)
    lines += [f"\nNot in the bench: {name} ({why})." for name, why in (skipped or {}).items()] + [""]
    methods: list[str] = []
    for res in results.values():
        for m in res["rr"]:
            if m not in methods:
                methods.append(m)
    lines.append("### Reduced resolution (Q2n / ERGAS / SAM)\n")
    lines.append("| scene | " + " | ".join(methods) + " |")
    lines.append("|---|" + "---|" * len(methods))
    for scene, res in results.items():
        best_q = max(v["Q2n"] for m, v in res["rr"].items())
        cells = []
        for m in methods:
            v = res["rr"].get(m)
            if v is None:
                cells.append("-")
                continue
            s = f"{v['Q2n']:.4f} / {v['ERGAS']:.3f} / {v['SAM']:.2f}"
            cells.append(f"**{s}**" if v["Q2n"] == best_q else s)
        lines.append(f"| {scene} | " + " | ".join(cells) + " |")
    avg = []
    for m in methods:
        vals = [res["rr"][m] for res in results.values() if m in res["rr"]]
        avg.append(
            f"{np.mean([v['Q2n'] for v in vals]):.4f} / {np.mean([v['ERGAS'] for v in vals]):.3f} / "
            f"{np.mean([v['SAM'] for v in vals]):.2f}"
            if vals
            else "-"
        )
    lines.append("| **mean** | " + " | ".join(avg) + " |")
    lines.append("\n### Reduced resolution: D_rho of each fusion and of the reference itself\n")
    lines.append("| scene | reference | " + " | ".join(methods) + " |")
    lines.append("|---|---|" + "---|" * len(methods))
    for scene, res in results.items():
        cells = [f"{res['rr'][m]['D_rho']:.4f}" if m in res["rr"] else "-" for m in methods]
        lines.append(
            f"| {scene} | {res.get('rr_reference_D_rho', float('nan')):.4f} | " + " | ".join(cells) + " |"
        )
    fr_methods: list[str] = []
    for res in results.values():
        for m in res["fr"]:
            if m not in fr_methods:
                fr_methods.append(m)
    if fr_methods:
        lines.append("\n### Full resolution (D_lambda_K / D_rho / HQNR / QNR)\n")
        lines.append("| scene | " + " | ".join(fr_methods) + " |")
        lines.append("|---|" + "---|" * len(fr_methods))
        for scene, res in results.items():
            cells = []
            for m in fr_methods:
                v = res["fr"].get(m)
                cells.append(
                    "-"
                    if v is None
                    else f"{v['D_lambda_K']:.4f} / {v['D_rho']:.4f} / {v['HQNR']:.4f} / {v['QNR']:.4f}"
                )
            lines.append(f"| {scene} | " + " | ".join(cells) + " |")
    secs = {}
    for res in results.values():
        for k, v in res["seconds"].items():
            secs.setdefault(k, []).append(v)
    lines.append("\n### Mean seconds per fusion (this machine)\n")
    lines.append("| run | seconds |\n|---|---:|")
    for k, v in secs.items():
        lines.append(f"| {k} | {np.mean(v):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    doc = json.loads(Path(sys.argv[1]).read_text())
    print(tables(doc["scenes"], doc.get("skipped")), end="")


if __name__ == "__main__":
    main()
