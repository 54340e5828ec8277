"""Deliveries as vendors ship them, for the sensor recognition tests: a small PAN/MS pair (from
:func:`tests.conftest.make_pair`) named as the vendor names its files, with the metadata beside it.

The metadata are realistic excerpts of real layouts (keys, groups, order, quoting), cut down to what
a reader of them looks at plus their neighbours; no imagery is copied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from tests.conftest import make_pair, write_tif

#: Maxar/DigitalGlobe .IMD (ODL-like, `key = value;`), one per image file, same basename.
IMD = """version = "28.3";
generationTime = 2016-08-16T02:04:12.000000Z;
productOrderId = "056844553010_01_P001";
productCatalogId = "A010011F6D9A4500";
childCatalogId = "A010011F6D9A4500";
imageDescriptor = "ORStandard2A";
bandId = "{band_id}";
panSharpenAlgorithm = "None";
numRows = {rows};
numColumns = {cols};
productLevel = "LV2A";
productType = "Basic";
numberOfLooks = 1;
radiometricLevel = "Corrected";
radiometricEnhancement = "Off";
bitsPerPixel = 16;
compressionType = "None";
{band_groups}outputFormat = "GeoTIFF";
BEGIN_GROUP = IMAGE_1
\tsatId = "{sat_id}";
\tCatId = "104001002124A900";
\tSCSensorAlignment = "Nominal";
\tTLCTime = 2016-08-15T18:13:09.000000Z;
\tnumTLC = 2;
\tfirstLineTime = 2016-08-15T18:13:14.123456Z;
\tavgLineRate = 17660.00;
\texposureDuration = 0.00005663;
\tmeanCollectedGSD = 0.315;
\tmeanProductGSD = 0.300;
\tmeanSunAz = 148.3;
\tmeanSunEl = 60.2;
\tmeanSatAz = 201.5;
\tmeanSatEl = 72.4;
\tmeanOffNadirViewAngle = 15.8;
\tPNIIRS = 4.7;
\tcloudCover = 0.002;
\tresamplingKernel = "CC";
\tpositionKnowledgeSrc = "R";
\tattitudeKnowledgeSrc = "R";
\trevNumber = 10213;
END_GROUP = IMAGE_1
BEGIN_GROUP = MAP_PROJECTED_PRODUCT
\tearliestAcqTime = 2016-08-15T18:13:14.123456Z;
\tlatestAcqTime = 2016-08-15T18:13:14.123456Z;
\tdatumName = "WE";
\tmapProjName = "UTM";
\tmapZone = 33;
\tmapHemi = "N";
\tproductUnits = "M";
END_GROUP = MAP_PROJECTED_PRODUCT
END;
"""

_IMD_BAND = """BEGIN_GROUP = BAND_{band}
\tULLon = 15.00000000;
\tULLat = 36.13000000;
\tULHAE = 120.00;
\tLRLon = 15.00060000;
\tLRLat = 36.12950000;
\tLRHAE = 120.00;
\tabsCalFactor = {abscal};
\teffectiveBandwidth = {bandwidth};
\tTDILevel = 32;
END_GROUP = BAND_{band}
"""

#: Landsat Collection 2 MTL (ODL): LANDSAT_METADATA_FILE / PRODUCT_CONTENTS, IMAGE_ATTRIBUTES, ...
MTL_C2 = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    ORIGIN = "Image courtesy of the U.S. Geological Survey"
    DIGITAL_OBJECT_IDENTIFIER = "https://doi.org/10.5066/P975CC9B"
    LANDSAT_PRODUCT_ID = "{scene}"
    PROCESSING_LEVEL = "L1TP"
    COLLECTION_NUMBER = 02
    COLLECTION_CATEGORY = "T1"
    OUTPUT_FORMAT = "GEOTIFF"
    FILE_NAME_BAND_2 = "{scene}_B2.TIF"
    FILE_NAME_BAND_3 = "{scene}_B3.TIF"
    FILE_NAME_BAND_4 = "{scene}_B4.TIF"
    FILE_NAME_BAND_5 = "{scene}_B5.TIF"
    FILE_NAME_BAND_8 = "{scene}_B8.TIF"
    FILE_NAME_METADATA_ODL = "{scene}_MTL.txt"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "{spacecraft}"
    SENSOR_ID = "OLI_TIRS"
    WRS_TYPE = 2
    WRS_PATH = 167
    WRS_ROW = 55
    NADIR_OFFNADIR = "NADIR"
    DATE_ACQUIRED = 2017-03-08
    SCENE_CENTER_TIME = "07:37:15.4456520Z"
    STATION_ID = "LGN"
    CLOUD_COVER = 0.02
    CLOUD_COVER_LAND = 0.02
    IMAGE_QUALITY_OLI = 9
    IMAGE_QUALITY_TIRS = 9
    SUN_AZIMUTH = 113.57
    SUN_ELEVATION = 55.34
    EARTH_SUN_DISTANCE = 0.9925
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = PROJECTION_ATTRIBUTES
    MAP_PROJECTION = "UTM"
    DATUM = "WGS84"
    ELLIPSOID = "WGS84"
    UTM_ZONE = 33
    GRID_CELL_SIZE_PANCHROMATIC = 15.00
    GRID_CELL_SIZE_REFLECTIVE = 30.00
    GRID_CELL_SIZE_THERMAL = 30.00
    ORIENTATION = "NORTH_UP"
    RESAMPLING_OPTION = "CUBIC_CONVOLUTION"
  END_GROUP = PROJECTION_ATTRIBUTES
  GROUP = LEVEL1_PROCESSING_RECORD
    LANDSAT_SCENE_ID = "LC81670552017067LGN00"
    PROCESSING_SOFTWARE_VERSION = "LPGS_15.3.1c"
  END_GROUP = LEVEL1_PROCESSING_RECORD
END_GROUP = LANDSAT_METADATA_FILE
END
"""

