"""How quality is measured: ``simulate`` writes the reduced-resolution (Wald protocol) pair of a
scene, ``evaluate`` streams the quality indexes of a fused file by tiles."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..base.errors import InputError, OptionError
from ..base.nodata import FILL_REACH, block_all, fill_invalid, joint_valid
from ..base.progress import Progress, no_progress
from ..base.sensors import Radiometry, parse_gains, resolve_gains
from ..base.tiling import Tile, plan_tiles
from ..io.raster import is_georeferenced, open_raster, read_filled
from ..io.reader import PairReader
from ..io.writer import OutputSpec, OutputWriter, to_dtype
from ..methods.stats import SceneStats
from ..metrics import ReferenceAccumulator
from ..metrics.coreg import CoregisteredAccumulator, Coregistration, estimate_coregistration
from ..physics.degradation import UPSAMPLE_HALO, mtf_degrade, upsample
from .common import in_gdal_env, output_nodata, radiometry, scene_stats
from .preflight import check_simulate

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Reduced-resolution simulation (Wald protocol)


@dataclass
class SimulateResult:
    """What :func:`simulate` wrote."""

    pan: Path
    ms: Path
    reference: Path
    ratio: int
    ms_gains: tuple[float, ...]
    pan_gain: float
    warnings: list[str]


def _simulate_specs(reader: PairReader, rad: Radiometry, paths: dict[str, Path]) -> dict[str, OutputSpec]:
    """The three outputs: the degraded PAN and MS on the coarser grids, and the reference (the MS)."""
    g, r = reader.grid, reader.grid.ratio
    h2, w2 = g.ms_height // r, g.ms_width // r
    georef = g.georeferenced
    t_ms = g.ms_transform if georef else None
    t_rr = g.coarse_transform(r) if georef else None
    nd, _ = output_nodata(reader, reader.ms_dtype)
    tags = {
        "PANSHARPEN_SIMULATED": "reduced-resolution (Wald protocol)",
        "PANSHARPEN_SENSOR": rad.sensor,
        "PANSHARPEN_RATIO": str(r),
        "PANSHARPEN_MS_GAINS": ",".join(f"{x:g}" for x in rad.ms_gains),
        "PANSHARPEN_PAN_GAIN": f"{rad.pan_gain:g}",
        "PANSHARPEN_VERSION": __version__,
    }
    desc, ci, msd = reader.band_descriptions(), reader.band_colorinterp(), reader.ms_dtype
    scaling, pan_sc = reader.band_scaling(), reader.pan_scaling()

    def spec(key, w, h, count, dtype, transform, nodata, d=(), c=(), sc=()):
        crs = g.crs if georef else None
        return OutputSpec(
            path=paths[key],
            width=w,
            height=h,
            count=count,
            dtype=dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
            descriptions=d,
            colorinterp=c,
            scaling=sc,
            tags=tags,
        )

    return {
        "pan": spec("pan", w2 * r, h2 * r, 1, reader.pan_dtype, t_ms, reader.pan_nodata, sc=[pan_sc]),
        "ms": spec("ms", w2, h2, reader.n_bands, msd, t_rr, nd, desc, ci, scaling),
        "reference": spec("reference", w2 * r, h2 * r, reader.n_bands, msd, t_ms, nd, desc, ci, scaling),
    }


def _simulate_tile(
    reader: PairReader,
    rad: Radiometry,
    t: Tile,
    writers: dict[str, OutputWriter],
    specs: dict[str, OutputSpec],
) -> None:
    """Degrade one tile of the coarser grid (with the halo both MTF kernels need, and the nodata
    fill's reach) and write it; nodata is filled as ``fuse`` fills it before the MTF filters."""
    r = reader.grid.ratio
    halo = 6 * r + r * math.ceil(FILL_REACH / r)  # MS pixels: both MTF kernels and the fill's reach
    d = reader.read_tile(Tile(t.row * r, t.col * r, t.height * r, t.width * r, halo))
    pan = fill_invalid(d["pan"], d["pan_valid"], None, FILL_REACH * r)
    ms = fill_invalid(d["ms"], d["ms_valid"], None, FILL_REACH)
    pan_rr = mtf_degrade(pan, [rad.pan_gain], r)[:, halo:-halo, halo:-halo]
    ms_rr = mtf_degrade(ms, rad.ms_gains, r)[:, halo // r : -halo // r, halo // r : -halo // r]
    ref = d["ms"][:, halo:-halo, halo:-halo]
    v_ms = d["ms_valid"][halo:-halo, halo:-halo]
    v_rr = block_all(v_ms, r)
    pv_rr = block_all(d["pan_valid"][halo * r : -halo * r, halo * r : -halo * r], r)
    s = specs
    writers["pan"].write(to_dtype(pan_rr, s["pan"].dtype, s["pan"].nodata, pv_rr), t.row * r, t.col * r)
    writers["ms"].write(to_dtype(ms_rr, s["ms"].dtype, s["ms"].nodata, v_rr), t.row, t.col)
    writers["reference"].write(
        to_dtype(ref, s["reference"].dtype, s["reference"].nodata, v_ms), t.row * r, t.col * r
    )


def _simulate_pair(
    reader: PairReader, rad: Radiometry, paths: dict[str, Path], tile: int, progress: Progress
) -> None:
    """Write the three outputs tile by tile; on any error (or Ctrl-C) none of them is left."""
    g, r = reader.grid, reader.grid.ratio
    h2, w2 = g.ms_height // r, g.ms_width // r
    if h2 < 8 or w2 < 8:
        raise InputError(
            f"the MS ({g.ms_width}x{g.ms_height} pixels) is too small to simulate at ratio {r}: need at "
            f"least {8 * r}x{8 * r} MS pixels"
        )
    specs = _simulate_specs(reader, rad, paths)
    tiles = plan_tiles(h2, w2, tile, 0)
    writers = {k: OutputWriter(s) for k, s in specs.items()}
    progress("simulate", 0, len(tiles), {})
    try:
        for i, t in enumerate(tiles):
            _simulate_tile(reader, rad, t, writers, specs)
            progress("simulate", i + 1, len(tiles), {})
        for w in writers.values():
            w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


@in_gdal_env
def simulate(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    sensor: str | None = None,
    gains: str | None = None,
    ratio: int | None = None,
    pan_band: int | None = None,
    overwrite: bool = False,
    tile: int = 128,
    progress: Progress = no_progress,
    assume_aligned: bool = False,
) -> SimulateResult:
    """Write the reduced-resolution pair ``pan.tif``, ``ms.tif`` and ``reference.tif`` into ``out_dir``.

    PAN and MS are degraded by their MTFs and decimated by the ratio; the reference is the MS on the
    working grid. All three are georeferenced on the coarser grids (when the inputs are) and keep the
    input dtypes (rounded and clipped). Processed by tiles.
    """
    paths = check_simulate(pan_path, ms_paths, out_dir, overwrite)  # before any read
    od = Path(out_dir)
    read = {"pan_band": pan_band, "ratio": ratio, "assume_aligned": assume_aligned}
    with PairReader(pan_path, ms_paths, **read) as reader:
        rad = radiometry(sensor, gains, reader.n_bands, pan_path, ms_paths, reader.grid.ratio)
        created = not od.exists()
        od.mkdir(parents=True, exist_ok=True)
        try:
            _simulate_pair(reader, rad, paths, tile, progress)
        except BaseException:
            if created and not any(od.iterdir()):
                od.rmdir()  # a failed run leaves nothing, not even the folder it made
            raise
    r = reader.grid.ratio
    return SimulateResult(
        paths["pan"], paths["ms"], paths["reference"], r, rad.ms_gains, rad.pan_gain, rad.warnings
    )


# ---------------------------------------------------------------------------------------------
# Quality indexes of a fused file


def _same_transform(a, b) -> bool:
    """Two geotransforms equal to a millionth of ``b``'s pixel."""
    return a.almost_equals(b, precision=1e-6 * abs(b.a))


def _check_reference(ref_ds, fused_ds, reference: str | Path) -> None:
    """Refuse a reference that is not on the fused image's grid: its size and band count, and,
    where both are georeferenced, its CRS and geotransform."""
    if (ref_ds.width, ref_ds.height, ref_ds.count) != (fused_ds.width, fused_ds.height, fused_ds.count):
        raise InputError(
            f"reference {reference} is {ref_ds.width}x{ref_ds.height}x{ref_ds.count} but the fused "
            f"image is {fused_ds.width}x{fused_ds.height}x{fused_ds.count}: they must share the grid"
        )
    if not (is_georeferenced(ref_ds) and is_georeferenced(fused_ds)):
        return
    t = fused_ds.transform
    if ref_ds.crs != fused_ds.crs or not _same_transform(ref_ds.transform, t):
        raise InputError(
            f"reference {reference} is not on the fused image's grid (CRS {ref_ds.crs} vs {fused_ds.crs}, "
            f"geotransform {tuple(ref_ds.transform)[:6]} vs {tuple(t)[:6]}): compare images of the same "
            "place, such as the reference.tif of `pansharpen simulate` and the fusion of its pair"
        )


def _check_fused(fused_ds, fused_path: str | Path, reader: PairReader) -> None:
    """Refuse a fused image that is not on the fusion grid of the pair."""
    g = reader.grid
    if (fused_ds.height, fused_ds.width, fused_ds.count) != (g.height, g.width, reader.n_bands):
        raise InputError(
            f"fused image {fused_path} is {fused_ds.width}x{fused_ds.height}x{fused_ds.count} but the "
            f"pair fuses to {g.width}x{g.height}x{reader.n_bands}: evaluate the output of "
            "`pansharpen fuse` of this pair"
        )
    if g.georeferenced and not _same_transform(fused_ds.transform, g.transform):
        raise InputError(
            f"fused image {fused_path} is not on the PAN grid of the fused region "
            f"({tuple(fused_ds.transform)[:6]} vs {tuple(g.transform)[:6]})"
        )


@dataclass
class _EvalRequest:
    """The arguments of :func:`evaluate`."""

    pan: str | Path
    ms: Sequence[str | Path]
    fused: str | Path
    reference: str | Path | None
    sensor: str | None
    gains: str | None
    ratio: int | None
    pan_band: int | None
    tile: int
    progress: Progress
    assume_aligned: bool = False
    ratio_tag: bool = False  # the ratio is FUSED's PANSHARPEN_RATIO tag, not --ratio

    def reader(self) -> PairReader:
        """The PAN/MS pair, opened."""
        try:
            aligned = self.assume_aligned
            return PairReader(self.pan, self.ms, pan_band=self.pan_band, ratio=self.ratio, assume_aligned=aligned)
        except InputError as exc:
            if not self.ratio_tag:
                raise
            raise InputError(
                f"{exc} (the ratio {self.ratio} is the PANSHARPEN_RATIO tag of {self.fused}: evaluate the "
                "output of `pansharpen fuse` of this pair, or pass --ratio)"
            ) from None


def _tagged_ratio(req: _EvalRequest, tags: dict[str, str]) -> None:
    """Without --ratio: the ratio fuse used, from FUSED's PANSHARPEN_RATIO tag (when it has one)."""
    text = tags.get("PANSHARPEN_RATIO", "")
    if req.ratio is None and text.isdigit():
        req.ratio, req.ratio_tag = int(text), True


def _tagged_radiometry(req: _EvalRequest, tags: dict[str, str], n_bands: int) -> Radiometry | None:
    """The radiometry fuse used, from FUSED's tags (PANSHARPEN_SENSOR, PANSHARPEN_MS_GAINS,
    PANSHARPEN_PAN_GAIN); None when --sensor or --gains is given or the tags are absent or do not fit."""
    ms, pan = tags.get("PANSHARPEN_MS_GAINS"), tags.get("PANSHARPEN_PAN_GAIN")
    if req.sensor is not None or req.gains is not None or not ms or not pan:
        return None
    name = Path(req.fused).name
    try:
        ms_gains, pan_gain = parse_gains(f"{ms};{pan}", n_bands)
    except OptionError as exc:
        log.warning("the MTF gains tagged in %s do not fit this pair (%s): not using them", name, exc)
        return None
    sensor = tags.get("PANSHARPEN_SENSOR", "generic")
    source = f"the tags of {name} (PANSHARPEN_SENSOR={sensor})"
    log.info("sensor %s, MTF gains and ratio from %s", sensor, source)
    return Radiometry(sensor, ms_gains, pan_gain or 0.0, [], source)


def _evaluate_open(req: _EvalRequest, fused_ds, ref_ds) -> dict:
    """The indexes, once the fused file (and the reference) are open."""
    tags = fused_ds.tags()
    _tagged_ratio(req, tags)
    if ref_ds is not None:
        with req.reader() as reader:
            _check_fused(fused_ds, req.fused, reader)
            r = reader.grid.ratio
        _check_reference(ref_ds, fused_ds, req.reference)
        return _evaluate_reference(fused_ds, ref_ds, r, req.tile, req.progress)
    with req.reader() as reader:
        _check_fused(fused_ds, req.fused, reader)
        g = reader.grid
        rad = _tagged_radiometry(req, tags, reader.n_bands) or radiometry(
            req.sensor, req.gains, reader.n_bands, req.pan, req.ms, g.ratio
        )
        for w in rad.warnings:
            log.warning(w)
        tiles = plan_tiles(g.ms_height, g.ms_width, req.tile, 0)
        stats = scene_stats(reader, rad, tiles)
        coreg = _coregistration(reader, fused_ds, rad, stats)
        return _evaluate_full(reader, fused_ds, rad, stats, coreg, tiles, req.progress)


@in_gdal_env
def evaluate(
    pan_path: str | Path,
    ms_paths: Sequence[str | Path],
    fused_path: str | Path,
    *,
    reference: str | Path | None = None,
    sensor: str | None = None,
    gains: str | None = None,
    ratio: int | None = None,
    pan_band: int | None = None,
    tile: int = 128,
    progress: Progress = no_progress,
    assume_aligned: bool = False,
) -> dict:
    """Quality indexes of a fused raster, streamed by tiles.

    Without ``reference``: the full-resolution indexes (D_lambda, D_s, QNR, D_lambda_K, HQNR, D_rho,
    R_Q2n) of FUSED against the PAN and MS, then the co-registered ones (D_lambda_K_coreg, R_Q2n_coreg,
    D_rho_coreg) and the shifts they remove (shift_ms_pixels, shift_pan_pixels: [dy, dx] lists; see
    :mod:`pansharpen_cli.metrics.coreg`), measured on a central window.
    With ``reference`` (a raster on FUSED's grid, e.g. the
    ``reference.tif`` of :func:`simulate`): Q2n, Q, SAM, ERGAS, SCC, PSNR of FUSED against it.
    With a reference, the indexes judge only where both the reference and FUSED hold data: the
    pixels (SAM, ERGAS, PSNR, SCC: the pixels whose 3x3 neighbourhood holds data), the 32x32 blocks
    of Q2n and windows of Q that hold no nodata (NaN when there is none). Without one, the pixels
    (and blocks) whose every filter reads data of the PAN, the MS and FUSED (``valid`` of
    :meth:`FullResolutionAccumulator.update`).

    Raises:
        InputError: FUSED (or the reference) is not on the fusion grid of the pair.
    """
    req = _EvalRequest(
        pan_path,
        ms_paths,
        fused_path,
        reference,
        sensor,
        gains,
        ratio,
        pan_band,
        tile,
        progress,
        assume_aligned,
    )
    fused_ds = open_raster(fused_path, "fused")
    ref_ds = open_raster(reference, "reference") if reference is not None else None
    try:
        return _evaluate_open(req, fused_ds, ref_ds)
    finally:
        fused_ds.close()
        if ref_ds is not None:
            ref_ds.close()


def _evaluate_reference(fused_ds, ref_ds, ratio: int, tile: int, progress: Progress) -> dict[str, float]:
    """Reduced-resolution indexes of the fused file against the reference, by tiles with halos."""
    h, w = fused_ds.height, fused_ds.width
    acc = ReferenceAccumulator(ratio, (h, w), masked=True)
    tiles = plan_tiles(h, w, max(tile * 4, 64), 0)
    progress("evaluate", 0, len(tiles), {})
    for i, t in enumerate(tiles):
        r0, r1 = max(0, t.row - acc.halo), min(h, t.row + t.height + acc.halo)
        c0, c1 = max(0, t.col - acc.halo), min(w, t.col + t.width + acc.halo)
        ref, ref_valid = read_filled(ref_ds, r0, c0, r1 - r0, c1 - c0)
        fused, fused_valid = read_filled(fused_ds, r0, c0, r1 - r0, c1 - c0)
        core = (t.row, t.col, t.height, t.width)
        acc.update(ref, fused, origin=(r0, c0), core=core, valid=ref_valid & fused_valid)
        progress("evaluate", i + 1, len(tiles), {})
    res = acc.result()
    if not acc.judged_pixels:
        raise InputError(
            "no pixel is valid in both the reference and FUSED (every one is nodata in one of them): "
            "check that the reference is the one simulated for this fusion"
        )
    return res


#: Side, in MS pixels, of the central window the co-registration shifts are measured on.
COREG_WINDOW = 256


def _coregistration(reader: PairReader, fused_ds, rad: Radiometry, stats: SceneStats) -> Coregistration:
    """The fused image's global shifts against the MS and the PAN, measured on a central window of
    at most COREG_WINDOW MS pixels a side (nodata filled with the band means, masked out)."""
    g, r = reader.grid, reader.grid.ratio
    h, w = min(g.ms_height, COREG_WINDOW), min(g.ms_width, COREG_WINDOW)
    row, col = (g.ms_height - h) // 2, (g.ms_width - w) // 2
    d = reader.read_tile(Tile(row, col, h, w, 0))
    fused, fused_valid = read_filled(fused_ds, row * r, col * r, h * r, w * r)
    valid = d["ms_valid"] & block_all(d["pan_valid"] & fused_valid, r)
    ms = fill_invalid(d["ms"], d["ms_valid"], stats.ms_mean)
    pan = fill_invalid(d["pan"], d["pan_valid"], np.array([stats.pan_mean]))
    coreg = estimate_coregistration(pan, ms, fused, r, rad.ms_gains, valid)
    for note in coreg.notes:
        log.warning(note)
    return coreg


def _evaluate_full(
    reader: PairReader,
    fused_ds,
    rad: Radiometry,
    stats: SceneStats,
    coreg: Coregistration,
    tiles: list[Tile],
    progress: Progress,
) -> dict:
    """Full-resolution indexes (plain and co-registered) of the fused file, by tiles with halos."""
    g, r = reader.grid, reader.grid.ratio
    acc = CoregisteredAccumulator(r, rad.ms_gains, (g.height, g.width), coreg, masked=True)
    hm = -(-acc.halo // r)  # halo in MS pixels
    pan_mean = np.array([stats.pan_mean])
    progress("evaluate", 0, len(tiles), {})
    for i, t in enumerate(tiles):
        e = hm + UPSAMPLE_HALO
        d = reader.read_tile(Tile(t.row, t.col, t.height, t.width, e))
        a0, a1 = max(0, t.row - hm), min(g.ms_height, t.row + t.height + hm)
        b0, b1 = max(0, t.col - hm), min(g.ms_width, t.col + t.width + hm)
        ra, rb = a0 - (t.row - e), a1 - (t.row - e)
        ca, cb = b0 - (t.col - e), b1 - (t.col - e)
        ms_full = fill_invalid(d["ms"], d["ms_valid"], stats.ms_mean)
        ms_up = upsample(ms_full, r)[:, ra * r : rb * r, ca * r : cb * r]
        ms = ms_full[:, ra:rb, ca:cb]
        pan = fill_invalid(d["pan"], d["pan_valid"], pan_mean)[:, ra * r : rb * r, ca * r : cb * r]
        fused, fused_valid = read_filled(fused_ds, a0 * r, b0 * r, (a1 - a0) * r, (b1 - b0) * r)
        valid = fused_valid & joint_valid(
            d["pan_valid"][ra * r : rb * r, ca * r : cb * r], d["ms_valid"][ra:rb, ca:cb], r
        )
        core = (t.row * r, t.col * r, t.height * r, t.width * r)
        acc.update(pan, ms_up, fused, ms, origin=(a0 * r, b0 * r), core=core, valid=valid)
        progress("evaluate", i + 1, len(tiles), {})
    return acc.result()
