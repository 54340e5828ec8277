"""The warning of a scene without a sensor (resolve_gains): it names the presets of the scene's ratio
where that is not the generic preset's 4."""

from __future__ import annotations

import pytest

from pansharpen_cli.base.sensors import ratio_hint, resolve_gains


def test_ratio_2_names_the_landsat_presets_and_their_gains():
    (warning,) = resolve_gains(None, None, 4, ratio=2).warnings
    assert warning.startswith("no --sensor given: using generic MTF gains (0.3 MS, 0.15 PAN)")
    assert "a ratio of 2 is that of landsat7, landsat8, landsat9 (MTF gains about 0.55 MS, 0.40 PAN)" in warning


@pytest.mark.parametrize("ratio", [None, 4, 3, 5])
def test_no_hint_at_the_generic_ratio_or_where_no_preset_has_the_ratio(ratio):
    assert ratio_hint(ratio) == ""
    (warning,) = resolve_gains(None, None, 4, ratio=ratio).warnings
    assert "a ratio of" not in warning


def test_no_warning_when_a_sensor_or_gains_are_given():
    assert resolve_gains("landsat8", None, 4, ratio=2).warnings == []
    assert resolve_gains(None, "0.5;0.4", 4, ratio=2).warnings == []
    rad = resolve_gains(None, None, 4, ratio=2)
    assert rad.sensor == "generic" and rad.ms_gains == (0.3,) * 4 and rad.pan_gain == 0.15