#: Landsat Collection 1 MTL (ODL): L1_METADATA_FILE / METADATA_FILE_INFO, PRODUCT_METADATA, ...
MTL_C1 = """GROUP = L1_METADATA_FILE
  GROUP = METADATA_FILE_INFO
    ORIGIN = "Image courtesy of the U.S. Geological Survey"
    REQUEST_ID = "0501703170393_00010"
    LANDSAT_SCENE_ID = "LE71670552017067ASN00"
    LANDSAT_PRODUCT_ID = "{scene}"
    COLLECTION_NUMBER = 01
    FILE_DATE = 2017-03-17T12:47:58Z
    STATION_ID = "ASN"
    PROCESSING_SOFTWARE_VERSION = "LPGS_12.9.0"
  END_GROUP = METADATA_FILE_INFO
  GROUP = PRODUCT_METADATA
    DATA_TYPE = "L1TP"
    COLLECTION_CATEGORY = "T1"
    ELEVATION_SOURCE = "GLS2000"
    OUTPUT_FORMAT = "GEOTIFF"
    EPHEMERIS_TYPE = "DEFINITIVE"
    SPACECRAFT_ID = "{spacecraft}"
    SENSOR_ID = "ETM"
    SENSOR_MODE = "SAM"
    WRS_PATH = 167
    WRS_ROW = 055
    DATE_ACQUIRED = 2017-03-08
    SCENE_CENTER_TIME = "07:24:51.1034520Z"
    FILE_NAME_BAND_8 = "{scene}_B8.TIF"
    METADATA_FILE_NAME = "{scene}_MTL.txt"
  END_GROUP = PRODUCT_METADATA
  GROUP = IMAGE_ATTRIBUTES
    CLOUD_COVER = 3.00
    IMAGE_QUALITY = 9
    SUN_AZIMUTH = 116.01
    SUN_ELEVATION = 52.47
  END_GROUP = IMAGE_ATTRIBUTES
END_GROUP = L1_METADATA_FILE
END
"""

