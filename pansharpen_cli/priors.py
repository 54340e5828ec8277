"""Pretrained spatial-spectral priors: simulated training data, pretraining, weights files.

After Cui, Liu and Zeng's pretrained priors for zero-shot pansharpening (DESIGN.md section 4, "the
same probe with a prior"): a band-agnostic network is trained once on simulated (PAN, MS, reference)
triplets made from ordinary images, then used as the starting point of the per-scene optimisation
(:func:`pansharpen_cli.zeroshot.fit` with ``init_state``).

Three parts:

- Simulation (:class:`SimSettings`, :class:`TripletSampler`, :func:`iter_triplets`, :func:`batched`).
  From any image (PNG/JPEG, a GeoTIFF of any band count, a scikit-image sample, an array) a random
  crop becomes a reference of C bands (random convex mixes of the image's channels, or its raw
  bands), colour-jittered and optionally sharpened; the PAN is a random mix of a random subset of the
  reference bands plus noise; the MS is the reference low-passed by random per-band MTFs and
  decimated by :func:`pansharpen_cli.degradation.mtf_degrade` (the tool's own geometry) plus noise.
  Every draw comes from a numpy ``Generator``: the same seed gives the same stream.
- Pretraining (:func:`pretrain`): L1 between the network output and the reference, in the units of
  the per-sample normalisation that :mod:`pansharpen_cli.zeroshot` uses at inference (PAN by its
  mean/std, each MS band by the MS band's mean/std); Adam; resumable checkpoints; a loss log.
- Weights files (:func:`save_weights`, :func:`load_weights`, :func:`load_network`): a torch file
  ``{arch, config, state_dict}`` with a sidecar JSON manifest (how it was made, its sha256, licence,
  benchmark). Loading verifies the checksum, the architecture and a strict state-dict match, and
  raises :class:`~pansharpen_cli.errors.WeightsError` on any failure (never a silent fallback).

No printing: progress goes through callbacks, logs through :mod:`logging`.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy import ndimage

from . import __version__
from .degradation import kernel_half_width, mtf_degrade, mtf_filter
from .errors import InputFileError, OptionError, WeightsError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_WEIGHTS",
    "SKIMAGE_SAMPLES",
    "Batch",
    "ImageSource",
    "SimSettings",
    "Triplet",
    "TripletSampler",
    "Weights",
    "batched",
    "default_manifest_path",
    "iter_triplets",
    "load_network",
    "load_weights",
    "normalise",
    "pretrain",
    "resolve_sources",
    "save_weights",
    "sha256_file",
]

#: The shipped prior (inside the package, see pyproject ``package-data``).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "prior.pt"

#: scikit-image samples used by default (bundled with scikit-image, no download).
SKIMAGE_SAMPLES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "coins",
    "camera",
    "brick",
    "grass",
    "gravel",
)

#: Format version of weights files and manifests written by :func:`save_weights`.
WEIGHTS_FORMAT = 1

#: Larger GeoTIFFs are read through their central window of this side (memory stays bounded).
MAX_RASTER_SIDE = 4096
#: Nyquist gain of the MS MTF assumed when the network's per-band PAN detail and detail gains are
#: made in pretraining (the generic MS gain, as ``fuse`` uses for an unknown sensor; the simulated
#: bands' true gains vary from 0.15 to 0.45, as a real sensor's differ from its nominal values).
PRETRAIN_MS_GAIN = 0.3
_PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
_REDO = "re-download it or re-create it with `pansharpen pretrain`, or run with --weights none"

# ---------------------------------------------------------------------------------------------------
# image sources


def _scale01(arr: np.ndarray, valid: np.ndarray | None, lo_pct: float, hi_pct: float) -> np.ndarray:
    """(C, H, W) -> float32 in [0, 1] by the image's own percentiles (over all bands, valid pixels);
    invalid pixels are filled with the band medians."""
    a = np.asarray(arr, np.float32)
    vals = a[:, valid] if valid is not None else a.reshape(a.shape[0], -1)
    if vals.size == 0:
        raise OptionError("expected an image with valid pixels, got one that is all nodata")
    flat = vals.ravel()
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000 + 1]
    lo, hi = np.percentile(flat, [lo_pct, hi_pct])
    if not hi > lo:
        hi = lo + 1.0
    out = np.clip((a - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    if valid is not None and not valid.all():
        med = np.median(np.clip((vals - lo) / (hi - lo), 0.0, 1.0), axis=1)
        out[:, ~valid] = med[:, None]
    return out


class ImageSource:
    """One training image, loaded lazily and scaled to [0, 1] by its own percentiles.

    Args:
        name: label recorded in manifests (a path, ``skimage:NAME``, ...).
        loader: returns ``(array (C, H, W), valid (H, W) bool or None)`` in raw units.
        lo_pct, hi_pct: percentiles mapped to 0 and 1 (values outside are clipped).

    Use :func:`resolve_sources` to make them from paths, ``skimage:NAME`` strings or arrays.
    """

    def __init__(
        self,
        name: str,
        loader: Callable[[], tuple[np.ndarray, np.ndarray | None]],
        lo_pct: float = 0.5,
        hi_pct: float = 99.5,
    ) -> None:
        self.name = name
        self._loader = loader
        self.lo_pct, self.hi_pct = lo_pct, hi_pct

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Scaled ``(C, H, W) float32`` image in [0, 1] and its (H, W) valid mask (None: all valid)."""
        arr, valid = self._loader()
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or min(arr.shape) < 1:
            raise OptionError(
                f"expected a 2-D or (bands, rows, cols) image for {self.name}, got shape {arr.shape}"
            )
        if valid is not None and valid.all():
            valid = None
        return _scale01(arr, valid, self.lo_pct, self.hi_pct), valid

    def __repr__(self) -> str:
        return f"ImageSource({self.name!r})"


