"""The sensor of a delivery, read from its metadata: GDAL's IMAGERY domain (Maxar IMD and TIL,
Pleiades/SPOT DIMAP) and the Landsat MTL (Collection 1 and 2, text and JSON)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import rasterio

from pansharpen_cli.base.errors import InputError
from pansharpen_cli.base.sensors import get_sensor
from pansharpen_cli.io.delivery import SATELLITE_PRESETS, detect_one, detect_sensor, preset_for
from pansharpen_cli.io.mtl import find_mtl, read_mtl, spacecraft
from tests.conftest import make_pair
from tests.delivery import MTL_C1, MTL_C2, dimap_delivery, landsat_delivery, maxar_delivery


def test_every_satellite_maps_to_a_preset_that_exists():
    assert all(get_sensor(name).name == name for name in SATELLITE_PRESETS.values())


@pytest.mark.parametrize(
    ("satellite", "preset"),
    [
        ("WV02", "wv2"),
        ("WV03", "wv3"),
        ("WV04", "wv4"),
        ("GE01", "ge1"),
        ("QB02", "qb"),
        ("IK02", "ikonos"),
        ("IKONOS-2", "ikonos"),
        ("PHR 1A", "pleiades"),
        ("PHR1B", "pleiades"),
        ("SPOT 6", "spot6"),
        ("SPOT 7", "spot7"),
        ("LANDSAT_7", "landsat7"),
        ("LANDSAT_8", "landsat8"),
        ("Landsat9", "landsat9"),
        ("WV01", None),  # panchromatic only: no preset
        ("PNEO 3", None),
        ("LANDSAT_5", None),
    ],
)
def test_satellite_ids_as_the_metadata_spell_them(satellite, preset):
    assert preset_for(satellite) == preset


def test_gdal_reads_the_imd_beside_the_tif_into_the_imagery_domain(tmp_path):
    pan, ms = maxar_delivery(tmp_path)
    with rasterio.open(pan) as ds:
        assert ds.tags(ns="IMAGERY")["SATELLITEID"] == "WV03"
    found = detect_sensor(pan, [ms])
    assert found is not None and (found.sensor, found.satellite) == ("wv3", "WV03")
    assert found.source == f"the IMAGERY metadata of {pan.name}" and found.detail == "SATELLITEID=WV03"
    assert found.metadata == pan.with_suffix(".IMD").name and found.warning is None


def test_a_maxar_til_opened_by_gdal_gives_the_sensor_of_its_imd(tmp_path):
    pan, _ = maxar_delivery(tmp_path)
    til = pan.with_suffix(".TIL")
    til.write_text(
        'bandId = "P";\nnumTiles = 1;\ntileSizeX = 64;\ntileSizeY = 64;\ntileUnits = "Pixels";\n'
        "tileOverlap = 0;\nBEGIN_GROUP = TILE_1\n"
        f'\tfilename = "{pan.name}";\n\tULColOffset = 0;\n\tULRowOffset = 0;\n'
        "\tLRColOffset = 63;\n\tLRRowOffset = 63;\nEND_GROUP = TILE_1\nEND;\n"
    )
    found = detect_one(til)
    assert found is not None and found.sensor == "wv3" and found.source.endswith(til.name)


def test_pleiades_dimap_beside_the_image_and_opened_itself(tmp_path):
    pan, ms = dimap_delivery(tmp_path)
    found = detect_sensor(pan, [ms])
    assert found is not None and (found.sensor, found.satellite) == ("pleiades", "PHR 1A")
    assert found.metadata.startswith("DIM_PHR1A_P_")
    (tmp_path / "docs").mkdir()
    dim_pan, dim_ms = dimap_delivery(tmp_path / "docs", documents=True)
    with rasterio.open(dim_pan) as ds:
        assert ds.driver == "DIMAP"
    found = detect_sensor(dim_pan, [dim_ms])
    assert found is not None and found.sensor == "pleiades"
    assert found.detail == "MISSION=PHR, MISSION_INDEX=1A"


def test_spot_dimap(tmp_path):
    pan, ms = dimap_delivery(tmp_path, "SPOT", "7")
    found = detect_sensor(pan, [ms])
    assert found is not None and (found.sensor, found.satellite) == ("spot7", "SPOT 7")


@pytest.mark.parametrize(
    ("collection", "spacecraft_id", "json_mtl", "preset"),
    [
        (2, "LANDSAT_8", False, "landsat8"),
        (2, "LANDSAT_9", True, "landsat9"),
        (1, "LANDSAT_7", False, "landsat7"),
    ],
)
def test_landsat_mtl_beside_the_band_files(tmp_path, collection, spacecraft_id, json_mtl, preset):
    pan, bands = landsat_delivery(tmp_path, collection, spacecraft_id, json_mtl)
    found = detect_sensor(pan, bands)
    mtl = pan.name.replace("_B8.TIF", "_MTL.json" if json_mtl else "_MTL.txt")
    assert found is not None and found.sensor == preset and found.source == mtl
    assert found.detail.startswith(f"SPACECRAFT_ID={spacecraft_id}, SENSOR_ID=")


def test_mtl_groups_of_both_collections(tmp_path):
    c2 = read_mtl_text(tmp_path, MTL_C2.format(scene="LC08_X", spacecraft="LANDSAT_8"))
    assert c2["LANDSAT_METADATA_FILE.IMAGE_ATTRIBUTES.SPACECRAFT_ID"] == "LANDSAT_8"
    assert c2["LANDSAT_METADATA_FILE.PRODUCT_CONTENTS.LANDSAT_PRODUCT_ID"] == "LC08_X"
    assert spacecraft(c2) == ("LANDSAT_8", "OLI_TIRS")
    c1 = read_mtl_text(tmp_path, MTL_C1.format(scene="LE07_X", spacecraft="LANDSAT_7"))
    assert c1["L1_METADATA_FILE.PRODUCT_METADATA.SPACECRAFT_ID"] == "LANDSAT_7"
    assert spacecraft(c1) == ("LANDSAT_7", "ETM") and spacecraft({"A.B": "1"}) is None


def read_mtl_text(folder: Path, text: str) -> dict[str, str]:
    p = folder / "X_MTL.txt"
    p.write_text(text)
    return read_mtl(p)


def test_the_mtl_must_be_of_the_same_scene(tmp_path):
    pan, _ = landsat_delivery(tmp_path)
    other = tmp_path / "LC08_L1TP_167055_20170308_20200904_02_T1_B8_copy.TIF"
    other.write_bytes(pan.read_bytes())
    assert find_mtl(other) == tmp_path / "LC08_L1TP_167055_20170308_20200904_02_T1_MTL.txt"
    renamed = pan.rename(tmp_path / "pan.tif")
    assert find_mtl(renamed) is None
    assert find_mtl("/vsizip/scene.zip/LC08_L1TP_167055_20170308_20200904_02_T1_B8.TIF") is None


def test_plain_files_have_no_sensor(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=32)
    assert detect_sensor(pan, [ms]) is None


def test_only_one_file_recognised_is_enough(tmp_path):
    pan, ms = maxar_delivery(tmp_path, ms_sat=None)
    found = detect_sensor(pan, [ms])
    assert found is not None and found.sensor == "wv3"


def test_pan_and_ms_of_different_satellites_are_refused(tmp_path):
    pan, ms = maxar_delivery(tmp_path, "WV03", "WV02")
    with pytest.raises(InputError) as exc:
        detect_sensor(pan, [ms])
    msg = str(exc.value)
    assert f"{pan.name} is WV03 (SATELLITEID=WV03 in {pan.with_suffix('.IMD').name})" in msg
    assert f"{ms.name} is WV02" in msg and "pass --sensor NAME (or --gains)" in msg


def test_a_satellite_without_preset_is_generic_with_a_warning_naming_it(tmp_path):
    pan, ms = maxar_delivery(tmp_path, "WV01", "WV01")
    found = detect_sensor(pan, [ms])
    assert found is not None and found.sensor == "generic"
    assert found.warning is not None and "satellite 'WV01' (SATELLITEID=WV01 in" in found.warning
    assert "has no sensor preset: using generic MTF gains" in found.warning


def test_an_unreadable_mtl_is_warned_about_and_skipped(tmp_path, caplog, monkeypatch):
    # the CLI's logging set-up (an earlier test's) may have left the package's logger at ERROR and
    # not propagating
    monkeypatch.setattr(logging.getLogger("pansharpen_cli"), "propagate", True)
    caplog.set_level(logging.WARNING, logger="pansharpen_cli")
    pan, bands = landsat_delivery(tmp_path, json_mtl=True)
    mtl = tmp_path / pan.name.replace("_B8.TIF", "_MTL.json")
    mtl.write_text("{not json")
    assert detect_sensor(pan, bands) is None
    assert f"cannot read the Landsat metadata {mtl}" in caplog.text
