"""Recreate the small real-data crops in this folder from ../shared/data (run from the repo root).

    python tests/data/make_crops.py /path/to/shared/data

Scenes whose licence allows redistribution (MIT / public domain) are cropped, and, for the
misregistration tests only (tests/pipeline/test_alignment.py), small crops of the three shared
scenes whose MS and PAN are misregistered, which the data README marks for test use: QuickBird
Toulouse (OTB example data, CeCILL-v2 repository, imagery (c) DigitalGlobe), EO-1 ALI
(Apicio/PanSharpMat2IDL, no licence file: test use only) and Landsat-7 (sjtrny/FuseBox, MIT;
Landsat imagery public domain). Crops keep the files' own geotransforms, CRS, nodata and
AREA_OR_POINT, so the grid cases (pixel-is-point Landsat, the 0.498 m / 2 m pair) stay real.
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
    "qb": ("qb-toulouse", "pan.tif", "ms.tif", (128, 128, 256, 256), (32, 32, 64, 64)),
    "eo1": ("eo1-ali", "pan.tif", "ms.tif", (288, 288, 192, 192), (96, 96, 64, 64)),
    "landsat7": ("landsat7-fusebox", "pan1.tif", "ms1.tif", (300, 300, 192, 192), (150, 150, 96, 96)),
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
            if ds.crs is None and ds.transform.is_identity:  # no georeferencing: the crop has none
                prof.pop("transform")
            with rasterio.open(dst, "w", **prof) as out:
                out.update_tags(**ds.tags())
                out.write(ds.read(window=w))


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for name, (scene, pan, ms, pw, mw) in CROPS.items():
        crop(root / scene / pan, HERE / f"{name}_pan.tif", pw)
        crop(root / scene / ms, HERE / f"{name}_ms.tif", mw)
