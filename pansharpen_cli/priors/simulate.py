"""Simulated (PAN, MS, reference) training triplets from ordinary images.

From any image (a source object with ``.name`` and ``.load()``, such as
:class:`pansharpen_cli.io.sources.ImageSource`, or a numpy array) a random crop becomes a reference of
C bands (random convex mixes of the image's channels, or its raw bands), colour-jittered and
optionally sharpened; the PAN is a random mix of a random subset of the reference bands plus noise;
the MS is the reference low-passed by random per-band MTFs and decimated by
:func:`pansharpen_cli.physics.degradation.mtf_degrade` (the tool's own geometry) plus noise. Every
draw comes from a numpy ``Generator``: the same seed gives the same stream.

Nothing here reads a file: the pipeline resolves paths with
:func:`pansharpen_cli.io.sources.resolve_sources` and hands the sources over. Their raw pixels are
scaled to [0, 1] here, by each image's own percentiles.
"""

from __future__ import annotations

import collections
import functools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
from scipy import ndimage

from ..base.arrays import as_image
from ..base.errors import OptionError
from ..physics.degradation import kernel_half_width, mtf_degrade, mtf_filter
from .settings import SimSettings

__all__ = ["SCALE_PERCENTILES", "Source", "Triplet", "TripletSampler", "iter_triplets"]

#: Percentiles of an image's valid pixels (all bands together) mapped to 0 and 1.
SCALE_PERCENTILES = (0.5, 99.5)

_RESOLVE_HINT = (
    "priors read no files: resolve paths and 'skimage:NAME' strings with "
    "pansharpen_cli.io.sources.resolve_sources(...) and pass its sources"
)


class Source(Protocol):
    """What the generator takes as a training image (e.g. ``io.sources.ImageSource``).

    Attributes:
        name: label recorded in manifests.
    """

    name: str

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(array (C, H, W) or (H, W), any dtype, valid (H, W) bool or None)``."""
        ...


class _ArraySource:
    """An in-memory image given to the generator as a numpy array."""

    def __init__(self, name: str, arr: np.ndarray) -> None:
        self.name = name
        self._arr = arr

    def load(self) -> tuple[np.ndarray, None]:
        return self._arr, None

    def __repr__(self) -> str:
        return f"_ArraySource({self.name!r})"


def as_sources(specs: Iterable[Source | np.ndarray]) -> list[Source]:
    """Check the generator's sources, wrapping numpy arrays (named ``arrayK[shape]``).

    Args:
        specs: objects with ``.name`` and ``.load()``, or arrays (2-D or (bands, rows, cols)).

    Returns:
        The sources, in order.

    Raises:
        OptionError: a path or name (files are the pipeline's: see
            :func:`pansharpen_cli.io.sources.resolve_sources`), another kind of object, or none.
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    out: list[Source] = []
    for k, s in enumerate(specs):
        if isinstance(s, np.ndarray):
            out.append(_ArraySource(f"array{k}{list(s.shape)}", s))
        elif isinstance(s, (str, os.PathLike)):
            raise OptionError(
                f"expected image sources or arrays, got the path or name {str(s)!r}: {_RESOLVE_HINT}"
            )
        elif isinstance(getattr(s, "name", None), str) and callable(getattr(s, "load", None)):
            out.append(s)
        else:
            raise OptionError(
                f"expected a source with .name and .load() or a numpy array, got {type(s).__name__}: {_RESOLVE_HINT}"
            )
    if not out:
        raise OptionError("expected at least one training image, got none")
    return out


def _scale01(arr: np.ndarray, valid: np.ndarray | None, lo_pct: float, hi_pct: float) -> np.ndarray:
    """(C, H, W) -> float32 in [0, 1] by the image's own percentiles (over all bands, valid pixels);
    invalid pixels are filled with the band medians.

    Raises:
        OptionError: no valid pixel.
    """
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


