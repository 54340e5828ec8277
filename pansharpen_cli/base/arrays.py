"""Array shape conventions: images are (bands, rows, cols)."""

from __future__ import annotations

import numpy as np

from .errors import OptionError


def as_image(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as a (bands, rows, cols) array: a 2-D image becomes one band.

    Raises:
        OptionError: not 2-D or 3-D, or an empty axis; ``name`` says which image.
    """
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise OptionError(f"expected a 2-D or (bands, rows, cols) image for {name}, got shape {arr.shape}")
    return arr