#: Pleiades DIMAP v2 (DIM_<...>.XML beside IMG_<...>_R1C1.TIF), the parts GDAL's reader uses.
DIMAP = """<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Metadata_Identification>
    <METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
    <METADATA_PROFILE>PHR_SENSOR</METADATA_PROFILE>
    <METADATA_SUBPROFILE>PRODUCT</METADATA_SUBPROFILE>
    <METADATA_LANGUAGE>en</METADATA_LANGUAGE>
  </Metadata_Identification>
  <Dataset_Identification>
    <DATASET_NAME>DS_{mission}{index}_201202250025329_FR1_PX_E144N37_0101_01728</DATASET_NAME>
  </Dataset_Identification>
  <Dataset_Sources>
    <Source_Identification>
      <SOURCE_ID>DS_{mission}{index}_201202250025329_FR1_PX_E144N37_0101_01728</SOURCE_ID>
      <SOURCE_TYPE>Strip</SOURCE_TYPE>
      <Strip_Source>
        <MISSION>{mission}</MISSION>
        <MISSION_INDEX>{index}</MISSION_INDEX>
        <INSTRUMENT>{mission}</INSTRUMENT>
        <INSTRUMENT_INDEX>{index}</INSTRUMENT_INDEX>
        <IMAGING_DATE>2012-02-25</IMAGING_DATE>
        <IMAGING_TIME>00:25:32.9</IMAGING_TIME>
        <BAND_MODE>{band_mode}</BAND_MODE>
      </Strip_Source>
    </Source_Identification>
  </Dataset_Sources>
  <Raster_Data>
    <Data_Access>
      <DATA_FILE_ORGANISATION>BAND_COMPOSITE</DATA_FILE_ORGANISATION>
      <DATA_FILE_FORMAT version="1.0">image/tiff</DATA_FILE_FORMAT>
      <DATA_FILE_TILES>false</DATA_FILE_TILES>
      <Data_Files>
        <Data_File tile_R="1" tile_C="1">
          <DATA_FILE_PATH href="{image}"/>
        </Data_File>
      </Data_Files>
    </Data_Access>
    <Raster_Dimensions>
      <NROWS>{rows}</NROWS>
      <NCOLS>{cols}</NCOLS>
      <NBANDS>{bands}</NBANDS>
    </Raster_Dimensions>
  </Raster_Data>
</Dimap_Document>
"""

#: The bands of a WorldView-3 4-band MS (bandId "MS1"): name, absCalFactor, effectiveBandwidth.
WV3_MS_BANDS = (
    ("B", 1.260825e-02, 5.430000e-02),
    ("G", 9.713071e-03, 6.300000e-02),
    ("R", 5.829170e-03, 3.740000e-02),
    ("N", 9.042234e-03, 9.890000e-02),
)


def imd_text(sat_id: str, band_id: str, rows: int, cols: int) -> str:
    """A DigitalGlobe IMD of a PAN (``band_id`` ``P``) or a 4-band MS (``MS1``)."""
    bands = (("P", 5.678345e-02, 2.846000e-01),) if band_id == "P" else WV3_MS_BANDS
    groups = "".join(_IMD_BAND.format(band=b, abscal=a, bandwidth=w) for b, a, w in bands)
    return IMD.format(band_id=band_id, rows=rows, cols=cols, band_groups=groups, sat_id=sat_id)


def _with_imd(tif: Path, sat_id: str, band_id: str) -> None:
    with rasterio.open(tif) as ds:
        rows, cols = ds.height, ds.width
    tif.with_suffix(".IMD").write_text(imd_text(sat_id, band_id, rows, cols))