def _skimage_loader(name: str) -> Callable[[], tuple[np.ndarray, None]]:
    def load() -> tuple[np.ndarray, None]:
        import skimage.data

        fn = getattr(skimage.data, name, None)
        if fn is None or not callable(fn):
            raise OptionError(
                f"expected a scikit-image sample name (e.g. {', '.join(SKIMAGE_SAMPLES[:4])}), got {name!r}"
            )
        a = np.asarray(fn())
        if a.dtype == bool or a.ndim not in (2, 3):
            raise OptionError(f"expected a 2-D or colour scikit-image sample, got {name!r} shaped {a.shape}")
        if a.ndim == 3:
            if a.shape[-1] == 4:  # RGBA: drop alpha
                a = a[..., :3]
            a = np.moveaxis(a, -1, 0)
        return a, None

    return load


def _picture_loader(path: Path) -> Callable[[], tuple[np.ndarray, None]]:
    def load() -> tuple[np.ndarray, None]:
        import skimage.io

        a = np.asarray(skimage.io.imread(str(path)))
        if a.ndim == 3:
            if a.shape[-1] in (2, 4):  # grey+alpha, RGBA: drop alpha
                a = a[..., :-1]
            a = np.moveaxis(a, -1, 0)
        return a, None

    return load


def _raster_loader(path: Path) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
    def load() -> tuple[np.ndarray, np.ndarray | None]:
        from .io import read_training_raster

        return read_training_raster(path, MAX_RASTER_SIDE)

    return load


#: Suffixes of files taken from a folder given as a training source.
_RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img")


def _expand_dirs(specs: Iterable[Any]) -> Iterator[Any]:
    """Folders expand to the images and rasters they hold (sorted, not recursive)."""
    for s in specs:
        if isinstance(s, (str, os.PathLike)) and Path(s).is_dir():
            files = sorted(
                p
                for p in Path(s).iterdir()
                if p.is_file() and p.suffix.lower() in (*_PICTURE_SUFFIXES, *_RASTER_SUFFIXES)
            )
            if not files:
                raise InputFileError(f"training folder {str(s)!r} holds no images (.tif, .png, .jpg, ...)")
            yield from files
        else:
            yield s


def resolve_sources(specs: Iterable[str | os.PathLike | np.ndarray | ImageSource]) -> list[ImageSource]:
    """Turn source specifications into :class:`ImageSource` objects (nothing is read yet).

    Args:
        specs: each one of: a folder (its image and raster files, sorted); a path to a GeoTIFF (any band count, any dtype; nodata honoured) or a
            PNG/JPEG; ``"skimage:NAME"`` for a scikit-image sample (``"skimage"`` alone: all of
            :data:`SKIMAGE_SAMPLES`); a numpy array, 2-D or (bands, rows, cols); an ImageSource.

    Returns:
        The sources, in order.

    Raises:
        InputFileError: a path does not exist.
        OptionError: an unknown kind of specification, or no sources at all.
    """
    out: list[ImageSource] = []
    for k, s in enumerate(_expand_dirs(specs)):
        if isinstance(s, ImageSource):
            out.append(s)
        elif isinstance(s, np.ndarray):
            arr = s

            def load(arr: np.ndarray = arr) -> tuple[np.ndarray, None]:
                return arr, None

            out.append(ImageSource(f"array{k}{list(arr.shape)}", load))
        elif isinstance(s, str) and (s == "skimage" or s.startswith("skimage:")):
            names = SKIMAGE_SAMPLES if s == "skimage" else [s.split(":", 1)[1]]
            for n in names:
                out.append(ImageSource(f"skimage:{n}", _skimage_loader(n)))
        elif isinstance(s, (str, os.PathLike)):
            p = Path(s)
            if not p.is_file():
                raise InputFileError(f"expected an existing training image file, got {str(p)!r}")
            if p.suffix.lower() in _PICTURE_SUFFIXES:
                out.append(ImageSource(str(p), _picture_loader(p)))
            else:
                out.append(ImageSource(str(p), _raster_loader(p)))
        else:
            raise OptionError(
                f"expected a path, 'skimage:NAME', an array or an ImageSource, got {type(s).__name__}"
            )
    if not out:
        raise OptionError("expected at least one training image, got none")
    return out


