"""``pansharpen visual FUSED OUT``: the 8-bit RGB display product (a COG with overviews)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..physics.display import (
    CODECS,
    DEFAULT_PERCENTILES,
    DEFAULT_QUALITY,
    NODATA_AS,
    STRETCHES,
    Stretch,
    parse_percentiles,
)
from .app import Command, app, err, errors, progress_bars, setup_logging
from .options import OverwriteOpt, QuietOpt, VerboseOpt

StretchName = Enum("StretchName", {n: n for n in STRETCHES}, type=str)
NodataAs = Enum("NodataAs", {n: n for n in NODATA_AS}, type=str)
Codec = Enum("Codec", {n: n for n in CODECS}, type=str)

FusedArg = Annotated[str, typer.Argument(metavar="FUSED", help="Fused raster (any band count and data type).")]
OutArg = Annotated[Path, typer.Argument(metavar="OUT", help="The display product: a COG, *.tif.")]
BandsOpt = Annotated[
    str | None,
    typer.Option(
        metavar="R,G,B",
        help="Red, green, blue band numbers (1-based, GDAL order), e.g. 5,3,2 for WorldView 8-band. "
        "Default: from the band descriptions or colours, else the PANSHARPEN_SENSOR tag's layout.",
    ),
]
StretchOpt = Annotated[
    StretchName,
    typer.Option(
        metavar="NAME",
        help="percentile: each band's LOW,HIGH percentiles -> 1 and 255; dra (dynamic-range "
        "adjustment): one stretch for all three, from their values pooled (colours stay balanced).",
    ),
]
PercentilesOpt = Annotated[
    str, typer.Option(metavar="LOW,HIGH", help="Percentiles of the valid pixels mapped to 1 and 255.")
]
GammaOpt = Annotated[float, typer.Option(metavar="G", help="Gamma after the stretch: v^(1/G); above 1 brightens.")]
NodataAsOpt = Annotated[
    NodataAs,
    typer.Option(
        "--nodata-as",
        metavar="mask|alpha",
        help="Nodata as an internal mask (works with every codec) or an alpha band (not with jpeg).",
    ),
]
CodecOpt = Annotated[
    Codec, typer.Option(metavar="CODEC", help="jpeg (YCbCr), webp, or lossless deflate or lzw.")
]
QualityOpt = Annotated[
    int | None, typer.Option(metavar="N", help=f"jpeg/webp quality, 1 to 100 (default {DEFAULT_QUALITY}).")
]


@app.command(cls=Command)
def visual(
    fused: FusedArg,
    out: OutArg,
    bands: BandsOpt = None,
    stretch: StretchOpt = StretchName("percentile"),
    percentiles: PercentilesOpt = ",".join(f"{p:g}" for p in DEFAULT_PERCENTILES),
    gamma: GammaOpt = 1.0,
    nodata_as: NodataAsOpt = NodataAs("mask"),
    compress: CodecOpt = Codec("jpeg"),
    quality: QualityOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write an 8-bit RGB display product of a fused file: stretched, a COG with overviews."""
    setup_logging(quiet, verbose)
    with errors(verbose):
        from ..pipeline.visual import VisualOptions
        from ..pipeline.visual import visual as run_visual

        low, high = parse_percentiles(percentiles)
        opts = VisualOptions(
            bands=bands,
            stretch=Stretch(stretch.value, low, high, gamma),
            nodata_as=nodata_as.value,
            compress=compress.value,
            quality=quality,
            overwrite=overwrite,
        )
        with progress_bars(quiet) as cb:
            res = run_visual(fused, out, opts, progress=cb)
        if not quiet:
            b = ",".join(map(str, res.roles.bands))
            text = f"wrote {res.path} (bands {b} from {res.roles.source}; {compress.value})"
            err.print(text, highlight=False, soft_wrap=True)
