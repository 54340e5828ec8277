"""Recreate the small real-data crops in this folder from ../shared/data (run from the repo root).

    python tests/data/make_crops.py /path/to/shared/data

Only scenes whose licence allows redistribution (MIT / public domain) are cropped. Crops keep the files' own geotransforms, CRS, nodata and AREA_OR_POINT, so the grid cases
(pixel-is-point Landsat, the 0.498 m / 2 m pair) stay real.
"""

import sys
import warnings
from pathlib import Path

import rasterio
from rasterio.windows import Window

HERE = Path(__file__).parent
CROPS = {
    # name: (scene dir, pan file, ms file, pan window (col, row, w, h), ms window)
    "landsat8": ("landsat8-oli", "pan.tif", "ms.tif", (400, 300, 161, 161), (200, 150, 80, 80)),
    "osman": ("osman-4band", "pan.tif", "ms.tif", (200, 200, 160, 160), (50, 50, 40, 40)),
}


def crop(src: Path, dst: Path, win: tuple[int, int, int, int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(src) as ds:
            w = Window(*win)
            prof = ds.profile | {
                "width": win[2],
                "height": win[3],
                "transform": ds.window_transform(w),
                "tiled": False,
                "compress": "deflate",
            }
            prof.pop("blockxsize", None)
            prof.pop("blockysize", None)
            with rasterio.open(dst, "w", **prof) as out:
                out.update_tags(**ds.tags())
                out.write(ds.read(window=w))


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for name, (scene, pan, ms, pw, mw) in CROPS.items():
        crop(root / scene / pan, HERE / f"{name}_pan.tif", pw)
        crop(root / scene / ms, HERE / f"{name}_ms.tif", mw)