def maxar_delivery(
    tmp: Path, pan_sat: str = "WV03", ms_sat: str | None = "WV03", size: int = 64
) -> tuple[Path, Path]:
    """A PAN/MS pair named as a Maxar order names them, each with its .IMD (``ms_sat`` None: no IMD
    beside the MS)."""
    pan, ms, _ = make_pair(tmp, size=size, ratio=4)
    p = pan.rename(tmp / "16AUG15181314-P2AS-056844553010_01_P001.TIF")
    m = ms.rename(tmp / "16AUG15181314-M2AS-056844553010_01_P001.TIF")
    _with_imd(p, pan_sat, "P")
    if ms_sat is not None:
        _with_imd(m, ms_sat, "MS1")
    return p, m


def landsat_delivery(
    tmp: Path, collection: int = 2, spacecraft: str = "LANDSAT_8", json_mtl: bool = False
) -> tuple[Path, list[Path]]:
    """A Landsat scene as USGS ships it: one GeoTIFF per band (B8 the PAN, B2..B5 the MS) beside the
    scene's MTL (Collection 1 or 2; ``json_mtl``: Collection 2's MTL.json instead of MTL.txt)."""
    pan, ms, _ = make_pair(tmp, size=64, ratio=2, pan_res=15.0)
    prefix = {"LANDSAT_7": "LE07", "LANDSAT_8": "LC08", "LANDSAT_9": "LC09"}.get(spacecraft, "LT05")
    scene = f"{prefix}_L1TP_167055_20170308_20200904_02_T1"
    if collection == 1:
        scene = f"{prefix}_L1TP_167055_20170308_20170317_01_T1"
    p = pan.rename(tmp / f"{scene}_B8.TIF")
    with rasterio.open(ms) as ds:
        arr, transform = ds.read(), ds.transform
    bands = [write_tif(tmp / f"{scene}_B{b}.TIF", arr[b - 2 : b - 1], transform) for b in (2, 3, 4, 5)]
    ms.unlink()
    text = (MTL_C1 if collection == 1 else MTL_C2).format(scene=scene, spacecraft=spacecraft)
    if json_mtl:
        (tmp / f"{scene}_MTL.json").write_text(_mtl_json(text))
    else:
        (tmp / f"{scene}_MTL.txt").write_text(text)
    return p, bands


def _mtl_json(odl: str) -> str:
    """Collection 2's MTL.json: the same groups and keys as nested objects, values as strings."""
    import json

    root: dict = {}
    stack = [root]
    for line in odl.splitlines():
        key, sep, value = (s.strip() for s in line.partition("="))
        if not sep:
            continue
        if key == "GROUP":
            stack.append(stack[-1].setdefault(value, {}))
        elif key == "END_GROUP":
            stack.pop()
        else:
            stack[-1][key] = value.strip('"')
    return json.dumps(root, indent=2)


def dimap_delivery(
    tmp: Path, mission: str = "PHR", index: str = "1A", documents: bool = False
) -> tuple[Path, Path]:
    """A Pleiades (or SPOT 6/7) primary product: IMG_<...>_R1C1.TIF images beside their DIM_<...>.XML.

    Returns the images, or (``documents``) the DIM_*.XML documents (GDAL's DIMAP driver opens them).
    """
    pan, ms, _ = make_pair(tmp, size=64, ratio=4)
    names = {}
    for src, mode in ((pan, "P"), (ms, "MS")):
        base = f"{mission}{index}_{mode}_201202250025329_SEN_PRG_FC_178608-001"
        image = src.rename(tmp / f"IMG_{base}_R1C1.TIF")
        with rasterio.open(image) as ds:
            size = {"rows": ds.height, "cols": ds.width, "bands": ds.count}
        text = DIMAP.format(mission=mission, index=index, band_mode=mode, image=image.name, **size)
        dim = tmp / f"DIM_{base}.XML"
        dim.write_text(text)
        names[mode] = dim if documents else image
    return names["P"], names["MS"]


def same_pixels(a: Path, b: Path) -> bool:
    """Whether two rasters hold the same values."""
    with rasterio.open(a) as x, rasterio.open(b) as y:
        return bool(np.array_equal(x.read(), y.read()))
