"""``pansharpen info`` (a pair and what fuse would do with it) and ``pansharpen sensors``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from .app import Command, app, errors, out, setup_logging
from .options import FLAG, AlignedOpt, JsonOpt, PanBandOpt, RatioOpt, VerboseOpt

if TYPE_CHECKING:
    from ..io.reader import PairReader, RasterSummary


#: One section of ``info``'s text: (key, value) rows, shown one under the other.
Rows = list[tuple[str, str]]


def _plan(reader: PairReader) -> dict[str, Any]:
    """What fuse would do with the pair (the ``fuse`` part of ``info --json``)."""
    g = reader.grid
    return {
        "fusable": True,
        "ratio": g.ratio,
        "measured_ratio": [round(x, 6) for x in g.measured_ratio],
        "output_width": g.width,
        "output_height": g.height,
        "output_bands": reader.n_bands,
        "pan_window": {"col_off": g.col_off, "row_off": g.row_off, "width": g.width, "height": g.height},
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


def _sensor_text(s: dict[str, Any] | None) -> str:
    return f"{s['name']} from {s['source']} ({s['detail']})" if s else "none recognised (--sensor)"


def _file_rows(s: RasterSummary) -> Rows:
    """What ``info`` says about one input file."""
    return [
        ("file", s.path),
        ("size", f"{s.width}x{s.height} pixels (width x height), {s.count} band{'s' * (s.count != 1)}"),
        ("data type", s.dtype),
        ("CRS", s.crs or "none"),
        ("pixel size", f"{s.res[0]:g} x {s.res[1]:g}"),
        ("nodata", _nodata_text(s)),
        ("values", f"{s.value_range[0]:g}..{s.value_range[1]:g}" if s.value_range else "-"),
        ("grid", s.area_or_point if s.georeferenced else "no georeferencing"),
    ]


def _nodata_text(s: RasterSummary) -> str:
    """The nodata value, and the mask or alpha band that marks nodata too (``-``: none)."""
    parts = [] if s.nodata is None else [f"{s.nodata:g}"]
    parts += [f"{s.mask} (read as nodata)"] if s.mask else []
    return "; ".join(parts) or "-"


def _plan_rows(plan: dict[str, Any]) -> Rows:
    """What ``info`` says fuse would do."""
    (mx, my), w, h = plan["measured_ratio"], plan["output_width"], plan["output_height"]
    c0, r0 = plan["pan_window"]["col_off"], plan["pan_window"]["row_off"]
    bare = f"{plan['gcps']} ground control points (array geometry)" if plan["gcps"] else "none (array geometry)"
    rows = [
        ("ratio", f"{plan['ratio']} (measured {mx:.4f} x {my:.4f})"),
        ("output", f"{w}x{h} PAN pixels (width x height), {plan['output_bands']} bands"),
        ("PAN window", f"columns {c0}..{c0 + w - 1}, rows {r0}..{r0 + h - 1}"),
        ("MS", "resampled onto the PAN-aligned grid (cubic)" if plan["ms_resampled"] else "used as is (aligned)"),
        ("georeferencing", plan["crs"] or ("yes" if plan["georeferenced"] else bare)),
        ("sensor", _sensor_text(plan["sensor"])),
    ]
    return rows + [("note", n) for n in plan["notes"]] + [("warning", w_) for w_ in plan["warnings"]]


def _show(title: str, rows: Rows) -> None:
    """A titled block of ``key  value`` lines. On a terminal, long values fold under their column
    at its width; in a pipe or a file each row is one whole line. Nothing is ever cut short."""
    out.print(f"[bold]{escape(title)}[/bold]", highlight=False)
    if not out.is_terminal:
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            out.print(f"  {k:<{width}}  {v}", markup=False, highlight=False, soft_wrap=True)
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for k, v in rows:
        grid.add_row(f"[yellow]{k}[/yellow]" if k == "warning" else k, escape(v))
    out.print(Padding(grid, (0, 0, 0, 2)))


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
            out.print("[bold]Inputs[/bold]", highlight=False)
            for role, summary in summaries:
                _show(role, _file_rows(summary))
            if refusal is None:
                _show("What fuse would do", _plan_rows(plan))
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
