"""The method registry is the one method list: CLI choices, pipeline dispatch, Fuser contract."""

from __future__ import annotations

import numpy as np
import pytest

from pansharpen_cli import methods
from pansharpen_cli.base.errors import OptionError
from pansharpen_cli.cli.options import Method
from pansharpen_cli.methods.base import SceneInputs
from pansharpen_cli.methods.classical import CLASSICAL, HALO
from pansharpen_cli.methods.stats import StatsAccumulator
from tests.conftest import smooth_scene


def test_registry_lists_every_method_once_and_the_cli_offers_exactly_them() -> None:
    names = methods.names()
    assert names[0] == methods.DEFAULT_METHOD == "zeroshot"
    assert set(CLASSICAL) < set(names) and len(set(names)) == len(names)
    assert [m.value for m in Method] == list(names)
    assert methods.get("zeroshot").adapts and not any(methods.get(n).adapts for n in CLASSICAL)
    with pytest.raises(OptionError, match="unknown method 'nope': expected one of zeroshot"):
        methods.get("nope")


@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_fusers_follow_the_contract(name: str) -> None:
    ref, pan = smooth_scene(4, 64)
    ms = ref.reshape(4, 16, 4, 16, 4).mean(axis=(2, 4))
    acc = StatsAccumulator(4)
    low = pan.reshape(1, 16, 4, 16, 4).mean(axis=(2, 4))
    acc.update(pan, np.ones((64, 64), bool), ms, np.ones((16, 16), bool), low)
    fuser = methods.get(name).prepare(SceneInputs(4, (0.3,) * 4, 0.15, acc.result()))
    assert fuser.halo == HALO and fuser.parallel and fuser.save_model is None
    from pansharpen_cli.physics.degradation import upsample

    out = fuser.fuse(pan, ms, upsample(ms, 4))
    assert out.shape == (4, 64, 64) and out.dtype == np.float32 and np.isfinite(out).all()