class _Cache:
    """Least-recently-used cache of loaded images, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._d: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = (
            collections.OrderedDict()
        )
        self._bytes = 0

    def get(self, key: int, src: ImageSource) -> tuple[np.ndarray, np.ndarray | None]:
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        item = src.load()
        size = item[0].nbytes + (item[1].nbytes if item[1] is not None else 0)
        while self._d and self._bytes + size > self.max_bytes:
            _, old = self._d.popitem(last=False)
            self._bytes -= old[0].nbytes + (old[1].nbytes if old[1] is not None else 0)
        self._d[key] = item
        self._bytes += size
        return item


# ---------------------------------------------------------------------------------------------------
# simulation


@dataclass(frozen=True)
class SimSettings:
    """Settings of the simulated-data generator (all random draws are uniform unless said).

    Attributes:
        crop: side of the reference/PAN crop in fine pixels (rounded down to a multiple of the ratio).
        ratios: PAN/MS ratios to draw from.
        bands: (min, max) number of reference/MS bands, inclusive.
        zoom: range of the downscaling factor applied to the source window before cropping (<= 1:
            denser detail per pixel; clamped so the window fits the image).
        dirichlet_alpha: concentration of the Dirichlet weights mixing image channels into bands
            (small: bands close to single channels; large: bands close to the channel mean).
        p_raw_bands: probability of using a random subset of the image's own channels as bands
            (when it has enough), keeping real spectra.
        gain: range of the per-band gain (colour jitter).
        gamma: range of the per-band gamma exponent (colour jitter).
        p_sharpen: probability of a high-pass emphasis (unsharp mask) of the reference.
        sharpen_amount: range of the unsharp-mask amount.
        sharpen_sigma: range of the unsharp-mask Gaussian sigma, fine pixels.
        mtf_gain: range of the per-band Nyquist gain of the MS MTF.
        p_shift: probability that the MS (and the reference, which keeps the MS geometry) is
            shifted against the PAN, as real pairs stay misregistered after ``fuse`` has measured
            and removed their global shift (:mod:`registration`) ...
        max_shift: ... by up to this fraction of an MS pixel along each axis (the residual).
        p_pan_mtf: probability that the PAN is blurred by its own MTF against the reference ...
        pan_mtf: ... with a Nyquist gain (at the MS's Nyquist) in this range. Off by default:
            always on with (0.35, 1) it lifted the prior alone at ratios 2 and 3 but lowered it at
            ratio 4, and a quarter-budget adaptation from it did worse (docs/priors.md).
        pan_min_fraction: the PAN mixes a random subset of at least this fraction of the bands.
        p_pan_hidden: probability that part of the PAN is a band the MS does not have ...
        pan_hidden: ... with a weight in this range (the rest is the mix of MS bands) ...
        pan_hidden_foreign: ... made, with this probability, from another window of the image (detail
            the MS does not share), else from the same window through its own spectral mix, jitter
            and sharpening (a PAN response the MS bands do not span). Real PANs are far less
            predictable from their MS than a pure mix: the D_rho of the reduced-resolution
            reference against its PAN is 0.12 to 0.73 (mean 0.43) on the shared scenes, a pure mix
            gives a mean of 0.18 (median 0.13), the defaults 0.45 (``bench/sim_stats.py``).
        p_foreign: probability that a band outside the PAN's subset is mixed (30-100%) with a band
            made from another window of the image: detail the PAN does not predict.
        p_invert: probability that a band outside the PAN's subset is inverted (max - band): detail
            anti-correlated with the PAN (vegetation in NIR against a visible PAN).
        pan_noise: range of the PAN's Gaussian noise standard deviation (reference units).
        ms_noise: range of the MS's Gaussian noise standard deviation (reference units).
        min_valid: a crop is re-drawn (up to 20 times) until this fraction of its pixels is valid
            (images with nodata) ...
        min_std: ... and its standard deviation (all channels, [0, 1] units) is at least this
            (flat crops would blow up the per-band normalisation).
        cache_mb: memory for loaded source images (least recently used are dropped).
        scene_scale: after the per-sample normalisation, the sample is scaled by a factor drawn
            log-uniformly from this range (each band by that factor times 0.8 to 1.25) ...
        scene_offset: ... and offset by up to this much (the bands by the PAN's offset plus up to
            half of it): ``fuse`` normalises by the whole scene's statistics, under which a crop has
            less than unit spread and a mean away from 0, and the prior must see crops like that.
    """

    crop: int = 64
    ratios: tuple[int, ...] = (2, 3, 4)
    bands: tuple[int, int] = (3, 8)
    zoom: tuple[float, float] = (0.5, 1.0)
    dirichlet_alpha: float = 0.6
    p_raw_bands: float = 0.3
    gain: tuple[float, float] = (0.6, 1.0)
    gamma: tuple[float, float] = (0.7, 1.4)
    p_sharpen: float = 0.5
    sharpen_amount: tuple[float, float] = (0.2, 1.2)
    sharpen_sigma: tuple[float, float] = (0.7, 2.0)
    mtf_gain: tuple[float, float] = (0.15, 0.45)
    p_shift: float = 0.5
    max_shift: float = 0.1
    pan_min_fraction: float = 0.5
    p_pan_mtf: float = 0.0
    pan_mtf: tuple[float, float] = (0.35, 0.99)
    p_pan_hidden: float = 1.0
    pan_hidden: tuple[float, float] = (0.15, 0.8)
    pan_hidden_foreign: float = 1.0
    p_foreign: float = 0.25
    p_invert: float = 0.1
    pan_noise: tuple[float, float] = (0.0, 0.01)
    ms_noise: tuple[float, float] = (0.0, 0.01)
    min_valid: float = 0.95
    min_std: float = 0.03
    cache_mb: int = 512
    scene_scale: tuple[float, float] = (0.25, 1.0)
    scene_offset: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratios", tuple(int(r) for r in self.ratios))
        object.__setattr__(self, "bands", tuple(int(b) for b in self.bands))
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        if not self.ratios or min(self.ratios) < 2:
            raise OptionError(f"expected ratios >= 2, got {self.ratios}")
        lo, hi = self.bands
        if not 1 <= lo <= hi:
            raise OptionError(f"expected a band range (min, max) with 1 <= min <= max, got {self.bands}")
        if self.crop < 2 * max(self.ratios):
            raise OptionError(
                f"expected crop >= {2 * max(self.ratios)} (twice the largest ratio), got {self.crop}"
            )
        g0, g1 = self.mtf_gain
        if not 0.0 < g0 <= g1 < 1.0:
            raise OptionError(f"expected MTF gains within (0, 1), got {self.mtf_gain}")
        if not (0.0 <= self.p_foreign and 0.0 <= self.p_invert and self.p_foreign + self.p_invert <= 1.0):
            raise OptionError(
                f"expected p_foreign, p_invert >= 0 with a sum <= 1, got {self.p_foreign}, {self.p_invert}"
            )
        z0, z1 = self.zoom
        if not 0.0 < z0 <= z1 <= 1.0:
            raise OptionError(f"expected a zoom range within (0, 1], got {self.zoom}")
        p0, p1 = self.pan_mtf
        if not (0.0 <= self.p_pan_mtf <= 1.0 and 0.0 < p0 <= p1 < 1.0):
            raise OptionError(
                f"expected p_pan_mtf in [0, 1] and PAN MTF gains within (0, 1), got {self.p_pan_mtf}, {self.pan_mtf}"
            )
        h0, h1 = self.pan_hidden
        if not (
            0.0 <= self.p_pan_hidden <= 1.0
            and 0.0 <= h0 <= h1 <= 1.0
            and 0.0 <= self.pan_hidden_foreign <= 1.0
        ):
            raise OptionError(
                "expected p_pan_hidden and pan_hidden_foreign in [0, 1] and a PAN hidden weight range within "
                f"[0, 1], got {self.p_pan_hidden}, {self.pan_hidden_foreign}, {self.pan_hidden}"
            )
        k0, k1 = self.scene_scale
        if not (0.0 < k0 <= k1 and self.scene_offset >= 0.0):
            raise OptionError(
                f"expected 0 < scene_scale min <= max and scene_offset >= 0, got {self.scene_scale}, {self.scene_offset}"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class Triplet(NamedTuple):
    """One simulated sample, float32 in about [0, 1].

    Attributes:
        pan: (1, H, W) PAN.
        ms: (C, H / ratio, W / ratio) MS.
        reference: (C, H, W) the MS the fusion should give back.
    """

    pan: np.ndarray
    ms: np.ndarray
    reference: np.ndarray

    @property
    def ratio(self) -> int:
        """PAN/MS ratio."""
        return self.pan.shape[-1] // self.ms.shape[-1]


def _u(rng: np.random.Generator, rng_: tuple[float, float], size: int | None = None):
    return rng.uniform(rng_[0], rng_[1], size)


class TripletSampler:
    """Draws simulated triplets from a set of images (loaded lazily, cached within ``cache_mb``).

    Args:
        sources: anything :func:`resolve_sources` accepts.
        settings: generator settings.
    """

    def __init__(self, sources: Sequence[Any], settings: SimSettings | None = None) -> None:
        self.sources = resolve_sources(sources)
        self.settings = settings or SimSettings()
        self._cache = _Cache(int(self.settings.cache_mb) * 2**20)

    @property
    def names(self) -> list[str]:
        """Names of the sources, in order."""
        return [s.name for s in self.sources]

    def crop_size(self, ratio: int) -> int:
        """Fine-pixel crop side for ``ratio`` (``crop`` rounded down to a multiple of it)."""
        return (self.settings.crop // ratio) * ratio

    def sample(
        self, rng: np.random.Generator, *, bands: int | None = None, ratio: int | None = None
    ) -> Triplet:
        """One triplet; ``bands`` and ``ratio`` are drawn from the settings when None.

        Args:
            rng: the numpy generator all draws come from.
            bands: number of MS bands C.
            ratio: PAN/MS ratio r.

        Returns:
            A :class:`Triplet`: pan (1, H, W), ms (C, H/r, W/r), reference (C, H, W), float32,
            ``H = W = crop_size(r)``.
        """
        st = self.settings
        r = int(ratio) if ratio is not None else int(rng.choice(st.ratios))
        c = int(bands) if bands is not None else int(rng.integers(st.bands[0], st.bands[1] + 1))
        size = self.crop_size(r)
        idx = int(rng.integers(len(self.sources)))
        img, valid = self._cache.get(idx, self.sources[idx])
        src, margin = self._window(img, valid, size, r, rng, self.sources[idx].name)
        ref = self._spectra(src, c, rng)
        # PAN: a random mix of a random subset of the reference bands, plus noise
        k = int(rng.integers(max(1, math.ceil(st.pan_min_fraction * c)), c + 1))
        subset = rng.permutation(c)[:k]
        w = rng.dirichlet(np.ones(k))
        # bands outside the PAN's subset: some made (partly) unrelated to the PAN, some inverted,
        # as NIR/SWIR are to a visible PAN, so that the detail gains span ~0 and negative values
        for band in sorted(set(range(c)) - {int(v) for v in subset}):
            u = rng.random()
            if u < st.p_foreign:
                other, _ = self._window(img, valid, size, r, rng, self.sources[idx].name)
                a = float(rng.uniform(0.0, 0.7))
                ref[band] = a * ref[band] + (1.0 - a) * self._spectra(other, 1, rng)[0]
            elif u < st.p_foreign + st.p_invert:
                ref[band] = float(ref[band].max()) - ref[band]
        inner = ref[:, margin : margin + size, margin : margin + size]
        # PAN: blurred against the reference by its own MTF (the PAN of a reduced-resolution pair is
        # the PAN degraded with the PAN's MTF, less sharp than the MS it has to predict)
        if st.p_pan_mtf > 0 and rng.random() < st.p_pan_mtf:
            pan = np.tensordot(w, ref[subset], axes=1)[None]
            pan = mtf_filter(pan, [float(_u(rng, st.pan_mtf))], r)[
                :, margin : margin + size, margin : margin + size
            ]
        else:
            pan = np.tensordot(w, inner[subset], axes=1)[None]
        if st.p_pan_hidden > 0 and rng.random() < st.p_pan_hidden:
            # part of the PAN is a band the MS lacks: its detail is not the MS bands' detail
            beta = float(_u(rng, st.pan_hidden))
            other = src
            if rng.random() < st.pan_hidden_foreign:
                other, _ = self._window(img, valid, size, r, rng, self.sources[idx].name)
            hidden = self._spectra(other, 1, rng)[:, margin : margin + size, margin : margin + size]
            pan = (1.0 - beta) * pan + beta * hidden
        pan = pan + _u(rng, st.pan_noise) * rng.standard_normal(pan.shape)
        # MS: per-band MTF and decimation with the tool's geometry, plus noise
        # MS misregistered against the PAN (real pairs are off by a fraction of an MS pixel): the
        # MS, and the reference that keeps the MS geometry as in the Wald protocol, are shifted
        if rng.random() < st.p_shift:
            dy, dx = rng.uniform(-st.max_shift, st.max_shift, 2) * r
            ref = np.clip(ndimage.shift(ref, (0.0, dy, dx), order=3, mode="reflect"), 0.0, 1.5).astype(
                np.float32
            )
            inner = ref[:, margin : margin + size, margin : margin + size]
        gains = _u(rng, st.mtf_gain, c)
        ms = mtf_degrade(ref, list(gains), r)
        m = margin // r
        ms = ms[:, m : m + size // r, m : m + size // r]
        ms = ms + _u(rng, st.ms_noise) * rng.standard_normal(ms.shape)
        return Triplet(pan.astype(np.float32), ms.astype(np.float32), np.ascontiguousarray(inner, np.float32))

    def _window(
        self,
        img: np.ndarray,
        valid: np.ndarray | None,
        size: int,
        r: int,
        rng: np.random.Generator,
        name: str,
    ) -> tuple[np.ndarray, int]:
        """A randomly placed, zoomed, flipped and rotated (S, size + 2m, size + 2m) window; m is the
        margin (in fine pixels, a multiple of r) that lets the MTF see real context at the crop edge."""
        st = self.settings
        _, h, w = img.shape
        avail = min(h, w)
        if avail < size:
            raise OptionError(
                f"expected training images of at least {size}x{size} pixels, got {name} of {w}x{h}: "
                "use a smaller crop or drop the image"
            )
        margin = kernel_half_width(r) if size + 2 * kernel_half_width(r) <= avail else 0
        need = size + 2 * margin
        zmin = need / avail
        zoom = float(rng.uniform(max(st.zoom[0], zmin), max(st.zoom[1], zmin)))
        side = min(avail, int(round(need / zoom)))
        for _ in range(20):
            i = int(rng.integers(h - side + 1))
            j = int(rng.integers(w - side + 1))
            ok_valid = valid is None or valid[i : i + side, j : j + side].mean() >= st.min_valid
            if ok_valid and img[:, i : i + side : 2, j : j + side : 2].std() >= st.min_std:
                break
        win = img[:, i : i + side, j : j + side]
        if side != need:
            # antialiased area-like downscale: Gaussian prefilter then linear resampling
            f = side / need
            sig = max(0.0, (f - 1.0) / 2.0)
            if sig > 0:
                win = ndimage.gaussian_filter(win, (0, sig, sig), mode="reflect")
            coords = (np.arange(need) + 0.5) * f - 0.5
            rr, cc = np.meshgrid(coords, coords, indexing="ij")
            win = np.stack([ndimage.map_coordinates(b, [rr, cc], order=1, mode="reflect") for b in win])
        if rng.random() < 0.5:
            win = win[:, :, ::-1]
        if rng.random() < 0.5:
            win = win[:, ::-1, :]
        win = np.rot90(win, int(rng.integers(4)), axes=(1, 2))
        return np.ascontiguousarray(win, np.float32), margin

    def _spectra(self, src: np.ndarray, c: int, rng: np.random.Generator) -> np.ndarray:
        """(S, h, w) image channels -> (C, h, w) reference bands: shuffle, mix or pick, jitter, sharpen."""
        st = self.settings
        s = src.shape[0]
        src = src[rng.permutation(s)]
        if s >= c and rng.random() < st.p_raw_bands:
            ref = src[:c].astype(np.float64)
        else:
            wts = rng.dirichlet(np.full(s, st.dirichlet_alpha), size=c)  # (C, S), rows sum to 1
            ref = np.tensordot(wts, src, axes=1)
        gain = _u(rng, st.gain, c)[:, None, None]
        gamma = _u(rng, st.gamma, c)[:, None, None]
        ref = gain * np.clip(ref, 0.0, 1.0) ** gamma
        if rng.random() < st.p_sharpen:
            sig = float(_u(rng, st.sharpen_sigma))
            amount = float(_u(rng, st.sharpen_amount))
            low = ndimage.gaussian_filter(ref, (0, sig, sig), mode="reflect")
            ref = ref + amount * (ref - low)
        return np.clip(ref, 0.0, 1.5).astype(np.float32)


def iter_triplets(
    sources: Sequence[Any],
    *,
    seed: int,
    crop: int = 64,
    ratios: Sequence[int] = (2, 3, 4),
    bands: tuple[int, int] = (3, 8),
    **settings: Any,
) -> Iterator[Triplet]:
    """Endless stream of simulated triplets, deterministic given ``seed``.

    Args:
        sources: paths, ``skimage:NAME`` strings, arrays or :class:`ImageSource` objects
            (see :func:`resolve_sources`); read lazily.
        seed: seed of the numpy generator every draw comes from.
        crop: fine-pixel crop side (rounded down to a multiple of each sample's ratio).
        ratios: ratios to draw from.
        bands: (min, max) band count, inclusive.
        **settings: other :class:`SimSettings` fields.

    Yields:
        :class:`Triplet` (pan (1, H, W), ms (C, H/r, W/r), reference (C, H, W)), float32.
    """
    sampler = TripletSampler(
        sources, SimSettings(crop=crop, ratios=tuple(ratios), bands=tuple(bands), **settings)
    )
    rng = np.random.default_rng(seed)
    while True:
        yield sampler.sample(rng)


class Batch(NamedTuple):
    """Equal-shaped triplets stacked as float32 tensors (CPU).

    Attributes:
        pan: (N, 1, H, W).
        ms: (N, C, H / ratio, W / ratio).
        reference: (N, C, H, W).
        ratio: PAN/MS ratio.
    """

    pan: torch.Tensor
    ms: torch.Tensor
    reference: torch.Tensor
    ratio: int


def _stack(items: Sequence[Triplet]) -> Batch:
    return Batch(
        torch.from_numpy(np.stack([t.pan for t in items])),
        torch.from_numpy(np.stack([t.ms for t in items])),
        torch.from_numpy(np.stack([t.reference for t in items])),
        items[0].ratio,
    )


def batched(triplets: Iterable[Triplet], batch: int) -> Iterator[Batch]:
    """Group triplets of equal (bands, ratio, size) into batches of ``batch`` tensors.

    Triplets wait in one buffer per shape until it holds ``batch`` of them (memory: at most
    ``batch - 1`` triplets per shape); the order of the batches follows the stream deterministically.
    Partial buffers at the end of a finite stream are dropped.

    Args:
        triplets: any iterable of :class:`Triplet`.
        batch: triplets per batch, >= 1.

    Yields:
        :class:`Batch`.
    """
    if batch < 1:
        raise OptionError(f"expected batch >= 1, got {batch}")
    buffers: dict[tuple[int, ...], list[Triplet]] = {}
    for t in triplets:
        key = (*t.reference.shape, *t.ms.shape)
        buf = buffers.setdefault(key, [])
        buf.append(t)
        if len(buf) == batch:
            yield _stack(buf)
            buffers[key] = []


def normalise(batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample normalisation of a batch, the convention of :mod:`pansharpen_cli.zeroshot`.

    The PAN by its own mean/std; the MS, its upsampling and the reference by the MS's per-band
    mean/std (statistics from ``zeroshot._stats``: float64 mean, population std, 1 where it is 0).

    Returns:
        ``(pan_n (N,1,H,W), ms_n (N,C,h,w), ref_n (N,C,H,W), mean (N,C,1,1), std (N,C,1,1))``.
    """
    from .zeroshot import _stats

    pan, ms = batch.pan.numpy(), batch.ms.numpy()
    n, c = ms.shape[:2]
    pstat = np.array([_stats(pan[i, 0], np.ones(pan.shape[-2:], bool)) for i in range(n)])  # (N, 2)
    allv = np.ones(ms.shape[-2:], bool)
    mstat = np.array([[_stats(ms[i, b], allv) for b in range(c)] for i in range(n)])  # (N, C, 2)
    pm = torch.as_tensor(pstat[:, 0], dtype=torch.float32).view(n, 1, 1, 1)
    ps = torch.as_tensor(pstat[:, 1], dtype=torch.float32).view(n, 1, 1, 1)
    mm = torch.as_tensor(mstat[..., 0], dtype=torch.float32).view(n, c, 1, 1)
    mstd = torch.as_tensor(mstat[..., 1], dtype=torch.float32).view(n, c, 1, 1)
    return (batch.pan - pm) / ps, (batch.ms - mm) / mstd, (batch.reference - mm) / mstd, mm, mstd


# ---------------------------------------------------------------------------------------------------
# pretraining

ProgressFn = Callable[[int, int, float], None]


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise OptionError(f"expected a device such as cpu, cuda or cuda:0, got {device!r}") from e


def _batch_for_step(sampler: TripletSampler, seed: int, step: int, batch: int) -> Batch:
    """The training batch of ``step``: a pure function of (seed, step), so resuming is exact."""
    rng = np.random.default_rng([int(seed), int(step)])
    st = sampler.settings
    r = int(rng.choice(st.ratios))
    c = int(rng.integers(st.bands[0], st.bands[1] + 1))
    return _stack([sampler.sample(rng, bands=c, ratio=r) for _ in range(batch)])


def scene_jitter(
    pan_n: torch.Tensor, ms_n: torch.Tensor, ref_n: torch.Tensor, sim: SimSettings, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample scale and offset of normalised (PAN, MS, reference), see ``SimSettings.scene_scale``.

    The MS and its reference get the same per-band transform, so the reference stays the MS's.
    """
    n, c = ms_n.shape[:2]
    lo, hi = sim.scene_scale
    k = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    kb = k[:, None] * np.exp(rng.uniform(np.log(0.8), np.log(1.25), (n, c)))
    op = rng.uniform(-sim.scene_offset, sim.scene_offset, n)
    ob = op[:, None] + rng.uniform(-0.5, 0.5, (n, c)) * sim.scene_offset

    def t(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(a, dtype=like.dtype, device=like.device).view(n, -1, 1, 1)

    kp, opp, kbt, obt = t(k, pan_n), t(op, pan_n), t(kb, ms_n), t(ob, ms_n)
    return pan_n * kp + opp, ms_n * kbt + obt, ref_n * kbt + obt


def _lr_at(lr: float, step: int, steps: int, cosine: bool) -> float:
    if not cosine or steps <= 1:
        return lr
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * step / steps)))


def pretrain(
    sources: Sequence[Any],
    *,
    arch: str | None = None,
    config: dict[str, Any] | None = None,
    steps: int = 1000,
    batch: int = 8,
    crop: int = 64,
    ratios: Sequence[int] = (2, 3, 4),
    bands: tuple[int, int] = (3, 8),
    lr: float = 1e-3,
    cosine: bool = True,
    device: str | torch.device = "cpu",
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    resume: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    max_seconds: float | None = None,
    progress: ProgressFn | None = None,
    log: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Pretrain a registry network on simulated triplets (L1 on the normalised reference, Adam).

    Every step's batch is drawn by a generator seeded with ``(seed, step)`` (one band count and one
    ratio per batch), so a run resumed from a checkpoint continues exactly as an uninterrupted one.

    Args:
        sources: training images (see :func:`resolve_sources`).
        arch: network architecture (default ``networks.DEFAULT_ARCH``).
        config: network constructor kwargs (default: its defaults).
        steps: total optimisation steps (including those of a resumed run).
        batch: crops per step.
        crop: fine-pixel crop side.
        ratios: PAN/MS ratios to train on.
        bands: (min, max) MS band counts to train on.
        lr: Adam learning rate (peak; cosine decay to 10% when ``cosine``).
        cosine: cosine learning-rate decay over ``steps``.
        device: ``cpu``, ``cuda``, ``cuda:N``, ``auto`` or a torch.device.
        seed: seeds the network initialisation and every batch.
        settings: other :class:`SimSettings` fields.
        resume: a checkpoint written by a previous call with the same settings.
        checkpoint: where to write checkpoints (atomically) every ``checkpoint_every`` steps and at
            the end; None: no checkpoints.
        checkpoint_every: steps between checkpoints.
        max_seconds: stop early (after a checkpoint) once this much time has passed in this call.
        progress: ``progress(step, steps, loss)`` after every step (step counts from 1).
        log: a TSV file that gets one line per step: step, loss, identity loss (the upsampled MS
            against the reference, the untrained network's loss), learning rate, seconds.

    Returns:
        dict with ``net`` (the trained module, CPU, eval mode), ``arch``, ``config``, ``state_dict``,
        ``steps_done``, ``losses`` (list of ``(step, loss, identity_loss)``), ``seconds`` and
        ``manifest`` (training facts for :func:`save_weights`).

    Raises:
        OptionError: invalid settings, or a resume checkpoint made with different settings.
        WeightsError: a resume checkpoint that cannot be read.
    """
    from . import networks
    from .torch_ops import detail_inputs, upsample_t

    arch = (arch or networks.DEFAULT_ARCH).lower()
    if arch not in networks.available():
        raise OptionError(f"expected a network architecture among {networks.available()}, got {arch!r}")
    if steps < 0 or batch < 1 or checkpoint_every < 1 or lr <= 0:
        raise OptionError(
            f"expected steps >= 0, batch >= 1, checkpoint_every >= 1, lr > 0; got {steps}, {batch}, {checkpoint_every}, {lr}"
        )
    sim = SimSettings(crop=crop, ratios=tuple(ratios), bands=tuple(bands), **(settings or {}))
    sampler = TripletSampler(sources, sim)
    dev = _resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            net = networks.build(arch, **(config or {}))
        except (TypeError, ValueError) as e:
            raise OptionError(f"expected valid settings for network {arch!r}, got {config}: {e}") from e
    net_config = dict(net.config)
    identity = {
        "arch": arch,
        "config": net_config,
        "steps": int(steps),
        "batch": int(batch),
        "lr": float(lr),
        "cosine": bool(cosine),
        "seed": int(seed),
        "generator": sim.as_dict(),
        "images": sampler.names,
    }
    net.to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start = 0
    losses: list[tuple[int, float, float]] = []
    seconds_before = 0.0
    if resume is not None:
        ck = _read_checkpoint(resume)
        diff = [k for k in identity if k != "steps" and ck["identity"].get(k) != identity[k]]
        if diff:
            raise OptionError(
                f"expected the settings of checkpoint {resume} to resume it, got different {', '.join(diff)}: "
                "pass the same settings or start without --resume"
            )
        net.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        start = int(ck["step"])
        losses = [tuple(x) for x in ck["losses"]]
        seconds_before = float(ck.get("seconds", 0.0))
    log_file = None
    if log is not None:
        new = resume is None or not Path(log).exists()
        log_file = open(log, "w" if new else "a", encoding="utf-8")  # noqa: SIM115
        if new:
            log_file.write("step\tloss\tidentity_loss\tlr\tseconds\n")
    t0 = time.perf_counter()
    step = start

    def save_ck() -> None:
        if checkpoint is not None:
            _write_checkpoint(
                checkpoint,
                {
                    "kind": "pansharpen-pretrain-checkpoint",
                    "identity": identity,
                    "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "losses": losses,
                    "seconds": seconds_before + time.perf_counter() - t0,
                },
            )

    try:
        while step < steps:
            b = _batch_for_step(sampler, seed, step, batch)
            pan_n, ms_n, ref_n, _, _ = normalise(b)
            pan_n, ms_n, ref_n = scene_jitter(pan_n, ms_n, ref_n, sim, np.random.default_rng((seed, step, 7)))
            pan_n, ms_n, ref_n = pan_n.to(dev), ms_n.to(dev), ref_n.to(dev)
            with torch.no_grad():
                ms_up = upsample_t(ms_n, b.ratio)
                ident = float((ms_up - ref_n).abs().mean())
                det, dg = detail_inputs(pan_n, ms_n, [PRETRAIN_MS_GAIN] * ms_n.shape[1], b.ratio)
            cur_lr = _lr_at(lr, step, steps, cosine)
            for g in opt.param_groups:
                g["lr"] = cur_lr
            out = net(pan_n, ms_up, det, dg)
            loss = (out - ref_n).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            lv = float(loss.detach())
            losses.append((step, lv, ident))
            elapsed = time.perf_counter() - t0
            if log_file is not None:
                log_file.write(
                    f"{step}\t{lv:.6f}\t{ident:.6f}\t{cur_lr:.3g}\t{seconds_before + elapsed:.1f}\n"
                )
                log_file.flush()
            if progress is not None:
                progress(step, steps, lv)
            if step % checkpoint_every == 0 and step < steps:
                save_ck()
            if max_seconds is not None and elapsed >= max_seconds:
                logger.info(
                    "pretraining stopped at step %d of %d after %.0f s (max_seconds)", step, steps, elapsed
                )
                break
        save_ck()
    finally:
        if log_file is not None:
            log_file.close()
    net.cpu().eval()
    seconds = seconds_before + time.perf_counter() - t0
    tail = losses[-min(len(losses), 50) :]
    manifest = {
        "bands": list(sim.bands),
        "ratios": list(sim.ratios),
        "training": {
            "images": sampler.names,
            "steps": step,
            "steps_planned": int(steps),
            "batch": int(batch),
            "crop": int(crop),
            "lr": float(lr),
            "lr_schedule": "cosine to 10%" if cosine else "constant",
            "optimizer": "Adam",
            "loss": "L1 on the reference, normalised per sample (PAN mean/std, MS per-band mean/std)",
            "seed": int(seed),
            "seconds": round(seconds, 1),
            "device": str(dev),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "pansharpen": __version__,
            "final_loss_mean_last_50": float(np.mean([x[1] for x in tail])) if tail else None,
            "identity_loss_mean_last_50": float(np.mean([x[2] for x in tail])) if tail else None,
        },
        "generator": sim.as_dict(),
    }
    return {
        "net": net,
        "arch": arch,
        "config": net_config,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "steps_done": step,
        "losses": losses,
        "seconds": seconds,
        "manifest": manifest,
    }


def _write_checkpoint(path: str | os.PathLike, obj: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, p)


def _read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"expected a pretraining checkpoint at {p}, got no such file")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many kinds)
        raise WeightsError(
            f"cannot read checkpoint {p} ({type(e).__name__}: {e}); start without --resume"
        ) from e
    if not isinstance(ck, dict) or ck.get("kind") != "pansharpen-pretrain-checkpoint":
        raise WeightsError(f"expected a pretraining checkpoint in {p}, got another kind of file")
    return ck


# ---------------------------------------------------------------------------------------------------
# weights files


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_manifest_path(path: str | os.PathLike) -> Path:
    """The sidecar manifest of a weights file: ``NAME.json`` beside ``NAME.pt``."""
    return Path(path).with_suffix(".json")


def save_weights(
    path: str | os.PathLike, net: torch.nn.Module, manifest: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``{arch, config, state_dict}`` with torch.save and the sidecar ``NAME.json`` manifest.

    Args:
        path: the .pt file to write (its directory must exist); written atomically.
        net: a registry network (has ``arch`` and ``config``).
        manifest: facts to record (e.g. ``pretrain(...)["manifest"]``); ``arch``, ``config``,
            ``receptive_field``, ``parameters``, ``file``, ``bytes``, ``sha256`` and ``format`` are
            filled in here; ``licence`` and ``benchmark`` (null until measured) are kept if given.

    Returns:
        The manifest as written.
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise OptionError(f"expected an existing directory for the weights file, got {str(p.parent)!r}")
    arch = getattr(net, "arch", None)
    config = getattr(net, "config", None)
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise OptionError("expected a registry network with .arch and .config, got a module without them")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = p.with_name(p.name + ".tmp")
    torch.save({"arch": arch, "config": dict(config), "state_dict": state}, tmp)
    os.replace(tmp, p)
    man: dict[str, Any] = {
        "format": WEIGHTS_FORMAT,
        "arch": arch,
        "config": dict(config),
        "receptive_field": int(getattr(net, "receptive_field", -1)),
        "parameters": int(sum(v.numel() for v in net.parameters())),
    }
    man.update(manifest or {})
    man["arch"], man["config"] = arch, dict(config)
    man.setdefault("licence", None)
    man.setdefault("benchmark", None)
    man["file"] = p.name
    man["bytes"] = p.stat().st_size
    man["sha256"] = sha256_file(p)
    mp = default_manifest_path(p)
    tmp = mp.with_name(mp.name + ".tmp")
    tmp.write_text(json.dumps(man, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, mp)
    return man


class Weights(NamedTuple):
    """Loaded, verified weights.

    Attributes:
        state_dict: the network's state dict (CPU tensors).
        manifest: the sidecar manifest, or for a file without one a minimal dict; always holds
            ``arch`` and ``config`` (from the .pt file), ``path`` and ``verified`` (checksum checked).
    """

    state_dict: dict[str, torch.Tensor]
    manifest: dict[str, Any]

    @property
    def arch(self) -> str:
        return self.manifest["arch"]

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]


def load_weights(spec: str | os.PathLike | None, *, arch: str | None = None) -> Weights | None:
    """Load and verify a weights file.

    Args:
        spec: ``"default"`` (the shipped prior, :data:`DEFAULT_WEIGHTS`), ``"none"`` or None (no
            weights), or a path to a .pt written by :func:`save_weights` (its ``NAME.json`` manifest
            is optional for user files, but checked when present).
        arch: the architecture the caller will build; must match the file's (None: any).

    Returns:
        :class:`Weights` (``state_dict``, ``manifest``; unpacks as a pair), or None for ``"none"``.

    Raises:
        WeightsError: missing file or manifest, checksum mismatch, not a weights file, unknown
            architecture, wrong architecture, or a state dict that does not fit the network; the
            message says what to do.
    """
    from . import networks

    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        return None
    shipped = isinstance(spec, str) and spec.strip().lower() == "default"
    p = DEFAULT_WEIGHTS if shipped else Path(spec)
    what = f"the shipped prior {p}" if shipped else f"weights file {str(p)!r}"
    if not p.is_file():
        if shipped:
            raise WeightsError(
                f"{what} is missing from this installation: reinstall pansharpen, re-create it with "
                "`python bench/pretrain.py` (or `pansharpen pretrain`), or run with --weights none"
            )
        raise WeightsError(
            f"expected an existing {what}, got no such file: check the path or run with --weights none"
        )
    mp = default_manifest_path(p)
    manifest: dict[str, Any] | None = None
    if mp.is_file():
        try:
            manifest = json.loads(mp.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise WeightsError(f"manifest {mp} of {what} is not valid JSON ({e}): {_REDO}") from e
        if not isinstance(manifest, dict):
            raise WeightsError(f"manifest {mp} of {what} is not a JSON object: {_REDO}")
    elif shipped:
        raise WeightsError(f"the manifest {mp} of {what} is missing: reinstall pansharpen, {_REDO}")
    verified = False
    if manifest is not None:
        want = manifest.get("sha256")
        if not isinstance(want, str):
            raise WeightsError(f"manifest {mp} of {what} has no sha256: {_REDO}")
        got = sha256_file(p)
        if got != want:
            raise WeightsError(
                f"{what} is corrupted or was modified: its sha256 {got[:12]}... differs from the manifest's "
                f"{want[:12]}...; {_REDO}"
            )
        verified = True
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many kinds)
        raise WeightsError(
            f"{what} is not a readable torch weights file ({type(e).__name__}): {_REDO}"
        ) from e
    if not isinstance(obj, dict) or not {"arch", "config", "state_dict"} <= set(obj):
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise WeightsError(
            f"expected {what} to hold a dict with arch, config and state_dict, got {keys}: "
            f"make it with `pansharpen pretrain` (or priors.save_weights), or run with --weights none"
        )
    f_arch, f_config, state = obj["arch"], obj["config"], obj["state_dict"]
    if not isinstance(f_arch, str) or not isinstance(f_config, dict) or not isinstance(state, dict):
        raise WeightsError(f"{what} has malformed arch/config/state_dict entries: {_REDO}")
    if f_arch.lower() not in networks.available():
        raise WeightsError(
            f"{what} is for network architecture {f_arch!r}, which this version of pansharpen does not know "
            f"(known: {', '.join(networks.available())}): use weights made by this version "
            "(`pansharpen pretrain`) or run with --weights none"
        )
    if manifest is not None and str(manifest.get("arch", f_arch)).lower() != f_arch.lower():
        raise WeightsError(
            f"{what} holds arch {f_arch!r} but its manifest says {manifest.get('arch')!r}: {_REDO}"
        )
    if arch is not None and arch.lower() != f_arch.lower():
        raise WeightsError(
            f"{what} is for network architecture {f_arch!r}, but {arch!r} was asked for: use weights made for "
            f"{arch!r} (`pansharpen pretrain --arch {arch}`), drop the architecture option, or run with --weights none"
        )
    try:
        net = networks.build(f_arch, **f_config)
    except (TypeError, ValueError) as e:
        raise WeightsError(
            f"{what} has a network config {f_config} that {f_arch!r} does not accept ({e}): {_REDO}"
        ) from e
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = "; ".join(s.strip() for s in first[1:4]) or first[0]
        raise WeightsError(
            f"{what} does not fit network {f_arch!r} {f_config} ({detail}): it was made by another version; {_REDO}"
        ) from e
    man = dict(manifest or {})
    man.update({"arch": f_arch.lower(), "config": dict(f_config), "path": str(p), "verified": verified})
    return Weights(state, man)


def load_network(
    spec: str | os.PathLike | None, *, arch: str | None = None, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]] | None:
    """:func:`load_weights`, then build the network with the weights (eval mode, on ``device``).

    Returns:
        ``(net, manifest)``, or None for ``"none"``.
    """
    from . import networks

    w = load_weights(spec, arch=arch)
    if w is None:
        return None
    net = networks.build(w.arch, **w.config)
    net.load_state_dict(w.state_dict, strict=True)
    return net.to(_resolve_device(device)).eval(), w.manifest
