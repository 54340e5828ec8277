"""The sensor from the delivery through the CLI: fuse, info and simulate without --sensor pick the
preset the metadata name (and say where from with -v); evaluate takes sensor, gains and ratio from
the fused file's tags."""

from __future__ import annotations

import json
import shutil

import pytest
import rasterio
from typer.testing import CliRunner

from pansharpen_cli.cli import app
from tests.conftest import make_pair
from tests.delivery import dimap_delivery, landsat_delivery, maxar_delivery, same_pixels

runner = CliRunner()
NO_SENSOR = "no --sensor given"
GAINS = "0.31,0.33,0.35,0.27"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def tags(path):
    with rasterio.open(path) as ds:
        return ds.tags()


def test_fuse_of_a_worldview3_delivery_with_its_imd_uses_the_wv3_preset(tmp_path):
    pan, ms = maxar_delivery(tmp_path)
    out, report = tmp_path / "out.tif", tmp_path / "report.json"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "-v", "--report", report)
    assert res.exit_code == 0, res.output
    assert NO_SENSOR not in res.output
    assert f"INFO: sensor wv3 from the IMAGERY metadata of {pan.name} (SATELLITEID=WV03)" in res.output
    t = tags(out)
    assert t["PANSHARPEN_SENSOR"] == "wv3"
    assert t["PANSHARPEN_SENSOR_SOURCE"] == f"the IMAGERY metadata of {pan.name} (SATELLITEID=WV03)"
    assert json.loads(t["PANSHARPEN_PARAMETERS"])["sensor_source"] == t["PANSHARPEN_SENSOR_SOURCE"]
    source = t["PANSHARPEN_SENSOR_SOURCE"]
    assert json.loads(report.read_text())["sensor"] == {"name": "wv3", "source": source}
    # the same output as naming the sensor
    named = tmp_path / "named.tif"
    assert run("fuse", pan, ms, named, "-m", "mtf-glp-hpm", "--sensor", "wv3", "-q").exit_code == 0
    assert same_pixels(out, named) and tags(named)["PANSHARPEN_SENSOR_SOURCE"] == "--sensor"


@pytest.mark.parametrize(
    ("collection", "spacecraft", "preset"), [(2, "LANDSAT_8", "landsat8"), (1, "LANDSAT_7", "landsat7")]
)
def test_fuse_of_landsat_band_files_uses_the_preset_of_their_mtl(tmp_path, collection, spacecraft, preset):
    pan, bands = landsat_delivery(tmp_path, collection, spacecraft)
    out = tmp_path / "out.tif"
    res = run("fuse", pan, *bands, out, "-m", "mtf-glp-hpm", "-v")
    assert res.exit_code == 0, res.output
    assert NO_SENSOR not in res.output
    mtl = pan.name.replace("_B8.TIF", "_MTL.txt")
    assert f"INFO: sensor {preset} from {mtl} (SPACECRAFT_ID={spacecraft}, SENSOR_ID=" in res.output
    t = tags(out)
    assert t["PANSHARPEN_SENSOR"] == preset and t["PANSHARPEN_MS_GAINS"] == "0.55,0.55,0.55,0.53"


def test_fuse_of_a_pleiades_dimap_delivery(tmp_path):
    pan, ms = dimap_delivery(tmp_path)
    out = tmp_path / "out.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    assert NO_SENSOR not in res.output and tags(out)["PANSHARPEN_SENSOR"] == "pleiades"


def test_sensor_option_wins_over_the_delivery(tmp_path):
    pan, ms = maxar_delivery(tmp_path)
    out = tmp_path / "out.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--sensor", "wv2", "-v")
    assert res.exit_code == 0, res.output
    assert "IMAGERY" not in res.output and tags(out)["PANSHARPEN_SENSOR"] == "wv2"


def test_pan_and_ms_of_different_satellites_are_refused_before_any_output(tmp_path):
    pan, ms = maxar_delivery(tmp_path, "WV03", "WV02")
    out = tmp_path / "out.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm")
    assert res.exit_code == 1, res.output
    assert res.output.startswith("error: ") and "come from different deliveries" in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tif") == []
    # --sensor fuses them anyway
    assert run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--sensor", "wv3", "-q").exit_code == 0


