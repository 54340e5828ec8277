"""Training images for pretraining: GeoTIFFs, PNG/JPEG pictures, scikit-image samples, arrays.

:func:`resolve_sources` turns what a user names (folders, files, ``skimage:NAME``, arrays) into
:class:`ImageSource` objects, read lazily. A source returns its pixels RAW, in their own dtype and
units, with a validity mask; scaling them for the simulated-data generator is numerics and belongs
to :mod:`pansharpen_cli.priors`, which takes these objects (anything with ``.name`` and ``.load()``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from ..base.arrays import as_image
from ..base.errors import InputFileError, OptionError
from .gdalpaths import is_gdal_path
from .raster import open_raster

log = logging.getLogger(__name__)

__all__ = [
    "MAX_RASTER_SIDE",
    "SKIMAGE_SAMPLES",
    "ImageSource",
    "read_training_raster",
    "resolve_sources",
]

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

#: Larger rasters are read through their central window of this side (memory stays bounded).
MAX_RASTER_SIDE = 4096

#: Suffixes read as pictures (scikit-image); anything else is opened as a raster.
_PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Suffixes of the raster files taken from a folder given as a training source.
_RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img")

Loader = Callable[[], tuple[np.ndarray, "np.ndarray | None"]]


class ImageSource:
    """One training image, read lazily, in its own dtype and units.

    Args:
        name: label recorded in manifests (a path, ``skimage:NAME``, ``arrayK[shape]``).
        loader: returns ``(array (C, H, W) or (H, W), valid (H, W) bool or None)``.

    Use :func:`resolve_sources` to make them from paths, ``skimage:NAME`` strings or arrays.
    """

    def __init__(self, name: str, loader: Loader) -> None:
        self.name = name
        self._loader = loader

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Read the image.

        Returns:
            ``(array (C, H, W) in its own dtype, valid (H, W) bool or None)``; a 2-D image comes
            back as one band, a mask that is all True as None.

        Raises:
            OptionError: the image is not 2-D or (bands, rows, cols), or has an empty axis.
            InputFileError: its file cannot be read.
        """
        arr, valid = self._loader()
        arr = as_image(arr, self.name)
        if valid is not None and valid.all():
            valid = None
        return arr, valid

    def __repr__(self) -> str:
        return f"ImageSource({self.name!r})"


def read_training_raster(path: str | os.PathLike, max_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a whole raster (its central ``max_side`` window if larger) as a training image.

    Returns:
        (array (B, H, W) in the file's dtype, valid (H, W) bool or None when every pixel is valid);
        nodata and non-finite values are invalid (and set to 0).

    Raises:
        InputFileError: the file cannot be read as a raster.
    """
    ds = open_raster(path, "training image")
    with ds:
        window = None
        if max(ds.height, ds.width) > max_side:
            hh, ww = min(ds.height, max_side), min(ds.width, max_side)
            window = Window((ds.width - ww) // 2, (ds.height - hh) // 2, ww, hh)
            log.warning(
                "training image %s is %dx%d pixels: using its central %dx%d window",
                path,
                ds.width,
                ds.height,
                ww,
                hh,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            a = ds.read(window=window)
        nodata = ds.nodata
    valid = None
    if nodata is not None:
        bad = np.isnan(a) if np.isnan(nodata) else a == nodata
        valid = ~bad.all(axis=0)
    if np.issubdtype(a.dtype, np.floating):
        fin = np.isfinite(a).all(axis=0)
        if not fin.all():
            valid = fin if valid is None else valid & fin
            a = np.where(np.isfinite(a), a, 0)
    return a, valid


def _skimage_loader(name: str) -> Loader:
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


def _picture_loader(path: Path) -> Loader:
    def load() -> tuple[np.ndarray, None]:
        import skimage.io

        a = np.asarray(skimage.io.imread(str(path)))
        if a.ndim == 3:
            if a.shape[-1] in (2, 4):  # grey+alpha, RGBA: drop alpha
                a = a[..., :-1]
            a = np.moveaxis(a, -1, 0)
        return a, None

    return load


def _raster_loader(path: Path) -> Loader:
    def load() -> tuple[np.ndarray, np.ndarray | None]:
        return read_training_raster(path, MAX_RASTER_SIDE)

    return load


def _array_loader(arr: np.ndarray) -> Loader:
    def load() -> tuple[np.ndarray, None]:
        return arr, None

    return load


def _expand_dirs(specs: Iterable[Any]) -> Iterator[Any]:
    """Folders expand to the images and rasters they hold (sorted, not recursive).

    Raises:
        InputFileError: a folder holds no image or raster file.
    """
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


def _file_source(s: str | os.PathLike) -> ImageSource:
    if is_gdal_path(s):  # a raster GDAL opens (/vsizip/..., https://...): found by opening it
        return ImageSource(os.fspath(s), _raster_loader(os.fspath(s)))
    p = Path(s)
    if not p.is_file():
        raise InputFileError(f"expected an existing training image file, got {str(p)!r}")
    if p.suffix.lower() in _PICTURE_SUFFIXES:
        return ImageSource(str(p), _picture_loader(p))
    return ImageSource(str(p), _raster_loader(p))


def resolve_sources(specs: Iterable[str | os.PathLike | np.ndarray | ImageSource]) -> list[ImageSource]:
    """Turn source specifications into :class:`ImageSource` objects (nothing is read yet).

    Args:
        specs: each one of: a folder (its image and raster files, sorted); a path to a GeoTIFF (any
            band count, any dtype; nodata honoured) or a PNG/JPEG; a GDAL path to a raster
            (``/vsizip/a.zip/x.tif``, ``https://...``); ``"skimage:NAME"`` for a
            scikit-image sample (``"skimage"`` alone: all of :data:`SKIMAGE_SAMPLES`); a numpy
            array, 2-D or (bands, rows, cols); an ImageSource.

    Returns:
        The sources, in order.

    Raises:
        InputFileError: a path does not exist, or a folder holds no images.
        OptionError: an unknown kind of specification, or no sources at all.
    """
    out: list[ImageSource] = []
    for k, s in enumerate(_expand_dirs(specs)):
        if isinstance(s, ImageSource):
            out.append(s)
        elif isinstance(s, np.ndarray):
            out.append(ImageSource(f"array{k}{list(s.shape)}", _array_loader(s)))
        elif isinstance(s, str) and (s == "skimage" or s.startswith("skimage:")):
            names = SKIMAGE_SAMPLES if s == "skimage" else [s.split(":", 1)[1]]
            out.extend(ImageSource(f"skimage:{n}", _skimage_loader(n)) for n in names)
        elif isinstance(s, (str, os.PathLike)):
            out.append(_file_source(s))
        else:
            raise OptionError(
                f"expected a path, 'skimage:NAME', an array or an ImageSource, got {type(s).__name__}"
            )
    if not out:
        raise OptionError("expected at least one training image, got none")
    return out
