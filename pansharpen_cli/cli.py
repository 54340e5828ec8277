"""The ``pansharpen`` command line: parse, validate, call the pipeline, draw progress, exit codes.

Exit codes: 0 success, 1 processing or input error (one line on stderr), 2 usage error.
Heavy modules (torch, the pipeline) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import DeviceError, OptionError, PansharpenError

app = typer.Typer(
    name="pansharpen",
    help="Pansharpen a PAN/MS GeoTIFF pair: zero-shot deep fusion or classical methods, georeferenced output.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()
log = logging.getLogger("pansharpen_cli")


class Method(str, Enum):
    zeroshot = "zeroshot"
    exp = "exp"
    brovey = "brovey"
    gsa = "gsa"
    mtf_glp_hpm = "mtf-glp-hpm"


class OutFormat(str, Enum):
    GTiff = "GTiff"
    COG = "COG"


DEFAULT_METHOD = Method.zeroshot
ZS_PANEL = "Zero-shot tuning (defaults are the measured all-scene choice)"

# -- shared options (defined once) -------------------------------------------------------------
SensorOpt = Annotated[
    str | None,
    typer.Option(
        "--sensor", "-s", help="Sensor preset for the MTF gains (see `pansharpen sensors`); default generic."
    ),
]
GainsOpt = Annotated[
    str | None,
    typer.Option(help="Your own Nyquist gains: 'G' or 'G1,G2,...' for the MS bands, optionally ';GPAN'."),
]
RatioOpt = Annotated[
    int | None, typer.Option(min=2, help="Force the integer PAN/MS ratio instead of measuring it.")
]
PanBandOpt = Annotated[
    int | None, typer.Option("--pan-band", min=1, help="Band of the PAN file to use when it has several.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, only errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Explain what is done (grids, resampling).")
]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"pansharpen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Pansharpening for geospatial analysts."""


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else (logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("pansharpen_cli")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@contextmanager
def _errors(verbose: bool = False) -> Iterator[None]:
    """Turn the tool's errors into one line on stderr and exit code 1 (never a traceback)."""
    try:
        yield
    except typer.Exit:
        raise
    except PansharpenError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: no output written", highlight=False)
        raise typer.Exit(130) from None
    except MemoryError:
        err.print("[red]error:[/red] out of memory: use a smaller --tile", highlight=False)
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - the CLI promises no traceback
        if verbose:
            log.exception("unexpected error")
        first = str(exc).splitlines()[0] if str(exc) else ""
        err.print(
            f"[red]error:[/red] {type(exc).__name__}: {first} (rerun with -v for details)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int, dict], None]]:
    """A progress callback drawing one rich bar per task on stderr."""
    if quiet:
        yield lambda task, completed, total, info: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
        transient=False,
    ) as prog:
        ids: dict[str, Any] = {}

        def cb(task: str, completed: int, total: int, info: dict) -> None:
            text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
            if task not in ids:
                ids[task] = prog.add_task(task, total=total, info=text)
            prog.update(ids[task], completed=completed, total=total, info=text)

        yield cb


def _parse_co(values: list[str] | None) -> dict[str, str]:
    opts: dict[str, str] = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint="--co")
        opts[key.strip().upper()] = val.strip()
    return opts


def resolve_device(name: str) -> Any:
    """``auto`` -> CUDA when present else CPU; ``cpu``; ``cuda`` / ``cuda:N`` (checked)."""
    import torch

    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0..)"
            )
        return dev
    raise OptionError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")


