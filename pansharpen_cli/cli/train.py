"""``pansharpen pretrain IMAGES... --out my.pt``: make a prior for ``fuse --weights``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import Command, app, err, errors, progress_bars, setup_logging
from .options import DeviceOpt, OverwriteOpt, QuietOpt, SeedOpt, VerboseOpt


def _ratios(text: str) -> tuple[int, ...]:
    try:
        ratio_list = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(
            f"expected integers like 2,3,4, got {text!r}", param_hint="--ratios"
        ) from None
    if not ratio_list or min(ratio_list) < 2:
        raise typer.BadParameter("ratios must be integers >= 2", param_hint="--ratios")
    return ratio_list


@app.command(cls=Command)
def pretrain(
    images: Annotated[
        list[str],
        typer.Argument(help="Training images: folders, GeoTIFF/PNG/JPEG files, or skimage[:NAME] samples."),
    ],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="PATH", help="Weights file to write (.pt; a .json manifest beside it)."
        ),
    ],
    steps: Annotated[int, typer.Option(min=1, metavar="N", help="Optimisation steps.")] = 1000,
    batch: Annotated[int, typer.Option(min=1, metavar="N", help="Crops per step.")] = 8,
    crop: Annotated[int, typer.Option(min=16, metavar="N", help="Crop side in PAN pixels.")] = 64,
    ratios: Annotated[
        str, typer.Option(metavar="R,R,...", help="Comma-separated PAN/MS ratios to simulate.")
    ] = "2,3,4",
    lr: Annotated[
        float, typer.Option(min=0.0, metavar="LR", help="Peak Adam learning rate (cosine decay).")
    ] = 1e-3,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    resume: Annotated[Path | None, typer.Option(metavar="PATH", help="Checkpoint to resume from.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Write checkpoints here (every 100 steps).")
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option("--log", metavar="PATH", help="TSV log of the loss per step.")
    ] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Pretrain the fusion network on simulated data made from ordinary images (a prior for --weights)."""
    setup_logging(quiet, verbose)
    ratio_list = _ratios(ratios)
    with errors(verbose):
        from ..base.device import resolve_device
        from ..pipeline.train import pretrain as run_pretrain
        from ..priors import PretrainConfig

        cfg = PretrainConfig(steps=steps, batch=batch, crop=crop, ratios=ratio_list, lr=lr, seed=seed)
        dev = resolve_device(device)
        with progress_bars(quiet) as cb:
            res = run_pretrain(
                images,
                out_path,
                cfg,
                device=dev,
                resume=resume,
                checkpoint=checkpoint,
                log=log_file,
                overwrite=overwrite,
                progress=cb,
            )
        if not quiet:
            err.print(
                f"wrote {out_path} ({res['steps_done']} steps, {res['seconds']:.0f} s)", highlight=False
            )