def load_scaled(src: Source) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a source and scale it to [0, 1] by its :data:`SCALE_PERCENTILES`.

    Returns:
        ``(image (C, H, W) float32 in [0, 1], valid (H, W) bool or None: all valid)``; invalid
        pixels hold the band medians.

    Raises:
        OptionError: not a 2-D or (bands, rows, cols) image, a mask of another shape, or no valid pixel.
    """
    arr, valid = src.load()
    arr = as_image(arr, src.name)
    if valid is not None:
        valid = np.asarray(valid, bool)
        if valid.shape != arr.shape[1:]:
            raise OptionError(
                f"expected a valid mask of shape {arr.shape[1:]} for {src.name}, got {valid.shape}"
            )
        if valid.all():
            valid = None
    return _scale01(arr, valid, *SCALE_PERCENTILES), valid


class _Cache:
    """Least-recently-used cache of loaded, scaled images, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._d: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = (
            collections.OrderedDict()
        )
        self._bytes = 0

    def get(self, key: int, src: Source) -> tuple[np.ndarray, np.ndarray | None]:
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        item = load_scaled(src)
        size = item[0].nbytes + (item[1].nbytes if item[1] is not None else 0)
        while self._d and self._bytes + size > self.max_bytes:
            _, old = self._d.popitem(last=False)
            self._bytes -= old[0].nbytes + (old[1].nbytes if old[1] is not None else 0)
        self._d[key] = item
        self._bytes += size
        return item


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


#: Draws another (S, size + 2m, size + 2m) window of the sample's image: ``() -> (window, m)``.
_WindowFn = Callable[[], tuple[np.ndarray, int]]