def test_a_satellite_without_preset_is_fused_generic_with_a_warning_naming_it(tmp_path):
    pan, ms = maxar_delivery(tmp_path, "WV01", "WV01")
    out = tmp_path / "out.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "WARNING: satellite 'WV01' (SATELLITEID=WV01 in" in text and NO_SENSOR not in text
    assert tags(out)["PANSHARPEN_SENSOR"] == "generic"


def test_info_shows_the_sensor_and_its_source(tmp_path):
    pan, bands = landsat_delivery(tmp_path)
    res = run("info", pan, *bands, "--json")
    assert res.exit_code == 0, res.output
    sensor = json.loads(res.output)["fuse"]["sensor"]
    assert sensor == {
        "name": "landsat8",
        "satellite": "LANDSAT_8",
        "source": pan.name.replace("_B8.TIF", "_MTL.txt"),
        "detail": "SPACECRAFT_ID=LANDSAT_8, SENSOR_ID=OLI_TIRS",
    }
    res = run("info", pan, *bands)
    assert res.exit_code == 0 and "sensor" in res.output and "landsat8 from" in res.output
    plain_pan, plain_ms, _ = make_pair(tmp_path, size=32, name="_plain")
    assert json.loads(run("info", plain_pan, plain_ms, "--json").output)["fuse"]["sensor"] is None


def test_simulate_of_a_delivery_uses_its_sensor(tmp_path):
    pan, ms = maxar_delivery(tmp_path, size=128)
    res = run("simulate", pan, ms, tmp_path / "sim")
    assert res.exit_code == 0, res.output
    assert NO_SENSOR not in res.output
    t = tags(tmp_path / "sim" / "ms.tif")
    assert t["PANSHARPEN_SENSOR"] == "wv3" and t["PANSHARPEN_PAN_GAIN"] == "0.14"


@pytest.fixture
def fused(tmp_path):
    """A plain pair (no delivery metadata) fused with --sensor wv3 and odd --gains."""
    pan, ms, _ = make_pair(tmp_path, size=64)
    out = tmp_path / "fused.tif"
    res = run("fuse", pan, ms, out, "-m", "mtf-glp-hpm", "--sensor", "wv3", "--gains", GAINS, "-q")
    assert res.exit_code == 0, res.output
    return pan, ms, out


def test_evaluate_takes_sensor_gains_and_ratio_from_the_fused_files_tags(fused):
    pan, ms, out = fused
    res = run("evaluate", pan, ms, out, "-v")
    assert res.exit_code == 0, res.output
    assert NO_SENSOR not in res.output
    expected = f"sensor wv3, MTF gains and ratio from the tags of {out.name} (PANSHARPEN_SENSOR=wv3)"
    assert expected in res.output
    tagged = json.loads(run("evaluate", pan, ms, out, "--json").output)
    explicit = run("evaluate", pan, ms, out, "--json", "--sensor", "wv3", "--gains", GAINS)
    assert tagged == json.loads(explicit.output)
    # an option overrides the tags
    other = json.loads(run("evaluate", pan, ms, out, "--json", "--gains", "0.2").output)
    assert other["D_lambda_K"] != tagged["D_lambda_K"]


def test_evaluate_of_an_untagged_file_still_asks_for_the_sensor(fused, tmp_path):
    pan, ms, out = fused
    bare = tmp_path / "bare.tif"
    with rasterio.open(out) as src:
        profile, data = src.profile, src.read()
    with rasterio.open(bare, "w", **profile) as dst:
        dst.write(data)
    res = run("evaluate", pan, ms, bare)
    assert res.exit_code == 0, res.output
    assert NO_SENSOR in res.output


def test_evaluate_names_the_ratio_tag_when_it_does_not_fit_the_pair(fused, tmp_path):
    pan, ms, out = fused
    odd = tmp_path / "odd.tif"
    shutil.copy(out, odd)
    with rasterio.open(odd, "r+") as ds:
        ds.update_tags(PANSHARPEN_RATIO="2")
    res = run("evaluate", pan, ms, odd)
    assert res.exit_code == 1, res.output
    assert f"the ratio 2 is the PANSHARPEN_RATIO tag of {odd}" in " ".join(res.output.split())


def test_without_a_sensor_a_ratio_2_pair_is_pointed_to_the_landsat_presets(tmp_path):
    """The generic gains are a ratio-4 sensor's; at ratio 2 they cost Landsat scenes 0.010-0.017 Q2n
    (bench/experiments_zeroshot/README.md), so the warning names the presets of that ratio."""
    pan, ms, _ = make_pair(tmp_path, ratio=2, size=96, pan_res=15.0)
    res = run("fuse", pan, ms, tmp_path / "out.tif", "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert NO_SENSOR in text
    assert "a ratio of 2 is that of landsat7, landsat8, landsat9 (MTF gains about 0.55 MS, 0.40 PAN)" in text
    assert "pass --sensor landsat7 or another of them" in text
    assert tags(tmp_path / "out.tif")["PANSHARPEN_SENSOR"] == "generic"  # a hint, not a guess


def test_without_a_sensor_a_ratio_4_pair_gets_the_plain_warning(tmp_path):
    pan, ms, _ = make_pair(tmp_path, size=96)
    res = run("fuse", pan, ms, tmp_path / "out.tif", "-m", "mtf-glp-hpm")
    assert res.exit_code == 0, res.output
    assert NO_SENSOR in res.output and "a ratio of" not in res.output
