"""``pansharpen simulate`` (the Wald-protocol pair) and ``pansharpen evaluate`` (quality indexes)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .app import Command, app, err, errors, log, out, progress_bars, setup_logging
from .options import (
    FLAG,
    AlignedOpt,
    EvalSensorOpt,
    GainsOpt,
    OverwriteOpt,
    PanBandOpt,
    QuietOpt,
    RatioOpt,
    SensorOpt,
    VerboseOpt,
    split_last,
)

#: Which way is better, per index (the table's third column).
BETTER = {
    "Q2n": "higher",
    "Q": "higher",
    "SAM": "lower",
    "ERGAS": "lower",
    "SCC": "higher",
    "PSNR": "higher",
    "D_lambda": "lower",
    "D_s": "lower",
    "QNR": "higher",
    "D_lambda_K": "lower",
    "HQNR": "higher",
    "D_rho": "lower",
    "R_Q2n": "higher",
    "D_lambda_K_coreg": "lower",
    "R_Q2n_coreg": "higher",
    "D_rho_coreg": "lower",
}

#: How the shifts read in the table (values are [dy, dx]).
SHIFT_UNITS = {
    "shift_ms_pixels": "fused vs MS, MS px (rows, cols)",
    "shift_pan_pixels": "fused vs PAN, PAN px (rows, cols)",
}


@app.command(cls=Command)
def simulate(
    pan: Annotated[str, typer.Argument(help="PAN raster (a file or a GDAL path).")],
    ms_and_outdir: Annotated[
        list[str], typer.Argument(metavar="MS... OUTDIR", help="MS raster(s), then the output directory.")
    ],
    sensor: SensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    assume_aligned: AlignedOpt = False,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write the reduced-resolution (Wald protocol) pair and the reference: OUTDIR/{pan,ms,reference}.tif."""
    setup_logging(quiet, verbose)
    ms, outdir = split_last(ms_and_outdir, "OUTDIR")
    with errors(verbose):
        from ..pipeline.quality import simulate as run_sim

        with progress_bars(quiet) as cb:
            res = run_sim(
                pan,
                ms,
                outdir,
                sensor=sensor,
                gains=gains,
                ratio=ratio,
                pan_band=pan_band,
                overwrite=overwrite,
                progress=cb,
                assume_aligned=assume_aligned,
            )
        for w in res.warnings:
            log.warning(w)
        if not quiet:
            err.print(f"wrote {res.pan}, {res.ms}, {res.reference} (ratio {res.ratio})", highlight=False)


def _stdout_fd() -> int | None:
    """The standard output's file descriptor (None when it has none: a test runner's buffer)."""
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _indexes_table(res: dict, fused: str, reference: str | None) -> Table:
    against = f" against {Path(reference).name}" if reference else " (full resolution)"
    t = Table(title=f"Quality of {Path(fused).name}{against}")
    t.add_column("index")
    t.add_column("value", justify="right")
    t.add_column("better")
    for k, v in res.items():
        if isinstance(v, list):
            t.add_row(k, ", ".join(f"{x:+.2f}" for x in v), SHIFT_UNITS.get(k, ""))
        elif isinstance(v, float) and math.isnan(v):  # nodata everywhere it would judge
            t.add_row(k, "n/a", "no data to judge (nodata)")
        else:
            t.add_row(k, f"{v:.4f}", BETTER.get(k, ""))
    return t


@app.command(cls=Command)
def evaluate(
    pan: Annotated[str, typer.Argument(help="PAN raster (a file or a GDAL path).")],
    ms_and_fused: Annotated[
        list[str], typer.Argument(metavar="MS... FUSED", help="MS raster(s), then the fused raster.")
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            metavar="PATH", help="Reference MS on FUSED's grid: compute Q2n, Q, SAM, ERGAS, SCC, PSNR."
        ),
    ] = None,
    sensor: EvalSensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    assume_aligned: AlignedOpt = False,
    json_out: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="Print one JSON object keyed by index name.")
    ] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Quality indexes of a fusion: full resolution (no reference) or against --reference."""
    setup_logging(quiet or json_out, verbose)
    ms, fused = split_last(ms_and_fused, "FUSED")
    with errors(verbose):
        from ..pipeline.preflight import check_evaluate
        from ..pipeline.quality import evaluate as run_eval

        check_evaluate([pan, *ms, fused, reference], _stdout_fd())

        with progress_bars(quiet or json_out) as cb:
            res = run_eval(
                pan,
                ms,
                fused,
                reference=reference,
                sensor=sensor,
                gains=gains,
                ratio=ratio,
                pan_band=pan_band,
                progress=cb,
                assume_aligned=assume_aligned,
            )
        if json_out:
            nan_null = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in res.items()}
            out.print(json.dumps(nan_null), highlight=False, soft_wrap=True)
            return
        out.print(_indexes_table(res, fused, reference))
