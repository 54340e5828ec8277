"""``pansharpen info`` (a pair and what fuse would do with it) and ``pansharpen sensors``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from .app import Command, app, errors, out, setup_logging
from .options import FLAG, AlignedOpt, JsonOpt, PanBandOpt, RatioOpt, VerboseOpt

if TYPE_CHECKING:
    from ..io.reader import PairReader, RasterSummary


def _plan(reader: PairReader) -> dict[str, Any]:
    """What fuse would do with the pair (the ``fuse`` part of ``info --json``)."""
    g = reader.grid
    return {
        "fusable": True,
        "ratio": g.ratio,
        "measured_ratio": [round(x, 6) for x in g.measured_ratio],
        "output_size": [g.height, g.width],
        "output_bands": reader.n_bands,
        "pan_window": {"row_off": g.row_off, "col_off": g.col_off, "height": g.height, "width": g.width},
        "ms_resampled": g.resample,
        "georeferenced": g.georeferenced,
        "output_transform": list(g.transform)[:6] if g.georeferenced else None,
        "crs": g.crs.to_string() if g.crs else None,
        "gcps": len(g.gcps[0]) if g.gcps else 0,
        "notes": g.notes,
        "warnings": g.warnings,
    }


def _sensor(pan: Path, ms: list[Path], plan: dict[str, Any]) -> None:
    """The sensor fuse would take from the delivery's metadata (``sensor`` of ``info --json``: None
    when none is recognised); a satellite without a preset, or PAN and MS that disagree, warned."""
    from ..base.errors import InputError
    from ..io.delivery import detect_sensor

    try:
        found = detect_sensor(pan, ms)
    except InputError as exc:
        found = None
        plan["warnings"].append(str(exc))
    plan["sensor"] = None
    if found is not None:
        plan["sensor"] = {"name": found.sensor, "satellite": found.satellite, "source": found.source}
        plan["sensor"]["detail"] = found.detail
        plan["warnings"] += [found.warning] if found.warning else []


def _inputs_table(summaries: list[tuple[str, RasterSummary]]) -> Table:
    t = Table(title="Inputs")
    for col in ("role", "file", "size", "bands", "dtype", "CRS", "pixel size", "nodata", "values", "grid"):
        t.add_column(col)
    for role, s in summaries:
        vr = f"{s.value_range[0]:g}..{s.value_range[1]:g}" if s.value_range else "-"
        t.add_row(
            role,
            Path(s.path).name,
            f"{s.width}x{s.height}",
            str(s.count),
            s.dtype,
            s.crs or "none",
            f"{s.res[0]:g} x {s.res[1]:g}",
            "-" if s.nodata is None else f"{s.nodata:g}",
            vr,
            s.area_or_point if s.georeferenced else "no georef",
        )
    return t


def _plan_table(plan: dict[str, Any]) -> Table:
    p = Table(title="What fuse would do", show_header=False)
    p.add_column("key")
    p.add_column("value")
    (mx, my), (h, w) = plan["measured_ratio"], plan["output_size"]
    win = plan["pan_window"]
    p.add_row("ratio", f"{plan['ratio']} (measured {mx:.4f} x {my:.4f})")
    p.add_row("output", f"{w}x{h} PAN pixels x {plan['output_bands']} bands")
    r0, c0 = win["row_off"], win["col_off"]
    p.add_row("PAN window", f"rows {r0}..{r0 + h - 1}, cols {c0}..{c0 + w - 1}")
    p.add_row(
        "MS",
        "resampled onto the PAN-aligned grid (cubic)" if plan["ms_resampled"] else "used as is (aligned)",
    )
    bare = f"{plan['gcps']} ground control points (array geometry)" if plan["gcps"] else "none (array geometry)"
    p.add_row("georeferencing", plan["crs"] or ("yes" if plan["georeferenced"] else bare))
    s = plan["sensor"]
    p.add_row("sensor", f"{s['name']} from {s['source']} ({s['detail']})" if s else "none recognised (--sensor)")
    for n in plan["notes"]:
        p.add_row("note", n)
    for w_ in plan["warnings"]:
        p.add_row("[yellow]warning[/yellow]", w_)
    return p


@app.command(cls=Command)
def info(
    pan: Annotated[str, typer.Argument(metavar="PAN", help="PAN raster (a file or a GDAL path).")],
    ms: Annotated[list[str], typer.Argument(metavar="MS...", help="MS raster(s) in band order.")],
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    assume_aligned: AlignedOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Describe a PAN/MS pair and what `fuse` would do with it."""
    setup_logging(False, verbose)
    with errors(verbose):
        from ..base.errors import InputError
        from ..io.reader import PairReader, summarize

        files = [("PAN", pan), *[("MS", m) for m in ms]]
        summaries = [(role, summarize(p, role)) for role, p in files]
        refusal = None
        try:
            with PairReader(pan, ms, pan_band=pan_band, ratio=ratio, assume_aligned=assume_aligned) as reader:
                plan = _plan(reader)
            _sensor(pan, ms, plan)
        except InputError as exc:  # not fusable: the inputs are described, then the reason (exit 1)
            refusal, plan = exc, {"fusable": False, "reason": str(exc)}
        if json_out:
            payload = {"files": [{"role": r, **s.__dict__} for r, s in summaries], "fuse": plan}
            out.print_json(json.dumps(payload, default=str))
        else:
            out.print(_inputs_table(summaries))
            if refusal is None:
                out.print(_plan_table(plan))
        if refusal is not None:
            raise refusal


@app.command(cls=Command)
def sensors(
    json_out: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """List the sensor presets and their MTF gains."""
    from ..base.sensors import list_sensors

    rows = list_sensors()
    if json_out:
        keys = ("name", "long_name", "aliases", "ratio", "ms_gains", "pan_gain")
        data = [{k: list(v) if isinstance(v := getattr(s, k), tuple) else v for k in keys} for s in rows]
        out.print_json(json.dumps(data))
        return
    t = Table(title="Sensor presets (Nyquist MTF gains)")
    for col in ("name", "sensor", "aliases", "ratio", "MS gains", "PAN gain"):
        t.add_column(col)
    for s in rows:
        gains = " ".join(f"{g:g}" for g in s.ms_gains) + ("  (all bands)" if len(s.ms_gains) == 1 else "")
        t.add_row(s.name, s.long_name, ", ".join(s.aliases), str(s.ratio), gains, f"{s.pan_gain:g}")
    out.print(t)
