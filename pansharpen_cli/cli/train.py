"""``pansharpen pretrain IMAGES... --out my.pt``: make a prior for ``fuse --weights``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .app import Command, app, err, errors, progress_bars, setup_logging
from .options import DeviceOpt, OverwriteOpt, QuietOpt, SeedOpt, VerboseOpt


class PretrainMethod(str, Enum):
    """What ``pretrain`` makes weights for."""

    zeroshot = "zeroshot"
    crossdiff = "crossdiff"


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


ImagesArg = Annotated[
    list[str],
    typer.Argument(help="Training images: folders, GeoTIFF/PNG/JPEG files, or skimage[:NAME] samples."),
]
OutOpt = Annotated[
    Path,
    typer.Option("--out", "-o", metavar="PATH", help="Weights file to write (.pt; a .json manifest beside it)."),
]
MethodOpt = Annotated[
    PretrainMethod,
    typer.Option(
        metavar="NAME",
        help="zeroshot: a prior for -m zeroshot; crossdiff: the pretext UNets (--pretext-steps), then "
        "the fusion head (--steps), for -m crossdiff --weights.",
    ),
]
StepsOpt = Annotated[int, typer.Option(min=1, metavar="N", help="Optimisation steps (crossdiff: of the head).")]
PretextOpt = Annotated[int, typer.Option(min=0, metavar="N", help="crossdiff: steps of the pretext UNets (stage 1).")]
BatchOpt = Annotated[int, typer.Option(min=1, metavar="N", help="Crops per step.")]
CropOpt = Annotated[int, typer.Option(min=16, metavar="N", help="Crop side in PAN pixels.")]
RatiosOpt = Annotated[str, typer.Option(metavar="R,R,...", help="Comma-separated PAN/MS ratios to simulate.")]
LrOpt = Annotated[float, typer.Option(min=0.0, metavar="LR", help="Peak Adam learning rate (cosine decay).")]
ResumeOpt = Annotated[Path | None, typer.Option(metavar="PATH", help="Checkpoint to resume from.")]
CheckpointOpt = Annotated[Path | None, typer.Option(metavar="PATH", help="Write checkpoints here (every 100 steps).")]
LogOpt = Annotated[Path | None, typer.Option("--log", metavar="PATH", help="TSV log of the loss per step.")]
ArchOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="zeroshot: the network to pretrain (default: the default network, bandwise-resnet; "
        "bandwise-lite is --preset fast's). fuse builds the network its --weights file names.",
    ),
]


@app.command(cls=Command)
def pretrain(
    images: ImagesArg,
    out_path: OutOpt,
    method: MethodOpt = PretrainMethod.zeroshot,
    arch: ArchOpt = None,
    steps: StepsOpt = 1000,
    pretext_steps: PretextOpt = 1200,
    batch: BatchOpt = 8,
    crop: CropOpt = 64,
    ratios: RatiosOpt = "2,3,4",
    lr: LrOpt = 1e-3,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    resume: ResumeOpt = None,
    checkpoint: CheckpointOpt = None,
    log_file: LogOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Pretrain the fusion network on simulated data made from ordinary images (a prior for --weights).

    With --method crossdiff: the two pretext UNets by cross-predictive diffusion, then the fusion head on their frozen features (weights for fuse -m crossdiff --weights PATH).
    """
    setup_logging(quiet, verbose)
    ratio_list = _ratios(ratios)
    with errors(verbose):
        from ..base.device import resolve_device
        from ..base.errors import OptionError
        from ..pipeline.train import pretrain as run_pretrain
        from ..priors import PretrainConfig

        crossdiff = method is PretrainMethod.crossdiff
        if crossdiff and arch is not None and arch.lower() != "crossdiff":
            raise OptionError(f"--method crossdiff trains the crossdiff network, got --arch {arch}: drop --arch")
        net = "crossdiff" if crossdiff else arch
        cfg = PretrainConfig(steps=steps, batch=batch, crop=crop, ratios=ratio_list, lr=lr, seed=seed, arch=net)
        run = {"device": resolve_device(device), "resume": resume, "checkpoint": checkpoint, "log": log_file}
        with progress_bars(quiet) as cb:
            res = run_pretrain(
                images, out_path, cfg, overwrite=overwrite, progress=cb,
                pretext_steps=pretext_steps if crossdiff else None, **run,
            )
        if not quiet:
            err.print(f"wrote {out_path} ({res['steps_done']} steps, {res['seconds']:.0f} s)", highlight=False)