@app.command()
def fuse(
    pan: Annotated[Path, typer.Argument(help="PAN raster (one band, or choose with --pan-band).")],
    ms_and_out: Annotated[
        list[Path],
        typer.Argument(metavar="MS... OUT", help="MS raster(s) in band order, then the output path."),
    ],
    method: Annotated[Method, typer.Option("--method", "-m", help="Fusion method.")] = DEFAULT_METHOD,
    sensor: SensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    dtype: Annotated[
        str | None,
        typer.Option(help="Output data type (default: the MS's). Integers are rounded and clipped."),
    ] = None,
    of: Annotated[OutFormat, typer.Option("--of", help="Output format.")] = OutFormat.GTiff,
    co: Annotated[
        list[str] | None, typer.Option("--co", help="GDAL creation option KEY=VALUE (repeatable).")
    ] = None,
    overwrite: OverwriteOpt = False,
    tile: Annotated[int, typer.Option(min=16, help="Processing tile side in MS pixels.")] = 256,
    weights: Annotated[
        str,
        typer.Option(help="zeroshot: prior weights: default (shipped), none (random init) or a .pt path."),
    ] = "default",
    device: Annotated[str, typer.Option(help="zeroshot: auto, cpu, cuda or cuda:N.")] = "auto",
    iterations: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="zeroshot: adaptation iterations, stated for 8 bands (fewer bands get up to 2x); "
            "0: pretrained inference only.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="zeroshot: random seed (same seed, same device, same output).")
    ] = 0,
    amp: Annotated[
        bool, typer.Option("--amp/--no-amp", help="zeroshot: bf16 autocast on CUDA (ignored on the CPU).")
    ] = False,
    arch: Annotated[
        str | None,
        typer.Option(
            help="zeroshot: network architecture (default: the prior's, else bandwise-resnet); "
            "another than the prior's needs --weights none or a matching .pt.",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="zeroshot: stage I warm-up steps, stated for 8 bands (default 60).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    p_full: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="zeroshot: probability of a full-resolution step in stage II (default 0.7).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    lr_rr: Annotated[
        float | None,
        typer.Option(
            min=1e-9,
            help="zeroshot: learning rate of reduced-resolution steps (default 1e-3).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    lr_fr: Annotated[
        float | None,
        typer.Option(
            min=1e-9,
            help="zeroshot: learning rate of full-resolution steps (default 5e-4).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    crop: Annotated[
        int | None,
        typer.Option(
            min=8, help="zeroshot: training crop side in PAN pixels (default 64).", rich_help_panel=ZS_PANEL
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, help="zeroshot: crops per training step (default 4).", rich_help_panel=ZS_PANEL),
    ] = None,
    w_spectral: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="zeroshot: weight of the full-resolution spectral loss (default 1).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    w_spatial: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="zeroshot: weight of the full-resolution spatial loss through the spectral response (default 0.3).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    w_corr: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="zeroshot: weight of the full-resolution local-correlation loss (default 1).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    register: Annotated[
        bool | None,
        typer.Option(
            "--register/--no-register",
            help="zeroshot: measure the residual MS-PAN shift and move the PAN onto the MS by it "
            "(default on; the report and the output's tags give the shift).",
            rich_help_panel=ZS_PANEL,
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="zeroshot: write a JSON report of the run here.")
    ] = None,
    save_model: Annotated[
        Path | None, typer.Option(help="zeroshot: save the adapted weights here (.pt).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option(help="Write a PNG quicklook: upsampled MS, fusion, PAN side by side.")
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fuse PAN and MS into a pansharpened GeoTIFF on the PAN grid.

    Like gdal_pansharpen: MS is one multiband file or several single-band files in band order.
    """
    _setup_logging(quiet, verbose)
    if len(ms_and_out) < 2:
        raise typer.BadParameter("expected PAN MS [MS ...] OUT", param_hint="MS... OUT")
    *ms, out_path = ms_and_out
    creation = _parse_co(co)
    if arch is not None:
        from . import networks

        if arch.lower() not in networks.available():
            raise typer.BadParameter(
                f"expected one of {', '.join(networks.available())}, got {arch!r}", param_hint="--arch"
            )
    with _errors(verbose):
        from .pipeline import FuseOptions
        from .pipeline import fuse as run_fuse

        opts = FuseOptions(
            method=method.value,
            sensor=sensor,
            gains=gains,
            ratio=ratio,
            pan_band=pan_band,
            dtype=dtype,
            fmt=of.value,
            creation_options=creation,
            overwrite=overwrite,
            tile=tile,
            weights=weights,
            save_model=save_model,
            preview=preview,
        )
        if method == Method.zeroshot:
            from .zeroshot import ZeroShotConfig

            tuned = {
                "p_full": p_full,
                "lr_rr": lr_rr,
                "lr_fr": lr_fr,
                "crop": crop,
                "batch": batch,
                "w_spectral": w_spectral,
                "w_spatial": w_spatial,
                "w_corr": w_corr,
                "register": register,
            }
            cfg = ZeroShotConfig(seed=seed, amp=amp, **{k: v for k, v in tuned.items() if v is not None})
            if arch is not None:
                cfg.arch = arch.lower()
            if iterations is not None:
                # The warm-up keeps its share of the budget; 0 means pure pretrained inference.
                cfg.warmup = round(cfg.warmup * iterations / max(cfg.iterations, 1))
                cfg.iterations = iterations
            if warmup is not None:
                cfg.warmup = warmup
            opts.zeroshot = cfg
            opts.device = resolve_device(device)
            log.info("device: %s", opts.device)
        with _progress(quiet) as cb:
            res = run_fuse(pan, ms, out_path, opts, progress=cb)
        if report is not None:
            payload = {
                "output": str(res.output),
                "method": res.method,
                "ratio": res.ratio,
                "size": [res.height, res.width, res.bands],
                "seconds": res.seconds,
                "warnings": res.warnings,
                "notes": res.notes,
                **res.report,
            }
            report.write_text(json.dumps(payload, indent=2, default=str))
        if not quiet:
            err.print(
                f"wrote {res.output} ({res.width}x{res.height}x{res.bands}, {res.method}) "
                f"in {res.seconds['total']:.1f} s",
                highlight=False,
            )


@app.command()
def info(
    pan: Annotated[Path, typer.Argument(help="PAN raster.")],
    ms: Annotated[list[Path], typer.Argument(help="MS raster(s) in band order.")],
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Describe a PAN/MS pair and what `fuse` would do with it."""
    _setup_logging(False, verbose)
    with _errors(verbose):
        from .io import PairReader, summarize

        files = [("PAN", pan), *[("MS", m) for m in ms]]
        summaries = [(role, summarize(p, role)) for role, p in files]
        with PairReader(pan, ms, pan_band=pan_band, ratio=ratio) as reader:
            g = reader.grid
            plan = {
                "ratio": g.ratio,
                "measured_ratio": [round(x, 6) for x in g.measured_ratio],
                "output_size": [g.height, g.width],
                "output_bands": reader.n_bands,
                "pan_window": {
                    "row_off": g.row_off,
                    "col_off": g.col_off,
                    "height": g.height,
                    "width": g.width,
                },
                "ms_resampled": g.resample,
                "georeferenced": g.georeferenced,
                "output_transform": list(g.transform)[:6] if g.georeferenced else None,
                "crs": g.crs.to_string() if g.crs else None,
                "notes": g.notes,
                "warnings": g.warnings,
            }
        if json_out:
            payload = {"files": [{"role": r, **s.__dict__} for r, s in summaries], "fuse": plan}
            out.print_json(json.dumps(payload, default=str))
            return
        t = Table(title="Inputs")
        for col in (
            "role",
            "file",
            "size",
            "bands",
            "dtype",
            "CRS",
            "pixel size",
            "nodata",
            "values",
            "grid",
        ):
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
        out.print(t)
        p = Table(title="What fuse would do", show_header=False)
        p.add_column("key")
        p.add_column("value")
        p.add_row("ratio", f"{g.ratio} (measured {g.measured_ratio[0]:.4f} x {g.measured_ratio[1]:.4f})")
        p.add_row("output", f"{g.width}x{g.height} PAN pixels x {plan['output_bands']} bands")
        p.add_row(
            "PAN window",
            f"rows {g.row_off}..{g.row_off + g.height - 1}, cols {g.col_off}..{g.col_off + g.width - 1}",
        )
        p.add_row(
            "MS", "resampled onto the PAN-aligned grid (cubic)" if g.resample else "used as is (aligned)"
        )
        p.add_row("georeferencing", plan["crs"] or ("yes" if g.georeferenced else "none (array geometry)"))
        for n in g.notes:
            p.add_row("note", n)
        for w in g.warnings:
            p.add_row("[yellow]warning[/yellow]", w)
        out.print(p)


@app.command()
def sensors(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the sensor presets and their MTF gains."""
    from .sensors import list_sensors

    rows = list_sensors()
    if json_out:
        out.print_json(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "long_name": s.long_name,
                        "aliases": list(s.aliases),
                        "ratio": s.ratio,
                        "ms_gains": list(s.ms_gains),
                        "pan_gain": s.pan_gain,
                    }
                    for s in rows
                ]
            )
        )
        return
    t = Table(title="Sensor presets (Nyquist MTF gains)")
    for col in ("name", "sensor", "aliases", "ratio", "MS gains", "PAN gain"):
        t.add_column(col)
    for s in rows:
        t.add_row(
            s.name,
            s.long_name,
            ", ".join(s.aliases),
            str(s.ratio),
            " ".join(f"{g:g}" for g in s.ms_gains) + ("  (all bands)" if len(s.ms_gains) == 1 else ""),
            f"{s.pan_gain:g}",
        )
    out.print(t)


@app.command()
def simulate(
    pan: Annotated[Path, typer.Argument(help="PAN raster.")],
    ms_and_outdir: Annotated[
        list[Path], typer.Argument(metavar="MS... OUTDIR", help="MS raster(s), then the output directory.")
    ],
    sensor: SensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write the reduced-resolution (Wald protocol) pair and the reference: OUTDIR/{pan,ms,reference}.tif."""
    _setup_logging(quiet, verbose)
    if len(ms_and_outdir) < 2:
        raise typer.BadParameter("expected PAN MS [MS ...] OUTDIR", param_hint="MS... OUTDIR")
    *ms, outdir = ms_and_outdir
    with _errors(verbose):
        from .pipeline import simulate as run_sim

        with _progress(quiet) as cb:
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
            )
        for w in res.warnings:
            log.warning(w)
        if not quiet:
            err.print(f"wrote {res.pan}, {res.ms}, {res.reference} (ratio {res.ratio})", highlight=False)


@app.command()
def evaluate(
    pan: Annotated[Path, typer.Argument(help="PAN raster.")],
    ms_and_fused: Annotated[
        list[Path], typer.Argument(metavar="MS... FUSED", help="MS raster(s), then the fused raster.")
    ],
    reference: Annotated[
        Path | None, typer.Option(help="Reference MS on FUSED's grid: compute Q2n, Q, SAM, ERGAS, SCC, PSNR.")
    ] = None,
    sensor: SensorOpt = None,
    gains: GainsOpt = None,
    ratio: RatioOpt = None,
    pan_band: PanBandOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object keyed by index name.")
    ] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Quality indexes of a fusion: full resolution (no reference) or against --reference."""
    _setup_logging(quiet or json_out, verbose)
    if len(ms_and_fused) < 2:
        raise typer.BadParameter("expected PAN MS [MS ...] FUSED", param_hint="MS... FUSED")
    *ms, fused = ms_and_fused
    with _errors(verbose):
        from .pipeline import evaluate as run_eval

        with _progress(quiet or json_out) as cb:
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
            )
        if json_out:
            out.print(json.dumps(res), highlight=False, soft_wrap=True)
            return
        better = {
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
        }
        t = Table(
            title=f"Quality of {fused.name}"
            + (f" against {reference.name}" if reference else " (full resolution)")
        )
        t.add_column("index")
        t.add_column("value", justify="right")
        t.add_column("better")
        for k, v in res.items():
            t.add_row(k, f"{v:.4f}", better.get(k, ""))
        out.print(t)


@app.command()
def pretrain(
    images: Annotated[
        list[str],
        typer.Argument(help="Training images: folders, GeoTIFF/PNG/JPEG files, or skimage[:NAME] samples."),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="Weights file to write (.pt; a .json manifest beside it).")
    ],
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps.")] = 1000,
    batch: Annotated[int, typer.Option(min=1, help="Crops per step.")] = 8,
    crop: Annotated[int, typer.Option(min=16, help="Crop side in PAN pixels.")] = 64,
    ratios: Annotated[str, typer.Option(help="Comma-separated PAN/MS ratios to simulate.")] = "2,3,4",
    lr: Annotated[float, typer.Option(min=0.0, help="Peak Adam learning rate (cosine decay).")] = 1e-3,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same device, same weights).")] = 0,
    resume: Annotated[Path | None, typer.Option(help="Checkpoint to resume from.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Write checkpoints here (every 100 steps).")] = None,
    log_file: Annotated[Path | None, typer.Option("--log", help="TSV log of the loss per step.")] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Pretrain the fusion network on simulated data made from ordinary images (a prior for --weights)."""
    _setup_logging(quiet, verbose)
    try:
        ratio_list = tuple(int(x) for x in ratios.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(
            f"expected integers like 2,3,4, got {ratios!r}", param_hint="--ratios"
        ) from None
    if not ratio_list or min(ratio_list) < 2:
        raise typer.BadParameter("ratios must be integers >= 2", param_hint="--ratios")
    with _errors(verbose):
        from .io import check_output_path
        from .priors import pretrain as run_pretrain
        from .priors import save_weights

        check_output_path(out_path, [], overwrite)
        dev = resolve_device(device)
        with _progress(quiet) as cb:
            res = run_pretrain(
                images,
                steps=steps,
                batch=batch,
                crop=crop,
                ratios=ratio_list,
                lr=lr,
                device=dev,
                seed=seed,
                resume=resume,
                checkpoint=checkpoint,
                log=log_file,
                progress=lambda step, total, loss: cb("pretrain", step, total, {"loss": float(loss)}),
            )
        save_weights(out_path, res["net"], res["manifest"])
        if not quiet:
            err.print(
                f"wrote {out_path} ({res['steps_done']} steps, {res['seconds']:.0f} s)", highlight=False
            )


if __name__ == "__main__":  # pragma: no cover
    app()
