"""Shared fixtures: synthetic PAN/MS scenes written as GeoTIFFs with chosen grids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine
from scipy import ndimage

from pansharpen_cli.physics.degradation import mtf_degrade

DATA = Path(__file__).parent / "data"
CRS = "EPSG:32633"


def smooth_scene(bands: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reference MS at PAN scale (bands, size, size) with texture and edges, and its PAN (1, size, size).

    Values are positive, roughly 1..1300 (like DN).
    """
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.standard_normal((size, size)), 3.0)
    detail = ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.0)
    yy, xx = np.mgrid[:size, :size]
    edges = ((xx // 23 + yy // 17) % 2).astype(float)
    mix = rng.uniform(0.5, 1.5, (bands, 3))
    ref = np.stack(
        [
            400
            + 120 * mix[b, 0] * base / base.std()
            + 60 * mix[b, 1] * detail / detail.std()
            + 150 * mix[b, 2] * edges
            for b in range(bands)
        ]
    )
    ref = np.maximum(ref, 1.0)
    w = rng.dirichlet(np.ones(bands))
    pan = np.maximum((w[:, None, None] * ref).sum(0, keepdims=True) + rng.normal(0, 2, (1, size, size)), 1.0)
    return ref.astype(np.float32), pan.astype(np.float32)


def write_tif(
    path: Path,
    arr: np.ndarray,
    transform: Affine | None = None,
    crs: str | None = CRS,
    dtype: str | None = None,
    nodata: float | None = None,
    tags: dict | None = None,
) -> Path:
    arr = np.asarray(arr)
    dtype = dtype or arr.dtype.name
    profile = dict(
        driver="GTiff",
        width=arr.shape[2],
        height=arr.shape[1],
        count=arr.shape[0],
        dtype=dtype,
        nodata=nodata,
    )
    if transform is not None:
        profile["transform"] = transform
    if crs is not None and transform is not None:
        profile["crs"] = crs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as ds:
            if tags:
                ds.update_tags(**tags)
            ds.write(arr.astype(dtype))
    return path


def make_pair(
    tmp: Path,
    *,
    bands: int = 4,
    size: int = 128,
    ratio: int = 4,
    dtype: str = "uint16",
    pan_res: float = 0.5,
    ms_offset: tuple[float, float] = (0.0, 0.0),
    georef: bool = True,
    seed: int = 0,
    name: str = "",
) -> tuple[Path, Path, np.ndarray]:
    """Write pan.tif and ms.tif; MS origin shifted by ``ms_offset`` PAN pixels (x, y).

    Returns:
        (pan path, ms path, reference MS at PAN scale).
    """
    ref, pan = smooth_scene(bands, size, seed)
    ox, oy = (int(round(v)) for v in ms_offset)
    if (ox, oy) == ms_offset and ox >= 0 and oy >= 0:
        # The MS sees the scene from its own (shifted) origin, so the pair is truly co-registered.
        h, w = (size - oy) // ratio * ratio, (size - ox) // ratio * ratio
        ms = mtf_degrade(ref[:, oy : oy + h, ox : ox + w], [0.3] * bands, ratio)
    else:
        ms = mtf_degrade(ref, [0.3] * bands, ratio)
    x0, y0 = 500000.0, 4000000.0
    pt = Affine(pan_res, 0, x0, 0, -pan_res, y0) if georef else None
    mt = (
        Affine(
            pan_res * ratio, 0, x0 + ms_offset[0] * pan_res, 0, -pan_res * ratio, y0 - ms_offset[1] * pan_res
        )
        if georef
        else None
    )
    if np.issubdtype(np.dtype(dtype), np.integer):
        pan, ms = np.rint(pan), np.rint(ms)
    p = write_tif(tmp / f"pan{name}.tif", pan, pt, dtype=dtype)
    m = write_tif(tmp / f"ms{name}.tif", ms, mt, dtype=dtype)
    return p, m, ref


def with_nodata_strip(ms: Path, out: Path, cols: int) -> Path:
    """A copy of the MS file whose first ``cols`` columns are 0, declared nodata."""
    with rasterio.open(ms) as m:
        a = m.read()
        a[:, :, :cols] = 0
        return write_tif(out, a, m.transform, nodata=0)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    return make_pair(tmp_path)


@pytest.fixture
def tmpfs(tmp_path):
    """A factory of small file systems for full-disk and read-only cases: ``tmpfs("1m")`` mounts a
    tmpfs of that size on a new folder under ``tmp_path`` (``read_only=True``: remounted read-only,
    with a folder ``sub`` made first, which is returned), all unmounted after the test. Mounting
    needs Linux and root (as CI runs); the test is skipped otherwise."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounts a tmpfs: Linux, as root")
    mounted: list[Path] = []

    def make(size: str, read_only: bool = False) -> Path:
        mnt = tmp_path / f"disk{len(mounted)}"
        mnt.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs: {res.stderr.decode().strip()}")
        mounted.append(mnt)
        if not read_only:
            return mnt
        (mnt / "sub").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        return mnt / "sub"

    yield make
    for m in reversed(mounted):
        subprocess.run(["umount", str(m)], check=False)