class TripletSampler:
    """Draws simulated triplets from a set of images (loaded lazily, cached within ``cache_mb``).

    Args:
        sources: objects with ``.name`` and ``.load()`` (e.g. from
            :func:`pansharpen_cli.io.sources.resolve_sources`) or numpy arrays, 2-D or (C, H, W).
        settings: generator settings.

    Raises:
        OptionError: a path or name among the sources (see :func:`as_sources`), or none.
    """

    def __init__(self, sources: Sequence[Source | np.ndarray], settings: SimSettings | None = None) -> None:
        self.sources = as_sources(sources)
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

        Raises:
            OptionError: an image smaller than the crop, or one that cannot be scaled.
        """
        st = self.settings
        r = int(ratio) if ratio is not None else int(rng.choice(st.ratios))
        c = int(bands) if bands is not None else int(rng.integers(st.bands[0], st.bands[1] + 1))
        size = self.crop_size(r)
        idx = int(rng.integers(len(self.sources)))
        img, valid = self._cache.get(idx, self.sources[idx])
        window = functools.partial(self._window, img, valid, size, r, rng, self.sources[idx].name)
        src, margin = window()
        ref = self._spectra(src, c, rng)
        # PAN: a random mix of a random subset of the reference bands, plus noise
        k = int(rng.integers(max(1, math.ceil(st.pan_min_fraction * c)), c + 1))
        subset = rng.permutation(c)[:k]
        w = rng.dirichlet(np.ones(k))
        self._decouple(ref, subset, window, rng)
        cut = (slice(None), slice(margin, margin + size), slice(margin, margin + size))
        pan = self._pan(ref, subset, w, src, window, cut, r, rng)
        ref, inner = self._shift(ref, cut, r, rng)
        ms = self._ms(ref, c, r, margin // r, size // r, rng)
        return Triplet(pan.astype(np.float32), ms.astype(np.float32), np.ascontiguousarray(inner, np.float32))

    def _decouple(
        self, ref: np.ndarray, subset: np.ndarray, window: _WindowFn, rng: np.random.Generator
    ) -> None:
        """In place on ref (C, h, w): bands outside the PAN's subset are, some, made (partly)
        unrelated to the PAN, some inverted, as NIR/SWIR are to a visible PAN, so that the detail
        gains span ~0 and negative values."""
        st = self.settings
        for band in sorted(set(range(ref.shape[0])) - {int(v) for v in subset}):
            u = rng.random()
            if u < st.p_foreign:
                other, _ = window()
                a = float(rng.uniform(0.0, 0.7))
                ref[band] = a * ref[band] + (1.0 - a) * self._spectra(other, 1, rng)[0]
            elif u < st.p_foreign + st.p_invert:
                ref[band] = float(ref[band].max()) - ref[band]

    def _pan(
        self,
        ref: np.ndarray,
        subset: np.ndarray,
        w: np.ndarray,
        src: np.ndarray,
        window: _WindowFn,
        cut: tuple[slice, slice, slice],
        r: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """(1, size, size) PAN: the weights ``w`` mixing the reference bands ``subset``, maybe
        blurred by its own MTF, maybe partly a band the MS lacks, plus noise."""
        st = self.settings
        # blurred against the reference by its own MTF (the PAN of a reduced-resolution pair is the
        # PAN degraded with the PAN's MTF, less sharp than the MS it has to predict)
        if st.p_pan_mtf > 0 and rng.random() < st.p_pan_mtf:
            pan = np.tensordot(w, ref[subset], axes=1)[None]
            pan = mtf_filter(pan, [float(_u(rng, st.pan_mtf))], r)[cut]
        else:
            pan = np.tensordot(w, ref[cut][subset], axes=1)[None]
        if st.p_pan_hidden > 0 and rng.random() < st.p_pan_hidden:
            # part of the PAN is a band the MS lacks: its detail is not the MS bands' detail
            beta = float(_u(rng, st.pan_hidden))
            other = src
            if rng.random() < st.pan_hidden_foreign:
                other, _ = window()
            hidden = self._spectra(other, 1, rng)[cut]
            pan = (1.0 - beta) * pan + beta * hidden
        return pan + _u(rng, st.pan_noise) * rng.standard_normal(pan.shape)

    def _shift(
        self, ref: np.ndarray, cut: tuple[slice, slice, slice], r: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The reference (C, h, w) and its crop, maybe shifted against the PAN: real pairs are off
        by a fraction of an MS pixel, and the reference keeps the MS geometry (Wald protocol)."""
        st = self.settings
        if rng.random() < st.p_shift:
            dy, dx = rng.uniform(-st.max_shift, st.max_shift, 2) * r
            ref = np.clip(ndimage.shift(ref, (0.0, dy, dx), order=3, mode="reflect"), 0.0, 1.5).astype(
                np.float32
            )
        return ref, ref[cut]

    def _ms(self, ref: np.ndarray, c: int, r: int, m: int, side: int, rng: np.random.Generator) -> np.ndarray:
        """(C, side, side) MS: per-band MTF and decimation with the tool's geometry, the coarse
        margin ``m`` cut off, plus noise."""
        st = self.settings
        gains = _u(rng, st.mtf_gain, c)
        ms = mtf_degrade(ref, list(gains), r)[:, m : m + side, m : m + side]
        return ms + _u(rng, st.ms_noise) * rng.standard_normal(ms.shape)

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
    sources: Sequence[Source | np.ndarray],
    *,
    seed: int,
    crop: int = 64,
    ratios: Sequence[int] = (2, 3, 4),
    bands: tuple[int, int] = (3, 8),
    **settings: Any,
) -> Iterator[Triplet]:
    """Endless stream of simulated triplets, deterministic given ``seed``.

    Args:
        sources: source objects (``.name``, ``.load()``) or arrays, as :class:`TripletSampler`
            takes them; loaded lazily.
        seed: seed of the numpy generator every draw comes from.
        crop: fine-pixel crop side (rounded down to a multiple of each sample's ratio).
        ratios: ratios to draw from.
        bands: (min, max) band count, inclusive.
        **settings: other :class:`SimSettings` fields.

    Yields:
        :class:`Triplet` (pan (1, H, W), ms (C, H/r, W/r), reference (C, H, W)), float32.

    Raises:
        OptionError: invalid settings or sources (see :class:`TripletSampler`).
    """
    sampler = TripletSampler(
        sources, SimSettings(crop=crop, ratios=tuple(ratios), bands=tuple(bands), **settings)
    )
    rng = np.random.default_rng(seed)
    while True:
        yield sampler.sample(rng)
